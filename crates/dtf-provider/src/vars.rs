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
