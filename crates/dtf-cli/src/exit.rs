//! dtf's exit codes: documented constants, mapped from error kinds in one place
//! ([`crate::CliError::exit_code`]).
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | tests failed or errored, and `--fail-on-failures` was given |
//! | 2 | usage: unknown flag, missing argument (clap's own code) |
//! | 3 | bad input: an input file is unreadable, malformed, or not what it claims (with `--keep-going`, after writing everything that could be written) |
//! | 4 | cannot write an output (disk full, permission denied) |
//! | 5 | a bundle failed verification: changed, missing or extra files |
//! | 6 | `dtf run` was cancelled (SIGINT, SIGTERM): what it had was written, marked partial |

/// Everything went as asked.
pub const SUCCESS: u8 = 0;
/// Tests failed or errored and `--fail-on-failures` was given.
pub const TESTS_FAILED: u8 = 1;
/// The command line was wrong (clap exits with this code itself).
pub const USAGE: u8 = 2;
/// An input could not be read or is not valid.
pub const BAD_INPUT: u8 = 3;
/// An output could not be written.
pub const OUTPUT: u8 = 4;
/// An artifact bundle does not match its manifest.
pub const VERIFY_FAILED: u8 = 5;
/// A run was cancelled; its partial results were written.
pub const CANCELLED: u8 = 6;
