//! What each strategy promises, on small problems whose right answer is known.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::model::PlanTest;

fn problem(durations: &[f64], shards: u32) -> Problem {
    Problem {
        tests: durations
            .iter()
            .enumerate()
            .map(|(i, &d)| PlanTest::new(format!("s::t{i}"), d))
            .collect(),
        shards,
        ..Problem::default()
    }
}

fn pool(name: &str, runners: u32, speed: f64, startup: f64) -> Pool {
    Pool {
        name: name.to_string(),
        labels: vec![format!("{name}-label")],
        runners,
        capabilities: Vec::new(),
        speed,
        startup,
    }
}

fn plan(name: &str, p: &Problem) -> Assignment {
    by_name(name).unwrap().plan(p).unwrap()
}

fn error(name: &str, p: &Problem) -> String {
    by_name(name).unwrap().plan(p).unwrap_err().to_string()
}

/// (pool, wave, tests) of every shard.
fn shape(a: &Assignment) -> Vec<(usize, u32, Vec<usize>)> {
    a.shards
        .iter()
        .map(|s| (s.pool, s.wave, s.tests.clone()))
        .collect()
}

#[test]
fn bad_problems_have_clear_errors() {
    let mut zero = problem(&[1.0], 1);
    zero.shards = 0;
    let mut runners = problem(&[1.0, 2.0], 5);
    runners.pools = vec![pool("a", 2, 1.0, 0.0), pool("b", 1, 1.0, 0.0)];
    let mut nobody = problem(&[1.0, 2.0], 2);
    nobody.pools = vec![pool("cpu", 2, 1.0, 0.0), pool("gpu", 0, 1.0, 0.0)];
    nobody.eligible = vec![vec![], vec![1]];
    let mut cover = problem(&[1.0, 2.0], 1);
    cover.pools = vec![pool("linux", 2, 1.0, 0.0), pool("macos", 2, 1.0, 0.0)];
    cover.eligible = vec![vec![0], vec![1]];
    let mut cycle = problem(&[1.0, 1.0, 1.0], 2);
    cycle.dependencies = vec![(0, 1), (1, 2), (2, 0)];
    let mut chain = cover.clone();
    chain.shards = 2;
    chain.dependencies = vec![(0, 1)];
    let mut duration = problem(&[1.0, f64::NAN], 1);
    duration.tests[1].id = "s::nan".into();
    let mut index = problem(&[1.0], 1);
    index.eligible = vec![vec![3]];
    let mut speed = problem(&[1.0], 1);
    speed.pools = vec![pool("slow", 1, 0.0, 0.0)];
    let mut all_zero = problem(&[1.0], 1);
    all_zero.pools = vec![pool("a", 0, 1.0, 0.0)];
    let cases: Vec<(&str, &Problem, &str)> = vec![
        ("timing", &zero, "the number of shards must be at least 1"),
        (
            "timing",
            &runners,
            "asked for 5 shards, but the pools have only 3 runners in total",
        ),
        (
            "timing",
            &nobody,
            "test `s::t1` can run on no pool with free runners (it is eligible for: gpu)",
        ),
        (
            "round-robin",
            &cover,
            "every test needs a shard on a pool it can run on: that takes at least 2 shards (on linux, macos), but only 1 were asked for",
        ),
        (
            "timing",
            &cycle,
            "dependency cycle: s::t0 → s::t1 → s::t2 → s::t0",
        ),
        (
            "timing",
            &chain,
            "tests `s::t0`, `s::t1` depend on each other, so they share a shard, but no pool can run all of them; plan with waves or relax their requirements",
        ),
        (
            "timing",
            &duration,
            "test `s::nan` has duration NaN; durations must be finite and at least 0 seconds",
        ),
        (
            "timing",
            &index,
            "test `s::t0` is eligible for pool index 3, but there are only 1 pools",
        ),
        (
            "timing",
            &speed,
            "pool `slow` has speed = 0; it must be a finite number above 0",
        ),
        (
            "priority",
            &all_zero,
            "no pool has a runner (every pool declares runners = 0)",
        ),
        (
            "deadline",
            &runners,
            "the deadline strategy needs a deadline (`--deadline 10m`)",
        ),
    ];
    for (name, p, expected) in cases {
        assert_eq!(error(name, p), expected, "{name}");
    }
}

#[test]
fn round_robin_deals_tests_in_turn() {
    let p = problem(&[5.0; 7], 3);
    assert_eq!(
        shape(&plan("round-robin", &p)),
        vec![
            (0, 0, vec![0, 3, 6]),
            (0, 0, vec![1, 4]),
            (0, 0, vec![2, 5])
        ]
    );
}

