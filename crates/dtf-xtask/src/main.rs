//! Developer tasks for the dtf workspace, run as `cargo xtask <task>` (an alias in
//! `.cargo/config.toml`), so benchmarks need nothing but a Rust toolchain to drive them
//! (plus the peer tools they compare against: `cargo xtask install-peers`).

mod bench;
mod bench_history;
mod bench_plan;
mod bench_plan_speed;
mod bench_run;
mod eval_anomaly;
mod junitgen;
mod plan_sets;
mod plan_timings;
mod rng;
mod words;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "dtf developer tasks", version)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Write synthetic, realistic JUnit shard files (deterministic for a given seed).
    GenJunit {
        /// Total number of <testcase> elements over all files.
        #[arg(long, default_value_t = 1_000_000)]
        cases: usize,
        /// Number of shard files.
        #[arg(long, default_value_t = 8)]
        shards: usize,
        #[arg(long, default_value_t = bench::DEFAULT_SEED)]
        seed: u64,
        /// Median testcases per <testsuite> (long-tailed around it); 10 gives one suite per class.
        #[arg(long, default_value_t = junitgen::DEFAULT_SUITE_MEDIAN)]
        suite_size: usize,
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Time `dtf merge` against other JUnit merge tools on the same generated shards.
    BenchMerge(bench::BenchArgs),
    /// Plan quality against the lower bound, pytest-split and round-robin (issue 3's two-part benchmark).
    BenchPlanQuality(bench_plan::QualityArgs),
    /// Planning time and peak memory for 100,000 tests on 256 shards with dependencies and pools.
    BenchPlanSpeed(bench_plan_speed::SpeedArgs),
    /// `dtf run`'s overhead: a shard of 2,000 trivial tests through dtf against the framework run directly.
    BenchRun(bench_run::RunBenchArgs),
    /// History store speed: ingest 1,000,000 results, compare two builds of 100,000 tests.
    BenchHistory(bench_history::BenchHistoryArgs),
    /// Anomaly detection precision and recall on a labelled synthetic history.
    EvalAnomaly(eval_anomaly::EvalAnomalyArgs),
    /// Record the real timing sets of bench-plan-quality by running real test suites (network, minutes).
    CollectPlanTimings(plan_timings::CollectArgs),
    /// Install the peer tools the benchmarks compare against (pip and npm, global).
    InstallPeers {
        /// Only print the commands.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.task {
        Task::GenJunit {
            cases,
            shards,
            seed,
            suite_size,
            out,
        } => {
            let params = junitgen::GenParams {
                cases,
                shards,
                seed,
                suite_median: suite_size,
            };
            let started = std::time::Instant::now();
            let s = junitgen::generate(params, &out)?;
            println!(
                "wrote {} files, {:.1} MB, {} testcases ({} unique tests, {} retries, {} flaky, {} failures, {} errors, {} skipped) to {} in {:.1}s",
                s.files.len(),
                s.bytes as f64 / 1e6,
                s.testcases,
                s.unique_tests,
                s.retries,
                s.flaky,
                s.failures,
                s.errors,
                s.skipped,
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Task::BenchMerge(args) => bench::bench_merge(args),
        Task::BenchPlanQuality(args) => bench_plan::bench_plan_quality(args),
        Task::BenchPlanSpeed(args) => bench_plan_speed::bench_plan_speed(args),
        Task::BenchRun(args) => bench_run::bench_run(args),
        Task::BenchHistory(args) => bench_history::bench_history(args),
        Task::EvalAnomaly(args) => eval_anomaly::eval_anomaly(args),
        Task::CollectPlanTimings(args) => plan_timings::collect(args),
        Task::InstallPeers { dry_run } => bench::install_peers(dry_run),
    }
}
