//! `quota`: `timing`, kept within each pool's runner-seconds, plus the ledger that
//! lends unused quota and collects it back on later builds.
//!
//! **The strategy.** [`Problem::quotas`] names pools or groups with the runner-seconds
//! they may still use this build. After a `timing` plan, a pool whose shards add up to
//! more than its quota hands units to shards of other pools that may run them and
//! have quota to spare (or none set): each time the smallest unit that clears the
//! remaining overage, else the largest, to the shard where it finishes earliest, within
//! the same wave. This costs wall time, which is the point: metered pools (GPU, macOS)
//! stay within budget when the work can run elsewhere. What cannot move is reported as
//! overage ([`PlanReport::quota`]). Shards left without tests are dropped, since a
//! job that runs nothing still pays its start-up. A group's quota cannot be met by moving its tests
//! (they must run somewhere), so groups are reported, not enforced.
//!
//! **The ledger** ([`QuotaLedger`], `"schema": "dtf.quota.v1"`) is a small file the
//! CLI keeps between builds. Per account (a pool or a group): a `quota_s` per build and
//! the `debt_s` still to pay back. Each build:
//!
//! 1. *Pay back*: up to half the quota goes to the debt, so the allowance is
//!    `quota - min(debt, quota / 2)` ([`QuotaLedger::allowances`], which is what goes
//!    into `Problem::quotas`). Paying at most half keeps a borrower from being shut
//!    out of a build entirely.
//! 2. *Lend*: [`settle`] takes what each account used. Accounts below their allowance
//!    lend the difference (unused quota does not carry over, so lending it costs the
//!    lender nothing); accounts above it borrow from that pool, in proportion to their
//!    overage. Whatever the lenders cannot cover is an *overrun*.
//! 3. Both borrowed and overrun seconds become debt, paid back on later builds.
//!
//! `settle` records each account's last settlement for `--explain` and the report.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::engine::{Balance, Bins, Ctx, Order, Units};
use super::{PlanError, PlanReport, Strategy, format_duration};
use crate::model::{Assignment, Problem};

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quota;

impl Strategy for Quota {
    fn name(&self) -> &'static str {
        "quota"
    }

    fn plan(&self, p: &Problem) -> Result<Assignment, PlanError> {
        Ok(self.plan_with_report(p)?.0)
    }

    fn plan_with_report(&self, p: &Problem) -> Result<(Assignment, PlanReport), PlanError> {
        for (name, value) in &p.quotas {
            if !(value.is_finite() && *value >= 0.0) {
                return Err(PlanError::InvalidQuota {
                    name: name.clone(),
                    value: *value,
                });
            }
        }
        let ctx = Ctx::new(p, Units::Tests)?;
        let mut waves =
            ctx.balance_waves(&ctx.all_items(), p.shards, &ctx.runners(), Balance::Timing)?;
        let quota: Vec<Option<f64>> = ctx
            .pools
            .iter()
            .map(|pool| {
                p.quotas
                    .iter()
                    .filter(|(name, _)| *name == pool.name)
                    .map(|(_, q)| *q)
                    .reduce(f64::min)
            })
            .collect();
        keep_within(&ctx, &mut waves, &quota);
        let mut a = ctx.finish(waves, Order::Inventory);
        if quota.iter().any(Option::is_some) {
            // A job that runs nothing still pays its start-up on a metered pool.
            a.shards.retain(|s| !s.tests.is_empty());
        }
        let mut report = PlanReport::measure(self.name(), p, &a);
        for q in &report.quota {
            if q.overage_s > 0.0 {
                report.notes.push(format!(
                    "{} `{}` is predicted to use {} of its {} quota ({} over)",
                    match q.kind {
                        super::QuotaKind::Pool => "pool",
                        super::QuotaKind::Group => "group",
                    },
                    q.name,
                    format_duration(q.used_s),
                    format_duration(q.quota_s),
                    format_duration(q.overage_s)
                ));
            }
        }
        Ok((a, report))
    }
}

