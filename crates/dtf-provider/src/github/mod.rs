//! The GitHub Actions adapter.
//!
//! - **Context:** `dtf-env`'s metadata, refined by the event payload: the pull request of
//!   `pull_request` and `pull_request_target` events, and for `workflow_run` the run's
//!   head commit mapped to its pull request (the payload's `pull_requests`, which is
//!   empty for forks, else `GET /repos/{o}/{r}/commits/{sha}/pulls`).
//! - **Comment:** every page of `GET /repos/{o}/{r}/issues/{n}/comments` is searched for
//!   the marker (pages followed by the `Link` header's `rel="next"`); the comment found
//!   is updated with `PATCH /repos/{o}/{r}/issues/comments/{id}`, else one is created
//!   with `POST /repos/{o}/{r}/issues/{n}/comments`. A create that fails in a way that
//!   may have gone through is retried only after searching again, so a comment is never
//!   duplicated.
//! - **Results:** a check run on the head commit (`POST /repos/{o}/{r}/check-runs`) with
//!   the conclusion, summary and the first 50 annotations, then
//!   `PATCH /repos/{o}/{r}/check-runs/{id}` per further 50 (GitHub's limit per request).
//! - **Summary:** appended to `$GITHUB_STEP_SUMMARY` within its 1 MiB.
//! - **Baseline:** `GET …/actions/runs/{run_id}` for the workflow id (known from the
//!   payload for `workflow_run`), `GET …/actions/workflows/{id}/runs?branch=BASE&status=success`
//!   for the latest successful run of this repository (runs from forks' branches of the
//!   same name are passed over), `GET …/actions/runs/{id}/artifacts?name=NAME`, then
//!   `GET …/actions/artifacts/{id}/zip`, whose 302 is followed without the token.
//!
//! A 403 on a write that is not a rate limit ("Resource not accessible by integration":
//! the read-only token of a fork's pull request) makes the method answer `Skipped`;
//! the job summary needs no token and is still written. Permissions: `pull-requests:
//! write` (or `issues: write`) for the comment, `checks: write` for the check run,
//! `actions: read` for the baseline; `contents: read` covers the rest.

mod baseline;
mod checks;
pub(crate) mod comment;
mod event;
mod transport;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::Method;
use serde::Deserialize;

use dtf_core::metadata::{BuildMetadata, Provider as ProviderName};

use crate::Provider;
use crate::context::{BuildContext, TokenAccess};
use crate::error::ProviderError;
use crate::open::{Env, ForcedProvider};
use crate::outcome::{BaselineOutcome, CommentOutcome, PublishOutcome, SkipReason, SummaryOutcome};
use crate::results::PublishedResults;
use crate::summary_file;
use crate::token::Token;
use crate::vars::github as vars;

pub use transport::{ACCEPT, Clock, HttpPolicy, SystemClock};

use event::Event;
use transport::Api;

/// GitHub's public API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// Everything the GitHub adapter takes from the environment, read in one place
/// ([`GitHubConfig::from_env`]) so tests can describe any build as a map.
// Debug is safe to derive: `Token` prints `***`.
#[derive(Clone, Debug)]
pub struct GitHubConfig {
    /// `GITHUB_API_URL`, without a trailing `/`.
    pub api_url: String,
    pub token: Option<Token>,
    /// The variable the token was read from, for messages.
    pub token_variable: String,
    pub event_name: Option<String>,
    pub event_path: Option<PathBuf>,
    pub step_summary: Option<PathBuf>,
    pub workspace: Option<PathBuf>,
    /// From `dtf-env`, read as GitHub Actions whatever the detection says.
    pub metadata: BuildMetadata,
    pub http: HttpPolicy,
}

