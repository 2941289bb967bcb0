//! Every environment variable dtf reads, by provider.
//!
//! Keeping the names in one list makes the crate's contract auditable: a reviewer can
//! see at a glance that no credential is read, and the tests check that detection asks
//! for no name outside [`all`]. Each name cites the provider page it is documented on
//! (by title; the pages move too often for links to last):
//!
//! - GitHub Actions: "Variables reference", section "Default environment variables".
//! - GitLab CI/CD: "Predefined CI/CD variables reference", including its sections on
//!   merge request and external pull request pipelines.
//! - Jenkins: the instance's own "env-vars.html" list (core and Pipeline), the Git
//!   plugin's "Environment variables" section, and the Branch API (multibranch) variables
//!   listed on the same page when a GitHub/Bitbucket/GitLab branch source is used.
//! - Azure Pipelines: "Use predefined variables"; a variable `Build.SourceBranch` reaches
//!   scripts as `BUILD_SOURCEBRANCH` (dots become underscores, letters upper-case).
//!
//! Deliberately absent: every token, password and signed identity the providers hand
//! to jobs (`GITHUB_TOKEN`, `ACTIONS_RUNTIME_TOKEN`, `CI_JOB_TOKEN`, `CI_JOB_JWT`,
//! `CI_REPOSITORY_URL` which embeds the job token, `SYSTEM_ACCESSTOKEN`, ...). dtf has no
//! use for them here, and not reading them is the only way to be sure they are never
//! stored in a result file.

/// dtf's own variables. They work on every provider and win over the provider's.
pub mod dtf {
    /// Forces the provider instead of detecting it: `github`, `gitlab`, `jenkins`,
    /// `azure-pipelines` (or `azure`) or `local`, case-insensitive. For replaying a CI
    /// environment somewhere else, or for a CI system dtf does not recognise.
    pub const DTF_PROVIDER: &str = "DTF_PROVIDER";
    /// This job's shard, 1-based. Needed on GitHub Actions and Jenkins, which have no
    /// native variable for it (a matrix `include` or a parallel stage sets it); overrides
    /// GitLab's and Azure's native values when set.
    pub const DTF_SHARD_INDEX: &str = "DTF_SHARD_INDEX";
    /// How many shards the suite was split into; pairs with [`DTF_SHARD_INDEX`].
    pub const DTF_SHARD_TOTAL: &str = "DTF_SHARD_TOTAL";

    pub const ALL: &[&str] = &[DTF_PROVIDER, DTF_SHARD_INDEX, DTF_SHARD_TOTAL];
}

/// GitHub Actions: "Variables reference" → "Default environment variables".
pub mod github {
    /// Always `true` when a workflow runs on GitHub Actions; the detection marker.
    pub const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
    /// `owner/name` of the repository the workflow runs in.
    pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
    /// The full ref that triggered the run: `refs/heads/main`, `refs/tags/v1`, or
    /// `refs/pull/<number>/merge` for pull request events (the only place the number is
    /// available without reading the event payload).
    pub const GITHUB_REF: &str = "GITHUB_REF";
    /// The short ref name: the branch or tag, or `<number>/merge` for pull requests.
    pub const GITHUB_REF_NAME: &str = "GITHUB_REF_NAME";
    /// `branch` or `tag`: which kind of ref `GITHUB_REF_NAME` is.
    pub const GITHUB_REF_TYPE: &str = "GITHUB_REF_TYPE";
    /// The pull request's source branch; set only for `pull_request` and
    /// `pull_request_target` events.
    pub const GITHUB_HEAD_REF: &str = "GITHUB_HEAD_REF";
    /// The pull request's target branch; set only for pull request events.
    pub const GITHUB_BASE_REF: &str = "GITHUB_BASE_REF";
    /// The commit the run checked out. For pull requests this is GitHub's test merge
    /// commit, not the head of the branch (that lives in the event payload).
    pub const GITHUB_SHA: &str = "GITHUB_SHA";
    /// The workflow run's id, shared by every job (and so every shard) of the run.
    pub const GITHUB_RUN_ID: &str = "GITHUB_RUN_ID";
    /// Which attempt of the run this is, starting at 1; re-runs increase it.
    pub const GITHUB_RUN_ATTEMPT: &str = "GITHUB_RUN_ATTEMPT";
    /// The server's web URL, `https://github.com` or a GitHub Enterprise host.
    pub const GITHUB_SERVER_URL: &str = "GITHUB_SERVER_URL";
    /// The job's id as written under `jobs:` in the workflow file.
    pub const GITHUB_JOB: &str = "GITHUB_JOB";
    /// The runner's name.
    pub const RUNNER_NAME: &str = "RUNNER_NAME";
    /// The runner's operating system: `Linux`, `Windows` or `macOS`.
    pub const RUNNER_OS: &str = "RUNNER_OS";
    /// The runner's architecture: `X86`, `X64`, `ARM` or `ARM64`.
    pub const RUNNER_ARCH: &str = "RUNNER_ARCH";

