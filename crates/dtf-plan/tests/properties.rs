//! Properties every strategy keeps on random problems: random durations, pools with
//! random runners, speeds and start-up, capabilities reduced to random eligibility
//! lists, random acyclic dependencies, with and without waves and batches.
//!
//! - every test lands in exactly one shard;
//! - dependencies hold: same shard and earlier, or an earlier wave;
//! - each test runs on a pool it is eligible for;
//! - no wave gives a pool more shards than its runners;
//! - batches cover each shard's tests, within `max_batch`;
//! - the same input gives the same plan;
//! - a plan that fails says why with a planning error, never a panic.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use dtf_plan::deps::{DepError, DepGraph, execution_order};
use dtf_plan::model::{Assignment, PlanTest, Pool, Problem};
use dtf_plan::strategy::{PlanError, by_name, effective_pools, names, predicted_wall};
use proptest::prelude::*;

/// The raw material of a random problem.
#[derive(Clone, Debug)]
struct Raw {
    durations: Vec<f64>,
    /// (runners, speed, startup) per pool.
    pools: Vec<(u32, f64, f64)>,
    /// Per test: None for every pool, else a bit mask of pools.
    eligible: Vec<Option<u8>>,
    /// Edges between positions of `rank` (lower rank first), so the graph is acyclic.
    edges: Vec<(usize, usize)>,
    rank: Vec<usize>,
    shards: u32,
    waves: bool,
    max_batch: usize,
    files: Vec<u8>,
    priority: Vec<i8>,
    groups: Vec<u8>,
    deadline: f64,
    quota: f64,
}

fn raw() -> impl Strategy<Value = Raw> {
    (0usize..40, 0usize..4).prop_flat_map(|(n, npools)| {
        let tests = (
            prop::collection::vec(prop_oneof![Just(0.0), 0.0f64..100.0], n),
            prop::collection::vec(
                prop_oneof![3 => Just(None), 1 => (1u8..16).prop_map(Some)],
                n,
            ),
            prop::collection::vec((0usize..n.max(1), 0usize..n.max(1)), 0..n.min(12) + 1),
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            prop::collection::vec(0u8..5, n),
            prop::collection::vec(-2i8..3, n),
            prop::collection::vec(0u8..3, n),
        );
        let setup = (
            prop::collection::vec((0u32..6, 0.5f64..2.0, 0.0f64..10.0), npools),
            1u32..8,
            any::<bool>(),
            0usize..5,
            1.0f64..2000.0,
            0.0f64..500.0,
        );
        (tests, setup).prop_map(
            move |(
                (durations, eligible, pairs, rank, files, priority, groups),
                (pools, shards, waves, max_batch, deadline, quota),
            )| Raw {
                edges: pairs.into_iter().filter(|(a, b)| a < b && *b < n).collect(),
                durations,
                pools,
                eligible,
                rank,
                shards,
                waves,
                max_batch,
                files,
                priority,
                groups,
                deadline,
                quota,
            },
        )
    })
}

fn build(r: &Raw) -> Problem {
    let pools: Vec<Pool> = r
        .pools
        .iter()
        .enumerate()
        .map(|(i, &(runners, speed, startup))| Pool {
            name: format!("pool{i}"),
            labels: vec![format!("label{i}")],
            runners,
            capabilities: Vec::new(),
            speed,
            startup,
        })
        .collect();
    let npools = pools.len();
    let tests = r
        .durations
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let mut t = PlanTest::new(format!("suite::t{i}"), d);
            t.file = (r.files[i] > 0).then(|| format!("f{}.rs", r.files[i]));
            t.priority = i32::from(r.priority[i]);
            t.group = Some(["unit", "e2e", "ui"][r.groups[i] as usize].to_string());
            if i % 5 == 0 && npools > 0 {
                t.pool_durations = vec![("pool0".to_string(), d * 0.5)];
            }
            t
        })
        .collect();
    let eligible = r
        .eligible
        .iter()
        .map(|e| match (e, npools) {
            (Some(mask), n) if n > 0 => (0..n).filter(|p| mask & (1 << p) != 0).collect(),
            _ => Vec::new(),
        })
        .collect();
    Problem {
        tests,
        pools,
        shards: r.shards,
        dependencies: r
            .edges
            .iter()
            .map(|&(a, b)| (r.rank[a], r.rank[b]))
            .collect(),
        waves: r.waves,
        deadline: Some(r.deadline),
        eligible,
        shares: vec![("e2e".to_string(), 2.0), ("ui".to_string(), 0.5)],
        quotas: if npools > 0 {
            vec![("pool0".to_string(), r.quota), ("e2e".to_string(), r.quota)]
        } else {
            Vec::new()
        },
        max_batch: r.max_batch,
    }
}

