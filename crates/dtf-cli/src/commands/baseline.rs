//! `dtf baseline`: placeholder, being written.

use anyhow::anyhow;
use clap::Args;

use crate::{CliError, Finished};

#[derive(Args, Debug)]
pub struct BaselineArgs {}

pub fn run(_args: &BaselineArgs, _quiet: bool) -> Result<Finished, CliError> {
    Err(CliError::BadInput(anyhow!(
        "dtf baseline is not written yet"
    )))
}
