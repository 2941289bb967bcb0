//! One shard of a plan, run on this runner: the tests in plan order, spread over
//! worker slots, every result read back, lost and transient failures retried, and
//! everything written to the results folder even when the run is cancelled.
//!
//! **Units and lanes.** Each batch of the plan is one invocation of the framework (a
//! *unit*). Without batches, a sequential shard is one invocation of all its tests
//! and a parallel one is cut into `2 × slots` consecutive units of about equal
//! predicted time. Units whose tests are linked by [`RunOptions::together`]
//! (dependency chains) form one *lane* that runs on one slot, in plan order; every
//! other unit is a lane of its own. Slots take lanes in plan order; with
//! [`Parallelism::ResourceAware`] a slot skips ahead to the first lane whose memory
//! and GPU needs fit what is free, so the machine is never oversubscribed. A lane
//! needs the most any of its tests needs (tests of one invocation are taken to run
//! one at a time; a framework's own parallelism inside an invocation is the
//! preset's to bound). Each invocation learns its GPUs from `DTF_GPUS` (`0,1`),
//! with `DTF_SHARD`, `DTF_SLOT`, `DTF_ATTEMPT` and `DTF_INVOCATION`.
//!
//! **Results.** After each invocation its JUnit files are read (what was written
//! before a crash counts, even from a truncated file); a case's id goes through
//! [`Framework::planned_id`]. A planned test that is not in the output is *lost*.
//!
//! **Retries.** A failure whose category is transient (infrastructure, timeout,
//! crash, lost) is run again, up to [`RunOptions::retries`] times with exponential
//! [`Backoff`]; other failures only with [`RunOptions::retry_failed`]. Only the tests
//! that need it are invoked again. Every attempt is its own `<testcase>`, so a test
//! that passes after a failure or a loss is flaky, and a test that stays lost is an
//! `<error type="lost">` (category lost).
//!
//! **Timeouts and crashes in a batch.** When dtf stops a batch for a timeout, it
//! sends SIGINT first (see [`crate::exec`]), so frameworks report what finished. A
//! test reported as killed by that signal is the one that timed out: it becomes an
//! error of category timeout, and the tests the framework did not get to run again
//! together. Being stopped for another test's timeout is not an attempt: those
//! tests appear in the timeline's `interrupted` list, not in the JUnit. When several
//! tests are lost and nobody knows which was at fault (a crash, or a timeout the
//! framework did not attribute), the lost set is halved and run again, down to
//! single tests, without spending their retries, within a budget of
//! `2 × ceil(log2 n) + 2` such invocations per unit (enough to isolate one culprit
//! among `n`; a framework that fails every time soon exhausts it). A crash does
//! fail the tests under it, so their lost attempt is recorded (a later pass is
//! flaky); a timeout's bystanders get no attempt. A test alone in an invocation
//! that times out is a timeout; one that is lost alone is lost, and both spend
//! retries. On cancellation, a test that "failed" only by dtf's signal has no
//! result: it is listed as not run.
//!
//! **Timeline.** One test per invocation: its start and end are the invocation's. In
//! a batch the JUnit times are laid end to end from the invocation's start, in the
//! order the file lists them, and clipped to its end; the first lost test takes the
//! rest of the invocation, later lost ones are points at its end.
//!
//! **Output** (in [`RunOptions::out_dir`]): `junit.xml` (every attempt),
//! `summary.json` (`dtf.summary.v1`, the core's merge of that JUnit),
//! `shard-summary.json` (`dtf.shard.v1`: categories, failure groups, attempts,
//! partial), `timeline.json` (`dtf.timeline.v1`), `logs/` (each invocation's output)
//! and the bundle `dtf-shard-K.zip` of all of them. The folder must be writable at the
//! start; if it stops being writable later, results stay in memory, the run goes on,
//! and [`ShardOutcome::problems`] says what could not be written.

