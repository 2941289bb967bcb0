//! `dtf publish`: the results where the CI provider shows them: the job summary, the
//! native test results (a GitHub check run with annotations), and the one sticky comment
//! on the pull request (GitHub) or merge request note (GitLab).
//!
//! Publishing never fails a build whose tests ran: a provider that refuses (a fork's
//! read-only token), lacks a feature or cannot be reached leaves a notice on standard
//! error and exit code 0; `--fail-on-error` makes an unreachable provider exit 4. When
//! the comment cannot be posted, its text goes to the job summary instead, so the
//! results stay one click away. Bad input (a missing file) is still exit 3, before
//! anything is sent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, ValueEnum};

use dtf_core::summary::Summary;
use dtf_provider::{
    CommentOutcome, HttpPolicy, Provider, ProviderError, ProviderKind, ProviderName,
    PublishOutcome, PublishedResults, ResultsOptions, Settings, SkipReason, SummaryOutcome,
};
use dtf_report::CommentOptions;
use dtf_report::comment::DEFAULT_MARKER;

use crate::args::MergeInputs;
use crate::{CliError, Finished};

/// Which provider to talk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProviderChoice {
    /// GitHub on GitHub Actions (GITHUB_ACTIONS=true), GitLab on GitLab CI
    /// (GITLAB_CI=true), local files elsewhere.
    Auto,
    Github,
    /// GitLab CI, gitlab.com or self-managed (the API from CI_API_V4_URL): the merge
    /// request note, job artifacts as the baseline; results come from
    /// artifacts:reports:junit and the summary is written to --out/dtf-summary.md.
    Gitlab,
    /// Files in the --out folder.
    Local,
}

/// How to reach the provider; shared with `dtf baseline`.
#[derive(Args, Debug)]
pub struct ProviderArgs {
    /// The CI provider.
    #[arg(long, value_enum, default_value = "auto")]
    pub provider: ProviderChoice,
    /// The environment variable holding the API token. Its value is never printed.
    /// Default: GITHUB_TOKEN on GitHub; on GitLab DTF_GITLAB_TOKEN, else GITLAB_TOKEN: a
    /// project access token (scope api, role Reporter) for the merge request note, sent
    /// as PRIVATE-TOKEN. CI_JOB_TOKEN cannot write notes; with only it, the note is
    /// skipped with a notice and its text goes to the summary file, and it still
    /// downloads the baseline.
    #[arg(long, value_name = "NAME")]
    pub token_env: Option<String>,
    /// Seconds to wait for one API answer before trying again.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub http_timeout: u64,
    /// Longest wait, in seconds, for a rate limit to reset; a longer one fails at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub max_rate_limit_wait: u64,
}

impl ProviderArgs {
    /// Opens the provider from the process environment, the one place `dtf publish`
    /// and `dtf baseline` read it.
    pub fn open(
        &self,
        local_dir: &Path,
        local_baseline: Option<&Path>,
        baseline_job: Option<&str>,
    ) -> Result<Box<dyn Provider>, CliError> {
        let settings = Settings {
            kind: match self.provider {
                ProviderChoice::Auto => ProviderKind::Auto,
                ProviderChoice::Github => ProviderKind::Github,
                ProviderChoice::Gitlab => ProviderKind::Gitlab,
                ProviderChoice::Local => ProviderKind::Local,
            },
            local_dir: local_dir.to_owned(),
            local_baseline: local_baseline.map(Path::to_owned),
            token_variable: self.token_env.clone(),
            baseline_job: baseline_job.map(str::to_owned),
            http: HttpPolicy {
                request_timeout: Duration::from_secs(self.http_timeout.max(1)),
                max_rate_limit_wait: Duration::from_secs(self.max_rate_limit_wait),
                ..HttpPolicy::default()
            },
        };
        let env = |name: &str| std::env::var(name).ok();
        dtf_provider::open(&settings, &env).map_err(|e| match e {
            ProviderError::Config { .. } => CliError::BadInput(anyhow!(e)),
            other => CliError::Output(anyhow!(other).context("opening the provider")),
        })
    }
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  dtf publish --from-report report/
  dtf publish --comment report/comment.md --summary report/summary.md --results report/summary.json
  dtf publish --provider local --from-report report/ --out published/
  dtf publish --provider gitlab --from-report report/ --out report/   # in a GitLab job

On GitLab the note needs a project access token in DTF_GITLAB_TOKEN (or --token-env);
the summary has no page of its own there and is written to --out/dtf-summary.md, and
test results show through artifacts:reports:junit, so --results publishes nothing.")]
pub struct PublishArgs {
    #[command(flatten)]
    pub provider: ProviderArgs,
    /// A `dtf report` output folder: its comment.md, summary.md and summary.json are
    /// published (the flags below win over it).
    #[arg(long, value_name = "DIR")]
    pub from_report: Option<PathBuf>,
    /// The sticky pull-request comment (Markdown).
    #[arg(long, value_name = "comment.md")]
    pub comment: Option<PathBuf>,
    /// The job summary (Markdown).
    #[arg(long, value_name = "summary.md")]
    pub summary: Option<PathBuf>,
    /// Results for the check run and its annotations: a dtf.summary.v1 JSON, or JUnit XML.
    #[arg(long, value_name = "summary.json|merged.xml")]
    pub results: Option<PathBuf>,
    /// Keep one comment per key (`<!-- dtf:report:KEY -->`), for several pipelines on
    /// one pull request. Default: the comment's own marker, else `<!-- dtf:report -->`.
    #[arg(long, value_name = "KEY")]
    pub marker_key: Option<String>,
    /// The check run's name.
    #[arg(long, value_name = "NAME", default_value = "dtf")]
    pub check_name: String,
    /// The local provider's folder; on GitLab, where dtf-summary.md is written.
    #[arg(long, value_name = "DIR", default_value = "dtf-publish")]
    pub out: PathBuf,
    /// Exit with code 4 when the provider could not be reached or answered an error.
    /// Refusals (a read-only token) still exit 0.
    #[arg(long)]
    pub fail_on_error: bool,
}

/// What to publish, read before anything is sent.
struct Inputs {
    comment: Option<String>,
    summary: Option<String>,
    results: Option<Summary>,
}

fn read_text(path: &Path, what: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::BadInput(anyhow!(e).context(format!("reading the {what} {}", path.display())))
    })
}

