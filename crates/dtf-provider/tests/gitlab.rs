//! The GitLab adapter against local wiremock servers: one for the API (under the
//! `/api/v4` of `CI_API_V4_URL`, or a self-managed instance's deeper path) and one for
//! object storage, a different host as in production. Every request's method, path,
//! query, headers and body are matched exactly; a catch-all on each server answers 500
//! and must see nothing; and at the end of each test every API request is validated
//! against `tests/gitlab-api/endpoints.json`, written from GitLab's REST API docs.

#[path = "gitlab-api/contract.rs"]
mod contract;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use dtf_provider::{
    BaselineOutcome, Clock, CommentOutcome, GitLabConfig, GitLabProvider, HttpPolicy,
    MissingBaseline, Provider, ProviderError, ProviderName, PublishOutcome, PublishedResults,
    SkipReason, SummaryOutcome, TokenAccess,
};

const NOTE_TOKEN: &str = "glpat-TESTnote0123456789secret";
const JOB_TOKEN: &str = "glcbt-TESTjob0123456789secret";
const PROJECT: &str = "group/app";
const MARKER: &str = "<!-- dtf:report -->";
const NOW_EPOCH: u64 = 1_750_000_000;

#[derive(Debug)]
struct RecordingClock(Mutex<Vec<Duration>>);

impl Clock for RecordingClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW_EPOCH)
    }
    fn sleep(&self, duration: Duration) {
        self.0.lock().expect("not poisoned").push(duration);
    }
}

fn policy() -> HttpPolicy {
    HttpPolicy {
        max_attempts: 3,
        backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(30),
        max_rate_limit_wait: Duration::from_secs(60),
        request_timeout: Duration::from_secs(5),
        download_timeout: Duration::from_secs(5),
        max_download_bytes: 10 << 20,
    }
}

struct Harness {
    rt: tokio::runtime::Runtime,
    api: MockServer,
    storage: MockServer,
    /// Where the API lives on the server: `/api/v4`, or deeper on a self-managed
    /// instance under a relative URL.
    prefix: String,
    clock: Arc<RecordingClock>,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_prefix("/api/v4")
    }

    fn with_prefix(prefix: &str) -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the mock servers");
        let (api, storage) = rt.block_on(async {
            let api = MockServer::start().await;
            let storage = MockServer::start().await;
            for server in [&api, &storage] {
                Mock::given(any())
                    .respond_with(ResponseTemplate::new(500).set_body_string("unexpected request"))
                    .with_priority(u8::MAX)
                    .named("catch-all: no request may reach it")
                    .expect(0)
                    .mount(server)
                    .await;
            }
            (api, storage)
        });
        Harness {
            rt,
            api,
            storage,
            prefix: prefix.to_owned(),
            clock: Arc::new(RecordingClock(Mutex::new(Vec::new()))),
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    fn p(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.api));
    }

    fn mount_storage(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.storage));
    }

    fn sleeps(&self) -> Vec<Duration> {
        self.clock.0.lock().expect("not poisoned").clone()
    }

    /// A merge request pipeline for !7 of project 42 (`feature` into `main`), with both
    /// tokens; `extra` pairs win, an empty value removes the variable.
    fn env(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let api_url = format!("{}{}", self.api.uri(), self.prefix);
        let mut env: HashMap<String, String> = [
            ("GITLAB_CI", "true"),
            ("CI_API_V4_URL", api_url.as_str()),
            ("CI_SERVER_URL", self.api.uri().as_str()),
            ("CI_PROJECT_ID", "42"),
            ("CI_PROJECT_PATH", PROJECT),
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
            ("CI_DEFAULT_BRANCH", "main"),
            ("CI_COMMIT_SHA", "headsha111"),
            ("CI_COMMIT_REF_NAME", "feature"),
            ("CI_PIPELINE_ID", "9001"),
            (
                "CI_PIPELINE_URL",
                "https://gitlab.example.com/group/app/-/pipelines/9001",
            ),
            ("CI_JOB_ID", "555"),
            ("CI_NODE_INDEX", "1"),
            ("CI_NODE_TOTAL", "1"),
            ("CI_JOB_TOKEN", JOB_TOKEN),
            ("DTF_GITLAB_TOKEN", NOTE_TOKEN),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            if v.is_empty() {
                env.remove(*k);
            } else {
                env.insert((*k).to_owned(), (*v).to_owned());
            }
        }
        env
    }

    fn provider(&self, env: &HashMap<String, String>) -> GitLabProvider {
        self.try_provider(env, policy())
            .expect("the provider opens")
    }

    fn try_provider(
        &self,
        env: &HashMap<String, String>,
        policy: HttpPolicy,
    ) -> Result<GitLabProvider, ProviderError> {
        let lookup = |k: &str| env.get(k).cloned();
        let mut config = GitLabConfig::from_env(&lookup, None);
        config.http = policy;
        config.summary_path = self.dir.path().join("out/dtf-summary.md");
        let clock: Arc<dyn Clock> = self.clock.clone();
        GitLabProvider::open_with_clock(config, clock)
    }

    /// Every expectation met, nothing reached a catch-all, and every API request valid
    /// against the endpoint description. Returns the API requests.
    fn finish(&self) -> Vec<Request> {
        self.rt.block_on(async {
            self.api.verify().await;
            self.storage.verify().await;
        });
        let requests = self
            .rt
            .block_on(self.api.received_requests())
            .expect("requests are recorded");
        let contract = contract::Contract::load();
        let mut problems = Vec::new();
        for r in &requests {
            if r.url.query() == Some("") {
                problems.push(format!("{} {}: a bare '?' with no query", r.method, r.url));
            }
            let path = r.url.path();
            let path = path.strip_prefix(&self.prefix).unwrap_or(path);
            let query: Vec<(String, String)> = r
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok());
            if let Err(p) = contract.check(r.method.as_str(), path, &query, ct, &r.body) {
                problems.extend(p);
            }
        }
        assert!(
            problems.is_empty(),
            "requests outside GitLab's documented API:\n{}",
            problems.join("\n")
        );
        requests
    }
}

