//! Turning one provider's variables into [`BuildMetadata`].
//!
//! Detection never fails: a CI environment is input dtf does not control, and a bad
//! value there must not stop tests from being merged. Anything unusable is left out
//! of the metadata and reported as an [`EnvWarning`] instead.

use std::fmt;

use dtf_core::metadata::{BuildMetadata, Provider, Shard};

use crate::parse;
use crate::source::EnvSource;
use crate::vars::{azure, dtf, github, gitlab, jenkins};

/// What detection found, and what it had to ignore.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Detected {
    pub metadata: BuildMetadata,
    /// Variables that were set but unusable, in the order they were read.
    pub warnings: Vec<EnvWarning>,
}

/// A variable that was set to something dtf could not use; it was ignored.
///
/// Only ever built from the variables in [`crate::vars`], none of which is a secret,
/// so printing `value` is safe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvWarning {
    pub variable: &'static str,
    pub value: String,
    pub problem: Problem,
}

/// Why a variable was ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Not a whole number that fits (letters, a sign, a fraction, too large).
    NotANumber,
    /// A shard index or total of 0; shards are numbered from 1.
    Zero,
    /// A shard index above the total it came with.
    AboveTotal {
        total_variable: &'static str,
        total: u32,
    },
    /// One half of a shard pair without the other.
    MissingCompanion { companion: &'static str },
    /// `DTF_PROVIDER` names no provider dtf knows.
    UnknownProvider,
}

impl fmt::Display for EnvWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ignoring {}={:?}: {}",
            self.variable, self.value, self.problem
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotANumber => f.write_str("not a whole number"),
            Problem::Zero => f.write_str("shards are numbered from 1"),
            Problem::AboveTotal {
                total_variable,
                total,
            } => write!(f, "above {total_variable}={total}"),
            Problem::MissingCompanion { companion } => write!(f, "{companion} is not set"),
            Problem::UnknownProvider => {
                f.write_str("expected github, gitlab, jenkins, azure-pipelines or local")
            }
        }
    }
}

/// Reads `env` as the CI provider it comes from describes the build.
///
/// The provider is `DTF_PROVIDER` when set, else the first of GitHub Actions, GitLab CI,
/// Jenkins and Azure Pipelines whose marker variable is present, else local. Empty
/// values count as unset. `DTF_SHARD_INDEX`/`DTF_SHARD_TOTAL` override the provider's
/// own shard variables on every provider, and are the only ones on GitHub and Jenkins.
pub fn detect<E: EnvSource + ?Sized>(env: &E) -> Detected {
    let mut reader = Reader {
        env,
        warnings: Vec::new(),
    };
    let provider = reader.provider();
    let mut metadata = BuildMetadata {
        provider,
        ..BuildMetadata::default()
    };
    match provider {
        Provider::Github => reader.github(&mut metadata),
        Provider::Gitlab => reader.gitlab(&mut metadata),
        Provider::Jenkins => reader.jenkins(&mut metadata),
        Provider::AzurePipelines => reader.azure(&mut metadata),
        Provider::Local => {}
    }
    metadata.shard = reader.shard(provider);
    Detected {
        metadata,
        warnings: reader.warnings,
    }
}

/// Whether a shard pair comes from the provider or from dtf's own override.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A provider sets a total of 1 on jobs it did not split; that is no shard.
    Native,
    /// Set by a person on purpose: `1/1` is taken at its word.
    Override,
}

struct Reader<'a, E: ?Sized> {
    env: &'a E,
    warnings: Vec<EnvWarning>,
}

