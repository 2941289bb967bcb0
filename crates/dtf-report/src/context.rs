//! What the templates see: the [`ReportData`] fields at top level, plus lists derived
//! from them.
//!
//! Sorting, grouping and bucketing are done here rather than in the templates because
//! they are easy to get right and test in Rust and clumsy in Jinja; the templates then
//! only lay things out. The variables are documented at the top of each template.

use dtf_core::metadata::{BuildMetadata, Shard};
use dtf_core::model::Status;
use serde::Serialize;

use crate::data::{InputProblem, ReportData, SuiteRow, TestRow, Totals};
use crate::filters::first_line;

/// How many slow tests the templates get (the HTML chart shows them all, the
/// Markdown summary the first ten).
const SLOWEST: usize = 30;

/// Longest message excerpt in the HTML table's index.
const INDEX_MESSAGE_CHARS: usize = 200;

/// Field names and meanings are those of [`ReportData`] (except `build`, see
/// [`BuildView`]), followed by the derived lists.
#[derive(Serialize)]
pub(crate) struct Context<'a> {
    title: &'a str,
    generated_by: &'a str,
    build: Option<BuildView<'a>>,
    totals: &'a Totals,
    suites: &'a [SuiteRow],
    tests: &'a [TestRow],
    unreadable: &'a [InputProblem],
    truncated: bool,
    verdict: &'static str,
    /// Failed and errored tests.
    failures: Vec<&'a TestRow>,
    flaky: Vec<&'a TestRow>,
    slowest: Vec<&'a TestRow>,
    histogram: Vec<Bucket>,
    test_index: Vec<IndexRow<'a>>,
}

/// [`BuildMetadata`] with every field present (`none` when unknown): its own
/// serialization leaves absent fields out, which strict templates could not test.
#[derive(Serialize)]
struct BuildView<'a> {
    provider: &'static str,
    repository: Option<&'a str>,
    branch: Option<&'a str>,
    base_branch: Option<&'a str>,
    commit: Option<&'a str>,
    change_request: Option<u64>,
    build_id: Option<&'a str>,
    build_url: Option<&'a str>,
    job: Option<&'a str>,
    shard: Option<Shard>,
    runner_name: Option<&'a str>,
    runner_labels: &'a [String],
}

