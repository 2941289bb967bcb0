//! Planning strategies: how a [`Problem`] becomes an [`Assignment`], behind one trait,
//! chosen by name.
//!
//! | name          | what it does                                                        | use it when |
//! |---------------|---------------------------------------------------------------------|-------------|
//! | `timing`      | minimises the slowest shard: longest first, then local improvement  | the default: whenever durations are known |
//! | `round-robin` | test *i* to shard *i* mod *n*                                       | no history at all, or as a baseline |
//! | `priority`    | `timing`'s balance, critical tests first in every shard             | fast feedback on the tests that fail most or matter most |
//! | `fair-share`  | splits the shards between groups (test types, teams) by weight      | several teams or suites share one runner budget |
//! | `deadline`    | the fewest shards (per pool) whose predicted wall time meets a deadline | runners cost money and "done in 10 minutes" is enough |
//! | `batching`    | `timing` with whole files as units and invocations cut at file edges | start-up per file or per invocation is expensive (jest, vitest, pytest fixtures) |
//! | `quota`       | `timing`, then keeps each pool within its runner-seconds quota      | pools are metered (GPU minutes, macOS minutes) |
//!
//! **Shared rules.** Every strategy puts each test in exactly one shard, only on a pool
//! the test is [eligible](Problem::eligible) for, gives no pool more shards than its
//! [`runners`](Pool::runners), and keeps dependencies (see [`crate::deps`]): without
//! waves a chain of dependent tests is planned as one unit, in one shard, in
//! topological order; with waves, later waves run after earlier ones finished (each
//! wave may use every runner again). Same input, same plan: no hash order, ties go to
//! the lower index.
//!
//! **Prediction.** A shard's time is the sum of its tests' [`duration_on`] its pool, plus
//! the pool's start-up cost per invocation ([`ShardAssignment::batches`]; one when
//! `batches` is empty, none for an empty shard); see [`shard_time`]. The wall time adds
//! up the slowest shard of each wave ([`predicted_wall`]).
//!
//! **Batching** is both an option and a strategy: whenever [`Problem::max_batch`] is set,
//! every strategy cuts each shard into invocations of at most that many tests (the
//! fewest possible, cut at file boundaries where the count allows), fills
//! [`ShardAssignment::batches`] and balances with the start-up of each invocation
//! counted. The `batching` strategy also keeps whole files together.
//!
//! **Without pools** in the problem, there is one default pool ([`default_pool`]):
//! shards then refer to pool index 0, which the output writer resolves with
//! [`effective_pools`].
//!
//! [`duration_on`]: crate::model::PlanTest::duration_on

pub mod batching;
pub mod deadline;
mod engine;
pub mod fair_share;
pub mod priority;
pub mod quota;
pub mod report;
pub mod round_robin;
pub mod timing;

#[cfg(test)]
mod behaviour;
#[cfg(test)]
mod quality;

use thiserror::Error;

pub use self::batching::Batching;
pub use self::deadline::Deadline;
pub use self::fair_share::FairShare;
pub use self::priority::Priority;
pub use self::quota::Quota;
pub use self::report::{PlanReport, PoolShards, QuotaKind, QuotaUse, WallRisk, simulate_wall};
pub use self::round_robin::RoundRobin;
pub use self::timing::Timing;
use crate::deps::DepError;
use crate::model::{Assignment, Pool, Problem, ShardAssignment};

/// One way of splitting a suite into shards.
pub trait Strategy {
    /// The name users pass to `--strategy`.
    fn name(&self) -> &'static str;

    /// Assigns every test of `p` to a shard, in run order.
    fn plan(&self, p: &Problem) -> Result<Assignment, PlanError>;

    /// [`plan`](Strategy::plan), plus what the output writer shows next to it: predicted
    /// times, the risk of missing a deadline, quota use, notes. Strategies that learn
    /// more while planning (`deadline`, `quota`, `fair-share`) add it here.
    fn plan_with_report(&self, p: &Problem) -> Result<(Assignment, PlanReport), PlanError> {
        let assignment = self.plan(p)?;
        let report = PlanReport::measure(self.name(), p, &assignment);
        Ok((assignment, report))
    }
}

/// The strategy used when none is named.
pub const DEFAULT: &str = "timing";

const NAMES: [&str; 7] = [
    "timing",
    "round-robin",
    "priority",
    "fair-share",
    "deadline",
    "batching",
    "quota",
];

/// Every strategy name, the default first.
pub fn names() -> &'static [&'static str] {
    &NAMES
}

