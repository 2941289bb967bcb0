//! `cargo xtask bench-history`: the history store's speed against issue 5's targets:
//! ingest 1,000,000 test results in under 10 s, and compare two builds of 100,000
//! tests in under 1 s.
//!
//! The workload is synthetic but shaped like a large suite: `--builds` builds (default
//! 10) of `--tests` tests (default 100,000) with ids of realistic length, log-normal
//! durations that drift a little from build to build, about 1% failures with messages
//! and categories, 0.5% flaky, 2% skipped, 16 shards over 3 runner pools with labels.
//! Three phases, each timed on its own:
//!
//! - **ingest**: every build into a fresh database file, one [`Store::ingest`] (one
//!   transaction) per build, as CI does it; the clock covers opening the file and the
//!   writes, not generating the records.
//! - **load**: [`Store::recent`] reading the last 10 builds back (1,000,000 records),
//!   what a comparison loads first.
//! - **compare**: [`dtf_history::compare::compare`] of a new build of 100,000 tests
//!   against the newest stored one, with the 10 stored builds as history.
//!
//! Peak memory is the process's `VmHWM`, reset before each phase through
//! `/proc/self/clear_refs` (where the kernel allows it), so each phase's figure
//! includes the records it holds. Results go to `target/dtf-bench/history/` as
//! Markdown and JSON (`dtf.bench-history.v1`).

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;
use dtf_core::categorize::Category;
use dtf_core::model::Status;
use dtf_history::model::{BuildInfo, BuildRecord, TestRecord};
use dtf_history::store::Store;
use serde_json::{Value, json};

use crate::bench::{DEFAULT_SEED, machine_info, workspace_root};
use crate::rng::Rng;

const INGEST_TARGET_S: f64 = 10.0;
const COMPARE_TARGET_S: f64 = 1.0;
const SHARDS: u32 = 16;
const BRANCH: &str = "main";

#[derive(Args, Debug)]
pub struct BenchHistoryArgs {
    /// Builds ingested.
    #[arg(long, default_value_t = 10)]
    builds: usize,
    /// Tests per build.
    #[arg(long, default_value_t = 100_000)]
    tests: usize,
    /// History builds loaded with `Store::recent` and given to the comparison.
    #[arg(long, default_value_t = 10)]
    history: usize,
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Folder for the database and the results (default: target/dtf-bench/history).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The suite every build runs: ids and each test's own typical duration and pool.
struct Suite {
    ids: Vec<String>,
    median_s: Vec<f64>,
    flaky_prone: Vec<bool>,
}

const POOLS: [(&str, &[&str]); 3] = [
    ("linux-x64", &["linux", "x64"]),
    ("linux-gpu", &["linux", "x64", "gpu", "cuda-12"]),
    ("macos-webgpu", &["macos", "arm64", "chrome-webgpu"]),
];

const MESSAGES: [(&str, Category); 5] = [
    ("AssertionError: expected 200, got 503", Category::Assertion),
    (
        "TimeoutError: operation timed out after 30s",
        Category::Timeout,
    ),
    (
        "ConnectionResetError: [Errno 104] Connection reset by peer",
        Category::Infrastructure,
    ),
    ("KeyError: 'user_id'", Category::Error),
    (
        "fixture 'db' setup failed: could not create schema",
        Category::Setup,
    ),
];

fn suite(tests: usize, rng: &mut Rng) -> Suite {
    const AREAS: [&str; 8] = [
        "billing", "accounts", "search", "ingest", "render", "auth", "storage", "api",
    ];
    let mut ids = Vec::with_capacity(tests);
    let mut median_s = Vec::with_capacity(tests);
    let mut flaky_prone = Vec::with_capacity(tests);
    for i in 0..tests {
        let area = AREAS[i % AREAS.len()];
        let module = i / 40;
        ids.push(format!(
            "tests/{area}/test_module_{module:05}.py::TestCase{}::test_behaviour_{i:06}",
            i % 7
        ));
        median_s.push(rng.log_normal(0.08, 1.2).min(120.0));
        flaky_prone.push(rng.chance(0.01));
    }
    Suite {
        ids,
        median_s,
        flaky_prone,
    }
}

fn build(suite: &Suite, n: usize, rng: &mut Rng) -> BuildRecord {
    let tests = suite
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let flaky = suite.flaky_prone[i] && rng.chance(0.3);
            let status = if flaky {
                Status::Flaky
            } else if rng.chance(0.01) {
                Status::Failed
            } else if rng.chance(0.02) {
                Status::Skipped
            } else {
                Status::Passed
            };
            let (message, category) = match status {
                Status::Failed | Status::Flaky => {
                    let (m, c) = MESSAGES[rng.below(MESSAGES.len())];
                    (Some(m.to_owned()), Some(c))
                }
                _ => (None, None),
            };
            let shard = (i as u32) % SHARDS;
            let (pool, labels) = POOLS[(shard as usize) % POOLS.len()];
            TestRecord {
                id: id.clone(),
                status,
                duration_s: (status != Status::Skipped).then(|| {
                    (suite.median_s[i] * rng.log_normal(1.0, 0.15) * 1000.0).round() / 1000.0
                }),
                attempts: if flaky { 2 } else { 1 },
                category,
                message,
                shard: Some(shard),
                pool: Some(pool.to_owned()),
                labels: labels.iter().map(|s| (*s).to_owned()).collect(),
            }
        })
        .collect();
    BuildRecord {
        info: BuildInfo {
            build_id: format!("bench-{n:04}"),
            provider: "github".into(),
            repository: Some("example/monorepo".into()),
            branch: Some(BRANCH.into()),
            commit: Some(format!("{:040x}", rng.next_u64())),
            time_unix: 1_700_000_000 + (n as i64) * 3_600,
            ..BuildInfo::default()
        },
        tests,
    }
}

