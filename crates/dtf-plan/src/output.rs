//! `plan.json`: the one document every runner and provider front-end reads.
//!
//! A strategy answers with indices ([`Assignment`]); runners need names: test ids in
//! order, the pool and its labels, and what the planner expects, so that a slow shard
//! can be told from a bad plan. [`build_plan`] does that translation and the
//! arithmetic behind the numbers users judge a plan by:
//!
//! - a shard's **predicted time** is the sum of its tests' durations on its pool
//!   ([`PlanTest::duration_on`](crate::model::PlanTest::duration_on)) plus the pool's
//!   start-up cost once per invocation (its number of batches, at least 1; a shard
//!   without tests starts nothing and predicts 0);
//! - the **predicted wall time** is, over waves, the sum of the slowest shard of each
//!   wave (one wave when the plan has none: the slowest shard);
//! - the **lower bound** is the issue's `max(total work / shards, longest test)`, with
//!   work counted at speed 1.0 and start-up excluded, the same yardstick the quality
//!   benchmark uses. With pools faster than 1.0, or per-pool measurements faster than
//!   the speed-1 duration, a plan can beat it: it is a reference, not a proof;
//! - the **imbalance** is the predicted wall time over the ideal one minus 1, where the
//!   ideal is, over waves, the sum of each wave's mean shard time; with one wave this
//!   is `wall / mean shard time - 1`, and 0 for one shard.
//!
//! Seconds are rounded to milliseconds so that the same input gives byte-identical
//! files, whatever order floating-point sums happened in.

use std::collections::{BTreeMap, BTreeSet};

use dtf_core::model::Status;
use dtf_core::summary::Summary;
use serde::Deserialize;

use crate::model::{Assignment, PLAN_SCHEMA, Plan, PlanTotals, PlannedShard, Problem};

/// How many ids a warning names before it says "and N more".
const WARN_NAMES: usize = 5;

/// Turns a strategy's answer into `plan.json`'s content.
///
/// Never fails: an assignment that breaks the model's rules (an index out of range,
/// batches that do not add up, a test in no shard or in two) is a strategy bug, and
/// the plan says so in `warnings` instead of hiding it.
pub fn build_plan(problem: &Problem, assignment: &Assignment, strategy: &str) -> Plan {
    let mut warnings = Vec::new();
    let mut placed = vec![0u32; problem.tests.len()];
    let mut shards = Vec::with_capacity(assignment.shards.len());
    let mut bad_numbers = false;
    let mut empty = Vec::new();

    for (k, sa) in assignment.shards.iter().enumerate() {
        let index = u32::try_from(k + 1).unwrap_or(u32::MAX);
        let pool = problem.pools.get(sa.pool);
        if pool.is_none() {
            warnings.push(format!(
                "shard {index}: pool #{} does not exist; its labels are unknown",
                sa.pool
            ));
        }
        let mut tests = Vec::with_capacity(sa.tests.len());
        let mut work = 0.0;
        for &t in &sa.tests {
            let Some(test) = problem.tests.get(t) else {
                warnings.push(format!("shard {index}: test #{t} does not exist"));
                continue;
            };
            placed[t] += 1;
            tests.push(test.id.clone());
            let d = pool.map_or(test.duration, |p| test.duration_on(p));
            work += finite(d, &mut bad_numbers);
        }
        let batches = checked_batches(index, &sa.batches, tests.len(), &mut warnings);
        let invocations = if tests.is_empty() {
            empty.push(index);
            0
        } else {
            batches.len().max(1)
        };
        let startup = pool.map_or(0.0, |p| finite(p.startup, &mut bad_numbers));
        shards.push(PlannedShard {
            index,
            pool: pool.map_or_else(|| format!("#{}", sa.pool), |p| p.name.clone()),
            labels: pool.map_or_else(Vec::new, |p| p.labels.clone()),
            wave: sa.wave,
            tests,
            batches,
            predicted_s: work + startup * invocations as f64,
        });
    }

    if !empty.is_empty() {
        warnings.push(format!(
            "{} without tests: {}",
            plural(empty.len(), "shard", "shards"),
            name_some(empty.iter().map(u32::to_string))
        ));
    }
    let unplaced = placed.iter().enumerate().filter(|(_, n)| **n == 0);
    let unplaced: Vec<&str> = unplaced
        .map(|(t, _)| problem.tests[t].id.as_str())
        .collect();
    if !unplaced.is_empty() {
        warnings.push(format!(
            "{} in no shard: {}",
            plural(unplaced.len(), "test is", "tests are"),
            name_some(unplaced.iter().copied())
        ));
    }
    let doubled = placed.iter().enumerate().filter(|(_, n)| **n > 1);
    let doubled: Vec<&str> = doubled.map(|(t, _)| problem.tests[t].id.as_str()).collect();
    if !doubled.is_empty() {
        warnings.push(format!(
            "{} in more than one shard: {}",
            plural(doubled.len(), "test is", "tests are"),
            name_some(doubled.iter().copied())
        ));
    }

    // Totals count each planned test once, at speed 1.0.
    let mut work_s = 0.0;
    let mut longest: f64 = 0.0;
    let mut estimated = Vec::new();
    let mut planned = 0;
    for (t, test) in problem.tests.iter().enumerate() {
        if placed[t] == 0 {
            continue;
        }
        planned += 1;
        let d = finite(test.duration, &mut bad_numbers);
        work_s += d;
        longest = longest.max(d);
        if test.estimated {
            estimated.push(test.id.clone());
        }
    }
    estimated.sort_unstable();
    estimated.dedup();
    if bad_numbers {
        warnings.push(
            "some durations or start-up costs were negative or not numbers; counted as 0".into(),
        );
    }

    let stats = WaveStats::of(&shards);
    let lower_bound_s = if shards.is_empty() {
        0.0
    } else {
        (work_s / shards.len() as f64).max(longest)
    };
    for s in &mut shards {
        s.predicted_s = round_s(s.predicted_s);
    }
    Plan {
        schema: PLAN_SCHEMA.to_owned(),
        strategy: strategy.to_owned(),
        totals: PlanTotals {
            tests: planned,
            shards: shards.len(),
            work_s: round_s(work_s),
            estimated: estimated.len(),
        },
        shards,
        lower_bound_s: round_s(lower_bound_s),
        predicted_wall_s: round_s(stats.wall),
        imbalance: stats.imbalance(),
        estimated,
        warnings,
    }
}

