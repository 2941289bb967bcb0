//! This build against its baseline and its history: what broke, what was fixed, what
//! is flaky, what got slower, and how each runner pool and browser did.
//!
//! [`compare`] puts every test in exactly one [`Change`]. The rules, first match wins:
//!
//! | now                  | in the baseline          | change                                  |
//! |----------------------|--------------------------|-----------------------------------------|
//! | (no baseline at all) |                          | `New`                                   |
//! | anything             | absent                   | `New` (`status` says how it did)        |
//! | failed or errored    | failed or errored        | `StillFailing`                          |
//! | failed or errored    | passed, flaky or skipped | `NewFailure`, even with a flaky history |
//! | passed on retry      | anything                 | `Flaky` (confidence 1: it is a fact)    |
//! | passed               | failed or errored        | `Flaky` if it flipped `min_flips` times in the window, else `Fixed` |
//! | passed               | passed or flaky          | `Flaky` if it flipped `min_flips` times in the window, else `Unchanged` |
//! | skipped              | ran                      | `NewlySkipped`                          |
//! | absent               | present                  | `Removed`                               |
//! | otherwise            |                          | `Unchanged`                             |
//!
//! A failure is never hidden behind "flaky": a test that fails now and passed in the
//! baseline is a new failure, and its `flip_rate` is filled in when its history flips
//! so readers can weigh it. The converse does not hold: a pass after a failure in a
//! test that keeps flipping is not credited as a fix. A *flip* is a failure followed
//! later by a pass, or a pass on retry (see [`FailureCounts`]): a test broken for five
//! builds and then fixed flips once, which is why one flip is not enough.
//!
//! New tests that fail stay visible as failures: [`Comparison::failing_now`] lists
//! every test failing in this build, new or not.
//!
//! Durations are judged per test against its own history by the duration model of
//! [`crate::anomaly`] (median and MAD, a floored spread, the shard's speed, the recent
//! level), never by a flat percentage; the whole suite's time is judged the same way
//! against the history's suite times.

use std::collections::BTreeMap;

use dtf_core::model::Status;

use crate::anomaly::{
    self, AnomalyOptions, DurationFit, DurationJudgement, FailureCounts, HistoryIndex, IdMap,
    id_map, is_failure, round_to, status_code,
};
use crate::model::{
    BuildRecord, BuildTotals, COMPARISON_SCHEMA, Change, Comparison, DurationChange,
    GroupComparison, TestChange, TestRecord, Trend,
};
use crate::trend;

/// How [`compare`] judges.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareOptions {
    /// History builds looked back over (with this one) for flips.
    pub flaky_window: usize,
    /// Flips in the window that make a passing test flaky.
    pub min_flips: u32,
    /// Passing runs in the history a test needs before its duration is judged.
    pub min_history: usize,
    /// Duration changes below this confidence are not listed in `slower` and `faster`.
    pub min_confidence: f64,
    /// At most this many slower tests are listed (0: all).
    pub max_slower: usize,
    /// At most this many faster tests are listed (0: all).
    pub max_faster: usize,
    /// Builds in [`Comparison::trend`], this one included.
    pub trend_builds: usize,
    /// Whether the baseline lists every test. A summary (`dtf.summary.v1`) lists only
    /// failures, flaky and slow tests: with `false`, a test missing from the baseline
    /// is taken to have passed there, and no test is reported new or removed.
    pub baseline_complete: bool,
    /// The models behind durations and [`Comparison::anomalies`]. Durations are judged
    /// over the last `max(anomaly.window, flaky_window)` history builds.
    pub anomaly: AnomalyOptions,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            flaky_window: 10,
            min_flips: 2,
            min_history: 3,
            min_confidence: 0.999,
            max_slower: 100,
            max_faster: 20,
            trend_builds: 20,
            baseline_complete: true,
            anomaly: AnomalyOptions::default(),
        }
    }
}

