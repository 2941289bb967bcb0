//! `dtf query`: placeholder, being written.

use anyhow::anyhow;
use clap::Args;

use crate::{CliError, Finished};

#[derive(Args, Debug)]
pub struct QueryArgs {}

pub fn run(_args: &QueryArgs, _quiet: bool) -> Result<Finished, CliError> {
    Err(CliError::BadInput(anyhow!("dtf query is not written yet")))
}
