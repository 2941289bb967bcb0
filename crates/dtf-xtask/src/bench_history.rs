//! Placeholder, being written.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

#[derive(Args, Debug)]
pub struct BenchHistoryArgs {}

pub fn bench_history(_args: BenchHistoryArgs) -> Result<ExitCode> {
    bail!("not written yet")
}
