//! One unit's invocations: run, read back, find the lost, decide what runs again.
//!
//! This runs on a slot's thread and owns nothing shared: it sends what it learned to
//! the thread that keeps the records, the status and the files.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use dtf_core::categorize::{Category, headline};
use dtf_core::junit::write::{WriteLimits, clip_into};
use dtf_core::model::{Detail, Outcome, OutcomeField, TestCase, TestId};

use super::output::{Attempt, InvocationRecord};
use super::{RunOptions, files, shown};
use crate::exec::{self, Capture, ExecError, ExecOptions, Finished, Stopped};
use crate::preset::InvocationCtx;

/// What a slot tells the recording thread.
pub(crate) enum Msg {
    Started {
        invocation: u32,
        slot: u32,
        attempt: u32,
        tests: Vec<String>,
    },
    Finished(Box<Report>),
    Retrying {
        ids: Vec<String>,
        attempt: u32,
        delay: Duration,
        reason: String,
    },
    Warning(String),
}

/// One invocation's results.
pub(crate) struct Report {
    pub invocation: InvocationRecord,
    pub results: Vec<PlannedResult>,
    /// Tests stopped without a result that is theirs; see [`Interrupted`].
    pub interrupted: Vec<Interrupted>,
    /// Ids the framework reported that were not asked for (after mapping).
    pub unplanned: Vec<String>,
}

/// What one invocation said about one planned test.
pub(crate) struct PlannedResult {
    /// Index into the shard's tests.
    pub planned: usize,
    /// The cases written for it: one normally, several when the framework reported
    /// attempts itself or the planned unit is a file of many tests.
    pub attempts: Vec<Attempt>,
    /// No further invocation will run it.
    pub last: bool,
}

/// A test whose run dtf stopped, and that therefore has no attempt to record: the
/// run was cancelled, or another test of its invocation timed out. It shows in the
/// timeline only.
pub(crate) struct Interrupted {
    pub planned: usize,
    pub start_s: f64,
    pub end_s: f64,
    pub reason: &'static str,
}

/// The shared, read-only side of running units.
pub(crate) struct Engine<'a> {
    pub options: &'a RunOptions,
    pub tests: &'a [String],
    pub work_root: &'a Path,
    pub logs: &'a Path,
    pub started: Instant,
    pub next_invocation: AtomicU32,
}

/// How an invocation ended, for deciding about its lost tests.
enum Ending {
    Ran(Finished),
    /// It could not be started: the preset failed, or the program is missing.
    NotStarted(String),
}

/// An invocation, before decisions.
struct Invoked {
    record: InvocationRecord,
    ending: Ending,
    /// Cases per position in the group, in file order, with their timeline spans.
    reported: Vec<Vec<(TestCase, f64, f64)>>,
    /// Span for the lost tests: the first takes `lost_from..end`.
    lost_from: f64,
    end_s: f64,
    exact: bool,
    unplanned: Vec<String>,
    /// Headlines of failures the framework reported for unplanned ids: often the
    /// reason planned tests are missing (a collection error).
    unplanned_failures: Vec<String>,
    problems: Vec<String>,
}

/// `2 × ceil(log2 n) + 2`: enough re-invocations to isolate one culprit among n.
pub(crate) fn isolation_budget(n: usize) -> u32 {
    let mut levels = 0u32;
    while (1usize << levels) < n {
        levels += 1;
    }
    2 * levels + 2
}