/// Compares `current` with `baseline`, judged against `history` (earlier builds, oldest
/// first; normally the base branch's, with the baseline as its last element). With no
/// baseline every test is new; durations, anomalies and the trend still use `history`.
pub fn compare(
    current: &BuildRecord,
    baseline: Option<&BuildRecord>,
    history: &[BuildRecord],
    opts: &CompareOptions,
) -> Comparison {
    let window = opts.anomaly.window.max(opts.flaky_window);
    let index = HistoryIndex::new(current, history, window);
    let base_map = baseline.map(|b| first_by_id(&b.tests));

    let mut changes = Vec::with_capacity(index.len());
    let mut tests = Vec::new();
    for row in 0..index.len() {
        let t = index.test(row);
        let base = base_map.as_ref().map(|m| m.get(t.id.as_str()).copied());
        let (change, flips) = classify(&index, row, base, opts);
        changes.push(change);
        if change != Change::Unchanged {
            tests.push(test_change(t, change, base.flatten(), flips));
        }
    }
    if let (Some(b), Some(map), true) = (baseline, &base_map, opts.baseline_complete) {
        for (i, bt) in b.tests.iter().enumerate() {
            let first = map
                .get(bt.id.as_str())
                .is_some_and(|f| std::ptr::eq(*f, &b.tests[i]));
            if first && index.row_of(&bt.id).is_none() {
                tests.push(removed(bt));
            }
        }
    }
    tests.sort_by(|a, b| a.change.cmp(&b.change).then_with(|| a.id.cmp(&b.id)));

    let judgements = anomaly::judge_durations(&index, &opts.anomaly.duration);
    let (slower, faster) = duration_changes(&index, &judgements, opts);
    let anomalies = anomaly::detect_indexed(&index, &judgements, &opts.anomaly);

    let trend_from = history
        .len()
        .saturating_sub(opts.trend_builds.saturating_sub(1));
    let mut points: Vec<_> = if opts.trend_builds == 0 {
        Vec::new()
    } else {
        history[trend_from..].iter().map(trend::point).collect()
    };
    if opts.trend_builds > 0 {
        points.push(trend::point(current));
    }

    Comparison {
        schema: COMPARISON_SCHEMA.to_string(),
        build: current.info.clone(),
        baseline: baseline.map(|b| b.info.clone()),
        totals: trend::totals(current),
        baseline_totals: baseline.map(trend::totals),
        tests,
        slower,
        faster,
        suite_duration: suite_durations(
            current,
            &history[history.len().saturating_sub(window)..],
            opts,
        )
        .sum,
        groups: groups(current, baseline, &index, &changes),
        anomalies,
        trend: Trend { points },
    }
}

fn first_by_id(tests: &[TestRecord]) -> IdMap<'_, &TestRecord> {
    let mut m = id_map(tests.len());
    for t in tests {
        m.entry(t.id.as_str()).or_insert(t);
    }
    m
}

/// `base`: `None` when there is no baseline at all, `Some(None)` when the baseline
/// does not have this test.
fn classify(
    index: &HistoryIndex<'_>,
    row: usize,
    base: Option<Option<&TestRecord>>,
    opts: &CompareOptions,
) -> (Change, Option<FailureCounts>) {
    let now = index.test(row).status;
    // An incomplete baseline (a summary lists failures, flaky and slowest only) that
    // does not name a test says it did not fail; it does not say it ran.
    let (base_status, base_listed) = match base {
        None => return (Change::New, None),
        Some(Some(b)) => (b.status, true),
        Some(None) if opts.baseline_complete => return (Change::New, None),
        Some(None) => (Status::Passed, false),
    };
    let statuses = index.statuses(row);
    let recent = &statuses[statuses.len().saturating_sub(opts.flaky_window)..];
    let counts = FailureCounts::of(recent.iter().copied().chain([status_code(now)]));
    let flipping = counts.flips >= opts.min_flips;
    let change = if is_failure(now) {
        if is_failure(base_status) {
            Change::StillFailing
        } else {
            Change::NewFailure
        }
    } else if now == Status::Flaky {
        Change::Flaky
    } else if now == Status::Passed {
        if flipping {
            Change::Flaky
        } else if is_failure(base_status) {
            Change::Fixed
        } else {
            Change::Unchanged
        }
    } else if base_listed && base_status != Status::Skipped {
        Change::NewlySkipped
    } else {
        Change::Unchanged
    };
    (change, flipping.then_some(counts))
}

