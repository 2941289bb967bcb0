//! The merge benchmark: `dtf merge` against other JUnit merge tools on identical input.
//!
//! Every tool runs as a child process under GNU time (`/usr/bin/time -f %M`), which
//! reports the child's peak resident set size from the kernel's `ru_maxrss` after the
//! child is reaped. That covers short runs exactly (polling `/proc/<pid>/status` can miss
//! the peak of a process that lives a few milliseconds) and, for wrapper scripts, gives
//! the largest process of the tree. Wall time is measured here around the spawn.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::junitgen::{self, DEFAULT_SUITE_MEDIAN, GENERATOR_VERSION, GenParams, GenSummary};

pub const DEFAULT_SEED: u64 = 20_250_314;
pub(crate) const GNU_TIME: &str = "/usr/bin/time";
const NODE_BIG_HEAP: &str = "--max-old-space-size=16000";

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Total number of <testcase> elements over all shard files.
    #[arg(long, default_value_t = 1_000_000)]
    cases: usize,
    #[arg(long, default_value_t = 8)]
    shards: usize,
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Median testcases per <testsuite> in the generated data (10 gives one suite per class,
    /// which makes tools that match suites pairwise much slower).
    #[arg(long, default_value_t = DEFAULT_SUITE_MEDIAN)]
    suite_size: usize,
    /// Where data (cached by parameters), outputs, logs and results go [default: target/dtf-bench].
    #[arg(long)]
    work: Option<PathBuf>,
    /// Peer tools to compare against, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "junitparser,jrm,junit-merge"
    )]
    peers: Vec<String>,
    /// Only time dtf.
    #[arg(long)]
    skip_peers: bool,
    /// Do not time dtf (peers only).
    #[arg(long)]
    skip_dtf: bool,
    /// dtf runs; the best (lowest) wall time is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Runs of each peer (they are slow); the best is reported.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Use target/release/dtf as it is instead of running `cargo build --release -p dtf` first.
    #[arg(long)]
    no_build: bool,
    /// Give node peers a bigger heap from the start (NODE_OPTIONS=--max-old-space-size=MB).
    /// Without it a node peer that runs out of heap is retried once with 16000 MB.
    #[arg(long)]
    node_heap_mb: Option<u32>,
}

/// A merge tool the benchmark knows how to call.
struct Tool {
    name: &'static str,
    program: &'static str,
    install: &'static str,
    node: bool,
}

const PEERS: &[Tool] = &[
    Tool {
        name: "junitparser",
        program: "junitparser",
        install: "pip install junitparser",
        node: false,
    },
    Tool {
        name: "jrm",
        program: "jrm",
        install: "npm install -g junit-report-merger",
        node: true,
    },
    Tool {
        name: "junit-merge",
        program: "junit-merge",
        install: "npm install -g junit-merge",
        node: true,
    },
];

/// One timed run of one command.
#[derive(Debug, Clone)]
struct Run {
    wall_s: f64,
    peak_rss_kib: Option<u64>,
    exit_code: Option<i32>,
    stderr_tail: String,
}

#[derive(Debug)]
struct Row {
    tool: String,
    version: Option<String>,
    /// "ok", "failed", "not installed", "unavailable", "bad output"
    status: String,
    command: Vec<String>,
    runs: Vec<Run>,
    output_testcases: Option<u64>,
    output_bytes: Option<u64>,
    notes: Vec<String>,
    install: Option<String>,
}

impl Row {
    fn new(tool: &str) -> Row {
        Row {
            tool: tool.to_string(),
            version: None,
            status: String::new(),
            command: Vec::new(),
            runs: Vec::new(),
            output_testcases: None,
            output_bytes: None,
            notes: Vec::new(),
            install: None,
        }
    }

    fn best_wall(&self) -> Option<f64> {
        self.runs.iter().map(|r| r.wall_s).min_by(f64::total_cmp)
    }

    fn peak_rss_mb(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter_map(|r| r.peak_rss_kib)
            .max()
            .map(|k| k as f64 * 1024.0 / 1e6)
    }

    fn timed(&self) -> bool {
        matches!(self.status.as_str(), "ok" | "bad output")
    }
}