fn vm_hwm_kib() -> Option<u64> {
    fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resets `VmHWM` to the current RSS, so the next reading is one phase's peak.
fn reset_peak() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mb(kib: Option<u64>) -> Option<f64> {
    kib.map(|k| k as f64 * 1024.0 / 1e6)
}

struct Phase {
    name: &'static str,
    what: String,
    seconds: f64,
    rows: usize,
    peak_rss_kib: Option<u64>,
    target_s: Option<f64>,
}

impl Phase {
    fn passed(&self) -> Option<bool> {
        self.target_s.map(|t| self.seconds < t)
    }

    fn to_json(&self) -> Value {
        json!({
            "what": self.what,
            "seconds": self.seconds,
            "rows": self.rows,
            "rows_per_s": self.rows as f64 / self.seconds.max(1e-9),
            "peak_rss_mb": mb(self.peak_rss_kib),
            "target_s": self.target_s,
            "pass": self.passed(),
        })
    }
}

pub fn bench_history(args: BenchHistoryArgs) -> Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this xtask is a debug build; run it as `cargo xtask` (release) for real figures"
        );
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace_root().join("target/dtf-bench/history"));
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let db = out.join("history.db");
    for suffix in ["", "-journal"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        match fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", p.display()));
            }
            _ => {}
        }
    }
    let mut rng = Rng::new(args.seed);
    let suite = suite(args.tests, &mut rng);
    let clear_refs = reset_peak();
    let mut phases = Vec::new();

    // Ingest: the records are made outside the clock, one build at a time, so memory
    // holds one build and the figure is the store's alone.
    eprintln!(
        "ingesting {} builds x {} tests into {} ...",
        args.builds,
        args.tests,
        db.display()
    );
    let mut ingest_s = 0.0;
    let mut per_build = Vec::with_capacity(args.builds);
    let t = Instant::now();
    let mut store = Store::open(&db)?;
    ingest_s += t.elapsed().as_secs_f64();
    for n in 0..args.builds {
        let record = build(&suite, n, &mut rng);
        let t = Instant::now();
        store.ingest(&record)?;
        let s = t.elapsed().as_secs_f64();
        per_build.push(s);
        ingest_s += s;
    }
    drop(store);
    let rows = args.builds * args.tests;
    phases.push(Phase {
        name: "ingest",
        what: format!(
            "{} builds x {} tests, one transaction per build, fresh file",
            args.builds, args.tests
        ),
        seconds: ingest_s,
        rows,
        peak_rss_kib: vm_hwm_kib(),
        target_s: (rows >= 1_000_000).then_some(INGEST_TARGET_S),
    });
    let db_bytes = fs::metadata(&db).map(|m| m.len()).unwrap_or(0);

    // Load: what a comparison reads from the store.
    // Load: what a comparison reads from the store (open included), best of 3.
    reset_peak();
    let mut load_runs = Vec::new();
    let mut history = Vec::new();
    for _ in 0..3 {
        drop(std::mem::take(&mut history));
        let t = Instant::now();
        let store = Store::open_read_only(&db)?;
        history = store.recent(Some(BRANCH), args.history, None)?;
        load_runs.push(t.elapsed().as_secs_f64());
    }
    let load_s = load_runs.iter().copied().fold(f64::INFINITY, f64::min);
    let loaded: usize = history.iter().map(|b| b.tests.len()).sum();
    phases.push(Phase {
        name: "load",
        what: format!(
            "open + Store::recent: the last {} builds, {loaded} records (best of {}: {})",
            history.len(),
            load_runs.len(),
            load_runs
                .iter()
                .map(|s| format!("{s:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        seconds: load_s,
        rows: loaded,
        peak_rss_kib: vm_hwm_kib(),
        target_s: None,
    });

    reset_peak();
    let current = build(&suite, args.builds, &mut rng);
    if let Some(p) = bench_compare(&current, &history)? {
        phases.push(p);
    }
    drop(history);

    for p in &phases {
        eprintln!(
            "{:<8} {:>8.3} s  {:>12.0} rows/s  peak RSS {} MB  ({})",
            p.name,
            p.seconds,
            p.rows as f64 / p.seconds.max(1e-9),
            mb(p.peak_rss_kib).map_or("?".into(), |m| format!("{m:.0}")),
            p.what
        );
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let results = json!({
        "schema": "dtf.bench-history.v1",
        "unix_time": now,
        "debug_build": cfg!(debug_assertions),
        "params": {
            "builds": args.builds,
            "tests": args.tests,
            "history": args.history,
            "seed": args.seed,
        },
        "machine": machine_info(),
        "database": {
            "path": db.display().to_string(),
            "bytes": db_bytes,
            "bytes_per_result": db_bytes as f64 / rows.max(1) as f64,
        },
        "ingest_per_build_s": per_build,
        "phases": phases.iter().map(|p| (p.name.to_owned(), p.to_json())).collect::<serde_json::Map<_, _>>(),
        "peak_rss": if clear_refs {
            "VmHWM of this process, reset before each phase"
        } else {
            "VmHWM of this process since it started (no /proc/self/clear_refs)"
        },
    });
    let json_path = out.join("bench-history.json");
    fs::write(&json_path, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    let md_path = out.join("bench-history.md");
    fs::write(&md_path, markdown(&args, &phases, db_bytes, &per_build))
        .with_context(|| format!("writing {}", md_path.display()))?;
    println!("results: {} and {}", md_path.display(), json_path.display());

    let mut ok = true;
    for p in &phases {
        if let (Some(target), Some(pass)) = (p.target_s, p.passed()) {
            println!(
                "{} {}: {:.3} s (target < {target} s)",
                if pass { "PASS" } else { "FAIL" },
                p.name,
                p.seconds
            );
            ok &= pass;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Times the comparison of `current` against the newest build of `history`, with
/// all of `history` as the tests' past.
fn bench_compare(current: &BuildRecord, history: &[BuildRecord]) -> Result<Option<Phase>> {
    use dtf_history::compare::{CompareOptions, compare};
    let opts = CompareOptions::default();
    let baseline = history.last();
    // One untimed run first: the first call pays for page faults on fresh memory.
    let warm = compare(current, baseline, history, &opts);
    let mut best = f64::INFINITY;
    let mut runs = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let c = compare(current, baseline, history, &opts);
        let s = t.elapsed().as_secs_f64();
        runs.push(s);
        best = best.min(s);
        std::hint::black_box(&c);
    }
    let changed = warm.tests.len();
    let rows = current.tests.len() + history.iter().map(|b| b.tests.len()).sum::<usize>();
    Ok(Some(Phase {
        name: "compare",
        what: format!(
            "compare(): {} tests against a baseline of {} with {} history builds (best of {}: {}); {changed} changed tests, {} slower",
            current.tests.len(),
            baseline.map_or(0, |b| b.tests.len()),
            history.len(),
            runs.len(),
            runs.iter()
                .map(|s| format!("{s:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            warm.slower.len()
        ),
        seconds: best,
        rows,
        peak_rss_kib: vm_hwm_kib(),
        target_s: Some(COMPARE_TARGET_S),
    }))
}

fn markdown(args: &BenchHistoryArgs, phases: &[Phase], db_bytes: u64, per_build: &[f64]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# History store benchmark\n");
    let _ = writeln!(
        md,
        "`cargo xtask bench-history --builds {} --tests {} --history {} --seed {}`{}\n",
        args.builds,
        args.tests,
        args.history,
        args.seed,
        if cfg!(debug_assertions) {
            " (**debug build**: not representative)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "| phase | what | seconds | rows/s | peak RSS MB | target | result |\n|---|---|---:|---:|---:|---|---|"
    );
    for p in phases {
        let _ = writeln!(
            md,
            "| {} | {} | {:.3} | {:.0} | {} | {} | {} |",
            p.name,
            p.what,
            p.seconds,
            p.rows as f64 / p.seconds.max(1e-9),
            mb(p.peak_rss_kib).map_or("?".into(), |m| format!("{m:.0}")),
            p.target_s.map_or("-".into(), |t| format!("< {t} s")),
            match p.passed() {
                Some(true) => "PASS",
                Some(false) => "**FAIL**",
                None => "-",
            }
        );
    }
    let rows = (args.builds * args.tests).max(1);
    let _ = writeln!(
        md,
        "\nDatabase: {:.1} MB ({:.1} bytes per result). Ingest per build (s): {}.",
        db_bytes as f64 / 1e6,
        db_bytes as f64 / rows as f64,
        per_build
            .iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(md, "\nMachine: {}", machine_info());
    md
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_workload_is_deterministic_and_shaped() {
        let make = || {
            let mut rng = Rng::new(7);
            let s = suite(2_000, &mut rng);
            build(&s, 3, &mut rng)
        };
        let a = make();
        assert_eq!(a, make());
        assert_eq!(a.tests.len(), 2_000);
        assert_eq!(a.info.build_id, "bench-0003");
        let failed = a
            .tests
            .iter()
            .filter(|t| t.status == Status::Failed)
            .count();
        assert!((5..60).contains(&failed), "about 1% fail: {failed}");
        assert!(
            a.tests
                .iter()
                .all(|t| t.shard.is_some() && t.pool.is_some())
        );
        let ids: std::collections::HashSet<&str> = a.tests.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids.len(), 2_000, "ids are unique");
    }

    #[test]
    fn a_small_run_writes_its_results() {
        let dir =
            std::env::temp_dir().join(format!("dtf-bench-history-test-{}", std::process::id()));
        let args = BenchHistoryArgs {
            builds: 3,
            tests: 500,
            history: 2,
            seed: 1,
            out: Some(dir.clone()),
        };
        let code = bench_history(args).unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let v: Value =
            serde_json::from_str(&fs::read_to_string(dir.join("bench-history.json")).unwrap())
                .unwrap();
        assert_eq!(v["schema"], "dtf.bench-history.v1");
        assert_eq!(v["phases"]["ingest"]["rows"], 1_500);
        assert_eq!(v["phases"]["load"]["rows"], 1_000);
        assert!(v["phases"]["compare"]["seconds"].as_f64().is_some());
        let _ = fs::remove_dir_all(&dir);
    }
}
