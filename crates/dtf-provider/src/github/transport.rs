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

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::error::ProviderError;
use crate::token::Token;

/// GitHub's documented media type for the REST API.
pub const ACCEPT: &str = "application/vnd.github+json";

/// Time, for waiting between attempts and for reading `x-ratelimit-reset`.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
    fn sleep(&self, duration: Duration);
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// How hard to try before giving up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpPolicy {
    /// Attempts per request, the first included. Default 4.
    pub max_attempts: u32,
    /// Wait before the second attempt after a server error or timeout; doubles each
    /// time. Default 1 s.
    pub backoff: Duration,
    /// Longest wait between two attempts after a server error. Default 30 s.
    pub max_backoff: Duration,
    /// Longest wait for a rate limit to reset; a longer `Retry-After` or
    /// `x-ratelimit-reset` fails at once with a message that says so. Default 60 s.
    pub max_rate_limit_wait: Duration,
    /// Longest wait for one API answer. Default 30 s.
    pub request_timeout: Duration,
    /// Longest wait for one artifact download. Default 10 min.
    pub download_timeout: Duration,
    /// Largest artifact downloaded. Default 2 GiB.
    pub max_download_bytes: u64,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            max_attempts: 4,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            download_timeout: Duration::from_secs(600),
            max_download_bytes: 2 << 30,
        }
    }
}

/// Which failures a request may be repeated after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Any transient failure: for reads, and writes that are safe to repeat.
    Always,
    /// Only answers that say the request was not processed (rate limits). For writes
    /// whose repetition would duplicate something, like creating a comment: the caller
    /// looks before trying again.
    RefusedOnly,
}

/// An answer from the API, body read.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    }

    /// GitHub's `message` field, or the start of the body.
    fn message(&self) -> String {
        let text = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned());
        let text = text.trim();
        if text.chars().count() > 300 {
            let mut short: String = text.chars().take(299).collect();
            short.push('…');
            short
        } else if text.is_empty() {
            "no message".to_owned()
        } else {
            text.to_owned()
        }
    }
}

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
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| config(format!("cannot start the HTTP runtime: {e}")))?;
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
        let storage = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("dtf/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config(format!("cannot set up the download client: {e}")))?;
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
        let max = self.policy.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.rt.block_on(async {
                tokio::time::timeout(self.policy.request_timeout, self.once(&method, path, body))
                    .await
            });
            let (wait, error) = match result {
                Err(_elapsed) => (
                    self.backoff(attempt),
                    ProviderError::Timeout {
                        method: method.to_string(),
                        path: path.to_owned(),
                        timeout: self.policy.request_timeout,
                        attempts: attempt,
                    },
                ),
                Ok(Err(message)) => (
                    self.backoff(attempt),
                    ProviderError::Transport {
                        method: method.to_string(),
                        path: path.to_owned(),
                        message: self.redact(&message),
                        attempts: attempt,
                    },
                ),
                Ok(Ok(answer)) => {
                    if let Some(wait) = self.rate_limit_wait(&answer) {
                        let error = ProviderError::RateLimited {
                            method: method.to_string(),
                            path: path.to_owned(),
                            wait,
                            bound: self.policy.max_rate_limit_wait,
                            attempts: attempt,
                        };
                        if wait > self.policy.max_rate_limit_wait {
                            return Err(error);
                        }
                        (wait, error)
                    } else if answer.status >= 500 {
                        (self.backoff(attempt), self.error(&method, path, &answer))
                    } else {
                        return Ok(answer);
                    }
                }
            };
            let refused = matches!(error, ProviderError::RateLimited { .. });
            if attempt >= max || (retry == Retry::RefusedOnly && !refused) {
                return Err(error);
            }
            self.clock.sleep(wait);
        }
    }

    /// Waits as after the `attempt`th failure; for callers that retry on their own.
    pub fn pause(&self, attempt: u32) {
        self.clock.sleep(self.backoff(attempt));
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

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.policy
            .backoff
            .saturating_mul(factor)
            .min(self.policy.max_backoff)
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
    /// client: no token, no GitHub headers. Messages name only the host, since the
    /// query is a credential too. Returns the bytes written.
    pub fn download(&self, url: &str, to: &Path) -> Result<u64, ProviderError> {
        let shown = format!("{}/…", host_of(url));
        let max = self.policy.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.rt.block_on(async {
                tokio::time::timeout(self.policy.download_timeout, self.download_once(url, to))
                    .await
            });
            let error = match result {
                Ok(Ok(bytes)) => return Ok(bytes),
                Ok(Err(Fetch::Status(status))) if status < 500 => {
                    return Err(ProviderError::Api {
                        method: "GET".to_owned(),
                        path: shown,
                        status,
                        message: "the artifact storage refused the download".to_owned(),
                    });
                }
                Ok(Err(Fetch::Status(status))) => ProviderError::Api {
                    method: "GET".to_owned(),
                    path: shown.clone(),
                    status,
                    message: "the artifact storage failed".to_owned(),
                },
                Ok(Err(Fetch::TooLarge)) => {
                    return Err(ProviderError::Archive {
                        name: shown,
                        message: format!(
                            "larger than {} bytes; refused",
                            self.policy.max_download_bytes
                        ),
                    });
                }
                Ok(Err(Fetch::Io(e))) => return Err(ProviderError::io(to)(e)),
                Ok(Err(Fetch::Transport(message))) => ProviderError::Transport {
                    method: "GET".to_owned(),
                    path: shown.clone(),
                    message,
                    attempts: attempt,
                },
                Err(_elapsed) => ProviderError::Timeout {
                    method: "GET".to_owned(),
                    path: shown.clone(),
                    timeout: self.policy.download_timeout,
                    attempts: attempt,
                },
            };
            if attempt >= max {
                return Err(error);
            }
            self.clock.sleep(self.backoff(attempt));
        }
    }

    async fn download_once(&self, url: &str, to: &Path) -> Result<u64, Fetch> {
        // `without_url`: reqwest's messages would otherwise carry the signed URL.
        let transport = |e: reqwest::Error| Fetch::Transport(chain(&e.without_url()));
        let mut response = self.storage.get(url).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(Fetch::Status(status));
        }
        let mut file = File::create(to).map_err(Fetch::Io)?;
        let mut written = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            written += chunk.len() as u64;
            if written > self.policy.max_download_bytes {
                return Err(Fetch::TooLarge);
            }
            file.write_all(&chunk).map_err(Fetch::Io)?;
        }
        file.flush().map_err(Fetch::Io)?;
        Ok(written)
    }
}

enum Fetch {
    Status(u16),
    TooLarge,
    Io(std::io::Error),
    Transport(String),
}

/// `scheme://host[:port]` of a URL, without its path and query.
pub(crate) fn host_of(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map(|a| a.as_str()).unwrap_or("?")
        ),
        Err(_) => "the storage host".to_owned(),
    }
}

/// An error and its causes on one line: octocrab's and hyper's top-level messages
/// ("error in the HTTP client") say little without them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_hide_paths_and_queries() {
        assert_eq!(
            host_of("https://blob.example.net:8443/a/b?sig=SECRET"),
            "https://blob.example.net:8443"
        );
        assert_eq!(host_of("::"), "the storage host");
    }
}
