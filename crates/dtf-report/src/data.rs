//! The plain data a report is rendered from.
//!
//! These types are deliberately separate from the merge engine's own types: the report
//! only needs a flat, already-decided view (one row per test, counts per suite), and
//! keeping it plain data lets template authors see exactly what they can use and lets
//! the engine change without breaking anyone's templates. Everything here serializes
//! with serde; field names are what templates see.

use std::cmp::Ordering;

use dtf_core::metadata::BuildMetadata;
use dtf_core::model::Status;
use dtf_history::model::Comparison;
use serde::{Deserialize, Serialize};

/// Everything one report shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    /// Shown as the page title and top heading, e.g. "dtf test report".
    pub title: String,
    /// Tool and version, e.g. "dtf 0.1.0".
    pub generated_by: String,
    pub build: Option<BuildMetadata>,
    /// Counts over every test, including any left out of `tests`.
    pub totals: Totals,
    pub suites: Vec<SuiteRow>,
    /// One row per test. Details, stdout and stderr are only expected for failed,
    /// errored and flaky tests, already trimmed by the caller.
    pub tests: Vec<TestRow>,
    /// Inputs that could not be read (with `--keep-going`).
    pub unreadable: Vec<InputProblem>,
    /// True when the caller left tests out of `tests` to bound the report's size;
    /// `totals.tests` still counts all of them. Leave out passed and skipped tests
    /// first so that failures stay listed.
    pub truncated: bool,
    /// Failures that share a cause, largest group first (from
    /// `dtf_core::categorize::group`; see [`FailureGroupRow::from_group`]).
    #[serde(default)]
    pub failure_groups: Vec<FailureGroupRow>,
    /// When each test ran on each worker slot of each shard (from `dtf run`).
    #[serde(default)]
    pub timeline: Option<TimelineData>,
    /// This build against its baseline (from `dtf-history`), when there is one: the
    /// reports then show what changed, and the trend over recent builds.
    #[serde(default)]
    pub comparison: Option<Comparison>,
    /// Named queries over the history database, already run, in the order they are
    /// configured.
    #[serde(default)]
    pub queries: Vec<QueryTable>,
}

/// The result of one named query, as a table of text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryTable {
    /// The query's name in `dtf.toml`.
    pub name: String,
    /// A heading for it; the name when empty.
    #[serde(default)]
    pub title: String,
    pub columns: Vec<String>,
    /// Each row's cells, as text, one per column. Renderers pad short rows and drop
    /// cells beyond the columns, so a table always keeps its shape.
    pub rows: Vec<Vec<String>>,
}

/// Failures with one category and one signature.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureGroupRow {
    /// The normalized message (numbers, ids and paths masked) and, for failures in
    /// the code, the top stack frame.
    pub signature: String,
    /// `assertion`, `error`, `timeout`, `crash`, `infrastructure`, `setup`, `lost`
    /// or `unknown`.
    pub category: String,
    /// One member's message, unmasked.
    pub message: String,
    /// Tests in the group; may exceed `tests.len()`.
    pub count: u64,
    /// The first [`FailureGroupRow::MAX_TESTS`] members' ids.
    pub tests: Vec<String>,
}

impl FailureGroupRow {
    /// Member ids a row keeps.
    pub const MAX_TESTS: usize = 20;

    pub fn from_group(group: &dtf_core::categorize::FailureGroup) -> FailureGroupRow {
        FailureGroupRow {
            signature: group.signature.clone(),
            category: group.category.as_str().to_owned(),
            message: group.message.clone(),
            count: group.members.len() as u64,
            tests: group
                .members
                .iter()
                .take(FailureGroupRow::MAX_TESTS)
                .cloned()
                .collect(),
        }
    }
}

/// The start and end of every test attempt on every worker slot, per shard.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineData {
    pub shards: Vec<TimelineShard>,
}

/// One shard's timeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineShard {
    /// The shard's number, as the plan counts (from 1).
    pub shard: u32,
    /// Worker slots the shard ran in parallel.
    pub slots: u32,
    pub entries: Vec<TimelineEntry>,
}

/// One attempt of one test.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The test's id.
    pub test: String,
    /// The worker slot it ran in.
    pub slot: u32,
    /// Seconds since the shard started (each shard has its own clock).
    pub start_s: f64,
    pub end_s: f64,
    /// The attempt's outcome: `passed`, `failed`, `errored`, `skipped`, `lost`, ...
    pub status: String,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// Counts over all tests of the report: the merge's own totals.
pub use dtf_core::merge::Totals;

/// Counts for one test suite.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SuiteRow {
    pub name: String,
    pub tests: u64,
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
    pub flaky: u64,
    /// Seconds.
    pub duration_s: f64,
}

/// One test with its verdict over all attempts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestRow {
    /// The test's id (`SCOPE::NAME`, see `dtf_core::model::TestId`).
    pub id: String,
    pub suite: String,
    pub classname: Option<String>,
    pub name: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub status: Status,
    /// Seconds, of the attempt that decided the status; `None` when unknown.
    pub duration_s: Option<f64>,
    /// How many times the test ran (1 unless retried).
    pub attempts: u32,
    pub message: Option<String>,
    pub failure_type: Option<String>,
    /// Usually a stack trace.
    pub details: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// The error category of a failed, errored or flaky test (`assertion`,
    /// `infrastructure`, ...; see `dtf_core::categorize::Category`).
    #[serde(default)]
    pub category: Option<String>,
}

/// An input that could not be read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputProblem {
    pub path: String,
    pub error: String,
}

