//! `dtf history`: the build history database, one SQLite file that travels between
//! builds as a CI artifact: ingest a build, export and import it as JSON lines, prune
//! old builds, list what it holds.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use dtf_artifacts::bundle::Bundle;
use dtf_core::categorize::Categorizer;
use dtf_core::junit::JunitReader;
use dtf_core::metadata::BuildMetadata;
use dtf_history::ingest::{Origin, Origins, record_from_merged_with};
use dtf_history::model::BuildInfo;
use dtf_history::store::{ImportOptions, IngestOptions, Store, StoreError};
use dtf_plan::model::Plan;

use super::merge::{merge_inputs, write_atomically};
use crate::args::MergeInputs;
use crate::{CliError, Finished};

/// Where the history lives unless `--db` says otherwise.
pub const DEFAULT_DB: &str = "dtf-history.db";

#[derive(Subcommand, Debug)]
pub enum HistoryCommand {
    /// Merge one build's results and add them to the history (a build id seen before is replaced).
    #[command(after_help = "Examples:
  dtf history ingest --db history.db results/
  dtf history ingest --db history.db --keep-builds 200 artifacts/*.zip
  dtf history ingest --db history.db --build-id 4711 --branch main --commit 3f2a9c1 results/
  dtf history ingest --db history.db --plan plan.json shard-*/junit.xml

The build id, branch, commit and time come from the CI provider's environment (GitHub
Actions, GitLab CI, Jenkins, Azure Pipelines); a flag wins. A local build gets the id
local-<unix time>. Each dtf bundle says which shard and runner labels it ran on; --plan
adds each shard's runner pool. The write is one transaction: a crash leaves the history
as it was.

Exit codes: 0 ok, 2 usage, 3 bad input (unreadable results, a corrupt or foreign history
file), 4 cannot write the history")]
    Ingest(IngestArgs),
    /// Write the whole history as JSON lines (dtf.history-export.v1), oldest build first.
    #[command(after_help = "Examples:
  dtf history export --db history.db -o history.jsonl
  dtf history export --db history.db | gzip > history.jsonl.gz

The first line is {\"schema\":\"dtf.history-export.v1\",...}; each further line is one build
with all its tests.

Exit codes: 0 ok, 3 bad input (a corrupt or foreign history file), 4 cannot write")]
    Export(ExportArgs),
    /// Read an export into the history (builds with the same id are replaced, or kept with --skip-existing).
    #[command(after_help = "Examples:
  dtf history import --db history.db history.jsonl
  dtf history import --db merged.db --skip-existing main.jsonl
  gunzip -c history.jsonl.gz | dtf history import --db history.db -

The import is one transaction: a bad line is an error that names it, and nothing of the
file is kept.

Exit codes: 0 ok, 3 bad input (a bad line, a corrupt or foreign history file), 4 cannot write")]
    Import(ImportArgs),
    /// Keep the newest N builds and remove the rest; the file shrinks accordingly.
    #[command(after_help = "Examples:
  dtf history prune --db history.db --keep-builds 100

Exit codes: 0 ok, 3 bad input (a corrupt or foreign history file), 4 cannot write")]
    Prune(PruneArgs),
    /// List the builds in the history, newest first.
    #[command(after_help = "Examples:
  dtf history list --db history.db
  dtf history list --db history.db --branch main --limit 5
  dtf history list --db history.db --json

Exit codes: 0 ok, 3 bad input (a missing, corrupt or foreign history file)")]
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// The history database (created if missing).
    #[arg(long, default_value = DEFAULT_DB, value_name = "PATH")]
    pub db: PathBuf,
    /// JUnit files, folders (searched for JUnit files and dtf bundles), globs, or bundles.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// The build's id (default: the CI provider's, else local-<unix time>).
    #[arg(long, value_name = "ID")]
    pub build_id: Option<String>,
    /// The branch built (default: the CI provider's).
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,
    /// The commit built (default: the CI provider's).
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
    /// When the build ran, in seconds since the Unix epoch (default: now).
    #[arg(long, value_name = "UNIX")]
    pub time: Option<i64>,
    /// Keep only the newest N builds afterwards (same transaction).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_builds: Option<u64>,
    /// The dtf.plan.v1 the build ran: each shard's runner pool and labels.
    #[arg(long, value_name = "plan.json")]
    pub plan: Option<PathBuf>,
    /// dtf.toml with [[category]] rules for the error categories.
    #[arg(long, value_name = "dtf.toml")]
    pub config: Option<PathBuf>,
    /// Ingest what can be read and list what could not (exit code 3 still reports it).
    #[arg(long)]
    pub keep_going: bool,
    /// Threads that parse inputs (default: one per core).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub threads: usize,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The history database.
    #[arg(long, default_value = DEFAULT_DB, value_name = "PATH")]
    pub db: PathBuf,
    /// Write here instead of standard output ("-" is standard output).
    #[arg(long, short, value_name = "OUT.jsonl")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The history database (created if missing).
    #[arg(long, default_value = DEFAULT_DB, value_name = "PATH")]
    pub db: PathBuf,
    /// The export to read ("-" for standard input).
    #[arg(value_name = "FILE.jsonl")]
    pub file: PathBuf,
    /// Keep builds the history has already instead of replacing them.
    #[arg(long)]
    pub skip_existing: bool,
    /// Keep only the newest N builds afterwards (same transaction).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_builds: Option<u64>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// The history database.
    #[arg(long, default_value = DEFAULT_DB, value_name = "PATH")]
    pub db: PathBuf,
    /// How many of the newest builds to keep.
    #[arg(long, required = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_builds: u64,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// The history database.
    #[arg(long, default_value = DEFAULT_DB, value_name = "PATH")]
    pub db: PathBuf,
    /// Only builds of this branch.
    #[arg(long)]
    pub branch: Option<String>,
    /// Most builds listed.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON (an object with schema dtf.history-list.v1) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: HistoryCommand, quiet: bool) -> Result<Finished, CliError> {
    match cmd {
        HistoryCommand::Ingest(args) => ingest(&args, quiet),
        HistoryCommand::Export(args) => export(&args, quiet),
        HistoryCommand::Import(args) => import(&args, quiet),
        HistoryCommand::Prune(args) => prune(&args, quiet),
        HistoryCommand::List(args) => list(&args),
    }
}

