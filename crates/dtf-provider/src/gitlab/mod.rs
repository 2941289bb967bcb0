//! The GitLab CI adapter, for gitlab.com and self-managed instances alike (the API is
//! wherever `CI_API_V4_URL` says).
//!
//! - **Context:** `dtf-env`'s metadata of a GitLab job, refined by `CI_*` variables:
//!   the merge request (`CI_MERGE_REQUEST_IID`, its target branch, and in merged-results
//!   pipelines the source branch's head commit rather than the merge commit). A branch
//!   pipeline with an open merge request (`CI_OPEN_MERGE_REQUESTS`) gets it too, its
//!   target branch read with `GET /projects/:id/merge_requests/:iid`.
//! - **Note:** the sticky merge request note. Every page of
//!   `GET /projects/:id/merge_requests/:iid/notes?per_page=100&page=N` (pages by
//!   `X-Next-Page`, else `Link`) is searched for the marker; the note found is replaced
//!   with `PUT …/notes/:note_id`, else one is created with `POST …/notes`. A create that
//!   may have gone through is retried only after searching again.
//! - **Baseline:** the artifacts of the job named in the configuration (`report` unless
//!   told) of the latest successful pipeline on the target branch:
//!   `GET /projects/:id/jobs/artifacts/:ref_name/download?job=NAME`, whose redirect to
//!   object storage is followed without any token. A 404 is a first build.
//! - **Results:** GitLab shows test results from the pipeline's
//!   `artifacts:reports:junit`, not from an API call, so this is `Skipped`.
//! - **Summary:** GitLab has no job summary; the Markdown is written to a file
//!   (`dtf-summary.md` in the output folder) for the pipeline to keep as an artifact.
//!
//! Tokens: `CI_JOB_TOKEN` may download artifacts but may not read or write notes, so the
//! note needs a project access token (scope `api`, role Reporter or above) in a CI/CD
//! variable, `DTF_GITLAB_TOKEN` unless the user names another (`GITLAB_TOKEN` is read
//! when `DTF_GITLAB_TOKEN` is unset). Without one the note is skipped with a notice that
//! says so, and the build goes on.

mod baseline;
mod note;
mod transport;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gitlab::api::common::NameOrId;
use serde::Deserialize;

use dtf_core::metadata::{BuildMetadata, Provider as ProviderName};

use crate::Provider;
use crate::context::{BuildContext, TokenAccess};
use crate::error::ProviderError;
use crate::http::{Clock, HttpPolicy, Retry, SystemClock};
use crate::open::{Env, ForcedProvider};
use crate::outcome::{BaselineOutcome, CommentOutcome, PublishOutcome, SkipReason, SummaryOutcome};
use crate::results::PublishedResults;
use crate::token::Token;
use crate::vars::gitlab as vars;

use transport::{Api, Auth, Failed};

/// gitlab.com's API, for runs outside a job that name no instance.
pub const DEFAULT_API_URL: &str = "https://gitlab.com/api/v4";
/// The job whose artifacts are the baseline unless told otherwise.
pub const DEFAULT_BASELINE_JOB: &str = "report";
/// The file the summary is written to, inside the output folder.
pub const SUMMARY_FILE: &str = "dtf-summary.md";

/// Everything the GitLab adapter takes from the environment, read in one place
/// ([`GitLabConfig::from_env`]) so tests can describe any build as a map.
// Debug is safe to derive: `Token` prints `***`.
#[derive(Clone, Debug)]
pub struct GitLabConfig {
    /// `CI_API_V4_URL`, else `CI_SERVER_URL` + `/api/v4`; without a trailing `/`.
    pub api_url: String,
    /// `CI_PROJECT_ID`, else `CI_PROJECT_PATH`.
    pub project: Option<String>,
    /// The project access token for notes.
    pub token: Option<Token>,
    /// The variable the token was read from (or the first one looked at), for messages.
    pub token_variable: String,
    /// `CI_JOB_TOKEN`: artifact downloads.
    pub job_token: Option<Token>,
    /// The job whose artifacts are the baseline.
    pub baseline_job: String,
    /// Where [`Provider::write_summary`] writes.
    pub summary_path: PathBuf,
    /// `CI_DEFAULT_BRANCH`: the baseline of a build that has no branch (a tag).
    pub default_branch: Option<String>,
    /// `CI_PIPELINE_SOURCE`.
    pub pipeline_source: Option<String>,
    /// `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA`: the head commit of a merged-results pipeline.
    pub merge_request_head: Option<String>,
    /// `CI_OPEN_MERGE_REQUESTS`: a branch pipeline's merge requests (`path!iid,...`).
    pub open_merge_requests: Option<String>,
    /// From `dtf-env`, read as GitLab CI whatever the detection says.
    pub metadata: BuildMetadata,
    pub http: HttpPolicy,
}