/// The credential headers a request must carry: exactly one token, the right one.
#[derive(Clone, Copy)]
enum Creds {
    Private,
    Job,
    None,
}

impl Match for Creds {
    fn matches(&self, r: &Request) -> bool {
        let h = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok());
        let no_auth = r.headers.get("authorization").is_none();
        let no_leak = !r.headers.values().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.contains(NOTE_TOKEN) || v.contains(JOB_TOKEN))
        });
        let ua = h("user-agent").is_some_and(|u| u.starts_with("dtf/"));
        match self {
            Creds::Private => {
                ua && no_auth && h("private-token") == Some(NOTE_TOKEN) && h("job-token").is_none()
            }
            Creds::Job => {
                ua && no_auth && h("job-token") == Some(JOB_TOKEN) && h("private-token").is_none()
            }
            Creds::None => {
                no_auth && no_leak && h("private-token").is_none() && h("job-token").is_none()
            }
        }
    }
}

/// The exact set of query parameters, in any order.
struct ExactQuery(Vec<(String, String)>);

fn query(pairs: &[(&str, &str)]) -> ExactQuery {
    ExactQuery(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

impl Match for ExactQuery {
    fn matches(&self, r: &Request) -> bool {
        let mut got: Vec<(String, String)> = r
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut want = self.0.clone();
        got.sort();
        want.sort();
        got == want
    }
}

/// A form body holding exactly `body=TEXT`.
struct FormBody(String);

impl Match for FormBody {
    fn matches(&self, r: &Request) -> bool {
        let form = r
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let mut url = reqwest::Url::parse("http://form.invalid/").expect("a URL");
        url.set_query(Some(&String::from_utf8_lossy(&r.body)));
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        form && pairs == [("body".to_owned(), self.0.clone())]
    }
}

struct NoBody;

impl Match for NoBody {
    fn matches(&self, r: &Request) -> bool {
        r.body.is_empty()
    }
}

fn json(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

fn notes_path(h: &Harness) -> String {
    h.p("/projects/42/merge_requests/7/notes")
}

/// `GET …/notes?per_page=100&page=N` answering `body`, with `X-Next-Page` when `next`.
fn notes_page(h: &Harness, page: u32, body: Value, next: Option<u32>) -> Mock {
    notes_page_after(h, page, body, next, Duration::ZERO)
}

/// [`notes_page`], answering after `delay`.
fn notes_page_after(
    h: &Harness,
    page: u32,
    body: Value,
    next: Option<u32>,
    delay: Duration,
) -> Mock {
    let answer = json(200, body)
        .set_delay(delay)
        .insert_header("x-page", page.to_string().as_str())
        .insert_header("x-per-page", "100")
        .insert_header(
            "x-next-page",
            next.map(|n| n.to_string()).unwrap_or_default().as_str(),
        );
    Mock::given(method("GET"))
        .and(path(notes_path(h)))
        .and(query(&[("per_page", "100"), ("page", &page.to_string())]))
        .and(Creds::Private)
        .and(NoBody)
        .respond_with(answer)
}

fn note(id: u64, body: &str) -> Value {
    json!({"id": id, "body": body, "system": false, "author": {"username": "project_42_bot"}})
}

fn chatter(from: u64) -> Value {
    Value::Array((from..from + 100).map(|i| note(i, "looks good")).collect())
}

#[test]
fn the_context_comes_from_ci_variables() {
    let h = Harness::new();
    let p = h.provider(&h.env(&[("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "srcsha")]));
    let c = p.context();
    assert_eq!(c.provider, ProviderName::Gitlab);
    assert_eq!(c.repository.as_deref(), Some(PROJECT));
    assert_eq!(c.change_request, Some(7));
    assert_eq!(c.base_branch.as_deref(), Some("main"));
    assert_eq!(c.branch.as_deref(), Some("feature"));
    assert_eq!(
        c.head_sha.as_deref(),
        Some("srcsha"),
        "the source head, not the merge commit"
    );
    assert_eq!(c.build_id.as_deref(), Some("9001"));
    assert_eq!(c.event.as_deref(), Some("merge_request_event"));
    assert_eq!(c.access, TokenAccess::Unknown);
    let shown = format!("{p:?}");
    assert!(
        !shown.contains(NOTE_TOKEN) && !shown.contains(JOB_TOKEN),
        "{shown}"
    );
    assert!(h.finish().is_empty());
}

#[test]
fn a_note_is_created_when_no_page_has_the_marker() {
    let h = Harness::new();
    h.mount(
        notes_page(
            &h,
            1,
            json!([note(1, "LGTM"), note(2, "> <!-- dtf:report -->\nquoted"),
                   {"id": 3, "body": MARKER, "system": true}]),
            None,
        )
        .expect(1),
    );
    h.mount(
        Mock::given(method("POST"))
            .and(path(notes_path(&h)))
            .and(query(&[]))
            .and(Creds::Private)
            .and(FormBody(format!("{MARKER}\n## Tests\n3 passed & 0 failed")))
            .respond_with(json(201, note(99, "x")))
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    let got = p
        .upsert_comment(MARKER, "## Tests\n3 passed & 0 failed")
        .expect("publishes");
    assert_eq!(
        got,
        CommentOutcome::Created {
            id: "99".to_owned(),
            url: Some(format!(
                "{}/{PROJECT}/-/merge_requests/7#note_99",
                h.api.uri()
            )),
        }
    );
    assert_eq!(h.finish().len(), 2);
}

#[test]
fn the_marker_on_page_three_is_found_and_updated_with_put() {
    let h = Harness::new();
    h.mount(notes_page(&h, 1, chatter(1), Some(2)).expect(1));
    // Page 2 says what comes next with a Link header only, as some proxies leave it.
    h.mount(
        Mock::given(method("GET"))
            .and(path(notes_path(&h)))
            .and(query(&[("per_page", "100"), ("page", "2")]))
            .and(Creds::Private)
            .respond_with(json(200, chatter(101)).insert_header(
                "link",
                format!(
                    "<{}{}?id=42&page=3&per_page=100>; rel=\"next\", <{}{}?page=1&per_page=100>; rel=\"first\"",
                    h.api.uri(), notes_path(&h), h.api.uri(), notes_path(&h)
                )
                .as_str(),
            ))
            .expect(1),
    );
    h.mount(
        notes_page(
            &h,
            3,
            json!([
                note(201, "hi"),
                note(202, &format!("{MARKER}\nold results"))
            ]),
            None,
        )
        .expect(1),
    );
    let body = format!("{MARKER}\nnew results");
    h.mount(
        Mock::given(method("PUT"))
            .and(path(h.p("/projects/42/merge_requests/7/notes/202")))
            .and(query(&[]))
            .and(Creds::Private)
            .and(FormBody(body.clone()))
            .respond_with(json(200, note(202, &body)))
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    let got = p.upsert_comment(MARKER, &body).expect("publishes");
    assert!(
        matches!(got, CommentOutcome::Updated { ref id, .. } if id == "202"),
        "{got:?}"
    );
    // No POST: the catch-all would have answered it, and `finish` fails on that.
    assert_eq!(h.finish().len(), 4);
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(notes_path(&h)))
            .and(Creds::Private)
            .respond_with(json(500, json!({"message": "500 Internal Server Error"})))
            .up_to_n_times(2)
            .expect(2),
    );
    h.mount(notes_page(&h, 1, json!([]), None).expect(1));
    h.mount(
        Mock::given(method("POST"))
            .and(path(notes_path(&h)))
            .and(Creds::Private)
            .and(FormBody(format!("{MARKER}\nbody")))
            .respond_with(json(201, note(5, "x")))
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    let got = p
        .upsert_comment(MARKER, "body")
        .expect("publishes after retries");
    assert!(matches!(got, CommentOutcome::Created { .. }), "{got:?}");
    assert_eq!(h.sleeps(), [Duration::from_secs(1), Duration::from_secs(2)]);
    h.finish();
}

#[test]
fn a_create_that_failed_is_searched_for_before_trying_again() {
    let h = Harness::new();
    // The first search finds nothing; the create meets a 502 (it may have gone
    // through); the second search finds the note; it is updated, not created twice.
    h.mount(
        notes_page(&h, 1, json!([]), None)
            .up_to_n_times(1)
            .expect(1),
    );
    h.mount(
        Mock::given(method("POST"))
            .and(path(notes_path(&h)))
            .and(Creds::Private)
            .respond_with(json(502, json!({"message": "Bad Gateway"})))
            .expect(1),
    );
    h.mount(notes_page(&h, 1, json!([note(77, &format!("{MARKER}\nbody"))]), None).expect(1));
    h.mount(
        Mock::given(method("PUT"))
            .and(path(h.p("/projects/42/merge_requests/7/notes/77")))
            .and(Creds::Private)
            .and(FormBody(format!("{MARKER}\nbody")))
            .respond_with(json(200, note(77, "x")))
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    let got = p.upsert_comment(MARKER, "body").expect("publishes");
    assert!(
        matches!(got, CommentOutcome::Updated { ref id, .. } if id == "77"),
        "{got:?}"
    );
    h.finish();
}

#[test]
fn a_429_with_retry_after_is_waited_out() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(notes_path(&h)))
            .and(Creds::Private)
            .respond_with(
                json(429, json!({"message": "Retry later"}))
                    .insert_header("retry-after", "7")
                    .insert_header("ratelimit-reset", (NOW_EPOCH + 30).to_string().as_str()),
            )
            .up_to_n_times(1)
            .expect(1),
    );
    h.mount(notes_page(&h, 1, json!([note(3, MARKER)]), None).expect(1));
    h.mount(
        Mock::given(method("PUT"))
            .and(path(h.p("/projects/42/merge_requests/7/notes/3")))
            .and(Creds::Private)
            .and(FormBody(format!("{MARKER}\nx")))
            .respond_with(json(200, note(3, "x")))
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    p.upsert_comment(MARKER, "x").expect("publishes");
    assert_eq!(h.sleeps(), [Duration::from_secs(7)], "Retry-After wins");
    h.finish();
}

#[test]
fn a_429_without_retry_after_waits_for_ratelimit_reset_and_a_long_one_fails() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(notes_path(&h)))
            .respond_with(
                json(429, json!({"message": "Retry later"}))
                    .insert_header("ratelimit-reset", (NOW_EPOCH + 20).to_string().as_str()),
            )
            .up_to_n_times(1)
            .expect(1),
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(notes_path(&h)))
            .respond_with(json(429, json!({})).insert_header("retry-after", "3600"))
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    let err = p
        .upsert_comment(MARKER, "x")
        .expect_err("a wait beyond the bound");
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err}");
    assert!(err.to_string().contains("3600s"), "{err}");
    assert_eq!(h.sleeps(), [Duration::from_secs(21)]);
    h.finish();
}

#[test]
fn a_timeout_is_retried_and_the_next_answer_counts() {
    let h = Harness::new();
    h.mount(
        notes_page_after(&h, 1, json!([]), None, Duration::from_secs(4))
            .up_to_n_times(1)
            .expect(1),
    );
    h.mount(notes_page(&h, 1, json!([note(8, MARKER)]), None).expect(1));
    h.mount(
        Mock::given(method("PUT"))
            .and(path(h.p("/projects/42/merge_requests/7/notes/8")))
            .and(Creds::Private)
            .respond_with(json(200, note(8, "x")))
            .expect(1),
    );
    let p = h
        .try_provider(
            &h.env(&[]),
            HttpPolicy {
                request_timeout: Duration::from_millis(500),
                ..policy()
            },
        )
        .expect("opens");
    let got = p
        .upsert_comment(MARKER, "x")
        .expect("publishes after the timeout");
    assert!(matches!(got, CommentOutcome::Updated { .. }), "{got:?}");
    assert_eq!(h.sleeps(), [Duration::from_secs(1)]);
    h.finish();
}

#[test]
fn timeouts_on_every_attempt_are_a_clear_error() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(notes_path(&h)))
            .respond_with(json(200, json!([])).set_delay(Duration::from_secs(3)))
            .expect(2),
    );
    let p = h
        .try_provider(
            &h.env(&[]),
            HttpPolicy {
                max_attempts: 2,
                request_timeout: Duration::from_millis(300),
                ..policy()
            },
        )
        .expect("opens");
    let err = p.upsert_comment(MARKER, "x").expect_err("times out");
    let text = err.to_string();
    assert!(
        matches!(err, ProviderError::Timeout { attempts: 2, .. }),
        "{text}"
    );
    assert!(
        text.contains("/projects/42/merge_requests/7/notes"),
        "{text}"
    );
    assert!(!text.contains(NOTE_TOKEN));
    h.finish();
}