#[test]
fn timing_balances_better_than_dealing() {
    let p = problem(&[8.0, 7.0, 6.0, 5.0, 4.0], 2);
    let a = plan("timing", &p);
    assert_eq!(predicted_wall(&p, &a), 15.0);
    // Tests run in inventory order inside a shard.
    assert!(
        a.shards
            .iter()
            .all(|s| s.tests.windows(2).all(|w| w[0] < w[1]))
    );
}

#[test]
fn chains_stay_in_one_shard_in_dependency_order() {
    let mut p = problem(&[1.0, 9.0, 1.0, 9.0, 1.0, 9.0], 3);
    // 5 → 0 → 2: one chain of 11 s; the 9 s tests spread over the other shards.
    p.dependencies = vec![(5, 0), (0, 2)];
    for name in ["timing", "round-robin", "priority", "batching", "quota"] {
        let a = plan(name, &p);
        let shard = a.shards.iter().find(|s| s.tests.contains(&0)).unwrap();
        let order: Vec<usize> = shard
            .tests
            .iter()
            .copied()
            .filter(|t| [5, 0, 2].contains(t))
            .collect();
        assert_eq!(order, vec![5, 0, 2], "{name}: {:?}", shape(&a));
    }
    assert_eq!(predicted_wall(&p, &plan("timing", &p)), 11.0);
}

#[test]
fn waves_put_dependents_later_and_fill_idle_time() {
    let mut p = problem(&[10.0, 10.0, 4.0, 3.0, 3.0, 2.0, 2.0], 2);
    p.dependencies = vec![(0, 1)];
    p.waves = true;
    let a = plan("timing", &p);
    let wave_of = |t: usize| a.shards.iter().find(|s| s.tests.contains(&t)).unwrap().wave;
    assert_eq!((wave_of(0), wave_of(1)), (0, 1));
    // Wave 1 runs test 1 (10 s) on one shard; the other shard's idle 10 s take free
    // tests, so the two waves end together at 10 + 12 = 22 s or better.
    assert!(predicted_wall(&p, &a) <= 22.0, "{:?}", shape(&a));
    let later: usize = a
        .shards
        .iter()
        .filter(|s| s.wave == 1)
        .map(|s| s.tests.len())
        .sum();
    assert!(later > 1, "free tests fill wave 1: {:?}", shape(&a));
}

#[test]
fn priority_runs_critical_tests_first() {
    let mut p = problem(&[1.0, 5.0, 2.0, 3.0], 1);
    p.tests[2].priority = 10;
    p.tests[0].priority = 1;
    // Test 3 must run after test 2, which comes first anyway.
    p.dependencies = vec![(2, 3)];
    assert_eq!(shape(&plan("priority", &p)), vec![(0, 0, vec![2, 0, 1, 3])]);
    // A dependency overrides priority.
    p.dependencies = vec![(1, 2)];
    assert_eq!(shape(&plan("priority", &p)), vec![(0, 0, vec![0, 1, 2, 3])]);
}

#[test]
fn pools_get_shards_by_speed_and_need() {
    // Plenty of runners: the 4 shards go to the fast pool first.
    let mut p = problem(&[10.0; 40], 4);
    p.pools = vec![pool("slow", 10, 0.5, 0.0), pool("fast", 3, 1.0, 0.0)];
    let r = Timing.plan_with_report(&p).unwrap().1;
    let counts: Vec<u32> = r.pool_shards.iter().map(|c| c.shards).collect();
    assert_eq!(counts, vec![1, 3]);
    // The slow shard gets half the work of a fast one: 40 tests, 3 fast shards × 2 + 1.
    let a = plan("timing", &p);
    let slow = a.shards.iter().find(|s| s.pool == 0).unwrap();
    assert!((5..=6).contains(&slow.tests.len()), "{:?}", shape(&a));

    // GPU tests can only go to the GPU pool: it gets shards in proportion to its work.
    let mut p = problem(&[10.0; 40], 8);
    p.pools = vec![pool("cpu", 8, 1.0, 0.0), pool("gpu", 8, 1.0, 0.0)];
    p.eligible = (0..40)
        .map(|i| if i < 30 { vec![1] } else { vec![0] })
        .collect();
    let a = plan("timing", &p);
    for s in &a.shards {
        for &t in &s.tests {
            assert_eq!(s.pool, if t < 30 { 1 } else { 0 }, "test {t}");
        }
    }
    assert_eq!(a.shards.iter().filter(|s| s.pool == 1).count(), 6);
    assert_eq!(predicted_wall(&p, &a), 50.0);
}

