//! `dtf publish`: placeholder, being written.

use anyhow::anyhow;
use clap::Args;

use crate::{CliError, Finished};

#[derive(Args, Debug)]
pub struct PublishArgs {}

pub fn run(_args: &PublishArgs, _quiet: bool) -> Result<Finished, CliError> {
    Err(CliError::BadInput(anyhow!(
        "dtf publish is not written yet"
    )))
}
