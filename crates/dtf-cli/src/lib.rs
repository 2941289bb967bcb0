//! The `dtf` command line: parses arguments, resolves them into settings, and runs one
//! command. The binary crate `dtf` is a single call to [`main`].
//!
//! Errors from the libraries cross into this crate as [`CliError`], which adds the
//! context a user needs (which file, which flag) and maps each kind to an exit code in
//! one place ([`CliError::exit_code`]).

mod args;
mod commands;
pub mod exit;
mod inputs;
mod progress;

use std::fmt;
use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;

/// What went wrong, by the exit code it earns.
#[derive(Debug)]
pub enum CliError {
    /// An input could not be read or is not valid.
    BadInput(anyhow::Error),
    /// An output could not be written.
    Output(anyhow::Error),
    /// A bundle does not match its manifest.
    Verify(anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::BadInput(_) => exit::BAD_INPUT,
            CliError::Output(_) => exit::OUTPUT,
            CliError::Verify(_) => exit::VERIFY_FAILED,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (CliError::BadInput(e) | CliError::Output(e) | CliError::Verify(e)) = self;
        // `{:#}` prints the whole context chain on one line: "a: b: c".
        write!(f, "{e:#}")
    }
}

/// What a command finished with when nothing went wrong in dtf itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Ok,
    /// Tests failed and the user asked for that to fail the command.
    TestsFailed,
    /// Everything readable was merged and written, but some inputs were not readable.
    SomeInputsBad,
    /// A run was cancelled; what it had was written, marked partial.
    Cancelled,
}

/// Parses the command line, runs the command, and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(Finished::Ok) => ExitCode::from(exit::SUCCESS),
        Ok(Finished::TestsFailed) => ExitCode::from(exit::TESTS_FAILED),
        Ok(Finished::SomeInputsBad) => ExitCode::from(exit::BAD_INPUT),
        Ok(Finished::Cancelled) => ExitCode::from(exit::CANCELLED),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