mod files;
mod output;
mod unit;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use dtf_core::categorize::{Categorizer, Category};
use dtf_core::metadata::BuildMetadata;
use dtf_core::model::Status;
use dtf_plan::config::Config;
use dtf_plan::model::{Plan, ReqOp, Requirement};
use serde::Serialize;

use crate::preset::Framework;
use crate::status::{Event, NullSink, StatusSink, Tracker};

pub use output::{SHARD_SCHEMA, TIMELINE_SCHEMA};

/// How many tests run at once.
#[derive(Clone, Debug, PartialEq)]
pub enum Parallelism {
    /// One invocation at a time.
    Sequential,
    /// Up to this many invocations at once (`--jobs`).
    MaxParallel(usize),
    /// Up to `slots` invocations at once, and never more memory or GPUs than
    /// `capacity` among them. `needs` gives a test's needs by id (see
    /// [`Resources::from_requirements`]); a unit needs the most any of its tests needs.
    ResourceAware {
        slots: usize,
        capacity: Resources,
        needs: HashMap<String, Resources>,
    },
}

impl Parallelism {
    pub fn slots(&self) -> usize {
        match self {
            Parallelism::Sequential => 1,
            Parallelism::MaxParallel(n) => (*n).max(1),
            Parallelism::ResourceAware { slots, .. } => (*slots).max(1),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Parallelism::Sequential => "sequential",
            Parallelism::MaxParallel(_) => "max-parallel",
            Parallelism::ResourceAware { .. } => "resource-aware",
        }
    }
}

/// Memory and GPUs: what a test needs, or what a machine has. On a capacity, 0 memory
/// means "not counted".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Resources {
    pub memory_mb: u64,
    pub gpus: u32,
}

impl Resources {
    /// A test's needs from its `dtf.toml` requirements: `memory >= 4GB` needs 4096 MB,
    /// and any `gpu.*` or `cuda` requirement one GPU.
    pub fn from_requirements(requirements: &[Requirement]) -> Resources {
        let mut r = Resources::default();
        for req in requirements {
            let key = req.key.as_str();
            if key == "memory" && matches!(req.op, ReqOp::AtLeast | ReqOp::Eq) {
                if let Some(bytes) = dtf_plan::capability::parse_size(&req.value) {
                    r.memory_mb = r.memory_mb.max((bytes / (1024.0 * 1024.0)).ceil() as u64);
                }
            } else if key == "cuda" || key == "gpu" || key.starts_with("gpu.") {
                r.gpus = r.gpus.max(1);
            }
        }
        r
    }

    fn max(self, other: Resources) -> Resources {
        Resources {
            memory_mb: self.memory_mb.max(other.memory_mb),
            gpus: self.gpus.max(other.gpus),
        }
    }
}

/// Delay before retry `n` (1-based): `initial × factor^(n-1)`, at most `max`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub factor: f64,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            factor: 2.0,
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// No waiting at all (tests, or frameworks that are cheap to restart).
    pub fn none() -> Backoff {
        Backoff {
            initial: Duration::ZERO,
            factor: 1.0,
            max: Duration::ZERO,
        }
    }

    pub fn delay(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(64) as i32;
        let secs = self.initial.as_secs_f64() * self.factor.max(1.0).powi(exp);
        let capped = secs.min(self.max.as_secs_f64());
        if capped.is_finite() && capped > 0.0 {
            Duration::from_secs_f64(capped)
        } else {
            Duration::ZERO
        }
    }
}