#[test]
fn only_the_job_token_skips_the_note_with_a_notice_and_sends_nothing() {
    let h = Harness::new();
    let p = h.provider(&h.env(&[("DTF_GITLAB_TOKEN", "")]));
    assert!(matches!(
        p.context().access,
        TokenAccess::LikelyReadOnly { .. }
    ));
    let got = p.upsert_comment(MARKER, "x").expect("no error");
    let CommentOutcome::Skipped { reason } = got else {
        panic!("skipped, not {got:?}");
    };
    assert_eq!(
        reason,
        SkipReason::JobTokenOnly {
            variable: "DTF_GITLAB_TOKEN".to_owned()
        }
    );
    let text = reason.to_string();
    assert!(
        text.contains("CI_JOB_TOKEN") && text.contains("project access token"),
        "{text}"
    );

    let none = h.provider(&h.env(&[("DTF_GITLAB_TOKEN", ""), ("CI_JOB_TOKEN", "")]));
    assert_eq!(none.context().access, TokenAccess::None);
    assert!(matches!(
        none.upsert_comment(MARKER, "x").expect("no error"),
        CommentOutcome::Skipped {
            reason: SkipReason::NoToken { .. }
        }
    ));
    let branch =
        h.provider(&h.env(&[("CI_MERGE_REQUEST_IID", ""), ("CI_PIPELINE_SOURCE", "push")]));
    assert!(matches!(
        branch.upsert_comment(MARKER, "x").expect("no error"),
        CommentOutcome::Skipped {
            reason: SkipReason::NoChangeRequest
        }
    ));
    assert!(h.finish().is_empty());
}