impl Inputs {
    fn read(args: &PublishArgs) -> Result<Inputs, CliError> {
        // An explicit flag, else the report folder's file when it exists there.
        let pick = |flag: &Option<PathBuf>, name: &str| -> Option<PathBuf> {
            flag.clone().or_else(|| {
                args.from_report
                    .as_ref()
                    .map(|dir| dir.join(name))
                    .filter(|p| p.is_file())
            })
        };
        if let Some(dir) = &args.from_report
            && !dir.is_dir()
        {
            return Err(CliError::BadInput(anyhow!(
                "--from-report {}: not a folder",
                dir.display()
            )));
        }
        let comment = pick(&args.comment, "comment.md")
            .map(|p| read_text(&p, "comment"))
            .transpose()?;
        let summary = pick(&args.summary, "summary.md")
            .map(|p| read_text(&p, "summary"))
            .transpose()?;
        let results = pick(&args.results, "summary.json")
            .map(|p| read_results(&p))
            .transpose()?;
        if comment.is_none() && summary.is_none() && results.is_none() {
            return Err(CliError::BadInput(anyhow!(
                "nothing to publish: give --comment, --summary, --results, or --from-report with a folder that holds them"
            )));
        }
        Ok(Inputs {
            comment,
            summary,
            results,
        })
    }
}

/// A `dtf.summary.v1` file as it is; anything else is merged as JUnit.
fn read_results(path: &Path) -> Result<Summary, CliError> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        let text = read_text(path, "results")?;
        return Summary::from_json(&text, &path.display().to_string())
            .map_err(|e| CliError::BadInput(anyhow!(e)));
    }
    let merged = super::merge::merge_inputs(
        &MergeInputs {
            inputs: vec![path.display().to_string()],
            keep_going: false,
            fail_on_failures: false,
            max_message_bytes: 16 << 10,
            max_details_bytes: 64 << 10,
            max_output_bytes: 64 << 10,
            threads: 0,
        },
        true,
    )?;
    merged.summary()
}

/// The marker: `--marker-key`'s, else a dtf marker on the comment's first line, else
/// the default.
fn marker(args: &PublishArgs, comment: &str) -> String {
    if let Some(key) = &args.marker_key {
        return CommentOptions::marker_for(Some(key));
    }
    let first = comment.lines().next().unwrap_or_default().trim();
    if first.starts_with("<!-- dtf:report") && first.ends_with("-->") {
        first.to_owned()
    } else {
        DEFAULT_MARKER.to_owned()
    }
}

/// Collects what happened, for the last lines and the exit code.
struct Report {
    quiet: bool,
    errors: Vec<String>,
}

impl Report {
    fn done(&self, line: String) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }
    /// Degraded but fine: shown even with --quiet, since it explains a missing comment.
    fn notice(&self, line: String) {
        eprintln!("notice: {line}");
    }
    fn error(&mut self, what: &str, e: ProviderError) {
        eprintln!("warning: {what}: {e}");
        self.errors.push(format!("{what}: {e}"));
    }
}

