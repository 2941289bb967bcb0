//! A [`Comparison`] as templates see it: the same facts, laid out for display.
//!
//! The model types leave absent fields out when serialized, which a strict template
//! cannot test for, so each gets a view here with every field present (`none` when
//! unknown). Splitting the tests by change, counting them, labelling the baseline and
//! drawing the trend are done once here for the comment, the Markdown summary and the
//! HTML report alike, so the three never disagree.

use dtf_history::model::{
    Anomaly, BuildInfo, BuildTotals, Change, Comparison, DurationChange, GroupComparison,
    TestChange, TrendPoint,
};
use serde::Serialize;

use crate::context::round1;
use crate::data::QueryTable;
use crate::filters::{format_duration, format_percent, format_thousands, sparkline};

/// Most columns a query table shows; a query with more is cut at the right.
pub(crate) const MAX_QUERY_COLUMNS: usize = 20;

/// [`BuildInfo`] with every field present.
#[derive(Clone, Serialize)]
pub(crate) struct BuildInfoView<'a> {
    build_id: &'a str,
    provider: &'a str,
    repository: Option<&'a str>,
    branch: Option<&'a str>,
    base_branch: Option<&'a str>,
    commit: Option<&'a str>,
    /// The first 7 characters of the commit.
    short_commit: Option<String>,
    change_request: Option<u64>,
    url: Option<&'a str>,
    time_unix: i64,
    wall_s: Option<f64>,
}

impl<'a> BuildInfoView<'a> {
    fn new(b: &'a BuildInfo) -> BuildInfoView<'a> {
        BuildInfoView {
            build_id: &b.build_id,
            provider: &b.provider,
            repository: b.repository.as_deref(),
            branch: b.branch.as_deref(),
            base_branch: b.base_branch.as_deref(),
            commit: b.commit.as_deref(),
            short_commit: b.commit.as_deref().map(|c| c.chars().take(7).collect()),
            change_request: b.change_request,
            url: b.url.as_deref(),
            time_unix: b.time_unix,
            wall_s: b.wall_s,
        }
    }
}

/// How a build is named in a sentence: `main@abc1234`, else the commit, else
/// `build ID`. Raw text: templates escape it.
fn build_label(b: &BuildInfo) -> String {
    let short = b
        .commit
        .as_deref()
        .map(|c| c.chars().take(7).collect::<String>());
    match (b.branch.as_deref(), short) {
        (Some(branch), Some(commit)) => format!("{branch}@{commit}"),
        (Some(branch), None) => branch.to_owned(),
        (None, Some(commit)) => commit,
        (None, None) => format!("build {}", b.build_id),
    }
}

/// [`BuildTotals`] with `wall_s` always present and the pass rate worked out.
#[derive(Clone, Serialize)]
pub(crate) struct TotalsView {
    tests: u64,
    passed: u64,
    failed: u64,
    errored: u64,
    skipped: u64,
    flaky: u64,
    duration_s: f64,
    wall_s: Option<f64>,
    /// Passed and flaky over the tests that ran (not skipped); `none` when none ran.
    pass_rate: Option<f64>,
}

impl TotalsView {
    fn new(t: &BuildTotals) -> TotalsView {
        let ran = t.tests.saturating_sub(t.skipped);
        TotalsView {
            tests: t.tests,
            passed: t.passed,
            failed: t.failed,
            errored: t.errored,
            skipped: t.skipped,
            flaky: t.flaky,
            duration_s: t.duration_s,
            wall_s: t.wall_s,
            pass_rate: (ran > 0).then(|| (t.passed + t.flaky) as f64 / ran as f64),
        }
    }
}

/// [`TestChange`] with every field present and enums as their names.
#[derive(Serialize)]
pub(crate) struct TestView<'a> {
    id: &'a str,
    change: &'static str,
    status: Option<&'static str>,
    baseline_status: Option<&'static str>,
    duration_s: Option<f64>,
    baseline_duration_s: Option<f64>,
    category: Option<&'static str>,
    message: Option<&'a str>,
    flip_rate: Option<f64>,
    confidence: f64,
}

