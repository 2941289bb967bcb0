//! What the templates see: the [`ReportData`] fields at top level, plus lists derived
//! from them.
//!
//! Sorting, grouping and bucketing are done here rather than in the templates because
//! they are easy to get right and test in Rust and clumsy in Jinja; the templates then
//! only lay things out. The variables are documented at the top of each template.

use dtf_core::metadata::{BuildMetadata, Shard};
use dtf_core::model::Status;
use serde::Serialize;

use crate::comparison::{QueryView, ReportComparison};
use crate::data::{
    FailureGroupRow, InputProblem, ReportData, SuiteRow, TestRow, TimelineData, Totals,
};
use crate::filters::{first_line, format_duration};

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
    failure_groups: &'a [FailureGroupRow],
    /// The timeline chart, laid out; `none` without a timeline.
    timeline: Option<TimelineChart>,
    /// This build against its baseline; `none` without one.
    comparison: Option<ReportComparison<'a>>,
    /// Named queries' results, every row as wide as the header.
    queries: Vec<QueryView<'a>>,
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
    /// Error category, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    g: Option<&'a str>,
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
                    g: t.category.as_deref(),
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
            failure_groups: &data.failure_groups,
            timeline: data
                .timeline
                .as_ref()
                .and_then(|t| TimelineChart::new(t, TIMELINE_MAX_BARS)),
            comparison: data.comparison.as_ref().map(ReportComparison::new),
            queries: data.queries.iter().map(QueryView::new).collect(),
        }
    }
}

/// Most rectangles the timeline draws: each is about 150 bytes of SVG with its
/// tooltip, so 20,000 keep the chart near 3 MB.
pub(crate) const TIMELINE_MAX_BARS: usize = 20_000;

/// The timeline as an SVG chart: one row per shard and slot, one rectangle per test
/// attempt, x in seconds since each shard started. Geometry is computed here so the
/// template only prints numbers.
#[derive(Serialize)]
pub(crate) struct TimelineChart {
    /// The SVG's viewBox width and height.
    width: f64,
    height: f64,
    /// Where the plot starts (left of it: row labels) and ends.
    x0: f64,
    x1: f64,
    /// The axis's y (below the rows).
    axis_y: f64,
    /// Height of one rectangle.
    bar_h: f64,
    rows: Vec<TimelineRow>,
    bars: Vec<TimelineBar>,
    ticks: Vec<TimelineTick>,
    /// Seconds the x axis spans: the longest shard.
    span_s: f64,
    shards: usize,
    /// Entries in the data, and how many are drawn.
    entries: usize,
    drawn: usize,
    /// Statuses that occur, in legend order.
    statuses: Vec<String>,
}

#[derive(Serialize)]
struct TimelineRow {
    /// `shard 2 · slot 0`, or empty when rows are too thin for labels.
    label: String,
    /// Top of the row.
    y: f64,
    /// The first row of a shard (drawn with a separator above it).
    first: bool,
}

#[derive(Serialize)]
struct TimelineBar {
    x: f64,
    y: f64,
    w: f64,
    /// Status, as a CSS class suffix (`passed`, ..., `other`).
    s: &'static str,
    /// Tooltip.
    t: String,
}

#[derive(Serialize)]
struct TimelineTick {
    x: f64,
    label: String,
}

/// Statuses with their own colour, in legend order; anything else is `other`.
const TIMELINE_STATUSES: [&str; 7] = [
    "passed", "failed", "errored", "flaky", "skipped", "lost", "timeout",
];

