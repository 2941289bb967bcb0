//! One fake environment per CI situation, each compared with the whole metadata dtf
//! should derive from it, warnings included.

use dtf_env::{BuildMetadata, EnvWarning, Problem, Provider, Shard, detect};

fn check(env: &[(&str, &str)], expected: BuildMetadata, warnings: &[EnvWarning]) {
    let detected = detect(env);
    assert_eq!(detected.metadata, expected);
    assert_eq!(detected.warnings, warnings);
}

fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}

fn labels(list: &[&str]) -> Vec<String> {
    list.iter().map(|label| (*label).to_owned()).collect()
}

fn shard(index: u32, total: u32) -> Option<Shard> {
    Some(Shard { index, total })
}

fn warning(variable: &'static str, value: &str, problem: Problem) -> EnvWarning {
    EnvWarning {
        variable,
        value: value.to_owned(),
        problem,
    }
}

const SHA: &str = "3f786850e387550fdab836ed7e6dc881de23001b";

const GITHUB_COMMON: &[(&str, &str)] = &[
    ("CI", "true"),
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_REPOSITORY", "acme/widgets"),
    ("GITHUB_SHA", SHA),
    ("GITHUB_RUN_ID", "9876543210"),
    ("GITHUB_SERVER_URL", "https://github.com"),
    ("GITHUB_JOB", "test"),
    ("GITHUB_WORKFLOW", "CI"),
    ("RUNNER_NAME", "GitHub Actions 12"),
    ("RUNNER_OS", "Linux"),
    ("RUNNER_ARCH", "X64"),
];

type Env = Vec<(&'static str, &'static str)>;

fn with(base: &[(&'static str, &'static str)], extra: &[(&'static str, &'static str)]) -> Env {
    base.iter().chain(extra).copied().collect()
}

#[test]
fn github_push() {
    let env = with(
        GITHUB_COMMON,
        &[
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_REF_TYPE", "branch"),
            // Set, but empty, outside pull requests.
            ("GITHUB_HEAD_REF", ""),
            ("GITHUB_BASE_REF", ""),
            ("GITHUB_RUN_ATTEMPT", "1"),
        ],
    );
    check(
        &env,
        BuildMetadata {
            provider: Provider::Github,
            repository: s("acme/widgets"),
            branch: s("main"),
            base_branch: None,
            commit: s(SHA),
            change_request: None,
            build_id: s("9876543210"),
            build_url: s("https://github.com/acme/widgets/actions/runs/9876543210"),
            job: s("test"),
            shard: None,
            runner_name: s("GitHub Actions 12"),
            runner_labels: labels(&["Linux", "X64"]),
        },
        &[],
    );
}

#[test]
fn github_pull_request_in_a_sharded_matrix() {
    let env = with(
        GITHUB_COMMON,
        &[
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_REF", "refs/pull/42/merge"),
            ("GITHUB_REF_NAME", "42/merge"),
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_HEAD_REF", "feature/login"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_SERVER_URL", "https://github.example.com/"),
            ("DTF_SHARD_INDEX", "2"),
            ("DTF_SHARD_TOTAL", "4"),
        ],
    );
    check(
        &env,
        BuildMetadata {
            provider: Provider::Github,
            repository: s("acme/widgets"),
            branch: s("feature/login"),
            base_branch: s("main"),
            commit: s(SHA),
            change_request: Some(42),
            build_id: s("9876543210"),
            build_url: s(
                "https://github.example.com/acme/widgets/actions/runs/9876543210/attempts/2",
            ),
            job: s("test"),
            shard: shard(2, 4),
            runner_name: s("GitHub Actions 12"),
            runner_labels: labels(&["Linux", "X64"]),
        },
        &[],
    );
}

#[test]
fn github_tag_push_has_no_branch() {
    let env = with(
        GITHUB_COMMON,
        &[
            ("GITHUB_REF", "refs/tags/v1.2.0"),
            ("GITHUB_REF_NAME", "v1.2.0"),
            ("GITHUB_REF_TYPE", "tag"),
        ],
    );
    let detected = detect(&env);
    assert_eq!(detected.metadata.branch, None);
    assert_eq!(detected.metadata.change_request, None);
    assert!(detected.warnings.is_empty());
}

