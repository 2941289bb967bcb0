//! `cargo xtask bench-plan-speed`: how long planning a large suite takes, and how
//! much memory, against the issue's target of under 1 second and 200 MB for 100,000
//! tests on 256 shards with dependencies and 4 pools.
//!
//! The workload is what a big monorepo brings: 100,000 tests in modules of 50, 2,000
//! chains of 2–5 dependent tests, 4 pools with capabilities (x86 Linux, ARM Linux,
//! NVIDIA GPUs, macOS with WebGPU browsers) and requirements on 10% of the tests.
//! It is written as the two files a user would have (`timings.json` in pytest-split's
//! format and `dtf.toml`), and planned two ways:
//!
//! - **library**: this binary re-runs itself (`--in-process`) to take the path the CLI
//!   takes, from the files' text to `plan.json`'s text, in one fresh process:
//!   history, inventory, `dtf.toml` with requirements and dependencies, the `timing`
//!   strategy, the plan document. Best of `--runs`; peak memory is the child's
//!   `ru_maxrss` from GNU time (`VmHWM` from `/proc/self/status` without it), which
//!   counts the input text too.
//! - **CLI**: `dtf plan --shards 256 --timings timings.json --config dtf.toml -o
//!   plan.json` under GNU time, when this dtf build has a working `plan` command.
//!
//! Both plans are checked, not just timed: every test exactly once, every chain in one
//! shard in order, every test with a requirement on a pool that meets it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use dtf_plan::capability::{ResolveOptions, resolve_with};
use dtf_plan::config::Config;
use dtf_plan::durations::{HistoryOptions, parse_json_timings};
use dtf_plan::inventory::{Inventory, Unit};
use dtf_plan::model::Problem;
use dtf_plan::output::build_plan;
use dtf_plan::strategy;
use serde_json::{Value, json};

use crate::bench::{DEFAULT_SEED, GNU_TIME, machine_info, parse_rss, workspace_root};
use crate::rng::Rng;

const TARGET_S: f64 = 1.0;
const TARGET_MB: f64 = 200.0;
const TESTS_PER_MODULE: usize = 50;

#[derive(Args, Debug)]
pub struct SpeedArgs {
    #[arg(long, default_value_t = 100_000)]
    tests: usize,
    #[arg(long, default_value_t = 256)]
    shards: u32,
    /// Chains of 2–5 dependent tests.
    #[arg(long, default_value_t = 2_000)]
    chains: usize,
    /// Planning runs; the best (lowest) wall time is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Where inputs, plans and results go [default: target/dtf-bench/plan-speed].
    #[arg(long)]
    work: Option<PathBuf>,
    /// Use target/release/dtf as it is instead of running `cargo build --release -p dtf` first.
    #[arg(long)]
    no_build: bool,
    /// Only time the library.
    #[arg(long)]
    skip_cli: bool,
    /// Internal: plan in this process and print the measurements as JSON.
    #[arg(long, hide = true)]
    in_process: bool,
}

