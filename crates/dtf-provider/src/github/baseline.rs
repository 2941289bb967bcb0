//! The baseline: the dtf artifact of the latest successful run of the same workflow on
//! the base branch.
//!
//! A 404 at any step means there is no baseline (the first build on a branch, a
//! workflow renamed, an artifact expired): the build goes on without one.

use std::path::Path;

use http::Method;
use serde::Deserialize;

use crate::error::ProviderError;
use crate::outcome::{BaselineBuild, BaselineOutcome, MissingBaseline};
use crate::unzip;

use super::transport::{Answer, Retry, host_of};
use super::{GitHubProvider, query_value};

/// Successful runs looked at to find one built from this repository rather than from a
/// fork's branch of the same name (the `branch` filter matches either).
const RUNS_PER_PAGE: u32 = 10;

#[derive(Debug, Deserialize)]
struct Run {
    workflow_id: u64,
}

#[derive(Debug, Deserialize)]
struct Runs {
    #[serde(default)]
    workflow_runs: Vec<RunSummary>,
}

#[derive(Debug, Deserialize)]
struct RunSummary {
    id: u64,
    #[serde(default)]
    head_sha: Option<String>,
    #[serde(default)]
    head_branch: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    head_repository: Option<RepoName>,
}

#[derive(Debug, Deserialize)]
struct RepoName {
    #[serde(default)]
    full_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Artifacts {
    #[serde(default)]
    artifacts: Vec<Artifact>,
}

#[derive(Debug, Deserialize)]
struct Artifact {
    id: u64,
    name: String,
    #[serde(default)]
    expired: bool,
}

/// Where a step of the search ended.
enum Step<T> {
    Go(T),
    Stop(MissingBaseline),
}

impl GitHubProvider {
    pub(super) fn fetch_baseline_impl(
        &self,
        name: &str,
        dest: &Path,
    ) -> Result<BaselineOutcome, ProviderError> {
        let stop = |reason| Ok(BaselineOutcome::NotFound { reason });
        if !self.api.has_token() {
            return stop(MissingBaseline::NoToken {
                variable: self.config.token_variable.clone(),
            });
        }
        let Some(branch) = self.context.baseline_branch().map(str::to_owned) else {
            return stop(MissingBaseline::NoBranch);
        };
        let workflow = match self.workflow_id()? {
            Step::Go(w) => w,
            Step::Stop(reason) => return stop(reason),
        };

        let path = format!(
            "{}/actions/workflows/{workflow}/runs?branch={}&status=success&per_page={RUNS_PER_PAGE}",
            self.repo_path,
            query_value(&branch)
        );
        let runs: Runs = match self.read(&path, || format!("workflow {workflow}"))? {
            Step::Go(r) => r,
            Step::Stop(reason) => return stop(reason),
        };
        let repository = self.context.repository.as_deref().unwrap_or_default();
        let Some(run) = runs.workflow_runs.into_iter().find(|r| {
            r.head_repository
                .as_ref()
                .and_then(|h| h.full_name.as_deref())
                .is_none_or(|n| n.eq_ignore_ascii_case(repository))
        }) else {
            return stop(MissingBaseline::FirstBuild { branch });
        };

        let path = format!(
            "{}/actions/runs/{}/artifacts?name={}&per_page=10",
            self.repo_path,
            run.id,
            query_value(name)
        );
        let artifacts: Artifacts = match self.read(&path, || format!("workflow run {}", run.id))? {
            Step::Go(a) => a,
            Step::Stop(reason) => return stop(reason),
        };
        let no_artifact = || MissingBaseline::NoArtifact {
            branch: branch.clone(),
            build: format!("run {}", run.id),
            artifact: name.to_owned(),
        };
        let Some(artifact) = artifacts
            .artifacts
            .into_iter()
            .find(|a| a.name == name && !a.expired)
        else {
            return stop(no_artifact());
        };

        let path = format!("{}/actions/artifacts/{}/zip", self.repo_path, artifact.id);
        let a = self.api.get(&path)?;
        let archive =
            tempfile::NamedTempFile::new().map_err(ProviderError::io(std::env::temp_dir()))?;
        match a.status {
            300..=399 => {
                let Some(location) = a.header("location") else {
                    return Err(ProviderError::Decode {
                        what: format!("GET {path}"),
                        message: format!("answer {} without a Location", a.status),
                    });
                };
                let url = self.absolute(location);
                self.api.download(&url, archive.path())?;
            }
            200 => {
                std::fs::write(archive.path(), &a.body)
                    .map_err(ProviderError::io(archive.path()))?;
            }
            404 | 410 => return stop(no_artifact()),
            403 => return stop(self.baseline_denied(&a)),
            _ => return Err(self.api.error(&Method::GET, &path, &a)),
        }
        unzip::extract(archive.path(), dest, name, unzip::MAX_UNPACKED_BYTES)?;
        Ok(BaselineOutcome::Downloaded {
            path: dest.to_owned(),
            build: BaselineBuild {
                id: run.id.to_string(),
                url: run.html_url,
                branch: run.head_branch.or(Some(branch)),
                commit: run.head_sha,
                artifact: name.to_owned(),
                artifact_id: Some(artifact.id.to_string()),
            },
        })
    }

    /// The workflow whose runs are baselines: from the payload for `workflow_run`,
    /// else this run's.
    fn workflow_id(&self) -> Result<Step<String>, ProviderError> {
        if let Some(w) = &self.context.workflow_id {
            return Ok(Step::Go(w.clone()));
        }
        let Some(run) = &self.context.build_id else {
            return Ok(Step::Stop(MissingBaseline::NotFound {
                what: "this build's run (GITHUB_RUN_ID is not set)".to_owned(),
            }));
        };
        let path = format!("{}/actions/runs/{}", self.repo_path, query_value(run));
        Ok(
            match self.read::<Run>(&path, || format!("workflow run {run}"))? {
                Step::Go(r) => Step::Go(r.workflow_id.to_string()),
                Step::Stop(reason) => Step::Stop(reason),
            },
        )
    }

    /// A GET whose 404 ends the search (naming `what`) and whose 403 means the token
    /// may not read artifacts.
    fn read<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: impl FnOnce() -> String,
    ) -> Result<Step<T>, ProviderError> {
        let a = self.api.send(Method::GET, path, None, Retry::Always)?;
        match a.status {
            200..=299 => Ok(Step::Go(self.api.json(&Method::GET, path, &a)?)),
            404 | 410 => Ok(Step::Stop(MissingBaseline::NotFound { what: what() })),
            403 => Ok(Step::Stop(self.baseline_denied(&a))),
            _ => Err(self.api.error(&Method::GET, path, &a)),
        }
    }

    fn baseline_denied(&self, a: &Answer) -> MissingBaseline {
        MissingBaseline::Denied {
            status: a.status,
            message: self.api.message(a),
        }
    }

    /// A `Location` as an absolute URL (relative ones are on the API's host).
    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else {
            let origin = host_of(&self.config.api_url);
            format!("{origin}/{}", location.trim_start_matches('/'))
        }
    }
}
