//! Choosing and opening a provider from settings and an environment.

use std::path::PathBuf;

use dtf_core::metadata::Provider as ProviderName;

use crate::Provider;
use crate::error::ProviderError;
use crate::github::{GitHubConfig, GitHubProvider, HttpPolicy};
use crate::gitlab::{GitLabConfig, GitLabProvider, SUMMARY_FILE};
use crate::local::LocalProvider;
use crate::vars;

/// An environment: a variable's value by name. The CLI passes the process environment;
/// tests pass a map.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Which adapter to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProviderKind {
    /// GitHub on GitHub Actions (`GITHUB_ACTIONS=true`, or `DTF_PROVIDER=github`),
    /// GitLab on GitLab CI (`GITLAB_CI=true`, or `DTF_PROVIDER=gitlab`), local files
    /// everywhere else.
    #[default]
    Auto,
    Github,
    Gitlab,
    Local,
}

/// How to open a provider.
#[derive(Clone, Debug)]
pub struct Settings {
    pub kind: ProviderKind,
    /// Where the local provider writes, and where GitLab's summary file goes.
    pub local_dir: PathBuf,
    /// Where the local provider reads baselines from.
    pub local_baseline: Option<PathBuf>,
    /// The variable holding the token; when `None`, `GITHUB_TOKEN` on GitHub and
    /// `DTF_GITLAB_TOKEN`, else `GITLAB_TOKEN`, on GitLab.
    pub token_variable: Option<String>,
    /// GitLab: the job whose artifacts are the baseline; `report` when `None`.
    pub baseline_job: Option<String>,
    pub http: HttpPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            kind: ProviderKind::Auto,
            local_dir: PathBuf::from("dtf-publish"),
            local_baseline: None,
            token_variable: None,
            baseline_job: None,
            http: HttpPolicy::default(),
        }
    }
}

/// Opens the provider `settings` name, reading `env` for the build's context.
///
/// `Auto` picks GitHub or GitLab when `dtf-env` detects GitHub Actions or GitLab CI, and
/// local files otherwise; a provider without an adapter yet (Jenkins, Azure) also gets
/// local files, with a notice in the context saying so.
pub fn open(settings: &Settings, env: Env<'_>) -> Result<Box<dyn Provider>, ProviderError> {
    let detected = dtf_env::detect(&FnEnv(env));
    let mut notice = None;
    let kind = match settings.kind {
        ProviderKind::Auto => match detected.metadata.provider {
            ProviderName::Github => ProviderKind::Github,
            ProviderName::Gitlab => ProviderKind::Gitlab,
            ProviderName::Local => ProviderKind::Local,
            other => {
                notice = Some(format!(
                    "dtf has no {} adapter yet; writing to {} instead",
                    other.as_str(),
                    settings.local_dir.display()
                ));
                ProviderKind::Local
            }
        },
        kind => kind,
    };
    match kind {
        ProviderKind::Github => {
            let token_variable = settings
                .token_variable
                .as_deref()
                .unwrap_or(vars::github::GITHUB_TOKEN);
            let mut config = GitHubConfig::from_env(env, token_variable);
            config.http = settings.http.clone();
            Ok(Box::new(GitHubProvider::open(config)?))
        }
        ProviderKind::Gitlab => {
            let mut config = GitLabConfig::from_env(env, settings.token_variable.as_deref());
            config.http = settings.http.clone();
            config.summary_path = settings.local_dir.join(SUMMARY_FILE);
            if let Some(job) = settings
                .baseline_job
                .as_deref()
                .filter(|j| !j.trim().is_empty())
            {
                config.baseline_job = job.trim().to_owned();
            }
            Ok(Box::new(GitLabProvider::open(config)?))
        }
        ProviderKind::Local | ProviderKind::Auto => {
            let mut local = LocalProvider::new(&settings.local_dir, &detected.metadata);
            if let Some(source) = &settings.local_baseline {
                local = local.with_baseline_source(source);
            }
            if let Some(notice) = notice {
                local = local.with_notice(notice);
            }
            Ok(Box::new(local))
        }
    }
}

/// An [`Env`] as `dtf-env` reads it.
pub(crate) struct FnEnv<'a>(pub Env<'a>);

impl dtf_env::EnvSource for FnEnv<'_> {
    fn get(&self, key: &str) -> Option<String> {
        (self.0)(key)
    }
}

/// An [`Env`] that names a provider in `DTF_PROVIDER`, so `dtf-env` reads it as that
/// provider's even when its detection marker is missing (`--provider github` outside
/// Actions, in tests and replays).
pub(crate) struct ForcedProvider<'a> {
    pub env: Env<'a>,
    pub provider: &'static str,
}

impl dtf_env::EnvSource for ForcedProvider<'_> {
    fn get(&self, key: &str) -> Option<String> {
        if key == dtf_env::vars::dtf::DTF_PROVIDER {
            Some(self.provider.to_owned())
        } else {
            (self.env)(key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn auto_picks_local_off_ci_and_says_why_on_other_providers() {
        let dir = tempfile::tempdir().expect("temp");
        let settings = Settings {
            local_dir: dir.path().to_owned(),
            ..Settings::default()
        };
        let none = env(&[]);
        let p = open(&settings, &|k: &str| none.get(k).cloned()).expect("opens");
        assert_eq!(p.context().provider, ProviderName::Local);
        assert!(p.context().notices.is_empty());

        let jenkins = env(&[("JENKINS_URL", "http://ci/"), ("GIT_COMMIT", "abc")]);
        let p = open(&settings, &|k: &str| jenkins.get(k).cloned()).expect("opens");
        assert_eq!(p.context().provider, ProviderName::Local);
        assert_eq!(p.context().head_sha.as_deref(), Some("abc"));
        assert!(
            p.context().notices[0].contains("no jenkins adapter"),
            "{:?}",
            p.context().notices
        );

        let gitlab = env(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", "abc"),
            ("CI_PROJECT_ID", "42"),
            ("CI_API_V4_URL", "http://127.0.0.1:9/api/v4"),
        ]);
        let p = open(&settings, &|k: &str| gitlab.get(k).cloned()).expect("opens");
        assert_eq!(p.context().provider, ProviderName::Gitlab);
        assert_eq!(p.context().head_sha.as_deref(), Some("abc"));
    }

    #[test]
    fn github_without_a_repository_is_a_config_error() {
        let settings = Settings {
            kind: ProviderKind::Github,
            ..Settings::default()
        };
        let e = env(&[("GITHUB_TOKEN", "secret-value")]);
        let err = open(&settings, &|k: &str| e.get(k).cloned()).expect_err("refused");
        assert!(err.to_string().contains("GITHUB_REPOSITORY"), "{err}");
        assert!(!err.to_string().contains("secret-value"));
    }
}