/// Wall and ideal time of a list of shards, over their waves.
struct WaveStats {
    /// Sum over waves of the slowest shard.
    wall: f64,
    /// Sum over waves of the mean shard.
    ideal: f64,
}

impl WaveStats {
    fn of(shards: &[PlannedShard]) -> WaveStats {
        // wave -> (slowest, sum, count)
        let mut waves: BTreeMap<u32, (f64, f64, usize)> = BTreeMap::new();
        for s in shards {
            let w = waves.entry(s.wave).or_insert((0.0, 0.0, 0));
            w.0 = w.0.max(s.predicted_s);
            w.1 += s.predicted_s;
            w.2 += 1;
        }
        let wall = waves.values().map(|w| w.0).sum();
        let ideal = waves.values().map(|w| w.1 / w.2 as f64).sum();
        WaveStats { wall, ideal }
    }

    fn imbalance(&self) -> f64 {
        if self.ideal <= 0.0 {
            return 0.0;
        }
        ((self.wall / self.ideal - 1.0).max(0.0) * 1e6).round() / 1e6
    }
}

/// The assignment's batches if they cover the shard's tests exactly, without empty
/// ones; one batch is the same as none.
fn checked_batches(
    index: u32,
    batches: &[usize],
    tests: usize,
    warnings: &mut Vec<String>,
) -> Vec<usize> {
    let kept: Vec<usize> = batches.iter().copied().filter(|b| *b > 0).collect();
    let sum: usize = kept.iter().sum();
    if !batches.is_empty() && sum != tests {
        warnings.push(format!(
            "shard {index}: batches add up to {sum}, not its {tests} tests; planned as one invocation"
        ));
        return Vec::new();
    }
    if kept.len() <= 1 { Vec::new() } else { kept }
}

fn finite(x: f64, bad: &mut bool) -> f64 {
    if x.is_finite() && x >= 0.0 {
        x
    } else {
        *bad = true;
        0.0
    }
}

fn round_s(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `a, b, c` or `a, b, c, d, e and 7 more`.
fn name_some<S: AsRef<str>>(items: impl ExactSizeIterator<Item = S>) -> String {
    let total = items.len();
    let mut out: Vec<String> = items
        .take(WARN_NAMES)
        .map(|s| s.as_ref().to_owned())
        .collect();
    if total > WARN_NAMES {
        out.push(format!("and {} more", total - WARN_NAMES));
        let last = out.pop().unwrap_or_default();
        return format!("{} {last}", out.join(", "));
    }
    out.join(", ")
}

/// A `plan.json` that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{source_name}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{source_name}: schema `{found}` is not `{PLAN_SCHEMA}`{hint}")]
    Schema {
        source_name: String,
        found: String,
        hint: &'static str,
    },
    #[error("{source_name}: shard {shard}: {reason}")]
    Invalid {
        source_name: String,
        shard: u32,
        reason: String,
    },
}

