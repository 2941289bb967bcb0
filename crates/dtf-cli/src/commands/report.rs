//! `dtf report`: merge, then render every report into one folder; with a baseline or a
//! history, the comparison (as `dtf compare` makes it) goes into the reports and beside
//! them as `comparison.json` and the pull-request comment `comment.md`.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use dtf_core::categorize::Categorizer;
use dtf_core::junit::write::clip_into;
use dtf_core::model::Status;
use dtf_core::model::{OutcomeField, TestCase};
use dtf_core::summary::Summary;
use dtf_report::Templates;
use dtf_report::data::{
    FailureGroupRow, InputProblem, ReportData, SuiteRow, TestRow, TimelineData, TimelineEntry,
    TimelineShard,
};

use super::compare::{Against, CommentArgs, Compared, render_comment, write_comparison};
use super::generated_by;
use super::merge::{Merged, merge_inputs, write_atomically, write_junit, write_summary};
use crate::args::{ReportArgs, ReportFormat};
use crate::{CliError, Finished};

/// Longest stack trace or output shown in the HTML and Markdown reports.
const REPORT_TEXT_BYTES: usize = 8 << 10;

/// Failed, errored and flaky tests shown with their stack trace and output; the rest
/// show their message only, so a build with tens of thousands of failures still gives
/// a report a browser opens.
const DETAILED_TESTS: usize = 2_000;

/// The paths written, for the closing message.
pub struct Written {
    pub paths: Vec<PathBuf>,
}

/// Reads `dtf run`'s timelines (`dtf.timeline.v1`) for the chart.
pub fn load_timelines(paths: &[PathBuf]) -> Result<Option<TimelineData>, CliError> {
    let mut shards = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::BadInput(anyhow!(e).context(format!("reading {}", path.display())))
        })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            CliError::BadInput(anyhow!(
                "{}:{}:{}: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })?;
        if v["schema"] != "dtf.timeline.v1" {
            return Err(CliError::BadInput(anyhow!(
                "{}: schema {} is not dtf.timeline.v1",
                path.display(),
                v["schema"]
            )));
        }
        let entries = v["tests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| TimelineEntry {
                test: t["id"].as_str().unwrap_or_default().to_owned(),
                slot: t["slot"].as_u64().unwrap_or(0) as u32,
                start_s: t["start_s"].as_f64().unwrap_or(0.0),
                end_s: t["end_s"].as_f64().unwrap_or(0.0),
                status: if t["lost"].as_bool().unwrap_or(false) {
                    "lost".to_owned()
                } else if t["category"] == "timeout" {
                    "timeout".to_owned()
                } else {
                    t["outcome"].as_str().unwrap_or("passed").to_owned()
                },
                attempt: t["attempt"].as_u64().unwrap_or(1) as u32,
            })
            .collect();
        shards.push(TimelineShard {
            shard: v["shard"].as_u64().unwrap_or(0) as u32,
            slots: v["slots"].as_u64().unwrap_or(1) as u32,
            entries,
        });
    }
    Ok((!shards.is_empty()).then_some(TimelineData { shards }))
}

