//! What a running shard tells the people and programs watching it.
//!
//! The engine reports [`Event`]s to a [`StatusSink`] that the CLI chooses: a progress
//! bar on a terminal, [`LineSink`]'s plain periodic lines in a CI log, or nothing.
//! Every sink gets the same [`Progress`] counts and ETA, so they cannot disagree.
//!
//! `--status-file` is for programs (a dashboard polling a runner): a
//! `dtf.status.v1` JSON document rewritten through a temporary file and a rename, so
//! a reader never sees half of one, at most every [`STATUS_INTERVAL`] and once at the
//! end.
//!
//! Sinks are called from the thread that calls `ShardRun::run`, never concurrently.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dtf_core::model::Outcome;
use serde::Serialize;

use crate::exec::human;

pub const STATUS_SCHEMA: &str = "dtf.status.v1";

/// The status file is rewritten at most this often.
pub const STATUS_INTERVAL: Duration = Duration::from_millis(500);

/// Something that happened in the shard.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    Started {
        shard: u32,
        total: usize,
        slots: usize,
        /// Predicted seconds of test work in the shard.
        predicted_s: f64,
    },
    InvocationStarted {
        invocation: u32,
        slot: u32,
        /// 1 for a unit's first invocation, then one more per re-invocation.
        attempt: u32,
        tests: &'a [String],
    },
    /// One attempt of one test has a result. `last` is false when it will be retried.
    TestFinished {
        id: &'a str,
        outcome: Outcome,
        attempt: u32,
        /// The error category of a failed or errored attempt ("assertion", "lost", ...).
        category: Option<&'a str>,
        /// The framework never reported the test.
        lost: bool,
        /// A pass after failures: the test is flaky.
        flaky: bool,
        last: bool,
        duration_s: Option<f64>,
        message: Option<&'a str>,
    },
    /// Tests about to run again, together, after `delay`.
    Retrying {
        ids: &'a [String],
        /// The attempt about to run.
        attempt: u32,
        delay: Duration,
        /// Their failure categories ("lost, infrastructure"), or why they run again.
        reason: &'a str,
    },
    InvocationFinished {
        invocation: u32,
        slot: u32,
        tests: usize,
        /// Planned tests the framework reported.
        reported: usize,
        /// "exited with code 1", "timed out after 2s and was killed".
        ending: &'a str,
        elapsed: Duration,
    },
    /// A problem that does not stop the run (an unwritable file, an unreadable JUnit).
    Warning {
        message: &'a str,
    },
    Finished {
        partial: bool,
    },
}

/// Counts over the shard so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Progress {
    pub shard: u32,
    pub total: usize,
    /// Tests with a final verdict.
    pub done: usize,
    pub passed: usize,
    pub failed: usize,
    /// Errored, lost ones excluded.
    pub errored: usize,
    pub skipped: usize,
    pub flaky: usize,
    /// Never reported, after every retry.
    pub lost: usize,
    /// Tests run again so far (each retry of each test counts).
    pub retries: usize,
    /// Invocations running now.
    pub running: usize,
    pub slots: usize,
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// Time left, from predicted durations corrected by the pace so far.
    #[serde(serialize_with = "opt_secs")]
    pub eta: Option<Duration>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round3(d.as_secs_f64()))
}

fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(round3(d.as_secs_f64())),
        None => s.serialize_none(),
    }
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Progress {
    /// Failed, errored and lost tests.
    pub fn failures(&self) -> usize {
        self.failed + self.errored + self.lost
    }

    /// "shard 2: 120/400 done, 3 failed, 1 flaky, 2 running, ETA 2m 10s".
    pub fn line(&self) -> String {
        let mut s = format!("shard {}: {}/{} done", self.shard, self.done, self.total);
        for (n, what) in [
            (self.failures(), "failed"),
            (self.flaky, "flaky"),
            (self.lost, "lost"),
            (self.retries, "retried"),
            (self.running, "running"),
        ] {
            if n > 0 {
                s.push_str(&format!(", {n} {what}"));
            }
        }
        if let Some(eta) = self.eta {
            s.push_str(&format!(", ETA {}", human(eta)));
        }
        s
    }
}

