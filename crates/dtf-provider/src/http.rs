//! What every HTTP adapter shares: the retry policy, the clock it waits on, the retry
//! loop, and the credential-free download of artifact storage URLs.
//!
//! GitHub and GitLab differ in how they say "slow down" (GitHub's `x-ratelimit-*` and
//! secondary limits, GitLab's `RateLimit-Reset`) and in how a request is sent (octocrab,
//! reqwest), but not in what to do about it: back off after a server error or a
//! timeout, wait out a rate limit unless it asks for longer than allowed, and never
//! repeat a write that may have gone through unless the caller looked first. So the
//! loop lives here once, and each adapter hands it one attempt and its reading of a
//! rate limit.
//!
//! The interface is synchronous: each attempt runs on the adapter's current-thread
//! tokio runtime, and waits between attempts go through a [`Clock`] so tests need not
//! sleep.

use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method};

use crate::error::ProviderError;

/// Time, for waiting between attempts and for reading rate-limit reset times.
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
    /// Longest wait for a rate limit to reset; a longer `Retry-After` or reset time
    /// fails at once with a message that says so. Default 60 s.
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

impl HttpPolicy {
    /// The wait after the `attempt`th failure: `backoff`, doubled per attempt, capped.
    pub(crate) fn backoff_after(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
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

/// An answer from an API, body read.
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

    /// The server's own words: a `message` field (GitHub, GitLab; GitLab's validation
    /// errors make it an object), else an `error` field (GitLab's older form), else the
    /// start of the body. Not yet redacted.
    pub fn message(&self) -> String {
        let text = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| {
                let field = |name: &str| match v.get(name) {
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(serde_json::Value::Null) | None => None,
                    Some(other) => Some(other.to_string()),
                };
                field("message").or_else(|| field("error"))
            })
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

/// The retry loop and the storage download, over an adapter's runtime, policy and clock.
pub(crate) struct Retrier<'a> {
    pub rt: &'a tokio::runtime::Runtime,
    pub policy: &'a HttpPolicy,
    pub clock: &'a dyn Clock,
}

/// How an adapter reads its provider's answers, for [`Retrier::send`].
pub(crate) trait Rules {
    /// How long the provider asks to wait, when `answer` is a rate limit.
    fn rate_limit_wait(&self, answer: &Answer) -> Option<Duration>;
    /// The error for an answer the caller cannot go on from.
    fn error(&self, method: &Method, path: &str, answer: &Answer) -> ProviderError;
    /// `text` with the adapter's secrets scrubbed.
    fn redact(&self, text: &str) -> String;
}

impl Retrier<'_> {
    /// Runs `once` until it gives an answer below 500 that is not a rate limit, or until
    /// `retry` and the policy say stop. `path` names the request in errors.
    pub fn send<F, Fut>(
        &self,
        method: &Method,
        path: &str,
        retry: Retry,
        rules: &dyn Rules,
        mut once: F,
    ) -> Result<Answer, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Answer, String>>,
    {
        let max = self.policy.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.rt.block_on(async {
                tokio::time::timeout(self.policy.request_timeout, once()).await
            });
            let (wait, error) = match result {
                Err(_elapsed) => (
                    self.policy.backoff_after(attempt),
                    ProviderError::Timeout {
                        method: method.to_string(),
                        path: path.to_owned(),
                        timeout: self.policy.request_timeout,
                        attempts: attempt,
                    },
                ),
                Ok(Err(message)) => (
                    self.policy.backoff_after(attempt),
                    ProviderError::Transport {
                        method: method.to_string(),
                        path: path.to_owned(),
                        message: rules.redact(&message),
                        attempts: attempt,
                    },
                ),
                Ok(Ok(answer)) => {
                    if let Some(wait) = rules.rate_limit_wait(&answer) {
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
                        (
                            self.policy.backoff_after(attempt),
                            rules.error(method, path, &answer),
                        )
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

    /// Downloads `url` (a storage URL, signed in its query) into `to` with `storage`, a
    /// client that carries no credentials and follows redirects among storage hosts.
    /// Messages name only the host, since the query is a credential too. Returns the
    /// bytes written.
    pub fn download(
        &self,
        storage: &reqwest::Client,
        url: &str,
        to: &Path,
    ) -> Result<u64, ProviderError> {
        let shown = format!("{}/…", host_of(url));
        let max = self.policy.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.rt.block_on(async {
                tokio::time::timeout(
                    self.policy.download_timeout,
                    download_once(storage, url, to, self.policy.max_download_bytes),
                )
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
            self.clock.sleep(self.policy.backoff_after(attempt));
        }
    }
}

/// The client for storage URLs: no default headers, no credentials, a few redirects.
pub(crate) fn storage_client() -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("dtf/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProviderError::Config {
            message: format!("cannot set up the download client: {e}"),
        })
}

/// A current-thread runtime for an adapter's requests.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ProviderError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ProviderError::Config {
            message: format!("cannot start the HTTP runtime: {e}"),
        })
}

async fn download_once(
    storage: &reqwest::Client,
    url: &str,
    to: &Path,
    max_bytes: u64,
) -> Result<u64, Fetch> {
    // `without_url`: reqwest's messages would otherwise carry the signed URL.
    let transport = |e: reqwest::Error| Fetch::Transport(chain(&e.without_url()));
    let mut response = storage.get(url).send().await.map_err(transport)?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(Fetch::Status(status));
    }
    let mut file = File::create(to).map_err(Fetch::Io)?;
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        written += chunk.len() as u64;
        if written > max_bytes {
            return Err(Fetch::TooLarge);
        }
        file.write_all(&chunk).map_err(Fetch::Io)?;
    }
    file.flush().map_err(Fetch::Io)?;
    Ok(written)
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

/// `location` as an absolute URL; a relative one is on `base`'s host.
pub(crate) fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        format!("{}/{}", host_of(base), location.trim_start_matches('/'))
    }
}

/// An error and its causes on one line: the HTTP clients' top-level messages ("error in
/// the HTTP client", "error sending request") say little without them.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
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
        assert_eq!(
            absolute("http://127.0.0.1:9/api/v4", "/x/y?z"),
            "http://127.0.0.1:9/x/y?z"
        );
        assert_eq!(absolute("http://a/b", "https://c/d"), "https://c/d");
    }

    #[test]
    fn messages_come_from_either_field_or_the_body() {
        let answer = |body: &str| Answer {
            status: 400,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(answer(r#"{"message":"no"}"#).message(), "no");
        assert_eq!(answer(r#"{"error":"bad"}"#).message(), "bad");
        assert_eq!(
            answer(r#"{"message":{"body":["is too long"]}}"#).message(),
            r#"{"body":["is too long"]}"#
        );
        assert_eq!(answer("plain").message(), "plain");
        assert_eq!(answer("").message(), "no message");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = HttpPolicy::default();
        assert_eq!(p.backoff_after(1), Duration::from_secs(1));
        assert_eq!(p.backoff_after(3), Duration::from_secs(4));
        assert_eq!(p.backoff_after(40), Duration::from_secs(30));
    }
}