impl GitHubConfig {
    /// Reads the configuration from `env`; the token from `token_variable`
    /// (`GITHUB_TOKEN` unless the user named another).
    pub fn from_env(env: Env<'_>, token_variable: &str) -> GitHubConfig {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let metadata = dtf_env::detect(&ForcedProvider {
            env,
            provider: "github",
        })
        .metadata;
        GitHubConfig {
            api_url: get(vars::GITHUB_API_URL)
                .map(|u| u.trim().trim_end_matches('/').to_owned())
                .unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            token: env(token_variable).and_then(Token::new),
            token_variable: token_variable.to_owned(),
            event_name: get(vars::GITHUB_EVENT_NAME),
            event_path: get(vars::GITHUB_EVENT_PATH).map(PathBuf::from),
            step_summary: get(vars::GITHUB_STEP_SUMMARY).map(PathBuf::from),
            workspace: get(vars::GITHUB_WORKSPACE).map(PathBuf::from),
            metadata,
            http: HttpPolicy::default(),
        }
    }
}

/// The GitHub adapter; see the module docs.
pub struct GitHubProvider {
    api: Api,
    config: GitHubConfig,
    /// `/repos/{owner}/{repo}`.
    repo_path: String,
    context: BuildContext,
}

impl fmt::Debug for GitHubProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubProvider")
            .field("config", &self.config)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl GitHubProvider {
    /// Resolves the build's context (reading the event payload, and for `workflow_run`
    /// asking the API for the pull request) with the real clock.
    pub fn open(config: GitHubConfig) -> Result<GitHubProvider, ProviderError> {
        GitHubProvider::open_with_clock(config, Arc::new(SystemClock))
    }

    /// [`GitHubProvider::open`] with a clock of the caller's: tests wait for nothing.
    pub fn open_with_clock(
        config: GitHubConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<GitHubProvider, ProviderError> {
        let repository =
            config
                .metadata
                .repository
                .clone()
                .ok_or_else(|| ProviderError::Config {
                    message: "GITHUB_REPOSITORY is not set: the GitHub provider needs owner/name"
                        .to_owned(),
                })?;
        let repo_path = repo_path(&repository).ok_or_else(|| ProviderError::Config {
            message: format!("GITHUB_REPOSITORY {repository:?} is not owner/name"),
        })?;
        let api = Api::new(
            &config.api_url,
            config.token.clone(),
            config.http.clone(),
            clock,
        )?;
        let mut notices = Vec::new();
        let event = read_event(&config, &mut notices);
        let (mut context, lookup) = resolve(&config, event.as_ref(), &repository, notices);
        let mut provider = GitHubProvider {
            api,
            config,
            repo_path,
            context: BuildContext::default(),
        };
        if lookup && provider.api.has_token() {
            provider.lookup_pull(&mut context);
        }
        provider.context = context;
        Ok(provider)
    }

    /// Maps a `workflow_run`'s head commit to its pull request.
    fn lookup_pull(&self, context: &mut BuildContext) {
        let Some(sha) = context.head_sha.clone() else {
            return;
        };
        let path = format!("{}/commits/{sha}/pulls?per_page=100", self.repo_path);
        let found = self.api.get(&path).and_then(|a| {
            if a.is_success() {
                self.api
                    .json::<Vec<event::PullRequest>>(&Method::GET, &path, &a)
                    .map(Some)
            } else if a.status == 404 || a.status == 403 || a.status == 422 {
                Ok(None)
            } else {
                Err(self.api.error(&Method::GET, &path, &a))
            }
        });
        match found {
            Ok(Some(pulls)) => match event::pick_pull(&pulls, Some(&sha)) {
                Some(pr) => {
                    context.change_request = pr.number;
                    if let Some(base) = pr.base_ref() {
                        context.base_branch = Some(base.to_owned());
                    }
                }
                None => context
                    .notices
                    .push(format!("no pull request has commit {sha}")),
            },
            Ok(None) => context
                .notices
                .push(format!("cannot look up the pull request of commit {sha}")),
            Err(e) => context.notices.push(format!(
                "cannot look up the pull request of commit {sha}: {e}"
            )),
        }
    }

    pub fn config(&self) -> &GitHubConfig {
        &self.config
    }

    fn no_token(&self) -> SkipReason {
        SkipReason::NoToken {
            variable: self.config.token_variable.clone(),
        }
    }
}

/// `/repos/{owner}/{name}` when `repository` is a well-formed `owner/name` (letters,
/// digits, `-`, `_`, `.`), so it can go into a path as it is.
fn repo_path(repository: &str) -> Option<String> {
    let (owner, name) = repository.trim().split_once('/')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (ok(owner) && ok(name)).then(|| format!("/repos/{owner}/{name}"))
}

fn read_event(config: &GitHubConfig, notices: &mut Vec<String>) -> Option<Event> {
    let path = config.event_path.as_ref()?;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            notices.push(format!(
                "cannot read the event payload {}: {e}",
                path.display()
            ));
            return None;
        }
    };
    match Event::parse(&text) {
        Ok(e) => Some(e),
        Err(e) => {
            notices.push(format!(
                "the event payload {} is not usable: {e}",
                path.display()
            ));
            None
        }
    }
}

