//! The shard's records and the files made from them.
//!
//! Every attempt is kept in memory (text fields clipped to what the JUnit writer
//! keeps anyway), so results survive a results folder that stops being writable.
//! `junit.xml` is rewritten as a checkpoint every few seconds while tests run, marked
//! partial, so even a dtf killed with SIGKILL leaves most of its results behind.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use dtf_artifacts::bundle::{PackOptions, pack};
use dtf_core::categorize::{Category, headline};
use dtf_core::junit::write::{JunitWriter, SuiteCounts, WriteLimits, escape_into};
use dtf_core::merge::{Input, MergeOptions, merge};
use dtf_core::model::{Outcome, Status, TestCase};
use dtf_core::summary::{Summary, SummaryLimits};
use serde::Serialize;

use super::unit::Msg;
use super::{Counts, OutputFiles, RunError, RunOptions, ShardOutcome, TestVerdict};
use crate::exec::Exit;
use crate::status::{Event, Tracker, rfc3339, round3, write_atomic};

pub const SHARD_SCHEMA: &str = "dtf.shard.v1";
pub const TIMELINE_SCHEMA: &str = "dtf.timeline.v1";

const JUNIT: &str = "junit.xml";
const SUMMARY: &str = "summary.json";
const SHARD_SUMMARY: &str = "shard-summary.json";
const TIMELINE: &str = "timeline.json";
const LOGS: &str = "logs";

/// How often the JUnit checkpoint is rewritten at most.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);
/// Failure groups and members listed in `shard-summary.json`.
const MAX_GROUPS: usize = 200;
const MAX_MEMBERS: usize = 100;

/// One attempt of one test.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    pub case: TestCase,
    pub category: Option<Category>,
    /// The framework never reported it.
    pub lost: bool,
    /// Spent one of the test's retries (lost together with others in a crash: not).
    pub counted: bool,
    pub slot: u32,
    pub invocation: u32,
    /// 1-based among the test's attempts; set when recorded.
    pub attempt: u32,
    pub start_s: f64,
    pub end_s: f64,
    /// The span is the invocation's own (one test), not laid out from JUnit times.
    pub exact: bool,
}

/// One invocation, for the timeline.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct InvocationRecord {
    pub id: u32,
    pub slot: u32,
    pub attempt: u32,
    pub tests: usize,
    /// Planned tests it reported.
    pub reported: usize,
    #[serde(serialize_with = "ser_round3")]
    pub start_s: f64,
    #[serde(serialize_with = "ser_round3")]
    pub end_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<Exit>,
    /// "timeout", "idle-timeout" or "cancelled" when dtf stopped it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<&'static str>,
    pub ending: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

fn ser_round3<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round3(*x))
}

/// A test dtf stopped before it had a result of its own (timeline only).
#[derive(Clone, Debug, Serialize)]
struct InterruptedSpan {
    id: String,
    slot: u32,
    invocation: u32,
    start_s: f64,
    end_s: f64,
    /// "cancelled", or "stopped with a test that timed out".
    reason: &'static str,
}

/// A test as written: its id, and every attempt.
struct OutputTest {
    id: String,
    attempts: Vec<Attempt>,
}

/// Everything the shard learned, in memory.
pub(crate) struct Records {
    planned: Vec<String>,
    /// Per planned test: indices into `outputs`, in first-seen order.
    by_planned: Vec<Vec<usize>>,
    outputs: Vec<OutputTest>,
    index: HashMap<String, usize>,
    invocations: Vec<InvocationRecord>,
    interrupted: Vec<InterruptedSpan>,
    unplanned: Vec<String>,
    unplanned_seen: std::collections::HashSet<String>,
    /// What could not be written.
    pub problems: Vec<String>,
    /// Something new since the last checkpoint.
    dirty: bool,
}

impl Records {
    pub(crate) fn new(planned: &[String]) -> Records {
        Records {
            planned: planned.to_vec(),
            by_planned: vec![Vec::new(); planned.len()],
            outputs: Vec::new(),
            index: HashMap::new(),
            invocations: Vec::new(),
            interrupted: Vec::new(),
            unplanned: Vec::new(),
            unplanned_seen: Default::default(),
            problems: Vec::new(),
            dirty: false,
        }
    }

