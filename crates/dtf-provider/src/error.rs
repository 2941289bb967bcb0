//! Errors of the provider adapters.
//!
//! Every message names the request (method and path, never the host's signed URLs or a
//! header) or the file it is about. Text that came from a server passes through the
//! token redaction of the adapter that received it before it lands here.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong talking to a provider or writing what it needs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The provider answered with a status dtf cannot go on from.
    #[error("{method} {path}: the server answered {status}: {message}")]
    Api {
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    /// No answer within the request timeout, on every attempt.
    #[error("{method} {path}: no answer within {:.1}s ({attempts} attempts)", timeout.as_secs_f64())]
    Timeout {
        method: String,
        path: String,
        timeout: Duration,
        attempts: u32,
    },
    /// Rate limited for longer than dtf is allowed to wait, or on every attempt.
    #[error(
        "{method} {path}: rate limited; the server asks to wait {}s, and dtf waits at most {}s (attempt {attempts})",
        wait.as_secs(),
        bound.as_secs()
    )]
    RateLimited {
        method: String,
        path: String,
        wait: Duration,
        bound: Duration,
        attempts: u32,
    },
    /// The connection failed (refused, reset, TLS) on every attempt.
    #[error("{method} {path}: {message} ({attempts} attempts)")]
    Transport {
        method: String,
        path: String,
        message: String,
        attempts: u32,
    },
    /// An answer that is not what the API documents.
    #[error("{what}: unexpected answer: {message}")]
    Decode { what: String, message: String },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An artifact archive that cannot be unpacked safely.
    #[error("artifact {name}: {message}")]
    Archive { name: String, message: String },
    /// The environment does not describe a build the adapter can work for.
    #[error("{message}")]
    Config { message: String },
}

impl ProviderError {
    /// Whether trying again later might succeed: the request may not have been
    /// processed (timeouts, dropped connections, server errors).
    pub fn is_transient(&self) -> bool {
        match self {
            ProviderError::Api { status, .. } => *status >= 500,
            ProviderError::Timeout { .. }
            | ProviderError::Transport { .. }
            | ProviderError::RateLimited { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ProviderError {
        let path = path.into();
        move |source| ProviderError::Io { path, source }
    }
}
