//! The `dtf run` overhead benchmark: one shard of trivial tests run through `dtf run`
//! against the same framework run directly on the same tests.
//!
//! Trivial tests make the comparison as hard as it gets for dtf: the framework's own
//! work is as small as it can be, so whatever dtf adds (reading the plan, spawning the
//! framework, reading its JUnit back, writing the summary, timeline and bundle) is the
//! largest share of the wall time it will ever be. The target is under 5%.
//!
//! Both sides run as child processes with the same environment and the same interpreter
//! or build; wall time is measured here around the spawn, best of `--runs`, the two
//! sides alternating so that a slow moment of the machine hits both. One untimed
//! warm-up of each side comes first (Python's bytecode cache, the page cache, cargo's
//! freshness check).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::bench::{find_program, machine_info, resolve_pyenv_shim, version_of, workspace_root};

/// dtf may add at most this much wall time, in percent of the direct run.
const TARGET_PCT: f64 = 5.0;
/// Tests per generated file (pytest) or module (nextest).
const PER_GROUP: usize = 100;

#[derive(Args, Debug)]
pub struct RunBenchArgs {
    /// Trivial tests in the shard.
    #[arg(long, default_value_t = 2000)]
    tests: usize,
    /// Frameworks to time, comma separated: pytest, cargo-nextest.
    #[arg(long, value_delimiter = ',', default_value = "pytest,cargo-nextest")]
    frameworks: Vec<String>,
    /// Timed runs of each side; the best (lowest) wall time is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where the generated projects, plans, outputs and results go [default: target/dtf-bench/run].
    #[arg(long)]
    work: Option<PathBuf>,
    /// Use target/release/dtf as it is instead of running `cargo build --release -p dtf` first.
    #[arg(long)]
    no_build: bool,
    /// More arguments for `dtf run` (for example `--dtf-arg=--jobs --dtf-arg=2`).
    #[arg(long = "dtf-arg", allow_hyphen_values = true)]
    dtf_args: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framework {
    Pytest,
    Nextest,
}

impl Framework {
    fn parse(s: &str) -> Result<Framework> {
        match s.trim() {
            "pytest" => Ok(Framework::Pytest),
            "cargo-nextest" | "nextest" => Ok(Framework::Nextest),
            other => bail!("unknown framework `{other}` (known: pytest, cargo-nextest)"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Framework::Pytest => "pytest",
            Framework::Nextest => "cargo-nextest",
        }
    }
}

/// One side's timed runs.
#[derive(Debug, Default)]
struct Side {
    command: Vec<String>,
    runs_s: Vec<f64>,
    /// Through dtf: per run, the seconds its framework invocations took (from the
    /// timeline), so the overhead splits into dtf's own work and the framework's.
    framework_s: Vec<f64>,
    /// Testcases in the JUnit of the last run.
    junit_cases: Option<u64>,
}

impl Side {
    fn best_run(&self) -> Option<usize> {
        (0..self.runs_s.len()).min_by(|&a, &b| self.runs_s[a].total_cmp(&self.runs_s[b]))
    }

    fn best(&self) -> Option<f64> {
        self.best_run().map(|i| self.runs_s[i])
    }

    /// The framework's seconds inside the best run.
    fn best_framework(&self) -> Option<f64> {
        self.best_run()
            .and_then(|i| self.framework_s.get(i).copied())
    }

    fn to_json(&self) -> Value {
        json!({
            "command": self.command,
            "wall_s": self.best(),
            "runs_s": self.runs_s,
            "framework_s": (!self.framework_s.is_empty()).then_some(&self.framework_s),
            "framework_s_of_best": self.best_framework(),
            "junit_testcases": self.junit_cases,
        })
    }
}

/// One framework's comparison.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per framework, built once"
)]
enum Outcome {
    Ran {
        framework: Framework,
        version: Option<String>,
        direct: Side,
        dtf: Side,
        /// dtf's own summary of its last run.
        summary: Option<Value>,
    },
    Unavailable {
        framework: Framework,
        reason: String,
    },
}

impl Outcome {
    fn overhead_pct(&self) -> Option<f64> {
        match self {
            Outcome::Ran { direct, dtf, .. } => {
                let (d, t) = (direct.best()?, dtf.best()?);
                Some((t - d) / d * 100.0)
            }
            Outcome::Unavailable { .. } => None,
        }
    }
}

/// Everything a framework's runs share.
struct Ctx {
    dir: PathBuf,
    project: PathBuf,
    env: Vec<(OsString, OsString)>,
    tests: usize,
}