    pub(crate) fn handle(&mut self, msg: Msg, tracker: &mut Tracker) {
        match msg {
            Msg::Started {
                invocation,
                slot,
                attempt,
                tests,
            } => tracker.event(&Event::InvocationStarted {
                invocation,
                slot,
                attempt,
                tests: &tests,
            }),
            Msg::Retrying {
                ids,
                attempt,
                delay,
                reason,
            } => tracker.event(&Event::Retrying {
                ids: &ids,
                attempt,
                delay,
                reason: &reason,
            }),
            Msg::Warning(w) => {
                tracker.event(&Event::Warning { message: &w });
                self.problems.push(w);
            }
            Msg::Finished(report) => {
                let report = *report;
                for i in report.interrupted {
                    self.interrupted.push(InterruptedSpan {
                        id: self.planned.get(i.planned).cloned().unwrap_or_default(),
                        slot: report.invocation.slot,
                        invocation: report.invocation.id,
                        start_s: round3(i.start_s),
                        end_s: round3(i.end_s),
                        reason: i.reason,
                    });
                }
                for id in report.unplanned {
                    if self.unplanned_seen.insert(id.clone()) {
                        self.unplanned.push(id);
                    }
                }
                for result in report.results {
                    let mut outs = Vec::new();
                    let mut worst = Outcome::Passed;
                    let mut any_reported = false;
                    let mut category = None;
                    let mut message = None;
                    let mut lost = false;
                    let mut attempt_no = 0;
                    let mut duration = None;
                    for mut a in result.attempts {
                        let id = a.case.id().0;
                        let o = match self.index.get(&id) {
                            Some(&o) => o,
                            None => {
                                self.outputs.push(OutputTest {
                                    id: id.clone(),
                                    attempts: Vec::new(),
                                });
                                let o = self.outputs.len() - 1;
                                self.index.insert(id, o);
                                if let Some(list) = self.by_planned.get_mut(result.planned) {
                                    list.push(o);
                                }
                                o
                            }
                        };
                        let out = &mut self.outputs[o];
                        a.attempt = out.attempts.len() as u32 + 1;
                        attempt_no = attempt_no.max(a.attempt);
                        worst = worst.worst(a.case.outcome());
                        any_reported |= !a.lost;
                        if a.case.outcome().is_failure() && category.is_none() {
                            category = a.category;
                            message = Some(headline(&a.case.detail));
                        }
                        lost |= a.lost;
                        duration = a.case.duration;
                        out.attempts.push(a);
                        outs.push(o);
                    }
                    if !any_reported && worst == Outcome::Passed {
                        continue;
                    }
                    let flaky = result.last
                        && !worst.is_failure()
                        && outs.iter().any(|&o| self.status_of(o) == Status::Flaky);
                    if flaky {
                        category = outs.iter().find_map(|&o| self.flaky_category(o));
                    }
                    let id = self
                        .planned
                        .get(result.planned)
                        .cloned()
                        .unwrap_or_default();
                    tracker.event(&Event::TestFinished {
                        id: &id,
                        outcome: worst,
                        attempt: attempt_no,
                        category: category.map(Category::as_str),
                        lost: lost && worst.is_failure(),
                        flaky,
                        last: result.last,
                        duration_s: duration,
                        message: message.as_deref(),
                    });
                }
                let inv = report.invocation;
                tracker.event(&Event::InvocationFinished {
                    invocation: inv.id,
                    slot: inv.slot,
                    tests: inv.tests,
                    reported: inv.reported,
                    ending: &inv.ending,
                    elapsed: Duration::from_secs_f64((inv.end_s - inv.start_s).max(0.0)),
                });
                self.invocations.push(inv);
                self.dirty = true;
            }
        }
    }

    fn status_of(&self, o: usize) -> Status {
        Status::from_attempts(self.outputs[o].attempts.iter().map(|a| a.case.outcome()))
    }

    /// Why a flaky test failed before it passed: its last failed attempt's category.
    fn flaky_category(&self, o: usize) -> Option<Category> {
        self.outputs[o]
            .attempts
            .iter()
            .rev()
            .find(|a| a.case.outcome().is_failure())
            .and_then(|a| a.category)
    }

