//! Test results in the shape a provider's native results view takes: a conclusion, a
//! title and summary, and annotations at the file and line of each failing test.
//!
//! GitHub's check runs are the model (they have all of it); the other providers use a
//! part. Built from a `dtf.summary.v1` so the numbers are the merge's, and written by
//! the local provider as `results.json` (`dtf.results.v1`).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use dtf_core::model::Status;
use dtf_core::summary::{Summary, TestSummary};

/// The schema of `results.json`.
pub const RESULTS_SCHEMA: &str = "dtf.results.v1";

/// What [`crate::Provider::publish_results`] publishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedResults {
    /// The check's name, shown in the pull request's checks list.
    pub name: String,
    pub conclusion: Conclusion,
    /// One line: "3 failed, 120 passed".
    pub title: String,
    /// Markdown.
    pub summary: String,
    /// More Markdown, shown below the summary.
    pub text: Option<String>,
    /// A link to the build or the full report.
    pub details_url: Option<String>,
    pub annotations: Vec<Annotation>,
    /// Failed tests not annotated: beyond the limit, or without a file.
    pub annotations_omitted: u64,
}

/// The verdict, in GitHub's check-run vocabulary (the other providers have fewer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    /// Nothing to judge: no tests ran.
    Neutral,
    Cancelled,
    Skipped,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Neutral => "neutral",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
        }
    }
}

/// A note on one line of one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// As the test report gave it; adapters make it relative to the repository.
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub level: AnnotationLevel,
    pub title: Option<String>,
    pub message: String,
    pub raw_details: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    Notice,
    Warning,
    Failure,
}

impl AnnotationLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationLevel::Notice => "notice",
            AnnotationLevel::Warning => "warning",
            AnnotationLevel::Failure => "failure",
        }
    }
}

/// How [`PublishedResults::from_summary`] builds its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultsOptions {
    /// The check's name. Default `dtf`.
    pub name: String,
    /// Most annotations; each 50 beyond the first 50 cost GitHub one more request.
    /// Default 500.
    pub max_annotations: usize,
    /// Flaky tests get a warning annotation too. Default true.
    pub annotate_flaky: bool,
}

impl Default for ResultsOptions {
    fn default() -> Self {
        ResultsOptions {
            name: "dtf".to_owned(),
            max_annotations: 500,
            annotate_flaky: true,
        }
    }
}