impl GitLabConfig {
    /// Reads the configuration from `env`. The note token comes from `token_variable`
    /// when given, else from `DTF_GITLAB_TOKEN`, else `GITLAB_TOKEN`.
    pub fn from_env(env: Env<'_>, token_variable: Option<&str>) -> GitLabConfig {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let metadata = dtf_env::detect(&ForcedProvider {
            env,
            provider: "gitlab",
        })
        .metadata;
        let (token, token_variable) = match token_variable {
            Some(name) => (env(name).and_then(Token::new), name.to_owned()),
            None => vars::TOKEN_VARIABLES
                .iter()
                .find_map(|name| env(name).and_then(Token::new).map(|t| (Some(t), *name)))
                .map(|(t, n)| (t, n.to_owned()))
                .unwrap_or((None, vars::DTF_GITLAB_TOKEN.to_owned())),
        };
        let api_url = get(vars::CI_API_V4_URL)
            .or_else(|| {
                get(vars::CI_SERVER_URL)
                    .map(|s| format!("{}/api/v4", s.trim().trim_end_matches('/')))
            })
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        GitLabConfig {
            api_url,
            project: get(vars::CI_PROJECT_ID)
                .or_else(|| get(dtf_env::vars::gitlab::CI_PROJECT_PATH))
                .map(|p| p.trim().to_owned()),
            token,
            token_variable,
            job_token: env(vars::CI_JOB_TOKEN).and_then(Token::new),
            baseline_job: DEFAULT_BASELINE_JOB.to_owned(),
            summary_path: PathBuf::from(SUMMARY_FILE),
            default_branch: get(vars::CI_DEFAULT_BRANCH),
            pipeline_source: get(vars::CI_PIPELINE_SOURCE),
            merge_request_head: get(vars::CI_MERGE_REQUEST_SOURCE_BRANCH_SHA),
            open_merge_requests: get(vars::CI_OPEN_MERGE_REQUESTS),
            metadata,
            http: HttpPolicy::default(),
        }
    }
}

/// The GitLab adapter; see the module docs.
pub struct GitLabProvider {
    api: Api,
    config: GitLabConfig,
    context: BuildContext,
}

impl fmt::Debug for GitLabProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitLabProvider")
            .field("config", &self.config)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl GitLabProvider {
    /// Resolves the build's context with the real clock.
    pub fn open(config: GitLabConfig) -> Result<GitLabProvider, ProviderError> {
        GitLabProvider::open_with_clock(config, Arc::new(SystemClock))
    }

    /// [`GitLabProvider::open`] with a clock of the caller's: tests wait for nothing.
    pub fn open_with_clock(
        config: GitLabConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<GitLabProvider, ProviderError> {
        if config.project.is_none() {
            return Err(ProviderError::Config {
                message: "CI_PROJECT_ID is not set: the GitLab provider needs the project"
                    .to_owned(),
            });
        }
        let api = Api::new(
            &config.api_url,
            config.token.clone(),
            config.job_token.clone(),
            config.http.clone(),
            clock,
        )?;
        let mut provider = GitLabProvider {
            context: resolve(&config),
            api,
            config,
        };
        provider.lookup_merge_request();
        Ok(provider)
    }

    pub fn config(&self) -> &GitLabConfig {
        &self.config
    }

    /// The project as the API's paths take it: the numeric id, else the escaped path.
    fn project(&self) -> NameOrId<'_> {
        let p = self.config.project.as_deref().unwrap_or_default();
        match p.parse::<u64>() {
            Ok(id) => NameOrId::Id(id),
            Err(_) => NameOrId::from(p),
        }
    }

    fn no_token(&self) -> SkipReason {
        if self.config.job_token.is_some() {
            SkipReason::JobTokenOnly {
                variable: self.config.token_variable.clone(),
            }
        } else {
            SkipReason::NoToken {
                variable: self.config.token_variable.clone(),
            }
        }
    }

    /// A branch pipeline with an open merge request: its IID from
    /// `CI_OPEN_MERGE_REQUESTS`, its target branch from the API.
    fn lookup_merge_request(&mut self) {
        if self.context.change_request.is_some() {
            return;
        }
        let Some(iid) = self
            .config
            .open_merge_requests
            .as_deref()
            .and_then(|list| own_merge_request(list, self.context.repository.as_deref()))
        else {
            return;
        };
        if !self.api.has(Auth::Private) {
            // Without a token the note is skipped anyway; the branch's own baseline
            // serves.
            return;
        }
        let endpoint = gitlab::api::projects::merge_requests::MergeRequest::builder()
            .project(self.project())
            .merge_request(iid)
            .build();
        let found = endpoint
            .map_err(|e| ProviderError::Config {
                message: format!("cannot describe merge request !{iid}: {e}"),
            })
            .and_then(|endpoint| {
                gitlab::api::Query::<MergeRequestInfo, _>::query(
                    &endpoint,
                    &self.api.rest(Auth::Private, Retry::Always),
                )
                .map_err(|e| {
                    match Failed::from(&self.api, "the merge request", e) {
                        Failed::Provider(p) => p,
                        Failed::Status { status, message } => ProviderError::Api {
                            method: "GET".to_owned(),
                            path: format!("merge request !{iid}"),
                            status,
                            message,
                        },
                    }
                })
            });
        match found {
            Ok(mr) => {
                self.context.change_request = Some(iid);
                if let Some(target) = mr.target_branch.filter(|t| !t.is_empty()) {
                    self.context.base_branch = Some(target);
                }
            }
            Err(e) => self.context.notices.push(format!(
                "cannot look up merge request !{iid} of this branch: {e}"
            )),
        }
    }
}

