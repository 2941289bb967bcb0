//! dtf's planner: split a suite into shards whose slowest finishes as early as
//! possible.
//!
//! - [`inventory`], [`discover`], [`durations`]: which tests, and how long each takes;
//! - [`config`], [`capability`], [`deps`]: `dtf.toml`: pools, requirements, dependencies;
//! - [`strategy`]: the algorithms, behind one trait, chosen by name;
//! - [`output`], [`emit`], [`explain`]: `plan.json`, provider-ready forms, a table.
//!
//! **Invariant:** like `dtf-core`, nothing here knows a CI provider's API, speaks
//! HTTP, or reads an environment variable; provider-ready outputs are plain text.

pub mod capability;
pub mod config;
pub mod deps;
pub mod discover;
pub mod durations;
pub mod emit;
pub mod explain;
pub mod inventory;
pub mod model;
pub mod output;
pub mod strategy;