/// A store error as the CLI reports it: writing problems are exit 4, the rest exit 3.
pub fn store_error(e: StoreError) -> CliError {
    if e.is_write_failure() {
        CliError::Output(anyhow!(e))
    } else {
        CliError::BadInput(anyhow!(e))
    }
}

fn open_writable(db: &Path) -> Result<Store, CliError> {
    Store::open(db).map_err(store_error)
}

/// Opens a history that must exist already (for commands that only read or shrink it).
fn open_existing(db: &Path) -> Result<Store, CliError> {
    if !db.exists() {
        return Err(store_error(StoreError::Missing {
            path: db.to_path_buf(),
        }));
    }
    open_writable(db)
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The build as the flags and the CI environment describe it; a flag wins.
pub fn build_info(
    meta: &BuildMetadata,
    build_id: Option<&str>,
    branch: Option<&str>,
    commit: Option<&str>,
    time: Option<i64>,
) -> BuildInfo {
    let time_unix = time.unwrap_or_else(now_unix);
    BuildInfo {
        build_id: build_id
            .map(str::to_owned)
            .or_else(|| meta.build_id.clone())
            .unwrap_or_else(|| format!("local-{time_unix}")),
        provider: meta.provider.as_str().to_owned(),
        repository: meta.repository.clone(),
        branch: branch.map(str::to_owned).or_else(|| meta.branch.clone()),
        base_branch: meta.base_branch.clone(),
        commit: commit.map(str::to_owned).or_else(|| meta.commit.clone()),
        change_request: meta.change_request,
        url: meta.build_url.clone(),
        time_unix,
        wall_s: None,
    }
}

fn load_plan(path: &Path) -> Result<Plan, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::BadInput(anyhow!(e).context(format!("reading {}", path.display())))
    })?;
    Plan::read(&text, &path.display().to_string()).map_err(|e| CliError::BadInput(anyhow!(e)))
}