    /// Planned tests without any attempt.
    fn not_run(&self) -> Vec<String> {
        self.by_planned
            .iter()
            .zip(&self.planned)
            .filter(|(outs, _)| outs.is_empty())
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Output tests in plan order.
    fn ordered(&self) -> impl Iterator<Item = &OutputTest> {
        let mut done = vec![false; self.outputs.len()];
        let mut order = Vec::with_capacity(self.outputs.len());
        for outs in &self.by_planned {
            for &o in outs {
                if !done[o] {
                    done[o] = true;
                    order.push(o);
                }
            }
        }
        order.into_iter().map(move |o| &self.outputs[o])
    }

    /// The shard's JUnit: every attempt its own `<testcase>`, in plan order.
    fn render_junit(&self, shard: u32, framework: &str, partial: bool) -> io::Result<Vec<u8>> {
        let mut counts = SuiteCounts::default();
        for t in &self.outputs {
            for a in &t.attempts {
                counts.add(a.case.outcome(), a.case.duration);
            }
        }
        counts.time = round3(counts.time);
        let name = format!("dtf shard {shard}");
        let mut buf: Vec<u8> = Vec::with_capacity(256 * (counts.tests as usize + 4));
        {
            let mut w = JunitWriter::new(&mut buf, WriteLimits::default());
            w.start(&name, &counts)?;
            w.start_suite(&name, &counts, &[])?;
        }
        // Suite properties: the writer has no call for them, and needs no state
        // between elements, so they go in between two writers over one buffer.
        buf.extend_from_slice(b"    <properties>\n");
        for (k, v) in [
            ("dtf.shard", shard.to_string()),
            ("dtf.framework", framework.to_owned()),
            ("dtf.partial", partial.to_string()),
        ] {
            buf.extend_from_slice(b"      <property name=\"");
            escape_into(&mut buf, k, true)?;
            buf.extend_from_slice(b"\" value=\"");
            escape_into(&mut buf, &v, true)?;
            buf.extend_from_slice(b"\"/>\n");
        }
        buf.extend_from_slice(b"    </properties>\n");
        let mut w = JunitWriter::new(&mut buf, WriteLimits::default());
        for t in self.ordered() {
            for a in &t.attempts {
                let mut props = vec![
                    ("dtf.attempt", a.attempt.to_string()),
                    ("dtf.slot", a.slot.to_string()),
                    ("dtf.invocation", a.invocation.to_string()),
                ];
                if let Some(c) = a.category
                    && a.case.outcome().is_failure()
                {
                    props.push(("dtf.category", c.as_str().to_owned()));
                }
                if a.lost {
                    props.push(("dtf.lost", "true".to_owned()));
                }
                w.write_case(&a.case, &props)?;
            }
        }
        w.end_suite()?;
        w.finish()?;
        Ok(buf)
    }
}

/// Makes sure the results folder is usable before any test runs; returns `logs/`.
pub(crate) fn prepare_out_dir(out: &Path) -> Result<PathBuf, RunError> {
    let fail = |source: io::Error| RunError::OutputNotWritable {
        path: out.to_owned(),
        source,
    };
    fs::create_dir_all(out).map_err(fail)?;
    let probe = out.join(format!(".dtf-write-check-{}", std::process::id()));
    fs::write(&probe, b"dtf").map_err(fail)?;
    fs::remove_file(&probe).map_err(fail)?;
    let logs = out.join(LOGS);
    fs::create_dir_all(&logs).map_err(fail)?;
    // Logs of an earlier run in the same folder would be bundled with this one's.
    if let Ok(entries) = fs::read_dir(&logs) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("inv-") && name.ends_with(".log") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    Ok(logs)
}

/// Rewrites `junit.xml` now and then while tests run.
pub(crate) struct Checkpoint {
    path: PathBuf,
    last: Instant,
    failed: bool,
}

impl Checkpoint {
    pub(crate) fn new(out: &Path) -> Checkpoint {
        Checkpoint {
            path: out.join(JUNIT),
            last: Instant::now(),
            failed: false,
        }
    }