impl<'a> TestView<'a> {
    fn new(t: &'a TestChange) -> TestView<'a> {
        TestView {
            id: &t.id,
            change: change_name(t.change),
            status: t.status.map(|s| s.as_str()),
            baseline_status: t.baseline_status.map(|s| s.as_str()),
            duration_s: t.duration_s,
            baseline_duration_s: t.baseline_duration_s,
            category: t.category.map(|c| c.as_str()),
            message: t.message.as_deref(),
            flip_rate: t.flip_rate,
            confidence: t.confidence,
        }
    }
}

/// The serialized name of a [`Change`] (as in `dtf.comparison.v1`).
fn change_name(c: Change) -> &'static str {
    match c {
        Change::NewFailure => "new_failure",
        Change::StillFailing => "still_failing",
        Change::Fixed => "fixed",
        Change::New => "new",
        Change::Removed => "removed",
        Change::NewlySkipped => "newly_skipped",
        Change::Flaky => "flaky",
        Change::Unchanged => "unchanged",
    }
}

/// [`GroupComparison`] with the baseline always present and the time change worked out.
#[derive(Serialize)]
pub(crate) struct GroupView<'a> {
    kind: &'a str,
    name: &'a str,
    now: TotalsView,
    baseline: Option<TotalsView>,
    new_failures: u64,
    /// This build's test time over the baseline's; `none` without a baseline time.
    duration_ratio: Option<f64>,
}

impl<'a> GroupView<'a> {
    fn new(g: &'a GroupComparison) -> GroupView<'a> {
        GroupView {
            kind: &g.kind,
            name: &g.name,
            now: TotalsView::new(&g.now),
            baseline: g.baseline.as_ref().map(TotalsView::new),
            new_failures: g.new_failures,
            duration_ratio: g
                .baseline
                .as_ref()
                .and_then(|b| ratio(g.now.duration_s, b.duration_s)),
        }
    }
}

fn ratio(now: f64, before: f64) -> Option<f64> {
    (now.is_finite() && before.is_finite() && before > 0.0).then(|| now / before)
}

/// How many tests each list holds, for headlines and collapsed sections.
#[derive(Clone, Serialize)]
pub(crate) struct Counts {
    pub(crate) new_failures: usize,
    pub(crate) still_failing: usize,
    pub(crate) fixed: usize,
    pub(crate) flaky: usize,
    pub(crate) new_tests: usize,
    pub(crate) removed: usize,
    pub(crate) newly_skipped: usize,
    pub(crate) slower: usize,
    pub(crate) faster: usize,
    pub(crate) anomalies: usize,
    pub(crate) groups: usize,
}

/// The part of a comparison a headline needs: small, so it can be rendered again
/// and again while the comment is fitted to its budget.
#[derive(Clone, Serialize)]
pub(crate) struct Head<'a> {
    build: BuildInfoView<'a>,
    baseline: Option<BuildInfoView<'a>>,
    /// How to name the baseline (`main@abc1234`); `none` without one. Raw text.
    base_label: Option<String>,
    totals: TotalsView,
    baseline_totals: Option<TotalsView>,
    /// `failed`, `empty` or `passed`, from this build's totals.
    verdict: &'static str,
    /// This build's test time over the baseline's; `none` without a baseline time.
    duration_ratio: Option<f64>,
    /// The whole suite's time against its history, when known.
    suite_duration: Option<&'a DurationChange>,
    pub(crate) counts: Counts,
}

/// Everything the templates get of a comparison, split by change.
pub(crate) struct Split<'a> {
    pub(crate) head: Head<'a>,
    pub(crate) new_failures: Vec<TestView<'a>>,
    pub(crate) still_failing: Vec<TestView<'a>>,
    pub(crate) fixed: Vec<TestView<'a>>,
    pub(crate) flaky: Vec<TestView<'a>>,
    pub(crate) new_tests: Vec<TestView<'a>>,
    pub(crate) removed: Vec<TestView<'a>>,
    pub(crate) newly_skipped: Vec<TestView<'a>>,
    pub(crate) slower: &'a [DurationChange],
    pub(crate) faster: &'a [DurationChange],
    pub(crate) anomalies: &'a [Anomaly],
    pub(crate) groups: Vec<GroupView<'a>>,
    pub(crate) trend: &'a [TrendPoint],
}

