//! The machinery the strategies share: planning units, shards per pool, the balancing
//! algorithms and the final ordering and batching of each shard.
//!
//! - **Units** ([`Item`]): a dependency chain (without waves), a file (`batching`), or
//!   a single test. A unit is never split; its tests stay in topological order.
//! - **Layout** ([`Ctx::layout`]): how many shards each pool gets. First every test must
//!   find a pool it may run on (a greedy cover); then each further shard goes to the
//!   pool where it lowers a *fluid* estimate of the wall time most: the work of every
//!   group of pools, spread evenly over their shards at their speed (Hall's condition:
//!   for each set of pools S, the work only S can run must fit on S). Faster pools win
//!   ties. Layouts are nested: the layout for n+1 shards is the one for n plus a shard.
//! - **Balance** ([`Ctx::lpt`], [`Ctx::improve`]): longest unit first, each to the shard
//!   where it would finish earliest (a min-heap per pool, so 100,000 units over 256
//!   shards take milliseconds); then moves and swaps between the slowest shard and the
//!   others while they lower it, within an operation budget. On one pool with no
//!   start-up this starts from exactly pytest-split's `least_duration` (same order,
//!   same ties) and only improves it.
//! - **Waves**: later waves are planned first; their idle shard time is then filled with
//!   free tests (tests without dependencies), the rest goes to wave 0.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

use crate::deps::DepGraph;
use crate::model::{Assignment, Pool, Problem, ShardAssignment};
use crate::strategy::{PlanError, effective_pools};

/// A unit of planning: tests that always share a shard.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    /// In topological order.
    pub tests: Vec<usize>,
    /// Sum of the tests' durations at speed 1.
    pub base: f64,
    /// Variance of that sum at speed 1 (seconds squared): each test's duration times
    /// its run-to-run spread, squared, summed (tests vary independently).
    pub var: f64,
    /// Interned set of eligible pools (index into `Ctx::sets`).
    pub set: usize,
    /// Some test has a measured per-pool duration, so `base / speed` is not exact.
    overrides: bool,
    /// Wave of the unit (waves mode; 0 otherwise).
    pub wave: u32,
    /// Some test takes part in a dependency.
    pub linked: bool,
    /// The lowest test index: the unit's place in the inventory.
    pub first: usize,
}

/// How tests are grouped into units beyond dependency chains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Units {
    Tests,
    /// Tests of one file (same eligibility, same wave) form one unit, split only when
    /// the file alone would unbalance the plan.
    Files,
}

/// How units are spread over the shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Balance {
    RoundRobin,
    Timing,
}

/// The order of tests inside a shard, before dependencies are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Inventory order (keeps files together as discovered).
    Inventory,
    /// Higher priority first, then longer first.
    Priority,
    /// Tests of one file next to each other, files in inventory order.
    ByFile,
}

/// The shards of one wave while planning.
#[derive(Clone, Debug)]
pub(crate) struct Bins {
    pub wave: u32,
    pub pool: Vec<usize>,
    /// Seconds of test work on the shard's pool.
    pub work: Vec<f64>,
    /// Variance of `work` (seconds squared), for the robust pass.
    pub var: Vec<f64>,
    /// Tests (not units) in the shard.
    pub count: Vec<usize>,
    pub items: Vec<Vec<usize>>,
}

impl Bins {
    fn new(wave: u32, layout: &[u32]) -> Bins {
        let pool: Vec<usize> = layout
            .iter()
            .enumerate()
            .flat_map(|(p, &c)| std::iter::repeat_n(p, c as usize))
            .collect();
        let n = pool.len();
        Bins {
            wave,
            pool,
            work: vec![0.0; n],
            var: vec![0.0; n],
            count: vec![0; n],
            items: vec![Vec::new(); n],
        }
    }

    pub fn len(&self) -> usize {
        self.pool.len()
    }
}

/// Nested shard layouts: the cover, then one pool per further shard.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    cover: Vec<u32>,
    adds: Vec<usize>,
    /// Fluid wall estimate after the cover and after each add.
    pub fluid: Vec<f64>,
}

impl Layout {
    pub fn min_shards(&self) -> u32 {
        self.cover.iter().sum()
    }

    pub fn max_shards(&self) -> u32 {
        self.min_shards() + self.adds.len() as u32
    }

    /// Shards per pool for `n` shards in total (between min and max).
    pub fn counts(&self, n: u32) -> Vec<u32> {
        let mut counts = self.cover.clone();
        let extra = n.saturating_sub(self.min_shards()) as usize;
        for &p in self.adds.iter().take(extra) {
            counts[p] += 1;
        }
        counts
    }
}

/// Everything a strategy needs, validated and precomputed once.
pub(crate) struct Ctx<'a> {
    pub p: &'a Problem,
    pub pools: Vec<Pool>,
    pub graph: DepGraph,
    /// Interned eligibility sets: `sets[k][pool]`.
    sets: Vec<Vec<bool>>,
    pub items: Vec<Item>,
    /// `Problem::max_batch` (0: one invocation per shard).
    batch: usize,
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.total_cmp(&b)
}

/// `f64` with a total order, for heaps.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key(f64);
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Budget of elementary evaluations for the improvement phase of one wave: enough to
/// converge on every realistic suite, small enough to keep the planner well under a
/// second for 100,000 tests.
const IMPROVE_BUDGET: u64 = 40_000_000;

/// Operations the robust pass may spend ([`Ctx::hedge`]).
const HEDGE_BUDGET: u64 = 20_000_000;

/// Units of each shard the robust pass tries to move or swap (the largest).
const HEDGE_CANDIDATES: usize = 8;

/// Standard deviations above the predicted load the robust pass plans for.
pub(crate) const RISK_Z: f64 = 2.0;

/// Run-to-run spread of a measured test's duration (standard deviation of its log)
/// when history cannot tell: CI runners commonly vary by this much between runs.
pub const DEFAULT_SPREAD: f64 = 0.25;

/// Spread of a test without history: its estimate may be off by a factor of several.
pub const UNKNOWN_SPREAD: f64 = 1.0;