/// The context from the configuration and payload, and whether the pull request must
/// still be looked up by commit.
fn resolve(
    config: &GitHubConfig,
    event: Option<&Event>,
    repository: &str,
    notices: Vec<String>,
) -> (BuildContext, bool) {
    let m = &config.metadata;
    let mut c = BuildContext {
        provider: ProviderName::Github,
        repository: Some(repository.to_owned()),
        change_request: m.change_request,
        base_branch: m.base_branch.clone(),
        branch: m.branch.clone(),
        head_sha: m.commit.clone(),
        build_id: m.build_id.clone(),
        workflow_id: None,
        build_url: m.build_url.clone(),
        api_url: Some(config.api_url.clone()),
        event: config.event_name.clone(),
        access: if config.token.is_some() {
            TokenAccess::Unknown
        } else {
            TokenAccess::None
        },
        notices,
    };
    let mut lookup = false;
    let event_name = config.event_name.as_deref().unwrap_or_default();
    match (event_name, event) {
        (name, Some(e)) if name.starts_with("pull_request") => {
            if let Some(pr) = &e.pull_request {
                c.change_request = pr.number.or(c.change_request);
                set(&mut c.head_sha, pr.head_sha());
                set(&mut c.base_branch, pr.base_ref());
                set(&mut c.branch, pr.head_ref());
                if let Some(fork) = pr.fork()
                    && c.access == TokenAccess::Unknown
                    && name == "pull_request"
                {
                    c.access = TokenAccess::LikelyReadOnly {
                        reason: format!("a pull request from the fork {fork}"),
                    };
                }
            }
        }
        ("workflow_run", Some(e)) => {
            if let Some(run) = &e.workflow_run {
                // The run checked out the default branch; what matters is the
                // triggering run's commit and pull request.
                c.change_request = None;
                c.base_branch = None;
                set(&mut c.head_sha, run.head_sha.as_deref());
                set(&mut c.branch, run.head_branch.as_deref());
                c.workflow_id = run.workflow_id.map(|w| w.to_string());
                match event::pick_pull(&run.pull_requests, run.head_sha.as_deref()) {
                    Some(pr) => {
                        c.change_request = pr.number;
                        set(&mut c.base_branch, pr.base_ref());
                    }
                    None => {
                        lookup = run
                            .event
                            .as_deref()
                            .is_none_or(|e| e.starts_with("pull_request"));
                    }
                }
            }
        }
        ("issue_comment", Some(e)) => {
            if let Some(issue) = &e.issue
                && issue.pull_request.is_some()
            {
                c.change_request = issue.number;
            }
        }
        _ => {}
    }
    (c, lookup)
}

fn set(slot: &mut Option<String>, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        *slot = Some(v.to_owned());
    }
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
pub(crate) fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Provider for GitHubProvider {
    fn context(&self) -> &BuildContext {
        &self.context
    }

    fn upsert_comment(&self, marker: &str, body: &str) -> Result<CommentOutcome, ProviderError> {
        self.upsert_comment_impl(marker, body)
    }

    fn fetch_baseline(
        &self,
        artifact_name: &str,
        dest: &Path,
    ) -> Result<BaselineOutcome, ProviderError> {
        self.fetch_baseline_impl(artifact_name, dest)
    }

    fn publish_results(&self, results: &PublishedResults) -> Result<PublishOutcome, ProviderError> {
        self.publish_results_impl(results)
    }

    fn write_summary(&self, markdown: &str) -> Result<SummaryOutcome, ProviderError> {
        match &self.config.step_summary {
            Some(path) => summary_file::append_step_summary(path, markdown),
            None => Ok(SummaryOutcome::Skipped {
                reason: SkipReason::NotAvailable {
                    what: format!(
                        "{} is not set (not inside a step)",
                        vars::GITHUB_STEP_SUMMARY
                    ),
                },
            }),
        }
    }
}