#[test]
fn a_token_without_the_right_to_write_is_a_skip_not_an_error() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(notes_path(&h)))
            .respond_with(json(
                403,
                json!({"message": format!("403 Forbidden for {NOTE_TOKEN}")}),
            ))
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    let got = p.upsert_comment(MARKER, "x").expect("no error");
    let CommentOutcome::Skipped {
        reason: SkipReason::Denied { status, message },
    } = got
    else {
        panic!("denied, not {got:?}");
    };
    assert_eq!(status, 403);
    assert!(!message.contains(NOTE_TOKEN), "{message}");
    h.finish();
}

fn zip_bytes(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        for (name, text) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(text.as_bytes()).expect("write");
        }
        w.finish().expect("finish");
    }
    out.into_inner()
}

fn artifacts_path(h: &Harness, reference: &str) -> String {
    h.p(&format!("/projects/42/jobs/artifacts/{reference}/download"))
}

#[test]
fn the_baseline_follows_the_redirect_to_storage_without_any_token() {
    let h = Harness::new();
    let location = format!(
        "{}/gitlab-artifacts/42/report.zip?X-Amz-Signature=sig",
        h.storage.uri()
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(artifacts_path(&h, "main")))
            .and(query(&[("job", "report")]))
            .and(Creds::Job)
            .and(NoBody)
            .respond_with(ResponseTemplate::new(302).insert_header("location", location.as_str()))
            .expect(1),
    );
    h.mount_storage(
        Mock::given(method("GET"))
            .and(path("/gitlab-artifacts/42/report.zip"))
            .and(query(&[("X-Amz-Signature", "sig")]))
            .and(Creds::None)
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_bytes(zip_bytes(&[("dtf-report/summary.json", "{}")])),
            )
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    let dest = h.dir.path().join("baseline");
    let got = p.fetch_baseline("dtf-results", &dest).expect("downloads");
    let BaselineOutcome::Downloaded { path, build } = got else {
        panic!("downloaded, not {got:?}");
    };
    assert_eq!(path, dest);
    assert_eq!(build.branch.as_deref(), Some("main"));
    assert_eq!(
        std::fs::read_to_string(dest.join("dtf-report/summary.json")).expect("unpacked"),
        "{}"
    );
    h.finish();
}