/// Checks every promised property of `a` for `p`; returns a description of the first
/// broken one.
fn check(p: &Problem, a: &Assignment) -> Result<(), String> {
    let pools = effective_pools(p);
    let mut seen = vec![0usize; p.tests.len()];
    let mut at: Vec<(usize, usize)> = vec![(usize::MAX, 0); p.tests.len()];
    for (k, s) in a.shards.iter().enumerate() {
        if s.pool >= pools.len() {
            return Err(format!("shard {k} on unknown pool {}", s.pool));
        }
        for (pos, &t) in s.tests.iter().enumerate() {
            let Some(count) = seen.get_mut(t) else {
                return Err(format!("unknown test {t}"));
            };
            *count += 1;
            at[t] = (k, pos);
            if !p.pools_for(t).contains(&s.pool) && !p.pools.is_empty() {
                return Err(format!(
                    "test {t} on pool {} it is not eligible for",
                    s.pool
                ));
            }
        }
        if !s.batches.is_empty() || (p.max_batch > 0 && !s.tests.is_empty()) {
            if s.batches.iter().sum::<usize>() != s.tests.len() {
                return Err(format!(
                    "shard {k}: batches {:?} for {} tests",
                    s.batches,
                    s.tests.len()
                ));
            }
            if s.batches
                .iter()
                .any(|&b| b == 0 || (p.max_batch > 0 && b > p.max_batch))
            {
                return Err(format!(
                    "shard {k}: batches {:?} over {}",
                    s.batches, p.max_batch
                ));
            }
        }
    }
    if let Some(t) = seen.iter().position(|&c| c != 1) {
        return Err(format!("test {t} is in {} shards", seen[t]));
    }
    for &(before, after) in &p.dependencies {
        let ((sb, pb), (sa, pa)) = (at[before], at[after]);
        let ok = if sb == sa {
            pb < pa
        } else {
            p.waves && a.shards[sb].wave < a.shards[sa].wave
        };
        if !ok {
            return Err(format!(
                "{after} must run after {before}: {:?} / {:?}",
                at[before], at[after]
            ));
        }
    }
    let mut per_wave: BTreeMap<(u32, usize), u32> = BTreeMap::new();
    for s in &a.shards {
        *per_wave.entry((s.wave, s.pool)).or_default() += 1;
    }
    for ((wave, pool), count) in per_wave {
        if count > pools[pool].runners {
            return Err(format!(
                "wave {wave}: {count} shards on pool {pool} with {} runners",
                pools[pool].runners
            ));
        }
    }
    Ok(())
}

