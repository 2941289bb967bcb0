//! Where a build stands, as far as publishing cares: the same fields for every provider,
//! so the CLI can say what it is about to do without knowing which provider it talks to.

use std::fmt;

use serde::Serialize;

use dtf_core::metadata::Provider;

/// The build a provider publishes for, resolved once when the provider is opened.
///
/// Every field but `provider` may be unknown: a push build has no change request, a
/// local run has no repository.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BuildContext {
    pub provider: Provider,
    /// `owner/name` on GitHub, the project path on GitLab.
    pub repository: Option<String>,
    /// The pull request (GitHub, Azure) or merge request (GitLab) number.
    pub change_request: Option<u64>,
    /// The branch the change request targets.
    pub base_branch: Option<String>,
    /// The branch this build ran for (a pull request's source branch).
    pub branch: Option<String>,
    /// The commit results are reported on: a pull request's head commit, not the merge
    /// commit GitHub builds, since checks attach to the head.
    pub head_sha: Option<String>,
    /// This build's id (GitHub's run id, GitLab's pipeline id).
    pub build_id: Option<String>,
    /// The pipeline definition whose builds are baselines: GitHub's workflow id. Known
    /// up front only for `workflow_run` events; otherwise looked up from the build.
    pub workflow_id: Option<String>,
    /// This build's web page.
    pub build_url: Option<String>,
    /// The API's base URL, for the provider's own adapter (GitHub Enterprise Server:
    /// `https://HOST/api/v3`).
    pub api_url: Option<String>,
    /// What started the build (`pull_request`, `push`, `workflow_run`, ...).
    pub event: Option<String>,
    /// Whether the token may write; see [`TokenAccess`].
    pub access: TokenAccess,
    /// Things noticed while resolving the context that the user should hear about
    /// (an unreadable event payload, a pull request that could not be looked up).
    pub notices: Vec<String>,
}

impl BuildContext {
    /// The branch whose latest successful build is this build's baseline: the change
    /// request's target, else the build's own branch (a push to `main` compares with
    /// the previous build of `main`).
    pub fn baseline_branch(&self) -> Option<&str> {
        self.base_branch.as_deref().or(self.branch.as_deref())
    }
}

/// What is known, before trying, about the token's right to write.
///
/// Only a write tells for sure (a fork's pull request gets a read-only token unless the
/// repository allows otherwise), so adapters try anyway except when there is no token
/// at all, and turn a refusal into a `Skipped` outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum TokenAccess {
    /// No token: reads of public data only, no writes.
    None,
    /// A token whose rights are learned on the first write.
    #[default]
    Unknown,
    /// A token the provider most likely made read-only.
    LikelyReadOnly { reason: String },
    /// Writes go to local files.
    Write,
}

impl fmt::Display for TokenAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenAccess::None => f.write_str("no token"),
            TokenAccess::Unknown => f.write_str("a token"),
            TokenAccess::LikelyReadOnly { reason } => write!(f, "a read-only token ({reason})"),
            TokenAccess::Write => f.write_str("local files"),
        }
    }
}