impl PublishedResults {
    /// The results of a merged run: failure when a test failed or errored, neutral when
    /// no test ran, success otherwise; an annotation per failed (and flaky) test that
    /// names a file.
    pub fn from_summary(summary: &Summary, options: &ResultsOptions) -> PublishedResults {
        let t = &summary.totals;
        let conclusion = if t.failed + t.errored > 0 {
            Conclusion::Failure
        } else if t.tests == 0 {
            Conclusion::Neutral
        } else {
            Conclusion::Success
        };
        let mut parts = Vec::new();
        for (n, what) in [
            (t.failed, "failed"),
            (t.errored, "errored"),
            (t.flaky, "flaky"),
            (t.passed, "passed"),
            (t.skipped, "skipped"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let title = if parts.is_empty() {
            "no tests".to_owned()
        } else {
            parts.join(", ")
        };

        let mut summary_md = String::new();
        let _ = writeln!(
            summary_md,
            "| tests | passed | failed | errored | flaky | skipped | time |"
        );
        let _ = writeln!(summary_md, "|---:|---:|---:|---:|---:|---:|---:|");
        let _ = writeln!(
            summary_md,
            "| {} | {} | {} | {} | {} | {} | {:.1}s |",
            t.tests, t.passed, t.failed, t.errored, t.flaky, t.skipped, t.duration_s
        );

        let mut annotations = Vec::new();
        let mut omitted = summary.failures_omitted;
        let flaky: &[TestSummary] = if options.annotate_flaky {
            &summary.flaky
        } else {
            &[]
        };
        for test in summary.failures.iter().chain(flaky) {
            match annotation_for(test) {
                Some(a) if annotations.len() < options.max_annotations => annotations.push(a),
                _ => {
                    if test.status != Status::Flaky {
                        omitted += 1;
                    }
                }
            }
        }
        PublishedResults {
            name: options.name.clone(),
            conclusion,
            title,
            summary: summary_md,
            text: None,
            details_url: summary.build.as_ref().and_then(|b| b.build_url.clone()),
            annotations,
            annotations_omitted: omitted,
        }
    }
}

fn annotation_for(test: &TestSummary) -> Option<Annotation> {
    let path = test.file.as_deref()?.trim();
    if path.is_empty() {
        return None;
    }
    let line = test.line.unwrap_or(1).max(1);
    let (level, verb) = match test.status {
        Status::Flaky => (AnnotationLevel::Warning, "flaky"),
        Status::Errored => (AnnotationLevel::Failure, "errored"),
        _ => (AnnotationLevel::Failure, "failed"),
    };
    let message = match &test.message {
        Some(m) if !m.trim().is_empty() => m.clone(),
        _ => format!("{verb} after {} attempt(s)", test.attempts.max(1)),
    };
    Some(Annotation {
        path: path.to_owned(),
        start_line: line,
        end_line: line,
        level,
        title: Some(format!("{} {verb}", test.id)),
        message,
        raw_details: test.failure_type.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dtf_core::merge::Totals;

    fn test(id: &str, file: Option<&str>, line: Option<u32>, status: Status) -> TestSummary {
        TestSummary {
            id: id.to_owned(),
            suite: "s".to_owned(),
            name: id.to_owned(),
            classname: None,
            file: file.map(str::to_owned),
            line,
            status,
            attempts: 1,
            duration_s: None,
            message: Some("assert 1 == 2".to_owned()),
            failure_type: None,
        }
    }

    fn summary(failures: Vec<TestSummary>, flaky: Vec<TestSummary>, totals: Totals) -> Summary {
        Summary {
            schema: dtf_core::summary::SUMMARY_SCHEMA.to_owned(),
            totals,
            generated_by: "dtf test".to_owned(),
            build: None,
            inputs: vec![],
            suites: vec![],
            failures,
            failures_omitted: 2,
            flaky,
            flaky_omitted: 0,
            slowest: vec![],
        }
    }

    #[test]
    fn failures_become_annotations_and_the_rest_is_counted() {
        let totals = Totals {
            tests: 10,
            passed: 6,
            failed: 2,
            errored: 0,
            skipped: 1,
            flaky: 1,
            cases: 11,
            duration_s: 2.0,
        };
        let s = summary(
            vec![
                test("a::one", Some("tests/a.py"), Some(12), Status::Failed),
                test("a::two", None, None, Status::Failed),
            ],
            vec![test("b::three", Some("tests/b.py"), None, Status::Flaky)],
            totals,
        );
        let r = PublishedResults::from_summary(&s, &ResultsOptions::default());
        assert_eq!(r.conclusion, Conclusion::Failure);
        assert_eq!(r.title, "2 failed, 1 flaky, 6 passed, 1 skipped");
        assert_eq!(r.annotations.len(), 2);
        assert_eq!(r.annotations[0].path, "tests/a.py");
        assert_eq!(r.annotations[0].start_line, 12);
        assert_eq!(r.annotations[1].level, AnnotationLevel::Warning);
        assert_eq!(r.annotations[1].start_line, 1);
        // Two omitted by the summary itself, one without a file.
        assert_eq!(r.annotations_omitted, 3);
    }

    #[test]
    fn no_tests_is_neutral() {
        let s = summary(vec![], vec![], Totals::default());
        let r = PublishedResults::from_summary(&s, &ResultsOptions::default());
        assert_eq!(r.conclusion, Conclusion::Neutral);
        assert_eq!(r.title, "no tests");
    }
}
