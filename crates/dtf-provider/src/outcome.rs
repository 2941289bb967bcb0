//! What each [`crate::Provider`] method did, including the normal ways of doing nothing.
//!
//! Skips and missing baselines carry a structured reason, so the CLI can word a notice
//! ("the token is read-only: pull requests from forks get one") and tests can match it
//! without parsing text.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// The sticky comment, after [`crate::Provider::upsert_comment`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum CommentOutcome {
    /// No comment had the marker; one was created.
    Created { id: String, url: Option<String> },
    /// The comment with the marker was replaced.
    Updated { id: String, url: Option<String> },
    /// Nothing was written.
    Skipped { reason: SkipReason },
}

/// The native results, after [`crate::Provider::publish_results`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum PublishOutcome {
    /// Published: a check run (its id and page), or a file.
    Published {
        id: String,
        url: Option<String>,
        /// Annotations sent.
        annotations: usize,
        /// Requests it took (GitHub: one per 50 annotations).
        requests: usize,
    },
    Skipped {
        reason: SkipReason,
    },
}

/// The build summary, after [`crate::Provider::write_summary`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum SummaryOutcome {
    Written {
        path: PathBuf,
        /// Bytes written.
        bytes: u64,
        /// Bytes of the Markdown left out to stay within the limit; 0 when it all fit.
        cut_bytes: u64,
    },
    Skipped {
        reason: SkipReason,
    },
}

/// Why a method wrote nothing. None of these fails a build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum SkipReason {
    /// The build is not for a pull or merge request (a push, a schedule).
    NoChangeRequest,
    /// The commit to attach results to is unknown.
    NoCommit,
    /// No token in the variable named.
    NoToken { variable: String },
    /// Only the CI job's own token, which the provider does not let write here
    /// (GitLab's `CI_JOB_TOKEN` and merge request notes); `variable` is where a token
    /// that may write is looked for.
    JobTokenOnly { variable: String },
    /// The provider refused the write: a read-only token (GitHub gives pull requests
    /// from forks one), or a token without the permission.
    Denied { status: u16, message: String },
    /// The provider has no such thing, or the environment does not offer it (no
    /// `GITHUB_STEP_SUMMARY` outside a step).
    NotAvailable { what: String },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NoChangeRequest => {
                f.write_str("this build is not for a pull or merge request")
            }
            SkipReason::NoCommit => f.write_str("the commit of this build is unknown"),
            SkipReason::NoToken { variable } => write!(f, "no token: {variable} is not set"),
            SkipReason::JobTokenOnly { variable } => write!(
                f,
                "only CI_JOB_TOKEN is available, and GitLab does not let the job token write merge request notes; set {variable} to a project access token with the api scope (role Reporter or above) as a masked CI/CD variable"
            ),
            SkipReason::Denied { status, message } => write!(
                f,
                "the token may not write ({status}: {message}); pull requests from forks get a read-only token"
            ),
            SkipReason::NotAvailable { what } => write!(f, "{what}"),
        }
    }
}

/// The baseline, after [`crate::Provider::fetch_baseline`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum BaselineOutcome {
    /// The artifact was unpacked into `path`.
    Downloaded { path: PathBuf, build: BaselineBuild },
    /// There is no baseline to compare with; the build goes on without one.
    NotFound { reason: MissingBaseline },
}

/// The earlier build a baseline came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BaselineBuild {
    /// The build's id (GitHub's run id), or the local path it was copied from.
    pub id: String,
    pub url: Option<String>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    /// The artifact's name and id on the provider.
    pub artifact: String,
    pub artifact_id: Option<String>,
}

/// Why there is no baseline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum MissingBaseline {
    /// No base branch and no branch: a tag build, a detached checkout.
    NoBranch,
    /// The branch has no successful build of this pipeline yet.
    FirstBuild { branch: String },
    /// The latest successful build has no artifact by that name (never uploaded, or
    /// expired).
    NoArtifact {
        branch: String,
        build: String,
        artifact: String,
    },
    /// The provider does not know the build, pipeline or artifact (deleted, or no
    /// access).
    NotFound { what: String },
    /// No token in the variable named; baselines are not readable without one.
    NoToken { variable: String },
    /// The token may not read the artifacts (`actions: read` missing).
    Denied { status: u16, message: String },
    /// The local provider was given no place to read a baseline from.
    NoSource,
}

impl fmt::Display for MissingBaseline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissingBaseline::NoBranch => f.write_str("this build has no base branch"),
            MissingBaseline::FirstBuild { branch } => write!(
                f,
                "first build on {branch}: no successful build of this workflow there yet"
            ),
            MissingBaseline::NoArtifact {
                branch,
                build,
                artifact,
            } => write!(
                f,
                "the latest successful build on {branch} ({build}) has no artifact {artifact} (not uploaded, or expired)"
            ),
            MissingBaseline::NotFound { what } => write!(f, "{what} not found"),
            MissingBaseline::NoToken { variable } => {
                write!(f, "no token: {variable} is not set")
            }
            MissingBaseline::Denied { status, message } => write!(
                f,
                "the token may not read artifacts ({status}: {message}); a GitHub workflow needs `actions: read`, a GitLab job token needs access to the project"
            ),
            MissingBaseline::NoSource => f.write_str("no baseline source was given"),
        }
    }
}
