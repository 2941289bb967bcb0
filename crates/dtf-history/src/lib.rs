//! dtf's memory between builds.
//!
//! - [`model`]: what one build leaves behind (a [`model::BuildRecord`]) and what a
//!   comparison of two builds says (a [`model::Comparison`]). Every other module speaks
//!   these types, so the store, the analysis and the reports never depend on each other.
//! - [`store`]: the history database, one SQLite file that travels between builds as an
//!   artifact (no server).
//! - [`compare`], [`anomaly`], [`trend`]: the analysis, on records in memory.

pub mod anomaly;
pub mod compare;
pub mod ingest;
pub mod model;
pub mod queries;
pub mod store;
pub mod trend;
