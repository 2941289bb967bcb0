//! The `dtf.summary.v1` document: a merged run for other programs.
//!
//! Its top is fixed: `{"schema": "dtf.summary.v1", "totals": {...}}`, where
//! `totals.tests` counts distinct test ids, `totals.cases` the `<testcase>` elements
//! read, and passed + failed + errored + skipped + flaky = tests. Later fields may grow;
//! readers ignore fields they do not know, and refuse a schema they do not know.

use serde::{Deserialize, Serialize};

use crate::merge::{InputReport, MergedRun, MergedTest, Totals};
use crate::metadata::BuildMetadata;
use crate::model::Status;

pub const SUMMARY_SCHEMA: &str = "dtf.summary.v1";

/// How many tests each list of a summary may name.
#[derive(Clone, Copy, Debug)]
pub struct SummaryLimits {
    pub failures: usize,
    pub flaky: usize,
    pub slowest: usize,
    /// Characters of a failure message kept.
    pub message: usize,
}

impl Default for SummaryLimits {
    fn default() -> Self {
        SummaryLimits {
            failures: 1000,
            flaky: 1000,
            slowest: 20,
            message: 500,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: String,
    pub totals: Totals,
    pub generated_by: String,
    #[serde(default)]
    pub build: Option<BuildMetadata>,
    /// Every input, with the error that stopped reading it, if any.
    #[serde(default)]
    pub inputs: Vec<InputReport>,
    #[serde(default)]
    pub suites: Vec<SuiteSummary>,
    /// Failed and errored tests, up to the limit.
    #[serde(default)]
    pub failures: Vec<TestSummary>,
    /// Failed and errored tests beyond the limit.
    #[serde(default)]
    pub failures_omitted: u64,
    #[serde(default)]
    pub flaky: Vec<TestSummary>,
    #[serde(default)]
    pub flaky_omitted: u64,
    #[serde(default)]
    pub slowest: Vec<TestSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteSummary {
    pub name: String,
    pub totals: Totals,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestSummary {
    pub id: String,
    pub suite: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub status: Status,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_type: Option<String>,
}

impl TestSummary {
    pub fn from_merged(t: &MergedTest<'_>, message_chars: usize) -> TestSummary {
        // For a flaky test the interesting message is the failure's, not the pass's.
        let detail = if t.status == Status::Flaky {
            t.case
                .reruns
                .last()
                .map(|r| &r.detail)
                .unwrap_or(&t.case.detail)
        } else {
            &t.case.detail
        };
        let message = detail
            .message
            .as_deref()
            .or(detail.details.as_deref())
            .map(|m| short_message(m, message_chars))
            .filter(|m| !m.is_empty());
        TestSummary {
            id: t.id.to_string(),
            suite: t.suite.to_owned(),
            name: t.case.name.clone(),
            classname: t.case.classname.clone(),
            file: t.case.file.clone(),
            line: t.case.line,
            status: t.status,
            attempts: t.attempts,
            duration_s: t.case.duration,
            message,
            failure_type: detail.failure_type.clone(),
        }
    }
}

/// The first non-blank line of a message, at most `max` characters.
pub fn short_message(message: &str, max: usize) -> String {
    let line = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let mut s: String = line.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A summary file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("{source_name}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{source_name}: schema `{found}` is not `{SUMMARY_SCHEMA}`{hint}")]
    Schema {
        source_name: String,
        found: String,
        hint: &'static str,
    },
}

impl Summary {
    /// Builds the summary of a merged run; reads the spool for the tests it names.
    pub fn from_run(
        run: &MergedRun,
        build: Option<BuildMetadata>,
        generated_by: &str,
        limits: SummaryLimits,
    ) -> std::io::Result<Summary> {
        let list = |statuses: &[Status], max: usize| -> std::io::Result<(Vec<TestSummary>, u64)> {
            let all = run.with_status(statuses);
            let omitted = all.len().saturating_sub(max) as u64;
            let mut out = Vec::new();
            run.visit_entries(&all[..all.len().min(max)], |t| {
                out.push(TestSummary::from_merged(t, limits.message));
                Ok(())
            })?;
            Ok((out, omitted))
        };
        let (failures, failures_omitted) =
            list(&[Status::Errored, Status::Failed], limits.failures)?;
        let (flaky, flaky_omitted) = list(&[Status::Flaky], limits.flaky)?;
        let slow: Vec<u32> = run
            .slowest(limits.slowest)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        let mut slowest = Vec::new();
        run.visit_entries(&slow, |t| {
            slowest.push(TestSummary::from_merged(t, limits.message));
            Ok(())
        })?;
        Ok(Summary {
            schema: SUMMARY_SCHEMA.to_owned(),
            totals: run.totals(),
            generated_by: generated_by.to_owned(),
            build,
            inputs: run.inputs().to_vec(),
            suites: run
                .suite_totals()
                .into_iter()
                .map(|(name, totals)| SuiteSummary {
                    name: name.to_owned(),
                    totals,
                })
                .collect(),
            failures,
            failures_omitted,
            flaky,
            flaky_omitted,
            slowest,
        })
    }

    /// Reads a summary, refusing other schemas with a clear message.
    pub fn from_json(text: &str, source_name: &str) -> Result<Summary, SummaryError> {
        let json_err = |e: serde_json::Error| SummaryError::Json {
            source_name: source_name.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        #[derive(Deserialize)]
        struct Head {
            schema: Option<String>,
        }
        let head: Head = serde_json::from_str(text).map_err(json_err)?;
        let found = head.schema.unwrap_or_default();
        if found != SUMMARY_SCHEMA {
            let hint = if found.starts_with("dtf.summary.") {
                " (written by a newer dtf? upgrade dtf to read it)"
            } else {
                ""
            };
            return Err(SummaryError::Schema {
                source_name: source_name.to_owned(),
                found,
                hint,
            });
        }
        serde_json::from_str(text).map_err(json_err)
    }
}