/// Builds what the templates see. Every test is listed up to `max_tests`; past it,
/// failed, errored and flaky tests are kept and passed and skipped ones are counted.
pub fn report_data(
    merged: &Merged,
    summary: &Summary,
    title: &str,
    max_tests: usize,
) -> Result<ReportData, CliError> {
    let run = &merged.run;
    let totals = run.totals();
    let suites = run
        .suite_totals()
        .into_iter()
        .map(|(name, s)| SuiteRow {
            name: name.to_owned(),
            tests: s.tests,
            passed: s.passed,
            failed: s.failed,
            errored: s.errored,
            skipped: s.skipped,
            flaky: s.flaky,
            duration_s: s.duration_s,
        })
        .collect();
    let truncated = run.len() > max_tests;
    let mut tests = Vec::new();
    let clip = |text: &Option<String>| {
        text.as_ref().map(|s| {
            let mut out = String::new();
            clip_into(&mut out, s, REPORT_TEXT_BYTES);
            out
        })
    };
    let categorizer = Categorizer::builtin();
    let mut grouper = categorizer.grouper();
    let mut detailed = 0usize;
    let mut push = |m: &dtf_core::merge::MergedTest<'_>| {
        grouper.add_as(m.id.as_str(), &m.case);
        let interesting = matches!(m.status, Status::Failed | Status::Errored | Status::Flaky)
            && detailed < DETAILED_TESTS;
        detailed += usize::from(interesting);
        let detail = if m.status == Status::Flaky {
            m.case
                .reruns
                .last()
                .map(|r| &r.detail)
                .unwrap_or(&m.case.detail)
        } else {
            &m.case.detail
        };
        let category =
            matches!(m.status, Status::Failed | Status::Errored | Status::Flaky).then(|| {
                let case = match (m.status, m.case.reruns.last()) {
                    // A flaky test's category is its failure's.
                    (Status::Flaky, Some(r)) => TestCase {
                        outcome: OutcomeField(r.outcome),
                        detail: r.detail.clone(),
                        ..m.case.clone()
                    },
                    _ => m.case.clone(),
                };
                categorizer.categorize(&case).to_string()
            });
        tests.push(TestRow {
            category,
            id: m.id.to_string(),
            suite: m.suite.to_owned(),
            classname: m.case.classname.clone(),
            name: m.case.name.clone(),
            file: m.case.file.clone(),
            line: m.case.line,
            status: m.status,
            duration_s: m.case.duration,
            attempts: m.attempts,
            message: detail.message.clone(),
            failure_type: detail.failure_type.clone(),
            details: if interesting {
                clip(&detail.details)
            } else {
                None
            },
            stdout: if interesting {
                clip(&m.case.stdout)
            } else {
                None
            },
            stderr: if interesting {
                clip(&m.case.stderr)
            } else {
                None
            },
        });
    };
    let read_back =
        |e: std::io::Error| CliError::Output(anyhow!(e).context("reading back the merged results"));
    if truncated {
        let important = run.with_status(&[Status::Failed, Status::Errored, Status::Flaky]);
        let room = max_tests.saturating_sub(important.len());
        let mut rest = run.with_status(&[Status::Passed, Status::Skipped]);
        rest.truncate(room);
        run.visit_entries(&important, |m| {
            push(m);
            Ok(())
        })
        .map_err(read_back)?;
        run.visit_entries(&rest, |m| {
            push(m);
            Ok(())
        })
        .map_err(read_back)?;
    } else {
        run.visit(|m| {
            push(m);
            Ok(())
        })
        .map_err(read_back)?;
    }
    let failure_groups = grouper
        .finish()
        .iter()
        .map(FailureGroupRow::from_group)
        .collect();
    let unreadable = summary
        .inputs
        .iter()
        .filter_map(|i| {
            i.error.as_ref().map(|e| InputProblem {
                path: i.source.clone(),
                error: e.clone(),
            })
        })
        .collect();
    Ok(ReportData {
        title: title.to_owned(),
        generated_by: generated_by(),
        build: Some(merged.build.clone()),
        totals,
        suites,
        tests,
        unreadable,
        truncated,
        failure_groups,
        timeline: None,
        comparison: None,
        queries: Vec::new(),
    })
}

/// What to render, and how.
pub struct ReportSpec<'a> {
    pub formats: &'a [ReportFormat],
    pub template_dir: Option<&'a Path>,
    pub title: &'a str,
    pub max_html_tests: usize,
    pub limits: dtf_core::junit::write::WriteLimits,
    /// `dtf run` timelines to draw.
    pub timelines: &'a [PathBuf],
    /// This build against its baseline, shown in the reports and written as
    /// `comparison.json` and `comment.md` whatever the formats.
    pub comparison: Option<&'a Compared>,
    /// How `comment.md` is rendered (the reports' title is its headline).
    pub comment: &'a CommentArgs,
}