impl<'a> Split<'a> {
    pub(crate) fn new(c: &'a Comparison) -> Split<'a> {
        let mut split = Split {
            head: Head {
                build: BuildInfoView::new(&c.build),
                baseline: c.baseline.as_ref().map(BuildInfoView::new),
                base_label: c.baseline.as_ref().map(build_label),
                totals: TotalsView::new(&c.totals),
                baseline_totals: c.baseline_totals.as_ref().map(TotalsView::new),
                verdict: if c.totals.failed + c.totals.errored > 0 {
                    "failed"
                } else if c.totals.tests == 0 {
                    "empty"
                } else {
                    "passed"
                },
                duration_ratio: c
                    .baseline_totals
                    .as_ref()
                    .and_then(|b| ratio(c.totals.duration_s, b.duration_s)),
                suite_duration: c.suite_duration.as_ref(),
                counts: Counts {
                    new_failures: 0,
                    still_failing: 0,
                    fixed: 0,
                    flaky: 0,
                    new_tests: 0,
                    removed: 0,
                    newly_skipped: 0,
                    slower: c.slower.len(),
                    faster: c.faster.len(),
                    anomalies: c.anomalies.len(),
                    groups: c.groups.len(),
                },
            },
            new_failures: Vec::new(),
            still_failing: Vec::new(),
            fixed: Vec::new(),
            flaky: Vec::new(),
            new_tests: Vec::new(),
            removed: Vec::new(),
            newly_skipped: Vec::new(),
            slower: &c.slower,
            faster: &c.faster,
            anomalies: &c.anomalies,
            groups: c.groups.iter().map(GroupView::new).collect(),
            trend: &c.trend.points,
        };
        for t in &c.tests {
            let list = match t.change {
                Change::NewFailure => &mut split.new_failures,
                Change::StillFailing => &mut split.still_failing,
                Change::Fixed => &mut split.fixed,
                Change::Flaky => &mut split.flaky,
                Change::New => &mut split.new_tests,
                Change::Removed => &mut split.removed,
                Change::NewlySkipped => &mut split.newly_skipped,
                Change::Unchanged => continue,
            };
            list.push(TestView::new(t));
        }
        let counts = &mut split.head.counts;
        counts.new_failures = split.new_failures.len();
        counts.still_failing = split.still_failing.len();
        counts.fixed = split.fixed.len();
        counts.flaky = split.flaky.len();
        counts.new_tests = split.new_tests.len();
        counts.removed = split.removed.len();
        counts.newly_skipped = split.newly_skipped.len();
        split
    }
}

/// The trend as one-line sparklines, for Markdown: the last `max_points` builds.
#[derive(Serialize)]
pub(crate) struct TrendLine {
    builds: usize,
    pass_rate: Spark,
    duration: Spark,
    tests: Spark,
    flaky: Spark,
}

/// One series: its sparkline and its latest value, formatted.
#[derive(Serialize)]
struct Spark {
    line: String,
    last: String,
}

impl TrendLine {
    /// `None` with fewer than two points: one build is not a trend.
    pub(crate) fn new(points: &[TrendPoint], max_points: usize) -> Option<TrendLine> {
        let points = &points[points.len().saturating_sub(max_points)..];
        if points.len() < 2 {
            return None;
        }
        let last = points.last()?;
        let series = |f: fn(&TrendPoint) -> f64| points.iter().map(f).collect::<Vec<f64>>();
        Some(TrendLine {
            builds: points.len(),
            pass_rate: Spark {
                line: sparkline(&series(|p| p.pass_rate)),
                last: format_percent(last.pass_rate, 1),
            },
            duration: Spark {
                line: sparkline(&series(|p| p.duration_s)),
                last: format_duration(Some(last.duration_s)),
            },
            tests: Spark {
                line: sparkline(&series(|p| p.tests as f64)),
                last: format_thousands(i128::from(last.tests)),
            },
            flaky: Spark {
                line: sparkline(&series(|p| p.flaky as f64)),
                last: format_thousands(i128::from(last.flaky)),
            },
        })
    }
}

/// A line chart of one trend series, laid out for SVG: the template prints numbers
/// and the labels (which it escapes).
#[derive(Serialize)]
pub(crate) struct TrendChart {
    /// `pass_rate`, `duration`, `tests` or `flaky`.
    key: &'static str,
    title: &'static str,
    width: f64,
    height: f64,
    /// The plot area.
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    /// The `points` attribute of the polyline.
    line: String,
    points: Vec<ChartPoint>,
    /// The value axis's bottom and top, formatted.
    low: String,
    high: String,
    /// The latest value, formatted.
    last: String,
}

#[derive(Serialize)]
struct ChartPoint {
    x: f64,
    y: f64,
    /// Tooltip: the build and the value.
    label: String,
}

impl TrendChart {
    /// The four charts (pass rate, duration, tests, flaky) over `points`, oldest
    /// first; empty with fewer than two points.
    pub(crate) fn all(points: &[TrendPoint]) -> Vec<TrendChart> {
        if points.len() < 2 {
            return Vec::new();
        }
        let pct = |v: f64| format_percent(v, 1);
        let dur = |v: f64| format_duration(Some(v));
        let count = |v: f64| format_thousands(v.round() as i128);
        vec![
            TrendChart::new(
                "pass_rate",
                "Pass rate",
                points,
                |p| p.pass_rate,
                false,
                pct,
            ),
            TrendChart::new("duration", "Test time", points, |p| p.duration_s, true, dur),
            TrendChart::new("tests", "Tests", points, |p| p.tests as f64, true, count),
            TrendChart::new(
                "flaky",
                "Flaky tests",
                points,
                |p| p.flaky as f64,
                true,
                count,
            ),
        ]
    }