/// The fields of a merge request dtf reads.
#[derive(Debug, Deserialize)]
struct MergeRequestInfo {
    #[serde(default)]
    target_branch: Option<String>,
}

/// The IID of this project's merge request in `CI_OPEN_MERGE_REQUESTS`
/// (`group/project!12,other/project!3`); the first one when the project is unknown.
fn own_merge_request(list: &str, project: Option<&str>) -> Option<u64> {
    list.split(',')
        .filter_map(|entry| entry.trim().rsplit_once('!'))
        .find(|(path, _)| project.is_none_or(|p| p.eq_ignore_ascii_case(path)))
        .and_then(|(_, iid)| iid.parse().ok())
}

fn resolve(config: &GitLabConfig) -> BuildContext {
    let m = &config.metadata;
    let access = match (&config.token, &config.job_token) {
        (Some(_), _) => TokenAccess::Unknown,
        (None, Some(_)) => TokenAccess::LikelyReadOnly {
            reason: format!(
                "only {}, which may download artifacts but not write notes",
                vars::CI_JOB_TOKEN
            ),
        },
        (None, None) => TokenAccess::None,
    };
    let branch = m.branch.clone().or_else(|| config.default_branch.clone());
    BuildContext {
        provider: ProviderName::Gitlab,
        repository: m.repository.clone(),
        change_request: m.change_request,
        base_branch: m.base_branch.clone(),
        branch,
        // A merged-results pipeline builds a merge commit; the note and the history
        // speak of the source branch's head.
        head_sha: config
            .merge_request_head
            .clone()
            .or_else(|| m.commit.clone()),
        build_id: m.build_id.clone(),
        workflow_id: None,
        build_url: m.build_url.clone(),
        api_url: Some(config.api_url.clone()),
        event: config.pipeline_source.clone(),
        access,
        notices: Vec::new(),
    }
}

impl Provider for GitLabProvider {
    fn context(&self) -> &BuildContext {
        &self.context
    }

    fn upsert_comment(&self, marker: &str, body: &str) -> Result<CommentOutcome, ProviderError> {
        self.upsert_note(marker, body)
    }

    fn fetch_baseline(
        &self,
        artifact_name: &str,
        dest: &Path,
    ) -> Result<BaselineOutcome, ProviderError> {
        self.fetch_baseline_impl(artifact_name, dest)
    }

    fn publish_results(
        &self,
        _results: &PublishedResults,
    ) -> Result<PublishOutcome, ProviderError> {
        Ok(PublishOutcome::Skipped {
            reason: SkipReason::NotAvailable {
                what: "GitLab shows test results from the pipeline's artifacts:reports:junit (the merged JUnit), not through its API".to_owned(),
            },
        })
    }