#[test]
fn the_baseline_served_directly_and_branch_names_with_slashes() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(artifacts_path(&h, "release%2F1.x")))
            .and(query(&[("job", "dtf report")]))
            .and(Creds::Job)
            .respond_with(ResponseTemplate::new(200).set_body_bytes(zip_bytes(&[("a.txt", "x")])))
            .expect(1),
    );
    let lookup_env = h.env(&[("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "release/1.x")]);
    let lookup = |k: &str| lookup_env.get(k).cloned();
    let mut config = GitLabConfig::from_env(&lookup, None);
    config.http = policy();
    config.baseline_job = "dtf report".to_owned();
    let clock: Arc<dyn Clock> = h.clock.clone();
    let p = GitLabProvider::open_with_clock(config, clock).expect("opens");
    let dest = h.dir.path().join("b");
    let got = p.fetch_baseline("dtf-results", &dest).expect("downloads");
    assert!(matches!(got, BaselineOutcome::Downloaded { .. }), "{got:?}");
    h.finish();
}

#[test]
fn a_404_baseline_is_a_first_build() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(artifacts_path(&h, "main")))
            .and(query(&[("job", "report")]))
            .and(Creds::Job)
            .respond_with(json(404, json!({"message": "404 Not found"})))
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    let got = p
        .fetch_baseline("dtf-results", &h.dir.path().join("b"))
        .expect("no error");
    assert_eq!(
        got,
        BaselineOutcome::NotFound {
            reason: MissingBaseline::FirstBuild {
                branch: "main".to_owned()
            }
        }
    );
    h.finish();
}