    pub const ALL: &[&str] = &[
        GITHUB_ACTIONS,
        GITHUB_REPOSITORY,
        GITHUB_REF,
        GITHUB_REF_NAME,
        GITHUB_REF_TYPE,
        GITHUB_HEAD_REF,
        GITHUB_BASE_REF,
        GITHUB_SHA,
        GITHUB_RUN_ID,
        GITHUB_RUN_ATTEMPT,
        GITHUB_SERVER_URL,
        GITHUB_JOB,
        RUNNER_NAME,
        RUNNER_OS,
        RUNNER_ARCH,
    ];
}

/// GitLab CI/CD: "Predefined CI/CD variables reference".
pub mod gitlab {
    /// `true` in every GitLab CI/CD job; the detection marker.
    pub const GITLAB_CI: &str = "GITLAB_CI";
    /// The project's path with its namespace, `group/subgroup/project`.
    pub const CI_PROJECT_PATH: &str = "CI_PROJECT_PATH";
    /// The commit the job builds.
    pub const CI_COMMIT_SHA: &str = "CI_COMMIT_SHA";
    /// The branch of a branch pipeline; absent in merge request and tag pipelines.
    pub const CI_COMMIT_BRANCH: &str = "CI_COMMIT_BRANCH";
    /// The branch or tag the pipeline runs for.
    pub const CI_COMMIT_REF_NAME: &str = "CI_COMMIT_REF_NAME";
    /// The tag of a tag pipeline; its presence means `CI_COMMIT_REF_NAME` is no branch.
    pub const CI_COMMIT_TAG: &str = "CI_COMMIT_TAG";
    /// The pipeline's id, shared by all its jobs (and so every shard).
    pub const CI_PIPELINE_ID: &str = "CI_PIPELINE_ID";
    /// The pipeline's web page.
    pub const CI_PIPELINE_URL: &str = "CI_PIPELINE_URL";
    /// This job's web page, where its log is.
    pub const CI_JOB_URL: &str = "CI_JOB_URL";
    /// The job's name; for `parallel:` jobs it carries the `2/3` suffix.
    pub const CI_JOB_NAME: &str = "CI_JOB_NAME";
    /// The job's 1-based position among the copies `parallel:` made; absent otherwise.
    pub const CI_NODE_INDEX: &str = "CI_NODE_INDEX";
    /// How many copies `parallel:` made; `1` for a job that is not parallel.
    pub const CI_NODE_TOTAL: &str = "CI_NODE_TOTAL";
    /// The runner's description as registered.
    pub const CI_RUNNER_DESCRIPTION: &str = "CI_RUNNER_DESCRIPTION";
    /// The runner's tags; recent GitLab versions give a JSON array such as
    /// `["docker", "linux"]`, older ones a comma-separated list.
    pub const CI_RUNNER_TAGS: &str = "CI_RUNNER_TAGS";
    /// Merge request pipelines: the merge request's number within the project.
    pub const CI_MERGE_REQUEST_IID: &str = "CI_MERGE_REQUEST_IID";
    /// Merge request pipelines: the source branch.
    pub const CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: &str = "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME";
    /// Merge request pipelines: the target branch.
    pub const CI_MERGE_REQUEST_TARGET_BRANCH_NAME: &str = "CI_MERGE_REQUEST_TARGET_BRANCH_NAME";
    /// External pull request pipelines (GitLab CI/CD on a GitHub repository): the pull
    /// request's number.
    pub const CI_EXTERNAL_PULL_REQUEST_IID: &str = "CI_EXTERNAL_PULL_REQUEST_IID";
    /// External pull request pipelines: the source branch.
    pub const CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME: &str =
        "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME";
    /// External pull request pipelines: the target branch.
    pub const CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME: &str =
        "CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME";