pub fn bench_run(args: RunBenchArgs) -> Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this xtask is a debug build; run it as `cargo xtask` (release) for real figures"
        );
    }
    let frameworks = args
        .frameworks
        .iter()
        .map(|f| Framework::parse(f))
        .collect::<Result<Vec<_>>>()?;
    if args.tests == 0 {
        bail!("--tests must be at least 1");
    }
    let root = workspace_root();
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| root.join("target/dtf-bench/run"));
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let dtf = dtf_binary(&root, args.no_build)?;
    let dtf_version = version_of(&dtf);

    let mut outcomes = Vec::new();
    for fw in frameworks {
        eprintln!("== {}: {} trivial tests", fw.name(), args.tests);
        let outcome = match bench_framework(fw, &args, &dtf, &work) {
            Ok(o) => o,
            Err(e) => Outcome::Unavailable {
                framework: fw,
                reason: format!("{e:#}"),
            },
        };
        if let Outcome::Unavailable { reason, .. } = &outcome {
            eprintln!("{}: not measured: {reason}", fw.name());
        }
        outcomes.push(outcome);
    }

    println!("\n{}", table(&outcomes, args.tests, args.runs.max(1)));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let results = json!({
        "schema": "dtf.bench.v1",
        "benchmark": "run-overhead",
        "unix_time": now,
        "params": {"tests": args.tests, "runs": args.runs.max(1), "dtf_args": args.dtf_args},
        "targets": {"overhead_pct": TARGET_PCT},
        "dtf": {"binary": dtf.display().to_string(), "version": dtf_version},
        "frameworks": outcomes.iter().map(outcome_json).collect::<Vec<_>>(),
        "method": {
            "wall": "around the child process, best of the runs; the direct and dtf runs alternate after one untimed warm-up of each",
            "overhead": "(dtf wall - direct wall) / direct wall",
            "split": "dtf itself = dtf wall - its framework invocations (timeline.json); selection = those invocations - the direct run: what the framework spends on being given the exact tests",
            "tests": "trivial passing tests, 100 a file (pytest) or module (nextest), one shard holding all of them",
        },
        "machine": machine_info(),
    });
    let path = work.join("bench-run.json");
    fs::write(&path, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    println!("results: {}", path.display());

    let measured: Vec<f64> = outcomes.iter().filter_map(Outcome::overhead_pct).collect();
    if measured.is_empty() {
        eprintln!("FAILED: no framework could be measured");
        return Ok(ExitCode::FAILURE);
    }
    if measured.iter().all(|&p| p < TARGET_PCT) {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("FAILED: dtf adds {TARGET_PCT}% or more to a framework's wall time");
        Ok(ExitCode::FAILURE)
    }
}

fn dtf_binary(root: &Path, no_build: bool) -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release").join("dtf");
    if !no_build {
        eprintln!("building dtf: cargo build --release -p dtf");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "dtf"])
            .current_dir(root)
            .status()
            .context("running cargo build --release -p dtf")?;
        if !status.success() {
            bail!("cargo build --release -p dtf failed ({status})");
        }
    }
    if !bin.is_file() {
        bail!(
            "{} does not exist (build it with cargo build --release -p dtf)",
            bin.display()
        );
    }
    Ok(bin)
}