/// Moves units off pools above their quota (see the module documentation).
fn keep_within(ctx: &Ctx<'_>, waves: &mut [Bins], quota: &[Option<f64>]) {
    let npools = ctx.pools.len();
    let shard_load = |bins: &Bins, s: usize| {
        if bins.count[s] == 0 {
            0.0
        } else {
            ctx.load(bins, s)
        }
    };
    let mut usage = vec![0.0; npools];
    for bins in waves.iter() {
        for s in 0..bins.len() {
            usage[bins.pool[s]] += shard_load(bins, s);
        }
    }
    let mut order: Vec<usize> = (0..npools).filter(|&p| quota[p].is_some()).collect();
    order.sort_by(|&a, &b| {
        let over = |p: usize| usage[p] - quota[p].unwrap_or(f64::INFINITY);
        over(b).total_cmp(&over(a)).then(a.cmp(&b))
    });
    for pool in order {
        let Some(limit) = quota[pool] else { continue };
        if usage[pool] <= limit {
            continue;
        }
        // Candidates by size: (seconds here, first test, wave, item).
        let mut candidates: std::collections::BTreeSet<(Key, usize, usize, usize)> =
            Default::default();
        for (w, bins) in waves.iter().enumerate() {
            for s in 0..bins.len() {
                if bins.pool[s] == pool {
                    for &i in &bins.items[s] {
                        candidates.insert((Key(ctx.duration(i, pool)), ctx.items[i].first, w, i));
                    }
                }
            }
        }
        while usage[pool] > limit {
            let over = usage[pool] - limit;
            let pick = candidates
                .range((Key(over), 0, 0, 0)..)
                .next()
                .or_else(|| candidates.iter().next_back())
                .copied();
            let Some(entry) = pick else { break };
            candidates.remove(&entry);
            let (_, _, w, item) = entry;
            let bins = &mut waves[w];
            let Some(from) =
                (0..bins.len()).find(|&s| bins.pool[s] == pool && bins.items[s].contains(&item))
            else {
                continue;
            };
            let mut best: Option<(f64, usize, f64)> = None;
            for to in 0..bins.len() {
                let q = bins.pool[to];
                if q == pool || !ctx.eligible(item, q) {
                    continue;
                }
                let before = shard_load(bins, to);
                let after = ctx.load_of(
                    q,
                    bins.work[to] + ctx.duration(item, q),
                    bins.count[to] + ctx.items[item].tests.len(),
                );
                if quota[q].is_some_and(|l| usage[q] + after - before > l) {
                    continue;
                }
                if best.is_none_or(|(b, _, _)| after < b) {
                    best = Some((after, to, after - before));
                }
            }
            let Some((_, to, added)) = best else { continue };
            let before = shard_load(bins, from);
            ctx.move_item(bins, from, to, item);
            usage[pool] -= before - shard_load(bins, from);
            usage[bins.pool[to]] += added;
        }
    }
}

/// `f64` ordered totally, for the candidate set.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key(f64);
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The schema name of the ledger file.
pub const QUOTA_SCHEMA: &str = "dtf.quota.v1";

/// Share of an account's quota that goes to paying back its debt each build.
pub const REPAY_SHARE: f64 = 0.5;

/// Quota accounts carried from build to build (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaLedger {
    pub schema: String,
    /// Sorted by name.
    pub accounts: Vec<QuotaAccount>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaAccount {
    /// A pool or group name, as in `Problem::quotas`.
    pub name: String,
    /// Runner-seconds per build.
    pub quota_s: f64,
    /// Runner-seconds borrowed or overrun, still to pay back.
    #[serde(default)]
    pub debt_s: f64,
    /// What the last settled build did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Settlement>,
}

/// One account's part in one build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    /// Quota minus what was paid back.
    pub allowance_s: f64,
    pub used_s: f64,
    pub repaid_s: f64,
    /// Unused allowance lent to others.
    pub lent_s: f64,
    /// Overage covered by others' unused allowance.
    pub borrowed_s: f64,
    /// Overage nobody could cover.
    pub overrun_s: f64,
}

/// A ledger file that cannot be used.
#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("the quota ledger is not valid JSON: {source}")]
    Parse {
        #[source]
        source: serde_json::Error,
    },
    #[error("the quota ledger has schema `{found}`; this dtf reads `{QUOTA_SCHEMA}`")]
    Schema { found: String },
    #[error("quota account `{name}` has {field} = {value}; it must be finite and at least 0")]
    Invalid {
        name: String,
        field: &'static str,
        value: f64,
    },
}

impl QuotaLedger {
    /// A fresh ledger for `quotas` (name, runner-seconds per build), without debts.
    pub fn new(quotas: &[(String, f64)]) -> QuotaLedger {
        QuotaLedger {
            schema: QUOTA_SCHEMA.to_string(),
            accounts: Vec::new(),
        }
        .with_quotas(quotas)
    }