    pub const ALL: &[&str] = &[
        GITLAB_CI,
        CI_PROJECT_PATH,
        CI_COMMIT_SHA,
        CI_COMMIT_BRANCH,
        CI_COMMIT_REF_NAME,
        CI_COMMIT_TAG,
        CI_PIPELINE_ID,
        CI_PIPELINE_URL,
        CI_JOB_URL,
        CI_JOB_NAME,
        CI_NODE_INDEX,
        CI_NODE_TOTAL,
        CI_RUNNER_DESCRIPTION,
        CI_RUNNER_TAGS,
        CI_MERGE_REQUEST_IID,
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME,
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME,
        CI_EXTERNAL_PULL_REQUEST_IID,
        CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME,
        CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME,
    ];
}

/// Jenkins: core variables (the instance's "env-vars.html"), the Git plugin's
/// "Environment variables", and the Branch API variables multibranch projects get.
pub mod jenkins {
    /// The controller's URL as configured; the main detection marker.
    pub const JENKINS_URL: &str = "JENKINS_URL";
    /// The controller's home directory; a fallback marker when no URL is configured.
    pub const JENKINS_HOME: &str = "JENKINS_HOME";
    /// Git plugin: the remote repository URL. It may carry `user:password@` when a job
    /// was configured that way; dtf strips that part before storing it.
    pub const GIT_URL: &str = "GIT_URL";
    /// Git plugin: the commit checked out.
    pub const GIT_COMMIT: &str = "GIT_COMMIT";
    /// Git plugin: the branch checked out, usually as the remote branch `origin/main`.
    pub const GIT_BRANCH: &str = "GIT_BRANCH";
    /// Multibranch: the branch being built, or an arbitrary name such as `PR-24` for a
    /// change request.
    pub const BRANCH_NAME: &str = "BRANCH_NAME";
    /// Multibranch change requests: the change's id, a pull request number on GitHub.
    pub const CHANGE_ID: &str = "CHANGE_ID";
    /// Multibranch change requests: the branch the change would merge into.
    pub const CHANGE_TARGET: &str = "CHANGE_TARGET";
    /// Multibranch change requests: the source branch's real name (where `BRANCH_NAME`
    /// says `PR-24`).
    pub const CHANGE_BRANCH: &str = "CHANGE_BRANCH";
    /// The build's number within its job, such as `153`.
    pub const BUILD_NUMBER: &str = "BUILD_NUMBER";
    /// The build's id; equal to the number since Jenkins 1.597, a timestamp before.
    pub const BUILD_ID: &str = "BUILD_ID";
    /// The build's web page.
    pub const BUILD_URL: &str = "BUILD_URL";
    /// The job's full name including folders, such as `org/repo/PR-24`.
    pub const JOB_NAME: &str = "JOB_NAME";
    /// The agent the build runs on (`built-in` or `master` on the controller).
    pub const NODE_NAME: &str = "NODE_NAME";
    /// The agent's labels, separated by whitespace.
    pub const NODE_LABELS: &str = "NODE_LABELS";

    pub const ALL: &[&str] = &[
        JENKINS_URL,
        JENKINS_HOME,
        GIT_URL,
        GIT_COMMIT,
        GIT_BRANCH,
        BRANCH_NAME,
        CHANGE_ID,
        CHANGE_TARGET,
        CHANGE_BRANCH,
        BUILD_NUMBER,
        BUILD_ID,
        BUILD_URL,
        JOB_NAME,
        NODE_NAME,
        NODE_LABELS,
    ];
}

