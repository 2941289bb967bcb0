//! `dtf compare`: placeholder, being written.

use anyhow::anyhow;
use clap::Args;

use crate::{CliError, Finished};

#[derive(Args, Debug)]
pub struct CompareArgs {}

pub fn run(_args: &CompareArgs, _quiet: bool) -> Result<Finished, CliError> {
    Err(CliError::BadInput(anyhow!(
        "dtf compare is not written yet"
    )))
}