#[test]
fn gitlab_merge_request_pipeline_with_parallel_3() {
    let env = [
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_PROJECT_PATH", "acme/platform/widgets"),
        ("CI_COMMIT_SHA", SHA),
        ("CI_COMMIT_REF_NAME", "feature/login"),
        ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ("CI_MERGE_REQUEST_IID", "17"),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/login"),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
        ("CI_PIPELINE_ID", "998877"),
        (
            "CI_PIPELINE_URL",
            "https://gitlab.com/acme/platform/widgets/-/pipelines/998877",
        ),
        (
            "CI_JOB_URL",
            "https://gitlab.com/acme/platform/widgets/-/jobs/5550002",
        ),
        ("CI_JOB_ID", "5550002"),
        ("CI_JOB_NAME", "rspec 2/3"),
        ("CI_NODE_INDEX", "2"),
        ("CI_NODE_TOTAL", "3"),
        ("CI_RUNNER_DESCRIPTION", "shared-runner-7"),
        ("CI_RUNNER_TAGS", r#"["docker", "linux"]"#),
    ];
    check(
        &env,
        BuildMetadata {
            provider: Provider::Gitlab,
            repository: s("acme/platform/widgets"),
            branch: s("feature/login"),
            base_branch: s("main"),
            commit: s(SHA),
            change_request: Some(17),
            build_id: s("998877"),
            build_url: s("https://gitlab.com/acme/platform/widgets/-/jobs/5550002"),
            job: s("rspec 2/3"),
            shard: shard(2, 3),
            runner_name: s("shared-runner-7"),
            runner_labels: labels(&["docker", "linux"]),
        },
        &[],
    );
}

#[test]
fn gitlab_branch_pipeline() {
    let env = [
        ("GITLAB_CI", "true"),
        ("CI_PROJECT_PATH", "acme/widgets"),
        ("CI_COMMIT_SHA", SHA),
        ("CI_COMMIT_BRANCH", "main"),
        ("CI_COMMIT_REF_NAME", "main"),
        ("CI_PIPELINE_ID", "1001"),
        (
            "CI_PIPELINE_URL",
            "https://gitlab.example.com/acme/widgets/-/pipelines/1001",
        ),
        ("CI_JOB_NAME", "unit"),
        // GitLab sets a total of 1 on jobs without `parallel:`; that is no shard.
        ("CI_NODE_TOTAL", "1"),
        ("CI_RUNNER_DESCRIPTION", "build-box"),
        ("CI_RUNNER_TAGS", "docker, linux"),
    ];
    check(
        &env,
        BuildMetadata {
            provider: Provider::Gitlab,
            repository: s("acme/widgets"),
            branch: s("main"),
            base_branch: None,
            commit: s(SHA),
            change_request: None,
            build_id: s("1001"),
            build_url: s("https://gitlab.example.com/acme/widgets/-/pipelines/1001"),
            job: s("unit"),
            shard: None,
            runner_name: s("build-box"),
            runner_labels: labels(&["docker", "linux"]),
        },
        &[],
    );
}

#[test]
fn gitlab_tag_and_external_pull_request_pipelines() {
    let tag = detect(&[
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_REF_NAME", "v2.0"),
        ("CI_COMMIT_TAG", "v2.0"),
    ]);
    assert_eq!(tag.metadata.branch, None);

    let external = detect(&[
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_REF_NAME", "feature/x"),
        ("CI_EXTERNAL_PULL_REQUEST_IID", "88"),
        ("CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME", "feature/x"),
        ("CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME", "develop"),
    ]);
    assert_eq!(external.metadata.branch, s("feature/x"));
    assert_eq!(external.metadata.base_branch, s("develop"));
    assert_eq!(external.metadata.change_request, Some(88));
}

#[test]
fn jenkins_multibranch_pull_request() {
    let env = [
        ("JENKINS_URL", "https://ci.example.com/"),
        ("JENKINS_HOME", "/var/jenkins_home"),
        ("BRANCH_NAME", "PR-24"),
        ("CHANGE_ID", "24"),
        ("CHANGE_TARGET", "main"),
        ("CHANGE_BRANCH", "feature/login"),
        ("CHANGE_URL", "https://github.com/acme/widgets/pull/24"),
        ("GIT_COMMIT", SHA),
        ("GIT_URL", "https://github.com/acme/widgets.git"),
        ("GIT_BRANCH", "PR-24"),
        ("BUILD_NUMBER", "7"),
        ("BUILD_ID", "7"),
        (
            "BUILD_URL",
            "https://ci.example.com/job/acme/job/widgets/job/PR-24/7/",
        ),
        ("JOB_NAME", "acme/widgets/PR-24"),
        ("NODE_NAME", "linux-agent-3"),
        ("NODE_LABELS", "linux-agent-3 linux docker"),
        ("EXECUTOR_NUMBER", "1"),
        ("DTF_SHARD_INDEX", "1"),
        ("DTF_SHARD_TOTAL", "2"),
    ];
    check(
        &env,
        BuildMetadata {
            provider: Provider::Jenkins,
            repository: s("https://github.com/acme/widgets.git"),
            branch: s("feature/login"),
            base_branch: s("main"),
            commit: s(SHA),
            change_request: Some(24),
            build_id: s("7"),
            build_url: s("https://ci.example.com/job/acme/job/widgets/job/PR-24/7/"),
            job: s("acme/widgets/PR-24"),
            shard: shard(1, 2),
            runner_name: s("linux-agent-3"),
            runner_labels: labels(&["linux", "docker"]),
        },
        &[],
    );
}

#[test]
fn jenkins_freestyle_job() {
    let env = [
        ("JENKINS_URL", "https://ci.example.com/"),
        ("GIT_COMMIT", SHA),
        ("GIT_BRANCH", "origin/main"),
        // Credentials inline in the remote must not survive into the metadata.
        (
            "GIT_URL",
            "https://deploy:hunter2@git.example.com/acme/widgets.git",
        ),
        ("BUILD_NUMBER", "153"),
        ("BUILD_ID", "153"),
        (
            "BUILD_URL",
            "https://ci.example.com/job/widgets-nightly/153/",
        ),
        ("JOB_NAME", "widgets-nightly"),
        ("NODE_NAME", "built-in"),
        ("NODE_LABELS", "built-in"),
    ];
    check(
        &env,
        BuildMetadata {
            provider: Provider::Jenkins,
            repository: s("https://git.example.com/acme/widgets.git"),
            branch: s("main"),
            base_branch: None,
            commit: s(SHA),
            change_request: None,
            build_id: s("153"),
            build_url: s("https://ci.example.com/job/widgets-nightly/153/"),
            job: s("widgets-nightly"),
            shard: None,
            runner_name: s("built-in"),
            runner_labels: Vec::new(),
        },
        &[],
    );
}

#[test]
fn jenkins_detected_from_home_alone() {
    let detected = detect(&[("JENKINS_HOME", "/var/lib/jenkins")]);
    assert_eq!(detected.metadata.provider, Provider::Jenkins);
}

#[test]
fn azure_github_pull_request_job_3_of_4() {
    let env = [
        ("TF_BUILD", "True"),
        ("BUILD_REPOSITORY_NAME", "acme/widgets"),
        ("BUILD_SOURCEBRANCH", "refs/pull/51/merge"),
        ("BUILD_SOURCEBRANCHNAME", "merge"),
        ("BUILD_SOURCEVERSION", SHA),
        ("BUILD_REASON", "PullRequest"),
        ("SYSTEM_PULLREQUEST_PULLREQUESTID", "912345678"),
        ("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", "51"),
        ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "feature/login"),
        ("SYSTEM_PULLREQUEST_TARGETBRANCH", "main"),
        ("BUILD_BUILDID", "4321"),
        ("SYSTEM_COLLECTIONURI", "https://dev.azure.com/acme/"),
        ("SYSTEM_TEAMPROJECT", "Widget Factory"),
        ("SYSTEM_JOBDISPLAYNAME", "Test 3"),
        ("SYSTEM_JOBPOSITIONINPHASE", "3"),
        ("SYSTEM_TOTALJOBSINPHASE", "4"),
        ("AGENT_NAME", "Azure Pipelines 5"),
        ("AGENT_OS", "Linux"),
        ("AGENT_OSARCHITECTURE", "X64"),
    ];
    check(
        &env,
        BuildMetadata {
            provider: Provider::AzurePipelines,
            repository: s("acme/widgets"),
            branch: s("feature/login"),
            base_branch: s("main"),
            commit: s(SHA),
            change_request: Some(51),
            build_id: s("4321"),
            build_url: s("https://dev.azure.com/acme/Widget%20Factory/_build/results?buildId=4321"),
            job: s("Test 3"),
            shard: shard(3, 4),
            runner_name: s("Azure Pipelines 5"),
            runner_labels: labels(&["Linux", "X64"]),
        },
        &[],
    );
}