/// Where live status goes. The CLI plugs a progress bar or [`LineSink`] in.
pub trait StatusSink: Send {
    fn event(&mut self, event: &Event<'_>, progress: &Progress);
    /// Called about every [`STATUS_INTERVAL`] while the shard runs, for redraws.
    fn tick(&mut self, _progress: &Progress) {}
}

/// Discards everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl StatusSink for NullSink {
    fn event(&mut self, _event: &Event<'_>, _progress: &Progress) {}
}

/// Plain lines for CI logs: one per failure, retry, lost test and warning as they
/// happen, and a progress line at most every `every`.
pub struct LineSink<W: Write + Send> {
    out: W,
    every: Duration,
    last: Option<Instant>,
}

impl<W: Write + Send> LineSink<W> {
    pub fn new(out: W, every: Duration) -> Self {
        LineSink {
            out,
            every,
            last: None,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn progress_line(&mut self, progress: &Progress, force: bool) {
        let now = Instant::now();
        if force
            || self
                .last
                .is_none_or(|t| now.duration_since(t) >= self.every)
        {
            self.last = Some(now);
            let _ = writeln!(self.out, "dtf: {}", progress.line());
        }
    }
}

impl<W: Write + Send> StatusSink for LineSink<W> {
    fn event(&mut self, event: &Event<'_>, progress: &Progress) {
        // Writing status is best effort: a closed log must not stop the tests.
        let _ = match event {
            Event::Started {
                shard,
                total,
                slots,
                predicted_s,
            } => writeln!(
                self.out,
                "dtf: shard {shard}: running {total} tests on {slots} slot(s), predicted {}",
                human(Duration::from_secs_f64(predicted_s.max(0.0)))
            ),
            // Failures that will be retried are said once, by the retry line.
            Event::TestFinished {
                id,
                outcome,
                attempt,
                category,
                lost,
                last: true,
                message,
                ..
            } if outcome.is_failure() => {
                let what = if *lost { "LOST" } else { "FAIL" };
                let category = category.unwrap_or("unknown");
                let message = message
                    .map(|m| format!(": {}", first_line(m, 200)))
                    .unwrap_or_default();
                writeln!(
                    self.out,
                    "dtf: {what} {id} ({category}, attempt {attempt}){message}"
                )
            }
            Event::TestFinished {
                id,
                flaky: true,
                attempt,
                ..
            } => writeln!(self.out, "dtf: FLAKY {id} (passed on attempt {attempt})"),
            Event::Retrying {
                ids,
                attempt,
                delay,
                reason,
            } => {
                let mut names: Vec<&str> = ids.iter().take(3).map(String::as_str).collect();
                if ids.len() > 3 {
                    names.push("…");
                }
                let when = if delay.is_zero() {
                    "now".to_owned()
                } else {
                    format!("in {}", human(*delay))
                };
                writeln!(
                    self.out,
                    "dtf: retrying {} test(s) ({reason}): attempt {attempt} {when}: {}",
                    ids.len(),
                    names.join(", ")
                )
            }
            Event::Warning { message } => writeln!(self.out, "dtf: warning: {message}"),
            Event::Finished { partial } => {
                let _ = writeln!(self.out, "dtf: {}", progress.line());
                if *partial {
                    writeln!(self.out, "dtf: the run was cancelled; results are partial")
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        };
        if matches!(event, Event::InvocationFinished { .. }) {
            self.progress_line(progress, false);
        }
    }

    fn tick(&mut self, progress: &Progress) {
        self.progress_line(progress, false);
    }
}

fn first_line(s: &str, max: usize) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.len() <= max {
        return line.to_owned();
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

/// One running invocation, as the status file shows it.
#[derive(Clone, Debug, Serialize)]
struct Running {
    invocation: u32,
    slot: u32,
    attempt: u32,
    tests: usize,
    first_test: String,
    #[serde(skip)]
    since: Instant,
    since_s: f64,
}

/// The `dtf.status.v1` document.
#[derive(Serialize)]
struct StatusDoc<'a> {
    schema: &'static str,
    state: &'static str,
    started_at: &'a str,
    updated_at: String,
    /// The counts, as an object of their own (no flattening: see the style guide).
    progress: &'a Progress,
    predicted_s: f64,
    running_invocations: Vec<&'a Running>,
}

/// Keeps the counts, the ETA and the status file; forwards events to the sink.
pub(crate) struct Tracker {
    progress: Progress,
    sink: Box<dyn StatusSink>,
    started: Instant,
    started_at: String,
    predicted: HashMap<String, f64>,
    default_predicted: f64,
    predicted_total: f64,
    predicted_done: f64,
    running: BTreeMap<u32, Running>,
    status_file: Option<PathBuf>,
    last_write: Option<Instant>,
    last_tick: Instant,
    state: &'static str,
    /// Why the status file could not be written, until taken.
    status_error: Option<String>,
    /// The status file failed once: it is said once, not every time.
    status_failed: bool,
}

impl Tracker {
    pub(crate) fn new(
        sink: Box<dyn StatusSink>,
        tests: &[String],
        predicted: HashMap<String, f64>,
        default_predicted: f64,
        status_file: Option<PathBuf>,
        started: Instant,
        started_at: SystemTime,
    ) -> Tracker {
        let predicted_total = tests
            .iter()
            .map(|t| predicted.get(t).copied().unwrap_or(default_predicted))
            .sum();
        Tracker {
            progress: Progress {
                total: tests.len(),
                ..Progress::default()
            },
            sink,
            started,
            started_at: rfc3339(started_at),
            predicted,
            default_predicted,
            predicted_total,
            predicted_done: 0.0,
            running: BTreeMap::new(),
            status_file,
            last_write: None,
            last_tick: started,
            state: "running",
            status_error: None,
            status_failed: false,
        }
    }

    #[cfg(test)]
    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    pub(crate) fn take_status_error(&mut self) -> Option<String> {
        self.status_error.take()
    }

    pub(crate) fn predicted_total(&self) -> f64 {
        self.predicted_total
    }

    pub(crate) fn event(&mut self, event: &Event<'_>) {
        let now = Instant::now();
        match event {
            Event::Started { shard, slots, .. } => {
                self.progress.shard = *shard;
                self.progress.slots = *slots;
            }
            Event::InvocationStarted {
                invocation,
                slot,
                attempt,
                tests,
            } => {
                self.running.insert(
                    *invocation,
                    Running {
                        invocation: *invocation,
                        slot: *slot,
                        attempt: *attempt,
                        tests: tests.len(),
                        first_test: tests.first().cloned().unwrap_or_default(),
                        since: now,
                        since_s: 0.0,
                    },
                );
            }
            Event::InvocationFinished { invocation, .. } => {
                self.running.remove(invocation);
            }
            Event::TestFinished {
                id,
                outcome,
                lost,
                flaky,
                last: true,
                ..
            } => {
                let p = &mut self.progress;
                p.done += 1;
                match (outcome, lost, flaky) {
                    (_, true, _) => p.lost += 1,
                    (_, _, true) => p.flaky += 1,
                    (Outcome::Passed, ..) => p.passed += 1,
                    (Outcome::Failed, ..) => p.failed += 1,
                    (Outcome::Errored, ..) => p.errored += 1,
                    (Outcome::Skipped, ..) => p.skipped += 1,
                }
                self.predicted_done += self
                    .predicted
                    .get(*id)
                    .copied()
                    .unwrap_or(self.default_predicted);
            }
            Event::Retrying { ids, .. } => self.progress.retries += ids.len(),
            Event::Finished { partial } => {
                self.state = if *partial { "cancelled" } else { "finished" };
            }
            _ => {}
        }
        self.refresh(now);
        self.sink.event(event, &self.progress);
        let force = matches!(event, Event::Started { .. } | Event::Finished { .. });
        self.write_status(now, force);
    }

    /// Redraws and rewrites the status file when due; call it often.
    pub(crate) fn tick(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.last_tick) >= STATUS_INTERVAL {
            self.last_tick = now;
            self.refresh(now);
            self.sink.tick(&self.progress);
            self.write_status(now, false);
        }
    }

    fn refresh(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.started);
        self.progress.elapsed = elapsed;
        self.progress.running = self.running.len();
        for r in self.running.values_mut() {
            r.since_s = round3(now.duration_since(r.since).as_secs_f64());
        }
        self.progress.eta = if self.state == "running" {
            eta(
                self.predicted_total,
                self.predicted_done,
                elapsed,
                self.progress.slots,
                self.progress.done == self.progress.total,
            )
        } else {
            None
        };
    }

    fn write_status(&mut self, now: Instant, force: bool) {
        let Some(path) = &self.status_file else {
            return;
        };
        if !force
            && self
                .last_write
                .is_some_and(|t| now.duration_since(t) < STATUS_INTERVAL)
        {
            return;
        }
        self.last_write = Some(now);
        let doc = StatusDoc {
            schema: STATUS_SCHEMA,
            state: self.state,
            started_at: &self.started_at,
            updated_at: rfc3339(SystemTime::now()),
            progress: &self.progress,
            predicted_s: round3(self.predicted_total),
            running_invocations: self.running.values().collect(),
        };
        let result = serde_json::to_vec_pretty(&doc)
            .map_err(io::Error::other)
            .and_then(|bytes| write_atomic(path, &bytes));
        if let Err(e) = result
            && !self.status_failed
        {
            self.status_failed = true;
            self.status_error = Some(format!(
                "cannot write the status file {}: {e}",
                path.display()
            ));
        }
    }
}

/// Time left: predicted work left, at the pace predicted work was done so far; before
/// anything is done, predicted work left spread over the slots.
pub fn eta(
    predicted_total: f64,
    predicted_done: f64,
    elapsed: Duration,
    slots: usize,
    finished: bool,
) -> Option<Duration> {
    if finished {
        return Some(Duration::ZERO);
    }
    let left = (predicted_total - predicted_done).max(0.0);
    let secs = elapsed.as_secs_f64();
    let seconds = if predicted_done > 0.0 && secs >= 1.0 {
        left * secs / predicted_done
    } else if predicted_total > 0.0 && left / slots.max(1) as f64 > secs {
        left / slots.max(1) as f64 - secs
    } else {
        // Past the prediction with nothing done: no honest guess.
        return None;
    };
    seconds
        .is_finite()
        .then(|| Duration::from_secs_f64(seconds.clamp(0.0, 1e9)))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".dtf-tmp-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.flush()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `2024-05-01T12:00:00.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::fs;

    #[test]
    fn timestamps() {
        let cases: &[(u64, &str)] = &[
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, "2000-02-29T00:00:00.000Z"),
            (1_714_564_800, "2024-05-01T12:00:00.000Z"),
            (4_102_444_799, "2099-12-31T23:59:59.000Z"),
        ];
        for (secs, want) in cases {
            assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(*secs)), *want);
        }
    }