fn bench_framework(fw: Framework, args: &RunBenchArgs, dtf: &Path, work: &Path) -> Result<Outcome> {
    let dir = work.join(format!("{}-{}", fw.name(), args.tests));
    let project = dir.join("project");
    if project.exists() {
        fs::remove_dir_all(&project).with_context(|| format!("removing {}", project.display()))?;
    }
    fs::create_dir_all(&project).with_context(|| format!("creating {}", project.display()))?;
    let mut ctx = Ctx {
        dir: dir.clone(),
        project,
        env: Vec::new(),
        tests: args.tests,
    };
    let Prepared {
        version,
        direct: direct_cmd,
        direct_junit,
    } = match fw {
        Framework::Pytest => match prepare_pytest(&mut ctx)? {
            Ok(v) => v,
            Err(reason) => {
                return Ok(Outcome::Unavailable {
                    framework: fw,
                    reason,
                });
            }
        },
        Framework::Nextest => match prepare_nextest(&mut ctx)? {
            Ok(v) => v,
            Err(reason) => {
                return Ok(Outcome::Unavailable {
                    framework: fw,
                    reason,
                });
            }
        },
    };

    // The plan: all the tests in one shard, found by dtf's own discovery.
    let plan = dir.join("plan.json");
    let mut cmd = Command::new(dtf);
    cmd.args([
        "plan",
        "-q",
        "--discover",
        fw.name(),
        "--shards",
        "1",
        "--root",
    ])
    .arg(&ctx.project)
    .arg("-o")
    .arg(&plan);
    let out = command_output(&mut cmd, &ctx.env)?;
    if !out.status.success() {
        bail!(
            "dtf plan --discover {} failed ({}): {}",
            fw.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let planned = planned_tests(&plan)?;
    if planned != args.tests {
        bail!("dtf plan found {planned} tests, expected {}", args.tests);
    }

    let dtf_out = dir.join("dtf-out");
    let mut dtf_cmd: Vec<OsString> = vec![
        dtf.into(),
        "run".into(),
        "--plan".into(),
        plan.clone().into(),
        "--shard".into(),
        "1".into(),
        "--framework".into(),
        fw.name().into(),
        "--root".into(),
        ctx.project.clone().into(),
        "--out-dir".into(),
        dtf_out.clone().into(),
    ];
    dtf_cmd.extend(args.dtf_args.iter().map(OsString::from));

    let mut direct = Side {
        command: display(&direct_cmd),
        ..Side::default()
    };
    let mut through_dtf = Side {
        command: display(&dtf_cmd),
        ..Side::default()
    };
    let runs = args.runs.max(1);
    for round in 0..=runs {
        let warm_up = round == 0;
        let label = if warm_up { "warm-up" } else { "run" };
        for p in &direct_junit {
            remove_path(p)?;
        }
        let d = timed(&direct_cmd, &ctx, &format!("direct-{round}"), false)?;
        remove_path(&dtf_out)?;
        let t = timed(&dtf_cmd, &ctx, &format!("dtf-{round}"), true)?;
        let inner = framework_seconds(&dtf_out.join("timeline.json"));
        eprintln!(
            "  {label} {round}: direct {d:.3} s, dtf {t:.3} s (its framework {})",
            inner.map_or("?".into(), |s| format!("{s:.3} s"))
        );
        if !warm_up {
            direct.runs_s.push(d);
            through_dtf.runs_s.push(t);
            through_dtf.framework_s.push(inner.unwrap_or(f64::NAN));
        }
    }
    direct.junit_cases = direct_junit.iter().find_map(|p| count_testcases(p));
    through_dtf.junit_cases = count_testcases(&dtf_out.join("junit.xml"));
    let summary = fs::read(dtf_out.join("shard-summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    for (side, cases) in [
        ("direct", direct.junit_cases),
        ("dtf", through_dtf.junit_cases),
    ] {
        if cases != Some(args.tests as u64) {
            bail!(
                "the {side} run's JUnit holds {} testcases, expected {}",
                cases.map_or("no".into(), |c| c.to_string()),
                args.tests
            );
        }
    }
    Ok(Outcome::Ran {
        framework: fw,
        version,
        direct,
        dtf: through_dtf,
        summary,
    })
}

/// A generated project, ready to run both ways.
struct Prepared {
    version: Option<String>,
    /// The framework run directly, writing JUnit as it would in CI.
    direct: Vec<OsString>,
    /// Where the direct run's JUnit may go (the first that exists is read).
    direct_junit: Vec<PathBuf>,
}

/// Writes `tests` trivial pytest tests, or says why pytest cannot be measured.
fn prepare_pytest(ctx: &mut Ctx) -> Result<Result<Prepared, String>> {
    let Some(python) = find_program("python3").or_else(|| find_program("python")) else {
        return Ok(Err("python3 is not on PATH".into()));
    };
    // Both sides must find the same interpreter without pyenv's shim re-resolving it on
    // every call: put the real interpreter's folder first on PATH.
    let (python, _) = resolve_pyenv_shim(&python, "python3");
    if let Some(bin) = python.parent() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![bin.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        ctx.env
            .push(("PATH".into(), std::env::join_paths(dirs).context("PATH")?));
    }
    let version = Command::new(&python)
        .args(["-m", "pytest", "--version"])
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            let text = [o.stdout, o.stderr].concat();
            String::from_utf8_lossy(&text).trim().replace("pytest ", "")
        });
    let Some(version) = version else {
        return Ok(Err(format!(
            "pytest is not installed for {} (python3 -m pip install pytest)",
            python.display()
        )));
    };
    fs::write(
        ctx.project.join("pytest.ini"),
        "[pytest]\ntestpaths = tests\n",
    )?;
    let tests = ctx.project.join("tests");
    fs::create_dir_all(&tests)?;
    for (file, range) in groups(ctx.tests).enumerate() {
        let mut text = String::from("\"\"\"Trivial tests for the dtf run benchmark.\"\"\"\n");
        for i in range {
            let _ = write!(
                text,
                "\n\ndef test_t{i}():\n    assert {i} + 1 == {}\n",
                i + 1
            );
        }
        fs::write(tests.join(format!("test_g{file:03}.py")), text)?;
    }
    let direct_junit = ctx.dir.join("direct.xml");
    let mut direct: Vec<OsString> = ["python3", "-m", "pytest", "-q", "--junitxml"]
        .map(OsString::from)
        .to_vec();
    direct.push(direct_junit.clone().into_os_string());
    Ok(Ok(Prepared {
        version: Some(version),
        direct,
        direct_junit: vec![direct_junit],
    }))
}

/// Writes a crate of `tests` trivial tests and builds its test binary once (untimed), or
/// says why nextest cannot be measured.
fn prepare_nextest(ctx: &mut Ctx) -> Result<Result<Prepared, String>> {
    let version = Command::new("cargo")
        .args(["nextest", "--version"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let line = text.lines().next()?.trim().to_owned();
            Some(line.trim_start_matches("cargo-nextest ").to_owned())
        });
    let Some(version) = version else {
        return Ok(Err(
            "cargo-nextest is not installed (cargo install cargo-nextest)".into(),
        ));
    };
    fs::write(
        ctx.project.join("Cargo.toml"),
        "[package]\nname = \"dtf-bench-trivial\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n",
    )?;
    // The direct run writes JUnit too, as it would in CI, under its own profile so that
    // nothing here changes how dtf's preset calls nextest.
    fs::create_dir_all(ctx.project.join(".config"))?;
    fs::write(
        ctx.project.join(".config/nextest.toml"),
        "[profile.bench-direct.junit]\npath = \"junit.xml\"\n",
    )?;
    fs::create_dir_all(ctx.project.join("src"))?;
    let mut text = String::from("//! Trivial tests for the dtf run benchmark.\n");
    for (module, range) in groups(ctx.tests).enumerate() {
        let _ = write!(text, "\n#[cfg(test)]\nmod g{module:03} {{\n");
        for i in range {
            let _ = write!(
                text,
                "    #[test]\n    fn t{i}() {{\n        assert_eq!({i} + 1, {});\n    }}\n",
                i + 1
            );
        }
        text.push_str("}\n");
    }
    fs::write(ctx.project.join("src/lib.rs"), text)?;
    // A target folder outside the project (which is regenerated) so the build is reused.
    let target = ctx.dir.join("target");
    ctx.env
        .push(("CARGO_TARGET_DIR".into(), target.clone().into()));
    eprintln!("  building the test crate (untimed)");
    let mut build = Command::new("cargo");
    build
        .args(["nextest", "run", "--no-run"])
        .current_dir(&ctx.project);
    let out = command_output(&mut build, &ctx.env)?;
    if !out.status.success() {
        return Ok(Err(format!(
            "building the generated crate failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let direct = [
        "cargo",
        "nextest",
        "run",
        "--no-fail-fast",
        "--profile",
        "bench-direct",
    ]
    .map(OsString::from)
    .to_vec();
    Ok(Ok(Prepared {
        version: Some(version),
        direct,
        // nextest writes a profile's JUnit in its store folder, which this version puts
        // under the project's own target folder even when CARGO_TARGET_DIR is elsewhere.
        direct_junit: vec![
            ctx.project.join("target/nextest/bench-direct/junit.xml"),
            target.join("nextest/bench-direct/junit.xml"),
        ],
    }))
}

/// Index ranges of the generated files or modules.
fn groups(tests: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..tests.div_ceil(PER_GROUP)).map(move |g| g * PER_GROUP..((g + 1) * PER_GROUP).min(tests))
}

fn command_output(cmd: &mut Command, env: &[(OsString, OsString)]) -> Result<std::process::Output> {
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))
}

/// Runs `argv` in the project with output to log files and returns its wall time; dtf's
/// run must pass (exit 0); the direct run's exit code is not looked at beyond that it ran.
fn timed(argv: &[OsString], ctx: &Ctx, label: &str, is_dtf: bool) -> Result<f64> {
    let logs = ctx.dir.join("logs");
    fs::create_dir_all(&logs)?;
    let stdout = fs::File::create(logs.join(format!("{label}.out")))?;
    let stderr_path = logs.join(format!("{label}.err"));
    let stderr = fs::File::create(&stderr_path)?;
    let (program, rest) = argv.split_first().context("empty command")?;
    let mut cmd = Command::new(program);
    cmd.args(rest)
        .current_dir(&ctx.project)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    for (k, v) in &ctx.env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("running {}", display(argv).join(" ")))?;
    let wall = start.elapsed().as_secs_f64();
    if !status.success() {
        let tail = fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{} {} failed ({status}); the end of its stderr:\n{}",
            if is_dtf { "dtf run" } else { "the direct run" },
            label,
            tail.join("\n")
        );
    }
    Ok(wall)
}