/// The `[[category]]` rules of `dtf.toml`, else the built-in ones.
pub(crate) fn categorizer(config: Option<&Path>) -> Result<Categorizer, CliError> {
    let Some(path) = config else {
        return Ok(Categorizer::builtin());
    };
    let config =
        dtf_plan::config::Config::load(path).map_err(|e| CliError::BadInput(anyhow!(e)))?;
    Categorizer::from_config(&config.categories).map_err(|e| {
        CliError::BadInput(anyhow!(e).context(format!("{}: [[category]]", path.display())))
    })
}

/// The bundles among the arguments (named, matched by a glob, or found in a folder).
fn bundles_in(args: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut push = |p: PathBuf| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for arg in args {
        let paths: Vec<PathBuf> = if arg.contains(['*', '?', '[']) {
            glob::glob(arg)
                .map(|m| m.filter_map(Result::ok).collect())
                .unwrap_or_default()
        } else {
            vec![PathBuf::from(arg)]
        };
        for p in paths {
            if p.is_dir() {
                if let Ok(found) = dtf_artifacts::discover(&p, &[]) {
                    found.bundles.into_iter().for_each(&mut push);
                }
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
                push(p);
            }
        }
    }
    out
}

/// Where each test ran: every test of a plan's shard on that shard's pool, then every
/// test read from a bundle whose manifest names its shard or runner (one bundle is one
/// shard; a later bundle wins, as a rerun comes after the run it repeats). Unreadable
/// bundles are skipped here: the merge reports them.
fn origins(args: &[String], plan: Option<&Plan>) -> Origins {
    let mut origins = Origins::new();
    let plan_shard = |index: u32| plan.and_then(|p| p.shard(index));
    if let Some(plan) = plan {
        for s in &plan.shards {
            let origin = Origin {
                shard: s.index.checked_sub(1),
                pool: Some(s.pool.clone()).filter(|p| !p.is_empty()),
                labels: s.labels.clone(),
            };
            for t in &s.tests {
                origins.insert(t.as_str(), &origin);
            }
        }
    }
    for path in bundles_in(args) {
        let Ok(mut bundle) = Bundle::open(&path) else {
            continue;
        };
        let Some(build) = bundle.manifest().build.clone() else {
            continue;
        };
        let planned = build.shard.and_then(|s| plan_shard(s.index));
        let origin = Origin {
            shard: build.shard.and_then(|s| s.index.checked_sub(1)),
            pool: planned.map(|s| s.pool.clone()).filter(|p| !p.is_empty()),
            labels: if build.runner_labels.is_empty() {
                planned.map(|s| s.labels.clone()).unwrap_or_default()
            } else {
                build.runner_labels.clone()
            },
        };
        if origin.is_empty() {
            continue;
        }
        for entry in bundle.junit_entries() {
            let Ok(reader) = bundle.open_entry(&entry) else {
                continue;
            };
            let mut junit =
                JunitReader::new(BufReader::new(reader), entry.as_str()).capture_text(false);
            while let Ok(Some(case)) = junit.next_case() {
                origins.insert(case.id().0, &origin);
            }
        }
    }
    origins
}