    #[test]
    fn etas() {
        let s = Duration::from_secs;
        // (total, done, elapsed, slots, finished, want seconds)
        type Case = (f64, f64, Duration, usize, bool, Option<u64>);
        let cases: &[Case] = &[
            (100.0, 0.0, s(0), 4, false, Some(25)),
            (100.0, 0.0, s(5), 4, false, Some(20)),
            (100.0, 0.0, s(30), 4, false, None),
            // half the work in 10 s: 10 s more
            (100.0, 50.0, s(10), 4, false, Some(10)),
            // twice as slow as predicted
            (100.0, 10.0, s(20), 1, false, Some(180)),
            (0.0, 0.0, s(3), 1, false, None),
            (100.0, 30.0, s(3), 1, true, Some(0)),
        ];
        for (total, done, elapsed, slots, finished, want) in cases {
            let got = eta(*total, *done, *elapsed, *slots, *finished).map(|d| d.as_secs());
            assert_eq!(got, *want, "eta({total}, {done}, {elapsed:?}, {slots})");
        }
    }

    struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl StatusSink for Recorder {
        fn event(&mut self, event: &Event<'_>, progress: &Progress) {
            if let Ok(mut v) = self.0.lock() {
                v.push(format!(
                    "{} {}",
                    match event {
                        Event::TestFinished { id, .. } => format!("test {id}"),
                        Event::Finished { .. } => "finished".to_owned(),
                        _ => "other".to_owned(),
                    },
                    progress.line()
                ));
            }
        }
    }