/// Renders and writes the chosen formats into `out_dir`.
pub fn write_reports(
    merged: &Merged,
    out_dir: &Path,
    spec: &ReportSpec<'_>,
) -> Result<Written, CliError> {
    let ReportSpec {
        formats,
        template_dir,
        title,
        max_html_tests,
        limits,
        timelines,
        comparison,
        comment,
    } = *spec;
    let mut written = Vec::new();
    let summary = merged.summary()?;
    let templates = Templates::new(template_dir).map_err(|e| CliError::BadInput(anyhow!(e)))?;
    let needs_data = formats
        .iter()
        .any(|f| matches!(f, ReportFormat::Md | ReportFormat::Html));
    let data = if needs_data {
        let mut data = report_data(merged, &summary, title, max_html_tests)?;
        // The chart is an extra: an unreadable timeline must not cost the reports.
        data.timeline = match load_timelines(timelines) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("warning: the timeline chart is left out: {e}");
                None
            }
        };
        if let Some(c) = comparison {
            data.comparison = Some(c.comparison.clone());
            data.queries = c.queries.clone();
        }
        Some(data)
    } else {
        None
    };
    for format in formats {
        let path = out_dir.join(match format {
            ReportFormat::Md => "summary.md",
            ReportFormat::Html => "report.html",
            ReportFormat::Junit => "junit.xml",
            ReportFormat::Json => "summary.json",
        });
        match (format, &data) {
            (ReportFormat::Md, Some(data)) => {
                let text = templates
                    .render_markdown(data)
                    .map_err(|e| CliError::BadInput(anyhow!(e)))?;
                write_atomically(&path, |out| out.write_all(text.as_bytes()))?;
            }
            (ReportFormat::Html, Some(data)) => {
                let text = templates
                    .render_html(data)
                    .map_err(|e| CliError::BadInput(anyhow!(e)))?;
                write_atomically(&path, |out| out.write_all(text.as_bytes()))?;
            }
            (ReportFormat::Junit, _) => write_junit(merged, &path, limits)?,
            (ReportFormat::Json, _) => write_summary(&summary, &path)?,
            _ => continue,
        }
        written.push(path);
    }
    if let Some(c) = comparison {
        let path = out_dir.join("comparison.json");
        write_comparison(&c.comparison, &path)?;
        written.push(path);
        let text = render_comment(&templates, c, comment, Some(title))?;
        let path = out_dir.join("comment.md");
        write_atomically(&path, |out| out.write_all(text.as_bytes()))?;
        written.push(path);
    }
    Ok(Written { paths: written })
}

pub fn run(args: &ReportArgs, quiet: bool) -> Result<Finished, CliError> {
    // A baseline, history or query that cannot be read costs the comparison, not the
    // reports of a merge that succeeded: they are written, and the exit code says 3.
    let mut left_out: Vec<String> = Vec::new();
    let against = if args.against.wanted() {
        match Against::open(&args.against, quiet) {
            Ok(a) => Some(a),
            Err(e) => {
                left_out.push(e.to_string());
                None
            }
        }
    } else {
        None
    };
    let merged = merge_inputs(&args.common, quiet)?;
    let compared = match &against {
        Some(a) => match a.compare(&merged, &args.against) {
            Ok(c) => Some(c),
            Err(e) => {
                left_out.push(e.to_string());
                None
            }
        },
        None => None,
    };
    let written = write_reports(
        &merged,
        &args.out_dir,
        &ReportSpec {
            formats: &args.format,
            template_dir: args.template_dir.as_deref(),
            title: &args.title,
            max_html_tests: args.max_html_tests,
            limits: Merged::write_limits(&args.common),
            timelines: &args.timeline,
            comparison: compared.as_ref(),
            comment: &args.comment,
        },
    )?;
    if !quiet {
        eprintln!("{}", super::merge::headline(&merged));
        if let Some(c) = &compared {
            // The counts line repeats the headline above.
            for line in super::compare::text_summary(c).lines().skip(1) {
                eprintln!("{line}");
            }
        }
        for p in &written.paths {
            eprintln!("  wrote {}", p.display());
        }
        for (what, why) in &merged.problems {
            eprintln!("  not merged: {what}: {why}");
        }
    }
    for why in &left_out {
        eprintln!("error: the comparison is left out of the reports: {why}");
    }
    if !left_out.is_empty() {
        return Ok(Finished::SomeInputsBad);
    }
    Ok(merged.finished(args.common.fail_on_failures))
}
