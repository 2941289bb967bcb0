//! `dtf compare`: this build against a baseline and the base branch's history, as
//! `dtf.comparison.v1`, the pull-request comment, and a few lines for the log.
//!
//! Where the baseline comes from is decided here once, for `dtf compare`, `dtf report`
//! and `dtf demo` alike ([`ComparisonArgs`], [`compare_merged`]):
//!
//! - `--baseline PATH...`: a `dtf.summary.v1` (which lists only failures, flaky and
//!   slow tests, so a test it does not name is taken to have passed and nothing is
//!   reported new or removed), or results to merge (dtf bundles, folders, JUnit files,
//!   globs), which list every test. A SQLite file there is taken as `--db`.
//! - `--db PATH`: the history. Without `--baseline`, the newest build of the base
//!   branch before this one is the baseline. Either way the base branch's recent
//!   builds are what flakiness, durations, anomalies and the trend are judged against.
//!   The base branch is `--branch`, else the build's target branch, else `main` or
//!   `master` (whichever the history has), else the build's own branch.
//!
//! A history that does not exist yet is the first build, not an error: the first CI
//! run of a repository has nothing to download. A history that exists and cannot be
//! read is an error (exit 3) that names the file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::anyhow;
use clap::{ArgGroup, Args};
use dtf_core::categorize::Categorizer;
use dtf_core::merge::{MergeError, MergeOptions, merge};
use dtf_core::metadata::BuildMetadata;
use dtf_core::summary::Summary;
use dtf_history::compare::{CompareOptions, compare};
use dtf_history::ingest::{Origin, Origins, record_from_merged, record_from_merged_with};
use dtf_history::model::{
    BuildInfo, BuildRecord, BuildTotals, Change, Comparison, TestChange, TestRecord,
};
use dtf_history::queries::NamedQuery;
use dtf_history::store::{QueryOptions, Store, StoreError};
use dtf_report::comment::{GITHUB_COMMENT_LIMIT, GITLAB_NOTE_LIMIT};
use dtf_report::data::QueryTable;
use dtf_report::{CommentExtras, CommentLinks, CommentOptions, Templates};

use super::generated_by;
use super::history::{build_info, store_error};
use super::merge::{Merged, merge_inputs, write_atomically};
use super::query::{named_queries, open_for_query};
use crate::args::MergeInputs;
use crate::{CliError, Finished};

/// Rows kept of each named query: the comment shows a few, the HTML report all kept.
const QUERY_ROWS: usize = 1_000;
/// New failures named in the log; the comment and the reports have the rest.
const LOGGED_FAILURES: usize = 10;

/// What to compare the build against: shared by `dtf compare` and `dtf report`.
#[derive(Args, Debug, Clone)]
pub struct ComparisonArgs {
    /// The baseline: a dtf.summary.v1 JSON, dtf bundles, a folder, or JUnit files or
    /// globs (repeat for several); default the base branch's latest build in --db.
    #[arg(long, value_name = "PATH")]
    pub baseline: Vec<String>,
    /// The history database: the base branch's latest build is the baseline unless
    /// --baseline says otherwise, and its recent builds judge flakiness, durations
    /// and the trend.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// The base branch in the history (default: the build's target branch, else main
    /// or master, whichever the history has).
    #[arg(long, value_name = "BASE")]
    pub branch: Option<String>,
    /// How many of the base branch's builds are read from the history.
    #[arg(long, default_value_t = 30, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub history_builds: u64,
    /// dtf.toml: its [[query]] tables are run on the history and shown, its
    /// [[category]] rules name the error categories.
    #[arg(long, value_name = "dtf.toml")]
    pub config: Option<PathBuf>,
    /// This build's id (default: the CI provider's, else local-<unix time>).
    #[arg(long, value_name = "ID")]
    pub build_id: Option<String>,
    /// This build's branch (default: the CI provider's).
    #[arg(long, value_name = "NAME")]
    pub build_branch: Option<String>,
    /// This build's commit (default: the CI provider's).
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
    /// When this build ran, in seconds since the Unix epoch (default: now).
    #[arg(long, value_name = "UNIX")]
    pub time: Option<i64>,
}

