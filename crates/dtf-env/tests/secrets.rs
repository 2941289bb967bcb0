//! Tokens never reach the metadata: they are not read, and URLs lose credentials.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use dtf_env::{EnvSource, detect, vars};

/// Values that must never appear in anything detection returns.
const SECRETS: &[&str] = &[
    "ghs_githubtokenSECRET0001",
    "actions-runtime-SECRET0002",
    "id-token-request-SECRET0003",
    "glcbt-jobtokenSECRET0004",
    "eyJhbGciOiJSUzI1NiJ9.jwtSECRET0005",
    "registry-password-SECRET0006",
    "azure-access-token-SECRET0007",
    "jenkins-api-token-SECRET0008",
    "git-password-SECRET0009",
];

/// A CI environment with every provider's ordinary variables plus the credentials each
/// provider hands to jobs, some of them hidden inside otherwise useful URLs.
fn environment_full_of_tokens() -> Vec<(String, String)> {
    let pairs: Vec<(&str, String)> = vec![
        // GitHub Actions
        ("GITHUB_ACTIONS", "true".into()),
        ("GITHUB_REPOSITORY", "acme/widgets".into()),
        ("GITHUB_REF", "refs/pull/3/merge".into()),
        ("GITHUB_HEAD_REF", "feature".into()),
        ("GITHUB_SHA", "abc123".into()),
        ("GITHUB_RUN_ID", "1".into()),
        ("GITHUB_SERVER_URL", "https://github.com".into()),
        ("GITHUB_TOKEN", SECRETS[0].into()),
        ("INPUT_GITHUB_TOKEN", SECRETS[0].into()),
        ("ACTIONS_RUNTIME_TOKEN", SECRETS[1].into()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", SECRETS[2].into()),
        // GitLab CI
        ("GITLAB_CI", "true".into()),
        ("CI_PROJECT_PATH", "acme/widgets".into()),
        ("CI_JOB_TOKEN", SECRETS[3].into()),
        ("CI_JOB_JWT", SECRETS[4].into()),
        ("CI_JOB_JWT_V2", SECRETS[4].into()),
        ("CI_REGISTRY_PASSWORD", SECRETS[5].into()),
        ("CI_DEPLOY_PASSWORD", SECRETS[5].into()),
        (
            "CI_REPOSITORY_URL",
            format!(
                "https://gitlab-ci-token:{}@gitlab.com/acme/widgets.git",
                SECRETS[3]
            ),
        ),
        (
            "CI_JOB_URL",
            format!("https://ci:{}@gitlab.com/acme/widgets/-/jobs/1", SECRETS[3]),
        ),
        // Azure Pipelines
        ("TF_BUILD", "True".into()),
        ("SYSTEM_ACCESSTOKEN", SECRETS[6].into()),
        (
            "SYSTEM_COLLECTIONURI",
            format!("https://user:{}@dev.azure.com/acme/", SECRETS[6]),
        ),
        ("SYSTEM_TEAMPROJECT", "widgets".into()),
        ("BUILD_BUILDID", "9".into()),
        // Jenkins
        ("JENKINS_URL", "https://ci.example.com/".into()),
        ("JENKINS_API_TOKEN", SECRETS[7].into()),
        ("GIT_PASSWORD", SECRETS[8].into()),
        (
            "GIT_URL",
            format!(
                "https://deploy:{}@git.example.com/acme/widgets.git",
                SECRETS[8]
            ),
        ),
        (
            "BUILD_URL",
            format!("https://bot:{}@ci.example.com/job/w/1/", SECRETS[7]),
        ),
    ];
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

#[test]
fn no_token_appears_in_any_output() {
    let base = environment_full_of_tokens();
    for provider in [
        "",
        "github",
        "gitlab",
        "jenkins",
        "azure-pipelines",
        "local",
    ] {
        let mut env = base.clone();
        env.push(("DTF_PROVIDER".to_owned(), provider.to_owned()));
        let detected = detect(&env);
        let outputs = [
            format!("{detected:?}"),
            format!("{detected:#?}"),
            serde_json::to_string(&detected.metadata).expect("metadata serializes"),
            detected
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        ];
        for output in &outputs {
            for secret in SECRETS {
                assert!(
                    !output.contains(secret),
                    "provider {provider:?} leaked a token: {output}"
                );
            }
        }
    }
}

#[test]
fn urls_keep_their_useful_part_without_credentials() {
    let mut env = environment_full_of_tokens();
    env.push(("DTF_PROVIDER".to_owned(), "jenkins".to_owned()));
    let metadata = detect(&env).metadata;
    assert_eq!(
        metadata.repository.as_deref(),
        Some("https://git.example.com/acme/widgets.git")
    );
    assert_eq!(
        metadata.build_url.as_deref(),
        Some("https://ci.example.com/job/w/1/")
    );
}

/// An environment that answers every name and remembers which ones were asked for.
struct Recording {
    asked: RefCell<BTreeSet<String>>,
    values: HashMap<String, String>,
}

impl EnvSource for Recording {
    fn get(&self, key: &str) -> Option<String> {
        self.asked.borrow_mut().insert(key.to_owned());
        Some(
            self.values
                .get(key)
                .cloned()
                .unwrap_or_else(|| "1".to_owned()),
        )
    }
}

#[test]
fn only_declared_names_are_read_and_none_is_a_credential() {
    let declared: BTreeSet<&str> = vars::all().collect();
    assert_eq!(
        declared.len(),
        vars::all().count(),
        "a name is declared twice"
    );
    for name in &declared {
        let upper = name.to_ascii_uppercase();
        for marker in ["TOKEN", "PASSWORD", "SECRET", "JWT", "KEY", "CREDENTIAL"] {
            assert!(!upper.contains(marker), "{name} looks like a credential");
        }
        assert_ne!(*name, "CI_REPOSITORY_URL", "it embeds the job token");
    }

    for provider in ["github", "gitlab", "jenkins", "azure-pipelines", "local"] {
        let recording = Recording {
            asked: RefCell::default(),
            values: [
                ("DTF_PROVIDER".to_owned(), provider.to_owned()),
                ("GITHUB_REF".to_owned(), "refs/pull/1/merge".to_owned()),
            ]
            .into(),
        };
        detect(&recording);
        for name in recording.asked.borrow().iter() {
            assert!(
                declared.contains(name.as_str()),
                "{provider}: read {name}, which is not in vars::all()"
            );
        }
    }
}