/// A JSON object from an answer, ignoring fields dtf does not use.
#[derive(Debug, Deserialize)]
struct Id {
    id: u64,
    #[serde(default)]
    html_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> GitHubConfig {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        GitHubConfig::from_env(&|k: &str| map.get(k).cloned(), "GITHUB_TOKEN")
    }

    #[test]
    fn reads_the_environment_it_is_given() {
        let c = config(&[
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_API_URL", "https://ghe.example.com/api/v3/"),
            ("GITHUB_TOKEN", "ghs_x"),
            ("GITHUB_REF", "refs/pull/9/merge"),
            ("GITHUB_BASE_REF", "main"),
        ]);
        assert_eq!(c.api_url, "https://ghe.example.com/api/v3");
        assert_eq!(c.metadata.repository.as_deref(), Some("o/r"));
        assert_eq!(c.metadata.change_request, Some(9));
        assert!(!format!("{c:?}").contains("ghs_x"));
        let empty = config(&[("GITHUB_TOKEN", "")]);
        assert!(empty.token.is_none());
        assert_eq!(empty.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn api_urls_must_be_http() {
        for bad in ["api.github.com", "ftp://x/y", "https://h/api?x=1", ""] {
            let mut c = config(&[("GITHUB_REPOSITORY", "o/r")]);
            c.api_url = bad.to_owned();
            let err = GitHubProvider::open(c).expect_err("refused");
            assert!(err.to_string().contains("GITHUB_API_URL"), "{err}");
        }
    }

    #[test]
    fn repo_paths_are_checked() {
        assert_eq!(repo_path("o/r.js").as_deref(), Some("/repos/o/r.js"));
        assert_eq!(repo_path("o/../x"), None);
        assert_eq!(repo_path("o/r?x"), None);
        assert_eq!(repo_path("nope"), None);
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query_value("feature/x y"), "feature%2Fx%20y");
        assert_eq!(query_value("dtf-report_1.0~"), "dtf-report_1.0~");
    }

    #[test]
    fn workflow_run_context_comes_from_the_payload() {
        let c = config(&[
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_EVENT_NAME", "workflow_run"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_SHA", "default-branch-sha"),
        ]);
        let e = Event::parse(
            r#"{"workflow_run":{"workflow_id":5,"head_sha":"h","head_branch":"feat","event":"pull_request","pull_requests":[]}}"#,
        )
        .expect("parses");
        let (ctx, lookup) = resolve(&c, Some(&e), "o/r", vec![]);
        assert!(lookup);
        assert_eq!(ctx.head_sha.as_deref(), Some("h"));
        assert_eq!(ctx.workflow_id.as_deref(), Some("5"));
        assert_eq!(ctx.change_request, None);
        assert_eq!(ctx.baseline_branch(), Some("feat"));
    }

    #[test]
    fn fork_pull_requests_are_likely_read_only() {
        let c = config(&[
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_TOKEN", "t"),
        ]);
        let e = Event::parse(
            r#"{"pull_request":{"number":2,"head":{"sha":"h","ref":"main","repo":{"full_name":"f/r"}},"base":{"ref":"main","repo":{"full_name":"o/r"}}}}"#,
        )
        .expect("parses");
        let (ctx, lookup) = resolve(&c, Some(&e), "o/r", vec![]);
        assert!(!lookup);
        assert_eq!(ctx.change_request, Some(2));
        assert!(matches!(ctx.access, TokenAccess::LikelyReadOnly { .. }));
    }
}