impl<'a> Ctx<'a> {
    /// Validates `p` and builds its units.
    pub fn new(p: &'a Problem, units: Units) -> Result<Ctx<'a>, PlanError> {
        if p.shards == 0 {
            return Err(PlanError::ZeroShards);
        }
        let pools = effective_pools(p);
        for pool in &pools {
            let bad = |field, value, expected| PlanError::InvalidPool {
                pool: pool.name.clone(),
                field,
                value,
                expected,
            };
            if !(pool.speed.is_finite() && pool.speed > 0.0) {
                return Err(bad("speed", pool.speed, "a finite number above 0"));
            }
            if !(pool.startup.is_finite() && pool.startup >= 0.0) {
                return Err(bad(
                    "startup",
                    pool.startup,
                    "a finite number of seconds, at least 0",
                ));
            }
        }
        if pools.iter().all(|pool| pool.runners == 0) {
            return Err(PlanError::NoRunners);
        }
        for t in &p.tests {
            let durations =
                std::iter::once(t.duration).chain(t.pool_durations.iter().map(|(_, d)| *d));
            for value in durations {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(PlanError::InvalidDuration {
                        test: t.id.clone(),
                        value,
                    });
                }
            }
        }
        let graph = DepGraph::new(&p.tests, &p.dependencies)?;

        // Intern eligibility sets.
        let npools = pools.len();
        let mut set_ids: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
        let mut sets: Vec<Vec<bool>> = Vec::new();
        let mut test_set = Vec::with_capacity(p.tests.len());
        for (t, test) in p.tests.iter().enumerate() {
            let mut list = match p.eligible.get(t) {
                Some(list) if !list.is_empty() => list.clone(),
                _ => (0..npools).collect(),
            };
            if let Some(&index) = list.iter().find(|&&i| i >= npools) {
                return Err(PlanError::UnknownPoolIndex {
                    test: test.id.clone(),
                    index,
                    count: npools,
                });
            }
            list.sort_unstable();
            list.dedup();
            // A test without history could be far longer than its estimate: it goes
            // to the fastest pool that may run it, so a surprise costs least there.
            if test.estimated {
                let fastest = list
                    .iter()
                    .filter(|&&i| pools[i].runners > 0)
                    .map(|&i| pools[i].speed)
                    .fold(f64::NEG_INFINITY, f64::max);
                let fast: Vec<usize> = list
                    .iter()
                    .copied()
                    .filter(|&i| pools[i].runners > 0 && pools[i].speed >= fastest)
                    .collect();
                if !fast.is_empty() {
                    list = fast;
                }
            }
            let next = sets.len();
            let id = *set_ids.entry(list).or_insert_with_key(|list| {
                let mut mask = vec![false; npools];
                for &i in list {
                    mask[i] = true;
                }
                sets.push(mask);
                next
            });
            test_set.push(id);
        }

        let mut ctx = Ctx {
            p,
            pools,
            graph,
            sets,
            items: Vec::new(),
            batch: p.max_batch,
        };
        let waves = if p.waves && !ctx.graph.has_no_edges() {
            ctx.graph.waves()
        } else {
            vec![0; p.tests.len()]
        };
        ctx.items = ctx.build_items(units, &mut set_ids, &test_set, &waves)?;
        Ok(ctx)
    }

    fn build_items(
        &mut self,
        units: Units,
        set_ids: &mut BTreeMap<Vec<usize>, usize>,
        test_set: &[usize],
        waves: &[u32],
    ) -> Result<Vec<Item>, PlanError> {
        let p = self.p;
        let n = p.tests.len();
        // Groups of tests by their lowest member; `group_of[t]` is that member.
        let mut group_of: Vec<usize> = (0..n).collect();
        let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        if !p.waves {
            for chain in self.graph.chains() {
                let first = chain.iter().copied().min().unwrap_or(0);
                for &t in &chain {
                    group_of[t] = first;
                }
                members.insert(first, chain);
            }
        }
        if units == Units::Files {
            self.group_files(&mut group_of, &mut members, test_set, waves);
        }

        // A test without history is balanced at no less than the mean measured test:
        // its estimate (a median, often 0 s in real suites) says little, and the mean
        // is what it is expected to cost. Heavier items also keep unknowns off slow
        // pools. Predictions still use the estimate; exact durations are untouched.
        let measured: Vec<f64> = p
            .tests
            .iter()
            .filter(|t| !t.estimated)
            .map(|t| t.duration)
            .collect();
        let unknown_weight = if measured.is_empty() {
            0.0
        } else {
            measured.iter().sum::<f64>() / measured.len() as f64
        };
        let weight = |u: usize| {
            let t = &p.tests[u];
            if t.estimated {
                t.duration.max(unknown_weight)
            } else {
                t.duration
            }
        };
        // A test without history could be any of the suite's tests: its variance is
        // at least that of the measured durations (large where a few tests are long).
        let measured_var = if measured.len() < 2 {
            0.0
        } else {
            measured
                .iter()
                .map(|d| (d - unknown_weight).powi(2))
                .sum::<f64>()
                / measured.len() as f64
        };
        let variance = |u: usize| {
            let t = &p.tests[u];
            let w = weight(u);
            if t.estimated {
                (w * UNKNOWN_SPREAD).powi(2).max(measured_var)
            } else {
                (w * t.spread.unwrap_or(DEFAULT_SPREAD)).powi(2)
            }
        };
        let mut items = Vec::with_capacity(n);
        for t in 0..n {
            if group_of[t] != t {
                continue;
            }
            let tests = members.remove(&t).unwrap_or_else(|| vec![t]);
            let set = self.intersect(&tests, set_ids, test_set)?;
            items.push(Item {
                base: tests.iter().map(|&u| weight(u)).sum(),
                var: tests.iter().map(|&u| variance(u)).sum(),
                overrides: tests.iter().any(|&u| !p.tests[u].pool_durations.is_empty()),
                wave: waves[t],
                linked: tests.iter().any(|&u| self.graph.is_linked(u)),
                first: t,
                set,
                tests,
            });
        }
        Ok(items)
    }