/// Everything a shard's run needs; build it with [`RunOptions::new`] and set fields.
pub struct RunOptions {
    pub plan: Plan,
    /// 1-based, as `plan.json` numbers shards.
    pub shard: u32,
    pub framework: Box<dyn Framework>,
    pub mode: Parallelism,
    /// Re-runs allowed per test after its first attempt.
    pub retries: u32,
    /// Retry failures of every category, not only transient ones.
    pub retry_failed: bool,
    pub backoff: Backoff,
    /// One test's limit: the invocation's limit when it runs one test, and the longest
    /// a batch may go without progress (see [`crate::exec`]).
    pub test_timeout: Option<Duration>,
    /// One invocation's limit, however many tests it runs.
    pub invocation_timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL when an invocation is stopped.
    pub kill_grace: Duration,
    pub out_dir: PathBuf,
    /// `--status-file`: `dtf.status.v1` JSON, rewritten atomically while running.
    pub status_file: Option<PathBuf>,
    pub categorizer: Categorizer,
    /// Set it (from a SIGINT/SIGTERM handler) to stop: children are killed and what
    /// was collected is written, marked partial.
    pub cancel: Arc<AtomicBool>,
    /// Recorded in the bundle's manifest and the summary.
    pub build: Option<BuildMetadata>,
    /// Predicted seconds per test id, for the ETA and for cutting parallel units;
    /// missing tests get an equal share of the shard's `predicted_s`.
    pub predicted: HashMap<String, f64>,
    /// Groups of tests that must run in plan order on one slot (dependency chains).
    pub together: Vec<Vec<String>>,
    /// Write `dtf-shard-K.zip` at the end.
    pub bundle: bool,
    /// Re-run the tests a crash or timeout lost, halving the set, without spending
    /// their retries (see the module documentation).
    pub isolate_lost: bool,
}

impl RunOptions {
    /// Sequential, no retries, no timeouts, 5 s kill grace, built-in categories, a
    /// bundle, and lost-test isolation on.
    pub fn new(
        plan: Plan,
        shard: u32,
        framework: Box<dyn Framework>,
        out_dir: impl Into<PathBuf>,
    ) -> RunOptions {
        RunOptions {
            plan,
            shard,
            framework,
            mode: Parallelism::Sequential,
            retries: 0,
            retry_failed: false,
            backoff: Backoff::default(),
            test_timeout: None,
            invocation_timeout: None,
            kill_grace: Duration::from_secs(5),
            out_dir: out_dir.into(),
            status_file: None,
            categorizer: Categorizer::builtin(),
            cancel: Arc::new(AtomicBool::new(false)),
            build: None,
            predicted: HashMap::new(),
            together: Vec::new(),
            bundle: true,
            isolate_lost: true,
        }
    }
}

/// Why a shard could not run at all. Anything that goes wrong once tests run is
/// recorded in the results instead.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the plan has no shard {shard} (it has {shards}: 1 to {shards})")]
    NoSuchShard { shard: u32, shards: usize },
    #[error(
        "the results folder {} is not writable: {source} (dtf checked by creating a file in it before running any test)",
        path.display()
    )]
    OutputNotWritable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create a temporary folder for the framework's files: {0}")]
    WorkDir(#[source] io::Error),
}

/// The verdict on one test, kept in memory whatever could be written.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestVerdict {
    pub id: String,
    pub status: Status,
    pub attempts: u32,
    /// Why it failed (or, when flaky, why it failed before it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Never reported by the framework, after every retry.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lost: bool,
    /// Seconds of its last attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
}

/// Counts over the shard's tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub planned: usize,
    pub passed: usize,
    pub failed: usize,
    /// Errored, lost ones included.
    pub errored: usize,
    pub skipped: usize,
    pub flaky: usize,
    pub lost: usize,
    /// Planned tests that never ran (the run was cancelled first).
    pub not_run: usize,
}

impl Counts {
    /// Failed, errored or lost tests.
    pub fn failures(&self) -> usize {
        self.failed + self.errored
    }
}

/// The files a run wrote; `None` where writing failed (see `problems`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OutputFiles {
    pub junit: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub shard_summary: Option<PathBuf>,
    pub timeline: Option<PathBuf>,
    pub logs: PathBuf,
    pub bundle: Option<PathBuf>,
}