/// The two input files and what a correct plan must respect.
struct Workload {
    ids: Vec<String>,
    timings_json: String,
    toml: String,
    /// (before, after) test ids.
    links: Vec<(String, String)>,
    chains: usize,
    /// (id prefix, pools that can run it).
    required: Vec<(&'static str, &'static [&'static str])>,
    required_tests: usize,
}

/// Module prefixes of the tests with requirements, and the pools that meet them.
const KINDS: [(&str, &[&str]); 3] = [
    ("tests.gpu.", &["gpu"]),
    ("tests.web.", &["browsers"]),
    ("tests.arm.", &["linux-arm", "browsers"]),
];

fn workload(args: &SpeedArgs) -> Workload {
    let mut rng = Rng::new(args.seed ^ 0x73_7065_6564);
    let modules = args.tests.div_ceil(TESTS_PER_MODULE);
    // The first 10% of modules have requirements: half GPU, a quarter each web and ARM.
    let special = modules / 10;
    let kind_of = |m: usize| -> &'static str {
        if m < special / 2 {
            "gpu"
        } else if m < special * 3 / 4 {
            "web"
        } else if m < special {
            "arm"
        } else {
            "core"
        }
    };
    let id = |i: usize| {
        let m = i / TESTS_PER_MODULE;
        format!(
            "tests.{}.m{m:04}::test_{:03}",
            kind_of(m),
            i % TESTS_PER_MODULE
        )
    };
    let ids: Vec<String> = (0..args.tests).map(id).collect();
    let mut timings = String::with_capacity(args.tests * 48);
    timings.push_str("{\n");
    for (i, t) in ids.iter().enumerate() {
        let d = (rng.log_normal(0.5, 1.2) * 1e3).round().max(1.0) / 1e3;
        let sep = if i + 1 == ids.len() { "" } else { "," };
        let _ = writeln!(timings, "  \"{t}\": {d}{sep}");
    }
    timings.push_str("}\n");

    // Chains live inside one core module each, tests next to each other, as fixtures
    // that build on each other do.
    let core: Vec<usize> = (special..modules).collect();
    let mut links = Vec::new();
    let mut chains = 0;
    for c in 0..args.chains {
        let Some(&m) = core.get(c % core.len().max(1)) else {
            break;
        };
        let start = m * TESTS_PER_MODULE + (c / core.len()) * 10;
        let len = rng.range(2, 5);
        if (c / core.len()) * 10 + len > TESTS_PER_MODULE || start + len > args.tests {
            continue;
        }
        for k in start..start + len - 1 {
            links.push((ids[k].clone(), ids[k + 1].clone()));
        }
        chains += 1;
    }

    let n = args.shards;
    let gpu = (n / 16).max(1);
    let browsers = (n / 8).max(1);
    let arm = (n * 3 / 16).max(1);
    let linux = n.saturating_sub(gpu + browsers + arm).max(1);
    let mut toml = format!(
        r#"# Generated by `cargo xtask bench-plan-speed`.
[plan]
strategy = "timing"

[[pool]]
name = "linux"
labels = ["ubuntu-latest"]
runners = {linux}
startup = "20s"
capabilities = {{ os = "linux", arch = "x86_64", cpu.cores = 4, memory = "16GB" }}

[[pool]]
name = "linux-arm"
labels = ["ubuntu-24.04-arm"]
runners = {arm}
speed = 0.9
startup = "20s"
capabilities = {{ os = "linux", arch = "arm64", cpu.cores = 4, memory = "16GB" }}

[[pool]]
name = "gpu"
labels = ["self-hosted", "gpu-a100"]
runners = {gpu}
speed = 1.5
startup = "60s"
[pool.capabilities]
os = "linux"
arch = "x86_64"
cpu.cores = 32
memory = "256GB"
cuda = "12.4"
gpu = {{ vendor = "nvidia", model = "A100", memory = "80GB" }}

[[pool]]
name = "browsers"
labels = ["macos-14"]
runners = {browsers}
startup = "30s"
[pool.capabilities]
os = "macos"
arch = "arm64"
memory = "7GB"
[pool.capabilities.browser.chrome]
version = "126.0.6478.127"
features = ["webgpu", "webnn"]

[[require]]
tests = "tests.gpu.*"
needs = ["gpu.vendor = nvidia", "cuda >= 12.1", "gpu.memory >= 40GB"]

[[require]]
tests = "tests.web.*"
needs = ["browser.chrome.features has webgpu"]

[[require]]
tests = "tests.arm.*"
needs = "arch = arm64"
"#
    );
    for (a, b) in &links {
        let _ = write!(
            toml,
            "\n[[dependency]]\nbefore = \"{a}\"\nafter = \"{b}\"\n"
        );
    }
    let required_tests = ids
        .iter()
        .filter(|id| KINDS.iter().any(|(p, _)| id.starts_with(p)))
        .count();
    Workload {
        ids,
        timings_json: timings,
        toml,
        links,
        chains,
        required: KINDS.to_vec(),
        required_tests,
    }
}

/// Seconds spent in each stage of one planning run.
#[derive(Clone, Copy, Debug, Default)]
struct Stages {
    history: f64,
    config: f64,
    strategy: f64,
    output: f64,
}

impl Stages {
    fn total(&self) -> f64 {
        self.history + self.config + self.strategy + self.output
    }
}

/// The CLI's path from the files' text to `plan.json`'s text.
fn plan_once(w: &Workload, shards: u32) -> Result<(Stages, String)> {
    let t0 = Instant::now();
    let history = parse_json_timings(&w.timings_json, "timings.json")?
        .into_history(&HistoryOptions::default())?;
    let mut tests = Inventory::from_history(&history).plan_tests(Unit::Test, &history);
    let t1 = Instant::now();
    let config = Config::from_toml(&w.toml, "dtf.toml")?;
    let resolved = resolve_with(
        &config,
        &mut tests,
        ResolveOptions {
            partial_inventory: false,
            default_startup: config.plan.startup.unwrap_or(0.0),
        },
    )?;
    let mut problem = Problem {
        tests,
        shards,
        ..Problem::default()
    };
    resolved.apply(&mut problem);
    let t2 = Instant::now();
    let assignment = strategy::by_name("timing")?.plan(&problem)?;
    let t3 = Instant::now();
    let text = build_plan(&problem, &assignment, "timing").to_json();
    let t4 = Instant::now();
    Ok((
        Stages {
            history: (t1 - t0).as_secs_f64(),
            config: (t2 - t1).as_secs_f64(),
            strategy: (t3 - t2).as_secs_f64(),
            output: (t4 - t3).as_secs_f64(),
        },
        text,
    ))
}

/// What a checked plan looks like from outside.
#[derive(Debug)]
struct PlanFacts {
    shards: usize,
    predicted_wall_s: f64,
    lower_bound_s: f64,
}

/// Every test once, chains in one shard in order, requirements met by the shard's pool.
fn verify_plan(text: &str, w: &Workload) -> Result<PlanFacts> {
    let plan: Value = serde_json::from_str(text).context("plan.json is not JSON")?;
    let shards = plan
        .get("shards")
        .and_then(Value::as_array)
        .context("plan.json has no shards list")?;
    // id -> (shard, position)
    let mut at: HashMap<&str, (usize, usize)> = HashMap::with_capacity(w.ids.len());
    for (k, s) in shards.iter().enumerate() {
        let pool = s.get("pool").and_then(Value::as_str).unwrap_or("");
        let tests = s
            .get("tests")
            .and_then(Value::as_array)
            .context("a shard has no tests list")?;
        for (i, t) in tests.iter().enumerate() {
            let id = t.as_str().context("a test id is not a string")?;
            if at.insert(id, (k, i)).is_some() {
                bail!("test {id} is in the plan twice");
            }
            if let Some((_, ok)) = w.required.iter().find(|(p, _)| id.starts_with(p))
                && !ok.contains(&pool)
            {
                bail!("test {id} is on pool {pool:?}, which cannot run it");
            }
        }
    }
    if at.len() != w.ids.len() {
        let missing = w.ids.iter().find(|id| !at.contains_key(id.as_str()));
        bail!(
            "the plan holds {} tests of {}; e.g. {} is missing",
            at.len(),
            w.ids.len(),
            missing.map_or("?", String::as_str)
        );
    }
    for (a, b) in &w.links {
        let (sa, ia) = at.get(a.as_str()).copied().unwrap_or_default();
        let (sb, ib) = at.get(b.as_str()).copied().unwrap_or_default();
        if sa != sb || ia >= ib {
            bail!(
                "{b} must run after {a} in the same shard (shard {sa} #{ia} vs shard {sb} #{ib})"
            );
        }
    }
    Ok(PlanFacts {
        shards: shards.len(),
        predicted_wall_s: plan
            .get("predicted_wall_s")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN),
        lower_bound_s: plan
            .get("lower_bound_s")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN),
    })
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

