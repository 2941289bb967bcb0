//! dtf's executor: runs one shard of a plan on this runner and never loses a result.
//!
//! - [`preset`]: how each framework is invoked for a list of tests, and where its JUnit goes;
//! - [`exec`]: child processes in their own process group, timeouts, kills, output capture;
//! - [`shard`]: the shard's run: slots in parallel, dependency order, lost tests, retries;
//! - [`status`]: live progress, the `--status-file`, and the timeline.
//!
//! **Invariant:** every planned test ends with a result: passed, failed, errored,
//! skipped, or lost (the framework never reported it); a cancelled run writes what it
//! has, marked partial.

pub mod exec;
pub mod preset;
pub mod shard;
pub mod status;