pub fn bench_merge(args: BenchArgs) -> Result<ExitCode> {
    let root = workspace_root();
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| root.join("target/dtf-bench"));
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let params = GenParams {
        cases: args.cases,
        shards: args.shards,
        seed: args.seed,
        suite_median: args.suite_size,
    };
    let data = ensure_data(&work, params)?;
    let input_mb = data.bytes as f64 / 1e6;
    eprintln!(
        "input: {} files, {:.1} MB, {} testcases ({} unique tests, {} retries)",
        data.files.len(),
        input_mb,
        data.testcases,
        data.unique_tests,
        data.retries
    );
    let out_dir = work.join("out");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let time_bin = Path::new(GNU_TIME)
        .is_file()
        .then(|| PathBuf::from(GNU_TIME));
    if time_bin.is_none() {
        eprintln!(
            "warning: {GNU_TIME} not found, peak RSS will not be measured (Debian/Ubuntu: apt-get install time)"
        );
    }
    let ctx = Ctx {
        root: &root,
        out_dir: &out_dir,
        data: &data,
        time_bin: time_bin.as_deref(),
    };

    let mut rows = Vec::new();
    if !args.skip_dtf {
        rows.push(run_dtf(&ctx, &args)?);
    }
    if !args.skip_peers {
        for name in &args.peers {
            match PEERS.iter().find(|t| t.name == name) {
                Some(tool) => rows.push(run_peer(&ctx, tool, &args)?),
                None => bail!(
                    "unknown peer {name:?} (known: {})",
                    PEERS.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
                ),
            }
        }
    }

    let dtf_wall = rows
        .iter()
        .find(|r| r.tool == "dtf" && r.timed())
        .and_then(Row::best_wall);
    let table = markdown_table(&rows, data.bytes, dtf_wall);
    println!("\n{table}");
    println!(
        "input: {} shard files, {:.1} MB, {} testcases, {} unique tests; wall = best of {} (dtf) / {} (peers); peak RSS from GNU time (max over runs)",
        data.files.len(),
        input_mb,
        data.testcases,
        data.unique_tests,
        args.runs.max(1),
        args.repeat.max(1)
    );
    for r in &rows {
        for n in &r.notes {
            println!("- {}: {n}", r.tool);
        }
    }

    let results = results_json(&args, &data, &rows, dtf_wall);
    let path = work.join(if args.suite_size == DEFAULT_SUITE_MEDIAN {
        format!("bench-merge-{}x{}.json", args.cases, args.shards)
    } else {
        format!(
            "bench-merge-{}x{}-suite{}.json",
            args.cases, args.shards, args.suite_size
        )
    });
    fs::write(&path, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    println!("results: {}", path.display());
    Ok(ExitCode::SUCCESS)
}

struct Ctx<'a> {
    root: &'a Path,
    out_dir: &'a Path,
    data: &'a GenSummary,
    time_bin: Option<&'a Path>,
}

