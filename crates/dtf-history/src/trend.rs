//! Trends over the last builds: pass rate, duration, test count and flaky count per
//! build, and the one-line sparklines the pull-request comment draws from them.

use dtf_core::model::Status;

use crate::anomaly::round_to;
use crate::model::{BuildRecord, BuildTotals, Trend, TrendPoint};

/// The last `last_n` of `builds` (oldest first), one point each.
///
/// - `pass_rate`: passed (including passed on retry) over the tests that ran, skips
///   left out; 1 for a build where nothing ran, since nothing failed.
/// - `duration_s`: the sum of test times, as in [`BuildTotals::duration_s`]; wall time
///   is not used because older builds often lack it, and a line that mixes the two
///   would jump for no reason.
/// - `flaky`: tests that passed only on retry.
pub fn trend(builds: &[BuildRecord], last_n: usize) -> Trend {
    let from = builds.len().saturating_sub(last_n);
    Trend {
        points: builds[from..].iter().map(point).collect(),
    }
}

pub(crate) fn point(b: &BuildRecord) -> TrendPoint {
    let t = totals(b);
    TrendPoint {
        build_id: b.info.build_id.clone(),
        time_unix: b.info.time_unix,
        pass_rate: round_to(pass_rate(&t), 6),
        duration_s: t.duration_s,
        tests: t.tests,
        flaky: t.flaky,
    }
}

fn pass_rate(t: &BuildTotals) -> f64 {
    let ran = t.tests - t.skipped;
    if ran == 0 {
        1.0
    } else {
        (t.passed + t.flaky) as f64 / ran as f64
    }
}

/// Counts and times of one build. A test listed twice counts twice: the merge gives
/// one record per test, and totals must add up to what the build record holds.
pub fn totals(b: &BuildRecord) -> BuildTotals {
    let mut t = BuildTotals {
        wall_s: b.info.wall_s.filter(|w| w.is_finite()),
        ..BuildTotals::default()
    };
    for r in &b.tests {
        add(&mut t, r.status, r.duration_s);
    }
    finish(&mut t);
    t
}

/// Rounds the summed time to microseconds: sums of many floats carry noise in the last
/// digits that JSON readers do not all read back to the same value.
pub(crate) fn finish(t: &mut BuildTotals) {
    t.duration_s = round_to(t.duration_s, 6);
}

pub(crate) fn add(t: &mut BuildTotals, status: Status, duration_s: Option<f64>) {
    t.tests += 1;
    match status {
        Status::Passed => t.passed += 1,
        Status::Failed => t.failed += 1,
        Status::Errored => t.errored += 1,
        Status::Skipped => t.skipped += 1,
        Status::Flaky => t.flaky += 1,
    }
    if let Some(d) = duration_s.filter(|d| d.is_finite() && *d >= 0.0) {
        t.duration_s += d;
    }
}

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One block character per value, scaled from the series' minimum (`▁`) to its maximum
/// (`█`). A NaN or infinite value is a space, so positions stay builds; a constant series is all `▄`, so it
/// reads as "level" rather than as "bottom" or "top".
pub fn sparkline(values: &[f64]) -> String {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                ' '
            } else if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
                BLOCKS[3]
            } else {
                let i = ((v - lo) / (hi - lo) * 7.0).round() as usize;
                BLOCKS[i.min(7)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{BuildInfo, TestRecord};

    #[test]
    fn sparkline_cases() {
        let cases: &[(&[f64], &str)] = &[
            (&[], ""),
            (&[5.0], "▄"),
            (&[2.0, 2.0, 2.0], "▄▄▄"),
            (&[0.0, 7.0], "▁█"),
            (&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], "▁▂▃▄▅▆▇█"),
            (&[1.0, f64::NAN, 3.0], "▁ █"),
            (&[f64::NAN], " "),
            (&[f64::INFINITY, 1.0, 2.0], " ▁█"),
            (&[-1.0, 0.0, 1.0], "▁▅█"),
        ];
        for (values, want) in cases {
            assert_eq!(sparkline(values), *want, "{values:?}");
        }
    }

    fn build(id: &str, statuses: &[Status]) -> BuildRecord {
        BuildRecord {
            info: BuildInfo {
                build_id: id.into(),
                provider: "local".into(),
                time_unix: 1_700_000_000,
                ..BuildInfo::default()
            },
            tests: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| TestRecord {
                    id: format!("t::{i}"),
                    status: *s,
                    duration_s: Some(0.5),
                    attempts: 1,
                    category: None,
                    message: None,
                    shard: None,
                    pool: None,
                    labels: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn trend_keeps_the_last_builds_oldest_first() {
        use Status::*;
        let builds = vec![
            build("1", &[Passed, Passed]),
            build("2", &[Passed, Failed, Skipped, Flaky]),
            build("3", &[Skipped]),
        ];
        let t = trend(&builds, 2);
        assert_eq!(t.points.len(), 2);
        assert_eq!(t.points[0].build_id, "2");
        // Two of three that ran passed (one only on retry); the skip is left out.
        assert_eq!(t.points[0].pass_rate, 0.666667);
        assert_eq!((t.points[0].tests, t.points[0].flaky), (4, 1));
        assert!((t.points[0].duration_s - 2.0).abs() < 1e-12);
        assert_eq!(t.points[1].pass_rate, 1.0);
        assert_eq!(trend(&builds, 10).points.len(), 3);
        assert!(trend(&builds, 0).points.is_empty());
    }
}
