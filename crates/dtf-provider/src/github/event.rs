//! The parts of a GitHub webhook payload (`GITHUB_EVENT_PATH`) that place a build.
//!
//! Environment variables do not say enough: `pull_request_target` and `workflow_run`
//! runs check out the base branch, so `GITHUB_REF` names no pull request and
//! `GITHUB_SHA` is not the commit the results belong to. The payload does. Every field
//! is optional, since payloads vary by event and by GitHub version.

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Event {
    pub pull_request: Option<PullRequest>,
    pub workflow_run: Option<WorkflowRun>,
    pub issue: Option<Issue>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct PullRequest {
    pub number: Option<u64>,
    pub state: Option<String>,
    pub head: Option<Side>,
    pub base: Option<Side>,
}

/// One end of a pull request.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Side {
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub sha: Option<String>,
    pub repo: Option<Repo>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Repo {
    pub full_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct WorkflowRun {
    pub workflow_id: Option<u64>,
    pub head_sha: Option<String>,
    pub head_branch: Option<String>,
    /// The event that started the triggering run.
    pub event: Option<String>,
    /// The run's pull requests; empty for pull requests from forks.
    #[serde(default)]
    pub pull_requests: Vec<PullRequest>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Issue {
    pub number: Option<u64>,
    /// Present when the issue is a pull request.
    pub pull_request: Option<serde_json::Value>,
}

impl Event {
    pub fn parse(text: &str) -> Result<Event, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl PullRequest {
    pub fn head_sha(&self) -> Option<&str> {
        self.head.as_ref().and_then(|h| h.sha.as_deref())
    }

    pub fn base_ref(&self) -> Option<&str> {
        self.base.as_ref().and_then(|b| b.reference.as_deref())
    }

    pub fn head_ref(&self) -> Option<&str> {
        self.head.as_ref().and_then(|h| h.reference.as_deref())
    }

    /// The fork's name, when the head lives in another repository than the base.
    pub fn fork(&self) -> Option<&str> {
        match (repo_name(&self.head), repo_name(&self.base)) {
            (Some(head), Some(base)) if !head.eq_ignore_ascii_case(base) => Some(head),
            _ => None,
        }
    }
}

fn repo_name(side: &Option<Side>) -> Option<&str> {
    side.as_ref()
        .and_then(|s| s.repo.as_ref())
        .and_then(|r| r.full_name.as_deref())
}

/// The pull request among `candidates` for head commit `sha`: the one whose head is that
/// commit, else the first open one, else the first.
pub(crate) fn pick_pull<'a>(
    candidates: &'a [PullRequest],
    sha: Option<&str>,
) -> Option<&'a PullRequest> {
    let usable = || candidates.iter().filter(|p| p.number.is_some());
    sha.and_then(|sha| usable().find(|p| p.head_sha() == Some(sha)))
        .or_else(|| usable().find(|p| p.state.as_deref() == Some("open")))
        .or_else(|| usable().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_payload() {
        let e = Event::parse(
            r#"{"action":"opened","number":7,"pull_request":{"number":7,"head":{"ref":"feat","sha":"abc","repo":{"full_name":"someone/dtf"}},"base":{"ref":"main","sha":"def","repo":{"full_name":"dtf/dtf"}}}}"#,
        )
        .expect("parses");
        let pr = e.pull_request.expect("a pull request");
        assert_eq!(pr.number, Some(7));
        assert_eq!(pr.head_sha(), Some("abc"));
        assert_eq!(pr.base_ref(), Some("main"));
        assert_eq!(pr.fork(), Some("someone/dtf"));
    }

    #[test]
    fn workflow_run_payload_and_pick() {
        let e = Event::parse(
            r#"{"workflow_run":{"id":1,"workflow_id":42,"head_sha":"s2","head_branch":"feat","event":"pull_request","pull_requests":[{"number":3,"head":{"sha":"s1"}},{"number":4,"head":{"sha":"s2"},"base":{"ref":"dev"}}],"head_repository":null}}"#,
        )
        .expect("parses");
        let run = e.workflow_run.expect("a run");
        assert_eq!(run.workflow_id, Some(42));
        let pr = pick_pull(&run.pull_requests, run.head_sha.as_deref()).expect("found");
        assert_eq!(pr.number, Some(4));
        assert_eq!(pr.base_ref(), Some("dev"));
    }

    #[test]
    fn nulls_and_missing_fields_are_fine() {
        let e =
            Event::parse(r#"{"pull_request":{"number":1,"head":{"repo":null}}}"#).expect("parses");
        assert_eq!(e.pull_request.expect("pr").fork(), None);
        assert!(Event::parse("{}").expect("parses").workflow_run.is_none());
    }
}
