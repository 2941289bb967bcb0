//! Merges any number of shard results into one run.
//!
//! The same [`TestId`] seen again, in the same file or another, is another attempt of
//! that test: a retry or a rerun shard. Every attempt is kept; the verdict over them is
//! [`Status`] (failed then passed is flaky).
//!
//! Memory stays flat whatever the input size: files are parsed on worker threads,
//! each case is encoded into a temporary spool file, and only a small fixed-size
//! entry per test stays in memory. Writing the merged JUnit reads the spool back
//! mostly sequentially.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::junit::write::{JunitWriter, SuiteCounts, WriteLimits};
use crate::junit::{JunitReader, ReadError, ReadLimits};
use crate::model::{Outcome, OutcomeField, Rerun, Status, TestCase, TestId};
use crate::spool::{RecordRef, SpoolReader, SpoolWriter};

type Opener = dyn Fn() -> io::Result<Box<dyn Read + Send>> + Send + Sync;

/// One input to a merge: a name for messages and a way to open it.
#[derive(Clone)]
pub struct Input {
    name: String,
    open: Arc<Opener>,
    /// Bytes, when known before reading (files).
    size: Option<u64>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Input {
    /// A JUnit file on disk.
    pub fn file(path: impl Into<PathBuf>) -> Input {
        let path: PathBuf = path.into();
        let name = path.display().to_string();
        let size = std::fs::metadata(&path).ok().map(|m| m.len());
        Input {
            name,
            open: Arc::new(move || Ok(Box::new(File::open(&path)?) as Box<dyn Read + Send>)),
            size,
        }
    }

    /// Anything else (a bundle entry, a test buffer): `open` is called once per read.
    pub fn custom(
        name: impl Into<String>,
        open: impl Fn() -> io::Result<Box<dyn Read + Send>> + Send + Sync + 'static,
    ) -> Input {
        Input {
            name: name.into(),
            open: Arc::new(open),
            size: None,
        }
    }

    /// An in-memory document.
    pub fn bytes(name: impl Into<String>, bytes: impl Into<Arc<[u8]>>) -> Input {
        let bytes: Arc<[u8]> = bytes.into();
        Input::custom(name, move || {
            Ok(Box::new(io::Cursor::new(Arc::clone(&bytes))) as Box<dyn Read + Send>)
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Progress reports, one per input finished.
#[derive(Clone, Debug)]
pub struct InputDone {
    pub name: String,
    pub cases: u64,
    pub bytes: u64,
    pub failed: bool,
}

/// How to merge.
#[derive(Clone, Default)]
pub struct MergeOptions {
    pub read_limits: ReadLimits,
    /// Merge what can be read and record the rest, instead of stopping at the first
    /// unreadable input.
    pub keep_going: bool,
    /// Worker threads for parsing; 0 means one per available core.
    pub threads: usize,
    /// Where to put the spool files; the system's temporary folder when `None`.
    pub spool_dir: Option<PathBuf>,
    pub on_input_done: Option<ProgressFn>,
    /// How many distinct tests to make room for at the start; 0 guesses from the
    /// size of the input files.
    pub expected_tests: usize,
}

/// Called on the merging thread as each input is finished.
pub type ProgressFn = Arc<dyn Fn(&InputDone) + Send + Sync>;

/// Why a merge stopped.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no inputs to merge")]
    NoInputs,
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("cannot open {name}: {source}")]
    Open {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot use the temporary spool file: {0}")]
    Spool(#[source] io::Error),
}

/// What happened to one input.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputReport {
    pub source: String,
    /// `<testcase>` elements read from it (before an error, if there was one).
    pub cases: u64,
    pub bytes: u64,
    /// The error that stopped reading it; its cases read before the error are merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One `<testcase>` element as the merge remembers it: enough to decide the verdict
/// and find the element again.
#[derive(Clone, Copy, Debug)]
struct Attempt {
    record: RecordRef,
    suite: u32,
    /// The element's own verdict: passed (also when it passed after failing), failed,
    /// errored or skipped.
    outcome: Outcome,
    /// Whether any attempt the element records failed or errored.
    failed_any: bool,
    /// Whether the element can be copied into merged JUnit as it was read.
    plain: bool,
    /// The kind of the first failed or errored attempt the element records.
    first_failure: Option<Outcome>,
    /// Seconds of the element's own attempt; negative when unknown.
    duration: f64,
    /// Index of the next attempt of the same test in `MergedRun::more`, or `NONE`.
    next: u32,
}

const NONE: u32 = u32::MAX;

/// A small `<testcase>` with a name, a class and a time takes about this many bytes;
/// used to size tables before reading.
const BYTES_PER_CASE: u64 = 200;

#[derive(Clone, Copy, Debug)]
struct Entry {
    suite: u32,
    first: Attempt,
    last: u32,
    /// Attempts, reruns inside one element included.
    attempts: u32,
    /// `<testcase>` elements.
    elements: u32,
    status: Status,
}

/// Sent by a worker for each case.
#[derive(Clone, Copy, Debug)]
struct Header {
    key: Key,
    suite: u32,
    record: RecordRef,
    outcome: Outcome,
    failed_any: bool,
    plain: bool,
    first_failure: Option<Outcome>,
    reruns: u16,
    duration: f64,
    /// Seconds of every attempt the element records, reruns included.
    seconds: f64,
}

struct FileResult {
    index: usize,
    headers: Vec<Header>,
    suites: Vec<String>,
    report: InputReport,
    error: Option<MergeError>,
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        // A key hashes its two halves in turn; the second is enough.
        self.0 = v;
    }
}

/// A 128-bit hash of a test id: wide enough that two ids colliding in a run of
/// millions of tests is not a practical concern.
/// A test id's 128-bit hash, as two halves: a `u128` would be aligned to 16 bytes and
/// make every table slot 32 bytes instead of 24.
type Key = [u64; 2];

/// The tests seen so far, by key.
type Index = HashMap<Key, u32, BuildHasherDefault<PassThrough>>;

fn hash_id(id: &str) -> Key {
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    const K2: u64 = 0xc2b2_ae3d_27d4_eb4f;
    let bytes = id.as_bytes();
    let mut a = K1 ^ bytes.len() as u64;
    let mut b = K2.wrapping_add(bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        a = (a ^ v).wrapping_mul(0xff51_afd7_ed55_8ccd).rotate_left(31);
        b = (b ^ v.rotate_left(23))
            .wrapping_mul(0xc4ce_b9fe_1a85_ec53)
            .rotate_left(29);
    }
    let rest = chunks.remainder();
    let mut word = [0u8; 8];
    word[..rest.len()].copy_from_slice(rest);
    let v = u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59);
    a = (a ^ v).wrapping_mul(0xff51_afd7_ed55_8ccd);
    b = (b ^ v.rotate_left(23)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    [fmix(a ^ b.rotate_left(17)), fmix(b ^ a.rotate_left(41))]
}

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// The result of a merge: every test once, with all of its attempts.
pub struct MergedRun {
    entries: Vec<Entry>,
    more: Vec<Attempt>,
    suites: Vec<String>,
    /// Entries of each suite, in first-seen order.
    members: Vec<Vec<u32>>,
    spools: Vec<File>,
    inputs: Vec<InputReport>,
    cases: u64,
    case_seconds: f64,
    read_limits: ReadLimits,
}

/// Counts over a set of tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    /// Distinct test ids.
    pub tests: u64,
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
    pub flaky: u64,
    /// `<testcase>` elements read.
    pub cases: u64,
    /// Seconds: the sum of every attempt's time, as the inputs recorded it.
    pub duration_s: f64,
}

impl Totals {
    pub fn add(&mut self, status: Status) {
        self.tests += 1;
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Errored => self.errored += 1,
            Status::Skipped => self.skipped += 1,
            Status::Flaky => self.flaky += 1,
        }
    }
}

/// One test as the merge sees it, handed to [`MergedRun::visit`].
#[derive(Debug)]
pub struct MergedTest<'a> {
    pub id: TestId,
    /// The suite the test was first seen in.
    pub suite: &'a str,
    /// The deciding attempt's data; earlier failed attempts are its `reruns`.
    pub case: TestCase,
    pub status: Status,
    /// Every attempt, including reruns recorded inside one element.
    pub attempts: u32,
}

impl MergedRun {
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            cases: self.cases,
            // Sums of thousandths pick up float noise; times are never finer than that.
            duration_s: (self.case_seconds * 1000.0).round() / 1000.0,
            ..Totals::default()
        };
        for e in &self.entries {
            t.add(e.status);
        }
        t
    }

    pub fn inputs(&self) -> &[InputReport] {
        &self.inputs
    }

    /// Inputs that could not be read, or not to the end.
    pub fn problems(&self) -> impl Iterator<Item = &InputReport> {
        self.inputs.iter().filter(|i| i.error.is_some())
    }

    pub fn suite_names(&self) -> &[String] {
        &self.suites
    }

    /// Per-suite totals, in first-seen order.
    pub fn suite_totals(&self) -> Vec<(&str, Totals)> {
        self.members
            .iter()
            .zip(&self.suites)
            .map(|(members, name)| {
                let mut t = Totals::default();
                for &m in members {
                    let e = &self.entries[m as usize];
                    t.add(e.status);
                    t.cases += u64::from(e.elements);
                    t.duration_s += self.last_attempt(e).duration.max(0.0);
                }
                t.duration_s = (t.duration_s * 1000.0).round() / 1000.0;
                (name.as_str(), t)
            })
            .collect()
    }

    /// The elements of a test, in the order they were read.
    fn chain<'a>(&'a self, e: &'a Entry) -> impl Iterator<Item = &'a Attempt> + 'a {
        let mut next = Some(&e.first);
        std::iter::from_fn(move || {
            let a = next?;
            next = (a.next != NONE).then(|| &self.more[a.next as usize]);
            Some(a)
        })
    }

    fn last_attempt(&self, e: &Entry) -> Attempt {
        if e.last == NONE {
            e.first
        } else {
            self.more[e.last as usize]
        }
    }

    /// The `n` slowest tests by their deciding attempt's duration, as (suite-ordered
    /// entry index, seconds); pass them to [`MergedRun::visit_entries`].
    pub fn slowest(&self, n: usize) -> Vec<(u32, f64)> {
        let mut all: Vec<(u32, f64)> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let d = self.last_attempt(e).duration;
                (d >= 0.0).then_some((i as u32, d))
            })
            .collect();
        let n = n.min(all.len());
        if n == 0 {
            return Vec::new();
        }
        all.select_nth_unstable_by(n - 1, |a, b| b.1.total_cmp(&a.1));
        all.truncate(n);
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        all
    }

    /// Entry indices of tests with a given status, in output order.
    pub fn with_status(&self, wanted: &[Status]) -> Vec<u32> {
        self.members
            .iter()
            .flatten()
            .copied()
            .filter(|&i| wanted.contains(&self.entries[i as usize].status))
            .collect()
    }

    /// Number of distinct tests.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Visits every test, grouped by suite in first-seen order.
    pub fn visit(&self, mut f: impl FnMut(&MergedTest<'_>) -> io::Result<()>) -> io::Result<()> {
        let mut reader = SpoolReader::new(&self.spools);
        for members in &self.members {
            for &m in members {
                let t = self.load(&mut reader, m)?;
                f(&t)?;
            }
        }
        Ok(())
    }

    /// Visits the given entries (from [`MergedRun::slowest`] or
    /// [`MergedRun::with_status`]) in the given order.
    pub fn visit_entries(
        &self,
        entries: &[u32],
        mut f: impl FnMut(&MergedTest<'_>) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut reader = SpoolReader::new(&self.spools);
        for &m in entries {
            if (m as usize) < self.entries.len() {
                let t = self.load(&mut reader, m)?;
                f(&t)?;
            }
        }
        Ok(())
    }

    /// Reads an element back from the spool, inside its suite.
    fn reparse(&self, reader: &mut SpoolReader<'_>, a: &Attempt) -> io::Result<TestCase> {
        let raw = reader.read(a.record)?;
        let suite = self.suites.get(a.suite as usize).map_or("", String::as_str);
        let mut doc = Vec::with_capacity(raw.len() + suite.len() + 32);
        doc.extend_from_slice(b"<testsuite name=\"");
        crate::junit::write::escape_into(&mut doc, suite, true)?;
        doc.extend_from_slice(b"\">");
        doc.extend_from_slice(raw);
        doc.extend_from_slice(b"</testsuite>");
        let mut r = JunitReader::with_limits(&doc[..], "the merge spool", self.read_limits);
        r.next_case()
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::other("an empty record in the merge spool"))
    }

    fn load(&self, reader: &mut SpoolReader<'_>, index: u32) -> io::Result<MergedTest<'_>> {
        let e = &self.entries[index as usize];
        let first = self.reparse(reader, &e.first)?;
        let case = if e.first.next == NONE {
            first
        } else {
            let mut cases = vec![first];
            let mut next = e.first.next;
            while next != NONE {
                let a = self.more[next as usize];
                cases.push(self.reparse(reader, &a)?);
                next = a.next;
            }
            combine_attempts(cases)
        };
        Ok(MergedTest {
            id: case.id(),
            suite: self.suites.get(e.suite as usize).map_or("", String::as_str),
            case,
            status: e.status,
            attempts: e.attempts,
        })
    }

    /// Writes the merged JUnit document.
    pub fn write_junit<W: Write>(&self, out: W, limits: WriteLimits) -> io::Result<W> {
        let mut w = JunitWriter::new(out, limits);
        // Counts follow the result element each test case is written with, since
        // that is what importers count. A plain element copied as it is shows its
        // verdict; a rewritten failure shows its first failure, Surefire's way (see
        // `JunitWriter::write_case`), so one that failed and then errored counts
        // as a failure here while the summary calls it errored.
        let verbatim_max = limits.message.min(limits.details).min(limits.output);
        let verbatim = |e: &Entry| {
            e.elements == 1 && e.first.plain && e.first.record.len as usize <= verbatim_max
        };
        let written = |e: &Entry| match e.status {
            Status::Passed | Status::Flaky => Outcome::Passed,
            Status::Skipped => Outcome::Skipped,
            Status::Failed | Status::Errored if !verbatim(e) => self
                .chain(e)
                .find_map(|a| a.first_failure)
                .unwrap_or(if e.status == Status::Failed {
                    Outcome::Failed
                } else {
                    Outcome::Errored
                }),
            Status::Failed => Outcome::Failed,
            Status::Errored => Outcome::Errored,
        };
        let mut all = SuiteCounts::default();
        let mut per_suite = Vec::with_capacity(self.members.len());
        for members in &self.members {
            let mut c = SuiteCounts::default();
            for &m in members {
                let e = &self.entries[m as usize];
                let d = self.last_attempt(e).duration;
                c.add(written(e), (d >= 0.0).then_some(d));
            }
            all.tests += c.tests;
            all.failures += c.failures;
            all.errors += c.errors;
            all.skipped += c.skipped;
            all.time += c.time;
            per_suite.push(c);
        }
        w.start("dtf", &all)?;
        let mut reader = SpoolReader::new(&self.spools);
        // An element seen once, plain, and small enough that no limit can apply, is
        // copied as it was read: it is well-formed, and copying is what keeps large
        // merges fast.
        for ((members, name), counts) in self.members.iter().zip(&self.suites).zip(&per_suite) {
            w.start_suite(name, counts, &[])?;
            for &m in members {
                let e = &self.entries[m as usize];
                if verbatim(e) {
                    w.write_raw_case(reader.read(e.first.record)?)?;
                    continue;
                }
                let t = self.load(&mut reader, m)?;
                if t.attempts > 1 {
                    w.write_case(&t.case, &[("dtf.attempts", t.attempts.to_string())])?;
                } else {
                    w.write_case(&t.case, &[])?;
                }
            }
            w.end_suite()?;
        }
        w.finish()
    }
}

/// Folds several attempts (each possibly with its own reruns) into one case: the
/// deciding attempt's data, with every earlier failed attempt as a rerun.
fn combine_attempts(cases: Vec<TestCase>) -> TestCase {
    let mut flat: Vec<TestCase> = Vec::new();
    for mut c in cases {
        for r in std::mem::take(&mut c.reruns) {
            flat.push(TestCase {
                outcome: OutcomeField(r.outcome),
                detail: r.detail,
                stdout: r.stdout,
                stderr: r.stderr,
                duration: r.duration,
                ..TestCase::default()
            });
        }
        flat.push(c);
    }
    let decide = flat
        .iter()
        .rposition(|c| c.outcome() != Outcome::Skipped)
        .unwrap_or(flat.len().saturating_sub(1));
    let mut decided = flat.swap_remove(decide);
    // `swap_remove` moved the last element into `decide`; put order back.
    if decide < flat.len() {
        let moved = flat.remove(decide);
        flat.push(moved);
    }
    decided.reruns = flat
        .into_iter()
        .take(decide)
        .filter(|c| c.outcome().is_failure())
        .map(|c| Rerun {
            outcome: c.outcome(),
            detail: c.detail,
            stdout: c.stdout,
            stderr: c.stderr,
            duration: c.duration,
        })
        .collect();
    decided
}

/// Merges the inputs, in the order given.
pub fn merge(inputs: &[Input], options: &MergeOptions) -> Result<MergedRun, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError::NoInputs);
    }
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    }
    .clamp(1, inputs.len());

    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<FileResult>();
    let mut run = MergedRun {
        entries: Vec::new(),
        more: Vec::new(),
        suites: Vec::new(),
        members: Vec::new(),
        spools: Vec::new(),
        inputs: Vec::new(),
        cases: 0,
        case_seconds: 0.0,
        read_limits: options.read_limits,
    };
    let mut outcome: Result<(), MergeError> = Ok(());

    std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for spool_index in 0..threads {
            let tx = tx.clone();
            let next = &next;
            workers.push(scope.spawn(move || -> Result<File, MergeError> {
                let mut spool =
                    SpoolWriter::new(options.spool_dir.as_deref()).map_err(MergeError::Spool)?;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let result = read_input(
                        i,
                        input,
                        spool_index as u32,
                        &mut spool,
                        options.read_limits,
                    );
                    let fatal = matches!(result.error, Some(MergeError::Spool(_)));
                    if tx.send(result).is_err() || fatal {
                        break;
                    }
                }
                spool.finish().map_err(MergeError::Spool)
            }));
        }
        drop(tx);

        // Sized from the inputs' bytes (about 200 a test case) when they are files, so
        // the table does not hold two copies of itself while it grows.
        let expected = match options.expected_tests {
            0 => (inputs.iter().filter_map(|i| i.size).sum::<u64>() / BYTES_PER_CASE) as usize,
            n => n,
        };
        let mut index = Index::with_capacity_and_hasher(expected, Default::default());
        let mut suite_index: HashMap<String, u32> = HashMap::new();
        let mut pending: std::collections::BTreeMap<usize, FileResult> = Default::default();
        let mut expected = 0usize;
        for result in rx.iter() {
            pending.insert(result.index, result);
            while let Some(result) = pending.remove(&expected) {
                expected += 1;
                if outcome.is_err() {
                    continue;
                }
                if let Some(cb) = &options.on_input_done {
                    cb(&InputDone {
                        name: result.report.source.clone(),
                        cases: result.report.cases,
                        bytes: result.report.bytes,
                        failed: result.error.is_some(),
                    });
                }
                if let Some(err) = result.error {
                    let stop = !options.keep_going || matches!(err, MergeError::Spool(_));
                    if stop {
                        outcome = Err(err);
                        // Workers stop taking new inputs once nobody listens.
                        next.store(inputs.len(), Ordering::Relaxed);
                        continue;
                    }
                }
                run.add_file(&mut index, &mut suite_index, result.headers, &result.suites);
                run.inputs.push(result.report);
            }
        }
        for w in workers {
            match w.join() {
                Ok(Ok(file)) => run.spools.push(file),
                Ok(Err(e)) => {
                    if outcome.is_ok() {
                        outcome = Err(e);
                    }
                }
                Err(_) => {
                    if outcome.is_ok() {
                        outcome = Err(MergeError::Spool(io::Error::other(
                            "a merge worker panicked",
                        )));
                    }
                }
            }
        }
    });
    outcome?;
    Ok(run)
}