impl Plan {
    /// Reads `plan.json`, refusing other schemas with a clear message, and checks
    /// what runners rely on: shard indices are 1..=N, each once, and batches cover
    /// their shard's tests.
    pub fn read(text: &str, source_name: &str) -> Result<Plan, PlanError> {
        let json_err = |e: serde_json::Error| PlanError::Json {
            source_name: source_name.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        #[derive(Deserialize)]
        struct Head {
            schema: Option<String>,
        }
        let head: Head = serde_json::from_str(text).map_err(json_err)?;
        let found = head.schema.unwrap_or_default();
        if found != PLAN_SCHEMA {
            let hint = if found.starts_with("dtf.plan.") {
                " (written by a newer dtf? upgrade dtf to read it)"
            } else if found.is_empty() {
                " (is this a dtf plan? it has no `schema` field)"
            } else {
                ""
            };
            return Err(PlanError::Schema {
                source_name: source_name.to_owned(),
                found,
                hint,
            });
        }
        let plan: Plan = serde_json::from_str(text).map_err(json_err)?;
        let invalid = |shard: u32, reason: String| PlanError::Invalid {
            source_name: source_name.to_owned(),
            shard,
            reason,
        };
        let n = plan.shards.len();
        let mut seen = vec![false; n];
        for s in &plan.shards {
            let slot = (s.index as usize)
                .checked_sub(1)
                .and_then(|i| seen.get_mut(i))
                .ok_or_else(|| invalid(s.index, format!("index is not between 1 and {n}")))?;
            if *slot {
                return Err(invalid(s.index, "index appears twice".into()));
            }
            *slot = true;
            let sum: usize = s.batches.iter().sum();
            if !s.batches.is_empty() && sum != s.tests.len() {
                return Err(invalid(
                    s.index,
                    format!("batches add up to {sum}, not its {} tests", s.tests.len()),
                ));
            }
        }
        Ok(plan)
    }

    /// `plan.json`'s text: pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        // Plain structs, string keys and numbers: serialising cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The shard with this 1-based index.
    pub fn shard(&self, index: u32) -> Option<&PlannedShard> {
        self.shards.iter().find(|s| s.index == index)
    }

    /// The waves the plan uses, in order (`[0]` for a plan without waves; empty
    /// without shards).
    pub fn waves(&self) -> Vec<u32> {
        let set: BTreeSet<u32> = self.shards.iter().map(|s| s.wave).collect();
        set.into_iter().collect()
    }
}

/// What the merged run saw, for finding lost tests: the tests a plan put in some
/// shard that no shard reported (a shard that crashed, timed out or was cancelled
/// leaves no results; a summary only names failures, so it cannot tell).
#[derive(Clone, Copy, Debug)]
pub struct LostCheck<'a> {
    /// The plan the build ran.
    pub plan: &'a Plan,
    /// Every id the merged results contain. When the plan is by file, also the files
    /// of those tests (a planned file counts as seen if any of its tests reported).
    pub seen: &'a BTreeSet<String>,
}

/// The tests `dtf plan --rerun-failed` plans, and why.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RerunSelection {
    /// Failed and errored tests, sorted (a flaky test passed in the end: not rerun).
    pub failed: Vec<String>,
    /// Planned but never reported, sorted; empty without a [`LostCheck`].
    pub lost: Vec<String>,
    /// `failed` and `lost` together, sorted, each once: the inventory to plan.
    pub tests: Vec<String>,
    /// What the selection may miss, for the user.
    pub warnings: Vec<String>,
}

/// Selects the failed, errored and lost tests of a build.
///
/// Failures come from the summary. When the plan is by file (its ids are files, not
/// test ids), a failed test is selected by its file, so that the rerun plan uses the
/// plan's units. Lost tests need the plan and the ids the merged run saw
/// ([`LostCheck`]); without them none are reported. A summary that left failures out
/// (`failures_omitted`) cannot name them: the selection warns.
pub fn rerun_failed(summary: &Summary, lost: Option<LostCheck<'_>>) -> RerunSelection {
    let planned: Option<BTreeSet<&str>> = lost.map(|l| {
        l.plan
            .shards
            .iter()
            .flat_map(|s| s.tests.iter().map(String::as_str))
            .collect()
    });
    let mut failed = BTreeSet::new();
    for t in &summary.failures {
        if !matches!(t.status, Status::Failed | Status::Errored) {
            continue;
        }
        let id = match (&planned, &t.file) {
            (Some(p), Some(file)) if !p.contains(t.id.as_str()) && p.contains(file.as_str()) => {
                file.clone()
            }
            _ => t.id.clone(),
        };
        failed.insert(id);
    }
    let mut warnings = Vec::new();
    if summary.failures_omitted > 0 {
        warnings.push(format!(
            "the summary names {} failed tests and leaves {} out; those are not rerun \
             (write the summary with a higher failure limit)",
            summary.failures.len(),
            summary.failures_omitted
        ));
    }
    let mut lost_ids = BTreeSet::new();
    if let (Some(check), Some(planned)) = (lost, &planned) {
        for id in planned {
            if !check.seen.contains(*id) {
                lost_ids.insert((*id).to_owned());
            }
        }
        if check.seen.is_empty() && !planned.is_empty() {
            warnings
                .push("no results were seen at all: every planned test counts as lost".to_owned());
        }
    }
    let tests: Vec<String> = failed.union(&lost_ids).cloned().collect();
    RerunSelection {
        failed: failed.into_iter().collect(),
        lost: lost_ids.into_iter().collect(),
        tests,
        warnings,
    }
}