/// Reuses generated data when a manifest for the same parameters and generator version exists
/// and the files still have the sizes it records.
fn ensure_data(work: &Path, params: GenParams) -> Result<GenSummary> {
    let dir = work.join("data").join(format!(
        "c{}-s{}-seed{}-m{}-g{}",
        params.cases, params.shards, params.seed, params.suite_median, GENERATOR_VERSION
    ));
    let manifest = dir.join("manifest.json");
    if let Some(s) = read_manifest(&manifest) {
        eprintln!("using cached data in {}", dir.display());
        return Ok(s);
    }
    eprintln!(
        "generating {} testcases in {} shards into {} ...",
        params.cases,
        params.shards,
        dir.display()
    );
    let started = Instant::now();
    let s = junitgen::generate(params, &dir)?;
    fs::write(
        &manifest,
        serde_json::to_string_pretty(&s.to_json(&params))? + "\n",
    )
    .with_context(|| format!("writing {}", manifest.display()))?;
    eprintln!(
        "generated {:.1} MB in {:.1}s",
        s.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(s)
}

fn read_manifest(path: &Path) -> Option<GenSummary> {
    let v: Value = serde_json::from_str(&fs::read_to_string(path).ok()?).ok()?;
    if v.get("generator_version")?.as_u64()? != u64::from(GENERATOR_VERSION) {
        return None;
    }
    let s = GenSummary::from_json(&v)?;
    let on_disk: u64 = s
        .files
        .iter()
        .map(|f| fs::metadata(f).map(|m| m.len()).ok())
        .sum::<Option<u64>>()?;
    (on_disk == s.bytes).then_some(s)
}

fn run_dtf(ctx: &Ctx, args: &BenchArgs) -> Result<Row> {
    let mut row = Row::new("dtf");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| ctx.root.join("target"));
    let bin = target.join("release").join("dtf");
    if !args.no_build {
        // cargo decides whether the binary is missing or stale; when it is current this is a no-op.
        eprintln!("building dtf: cargo build --release -p dtf");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "dtf"])
            .current_dir(ctx.root)
            .status()
            .context("running cargo build --release -p dtf")?;
        if !status.success() {
            row.status = "unavailable".into();
            row.notes
                .push(format!("cargo build --release -p dtf failed ({status})"));
            return Ok(row);
        }
    }
    if !bin.is_file() {
        row.status = "unavailable".into();
        row.notes.push(format!(
            "{} does not exist (build it with cargo build --release -p dtf)",
            bin.display()
        ));
        return Ok(row);
    }
    row.version = version_of(&bin);
    let help = Command::new(&bin)
        .args(["merge", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !help.map(|s| s.success()).unwrap_or(false) {
        row.status = "unavailable".into();
        row.notes
            .push("this dtf build has no working `merge` command yet".into());
        return Ok(row);
    }
    let xml = ctx.out_dir.join("dtf.xml");
    let json_out = ctx.out_dir.join("dtf.json");
    let mut cmd: Vec<OsString> = vec![
        bin.into(),
        "merge".into(),
        "--junit".into(),
        xml.clone().into(),
        "--json".into(),
        json_out.clone().into(),
    ];
    cmd.extend(ctx.data.files.iter().map(|f| f.clone().into_os_string()));
    row.command = display_cmd(&cmd);
    for i in 0..args.runs.max(1) {
        remove_if_exists(&xml)?;
        remove_if_exists(&json_out)?;
        eprintln!("dtf: run {}/{}", i + 1, args.runs.max(1));
        let run = measure(&cmd, &[], ctx, "dtf")?;
        let failed = run.exit_code != Some(0);
        row.runs.push(run);
        if failed {
            break;
        }
    }
    finish_row(&mut row, &xml, ctx.data);
    if row.status == "ok" {
        match fs::File::open(&json_out).and_then(|mut f| {
            let mut head = [0u8; 1];
            f.read_exact(&mut head).map(|_| head[0])
        }) {
            Ok(b'{') => {}
            _ => {
                row.status = "bad output".into();
                row.notes.push(format!(
                    "{} is missing or not a JSON object",
                    json_out.display()
                ));
            }
        }
    }
    Ok(row)
}

fn run_peer(ctx: &Ctx, tool: &Tool, args: &BenchArgs) -> Result<Row> {
    let mut row = Row::new(tool.name);
    row.install = Some(tool.install.to_string());
    let Some(program) = find_program(tool.program) else {
        row.status = "not installed".into();
        row.notes.push(format!("not installed: {}", tool.install));
        eprintln!("{}: not installed (install: {})", tool.name, tool.install);
        return Ok(row);
    };
    let (program, via_pyenv) = resolve_pyenv_shim(&program, tool.program);
    if via_pyenv {
        row.notes.push(
            "pyenv shim resolved with `pyenv which` so the shim's own start-up is not timed".into(),
        );
    }
    row.version = version_of(&program);
    let out = ctx.out_dir.join(format!("{}.xml", tool.name));
    let files = ctx.data.files.iter().map(|f| f.clone().into_os_string());
    let mut cmd: Vec<OsString> = vec![program.into()];
    match tool.name {
        "junitparser" => {
            cmd.push("merge".into());
            cmd.extend(files);
            cmd.push(out.clone().into());
        }
        "jrm" => {
            cmd.push(out.clone().into());
            cmd.extend(files);
        }
        _ => {
            cmd.extend(files);
            cmd.push("-o".into());
            cmd.push(out.clone().into());
        }
    }
    row.command = display_cmd(&cmd);
    let mut env: Vec<(String, String)> = Vec::new();
    if tool.node
        && let Some(mb) = args.node_heap_mb
    {
        env.push(("NODE_OPTIONS".into(), format!("--max-old-space-size={mb}")));
        row.notes
            .push(format!("ran with NODE_OPTIONS=--max-old-space-size={mb}"));
    }
    for i in 0..args.repeat.max(1) {
        remove_if_exists(&out)?;
        eprintln!("{}: run {}/{}", tool.name, i + 1, args.repeat.max(1));
        let mut run = measure(&cmd, &env, ctx, tool.name)?;
        if tool.node && env.is_empty() && run.exit_code != Some(0) && out_of_heap(&run.stderr_tail)
        {
            eprintln!(
                "{}: node ran out of heap; retrying once with NODE_OPTIONS={NODE_BIG_HEAP}",
                tool.name
            );
            row.notes.push(format!(
                "ran out of node's default heap ({:.1} s in); timed again with NODE_OPTIONS={NODE_BIG_HEAP}",
                run.wall_s
            ));
            env.push(("NODE_OPTIONS".into(), NODE_BIG_HEAP.into()));
            remove_if_exists(&out)?;
            run = measure(&cmd, &env, ctx, tool.name)?;
        }
        let failed = run.exit_code != Some(0);
        row.runs.push(run);
        if failed {
            break;
        }
    }
    finish_row(&mut row, &out, ctx.data);
    Ok(row)
}

/// Sets status and output facts from the last run and the merged file.
fn finish_row(row: &mut Row, out: &Path, data: &GenSummary) {
    let Some(last) = row.runs.last() else {
        row.status = "failed".into();
        return;
    };
    if last.exit_code != Some(0) {
        row.status = "failed".into();
        let code = last
            .exit_code
            .map_or("a signal".to_string(), |c| format!("status {c}"));
        let tail = last
            .stderr_tail
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .to_string();
        row.notes.push(format!("exited with {code}: {tail}"));
        return;
    }
    match count_testcases(out) {
        Ok((n, bytes)) => {
            row.output_testcases = Some(n);
            row.output_bytes = Some(bytes);
            // A tool may keep every attempt (plain concatenation) or one entry per test id.
            if n == data.testcases || n == data.unique_tests {
                row.status = "ok".into();
            } else {
                row.status = "bad output".into();
                row.notes.push(format!(
                    "output has {n} <testcase> elements; expected {} (all attempts) or {} (one per test)",
                    data.testcases, data.unique_tests
                ));
            }
        }
        Err(e) => {
            row.status = "bad output".into();
            row.notes
                .push(format!("cannot read output {}: {e}", out.display()));
        }
    }
}

/// Runs `cmd` under GNU time (when present), logging its stdout/stderr to the out dir.
fn measure(cmd: &[OsString], env: &[(String, String)], ctx: &Ctx, label: &str) -> Result<Run> {
    let (first, rest) = cmd.split_first().context("empty command")?;
    let stdout_log = ctx.out_dir.join(format!("{label}.stdout.log"));
    let stderr_log = ctx.out_dir.join(format!("{label}.stderr.log"));
    let rss_file = ctx.out_dir.join(format!("{label}.rss"));
    let mut command = match ctx.time_bin {
        Some(time) => {
            let mut c = Command::new(time);
            c.arg("-f")
                .arg("%M")
                .arg("-o")
                .arg(&rss_file)
                .arg(first)
                .args(rest);
            c
        }
        None => {
            let mut c = Command::new(first);
            c.args(rest);
            c
        }
    };
    command
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(
            File::create(&stdout_log)
                .with_context(|| format!("creating {}", stdout_log.display()))?,
        )
        .stderr(
            File::create(&stderr_log)
                .with_context(|| format!("creating {}", stderr_log.display()))?,
        );
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("starting {}", first.to_string_lossy()))?;
    let wall_s = started.elapsed().as_secs_f64();
    let peak_rss_kib = ctx
        .time_bin
        .and_then(|_| parse_rss(&fs::read_to_string(&rss_file).ok()?));
    let stderr_tail = tail(&stderr_log, 4000);
    let run = Run {
        wall_s,
        peak_rss_kib,
        exit_code: status.code(),
        stderr_tail,
    };
    eprintln!(
        "  {:.3} s, peak RSS {}, exit {}",
        run.wall_s,
        run.peak_rss_kib.map_or("?".to_string(), |k| format!(
            "{:.0} MB",
            k as f64 * 1024.0 / 1e6
        )),
        run.exit_code
            .map_or("signal".to_string(), |c| c.to_string())
    );
    Ok(run)
}

