//! Build metadata from a CI provider's environment.
//!
//! **Invariant:** this is the only crate in dtf that reads CI environment variables, and
//! [`from_process_env`] is its only function that touches `std::env`. Everything else
//! receives a [`BuildMetadata`] (or calls [`detect`] with an [`EnvSource`] it built), so
//! provider quirks live in one place and tests can describe any CI system as a list of
//! pairs.
//!
//! - [`vars`]: every variable name read, by provider, with where it is documented;
//! - [`detect`]: GitHub Actions, GitLab CI, Jenkins, Azure Pipelines or local, then the
//!   provider's repository, branches, commit, change request, build, job, shard and
//!   runner; unusable values become [`EnvWarning`]s, never panics or errors;
//! - [`EnvSource`]: maps, pair lists, or the process environment.
//!
//! No token, password or signed identity is ever read: the names in [`vars`] are the
//! whole list, and credentials inside repository URLs are stripped before storing.

mod detect;
mod parse;
mod source;
pub mod vars;

pub use detect::{Detected, EnvWarning, Problem, detect};
pub use dtf_core::metadata::{BuildMetadata, Provider, Shard};
pub use parse::provider_from_name;
pub use source::EnvSource;

/// [`detect`] on the environment of the running process.
pub fn from_process_env() -> Detected {
    detect(&source::ProcessEnv)
}