    /// Merges the tests of one file into units (batching). A file joins an existing
    /// chain only when every test involved shares eligibility and wave; a file heavier
    /// than a sixteenth of the mean shard is cut into pieces so it cannot unbalance
    /// the plan.
    fn group_files(
        &self,
        group_of: &mut [usize],
        members: &mut BTreeMap<usize, Vec<usize>>,
        test_set: &[usize],
        waves: &[u32],
    ) {
        let p = self.p;
        let total: f64 = p.tests.iter().map(|t| t.duration).sum();
        let cap = total / f64::from(p.shards) / 16.0;
        let count_cap = if self.batch > 0 {
            self.batch
        } else {
            usize::MAX
        };
        // Current piece per (file, eligibility, wave): (leader, seconds, tests).
        let mut open: BTreeMap<(&str, usize, u32), (usize, f64, usize)> = BTreeMap::new();
        for t in 0..p.tests.len() {
            let Some(file) = p.tests[t].file.as_deref() else {
                continue;
            };
            if group_of[t] != t || members.contains_key(&t) {
                // Part of a chain: chains keep their own unit.
                continue;
            }
            let key = (file, test_set[t], waves[t]);
            let d = p.tests[t].duration;
            match open.get_mut(&key) {
                Some((leader, secs, count)) if *secs + d <= cap.max(d) && *count < count_cap => {
                    group_of[t] = *leader;
                    members
                        .entry(*leader)
                        .or_insert_with(|| vec![*leader])
                        .push(t);
                    *secs += d;
                    *count += 1;
                }
                _ => {
                    open.insert(key, (t, d, 1));
                }
            }
        }
    }

    /// The eligibility set shared by all of `tests`.
    fn intersect(
        &mut self,
        tests: &[usize],
        set_ids: &mut BTreeMap<Vec<usize>, usize>,
        test_set: &[usize],
    ) -> Result<usize, PlanError> {
        let first = test_set[tests[0]];
        if tests.iter().all(|&t| test_set[t] == first) {
            return Ok(first);
        }
        let list: Vec<usize> = (0..self.pools.len())
            .filter(|&pool| tests.iter().all(|&t| self.sets[test_set[t]][pool]))
            .collect();
        if list.is_empty() {
            return Err(PlanError::ChainWithoutPool {
                tests: tests.iter().map(|&t| self.p.tests[t].id.clone()).collect(),
            });
        }
        let next = self.sets.len();
        let npools = self.pools.len();
        let sets = &mut self.sets;
        Ok(*set_ids.entry(list).or_insert_with_key(|list| {
            let mut mask = vec![false; npools];
            for &i in list {
                mask[i] = true;
            }
            sets.push(mask);
            next
        }))
    }

    /// Every unit, in inventory order.
    pub fn all_items(&self) -> Vec<usize> {
        (0..self.items.len()).collect()
    }

    /// Runners each pool offers.
    pub fn runners(&self) -> Vec<u32> {
        self.pools.iter().map(|pool| pool.runners).collect()
    }

    pub fn eligible(&self, item: usize, pool: usize) -> bool {
        self.sets[self.items[item].set][pool]
    }

    /// Seconds unit `item` takes on `pool`, start-up excluded.
    pub fn duration(&self, item: usize, pool: usize) -> f64 {
        let it = &self.items[item];
        let pool = &self.pools[pool];
        if it.overrides {
            it.tests
                .iter()
                .map(|&t| self.p.tests[t].duration_on(pool))
                .sum()
        } else {
            it.base / pool.speed
        }
    }

    /// Invocations for `count` tests (at least one: an empty shard is planned as if
    /// it will get tests).
    fn invocations(&self, count: usize) -> f64 {
        if self.batch == 0 {
            1.0
        } else {
            count.div_ceil(self.batch).max(1) as f64
        }
    }

    pub fn load_of(&self, pool: usize, work: f64, count: usize) -> f64 {
        work + self.pools[pool].startup * self.invocations(count)
    }

    pub fn load(&self, bins: &Bins, s: usize) -> f64 {
        self.load_of(bins.pool[s], bins.work[s], bins.count[s])
    }

    /// Variance of unit `item`'s time on `pool`: its spread scales with its duration.
    fn variance(&self, item: usize, pool: usize) -> f64 {
        let it = &self.items[item];
        if it.overrides && it.base > 0.0 {
            it.var * (self.duration(item, pool) / it.base).powi(2)
        } else {
            it.var / self.pools[pool].speed.powi(2)
        }
    }

    /// A shard's load at the risk level the robust pass plans for.
    pub fn risk(&self, bins: &Bins, s: usize) -> f64 {
        self.load(bins, s) + RISK_Z * bins.var[s].max(0.0).sqrt()
    }

    fn add(&self, bins: &mut Bins, s: usize, item: usize) {
        bins.var[s] += self.variance(item, bins.pool[s]);
        bins.work[s] += self.duration(item, bins.pool[s]);
        bins.count[s] += self.items[item].tests.len();
        bins.items[s].push(item);
    }

    // ---------------------------------------------------------------- layout

    /// Shards per pool for exactly `n` shards over `items` with `runners` free per pool.
    pub fn layout(&self, items: &[usize], n: u32, runners: &[u32]) -> Result<Vec<u32>, PlanError> {
        let layout = self.layouts(items, n, runners)?;
        if layout.max_shards() < n {
            return Err(PlanError::NotEnoughRunners {
                shards: n,
                runners: runners.iter().map(|&r| u64::from(r)).sum(),
            });
        }
        Ok(layout.counts(n))
    }