fn planned_tests(plan: &Path) -> Result<usize> {
    let text = fs::read_to_string(plan).with_context(|| format!("reading {}", plan.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", plan.display()))?;
    Ok(v.pointer("/totals/tests")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize)
}

/// Seconds the invocations of a `dtf run` took, from its timeline (`end_s - start_s`
/// summed; the benchmark's shard runs them one after another).
fn framework_seconds(timeline: &Path) -> Option<f64> {
    let v: Value = serde_json::from_slice(&fs::read(timeline).ok()?).ok()?;
    let invocations = v.get("invocations")?.as_array()?;
    let mut total = 0.0;
    for inv in invocations {
        total += inv.get("end_s")?.as_f64()? - inv.get("start_s")?.as_f64()?;
    }
    Some(total)
}

/// `<testcase` elements in a JUnit file.
fn count_testcases(path: &Path) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    Some(text.matches("<testcase ").count() as u64)
}

fn remove_path(path: &Path) -> Result<()> {
    let r = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn display(argv: &[OsString]) -> Vec<String> {
    argv.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn table(outcomes: &[Outcome], tests: usize, runs: usize) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| framework ({tests} trivial tests, one shard) | direct s (best of {runs}) | through `dtf run` s | overhead | of which dtf itself | of which the framework selecting tests by id | under {TARGET_PCT}% |\n|---|---:|---:|---:|---:|---:|---|"
    );
    for o in outcomes {
        match o {
            Outcome::Ran {
                framework,
                version,
                direct,
                dtf,
                ..
            } => {
                let pct = o.overhead_pct().unwrap_or(f64::NAN);
                let (d, w) = (
                    direct.best().unwrap_or(f64::NAN),
                    dtf.best().unwrap_or(f64::NAN),
                );
                let inner = dtf.best_framework().unwrap_or(f64::NAN);
                let _ = writeln!(
                    t,
                    "| {} {} | {d:.3} | {w:.3} | {pct:+.1}% | {:+.3} s | {:+.3} s | {} |",
                    framework.name(),
                    version.as_deref().unwrap_or(""),
                    w - inner,
                    inner - d,
                    if pct < TARGET_PCT { "yes" } else { "**no**" }
                );
            }
            Outcome::Unavailable { framework, reason } => {
                let first = reason.lines().next().unwrap_or_default();
                let _ = writeln!(
                    t,
                    "| {} | – | – | – | – | – | not run: {first} |",
                    framework.name()
                );
            }
        }
    }
    t
}

fn outcome_json(o: &Outcome) -> Value {
    match o {
        Outcome::Ran {
            framework,
            version,
            direct,
            dtf,
            summary,
        } => {
            let pct = o.overhead_pct();
            json!({
                "framework": framework.name(),
                "status": "ok",
                "version": version,
                "direct": direct.to_json(),
                "dtf": dtf.to_json(),
                "overhead_pct": pct,
                "meets_target": pct.is_some_and(|p| p < TARGET_PCT),
                "dtf_own_s": dtf.best().zip(dtf.best_framework()).map(|(w, f)| w - f),
                "selection_s": dtf.best_framework().zip(direct.best()).map(|(f, d)| f - d),
                "dtf_shard_counts": summary.as_ref().and_then(|s| s.get("counts")).cloned(),
            })
        }
        Outcome::Unavailable { framework, reason } => json!({
            "framework": framework.name(),
            "status": "unavailable",
            "reason": reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_every_test_once() {
        let check = |n: usize, expected: &[(usize, usize)]| {
            let got: Vec<(usize, usize)> = groups(n).map(|r| (r.start, r.end)).collect();
            assert_eq!(got, expected, "{n} tests");
        };
        check(1, &[(0, 1)]);
        check(100, &[(0, 100)]);
        check(250, &[(0, 100), (100, 200), (200, 250)]);
        assert_eq!(groups(2000).map(|r| r.len()).sum::<usize>(), 2000);
    }

    #[test]
    fn framework_names_round_trip() {
        for fw in [Framework::Pytest, Framework::Nextest] {
            assert_eq!(Framework::parse(fw.name()).ok(), Some(fw));
        }
        assert!(Framework::parse("go").is_err());
    }
}