/// The one-word outcome of a report, most serious first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// At least one test failed or errored.
    Failed,
    /// Nothing failed, but some inputs could not be read.
    Incomplete,
    /// No tests at all.
    Empty,
    Passed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Failed => "failed",
            Verdict::Incomplete => "incomplete",
            Verdict::Empty => "empty",
            Verdict::Passed => "passed",
        }
    }
}

impl TestRow {
    /// The part of the id before the name: classname, else file, else suite.
    pub fn scope(&self) -> &str {
        self.id
            .strip_suffix(self.name.as_str())
            .and_then(|s| s.strip_suffix(dtf_core::model::TestId::SEPARATOR))
            .unwrap_or(self.id.as_str())
    }

    /// `file:line`, `file`, or `None`.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        Some(match self.line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_owned(),
        })
    }
}

impl ReportData {
    /// Failed and errored tests in their given order, then flaky ones.
    pub fn failures(&self) -> Vec<&TestRow> {
        let broken = self.tests.iter().filter(|t| t.status.is_failure());
        let flaky = self.tests.iter().filter(|t| t.status == Status::Flaky);
        broken.chain(flaky).collect()
    }

    /// The `n` slowest tests that have a duration, slowest first; ties by id.
    pub fn slowest(&self, n: usize) -> Vec<&TestRow> {
        let mut timed: Vec<(f64, &TestRow)> = self
            .tests
            .iter()
            .filter_map(|t| t.duration_s.filter(|d| d.is_finite()).map(|d| (d, t)))
            .collect();
        timed.sort_by(|(da, a), (db, b)| {
            db.partial_cmp(da)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.id.cmp(&b.id))
        });
        timed.into_iter().take(n).map(|(_, t)| t).collect()
    }

    /// Decided from the totals, so it holds when `tests` was truncated.
    pub fn verdict(&self) -> Verdict {
        let t = &self.totals;
        if t.failed + t.errored > 0 {
            Verdict::Failed
        } else if !self.unreadable.is_empty() {
            Verdict::Incomplete
        } else if t.tests == 0 {
            Verdict::Empty
        } else {
            Verdict::Passed
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn row(id: &str, status: Status, duration: Option<f64>) -> TestRow {
        let name = id.rsplit("::").next().unwrap().to_owned();
        TestRow {
            id: id.to_owned(),
            suite: "s".to_owned(),
            classname: None,
            name,
            file: None,
            line: None,
            status,
            duration_s: duration,
            attempts: 1,
            message: None,
            failure_type: None,
            details: None,
            stdout: None,
            stderr: None,
            category: None,
        }
    }

    fn ids(rows: Vec<&TestRow>) -> Vec<&str> {
        rows.into_iter().map(|t| t.id.as_str()).collect()
    }

    fn sample() -> ReportData {
        ReportData {
            tests: vec![
                row("a::flaky1", Status::Flaky, Some(3.0)),
                row("a::fail1", Status::Failed, Some(1.0)),
                row("a::pass1", Status::Passed, Some(5.0)),
                row("a::err1", Status::Errored, None),
                row("a::skip1", Status::Skipped, Some(0.0)),
                row("b::pass2", Status::Passed, Some(3.0)),
                row("b::nan", Status::Passed, Some(f64::NAN)),
                row("b::fail2", Status::Failed, Some(2.0)),
            ],
            ..ReportData::default()
        }
    }

    #[test]
    fn failures_lists_broken_tests_then_flaky() {
        assert_eq!(
            ids(sample().failures()),
            ["a::fail1", "a::err1", "b::fail2", "a::flaky1"]
        );
    }

    #[test]
    fn slowest_orders_by_duration_then_id_and_skips_unknown() {
        let data = sample();
        let check = |n: usize, expected: &[&str]| assert_eq!(ids(data.slowest(n)), expected);
        check(0, &[]);
        check(1, &["a::pass1"]);
        check(3, &["a::pass1", "a::flaky1", "b::pass2"]);
        check(
            100,
            &[
                "a::pass1",
                "a::flaky1",
                "b::pass2",
                "b::fail2",
                "a::fail1",
                "a::skip1",
            ],
        );
    }

    #[test]
    fn verdict_prefers_failure_then_incomplete_then_empty() {
        let check = |failed: u64, errored: u64, tests: u64, unreadable: usize, expected| {
            let data = ReportData {
                totals: Totals {
                    tests,
                    failed,
                    errored,
                    ..Totals::default()
                },
                unreadable: vec![InputProblem::default(); unreadable],
                ..ReportData::default()
            };
            assert_eq!(
                data.verdict(),
                expected,
                "{failed} {errored} {tests} {unreadable}"
            );
        };
        check(1, 0, 5, 1, Verdict::Failed);
        check(0, 1, 5, 0, Verdict::Failed);
        check(0, 0, 5, 1, Verdict::Incomplete);
        check(0, 0, 0, 1, Verdict::Incomplete);
        check(0, 0, 0, 0, Verdict::Empty);
        check(0, 0, 5, 0, Verdict::Passed);
    }

    #[test]
    fn scope_and_location() {
        let check = |id: &str, name: &str, file: Option<&str>, line, scope, loc: Option<&str>| {
            let t = TestRow {
                name: name.to_owned(),
                file: file.map(str::to_owned),
                line,
                ..row(id, Status::Passed, None)
            };
            assert_eq!(t.scope(), scope);
            assert_eq!(t.location().as_deref(), loc);
        };
        check("pkg.Cls::test_x", "test_x", None, None, "pkg.Cls", None);
        check(
            "a::b::c",
            "c",
            Some("f.py"),
            Some(3),
            "a::b",
            Some("f.py:3"),
        );
        check("odd", "other", Some("f.py"), None, "odd", Some("f.py"));
        check("::n", "n", None, None, "", None);
    }
}