/// What a shard's run came to.
#[derive(Clone, Debug, Serialize)]
pub struct ShardOutcome {
    pub shard: u32,
    /// Cancelled before every test had its verdict: the results are incomplete.
    pub partial: bool,
    /// The cancellation flag was set during the run.
    pub cancelled: bool,
    pub counts: Counts,
    /// One verdict per test that ran, in plan order.
    pub tests: Vec<TestVerdict>,
    /// Planned tests that never ran.
    pub not_run: Vec<String>,
    pub invocations: u32,
    pub duration: Duration,
    pub files: OutputFiles,
    /// What could not be written or read; the run went on regardless.
    pub problems: Vec<String>,
}

impl ShardOutcome {
    /// Complete, written, and without failures (flaky tests pass).
    pub fn success(&self) -> bool {
        !self.partial && self.counts.failures() == 0 && self.problems.is_empty()
    }
}

/// A shard's run. `ShardRun::new(options).with_sink(..).run()`.
pub struct ShardRun {
    options: RunOptions,
    sink: Option<Box<dyn StatusSink>>,
}

impl ShardRun {
    pub fn new(options: RunOptions) -> ShardRun {
        ShardRun {
            options,
            sink: None,
        }
    }

    /// Where live status goes; nowhere by default.
    pub fn with_sink(mut self, sink: Box<dyn StatusSink>) -> ShardRun {
        self.sink = Some(sink);
        self
    }

    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// Runs the shard to its end, or to cancellation, and writes the results.
    pub fn run(&mut self) -> Result<ShardOutcome, RunError> {
        let o = &self.options;
        let shard = o
            .plan
            .shard(o.shard)
            .ok_or(RunError::NoSuchShard {
                shard: o.shard,
                shards: o.plan.shards.len(),
            })?
            .clone();
        let logs = output::prepare_out_dir(&o.out_dir)?;
        let work = tempfile::Builder::new()
            .prefix("dtf-run-")
            .tempdir()
            .map_err(RunError::WorkDir)?;

        let started = Instant::now();
        let started_at = SystemTime::now();
        let tests = shard.tests.clone();
        let default_predicted = if tests.is_empty() {
            0.0
        } else {
            shard.predicted_s.max(0.0) / tests.len() as f64
        };
        let predicted: Vec<f64> = tests
            .iter()
            .map(|t| o.predicted.get(t).copied().unwrap_or(default_predicted))
            .collect();
        let slots = o.mode.slots();
        let sink = self.sink.take().unwrap_or_else(|| Box::new(NullSink));
        let mut tracker = Tracker::new(
            sink,
            &tests,
            o.predicted.clone(),
            default_predicted,
            o.status_file.clone(),
            started,
            started_at,
        );
        tracker.event(&Event::Started {
            shard: o.shard,
            total: tests.len(),
            slots,
            predicted_s: tracker.predicted_total(),
        });

        let (units, mut warnings) = plan_units(&shard.batches, &predicted, slots);
        let needs: Vec<Resources> = match &o.mode {
            Parallelism::ResourceAware { needs, .. } => tests
                .iter()
                .map(|t| needs.get(t).copied().unwrap_or_default())
                .collect(),
            _ => vec![Resources::default(); tests.len()],
        };
        let lanes = plan_lanes(units, &tests, &o.together, &needs);
        let capacity = match &o.mode {
            Parallelism::ResourceAware { capacity, .. } => Some(*capacity),
            _ => None,
        };
        let sched = Scheduler::new(lanes, capacity);

        let mut records = output::Records::new(&tests);
        let engine = unit::Engine {
            options: o,
            tests: &tests,
            work_root: work.path(),
            logs: &logs,
            started,
            next_invocation: AtomicU32::new(0),
        };
        let (tx, rx) = mpsc::channel::<unit::Msg>();
        for w in warnings.drain(..) {
            tracker.event(&Event::Warning { message: &w });
            records.problems.push(w);
        }
        let checkpoint = output::Checkpoint::new(&o.out_dir);
        std::thread::scope(|scope| {
            for slot in 0..slots {
                let worker_tx = tx.clone();
                let (engine, sched) = (&engine, &sched);
                let spawned = std::thread::Builder::new()
                    .name(format!("dtf-slot-{slot}"))
                    .spawn_scoped(scope, move || {
                        while let Some(grant) = sched.take(&engine.options.cancel) {
                            for unit in &grant.lane.units {
                                engine.run_unit(unit, slot as u32, &grant.gpus, &worker_tx);
                                if engine.cancelled() {
                                    break;
                                }
                            }
                            sched.release(grant);
                        }
                    });
                if let Err(e) = spawned {
                    // Fewer slots than asked; the others take the work.
                    let _ = tx.send(unit::Msg::Warning(format!(
                        "cannot start worker slot {slot}: {e}"
                    )));
                }
            }
            drop(tx);
            let mut checkpoint = checkpoint;
            loop {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(msg) => records.handle(msg, &mut tracker),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                tracker.tick();
                if let Some(e) = tracker.take_status_error() {
                    tracker.event(&Event::Warning { message: &e });
                    records.problems.push(e);
                }
                checkpoint.maybe_write(&mut records, o);
            }
        });

        let cancelled = o.cancel.load(Ordering::Relaxed);
        let finish = output::Finish {
            options: o,
            tests: &tests,
            started_at,
            duration: started.elapsed(),
            cancelled,
            slots,
            mode: o.mode.name(),
            logs: &logs,
            invocations: engine.next_invocation.load(Ordering::Relaxed),
        };
        let mut outcome = finish.write(&mut records, &mut tracker);
        tracker.event(&Event::Finished {
            partial: outcome.partial,
        });
        // The last status write comes after the outcome is built.
        outcome.problems.extend(tracker.take_status_error());
        Ok(outcome)
    }
}

