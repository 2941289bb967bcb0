//! Properties of `compare()`, `detect()` and the trend on random small histories: each
//! test lands in at most one change and the change agrees with the statuses, counts add
//! up, and the output does not depend on the order tests are listed in.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use dtf_core::model::Status;
use dtf_history::anomaly::{AnomalyOptions, detect};
use dtf_history::compare::{CompareOptions, compare};
use dtf_history::model::{BuildInfo, BuildRecord, Change, Comparison, TestRecord};
use dtf_history::trend::{sparkline, trend};
use proptest::prelude::*;

const IDS: [&str; 10] = [
    "a::one", "a::two", "a::three", "b::one", "b::two", "c::x", "c::y", "d::z", "e::w", "f::v",
];
const POOLS: [&str; 3] = ["linux", "macos", "gpu"];
const LABELS: [&str; 4] = ["chrome", "firefox-esr", "gpu", "webkit17"];

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        6 => Just(Status::Passed),
        2 => Just(Status::Failed),
        1 => Just(Status::Errored),
        1 => Just(Status::Skipped),
        1 => Just(Status::Flaky),
    ]
}

fn test_record(id: &'static str) -> impl Strategy<Value = TestRecord> {
    (
        status(),
        prop::option::weighted(0.9, 0.001f64..5.0),
        prop::option::of(0u32..3),
        prop::option::of(0usize..POOLS.len()),
        prop::collection::vec(0usize..LABELS.len(), 0..3),
    )
        .prop_map(
            move |(status, duration_s, shard, pool, labels)| TestRecord {
                id: id.to_string(),
                status,
                duration_s,
                attempts: if status == Status::Flaky { 2 } else { 1 },
                category: None,
                message: None,
                shard,
                pool: pool.map(|p| POOLS[p].to_string()),
                labels: labels.into_iter().map(|l| LABELS[l].to_string()).collect(),
            },
        )
}

/// A build with a random subset of the ids, each at most once.
fn build(n: usize) -> impl Strategy<Value = BuildRecord> {
    prop::collection::vec(prop::option::weighted(0.8, Just(())), IDS.len())
        .prop_flat_map(|present| {
            let chosen: Vec<&'static str> = IDS
                .iter()
                .zip(present)
                .filter(|(_, p)| p.is_some())
                .map(|(id, _)| *id)
                .collect();
            chosen.into_iter().map(test_record).collect::<Vec<_>>()
        })
        .prop_map(move |tests| BuildRecord {
            info: BuildInfo {
                build_id: format!("b{n}"),
                provider: "local".into(),
                time_unix: 1_700_000_000 + n as i64,
                ..BuildInfo::default()
            },
            tests,
        })
}

fn scenario() -> impl Strategy<Value = (Vec<BuildRecord>, BuildRecord, bool)> {
    (0usize..8).prop_flat_map(|h| {
        let history: Vec<_> = (0..h).map(build).collect();
        (history, build(99), any::<bool>())
    })
}

fn failing(s: Status) -> bool {
    matches!(s, Status::Failed | Status::Errored)
}

/// What two comparisons must agree on: changes, slower, faster, anomalies.
type Comparable = (Vec<(String, Change)>, Vec<String>, Vec<String>, Vec<String>);

