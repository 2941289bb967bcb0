//! Requests to the GitLab REST API: described by the `gitlab` crate's endpoints, sent
//! by dtf's own client with the shared retry rules.
//!
//! The crate's `Endpoint` values say what a call is (method, path with the project and
//! ref escaped, query parameters, form body). Its own client is not used: it follows
//! redirects with the token, retries on its own terms and hides the headers the rules
//! here need (`Retry-After`, `RateLimit-Reset`, `X-Next-Page`). Instead [`Rest`]
//! implements the crate's `Client` trait over this module's sender, so `api::raw` works
//! on it, and reads that need headers use [`Api::send`] on a [`Prepared`] request.
//!
//! Credentials go per request, never as a default header: `PRIVATE-TOKEN` (a project
//! access token) for notes, `JOB-TOKEN` (`CI_JOB_TOKEN`) for artifact downloads, which
//! GitLab accepts there. The API client follows no redirect, so a token never reaches
//! another host; the artifact download's redirect to object storage is fetched with a
//! separate client that has no credentials at all.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use gitlab::api::{ApiError, Endpoint, RestClient};
use http::{HeaderMap, Method};
use reqwest::Url;

use crate::error::ProviderError;
use crate::http::{
    Answer, Clock, HttpPolicy, Retrier, Retry, Rules, chain, runtime, storage_client,
};
use crate::token::Token;

/// Which credential a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Auth {
    /// `PRIVATE-TOKEN`: the project access token, for notes and merge requests.
    Private,
    /// `JOB-TOKEN`: the job's own token, for artifacts.
    Job,
}

/// A request as an endpoint describes it, ready to send as often as needed.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    pub method: Method,
    pub url: Url,
    pub body: Option<(&'static str, Vec<u8>)>,
}

impl Prepared {
    /// The path and query relative to the API URL, for messages: no host, no secret.
    pub fn shown(&self, api: &Api) -> String {
        let full = self.url.as_str();
        let rest = full.strip_prefix(api.base.as_str()).unwrap_or(full);
        format!("/{rest}")
    }
}

/// The GitLab API and the artifact storage, with the retry rules.
pub(crate) struct Api {
    /// The API URL ending in `/`, so endpoints join under it (self-managed instances
    /// may live under a path: `https://host/gitlab/api/v4/`).
    base: Url,
    client: reqwest::Client,
    storage: reqwest::Client,
    rt: tokio::runtime::Runtime,
    policy: HttpPolicy,
    clock: Arc<dyn Clock>,
    private: Option<Token>,
    job: Option<Token>,
}

