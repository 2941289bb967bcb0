//! `cargo xtask bench-plan-quality`: how close dtf's plans come to the best possible,
//! side by side with pytest-split's two algorithms and plain round-robin.
//!
//! pytest-split is what most Python projects shard with today, so it is the yardstick:
//! its `least_duration` and `duration_based_chunks` are called from the installed PyPI
//! package (`scripts/pytest_split_plan.py`), not re-implemented here, and get exactly
//! the durations dtf gets. Plain round-robin (test *i* to shard *i* mod *n*, in
//! collection order) is what splitting without history gives.
//!
//! **Part 1, durations known exactly.** Each algorithm plans from the true durations
//! on identical runners; a plan's makespan (its slowest shard) is compared with the
//! lower bound max(total / shards, longest test), which no plan can beat. The issue's
//! bar: `timing` is never worse than any other algorithm, and within 1.002 of the
//! bound wherever there are at least 20 tests a shard. Missing it fails the command.
//!
//! **Part 2, realistic.** Planning uses history; the run then differs from it the way
//! real runs do: every test's actual time is its history times log-normal noise
//! (sigma 0.3, fixed seed), 10% of the tests are new (dtf estimates them from the
//! durations module: the median of their file, else suite, else all tests;
//! pytest-split uses its own average of the known ones), every shard pays a start-up
//! cost per invocation, and a quarter of the runners (at least one) sit in a pool
//! 30% slower than the rest. dtf sees the two pools (`Pool::speed`, `Pool::startup`);
//! pytest-split and round-robin know nothing of pools, so their groups go to the
//! runners in order, the slow pool's last. Each plan is "run" with the actual times,
//! and its wall time is compared with the realized lower bound: start-up plus
//! max(total actual work / the runners' summed speed, longest actual test on the
//! fastest pool). `timing` must come out best; the command says by how much.
//!
//! Everything is deterministic for a seed: the synthetic sets, the noise, which tests
//! are new.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use dtf_plan::durations::{BuildTimes, History};
use dtf_plan::inventory::{Inventory, Item, Unit};
use dtf_plan::model::{Assignment, PlanTest, Pool, Problem};
use dtf_plan::strategy;
use serde_json::{Value, json};

use crate::bench::{DEFAULT_SEED, machine_info, workspace_root};
use crate::plan_sets::{self, TimingSet, name_hash};
use crate::rng::Rng;

#[derive(Args, Debug)]
pub struct QualityArgs {
    /// Shard counts to plan for, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "2,4,8,16,32,64,128,256")]
    shards: Vec<u32>,
    /// Where the Markdown and JSON results go [default: target/dtf-bench/plan-quality].
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Only these timing sets (names, comma separated; default: all).
    #[arg(long, value_delimiter = ',')]
    sets: Vec<String>,
    /// The Python that has pytest-split installed (`pip install pytest-split`).
    #[arg(long, default_value = "python3")]
    python: String,
    /// Leave pytest-split out (when it cannot be installed).
    #[arg(long)]
    skip_pytest_split: bool,
    /// Part 2: runs per cell, each with its own noise and its own new tests; the
    /// results are their means. Where one test dominates, a single draw is mostly luck
    /// (which test turned out new, how its noise fell): trial-to-trial spread there is
    /// 10–20% of the wall time, so 30 trials bring the standard error of a mean to a
    /// few percent, and every loss is reported with its paired standard error.
    #[arg(long, default_value_t = 30)]
    trials: usize,
    /// Part 2: sigma of the log-normal noise between history and the actual run.
    #[arg(long, default_value_t = 0.3)]
    noise_sigma: f64,
    /// Part 2: share of the tests that are new (no history).
    #[arg(long, default_value_t = 0.1)]
    new_fraction: f64,
    /// Part 2: start-up seconds per invocation (each shard is one invocation).
    #[arg(long, default_value_t = 5.0)]
    startup: f64,
    /// Part 2: how much longer a test takes on the slow pool (1.3 = 30% slower).
    #[arg(long, default_value_t = 1.3)]
    slow_factor: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Algo {
    Timing,
    DtfRoundRobin,
    LeastDuration,
    Chunks,
    RoundRobin,
}

const ALGOS: [Algo; 5] = [
    Algo::Timing,
    Algo::DtfRoundRobin,
    Algo::LeastDuration,
    Algo::Chunks,
    Algo::RoundRobin,
];

impl Algo {
    fn key(self) -> &'static str {
        match self {
            Algo::Timing => "dtf-timing",
            Algo::DtfRoundRobin => "dtf-round-robin",
            Algo::LeastDuration => "pytest-split-least_duration",
            Algo::Chunks => "pytest-split-duration_based_chunks",
            Algo::RoundRobin => "round-robin",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Algo::Timing => "dtf timing",
            Algo::DtfRoundRobin => "dtf round-robin",
            Algo::LeastDuration => "least_duration",
            Algo::Chunks => "duration_based_chunks",
            Algo::RoundRobin => "round-robin",
        }
    }

    /// The name pytest-split's `Algorithms` enum uses.
    fn pytest_split_name(self) -> Option<&'static str> {
        match self {
            Algo::LeastDuration => Some("least_duration"),
            Algo::Chunks => Some("duration_based_chunks"),
            _ => None,
        }
    }

    fn dtf_strategy(self) -> Option<&'static str> {
        match self {
            Algo::Timing => Some("timing"),
            Algo::DtfRoundRobin => Some("round-robin"),
            _ => None,
        }
    }
}

/// A plan reduced to what running it needs: each shard's tests and its pool.
#[derive(Clone, Debug)]
struct Shards {
    tests: Vec<Vec<usize>>,
    pools: Vec<usize>,
    invocations: Vec<usize>,
}

impl Shards {
    /// Groups planned without knowing pools go to the runners in order.
    fn on_runners(groups: Vec<Vec<usize>>, runner_pools: &[usize]) -> Shards {
        let pools = (0..groups.len())
            .map(|i| runner_pools.get(i).copied().unwrap_or(0))
            .collect();
        let invocations = groups.iter().map(|g| usize::from(!g.is_empty())).collect();
        Shards {
            tests: groups,
            pools,
            invocations,
        }
    }