/// Chart coordinates to a tenth of a unit (shared by the timeline and trend charts).
pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl TimelineChart {
    fn new(data: &TimelineData, max_bars: usize) -> Option<TimelineChart> {
        const WIDTH: f64 = 1160.0;
        const X0: f64 = 150.0;
        const X1: f64 = WIDTH - 16.0;
        // Rows get thinner as they get more numerous, down to a floor, so a run of
        // many shards stays a chart rather than a scroll.
        let finite = |x: f64| if x.is_finite() { x.max(0.0) } else { 0.0 };
        let mut layout: Vec<(u32, u32, usize)> = Vec::new(); // (shard, slot, row)
        let mut row_count = 0usize;
        let mut shards: Vec<&crate::data::TimelineShard> = data.shards.iter().collect();
        shards.sort_by_key(|s| s.shard);
        let mut span: f64 = 0.0;
        let mut entries = 0usize;
        for shard in &shards {
            let used = shard.entries.iter().map(|e| e.slot + 1).max().unwrap_or(0);
            let slots = shard.slots.max(used).max(1);
            for slot in 0..slots {
                layout.push((shard.shard, slot, row_count));
                row_count += 1;
            }
            for e in &shard.entries {
                span = span.max(finite(e.end_s)).max(finite(e.start_s));
                entries += 1;
            }
        }
        if entries == 0 {
            return None;
        }
        let span = if span > 0.0 { span } else { 1.0 };
        let pitch = (900.0 / row_count as f64).clamp(6.0, 20.0);
        let labelled = pitch >= 12.0;
        let top = 4.0;
        let row_y = |row: usize| top + row as f64 * pitch;
        let row_of: std::collections::HashMap<(u32, u32), usize> =
            layout.iter().map(|&(sh, sl, r)| ((sh, sl), r)).collect();
        let rows = layout
            .iter()
            .map(|&(shard, slot, row)| TimelineRow {
                label: if labelled {
                    format!("shard {shard} · slot {slot}")
                } else if slot == 0 {
                    format!("shard {shard}")
                } else {
                    String::new()
                },
                y: round1(row_y(row)),
                first: slot == 0,
            })
            .collect();

        // Keep the most telling entries when there are too many: anything not
        // passed, then the longest.
        let mut all: Vec<(&crate::data::TimelineEntry, u32)> = shards
            .iter()
            .flat_map(|s| s.entries.iter().map(move |e| (e, s.shard)))
            .collect();
        if all.len() > max_bars {
            all.sort_by(|(a, _), (b, _)| {
                let passed = |e: &crate::data::TimelineEntry| e.status == "passed";
                passed(a).cmp(&passed(b)).then_with(|| {
                    let d = |e: &crate::data::TimelineEntry| finite(e.end_s) - finite(e.start_s);
                    d(b).partial_cmp(&d(a)).unwrap_or(std::cmp::Ordering::Equal)
                })
            });
            all.truncate(max_bars);
        }
        let scale = (X1 - X0) / span;
        let bar_h = (pitch - 3.0).max(3.0);
        let mut present = [false; TIMELINE_STATUSES.len()];
        let mut other = false;
        let mut bars: Vec<(usize, f64, TimelineBar)> = all
            .into_iter()
            .filter_map(|(e, shard)| {
                let row = *row_of.get(&(shard, e.slot))?;
                let start = finite(e.start_s);
                let end = finite(e.end_s).max(start);
                let s = match TIMELINE_STATUSES.iter().position(|s| *s == e.status) {
                    Some(i) => {
                        present[i] = true;
                        TIMELINE_STATUSES[i]
                    }
                    None => {
                        other = true;
                        "other"
                    }
                };
                let attempt = if e.attempt > 1 {
                    format!(", attempt {}", e.attempt)
                } else {
                    String::new()
                };
                let t = format!(
                    "{}: {}{attempt}, {} (at {} on shard {shard}, slot {})",
                    e.test,
                    e.status,
                    format_duration(Some(end - start)),
                    format_duration(Some(start)),
                    e.slot
                );
                let bar = TimelineBar {
                    x: round1(X0 + start * scale),
                    y: round1(row_y(row) + 1.0),
                    w: round1(((end - start) * scale).max(0.6)),
                    s,
                    t,
                };
                Some((row, start, bar))
            })
            .collect();
        bars.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
        });
        let mut statuses: Vec<String> = TIMELINE_STATUSES
            .iter()
            .zip(present)
            .filter(|(_, p)| *p)
            .map(|(s, _)| (*s).to_owned())
            .collect();
        if other {
            statuses.push("other".to_owned());
        }
        let axis_y = round1(row_y(row_count) + 2.0);
        let step = tick_step(span);
        let ticks = (0..)
            .map(|i| i as f64 * step)
            .take_while(|t| *t <= span * 1.0001)
            .map(|t| TimelineTick {
                x: round1(X0 + t * scale),
                label: tick_label(t),
            })
            .collect();
        Some(TimelineChart {
            width: WIDTH,
            height: round1(axis_y + 22.0),
            x0: X0,
            x1: X1,
            axis_y,
            bar_h: round1(bar_h),
            drawn: bars.len(),
            bars: bars.into_iter().map(|(_, _, b)| b).collect(),
            rows,
            ticks,
            span_s: span,
            shards: shards.len(),
            entries,
            statuses,
        })
    }
}