/// One line on when to use the strategy `name`, for `--help` and `--explain`.
pub fn describe(name: &str) -> Option<&'static str> {
    Some(match name {
        "timing" => "minimise the slowest shard from known durations (the default)",
        "round-robin" => "test i to shard i mod n; for suites without any history",
        "priority" => "balance like timing, run critical tests first in every shard",
        "fair-share" => "split the shards between test groups or teams by weight",
        "deadline" => "use the fewest shards whose predicted wall time meets --deadline",
        "batching" => "keep files together and amortise start-up over invocations",
        "quota" => "balance like timing, keep each pool within its runner-seconds quota",
        _ => return None,
    })
}

/// The strategy called `name` (`_` may stand for `-`, case does not matter).
pub fn by_name(name: &str) -> Result<Box<dyn Strategy>, PlanError> {
    let normal = name.trim().to_ascii_lowercase().replace('_', "-");
    Ok(match normal.as_str() {
        "timing" => Box::new(Timing),
        "round-robin" => Box::new(RoundRobin),
        "priority" => Box::new(Priority),
        "fair-share" => Box::new(FairShare),
        "deadline" => Box::new(Deadline),
        "batching" => Box::new(Batching),
        "quota" => Box::new(Quota),
        _ => {
            return Err(PlanError::UnknownStrategy {
                name: name.to_string(),
            });
        }
    })
}

/// Why a problem cannot be planned. Messages read after "cannot plan: ".
#[derive(Clone, Debug, PartialEq, Error)]
pub enum PlanError {
    #[error("the number of shards must be at least 1")]
    ZeroShards,
    #[error("no pool has a runner (every pool declares runners = 0)")]
    NoRunners,
    #[error("asked for {shards} shards, but the pools have only {runners} runners in total")]
    NotEnoughRunners { shards: u32, runners: u64 },
    #[error("test `{test}` can run on no pool with free runners (it is eligible for: {})", list(.pools))]
    NoEligiblePool { test: String, pools: Vec<String> },
    #[error(
        "tests {} depend on each other, so they share a shard, but no pool can run all of them; \
         plan with waves or relax their requirements",
        quoted(.tests)
    )]
    ChainWithoutPool { tests: Vec<String> },
    #[error(
        "every test needs a shard on a pool it can run on: that takes at least {needed} shards \
         (on {}), but only {shards} were asked for",
        list(.pools)
    )]
    TooFewShards {
        shards: u32,
        needed: u32,
        pools: Vec<String>,
    },
    #[error(transparent)]
    Dependency(#[from] DepError),
    #[error("test `{test}` has duration {value}; durations must be finite and at least 0 seconds")]
    InvalidDuration { test: String, value: f64 },
    #[error("pool `{pool}` has {field} = {value}; it must be {expected}")]
    InvalidPool {
        pool: String,
        field: &'static str,
        value: f64,
        expected: &'static str,
    },
    #[error("test `{test}` is eligible for pool index {index}, but there are only {count} pools")]
    UnknownPoolIndex {
        test: String,
        index: usize,
        count: usize,
    },
    #[error("unknown strategy `{name}` (known: {})", NAMES.join(", "))]
    UnknownStrategy { name: String },
    #[error("the deadline strategy needs a deadline (`--deadline 10m`)")]
    MissingDeadline,
    #[error("the deadline must be a positive number of seconds, got {value}")]
    InvalidDeadline { value: f64 },
    #[error(
        "the deadline of {} cannot be met with at most {shards} shards: \
         the smallest feasible deadline is {} with {shards} shards",
        format_duration(*.deadline_s),
        format_duration(*.smallest_s)
    )]
    DeadlineInfeasible {
        deadline_s: f64,
        smallest_s: f64,
        shards: u32,
    },
    #[error(
        "fair-share gives each of the {groups} test groups a shard, but only {shards} shards were asked for"
    )]
    TooFewShardsForGroups { groups: usize, shards: u32 },
    #[error("the share of group `{group}` is {weight}; shares must be finite and above 0")]
    InvalidShare { group: String, weight: f64 },
    #[error("the quota of `{name}` is {value}; quotas must be finite and at least 0 seconds")]
    InvalidQuota { name: String, value: f64 },
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seconds as people read them: `45s`, `7m 12s`, `1h 2m 3s` (rounded up to the second,
/// so a deadline printed this way is never below the value).
pub fn format_duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "forever".to_string();
    }
    let total = secs.max(0.0).ceil() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// The pool used when the problem declares none: every shard may go there.