    pub(crate) fn maybe_write(&mut self, records: &mut Records, o: &RunOptions) {
        if self.failed || !records.dirty || self.last.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        self.last = Instant::now();
        records.dirty = false;
        let result = records
            .render_junit(o.shard, o.framework.name(), true)
            .and_then(|bytes| write_atomic(&self.path, &bytes));
        if let Err(e) = result {
            // Said once; the final write will try again and report for good.
            self.failed = true;
            records.problems.push(format!(
                "cannot write the checkpoint {}: {e}",
                self.path.display()
            ));
        }
    }
}

/// `shard-summary.json`.
#[derive(Serialize)]
struct ShardSummary<'a> {
    schema: &'static str,
    shard: u32,
    framework: &'a str,
    partial: bool,
    cancelled: bool,
    started_at: String,
    finished_at: String,
    duration_s: f64,
    mode: &'a str,
    slots: usize,
    counts: Counts,
    /// Final failures by category.
    categories: BTreeMap<&'static str, usize>,
    /// Flaky tests by the category of their last failure.
    flaky_categories: BTreeMap<&'static str, usize>,
    failure_groups: Vec<GroupOut>,
    failure_groups_omitted: usize,
    attempts: AttemptCounts,
    tests: &'a [TestVerdict],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    not_run: &'a [String],
    /// Ids the framework reported that the plan did not ask for (first 100).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    unplanned: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    problems: &'a [String],
    files: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct GroupOut {
    category: Category,
    signature: String,
    message: String,
    count: usize,
    /// The first members.
    members: Vec<String>,
}

#[derive(Serialize, Default)]
struct AttemptCounts {
    invocations: u32,
    /// `<testcase>` elements written.
    attempts: usize,
    /// Tests run more than once.
    retried_tests: usize,
    /// Attempts beyond each test's first.
    reruns: usize,
}

#[derive(Serialize)]
struct Timeline<'a> {
    schema: &'static str,
    shard: u32,
    started_at: &'a str,
    duration_s: f64,
    slots: usize,
    tests: Vec<TimelineTest<'a>>,
    /// Tests stopped by dtf without a result of their own (cancelled, or in an
    /// invocation stopped for another test's timeout and run again).
    interrupted: &'a [InterruptedSpan],
    invocations: &'a [InvocationRecord],
}

#[derive(Serialize)]
struct TimelineTest<'a> {
    id: &'a str,
    slot: u32,
    invocation: u32,
    attempt: u32,
    start_s: f64,
    end_s: f64,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<Category>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    lost: bool,
    /// Lost together with other tests in one crash or timeout: run again to find
    /// the cause, without spending one of its retries.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    collateral: bool,
    /// Start and end are the invocation's own, not laid out from JUnit times.
    exact: bool,
}

/// The end of a run: verdicts, files, bundle.
pub(crate) struct Finish<'a> {
    pub options: &'a RunOptions,
    pub tests: &'a [String],
    pub started_at: SystemTime,
    pub duration: Duration,
    pub cancelled: bool,
    pub slots: usize,
    pub mode: &'static str,
    pub logs: &'a Path,
    pub invocations: u32,
}