fn test_change(
    t: &TestRecord,
    change: Change,
    base: Option<&TestRecord>,
    flips: Option<FailureCounts>,
) -> TestChange {
    let flip_rate = flips.map(|c| round_to(f64::from(c.flips) / f64::from(c.runs.max(1)), 4));
    let confidence = match (change, flips) {
        // Each flip that a real change would have to explain halves its odds.
        (Change::Flaky, Some(c)) if t.status == Status::Passed => {
            round_to(1.0 - 0.5f64.powi(c.flips as i32), 4)
        }
        _ => 1.0,
    };
    TestChange {
        id: t.id.clone(),
        change,
        status: Some(t.status),
        baseline_status: base.map(|b| b.status),
        duration_s: t.duration_s,
        baseline_duration_s: base.and_then(|b| b.duration_s),
        category: t.category,
        message: t.message.clone(),
        flip_rate,
        confidence,
    }
}

fn removed(b: &TestRecord) -> TestChange {
    TestChange {
        id: b.id.clone(),
        change: Change::Removed,
        status: None,
        baseline_status: Some(b.status),
        duration_s: None,
        baseline_duration_s: b.duration_s,
        category: None,
        message: None,
        flip_rate: None,
        confidence: 1.0,
    }
}

fn duration_change(id: &str, j: &DurationJudgement, confidence: f64) -> DurationChange {
    DurationChange {
        id: id.to_string(),
        expected_s: round_to(j.expected_s, 6),
        observed_s: round_to(j.observed_s, 6),
        ratio: round_to(j.ratio, 3),
        score: round_to(j.score, 2),
        confidence: round_to(confidence, 4),
    }
}

fn duration_changes(
    index: &HistoryIndex<'_>,
    judgements: &[Option<DurationJudgement>],
    opts: &CompareOptions,
) -> (Vec<DurationChange>, Vec<DurationChange>) {
    let mut slower = Vec::new();
    let mut faster = Vec::new();
    for (row, j) in judgements.iter().enumerate() {
        let Some(j) = j.as_ref().filter(|j| j.runs >= opts.min_history) else {
            continue;
        };
        let id = &index.test(row).id;
        if j.observed_s > j.expected_s && j.confidence_slower >= opts.min_confidence {
            slower.push((
                j.observed_s - j.expected_s,
                duration_change(id, j, j.confidence_slower),
            ));
        } else if j.observed_s < j.expected_s && j.confidence_faster >= opts.min_confidence {
            faster.push((
                j.expected_s - j.observed_s,
                duration_change(id, j, j.confidence_faster),
            ));
        }
    }
    // Worst first means the most seconds added: that is what the build pays for.
    let order = |v: &mut Vec<(f64, DurationChange)>, max: usize| -> Vec<DurationChange> {
        v.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        if max > 0 {
            v.truncate(max);
        }
        v.drain(..).map(|(_, d)| d).collect()
    };
    (
        order(&mut slower, opts.max_slower),
        order(&mut faster, opts.max_faster),
    )
}

/// The whole suite's time against the history's: the sum of test times, and the wall
/// time when this build and enough history builds have one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SuiteDurations {
    /// Id `suite:sum`.
    pub sum: Option<DurationChange>,
    /// Id `suite:wall`.
    pub wall: Option<DurationChange>,
}