    /// `from_zero` puts the axis's bottom at 0 (for amounts); otherwise the axis
    /// spans the values, which shows small moves in a pass rate near 100%.
    fn new(
        key: &'static str,
        title: &'static str,
        points: &[TrendPoint],
        value: fn(&TrendPoint) -> f64,
        from_zero: bool,
        format: impl Fn(f64) -> String,
    ) -> TrendChart {
        const WIDTH: f64 = 460.0;
        const HEIGHT: f64 = 150.0;
        const X0: f64 = 56.0;
        const X1: f64 = WIDTH - 12.0;
        const Y0: f64 = 12.0;
        const Y1: f64 = HEIGHT - 24.0;
        let values: Vec<f64> = points.iter().map(value).collect();
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let (mut lo, mut hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if from_zero {
            lo = lo.min(0.0);
        }
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            // A flat series sits in the middle of a small band around its value.
            let pad = if hi.abs() > 0.0 { hi.abs() * 0.05 } else { 1.0 };
            (lo, hi) = (if from_zero { 0.0 } else { lo - pad }, hi + pad);
        }
        let step = (X1 - X0) / (points.len().saturating_sub(1).max(1)) as f64;
        let y_of = |v: f64| Y1 - (v - lo) / (hi - lo) * (Y1 - Y0);
        let mut line = String::new();
        let mut chart_points = Vec::with_capacity(points.len());
        for (i, (p, v)) in points.iter().zip(&values).enumerate() {
            if !v.is_finite() {
                continue;
            }
            let (x, y) = (round1(X0 + i as f64 * step), round1(y_of(*v)));
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&format!("{x},{y}"));
            chart_points.push(ChartPoint {
                x,
                y,
                label: format!("build {}: {}", p.build_id, format(*v)),
            });
        }
        TrendChart {
            key,
            title,
            width: WIDTH,
            height: HEIGHT,
            x0: X0,
            x1: X1,
            y0: Y0,
            y1: Y1,
            line,
            points: chart_points,
            low: format(lo),
            high: format(hi),
            last: values.last().map(|v| format(*v)).unwrap_or_default(),
        }
    }
}

/// A query's result laid out for a table: at most [`MAX_QUERY_COLUMNS`] columns, and
/// every row exactly as wide as the header.
#[derive(Serialize)]
pub(crate) struct QueryView<'a> {
    pub(crate) name: &'a str,
    pub(crate) title: &'a str,
    pub(crate) columns: Vec<&'a str>,
    pub(crate) rows: Vec<Vec<&'a str>>,
}

impl<'a> QueryView<'a> {
    pub(crate) fn new(q: &'a QueryTable) -> QueryView<'a> {
        let columns: Vec<&str> = q
            .columns
            .iter()
            .take(MAX_QUERY_COLUMNS)
            .map(String::as_str)
            .collect();
        let width = columns.len();
        let rows = q
            .rows
            .iter()
            .map(|r| {
                let mut row: Vec<&str> = r.iter().take(width).map(String::as_str).collect();
                row.resize(width, "");
                row
            })
            .collect();
        QueryView {
            name: &q.name,
            title: if q.title.is_empty() {
                &q.name
            } else {
                &q.title
            },
            columns,
            rows,
        }
    }
}

/// The comparison as the Markdown summary and the HTML report see it.
#[derive(Serialize)]
pub(crate) struct ReportComparison<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    new_failures: Vec<TestView<'a>>,
    still_failing: Vec<TestView<'a>>,
    fixed: Vec<TestView<'a>>,
    flaky: Vec<TestView<'a>>,
    new_tests: Vec<TestView<'a>>,
    removed: Vec<TestView<'a>>,
    newly_skipped: Vec<TestView<'a>>,
    slower: &'a [DurationChange],
    faster: &'a [DurationChange],
    anomalies: &'a [Anomaly],
    groups: Vec<GroupView<'a>>,
    /// Sparklines of the last [`REPORT_TREND_POINTS`] builds; `none` with fewer than 2.
    trend_line: Option<TrendLine>,
    /// Line charts over every point of the trend; empty with fewer than 2.
    trend_charts: Vec<TrendChart>,
}