/// Consecutive runs of the shard's tests (indices), one invocation each.
fn plan_units(
    batches: &[usize],
    predicted: &[f64],
    slots: usize,
) -> (Vec<Vec<usize>>, Vec<String>) {
    let n = predicted.len();
    let mut warnings = Vec::new();
    if n == 0 {
        return (Vec::new(), warnings);
    }
    let mut units = Vec::new();
    if !batches.is_empty() {
        let mut at = 0;
        for &size in batches {
            let end = (at + size).min(n);
            if end > at {
                units.push((at..end).collect());
            }
            at = end;
        }
        if at < n {
            units.push((at..n).collect());
        }
        if batches.iter().sum::<usize>() != n {
            warnings.push(format!(
                "the plan's batches cover {} tests, the shard has {n}; the rest run as one more invocation",
                batches.iter().sum::<usize>()
            ));
        }
        return (units, warnings);
    }
    if slots <= 1 {
        return (vec![(0..n).collect()], warnings);
    }
    let k = (slots * 2).min(n);
    let mut rest: f64 = predicted.iter().map(|p| p.max(0.0)).sum();
    let mut share = rest / k as f64;
    let mut current = Vec::new();
    let mut acc = 0.0;
    for (i, p) in predicted.iter().enumerate() {
        current.push(i);
        acc += p.max(0.0);
        let left_units = k - units.len();
        // Each unit takes its share of the predicted time still unassigned, so one
        // long test does not leave the others crammed into too few units.
        let full = if share > 0.0 {
            acc >= share
        } else {
            current.len() >= n.div_ceil(k)
        };
        if left_units > 1 && full && i + 1 < n {
            units.push(std::mem::take(&mut current));
            rest -= acc;
            acc = 0.0;
            share = rest.max(0.0) / (left_units - 1) as f64;
        }
    }
    if !current.is_empty() {
        units.push(current);
    }
    (units, warnings)
}

/// Groups of `tests` that `dtf.toml`'s `[[dependency]]` rules link, for
/// [`RunOptions::together`]: every test a rule names, before or after, in one group
/// (rules that share a test end up in one lane anyway).
pub fn together_from_config(config: &Config, tests: &[String]) -> Vec<Vec<String>> {
    config
        .dependencies
        .iter()
        .filter_map(|rule| {
            let group: Vec<String> = tests
                .iter()
                .filter(|t| rule.before.iter().chain(&rule.after).any(|p| p.matches(t)))
                .cloned()
                .collect();
            (group.len() > 1).then_some(group)
        })
        .collect()
}

