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
  5  a bundle failed verification";

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

Exit codes: 0 ok, 1 failures (with --fail-on-failures), 3 bad input, 4 cannot write")]
    Report(ReportArgs),
    /// Pack, verify, list, unpack and find artifact bundles.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),
    /// Run the whole pipeline locally on the bundled example suite: no network, no token.
    #[command(after_help = "Examples:
  dtf demo
  dtf demo --out-dir /tmp/dtf-demo")]
    Demo(DemoArgs),
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
    /// Most tests listed one by one in the HTML report (the rest are counted).
    #[arg(long, default_value_t = 20_000)]
    pub max_html_tests: usize,
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
pub struct DemoArgs {
    /// Where to write the example results and every report.
    #[arg(long, short, default_value = "dtf-demo-out")]
    pub out_dir: PathBuf,
}