impl<'a> BuildView<'a> {
    fn new(b: &'a BuildMetadata) -> BuildView<'a> {
        BuildView {
            provider: b.provider.as_str(),
            repository: b.repository.as_deref(),
            branch: b.branch.as_deref(),
            base_branch: b.base_branch.as_deref(),
            commit: b.commit.as_deref(),
            change_request: b.change_request,
            build_id: b.build_id.as_deref(),
            build_url: b.build_url.as_deref(),
            job: b.job.as_deref(),
            shard: b.shard,
            runner_name: b.runner_name.as_deref(),
            runner_labels: &b.runner_labels,
        }
    }
}

/// One bar of the duration histogram.
#[derive(Serialize)]
struct Bucket {
    label: &'static str,
    count: u64,
    /// `count` relative to the largest bucket, 0 to 1, for drawing.
    fraction: f64,
}

/// Upper bounds (exclusive, seconds) and labels of the histogram's buckets; roughly
/// logarithmic because test durations span six orders of magnitude.
const BUCKETS: [(f64, &str); 8] = [
    (0.01, "<10ms"),
    (0.1, "10–100ms"),
    (1.0, "0.1–1s"),
    (10.0, "1–10s"),
    (60.0, "10s–1m"),
    (300.0, "1–5m"),
    (1800.0, "5–30m"),
    (f64::INFINITY, "≥30m"),
];

/// A test as the HTML table needs it, with short keys because there is one per test.
#[derive(Serialize)]
struct IndexRow<'a> {
    /// Scope (classname, file or suite).
    c: &'a str,
    /// Name.
    n: &'a str,
    /// Suite.
    u: &'a str,
    /// `file:line`.
    l: Option<String>,
    /// Status.
    s: Status,
    /// Duration in seconds.
    d: Option<f64>,
    /// Attempts.
    a: u32,
    /// First line of the message.
    m: Option<String>,
    /// Position in `failures` followed by `flaky`, which is the number in the id
    /// (`d<k>`) of the test's details element.
    k: Option<usize>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(data: &'a ReportData) -> Context<'a> {
        let failures: Vec<&TestRow> = data
            .tests
            .iter()
            .filter(|t| t.status.is_failure())
            .collect();
        let flaky: Vec<&TestRow> = data
            .tests
            .iter()
            .filter(|t| t.status == Status::Flaky)
            .collect();
        let mut broken_seen = 0;
        let mut flaky_seen = 0;
        let test_index = data
            .tests
            .iter()
            .map(|t| {
                let k = if t.status.is_failure() {
                    broken_seen += 1;
                    Some(broken_seen - 1)
                } else if t.status == Status::Flaky {
                    flaky_seen += 1;
                    Some(failures.len() + flaky_seen - 1)
                } else {
                    None
                };
                IndexRow {
                    c: t.scope(),
                    n: &t.name,
                    u: &t.suite,
                    l: t.location(),
                    s: t.status,
                    d: t.duration_s,
                    a: t.attempts,
                    m: t.message
                        .as_deref()
                        .map(|m| first_line(m, INDEX_MESSAGE_CHARS))
                        .filter(|m| !m.is_empty()),
                    k,
                }
            })
            .collect();
        Context {
            title: &data.title,
            generated_by: &data.generated_by,
            build: data.build.as_ref().map(BuildView::new),
            totals: &data.totals,
            suites: &data.suites,
            tests: &data.tests,
            unreadable: &data.unreadable,
            truncated: data.truncated,
            verdict: data.verdict().as_str(),
            failures,
            flaky,
            slowest: data.slowest(SLOWEST),
            histogram: histogram(data),
            test_index,
        }
    }
}

fn histogram(data: &ReportData) -> Vec<Bucket> {
    let mut counts = [0u64; BUCKETS.len()];
    let durations = data.tests.iter().filter_map(|t| t.duration_s);
    for d in durations.filter(|d| d.is_finite() && *d >= 0.0) {
        if let Some(i) = BUCKETS.iter().position(|(upper, _)| d < *upper) {
            counts[i] += 1;
        }
    }
    let max = counts.iter().copied().max().unwrap_or(0);
    BUCKETS
        .iter()
        .zip(counts)
        .map(|((_, label), count)| Bucket {
            label,
            count,
            fraction: if max == 0 {
                0.0
            } else {
                count as f64 / max as f64
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn timed(durations: &[Option<f64>]) -> ReportData {
        ReportData {
            tests: durations
                .iter()
                .enumerate()
                .map(|(i, d)| TestRow {
                    id: format!("s::t{i}"),
                    suite: "s".into(),
                    classname: None,
                    name: format!("t{i}"),
                    file: None,
                    line: None,
                    status: Status::Passed,
                    duration_s: *d,
                    attempts: 1,
                    message: None,
                    failure_type: None,
                    details: None,
                    stdout: None,
                    stderr: None,
                })
                .collect(),
            ..ReportData::default()
        }
    }

    #[test]
    fn histogram_buckets() {
        let check = |durations: &[Option<f64>], expected: [u64; 8]| {
            let counts: Vec<u64> = histogram(&timed(durations))
                .iter()
                .map(|b| b.count)
                .collect();
            assert_eq!(counts, expected, "{durations:?}");
        };
        check(&[], [0; 8]);
        check(&[None, Some(f64::NAN), Some(-1.0)], [0; 8]);
        check(
            &[Some(0.0), Some(0.0099), Some(0.01)],
            [2, 1, 0, 0, 0, 0, 0, 0],
        );
        check(
            &[
                Some(0.5),
                Some(1.0),
                Some(59.9),
                Some(60.0),
                Some(299.0),
                Some(1800.0),
                Some(1e9),
            ],
            [0, 0, 1, 1, 1, 2, 0, 2],
        );
        let buckets = histogram(&timed(&[Some(0.0), Some(0.0), Some(5.0)]));
        assert_eq!(buckets[0].fraction, 1.0);
        assert_eq!(buckets[3].fraction, 0.5);
        assert_eq!(buckets[4].fraction, 0.0);
    }

    #[test]
    fn index_keys_point_at_failures_then_flaky() {
        let mut data = timed(&[None; 5]);
        let statuses = [
            Status::Flaky,
            Status::Failed,
            Status::Passed,
            Status::Errored,
            Status::Flaky,
        ];
        for (t, s) in data.tests.iter_mut().zip(statuses) {
            t.status = s;
        }
        let ctx = Context::new(&data);
        let keys: Vec<Option<usize>> = ctx.test_index.iter().map(|r| r.k).collect();
        assert_eq!(keys, [Some(2), Some(0), None, Some(1), Some(3)]);
        let order: Vec<&str> = ctx
            .failures
            .iter()
            .chain(&ctx.flaky)
            .map(|t| t.id.as_str())
            .collect();
        let expected: Vec<&str> = data.failures().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(order, expected);
    }
}