#[test]
fn measured_pool_durations_win_over_speed() {
    let mut p = problem(&[10.0, 10.0], 2);
    p.pools = vec![pool("a", 1, 1.0, 0.0), pool("b", 1, 1.0, 0.0)];
    p.tests[0].pool_durations = vec![("a".into(), 1.0), ("b".into(), 30.0)];
    let a = plan("timing", &p);
    assert_eq!(shape(&a), vec![(0, 0, vec![0]), (1, 0, vec![1])]);
    assert_eq!(shard_times(&p, &a), vec![1.0, 10.0]);
}

#[test]
fn batches_respect_the_limit_and_count_start_up() {
    let mut p = problem(&[1.0; 10], 2);
    p.pools = vec![pool("ci", 2, 1.0, 30.0)];
    p.max_batch = 3;
    for (i, t) in p.tests.iter_mut().enumerate() {
        t.file = Some(format!("f{}.py", i / 2));
    }
    for name in names() {
        if *name == "deadline" {
            continue;
        }
        let a = plan(name, &p);
        for s in &a.shards {
            assert_eq!(s.batches.iter().sum::<usize>(), s.tests.len(), "{name}");
            assert!(
                s.batches.iter().all(|&b| (1..=3).contains(&b)),
                "{name}: {:?}",
                s.batches
            );
            assert_eq!(
                s.batches.len(),
                s.tests.len().div_ceil(3),
                "{name}: fewest batches"
            );
        }
        // 5 tests a shard: 2 invocations of 30 s start-up each.
        assert_eq!(predicted_wall(&p, &a), 65.0, "{name}");
    }
}

#[test]
fn batching_keeps_files_together() {
    // 64 one-second tests in files of two; mean shard 32 s, so a 2 s file is one unit.
    let mut p = problem(&[1.0; 64], 2);
    p.pools = vec![pool("ci", 2, 1.0, 30.0)];
    p.max_batch = 4;
    for (i, t) in p.tests.iter_mut().enumerate() {
        t.file = Some(format!("f{:02}.py", (i * 7) % 32));
    }
    let a = plan("batching", &p);
    for s in &a.shards {
        assert_eq!(s.batches, vec![4; 8], "{:?}", shape(&a));
        let mut at = 0;
        for &b in &s.batches {
            let files: Vec<&str> = s.tests[at..at + b]
                .iter()
                .map(|&t| p.tests[t].file.as_deref().unwrap())
                .collect();
            assert!(
                files[0] == files[1] && files[2] == files[3] && files[1] != files[2],
                "{files:?}"
            );
            at += b;
        }
    }
    assert_eq!(predicted_wall(&p, &a), 32.0 + 8.0 * 30.0);
}

#[test]
fn deadline_uses_the_fewest_shards_that_meet_it() {
    let mut p = problem(&[60.0; 10], 8);
    p.deadline = Some(300.0);
    let (a, r) = Deadline.plan_with_report(&p).unwrap();
    assert_eq!(a.shards.len(), 2);
    assert_eq!(r.predicted_wall_s, 300.0);
    assert!(
        r.risk_of_missing.unwrap() > 0.5,
        "a plan exactly at the deadline is risky"
    );
    assert!(
        r.notes[0].starts_with("2 of at most 8 shards are predicted to finish in 5m 0s"),
        "{:?}",
        r.notes
    );
    p.deadline = Some(200.0);
    assert_eq!(Deadline.plan(&p).unwrap().shards.len(), 4);
    // 8 shards cannot beat 2 rounds of 60 s.
    p.deadline = Some(100.0);
    assert_eq!(
        error("deadline", &p),
        "the deadline of 1m 40s cannot be met with at most 8 shards: the smallest feasible deadline is 2m 0s with 8 shards"
    );
    // Runners cap the shard count too.
    p.pools = vec![pool("ci", 3, 1.0, 0.0)];
    p.deadline = Some(100.0);
    assert!(error("deadline", &p).ends_with("is 4m 0s with 3 shards"));
}

