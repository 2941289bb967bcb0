//! What dtf does on a CI provider after the tests ran, behind one interface.
//!
//! Every provider dtf supports offers the same five things, under different names:
//! where this build stands (repository, change request, base branch, commit), one
//! comment on the pull or merge request that dtf keeps up to date, the results of an
//! earlier build on the base branch to compare against, a native place for test
//! results, and a summary on the build's page. [`Provider`] names those five; each
//! adapter maps them onto its provider's API, and a provider that lacks one answers
//! with a `Skipped` outcome instead of an error, because publishing must never fail a
//! build whose tests ran.
//!
//! | [`Provider`] method | GitHub Actions | GitLab CI | Jenkins | Azure DevOps | [`LocalProvider`] |
//! |---|---|---|---|---|---|
//! | [`context`](Provider::context) | `GITHUB_*` variables and the event payload (`GITHUB_EVENT_PATH`); `workflow_run` maps its head commit to the pull request | `CI_*` variables: `CI_MERGE_REQUEST_IID`, `CI_MERGE_REQUEST_TARGET_BRANCH_NAME`, `CI_API_V4_URL`; a branch pipeline's merge request from `CI_OPEN_MERGE_REQUESTS` and `GET /projects/:id/merge_requests/:iid` | `CHANGE_ID`, `CHANGE_TARGET`, `JOB_URL`, `BUILD_URL` | `SYSTEM_PULLREQUEST_PULLREQUESTID`, `SYSTEM_PULLREQUEST_TARGETBRANCH`, `SYSTEM_COLLECTIONURI` | `dtf-env`'s metadata of a local run |
//! | [`upsert_comment`](Provider::upsert_comment) | issue comments: every page of `GET …/issues/{n}/comments` searched for the marker, then `PATCH …/issues/comments/{id}` or `POST …/issues/{n}/comments` | merge request notes: `GET /projects/:id/merge_requests/:iid/notes` (pages by `X-Next-Page`), `PUT …/notes/:note_id` or `POST …/notes` | no comment of its own: `Skipped`, unless the change request lives on a host with an adapter (a GitHub branch source reuses the GitHub adapter with Jenkins' context) | pull request threads: `GET …/pullRequests/{id}/threads`, the thread whose first comment holds the marker updated with `PATCH …/threads/{t}/comments/{c}`, else `POST …/threads` | `comment.md` (one file per marker) in a folder, replaced in place |
//! | [`fetch_baseline`](Provider::fetch_baseline) | the latest successful run of the same workflow on the base branch, its artifact by name, downloaded as zip | job artifacts by ref: `GET /projects/:id/jobs/artifacts/:ref/download?job=NAME` (the latest successful pipeline on the ref) | `…/job/BASE/lastSuccessfulBuild/artifact/*zip*/archive.zip` | `GET _apis/build/builds?definitions=ID&branchName=refs/heads/BASE&resultFilter=succeeded&$top=1`, then `…/builds/{id}/artifacts?artifactName=NAME` and its `downloadUrl` | a folder or zip on disk |
//! | [`publish_results`](Provider::publish_results) | a check run: conclusion, summary, and annotations at the failing tests' file and line, 50 per request | native through `artifacts:reports:junit` in the pipeline, so the adapter answers `Skipped` | native through the `junit` step; the adapter sets the build's result text | the Test Runs API (`POST _apis/test/runs`, then its results) or the `PublishTestResults` task | `results.json` (`dtf.results.v1`) |
//! | [`write_summary`](Provider::write_summary) | appended to `$GITHUB_STEP_SUMMARY` within its 1 MiB | no job summary: written to `dtf-summary.md` in the output folder, for the pipeline to keep as an artifact | the build description (`POST {BUILD_URL}submitDescription`) | `##vso[task.uploadsummary]FILE`, a Markdown tab on the build | `summary.md` |
//!
//! The adapters take every value from the environment they are handed (a function from
//! a name to a value), never from the process: the CLI hands over the process
//! environment, tests hand over a map. The names read besides `dtf-env`'s are listed
//! in [`vars`]; the token is read from the one variable the caller names, held in a
//! [`Token`] whose `Debug` is redacted, and never printed.
//!
//! The interface is synchronous: the CLI does one thing at a time, and an adapter that
//! speaks HTTP drives its own single-threaded runtime (see [`github`] and [`gitlab`]),
//! with the retry, rate-limit and timeout rules shared between them (`http.rs`).

pub mod github;
pub mod gitlab;
mod http;
mod local;
mod outcome;
mod results;
pub mod summary_file;
mod token;
mod unzip;
pub mod vars;

mod context;
mod error;
mod open;

use std::path::Path;

pub use context::{BuildContext, TokenAccess};
pub use dtf_core::metadata::Provider as ProviderName;
pub use error::ProviderError;
pub use github::{GitHubConfig, GitHubProvider};
pub use gitlab::{GitLabConfig, GitLabProvider};
pub use http::{Clock, HttpPolicy, SystemClock};
pub use local::LocalProvider;
pub use open::{Env, ProviderKind, Settings, open};
pub use outcome::{
    BaselineBuild, BaselineOutcome, CommentOutcome, MissingBaseline, PublishOutcome, SkipReason,
    SummaryOutcome,
};
pub use results::{
    Annotation, AnnotationLevel, Conclusion, PublishedResults, RESULTS_SCHEMA, ResultsOptions,
};
pub use token::Token;

/// What every CI provider adapter does; see the crate docs for how each provider maps
/// onto each method.
///
/// Methods answer `Ok` with a `Skipped` or `NotFound` outcome when the provider lacks
/// the feature, the build has no pull request, or the token may not write: those are
/// normal states of a build, not failures. `Err` is left for what should not happen
/// (the provider unreachable after retries, a file that cannot be written).
pub trait Provider: std::fmt::Debug {
    /// Where this build stands, resolved once when the provider was opened.
    fn context(&self) -> &BuildContext;

    /// Creates or updates the one comment on the change request that carries `marker`
    /// (an HTML comment such as `<!-- dtf:report -->`); the body gets the marker on its
    /// first line if it lacks it. Never creates a second comment with the same marker.
    fn upsert_comment(&self, marker: &str, body: &str) -> Result<CommentOutcome, ProviderError>;

    /// Downloads the artifact `artifact_name` of the latest successful build of the base
    /// branch and unpacks it into `dest` (created if missing).
    fn fetch_baseline(
        &self,
        artifact_name: &str,
        dest: &Path,
    ) -> Result<BaselineOutcome, ProviderError>;

    /// Publishes the results where the provider shows test results natively.
    fn publish_results(&self, results: &PublishedResults) -> Result<PublishOutcome, ProviderError>;

    /// Puts `markdown` on the build's summary page, cut cleanly to the provider's limit.
    fn write_summary(&self, markdown: &str) -> Result<SummaryOutcome, ProviderError>;
}