pub fn run(args: &PublishArgs, quiet: bool) -> Result<Finished, CliError> {
    let inputs = Inputs::read(args)?;
    let provider = args.provider.open(&args.out, None, None)?;
    let mut report = Report {
        quiet,
        errors: Vec::new(),
    };
    let ctx = provider.context();
    report.done(describe(provider.as_ref()));
    for n in &ctx.notices {
        report.notice(n.clone());
    }

    // Text for the job summary when the comment could not be posted.
    let mut fallback = Vec::new();

    if let Some(summary) = &inputs.results {
        let mut results = PublishedResults::from_summary(
            summary,
            &ResultsOptions {
                name: args.check_name.clone(),
                ..ResultsOptions::default()
            },
        );
        results.text = inputs.summary.clone();
        match provider.publish_results(&results) {
            Ok(PublishOutcome::Published {
                id,
                url,
                annotations,
                requests,
            }) => {
                let sent = if requests > 0 {
                    format!(" in {requests} request(s)")
                } else {
                    String::new()
                };
                report.done(format!(
                    "results: {} ({}), {annotations} annotation(s){sent}: {}",
                    results.title,
                    results.conclusion.as_str(),
                    url.unwrap_or(id)
                ))
            }
            Ok(PublishOutcome::Skipped { reason }) => {
                report.notice(format!("results not published: {reason}"))
            }
            Err(e) => report.error("publishing the results", e),
        }
    }

    if let Some(comment) = &inputs.comment {
        let marker = marker(args, comment);
        match provider.upsert_comment(&marker, comment) {
            Ok(CommentOutcome::Created { id, url }) => {
                report.done(format!("comment: created {}", url.unwrap_or(id)))
            }
            Ok(CommentOutcome::Updated { id, url }) => {
                report.done(format!("comment: updated {}", url.unwrap_or(id)))
            }
            Ok(CommentOutcome::Skipped { reason }) => {
                let why = reason.to_string();
                report.notice(format!("comment not posted: {why}"));
                if !matches!(reason, SkipReason::NoChangeRequest) {
                    fallback.push(format!(
                        "> [!NOTE]\n> dtf could not post its pull-request comment: {why}. Here it is instead.\n\n{comment}\n"
                    ));
                }
            }
            Err(e) => {
                fallback.push(format!(
                    "> [!WARNING]\n> dtf could not post its pull-request comment: {e}. Here it is instead.\n\n{comment}\n"
                ));
                report.error("posting the comment", e);
            }
        }
    }

    let summary = match (&inputs.summary, fallback.is_empty()) {
        (Some(s), true) => Some(s.clone()),
        (Some(s), false) => Some(format!("{}\n{s}", fallback.join("\n"))),
        (None, false) => Some(fallback.join("\n")),
        (None, true) => None,
    };
    if let Some(markdown) = summary {
        match provider.write_summary(&markdown) {
            Ok(SummaryOutcome::Written {
                path, cut_bytes, ..
            }) => {
                let cut = if cut_bytes > 0 {
                    format!(" ({cut_bytes} bytes cut to fit the limit)")
                } else {
                    String::new()
                };
                report.done(format!("summary: written to {}{cut}", path.display()));
            }
            Ok(SummaryOutcome::Skipped { reason }) => {
                report.notice(format!("summary not written: {reason}"))
            }
            Err(e) => report.error("writing the summary", e),
        }
    }

    if !report.errors.is_empty() && args.fail_on_error {
        return Err(CliError::Output(anyhow!(
            "publishing failed: {}",
            report.errors.join("; ")
        )));
    }
    Ok(Finished::Ok)
}

/// "publishing to github octo/widgets, pull request #7 (commit 0a1b2c3)".
pub fn describe(provider: &dyn Provider) -> String {
    let c = provider.context();
    let mut s = format!("publishing to {}", c.provider.as_str());
    if let Some(r) = &c.repository {
        s.push_str(&format!(" {r}"));
    }
    match (c.change_request, c.provider) {
        (Some(n), ProviderName::Gitlab) => s.push_str(&format!(", merge request !{n}")),
        (Some(n), _) => s.push_str(&format!(", pull request #{n}")),
        (None, _) => s.push_str(", no pull request"),
    }
    if let Some(sha) = &c.head_sha {
        s.push_str(&format!(" (commit {})", sha.get(..12).unwrap_or(sha)));
    }
    s.push_str(&format!(", with {}", c.access));
    s
}
