//! Requests to the GitHub API, with the retry, rate-limit and timeout rules in one place.
//!
//! API calls go through octocrab's raw methods (`_get`, `_post`, `_patch`) with paths
//! relative to the API URL, so octocrab adds the token, `Accept` and
//! `X-GitHub-Api-Version` headers and resolves GHES' `/api/v3` prefix. The typed calls
//! are not used: their errors drop the status and headers that the retry rules need
//! (`Retry-After`, `x-ratelimit-reset`), and one request path for every call keeps
//! those rules and the contract tests in one place.
//!
//! octocrab is built without its redirect layer, so an answer of 302 comes back as it
//! is. The artifact storage URL it points to is fetched with a separate reqwest client
//! that has no default headers: the token never leaves for another host.
//!
//! The interface is synchronous; each attempt runs on a current-thread tokio runtime
//! owned by [`Api`], and waits between attempts go through a [`Clock`] so tests need
//! not sleep.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use http::Method;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::error::ProviderError;
use crate::http::{Retrier, Rules, chain, runtime, storage_client};
use crate::token::Token;

pub(crate) use crate::http::{Answer, Retry, host_of};
pub use crate::http::{Clock, HttpPolicy, SystemClock};

/// GitHub's documented media type for the REST API.
pub const ACCEPT: &str = "application/vnd.github+json";

/// The GitHub API and the artifact storage, with the retry rules.
pub(crate) struct Api {
    octo: octocrab::Octocrab,
    storage: reqwest::Client,
    rt: tokio::runtime::Runtime,
    policy: HttpPolicy,
    clock: Arc<dyn Clock>,
    token: Option<Token>,
}

impl Api {
    pub fn new(
        api_url: &str,
        token: Option<Token>,
        policy: HttpPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Api, ProviderError> {
        let config = |message: String| ProviderError::Config { message };
        // Checked here because octocrab joins paths onto it without asking again.
        let usable = api_url.parse::<http::Uri>().is_ok_and(|u| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.authority().is_some()
                && u.query().is_none()
        });
        if !usable {
            return Err(config(format!(
                "GITHUB_API_URL {api_url:?} is not an http(s) URL without a query"
            )));
        }
        let rt = runtime()?;
        // octocrab spawns its request buffer on the runtime it is built in.
        let _entered = rt.enter();
        let mut builder = octocrab::Octocrab::builder()
            .base_uri(api_url)
            .map_err(|_| config(format!("GITHUB_API_URL {api_url:?} is not a URL")))?
            .add_header(http::header::ACCEPT, ACCEPT.to_owned());
        if let Some(token) = &token {
            builder = builder.personal_token(token.expose().to_owned());
        }
        let octo = builder
            .build()
            .map_err(|e| config(format!("cannot set up the GitHub client: {}", chain(&e))))?;
        let storage = storage_client()?;
        Ok(Api {
            octo,
            storage,
            rt,
            policy,
            clock,
            token,
        })
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub fn policy(&self) -> &HttpPolicy {
        &self.policy
    }

    pub fn get(&self, path: &str) -> Result<Answer, ProviderError> {
        self.send(Method::GET, path, None, Retry::Always)
    }

    /// Sends one request, repeating it as `retry` and the policy allow. Answers below
    /// 500 that are not rate limits come back as they are, for the caller to read.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        retry: Retry,
    ) -> Result<Answer, ProviderError> {
        self.retrier().send(&method, path, retry, self, || {
            self.once(&method, path, body)
        })
    }

    fn retrier(&self) -> Retrier<'_> {
        Retrier {
            rt: &self.rt,
            policy: &self.policy,
            clock: self.clock.as_ref(),
        }
    }

    /// Waits as after the `attempt`th failure; for callers that retry on their own.
    pub fn pause(&self, attempt: u32) {
        self.clock.sleep(self.policy.backoff_after(attempt));
    }

    async fn once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, String> {
        let response = match *method {
            Method::GET => self.octo._get(path).await,
            Method::POST => self.octo._post(path, body).await,
            Method::PATCH => self.octo._patch(path, body).await,
            _ => return Err(format!("method {method} is not used by dtf")),
        }
        .map_err(|e| chain(&e))?;
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {}", chain(&e)))?
            .to_bytes();
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: bytes.to_vec(),
        })
    }

    /// How long GitHub asks to wait, when the answer is a rate limit: `Retry-After`
    /// (secondary limits and 429s), else `x-ratelimit-reset` when `x-ratelimit-remaining`
    /// is 0 (the primary limit), else a minute, as GitHub's docs advise for a secondary
    /// limit without headers.
    fn rate_limit_wait(&self, answer: &Answer) -> Option<Duration> {
        if answer.status != 429 && answer.status != 403 {
            return None;
        }
        if let Some(secs) = answer
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
        {
            return Some(Duration::from_secs(secs));
        }
        if answer.header("x-ratelimit-remaining") == Some("0") {
            let reset = answer
                .header("x-ratelimit-reset")
                .and_then(|v| v.parse::<u64>().ok());
            return Some(match reset {
                Some(reset) => {
                    let now = self
                        .clock
                        .now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    // One second more: the reset time is rounded down.
                    Duration::from_secs(reset.saturating_sub(now) + 1)
                }
                None => Duration::from_secs(60),
            });
        }
        if answer.status == 429
            || answer
                .message()
                .to_ascii_lowercase()
                .contains("secondary rate limit")
        {
            return Some(Duration::from_secs(60));
        }
        None
    }

    /// The error for an answer the caller cannot go on from.
    pub fn error(&self, method: &Method, path: &str, answer: &Answer) -> ProviderError {
        ProviderError::Api {
            method: method.to_string(),
            path: path.to_owned(),
            status: answer.status,
            message: self.redact(&answer.message()),
        }
    }

    /// GitHub's message in an answer, with the token scrubbed.
    pub fn message(&self, answer: &Answer) -> String {
        self.redact(&answer.message())
    }

    pub fn json<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        answer: &Answer,
    ) -> Result<T, ProviderError> {
        serde_json::from_slice(&answer.body).map_err(|e| ProviderError::Decode {
            what: format!("{method} {path}"),
            message: e.to_string(),
        })
    }

    fn redact(&self, text: &str) -> String {
        match &self.token {
            Some(t) => t.redact(text),
            None => text.to_owned(),
        }
    }

    /// Downloads `url` (a storage URL, signed in its query) into `to` with the clean
    /// client: no token, no GitHub headers. Returns the bytes written.
    pub fn download(&self, url: &str, to: &Path) -> Result<u64, ProviderError> {
        self.retrier().download(&self.storage, url, to)
    }
}

impl Rules for Api {
    fn rate_limit_wait(&self, answer: &Answer) -> Option<Duration> {
        Api::rate_limit_wait(self, answer)
    }
    fn error(&self, method: &Method, path: &str, answer: &Answer) -> ProviderError {
        Api::error(self, method, path, answer)
    }
    fn redact(&self, text: &str) -> String {
        Api::redact(self, text)
    }
}