#[test]
fn azure_ci_build() {
    let env = [
        ("TF_BUILD", "True"),
        ("BUILD_REPOSITORY_NAME", "widgets"),
        ("BUILD_SOURCEBRANCH", "refs/heads/release/2.0"),
        ("BUILD_SOURCEBRANCHNAME", "2.0"),
        ("BUILD_SOURCEVERSION", SHA),
        ("BUILD_BUILDID", "4400"),
        ("SYSTEM_COLLECTIONURI", "https://dev.azure.com/acme"),
        ("SYSTEM_TEAMPROJECT", "widgets"),
        ("SYSTEM_JOBDISPLAYNAME", "Build and test"),
        ("SYSTEM_JOBPOSITIONINPHASE", "1"),
        ("SYSTEM_TOTALJOBSINPHASE", "1"),
        ("AGENT_NAME", "self-hosted-01"),
        ("AGENT_OS", "Windows_NT"),
    ];
    check(
        &env,
        BuildMetadata {
            provider: Provider::AzurePipelines,
            repository: s("widgets"),
            branch: s("release/2.0"),
            base_branch: None,
            commit: s(SHA),
            change_request: None,
            build_id: s("4400"),
            build_url: s("https://dev.azure.com/acme/widgets/_build/results?buildId=4400"),
            job: s("Build and test"),
            shard: None,
            runner_name: s("self-hosted-01"),
            runner_labels: labels(&["Windows_NT"]),
        },
        &[],
    );
}