    /// The nested layouts for up to `max_n` shards (fewer when runners run out).
    pub fn layouts(
        &self,
        items: &[usize],
        max_n: u32,
        runners: &[u32],
    ) -> Result<Layout, PlanError> {
        let npools = self.pools.len();
        // Work per eligibility class (seconds at speed 1), and one test to name.
        let mut classes: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
        for &i in items {
            let it = &self.items[i];
            let e = classes.entry(it.set).or_insert((0.0, it.tests[0]));
            e.0 += it.base;
        }
        let mut counts = vec![0u32; npools];
        self.cover(&classes, &mut counts, runners)?;
        let covered: u32 = counts.iter().sum();
        if covered > max_n {
            return Err(PlanError::TooFewShards {
                shards: max_n,
                needed: covered,
                pools: (0..npools)
                    .filter(|&p| counts[p] > 0)
                    .map(|p| self.pools[p].name.clone())
                    .collect(),
            });
        }
        let fluid = Fluid::new(self, &classes);
        let mut layout = Layout {
            cover: counts.clone(),
            adds: Vec::new(),
            fluid: vec![fluid.wall(&counts)],
        };
        let mut total = covered;
        while total < max_n {
            let mut best: Option<(f64, usize)> = None;
            for p in 0..npools {
                if counts[p] >= runners[p] {
                    continue;
                }
                counts[p] += 1;
                let t = fluid.wall(&counts);
                counts[p] -= 1;
                let better = match best {
                    None => true,
                    Some((bt, bp)) => {
                        let (a, b) = (&self.pools[p], &self.pools[bp]);
                        cmp_f64(t, bt)
                            .then(cmp_f64(b.speed, a.speed))
                            .then(cmp_f64(a.startup, b.startup))
                            .is_lt()
                    }
                };
                if better {
                    best = Some((t, p));
                }
            }
            let Some((t, p)) = best else { break };
            counts[p] += 1;
            total += 1;
            layout.adds.push(p);
            layout.fluid.push(t);
        }
        Ok(layout)
    }