/// Errors a random problem may legitimately hit.
fn expected_error(e: &PlanError) -> bool {
    matches!(
        e,
        PlanError::NoRunners
            | PlanError::NotEnoughRunners { .. }
            | PlanError::NoEligiblePool { .. }
            | PlanError::ChainWithoutPool { .. }
            | PlanError::TooFewShards { .. }
            | PlanError::TooFewShardsForGroups { .. }
            | PlanError::DeadlineInfeasible { .. }
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn every_strategy_keeps_its_promises(r in raw()) {
        let p = build(&r);
        for name in names() {
            let strategy = by_name(name).unwrap();
            match strategy.plan(&p) {
                Ok(a) => {
                    if let Err(broken) = check(&p, &a) {
                        return Err(TestCaseError::fail(format!("{name}: {broken}\n{a:?}")));
                    }
                    prop_assert_eq!(&a, &strategy.plan(&p).unwrap(), "{} is not deterministic", name);
                    if *name == "deadline" {
                        prop_assert!(predicted_wall(&p, &a) <= r.deadline);
                    }
                }
                Err(e) => {
                    prop_assert!(expected_error(&e), "{}: unexpected error {}", name, e);
                    prop_assert_eq!(Err(e), strategy.plan(&p), "{} fails differently", name);
                }
            }
        }
    }

    #[test]
    fn generous_runners_always_plan(r in raw()) {
        // Every pool has room for every shard and every test may run anywhere: only the
        // deadline may fail.
        let mut r = r;
        for pool in &mut r.pools {
            pool.0 = r.shards;
        }
        r.eligible.iter_mut().for_each(|e| *e = None);
        let p = build(&r);
        for name in names() {
            match by_name(name).unwrap().plan(&p) {
                Ok(a) => prop_assert!(check(&p, &a).is_ok(), "{}: {:?}", name, check(&p, &a)),
                Err(e) => prop_assert!(
                    matches!(e, PlanError::DeadlineInfeasible { .. })
                        || (*name == "fair-share" && matches!(e, PlanError::TooFewShardsForGroups { .. })),
                    "{}: {}", name, e
                ),
            }
        }
    }

    #[test]
    fn execution_order_is_a_topological_permutation(
        n in 1usize..30,
        pairs in prop::collection::vec((0usize..30, 0usize..30), 0..40),
        shard in prop::collection::vec(0usize..30, 0..30),
    ) {
        let deps: Vec<(usize, usize)> = pairs.into_iter().filter(|(a, b)| a < b && *b < n).collect();
        let mut shard: Vec<usize> = shard.into_iter().filter(|&t| t < n).collect();
        shard.sort_unstable();
        shard.dedup();
        shard.reverse();
        let tests: Vec<PlanTest> = (0..n).map(|i| PlanTest::new(format!("s::t{i}"), 1.0)).collect();
        let graph = DepGraph::new(&tests, &deps).unwrap();
        let order = execution_order(&shard, &deps);
        prop_assert_eq!(&order, &graph.execution_order(&shard));
        let mut sorted = order.clone();
        sorted.sort_unstable();
        let mut expected = shard.clone();
        expected.sort_unstable();
        prop_assert_eq!(sorted, expected);
        let pos = |t: usize| order.iter().position(|&u| u == t);
        for &(b, a) in &deps {
            if let (Some(pb), Some(pa)) = (pos(b), pos(a)) {
                prop_assert!(pb < pa);
            }
        }
    }

    #[test]
    fn a_cycle_is_named_edge_by_edge(
        n in 2usize..25,
        pairs in prop::collection::vec((0usize..25, 0usize..25), 0..30),
        cycle_len in 2usize..6,
    ) {
        let mut deps: Vec<(usize, usize)> = pairs.into_iter().filter(|(a, b)| a != b && *a < n && *b < n).collect();
        let len = cycle_len.min(n);
        deps.extend((0..len).map(|i| (i, (i + 1) % len)));
        let tests: Vec<PlanTest> = (0..n).map(|i| PlanTest::new(format!("t{i}"), 1.0)).collect();
        match DepGraph::new(&tests, &deps) {
            Err(DepError::Cycle { cycle }) => {
                let index = |id: &str| id[1..].parse::<usize>().unwrap();
                for k in 0..cycle.len() {
                    let edge = (index(&cycle[k]), index(&cycle[(k + 1) % cycle.len()]));
                    prop_assert!(deps.contains(&edge), "{:?} is not a dependency", edge);
                }
                let mut distinct = cycle.clone();
                distinct.sort();
                distinct.dedup();
                prop_assert_eq!(distinct.len(), cycle.len());
            }
            other => prop_assert!(false, "expected a cycle, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn waves_rise_along_every_dependency(
        n in 1usize..40,
        pairs in prop::collection::vec((0usize..40, 0usize..40), 0..60),
    ) {
        let deps: Vec<(usize, usize)> = pairs.into_iter().filter(|(a, b)| a < b && *b < n).collect();
        let tests: Vec<PlanTest> = (0..n).map(|i| PlanTest::new(format!("t{i}"), 1.0)).collect();
        let graph = DepGraph::new(&tests, &deps).unwrap();
        let waves = graph.waves();
        for &(b, a) in &deps {
            prop_assert!(waves[b] < waves[a]);
        }
        // A test above wave 0 has a predecessor exactly one wave below (longest path).
        for t in 0..n {
            if waves[t] > 0 {
                prop_assert!(graph.predecessors(t).iter().any(|&u| waves[u] + 1 == waves[t]));
            }
        }
        let mut in_chains: Vec<usize> = graph.chains().concat();
        in_chains.sort_unstable();
        let linked: Vec<usize> = (0..n).filter(|&t| graph.is_linked(t)).collect();
        prop_assert_eq!(in_chains, linked);
    }
}

/// Many real tests report a time of 0: they must spread over the shards, not pile up
/// on the first one (ties in load go to the shard with the fewest tests).
#[test]
fn tests_of_zero_seconds_spread_evenly() {
    use dtf_plan::model::{PlanTest, Problem};
    let mut tests: Vec<PlanTest> = (0..100)
        .map(|i| PlanTest::new(format!("m::zero{i}"), 0.0))
        .collect();
    tests.extend((0..8).map(|i| PlanTest::new(format!("m::slow{i}"), 10.0)));
    let problem = Problem {
        tests,
        shards: 4,
        ..Problem::default()
    };
    for name in ["timing", "priority", "batching"] {
        let a = dtf_plan::strategy::by_name(name)
            .expect("known")
            .plan(&problem)
            .expect("plans");
        let counts: Vec<usize> = a.shards.iter().map(|s| s.tests.len()).collect();
        assert_eq!(counts, vec![27; 4], "{name}: {counts:?}");
    }
}

/// A test without history could be far longer than its estimate: it goes to the
/// fastest pool that may run it, while measured tests use every pool.
#[test]
fn tests_without_history_go_to_the_fastest_pool() {
    use dtf_plan::model::{PlanTest, Pool, Problem};
    let pool = |name: &str, speed: f64| Pool {
        name: name.into(),
        labels: vec![name.into()],
        runners: 2,
        capabilities: Vec::new(),
        speed,
        startup: 0.0,
    };
    let mut tests: Vec<PlanTest> = (0..40)
        .map(|i| PlanTest::new(format!("m::known{i}"), 5.0))
        .collect();
    tests.extend((0..10).map(|i| PlanTest {
        estimated: true,
        ..PlanTest::new(format!("m::new{i}"), 1.0)
    }));
    let problem = Problem {
        tests,
        pools: vec![pool("slow", 0.7), pool("fast", 1.0)],
        shards: 4,
        ..Problem::default()
    };
    let a = dtf_plan::strategy::by_name("timing")
        .expect("known")
        .plan(&problem)
        .expect("plans");
    for s in &a.shards {
        let has_new = s.tests.iter().any(|&t| problem.tests[t].estimated);
        assert!(
            !has_new || s.pool == 1,
            "a new test on pool {}",
            problem.pools[s.pool].name
        );
    }
    assert!(
        a.shards.iter().any(|s| s.pool == 0 && !s.tests.is_empty()),
        "measured tests use the slow pool too"
    );
}