#[test]
fn azure_repos_pull_request_uses_long_refs_and_the_id() {
    let detected = detect(&[
        ("TF_BUILD", "true"),
        ("BUILD_SOURCEBRANCH", "refs/pull/77/merge"),
        ("SYSTEM_PULLREQUEST_PULLREQUESTID", "77"),
        ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "refs/heads/feature/x"),
        ("SYSTEM_PULLREQUEST_TARGETBRANCH", "refs/heads/main"),
    ]);
    assert_eq!(detected.metadata.branch, s("feature/x"));
    assert_eq!(detected.metadata.base_branch, s("main"));
    assert_eq!(detected.metadata.change_request, Some(77));
    assert!(detected.warnings.is_empty());
}

#[test]
fn local_run() {
    check(&[], BuildMetadata::default(), &[]);
    check(
        &[
            ("CI", "true"),
            ("HOME", "/home/dev"),
            ("GITHUB_ACTIONS", "false"),
            ("GITLAB_CI", ""),
            ("TF_BUILD", "False"),
            ("JENKINS_URL", "  "),
            // Provider variables mean nothing without the provider's marker.
            ("GITHUB_SHA", SHA),
            ("CI_NODE_INDEX", "2"),
            ("CI_NODE_TOTAL", "3"),
        ],
        BuildMetadata::default(),
        &[],
    );
}

