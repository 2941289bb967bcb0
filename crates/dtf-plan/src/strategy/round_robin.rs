//! `round-robin`: test *i* goes to shard *i* mod *n*.
//!
//! Ignores durations entirely, so it is only as good as the luck of the inventory
//! order. Use it when there is no history at all, or as the baseline the benchmarks
//! compare against. It still obeys the shared rules: a test skips shards whose pool
//! cannot run it, and a dependency chain travels as one unit (placed by its first
//! test).

use super::engine::{Balance, Order, Units};
use super::timing::plan_balanced;
use super::{PlanError, Strategy};
use crate::model::{Assignment, Problem};

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobin;

impl Strategy for RoundRobin {
    fn name(&self) -> &'static str {
        "round-robin"
    }

    fn plan(&self, p: &Problem) -> Result<Assignment, PlanError> {
        plan_balanced(p, Units::Tests, Balance::RoundRobin, Order::Inventory)
    }
}