/// Each of `tests`' needs from `dtf.toml`'s `[[require]]` rules, for
/// [`Parallelism::ResourceAware`]; tests that need nothing are left out.
pub fn needs_from_config(config: &Config, tests: &[String]) -> HashMap<String, Resources> {
    let mut needs = HashMap::new();
    for rule in &config.requires {
        let need = Resources::from_requirements(&rule.needs);
        if need == Resources::default() {
            continue;
        }
        for t in tests {
            if rule.tests.iter().any(|p| p.matches(t)) {
                let e: &mut Resources = needs.entry(t.clone()).or_default();
                *e = e.max(need);
            }
        }
    }
    needs
}

/// Units that run one after another on one slot.
#[derive(Clone, Debug, PartialEq)]
struct Lane {
    units: Vec<Vec<usize>>,
    need: Resources,
}

/// Joins units whose tests must stay together into lanes, in plan order.
fn plan_lanes(
    units: Vec<Vec<usize>>,
    tests: &[String],
    together: &[Vec<String>],
    needs: &[Resources],
) -> Vec<Lane> {
    let mut unit_of = vec![0usize; tests.len()];
    for (u, unit) in units.iter().enumerate() {
        for &t in unit {
            unit_of[t] = u;
        }
    }
    let index: HashMap<&str, usize> = tests
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    // Union-find over units.
    let mut parent: Vec<usize> = (0..units.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for group in together {
        let mut first: Option<usize> = None;
        for id in group {
            let Some(&t) = index.get(id.as_str()) else {
                continue;
            };
            let u = root(&mut parent, unit_of[t]);
            match first {
                None => first = Some(u),
                Some(f) => {
                    let (a, b) = (f.min(u), f.max(u));
                    parent[b] = a;
                    first = Some(a);
                }
            }
        }
    }
    let mut lanes: Vec<Lane> = Vec::new();
    let mut lane_of: HashMap<usize, usize> = HashMap::new();
    for (u, unit) in units.into_iter().enumerate() {
        let r = root(&mut parent, u);
        let need = unit
            .iter()
            .fold(Resources::default(), |acc, &t| acc.max(needs[t]));
        match lane_of.get(&r) {
            Some(&l) => {
                lanes[l].need = lanes[l].need.max(need);
                lanes[l].units.push(unit);
            }
            None => {
                lane_of.insert(r, lanes.len());
                lanes.push(Lane {
                    units: vec![unit],
                    need,
                });
            }
        }
    }
    lanes
}

/// A lane handed to a slot, with the GPUs it holds.
struct Grant {
    lane: Lane,
    /// What was taken from the free pool (clipped to the capacity).
    held: Resources,
    gpus: Vec<u32>,
}

struct SchedState {
    pending: Vec<Lane>,
    free_memory: u64,
    free_gpus: Vec<u32>,
    running: usize,
}

/// Hands lanes to slots in plan order, within the resource capacity.
struct Scheduler {
    state: Mutex<SchedState>,
    freed: Condvar,
    capacity: Option<Resources>,
}

impl Scheduler {
    fn new(lanes: Vec<Lane>, capacity: Option<Resources>) -> Scheduler {
        let cap = capacity.unwrap_or_default();
        Scheduler {
            state: Mutex::new(SchedState {
                pending: lanes,
                free_memory: cap.memory_mb,
                free_gpus: (0..cap.gpus).collect(),
                running: 0,
            }),
            freed: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SchedState> {
        // A worker that panicked holding the lock leaves consistent counts (all
        // updates are single statements), so carry on with the data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What a lane holds while it runs: its need, clipped to the capacity (a lane
    /// that needs more than the machine has runs alone, with all of it).
    fn clipped(&self, need: Resources) -> Resources {
        match self.capacity {
            None => Resources::default(),
            Some(cap) => Resources {
                memory_mb: if cap.memory_mb == 0 {
                    0
                } else {
                    need.memory_mb.min(cap.memory_mb)
                },
                gpus: need.gpus.min(cap.gpus),
            },
        }
    }

    fn take(&self, cancel: &AtomicBool) -> Option<Grant> {
        let mut s = self.lock();
        loop {
            if cancel.load(Ordering::Relaxed) || s.pending.is_empty() {
                return None;
            }
            let fits = |lane: &Lane, s: &SchedState| {
                let held = self.clipped(lane.need);
                held.memory_mb <= s.free_memory && held.gpus as usize <= s.free_gpus.len()
            };
            let pick = s.pending.iter().position(|l| fits(l, &s));
            if let Some(i) = pick {
                let lane = s.pending.remove(i);
                let held = self.clipped(lane.need);
                s.free_memory -= held.memory_mb;
                let gpus: Vec<u32> = s.free_gpus.drain(..held.gpus as usize).collect();
                s.running += 1;
                return Some(Grant { lane, held, gpus });
            }
            s = self
                .freed
                .wait_timeout(s, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    fn release(&self, grant: Grant) {
        let mut s = self.lock();
        s.free_memory += grant.held.memory_mb;
        s.free_gpus.extend(grant.gpus);
        s.free_gpus.sort_unstable();
        s.running = s.running.saturating_sub(1);
        drop(s);
        self.freed.notify_all();
    }
}

/// The path as shown in messages and outputs: relative to `base` when inside it.
fn shown(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn units() {
        // (batches, predicted, slots, want)
        type Case<'a> = (&'a [usize], &'a [f64], usize, &'a [&'a [usize]]);
        let cases: &[Case] = &[
            (&[], &[1.0, 1.0, 1.0], 1, &[&[0, 1, 2]]),
            (&[2, 1], &[1.0, 1.0, 1.0], 4, &[&[0, 1], &[2]]),
            (&[1, 1, 1], &[1.0, 1.0, 1.0], 1, &[&[0], &[1], &[2]]),
            // 2 slots: 4 units of equal predicted time
            (
                &[],
                &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
                2,
                &[&[0, 1], &[2, 3], &[4, 5], &[6, 7]],
            ),
            // one long test gets a unit of its own
            (
                &[],
                &[10.0, 1.0, 1.0, 1.0, 1.0],
                2,
                &[&[0], &[1, 2], &[3], &[4]],
            ),
            // fewer tests than units: one each
            (&[], &[1.0, 1.0], 4, &[&[0], &[1]]),
            // no predictions: equal counts
            (&[], &[0.0, 0.0, 0.0, 0.0], 2, &[&[0], &[1], &[2], &[3]]),
        ];
        for (batches, predicted, slots, want) in cases {
            let (got, _) = plan_units(batches, predicted, *slots);
            let want: Vec<Vec<usize>> = want.iter().map(|u| u.to_vec()).collect();
            assert_eq!(
                got, want,
                "batches {batches:?}, predicted {predicted:?}, slots {slots}"
            );
        }
        let (got, warnings) = plan_units(&[2], &[1.0, 1.0, 1.0], 1);
        assert_eq!(got, vec![vec![0, 1], vec![2]]);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn lanes_keep_chains_together() {
        let tests: Vec<String> = (0..6).map(|i| format!("t::{i}")).collect();
        let units = vec![vec![0], vec![1], vec![2], vec![3], vec![4], vec![5]];
        let together = vec![
            vec!["t::1".to_owned(), "t::4".to_owned()],
            vec!["t::4".to_owned(), "t::5".to_owned(), "unknown".to_owned()],
        ];
        let mut needs = vec![Resources::default(); 6];
        needs[5] = Resources {
            memory_mb: 512,
            gpus: 1,
        };
        let lanes = plan_lanes(units, &tests, &together, &needs);
        let shape: Vec<Vec<Vec<usize>>> = lanes.iter().map(|l| l.units.clone()).collect();
        assert_eq!(
            shape,
            vec![
                vec![vec![0]],
                vec![vec![1], vec![4], vec![5]],
                vec![vec![2]],
                vec![vec![3]]
            ]
        );
        assert_eq!(lanes[1].need, needs[5]);
    }

    #[test]
    fn config_gives_chains_and_needs() {
        let config = Config::from_toml(
            r#"
            [[dependency]]
            before = ["db::migrate"]
            after = ["db::query*"]

            [[require]]
            tests = ["gpu::*"]
            needs = ["gpu.vendor = nvidia", "memory >= 2GB"]
            "#,
            "dtf.toml",
        )
        .unwrap();
        let tests: Vec<String> = [
            "db::migrate",
            "db::query_a",
            "gpu::train",
            "unit::x",
            "db::query_b",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            together_from_config(&config, &tests),
            vec![vec!["db::migrate", "db::query_a", "db::query_b"]]
        );
        let needs = needs_from_config(&config, &tests);
        assert_eq!(needs.len(), 1);
        assert_eq!(
            needs["gpu::train"],
            Resources {
                memory_mb: 2048,
                gpus: 1
            }
        );
    }

    #[test]
    fn backoff() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            factor: 2.0,
            max: Duration::from_millis(500),
        };
        let got: Vec<u128> = (1..=5).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 500, 500]);
        assert_eq!(Backoff::none().delay(3), Duration::ZERO);
    }

    #[test]
    fn needs_from_requirements() {
        let req = |key: &str, op: ReqOp, value: &str| Requirement {
            key: key.to_owned(),
            op,
            value: value.to_owned(),
        };
        let cases: &[(Vec<Requirement>, Resources)] = &[
            (vec![], Resources::default()),
            (
                vec![req("memory", ReqOp::AtLeast, "4GB")],
                Resources {
                    memory_mb: 4096,
                    gpus: 0,
                },
            ),
            (
                vec![
                    req("gpu.vendor", ReqOp::Eq, "nvidia"),
                    req("memory", ReqOp::AtLeast, "512MB"),
                ],
                Resources {
                    memory_mb: 512,
                    gpus: 1,
                },
            ),
            (
                vec![req("cuda", ReqOp::AtLeast, "12")],
                Resources {
                    memory_mb: 0,
                    gpus: 1,
                },
            ),
            (vec![req("os", ReqOp::Eq, "linux")], Resources::default()),
        ];
        for (reqs, want) in cases {
            assert_eq!(Resources::from_requirements(reqs), *want, "{reqs:?}");
        }
    }

    #[test]
    fn scheduler_never_oversubscribes() {
        let lane = |mem: u64, gpus: u32| Lane {
            units: vec![vec![0]],
            need: Resources {
                memory_mb: mem,
                gpus,
            },
        };
        let s = Scheduler::new(
            vec![lane(600, 0), lane(600, 0), lane(100, 1), lane(5000, 2)],
            Some(Resources {
                memory_mb: 1000,
                gpus: 1,
            }),
        );
        let cancel = AtomicBool::new(false);
        let a = s.take(&cancel).unwrap();
        assert_eq!(a.held.memory_mb, 600);
        // The second 600 MB lane does not fit: the GPU lane skips ahead.
        let b = s.take(&cancel).unwrap();
        assert_eq!(
            (b.held, b.gpus.clone()),
            (
                Resources {
                    memory_mb: 100,
                    gpus: 1
                },
                vec![0]
            )
        );
        s.release(a);
        let c = s.take(&cancel).unwrap();
        assert_eq!(c.held.memory_mb, 600);
        s.release(b);
        s.release(c);
        // More than the machine has: runs alone, holding all of it.
        let d = s.take(&cancel).unwrap();
        assert_eq!(
            d.held,
            Resources {
                memory_mb: 1000,
                gpus: 1
            }
        );
        s.release(d);
        assert!(s.take(&cancel).is_none());
    }
}