impl MergedRun {
    fn add_file(
        &mut self,
        index: &mut Index,
        suite_index: &mut HashMap<String, u32>,
        headers: Vec<Header>,
        suites: &[String],
    ) {
        let global: Vec<u32> = suites
            .iter()
            .map(|s| match suite_index.get(s) {
                Some(&i) => i,
                None => {
                    let i = self.suites.len() as u32;
                    self.suites.push(s.clone());
                    self.members.push(Vec::new());
                    suite_index.insert(s.clone(), i);
                    i
                }
            })
            .collect();
        for h in headers {
            self.cases += 1;
            self.case_seconds += h.seconds;
            let suite = global.get(h.suite as usize).copied().unwrap_or(0);
            let attempt = Attempt {
                record: h.record,
                suite,
                outcome: h.outcome,
                failed_any: h.failed_any,
                plain: h.plain,
                first_failure: h.first_failure,
                duration: h.duration,
                next: NONE,
            };
            match index.get(&h.key) {
                None => {
                    let i = self.entries.len() as u32;
                    index.insert(h.key, i);
                    self.members[suite as usize].push(i);
                    self.entries.push(Entry {
                        suite,
                        first: attempt,
                        last: NONE,
                        attempts: 1 + u32::from(h.reruns),
                        elements: 1,
                        status: status_of(&[attempt]),
                    });
                }
                Some(&i) => {
                    let m = self.more.len() as u32;
                    self.more.push(attempt);
                    let e = &mut self.entries[i as usize];
                    if e.last == NONE {
                        e.first.next = m;
                    } else {
                        self.more[e.last as usize].next = m;
                    }
                    e.last = m;
                    e.attempts += 1 + u32::from(h.reruns);
                    e.elements += 1;
                    let e = &self.entries[i as usize];
                    let chain: Vec<Attempt> = self.chain(e).copied().collect();
                    self.entries[i as usize].status = status_of(&chain);
                }
            }
        }
    }
}

