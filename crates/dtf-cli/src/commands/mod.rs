//! One function per command; [`run`] is the `match` from subcommand to function.

mod artifacts;
pub(crate) mod baseline;
pub(crate) mod compare;
mod demo;
pub(crate) mod example_suite;
pub(crate) mod history;
mod merge;
mod plan;
pub(crate) mod publish;
pub(crate) mod query;
mod report;
pub(crate) mod run;

use crate::args::{Cli, Command};
use crate::{CliError, Finished};

pub fn run(cli: Cli) -> Result<Finished, CliError> {
    match cli.command {
        Command::Merge(args) => merge::run(&args, cli.quiet),
        Command::Report(args) => report::run(&args, cli.quiet),
        Command::Artifacts(cmd) => artifacts::run(cmd, cli.quiet),
        Command::Plan(args) => plan::run(&args, cli.quiet),
        Command::Run(args) => run::run(&args, cli.quiet),
        Command::Demo(args) => demo::run(&args, cli.quiet),
        Command::History(cmd) => history::run(cmd, cli.quiet),
        Command::Compare(args) => compare::run(&args, cli.quiet),
        Command::Query(args) => query::run(&args, cli.quiet),
        Command::Publish(args) => publish::run(&args, cli.quiet),
        Command::Baseline(args) => baseline::run(&args, cli.quiet),
        Command::ExampleSuite(args) => example_suite::run(&args),
    }
}

/// The version string written into every output.
pub fn generated_by() -> String {
    format!("dtf {}", env!("CARGO_PKG_VERSION"))
}
