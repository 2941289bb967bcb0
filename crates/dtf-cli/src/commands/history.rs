//! `dtf history`: placeholder, being written.

use clap::Subcommand;

use crate::{CliError, Finished};

#[derive(Subcommand, Debug)]
pub enum HistoryCommand {}

pub fn run(cmd: HistoryCommand, _quiet: bool) -> Result<Finished, CliError> {
    match cmd {}
}