/// A tick's time, as short as its roundness allows: `500ms`, `30s`, `1m 30s`, `2h`.
fn tick_label(t: f64) -> String {
    if t == 0.0 {
        return "0s".to_owned();
    }
    if t < 1.0 {
        return format!("{}ms", (t * 1000.0).round());
    }
    if t < 60.0 {
        let tenths = (t * 10.0).round() / 10.0;
        return if tenths.fract() == 0.0 {
            format!("{tenths:.0}s")
        } else {
            format!("{tenths:.1}s")
        };
    }
    let secs = t.round() as u64;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

/// A round tick interval (1, 2 or 5 times a power of ten seconds, or whole minutes
/// and hours) giving 5 to 10 ticks over `span`.
fn tick_step(span: f64) -> f64 {
    let candidates = [
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0,
        60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0,
        86400.0,
    ];
    candidates
        .into_iter()
        .find(|c| span / c <= 10.0)
        .unwrap_or(86400.0)
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
                    category: None,
                })
                .collect(),
            ..ReportData::default()
        }
    }

    #[test]
    fn timeline_ticks() {
        let check = |span: f64, step: f64| assert_eq!(tick_step(span), step, "{span}");
        check(0.004, 0.001);
        check(1.0, 0.1);
        check(9.0, 1.0);
        check(45.0, 5.0);
        check(187.8, 30.0);
        check(3600.0, 600.0);
        check(1e9, 86400.0);
        let label = |t: f64, want: &str| assert_eq!(tick_label(t), want, "{t}");
        label(0.0, "0s");
        label(0.25, "250ms");
        label(30.0, "30s");
        label(2.5, "2.5s");
        label(90.0, "1m 30s");
        label(120.0, "2m");
        label(7200.0, "2h");
        label(3660.0, "1h 1m");
    }

    #[test]
    fn timeline_layout() {
        use crate::data::{TimelineEntry, TimelineShard};
        let e = |slot: u32, start_s: f64, end_s: f64, status: &str| TimelineEntry {
            test: "t".into(),
            slot,
            start_s,
            end_s,
            status: status.into(),
            attempt: 1,
        };
        let data = TimelineData {
            shards: vec![TimelineShard {
                shard: 3,
                // an entry in a slot beyond `slots` still gets a row
                slots: 1,
                entries: vec![
                    e(0, 0.0, 10.0, "passed"),
                    e(2, 5.0, f64::NAN, "weird"),
                    e(1, -1.0, 2.0, "lost"),
                ],
            }],
        };
        let chart = TimelineChart::new(&data, 100).unwrap();
        assert_eq!(chart.rows.len(), 3);
        assert_eq!(chart.rows[2].label, "shard 3 · slot 2");
        assert_eq!(chart.span_s, 10.0);
        let bars: Vec<(f64, f64, &str)> = chart.bars.iter().map(|b| (b.x, b.w, b.s)).collect();
        // full width for 10s; a start before 0 clamps; NaN ends at its start
        assert_eq!(
            bars,
            [
                (150.0, 994.0, "passed"),
                (150.0, 198.8, "lost"),
                (647.0, 0.6, "other")
            ]
        );
        assert_eq!(chart.statuses, ["passed", "lost", "other"]);
        assert!(TimelineChart::new(&TimelineData::default(), 100).is_none());
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
