//! `detect()` on crafted histories: what is flagged, what is not, and how it is explained.

#![allow(clippy::unwrap_used)]

use dtf_core::categorize::Category;
use dtf_core::model::Status;
use dtf_history::anomaly::{
    AnomalyOptions, confidence_above, detect, failure_estimates, learn_flaky_model,
};
use dtf_history::model::{BuildInfo, BuildRecord, TestRecord};

fn rec(id: &str, status: Status, duration: f64, shard: u32) -> TestRecord {
    TestRecord {
        id: id.into(),
        status,
        duration_s: Some(duration),
        attempts: 1,
        category: (status == Status::Failed).then_some(Category::Assertion),
        message: None,
        shard: Some(shard),
        pool: None,
        labels: vec![],
    }
}

fn build(n: usize, tests: Vec<TestRecord>) -> BuildRecord {
    BuildRecord {
        info: BuildInfo {
            build_id: format!("b{n}"),
            provider: "local".into(),
            time_unix: 1_700_000_000 + n as i64,
            ..BuildInfo::default()
        },
        tests,
    }
}

/// Small deterministic wobble, ±3 %.
fn wobble(i: usize, b: usize) -> f64 {
    1.0 + 0.03 * (((i * 7 + b * 13) % 11) as f64 / 5.0 - 1.0)
}

