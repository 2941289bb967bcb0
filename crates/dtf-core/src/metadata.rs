//! Build metadata: who produced a result, on which provider, for which commit.
//!
//! The struct lives in the core so every part of dtf can carry it; filling it from a
//! CI provider's environment is `dtf-env`'s job, in one place. The core never reads
//! the environment itself.

use serde::{Deserialize, Serialize};

/// The CI provider a build ran on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Github,
    Gitlab,
    Jenkins,
    AzurePipelines,
    #[default]
    Local,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Jenkins => "jenkins",
            Provider::AzurePipelines => "azure-pipelines",
            Provider::Local => "local",
        }
    }
}

/// Which shard of how many; `index` is 1-based, as GitLab's `CI_NODE_INDEX` and
/// Azure's `System.JobPositionInPhase` are, and as dtf prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

/// Everything dtf knows about the build a result came from.
///
/// Every field but `provider` is optional: a local run knows little, and a file written
/// by an older dtf may lack newer fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildMetadata {
    pub provider: Provider,
    /// `owner/name` on GitHub, the project path on GitLab, the job's repository URL elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The target branch of a pull or merge request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Pull request (GitHub, Azure) or merge request (GitLab) number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runner_labels: Vec<String>,
}
