//! Every environment variable the adapters read, besides `dtf-env`'s.
//!
//! Build metadata (repository, branches, commit, run id, the pull request from
//! `GITHUB_REF`) comes from `dtf-env`, the one place that turns CI variables into
//! `BuildMetadata`. The adapters need a few more that only matter when talking to the
//! provider: where its API is, the event payload, the job summary file, and the token.
//! They read them through the function they are handed, never from the process, so
//! tests and replays describe any build as a map.

/// GitHub Actions: "Variables reference" → "Default environment variables".
pub mod github {
    /// The REST API's URL: `https://api.github.com`, or `https://HOST/api/v3` on
    /// GitHub Enterprise Server.
    pub const GITHUB_API_URL: &str = "GITHUB_API_URL";
    /// The name of the event that started the workflow (`pull_request`, `push`,
    /// `workflow_run`, ...).
    pub const GITHUB_EVENT_NAME: &str = "GITHUB_EVENT_NAME";
    /// The file holding the event's full webhook payload, where a pull request's number,
    /// head commit and base branch are for every pull request event.
    pub const GITHUB_EVENT_PATH: &str = "GITHUB_EVENT_PATH";
    /// The file a step appends Markdown to for the job summary (1 MiB per step).
    pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
    /// The checkout folder; stripped from test file paths so annotations point at
    /// repository paths.
    pub const GITHUB_WORKSPACE: &str = "GITHUB_WORKSPACE";
    /// Where the token is read from unless the user names another variable. Workflows
    /// must pass it explicitly (`env: GITHUB_TOKEN: ${{ github.token }}`); the value is
    /// never printed or stored.
    pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";

    /// Every name above; the token's variable may be replaced by the user's choice.
    pub const ALL: &[&str] = &[
        GITHUB_API_URL,
        GITHUB_EVENT_NAME,
        GITHUB_EVENT_PATH,
        GITHUB_STEP_SUMMARY,
        GITHUB_WORKSPACE,
        GITHUB_TOKEN,
    ];
}

/// GitLab CI: "Predefined CI/CD variables reference". The project path, branches, merge
/// request IID, commit and pipeline come from `dtf-env`
/// (`dtf_env::vars::gitlab`); `CI_NODE_INDEX` (1-based) and `CI_NODE_TOTAL` are read
/// there too, by `dtf run`, not by the adapter.
pub mod gitlab {
    /// The REST API's URL, `https://gitlab.com/api/v4` or a self-managed instance's.
    pub const CI_API_V4_URL: &str = "CI_API_V4_URL";
    /// The instance's URL; the API is at `/api/v4` under it when `CI_API_V4_URL` is
    /// missing (older runners).
    pub const CI_SERVER_URL: &str = "CI_SERVER_URL";
    /// The project's numeric id, the stable way to name it in API paths.
    pub const CI_PROJECT_ID: &str = "CI_PROJECT_ID";
    /// The branch whose pipelines are the baseline of a build without a branch (a tag).
    pub const CI_DEFAULT_BRANCH: &str = "CI_DEFAULT_BRANCH";
    /// What started the pipeline (`merge_request_event`, `push`, `schedule`, ...).
    pub const CI_PIPELINE_SOURCE: &str = "CI_PIPELINE_SOURCE";
    /// The source branch's head commit in merge request pipelines; differs from
    /// `CI_COMMIT_SHA` in merged-results pipelines, which build a merge commit.
    pub const CI_MERGE_REQUEST_SOURCE_BRANCH_SHA: &str = "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA";
    /// A branch pipeline's open merge requests: `group/project!12,other/project!3`.
    pub const CI_OPEN_MERGE_REQUESTS: &str = "CI_OPEN_MERGE_REQUESTS";
    /// The job's token: sent as `JOB-TOKEN` to download the baseline's artifacts, which
    /// it may; it may not read or write merge request notes. Never printed or stored.
    pub const CI_JOB_TOKEN: &str = "CI_JOB_TOKEN";
    /// Where the project access token for the merge request note is read from unless the
    /// user names another variable; sent as `PRIVATE-TOKEN`, never printed or stored.
    pub const DTF_GITLAB_TOKEN: &str = "DTF_GITLAB_TOKEN";
    /// Read when `DTF_GITLAB_TOKEN` is unset: the name many projects already use.
    pub const GITLAB_TOKEN: &str = "GITLAB_TOKEN";
    /// The note token's variables, in the order they are looked at.
    pub const TOKEN_VARIABLES: &[&str] = &[DTF_GITLAB_TOKEN, GITLAB_TOKEN];

    /// Every name above; the note token's variable may be replaced by the user's choice.
    pub const ALL: &[&str] = &[
        CI_API_V4_URL,
        CI_SERVER_URL,
        CI_PROJECT_ID,
        CI_DEFAULT_BRANCH,
        CI_PIPELINE_SOURCE,
        CI_MERGE_REQUEST_SOURCE_BRANCH_SHA,
        CI_OPEN_MERGE_REQUESTS,
        CI_JOB_TOKEN,
        DTF_GITLAB_TOKEN,
        GITLAB_TOKEN,
    ];
}