impl Api {
    pub fn new(
        api_url: &str,
        private: Option<Token>,
        job: Option<Token>,
        policy: HttpPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Api, ProviderError> {
        let bad = || ProviderError::Config {
            message: format!(
                "CI_API_V4_URL {api_url:?} is not an http(s) URL without a query or fragment"
            ),
        };
        let base = Url::parse(&format!("{}/", api_url.trim_end_matches('/'))).map_err(|_| bad())?;
        if !matches!(base.scheme(), "http" | "https")
            || base.host_str().is_none()
            || base.query().is_some()
            || base.fragment().is_some()
        {
            return Err(bad());
        }
        let client = reqwest::Client::builder()
            // A redirect would carry the token to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dtf/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Config {
                message: format!("cannot set up the GitLab client: {}", chain(&e)),
            })?;
        Ok(Api {
            base,
            client,
            storage: storage_client()?,
            rt: runtime()?,
            policy,
            clock,
            private,
            job,
        })
    }

    pub fn has(&self, auth: Auth) -> bool {
        self.token(auth).is_some()
    }

    fn token(&self, auth: Auth) -> Option<&Token> {
        match auth {
            Auth::Private => self.private.as_ref(),
            Auth::Job => self.job.as_ref(),
        }
    }

    pub fn policy(&self) -> &HttpPolicy {
        &self.policy
    }

    /// The request `endpoint` describes, with `extra` query pairs after its own.
    pub fn prepare<E: Endpoint>(
        &self,
        endpoint: &E,
        extra: &[(&str, String)],
    ) -> Result<Prepared, ProviderError> {
        let what = endpoint.endpoint();
        let mut url =
            endpoint
                .url_base()
                .endpoint_for(self, &what)
                .map_err(|e| ProviderError::Config {
                    message: format!("cannot form the URL of {what}: {e}"),
                })?;
        endpoint.parameters().add_to_url(&mut url);
        if !extra.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in extra {
                pairs.append_pair(k, v);
            }
        }
        drop_empty_query(&mut url);
        let body = endpoint.body().map_err(|e| ProviderError::Config {
            message: format!("cannot form the body of {what}: {e}"),
        })?;
        Ok(Prepared {
            method: endpoint.method(),
            url,
            body,
        })
    }

    fn retrier(&self) -> Retrier<'_> {
        Retrier {
            rt: &self.rt,
            policy: &self.policy,
            clock: self.clock.as_ref(),
        }
    }

    /// Sends `request` with the credential `auth`, repeating it as `retry` and the
    /// policy allow. Answers below 500 that are not rate limits come back as they are.
    pub fn send(
        &self,
        request: &Prepared,
        auth: Auth,
        retry: Retry,
    ) -> Result<Answer, ProviderError> {
        let shown = request.shown(self);
        self.retrier()
            .send(&request.method, &shown, retry, self, || {
                self.once(request, auth, None)
            })
    }

    /// Sends `request` and, when it answers 2xx, streams the body into `to` within the
    /// download limits; other answers come back with their (short) body read.
    pub fn send_to_file(
        &self,
        request: &Prepared,
        auth: Auth,
        to: &Path,
    ) -> Result<Answer, ProviderError> {
        let shown = request.shown(self);
        let policy = HttpPolicy {
            request_timeout: self.policy.download_timeout,
            ..self.policy.clone()
        };
        let retrier = Retrier {
            rt: &self.rt,
            policy: &policy,
            clock: self.clock.as_ref(),
        };
        retrier.send(&request.method, &shown, Retry::Always, self, || {
            self.once(request, auth, Some(to))
        })
    }

    async fn once(
        &self,
        request: &Prepared,
        auth: Auth,
        sink: Option<&Path>,
    ) -> Result<Answer, String> {
        let mut builder = self
            .client
            .request(request.method.clone(), request.url.clone());
        if let Some(token) = self.token(auth) {
            let name = match auth {
                Auth::Private => "PRIVATE-TOKEN",
                Auth::Job => "JOB-TOKEN",
            };
            let mut value = http::HeaderValue::from_str(token.expose())
                .map_err(|_| "the token is not a valid header value".to_owned())?;
            value.set_sensitive(true);
            builder = builder.header(name, value);
        }
        if let Some((mime, data)) = &request.body {
            builder = builder
                .header(http::header::CONTENT_TYPE, *mime)
                .body(data.clone());
        }
        // `without_url`: reqwest's messages would otherwise repeat the URL.
        let transport = |e: reqwest::Error| chain(&e.without_url());
        let mut response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        match sink {
            Some(path) if (200..300).contains(&status) => {
                let mut file = std::fs::File::create(path)
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                let mut written = 0u64;
                while let Some(chunk) = response.chunk().await.map_err(transport)? {
                    written += chunk.len() as u64;
                    if written > self.policy.max_download_bytes {
                        return Err(format!(
                            "the artifact is larger than {} bytes; refused",
                            self.policy.max_download_bytes
                        ));
                    }
                    file.write_all(&chunk)
                        .map_err(|e| format!("writing {}: {e}", path.display()))?;
                }
            }
            _ => {
                while let Some(chunk) = response.chunk().await.map_err(transport)? {
                    body.extend_from_slice(&chunk);
                }
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Waits as after the `attempt`th failure; for callers that retry on their own.
    pub fn pause(&self, attempt: u32) {
        self.clock.sleep(self.policy.backoff_after(attempt));
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

    /// The server's message in an answer, with the tokens scrubbed.
    pub fn message(&self, answer: &Answer) -> String {
        self.redact(&answer.message())
    }

    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        bytes: &[u8],
    ) -> Result<T, ProviderError> {
        serde_json::from_slice(bytes).map_err(|e| ProviderError::Decode {
            what: what.to_owned(),
            message: e.to_string(),
        })
    }

    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for token in [&self.private, &self.job].into_iter().flatten() {
            text = token.redact(&text);
        }
        text
    }

    /// Downloads a storage URL with the credential-free client.
    pub fn download(&self, url: &str, to: &Path) -> Result<u64, ProviderError> {
        self.retrier().download(&self.storage, url, to)
    }

    pub fn base(&self) -> &str {
        self.base.as_str()
    }

    /// A view of this API as the `gitlab` crate's client, for `api::raw` and friends.
    pub fn rest(&self, auth: Auth, retry: Retry) -> Rest<'_> {
        Rest {
            api: self,
            auth,
            retry,
        }
    }
}

