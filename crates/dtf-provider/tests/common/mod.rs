//! The test harness for the GitHub adapter: a wiremock server for the API and another
//! for artifact storage (a different host, as in production), each with a catch-all
//! that answers 500 and must see no request; the strict matchers every mock uses; a
//! clock that records waits instead of sleeping; and, at the end of every test, each
//! API request validated against GitHub's OpenAPI description.

#![allow(dead_code)]

pub mod contract;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dtf_provider::{Clock, GitHubConfig, GitHubProvider, HttpPolicy};
use wiremock::matchers::any;
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

pub const TOKEN: &str = "ghs_TESTtoken0123456789secret";
pub const REPO: &str = "octo/widgets";
pub const API_VERSION: &str = "2022-11-28";

/// A fixed "now" for `x-ratelimit-reset` arithmetic.
pub const NOW_EPOCH: u64 = 1_750_000_000;

/// Waits are recorded, not slept.
#[derive(Debug)]
pub struct RecordingClock {
    pub sleeps: Mutex<Vec<Duration>>,
}

impl RecordingClock {
    pub fn new() -> Arc<RecordingClock> {
        Arc::new(RecordingClock {
            sleeps: Mutex::new(Vec::new()),
        })
    }
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().expect("not poisoned").clone()
    }
}

impl Clock for RecordingClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW_EPOCH)
    }
    fn sleep(&self, duration: Duration) {
        self.sleeps.lock().expect("not poisoned").push(duration);
    }
}

/// A policy for tests: real timeouts but short, waits recorded by the clock.
pub fn policy() -> HttpPolicy {
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

pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub api: MockServer,
    pub storage: MockServer,
    /// GHES puts the API under `/api/v3`; empty for github.com's layout.
    pub prefix: String,
    pub clock: Arc<RecordingClock>,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_prefix("")
    }

    pub fn with_prefix(prefix: &str) -> Harness {
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
            clock: RecordingClock::new(),
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// The API path as the server sees it.
    pub fn p(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    pub fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.api));
    }

    pub fn mount_storage(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.storage));
    }

    pub fn api_url(&self) -> String {
        format!("{}{}", self.api.uri(), self.prefix)
    }

    /// The variables of a pull request build, plus `extra` (later pairs win).
    pub fn env(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", REPO),
            ("GITHUB_API_URL", self.api_url().as_str()),
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_RUN_ID", "4242"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_SHA", "mergesha000"),
            ("GITHUB_REF", "refs/pull/7/merge"),
            ("GITHUB_HEAD_REF", "feature"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_EVENT_NAME", "pull_request"),
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

    /// Writes an event payload into the temp dir and returns its path.
    pub fn event(&self, json: serde_json::Value) -> PathBuf {
        let path = self.dir.path().join("event.json");
        std::fs::write(&path, json.to_string()).expect("event written");
        path
    }

    /// The standard pull request payload: #7, head `headsha111` on `feature`, base `main`.
    pub fn pull_request_event(&self) -> PathBuf {
        self.event(serde_json::json!({
            "action": "synchronize",
            "number": 7,
            "pull_request": {
                "number": 7,
                "state": "open",
                "head": {"ref": "feature", "sha": "headsha111", "repo": {"full_name": REPO}},
                "base": {"ref": "main", "sha": "basesha222", "repo": {"full_name": REPO}}
            }
        }))
    }

    pub fn provider(&self, env: &HashMap<String, String>) -> GitHubProvider {
        self.provider_with(env, policy())
    }

    pub fn provider_with(
        &self,
        env: &HashMap<String, String>,
        policy: HttpPolicy,
    ) -> GitHubProvider {
        let lookup = |k: &str| env.get(k).cloned();
        let mut config = GitHubConfig::from_env(&lookup, "GITHUB_TOKEN");
        config.http = policy;
        let clock: Arc<dyn Clock> = self.clock.clone();
        GitHubProvider::open_with_clock(config, clock).expect("the provider opens")
    }

    /// Every mock's expectations met, no request reached a catch-all, and every API
    /// request valid against GitHub's OpenAPI description. Returns the API requests.
    pub fn finish(&self) -> Vec<Request> {
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
            let path = r.url.path();
            let path = path.strip_prefix(&self.prefix).unwrap_or(path);
            let query: Vec<(String, String)> = r
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            if let Err(p) = contract.check(r.method.as_str(), path, &query, &r.body) {
                problems.extend(p);
            }
        }
        assert!(
            problems.is_empty(),
            "requests outside GitHub's contract:\n{}",
            problems.join("\n")
        );
        requests
    }
}

/// Matches the headers every API request must carry.
pub struct ApiHeaders;

impl Match for ApiHeaders {
    fn matches(&self, r: &Request) -> bool {
        let h = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok());
        h("authorization") == Some(&format!("Bearer {TOKEN}"))
            && h("accept") == Some("application/vnd.github+json")
            && h("x-github-api-version") == Some(API_VERSION)
            && h("user-agent").is_some()
    }
}

/// Matches requests that carry no credentials at all.
pub struct NoCredentials;

impl Match for NoCredentials {
    fn matches(&self, r: &Request) -> bool {
        r.headers.get("authorization").is_none()
            && r.headers.get("x-github-api-version").is_none()
            && !r
                .headers
                .values()
                .any(|v| v.to_str().is_ok_and(|v| v.contains(TOKEN)))
    }
}

/// Matches the exact set of query parameters, in any order; no more, no fewer.
pub struct ExactQuery(pub Vec<(String, String)>);

pub fn query(pairs: &[(&str, &str)]) -> ExactQuery {
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

/// Matches a request without a body (GETs).
pub struct NoBody;

impl Match for NoBody {
    fn matches(&self, r: &Request) -> bool {
        r.body.is_empty()
    }
}

/// A JSON answer.
pub fn json(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("readable")
}