#[test]
fn fair_share_splits_shards_by_weight() {
    let mut p = problem(&[10.0; 40], 8);
    for (i, t) in p.tests.iter_mut().enumerate() {
        t.group = Some(if i % 4 == 0 { "e2e" } else { "unit" }.into());
    }
    p.shares = vec![("unit".into(), 1.0), ("e2e".into(), 3.0)];
    let (a, r) = FairShare.plan_with_report(&p).unwrap();
    let e2e = a
        .shards
        .iter()
        .filter(|s| s.tests.iter().any(|&t| t % 4 == 0))
        .count();
    assert_eq!((e2e, a.shards.len()), (6, 8));
    assert!(a.shards.iter().all(|s| {
        s.tests
            .iter()
            .all(|&t| (t % 4 == 0) == (s.tests[0] % 4 == 0))
    }));
    assert_eq!(
        r.notes,
        vec![
            "group e2e: 6 shards (weight 3)",
            "group unit: 2 shards (weight 1)"
        ]
    );
    p.shards = 1;
    assert_eq!(
        error("fair-share", &p),
        "fair-share gives each of the 2 test groups a shard, but only 1 shards were asked for"
    );
    p.shards = 4;
    p.shares = vec![("unit".into(), -1.0)];
    assert_eq!(
        error("fair-share", &p),
        "the share of group `unit` is -1; shares must be finite and above 0"
    );
}

#[test]
fn quota_moves_work_off_a_metered_pool() {
    let mut p = problem(&[10.0; 12], 4);
    p.pools = vec![pool("gpu", 2, 1.0, 0.0), pool("cpu", 2, 1.0, 0.0)];
    // Unlimited, the plan puts 60 s on each pool; the gpu may use 30 s.
    p.quotas = vec![("gpu".into(), 30.0)];
    let (a, r) = Quota.plan_with_report(&p).unwrap();
    assert_eq!(r.quota[0].used_s, 30.0, "{:?}", shape(&a));
    assert_eq!(r.quota[0].overage_s, 0.0);
    assert_eq!(predicted_wall(&p, &a), 50.0);
    assert_eq!(a.shards.len(), 4, "both gpu shards keep tests");
    assert!(r.notes.is_empty());
    // A quota of 0 empties the gpu shards, which are then dropped.
    p.quotas = vec![("gpu".into(), 0.0)];
    let (a, r) = Quota.plan_with_report(&p).unwrap();
    assert_eq!(
        (a.shards.len(), r.quota[0].used_s),
        (2, 0.0),
        "{:?}",
        shape(&a)
    );
    assert_eq!(predicted_wall(&p, &a), 60.0);
    p.quotas = vec![("gpu".into(), 30.0)];
    // Tests that only the gpu can run stay there, and the overage is reported.
    p.eligible = vec![vec![0]; 12];
    let (_, r) = Quota.plan_with_report(&p).unwrap();
    assert_eq!(r.quota[0].overage_s, 90.0);
    assert_eq!(
        r.notes,
        vec!["pool `gpu` is predicted to use 2m 0s of its 30s quota (1m 30s over)"]
    );
}

#[test]
fn same_input_same_plan() {
    let mut p = problem(
        &(0..200)
            .map(|i| f64::from(i % 17) + 0.5)
            .collect::<Vec<_>>(),
        7,
    );
    p.pools = vec![pool("a", 4, 1.0, 2.0), pool("b", 4, 0.8, 1.0)];
    p.dependencies = vec![(3, 9), (9, 150), (20, 21)];
    p.deadline = Some(500.0);
    p.max_batch = 9;
    for name in names() {
        let s = by_name(name).unwrap();
        assert_eq!(
            s.plan_with_report(&p).unwrap(),
            s.plan_with_report(&p).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn timing_keeps_long_uncertain_tests_off_the_slow_pool_when_the_wall_allows() {
    // The 100 s test sets the wall time. Plain LPT puts the 40 s test alone on the
    // slow pool (80 s there); next to the 45 s test on a fast runner it takes 85 s:
    // still under the wall, and a 30% surprise there costs half as much.
    let mut p = problem(&[100.0, 45.0, 40.0], 3);
    p.pools = vec![pool("fast", 2, 1.0, 0.0), pool("slow", 1, 0.5, 0.0)];
    let a = plan("timing", &p);
    let shard_of = |t: usize| a.shards.iter().find(|s| s.tests.contains(&t)).unwrap();
    assert_eq!(
        shard_of(0).tests,
        vec![0],
        "the wall-setting test stays alone"
    );
    assert_eq!(shard_of(2).pool, 0, "40 s test on a fast runner: {a:?}");
    assert_eq!(shard_of(1).pool, 0);
    assert!((predicted_wall(&p, &a) - 100.0).abs() < 1e-9);

    // The same plan with the 40 s test's history saying it never varies: nothing to
    // hedge against, but the predicted wall time is never raised either way.
    let mut steady = p.clone();
    for t in &mut steady.tests {
        t.spread = Some(0.0);
    }
    let b = plan("timing", &steady);
    assert!((predicted_wall(&steady, &b) - 100.0).abs() < 1e-9);
}