impl ComparisonArgs {
    /// Whether the flags ask for a comparison at all.
    pub fn wanted(&self) -> bool {
        !self.baseline.is_empty() || self.db.is_some()
    }
}

/// How the pull-request comment is rendered: shared by `dtf compare` and `dtf report`.
#[derive(Args, Debug, Clone)]
pub struct CommentArgs {
    /// Most characters in the comment: a number, github (65,536, the default) or
    /// gitlab (1,000,000). Sections shrink to "and N more" to fit.
    #[arg(long, default_value = "github", value_parser = parse_budget, value_name = "N")]
    pub budget: usize,
    /// A key for the comment's hidden marker, so several pipelines keep one comment each.
    #[arg(long, value_name = "KEY")]
    pub marker_key: Option<String>,
    /// Link the comment's headline to the full report (an http or https URL).
    #[arg(long, value_name = "URL")]
    pub report_url: Option<String>,
}

impl Default for CommentArgs {
    fn default() -> CommentArgs {
        CommentArgs {
            budget: GITHUB_COMMENT_LIMIT,
            marker_key: None,
            report_url: None,
        }
    }
}

fn parse_budget(text: &str) -> Result<usize, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "github" => Ok(GITHUB_COMMENT_LIMIT),
        "gitlab" => Ok(GITLAB_NOTE_LIMIT),
        n => n
            .replace(['_', ','], "")
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| "a number of characters above 0, github or gitlab".to_owned()),
    }
}