#[test]
fn dtf_overrides() {
    // DTF_PROVIDER wins over detection and picks which variables are read.
    check(
        &[
            ("DTF_PROVIDER", "Jenkins"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", "aaaa"),
            ("GIT_COMMIT", "bbbb"),
        ],
        BuildMetadata {
            provider: Provider::Jenkins,
            commit: s("bbbb"),
            ..BuildMetadata::default()
        },
        &[],
    );
    // DTF_SHARD_* win over the provider's own pair.
    check(
        &[
            ("GITLAB_CI", "true"),
            ("CI_NODE_INDEX", "2"),
            ("CI_NODE_TOTAL", "3"),
            ("DTF_SHARD_INDEX", "5"),
            ("DTF_SHARD_TOTAL", "6"),
        ],
        BuildMetadata {
            provider: Provider::Gitlab,
            shard: shard(5, 6),
            ..BuildMetadata::default()
        },
        &[],
    );
    // Forced local ignores everything but dtf's own variables; an explicit 1/1 stands.
    check(
        &[
            ("DTF_PROVIDER", "local"),
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", SHA),
            ("DTF_SHARD_INDEX", " 1 "),
            ("DTF_SHARD_TOTAL", "1"),
        ],
        BuildMetadata {
            provider: Provider::Local,
            shard: shard(1, 1),
            ..BuildMetadata::default()
        },
        &[],
    );
    check(
        &[("DTF_PROVIDER", "azure"), ("BUILD_BUILDID", "12")],
        BuildMetadata {
            provider: Provider::AzurePipelines,
            build_id: s("12"),
            ..BuildMetadata::default()
        },
        &[],
    );
}

fn gitlab_shard(index: &'static str, total: &'static str) -> Env {
    vec![
        ("GITLAB_CI", "true"),
        ("CI_NODE_INDEX", index),
        ("CI_NODE_TOTAL", total),
    ]
}

fn gitlab_only() -> BuildMetadata {
    BuildMetadata {
        provider: Provider::Gitlab,
        ..BuildMetadata::default()
    }
}

#[test]
fn bad_shard_numbers_are_reported_not_used() {
    let cases: Vec<(Env, Vec<EnvWarning>)> = vec![
        (
            gitlab_shard("abc", "3"),
            vec![warning("CI_NODE_INDEX", "abc", Problem::NotANumber)],
        ),
        (
            gitlab_shard("0", "3"),
            vec![warning("CI_NODE_INDEX", "0", Problem::Zero)],
        ),
        (
            gitlab_shard("1", "0"),
            vec![warning("CI_NODE_TOTAL", "0", Problem::Zero)],
        ),
        (
            gitlab_shard("-1", "3"),
            vec![warning("CI_NODE_INDEX", "-1", Problem::NotANumber)],
        ),
        (
            gitlab_shard("1.5", "99999999999"),
            vec![
                warning("CI_NODE_INDEX", "1.5", Problem::NotANumber),
                warning("CI_NODE_TOTAL", "99999999999", Problem::NotANumber),
            ],
        ),
        (
            gitlab_shard("4", "3"),
            vec![warning(
                "CI_NODE_INDEX",
                "4",
                Problem::AboveTotal {
                    total_variable: "CI_NODE_TOTAL",
                    total: 3,
                },
            )],
        ),
        (
            vec![("GITLAB_CI", "true"), ("CI_NODE_TOTAL", "3")],
            vec![warning(
                "CI_NODE_TOTAL",
                "3",
                Problem::MissingCompanion {
                    companion: "CI_NODE_INDEX",
                },
            )],
        ),
        (
            vec![("GITLAB_CI", "true"), ("CI_NODE_INDEX", "2")],
            vec![warning(
                "CI_NODE_INDEX",
                "2",
                Problem::MissingCompanion {
                    companion: "CI_NODE_TOTAL",
                },
            )],
        ),
    ];
    for (env, warnings) in cases {
        check(&env, gitlab_only(), &warnings);
    }
}

#[test]
fn a_bad_override_falls_back_to_the_provider() {
    let mut env = gitlab_shard("1", "3");
    env.push(("DTF_SHARD_INDEX", "2"));
    check(
        &env,
        BuildMetadata {
            shard: shard(1, 3),
            ..gitlab_only()
        },
        &[warning(
            "DTF_SHARD_INDEX",
            "2",
            Problem::MissingCompanion {
                companion: "DTF_SHARD_TOTAL",
            },
        )],
    );
    check(
        &[
            ("GITHUB_ACTIONS", "true"),
            ("DTF_SHARD_INDEX", "x"),
            ("DTF_SHARD_TOTAL", "4"),
        ],
        BuildMetadata {
            provider: Provider::Github,
            ..BuildMetadata::default()
        },
        &[warning("DTF_SHARD_INDEX", "x", Problem::NotANumber)],
    );
}

#[test]
fn bad_change_request_and_provider_values() {
    check(
        &[("JENKINS_URL", "https://ci/"), ("CHANGE_ID", "abc")],
        BuildMetadata {
            provider: Provider::Jenkins,
            ..BuildMetadata::default()
        },
        &[warning("CHANGE_ID", "abc", Problem::NotANumber)],
    );
    check(
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/pull/abc/merge"),
        ],
        BuildMetadata {
            provider: Provider::Github,
            ..BuildMetadata::default()
        },
        &[warning(
            "GITHUB_REF",
            "refs/pull/abc/merge",
            Problem::NotANumber,
        )],
    );
    check(
        &[("GITLAB_CI", "true"), ("CI_MERGE_REQUEST_IID", "-3")],
        gitlab_only(),
        &[warning("CI_MERGE_REQUEST_IID", "-3", Problem::NotANumber)],
    );
    // An unusable number falls through to the next variable that could say the same.
    check(
        &[
            ("TF_BUILD", "True"),
            ("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", "oops"),
            ("SYSTEM_PULLREQUEST_PULLREQUESTID", "77"),
        ],
        BuildMetadata {
            provider: Provider::AzurePipelines,
            change_request: Some(77),
            ..BuildMetadata::default()
        },
        &[warning(
            "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER",
            "oops",
            Problem::NotANumber,
        )],
    );
    // An unknown provider name is reported, then detection carries on.
    check(
        &[("DTF_PROVIDER", "circleci"), ("GITLAB_CI", "true")],
        gitlab_only(),
        &[warning(
            "DTF_PROVIDER",
            "circleci",
            Problem::UnknownProvider,
        )],
    );
    check(
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "a/b"),
            ("GITHUB_RUN_ID", "5"),
            ("GITHUB_RUN_ATTEMPT", "two"),
        ],
        BuildMetadata {
            provider: Provider::Github,
            repository: s("a/b"),
            build_id: s("5"),
            build_url: s("https://github.com/a/b/actions/runs/5"),
            ..BuildMetadata::default()
        },
        &[warning("GITHUB_RUN_ATTEMPT", "two", Problem::NotANumber)],
    );
}