    /// The slowest shard, each test taking `time(test, pool)`, plus start-up per
    /// invocation on its pool.
    fn wall(&self, startup: &[f64], time: impl Fn(usize, usize) -> f64) -> f64 {
        self.tests
            .iter()
            .zip(&self.pools)
            .zip(&self.invocations)
            .map(|((tests, &pool), &inv)| {
                let work: f64 = tests.iter().map(|&t| time(t, pool)).sum();
                work + startup.get(pool).copied().unwrap_or(0.0) * inv as f64
            })
            .fold(0.0, f64::max)
    }
}

/// One algorithm's result in one cell.
#[derive(Clone, Debug, Default)]
struct Outcome {
    /// Part 1: makespan; part 2: realized wall time (seconds).
    value: Option<f64>,
    /// Part 2, dtf only: the wall time dtf predicted for its own plan (mean over trials).
    predicted: Option<f64>,
    /// Part 2: the realized wall time of each trial.
    trials: Vec<Option<f64>>,
    /// Seconds the algorithm took to plan.
    plan_s: Option<f64>,
    error: Option<String>,
}

/// One set at one shard count.
struct Cell {
    set: String,
    tests: usize,
    shards: u32,
    bound: f64,
    outcomes: BTreeMap<Algo, Outcome>,
    /// Part 2 only: new tests in each trial.
    new_tests: usize,
    /// Part 2 only: the realized lower bound of each trial (`bound` is their mean).
    bounds: Vec<f64>,
}

impl Cell {
    fn value(&self, a: Algo) -> Option<f64> {
        self.outcomes.get(&a).and_then(|o| o.value)
    }

    fn ratio(&self, a: Algo) -> Option<f64> {
        self.value(a).map(|v| ratio(v, self.bound))
    }

    /// The best algorithm other than `timing`, with its value.
    fn best_other(&self) -> Option<(Algo, f64)> {
        ALGOS
            .iter()
            .filter(|&&a| a != Algo::Timing)
            .filter_map(|&a| self.value(a).map(|v| (a, v)))
            .min_by(|x, y| x.1.total_cmp(&y.1))
    }
}

fn ratio(value: f64, bound: f64) -> f64 {
    if bound > 0.0 { value / bound } else { 1.0 }
}

/// Floating-point sums in another order may differ in the last bits; a real loss is
/// far above this.
fn worse(a: f64, b: f64) -> bool {
    a > b * (1.0 + 1e-9) + 1e-9
}

/// Part 2's inputs for one set: what the planners are told and what then happens.
struct Scenario {
    /// dtf's view: history for known tests, its own estimate for new ones.
    dtf_tests: Vec<PlanTest>,
    /// pytest-split's `.test_durations`: the known tests only.
    history: Vec<(usize, f64)>,
    actual: Vec<f64>,
    new_tests: usize,
}

fn scenario(set: &TimingSet, args: &QualityArgs, trial: usize) -> Scenario {
    let n = set.ids.len();
    let mut rng = Rng::new(
        (args.seed ^ name_hash(&set.name) ^ 0x7265_616c_6973_7469).wrapping_add(trial as u64),
    );
    // Exactly round(n * fraction) new tests, drawn by a partial Fisher-Yates shuffle.
    let new_count = ((n as f64 * args.new_fraction).round() as usize).min(n);
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..new_count {
        let j = i + rng.below(n - i);
        order.swap(i, j);
    }
    let mut is_new = vec![false; n];
    for &i in &order[..new_count] {
        is_new[i] = true;
    }
    let actual: Vec<f64> = set
        .durations
        .iter()
        .map(|&d| d * (args.noise_sigma * rng.normal()).exp())
        .collect();
    let history: Vec<(usize, f64)> = (0..n)
        .filter(|&i| !is_new[i])
        .map(|i| (i, set.durations[i]))
        .collect();
    // dtf's own path from history to planned durations, as `dtf plan --timings` takes it.
    let pairs: Vec<(String, f64)> = history
        .iter()
        .map(|&(i, d)| (set.ids[i].clone(), d))
        .collect();
    let known = History::new(&[BuildTimes::from_map(&pairs)]);
    let inventory = Inventory::from_items(set.ids.iter().map(|id| Item::test(id.clone())));
    let dtf_tests = inventory.plan_tests(Unit::Test, &known);
    Scenario {
        dtf_tests,
        history,
        actual,
        new_tests: new_count,
    }
}

/// Part 2's runners: three quarters at speed 1, a quarter (at least one) slower.
fn realistic_pools(shards: u32, args: &QualityArgs) -> Vec<Pool> {
    let slow = if shards >= 2 { (shards / 4).max(1) } else { 0 };
    let mut pools = vec![Pool {
        name: "standard".into(),
        labels: vec!["standard".into()],
        runners: shards - slow,
        capabilities: Vec::new(),
        speed: 1.0,
        startup: args.startup,
    }];
    if slow > 0 {
        pools.push(Pool {
            name: "slow".into(),
            labels: vec!["slow".into()],
            runners: slow,
            capabilities: Vec::new(),
            speed: 1.0 / args.slow_factor,
            startup: args.startup,
        });
    }
    pools
}

/// The pool of each runner in order: the standard pool's, then the slow pool's.
fn runner_pools(pools: &[Pool]) -> Vec<usize> {
    pools
        .iter()
        .enumerate()
        .flat_map(|(i, p)| std::iter::repeat_n(i, p.runners as usize))
        .collect()
}

/// Checks a strategy's answer against the rules every plan must keep, and reduces it.
fn checked(a: &Assignment, tests: usize, shards: u32, pools: &[Pool]) -> Result<Shards, String> {
    if a.shards.len() > shards as usize {
        return Err(format!(
            "{} shards planned, {shards} asked for",
            a.shards.len()
        ));
    }
    let mut seen = vec![0u32; tests];
    let mut per_pool = vec![0u32; pools.len().max(1)];
    for s in &a.shards {
        if s.wave != 0 {
            return Err("a plan without dependencies has waves".into());
        }
        match per_pool.get_mut(s.pool) {
            Some(c) => *c += 1,
            None => return Err(format!("pool #{} does not exist", s.pool)),
        }
        for &t in &s.tests {
            match seen.get_mut(t) {
                Some(c) => *c += 1,
                None => return Err(format!("test #{t} does not exist")),
            }
        }
    }
    if let Some(t) = seen.iter().position(|&c| c != 1) {
        return Err(format!("test #{t} is in {} shards", seen[t]));
    }
    for (p, pool) in pools.iter().enumerate() {
        if per_pool[p] > pool.runners {
            return Err(format!(
                "pool {} gets {} shards but has {} runners",
                pool.name, per_pool[p], pool.runners
            ));
        }
    }
    Ok(Shards {
        tests: a.shards.iter().map(|s| s.tests.clone()).collect(),
        pools: a.shards.iter().map(|s| s.pool).collect(),
        invocations: a.shards.iter().map(strategy::invocations).collect(),
    })
}