impl Engine<'_> {
    pub(crate) fn cancelled(&self) -> bool {
        self.options.cancel.load(Ordering::Relaxed)
    }

    /// Sleeps up to `d`; false when cancelled meanwhile.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        loop {
            if self.cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(exec::TICK));
        }
    }

    /// Runs a unit's tests until each has its verdict (or the run is cancelled).
    pub(crate) fn run_unit(&self, unit: &[usize], slot: u32, gpus: &[u32], tx: &Sender<Msg>) {
        let o = self.options;
        let mut counted: HashMap<usize, u32> = HashMap::new();
        let mut rounds: HashMap<usize, u32> = HashMap::new();
        let mut budget = if o.isolate_lost {
            isolation_budget(unit.len())
        } else {
            0
        };
        let mut queue: VecDeque<(Vec<usize>, Duration)> =
            VecDeque::from([(unit.to_vec(), Duration::ZERO)]);
        while let Some((group, delay)) = queue.pop_front() {
            if !self.sleep(delay) {
                break;
            }
            let attempt = 1 + group
                .iter()
                .map(|t| rounds.get(t).copied().unwrap_or(0))
                .max()
                .unwrap_or(0);
            for t in &group {
                *rounds.entry(*t).or_default() += 1;
            }
            let mut inv = self.invoke(&group, slot, attempt, gpus, tx);
            let stopped = match &inv.ending {
                Ending::Ran(f) => f.stopped,
                Ending::NotStarted(_) => None,
            };
            let cancelled = stopped == Some(Stopped::Cancelled) || self.cancelled();
            let timed_out = matches!(stopped, Some(Stopped::Timeout { .. }));
            if cancelled {
                // A test that failed only because dtf interrupted it has no result.
                for cases in &mut inv.reported {
                    cases.retain(|(c, _, _)| !interrupted_by_dtf(c));
                }
            }
            let lost: Vec<usize> = (0..group.len())
                .filter(|&p| inv.reported[p].is_empty())
                .collect();
            let abnormal = matches!(&inv.ending, Ending::Ran(f) if f.abnormal());
            // Several tests lost at once: nobody knows which one was at fault, so they
            // run again in halves without spending their retries. After a timeout the
            // others' loss is dtf's doing, not an attempt of theirs; after a crash it
            // is recorded (the framework did fail under them).
            // When the framework reported the hung test itself (killed by dtf's
            // signal), the others it did not report are innocent: they run again
            // together.
            let culprit_found = timed_out
                && inv
                    .reported
                    .iter()
                    .flatten()
                    .any(|(c, _, _)| interrupted_by_dtf(c));
            let rerun_whole = !cancelled && culprit_found && !lost.is_empty() && budget >= 1;
            let isolate = !cancelled && !rerun_whole && abnormal && lost.len() > 1 && budget >= 2;
            if rerun_whole {
                budget -= 1;
            } else if isolate {
                budget -= 2;
            }
            let (lost_message, lost_details, lost_category, lost_type) = self.lost_text(&inv);
            let stop_text = match &inv.ending {
                Ending::Ran(f) => f.describe(),
                Ending::NotStarted(why) => why.clone(),
            };

            let mut results = Vec::with_capacity(group.len());
            let mut interrupted = Vec::new();
            let mut again: Vec<usize> = Vec::new();
            let mut again_reasons: Vec<Category> = Vec::new();
            let mut split: Vec<usize> = Vec::new();
            let mut first_lost = true;
            let Invoked {
                record,
                ending,
                reported,
                lost_from,
                end_s,
                exact,
                unplanned,
                ..
            } = inv;
            for (pos, (&t, cases)) in group.iter().zip(reported).enumerate() {
                let planned = self.tests[t].as_str();
                if !cases.is_empty() {
                    let rename = distinct_ids(&cases) == 1;
                    let mut attempts = Vec::with_capacity(cases.len());
                    let mut failing: Option<Category> = None;
                    let mut last_by_id: HashMap<String, Outcome> = HashMap::new();
                    for (mut case, start, end) in cases {
                        let category = if timed_out && interrupted_by_dtf(&case) {
                            // Reported as killed by the signal dtf sent for the timeout.
                            mark_timeout(&mut case, &stop_text);
                            Some(Category::Timeout)
                        } else {
                            case_category(o, &case)
                        };
                        let case = into_output(case, planned, rename);
                        last_by_id.insert(case.id().0, case.outcome());
                        attempts.push(Attempt {
                            case,
                            category,
                            lost: false,
                            counted: true,
                            slot,
                            invocation: record.id,
                            attempt: 0,
                            start_s: start,
                            end_s: end,
                            exact,
                        });
                    }
                    // The framework's last word on each id decides.
                    for a in attempts.iter().rev() {
                        if last_by_id
                            .get(&a.case.id().0)
                            .is_some_and(|o| o.is_failure())
                        {
                            failing = a.category.or(failing);
                        }
                    }
                    let n = counted.entry(t).or_default();
                    *n += 1;
                    let retry = match failing {
                        Some(c) => {
                            !cancelled && (c.is_transient() || o.retry_failed) && *n <= o.retries
                        }
                        None => false,
                    };
                    if retry {
                        again.push(t);
                        again_reasons.extend(failing);
                    }
                    results.push(PlannedResult {
                        planned: t,
                        attempts,
                        last: !retry,
                    });
                    continue;
                }
                let (start, end) = if exact || first_lost {
                    (lost_from, end_s)
                } else {
                    (end_s, end_s)
                };
                first_lost = false;
                if cancelled {
                    // Interrupted, not lost: it has no result and never will here.
                    interrupted.push(Interrupted {
                        planned: t,
                        start_s: start,
                        end_s: end,
                        reason: "cancelled",
                    });
                    continue;
                }
                if rerun_whole || (isolate && timed_out) {
                    interrupted.push(Interrupted {
                        planned: t,
                        start_s: start,
                        end_s: end,
                        reason: "stopped with a test that timed out",
                    });
                    split.push(pos);
                    continue;
                }
                let not_started = matches!(ending, Ending::NotStarted(_));
                let (category, kind) = if not_started {
                    (Category::Setup, "setup")
                } else {
                    (lost_category, lost_type)
                };
                let case = lost_case(planned, kind, &lost_message, &lost_details, end - start);
                let mut retry = false;
                if isolate {
                    split.push(pos);
                } else {
                    let n = counted.entry(t).or_default();
                    *n += 1;
                    retry = !not_started && *n <= o.retries;
                    if retry {
                        again.push(t);
                        again_reasons.push(category);
                    }
                }
                results.push(PlannedResult {
                    planned: t,
                    attempts: vec![Attempt {
                        case,
                        category: Some(category),
                        // A timeout has no result either, but says why.
                        lost: category == Category::Lost,
                        counted: !isolate,
                        slot,
                        invocation: record.id,
                        attempt: 0,
                        start_s: start,
                        end_s: end,
                        exact,
                    }],
                    last: !isolate && !retry,
                });
            }
            let _ = tx.send(Msg::Finished(Box::new(Report {
                invocation: record,
                results,
                interrupted,
                unplanned,
            })));
            if cancelled {
                break;
            }
            if !split.is_empty() {
                let ids: Vec<usize> = split.iter().map(|&p| group[p]).collect();
                let reason = if rerun_whole {
                    "stopped with a test that timed out".to_owned()
                } else {
                    format!(
                        "{} tests lost together; running them again in two halves to find the cause",
                        ids.len()
                    )
                };
                let _ = tx.send(Msg::Retrying {
                    ids: ids.iter().map(|&t| self.tests[t].clone()).collect(),
                    attempt: attempt + 1,
                    delay: Duration::ZERO,
                    reason,
                });
                if rerun_whole {
                    queue.push_front((ids, Duration::ZERO));
                } else {
                    let (a, b) = ids.split_at(ids.len().div_ceil(2));
                    queue.push_front((b.to_vec(), Duration::ZERO));
                    queue.push_front((a.to_vec(), Duration::ZERO));
                }
            }
            if !again.is_empty() {
                let retry_no = again
                    .iter()
                    .map(|t| counted.get(t).copied().unwrap_or(1))
                    .max()
                    .unwrap_or(1);
                let delay = o.backoff.delay(retry_no);
                let mut reasons: Vec<&str> = again_reasons.iter().map(|c| c.as_str()).collect();
                reasons.sort_unstable();
                reasons.dedup();
                let _ = tx.send(Msg::Retrying {
                    ids: again.iter().map(|&t| self.tests[t].clone()).collect(),
                    attempt: retry_no + 1,
                    delay,
                    reason: reasons.join(", "),
                });
                queue.push_back((again, delay));
            }
        }
    }

    /// Message, details, category and `type` for the tests an invocation lost.
    fn lost_text(&self, inv: &Invoked) -> (String, String, Category, &'static str) {
        let (message, category, kind) = match &inv.ending {
            Ending::NotStarted(why) => (why.clone(), Category::Setup, "setup"),
            Ending::Ran(f) => match f.stopped {
                Some(Stopped::Timeout { .. }) => (
                    format!("no result: the invocation {}", f.describe()),
                    Category::Timeout,
                    "timeout",
                ),
                // Killed by a signal while running this one test alone: the test
                // crashed the framework (pytest and os.abort(), a segfault in a
                // native extension), which is a crash, not a framework that lost it.
                _ if f.exit.code.is_none() && inv.reported.len() == 1 => (
                    format!(
                        "the framework was {} while running this test alone",
                        f.exit.describe()
                    ),
                    Category::Crash,
                    "crash",
                ),
                _ if f.exit.code.is_none() => (
                    format!(
                        "no result: the framework was {} before reporting this test",
                        f.exit.describe()
                    ),
                    Category::Lost,
                    "lost",
                ),
                _ => (
                    format!(
                        "no result: the framework {} without reporting this test",
                        f.exit.describe()
                    ),
                    Category::Lost,
                    "lost",
                ),
            },
        };
        let mut details = String::new();
        let line = |d: &mut String, s: &str| {
            d.push_str(s);
            d.push('\n');
        };
        line(
            &mut details,
            &format!("invocation {}: {message}", inv.record.id),
        );
        for f in &inv.unplanned_failures {
            line(&mut details, &format!("the framework reported: {f}"));
        }
        for p in &inv.problems {
            line(&mut details, p);
        }
        if let Ending::Ran(f) = &inv.ending {
            for (name, stream) in [("stderr", &f.stderr), ("stdout", &f.stdout)] {
                if !stream.tail.trim().is_empty() {
                    let mut tail = String::new();
                    clip_into(&mut tail, stream.tail.trim_end(), 4096);
                    line(
                        &mut details,
                        &format!("--- the end of {name} ({} bytes in all) ---", stream.bytes),
                    );
                    line(&mut details, &tail);
                }
            }
        }
        let message = match inv.unplanned_failures.first() {
            Some(f) => format!("{message}; the framework reported: {f}"),
            None => message,
        };
        (message, details, category, kind)
    }

    /// Starts one invocation of `group` and reads its results.
    fn invoke(
        &self,
        group: &[usize],
        slot: u32,
        attempt: u32,
        gpus: &[u32],
        tx: &Sender<Msg>,
    ) -> Invoked {
        let o = self.options;
        let id = self.next_invocation.fetch_add(1, Ordering::Relaxed) + 1;
        let tests: Vec<String> = group.iter().map(|&t| self.tests[t].clone()).collect();
        let _ = tx.send(Msg::Started {
            invocation: id,
            slot,
            attempt,
            tests: tests.clone(),
        });
        let start_s = self.started.elapsed().as_secs_f64();
        let mut record = InvocationRecord {
            id,
            slot,
            attempt,
            tests: group.len(),
            reported: 0,
            start_s,
            end_s: start_s,
            exit: None,
            stopped: None,
            ending: String::new(),
            stdout: None,
            stderr: None,
            problems: Vec::new(),
        };
        let work_dir = self.work_root.join(format!("inv-{id:04}"));
        let not_started = |mut record: InvocationRecord, why: String| {
            record.end_s = self.started.elapsed().as_secs_f64();
            record.ending = why.clone();
            Invoked {
                lost_from: record.start_s,
                end_s: record.end_s,
                record,
                ending: Ending::NotStarted(why),
                reported: vec![Vec::new(); group.len()],
                exact: group.len() == 1,
                unplanned: Vec::new(),
                unplanned_failures: Vec::new(),
                problems: Vec::new(),
            }
        };
        if let Err(e) = std::fs::create_dir_all(&work_dir) {
            return not_started(
                record,
                format!("cannot create the folder {}: {e}", work_dir.display()),
            );
        }
        let ctx = InvocationCtx {
            tests: &tests,
            work_dir: &work_dir,
            attempt,
            slot,
        };
        let spec = match o.framework.invocation(&ctx) {
            Ok(spec) => spec,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&work_dir);
                return not_started(
                    record,
                    format!(
                        "the {} preset cannot build the command: {e}",
                        o.framework.name()
                    ),
                );
            }
        };
        let cwd: PathBuf = match &spec.cwd {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        // What dtf tells every invocation, beyond what the preset set.
        let build_cmd = || {
            let mut cmd = exec::command(&spec.program, &spec.args, &spec.env, spec.cwd.as_deref());
            cmd.env("DTF_SHARD", o.shard.to_string())
                .env("DTF_SLOT", slot.to_string())
                .env("DTF_ATTEMPT", attempt.to_string())
                .env("DTF_INVOCATION", id.to_string());
            if !gpus.is_empty() {
                let list: Vec<String> = gpus.iter().map(u32::to_string).collect();
                cmd.env("DTF_GPUS", list.join(","));
            }
            cmd
        };
        let single = group.len() == 1;
        let timeout = if single {
            min_opt(o.invocation_timeout, o.test_timeout)
        } else {
            o.invocation_timeout
        };
        let exec_options = ExecOptions {
            timeout,
            idle_timeout: if single { None } else { o.test_timeout },
            grace: o.kill_grace,
            tail_bytes: 16 << 10,
            watch: spec
                .junit
                .iter()
                .filter(|p| !files::has_wildcard(p))
                .map(|p| cwd.join(p))
                .collect(),
            cancel: Some(o.cancel.clone()),
        };
        let capture = Capture {
            stdout: self.logs.join(format!("inv-{id:04}.stdout.log")),
            stderr: self.logs.join(format!("inv-{id:04}.stderr.log")),
        };
        let ran = match exec::run(build_cmd(), &capture, &exec_options) {
            Err(ExecError::Log { path, source }) => {
                // The results folder went bad: keep the logs with the work files
                // (gone at the end, but the tails are kept in the results).
                let _ = tx.send(Msg::Warning(format!(
                    "cannot write the log {}: {source}; invocation {id}'s output is not kept",
                    path.display()
                )));
                let fallback = Capture {
                    stdout: work_dir.join("stdout.log"),
                    stderr: work_dir.join("stderr.log"),
                };
                exec::run(build_cmd(), &fallback, &exec_options).map(|f| (f, false))
            }
            other => other.map(|f| (f, true)),
        };
        let (finished, logs_kept) = match ran {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&work_dir);
                return not_started(record, e.to_string());
            }
        };
        let end_s = self.started.elapsed().as_secs_f64();
        record.end_s = end_s;
        record.exit = Some(finished.exit);
        record.stopped = finished.stopped.map(|s| match s {
            Stopped::Timeout { idle: false, .. } => "timeout",
            Stopped::Timeout { idle: true, .. } => "idle-timeout",
            Stopped::Cancelled => "cancelled",
        });
        record.ending = finished.describe();
        if logs_kept {
            record.stdout = Some(shown(&capture.stdout, &o.out_dir));
            record.stderr = Some(shown(&capture.stderr, &o.out_dir));
        }

        let read = files::read_junit(&spec.junit, &cwd, self.work_root);
        let _ = std::fs::remove_dir_all(&work_dir);
        let position: HashMap<&str, usize> = tests
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        let mut reported: Vec<Vec<(TestCase, f64, f64)>> = vec![Vec::new(); group.len()];
        let mut unplanned = Vec::new();
        let mut unplanned_failures = Vec::new();
        let mut seen_unplanned = HashSet::new();
        let mut cursor = start_s;
        for case in read.cases {
            let own = case.id();
            let mapped = o.framework.planned_id(own.as_str());
            match position.get(mapped.as_str()) {
                Some(&p) => {
                    let (start, end) = if single {
                        (start_s, end_s)
                    } else {
                        let d = case.duration.unwrap_or(0.0);
                        let s = cursor.min(end_s);
                        let e = (cursor + d).min(end_s);
                        cursor = e;
                        (s, e)
                    };
                    reported[p].push((case, start, end));
                }
                None => {
                    if case.outcome().is_failure() && unplanned_failures.len() < 3 {
                        unplanned_failures.push(format!("{own}: {}", headline(&case.detail)));
                    }
                    if seen_unplanned.insert(own.0.clone()) {
                        unplanned.push(own.0);
                    }
                }
            }
        }
        record.reported = reported.iter().filter(|r| !r.is_empty()).count();
        record.problems = read.problems.clone();
        Invoked {
            record,
            ending: Ending::Ran(finished),
            reported,
            lost_from: if single { start_s } else { cursor.min(end_s) },
            end_s,
            exact: single,
            unplanned,
            unplanned_failures,
            problems: read.problems,
        }
    }
}