/// Azure Pipelines: "Use predefined variables", as environment variables.
pub mod azure {
    /// `True` when running in Azure Pipelines; the detection marker.
    pub const TF_BUILD: &str = "TF_BUILD";
    /// `Build.Repository.Name`: `owner/name` for GitHub repositories, the repository's
    /// name for Azure Repos.
    pub const BUILD_REPOSITORY_NAME: &str = "BUILD_REPOSITORY_NAME";
    /// `Build.SourceBranch`: the full ref built, `refs/heads/main`, `refs/tags/v1` or
    /// `refs/pull/<id>/merge`. Used instead of `Build.SourceBranchName`, which keeps only
    /// the last path segment (`feature/x` becomes `x`).
    pub const BUILD_SOURCEBRANCH: &str = "BUILD_SOURCEBRANCH";
    /// `Build.SourceVersion`: the commit built (the merge commit for pull requests).
    pub const BUILD_SOURCEVERSION: &str = "BUILD_SOURCEVERSION";
    /// `Build.BuildId`: the run's id, shared by all its jobs.
    pub const BUILD_BUILDID: &str = "BUILD_BUILDID";
    /// `System.CollectionUri`: the organization's URL, `https://dev.azure.com/org/`;
    /// the first part of the build's web page.
    pub const SYSTEM_COLLECTIONURI: &str = "SYSTEM_COLLECTIONURI";
    /// `System.TeamProject`: the project's name; the second part of the build's page.
    pub const SYSTEM_TEAMPROJECT: &str = "SYSTEM_TEAMPROJECT";
    /// `System.PullRequest.PullRequestId`: the pull request's id; set when a pull
    /// request (or a branch policy) triggered the build.
    pub const SYSTEM_PULLREQUEST_PULLREQUESTID: &str = "SYSTEM_PULLREQUEST_PULLREQUESTID";
    /// `System.PullRequest.PullRequestNumber`: the pull request's number on GitHub,
    /// which differs from the id for GitHub-hosted repositories; preferred when set.
    pub const SYSTEM_PULLREQUEST_PULLREQUESTNUMBER: &str = "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER";
    /// `System.PullRequest.SourceBranch`: the branch under review, long (`refs/heads/x`)
    /// or short form depending on the repository host.
    pub const SYSTEM_PULLREQUEST_SOURCEBRANCH: &str = "SYSTEM_PULLREQUEST_SOURCEBRANCH";
    /// `System.PullRequest.TargetBranch`: the branch the pull request merges into, long
    /// or short form.
    pub const SYSTEM_PULLREQUEST_TARGETBRANCH: &str = "SYSTEM_PULLREQUEST_TARGETBRANCH";
    /// `System.JobDisplayName`: the job's human-readable name.
    pub const SYSTEM_JOBDISPLAYNAME: &str = "SYSTEM_JOBDISPLAYNAME";
    /// `System.JobPositionInPhase`: this job's 1-based position among the copies a
    /// `parallel:` strategy made.
    pub const SYSTEM_JOBPOSITIONINPHASE: &str = "SYSTEM_JOBPOSITIONINPHASE";
    /// `System.TotalJobsInPhase`: how many copies the `parallel:` strategy made.
    pub const SYSTEM_TOTALJOBSINPHASE: &str = "SYSTEM_TOTALJOBSINPHASE";
    /// `Agent.Name`: the agent's name as registered in its pool.
    pub const AGENT_NAME: &str = "AGENT_NAME";
    /// `Agent.OS`: `Linux`, `Darwin` or `Windows_NT`.
    pub const AGENT_OS: &str = "AGENT_OS";
    /// `Agent.OSArchitecture`: `X86`, `X64`, `ARM` or `ARM64`.
    pub const AGENT_OSARCHITECTURE: &str = "AGENT_OSARCHITECTURE";

    pub const ALL: &[&str] = &[
        TF_BUILD,
        BUILD_REPOSITORY_NAME,
        BUILD_SOURCEBRANCH,
        BUILD_SOURCEVERSION,
        BUILD_BUILDID,
        SYSTEM_COLLECTIONURI,
        SYSTEM_TEAMPROJECT,
        SYSTEM_PULLREQUEST_PULLREQUESTID,
        SYSTEM_PULLREQUEST_PULLREQUESTNUMBER,
        SYSTEM_PULLREQUEST_SOURCEBRANCH,
        SYSTEM_PULLREQUEST_TARGETBRANCH,
        SYSTEM_JOBDISPLAYNAME,
        SYSTEM_JOBPOSITIONINPHASE,
        SYSTEM_TOTALJOBSINPHASE,
        AGENT_NAME,
        AGENT_OS,
        AGENT_OSARCHITECTURE,
    ];
}

/// Every variable name dtf may read, across providers.
pub fn all() -> impl Iterator<Item = &'static str> {
    [dtf::ALL, github::ALL, gitlab::ALL, jenkins::ALL, azure::ALL]
        .into_iter()
        .flatten()
        .copied()
}