/// GNU time writes "Command exited with non-zero status N" (or "terminated by signal")
/// before the formatted line when the child fails, so the number is on the last line.
pub(crate) fn parse_rss(text: &str) -> Option<u64> {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())?
        .trim()
        .parse()
        .ok()
}

fn out_of_heap(stderr: &str) -> bool {
    stderr.contains("heap out of memory") || stderr.contains("Allocation failed - JavaScript heap")
}

fn tail(path: &Path, max: usize) -> String {
    let Ok(bytes) = fs::read(path) else {
        return String::new();
    };
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Counts `<testcase` element starts in a file without loading it whole.
fn count_testcases(path: &Path) -> std::io::Result<(u64, u64)> {
    let file = File::open(path)?;
    let bytes = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut count = 0u64;
    // Carry the end of each chunk over so a tag split across reads is still seen.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            count += count_tags(&carry, true);
            break;
        }
        let n = buf.len();
        carry.extend_from_slice(buf);
        reader.consume(n);
        count += count_tags(&carry, false);
        let keep = carry.len().min(TAG.len());
        carry.drain(..carry.len() - keep);
    }
    Ok((count, bytes))
}

const TAG: &[u8] = b"<testcase";

/// Tags fully inside `buf` whose start is not in the last `TAG.len()` bytes (those are
/// carried into the next call), or all of them at end of input.
fn count_tags(buf: &[u8], at_end: bool) -> u64 {
    let limit = if at_end {
        buf.len()
    } else {
        buf.len().saturating_sub(TAG.len())
    };
    let mut n = 0;
    let mut i = 0;
    while i < limit {
        let Some(off) = buf[i..limit].iter().position(|&b| b == b'<') else {
            break;
        };
        i += off;
        if buf[i..].starts_with(TAG)
            && matches!(
                buf.get(i + TAG.len()),
                Some(b' ' | b'>' | b'/' | b'\n' | b'\t' | b'\r')
            )
        {
            n += 1;
        }
        i += 1;
    }
    n
}

