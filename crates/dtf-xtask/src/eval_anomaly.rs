//! Placeholder, being written.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

#[derive(Args, Debug)]
pub struct EvalAnomalyArgs {}

pub fn eval_anomaly(_args: EvalAnomalyArgs) -> Result<ExitCode> {
    bail!("not written yet")
}