    fn write_summary(&self, markdown: &str) -> Result<SummaryOutcome, ProviderError> {
        let path = &self.config.summary_path;
        write_atomically(path, markdown.as_bytes())?;
        Ok(SummaryOutcome::Written {
            path: path.clone(),
            bytes: markdown.len() as u64,
            cut_bytes: 0,
        })
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ProviderError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(ProviderError::io(&dir))?;
    let mut temp = tempfile::NamedTempFile::new_in(&dir).map_err(ProviderError::io(&dir))?;
    std::io::Write::write_all(&mut temp, bytes).map_err(ProviderError::io(path))?;
    temp.persist(path)
        .map_err(|e| ProviderError::io(path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)], token: Option<&str>) -> GitLabConfig {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        GitLabConfig::from_env(&|k: &str| map.get(k).cloned(), token)
    }

    #[test]
    fn tokens_come_from_the_named_variable_else_the_defaults() {
        let c = config(
            &[("GITLAB_TOKEN", "glpat-b"), ("CI_JOB_TOKEN", "job")],
            None,
        );
        assert_eq!(c.token_variable, "GITLAB_TOKEN");
        assert!(c.token.is_some() && c.job_token.is_some());
        let c = config(
            &[("GITLAB_TOKEN", "glpat-b"), ("DTF_GITLAB_TOKEN", "glpat-a")],
            None,
        );
        assert_eq!(c.token_variable, "DTF_GITLAB_TOKEN");
        let c = config(&[("GITLAB_TOKEN", "glpat-b")], Some("MY_TOKEN"));
        assert_eq!(c.token_variable, "MY_TOKEN");
        assert!(c.token.is_none());
        let c = config(&[], None);
        assert_eq!(c.token_variable, "DTF_GITLAB_TOKEN");
        assert!(!format!("{:?}", config(&[("GITLAB_TOKEN", "glpat-b")], None)).contains("glpat-b"));
    }

    #[test]
    fn the_api_url_comes_from_the_instance() {
        let c = config(
            &[("CI_API_V4_URL", "https://git.example.org/gitlab/api/v4/")],
            None,
        );
        assert_eq!(c.api_url, "https://git.example.org/gitlab/api/v4");
        let c = config(&[("CI_SERVER_URL", "https://git.example.org/")], None);
        assert_eq!(c.api_url, "https://git.example.org/api/v4");
        assert_eq!(config(&[], None).api_url, DEFAULT_API_URL);
    }

    #[test]
    fn merge_request_pipelines_set_the_context() {
        let c = config(
            &[
                ("GITLAB_CI", "true"),
                ("CI_PROJECT_ID", "42"),
                ("CI_PROJECT_PATH", "group/app"),
                ("CI_MERGE_REQUEST_IID", "7"),
                ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "headsha"),
                ("CI_COMMIT_SHA", "mergesha"),
                ("CI_PIPELINE_SOURCE", "merge_request_event"),
                ("CI_JOB_TOKEN", "job"),
            ],
            None,
        );
        let ctx = resolve(&c);
        assert_eq!(ctx.change_request, Some(7));
        assert_eq!(ctx.base_branch.as_deref(), Some("main"));
        assert_eq!(ctx.head_sha.as_deref(), Some("headsha"));
        assert_eq!(ctx.repository.as_deref(), Some("group/app"));
        assert!(matches!(ctx.access, TokenAccess::LikelyReadOnly { .. }));
    }

    #[test]
    fn open_merge_requests_pick_this_project() {
        assert_eq!(
            own_merge_request("other/x!3, group/app!12", Some("group/app")),
            Some(12)
        );
        assert_eq!(own_merge_request("other/x!3", Some("group/app")), None);
        assert_eq!(own_merge_request("a/b!5", None), Some(5));
        assert_eq!(own_merge_request("garbage", None), None);
    }

    #[test]
    fn api_urls_must_be_http() {
        for bad in ["gitlab.example.com", "ftp://x/y", "https://h/api?x=1"] {
            let mut c = config(&[("CI_PROJECT_ID", "1")], None);
            c.api_url = bad.to_owned();
            let err = GitLabProvider::open(c).expect_err("refused");
            assert!(err.to_string().contains("CI_API_V4_URL"), "{err}");
        }
        let err = GitLabProvider::open(config(&[], None)).expect_err("refused");
        assert!(err.to_string().contains("CI_PROJECT_ID"), "{err}");
    }
}