/// The verdict over elements in the order they were read; see [`Status::from_attempts`].
fn status_of(chain: &[Attempt]) -> Status {
    let Some(decisive) = chain.iter().rposition(|a| a.outcome != Outcome::Skipped) else {
        return Status::Skipped;
    };
    match chain[decisive].outcome {
        Outcome::Passed if chain[..=decisive].iter().any(|a| a.failed_any) => Status::Flaky,
        Outcome::Passed | Outcome::Skipped => Status::Passed,
        Outcome::Failed => Status::Failed,
        Outcome::Errored => Status::Errored,
    }
}

fn read_input(
    index: usize,
    input: &Input,
    spool_index: u32,
    spool: &mut SpoolWriter,
    limits: ReadLimits,
) -> FileResult {
    let mut result = FileResult {
        index,
        headers: Vec::new(),
        suites: Vec::new(),
        report: InputReport {
            source: input.name.clone(),
            cases: 0,
            bytes: 0,
            error: None,
        },
        error: None,
    };
    let raw = match (input.open)() {
        Ok(r) => r,
        Err(source) => {
            result.report.error = Some(format!("cannot open: {source}"));
            result.error = Some(MergeError::Open {
                name: input.name.clone(),
                source,
            });
            return result;
        }
    };
    // Text is read later, from the spooled raw element, and only for the tests that
    // need it: failures for the summary, retried tests, large elements.
    let mut reader = JunitReader::with_limits(
        BufReader::with_capacity(256 << 10, raw),
        input.name.clone(),
        limits,
    )
    .capture_text(false)
    .keep_raw(true);
    let mut suite_ids: HashMap<String, u32> = HashMap::new();
    let mut id = String::new();
    loop {
        match reader.next_case() {
            Ok(Some(case)) => {
                TestId::write(
                    &mut id,
                    case.classname.as_deref(),
                    case.id_file(),
                    &case.suite,
                    &case.name,
                );
                let suite = match suite_ids.get(&case.suite) {
                    Some(&s) => s,
                    None => {
                        let s = result.suites.len() as u32;
                        result.suites.push(case.suite.clone());
                        suite_ids.insert(case.suite.clone(), s);
                        s
                    }
                };
                let (offset, len) = match spool.push(reader.raw_case()) {
                    Ok(v) => v,
                    Err(e) => {
                        result.report.error = Some(format!("cannot write the spool file: {e}"));
                        result.error = Some(MergeError::Spool(e));
                        break;
                    }
                };
                result.headers.push(Header {
                    key: hash_id(&id),
                    suite,
                    record: RecordRef {
                        spool: spool_index,
                        offset,
                        len,
                    },
                    outcome: match case.status() {
                        Status::Passed | Status::Flaky => Outcome::Passed,
                        Status::Failed => Outcome::Failed,
                        Status::Errored => Outcome::Errored,
                        Status::Skipped => Outcome::Skipped,
                    },
                    failed_any: case.attempt_outcomes().any(Outcome::is_failure),
                    plain: reader.raw_case_is_plain(),
                    first_failure: case.attempt_outcomes().find(|o| o.is_failure()),
                    reruns: u16::try_from(case.reruns.len()).unwrap_or(u16::MAX),
                    duration: case.duration.unwrap_or(-1.0),
                    seconds: case.duration.unwrap_or(0.0)
                        + case.reruns.iter().filter_map(|r| r.duration).sum::<f64>(),
                });
            }
            Ok(None) => break,
            Err(e) => {
                result.report.error = Some(e.to_string());
                result.error = Some(MergeError::Read(e));
                break;
            }
        }
    }
    result.report.cases = reader.cases_read();
    result.report.bytes = reader.bytes_read();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_fold_into_the_deciding_one() {
        let case = |o: Outcome, msg: &str| TestCase {
            name: "t".into(),
            outcome: OutcomeField(o),
            detail: crate::model::Detail {
                message: Some(msg.into()),
                ..Default::default()
            },
            ..TestCase::default()
        };
        let merged = combine_attempts(vec![
            case(Outcome::Failed, "first"),
            case(Outcome::Errored, "second"),
            case(Outcome::Passed, "third"),
            case(Outcome::Skipped, "fourth"),
        ]);
        assert_eq!(merged.outcome(), Outcome::Passed);
        assert_eq!(merged.detail.message.as_deref(), Some("third"));
        let reruns: Vec<_> = merged
            .reruns
            .iter()
            .map(|r| r.detail.message.clone().unwrap_or_default())
            .collect();
        assert_eq!(reruns, ["first", "second"]);
    }

    #[test]
    fn hashes_differ() {
        let ids = ["a::b", "a::c", "b::a", "", "a::bb", "a::b "];
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            assert!(seen.insert(hash_id(id)), "{id}");
        }
    }
}