#[derive(Args, Debug)]
#[command(
    group(ArgGroup::new("against").required(true).multiple(true).args(["baseline", "db"])),
    after_help = "Examples:
  dtf compare --db history.db --comment comment.md --json comparison.json results/
  dtf compare --baseline main-summary.json --fail-on-new-failures 'shards/*.xml'
  dtf compare --baseline base-artifacts/ --db history.db --branch develop artifacts/*.zip
  dtf compare --db history.db --markdown --budget gitlab results/ > comment.md

The inputs are this build's results, read as `dtf merge` reads them. The baseline is
--baseline (a dtf.summary.v1 JSON, bundles, a folder or JUnit files), else the newest
build of the base branch in --db before this build. The history's recent builds of
the base branch judge flaky tests, duration regressions (each test against its own
history, with a confidence), anomalies and the trend. A --db file that does not exist
yet means a first build: nothing to compare against.

Standard output gets a short summary (or the comment, with --markdown); --json writes
the comparison (dtf.comparison.v1) and --comment the pull-request comment, always
within --budget characters and with a hidden marker to find it again.

Exit codes: 0 ok, 1 new failures (with --fail-on-new-failures), 2 usage, 3 bad input
(unreadable results or baseline, a corrupt or foreign history, a bad [[query]]),
4 cannot write"
)]
pub struct CompareArgs {
    /// This build's results: JUnit files, folders (searched for JUnit files and dtf
    /// bundles), globs, or bundles.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Compare what can be read and list what could not (exit code 3 still reports it).
    #[arg(long)]
    pub keep_going: bool,
    /// Threads that parse inputs (default: one per core).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub threads: usize,
    #[command(flatten)]
    pub against: ComparisonArgs,
    #[command(flatten)]
    pub comment_args: CommentArgs,
    /// Write the comparison (dtf.comparison.v1) here.
    #[arg(long, value_name = "comparison.json")]
    pub json: Option<PathBuf>,
    /// Write the pull-request comment (Markdown) here.
    #[arg(long, value_name = "comment.md")]
    pub comment: Option<PathBuf>,
    /// Print the comment on standard output instead of the short summary.
    #[arg(long)]
    pub markdown: bool,
    /// The comment headline's name for the test run.
    #[arg(long, default_value = "Tests")]
    pub title: String,
    /// Folder with a comment.md.j2 that replaces the built-in template.
    #[arg(long, value_name = "DIR")]
    pub template_dir: Option<PathBuf>,
    /// Exit with code 1 when a test fails that did not fail in the baseline (failing
    /// new tests included).
    #[arg(long)]
    pub fail_on_new_failures: bool,
}

/// A comparison and the named queries' tables that go with it.
pub struct Compared {
    pub comparison: Comparison,
    pub queries: Vec<QueryTable>,
    /// How many of the base branch's builds it was judged against.
    pub history_builds: usize,
}

/// The baseline named by `--baseline`.
struct ExplicitBaseline {
    record: BuildRecord,
    /// Whether it lists every test (results) or only some (a summary).
    complete: bool,
    /// A summary's own totals: its record holds only the tests it lists.
    totals: Option<BuildTotals>,
}

/// Everything a comparison needs that does not depend on this build: the history, the
/// baseline, the rules and the queries. Read first, so that a corrupt history or a bad
/// baseline fails before minutes of merging.
pub struct Against {
    categorizer: Categorizer,
    queries: Vec<NamedQuery>,
    store: Option<Store>,
    explicit: Option<ExplicitBaseline>,
    quiet: bool,
}

impl Against {
    pub fn open(args: &ComparisonArgs, quiet: bool) -> Result<Against, CliError> {
        let categorizer = super::history::categorizer(args.config.as_deref())?;
        let queries: Vec<_> = match &args.config {
            Some(path) => named_queries(Some(path))?
                .into_iter()
                .filter(|q| !q.builtin)
                .collect(),
            None => Vec::new(),
        };
        // A history given as --baseline is the history.
        let mut db = args.db.clone();
        let mut baseline_paths = Vec::new();
        for p in &args.baseline {
            if is_sqlite(Path::new(p)) {
                if db.as_deref().is_some_and(|d| d != Path::new(p)) {
                    return Err(CliError::BadInput(anyhow!(
                        "{p}: a history database given as --baseline while --db names another; give one history"
                    )));
                }
                db = Some(PathBuf::from(p));
            } else {
                baseline_paths.push(p.clone());
            }
        }
        let against = Against {
            categorizer,
            queries,
            store: None,
            explicit: None,
            quiet,
        };
        let store = match &db {
            Some(path) if !path.exists() => {
                against.warn(format!(
                    "{}: no history database yet; this is the first build",
                    path.display()
                ));
                None
            }
            Some(path) => Some(open_for_query(path)?),
            None => None,
        };
        let explicit = if baseline_paths.is_empty() {
            None
        } else {
            Some(against.load_baseline(&baseline_paths, args.branch.as_deref())?)
        };
        Ok(Against {
            store,
            explicit,
            ..against
        })
    }

    fn warn(&self, s: String) {
        if !self.quiet {
            eprintln!("warning: {s}");
        }
    }

    /// Compares `merged` (this build) with the baseline and the history.
    pub fn compare(&self, merged: &Merged, args: &ComparisonArgs) -> Result<Compared, CliError> {
        let info = build_info(
            &merged.build,
            args.build_id.as_deref(),
            args.build_branch.as_deref(),
            args.commit.as_deref(),
            args.time,
        );
        let origins = match &self.store {
            Some(s) => stored_origins(s, &info.build_id)?,
            None => Origins::new(),
        };
        let current = record_from_merged_with(&merged.run, info, &self.categorizer, &origins)
            .map_err(|e| CliError::Output(anyhow!(e)))?;
        let history = match &self.store {
            Some(s) => self.base_history(s, &current.info, args)?,
            None => Vec::new(),
        };

        let mut options = CompareOptions::default();
        let mut explicit = self.explicit.as_ref().map(|b| &b.record);
        let named;
        if let Some(b) = &self.explicit {
            options.baseline_complete = b.complete;
            // A baseline that does not say its branch is of the branch compared with.
            if b.record.info.branch.is_none() {
                let mut r = b.record.clone();
                r.info.branch = current.info.base_branch.clone();
                named = r;
                explicit = Some(&named);
            }
        }
        // Without a history, a complete baseline is the one earlier build known.
        let history = match (explicit, &self.store) {
            (Some(b), None) if options.baseline_complete => vec![b.clone()],
            _ => history,
        };
        let baseline = explicit.or(history.last());
        let mut comparison = compare(&current, baseline, &history, &options);
        if let Some(totals) = self.explicit.as_ref().and_then(|b| b.totals.clone()) {
            comparison.baseline_totals = Some(totals);
        }
        let queries = match &self.store {
            Some(s) => run_queries(s, &self.queries)?,
            None => Vec::new(),
        };
        Ok(Compared {
            comparison,
            queries,
            history_builds: history.len(),
        })
    }
}

/// [`Against::open`], then [`Against::compare`].
pub fn compare_merged(
    merged: &Merged,
    args: &ComparisonArgs,
    quiet: bool,
) -> Result<Compared, CliError> {
    Against::open(args, quiet)?.compare(merged, args)
}

fn is_sqlite(path: &Path) -> bool {
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"SQLite format 3\0")
}

/// Where each test of this build ran, when `dtf history ingest` already stored the
/// build (with its bundles' runner labels and its plan's pools): the merge alone
/// does not know.
fn stored_origins(store: &Store, build_id: &str) -> Result<Origins, CliError> {
    let mut origins = Origins::new();
    if let Some(stored) = store.load(build_id).map_err(store_error)? {
        for t in stored.tests {
            let origin = Origin {
                shard: t.shard,
                pool: t.pool,
                labels: t.labels,
            };
            origins.insert(t.id, &origin);
        }
    }
    Ok(origins)
}

impl Against {
    /// The base branch's recent builds before this one, oldest first.
    fn base_history(
        &self,
        store: &Store,
        current: &BuildInfo,
        args: &ComparisonArgs,
    ) -> Result<Vec<BuildRecord>, CliError> {
        let has = |branch: &str| -> Result<bool, CliError> {
            Ok(!store
                .builds(Some(branch), 1)
                .map_err(store_error)?
                .is_empty())
        };
        let branch = match args.branch.as_deref().or(current.base_branch.as_deref()) {
            Some(b) => Some(b.to_owned()),
            None => {
                let mut found = None;
                for b in ["main", "master"]
                    .into_iter()
                    .chain(current.branch.as_deref())
                {
                    if has(b)? {
                        found = Some(b.to_owned());
                        break;
                    }
                }
                found
            }
        };
        let Some(branch) = branch else {
            self.warn(format!(
                "{}: no build of main or master to compare against; give the base branch with --branch",
                store.path().display()
            ));
            return Ok(Vec::new());
        };
        let n = usize::try_from(args.history_builds).unwrap_or(usize::MAX);
        // Only builds before this one: comparing a build with itself finds nothing.
        let history = match store.recent(Some(&branch), n, Some(&current.build_id)) {
            Err(StoreError::UnknownBuild { .. }) => store.recent(Some(&branch), n, None),
            other => other,
        }
        .map_err(store_error)?;
        if history.is_empty() {
            self.warn(format!(
                "{}: no earlier build of {branch}; this is the first build to compare",
                store.path().display()
            ));
        }
        Ok(history)
    }

    /// Reads `--baseline`: one summary JSON, or results to merge.
    fn load_baseline(
        &self,
        paths: &[String],
        branch: Option<&str>,
    ) -> Result<ExplicitBaseline, CliError> {
        let first = Path::new(&paths[0]);
        let time_unix = std::fs::metadata(first)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        if paths.len() == 1 && is_json(first) {
            let text = std::fs::read_to_string(first).map_err(|e| {
                CliError::BadInput(anyhow!(e).context(format!("reading {}", first.display())))
            })?;
            let summary = Summary::from_json(&text, &first.display().to_string())
                .map_err(|e| CliError::BadInput(anyhow!(e).context("reading the baseline")))?;
            if summary.failures_omitted + summary.flaky_omitted > 0 {
                self.warn(format!(
                    "{}: the baseline summary leaves out {} failing and {} flaky tests; they count as passed there",
                    first.display(),
                    summary.failures_omitted,
                    summary.flaky_omitted
                ));
            }
            let info = baseline_info(summary.build.as_ref(), branch, time_unix);
            return Ok(summary_baseline(&summary, info));
        }
        // Not `merge_inputs`: a baseline is all or nothing (no --keep-going), and the
        // environment describes this build, not the baseline's.
        let bad = |e: anyhow::Error| CliError::BadInput(e.context("reading the baseline"));
        let expanded = crate::inputs::expand(paths).map_err(bad)?;
        if let Some((arg, why)) = expanded.problems.first() {
            return Err(bad(anyhow!("{arg}: {why}")));
        }
        if expanded.inputs.is_empty() {
            return Err(bad(anyhow!(
                "no JUnit results found in {}",
                paths.join(", ")
            )));
        }
        let run = merge(&expanded.inputs, &MergeOptions::default()).map_err(|e| match e {
            MergeError::Spool(e) => {
                CliError::Output(anyhow!(e).context("writing the temporary spool file"))
            }
            other => bad(anyhow!(other)),
        })?;
        let meta = bundle_build(paths);
        let info = baseline_info(meta.as_ref(), branch, time_unix);
        let record = record_from_merged(&run, info, &self.categorizer)
            .map_err(|e| CliError::Output(anyhow!(e)))?;
        Ok(ExplicitBaseline {
            record,
            complete: true,
            totals: None,
        })
    }
}

/// A file that holds JSON rather than XML: by its name, else by its first character.
fn is_json(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return true;
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// The build a baseline's bundles say they come from (the first that says).
fn bundle_build(paths: &[String]) -> Option<BuildMetadata> {
    let mut bundles = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            if let Ok(found) = dtf_artifacts::discover(path, &[]) {
                bundles.extend(found.bundles);
            }
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        {
            bundles.push(path.to_path_buf());
        }
    }
    bundles.iter().find_map(|b| {
        dtf_artifacts::bundle::Bundle::open(b)
            .ok()
            .and_then(|b| b.manifest().build.clone())
    })
}

fn baseline_info(meta: Option<&BuildMetadata>, branch: Option<&str>, time_unix: i64) -> BuildInfo {
    let meta = meta.cloned().unwrap_or_default();
    BuildInfo {
        build_id: meta.build_id.unwrap_or_else(|| "baseline".to_owned()),
        provider: meta.provider.as_str().to_owned(),
        repository: meta.repository,
        branch: meta.branch.or_else(|| branch.map(str::to_owned)),
        base_branch: meta.base_branch,
        commit: meta.commit,
        change_request: meta.change_request,
        url: meta.build_url,
        time_unix,
        wall_s: None,
    }
}

/// A summary as a partial build: the tests it lists (failures first, so that a test
/// listed twice counts as it failed), and its own totals beside them.
fn summary_baseline(s: &Summary, info: BuildInfo) -> ExplicitBaseline {
    let tests = s
        .failures
        .iter()
        .chain(&s.flaky)
        .chain(&s.slowest)
        .map(|t| TestRecord {
            id: t.id.clone(),
            status: t.status,
            duration_s: t.duration_s.filter(|d| d.is_finite() && *d >= 0.0),
            attempts: t.attempts.max(1),
            category: None,
            message: t.message.clone(),
            shard: None,
            pool: None,
            labels: Vec::new(),
        })
        .collect();
    let t = &s.totals;
    // The summary's time counts every attempt; the history's only the deciding one,
    // so a baseline with many retries reads a little slower than it was.
    let totals = BuildTotals {
        tests: t.tests,
        passed: t.passed,
        failed: t.failed,
        errored: t.errored,
        skipped: t.skipped,
        flaky: t.flaky,
        duration_s: t.duration_s,
        wall_s: None,
    };
    ExplicitBaseline {
        record: BuildRecord { info, tests },
        complete: false,
        totals: Some(totals),
    }
}

/// Runs the configured queries on the history, read-only.
fn run_queries(store: &Store, queries: &[NamedQuery]) -> Result<Vec<QueryTable>, CliError> {
    let options = QueryOptions {
        max_rows: Some(QUERY_ROWS),
    };
    queries
        .iter()
        .map(|q| {
            let result = store.query_with(&q.sql, &options).map_err(|e| match e {
                StoreError::Query { .. } => CliError::BadInput(anyhow!("query {:?}: {e}", q.name)),
                other => store_error(other),
            })?;
            let rows = result
                .rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| match v {
                            serde_json::Value::Null => String::new(),
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect();
            Ok(QueryTable {
                name: q.name.clone(),
                title: q.title.clone(),
                columns: result.columns,
                rows,
            })
        })
        .collect()
}

/// The pull-request comment for a comparison.
pub fn render_comment(
    templates: &Templates,
    compared: &Compared,
    args: &CommentArgs,
    title: Option<&str>,
) -> Result<String, CliError> {
    let options = CommentOptions {
        budget: args.budget,
        marker: CommentOptions::marker_for(args.marker_key.as_deref()),
        title: title.map(str::to_owned),
        links: CommentLinks {
            report: args.report_url.clone(),
            build: None,
        },
        ..CommentOptions::default()
    };
    let extras = CommentExtras {
        queries: compared.queries.clone(),
        generated_by: Some(generated_by()),
    };
    templates
        .render_comment(&compared.comparison, &extras, &options)
        .map_err(|e| CliError::BadInput(anyhow!(e).context("rendering the comment")))
}

/// Writes the comparison as pretty JSON with a final newline.
pub fn write_comparison(comparison: &Comparison, path: &Path) -> Result<(), CliError> {
    write_atomically(path, |out| {
        serde_json::to_writer_pretty(&mut *out, comparison)?;
        out.write_all(b"\n")
    })
}

/// How a build is named in the log: `branch@abc1234`, else the commit, else its id.
fn label(b: &BuildInfo) -> String {
    let short = b
        .commit
        .as_deref()
        .map(|c| c.chars().take(7).collect::<String>());
    match (b.branch.as_deref(), short) {
        (Some(branch), Some(commit)) => plain(&format!("{branch}@{commit}"), 120),
        (Some(branch), None) => plain(branch, 120),
        (None, Some(commit)) => plain(&commit, 120),
        (None, None) => format!("build {}", plain(&b.build_id, 120)),
    }
}

/// One line of at most `max` characters, control characters escaped, so that test
/// text cannot move the cursor or forge log lines.
fn plain(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The few lines printed at the end: counts, then the new failures by name.
pub fn text_summary(compared: &Compared) -> String {
    let c = &compared.comparison;
    let t = &c.totals;
    let mut s = format!(
        "{} tests: {} passed, {} failed, {} errored, {} skipped, {} flaky\n",
        t.tests, t.passed, t.failed, t.errored, t.skipped, t.flaky
    );
    let Some(base) = &c.baseline else {
        s.push_str("first build in the history: nothing to compare against\n");
        return s;
    };
    let newly = c.newly_failing();
    let mut parts = vec![format!(
        "{} new {}",
        newly.len(),
        if newly.len() == 1 {
            "failure"
        } else {
            "failures"
        }
    )];
    for (n, what) in [
        (c.count(Change::StillFailing), "still failing"),
        (c.count(Change::Fixed), "fixed"),
        (c.flaky_now().len(), "flaky"),
        (c.count(Change::New), "new"),
        (c.count(Change::Removed), "removed"),
        (c.count(Change::NewlySkipped), "newly skipped"),
        (c.slower.len(), "slower"),
        (c.faster.len(), "faster"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let history = compared.history_builds;
    s.push_str(&format!(
        "against {}{}: {}\n",
        label(base),
        if history > 1 {
            format!(" (history: {history} builds)")
        } else {
            String::new()
        },
        parts.join(", ")
    ));
    for t in newly.iter().take(LOGGED_FAILURES) {
        s.push_str(&new_failure_line(t));
    }
    if newly.len() > LOGGED_FAILURES {
        s.push_str(&format!(
            "  …and {} more new failures\n",
            newly.len() - LOGGED_FAILURES
        ));
    }
    s
}

fn new_failure_line(t: &TestChange) -> String {
    match &t.message {
        Some(m) => format!("  new failure: {}: {}\n", plain(&t.id, 200), plain(m, 160)),
        None => format!("  new failure: {}\n", plain(&t.id, 200)),
    }
}

pub fn run(args: &CompareArgs, quiet: bool) -> Result<Finished, CliError> {
    // Templates and the history fail fast, before the merge.
    let templates =
        Templates::new(args.template_dir.as_deref()).map_err(|e| CliError::BadInput(anyhow!(e)))?;
    let inputs = MergeInputs {
        inputs: args.inputs.clone(),
        keep_going: args.keep_going,
        fail_on_failures: false,
        max_message_bytes: 16 << 10,
        max_details_bytes: 64 << 10,
        max_output_bytes: 64 << 10,
        threads: args.threads,
    };
    let against = Against::open(&args.against, quiet)?;
    let merged = merge_inputs(&inputs, quiet)?;
    let compared = against.compare(&merged, &args.against)?;
    let comment = if args.comment.is_some() || args.markdown {
        Some(render_comment(
            &templates,
            &compared,
            &args.comment_args,
            Some(&args.title),
        )?)
    } else {
        None
    };
    if let Some(path) = &args.json {
        write_comparison(&compared.comparison, path)?;
    }
    if let (Some(path), Some(text)) = (&args.comment, &comment) {
        write_atomically(path, |out| out.write_all(text.as_bytes()))?;
    }
    let shown = match (&comment, args.markdown) {
        (Some(text), true) => text.clone(),
        _ => text_summary(&compared),
    };
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    lock.write_all(shown.as_bytes())
        .and_then(|()| lock.flush())
        .map_err(|e| CliError::Output(anyhow!(e).context("writing to standard output")))?;
    if !quiet {
        for p in [&args.json, &args.comment].into_iter().flatten() {
            eprintln!("  wrote {}", p.display());
        }
        for (what, why) in &merged.problems {
            eprintln!("  not compared: {what}: {why}");
        }
    }
    Ok(if !merged.problems.is_empty() {
        Finished::SomeInputsBad
    } else if args.fail_on_new_failures && !compared.comparison.newly_failing().is_empty() {
        Finished::TestsFailed
    } else {
        Finished::Ok
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn budgets() {
        for (text, want) in [
            ("github", Some(65_536)),
            ("GitLab", Some(1_000_000)),
            ("4000", Some(4_000)),
            ("65_536", Some(65_536)),
            ("0", None),
            ("-5", None),
            ("lots", None),
        ] {
            assert_eq!(parse_budget(text).ok(), want, "{text}");
        }
    }

    #[test]
    fn log_text_cannot_forge_lines() {
        assert_eq!(plain("a\nb\x1b[31m", 100), "a\\nb\\u{1b}[31m");
        assert_eq!(plain("abcdef", 3), "abc…");
    }
}