/// Plans with a dtf strategy; the assignment (for prediction) and its checked form.
fn plan_dtf(
    name: &str,
    problem: &Problem,
    pools: &[Pool],
) -> (Result<(Assignment, Shards), String>, f64) {
    let started = Instant::now();
    let result = strategy::by_name(name)
        .and_then(|s| s.plan(problem))
        .map_err(|e| format!("cannot plan: {e}"));
    let secs = started.elapsed().as_secs_f64();
    let checked = result.and_then(|a| {
        let s = checked(&a, problem.tests.len(), problem.shards, pools)
            .map_err(|e| format!("invalid plan: {e}"))?;
        Ok((a, s))
    });
    (checked, secs)
}

fn plain_round_robin(tests: usize, shards: u32) -> Vec<Vec<usize>> {
    let mut groups = vec![Vec::new(); shards as usize];
    for t in 0..tests {
        groups[t % shards as usize].push(t);
    }
    groups
}

// ---------------------------------------------------------------------------
// pytest-split, in a child process that runs while dtf plans

const SCRIPT: &str = "scripts/pytest_split_plan.py";

struct PyJob {
    set: usize,
    part: u8,
    /// Part 2's trial (0 in part 1).
    trial: usize,
    algo: Algo,
    shards: u32,
}

struct PytestSplit {
    child: Child,
    response: PathBuf,
    jobs: Vec<PyJob>,
}

struct PyResult {
    groups: Option<Vec<Vec<usize>>>,
    seconds: Option<f64>,
    error: Option<String>,
}

fn check_pytest_split(python: &str) -> Result<String> {
    let out = Command::new(python)
        .args([
            "-c",
            "from importlib import metadata; import pytest_split.algorithms; print(metadata.version('pytest-split'))",
        ])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {python}"))?;
    if !out.status.success() {
        bail!(
            "pytest-split is not installed for {python}: run `pip install pytest-split` \
             (or `cargo xtask install-peers`), or pass --skip-pytest-split"
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn start_pytest_split(
    python: &str,
    sets: &[TimingSet],
    scenarios: &[Vec<Scenario>],
    shards: &[u32],
    work: &Path,
) -> Result<Vec<PytestSplit>> {
    let mut py_sets = serde_json::Map::new();
    let mut jobs = Vec::new();
    for (k, set) in sets.iter().enumerate() {
        let exact: serde_json::Map<String, Value> = set
            .ids
            .iter()
            .zip(&set.durations)
            .map(|(id, &d)| (id.clone(), Value::from(d)))
            .collect();
        py_sets.insert(
            format!("{k}/1/0"),
            json!({"ids": set.ids, "durations": exact}),
        );
        for (t, sc) in scenarios[k].iter().enumerate() {
            let history: serde_json::Map<String, Value> = sc
                .history
                .iter()
                .map(|&(i, d)| (set.ids[i].clone(), Value::from(d)))
                .collect();
            py_sets.insert(
                format!("{k}/2/{t}"),
                json!({"ids": set.ids, "durations": history}),
            );
        }
        let runs = std::iter::once((1u8, 0usize)).chain((0..scenarios[k].len()).map(|t| (2u8, t)));
        for (part, trial) in runs {
            for &n in shards {
                for algo in [Algo::LeastDuration, Algo::Chunks] {
                    jobs.push(PyJob {
                        set: k,
                        part,
                        trial,
                        algo,
                        shards: n,
                    });
                }
            }
        }
    }
    // pytest-split is the slow part of the benchmark: deal the jobs out to a few
    // processes (neighbouring jobs cost about the same, so dealing balances them).
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4);
    let sets_text = serde_json::to_string(&Value::Object(py_sets))?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCRIPT);
    let mut dealt: Vec<Vec<PyJob>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, j) in jobs.into_iter().enumerate() {
        dealt[i % workers].push(j);
    }
    let mut started = Vec::with_capacity(workers);
    for (w, jobs) in dealt.into_iter().enumerate() {
        let jobs_json: Vec<Value> = jobs
            .iter()
            .map(|j| {
                json!({
                    "set": format!("{}/{}/{}", j.set, j.part, j.trial),
                    "algorithm": j.algo.pytest_split_name(),
                    "splits": j.shards,
                })
            })
            .collect();
        let req_path = work.join(format!("pytest-split-request-{w}.json"));
        let response = work.join(format!("pytest-split-response-{w}.json"));
        let request = format!(
            "{{\"sets\":{sets_text},\"jobs\":{}}}",
            serde_json::to_string(&jobs_json)?
        );
        fs::write(&req_path, request).with_context(|| format!("writing {}", req_path.display()))?;
        let _ = fs::remove_file(&response);
        let child = Command::new(python)
            .arg(&script)
            .arg(&req_path)
            .arg(&response)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {python} {}", script.display()))?;
        started.push(PytestSplit {
            child,
            response,
            jobs,
        });
    }
    Ok(started)
}

