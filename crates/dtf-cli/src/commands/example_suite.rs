//! `dtf example-suite` (hidden): the example suite behind `dtf demo`, as a tiny test
//! framework, so the demo runs real processes on any machine with nothing installed.
//!
//! It knows the example tests from the shard results built into the binary: how long
//! each took and how it ended. Asked to run some of them, it sleeps for each one's time
//! (scaled down), prints a line, and writes JUnit. A test that failed in the recorded
//! shards but passed in the recorded rerun is flaky here too: it fails on its first
//! attempt and passes on the next (remembered in a state folder).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use dtf_core::junit::read_all;
use dtf_core::junit::write::{JunitWriter, SuiteCounts, WriteLimits};
use dtf_core::model::{Outcome, OutcomeField, TestCase};

use super::demo::SHARDS;
use crate::{CliError, Finished};

#[derive(Debug, clap::Args)]
pub struct ExampleSuiteArgs {
    /// A file with the ids of the tests to run, one a line.
    #[arg(long)]
    pub tests_file: PathBuf,
    /// Where to write the JUnit results.
    #[arg(long)]
    pub junit: PathBuf,
    /// Where flaky tests remember that they already failed once.
    #[arg(long)]
    pub state_dir: PathBuf,
    /// Recorded seconds are multiplied by this.
    #[arg(long, default_value_t = 0.02)]
    pub speed: f64,
}

/// Every example test: its recorded first outcome, and whether a rerun passed it.
fn recorded() -> Result<HashMap<String, (TestCase, bool)>, CliError> {
    let mut tests: HashMap<String, (TestCase, bool)> = HashMap::new();
    for (name, xml) in SHARDS {
        let cases = read_all(xml.as_bytes(), name).map_err(|e| CliError::BadInput(anyhow!(e)))?;
        for case in cases {
            let id = case.id().to_string();
            match tests.get_mut(&id) {
                // Seen again in the rerun job: a pass there makes the test flaky.
                Some((_, passes_on_retry)) => *passes_on_retry = case.outcome() == Outcome::Passed,
                None => {
                    tests.insert(id, (case, false));
                }
            }
        }
    }
    Ok(tests)
}

fn state_file(dir: &Path, id: &str) -> PathBuf {
    let safe: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join(safe)
}

pub fn run(args: &ExampleSuiteArgs) -> Result<Finished, CliError> {
    let known = recorded()?;
    let list = std::fs::read_to_string(&args.tests_file)
        .with_context(|| format!("reading {}", args.tests_file.display()))
        .map_err(CliError::BadInput)?;
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("creating {}", args.state_dir.display()))
        .map_err(CliError::Output)?;
    let mut results = Vec::new();
    for id in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((case, passes_on_retry)) = known.get(id) else {
            eprintln!("example-suite: no test {id}");
            continue;
        };
        let mut case = case.clone();
        let seconds = case.duration.unwrap_or(0.0);
        std::thread::sleep(Duration::from_secs_f64((seconds * args.speed).min(5.0)));
        if *passes_on_retry {
            let marker = state_file(&args.state_dir, id);
            if marker.exists() {
                case.outcome = OutcomeField(Outcome::Passed);
                case.detail = Default::default();
            } else {
                std::fs::write(&marker, b"failed once\n")
                    .map_err(|e| CliError::Output(anyhow!(e)))?;
            }
        }
        println!("{} {id} ({seconds:.3}s)", case.outcome());
        results.push(case);
    }
    let mut counts = SuiteCounts::default();
    for c in &results {
        counts.add(c.outcome(), c.duration);
    }
    let write = || -> std::io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(&args.junit)?);
        let mut w = JunitWriter::new(file, WriteLimits::default());
        w.start("example-suite", &counts)?;
        w.start_suite("pytest", &counts, &[])?;
        for c in &results {
            w.write_case(c, &[])?;
        }
        w.end_suite()?;
        w.finish().map(drop)
    };
    write()
        .with_context(|| format!("writing {}", args.junit.display()))
        .map_err(CliError::Output)?;
    let failed = results.iter().any(|c| c.outcome().is_failure());
    Ok(if failed {
        Finished::TestsFailed
    } else {
        Finished::Ok
    })
}