fn markdown_table(rows: &[Row], input_bytes: u64, dtf_wall: Option<f64>) -> String {
    let mut t = String::from(
        "| tool | version | wall s | MB/s | peak RSS MB | time vs dtf | testcases out | status |\n|---|---|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let wall = r.timed().then(|| r.best_wall()).flatten();
        let cell = |v: Option<String>| v.unwrap_or_else(|| "–".into());
        let status = match (r.status.as_str(), &r.install) {
            ("not installed", Some(i)) => format!("not installed (`{i}`)"),
            (s, _) => s.to_string(),
        };
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.tool,
            cell(r.version.clone()),
            cell(wall.map(|w| if w < 1.0 {
                format!("{w:.3}")
            } else {
                format!("{w:.2}")
            })),
            cell(wall.map(|w| format!("{:.1}", input_bytes as f64 / 1e6 / w))),
            cell(
                r.timed()
                    .then(|| r.peak_rss_mb())
                    .flatten()
                    .map(|m| format!("{m:.0}"))
            ),
            cell(wall.zip(dtf_wall).map(|(w, d)| format!("{:.1}×", w / d))),
            cell(r.output_testcases.map(|n| n.to_string())),
            status
        ));
    }
    t
}

fn results_json(args: &BenchArgs, data: &GenSummary, rows: &[Row], dtf_wall: Option<f64>) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let tools: Vec<Value> = rows
        .iter()
        .map(|r| {
            let wall = r.timed().then(|| r.best_wall()).flatten();
            json!({
                "tool": r.tool,
                "version": r.version,
                "status": r.status,
                "command": r.command,
                "wall_s": wall,
                "mb_per_s": wall.map(|w| data.bytes as f64 / 1e6 / w),
                "peak_rss_mb": r.peak_rss_mb(),
                "time_vs_dtf": wall.zip(dtf_wall).map(|(w, d)| w / d),
                "exit_code": r.runs.last().and_then(|x| x.exit_code),
                "output_testcases": r.output_testcases,
                "output_bytes": r.output_bytes,
                "runs": r.runs.iter().map(|x| json!({
                    "wall_s": x.wall_s,
                    "peak_rss_kib": x.peak_rss_kib,
                    "exit_code": x.exit_code,
                })).collect::<Vec<_>>(),
                "install": r.install,
                "notes": r.notes,
            })
        })
        .collect();
    json!({
        "schema": "dtf.bench.v1",
        "benchmark": "merge",
        "unix_time": now,
        "params": {
            "cases": args.cases,
            "shards": args.shards,
            "seed": args.seed,
            "suite_size": args.suite_size,
            "generator_version": GENERATOR_VERSION,
            "dtf_runs": args.runs.max(1),
            "peer_runs": args.repeat.max(1),
        },
        "input": {
            "files": data.files.len(),
            "bytes": data.bytes,
            "testcases": data.testcases,
            "unique_tests": data.unique_tests,
            "retries": data.retries,
        },
        "machine": machine_info(),
        "method": {
            "wall": "best of the runs, measured around the child process",
            "peak_rss": "GNU time %M (kernel ru_maxrss of the reaped child), largest over the runs",
            "mb_per_s": "total input bytes / 1e6 / wall seconds",
        },
        "tools": tools,
    })
}