pub fn default_pool(shards: u32) -> Pool {
    Pool {
        name: "default".to_string(),
        labels: Vec::new(),
        runners: shards,
        capabilities: Vec::new(),
        speed: 1.0,
        startup: 0.0,
    }
}

/// The pools `ShardAssignment::pool` indexes: `p.pools`, or the [`default_pool`] when
/// there are none.
pub fn effective_pools(p: &Problem) -> Vec<Pool> {
    if p.pools.is_empty() {
        vec![default_pool(p.shards)]
    } else {
        p.pools.clone()
    }
}

/// Invocations a shard makes: its batches, at least one unless it is empty.
pub fn invocations(shard: &ShardAssignment) -> usize {
    if shard.tests.is_empty() {
        0
    } else {
        shard.batches.len().max(1)
    }
}

/// Predicted seconds of one shard: its tests on its pool, plus start-up per invocation.
/// `pools` is [`effective_pools`].
pub fn shard_time(p: &Problem, pools: &[Pool], shard: &ShardAssignment) -> f64 {
    let Some(pool) = pools.get(shard.pool) else {
        return 0.0;
    };
    let work: f64 = shard
        .tests
        .iter()
        .filter_map(|&t| p.tests.get(t))
        .map(|t| t.duration_on(pool))
        .sum();
    work + pool.startup * invocations(shard) as f64
}

/// Predicted seconds of every shard, in assignment order.
pub fn shard_times(p: &Problem, a: &Assignment) -> Vec<f64> {
    let pools = effective_pools(p);
    a.shards.iter().map(|s| shard_time(p, &pools, s)).collect()
}

/// Predicted wall time: the slowest shard of each wave, added up over the waves.
pub fn predicted_wall(p: &Problem, a: &Assignment) -> f64 {
    wall_of(a, &shard_times(p, a))
}

/// The wall time of shard times `times` (aligned with `a.shards`).
fn wall_of(a: &Assignment, times: &[f64]) -> f64 {
    let mut slowest: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
    for (shard, &t) in a.shards.iter().zip(times) {
        let e = slowest.entry(shard.wave).or_insert(0.0);
        *e = e.max(t);
    }
    slowest.values().sum()
}

/// The lower bound: max(total work / shards, longest test), in seconds at
/// speed 1, start-up excluded. No plan on identical runners finishes sooner.
pub fn lower_bound(p: &Problem) -> f64 {
    let total: f64 = p.tests.iter().map(|t| t.duration).sum();
    let longest = p.tests.iter().map(|t| t.duration).fold(0.0, f64::max);
    (total / f64::from(p.shards.max(1))).max(longest)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::PlanTest;

    #[test]
    fn names_resolve_and_unknown_names_list_the_known_ones() {
        for name in names() {
            assert_eq!(by_name(name).unwrap().name(), *name);
            assert!(describe(name).is_some(), "{name} has no description");
        }
        assert_eq!(by_name("Round_Robin").unwrap().name(), "round-robin");
        let e = by_name("fastest").err().unwrap().to_string();
        assert_eq!(
            e,
            "unknown strategy `fastest` (known: timing, round-robin, priority, fair-share, deadline, batching, quota)"
        );
        assert_eq!(names()[0], DEFAULT);
    }

    #[test]
    fn durations_read_like_people_write_them() {
        for (secs, text) in [
            (0.0, "0s"),
            (44.2, "45s"),
            (60.0, "1m 0s"),
            (431.1, "7m 12s"),
            (3723.0, "1h 2m 3s"),
        ] {
            assert_eq!(format_duration(secs), text);
        }
    }

    #[test]
    fn shard_time_counts_start_up_per_invocation() {
        let mut p = Problem {
            tests: vec![PlanTest::new("s::a", 10.0), PlanTest::new("s::b", 20.0)],
            shards: 1,
            ..Problem::default()
        };
        let mut pool = default_pool(1);
        pool.speed = 2.0;
        pool.startup = 3.0;
        p.pools = vec![pool];
        let shard = |tests: Vec<usize>, batches: Vec<usize>| ShardAssignment {
            pool: 0,
            wave: 0,
            tests,
            batches,
        };
        let pools = effective_pools(&p);
        assert_eq!(shard_time(&p, &pools, &shard(vec![0, 1], vec![])), 18.0);
        assert_eq!(shard_time(&p, &pools, &shard(vec![0, 1], vec![1, 1])), 21.0);
        assert_eq!(shard_time(&p, &pools, &shard(vec![], vec![])), 0.0);
    }
}