/// No bare `?`: the crate's parameter helper leaves one when an endpoint has none.
fn drop_empty_query(url: &mut Url) {
    if url.query() == Some("") {
        url.set_query(None);
    }
}

impl Rules for Api {
    /// GitLab's rate limits answer 429 with `Retry-After` (seconds), and
    /// `RateLimit-Reset` (a Unix time) on the same answer; a bare 429 waits a minute.
    fn rate_limit_wait(&self, answer: &Answer) -> Option<Duration> {
        if answer.status != 429 {
            return None;
        }
        if let Some(secs) = answer
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
        {
            return Some(Duration::from_secs(secs));
        }
        if let Some(reset) = answer
            .header("ratelimit-reset")
            .and_then(|v| v.parse::<u64>().ok())
        {
            let now = self
                .clock
                .now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            // One second more: the reset time is rounded down.
            return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
        }
        Some(Duration::from_secs(60))
    }

    fn error(&self, method: &Method, path: &str, answer: &Answer) -> ProviderError {
        Api::error(self, method, path, answer)
    }

    fn redact(&self, text: &str) -> String {
        Api::redact(self, text)
    }
}

impl RestClient for Api {
    type Error = ProviderError;

    fn rest_endpoint(&self, endpoint: &str) -> Result<Url, ApiError<Self::Error>> {
        Ok(self.base.join(endpoint)?)
    }
}

/// The [`Api`] as the `gitlab` crate's blocking client, with one credential and one
/// retry rule for the requests sent through it.
pub(crate) struct Rest<'a> {
    api: &'a Api,
    auth: Auth,
    retry: Retry,
}

impl RestClient for Rest<'_> {
    type Error = ProviderError;

    fn rest_endpoint(&self, endpoint: &str) -> Result<Url, ApiError<Self::Error>> {
        self.api.rest_endpoint(endpoint)
    }
}

impl gitlab::api::Client for Rest<'_> {
    fn rest(
        &self,
        request: http::request::Builder,
        body: Vec<u8>,
    ) -> Result<http::Response<Bytes>, ApiError<Self::Error>> {
        let config = |message: String| ApiError::client(ProviderError::Config { message });
        let request = request
            .body(())
            .map_err(|e| config(format!("cannot form a request: {e}")))?;
        let mut url = Url::parse(&request.uri().to_string())
            .map_err(|e| config(format!("cannot form a request URL: {e}")))?;
        drop_empty_query(&mut url);
        let mime = match request.headers().get(http::header::CONTENT_TYPE) {
            None => None,
            Some(v) if v == "application/x-www-form-urlencoded" => {
                Some("application/x-www-form-urlencoded")
            }
            Some(v) if v == "application/json" => Some("application/json"),
            Some(v) => {
                return Err(config(format!("content type {v:?} is not one dtf sends")));
            }
        };
        let prepared = Prepared {
            method: request.method().clone(),
            url,
            body: mime.map(|m| (m, body)),
        };
        let answer = self
            .api
            .send(&prepared, self.auth, self.retry)
            .map_err(ApiError::client)?;
        let mut response = http::Response::builder().status(answer.status);
        if let Some(headers) = response.headers_mut() {
            *headers = answer.headers;
        }
        response
            .body(Bytes::from(answer.body))
            .map_err(|e| config(format!("cannot form the answer: {e}")))
    }
}

/// What a failed `gitlab::api` query means for dtf: the status GitLab answered and its
/// message, or the transport's error as it is.
pub(crate) enum Failed {
    Status { status: u16, message: String },
    Provider(ProviderError),
}

impl Failed {
    pub fn from(api: &Api, what: &str, e: ApiError<ProviderError>) -> Failed {
        let status = |s: http::StatusCode, m: String| Failed::Status {
            status: s.as_u16(),
            message: api.redact(&m),
        };
        match e {
            ApiError::Client { source } => Failed::Provider(source),
            ApiError::GitlabWithStatus { status: s, msg } => status(s, msg),
            ApiError::GitlabService { status: s, data } => {
                let answer = Answer {
                    status: s.as_u16(),
                    headers: HeaderMap::new(),
                    body: data,
                };
                status(s, answer.message())
            }
            ApiError::GitlabObjectWithStatus { status: s, obj }
            | ApiError::GitlabUnrecognizedWithStatus { status: s, obj } => {
                status(s, obj.to_string())
            }
            other => Failed::Provider(ProviderError::Decode {
                what: what.to_owned(),
                message: api.redact(&other.to_string()),
            }),
        }
    }
}