#[test]
fn baseline_server_errors_are_retried() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(artifacts_path(&h, "main")))
            .respond_with(json(503, json!({"message": "unavailable"})))
            .up_to_n_times(1)
            .expect(1),
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(artifacts_path(&h, "main")))
            .and(query(&[("job", "report")]))
            .and(Creds::Job)
            .respond_with(ResponseTemplate::new(200).set_body_bytes(zip_bytes(&[("f", "1")])))
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    let got = p
        .fetch_baseline("dtf-results", &h.dir.path().join("b"))
        .expect("downloads");
    assert!(matches!(got, BaselineOutcome::Downloaded { .. }), "{got:?}");
    assert_eq!(h.sleeps(), [Duration::from_secs(1)]);
    h.finish();
}

#[test]
fn a_self_managed_instance_under_a_path_keeps_it() {
    let h = Harness::with_prefix("/gitlab/api/v4");
    h.mount(notes_page(&h, 1, json!([]), None).expect(1));
    h.mount(
        Mock::given(method("POST"))
            .and(path(h.p("/projects/42/merge_requests/7/notes")))
            .and(Creds::Private)
            .respond_with(json(201, note(1, "x")))
            .expect(1),
    );
    let p = h.provider(&h.env(&[]));
    p.upsert_comment(MARKER, "x").expect("publishes");
    assert_eq!(h.finish().len(), 2);
}

