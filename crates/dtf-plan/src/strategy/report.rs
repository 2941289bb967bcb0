//! What a plan predicts beyond its shards, for the output writer and `--explain`.
//!
//! [`PlanReport`] holds the predicted time of every shard, the wall time, the issue's
//! lower bound, the shards each pool got, the spread of the wall time under noisy
//! durations (and with a deadline, the risk of missing it), quota use, and notes
//! worth a warning in `plan.json`.
//!
//! **Risk model.** Real durations scatter around history. Each test's actual time is
//! modelled as its predicted time × e^(σZ), Z standard normal, σ = 0.3 (log-normal
//! noise whose median is the prediction: history gives medians). A shard's test time
//! is then a sum of log-normals, approximated by one log-normal with the same mean and
//! variance (Fenton–Wilkinson); start-up is fixed. The wall time (slowest shard of each
//! wave, added over waves) is sampled 2,000 times from those per-shard distributions
//! with a fixed seed, so the figures are deterministic. Because the slowest of many
//! shards is likelier than any one shard to run late, a plan whose prediction just
//! meets the deadline has a risk well above 50%: leave headroom.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{effective_pools, lower_bound, shard_time, wall_of};
use crate::model::{Assignment, Problem};

/// σ of the log-normal duration noise.
pub const NOISE_SIGMA: f64 = 0.3;
/// Monte Carlo samples of the wall time.
pub const SAMPLES: usize = 2_000;
const SEED: u64 = 0x00d7_f91a_2c0f_fee5;

/// Predictions that come with a plan. All times in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanReport {
    pub strategy: String,
    /// Predicted time of each shard, aligned with `Assignment::shards`.
    pub shard_times_s: Vec<f64>,
    /// The slowest shard of each wave, added over the waves.
    pub predicted_wall_s: f64,
    /// max(total work / shards, longest test) at speed 1 ([`super::lower_bound`]).
    pub lower_bound_s: f64,
    /// Shards per pool (the most any wave uses), in pool order.
    pub pool_shards: Vec<PoolShards>,
    /// The wall time under duration noise (see the module documentation).
    pub risk: WallRisk,
    /// The deadline of the problem, if any.
    pub deadline_s: Option<f64>,
    /// Probability that the wall time exceeds the deadline (same model as `risk`).
    pub risk_of_missing: Option<f64>,
    /// Runner-seconds per quota account; empty without quotas.
    pub quota: Vec<QuotaUse>,
    /// Things the user should know (shards each group got, quota overage, ...).
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolShards {
    pub pool: String,
    pub shards: u32,
}

/// The simulated wall time under noisy durations.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WallRisk {
    pub sigma: f64,
    pub samples: usize,
    /// Median simulated wall time.
    pub p50_s: f64,
    /// 90th percentile: the wall time a build exceeds one time in ten.
    pub p90_s: f64,
    /// Share of samples above the deadline, when there is one.
    pub miss: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaKind {
    Pool,
    Group,
}

/// Runner-seconds one quota account uses in a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuotaUse {
    pub name: String,
    pub kind: QuotaKind,
    pub quota_s: f64,
    /// A pool: its shards' predicted times (start-up included). A group: its tests'
    /// predicted times on the pools they were given.
    pub used_s: f64,
    /// `used - quota` when positive, else 0: what the build borrows or overruns.
    pub overage_s: f64,
}

impl PlanReport {
    /// The report of any assignment of `p`.
    pub fn measure(strategy: &str, p: &Problem, a: &Assignment) -> PlanReport {
        let pools = effective_pools(p);
        let times: Vec<f64> = a.shards.iter().map(|s| shard_time(p, &pools, s)).collect();
        let mut per_wave: BTreeMap<(u32, usize), u32> = BTreeMap::new();
        for s in &a.shards {
            *per_wave.entry((s.wave, s.pool)).or_default() += 1;
        }
        let pool_shards = pools
            .iter()
            .enumerate()
            .map(|(i, pool)| PoolShards {
                pool: pool.name.clone(),
                shards: per_wave
                    .iter()
                    .filter(|((_, p), _)| *p == i)
                    .map(|(_, &c)| c)
                    .max()
                    .unwrap_or(0),
            })
            .collect();
        let risk = simulate_wall(p, a, p.deadline);
        PlanReport {
            strategy: strategy.to_string(),
            predicted_wall_s: wall_of(a, &times),
            shard_times_s: times,
            lower_bound_s: lower_bound(p),
            pool_shards,
            deadline_s: p.deadline,
            risk_of_missing: risk.miss,
            risk,
            quota: quota_use(p, a),
            notes: Vec::new(),
        }
    }
}

/// Runner-seconds per entry of `p.quotas`: a name that is a pool's is a pool quota,
/// any other name a group's.
pub fn quota_use(p: &Problem, a: &Assignment) -> Vec<QuotaUse> {
    let pools = effective_pools(p);
    p.quotas
        .iter()
        .map(|(name, quota)| {
            let pool = pools.iter().position(|pool| pool.name == *name);
            let used: f64 = match pool {
                Some(i) => a
                    .shards
                    .iter()
                    .filter(|s| s.pool == i)
                    .map(|s| shard_time(p, &pools, s))
                    .sum(),
                None => a
                    .shards
                    .iter()
                    .flat_map(|s| s.tests.iter().map(move |&t| (s.pool, t)))
                    .filter(|&(_, t)| p.tests[t].group.as_deref() == Some(name.as_str()))
                    .map(|(pool, t)| p.tests[t].duration_on(&pools[pool]))
                    .sum(),
            };
            QuotaUse {
                name: name.clone(),
                kind: if pool.is_some() {
                    QuotaKind::Pool
                } else {
                    QuotaKind::Group
                },
                quota_s: *quota,
                used_s: used,
                overage_s: (used - quota).max(0.0),
            }
        })
        .collect()
}