    /// The same ledger with the quotas from the current configuration: debts of
    /// accounts that remain are kept, new accounts start clean, dropped ones go.
    pub fn with_quotas(&self, quotas: &[(String, f64)]) -> QuotaLedger {
        let mut accounts: Vec<QuotaAccount> = quotas
            .iter()
            .map(|(name, q)| {
                let old = self.accounts.iter().find(|a| a.name == *name);
                QuotaAccount {
                    name: name.clone(),
                    quota_s: *q,
                    debt_s: old.map_or(0.0, |a| a.debt_s),
                    last: old.and_then(|a| a.last.clone()),
                }
            })
            .collect();
        accounts.sort_by(|a, b| a.name.cmp(&b.name));
        accounts.dedup_by(|a, b| a.name == b.name);
        QuotaLedger {
            schema: QUOTA_SCHEMA.to_string(),
            accounts,
        }
    }

    /// Reads a ledger file's text, checking its schema and numbers.
    pub fn from_json(text: &str) -> Result<QuotaLedger, LedgerError> {
        let ledger: QuotaLedger =
            serde_json::from_str(text).map_err(|source| LedgerError::Parse { source })?;
        if ledger.schema != QUOTA_SCHEMA {
            return Err(LedgerError::Schema {
                found: ledger.schema,
            });
        }
        for a in &ledger.accounts {
            for (field, value) in [("quota_s", a.quota_s), ("debt_s", a.debt_s)] {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(LedgerError::Invalid {
                        name: a.name.clone(),
                        field,
                        value,
                    });
                }
            }
        }
        Ok(ledger)
    }

    /// The ledger as pretty JSON, for the file.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// What each account may use this build: its quota less this build's repayment.
    /// This is what goes into `Problem::quotas`.
    pub fn allowances(&self) -> Vec<(String, f64)> {
        self.accounts
            .iter()
            .map(|a| (a.name.clone(), a.quota_s - repayment(a)))
            .collect()
    }
}

fn repayment(a: &QuotaAccount) -> f64 {
    a.debt_s.min(a.quota_s * REPAY_SHARE).max(0.0)
}

