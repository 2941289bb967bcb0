//! dtf's provider-agnostic core.
//!
//! - [`model`]: test cases, outcomes, the test identity;
//! - [`junit`]: a streaming reader for every JUnit dialect in the wild, and a writer;
//! - [`merge`]: many shard results into one run, attempts and flakiness included;
//! - [`summary`]: the `dtf.summary.v1` document for machines;
//! - [`metadata`]: who produced a result.
//!
//! **Invariant:** nothing here knows a CI provider, speaks HTTP, or reads an
//! environment variable.

pub mod categorize;
pub mod junit;
pub mod merge;
pub mod metadata;
pub mod model;
mod spool;
pub mod summary;
