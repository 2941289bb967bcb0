//! `fair-share`: shares of the shards between test groups (test types or teams).
//!
//! [`Problem::shares`] gives each group a weight; a test's group is
//! [`PlanTest::group`](crate::model::PlanTest::group) (a dependency chain belongs to
//! the group of its lowest-indexed test; tests without a group form the group `""`),
//! and a group the shares do not list weighs 1. Every group with tests gets at least
//! one shard, the rest go out in proportion to weight (largest deficit first, ties by
//! name), never more shards than a group has units to fill. Each group is then planned
//! with `timing` on its own shards; groups take runners from the pools in name order.
//!
//! Use it when several teams or suites share one runner budget and a large suite must
//! not crowd out a small, urgent one: each group's wall time depends only on its own
//! work and its share.

use std::collections::BTreeMap;

use super::engine::{Balance, Ctx, Order, Units};
use super::{PlanError, PlanReport, Strategy};
use crate::model::{Assignment, Problem};

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct FairShare;

impl Strategy for FairShare {
    fn name(&self) -> &'static str {
        "fair-share"
    }

    fn plan(&self, p: &Problem) -> Result<Assignment, PlanError> {
        Ok(self.plan_with_report(p)?.0)
    }

    fn plan_with_report(&self, p: &Problem) -> Result<(Assignment, PlanReport), PlanError> {
        let ctx = Ctx::new(p, Units::Tests)?;
        let mut weights: BTreeMap<&str, f64> = BTreeMap::new();
        for (group, weight) in &p.shares {
            if !(weight.is_finite() && *weight > 0.0) {
                return Err(PlanError::InvalidShare {
                    group: group.clone(),
                    weight: *weight,
                });
            }
            weights.insert(group, *weight);
        }
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, item) in ctx.items.iter().enumerate() {
            let group = p.tests[item.first].group.as_deref().unwrap_or("");
            groups.entry(group).or_default().push(i);
        }
        if groups.is_empty() {
            let waves = ctx.balance_waves(&[], p.shards, &ctx.runners(), Balance::Timing)?;
            let a = ctx.finish(waves, Order::Inventory);
            let report = PlanReport::measure(self.name(), p, &a);
            return Ok((a, report));
        }
        if (p.shards as usize) < groups.len() {
            return Err(PlanError::TooFewShardsForGroups {
                groups: groups.len(),
                shards: p.shards,
            });
        }
        let names: Vec<&str> = groups.keys().copied().collect();
        let weight: Vec<f64> = names
            .iter()
            .map(|g| weights.get(g).copied().unwrap_or(1.0))
            .collect();
        let caps: Vec<u32> = names
            .iter()
            .map(|g| u32::try_from(groups[g].len()).unwrap_or(u32::MAX).max(1))
            .collect();
        let alloc = allocate(p.shards, &weight, &caps);

        let mut runners = ctx.runners();
        let mut shards = Vec::new();
        let mut notes = Vec::new();
        for (k, group) in names.iter().enumerate() {
            let waves = ctx.balance_waves(&groups[group], alloc[k], &runners, Balance::Timing)?;
            let mut used = vec![0u32; runners.len()];
            for bins in &waves {
                let mut here = vec![0u32; runners.len()];
                for s in 0..bins.len() {
                    here[bins.pool[s]] += 1;
                }
                for (u, h) in used.iter_mut().zip(here) {
                    *u = (*u).max(h);
                }
            }
            for (r, u) in runners.iter_mut().zip(used) {
                *r -= u;
            }
            shards.extend(ctx.finish(waves, Order::Inventory).shards);
            let shown = if group.is_empty() {
                "(no group)"
            } else {
                group
            };
            notes.push(format!(
                "group {shown}: {} shards (weight {})",
                alloc[k], weight[k]
            ));
        }
        let total: u32 = alloc.iter().sum();
        if total < p.shards {
            notes.push(format!(
                "{total} of {} shards used: the groups have too few tests to fill more",
                p.shards
            ));
        }
        let a = Assignment { shards };
        let mut report = PlanReport::measure(self.name(), p, &a);
        report.notes = notes;
        Ok((a, report))
    }
}

/// Splits `n` shards by `weight`: one each, then each further shard to the group
/// furthest below its proportional share, never above `cap`.
fn allocate(n: u32, weight: &[f64], cap: &[u32]) -> Vec<u32> {
    let sum: f64 = weight.iter().sum();
    let mut alloc = vec![1u32; weight.len()];
    for _ in weight.len() as u32..n {
        let pick = (0..weight.len())
            .filter(|&g| alloc[g] < cap[g])
            .map(|g| (g, f64::from(n) * weight[g] / sum - f64::from(alloc[g])))
            .fold(
                None,
                |best: Option<(usize, f64)>, (g, deficit)| match best {
                    Some((_, d)) if d >= deficit => best,
                    _ => Some((g, deficit)),
                },
            );
        match pick {
            Some((g, _)) => alloc[g] += 1,
            None => break,
        }
    }
    alloc
}

#[cfg(test)]
mod tests {
    use super::allocate;

    /// Shards, weights, caps, expected allocation.
    type Case = (u32, &'static [f64], &'static [u32], &'static [u32]);

    #[test]
    fn shards_follow_weights() {
        let cases: &[Case] = &[
            (4, &[1.0, 1.0], &[100, 100], &[2, 2]),
            (8, &[3.0, 1.0], &[100, 100], &[6, 2]),
            // Everyone gets one, even with a tiny weight.
            (3, &[100.0, 1.0, 1.0], &[100, 100, 100], &[1, 1, 1]),
            (10, &[100.0, 1.0], &[100, 100], &[9, 1]),
            // A group with two units cannot use more than two shards.
            (10, &[5.0, 1.0], &[2, 100], &[2, 8]),
            (10, &[1.0, 1.0], &[2, 3], &[2, 3]),
        ];
        for (n, weight, cap, expected) in cases {
            assert_eq!(
                allocate(*n, weight, cap),
                *expected,
                "n={n} weights={weight:?}"
            );
        }
    }
}
