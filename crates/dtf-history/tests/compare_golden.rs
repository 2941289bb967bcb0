//! Golden tests of `compare()`: one crafted history per file in `tests/golden/compare/`
//! (the format is described in its README), each checked against the expectations in
//! the file and against an insta snapshot of the whole comparison.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dtf_core::categorize::Category;
use dtf_core::model::Status;
use dtf_history::compare::{CompareOptions, compare, suite_durations};
use dtf_history::model::{
    BuildInfo, BuildRecord, COMPARISON_SCHEMA, Change, Comparison, DurationChange, TestRecord,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    about: String,
    #[serde(default)]
    baseline: Option<String>,
    #[serde(default)]
    options: Options,
    #[serde(default)]
    wall: Vec<f64>,
    tests: Vec<CaseTest>,
    expect: Expect,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    flaky_window: Option<usize>,
    min_flips: Option<u32>,
    min_history: Option<usize>,
    trend_builds: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseTest {
    id: String,
    timeline: String,
    #[serde(default)]
    durations: Option<Vec<Option<f64>>>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    now: Option<f64>,
    #[serde(default)]
    jitter: f64,
    #[serde(default)]
    pool: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    shard: Option<u32>,
    #[serde(default)]
    category: Option<Category>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    repeat: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    changes: BTreeMap<String, Change>,
    #[serde(default)]
    flip_rates: BTreeMap<String, f64>,
    #[serde(default)]
    failing_now: Option<Vec<String>>,
    #[serde(default)]
    flaky_now: Option<Vec<String>>,
    slower: Vec<String>,
    faster: Vec<String>,
    suite: String,
    #[serde(default)]
    suite_wall: Option<String>,
    anomalies: Vec<String>,
    #[serde(default)]
    groups: Option<GroupCounts>,
}

/// Per group: tests now, tests in the baseline, new failures.
type GroupCounts = BTreeMap<String, (u64, Option<u64>, u64)>;

/// Relative noise applied to history durations, by build: small, fixed, and both ways.
const JITTER: [f64; 7] = [0.0, 1.0, -1.0, 0.5, -0.5, 0.8, -0.8];

fn status_of(token: &str) -> Option<Status> {
    match token {
        "P" => Some(Status::Passed),
        "F" => Some(Status::Failed),
        "E" => Some(Status::Errored),
        "S" => Some(Status::Skipped),
        "R" => Some(Status::Flaky),
        "-" => None,
        other => panic!("unknown timeline token {other:?}"),
    }
}

/// The history builds (oldest first) and this build.
fn records(case: &Case) -> (Vec<BuildRecord>, BuildRecord) {
    let builds = case.tests[0].timeline.split_whitespace().count();
    assert!(builds >= 1);
    let mut all: Vec<BuildRecord> = (0..builds)
        .map(|b| {
            let now = b + 1 == builds;
            BuildRecord {
                info: BuildInfo {
                    build_id: if now {
                        "now".into()
                    } else {
                        format!("b{:02}", b + 1)
                    },
                    provider: "local".into(),
                    branch: Some(if now { "feature" } else { "main" }.into()),
                    base_branch: now.then(|| "main".into()),
                    commit: Some(format!("{:040x}", b + 1)),
                    time_unix: 1_700_000_000 + b as i64 * 3_600,
                    wall_s: case.wall.get(b).copied(),
                    ..BuildInfo::default()
                },
                tests: Vec::new(),
            }
        })
        .collect();
    for t in &case.tests {
        let tokens: Vec<&str> = t.timeline.split_whitespace().collect();
        assert_eq!(
            tokens.len(),
            builds,
            "{}: every timeline has {builds} builds",
            t.id
        );
        let ids: Vec<String> = match t.repeat {
            Some(n) => (0..n).map(|i| format!("{}_{i:02}", t.id)).collect(),
            None => vec![t.id.clone()],
        };
        for id in ids {
            for (b, token) in tokens.iter().enumerate() {
                let Some(status) = status_of(token) else {
                    continue;
                };
                let now = b + 1 == builds;
                let duration = match (&t.durations, t.duration) {
                    (Some(d), _) => {
                        assert_eq!(d.len(), builds, "{}: one duration per build", t.id);
                        d[b]
                    }
                    (None, Some(d)) if now => Some(t.now.unwrap_or(d)),
                    (None, Some(d)) => Some(d * (1.0 + t.jitter * JITTER[b % JITTER.len()])),
                    (None, None) => None,
                };
                let failing = !matches!(status, Status::Passed | Status::Skipped);
                all[b].tests.push(TestRecord {
                    id: id.clone(),
                    status,
                    duration_s: duration.map(|d| (d * 1e6).round() / 1e6),
                    attempts: if status == Status::Flaky { 2 } else { 1 },
                    category: if failing { t.category } else { None },
                    message: if failing { t.message.clone() } else { None },
                    shard: t.shard,
                    pool: t.pool.clone(),
                    labels: t.labels.clone(),
                });
            }
        }
    }
    let current = all.pop().unwrap();
    (all, current)
}

fn options(case: &Case) -> CompareOptions {
    let mut o = CompareOptions::default();
    let c = &case.options;
    if let Some(v) = c.flaky_window {
        o.flaky_window = v;
    }
    if let Some(v) = c.min_flips {
        o.min_flips = v;
    }
    if let Some(v) = c.min_history {
        o.min_history = v;
    }
    if let Some(v) = c.trend_builds {
        o.trend_builds = v;
    }
    o
}

fn verdict(d: Option<&DurationChange>, opts: &CompareOptions) -> &'static str {
    match d {
        None => "unjudged",
        Some(d) if d.confidence >= opts.min_confidence && d.observed_s > d.expected_s => "slower",
        Some(d) if d.confidence >= opts.min_confidence && d.observed_s < d.expected_s => "faster",
        Some(_) => "level",
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/compare")
}

fn check(name: &str) {
    let path = golden_dir().join(format!("{name}.json"));
    let case: Case = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!case.about.is_empty());
    let (history, current) = records(&case);
    let baseline = match case.baseline.as_deref() {
        None | Some("last") => history.last(),
        Some("none") => None,
        Some(other) => panic!("baseline {other:?}"),
    };
    let opts = options(&case);
    let got = compare(&current, baseline, &history, &opts);
    let e = &case.expect;

    assert_eq!(got.schema, COMPARISON_SCHEMA);
    let changes: BTreeMap<String, Change> =
        got.tests.iter().map(|t| (t.id.clone(), t.change)).collect();
    assert_eq!(
        changes.len(),
        got.tests.len(),
        "{name}: a test in two changes"
    );
    assert_eq!(&changes, &e.changes, "{name}: changes");
    for (id, rate) in &e.flip_rates {
        let t = got.tests.iter().find(|t| &t.id == id).unwrap();
        assert_eq!(t.flip_rate, Some(*rate), "{name}: flip rate of {id}");
    }
    for t in &got.tests {
        if !e.flip_rates.contains_key(&t.id) {
            assert_eq!(
                t.flip_rate, None,
                "{name}: unexpected flip rate on {}",
                t.id
            );
        }
    }
    if let Some(want) = &e.failing_now {
        let ids: Vec<&str> = got.failing_now().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, *want, "{name}: failing now");
    }
    if let Some(want) = &e.flaky_now {
        let ids: Vec<&str> = got.flaky_now().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, *want, "{name}: flaky now");
    }
    let ids = |v: &[DurationChange]| v.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&got.slower), e.slower, "{name}: slower");
    assert_eq!(ids(&got.faster), e.faster, "{name}: faster");
    for d in got.slower.iter().chain(&got.faster) {
        assert!(
            d.confidence >= opts.min_confidence,
            "{name}: {} listed below the threshold",
            d.id
        );
    }
    assert_eq!(
        verdict(got.suite_duration.as_ref(), &opts),
        e.suite,
        "{name}: suite {:?}",
        got.suite_duration
    );
    if let Some(want) = &e.suite_wall {
        let wall = suite_durations(&current, &history, &opts).wall;
        assert_eq!(
            verdict(wall.as_ref(), &opts),
            want,
            "{name}: suite wall {wall:?}"
        );
    }
    let anomalies: Vec<String> = got
        .anomalies
        .iter()
        .map(|a| format!("{}:{}", a.kind, a.id))
        .collect();
    assert_eq!(
        anomalies, e.anomalies,
        "{name}: anomalies {:#?}",
        got.anomalies
    );
    if let Some(want) = &e.groups {
        let groups: GroupCounts = got
            .groups
            .iter()
            .map(|g| {
                (
                    format!("{}:{}", g.kind, g.name),
                    (
                        g.now.tests,
                        g.baseline.as_ref().map(|b| b.tests),
                        g.new_failures,
                    ),
                )
            })
            .collect();
        assert_eq!(&groups, want, "{name}: groups");
    }
    // The trend ends with this build and covers the history before it.
    let trend = &got.trend.points;
    assert_eq!(trend.last().map(|p| p.build_id.as_str()), Some("now"));
    assert_eq!(trend.len(), (history.len() + 1).min(opts.trend_builds));
    // What is written is what is read back.
    let json = serde_json::to_string(&got).unwrap();
    let back: Comparison = serde_json::from_str(&json).unwrap();
    assert_eq!(back, got, "{name}: round trip");

    insta::with_settings!({ description => case.about.as_str(), omit_expression => true }, {
        insta::assert_json_snapshot!(name, got);
    });
}

macro_rules! golden {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*

        /// Every case file has a test, so none is silently skipped.
        #[test]
        fn every_case_file_is_tested() {
            let listed: Vec<&str> = vec![$(stringify!($name)),*];
            let mut files: Vec<String> = std::fs::read_dir(golden_dir())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
                .collect();
            files.sort();
            let mut listed_sorted = listed.clone();
            listed_sorted.sort();
            assert_eq!(files, listed_sorted);
        }
    };
}

golden!(
    first_build,
    new_failure,
    new_failure_flaky_history,
    still_failing,
    fixed,
    new_test,
    removed_test,
    newly_skipped,
    flaky_by_retry,
    flaky_by_flips,
    duration_regression,
    noisy_not_flagged,
    recent_step,
    suite_regression,
    groups,
);