/// The ledger after a build that used `used` runner-seconds per account (names not in
/// the ledger have no quota and are ignored; accounts not in `used` used nothing).
pub fn settle(ledger: &QuotaLedger, used: &[(String, f64)]) -> QuotaLedger {
    let rows: Vec<(f64, f64, f64)> = ledger
        .accounts
        .iter()
        .map(|a| {
            let repaid = repayment(a);
            let allowance = a.quota_s - repaid;
            let spent: f64 = used
                .iter()
                .filter(|(name, _)| *name == a.name)
                .map(|(_, s)| s.max(0.0))
                .sum();
            (repaid, allowance, spent)
        })
        .collect();
    let need: f64 = rows.iter().map(|&(_, al, u)| (u - al).max(0.0)).sum();
    let spare: f64 = rows.iter().map(|&(_, al, u)| (al - u).max(0.0)).sum();
    let lent_total = need.min(spare);
    let accounts = ledger
        .accounts
        .iter()
        .zip(rows)
        .map(|(a, (repaid, allowance, spent))| {
            let over = (spent - allowance).max(0.0);
            let unused = (allowance - spent).max(0.0);
            let borrowed = if need > 0.0 {
                over * lent_total / need
            } else {
                0.0
            };
            let lent = if spare > 0.0 {
                unused * lent_total / spare
            } else {
                0.0
            };
            QuotaAccount {
                name: a.name.clone(),
                quota_s: a.quota_s,
                debt_s: a.debt_s - repaid + over,
                last: Some(Settlement {
                    allowance_s: allowance,
                    used_s: spent,
                    repaid_s: repaid,
                    lent_s: lent,
                    borrowed_s: borrowed,
                    overrun_s: over - borrowed,
                }),
            }
        })
        .collect();
    QuotaLedger {
        schema: QUOTA_SCHEMA.to_string(),
        accounts,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ledger(accounts: &[(&str, f64, f64)]) -> QuotaLedger {
        QuotaLedger {
            schema: QUOTA_SCHEMA.into(),
            accounts: accounts
                .iter()
                .map(|&(name, quota_s, debt_s)| QuotaAccount {
                    name: name.into(),
                    quota_s,
                    debt_s,
                    last: None,
                })
                .collect(),
        }
    }

    /// (name, debt after, borrowed, lent, overrun) per account.
    fn check(
        before: &[(&str, f64, f64)],
        used: &[(&str, f64)],
        expected: &[(&str, f64, f64, f64, f64)],
    ) {
        let used: Vec<(String, f64)> = used.iter().map(|&(n, s)| (n.to_string(), s)).collect();
        let after = settle(&ledger(before), &used);
        let got: Vec<(&str, f64, f64, f64, f64)> = after
            .accounts
            .iter()
            .map(|a| {
                let l = a.last.as_ref().unwrap();
                (
                    a.name.as_str(),
                    a.debt_s,
                    l.borrowed_s,
                    l.lent_s,
                    l.overrun_s,
                )
            })
            .collect();
        assert_eq!(got, expected, "before {before:?} used {used:?}");
    }

    #[test]
    fn settle_lends_unused_quota_and_collects_it_back() {
        // Within quota: nothing happens.
        check(
            &[("gpu", 100.0, 0.0)],
            &[("gpu", 80.0)],
            &[("gpu", 0.0, 0.0, 0.0, 0.0)],
        );
        // gpu borrows 30 from cpu's 50 unused seconds.
        check(
            &[("cpu", 100.0, 0.0), ("gpu", 100.0, 0.0)],
            &[("cpu", 50.0), ("gpu", 130.0)],
            &[("cpu", 0.0, 0.0, 30.0, 0.0), ("gpu", 30.0, 30.0, 0.0, 0.0)],
        );
        // Next build gpu pays back 30 (at most half its quota): allowance 70, uses 70.
        check(
            &[("cpu", 100.0, 0.0), ("gpu", 100.0, 30.0)],
            &[("gpu", 70.0)],
            &[("cpu", 0.0, 0.0, 0.0, 0.0), ("gpu", 0.0, 0.0, 0.0, 0.0)],
        );
        // A large debt is paid at most half the quota a build.
        check(
            &[("gpu", 100.0, 120.0)],
            &[("gpu", 0.0)],
            &[("gpu", 70.0, 0.0, 0.0, 0.0)],
        );
        // Nobody to lend: the overage is an overrun, and still debt.
        check(
            &[("gpu", 100.0, 0.0)],
            &[("gpu", 150.0)],
            &[("gpu", 50.0, 0.0, 0.0, 50.0)],
        );
        // Two borrowers share the lender's 20 seconds in proportion to their overage.
        check(
            &[("a", 10.0, 0.0), ("b", 10.0, 0.0), ("c", 30.0, 0.0)],
            &[("a", 40.0), ("b", 20.0), ("c", 10.0)],
            &[
                ("a", 30.0, 15.0, 0.0, 15.0),
                ("b", 10.0, 5.0, 0.0, 5.0),
                ("c", 0.0, 0.0, 20.0, 0.0),
            ],
        );
        // Names without an account have no quota.
        check(
            &[("gpu", 10.0, 0.0)],
            &[("cpu", 500.0)],
            &[("gpu", 0.0, 0.0, 0.0, 0.0)],
        );
    }

    #[test]
    fn allowances_subtract_the_repayment() {
        let l = ledger(&[("a", 100.0, 10.0), ("b", 100.0, 500.0), ("c", 60.0, 0.0)]);
        assert_eq!(
            l.allowances(),
            vec![("a".into(), 90.0), ("b".into(), 50.0), ("c".into(), 60.0)]
        );
    }

    #[test]
    fn ledger_file_round_trips_and_rejects_other_schemas() {
        let l = settle(
            &QuotaLedger::new(&[("gpu".into(), 60.0)]),
            &[("gpu".into(), 90.0)],
        );
        let text = l.to_json();
        assert!(text.contains("\"schema\": \"dtf.quota.v1\""), "{text}");
        assert_eq!(QuotaLedger::from_json(&text).unwrap(), l);
        let other = text.replace("dtf.quota.v1", "dtf.quota.v9");
        assert_eq!(
            QuotaLedger::from_json(&other).unwrap_err().to_string(),
            "the quota ledger has schema `dtf.quota.v9`; this dtf reads `dtf.quota.v1`"
        );
        let negative = r#"{"schema":"dtf.quota.v1","accounts":[{"name":"x","quota_s":-1}]}"#;
        assert_eq!(
            QuotaLedger::from_json(negative).unwrap_err().to_string(),
            "quota account `x` has quota_s = -1; it must be finite and at least 0"
        );
        assert!(matches!(
            QuotaLedger::from_json("{"),
            Err(LedgerError::Parse { .. })
        ));
    }

    #[test]
    fn new_quotas_keep_old_debts() {
        let l = ledger(&[("a", 100.0, 40.0), ("b", 100.0, 10.0)]);
        let next = l.with_quotas(&[("c".into(), 5.0), ("a".into(), 200.0)]);
        let got: Vec<(&str, f64, f64)> = next
            .accounts
            .iter()
            .map(|a| (a.name.as_str(), a.quota_s, a.debt_s))
            .collect();
        assert_eq!(got, vec![("a", 200.0, 40.0), ("c", 5.0, 0.0)]);
    }
}
