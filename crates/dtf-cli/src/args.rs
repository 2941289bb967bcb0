//! The command line, as clap derives it. Every command's help ends with examples.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  tests failed or errored (only with --fail-on-failures)
  2  usage error
  3  bad input (unreadable, malformed or not JUnit); with --keep-going, after writing outputs
  4  an output could not be written
  5  a bundle failed verification
  6  a run was cancelled (SIGINT/SIGTERM); partial results were written";

#[derive(Debug, Parser)]
#[command(
    name = "dtf",
    version,
    about = "dtf: a distributed testing framework for CI/CD",
    long_about = "dtf splits slow test suites across CI runners, merges every shard's results, \
                  and reports what changed.",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print less: only warnings and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Merge shard results (JUnit files, folders, globs, dtf bundles) into one run.
    #[command(after_help = "Examples:
  dtf merge --junit merged.xml --json summary.json 'results/**/*.xml'
  dtf merge --keep-going --junit merged.xml shard-1.xml shard-2.xml rerun/
  dtf merge --json summary.json --fail-on-failures artifacts/*.zip

Exit codes: 0 ok, 1 failures (with --fail-on-failures), 3 bad input, 4 cannot write")]
    Merge(MergeArgs),
    /// Merge shard results and render the reports: Markdown, HTML, JUnit and summary JSON.
    #[command(after_help = "Examples:
  dtf report --out-dir report/ results/
  dtf report --out-dir report/ --template-dir my-templates/ 'shards/*.xml'
  dtf report --out-dir report/ --format md,html --fail-on-failures results/
  dtf report --out-dir report/ --db history.db --config dtf.toml results/
  dtf report --out-dir report/ --baseline main-summary.json artifacts/*.zip

With --baseline or --db the reports also show what changed against the baseline (as
`dtf compare` decides it), the trend over the base branch's recent builds and the
[[query]] tables of --config, and comparison.json (dtf.comparison.v1) and comment.md
(the pull-request comment, within --budget characters) are written beside them.

Exit codes: 0 ok, 1 failures (with --fail-on-failures), 3 bad input (also a corrupt or
foreign history, a bad baseline or [[query]]), 4 cannot write")]
    Report(ReportArgs),
    /// Pack, verify, list, unpack and find artifact bundles.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),
    /// Split a suite into shards from history, dependencies, runner capabilities and deadlines.
    #[command(after_help = "Examples:
  dtf plan --shards 8 --timings results/ -o plan.json
  dtf plan --shards 16 --timings build-41/ --timings build-42/ --discover pytest --explain
  dtf plan --strategy deadline --deadline 10m --max-shards 32 --timings results/ -o plan.json
  dtf plan --shards 8 --timings results/ --emit github-matrix
  dtf plan --rerun-failed summary.json --previous-plan plan.json --shards 2 -o rerun.json

Strategies: timing (default), round-robin, priority, fair-share, deadline, batching, quota.
Without --tests or --discover, the tests are those in the timing files.

Exit codes: 0 ok, 2 usage, 3 bad input or a plan that cannot be made, 4 cannot write")]
    Plan(PlanArgs),
    /// Run one shard of a plan: retries, error categories, live status and a timeline.
    #[command(after_help = "Examples:
  dtf run --plan plan.json --shard 2 --framework pytest --retries 2
  dtf run --plan plan.json --framework cargo-nextest --jobs 2 --test-timeout 5m   # shard from CI_NODE_INDEX etc.
  dtf run --plan plan.json --shard 1 --command 'make test TESTS=\"{tests}\" JUNIT={junit}'

The shard is --shard K (1-based), else DTF_SHARD_INDEX, GitLab's CI_NODE_INDEX or Azure's
System.JobPositionInPhase. Results go to --out-dir: junit.xml (every attempt), summary.json,
shard-summary.json (dtf.shard.v1), timeline.json (dtf.timeline.v1), logs/ and the bundle
dtf-shard-K.zip.

Exit codes: 0 all passed (flaky allowed), 1 tests failed, 2 usage, 3 bad input,
4 cannot write the results, 6 cancelled (partial results written)")]
    Run(RunArgs),
    /// Run the whole pipeline locally on the bundled example suite: no network, no token.
    #[command(after_help = "Examples:
  dtf demo
  dtf demo --out-dir /tmp/dtf-demo")]
    Demo(DemoArgs),
    /// Keep every build's results in a history database: ingest, export, import, prune.
    #[command(subcommand)]
    History(crate::commands::history::HistoryCommand),
    /// Compare this build with a baseline: new failures, fixed, flaky, slower, anomalies.
    Compare(crate::commands::compare::CompareArgs),
    /// Ask the history database a question in SQL (read-only), or run a named query.
    Query(crate::commands::query::QueryArgs),
    /// Publish results to the CI provider: the one sticky pull-request comment, a check
    /// or status, and the job summary.
    Publish(crate::commands::publish::PublishArgs),
    /// Fetch the base branch's latest dtf results from the CI provider, as a baseline.
    Baseline(crate::commands::baseline::BaselineArgs),
    /// The example suite as a test framework, for `dtf demo` (not for people).
    #[command(hide = true)]
    ExampleSuite(crate::commands::example_suite::ExampleSuiteArgs),
}

/// Options shared by the commands that merge.
#[derive(Debug, Args)]
pub struct MergeInputs {
    /// JUnit files, folders (searched for JUnit files and dtf bundles), globs, or
    /// bundles (.zip with a dtf manifest).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Merge what can be read and list what could not (exit code 3 still reports it).
    #[arg(long)]
    pub keep_going: bool,
    /// Exit with code 1 when a test failed or errored.
    #[arg(long)]
    pub fail_on_failures: bool,
    /// Longest failure message kept in the merged JUnit, in bytes.
    #[arg(long, default_value_t = 16 << 10, value_name = "BYTES")]
    pub max_message_bytes: usize,
    /// Longest stack trace kept in the merged JUnit, in bytes.
    #[arg(long, default_value_t = 64 << 10, value_name = "BYTES")]
    pub max_details_bytes: usize,
    /// Longest system-out and system-err kept in the merged JUnit, in bytes each.
    #[arg(long, default_value_t = 64 << 10, value_name = "BYTES")]
    pub max_output_bytes: usize,
    /// Threads that parse inputs (default: one per core).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    #[command(flatten)]
    pub common: MergeInputs,
    /// Write the merged JUnit here.
    #[arg(long, value_name = "OUT.xml")]
    pub junit: Option<PathBuf>,
    /// Write the dtf.summary.v1 JSON here ("-" for standard output).
    #[arg(long, value_name = "OUT.json")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub common: MergeInputs,
    /// Folder to write the reports into (created if missing).
    #[arg(long, short, default_value = "dtf-report")]
    pub out_dir: PathBuf,
    /// Which reports to write: md, html, junit, json (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "md,html,junit,json")]
    pub format: Vec<ReportFormat>,
    /// Folder with templates that replace the built-in ones of the same name
    /// (summary.md.j2, report.html.j2).
    #[arg(long, value_name = "DIR")]
    pub template_dir: Option<PathBuf>,
    /// Title of the reports.
    #[arg(long, default_value = "Test report")]
    pub title: String,
    /// `dtf run` timelines (timeline.json) to draw in the HTML report; repeat for each shard.
    #[arg(long, value_name = "timeline.json")]
    pub timeline: Vec<PathBuf>,
    /// Most tests listed one by one in the HTML report (the rest are counted).
    #[arg(long, default_value_t = 20_000)]
    pub max_html_tests: usize,
    #[command(flatten)]
    pub against: crate::commands::compare::ComparisonArgs,
    #[command(flatten)]
    pub comment: crate::commands::compare::CommentArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
    Junit,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// Pack a folder into a bundle: a zip with a dtf.manifest.v1 listing every file's sha256.
    #[command(after_help = "Examples:
  dtf artifacts pack results/ -o shard-1.zip")]
    Pack {
        /// The folder to pack.
        dir: PathBuf,
        /// The bundle to write.
        #[arg(short, long, value_name = "X.zip")]
        output: PathBuf,
    },
    /// Check every file of a bundle against its manifest: changed, missing and extra files.
    #[command(after_help = "Examples:
  dtf artifacts verify shard-1.zip

Exit codes: 0 intact, 3 unreadable bundle, 5 verification failed")]
    Verify { bundle: PathBuf },
    /// List the files of a bundle with kind, size and sha256.
    #[command(after_help = "Examples:
  dtf artifacts ls shard-1.zip
  dtf artifacts ls --json shard-1.zip")]
    Ls {
        bundle: PathBuf,
        /// Print the manifest as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Unpack a bundle, refusing entries that escape the folder, links, and zip bombs.
    #[command(after_help = "Examples:
  dtf artifacts unpack shard-1.zip -d out/")]
    Unpack {
        bundle: PathBuf,
        /// Folder to unpack into (created if missing).
        #[arg(short = 'd', long, value_name = "DIR")]
        dest: PathBuf,
    },
    /// Find bundles and JUnit files under a folder.
    #[command(after_help = "Examples:
  dtf artifacts discover downloaded-artifacts/")]
    Discover {
        dir: PathBuf,
        /// Glob patterns for JUnit files, relative to DIR.
        #[arg(long, default_value = "**/*.xml")]
        pattern: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// How many shards (the most, for `--strategy deadline`); default from dtf.toml.
    #[arg(long)]
    pub shards: Option<u32>,
    /// The strategy: timing, round-robin, priority, fair-share, deadline, batching, quota.
    #[arg(long)]
    pub strategy: Option<String>,
    /// Earlier results to learn durations from: JUnit files, folders or globs, a dtf
    /// summary, or a JSON object of test id to seconds (pytest-split's .test_durations).
    /// Repeat for several builds, oldest first; the newest weighs most.
    #[arg(long = "timings", value_name = "PATH")]
    pub timings: Vec<String>,
    /// The tests to plan: a file with one id a line, or a JSON list.
    #[arg(long, value_name = "LIST", conflicts_with_all = ["discover", "discover_cmd", "rerun_failed"])]
    pub tests: Option<PathBuf>,
    /// Ask the framework for its tests: cargo-nextest, pytest, go, jest, vitest, js-files.
    #[arg(long, value_name = "PRESET", conflicts_with_all = ["discover_cmd", "rerun_failed"])]
    pub discover: Option<String>,
    /// Run this command (with `sh -c`) and plan the ids it prints, one a line.
    #[arg(long, value_name = "CMD", conflicts_with = "rerun_failed")]
    pub discover_cmd: Option<String>,
    /// Where discovery runs.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// Plan only the failed and lost tests of a build: its dtf summary or its JUnit results.
    #[arg(long, value_name = "RESULTS")]
    pub rerun_failed: Option<String>,
    /// The plan that build ran (tests it planned without a result are lost and rerun).
    #[arg(long, value_name = "PLAN", requires = "rerun_failed")]
    pub previous_plan: Option<PathBuf>,
    /// Pools, requirements, dependencies, priorities, groups ([default: ./dtf.toml if present]).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Plan single tests or whole files.
    #[arg(long, value_parser = ["test", "file"])]
    pub unit: Option<String>,
    /// Run dependent tests in later waves instead of in one shard.
    #[arg(long)]
    pub waves: bool,
    /// Wall-time target for `--strategy deadline`, such as 10m, 90s, 1h30m.
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<String>,
    /// The most shards `--strategy deadline` may use (default: --shards).
    #[arg(long, value_name = "N")]
    pub max_shards: Option<u32>,
    /// Most tests in one invocation (batching).
    #[arg(long, value_name = "N")]
    pub max_batch: Option<usize>,
    /// Write plan.json here ("-" for standard output).
    #[arg(short, long, value_name = "plan.json")]
    pub output: Option<PathBuf>,
    /// Print the plan in a provider's form: github-matrix, gitlab-parallel,
    /// gitlab-child-pipeline, jenkins, azure-matrix.
    #[arg(long, value_name = "FORMAT")]
    pub emit: Option<String>,
    /// With --emit gitlab-child-pipeline: what each shard job runs ({shard}, {total},
    /// {pool} and {wave} are filled in).
    #[arg(long, requires = "emit", value_name = "COMMAND")]
    pub emit_command: Option<String>,
    /// With --emit gitlab-child-pipeline: the artifact each shard job keeps.
    #[arg(long, requires = "emit", value_name = "PATH")]
    pub emit_artifact: Option<String>,
    /// With --emit gitlab-child-pipeline: the parent pipeline's job that wrote plan.json.
    #[arg(long, requires = "emit", value_name = "JOB")]
    pub emit_plan_job: Option<String>,
    /// With --emit gitlab-child-pipeline: the shard jobs' stage.
    #[arg(long, requires = "emit", value_name = "STAGE")]
    pub emit_stage: Option<String>,
    /// With --emit: the wave to emit, for plans that run in waves.
    #[arg(long, requires = "emit")]
    pub wave: Option<u32>,
    /// With --emit: the part to emit, when there are more shards than the provider allows in one matrix.
    #[arg(long, requires = "emit")]
    pub part: Option<u32>,
    /// Print a table of the shards: pool, tests, predicted time, bars.
    #[arg(long)]
    pub explain: bool,
    /// Use the timing files that can be read and warn about the rest.
    #[arg(long)]
    pub keep_going: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plan (dtf.plan.v1) written by `dtf plan`.
    #[arg(long, value_name = "plan.json")]
    pub plan: PathBuf,
    /// Which shard, 1-based (default: from the CI provider's environment).
    #[arg(long, value_name = "K")]
    pub shard: Option<u32>,
    /// The test framework: cargo-nextest, pytest, go, jest, vitest.
    #[arg(
        long,
        value_name = "PRESET",
        required_unless_present = "command",
        conflicts_with = "command"
    )]
    pub framework: Option<String>,
    /// A command template instead of a framework: {tests} (the ids, quoted),
    /// {tests_file} (a file listing them), {junit} (where the JUnit must go),
    /// {work_dir}, {shard}, {attempt}. Run with `sh -c`.
    #[arg(long, value_name = "TEMPLATE")]
    pub command: Option<String>,
    /// Extra arguments for the framework (for example `--workspace` for nextest).
    #[arg(long = "framework-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub framework_args: Vec<String>,
    /// Where the framework runs.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// Invocations at once (1 runs one after another).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Run at once only what fits in this much memory (such as 16GB), per the tests'
    /// `memory >=` requirements in dtf.toml.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// GPUs to share between invocations, per the tests' `gpu` requirements.
    #[arg(long, value_name = "N")]
    pub gpus: Option<u32>,
    /// Retries for transient failures (infrastructure, timeout, crash, lost).
    #[arg(long, default_value_t = 0)]
    pub retries: u32,
    /// Retry assertion failures and errors too.
    #[arg(long)]
    pub retry_failed: bool,
    /// Time limit per test (such as 30s, 5m).
    #[arg(long, value_name = "DURATION")]
    pub test_timeout: Option<String>,
    /// Time limit per invocation of the framework.
    #[arg(long, value_name = "DURATION")]
    pub invocation_timeout: Option<String>,
    /// Where the results go (created if missing).
    #[arg(long, short, value_name = "DIR", default_value = "dtf-results")]
    pub out_dir: PathBuf,
    /// Rewrite this JSON file (dtf.status.v1) with live status.
    #[arg(long, value_name = "FILE")]
    pub status_file: Option<PathBuf>,
    /// Requirements, dependencies and error-category rules ([default: ./dtf.toml if present]).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the example results and every report.
    #[arg(long, short, default_value = "dtf-demo-out")]
    pub out_dir: PathBuf,
}