fn finish_pytest_split(mut ps: PytestSplit) -> Result<Vec<PyResult>> {
    let status = ps.child.wait().context("waiting for pytest-split")?;
    if !status.success() {
        bail!("{SCRIPT} failed ({status})");
    }
    let text =
        fs::read(&ps.response).with_context(|| format!("reading {}", ps.response.display()))?;
    let v: Value = serde_json::from_slice(&text)
        .with_context(|| format!("parsing {}", ps.response.display()))?;
    let results = v
        .get("results")
        .and_then(Value::as_array)
        .context("pytest-split response has no results")?;
    if results.len() != ps.jobs.len() {
        bail!(
            "pytest-split answered {} jobs of {}",
            results.len(),
            ps.jobs.len()
        );
    }
    results
        .iter()
        .map(|r| {
            let groups = match r.get("groups").and_then(Value::as_array) {
                Some(gs) => Some(
                    gs.iter()
                        .map(|g| {
                            g.as_array()
                                .context("a group is not a list")?
                                .iter()
                                .map(|i| {
                                    i.as_u64()
                                        .map(|i| i as usize)
                                        .context("a test index is not a number")
                                })
                                .collect::<Result<Vec<usize>>>()
                        })
                        .collect::<Result<Vec<_>>>()?,
                ),
                None => None,
            };
            Ok(PyResult {
                groups,
                seconds: r.get("seconds").and_then(Value::as_f64),
                error: r.get("error").and_then(Value::as_str).map(str::to_string),
            })
        })
        .collect()
}