/// Judges the suite's times in `current` against each build of `history` (oldest
/// first; all of it is used). Needs `opts.min_history` history builds with tests (or
/// with a wall time). The confidence is that of the direction the time moved.
pub fn suite_durations(
    current: &BuildRecord,
    history: &[BuildRecord],
    opts: &CompareOptions,
) -> SuiteDurations {
    let sums: Vec<f64> = history
        .iter()
        .filter(|b| !b.tests.is_empty())
        .map(|b| trend::totals(b).duration_s)
        .collect();
    let walls: Vec<f64> = history
        .iter()
        .filter_map(|b| b.info.wall_s.filter(|w| w.is_finite() && *w >= 0.0))
        .collect();
    let now_sum = (!current.tests.is_empty()).then(|| trend::totals(current).duration_s);
    let now_wall = current.info.wall_s.filter(|w| w.is_finite() && *w >= 0.0);
    let judge = |id: &str, samples: &[f64], now: Option<f64>| -> Option<DurationChange> {
        let now = now?;
        if samples.len() < opts.min_history.max(2) {
            return None;
        }
        let mut v = samples.to_vec();
        let fit = DurationFit::of(&mut v, opts.anomaly.duration.recent_runs)?;
        let j = DurationJudgement::judge(&fit, now, 1.0, &opts.anomaly.duration);
        let c = if j.observed_s >= j.expected_s {
            j.confidence_slower
        } else {
            j.confidence_faster
        };
        Some(duration_change(id, &j, c))
    };
    SuiteDurations {
        sum: judge("suite:sum", &sums, now_sum),
        wall: judge("suite:wall", &walls, now_wall),
    }
}

/// Whether a runner label names a browser: `chrome`, `chromium`, `firefox`, `webkit`,
/// `safari`, `edge` or `msedge`, in any case, alone or followed by a version or feature
/// after a non-letter (`chrome-webgpu`, `firefox_esr`, `safari17`, `edge@120`), so
/// `edgecase` and `chromebook` are not browsers.
pub fn is_browser_label(label: &str) -> bool {
    const BROWSERS: [&str; 7] = [
        "chromium", "chrome", "firefox", "webkit", "safari", "msedge", "edge",
    ];
    let lower = label.trim().to_ascii_lowercase();
    BROWSERS.iter().any(|b| {
        lower
            .strip_prefix(b)
            .is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_ascii_alphabetic()))
    })
}

#[derive(Default)]
struct GroupAcc {
    now: BuildTotals,
    baseline: Option<BuildTotals>,
    new_failures: u64,
}

/// Groups by runner pool and by browser label, pools first, then by name. A test with
/// two browser labels counts in both. `new_failures` counts tests in the group that fail
/// now and did not in the baseline (new failures, and new tests that fail).
fn groups(
    current: &BuildRecord,
    baseline: Option<&BuildRecord>,
    index: &HistoryIndex<'_>,
    changes: &[Change],
) -> Vec<GroupComparison> {
    let mut acc: BTreeMap<(u8, &str), GroupAcc> = BTreeMap::new();
    for t in &current.tests {
        for k in group_keys(t) {
            trend::add(&mut acc.entry(k).or_default().now, t.status, t.duration_s);
        }
    }
    for (row, change) in changes.iter().enumerate() {
        let t = index.test(row);
        let newly_failing =
            *change == Change::NewFailure || (*change == Change::New && is_failure(t.status));
        if newly_failing && baseline.is_some() {
            for k in group_keys(t) {
                acc.entry(k).or_default().new_failures += 1;
            }
        }
    }
    if let Some(b) = baseline {
        for t in &b.tests {
            for k in group_keys(t) {
                let g = acc.entry(k).or_default();
                trend::add(
                    g.baseline.get_or_insert_with(BuildTotals::default),
                    t.status,
                    t.duration_s,
                );
            }
        }
    }
    acc.into_iter()
        .map(|((kind, name), mut g)| {
            trend::finish(&mut g.now);
            if let Some(b) = &mut g.baseline {
                trend::finish(b);
            }
            GroupComparison {
                kind: if kind == 0 { "pool" } else { "label" }.to_string(),
                name: name.to_string(),
                now: g.now,
                baseline: g.baseline,
                new_failures: g.new_failures,
            }
        })
        .collect()
}

