//! `cargo xtask collect-plan-timings`: records the real timing sets of the planning
//! benchmark by running real test suites on this machine and keeping their JUnit.
//!
//! Synthetic durations only show what their author imagined; the planner has to be
//! good on what suites really look like. So this runs this repository's own suite
//! under cargo-nextest, and the test suites that a few PyPI packages ship in their
//! sdists under pytest (each in a fresh virtual environment in a temporary folder),
//! then reads each JUnit file with dtf's own reader and writes `{"test id": seconds}`
//! (pytest-split's `.test_durations` format, which `dtf plan --timings` reads) to
//! `crates/dtf-xtask/data/NAME.json`. The files are committed, so the benchmark itself
//! needs no network and no Python test run; `data/README.md` says when and how each
//! was recorded. Package versions are pinned so a rerun measures the same tests.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;
use dtf_plan::durations::{History, HistoryOptions, Source};

use crate::bench::workspace_root;
use crate::plan_sets::data_dir;

#[derive(Args, Debug)]
pub struct CollectArgs {
    /// Suites to run, comma separated: nextest (this workspace), more-itertools, attrs.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "nextest,more-itertools,attrs"
    )]
    only: Vec<String>,
    /// The Python that creates the virtual environments.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Where the `NAME.json` files go [default: crates/dtf-xtask/data].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the temporary folder (sdists, venvs, JUnit files) and print its path.
    #[arg(long)]
    keep: bool,
}

/// A PyPI package whose sdist ships its tests.
struct PySuite {
    name: &'static str,
    package: &'static str,
    version: &'static str,
    /// What its tests import besides the package itself (its test dependency group).
    test_deps: &'static [&'static str],
}

const PY_SUITES: &[PySuite] = &[
    PySuite {
        name: "more-itertools",
        package: "more-itertools",
        version: "11.2.1",
        test_deps: &["pytest"],
    },
    PySuite {
        name: "attrs",
        package: "attrs",
        version: "26.1.0",
        test_deps: &["pytest", "hypothesis", "cloudpickle", "pympler"],
    },
];

/// nextest profile the collection adds in its own config file, so that the JUnit path
/// is known and a repository profile named `ci` is neither needed nor overwritten.
const NEXTEST_PROFILE: &str = "dtf-plan-bench";