/// How many of the latest builds the summary's sparklines cover.
pub(crate) const REPORT_TREND_POINTS: usize = 30;

impl<'a> ReportComparison<'a> {
    pub(crate) fn new(c: &'a Comparison) -> ReportComparison<'a> {
        let s = Split::new(c);
        ReportComparison {
            head: s.head,
            new_failures: s.new_failures,
            still_failing: s.still_failing,
            fixed: s.fixed,
            flaky: s.flaky,
            new_tests: s.new_tests,
            removed: s.removed,
            newly_skipped: s.newly_skipped,
            slower: s.slower,
            faster: s.faster,
            anomalies: s.anomalies,
            groups: s.groups,
            trend_line: TrendLine::new(s.trend, REPORT_TREND_POINTS),
            trend_charts: TrendChart::all(s.trend),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn point(i: usize, pass_rate: f64, duration_s: f64, tests: u64, flaky: u64) -> TrendPoint {
        TrendPoint {
            build_id: format!("b{i}"),
            time_unix: i as i64,
            pass_rate,
            duration_s,
            tests,
            flaky,
        }
    }

    #[test]
    fn build_labels() {
        let check = |branch: Option<&str>, commit: Option<&str>, expected: &str| {
            let b = BuildInfo {
                build_id: "42".into(),
                branch: branch.map(str::to_owned),
                commit: commit.map(str::to_owned),
                ..BuildInfo::default()
            };
            assert_eq!(build_label(&b), expected);
        };
        check(Some("main"), Some("abc1234def"), "main@abc1234");
        check(Some("main"), None, "main");
        check(None, Some("abc"), "abc");
        check(None, None, "build 42");
    }

    #[test]
    fn trend_lines_need_two_points_and_keep_the_last() {
        assert!(TrendLine::new(&[], 10).is_none());
        assert!(TrendLine::new(&[point(0, 1.0, 1.0, 1, 0)], 10).is_none());
        let points: Vec<TrendPoint> = (0..12)
            .map(|i| point(i, 0.88 + i as f64 / 100.0, i as f64, 100 + i as u64, 2))
            .collect();
        let t = TrendLine::new(&points, 8).unwrap();
        assert_eq!(t.builds, 8);
        assert_eq!(t.duration.line, "▁▂▃▄▅▆▇█");
        assert_eq!(t.flaky.line, "▄▄▄▄▄▄▄▄");
        assert_eq!(t.pass_rate.last, "99.0%");
        assert_eq!(t.tests.last, "111");
        assert_eq!(t.duration.last, "11.00s");
    }

    #[test]
    fn trend_charts_scale_into_the_plot() {
        let points = [
            point(0, 0.5, 10.0, 10, 0),
            point(1, 1.0, f64::NAN, 20, 0),
            point(2, 0.75, 30.0, 30, 0),
        ];
        let charts = TrendChart::all(&points);
        assert_eq!(charts.len(), 4);
        let pass = &charts[0];
        // the lowest value on the bottom edge, the highest on the top
        assert_eq!(pass.line, "56,126 252,12 448,69");
        assert_eq!((pass.low.as_str(), pass.high.as_str()), ("50.0%", "100.0%"));
        // a missing value leaves a gap in the points, not a zero
        let dur = &charts[1];
        assert_eq!(dur.points.len(), 2);
        assert_eq!(dur.low, "0s");
        assert_eq!(dur.points[1].label, "build b2: 30.00s");
        // a flat series at zero still has an axis
        let flaky = &charts[3];
        assert!(flaky.points.iter().all(|p| p.y == 126.0), "{}", flaky.line);
        assert!(TrendChart::all(&points[..1]).is_empty());
    }

    #[test]
    fn query_rows_take_the_header_width() {
        let q = QueryTable {
            name: "slow".into(),
            title: String::new(),
            columns: vec!["a".into(), "b".into()],
            rows: vec![vec![], vec!["1".into(), "2".into(), "3".into()]],
        };
        let v = QueryView::new(&q);
        assert_eq!(v.title, "slow");
        assert_eq!(v.rows, [vec!["", ""], vec!["1", "2"]]);
    }
}