pub(crate) fn machine_info() -> Value {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string());
    let mem_kib = fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    });
    json!({
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "cpu_model": cpu,
        "mem_total_mb": mem_kib.map(|k| k * 1024 / 1_000_000),
        "kernel": fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_string()),
    })
}

pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// pyenv puts a bash shim on PATH that re-resolves the interpreter on every call (tens of
/// milliseconds); time the real entry point instead when pyenv can name it.
pub(crate) fn resolve_pyenv_shim(program: &Path, name: &str) -> (PathBuf, bool) {
    if !program.to_string_lossy().contains("/.pyenv/shims/") {
        return (program.to_path_buf(), false);
    }
    let resolved = Command::new("pyenv")
        .args(["which", name])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_file());
    match resolved {
        Some(p) => (p, true),
        None => (program.to_path_buf(), false),
    }
}

pub(crate) fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next()?.trim();
    // "dtf 0.1.0" -> "0.1.0"; peers print the bare version.
    let v = line.rsplit(' ').next().unwrap_or(line).to_string();
    (!v.is_empty()).then_some(v)
}

fn display_cmd(cmd: &[OsString]) -> Vec<String> {
    cmd.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

pub fn install_peers(dry_run: bool) -> Result<ExitCode> {
    let pip: Vec<&str> = if find_program("pip").is_some() {
        vec!["pip"]
    } else if find_program("pip3").is_some() {
        vec!["pip3"]
    } else {
        vec!["python3", "-m", "pip"]
    };
    let steps: Vec<Vec<&str>> = vec![
        pip.into_iter()
            .chain(["install", "junitparser", "pytest-split"])
            .collect(),
        vec!["npm", "install", "-g", "junit-report-merger", "junit-merge"],
    ];
    println!(
        "install-peers installs the tools the benchmarks compare dtf with:\n  \
         bench-merge: junitparser (PyPI, `junitparser merge`), junit-report-merger (npm, `jrm`) and junit-merge (npm, `junit-merge`);\n  \
         bench-plan-quality: pytest-split (PyPI, its algorithms are called from Python);\n  \
         into the current Python environment and npm's global prefix. Commands:"
    );
    for s in &steps {
        println!("  {}", s.join(" "));
    }
    if dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    for s in &steps {
        let (prog, rest) = s.split_first().context("empty command")?;
        let status = Command::new(prog)
            .args(rest)
            .status()
            .with_context(|| format!("running {}", s.join(" ")))?;
        if !status.success() {
            bail!("`{}` failed ({status})", s.join(" "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn counts_testcase_tags_across_chunk_boundaries() {
        let check = |text: &str, expected: u64| {
            let dir = std::env::temp_dir().join(format!("dtf-xtask-count-{}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            let p = dir.join("x.xml");
            fs::write(&p, text).unwrap();
            assert_eq!(count_testcases(&p).unwrap().0, expected, "{text:.80}");
            fs::remove_dir_all(&dir).unwrap();
        };
        check("", 0);
        check("<testcase/>", 1);
        check(
            "<testcase name=\"a\"/><testcase>x</testcase><testcases/>",
            2,
        );
        check("<testcase", 0);
        // Tags straddling the 1 MiB read size.
        let pad = "x".repeat((1 << 20) - 4);
        check(&format!("{pad}<testcase name=\"a\"/>{pad}<testcase/>"), 2);
    }

    #[test]
    fn parses_gnu_time_output() {
        let cases = [
            ("123456\n", Some(123456)),
            ("Command exited with non-zero status 1\n2048\n", Some(2048)),
            ("Command terminated by signal 9\n99\n", Some(99)),
            ("", None),
            ("garbage\n", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_rss(text), expected, "{text:?}");
        }
    }

    #[test]
    fn detects_node_heap_exhaustion() {
        assert!(out_of_heap(
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
        ));
        assert!(!out_of_heap("Error: ENOENT: no such file or directory"));
    }
}