fn comparable(c: &Comparison) -> Comparable {
    (
        c.tests.iter().map(|t| (t.id.clone(), t.change)).collect(),
        c.slower.iter().map(|d| d.id.clone()).collect(),
        c.faster.iter().map(|d| d.id.clone()).collect(),
        c.anomalies
            .iter()
            .map(|a| format!("{}:{}", a.kind, a.id))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn each_test_in_one_change_consistent_with_statuses((history, current, use_baseline) in scenario()) {
        let baseline = if use_baseline { history.last() } else { None };
        let opts = CompareOptions::default();
        let c = compare(&current, baseline, &history, &opts);

        let mut seen = BTreeSet::new();
        for t in &c.tests {
            prop_assert!(seen.insert(t.id.clone()), "{} listed twice", t.id);
            prop_assert_ne!(t.change, Change::Unchanged);
        }
        // Sorted by change, then id.
        let keys: Vec<_> = c.tests.iter().map(|t| (t.change, t.id.clone())).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        prop_assert_eq!(&keys, &sorted);

        let now: BTreeMap<&str, &TestRecord> = current.tests.iter().map(|t| (t.id.as_str(), t)).collect();
        let base: Option<BTreeMap<&str, &TestRecord>> =
            baseline.map(|b| b.tests.iter().map(|t| (t.id.as_str(), t)).collect());
        let listed: BTreeMap<&str, Change> = c.tests.iter().map(|t| (t.id.as_str(), t.change)).collect();
        for t in &c.tests {
            prop_assert!(now.contains_key(t.id.as_str()) || base.as_ref().is_some_and(|b| b.contains_key(t.id.as_str())));
            let n = now.get(t.id.as_str()).map(|r| r.status);
            let b = base.as_ref().and_then(|m| m.get(t.id.as_str())).map(|r| r.status);
            prop_assert_eq!(t.status, n);
            prop_assert_eq!(t.baseline_status, b);
            match t.change {
                Change::NewFailure => prop_assert!(n.is_some_and(failing) && b.is_some_and(|b| !failing(b))),
                Change::StillFailing => prop_assert!(n.is_some_and(failing) && b.is_some_and(failing)),
                Change::Fixed => prop_assert!(n == Some(Status::Passed) && b.is_some_and(failing)),
                Change::New => prop_assert!(n.is_some() && b.is_none()),
                Change::Removed => prop_assert!(n.is_none() && b.is_some()),
                Change::NewlySkipped => prop_assert!(n == Some(Status::Skipped) && b.is_some_and(|b| b != Status::Skipped)),
                Change::Flaky => prop_assert!(matches!(n, Some(Status::Passed | Status::Flaky)) && b.is_some()),
                Change::Unchanged => unreachable!(),
            }
        }
        // Facts that must always be listed.
        for t in &current.tests {
            let b = base.as_ref().map(|m| m.get(t.id.as_str()).map(|r| r.status));
            let change = listed.get(t.id.as_str()).copied().unwrap_or(Change::Unchanged);
            match b {
                None | Some(None) => prop_assert_eq!(change, Change::New),
                Some(Some(b)) => {
                    if failing(t.status) {
                        prop_assert!(matches!(change, Change::NewFailure | Change::StillFailing));
                    }
                    if t.status == Status::Flaky {
                        prop_assert_eq!(change, Change::Flaky);
                    }
                    if t.status == Status::Skipped && b != Status::Skipped {
                        prop_assert_eq!(change, Change::NewlySkipped);
                    }
                }
            }
        }
        if let Some(b) = &base {
            for id in b.keys() {
                if !now.contains_key(id) {
                    prop_assert_eq!(listed.get(id).copied(), Some(Change::Removed));
                }
            }
        }
        // Every failing test is in failing_now, once.
        let failing_now: Vec<&str> = c.failing_now().iter().map(|t| t.id.as_str()).collect();
        let want = current.tests.iter().filter(|t| failing(t.status)).count();
        prop_assert_eq!(failing_now.len(), want);
        prop_assert_eq!(failing_now.iter().collect::<BTreeSet<_>>().len(), want);
    }

    #[test]
    fn counts_add_up((history, current, use_baseline) in scenario()) {
        let baseline = if use_baseline { history.last() } else { None };
        let c = compare(&current, baseline, &history, &CompareOptions::default());
        let t = &c.totals;
        prop_assert_eq!(t.tests, current.tests.len() as u64);
        prop_assert_eq!(t.passed + t.failed + t.errored + t.skipped + t.flaky, t.tests);
        prop_assert_eq!(c.baseline_totals.is_some(), baseline.is_some());
        let pooled = current.tests.iter().filter(|t| t.pool.is_some()).count() as u64;
        let in_pools: u64 = c.groups.iter().filter(|g| g.kind == "pool").map(|g| g.now.tests).sum();
        prop_assert_eq!(in_pools, pooled);
        let new_failures: u64 = c.groups.iter().filter(|g| g.kind == "pool").map(|g| g.new_failures).sum();
        let newly_failing_pooled = c
            .newly_failing()
            .iter()
            .filter(|t| current.tests.iter().any(|r| r.id == t.id && r.pool.is_some()))
            .count() as u64;
        prop_assert_eq!(new_failures, if baseline.is_some() { newly_failing_pooled } else { 0 });
        for g in &c.groups {
            prop_assert!(g.kind == "pool" || g.name != "gpu", "gpu is not a browser");
            prop_assert_eq!(
                g.now.passed + g.now.failed + g.now.errored + g.now.skipped + g.now.flaky,
                g.now.tests
            );
        }
        prop_assert_eq!(c.trend.points.len(), (history.len() + 1).min(20));
        for p in &c.trend.points {
            prop_assert!((0.0..=1.0).contains(&p.pass_rate));
        }
        for d in c.slower.iter().chain(&c.faster) {
            prop_assert!((0.0..=1.0).contains(&d.confidence));
            prop_assert!(d.confidence >= 0.999);
        }
        for a in &c.anomalies {
            prop_assert!(a.kind == "failure" || a.kind == "duration");
            prop_assert!((0.0..=1.0).contains(&a.confidence));
        }
        // It serializes and reads back.
        let back: Comparison = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        prop_assert_eq!(comparable(&back), comparable(&c));
    }

    #[test]
    fn output_does_not_depend_on_listing_order(
        (history, current, use_baseline) in scenario(),
        rotate in 0usize..10,
    ) {
        let baseline = if use_baseline { history.last() } else { None };
        let opts = CompareOptions::default();
        let a = compare(&current, baseline, &history, &opts);
        prop_assert_eq!(&a, &compare(&current, baseline, &history, &opts), "not deterministic");

        let shuffle = |b: &BuildRecord| {
            let mut b = b.clone();
            b.tests.reverse();
            let n = b.tests.len();
            if n > 0 {
                b.tests.rotate_left(rotate % n);
            }
            b
        };
        let history2: Vec<BuildRecord> = history.iter().map(shuffle).collect();
        let current2 = shuffle(&current);
        let baseline2 = if use_baseline { history2.last() } else { None };
        let b = compare(&current2, baseline2, &history2, &opts);
        prop_assert_eq!(comparable(&a), comparable(&b));
        prop_assert_eq!(&a.groups.iter().map(|g| (&g.kind, &g.name, g.now.tests, g.new_failures)).collect::<Vec<_>>(),
            &b.groups.iter().map(|g| (&g.kind, &g.name, g.now.tests, g.new_failures)).collect::<Vec<_>>());

        let d1 = detect(&current, &history, &AnomalyOptions::default());
        let d2 = detect(&current2, &history2, &AnomalyOptions::default());
        prop_assert_eq!(d1, d2);
    }

    #[test]
    fn trend_and_sparkline_shapes(
        (history, _current, _b) in scenario(),
        last_n in 0usize..10,
        values in prop::collection::vec(prop_oneof![Just(f64::NAN), -1e6f64..1e6], 0..40),
    ) {
        let t = trend(&history, last_n);
        prop_assert_eq!(t.points.len(), history.len().min(last_n));
        if let (Some(p), Some(b)) = (t.points.last(), history.last()) {
            prop_assert_eq!(&p.build_id, &b.info.build_id);
        }
        let s = sparkline(&values);
        // One character per value: a block, or a space where the value is missing.
        prop_assert_eq!(s.chars().count(), values.len());
        for (c, v) in s.chars().zip(&values) {
            prop_assert_eq!(c == ' ', !v.is_finite());
            prop_assert!(c == ' ' || "▁▂▃▄▅▆▇█".contains(c));
        }
    }
}

/// Duplicate ids in a build (which the merge never produces, but an import might) are
/// counted in the totals and judged once, as first listed.
#[test]
fn duplicate_ids_are_judged_once() {
    let rec = |status| TestRecord {
        id: "dup::t".into(),
        status,
        duration_s: Some(1.0),
        attempts: 1,
        category: None,
        message: None,
        shard: None,
        pool: None,
        labels: vec![],
    };
    let mk = |id: &str, tests| BuildRecord {
        info: BuildInfo {
            build_id: id.into(),
            provider: "local".into(),
            ..BuildInfo::default()
        },
        tests,
    };
    let base = mk("b", vec![rec(Status::Passed), rec(Status::Passed)]);
    let now = mk("n", vec![rec(Status::Failed), rec(Status::Passed)]);
    let c = compare(
        &now,
        Some(&base),
        std::slice::from_ref(&base),
        &CompareOptions::default(),
    );
    assert_eq!(c.totals.tests, 2);
    assert_eq!(c.tests.len(), 1);
    assert_eq!(c.tests[0].change, Change::NewFailure);
}