impl Finish<'_> {
    pub(crate) fn write(&self, records: &mut Records, tracker: &mut Tracker) -> ShardOutcome {
        let o = self.options;
        let out = &o.out_dir;
        let not_run = records.not_run();
        let partial = self.cancelled && !not_run.is_empty();
        let mut problems = std::mem::take(&mut records.problems);
        let mut warn = |problems: &mut Vec<String>, msg: String| {
            tracker.event(&Event::Warning { message: &msg });
            problems.push(msg);
        };

        // Verdicts and counts.
        let mut verdicts = Vec::with_capacity(records.outputs.len());
        let mut counts = Counts {
            planned: self.tests.len(),
            not_run: not_run.len(),
            ..Counts::default()
        };
        let mut categories: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut flaky_categories: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut attempts = AttemptCounts {
            invocations: self.invocations,
            ..AttemptCounts::default()
        };
        let mut grouper = o.categorizer.grouper();
        for t in records.ordered() {
            let status = Status::from_attempts(t.attempts.iter().map(|a| a.case.outcome()));
            let last = t.attempts.last();
            let category = match status {
                Status::Flaky => t
                    .attempts
                    .iter()
                    .rev()
                    .find(|a| a.case.outcome().is_failure())
                    .and_then(|a| a.category),
                s if s.is_failure() => last.and_then(|a| a.category),
                _ => None,
            };
            let lost = status.is_failure() && last.is_some_and(|a| a.lost);
            match status {
                Status::Passed => counts.passed += 1,
                Status::Failed => counts.failed += 1,
                Status::Errored => counts.errored += 1,
                Status::Skipped => counts.skipped += 1,
                Status::Flaky => counts.flaky += 1,
            }
            counts.lost += usize::from(lost);
            if let Some(c) = category {
                let map = if status == Status::Flaky {
                    &mut flaky_categories
                } else {
                    &mut categories
                };
                *map.entry(c.as_str()).or_default() += 1;
            }
            if status.is_failure()
                && let Some(a) = last
            {
                grouper.add_as(&t.id, &a.case);
            }
            attempts.attempts += t.attempts.len();
            if t.attempts.len() > 1 {
                attempts.retried_tests += 1;
                attempts.reruns += t.attempts.len() - 1;
            }
            verdicts.push(TestVerdict {
                id: t.id.clone(),
                status,
                attempts: t.attempts.len() as u32,
                category,
                lost,
                duration_s: last.and_then(|a| a.case.duration),
            });
        }
        let groups = grouper.finish();
        let failure_groups_omitted = groups.len().saturating_sub(MAX_GROUPS);
        let failure_groups: Vec<GroupOut> = groups
            .into_iter()
            .take(MAX_GROUPS)
            .map(|g| GroupOut {
                category: g.category,
                count: g.members.len(),
                members: g.members.into_iter().take(MAX_MEMBERS).collect(),
                signature: g.signature,
                message: g.message,
            })
            .collect();

        let mut files = OutputFiles {
            logs: self.logs.to_owned(),
            ..OutputFiles::default()
        };
        let mut write = |problems: &mut Vec<String>, name: &str, bytes: &[u8]| -> Option<PathBuf> {
            let path = out.join(name);
            match write_atomic(&path, bytes) {
                Ok(()) => Some(path),
                Err(e) => {
                    warn(problems, format!("cannot write {}: {e}", path.display()));
                    None
                }
            }
        };

        // junit.xml, and summary.json from the core's merge of it.
        let junit = match records.render_junit(o.shard, o.framework.name(), partial) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                problems.push(format!("cannot render the shard's JUnit: {e}"));
                None
            }
        };
        if let Some(bytes) = &junit {
            files.junit = write(&mut problems, JUNIT, bytes);
            let arc: Arc<[u8]> = bytes.clone().into();
            let summary = merge(
                &[Input::bytes(JUNIT, arc)],
                &MergeOptions {
                    threads: 1,
                    spool_dir: Some(std::env::temp_dir()),
                    ..MergeOptions::default()
                },
            )
            .map_err(|e| e.to_string())
            .and_then(|run| {
                Summary::from_run(
                    &run,
                    o.build.clone(),
                    concat!("dtf ", env!("CARGO_PKG_VERSION")),
                    SummaryLimits::default(),
                )
                .map_err(|e| e.to_string())
            })
            .and_then(|s| serde_json::to_vec_pretty(&s).map_err(|e| e.to_string()));
            match summary {
                Ok(json) => files.summary = write(&mut problems, SUMMARY, &json),
                Err(e) => problems.push(format!("cannot summarize the shard's JUnit: {e}")),
            }
        }

        // timeline.json
        let started_at = rfc3339(self.started_at);
        let mut timeline_tests: Vec<TimelineTest<'_>> = records
            .outputs
            .iter()
            .flat_map(|t| {
                t.attempts.iter().map(move |a| TimelineTest {
                    id: &t.id,
                    slot: a.slot,
                    invocation: a.invocation,
                    attempt: a.attempt,
                    start_s: round3(a.start_s),
                    end_s: round3(a.end_s),
                    outcome: a.case.outcome(),
                    category: a.category.filter(|_| a.case.outcome().is_failure()),
                    lost: a.lost,
                    collateral: a.lost && !a.counted,
                    exact: a.exact,
                })
            })
            .collect();
        timeline_tests.sort_by(|a, b| {
            a.start_s
                .total_cmp(&b.start_s)
                .then(a.slot.cmp(&b.slot))
                .then(a.invocation.cmp(&b.invocation))
        });
        let timeline = Timeline {
            schema: TIMELINE_SCHEMA,
            shard: o.shard,
            started_at: &started_at,
            duration_s: round3(self.duration.as_secs_f64()),
            slots: self.slots,
            tests: timeline_tests,
            interrupted: &records.interrupted,
            invocations: &records.invocations,
        };
        match serde_json::to_vec_pretty(&timeline) {
            Ok(json) => files.timeline = write(&mut problems, TIMELINE, &json),
            Err(e) => problems.push(format!("cannot encode the timeline: {e}")),
        }

        // shard-summary.json: written last but the bundle, so it can list the files.
        let mut file_names = BTreeMap::new();
        for (key, present, name) in [
            ("junit", files.junit.is_some(), JUNIT),
            ("summary", files.summary.is_some(), SUMMARY),
            ("timeline", files.timeline.is_some(), TIMELINE),
        ] {
            if present {
                file_names.insert(key, name.to_owned());
            }
        }
        file_names.insert("logs", format!("{LOGS}/"));
        let bundle_name = format!("dtf-shard-{}.zip", o.shard);
        if o.bundle {
            file_names.insert("bundle", bundle_name.clone());
        }
        let unplanned: Vec<String> = records.unplanned.iter().take(100).cloned().collect();
        let summary = ShardSummary {
            schema: SHARD_SCHEMA,
            shard: o.shard,
            framework: o.framework.name(),
            partial,
            cancelled: self.cancelled,
            started_at: started_at.clone(),
            finished_at: rfc3339(SystemTime::now()),
            duration_s: round3(self.duration.as_secs_f64()),
            mode: self.mode,
            slots: self.slots,
            counts,
            categories,
            flaky_categories,
            failure_groups,
            failure_groups_omitted,
            attempts,
            tests: &verdicts,
            not_run: &not_run,
            unplanned: &unplanned,
            problems: &problems,
            files: file_names,
        };
        match serde_json::to_vec_pretty(&summary) {
            Ok(json) => files.shard_summary = write(&mut problems, SHARD_SUMMARY, &json),
            Err(e) => problems.push(format!("cannot encode the shard summary: {e}")),
        }

        if o.bundle {
            match self.bundle(&bundle_name, &files) {
                Ok(path) => files.bundle = Some(path),
                Err(e) => warn(&mut problems, format!("cannot write the bundle: {e}")),
            }
        }

        ShardOutcome {
            shard: o.shard,
            partial,
            cancelled: self.cancelled,
            counts,
            tests: verdicts,
            not_run,
            invocations: self.invocations,
            duration: self.duration,
            files,
            problems,
        }
    }

    /// Packs the run's own files (not whatever else the folder holds) into the bundle:
    /// they are hard-linked (or copied) into a staging folder first.
    fn bundle(&self, name: &str, files: &OutputFiles) -> Result<PathBuf, String> {
        let out = &self.options.out_dir;
        let stage = tempfile::Builder::new()
            .prefix(".dtf-bundle-")
            .tempdir_in(out)
            .map_err(|e| format!("cannot create a staging folder in {}: {e}", out.display()))?;
        let place = |from: &Path, to: &Path| -> Result<(), String> {
            fs::hard_link(from, to)
                .or_else(|_| fs::copy(from, to).map(drop))
                .map_err(|e| format!("cannot stage {}: {e}", from.display()))
        };
        for path in [
            &files.junit,
            &files.summary,
            &files.timeline,
            &files.shard_summary,
        ]
        .into_iter()
        .flatten()
        {
            if let Some(file_name) = path.file_name() {
                place(path, &stage.path().join(file_name))?;
            }
        }
        let logs = stage.path().join(LOGS);
        fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
        if let Ok(entries) = fs::read_dir(self.logs) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_file()) {
                    place(&e.path(), &logs.join(e.file_name()))?;
                }
            }
        }
        let target = out.join(name);
        pack(
            stage.path(),
            &target,
            &PackOptions {
                build: self.options.build.clone(),
            },
        )
        .map_err(|e| e.to_string())?;
        Ok(target)
    }
}
