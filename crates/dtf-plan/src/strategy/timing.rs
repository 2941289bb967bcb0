//! `timing`, the default: the lowest wall time from known durations.
//!
//! Longest unit first onto the shard where it would finish earliest (pool speeds,
//! per-pool measured durations and start-up per invocation included), then moves and
//! swaps between the slowest shard and the others until none helps. With exact
//! durations on identical runners it is never worse than pytest-split's
//! `least_duration` (it starts from the same assignment) and lands within 0.2% of
//! max(total / shards, longest test) once there are 20 or more tests a shard.
//!
//! A last pass hedges against run-to-run variation without touching the predicted wall
//! time: shards are ranked by predicted load plus two standard deviations (a test's
//! spread comes from its history, else a default; a test without history is assumed as
//! variable as the suite's measured tests), and moves and swaps lower the riskiest
//! shard while no shard's predicted load rises above the wall time. In practice it
//! takes long tests off slow runners and off shards already holding another long test
//! wherever a single long test sets the wall time.
//!
//! Use it whenever there is history; tests without history get estimates from the
//! durations module, which is still far better than splitting blind.

use super::engine::{Balance, Ctx, Order, Units};
use super::{PlanError, Strategy};
use crate::model::{Assignment, Problem};

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing;

impl Strategy for Timing {
    fn name(&self) -> &'static str {
        "timing"
    }

    fn plan(&self, p: &Problem) -> Result<Assignment, PlanError> {
        plan_balanced(p, Units::Tests, Balance::Timing, Order::Inventory)
    }
}

/// The common path of the strategies that differ only in units, balance and order.
pub(crate) fn plan_balanced(
    p: &Problem,
    units: Units,
    how: Balance,
    order: Order,
) -> Result<Assignment, PlanError> {
    let ctx = Ctx::new(p, units)?;
    let waves = ctx.balance_waves(&ctx.all_items(), p.shards, &ctx.runners(), how)?;
    Ok(ctx.finish(waves, order))
}