/// `tests` tests over `builds` history builds, all passing, test i taking 0.1·(i+1) s,
/// on shard i % 2.
fn steady(tests: usize, builds: usize) -> Vec<BuildRecord> {
    (0..builds)
        .map(|b| {
            build(
                b,
                (0..tests)
                    .map(|i| {
                        rec(
                            &format!("t::{i:03}"),
                            Status::Passed,
                            0.1 * (i + 1) as f64 * wobble(i, b),
                            (i % 2) as u32,
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

fn ids(a: &[dtf_history::model::Anomaly]) -> Vec<String> {
    a.iter().map(|a| format!("{}:{}", a.kind, a.id)).collect()
}

#[test]
fn a_slow_test_is_explained_expected_against_observed() {
    let history = steady(5, 9);
    let mut now = history.last().unwrap().clone();
    now.info.build_id = "now".into();
    now.tests[2].duration_s = Some(3.4);
    let got = detect(&now, &history, &AnomalyOptions::default());
    assert_eq!(ids(&got), ["duration:t::002"]);
    let a = &got[0];
    assert!(
        a.expected.starts_with("median 300 ms (MAD "),
        "{}",
        a.expected
    );
    assert!(a.expected.ends_with(" over 9 builds"), "{}", a.expected);
    assert_eq!(a.observed, "took 3.40 s (11.3× the expected)");
    assert!(a.confidence >= 0.999);
}

#[test]
fn a_stable_test_that_fails_is_an_anomaly_and_a_flaky_one_is_not() {
    let mut history = steady(4, 12);
    // t::001 failed now and then before.
    for b in [2, 5, 9] {
        history[b].tests[1].status = Status::Failed;
    }
    history[7].tests[1].status = Status::Flaky;
    let mut now = history.last().unwrap().clone();
    now.tests[0].status = Status::Failed;
    now.tests[0].category = Some(Category::Assertion);
    now.tests[1].status = Status::Failed;
    now.tests[3].status = Status::Errored;
    now.tests[3].category = Some(Category::Timeout);
    let got = detect(&now, &history, &AnomalyOptions::default());
    assert_eq!(ids(&got), ["failure:t::000", "failure:t::003"]);
    assert_eq!(got[0].observed, "failed (assertion)");
    assert_eq!(got[1].observed, "errored (timeout)");
    assert!(
        got[0]
            .expected
            .starts_with("passed all 12 builds it ran in (failure rate about "),
        "{}",
        got[0].expected
    );

    // With the flaky one's history in the estimates: far likelier to fail.
    let est = failure_estimates(&now, &history, &AnomalyOptions::default());
    let (stable, flaky) = (est[0].unwrap(), est[1].unwrap());
    assert_eq!(
        (
            flaky.counts.fails,
            flaky.counts.retry_passes,
            flaky.counts.flips
        ),
        (3, 1, 4)
    );
    assert!(
        flaky.beta > 10.0 * stable.beta,
        "{} vs {}",
        flaky.beta,
        stable.beta
    );
}

#[test]
fn too_little_history_judges_nothing() {
    let history = steady(3, 4);
    let mut now = history.last().unwrap().clone();
    now.tests[0].status = Status::Failed;
    now.tests[1].duration_s = Some(100.0);
    assert!(detect(&now, &history, &AnomalyOptions::default()).is_empty());
    let opts = AnomalyOptions {
        min_history: 3,
        ..AnomalyOptions::default()
    };
    assert_eq!(
        ids(&detect(&now, &history, &opts)),
        ["failure:t::000", "duration:t::001"]
    );
}

#[test]
fn a_slow_shard_is_not_a_slow_test() {
    let history = steady(60, 10);
    let mut now = history.last().unwrap().clone();
    // Shard 1 (30 tests) runs 70 % slow; one test on shard 0 really regressed.
    for t in &mut now.tests {
        if t.shard == Some(1) {
            t.duration_s = t.duration_s.map(|d| d * 1.7);
        }
    }
    now.tests[10].duration_s = now.tests[10].duration_s.map(|d| d * 2.0);
    let got = detect(&now, &history, &AnomalyOptions::default());
    assert_eq!(ids(&got), ["duration:t::010"]);

    // Without the shard correction, the whole shard would be flagged.
    let mut opts = AnomalyOptions::default();
    opts.duration.min_tests_for_speed = 0;
    assert!(detect(&now, &history, &opts).len() > 25);
}

#[test]
fn a_slow_test_on_a_slow_shard_says_so() {
    let history = steady(60, 10);
    let mut now = history.last().unwrap().clone();
    for t in &mut now.tests {
        if t.shard == Some(1) {
            t.duration_s = t.duration_s.map(|d| d * 1.7);
        }
    }
    now.tests[11].duration_s = now.tests[11].duration_s.map(|d| d * 4.0);
    let got = detect(&now, &history, &AnomalyOptions::default());
    assert_eq!(ids(&got), ["duration:t::011"]);
    assert!(
        got[0].expected.contains("its shard ran at 1.7"),
        "{}",
        got[0].expected
    );
}

#[test]
fn hostile_numbers_do_not_break_anything() {
    let mut history = steady(3, 8);
    history[2].tests[0].duration_s = Some(f64::NAN);
    history[3].tests[0].duration_s = Some(-5.0);
    history[4].tests[0].duration_s = Some(f64::INFINITY);
    history[5].tests[1].duration_s = Some(0.0);
    history[6].tests[1].duration_s = None;
    let mut now = history.last().unwrap().clone();
    now.tests[0].duration_s = Some(f64::NAN);
    now.tests[1].duration_s = Some(0.0);
    now.tests[2].duration_s = Some(f64::MAX);
    let got = detect(&now, &history, &AnomalyOptions::default());
    for a in &got {
        assert!(a.confidence.is_finite());
    }
    assert!(detect(&build(0, vec![]), &history, &AnomalyOptions::default()).is_empty());
    assert!(detect(&now, &[], &AnomalyOptions::default()).is_empty());
    assert!(confidence_above(f64::NAN, 10) == 0.0);
}

#[test]
fn the_learned_model_needs_something_to_learn_from() {
    let opts = AnomalyOptions::default();
    // A clean history has no positives: no model.
    let clean = steady(50, 20);
    assert!(learn_flaky_model(clean.last().unwrap(), &clean, &opts).is_none());

    // A history where a fifth of the tests fail one build in three, and no others do.
    let mut history = steady(100, 20);
    for (b, build) in history.iter_mut().enumerate() {
        for (i, t) in build.tests.iter_mut().enumerate() {
            if i % 5 == 0 && (b + i) % 3 == 0 {
                t.status = if (b + i) % 2 == 0 {
                    Status::Failed
                } else {
                    Status::Flaky
                };
            }
        }
    }
    let now = history.last().unwrap().clone();
    let (model, stretch) = learn_flaky_model(&now, &history, &opts).unwrap();
    assert!(stretch >= 5 && stretch < history.len());
    let est = failure_estimates(&now, &history, &opts);
    let flaky = est[0].unwrap().learned.unwrap();
    let stable = est[1].unwrap().learned.unwrap();
    assert!(
        flaky > 0.15 && stable < 0.05,
        "flaky {flaky}, stable {stable}, {model:?}"
    );
}