fn ingest(args: &IngestArgs, quiet: bool) -> Result<Finished, CliError> {
    let started = Instant::now();
    let plan = args.plan.as_deref().map(load_plan).transpose()?;
    let categorizer = categorizer(args.config.as_deref())?;
    // Open first: a corrupt or foreign history fails before minutes of merging.
    let mut store = open_writable(&args.db)?;
    let merge_args = MergeInputs {
        inputs: args.inputs.clone(),
        keep_going: args.keep_going,
        fail_on_failures: false,
        max_message_bytes: 16 << 10,
        max_details_bytes: 64 << 10,
        max_output_bytes: 64 << 10,
        threads: args.threads,
    };
    let merged = merge_inputs(&merge_args, quiet)?;
    let info = build_info(
        &merged.build,
        args.build_id.as_deref(),
        args.branch.as_deref(),
        args.commit.as_deref(),
        args.time,
    );
    let origins = origins(&args.inputs, plan.as_ref());
    let record = record_from_merged_with(&merged.run, info, &categorizer, &origins)
        .map_err(|e| CliError::Output(anyhow!(e)))?;
    let spinner = Spinner::new(
        quiet || record.tests.len() < 50_000,
        format!(
            "writing {} test results to {}",
            record.tests.len(),
            args.db.display()
        ),
    );
    let options = IngestOptions {
        keep_builds: args
            .keep_builds
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let stats = store.ingest_with(&record, &options).map_err(store_error);
    spinner.finish();
    let stats = stats?;
    if !quiet {
        let t = merged.run.totals();
        eprintln!(
            "{} build {} ({} tests: {} passed, {} failed, {} errored, {} skipped, {} flaky; {} new test ids){} into {} in {:.1}s",
            if stats.replaced {
                "replaced"
            } else {
                "ingested"
            },
            stats.build_id,
            stats.tests,
            t.passed,
            t.failed,
            t.errored,
            t.skipped,
            t.flaky,
            stats.new_test_ids,
            if stats.pruned_builds > 0 {
                format!(", pruned {} old builds", stats.pruned_builds)
            } else {
                String::new()
            },
            args.db.display(),
            started.elapsed().as_secs_f64()
        );
        for (what, why) in &merged.problems {
            eprintln!("  not ingested: {what}: {why}");
        }
    }
    Ok(if merged.problems.is_empty() {
        Finished::Ok
    } else {
        Finished::SomeInputsBad
    })
}

fn export(args: &ExportArgs, quiet: bool) -> Result<Finished, CliError> {
    let store = open_existing(&args.db)?;
    let mut count = 0;
    let mut failure = None;
    let mut write = |out: &mut dyn Write| -> std::io::Result<()> {
        match store.export(out) {
            Ok(n) => {
                count = n;
                Ok(())
            }
            Err(StoreError::Write(e)) => Err(e),
            Err(e) => {
                let message = e.to_string();
                failure = Some(e);
                Err(std::io::Error::other(message))
            }
        }
    };
    let result = match &args.output {
        Some(path) if path.as_os_str() != "-" => write_atomically(path, &mut write),
        _ => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            write(&mut lock)
                .map_err(|e| CliError::Output(anyhow!(e).context("writing to standard output")))
        }
    };
    if let Some(e) = failure {
        return Err(store_error(e));
    }
    result?;
    if !quiet {
        let to = match &args.output {
            Some(p) if p.as_os_str() != "-" => p.display().to_string(),
            _ => "standard output".into(),
        };
        eprintln!("exported {count} builds from {} to {to}", args.db.display());
    }
    Ok(Finished::Ok)
}