pub fn collect(args: CollectArgs) -> Result<ExitCode> {
    let out = args.out.clone().unwrap_or_else(data_dir);
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let tmp = std::env::temp_dir().join(format!("dtf-plan-timings-{}", std::process::id()));
    fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let result = collect_into(&args, &out, &tmp);
    if args.keep {
        eprintln!("kept {}", tmp.display());
    } else {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

fn collect_into(args: &CollectArgs, out: &Path, tmp: &Path) -> Result<ExitCode> {
    for name in &args.only {
        let (junit, set_name) = if name == "nextest" {
            (run_nextest(tmp)?, "nextest-dtf".to_string())
        } else if let Some(suite) = PY_SUITES.iter().find(|s| s.name == name) {
            (
                run_pytest(suite, &args.python, tmp)?,
                format!("pytest-{}", suite.name),
            )
        } else {
            bail!(
                "unknown suite {name:?} (known: nextest, {})",
                PY_SUITES
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let pairs = junit_durations(&junit)?;
        let path = out.join(format!("{set_name}.json"));
        fs::write(&path, timings_json(&pairs))
            .with_context(|| format!("writing {}", path.display()))?;
        let mut d: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        d.sort_by(f64::total_cmp);
        println!(
            "{}: {} tests, {:.1} s in all, longest {:.3} s, median {:.4} s",
            path.display(),
            d.len(),
            d.iter().sum::<f64>(),
            d.last().copied().unwrap_or(0.0),
            d.get(d.len() / 2).copied().unwrap_or(0.0)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// This workspace's suite under cargo-nextest with a JUnit report.
fn run_nextest(tmp: &Path) -> Result<PathBuf> {
    let root = workspace_root();
    let config = tmp.join("nextest.toml");
    fs::write(
        &config,
        format!(
            "[profile.{NEXTEST_PROFILE}]\nfail-fast = false\n\n[profile.{NEXTEST_PROFILE}.junit]\npath = \"junit.xml\"\n"
        ),
    )
    .with_context(|| format!("writing {}", config.display()))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let junit = target
        .join("nextest")
        .join(NEXTEST_PROFILE)
        .join("junit.xml");
    let _ = fs::remove_file(&junit);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "nextest",
        "run",
        "--workspace",
        "--no-fail-fast",
        "--config-file",
    ])
    .arg(&config)
    .args(["--profile", NEXTEST_PROFILE])
    .current_dir(&root);
    eprintln!(
        "running cargo nextest run --workspace --profile {NEXTEST_PROFILE} in {}",
        root.display()
    );
    // Failing tests still have durations; only a missing report is an error.
    let status = cmd
        .status()
        .context("running cargo nextest (is cargo-nextest installed?)")?;
    if !junit.is_file() {
        bail!(
            "cargo nextest exited with {status} and wrote no JUnit report at {}",
            junit.display()
        );
    }
    if !status.success() {
        eprintln!("note: some tests failed ({status}); their durations are kept");
    }
    Ok(junit)
}

/// Downloads the package's sdist, installs it with its test dependencies into a fresh
/// virtual environment, and runs its tests under pytest with `--junitxml`.
fn run_pytest(suite: &PySuite, python: &str, tmp: &Path) -> Result<PathBuf> {
    let dir = tmp.join(suite.name);
    let venv = dir.join("venv");
    let download = dir.join("sdist");
    fs::create_dir_all(&download).with_context(|| format!("creating {}", download.display()))?;
    run(Command::new(python).args(["-m", "venv"]).arg(&venv))?;
    let py = venv.join("bin").join("python");
    run(Command::new(&py)
        .args([
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
        ])
        .arg(format!("{}=={}", suite.package, suite.version))
        .arg("-d")
        .arg(&download))?;
    let archive = only_entry(&download)?;
    run(Command::new("tar")
        .arg("xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&dir))?;
    let src = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_dir() && p.join("tests").is_dir())
        .with_context(|| format!("the sdist of {} has no tests folder", suite.package))?;
    run(Command::new(&py)
        .args(["-m", "pip", "install", "-q"])
        .args(suite.test_deps)
        .arg(&src))?;
    let junit = dir.join("junit.xml");
    eprintln!(
        "running the tests of {} {} under pytest",
        suite.package, suite.version
    );
    let status = Command::new(&py)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml"])
        .arg(&junit)
        .arg("tests")
        .current_dir(&src)
        .stdout(Stdio::null())
        .status()
        .context("running pytest")?;
    // pytest exits 1 when some tests failed: their durations are still real.
    if !matches!(status.code(), Some(0 | 1)) || !junit.is_file() {
        bail!("pytest on {} exited with {status}", suite.package);
    }
    if !status.success() {
        eprintln!(
            "note: some {} tests failed; their durations are kept",
            suite.package
        );
    }
    Ok(junit)
}

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("running {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

fn only_entry(dir: &Path) -> Result<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    match entries.len() {
        1 => Ok(entries.remove(0)),
        n => bail!("expected one sdist in {}, found {n}", dir.display()),
    }
}

/// Each test by dtf id in report order, with the duration dtf's history reader
/// learns from this one build (the median of its attempts, reruns included; a test
/// that only skipped keeps its skip time), to the millisecond JUnit writers report.
fn junit_durations(junit: &Path) -> Result<Vec<(String, f64)>> {
    let history = History::from_sources(&[vec![Source::file(junit)]], &HistoryOptions::default())
        .with_context(|| format!("reading {}", junit.display()))?;
    Ok(history
        .tests()
        .filter_map(|(id, _, _)| {
            let d = history.measured(id)?;
            Some((id.to_string(), (d * 1e3).round() / 1e3))
        })
        .collect())
}

/// `{"id": seconds}`, one test a line, in the given order (serde_json's map would sort
/// the keys and lose the collection order that chunking algorithms depend on).
fn timings_json(pairs: &[(String, f64)]) -> String {
    let mut s = String::from("{\n");
    for (i, (id, d)) in pairs.iter().enumerate() {
        let sep = if i + 1 == pairs.len() { "" } else { "," };
        let key = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into());
        let _ = writeln!(s, "  {key}: {}{sep}", serde_json::Value::from(*d));
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn timings_json_keeps_order_and_escapes_ids() {
        let text = timings_json(&[
            ("b::z".into(), 1.5),
            ("a::\"q\"".into(), 0.0),
            ("c::x[1]".into(), 0.001),
        ]);
        assert_eq!(
            text,
            "{\n  \"b::z\": 1.5,\n  \"a::\\\"q\\\"\": 0.0,\n  \"c::x[1]\": 0.001\n}\n"
        );
        match dtf_plan::durations::parse_json_timings(&text, "t.json").unwrap() {
            dtf_plan::durations::Timings::Map(pairs) => {
                let ids: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
                assert_eq!(ids, ["b::z", "a::\"q\"", "c::x[1]"]);
            }
            _ => panic!("not read as a map"),
        }
    }
}