/// Samples the wall time of `a` under log-normal duration noise (see the module
/// documentation); `deadline` adds the share of samples that miss it.
pub fn simulate_wall(p: &Problem, a: &Assignment, deadline: Option<f64>) -> WallRisk {
    let pools = effective_pools(p);
    let s2 = NOISE_SIGMA * NOISE_SIGMA;
    let shards: Vec<ShardNoise> = a
        .shards
        .iter()
        .map(|s| {
            let Some(pool) = pools.get(s.pool) else {
                return ShardNoise {
                    wave: s.wave,
                    fixed: 0.0,
                    dist: None,
                };
            };
            let (sum, sum_sq) = s
                .tests
                .iter()
                .map(|&t| p.tests[t].duration_on(pool))
                .fold((0.0, 0.0), |(a, b), d| (a + d, b + d * d));
            let fixed = pool.startup * super::invocations(s) as f64;
            if sum <= 0.0 {
                return ShardNoise {
                    wave: s.wave,
                    fixed,
                    dist: None,
                };
            }
            let mean = sum * (s2 / 2.0).exp();
            let var = sum_sq * s2.exp() * s2.exp_m1();
            let sigma2 = (var / (mean * mean)).ln_1p();
            ShardNoise {
                wave: s.wave,
                fixed,
                dist: Some((mean.ln() - sigma2 / 2.0, sigma2.sqrt())),
            }
        })
        .collect();
    let mut rng = SplitMix(SEED);
    let mut walls = Vec::with_capacity(SAMPLES);
    let mut slowest: BTreeMap<u32, f64> = BTreeMap::new();
    for _ in 0..SAMPLES {
        slowest.clear();
        for &ShardNoise { wave, fixed, dist } in &shards {
            let t = fixed + dist.map_or(0.0, |(mu, sigma)| (mu + sigma * rng.normal()).exp());
            let e = slowest.entry(wave).or_insert(0.0);
            *e = e.max(t);
        }
        walls.push(slowest.values().sum::<f64>());
    }
    walls.sort_unstable_by(f64::total_cmp);
    let quantile = |q: f64| {
        let i = ((walls.len() as f64 - 1.0) * q).round() as usize;
        walls.get(i).copied().unwrap_or(0.0)
    };
    WallRisk {
        sigma: NOISE_SIGMA,
        samples: SAMPLES,
        p50_s: quantile(0.5),
        p90_s: quantile(0.9),
        miss: deadline
            .map(|d| walls.iter().filter(|&&w| w > d).count() as f64 / walls.len() as f64),
    }
}

/// One shard in the simulation: its wave, fixed start-up seconds, and the log-normal
/// (mu, sigma) of its test time (none without test work).
#[derive(Clone, Copy)]
struct ShardNoise {
    wave: u32,
    fixed: f64,
    dist: Option<(f64, f64)>,
}

/// A small, fixed-seed generator: the risk figures must be the same on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller; one of the pair is enough here).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{PlanTest, ShardAssignment};

    fn problem(durations: &[f64]) -> Problem {
        Problem {
            tests: durations
                .iter()
                .enumerate()
                .map(|(i, &d)| PlanTest::new(format!("s::t{i}"), d))
                .collect(),
            shards: 2,
            ..Problem::default()
        }
    }

    fn shard(wave: u32, tests: Vec<usize>) -> ShardAssignment {
        ShardAssignment {
            pool: 0,
            wave,
            tests,
            batches: Vec::new(),
        }
    }

    #[test]
    fn risk_grows_as_the_deadline_tightens() {
        let p = problem(&[60.0; 20]);
        let a = Assignment {
            shards: vec![shard(0, (0..10).collect()), shard(0, (10..20).collect())],
        };
        let miss = |d: f64| simulate_wall(&p, &a, Some(d)).miss.unwrap();
        // Prediction 600 s a shard. Each shard's sum has mean 628 s and a spread of
        // about 61 s (10 tests, sigma 0.3), so P(one shard > 700 s) is about 12%.
        assert!(miss(540.0) > 0.99, "{}", miss(540.0));
        assert!(
            miss(600.0) > 0.5,
            "two shards: the slower one is late more than half the time"
        );
        assert!((0.17..0.28).contains(&miss(700.0)), "{}", miss(700.0));
        assert!(miss(850.0) < 0.01, "{}", miss(850.0));
        let r = simulate_wall(&p, &a, None);
        assert!(
            r.p50_s > 600.0 && r.p90_s > r.p50_s && r.p90_s < 760.0,
            "{r:?}"
        );
        assert_eq!(r, simulate_wall(&p, &a, None), "deterministic");
    }

    #[test]
    fn waves_add_up_in_the_report() {
        let p = problem(&[10.0, 20.0, 5.0]);
        let a = Assignment {
            shards: vec![shard(0, vec![0]), shard(0, vec![1]), shard(1, vec![2])],
        };
        let r = PlanReport::measure("timing", &p, &a);
        assert_eq!(r.predicted_wall_s, 25.0);
        assert_eq!(r.shard_times_s, vec![10.0, 20.0, 5.0]);
        assert_eq!(r.lower_bound_s, 20.0);
        assert_eq!(
            r.pool_shards,
            vec![PoolShards {
                pool: "default".into(),
                shards: 2
            }]
        );
    }
}
