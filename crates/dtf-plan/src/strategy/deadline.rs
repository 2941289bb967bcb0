//! `deadline`: the fewest shards whose predicted wall time meets a deadline.
//!
//! `dtf plan --strategy deadline --deadline 10m --max-shards 40` plans with 1, 2, …
//! shards (at most [`Problem::shards`] and the pools' runners) and keeps the smallest
//! count whose `timing` plan is predicted to finish within
//! [`Problem::deadline`]. How many shards each pool gets follows the engine's nested
//! layouts: every test's pool first, then each further shard where it shortens the
//! wall time most (faster pools first), so the answer also says how many runners of
//! each pool to ask for ([`PlanReport::pool_shards`]).
//!
//! The search starts at the first count whose fluid lower bound meets the deadline,
//! tries a few counts upwards and then bisects; a plan is made for every count tried
//! and planning is milliseconds, so the whole search stays fast. The report carries
//! the prediction and the risk of missing the deadline under noisy durations (see
//! [`super::report`]); when even the most shards cannot meet it, the error names the
//! smallest deadline that can be met.
//!
//! Use it when runners cost money or are shared, and "done within ten minutes" is the
//! real requirement rather than "as fast as possible".

use super::engine::{Balance, Ctx, Order, Units};
use super::{PlanError, PlanReport, Strategy, format_duration, predicted_wall};
use crate::model::{Assignment, Problem};

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Deadline;

/// Counts tried one by one above the fluid estimate before bisecting.
const LINEAR_STEPS: u32 = 6;

impl Strategy for Deadline {
    fn name(&self) -> &'static str {
        "deadline"
    }

    fn plan(&self, p: &Problem) -> Result<Assignment, PlanError> {
        Ok(self.plan_with_report(p)?.0)
    }

    fn plan_with_report(&self, p: &Problem) -> Result<(Assignment, PlanReport), PlanError> {
        let deadline = p.deadline.ok_or(PlanError::MissingDeadline)?;
        if !(deadline.is_finite() && deadline > 0.0) {
            return Err(PlanError::InvalidDeadline { value: deadline });
        }
        let ctx = Ctx::new(p, Units::Tests)?;
        let items = ctx.all_items();
        let runners = ctx.runners();
        let layouts = ctx.layouts(&items, p.shards, &runners)?;
        let (lo, hi) = (layouts.min_shards().max(1), layouts.max_shards().max(1));
        let plan_at = |n: u32| -> Result<(Assignment, f64), PlanError> {
            let waves = ctx.balance_waves(&items, n, &runners, Balance::Timing)?;
            let a = ctx.finish(waves, Order::Inventory);
            let wall = predicted_wall(p, &a);
            Ok((a, wall))
        };

        let (most, wall_most) = plan_at(hi)?;
        if wall_most > deadline {
            return Err(PlanError::DeadlineInfeasible {
                deadline_s: deadline,
                smallest_s: wall_most,
                shards: hi,
            });
        }
        let mut best = (hi, most, wall_most);
        // The fluid estimate never exceeds the plan's wall time, so no count below
        // the first one it allows can meet the deadline.
        let start = (lo..hi)
            .find(|&n| {
                layouts
                    .fluid
                    .get((n - layouts.min_shards()) as usize)
                    .is_some_and(|&f| f <= deadline)
            })
            .unwrap_or(hi);
        let mut failed = start.saturating_sub(1).max(lo - 1);
        let mut n = start;
        let mut found = false;
        while n < hi && n < start + LINEAR_STEPS {
            let (a, wall) = plan_at(n)?;
            if wall <= deadline {
                best = (n, a, wall);
                found = true;
                break;
            }
            failed = n;
            n += 1;
        }
        if !found {
            let mut ok = hi;
            while ok - failed > 1 {
                let mid = failed + (ok - failed) / 2;
                let (a, wall) = plan_at(mid)?;
                if wall <= deadline {
                    ok = mid;
                    best = (mid, a, wall);
                } else {
                    failed = mid;
                }
            }
        }
        let (n, a, wall) = best;
        let mut report = PlanReport::measure(self.name(), p, &a);
        let risk = report.risk_of_missing.unwrap_or(0.0);
        report.notes.push(format!(
            "{n} of at most {hi} shards are predicted to finish in {} against a deadline of {} \
             (risk of missing it: {:.0}%; 9 builds in 10 finish within {})",
            format_duration(wall),
            format_duration(deadline),
            risk * 100.0,
            format_duration(report.risk.p90_s)
        ));
        Ok((a, report))
    }
}