/// The child side: plan `runs` times, print JSON.
fn in_process(args: &SpeedArgs) -> Result<ExitCode> {
    let w = workload(args);
    let mut runs = Vec::new();
    let mut facts = None;
    for _ in 0..args.runs.max(1) {
        let (stages, text) = plan_once(&w, args.shards)?;
        if facts.is_none() {
            facts = Some(verify_plan(&text, &w)?);
        }
        runs.push(stages);
    }
    let best = runs
        .iter()
        .copied()
        .min_by(|a, b| a.total().total_cmp(&b.total()))
        .unwrap_or_default();
    let facts = facts.context("no run")?;
    let out = json!({
        "runs_s": runs.iter().map(Stages::total).collect::<Vec<_>>(),
        "best_s": best.total(),
        "stages_s": {
            "history": best.history,
            "config": best.config,
            "strategy": best.strategy,
            "output": best.output,
        },
        "vm_hwm_kib": vm_hwm_kib(),
        "shards": facts.shards,
        "predicted_wall_s": facts.predicted_wall_s,
        "lower_bound_s": facts.lower_bound_s,
        "debug_build": cfg!(debug_assertions),
    });
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

pub fn bench_plan_speed(args: SpeedArgs) -> Result<ExitCode> {
    if args.in_process {
        return in_process(&args);
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this xtask is a debug build; run it as `cargo xtask` (release) for real figures"
        );
    }
    let root = workspace_root();
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| root.join("target/dtf-bench/plan-speed"));
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let w = workload(&args);
    let timings = work.join("timings.json");
    let config = work.join("dtf.toml");
    fs::write(&timings, &w.timings_json)
        .with_context(|| format!("writing {}", timings.display()))?;
    fs::write(&config, &w.toml).with_context(|| format!("writing {}", config.display()))?;
    eprintln!(
        "workload: {} tests, {} shards, {} chains ({} dependency pairs), 4 pools, {} tests with requirements; inputs in {}",
        w.ids.len(),
        args.shards,
        w.chains,
        w.links.len(),
        w.required_tests,
        work.display()
    );
    let gnu_time = Path::new(GNU_TIME).is_file();

    // Library, in a fresh child process so its peak memory is the planner's alone.
    let exe = std::env::current_exe().context("finding this executable")?;
    let rss_file = work.join("library.rss");
    let mut cmd = if gnu_time {
        let mut c = Command::new(GNU_TIME);
        c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args([
        "bench-plan-speed",
        "--in-process",
        "--tests",
        &args.tests.to_string(),
        "--shards",
        &args.shards.to_string(),
        "--chains",
        &args.chains.to_string(),
        "--runs",
        &args.runs.max(1).to_string(),
        "--seed",
        &args.seed.to_string(),
    ]);
    eprintln!("planning in-process (best of {}) ...", args.runs.max(1));
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running the in-process planner")?;
    if !out.status.success() {
        bail!("the in-process planner failed ({})", out.status);
    }
    let lib: Value = serde_json::from_slice(&out.stdout).context("reading its measurements")?;
    let lib_rss_kib = if gnu_time {
        fs::read_to_string(&rss_file)
            .ok()
            .and_then(|t| parse_rss(&t))
    } else {
        None
    }
    .or_else(|| lib.get("vm_hwm_kib").and_then(Value::as_u64));
    let lib_s = lib
        .get("best_s")
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN);

    let cli = if args.skip_cli {
        None
    } else {
        run_cli(&args, &root, &work, &timings, &config, &w)?
    };

    let mb = |kib: Option<u64>| kib.map(|k| k as f64 * 1024.0 / 1e6);
    let lib_mb = mb(lib_rss_kib);
    let stage = |k: &str| {
        lib.pointer(&format!("/stages_s/{k}"))
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    let verdict = |s: f64, m: Option<f64>| {
        if s < TARGET_S && m.is_some_and(|m| m < TARGET_MB) {
            "yes"
        } else {
            "**no**"
        }
    };
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| planner | wall s (best of {}) | peak RSS MB | shards | predicted wall | lower bound | under {TARGET_S} s and {TARGET_MB} MB |\n|---|---:|---:|---:|---:|---:|---|",
        args.runs.max(1)
    );
    let _ = writeln!(
        t,
        "| library, in-process (text in, plan.json text out) | {lib_s:.3} | {} | {} | {:.0} s | {:.0} s | {} |",
        lib_mb.map_or("?".into(), |m| format!("{m:.0}")),
        lib.get("shards").and_then(Value::as_u64).unwrap_or(0),
        lib.get("predicted_wall_s")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN),
        lib.get("lower_bound_s")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN),
        verdict(lib_s, lib_mb)
    );
    match &cli {
        Some(CliResult::Ran {
            wall_s,
            rss_kib,
            facts,
            ..
        }) => {
            let _ = writeln!(
                t,
                "| `dtf plan` CLI, end to end (files in, plan.json out) | {wall_s:.3} | {} | {} | {:.0} s | {:.0} s | {} |",
                mb(*rss_kib).map_or("?".into(), |m| format!("{m:.0}")),
                facts.shards,
                facts.predicted_wall_s,
                facts.lower_bound_s,
                verdict(*wall_s, mb(*rss_kib))
            );
        }
        Some(CliResult::Unavailable(why)) => {
            let _ = writeln!(t, "| `dtf plan` CLI | – | – | – | – | – | not run: {why} |");
        }
        None => {}
    }
    println!("\n{t}");
    println!(
        "library stages (best run): history {:.3} s, dtf.toml + capabilities + dependencies {:.3} s, timing strategy {:.3} s, plan.json {:.3} s",
        stage("history"),
        stage("config"),
        stage("strategy"),
        stage("output")
    );
    println!(
        "workload: {} tests, {} shards, {} chains of 2–5 tests ({} pairs), 4 pools, {} tests with requirements",
        w.ids.len(),
        args.shards,
        w.chains,
        w.links.len(),
        w.required_tests
    );

    let lib_ok = lib_s < TARGET_S && lib_mb.is_some_and(|m| m < TARGET_MB);
    let cli_ok = match &cli {
        Some(CliResult::Ran {
            wall_s, rss_kib, ..
        }) => *wall_s < TARGET_S && mb(*rss_kib).is_some_and(|m| m < TARGET_MB),
        _ => true,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let results = json!({
        "schema": "dtf.bench.v1",
        "benchmark": "plan-speed",
        "unix_time": now,
        "params": {
            "tests": w.ids.len(),
            "shards": args.shards,
            "chains": w.chains,
            "dependency_pairs": w.links.len(),
            "pools": 4,
            "tests_with_requirements": w.required_tests,
            "runs": args.runs.max(1),
            "seed": args.seed,
        },
        "targets": {"wall_s": TARGET_S, "peak_rss_mb": TARGET_MB},
        "library": {
            "wall_s": lib_s,
            "peak_rss_mb": lib_mb,
            "measurements": lib,
            "meets_targets": lib_ok,
        },
        "cli": cli.as_ref().map(CliResult::to_json),
        "method": {
            "wall": "best of the runs; library: from the input text to plan.json's text in one process; CLI: around the child process",
            "peak_rss": if gnu_time { "GNU time %M (ru_maxrss of the child)" } else { "VmHWM of the child" },
        },
        "machine": machine_info(),
    });
    let path = work.join("bench-plan-speed.json");
    fs::write(&path, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    println!("results: {}", path.display());
    if lib_ok && cli_ok {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("FAILED: planning misses the target of {TARGET_S} s and {TARGET_MB} MB");
        Ok(ExitCode::FAILURE)
    }
}

enum CliResult {
    Ran {
        command: Vec<String>,
        wall_s: f64,
        runs_s: Vec<f64>,
        rss_kib: Option<u64>,
        facts: PlanFacts,
    },
    Unavailable(String),
}

impl CliResult {
    fn to_json(&self) -> Value {
        match self {
            CliResult::Ran {
                command,
                wall_s,
                runs_s,
                rss_kib,
                facts,
            } => json!({
                "status": "ok",
                "command": command,
                "wall_s": wall_s,
                "runs_s": runs_s,
                "peak_rss_mb": rss_kib.map(|k| k as f64 * 1024.0 / 1e6),
                "shards": facts.shards,
                "predicted_wall_s": facts.predicted_wall_s,
                "lower_bound_s": facts.lower_bound_s,
                "meets_targets": *wall_s < TARGET_S
                    && rss_kib.is_some_and(|k| (k as f64 * 1024.0 / 1e6) < TARGET_MB),
            }),
            CliResult::Unavailable(why) => json!({"status": "unavailable", "reason": why}),
        }
    }
}

fn run_cli(
    args: &SpeedArgs,
    root: &Path,
    work: &Path,
    timings: &Path,
    config: &Path,
    w: &Workload,
) -> Result<Option<CliResult>> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release").join("dtf");
    if !args.no_build {
        eprintln!("building dtf: cargo build --release -p dtf");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "dtf"])
            .current_dir(root)
            .status()
            .context("running cargo build --release -p dtf")?;
        if !status.success() {
            return Ok(Some(CliResult::Unavailable(format!(
                "cargo build --release -p dtf failed ({status})"
            ))));
        }
    }
    if !bin.is_file() {
        return Ok(Some(CliResult::Unavailable(format!(
            "{} does not exist",
            bin.display()
        ))));
    }
    let help = Command::new(&bin)
        .args(["plan", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !help.map(|s| s.success()).unwrap_or(false) {
        return Ok(Some(CliResult::Unavailable(
            "this dtf build has no working `plan` command yet".into(),
        )));
    }
    let plan = work.join("plan.json");
    let rss_file = work.join("cli.rss");
    let stderr_log = work.join("cli.stderr.log");
    let cmd_args: Vec<String> = vec![
        "plan".into(),
        "--shards".into(),
        args.shards.to_string(),
        "--timings".into(),
        timings.display().to_string(),
        "--config".into(),
        config.display().to_string(),
        "-o".into(),
        plan.display().to_string(),
    ];
    let gnu_time = Path::new(GNU_TIME).is_file();
    let mut runs_s = Vec::new();
    let mut rss_kib: Option<u64> = None;
    for i in 0..args.runs.max(1) {
        let _ = fs::remove_file(&plan);
        let mut c = if gnu_time {
            let mut c = Command::new(GNU_TIME);
            c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        c.args(&cmd_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                fs::File::create(&stderr_log)
                    .with_context(|| format!("creating {}", stderr_log.display()))?,
            );
        eprintln!("dtf plan: run {}/{}", i + 1, args.runs.max(1));
        let started = Instant::now();
        let status = c.status().context("running dtf plan")?;
        let wall = started.elapsed().as_secs_f64();
        if !status.success() {
            let tail = fs::read_to_string(&stderr_log).unwrap_or_default();
            return Ok(Some(CliResult::Unavailable(format!(
                "dtf plan exited with {status}: {}",
                tail.lines().last().unwrap_or("").trim()
            ))));
        }
        runs_s.push(wall);
        if gnu_time {
            let r = fs::read_to_string(&rss_file)
                .ok()
                .and_then(|t| parse_rss(&t));
            rss_kib = rss_kib.max(r);
        }
    }
    let text = fs::read_to_string(&plan).with_context(|| format!("reading {}", plan.display()))?;
    let facts = verify_plan(&text, w).context("checking the CLI's plan.json")?;
    let mut command = vec![bin.display().to_string()];
    command.extend(cmd_args);
    Ok(Some(CliResult::Ran {
        command,
        wall_s: runs_s.iter().copied().fold(f64::INFINITY, f64::min),
        runs_s,
        rss_kib,
        facts,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn small() -> SpeedArgs {
        SpeedArgs {
            tests: 2_000,
            shards: 16,
            chains: 40,
            runs: 1,
            seed: 5,
            work: None,
            no_build: true,
            skip_cli: true,
            in_process: true,
        }
    }

    #[test]
    fn workload_has_the_documented_shape() {
        let w = workload(&small());
        assert_eq!(w.ids.len(), 2_000);
        assert_eq!(w.chains, 40);
        assert!((40..=160).contains(&w.links.len()), "{}", w.links.len());
        assert_eq!(w.required_tests, 200);
        let pairs = match parse_json_timings(&w.timings_json, "t").unwrap() {
            dtf_plan::durations::Timings::Map(p) => p,
            _ => panic!("not a map"),
        };
        assert_eq!(pairs.len(), 2_000);
        Config::from_toml(&w.toml, "dtf.toml").unwrap();
    }

    #[test]
    fn verify_rejects_broken_plans() {
        let w = Workload {
            ids: vec![
                "tests.core.m0::a".into(),
                "tests.core.m0::b".into(),
                "tests.gpu.m1::g".into(),
            ],
            timings_json: String::new(),
            toml: String::new(),
            links: vec![("tests.core.m0::a".into(), "tests.core.m0::b".into())],
            chains: 1,
            required: KINDS.to_vec(),
            required_tests: 1,
        };
        let plan = |shards: Value| {
            json!({"shards": shards, "predicted_wall_s": 1.0, "lower_bound_s": 1.0}).to_string()
        };
        let ok = plan(json!([
            {"pool": "linux", "tests": ["tests.core.m0::a", "tests.core.m0::b"]},
            {"pool": "gpu", "tests": ["tests.gpu.m1::g"]},
        ]));
        assert_eq!(verify_plan(&ok, &w).unwrap().shards, 2);
        for (bad, why) in [
            (
                json!([{"pool": "linux", "tests": ["tests.core.m0::b", "tests.core.m0::a"]}, {"pool": "gpu", "tests": ["tests.gpu.m1::g"]}]),
                "must run after",
            ),
            (
                json!([{"pool": "linux", "tests": ["tests.core.m0::a"]}, {"pool": "gpu", "tests": ["tests.core.m0::b", "tests.gpu.m1::g"]}]),
                "must run after",
            ),
            (
                json!([{"pool": "linux", "tests": ["tests.core.m0::a", "tests.core.m0::b", "tests.gpu.m1::g"]}]),
                "cannot run it",
            ),
            (
                json!([{"pool": "linux", "tests": ["tests.core.m0::a", "tests.core.m0::b"]}]),
                "missing",
            ),
            (
                json!([{"pool": "gpu", "tests": ["tests.core.m0::a", "tests.core.m0::b", "tests.gpu.m1::g", "tests.gpu.m1::g"]}]),
                "twice",
            ),
        ] {
            let e = verify_plan(&plan(bad), &w).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn small_workload_plans_and_verifies() {
        let w = workload(&small());
        let (stages, text) = plan_once(&w, 16).unwrap();
        assert!(stages.total() > 0.0);
        let facts = verify_plan(&text, &w).unwrap();
        assert!(facts.shards <= 16);
        assert!(facts.predicted_wall_s >= facts.lower_bound_s * 0.5);
    }
}