fn import(args: &ImportArgs, quiet: bool) -> Result<Finished, CliError> {
    let mut store = open_writable(&args.db)?;
    let name = args.file.display().to_string();
    let reader: Box<dyn std::io::BufRead> = if args.file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = File::open(&args.file)
            .with_context(|| format!("reading {name}"))
            .map_err(CliError::BadInput)?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    let options = ImportOptions {
        skip_existing: args.skip_existing,
        keep_builds: args
            .keep_builds
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let progress = Counter::new(quiet, "importing", "builds");
    let stats = store
        .import_with(reader, &options, |s| progress.set(s.builds + s.skipped))
        .map_err(|e| match e {
            StoreError::Import { .. } => CliError::BadInput(anyhow!("{name}: {e}")),
            other => store_error(other),
        });
    progress.finish();
    let stats = stats?;
    if !quiet {
        eprintln!(
            "imported {} builds ({} test results; {} replaced, {} skipped as already there{}) into {}",
            stats.builds,
            stats.tests,
            stats.replaced,
            stats.skipped,
            if stats.pruned_builds > 0 {
                format!(", {} old builds pruned", stats.pruned_builds)
            } else {
                String::new()
            },
            args.db.display()
        );
    }
    Ok(Finished::Ok)
}

fn prune(args: &PruneArgs, quiet: bool) -> Result<Finished, CliError> {
    let mut store = open_existing(&args.db)?;
    let keep = usize::try_from(args.keep_builds).unwrap_or(usize::MAX);
    let removed = store.prune(keep).map_err(store_error)?;
    if !quiet {
        let left = store.build_count().map_err(store_error)?;
        eprintln!(
            "removed {removed} builds from {}; {left} remain",
            args.db.display()
        );
    }
    Ok(Finished::Ok)
}

fn list(args: &ListArgs) -> Result<Finished, CliError> {
    // Writable, so that an older schema is migrated rather than refused.
    let store = open_existing(&args.db)?;
    let builds = store
        .list_builds(args.branch.as_deref(), args.limit)
        .map_err(store_error)?;
    let text = if args.json {
        let v = serde_json::json!({
            "schema": "dtf.history-list.v1",
            "builds": builds,
        });
        let mut s = serde_json::to_string_pretty(&v).map_err(|e| CliError::Output(anyhow!(e)))?;
        s.push('\n');
        s
    } else {
        let columns: Vec<String> = [
            "build",
            "branch",
            "commit",
            "time (UTC)",
            "tests",
            "passed",
            "failed",
            "errored",
            "skipped",
            "flaky",
        ]
        .map(String::from)
        .to_vec();
        let rows: Vec<Vec<serde_json::Value>> = builds
            .iter()
            .map(|b| {
                vec![
                    b.info.build_id.clone().into(),
                    b.info.branch.clone().into(),
                    b.info
                        .commit
                        .as_deref()
                        .map(|c| c.chars().take(12).collect::<String>())
                        .into(),
                    utc(b.info.time_unix).into(),
                    b.tests.into(),
                    b.passed.into(),
                    b.failed.into(),
                    b.errored.into(),
                    b.skipped.into(),
                    b.flaky.into(),
                ]
            })
            .collect();
        super::query::render_table(&columns, &rows)
    };
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    lock.write_all(text.as_bytes())
        .map_err(|e| CliError::Output(anyhow!(e).context("writing to standard output")))?;
    Ok(Finished::Ok)
}

/// `YYYY-MM-DD HH:MM` in UTC, from Unix seconds (civil-from-days, no time zone data).
pub fn utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// A spinner on a terminal while a long write runs; nothing in CI logs or when quiet.
struct Spinner {
    bar: Option<indicatif::ProgressBar>,
}

impl Spinner {
    fn new(hidden: bool, message: String) -> Spinner {
        use std::io::IsTerminal;
        if hidden || !std::io::stderr().is_terminal() {
            return Spinner { bar: None };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(message);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner { bar: Some(bar) }
    }

    fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// A count that goes up: a bar-less counter on a terminal, a line every few seconds in
/// CI logs, nothing when quiet.
struct Counter {
    bar: Option<indicatif::ProgressBar>,
    log: Option<std::cell::Cell<(Instant, usize)>>,
    what: &'static str,
    unit: &'static str,
}

impl Counter {
    fn new(quiet: bool, what: &'static str, unit: &'static str) -> Counter {
        use std::io::IsTerminal;
        let mut c = Counter {
            bar: None,
            log: None,
            what,
            unit,
        };
        if quiet {
            return c;
        }
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            c.bar = Some(bar);
        } else {
            c.log = Some(std::cell::Cell::new((Instant::now(), 0)));
        }
        c
    }

    fn set(&self, n: usize) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{} {n} {}", self.what, self.unit));
        } else if let Some(log) = &self.log {
            let (last, _) = log.get();
            if last.elapsed().as_secs() >= 5 {
                eprintln!("dtf: {} {n} {} so far", self.what, self.unit);
                log.set((Instant::now(), n));
            }
        }
    }

    fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00");
        assert_eq!(utc(1_718_000_000), "2024-06-10 06:13");
        assert_eq!(utc(-60), "1969-12-31 23:59");
    }

    #[test]
    fn flags_win_over_the_environment() {
        let meta = BuildMetadata {
            build_id: Some("99".into()),
            branch: Some("feature".into()),
            commit: Some("abc".into()),
            ..BuildMetadata::default()
        };
        let from_env = build_info(&meta, None, None, None, Some(5));
        assert_eq!(
            (
                from_env.build_id.as_str(),
                from_env.branch.as_deref(),
                from_env.commit.as_deref(),
                from_env.time_unix,
                from_env.provider.as_str()
            ),
            ("99", Some("feature"), Some("abc"), 5, "local")
        );
        let flags = build_info(&meta, Some("b7"), Some("main"), Some("def"), Some(6));
        assert_eq!(
            (
                flags.build_id.as_str(),
                flags.branch.as_deref(),
                flags.commit.as_deref()
            ),
            ("b7", Some("main"), Some("def"))
        );
        let local = build_info(&BuildMetadata::default(), None, None, None, Some(42));
        assert_eq!(local.build_id, "local-42");
    }
}
