//! The baseline: the artifacts of a named job in the latest successful pipeline on the
//! target branch, in one request.
//!
//! `GET /projects/:id/jobs/artifacts/:ref_name/download?job=NAME` answers with the zip,
//! or (object storage) with a redirect to a signed URL on another host, fetched with
//! the client that carries no credentials. A 404 means no successful pipeline on that
//! branch has the job's artifacts yet (a first build, or expired artifacts): the build
//! goes on without a baseline.

use std::path::Path;

use gitlab::api::projects::jobs::artifacts::DownloadRefJobArtifacts;

use crate::error::ProviderError;
use crate::http::absolute;
use crate::outcome::{BaselineBuild, BaselineOutcome, MissingBaseline};
use crate::unzip;

use super::GitLabProvider;
use super::transport::Auth;

impl GitLabProvider {
    pub(super) fn fetch_baseline_impl(
        &self,
        name: &str,
        dest: &Path,
    ) -> Result<BaselineOutcome, ProviderError> {
        let stop = |reason| Ok(BaselineOutcome::NotFound { reason });
        // The job token is made for this request; a project access token also works.
        let auth = if self.api.has(Auth::Job) {
            Auth::Job
        } else if self.api.has(Auth::Private) {
            Auth::Private
        } else {
            return stop(MissingBaseline::NoToken {
                variable: format!(
                    "{} (or {})",
                    crate::vars::gitlab::CI_JOB_TOKEN,
                    self.config.token_variable
                ),
            });
        };
        let Some(branch) = self.context.baseline_branch().map(str::to_owned) else {
            return stop(MissingBaseline::NoBranch);
        };
        let job = self.config.baseline_job.as_str();
        let endpoint = DownloadRefJobArtifacts::builder()
            .project(self.project())
            .ref_name(branch.as_str())
            .job(job)
            .build()
            .map_err(|e| ProviderError::Config {
                message: format!("cannot describe the artifact download: {e}"),
            })?;
        let request = self.api.prepare(&endpoint, &[])?;
        let shown = request.shown(&self.api);
        let archive =
            tempfile::NamedTempFile::new().map_err(ProviderError::io(std::env::temp_dir()))?;
        let a = self.api.send_to_file(&request, auth, archive.path())?;
        match a.status {
            200..=299 => {}
            300..=399 => {
                let Some(location) = a.header("location") else {
                    return Err(ProviderError::Decode {
                        what: format!("GET {shown}"),
                        message: format!("answer {} without a Location", a.status),
                    });
                };
                let url = absolute(self.api.base(), location);
                self.api.download(&url, archive.path())?;
            }
            404 | 410 => return stop(MissingBaseline::FirstBuild { branch }),
            401 | 403 => {
                return stop(MissingBaseline::Denied {
                    status: a.status,
                    message: self.api.message(&a),
                });
            }
            _ => return Err(self.api.error(&request.method, &shown, &a)),
        }
        unzip::extract(archive.path(), dest, name, unzip::MAX_UNPACKED_BYTES)?;
        Ok(BaselineOutcome::Downloaded {
            path: dest.to_owned(),
            build: BaselineBuild {
                id: format!("job {job}"),
                url: None,
                branch: Some(branch),
                commit: None,
                artifact: name.to_owned(),
                artifact_id: None,
            },
        })
    }
}