    fn finished<'a>(id: &'a str, outcome: Outcome, lost: bool, flaky: bool) -> Event<'a> {
        attempt(id, outcome, lost, flaky, true, None, None)
    }

    fn attempt<'a>(
        id: &'a str,
        outcome: Outcome,
        lost: bool,
        flaky: bool,
        last: bool,
        category: Option<&'a str>,
        message: Option<&'a str>,
    ) -> Event<'a> {
        Event::TestFinished {
            id,
            outcome,
            attempt: 1,
            category,
            lost,
            flaky,
            last,
            duration_s: None,
            message,
        }
    }

    #[test]
    fn counts_status_file_and_sink_agree() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("status.json");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tests: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let mut t = Tracker::new(
            Box::new(Recorder(log.clone())),
            &tests,
            HashMap::new(),
            1.0,
            Some(file.clone()),
            Instant::now(),
            SystemTime::now(),
        );
        t.event(&Event::Started {
            shard: 2,
            total: 5,
            slots: 1,
            predicted_s: 5.0,
        });
        t.event(&finished("a", Outcome::Passed, false, false));
        t.event(&attempt(
            "b",
            Outcome::Failed,
            false,
            false,
            false,
            None,
            None,
        ));
        t.event(&finished("b", Outcome::Passed, false, true));
        t.event(&finished("c", Outcome::Errored, true, false));
        t.event(&finished("d", Outcome::Failed, false, false));
        t.event(&Event::Finished { partial: true });
        let p = t.progress().clone();
        assert_eq!(
            (p.done, p.passed, p.flaky, p.lost, p.failed, p.failures()),
            (4, 1, 1, 1, 1, 2)
        );
        let doc: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(doc["schema"], STATUS_SCHEMA);
        assert_eq!(doc["state"], "cancelled");
        assert_eq!(doc["progress"]["done"], 4);
        assert_eq!(doc["progress"]["total"], 5);
        assert_eq!(doc["progress"]["lost"], 1);
        let log = log.lock().unwrap();
        assert_eq!(
            log.last().unwrap(),
            "finished shard 2: 4/5 done, 2 failed, 1 flaky, 1 lost"
        );
        // No temporary files are left next to the status file.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn line_sink_reports_failures_as_they_happen() {
        let mut sink = LineSink::new(Vec::new(), Duration::from_secs(3600));
        let p = Progress {
            shard: 1,
            total: 3,
            ..Progress::default()
        };
        sink.event(
            &attempt(
                "t::a",
                Outcome::Errored,
                false,
                false,
                false,
                Some("infrastructure"),
                Some("\nconnection refused\nat x"),
            ),
            &p,
        );
        let ids = vec!["t::a".to_owned()];
        sink.event(
            &Event::Retrying {
                ids: &ids,
                attempt: 2,
                delay: Duration::from_millis(500),
                reason: "infrastructure",
            },
            &p,
        );
        sink.event(&finished("t::a", Outcome::Passed, false, true), &p);
        sink.event(
            &attempt(
                "t::b",
                Outcome::Failed,
                false,
                false,
                true,
                Some("assertion"),
                Some("expected 1, got 2"),
            ),
            &p,
        );
        let text = String::from_utf8(sink.into_inner()).unwrap();
        assert_eq!(
            text,
            "dtf: retrying 1 test(s) (infrastructure): attempt 2 in 0.5s: t::a\n\
             dtf: FLAKY t::a (passed on attempt 1)\n\
             dtf: FAIL t::b (assertion, attempt 1): expected 1, got 2\n"
        );
    }
}