/// The groups of one test: its pool (kind 0) and browser labels (kind 1). A test
/// labelled `chrome` twice is one test in the group.
fn group_keys(t: &TestRecord) -> Vec<(u8, &str)> {
    let mut v: Vec<(u8, &str)> = t.pool.as_deref().map(|p| (0u8, p)).into_iter().collect();
    if t.labels.is_empty() {
        return v;
    }
    v.extend(
        t.labels
            .iter()
            .filter(|l| is_browser_label(l))
            .map(|l| (1u8, l.as_str())),
    );
    v.sort_unstable();
    v.dedup();
    v
}

impl Comparison {
    /// Every test failing in this build: new failures, then new tests that fail, then
    /// tests still failing, each by id.
    pub fn failing_now(&self) -> Vec<&TestChange> {
        let failing = |t: &&TestChange| t.status.is_some_and(is_failure);
        let of = |c: Change| {
            self.tests
                .iter()
                .filter(move |t| t.change == c)
                .filter(failing)
        };
        of(Change::NewFailure)
            .chain(of(Change::New))
            .chain(of(Change::StillFailing))
            .collect()
    }

    /// Tests that fail now and did not in the baseline, new tests included.
    pub fn newly_failing(&self) -> Vec<&TestChange> {
        self.failing_now()
            .into_iter()
            .filter(|t| t.change != Change::StillFailing)
            .collect()
    }

    /// Flaky tests: passed on retry now or flipping across recent builds, and new tests
    /// that passed only on retry.
    pub fn flaky_now(&self) -> Vec<&TestChange> {
        self.tests
            .iter()
            .filter(|t| {
                t.change == Change::Flaky
                    || (t.change == Change::New && t.status == Some(Status::Flaky))
            })
            .collect()
    }

    /// Tests with the given change, by id.
    pub fn with_change(&self, change: Change) -> impl Iterator<Item = &TestChange> {
        self.tests.iter().filter(move |t| t.change == change)
    }

    pub fn count(&self, change: Change) -> usize {
        self.with_change(change).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incomplete_baseline_never_calls_a_skip_new() {
        let rec = |id: &str, status| TestRecord {
            id: id.into(),
            status,
            duration_s: Some(1.0),
            attempts: 1,
            category: None,
            message: None,
            shard: None,
            pool: None,
            labels: Vec::new(),
        };
        let build = |tests| BuildRecord {
            info: crate::model::BuildInfo::default(),
            tests,
        };
        let now = build(vec![
            rec("s::skipped", Status::Skipped),
            rec("s::listed", Status::Skipped),
        ]);
        // A summary-like baseline: only the test it lists, which ran.
        let base = build(vec![rec("s::listed", Status::Failed)]);
        let opts = CompareOptions {
            baseline_complete: false,
            ..CompareOptions::default()
        };
        let c = compare(&now, Some(&base), &[], &opts);
        let changes: Vec<(&str, Change)> =
            c.tests.iter().map(|t| (t.id.as_str(), t.change)).collect();
        assert_eq!(changes, [("s::listed", Change::NewlySkipped)]);
    }

    #[test]
    fn browser_labels() {
        for yes in [
            "chrome",
            "Chrome",
            "chromium",
            "chrome-webgpu",
            "firefox_esr",
            "safari17",
            "webkit",
            "edge",
            "msedge",
            "edge@120",
            "firefox-nightly-linux",
        ] {
            assert!(is_browser_label(yes), "{yes}");
        }
        for no in [
            "edgecase",
            "chromebook",
            "gpu",
            "linux",
            "",
            "ubuntu-latest",
            "x-chrome",
        ] {
            assert!(!is_browser_label(no), "{no}");
        }
    }
}