#[test]
fn warnings_read_as_sentences() {
    let cases = [
        (
            warning("CI_NODE_INDEX", "abc", Problem::NotANumber),
            r#"ignoring CI_NODE_INDEX="abc": not a whole number"#,
        ),
        (
            warning("CI_NODE_INDEX", "0", Problem::Zero),
            r#"ignoring CI_NODE_INDEX="0": shards are numbered from 1"#,
        ),
        (
            warning(
                "CI_NODE_INDEX",
                "4",
                Problem::AboveTotal {
                    total_variable: "CI_NODE_TOTAL",
                    total: 3,
                },
            ),
            r#"ignoring CI_NODE_INDEX="4": above CI_NODE_TOTAL=3"#,
        ),
        (
            warning(
                "DTF_SHARD_INDEX",
                "2",
                Problem::MissingCompanion {
                    companion: "DTF_SHARD_TOTAL",
                },
            ),
            r#"ignoring DTF_SHARD_INDEX="2": DTF_SHARD_TOTAL is not set"#,
        ),
        (
            warning("DTF_PROVIDER", "circleci", Problem::UnknownProvider),
            r#"ignoring DTF_PROVIDER="circleci": expected github, gitlab, jenkins, azure-pipelines or local"#,
        ),
    ];
    for (warning, expected) in cases {
        assert_eq!(warning.to_string(), expected);
    }
}