#[test]
fn a_branch_pipeline_finds_its_merge_request() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(h.p("/projects/42/merge_requests/12")))
            .and(query(&[]))
            .and(Creds::Private)
            .and(NoBody)
            .respond_with(json(
                200,
                json!({"iid": 12, "target_branch": "develop", "source_branch": "feature"}),
            ))
            .expect(1),
    );
    let p = h.provider(&h.env(&[
        ("CI_MERGE_REQUEST_IID", ""),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", ""),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", ""),
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_BRANCH", "feature"),
        ("CI_OPEN_MERGE_REQUESTS", "other/lib!3,group/app!12"),
    ]));
    assert_eq!(p.context().change_request, Some(12));
    assert_eq!(p.context().base_branch.as_deref(), Some("develop"));
    h.finish();
}

#[test]
fn results_are_left_to_junit_reports_and_the_summary_is_a_file() {
    let h = Harness::new();
    let p = h.provider(&h.env(&[]));
    let results = PublishedResults {
        name: "dtf".to_owned(),
        conclusion: dtf_provider::Conclusion::Success,
        title: "10 passed".to_owned(),
        summary: "all good".to_owned(),
        text: None,
        details_url: None,
        annotations: Vec::new(),
        annotations_omitted: 0,
    };
    let got = p.publish_results(&results).expect("no error");
    let PublishOutcome::Skipped {
        reason: SkipReason::NotAvailable { what },
    } = got
    else {
        panic!("skipped, not {got:?}");
    };
    assert!(what.contains("artifacts:reports:junit"), "{what}");
    let got = p.write_summary("# Tests\nall good\n").expect("written");
    let SummaryOutcome::Written {
        path,
        bytes,
        cut_bytes,
    } = got
    else {
        panic!("written, not {got:?}");
    };
    assert_eq!(path, h.dir.path().join("out/dtf-summary.md"));
    assert_eq!((bytes, cut_bytes), (17, 0));
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "# Tests\nall good\n"
    );
    assert!(h.finish().is_empty());
}