/// Whether a failure is only the signal dtf sent to stop the invocation (SIGINT,
/// SIGTERM or SIGKILL, as frameworks word it).
fn interrupted_by_dtf(case: &TestCase) -> bool {
    const MARKS: [&str; 7] = [
        "SIGINT",
        "SIGTERM",
        "SIGKILL",
        "KeyboardInterrupt",
        "signal: interrupt",
        "signal: terminated",
        "signal: killed",
    ];
    if !case.outcome().is_failure() {
        return false;
    }
    let d = &case.detail;
    [&d.message, &d.failure_type, &d.details]
        .into_iter()
        .flatten()
        .any(|text| MARKS.iter().any(|m| text.contains(m)))
}

/// Turns a failure dtf caused by stopping a hung invocation into a timeout.
fn mark_timeout(case: &mut TestCase, stop: &str) {
    let was = headline(&case.detail);
    case.detail.message = Some(format!(
        "timeout: the invocation {stop}; the framework reported: {was}"
    ));
    case.detail.failure_type = Some("timeout".to_owned());
    // Like a test dtf timed out alone: an error, not a failed assertion.
    case.outcome = OutcomeField(Outcome::Errored);
}

fn min_opt(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn distinct_ids(cases: &[(TestCase, f64, f64)]) -> usize {
    let ids: HashSet<TestId> = cases.iter().map(|(c, _, _)| c.id()).collect();
    ids.len()
}

/// The category of a failed case (or, for one that passed after failures it
/// recorded itself, of its last failure); `None` for a plain pass or skip.
fn case_category(o: &RunOptions, case: &TestCase) -> Option<Category> {
    let failed = case.outcome().is_failure() || case.reruns.iter().any(|r| r.outcome.is_failure());
    failed.then(|| o.categorizer.categorize(case))
}

/// The case as the shard's JUnit writes it: under the planned id when the framework
/// names the test differently, with a class name that keeps the id on reading back,
/// and text fields no longer than the writer keeps.
pub(crate) fn into_output(mut case: TestCase, planned: &str, rename: bool) -> TestCase {
    if rename && planned.contains(TestId::SEPARATOR) && case.id().as_str() != planned {
        let (scope, name) = split_id(planned, &case.name);
        case.classname = Some(scope);
        case.name = name;
    } else if case
        .classname
        .as_deref()
        .is_none_or(|c| c.trim().is_empty())
    {
        // The writer falls back to the suite for a missing class name, which would
        // change the id of a test identified by its file.
        let scope = TestId::scope(None, case.id_file(), &case.suite).to_owned();
        case.classname = Some(scope);
    }
    let limits = WriteLimits::default();
    let mut buf = String::new();
    let mut clip = |field: &mut Option<String>, limit: usize| {
        if let Some(text) = field
            && text.len() > limit
        {
            clip_into(&mut buf, text, limit);
            std::mem::swap(text, &mut buf);
        }
    };
    clip(&mut case.stdout, limits.output);
    clip(&mut case.stderr, limits.output);
    clip(&mut case.detail.details, limits.details);
    for r in &mut case.reruns {
        clip(&mut r.stdout, limits.output);
        clip(&mut r.stderr, limits.output);
        clip(&mut r.detail.details, limits.details);
    }
    case
}

/// `SCOPE::NAME` split so that `TestId::new(Some(SCOPE), .., NAME)` gives the id
/// back: at the framework's own name when the id ends with it, else at the last `::`.
fn split_id(id: &str, name: &str) -> (String, String) {
    if let Some(scope) = id
        .strip_suffix(name)
        .and_then(|s| s.strip_suffix(TestId::SEPARATOR))
        && !scope.trim().is_empty()
        && scope.trim() == scope
    {
        return (scope.to_owned(), name.to_owned());
    }
    match id.rsplit_once(TestId::SEPARATOR) {
        Some((scope, name)) if !scope.trim().is_empty() => (scope.to_owned(), name.to_owned()),
        _ => (id.to_owned(), String::new()),
    }
}

/// The `<error>` written for a test without a result.
pub(crate) fn lost_case(
    planned: &str,
    kind: &str,
    message: &str,
    details: &str,
    duration: f64,
) -> TestCase {
    let (classname, name, file) = if planned.contains(TestId::SEPARATOR) {
        let (scope, name) = split_id(planned, "");
        (scope, name, None)
    } else {
        // A planned file: the id cannot be a file alone; name it after the file, and
        // say which file it is, so that a rerun by file finds it.
        (
            planned.to_owned(),
            "(no result)".to_owned(),
            Some(planned.to_owned()),
        )
    };
    TestCase {
        suite: String::new(),
        classname: Some(classname),
        name,
        file,
        file_inferred: false,
        line: None,
        duration: Some((duration.max(0.0) * 1000.0).round() / 1000.0),
        outcome: OutcomeField(Outcome::Errored),
        detail: Detail {
            message: Some(message.to_owned()),
            failure_type: Some(kind.to_owned()),
            details: (!details.is_empty()).then(|| details.to_owned()),
        },
        stdout: None,
        stderr: None,
        properties: Vec::new(),
        reruns: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets() {
        let cases: &[(usize, u32)] = &[(1, 2), (2, 4), (3, 6), (4, 6), (5, 8), (1000, 22)];
        for (n, want) in cases {
            assert_eq!(isolation_budget(*n), *want, "n = {n}");
        }
    }

    #[test]
    fn ids_survive_the_round_trip() {
        // (planned id, framework's case: classname, file, name)
        type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a str, &'a str);
        let cases: &[Case] = &[
            // the same id: kept as it is
            ("a.B::t", Some("a.B"), None, "t", "a.B::t"),
            // identified by its file, no class name
            (
                "tests/x.py::t",
                None,
                Some("tests/x.py"),
                "t",
                "tests/x.py::t",
            ),
            // renamed: nextest-style names with `::` inside
            (
                "crate$bin::mod::t",
                Some("crate::bin"),
                None,
                "mod::t",
                "crate$bin::mod::t",
            ),
            // renamed, name not at the end
            ("x::y::z", Some("q"), None, "other", "x::y::z"),
        ];
        for (planned, classname, file, name, want) in cases {
            let case = TestCase {
                suite: "suite".into(),
                classname: classname.map(str::to_owned),
                file: file.map(str::to_owned),
                name: (*name).to_owned(),
                ..TestCase::default()
            };
            let out = into_output(case, planned, true);
            let mut xml = Vec::new();
            let mut w = dtf_core::junit::write::JunitWriter::new(&mut xml, WriteLimits::default());
            let c = dtf_core::junit::write::SuiteCounts::default();
            w.start("x", &c).unwrap_or_default();
            w.start_suite("dtf shard 1", &c, &[]).unwrap_or_default();
            w.write_case(&out, &[]).unwrap_or_default();
            w.end_suite().unwrap_or_default();
            let _ = w.finish();
            let back = dtf_core::junit::read_all(&xml[..], "x").unwrap_or_default();
            assert_eq!(back.len(), 1, "{planned}");
            assert_eq!(back[0].id().as_str(), *want, "{planned}");
        }
        let lost = lost_case("tests/test_a.py", "lost", "m", "", 0.0);
        assert_eq!(lost.id().as_str(), "tests/test_a.py::(no result)");
        let lost = lost_case("a.B::t", "lost", "m", "", 0.0);
        assert_eq!(lost.id().as_str(), "a.B::t");
    }
}
