//! `priority`: `timing`'s balance, with the most important tests first in every shard.
//!
//! Shards are balanced exactly as `timing` does; only the order inside each shard
//! changes: higher [`priority`](crate::model::PlanTest::priority) first, then longer
//! tests first (ties by inventory order), then dependencies. With `--fail-fast` or a
//! reporter that streams results, the tests that matter most (or failed last time,
//! when the CLI raises their priority) answer within the first minutes.

use super::engine::{Balance, Order, Units};
use super::timing::plan_balanced;
use super::{PlanError, Strategy};
use crate::model::{Assignment, Problem};

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Priority;

impl Strategy for Priority {
    fn name(&self) -> &'static str {
        "priority"
    }

    fn plan(&self, p: &Problem) -> Result<Assignment, PlanError> {
        plan_balanced(p, Units::Tests, Balance::Timing, Order::Priority)
    }
}