    /// Gives shards to pools until every class of tests has one on a pool it can run on:
    /// most restricted classes first, each on the free pool that covers the most
    /// uncovered classes (then the fastest).
    fn cover(
        &self,
        classes: &BTreeMap<usize, (f64, usize)>,
        counts: &mut [u32],
        runners: &[u32],
    ) -> Result<(), PlanError> {
        let npools = self.pools.len();
        let mut order: Vec<usize> = classes.keys().copied().collect();
        order.sort_by_key(|&k| (self.sets[k].iter().filter(|&&b| b).count(), k));
        let covered =
            |k: usize, counts: &[u32]| (0..npools).any(|p| self.sets[k][p] && counts[p] > 0);
        for &k in &order {
            if covered(k, counts) {
                continue;
            }
            let uncovered = |p: usize, counts: &[u32]| {
                order
                    .iter()
                    .filter(|&&j| self.sets[j][p] && !covered(j, counts))
                    .count()
            };
            let best = (0..npools)
                .filter(|&p| self.sets[k][p] && counts[p] < runners[p])
                .max_by(|&a, &b| {
                    let (pa, pb) = (&self.pools[a], &self.pools[b]);
                    uncovered(a, counts)
                        .cmp(&uncovered(b, counts))
                        .then(cmp_f64(pa.speed, pb.speed))
                        .then(cmp_f64(pb.startup, pa.startup))
                        .then(b.cmp(&a))
                });
            match best {
                Some(p) => counts[p] = 1,
                None => {
                    let test = classes[&k].1;
                    return Err(PlanError::NoEligiblePool {
                        test: self.p.tests[test].id.clone(),
                        pools: (0..npools)
                            .filter(|&p| self.sets[k][p])
                            .map(|p| self.pools[p].name.clone())
                            .collect(),
                    });
                }
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- balance

    /// Plans `items` over `n` shards per wave, each wave on its own layout.
    pub fn balance_waves(
        &self,
        items: &[usize],
        n: u32,
        runners: &[u32],
        how: Balance,
    ) -> Result<Vec<Bins>, PlanError> {
        if !self.p.waves || self.graph.has_no_edges() {
            return Ok(vec![self.balance(items, 0, n, runners, how)?]);
        }
        let mut forced: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        let mut free = Vec::new();
        for &i in items {
            let it = &self.items[i];
            if it.linked {
                forced.entry(it.wave).or_default().push(i);
            } else {
                free.push(i);
            }
        }
        let first = forced.remove(&0).unwrap_or_default();
        let mut later = Vec::new();
        for (wave, its) in forced {
            later.push(self.balance(&its, wave, n, runners, how)?);
        }
        if how == Balance::Timing {
            free = self.fill_holes(&mut later, free);
        }
        let mut wave0: Vec<usize> = first.into_iter().chain(free).collect();
        wave0.sort_unstable();
        let mut all = vec![self.balance(&wave0, 0, n, runners, how)?];
        all.extend(later);
        Ok(all)
    }

    /// One wave: layout, then the chosen balancing.
    pub fn balance(
        &self,
        items: &[usize],
        wave: u32,
        n: u32,
        runners: &[u32],
        how: Balance,
    ) -> Result<Bins, PlanError> {
        let layout = self.layout(items, n, runners)?;
        self.balance_on(items, wave, &layout, how)
    }

    /// One wave on a given layout.
    pub fn balance_on(
        &self,
        items: &[usize],
        wave: u32,
        layout: &[u32],
        how: Balance,
    ) -> Result<Bins, PlanError> {
        let mut bins = Bins::new(wave, layout);
        match how {
            Balance::RoundRobin => self.round_robin(&mut bins, items)?,
            Balance::Timing => {
                self.lpt(&mut bins, items)?;
                self.improve(&mut bins, IMPROVE_BUDGET);
                self.hedge(&mut bins, HEDGE_BUDGET);
            }
        }
        Ok(bins)
    }

    fn no_pool(&self, item: usize) -> PlanError {
        let it = &self.items[item];
        PlanError::NoEligiblePool {
            test: self.p.tests[it.tests[0]].id.clone(),
            pools: (0..self.pools.len())
                .filter(|&p| self.sets[it.set][p])
                .map(|p| self.pools[p].name.clone())
                .collect(),
        }
    }

    /// Unit *i* (in inventory order) to the next shard, skipping shards whose pool
    /// cannot run it.
    fn round_robin(&self, bins: &mut Bins, items: &[usize]) -> Result<(), PlanError> {
        let m = bins.len();
        let mut order = items.to_vec();
        order.sort_unstable_by_key(|&i| self.items[i].first);
        let mut cursor = 0;
        for i in order {
            let s = (0..m)
                .map(|k| (cursor + k) % m)
                .find(|&s| self.eligible(i, bins.pool[s]))
                .ok_or_else(|| self.no_pool(i))?;
            self.add(bins, s, i);
            cursor = s + 1;
        }
        Ok(())
    }

    /// Longest unit first, each on the shard where it would finish earliest.
    pub fn lpt(&self, bins: &mut Bins, items: &[usize]) -> Result<(), PlanError> {
        let mut order = items.to_vec();
        order.sort_unstable_by(|&a, &b| {
            let (ia, ib) = (&self.items[a], &self.items[b]);
            cmp_f64(ib.base, ia.base).then(ia.first.cmp(&ib.first))
        });
        // Ties in load go to the shard with the fewest tests: many real tests report a
        // time of 0, and without this every one of them would land on one shard.
        let mut heaps: Vec<BinaryHeap<Reverse<(Key, usize, usize)>>> =
            vec![BinaryHeap::new(); self.pools.len()];
        for s in 0..bins.len() {
            heaps[bins.pool[s]].push(Reverse((Key(self.load(bins, s)), bins.count[s], s)));
        }
        for i in order {
            let mut best: Option<(f64, usize, usize)> = None;
            for (pool, heap) in heaps.iter().enumerate() {
                if !self.eligible(i, pool) {
                    continue;
                }
                let Some(&Reverse((_, count, s))) = heap.peek() else {
                    continue;
                };
                let finish = self.load_of(
                    pool,
                    bins.work[s] + self.duration(i, pool),
                    bins.count[s] + self.items[i].tests.len(),
                );
                let better = best.is_none_or(|(bf, bc, bs)| {
                    cmp_f64(finish, bf)
                        .then(count.cmp(&bc))
                        .then(s.cmp(&bs))
                        .is_lt()
                });
                if better {
                    best = Some((finish, count, s));
                }
            }
            let (_, _, s) = best.ok_or_else(|| self.no_pool(i))?;
            let pool = bins.pool[s];
            heaps[pool].pop();
            self.add(bins, s, i);
            heaps[pool].push(Reverse((Key(self.load(bins, s)), bins.count[s], s)));
        }
        Ok(())
    }

    /// Moves and swaps between the slowest shard and the others while that lowers the
    /// slowest of the pair, best improvement first; stops when the slowest shard cannot
    /// be improved or the budget is spent.
    pub fn improve(&self, bins: &mut Bins, mut budget: u64) {
        let m = bins.len();
        if m < 2 {
            return;
        }
        for s in 0..m {
            let items = &mut bins.items[s];
            items.sort_unstable_by(|&a, &b| self.by_size(a, b));
        }
        let mut others: Vec<usize> = Vec::with_capacity(m);
        while budget > 0 {
            let loads: Vec<f64> = (0..m).map(|s| self.load(bins, s)).collect();
            let top = (0..m)
                .max_by(|&a, &b| cmp_f64(loads[a], loads[b]).then(b.cmp(&a)))
                .unwrap_or(0);
            let top_load = loads[top];
            let eps = 1e-9 * top_load.abs().max(1e-9);
            others.clear();
            others.extend((0..m).filter(|&s| s != top && loads[s] < top_load - eps));
            others.sort_unstable_by(|&a, &b| cmp_f64(loads[a], loads[b]).then(a.cmp(&b)));
            let mut step = None;
            for &s in &others {
                budget = budget.saturating_sub(bins.items[top].len() as u64 * 4 + 16);
                step = self.best_step(bins, top, s, top_load - eps);
                if step.is_some() || budget == 0 {
                    break;
                }
            }
            match step {
                Some(step) => self.apply(bins, top, step),
                None => break,
            }
        }
    }

    /// The robust pass: with the predicted wall time fixed, moves and swaps that lower
    /// the riskiest shard's load plus [`RISK_Z`] standard deviations, never letting a
    /// shard's predicted load rise above the slowest one's. Durations vary from run to
    /// run in proportion to their size, so a shard of a few long tests is likelier to
    /// run late than one of many short tests with the same total; on a slow pool more
    /// so. Where the predicted wall time leaves room (a long test sets it, or the tests
    /// are few), this puts the long, uncertain work where a surprise costs least.
    pub fn hedge(&self, bins: &mut Bins, mut budget: u64) {
        let m = bins.len();
        if m < 2 {
            return;
        }
        let loads: Vec<f64> = (0..m).map(|s| self.load(bins, s)).collect();
        let wall = loads.iter().copied().fold(0.0, f64::max);
        // Never above the predicted wall time (which stays what it was).
        let limit = wall + 1e-9 * wall.abs().max(1e-9);
        let mut others: Vec<usize> = Vec::with_capacity(m);
        // Shards that cannot be made safer; the pass goes on with the riskiest of the
        // rest, so one long test alone on its shard does not end it.
        let mut settled = vec![false; m];
        let mut risks: Vec<f64> = (0..m).map(|s| self.risk(bins, s)).collect();
        while budget > 0 {
            let Some(top) = (0..m)
                .filter(|&s| !settled[s])
                .max_by(|&a, &b| cmp_f64(risks[a], risks[b]).then(b.cmp(&a)))
            else {
                break;
            };
            let top_risk = risks[top];
            let eps = 1e-9 * top_risk.abs().max(1e-9);
            others.clear();
            others.extend((0..m).filter(|&s| !settled[s] && s != top && risks[s] < top_risk - eps));
            others.sort_unstable_by(|&a, &b| cmp_f64(risks[a], risks[b]).then(a.cmp(&b)));
            let mut best: Option<(f64, Step)> = None;
            for &s in &others {
                budget = budget.saturating_sub(HEDGE_CANDIDATES as u64 * 8 + 16);
                let found = self.hedge_step(bins, top, s, top_risk - eps, limit);
                if let Some(found) = found
                    && best.as_ref().is_none_or(|(b, _)| found.0 < *b)
                {
                    best = Some(found);
                }
                if budget == 0 {
                    break;
                }
            }
            match best {
                Some((_, step)) => {
                    let partner = match step {
                        Step::Move { to, .. } => to,
                        Step::Swap { with, .. } => with,
                    };
                    self.apply(bins, top, step);
                    risks[top] = self.risk(bins, top);
                    risks[partner] = self.risk(bins, partner);
                }
                None => settled[top] = true,
            }
        }
    }

    /// The move or swap between `top` and `s` that lowers the higher of their risks
    /// most, below `below`, with both predicted loads at most `limit`. Only the
    /// largest units of each shard are tried: they carry the variance.
    fn hedge_step(
        &self,
        bins: &Bins,
        top: usize,
        s: usize,
        below: f64,
        limit: f64,
    ) -> Option<(f64, Step)> {
        let (pt, ps) = (bins.pool[top], bins.pool[s]);
        let mut best: Option<(f64, Step)> = None;
        let shard = |pool: usize, work: f64, var: f64, count: usize| {
            let load = self.load_of(pool, work, count);
            (load, load + RISK_Z * var.max(0.0).sqrt())
        };
        let top_items = &bins.items[top];
        let s_items = &bins.items[s];
        let tail = |len: usize| len.saturating_sub(HEDGE_CANDIDATES)..len;
        for ka in tail(top_items.len()) {
            let a = top_items[ka];
            if !self.eligible(a, ps) {
                continue;
            }
            let (da_t, da_s) = (self.duration(a, pt), self.duration(a, ps));
            let (va_t, va_s) = (self.variance(a, pt), self.variance(a, ps));
            let na = self.items[a].tests.len();
            let mut consider = |swap: Option<(usize, usize)>| {
                let (mut wt, mut vt, mut ct) = (
                    bins.work[top] - da_t,
                    bins.var[top] - va_t,
                    bins.count[top] - na,
                );
                let (mut ws, mut vs, mut cs) =
                    (bins.work[s] + da_s, bins.var[s] + va_s, bins.count[s] + na);
                if let Some((_, b)) = swap {
                    let nb = self.items[b].tests.len();
                    ws -= self.duration(b, ps);
                    vs -= self.variance(b, ps);
                    cs -= nb;
                    wt += self.duration(b, pt);
                    vt += self.variance(b, pt);
                    ct += nb;
                }
                let (lt, rt) = shard(pt, wt, vt, ct);
                let (ls, rs) = shard(ps, ws, vs, cs);
                let score = rt.max(rs);
                if lt <= limit
                    && ls <= limit
                    && score < below
                    && best.as_ref().is_none_or(|(b, _)| score < *b)
                {
                    let step = match swap {
                        None => Step::Move { a: ka, to: s },
                        Some((kb, _)) => Step::Swap {
                            a: ka,
                            b: kb,
                            with: s,
                        },
                    };
                    best = Some((score, step));
                }
            };
            consider(None);
            // Swaps with the largest units of `s` that are smaller than `a`.
            let below_a = s_items.partition_point(|&i| self.by_size(i, a).is_lt());
            let from = below_a.saturating_sub(HEDGE_CANDIDATES);
            for (kb, &b) in s_items.iter().enumerate().take(below_a).skip(from) {
                if self.eligible(b, pt) {
                    consider(Some((kb, b)));
                }
            }
        }
        best
    }

    fn by_size(&self, a: usize, b: usize) -> Ordering {
        let (ia, ib) = (&self.items[a], &self.items[b]);
        cmp_f64(ia.base, ib.base).then(ia.first.cmp(&ib.first))
    }

    /// The best move of one unit from `top` to `s`, or swap of a unit of `top` with a
    /// unit of `s`, if it brings both below `limit`.
    fn best_step(&self, bins: &Bins, top: usize, s: usize, limit: f64) -> Option<Step> {
        let (pt, ps) = (bins.pool[top], bins.pool[s]);
        let (vt, vs) = (self.pools[pt].speed, self.pools[ps].speed);
        let gap = self.load(bins, top) - self.load(bins, s);
        // The unit size (at speed 1) that would even out the pair.
        let even = gap / (1.0 / vt + 1.0 / vs);
        let top_items = &bins.items[top];
        let s_items = &bins.items[s];
        let mut best: Option<(f64, Step)> = None;
        let mut consider = |score: f64, step: Step| {
            if score < limit && best.as_ref().is_none_or(|(b, _)| score < *b) {
                best = Some((score, step));
            }
        };
        let score_of = |out_top: usize, out_s: Option<usize>| -> f64 {
            let (mut wt, mut ct) = (bins.work[top], bins.count[top]);
            let (mut ws, mut cs) = (bins.work[s], bins.count[s]);
            wt -= self.duration(out_top, pt);
            ct -= self.items[out_top].tests.len();
            ws += self.duration(out_top, ps);
            cs += self.items[out_top].tests.len();
            if let Some(b) = out_s {
                ws -= self.duration(b, ps);
                cs -= self.items[b].tests.len();
                wt += self.duration(b, pt);
                ct += self.items[b].tests.len();
            }
            self.load_of(pt, wt, ct).max(self.load_of(ps, ws, cs))
        };

        // Moves: units of `top` near the even size.
        let at = top_items.partition_point(|&i| self.items[i].base < even);
        let window = at.saturating_sub(4)..(at + 4).min(top_items.len());
        for (k, &a) in top_items
            .iter()
            .enumerate()
            .take(window.end)
            .skip(window.start)
        {
            if self.eligible(a, ps) {
                consider(score_of(a, None), Step::Move { a: k, to: s });
            }
        }
        // Swaps: for every unit of `top`, the units of `s` that differ by about `even`.
        if !s_items.is_empty() {
            for (ka, &a) in top_items.iter().enumerate() {
                if !self.eligible(a, ps) {
                    continue;
                }
                let want = self.items[a].base - even;
                let at = s_items.partition_point(|&i| self.items[i].base < want);
                let window = at.saturating_sub(1)..(at + 1).min(s_items.len());
                for (kb, &b) in s_items
                    .iter()
                    .enumerate()
                    .take(window.end)
                    .skip(window.start)
                {
                    if self.eligible(b, pt) {
                        consider(
                            score_of(a, Some(b)),
                            Step::Swap {
                                a: ka,
                                b: kb,
                                with: s,
                            },
                        );
                    }
                }
            }
        }
        best.map(|(_, step)| step)
    }

    fn apply(&self, bins: &mut Bins, top: usize, step: Step) {
        match step {
            Step::Move { a, to } => {
                let item = bins.items[top].remove(a);
                self.take(bins, top, item);
                self.put(bins, to, item);
            }
            Step::Swap { a, b, with } => {
                let ia = bins.items[top].remove(a);
                let ib = bins.items[with].remove(b);
                self.take(bins, top, ia);
                self.take(bins, with, ib);
                self.put(bins, with, ia);
                self.put(bins, top, ib);
            }
        }
    }

    /// Moves unit `item` from shard `from` to shard `to` (same wave).
    pub fn move_item(&self, bins: &mut Bins, from: usize, to: usize, item: usize) {
        if let Some(at) = bins.items[from].iter().position(|&i| i == item) {
            bins.items[from].remove(at);
            self.take(bins, from, item);
            self.add(bins, to, item);
        }
    }

    /// Accounts for a unit already removed from `bins.items[s]`.
    fn take(&self, bins: &mut Bins, s: usize, item: usize) {
        bins.var[s] -= self.variance(item, bins.pool[s]);
        bins.work[s] -= self.duration(item, bins.pool[s]);
        bins.count[s] -= self.items[item].tests.len();
    }

    /// Adds a unit to `s`, keeping its units sorted by size.
    fn put(&self, bins: &mut Bins, s: usize, item: usize) {
        bins.var[s] += self.variance(item, bins.pool[s]);
        bins.work[s] += self.duration(item, bins.pool[s]);
        bins.count[s] += self.items[item].tests.len();
        let at = bins.items[s].partition_point(|&i| self.by_size(i, item).is_lt());
        bins.items[s].insert(at, item);
    }

    /// Fills the idle time of later waves (below each wave's slowest shard) with free
    /// units, largest that fits first; returns the units left for wave 0.
    fn fill_holes(&self, waves: &mut [Bins], mut free: Vec<usize>) -> Vec<usize> {
        free.sort_unstable_by(|&a, &b| self.by_size(a, b));
        let bases: Vec<f64> = free.iter().map(|&i| self.items[i].base).collect();
        // `below[j]`: the largest untaken position < j, plus one (0: none), with path
        // compression.
        let mut below: Vec<usize> = (0..=free.len()).collect();
        fn lookup(below: &mut [usize], mut j: usize) -> usize {
            while below[j] != j {
                below[j] = below[below[j]];
                j = below[j];
            }
            j
        }
        let mut taken = vec![false; free.len()];
        for bins in waves.iter_mut() {
            let top = (0..bins.len())
                .filter(|&s| bins.count[s] > 0)
                .map(|s| self.load(bins, s))
                .fold(0.0, f64::max);
            for s in 0..bins.len() {
                let pool = bins.pool[s];
                loop {
                    let hole = top - self.load(bins, s);
                    if hole <= 1e-9 * top.max(1e-9) {
                        break;
                    }
                    let fits = bases.partition_point(|&b| b <= hole * self.pools[pool].speed);
                    let mut j = lookup(&mut below, fits);
                    let mut placed = false;
                    for _ in 0..32 {
                        if j == 0 {
                            break;
                        }
                        let i = free[j - 1];
                        let after = self.load_of(
                            pool,
                            bins.work[s] + self.duration(i, pool),
                            bins.count[s] + self.items[i].tests.len(),
                        );
                        if self.eligible(i, pool) && after <= top {
                            self.add(bins, s, i);
                            taken[j - 1] = true;
                            below[j] = j - 1;
                            placed = true;
                            break;
                        }
                        j = lookup(&mut below, j - 1);
                    }
                    if !placed {
                        break;
                    }
                }
            }
        }
        free.iter()
            .zip(&taken)
            .filter(|&(_, &t)| !t)
            .map(|(&i, _)| i)
            .collect()
    }

    // ---------------------------------------------------------------- finish

    /// Turns planned waves into an assignment: each shard's tests in `order`, then in
    /// dependency order, cut into batches. Empty shards of later waves are dropped.
    pub fn finish(&self, waves: Vec<Bins>, order: Order) -> Assignment {
        let mut shards = Vec::new();
        for bins in waves {
            for s in 0..bins.len() {
                if bins.wave > 0 && bins.count[s] == 0 {
                    continue;
                }
                let tests = self.shard_tests(&bins.items[s], order);
                let batches = self.batches(&tests);
                shards.push(ShardAssignment {
                    pool: bins.pool[s],
                    wave: bins.wave,
                    tests,
                    batches,
                });
            }
        }
        Assignment { shards }
    }

    fn shard_tests(&self, items: &[usize], order: Order) -> Vec<usize> {
        let mut tests: Vec<usize> = items
            .iter()
            .flat_map(|&i| self.items[i].tests.iter().copied())
            .collect();
        let t = &self.p.tests;
        match order {
            Order::Inventory => tests.sort_unstable(),
            Order::Priority => tests.sort_unstable_by(|&a, &b| {
                t[b].priority
                    .cmp(&t[a].priority)
                    .then(cmp_f64(t[b].duration, t[a].duration))
                    .then(a.cmp(&b))
            }),
            Order::ByFile => {
                tests.sort_unstable();
                let mut rank: BTreeMap<&str, usize> = BTreeMap::new();
                for &u in &tests {
                    if let Some(f) = t[u].file.as_deref() {
                        rank.entry(f).or_insert(u);
                    }
                }
                tests.sort_by_key(|&u| (t[u].file.as_deref().map_or(u, |f| rank[f]), u));
            }
        }
        self.graph.execution_order(&tests)
    }

    /// Invocation sizes for a shard's ordered tests: the fewest batches of at most
    /// `max_batch` tests, each cut placed at a file boundary when one is in reach.
    fn batches(&self, tests: &[usize]) -> Vec<usize> {
        cut_batches(tests.len(), self.batch, |k| {
            let (a, b) = (&self.p.tests[tests[k - 1]], &self.p.tests[tests[k]]);
            a.file.is_none() || a.file != b.file
        })
    }
}

/// Sizes of the fewest batches of at most `limit` items over `k` items (`[k]` without
/// a limit, `[]` when empty); `boundary(e)` says whether a cut before item `e` falls
/// between files. Each cut goes to the last boundary within reach, else as far as the
/// limit allows.
pub(crate) fn cut_batches(k: usize, limit: usize, boundary: impl Fn(usize) -> bool) -> Vec<usize> {
    if k == 0 {
        return Vec::new();
    }
    if limit == 0 || k <= limit {
        return vec![k];
    }
    let count = k.div_ceil(limit);
    let mut sizes = Vec::with_capacity(count);
    let mut start = 0;
    for j in 0..count - 1 {
        let rest = count - j - 1;
        let lo = (start + 1).max(k.saturating_sub(rest * limit));
        let hi = (start + limit).min(k - rest);
        let end = (lo..=hi).rev().find(|&e| boundary(e)).unwrap_or(hi);
        sizes.push(end - start);
        start = end;
    }
    sizes.push(k - start);
    sizes
}

#[derive(Clone, Copy, Debug)]
enum Step {
    /// Unit at position `a` of the slowest shard moves to shard `to`.
    Move { a: usize, to: usize },
    /// Unit at position `a` of the slowest shard trades places with unit `b` of `with`.
    Swap { a: usize, b: usize, with: usize },
}

/// The fluid wall-time estimate behind [`Ctx::layouts`]: work spread perfectly over
/// the shards of the pools that may run it (Hall's condition over sets of pools).
struct Fluid {
    speed: Vec<f64>,
    startup: Vec<f64>,
    /// (pool mask, seconds of work only those pools may run).
    sets: Vec<(u64, f64)>,
    /// More than 64 pools: no masks; the estimate is the plain average.
    total: f64,
    exact: bool,
}

impl Fluid {
    /// Exact over all subsets up to this many pools; above, over the classes' own sets.
    const EXACT_POOLS: usize = 12;

    fn new(ctx: &Ctx<'_>, classes: &BTreeMap<usize, (f64, usize)>) -> Fluid {
        let npools = ctx.pools.len();
        let speed = ctx.pools.iter().map(|p| p.speed).collect();
        let startup = ctx.pools.iter().map(|p| p.startup).collect();
        let total = classes.values().map(|c| c.0).sum();
        if npools > 64 {
            return Fluid {
                speed,
                startup,
                sets: Vec::new(),
                total,
                exact: false,
            };
        }
        let mask_of = |k: usize| {
            (0..npools)
                .filter(|&p| ctx.sets[k][p])
                .fold(0u64, |m, p| m | (1 << p))
        };
        let class_masks: Vec<(u64, f64)> = classes
            .iter()
            .map(|(&k, &(w, _))| (mask_of(k), w))
            .collect();
        let sets = if npools <= Self::EXACT_POOLS {
            // Sum over subsets: work[S] = work of classes whose pools all lie in S.
            let size = 1usize << npools;
            let mut work = vec![0.0; size];
            for &(m, w) in &class_masks {
                work[m as usize] += w;
            }
            for p in 0..npools {
                for s in 0..size {
                    if s & (1 << p) != 0 {
                        work[s] += work[s ^ (1 << p)];
                    }
                }
            }
            (1..size)
                .filter(|&s| work[s] > 0.0)
                .map(|s| (s as u64, work[s]))
                .collect()
        } else {
            let mut family: Vec<u64> = class_masks.iter().map(|c| c.0).collect();
            family.push(if npools == 64 {
                u64::MAX
            } else {
                (1u64 << npools) - 1
            });
            family.sort_unstable();
            family.dedup();
            family
                .into_iter()
                .map(|s| {
                    (
                        s,
                        class_masks
                            .iter()
                            .filter(|c| c.0 & !s == 0)
                            .map(|c| c.1)
                            .sum(),
                    )
                })
                .collect()
        };
        Fluid {
            speed,
            startup,
            sets,
            total,
            exact: true,
        }
    }

    /// Estimated wall seconds with `counts` shards per pool.
    fn wall(&self, counts: &[u32]) -> f64 {
        if !self.exact {
            let cap: f64 = counts
                .iter()
                .zip(&self.speed)
                .map(|(&c, v)| f64::from(c) * v)
                .sum();
            return if cap > 0.0 {
                self.total / cap
            } else {
                f64::INFINITY
            };
        }
        let mut worst: f64 = 0.0;
        for &(mask, work) in &self.sets {
            let (mut cap, mut start) = (0.0, 0.0);
            let mut m = mask;
            while m != 0 {
                let p = m.trailing_zeros() as usize;
                m &= m - 1;
                let c = f64::from(counts[p]) * self.speed[p];
                cap += c;
                start += c * self.startup[p];
            }
            let t = if cap > 0.0 {
                (work + start) / cap
            } else {
                f64::INFINITY
            };
            worst = worst.max(t);
        }
        worst
    }
}

#[cfg(test)]
mod tests {
    use super::cut_batches;

    fn check(k: usize, limit: usize, files: &[u8], expected: &[usize]) {
        let boundary = |e: usize| files.is_empty() || files[e - 1] != files[e];
        assert_eq!(
            cut_batches(k, limit, boundary),
            expected,
            "k={k} limit={limit} files={files:?}"
        );
    }

    #[test]
    fn batches_are_fewest_and_prefer_file_boundaries() {
        check(0, 3, &[], &[]);
        check(5, 0, &[], &[5]);
        check(3, 3, &[], &[3]);
        check(7, 3, &[], &[3, 3, 1]);
        // Files a a b b b c c: the first cut falls after `a a` (a boundary within reach).
        check(7, 3, b"aabbbcc", &[2, 3, 2]);
        // One long file has no boundary in reach: cut at the limit.
        check(7, 3, b"aaaaaaa", &[3, 3, 1]);
        // Still the fewest batches: 6 tests, limit 3, boundary after 1 would need 3 batches.
        check(6, 3, b"abbbbb", &[3, 3]);
    }
}