impl<E: EnvSource + ?Sized> Reader<'_, E> {
    /// Names are `'static` so that only the constants in [`crate::vars`] can be read,
    /// never a name assembled at run time.
    fn get(&self, variable: &'static str) -> Option<String> {
        let value = self.env.get(variable)?;
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    fn is_true(&self, variable: &'static str) -> bool {
        self.get(variable)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }

    fn warn(&mut self, variable: &'static str, value: impl Into<String>, problem: Problem) {
        self.warnings.push(EnvWarning {
            variable,
            value: value.into(),
            problem,
        });
    }

    fn number(&mut self, variable: &'static str) -> Option<u64> {
        let value = self.get(variable)?;
        match value.parse() {
            Ok(number) => Some(number),
            Err(_) => {
                self.warn(variable, value, Problem::NotANumber);
                None
            }
        }
    }

    /// The first of `variables` that holds a number; unusable ones are reported and
    /// skipped.
    fn first_number(&mut self, variables: &[&'static str]) -> Option<u64> {
        variables.iter().find_map(|variable| self.number(variable))
    }

    fn first(&self, variables: &[&'static str]) -> Option<String> {
        variables.iter().find_map(|variable| self.get(variable))
    }

    fn provider(&mut self) -> Provider {
        if let Some(name) = self.get(dtf::DTF_PROVIDER) {
            match parse::provider_from_name(&name) {
                Some(provider) => return provider,
                None => self.warn(dtf::DTF_PROVIDER, name, Problem::UnknownProvider),
            }
        }
        if self.is_true(github::GITHUB_ACTIONS) {
            Provider::Github
        } else if self.is_true(gitlab::GITLAB_CI) {
            Provider::Gitlab
        } else if self.get(jenkins::JENKINS_URL).is_some()
            || self.get(jenkins::JENKINS_HOME).is_some()
        {
            Provider::Jenkins
        } else if self.is_true(azure::TF_BUILD) {
            Provider::AzurePipelines
        } else {
            Provider::Local
        }
    }

    fn github(&mut self, m: &mut BuildMetadata) {
        m.repository = self.get(github::GITHUB_REPOSITORY);
        m.branch = self.github_branch();
        m.base_branch = self.get(github::GITHUB_BASE_REF);
        m.commit = self.get(github::GITHUB_SHA);
        if let Some(reference) = self.get(github::GITHUB_REF) {
            m.change_request = match parse::pull_number_from_ref(&reference) {
                Some(Ok(number)) => Some(number),
                Some(Err(())) => {
                    self.warn(github::GITHUB_REF, reference, Problem::NotANumber);
                    None
                }
                None => None,
            };
        }
        m.build_id = self.get(github::GITHUB_RUN_ID);
        m.build_url = match (
            self.get(github::GITHUB_SERVER_URL),
            &m.repository,
            &m.build_id,
        ) {
            (Some(server), Some(repository), Some(run)) => {
                let server = server.trim_end_matches('/');
                let mut url = format!("{server}/{repository}/actions/runs/{run}");
                // Attempt 1 is what the run's page shows by default.
                if let Some(attempt) = self.number(github::GITHUB_RUN_ATTEMPT)
                    && attempt > 1
                {
                    url.push_str(&format!("/attempts/{attempt}"));
                }
                Some(parse::strip_userinfo(&url))
            }
            _ => None,
        };
        m.job = self.get(github::GITHUB_JOB);
        m.runner_name = self.get(github::RUNNER_NAME);
        m.runner_labels = [github::RUNNER_OS, github::RUNNER_ARCH]
            .into_iter()
            .filter_map(|variable| self.get(variable))
            .collect();
    }

    /// Pull requests carry their source branch in `GITHUB_HEAD_REF`; otherwise the ref
    /// names a branch only when it is one (a tag push has no branch).
    fn github_branch(&self) -> Option<String> {
        if let Some(head) = self.get(github::GITHUB_HEAD_REF) {
            return Some(head);
        }
        let full = self.get(github::GITHUB_REF);
        let is_branch = match (full.as_deref(), self.get(github::GITHUB_REF_TYPE)) {
            (Some(full), _) if full.starts_with("refs/") => full.starts_with("refs/heads/"),
            (_, Some(kind)) => kind.eq_ignore_ascii_case("branch"),
            (_, None) => true,
        };
        if !is_branch {
            return None;
        }
        self.get(github::GITHUB_REF_NAME)
            .or_else(|| full.as_deref().and_then(parse::branch_from_ref))
    }

    fn gitlab(&mut self, m: &mut BuildMetadata) {
        m.repository = self.get(gitlab::CI_PROJECT_PATH);
        m.branch = self
            .first(&[
                gitlab::CI_MERGE_REQUEST_SOURCE_BRANCH_NAME,
                gitlab::CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME,
                gitlab::CI_COMMIT_BRANCH,
            ])
            .or_else(|| match self.get(gitlab::CI_COMMIT_TAG) {
                Some(_) => None,
                None => self.get(gitlab::CI_COMMIT_REF_NAME),
            });
        m.base_branch = self.first(&[
            gitlab::CI_MERGE_REQUEST_TARGET_BRANCH_NAME,
            gitlab::CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME,
        ]);
        m.commit = self.get(gitlab::CI_COMMIT_SHA);
        m.change_request = self.first_number(&[
            gitlab::CI_MERGE_REQUEST_IID,
            gitlab::CI_EXTERNAL_PULL_REQUEST_IID,
        ]);
        m.build_id = self.get(gitlab::CI_PIPELINE_ID);
        // The job's page rather than the pipeline's: it is where a shard's log is.
        m.build_url = self
            .first(&[gitlab::CI_JOB_URL, gitlab::CI_PIPELINE_URL])
            .map(|url| parse::strip_userinfo(&url));
        m.job = self.get(gitlab::CI_JOB_NAME);
        m.runner_name = self.get(gitlab::CI_RUNNER_DESCRIPTION);
        m.runner_labels = self
            .get(gitlab::CI_RUNNER_TAGS)
            .map(|tags| parse::runner_tags(&tags))
            .unwrap_or_default();
    }

    fn jenkins(&mut self, m: &mut BuildMetadata) {
        m.repository = self
            .get(jenkins::GIT_URL)
            .map(|url| parse::strip_userinfo(&url));
        // A change request's BRANCH_NAME is a made-up `PR-24`; CHANGE_BRANCH is real.
        m.branch = self
            .first(&[jenkins::CHANGE_BRANCH, jenkins::BRANCH_NAME])
            .or_else(|| {
                self.get(jenkins::GIT_BRANCH)
                    .and_then(|branch| parse::branch_from_jenkins_git(&branch))
            });
        m.base_branch = self.get(jenkins::CHANGE_TARGET);
        m.commit = self.get(jenkins::GIT_COMMIT);
        m.change_request = self.number(jenkins::CHANGE_ID);
        m.build_id = self.first(&[jenkins::BUILD_NUMBER, jenkins::BUILD_ID]);
        m.build_url = self
            .get(jenkins::BUILD_URL)
            .map(|url| parse::strip_userinfo(&url));
        m.job = self.get(jenkins::JOB_NAME);
        m.runner_name = self.get(jenkins::NODE_NAME);
        m.runner_labels = self
            .get(jenkins::NODE_LABELS)
            .map(|labels| parse::node_labels(&labels, m.runner_name.as_deref()))
            .unwrap_or_default();
    }

    fn azure(&mut self, m: &mut BuildMetadata) {
        m.repository = self.get(azure::BUILD_REPOSITORY_NAME);
        // For a pull request Build.SourceBranch is the merge ref; the branch under
        // review is the pull request's source.
        m.branch = self
            .get(azure::SYSTEM_PULLREQUEST_SOURCEBRANCH)
            .and_then(|branch| parse::branch_from_ref(&branch))
            .or_else(|| {
                self.get(azure::BUILD_SOURCEBRANCH)
                    .and_then(|branch| parse::branch_from_ref(&branch))
            });
        m.base_branch = self
            .get(azure::SYSTEM_PULLREQUEST_TARGETBRANCH)
            .and_then(|branch| parse::branch_from_ref(&branch));
        m.commit = self.get(azure::BUILD_SOURCEVERSION);
        // GitHub-hosted repositories have a pull request id unlike the number people see.
        m.change_request = self.first_number(&[
            azure::SYSTEM_PULLREQUEST_PULLREQUESTNUMBER,
            azure::SYSTEM_PULLREQUEST_PULLREQUESTID,
        ]);
        m.build_id = self.get(azure::BUILD_BUILDID);
        m.build_url = match (
            self.get(azure::SYSTEM_COLLECTIONURI),
            self.get(azure::SYSTEM_TEAMPROJECT),
            &m.build_id,
        ) {
            (Some(collection), Some(project), Some(build)) => {
                let collection = collection.trim_end_matches('/');
                let url = format!(
                    "{collection}/{}/_build/results?buildId={}",
                    parse::encode_component(&project),
                    parse::encode_component(build),
                );
                Some(parse::strip_userinfo(&url))
            }
            _ => None,
        };
        m.job = self.get(azure::SYSTEM_JOBDISPLAYNAME);
        m.runner_name = self.get(azure::AGENT_NAME);
        m.runner_labels = [azure::AGENT_OS, azure::AGENT_OSARCHITECTURE]
            .into_iter()
            .filter_map(|variable| self.get(variable))
            .collect();
    }

    /// dtf's override first; when it is unset or unusable, the provider's own pair.
    fn shard(&mut self, provider: Provider) -> Option<Shard> {
        let overridden =
            self.get(dtf::DTF_SHARD_INDEX).is_some() || self.get(dtf::DTF_SHARD_TOTAL).is_some();
        if overridden
            && let Some(shard) =
                self.shard_pair(dtf::DTF_SHARD_INDEX, dtf::DTF_SHARD_TOTAL, Origin::Override)
        {
            return Some(shard);
        }
        let (index, total) = match provider {
            Provider::Gitlab => (gitlab::CI_NODE_INDEX, gitlab::CI_NODE_TOTAL),
            Provider::AzurePipelines => (
                azure::SYSTEM_JOBPOSITIONINPHASE,
                azure::SYSTEM_TOTALJOBSINPHASE,
            ),
            Provider::Github | Provider::Jenkins | Provider::Local => return None,
        };
        self.shard_pair(index, total, Origin::Native)
    }

    fn shard_pair(
        &mut self,
        index_variable: &'static str,
        total_variable: &'static str,
        origin: Origin,
    ) -> Option<Shard> {
        let index_text = self.get(index_variable);
        let total_text = self.get(total_variable);
        let index = self.shard_number(index_variable);
        let total = self.shard_number(total_variable);
        match (index, total) {
            (Some(index), Some(total)) => {
                if index > total {
                    self.warn(
                        index_variable,
                        index_text.unwrap_or_default(),
                        Problem::AboveTotal {
                            total_variable,
                            total,
                        },
                    );
                    return None;
                }
                if origin == Origin::Native && total == 1 {
                    return None;
                }
                Some(Shard { index, total })
            }
            (None, Some(total)) if index_text.is_none() => {
                // GitLab sets CI_NODE_TOTAL=1 on every job that is not parallel.
                if !(origin == Origin::Native && total == 1) {
                    self.warn(
                        total_variable,
                        total_text.unwrap_or_default(),
                        Problem::MissingCompanion {
                            companion: index_variable,
                        },
                    );
                }
                None
            }
            (Some(_), None) if total_text.is_none() => {
                self.warn(
                    index_variable,
                    index_text.unwrap_or_default(),
                    Problem::MissingCompanion {
                        companion: total_variable,
                    },
                );
                None
            }
            // Unset, or already reported as unusable.
            _ => None,
        }
    }

    /// A 1-based shard number; anything else is reported.
    fn shard_number(&mut self, variable: &'static str) -> Option<u32> {
        let value = self.get(variable)?;
        match value.parse::<u32>() {
            Ok(0) => {
                self.warn(variable, value, Problem::Zero);
                None
            }
            Ok(number) => Some(number),
            Err(_) => {
                self.warn(variable, value, Problem::NotANumber);
                None
            }
        }
    }
}
