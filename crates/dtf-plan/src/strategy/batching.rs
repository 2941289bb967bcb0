//! `batching`: `timing` over whole files, with invocations cut at file boundaries.
//!
//! Batching is an option every strategy honours: with
//! [`max_batch`](crate::model::Problem::max_batch) set, each shard is cut into the
//! fewest invocations of at most that many tests (cuts at file boundaries where the
//! count allows), the plan fills [`batches`](crate::model::ShardAssignment::batches)
//! and balancing counts the pool's start-up once per invocation, so a shard that
//! needs one more invocation pays for it. This strategy goes one step further for
//! frameworks whose start-up is per file (jest and vitest workers, pytest module
//! fixtures, Go packages): tests of one file stay together, in one shard and one
//! invocation, unless the file is heavier than a sixteenth of the mean shard or holds
//! more tests than `max_batch` (then it is cut into pieces). Fewer, larger units cost a
//! little balance and save start-up; the sixteenth keeps the balance loss small.

use super::engine::{Balance, Order, Units};
use super::timing::plan_balanced;
use super::{PlanError, Strategy};
use crate::model::{Assignment, Problem};

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Batching;

impl Strategy for Batching {
    fn name(&self) -> &'static str {
        "batching"
    }

    fn plan(&self, p: &Problem) -> Result<Assignment, PlanError> {
        plan_balanced(p, Units::Files, Balance::Timing, Order::ByFile)
    }
}
