//! The planning problem and its answer, as plain data shared by every part of the
//! planner: the inventory and durations fill a [`Problem`], strategies turn it into an
//! [`Assignment`], and the output writers turn that into a [`Plan`].

use serde::{Deserialize, Serialize};

pub const PLAN_SCHEMA: &str = "dtf.plan.v1";

/// One unit of planning: a test (by its dtf id, `SCOPE::NAME`) or a file, as the user
/// chose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanTest {
    /// The dtf test id (see `dtf_core::model::TestId`), or a file path when planning by file.
    pub id: String,
    /// Predicted seconds on a pool of speed 1.0, start-up cost excluded.
    pub duration: f64,
    /// The duration is a guess (no history), not a measurement.
    pub estimated: bool,
    /// The file the test lives in, when known (used for estimates and batching by file).
    pub file: Option<String>,
    /// The suite or class the test belongs to, when known.
    pub suite: Option<String>,
    /// Capabilities a runner must have (from `dtf.toml`).
    pub requires: Vec<Requirement>,
    /// Higher runs earlier; 0 is normal (from `dtf.toml`).
    pub priority: i32,
    /// The test type or team it belongs to, for fair-share and quotas.
    pub group: Option<String>,
    /// Measured speed of this test per pool, as (pool name, seconds); overrides
    /// `duration / pool.speed` for that pool.
    pub pool_durations: Vec<(String, f64)>,
    /// Run-to-run spread of the duration (standard deviation of its logarithm), when
    /// history has enough builds to tell; planning assumes a default otherwise.
    pub spread: Option<f64>,
}

impl PlanTest {
    pub fn new(id: impl Into<String>, duration: f64) -> PlanTest {
        PlanTest {
            id: id.into(),
            duration,
            estimated: false,
            file: None,
            suite: None,
            requires: Vec::new(),
            priority: 0,
            group: None,
            pool_durations: Vec::new(),
            spread: None,
        }
    }

    /// Predicted seconds on `pool`.
    pub fn duration_on(&self, pool: &Pool) -> f64 {
        self.pool_durations
            .iter()
            .find(|(p, _)| *p == pool.name)
            .map_or(
                self.duration / pool.speed.max(f64::MIN_POSITIVE),
                |(_, d)| *d,
            )
    }
}

/// A requirement a test puts on its runner: `key op value`, over the capability
/// taxonomy (`os`, `arch`, `cpu.cores`, `memory`, `gpu.vendor`, `gpu.model`,
/// `gpu.memory`, `cuda`, `browser.<name>`, `browser.<name>.features`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Requirement {
    pub key: String,
    pub op: ReqOp,
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReqOp {
    /// `key = value`, equal after normalising: versions as versions (`12.1` =
    /// `12.1.0`), sizes as numbers with units (`16GB` = `16384MB`), names without case.
    Eq,
    /// `key >= value`: versions and sizes compare as numbers with units.
    AtLeast,
    /// The capability is a list (browser features, labels) that contains `value`.
    Has,
    /// The capability is present at all (any value).
    Exists,
}

/// A pool of interchangeable runners, as `dtf.toml` declares it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub name: String,
    /// How the provider selects these runners: GitHub `runs-on` labels, GitLab `tags`,
    /// Jenkins agent label expression parts, Azure pool name and demands.
    pub labels: Vec<String>,
    /// How many runners (shards) this pool may take at most.
    pub runners: u32,
    /// Capabilities, flattened to `key = value` over the taxonomy; list values
    /// (browser features) are comma-separated.
    pub capabilities: Vec<(String, String)>,
    /// Relative speed: a test of duration `d` takes `d / speed` here. 1.0 is normal.
    pub speed: f64,
    /// Start-up seconds per invocation on this pool (checkout, build, framework start).
    pub startup: f64,
}

/// Everything a strategy needs.
#[derive(Clone, Debug, Default)]
pub struct Problem {
    pub tests: Vec<PlanTest>,
    pub pools: Vec<Pool>,
    /// Shards to make in total; strategies that choose it themselves (`deadline`)
    /// treat it as the most they may use.
    pub shards: u32,
    /// `(before, after)` pairs of indices into `tests`: `after` runs after `before`.
    pub dependencies: Vec<(usize, usize)>,
    /// Put dependent tests in later waves instead of in one shard.
    pub waves: bool,
    /// Wall-time target in seconds (`deadline` strategy).
    pub deadline: Option<f64>,
    /// For each test, the pools that can run it, best capability fit first; an empty
    /// list means every pool. Filled by capability matching before any strategy runs.
    pub eligible: Vec<Vec<usize>>,
    /// Shares of runners per group for `fair-share`: (group, weight).
    pub shares: Vec<(String, f64)>,
    /// Runner-seconds each pool or group may still use this build (`quota`):
    /// (pool or group name, seconds). Empty means no quota.
    pub quotas: Vec<(String, f64)>,
    /// Largest number of tests in one invocation (`batching`); 0 means no limit.
    pub max_batch: usize,
}

impl Problem {
    /// Pools that can run test `t`.
    pub fn pools_for(&self, t: usize) -> Vec<usize> {
        match self.eligible.get(t) {
            Some(list) if !list.is_empty() => list.clone(),
            _ => (0..self.pools.len()).collect(),
        }
    }
}

/// A strategy's answer: which tests go to which shard, in which order.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub shards: Vec<ShardAssignment>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ShardAssignment {
    /// Index into `Problem::pools`.
    pub pool: usize,
    /// 0 unless the plan runs in waves (dependencies across shards).
    pub wave: u32,
    /// Indices into `Problem::tests`, in the order they run.
    pub tests: Vec<usize>,
    /// Invocations: consecutive runs of `tests` started together (batching); empty
    /// means one invocation of all.
    pub batches: Vec<usize>,
}

/// `plan.json`: what every runner and provider front-end reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub schema: String,
    pub strategy: String,
    pub shards: Vec<PlannedShard>,
    pub totals: PlanTotals,
    /// max(total work / shards, longest test): no plan can finish sooner.
    pub lower_bound_s: f64,
    /// The slowest shard's predicted time (waves add up).
    pub predicted_wall_s: f64,
    /// predicted_wall / mean shard time - 1.
    pub imbalance: f64,
    /// Tests whose duration was estimated, not measured.
    pub estimated: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedShard {
    /// 1-based, as providers number parallel jobs.
    pub index: u32,
    pub pool: String,
    pub labels: Vec<String>,
    pub wave: u32,
    /// Test ids in the order they run.
    pub tests: Vec<String>,
    /// Sizes of consecutive invocations over `tests` (sums to `tests.len()`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<usize>,
    pub predicted_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanTotals {
    pub tests: usize,
    pub shards: usize,
    /// Seconds of test work, start-up excluded.
    pub work_s: f64,
    pub estimated: usize,
}