/// pytest-split's groups, checked like dtf's: every test exactly once.
fn checked_groups(groups: &[Vec<usize>], tests: usize, shards: u32) -> Result<(), String> {
    if groups.len() != shards as usize {
        return Err(format!("{} groups for {shards} splits", groups.len()));
    }
    let mut seen = vec![0u32; tests];
    for &t in groups.iter().flatten() {
        match seen.get_mut(t) {
            Some(c) => *c += 1,
            None => return Err(format!("test #{t} does not exist")),
        }
    }
    match seen.iter().position(|&c| c != 1) {
        Some(t) => Err(format!("test #{t} is in {} groups", seen[t])),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// The benchmark

pub fn bench_plan_quality(args: QualityArgs) -> Result<ExitCode> {
    let started = Instant::now();
    if args.shards.is_empty() || args.shards.contains(&0) {
        bail!("--shards needs shard counts of at least 1");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace_root().join("target/dtf-bench/plan-quality"));
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let mut sets = plan_sets::real_sets(&plan_sets::data_dir())?;
    sets.extend(plan_sets::synthetic_sets(args.seed));
    if !args.sets.is_empty() {
        for name in &args.sets {
            if !sets.iter().any(|s| &s.name == name) {
                bail!(
                    "unknown timing set {name:?} (known: {})",
                    sets.iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        sets.retain(|s| args.sets.contains(&s.name));
    }
    if args.trials == 0 {
        bail!("--trials needs at least 1");
    }
    let scenarios: Vec<Vec<Scenario>> = sets
        .iter()
        .map(|s| (0..args.trials).map(|t| scenario(s, &args, t)).collect())
        .collect();
    for s in &sets {
        eprintln!(
            "set {}: {} tests, {:.1} s in all, longest {:.3} s ({})",
            s.name,
            s.ids.len(),
            s.total(),
            s.longest(),
            s.source
        );
    }

    let pytest_split_version = if args.skip_pytest_split {
        None
    } else {
        Some(check_pytest_split(&args.python)?)
    };
    let pending = match pytest_split_version {
        Some(_) => Some(start_pytest_split(
            &args.python,
            &sets,
            &scenarios,
            &args.shards,
            &out,
        )?),
        None => None,
    };

    let mut part1 = Vec::new();
    let mut part2 = Vec::new();
    for (k, set) in sets.iter().enumerate() {
        eprintln!("planning {} ...", set.name);
        for &n in &args.shards {
            part1.push(exact_cell(set, n));
            part2.push(realistic_cell(set, &scenarios[k], n, &args));
        }
    }

    if let Some(workers) = pending {
        eprintln!("waiting for pytest-split ...");
        let mut jobs: Vec<(usize, u8, usize, Algo, u32)> = Vec::new();
        let mut results = Vec::new();
        for ps in workers {
            jobs.extend(
                ps.jobs
                    .iter()
                    .map(|j| (j.set, j.part, j.trial, j.algo, j.shards)),
            );
            results.extend(finish_pytest_split(ps)?);
        }
        for ((set, part, trial, algo, n), r) in jobs.into_iter().zip(results) {
            let row =
                set * args.shards.len() + args.shards.iter().position(|&s| s == n).unwrap_or(0);
            let cell = if part == 1 {
                &mut part1[row]
            } else {
                &mut part2[row]
            };
            let o = cell.outcomes.entry(algo).or_insert_with(|| Outcome {
                trials: vec![None; args.trials],
                ..Outcome::default()
            });
            o.plan_s = Some(o.plan_s.unwrap_or(0.0) + r.seconds.unwrap_or(0.0));
            if let Some(e) = r.error {
                o.error = Some(format!("pytest-split raised {e}"));
            }
            let tests = sets[set].ids.len();
            if let Some(groups) = r.groups {
                match checked_groups(&groups, tests, n) {
                    Err(e) => o.error = Some(format!("invalid groups: {e}")),
                    Ok(()) if part == 1 => {
                        let d = &sets[set].durations;
                        let shards = Shards::on_runners(groups, &[]);
                        o.value = Some(shards.wall(&[0.0], |t, _| d[t]));
                    }
                    Ok(()) => {
                        let pools = realistic_pools(n, &args);
                        let shards = Shards::on_runners(groups, &runner_pools(&pools));
                        o.trials[trial] =
                            Some(realized(&shards, &pools, &scenarios[set][trial].actual));
                    }
                }
            }
        }
        for cell in &mut part2 {
            for o in cell.outcomes.values_mut() {
                settle(o);
            }
        }
    }

    let (failures, within_noise) = judge(&part1, &part2);
    let markdown = report_markdown(&sets, &part1, &part2, &args, &failures, &within_noise);
    println!("{markdown}");
    let md_path = out.join("bench-plan-quality.md");
    fs::write(&md_path, &markdown).with_context(|| format!("writing {}", md_path.display()))?;
    let results = results_json(
        &args,
        &sets,
        &part1,
        &part2,
        (&failures, &within_noise),
        pytest_split_version.as_deref(),
        started.elapsed().as_secs_f64(),
    );
    let json_path = out.join("bench-plan-quality.json");
    fs::write(&json_path, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    println!(
        "results: {} and {} ({:.0} s)",
        md_path.display(),
        json_path.display(),
        started.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "\nFAILED: `timing` misses the issue's bar in {} places:",
            failures.len()
        );
        for f in &failures {
            eprintln!("- {f}");
        }
        Ok(ExitCode::FAILURE)
    }
}

fn exact_cell(set: &TimingSet, n: u32) -> Cell {
    let d = &set.durations;
    let bound = (set.total() / f64::from(n)).max(set.longest());
    let problem = Problem {
        tests: set
            .ids
            .iter()
            .zip(d)
            .map(|(id, &d)| PlanTest::new(id.clone(), d))
            .collect(),
        shards: n,
        ..Problem::default()
    };
    let pools = strategy::effective_pools(&problem);
    let mut outcomes = BTreeMap::new();
    for algo in [Algo::Timing, Algo::DtfRoundRobin] {
        let name = algo.dtf_strategy().unwrap_or_default();
        let (result, secs) = plan_dtf(name, &problem, &pools);
        let o = match result {
            Ok((_, shards)) => Outcome {
                value: Some(shards.wall(&[0.0], |t, _| d[t])),
                plan_s: Some(secs),
                ..Outcome::default()
            },
            Err(e) => Outcome {
                error: Some(e),
                plan_s: Some(secs),
                ..Outcome::default()
            },
        };
        outcomes.insert(algo, o);
    }
    let rr = Shards::on_runners(plain_round_robin(d.len(), n), &[]);
    outcomes.insert(
        Algo::RoundRobin,
        Outcome {
            value: Some(rr.wall(&[0.0], |t, _| d[t])),
            ..Outcome::default()
        },
    );
    Cell {
        set: set.name.clone(),
        tests: d.len(),
        shards: n,
        bound,
        outcomes,
        new_tests: 0,
        bounds: Vec::new(),
    }
}

/// Part 2's value of an algorithm: the mean over the trials, when every trial ran.
fn settle(o: &mut Outcome) {
    if o.error.is_none() && !o.trials.is_empty() {
        o.value = o
            .trials
            .iter()
            .copied()
            .sum::<Option<f64>>()
            .map(|s| s / o.trials.len() as f64);
    }
}

/// Wall time of `shards` when each test takes its actual time on its pool.
fn realized(shards: &Shards, pools: &[Pool], actual: &[f64]) -> f64 {
    let startup: Vec<f64> = pools.iter().map(|p| p.startup).collect();
    shards.wall(&startup, |t, p| {
        actual[t] / pools.get(p).map_or(1.0, |p| p.speed)
    })
}

/// No plan on these runners can finish sooner: every runner pays start-up once, and
/// then either the work is spread perfectly by speed or the longest test runs alone on
/// the fastest runner.
fn realized_bound(pools: &[Pool], actual: &[f64]) -> f64 {
    let capacity: f64 = pools.iter().map(|p| f64::from(p.runners) * p.speed).sum();
    let fastest = pools.iter().map(|p| p.speed).fold(0.0, f64::max);
    let startup = pools
        .iter()
        .map(|p| p.startup)
        .fold(f64::INFINITY, f64::min);
    let total: f64 = actual.iter().sum();
    let longest = actual.iter().copied().fold(0.0, f64::max);
    startup + (total / capacity).max(longest / fastest)
}

fn realistic_cell(set: &TimingSet, trials: &[Scenario], n: u32, args: &QualityArgs) -> Cell {
    let pools = realistic_pools(n, args);
    let runners = runner_pools(&pools);
    let mut outcomes: BTreeMap<Algo, Outcome> = BTreeMap::new();
    let mut bounds = Vec::with_capacity(trials.len());
    for (t, sc) in trials.iter().enumerate() {
        bounds.push(realized_bound(&pools, &sc.actual));
        let problem = Problem {
            tests: sc.dtf_tests.clone(),
            pools: pools.clone(),
            shards: n,
            ..Problem::default()
        };
        for algo in [Algo::Timing, Algo::DtfRoundRobin] {
            let name = algo.dtf_strategy().unwrap_or_default();
            let (result, secs) = plan_dtf(name, &problem, &pools);
            let o = outcomes.entry(algo).or_insert_with(|| Outcome {
                trials: vec![None; trials.len()],
                ..Outcome::default()
            });
            o.plan_s = Some(o.plan_s.unwrap_or(0.0) + secs);
            match result {
                Ok((a, shards)) => {
                    o.trials[t] = Some(realized(&shards, &pools, &sc.actual));
                    let p = strategy::predicted_wall(&problem, &a) / trials.len() as f64;
                    o.predicted = Some(o.predicted.unwrap_or(0.0) + p);
                }
                Err(e) => o.error = Some(e),
            }
        }
        let rr = Shards::on_runners(plain_round_robin(set.ids.len(), n), &runners);
        let o = outcomes.entry(Algo::RoundRobin).or_insert_with(|| Outcome {
            trials: vec![None; trials.len()],
            ..Outcome::default()
        });
        o.trials[t] = Some(realized(&rr, &pools, &sc.actual));
    }
    for o in outcomes.values_mut() {
        settle(o);
    }
    Cell {
        set: set.name.clone(),
        tests: set.ids.len(),
        shards: n,
        bound: bounds.iter().sum::<f64>() / bounds.len().max(1) as f64,
        outcomes,
        new_tests: trials.first().map_or(0, |sc| sc.new_tests),
        bounds,
    }
}

/// The bar, cell by cell; each failure says where and by how much.
/// Part 2 compares means of random draws: a loss smaller than two paired standard
/// errors is not evidence that `timing` is worse, and is listed apart (second vector)
/// rather than failing the run.
fn judge(part1: &[Cell], part2: &[Cell]) -> (Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    let mut within_noise = Vec::new();
    for (part, cells) in [(1, part1), (2, part2)] {
        for c in cells {
            let mut at = format!("part {part}, set {}, {} shards", c.set, c.shards);
            if part == 2 {
                let _ = write!(at, " (mean of {} trials)", c.bounds.len());
            }
            let Some(t) = c.value(Algo::Timing) else {
                let why = c
                    .outcomes
                    .get(&Algo::Timing)
                    .and_then(|o| o.error.clone())
                    .unwrap_or_else(|| "no result".into());
                failures.push(format!("{at}: dtf timing failed: {why}"));
                continue;
            };
            for &a in &ALGOS[1..] {
                if let Some(v) = c.value(a)
                    && worse(t, v)
                {
                    // Part 2: say whether the loss stands out from the draws' noise.
                    let (noise, noisy) = match paired(c, a) {
                        Some((diff, se)) if part == 2 && c.bounds.len() > 1 => (
                            format!(
                                "; paired difference {} ± {} (2 standard errors)",
                                secs(diff),
                                secs(2.0 * se),
                            ),
                            diff <= 2.0 * se,
                        ),
                        _ => (String::new(), false),
                    };
                    let list = if noisy {
                        &mut within_noise
                    } else {
                        &mut failures
                    };
                    list.push(format!(
                        "{at}: dtf timing {} ({:.4}× the {}lower bound) is worse than {} {} ({:.4}×){noise}",
                        secs(t),
                        ratio(t, c.bound),
                        if part == 2 { "realized " } else { "" },
                        a.label(),
                        secs(v),
                        ratio(v, c.bound)
                    ));
                }
            }
            let per_shard = c.tests as f64 / f64::from(c.shards);
            if part == 1 && per_shard >= 20.0 && ratio(t, c.bound) > 1.002 {
                failures.push(format!(
                    "{at} ({per_shard:.0} tests a shard): dtf timing is {:.4}× the lower bound (limit 1.002): makespan {} vs bound {}",
                    ratio(t, c.bound),
                    secs(t),
                    secs(c.bound)
                ));
            }
        }
    }
    (failures, within_noise)
}

fn secs(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0} s")
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.4} s")
    }
}

fn cell_ratio(c: &Cell, a: Algo) -> String {
    match c.outcomes.get(&a) {
        Some(Outcome { value: Some(v), .. }) => format!("{:.4}", ratio(*v, c.bound)),
        Some(Outcome { error: Some(_), .. }) => "error".into(),
        _ => "–".into(),
    }
}

fn report_markdown(
    sets: &[TimingSet],
    part1: &[Cell],
    part2: &[Cell],
    args: &QualityArgs,
    failures: &[String],
    within_noise: &[String],
) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "## Timing sets\n");
    let _ = writeln!(
        m,
        "| set | kind | tests | total s | longest s | median s | source |\n|---|---|---:|---:|---:|---:|---|"
    );
    for s in sets {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {:.1} | {:.3} | {:.4} | {} |",
            s.name,
            s.kind,
            s.ids.len(),
            s.total(),
            s.longest(),
            s.median(),
            s.source
        );
    }
    let header = ALGOS.iter().map(|a| a.label()).collect::<Vec<_>>();
    let _ = writeln!(
        m,
        "\n## Part 1: durations known exactly (makespan / lower bound; 1.0000 is perfect)\n"
    );
    let _ = writeln!(
        m,
        "| set | shards | tests/shard | lower bound s | {} |\n|---|---:|---:|---:|{}",
        header.join(" | "),
        "---:|".repeat(ALGOS.len())
    );
    for c in part1 {
        let _ = writeln!(
            m,
            "| {} | {} | {:.1} | {:.3} | {} |",
            c.set,
            c.shards,
            c.tests as f64 / f64::from(c.shards),
            c.bound,
            ALGOS
                .iter()
                .map(|&a| cell_ratio(c, a))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    summary_table(&mut m, part1, Some(20.0));

    let _ = writeln!(
        m,
        "\n## Part 2: realistic (realized wall time / realized lower bound, mean of {} trials)\n\n\
         History × log-normal noise (sigma {}), {:.0}% new tests, {} s start-up per shard, \
         a quarter of the runners (at least one) {:.0}% slower; pytest-split and round-robin \
         groups go to runners in order, the slow pool last. Each trial draws its own noise \
         and its own new tests.\n",
        args.trials,
        args.noise_sigma,
        args.new_fraction * 100.0,
        args.startup,
        (args.slow_factor - 1.0) * 100.0
    );
    let _ = writeln!(
        m,
        "| set | shards | realized bound s | {} | timing vs best other | timing best in |\n|---|---:|---:|{}---|---:|",
        header.join(" | "),
        "---:|".repeat(ALGOS.len())
    );
    for c in part2 {
        let _ = writeln!(
            m,
            "| {} | {} | {:.2} | {} | {} | {}/{} |",
            c.set,
            c.shards,
            c.bound,
            ALGOS
                .iter()
                .map(|&a| cell_ratio(c, a))
                .collect::<Vec<_>>()
                .join(" | "),
            gain_text(c),
            timing_wins(c),
            c.bounds.len()
        );
    }
    summary_table(&mut m, part2, None);
    let gains: Vec<f64> = part2.iter().filter_map(gain).collect();
    if !gains.is_empty() {
        let mut g = gains.clone();
        g.sort_by(f64::total_cmp);
        let best = part2
            .iter()
            .filter(|c| gain(c).is_some_and(|g| g >= -1e-9))
            .count();
        let _ = writeln!(
            m,
            "\n`timing` is best (or tied) in {best} of {} cells; its wall time is shorter than the best other \
             algorithm's by {:.1}% at the median, {:.1}% at least, {:.1}% at most.",
            gains.len(),
            g[g.len() / 2] * 100.0,
            g[0] * 100.0,
            g[g.len() - 1] * 100.0
        );
        let significant = part2
            .iter()
            .filter(|c| {
                ALGOS[1..].iter().any(|&a| {
                    paired(c, a).is_some_and(|(diff, se)| c.bounds.len() > 1 && diff > 2.0 * se)
                })
            })
            .count();
        let _ = writeln!(
            m,
            "Cells where `timing` is slower than another algorithm by more than two paired standard errors: {significant}."
        );
    }
    if !within_noise.is_empty() {
        let _ = writeln!(
            m,
            "\nLosses within the noise of the draws (not counted as failures):\n"
        );
        for f in within_noise {
            let _ = writeln!(m, "- {f}");
        }
    }
    if failures.is_empty() {
        let _ = writeln!(m, "\nAll checks passed.");
    } else {
        let _ = writeln!(m, "\n**{} checks failed:**\n", failures.len());
        for f in failures {
            let _ = writeln!(m, "- {f}");
        }
    }
    m
}

/// In how many trials `timing`'s wall time was the shortest (ties count).
fn timing_wins(c: &Cell) -> usize {
    let Some(t) = c.outcomes.get(&Algo::Timing) else {
        return 0;
    };
    (0..t.trials.len())
        .filter(|&i| {
            let Some(mine) = t.trials[i] else {
                return false;
            };
            ALGOS[1..].iter().all(|a| {
                c.outcomes
                    .get(a)
                    .and_then(|o| o.trials.get(i).copied().flatten())
                    .is_none_or(|v| !worse(mine, v))
            })
        })
        .count()
}

/// How much shorter `timing`'s wall time is than the best other algorithm's (0.1 = 10%).
fn gain(c: &Cell) -> Option<f64> {
    let t = c.value(Algo::Timing)?;
    let (_, v) = c.best_other()?;
    (v > 0.0).then(|| (v - t) / v)
}

fn gain_text(c: &Cell) -> String {
    match (gain(c), c.best_other()) {
        (Some(g), Some((a, v))) => match paired(c, a) {
            Some((_, se)) if c.bounds.len() > 1 => format!(
                "{:+.1}% ± {:.1}% vs {}",
                -g * 100.0,
                2.0 * se / v * 100.0,
                a.label()
            ),
            _ => format!("{:+.1}% vs {}", -g * 100.0, a.label()),
        },
        _ => "–".into(),
    }
}

/// Part 2: `timing` minus `other`, trial by trial (the same draws): the mean
/// difference in seconds and its standard error. Positive means `timing` was slower.
fn paired(c: &Cell, other: Algo) -> Option<(f64, f64)> {
    let mine = &c.outcomes.get(&Algo::Timing)?.trials;
    let theirs = &c.outcomes.get(&other)?.trials;
    let d: Vec<f64> = mine
        .iter()
        .zip(theirs)
        .filter_map(|(a, b)| Some((*a)? - (*b)?))
        .collect();
    if d.is_empty() {
        return None;
    }
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n;
    let var = if d.len() > 1 {
        d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Some((mean, (var / n).sqrt()))
}

/// Per algorithm: mean and worst ratio over all cells (and over the cells with at
/// least `dense` tests a shard).
fn summary_table(m: &mut String, cells: &[Cell], dense: Option<f64>) {
    let _ = writeln!(m);
    match dense {
        Some(d) => {
            let _ = writeln!(
                m,
                "| algorithm | mean | worst | worst at ≥ {d:.0} tests/shard |\n|---|---:|---:|---:|"
            );
        }
        None => {
            let _ = writeln!(m, "| algorithm | mean | worst |\n|---|---:|---:|");
        }
    }
    for &a in &ALGOS {
        let all: Vec<f64> = cells.iter().filter_map(|c| c.ratio(a)).collect();
        if all.is_empty() {
            continue;
        }
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        let worst = all.iter().copied().fold(0.0, f64::max);
        let _ = write!(m, "| {} | {mean:.4} | {worst:.4} |", a.label());
        if let Some(d) = dense {
            let w = cells
                .iter()
                .filter(|c| c.tests as f64 / f64::from(c.shards) >= d)
                .filter_map(|c| c.ratio(a))
                .fold(0.0, f64::max);
            let _ = write!(m, " {w:.4} |");
        }
        let _ = writeln!(m);
    }
}

fn cell_json(c: &Cell, part: u8) -> Value {
    let results: serde_json::Map<String, Value> = c
        .outcomes
        .iter()
        .map(|(a, o)| {
            let mut v = json!({
                if part == 1 { "makespan_s" } else { "wall_s" }: o.value,
                "ratio": o.value.map(|v| ratio(v, c.bound)),
                "plan_s": o.plan_s,
                "error": o.error,
            });
            if let Some(obj) = v.as_object_mut() {
                if let Some(p) = o.predicted {
                    obj.insert("predicted_wall_s".into(), json!(p));
                }
                if part == 2 {
                    obj.insert("trials_wall_s".into(), json!(o.trials));
                }
            }
            (a.key().to_string(), v)
        })
        .collect();
    let mut v = json!({
        "set": c.set,
        "tests": c.tests,
        "shards": c.shards,
        "tests_per_shard": c.tests as f64 / f64::from(c.shards),
        if part == 1 { "lower_bound_s" } else { "realized_lower_bound_s" }: c.bound,
        "results": results,
    });
    if part == 2
        && let Some(obj) = v.as_object_mut()
    {
        obj.insert("new_tests".into(), json!(c.new_tests));
        obj.insert("trials_realized_lower_bound_s".into(), json!(c.bounds));
        obj.insert("timing_best_in_trials".into(), json!(timing_wins(c)));
        obj.insert(
            "timing_vs_best_other".into(),
            match (gain(c), c.best_other()) {
                (Some(g), Some((a, w))) => json!({
                    "other": a.key(),
                    "other_wall_s": w,
                    "timing_shorter_by": g,
                }),
                _ => Value::Null,
            },
        );
    }
    v
}

fn results_json(
    args: &QualityArgs,
    sets: &[TimingSet],
    part1: &[Cell],
    part2: &[Cell],
    (failures, within_noise): (&[String], &[String]),
    pytest_split: Option<&str>,
    elapsed: f64,
) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    json!({
        "schema": "dtf.bench.v1",
        "benchmark": "plan-quality",
        "unix_time": now,
        "elapsed_s": elapsed,
        "passed": failures.is_empty(),
        "failures": failures,
        "within_noise": within_noise,
        "params": {
            "shards": args.shards,
            "seed": args.seed,
            "noise_sigma": args.noise_sigma,
            "new_fraction": args.new_fraction,
            "startup_s": args.startup,
            "slow_factor": args.slow_factor,
            "trials": args.trials,
            "slow_runners": "max(1, shards / 4)",
        },
        "tools": {
            "dtf": env!("CARGO_PKG_VERSION"),
            "pytest_split": pytest_split,
        },
        "algorithms": ALGOS.iter().map(|a| json!({"key": a.key(), "label": a.label()})).collect::<Vec<_>>(),
        "method": {
            "part1": "makespan with exact durations on identical runners / max(total / shards, longest test)",
            "part2": "mean over the trials of the realized wall time (actual = history × log-normal noise; start-up per invocation; slow pool) / \
                      (start-up + max(total actual / summed runner speed, longest actual / fastest speed))",
            "checks": "timing never worse than any other algorithm (both parts); part 1 timing ≤ 1.002 × bound at ≥ 20 tests a shard",
        },
        "machine": machine_info(),
        "sets": sets.iter().map(|s| json!({
            "name": s.name,
            "kind": s.kind,
            "source": s.source,
            "tests": s.ids.len(),
            "total_s": s.total(),
            "longest_s": s.longest(),
            "median_s": s.median(),
        })).collect::<Vec<_>>(),
        "part1": part1.iter().map(|c| cell_json(c, 1)).collect::<Vec<_>>(),
        "part2": part2.iter().map(|c| cell_json(c, 2)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn args() -> QualityArgs {
        QualityArgs {
            shards: vec![2],
            out: None,
            seed: 1,
            sets: Vec::new(),
            python: "python3".into(),
            skip_pytest_split: true,
            trials: 1,
            noise_sigma: 0.3,
            new_fraction: 0.1,
            startup: 5.0,
            slow_factor: 1.3,
        }
    }

    #[test]
    fn pools_put_a_quarter_of_the_runners_in_the_slow_pool() {
        let check = |shards: u32, standard: u32, slow: u32| {
            let pools = realistic_pools(shards, &args());
            assert_eq!(pools[0].runners, standard, "{shards}");
            assert_eq!(pools.get(1).map_or(0, |p| p.runners), slow, "{shards}");
            assert_eq!(runner_pools(&pools).len(), shards as usize);
        };
        check(1, 1, 0);
        check(2, 1, 1);
        check(4, 3, 1);
        check(8, 6, 2);
        check(256, 192, 64);
    }

    #[test]
    fn realized_wall_and_bound() {
        let pools = realistic_pools(2, &args());
        let actual = [13.0, 10.0, 2.0];
        // Standard runner: 13 + 2; slow runner: 10 × 1.3 = 13; both + 5 start-up.
        let s = Shards::on_runners(vec![vec![0, 2], vec![1]], &runner_pools(&pools));
        assert!((realized(&s, &pools, &actual) - 20.0).abs() < 1e-9);
        // An empty shard starts nothing.
        let s = Shards::on_runners(vec![vec![0, 1, 2], vec![]], &runner_pools(&pools));
        assert!((realized(&s, &pools, &actual) - 30.0).abs() < 1e-9);
        // Capacity 1 + 1/1.3: 25 / 1.769 = 14.13 > longest 13.
        let b = realized_bound(&pools, &actual);
        assert!((b - (5.0 + 25.0 / (1.0 + 1.0 / 1.3))).abs() < 1e-9, "{b}");
    }

    #[test]
    fn checks_catch_bad_plans() {
        let ok = |groups: &[Vec<usize>], tests, shards| checked_groups(groups, tests, shards);
        assert!(ok(&[vec![0, 2], vec![1]], 3, 2).is_ok());
        assert!(ok(&[vec![0, 2], vec![1, 2]], 3, 2).is_err());
        assert!(ok(&[vec![0], vec![1]], 3, 2).is_err());
        assert!(ok(&[vec![0, 1, 2]], 3, 2).is_err());
    }

    #[test]
    fn scenario_marks_a_tenth_new_and_dtf_estimates_them() {
        let set = plan_sets::synthetic_sets(3)
            .into_iter()
            .find(|s| s.name == "uniform")
            .unwrap();
        let sc = scenario(&set, &args(), 0);
        assert_eq!(sc.new_tests, 1_000);
        assert_eq!(sc.history.len(), 9_000);
        assert_eq!(sc.dtf_tests.iter().filter(|t| t.estimated).count(), 1_000);
        for t in sc.dtf_tests.iter().filter(|t| !t.estimated) {
            assert!((1.0..=10.0).contains(&t.duration));
        }
        // Noise around 1: the actual total stays near the history's.
        let ratio = sc.actual.iter().sum::<f64>() / set.total();
        assert!((0.95..1.15).contains(&ratio), "{ratio}");
    }

    #[test]
    fn judge_names_the_set_the_shards_and_the_ratio() {
        let mut c = Cell {
            set: "s".into(),
            tests: 100,
            shards: 2,
            bound: 10.0,
            outcomes: BTreeMap::new(),
            new_tests: 0,
            bounds: Vec::new(),
        };
        let mut put = |a: Algo, v: f64| {
            c.outcomes.insert(
                a,
                Outcome {
                    value: Some(v),
                    ..Outcome::default()
                },
            );
        };
        put(Algo::Timing, 10.1);
        put(Algo::LeastDuration, 10.05);
        let (f, _) = judge(&[c], &[]);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].contains("set s, 2 shards") && f[0].contains("least_duration"));
        assert!(f[1].contains("1.0100× the lower bound"), "{}", f[1]);
    }

    #[test]
    fn part_two_losses_within_the_noise_are_listed_apart() {
        let cell = |timing: [f64; 4], other: [f64; 4]| {
            let mut c = Cell {
                set: "s".into(),
                tests: 100,
                shards: 4,
                bound: 10.0,
                outcomes: BTreeMap::new(),
                new_tests: 0,
                bounds: vec![10.0; 4],
            };
            for (a, v) in [(Algo::Timing, timing), (Algo::RoundRobin, other)] {
                let mut o = Outcome {
                    trials: v.iter().copied().map(Some).collect(),
                    ..Outcome::default()
                };
                settle(&mut o);
                c.outcomes.insert(a, o);
            }
            c
        };
        // Worse by 0.1 s on average, but the draws disagree: noise.
        let noisy = cell([10.0, 12.0, 10.0, 12.4], [11.0, 11.0, 11.0, 11.0]);
        let (f, n) = judge(&[], &[noisy]);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(n.len(), 1);
        assert!(n[0].contains("paired difference"), "{}", n[0]);
        // Worse by 1 s in every draw: a failure.
        let clear = cell([12.0, 12.1, 11.9, 12.0], [11.0, 11.0, 11.0, 11.0]);
        let (f, n) = judge(&[], &[clear]);
        assert_eq!((f.len(), n.len()), (1, 0), "{f:?}");
    }
}
