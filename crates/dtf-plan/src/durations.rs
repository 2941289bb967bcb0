//! How long each test takes, learned from history: earlier merged results of the
//! base branch, oldest build first.
//!
//! ## The prediction
//!
//! Every attempt of a test that ran (retries and rerun shards included, skips left
//! out) is one sample. A test's duration is the **weighted median** of its samples over
//! the last [`KEEP_BUILDS`] builds, where the newest build weighs 1 and each older one
//! [`DECAY`] times the next newer one (0.8: weights 1, 0.8, 0.64, ... 0.13). A build's
//! weight is shared equally by its samples of that test, so a test retried five times
//! in one build does not let that build outvote the others.
//!
//! Why a median, and why 0.8 rather than a steeper decay: a median ignores the one slow
//! run on a noisy runner, which a mean would chase. With a decay of 0.5 the newest build
//! alone (weight 1) outweighs every older one together (0.5 + 0.25 + ... < 1), so the
//! "median" would just be the newest value, outliers included. With 0.8 the newest
//! build holds about a fifth of the weight: two or three recent builds that agree move
//! the prediction (a test that really got slower), one does not.
//!
//! A test that only ever skipped keeps its skip times (usually about zero): it will
//! most likely skip again.
//!
//! ## Tests without history
//!
//! They get an estimate, marked `estimated = true`: the median duration of the known
//! tests of the same file, else of the same suite (the id's scope: class, module,
//! package, binary), else of all known tests, else [`DEFAULT_ESTIMATE_S`] when there is
//! no history at all (every test then weighs the same, and the plan balances counts).
//!
//! ## Start-up cost per invocation
//!
//! Learned from the JUnit `<testsuite time>` attribute: for a suite holding test cases
//! (and no nested suite), `time - sum(testcase time)` is what the framework spent
//! outside the tests: collection, fixtures of the session, process start of the file.
//! The estimate is the median over the suites of a build, then the weighted median over
//! builds. Only positive differences above a millisecond count.
//!
//! Limits, as the method cannot see them: it measures only what the framework itself
//! timed, never checkout, compilation, dependency install or runner boot (add those in
//! `dtf.toml` as a pool's `startup`); suites run in parallel inside one process
//! (pytest-xdist) report a time below the sum and teach nothing; frameworks whose suite
//! time is just the sum of their cases (Surefire, Gradle, dtf's own merged output)
//! teach nothing either; jest and vitest time one suite per file, so what is learned
//! there is a per-file cost, an upper bound for nothing and a lower bound for a whole
//! invocation. Speeds per runner pool, learned from runner labels in history, are out
//! of scope here: a pool's `speed` comes from `dtf.toml`.
//!
//! ## Inputs
//!
//! A build is JUnit (files, folders, globs, or [`Source`]s the caller opens, such as
//! bundle entries), a `dtf.summary.v1` (which names only the slowest, failed and flaky
//! tests), or a timings map `{"test id": seconds}`: exactly pytest-split's
//! `.test_durations` format, also as its older list of `[id, seconds]` pairs. Keys that
//! are pytest node ids (`tests/test_a.py::TestC::test_x`) are also found under the dtf
//! id pytest's JUnit gives the same test (`tests.test_a.TestC::test_x`), and the other
//! way round.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dtf_core::junit::{JunitReader, ReadError, parse_time};
use dtf_core::merge::{Input, MergeError, MergeOptions, MergedRun, merge};
use dtf_core::model::{Outcome, TestId};
use dtf_core::summary::{Summary, SummaryError, TestSummary};

use crate::discover::{looks_like_pytest_nodeid, pytest_nodeid_to_id};
use crate::inventory::{derive_file, derived_file, normalize_file, normalized_file};

/// Builds of history kept; older ones are ignored.
pub const KEEP_BUILDS: usize = 10;
/// Weight of a build relative to the next newer one.
pub const DECAY: f64 = 0.8;
/// Seconds given to every test when there is no history at all.
pub const DEFAULT_ESTIMATE_S: f64 = 1.0;
/// Suite overheads at or below this are rounding noise, not start-up.
const MIN_OVERHEAD_S: f64 = 0.001;
type Opener = dyn Fn() -> io::Result<Box<dyn Read + Send>> + Send + Sync;

/// A JUnit document to read: a file, or anything the caller can open (a bundle entry,
/// a buffer). Unlike [`Input`], it can be opened here twice: once for the test cases,
/// once for the suite times.
#[derive(Clone)]
pub struct Source {
    name: String,
    path: Option<PathBuf>,
    open: Arc<Opener>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Source {
    pub fn file(path: impl Into<PathBuf>) -> Source {
        let path: PathBuf = path.into();
        let opened = path.clone();
        Source {
            name: path.display().to_string(),
            path: Some(path),
            open: Arc::new(move || {
                Ok(Box::new(std::fs::File::open(&opened)?) as Box<dyn Read + Send>)
            }),
        }
    }

    /// `open` is called once per read.
    pub fn custom(
        name: impl Into<String>,
        open: impl Fn() -> io::Result<Box<dyn Read + Send>> + Send + Sync + 'static,
    ) -> Source {
        Source {
            name: name.into(),
            path: None,
            open: Arc::new(open),
        }
    }

    pub fn bytes(name: impl Into<String>, bytes: impl Into<Arc<[u8]>>) -> Source {
        let bytes: Arc<[u8]> = bytes.into();
        Source::custom(name, move || {
            Ok(Box::new(io::Cursor::new(Arc::clone(&bytes))) as Box<dyn Read + Send>)
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        (self.open)()
    }

    /// The same document as a merge input.
    pub fn to_input(&self) -> Input {
        match &self.path {
            Some(p) => Input::file(p),
            None => {
                let open = Arc::clone(&self.open);
                Input::custom(self.name.clone(), move || open())
            }
        }
    }
}

/// History that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("invalid glob pattern `{pattern}`: {message}")]
    Glob { pattern: String, message: String },
    #[error("`{pattern}` matched no file")]
    NoMatch { pattern: String },
    #[error("{path}: the folder holds no JUnit file")]
    EmptyFolder { path: String },
    #[error(
        "{path}: a dtf bundle; expand bundles into sources first (the dtf command does), or unpack it"
    )]
    Bundle { path: String },
    #[error(transparent)]
    Junit(#[from] ReadError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Summary(#[from] SummaryError),
    #[error("{source_name}: line {line}, column {column}: {message}")]
    Json {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{source_name}: not a timing file: expected JUnit XML, a dtf.summary.v1, or a JSON object of test id to seconds"
    )]
    UnknownFormat { source_name: String },
}

type Result<T, E = HistoryError> = std::result::Result<T, E>;

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> HistoryError + '_ {
    move |source| HistoryError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One test's times in one build.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestTimes {
    /// The dtf id, `SCOPE::NAME`.
    pub id: String,
    /// The id's scope (classname, else file, else suite name), when known.
    pub scope: Option<String>,
    /// The source file the results name, when they do.
    pub file: Option<String>,
    /// Seconds of every attempt that ran (not skipped), in the order read.
    pub attempts: Vec<f64>,
    /// Seconds of skipped attempts; used only for a test that never ran.
    pub skipped: Vec<f64>,
}

/// Everything one build teaches: per-test times, and start-up costs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildTimes {
    /// In first-seen order, one entry per id.
    pub tests: Vec<TestTimes>,
    /// Start-up seconds seen in this build's suites (see the module documentation).
    pub startup: Vec<f64>,
}

/// Folds attempts of the same id into one entry, keeping first-seen order.
#[derive(Default)]
struct Folder {
    index: HashMap<String, usize>,
    tests: Vec<TestTimes>,
}

impl Folder {
    fn add(&mut self, t: TestTimes) {
        match self.index.get(&t.id) {
            Some(&i) => {
                let e = &mut self.tests[i];
                e.attempts.extend(t.attempts);
                e.skipped.extend(t.skipped);
                if e.file.is_none() {
                    e.file = t.file;
                }
                if e.scope.is_none() {
                    e.scope = t.scope;
                }
            }
            None => {
                self.index.insert(t.id.clone(), self.tests.len());
                self.tests.push(t);
            }
        }
    }
}

impl BuildTimes {
    /// One build from a merged run: the deciding attempt of each test and every failed
    /// attempt before it (a merge does not keep earlier passing attempts' times, and
    /// cannot give suite times: no start-up is learned this way).
    pub fn from_merged(run: &MergedRun) -> Result<BuildTimes> {
        let mut tests = Vec::with_capacity(run.len());
        run.visit(|t| {
            let mut times = TestTimes {
                id: t.id.0.clone(),
                scope: Some(
                    TestId::scope(t.case.classname.as_deref(), t.case.id_file(), t.suite)
                        .to_owned(),
                )
                .filter(|s| !s.is_empty()),
                file: t.case.id_file().map(normalize_file),
                ..TestTimes::default()
            };
            times
                .attempts
                .extend(t.case.reruns.iter().filter_map(|r| r.duration));
            if let Some(d) = t.case.duration {
                if t.case.outcome() == Outcome::Skipped {
                    times.skipped.push(d);
                } else {
                    times.attempts.push(d);
                }
            }
            tests.push(times);
            Ok(())
        })
        .map_err(|source| HistoryError::Io {
            path: "the merge spool".into(),
            source,
        })?;
        Ok(BuildTimes {
            tests,
            startup: Vec::new(),
        })
    }

    /// One build from a timings map, `(test id, seconds)` in file order.
    pub fn from_map(pairs: &[(String, f64)]) -> BuildTimes {
        let mut folder = Folder::default();
        for (id, secs) in pairs {
            folder.add(TestTimes {
                id: id.clone(),
                scope: None,
                file: derive_file(id, None, None),
                attempts: vec![*secs],
                skipped: Vec::new(),
            });
        }
        BuildTimes {
            tests: folder.tests,
            startup: Vec::new(),
        }
    }

    /// One build from a summary: only the tests it names (slowest, failed, flaky).
    pub fn from_summary(summary: &Summary) -> BuildTimes {
        let mut folder = Folder::default();
        let lists: [&[TestSummary]; 3] = [&summary.slowest, &summary.failures, &summary.flaky];
        for t in lists.into_iter().flatten() {
            let Some(d) = t.duration_s else { continue };
            let scope = TestId::scope(t.classname.as_deref(), t.file.as_deref(), &t.suite);
            let mut times = TestTimes {
                id: t.id.clone(),
                scope: Some(scope.to_owned()).filter(|s| !s.is_empty()),
                file: t.file.as_deref().map(normalize_file),
                ..TestTimes::default()
            };
            if t.status == dtf_core::model::Status::Skipped {
                times.skipped.push(d);
            } else {
                times.attempts.push(d);
            }
            // The same test can be both slowest and failed: one sample, not two.
            if !folder.index.contains_key(&times.id) {
                folder.add(times);
            }
        }
        BuildTimes {
            tests: folder.tests,
            startup: Vec::new(),
        }
    }
}

/// Streams one JUnit document's cases into the builder, every attempt a sample, while
/// a second thread scans the same document for suite times.
fn read_source_into(b: &mut Builder, src: &Source) -> Result<()> {
    let raw = src.open().map_err(|source| HistoryError::Io {
        path: src.name().to_owned(),
        source,
    })?;
    std::thread::scope(|scope| {
        // The suite pass only refines the start-up estimate: a source that cannot be
        // opened again teaches nothing rather than failing the build.
        let scan = scope.spawn(|| match src.open() {
            Ok(raw) => suite_overheads(raw),
            Err(_) => Vec::new(),
        });
        let mut reader = JunitReader::new(BufReader::with_capacity(256 << 10, raw), src.name())
            .capture_text(false);
        let mut id = String::new();
        let read = loop {
            let case = match reader.next_case() {
                Ok(Some(case)) => case,
                Ok(None) => break Ok(()),
                Err(e) => break Err(HistoryError::from(e)),
            };
            TestId::write(
                &mut id,
                case.classname.as_deref(),
                case.id_file(),
                &case.suite,
                &case.name,
            );
            let scope = TestId::scope(case.classname.as_deref(), case.id_file(), &case.suite);
            let (test, file) = b.test(&id, Some(scope), case.id_file());
            for r in &case.reruns {
                if let Some(d) = r.duration {
                    b.sample(test, file, d, true);
                }
            }
            if let Some(d) = case.duration {
                b.sample(test, file, d, case.outcome() != Outcome::Skipped);
            }
        };
        let overheads = scan.join().unwrap_or_default();
        b.startup_of_build.extend(overheads);
        read
    })
}

/// The weighted median of `(value, weight)` samples: the smallest value at which the
/// cumulative weight reaches half the total; when it lands exactly on half, the mean
/// of that value and the next (so equal weights give the ordinary median). Samples
/// that are not finite or weigh nothing are ignored.
pub fn weighted_median(samples: &[(f64, f64)]) -> Option<f64> {
    let valid = |&(v, w): &(f64, f64)| v.is_finite() && w.is_finite() && w > 0.0;
    // Most tests have one sample a build and few builds: no sorting needed for one.
    if let [one] = samples {
        return valid(one).then_some(one.0);
    }
    let mut s: Vec<(f64, f64)> = samples.iter().copied().filter(valid).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = s.iter().map(|x| x.1).sum();
    let half = total / 2.0;
    let eps = total * 1e-9;
    let mut acc = 0.0;
    for (i, &(v, w)) in s.iter().enumerate() {
        acc += w;
        if acc >= half - eps {
            if (acc - half).abs() <= eps
                && let Some(&(next, _)) = s.get(i + 1)
            {
                return Some((v + next) / 2.0);
            }
            return Some(v);
        }
    }
    s.last().map(|x| x.0)
}

/// The ordinary median.
pub fn median(values: &[f64]) -> Option<f64> {
    let samples: Vec<(f64, f64)> = values.iter().map(|&v| (v, 1.0)).collect();
    weighted_median(&samples)
}

/// What history knows of one test.
#[derive(Clone, Debug)]
struct Known {
    id: String,
    scope: Option<String>,
    file: Option<String>,
    duration: Option<f64>,
    /// Run-to-run spread (robust standard deviation of the log of its per-build
    /// times), from [`MIN_SPREAD_BUILDS`] or more builds that ran it.
    spread: Option<f64>,
}

/// Builds a test must have run in before its own spread is trusted.
pub const MIN_SPREAD_BUILDS: usize = 3;

/// The robust standard deviation of `ln(value)` over one value a build: 1.4826 times
/// the median absolute deviation (the normal's sigma, untouched by one outlier).
/// Values at or below a millisecond are left out: their logs are timer noise.
pub fn log_spread(per_build: &[f64]) -> Option<f64> {
    let logs: Vec<f64> = per_build
        .iter()
        .filter(|&&v| v > 1e-3)
        .map(|v| v.ln())
        .collect();
    if logs.len() < MIN_SPREAD_BUILDS {
        return None;
    }
    let mut sorted = logs.clone();
    sorted.sort_by(f64::total_cmp);
    let center = median(&sorted)?;
    let mut dev: Vec<f64> = logs.iter().map(|l| (l - center).abs()).collect();
    dev.sort_by(f64::total_cmp);
    median(&dev).map(|mad| 1.4826 * mad)
}

/// Options for reading history.
#[derive(Clone, Debug, Default)]
pub struct HistoryOptions {
    /// Use what can be read and record the rest in [`History::warnings`], instead of
    /// stopping at the first unreadable input: an input that breaks off keeps the
    /// cases before the break, like a merge with `--keep-going`.
    pub keep_going: bool,
}

/// One duration of one test in one build.
#[derive(Clone, Copy, Debug)]
struct Sample {
    value: f64,
    build: u16,
    /// The file key the build gave the test ([`NO_FILE`] for none).
    file: u32,
    /// The attempt ran (was not skipped).
    ran: bool,
}

const NO_FILE: u32 = u32::MAX;

/// Collects builds one after another, so that only one build's documents are being
/// read at a time and each test's id is stored once, whatever the number of builds.
#[derive(Default)]
struct Builder {
    builds: u16,
    index: HashMap<String, usize>,
    tests: Vec<Known>,
    samples: Vec<Vec<Sample>>,
    file_index: HashMap<String, u32>,
    file_keys: Vec<String>,
    /// Start-up samples of each build; the last is the build being read.
    startup: Vec<Vec<f64>>,
    startup_of_build: Vec<f64>,
}

impl Builder {
    /// Every build is `start_build`, its documents, then `finish_build`.
    fn start_build(&mut self) {
        self.builds += 1;
        self.startup_of_build.clear();
    }

    fn finish_build(&mut self) {
        let done = std::mem::take(&mut self.startup_of_build);
        self.startup.push(done);
    }

    /// The test's index (added when new) and the file key this build gives it.
    fn test(&mut self, id: &str, scope: Option<&str>, file: Option<&str>) -> (usize, u32) {
        let scope = scope.map(str::trim).filter(|s| !s.is_empty());
        let file = file.map(str::trim).filter(|f| !f.is_empty());
        let i = match self.index.get(id) {
            Some(&i) => i,
            None => {
                let i = self.tests.len();
                self.index.insert(id.to_owned(), i);
                self.tests.push(Known {
                    id: id.to_owned(),
                    scope: None,
                    file: None,
                    duration: None,
                    spread: None,
                });
                self.samples.push(Vec::new());
                i
            }
        };
        // The newest build's idea of where a test lives wins.
        let k = &mut self.tests[i];
        if let Some(s) = scope
            && k.scope.as_deref() != Some(s)
        {
            k.scope = Some(s.to_owned());
        }
        if let Some(f) = file {
            let f = normalized_file(f);
            if k.file.as_deref() != Some(&*f) {
                k.file = Some(f.into_owned());
            }
        }
        let key = match derived_file(id, file, scope) {
            Some(key) => match self.file_index.get(&*key) {
                Some(&k) => k,
                None => {
                    let k = self.file_keys.len() as u32;
                    self.file_index.insert(key.to_string(), k);
                    self.file_keys.push(key.into_owned());
                    k
                }
            },
            None => NO_FILE,
        };
        (i, key)
    }

    fn sample(&mut self, test: usize, file: u32, value: f64, ran: bool) {
        if value.is_finite() && value >= 0.0 {
            self.samples[test].push(Sample {
                value,
                build: self.builds.saturating_sub(1),
                file,
                ran,
            });
        }
    }

    fn push(&mut self, build: &BuildTimes) {
        self.start_build();
        for t in &build.tests {
            let (i, file) = self.test(&t.id, t.scope.as_deref(), t.file.as_deref());
            for &d in &t.attempts {
                self.sample(i, file, d, true);
            }
            for &d in &t.skipped {
                self.sample(i, file, d, false);
            }
        }
        self.startup_of_build.extend(build.startup.iter().copied());
        self.finish_build();
    }

    fn finish(self) -> History {
        let n = usize::from(self.builds);
        let weight = |b: u16| DECAY.powi((n - 1 - usize::from(b)) as i32);
        let mut h = History {
            builds: n,
            ..History::default()
        };
        // Per file key, the sum of its tests' mean time in each build.
        let mut file_sums: Vec<Vec<(u16, f64)>> = vec![Vec::new(); self.file_keys.len()];
        let mut ran = Vec::new();
        let mut skipped = Vec::new();
        let mut per_build = Vec::new();
        let mut tests = self.tests;
        for (k, samples) in tests.iter_mut().zip(&self.samples) {
            ran.clear();
            skipped.clear();
            per_build.clear();
            // Samples come in build order: one run of equal `build` a build.
            for run in samples.chunk_by(|a, b| a.build == b.build) {
                let w = weight(run[0].build);
                let ran_n = run.iter().filter(|s| s.ran).count();
                let skip_n = run.len() - ran_n;
                for s in run {
                    if s.ran {
                        ran.push((s.value, w / ran_n as f64));
                    } else {
                        skipped.push((s.value, w / skip_n as f64));
                    }
                }
                let (sum, count) = run
                    .iter()
                    .filter(|s| s.ran == (ran_n > 0))
                    .fold((0.0, 0usize), |(sum, n), s| (sum + s.value, n + 1));
                if ran_n > 0 {
                    let (sum, n) = run
                        .iter()
                        .filter(|s| s.ran)
                        .fold((0.0, 0usize), |(sum, n), s| (sum + s.value, n + 1));
                    per_build.push(sum / n as f64);
                }
                let file = run[0].file;
                if file != NO_FILE && count > 0 {
                    let mean = sum / count as f64;
                    let sums = &mut file_sums[file as usize];
                    match sums.iter_mut().find(|(b, _)| *b == run[0].build) {
                        Some(e) => e.1 += mean,
                        None => sums.push((run[0].build, mean)),
                    }
                }
            }
            k.duration = weighted_median(&ran).or_else(|| weighted_median(&skipped));
            k.spread = log_spread(&per_build);
        }
        for (key, sums) in self.file_keys.into_iter().zip(file_sums) {
            let samples: Vec<(f64, f64)> = sums.iter().map(|&(b, v)| (v, weight(b))).collect();
            if let Some(d) = weighted_median(&samples) {
                let name = key.rsplit('/').next().unwrap_or(&key).to_owned();
                h.file_names.entry(name).or_default().push(key.clone());
                h.files.insert(key, d);
            }
        }
        // Sorted so that equal inputs give equal medians whatever the map's order.
        let mut file_values: Vec<f64> = h.files.values().copied().collect();
        file_values.sort_by(f64::total_cmp);
        h.file_median = median(&file_values);
        let startup: Vec<(f64, f64)> = self
            .startup
            .iter()
            .enumerate()
            .filter_map(|(b, s)| median(s).map(|m| (m, weight(b as u16))))
            .collect();
        h.startup = weighted_median(&startup);

        // Groups for estimates; a median does not depend on the order of its values.
        let mut by_file: HashMap<&str, Vec<f64>> = HashMap::new();
        let mut by_scope: HashMap<&str, Vec<f64>> = HashMap::new();
        let mut all = Vec::new();
        let mut aliases = Vec::new();
        for (i, k) in tests.iter().enumerate() {
            if looks_like_pytest_nodeid(&k.id) {
                aliases.push((pytest_nodeid_to_id(&k.id), i));
            }
            let Some(d) = k.duration else { continue };
            all.push(d);
            if let Some(f) = &k.file {
                by_file.entry(f).or_default().push(d);
            }
            if let Some(s) = &k.scope {
                by_scope.entry(s).or_default().push(d);
            }
        }
        h.by_file = by_file
            .into_iter()
            .filter_map(|(k, v)| median(&v).map(|m| (k.to_owned(), m)))
            .collect();
        h.by_scope = by_scope
            .into_iter()
            .filter_map(|(k, v)| median(&v).map(|m| (k.to_owned(), m)))
            .collect();
        h.all_median = median(&all);
        h.index = self.index;
        for (alias, i) in aliases {
            h.index.entry(alias).or_insert(i);
        }
        h.tests = tests;
        h
    }
}

/// Durations learned from earlier builds, oldest first; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct History {
    builds: usize,
    tests: Vec<Known>,
    /// Lookup only; never iterated, so its order cannot leak into a plan.
    index: HashMap<String, usize>,
    files: HashMap<String, f64>,
    /// File keys by their last path component, for a relative id against an absolute key.
    file_names: HashMap<String, Vec<String>>,
    file_median: Option<f64>,
    by_file: HashMap<String, f64>,
    by_scope: HashMap<String, f64>,
    all_median: Option<f64>,
    startup: Option<f64>,
    warnings: Vec<String>,
}

impl History {
    /// No history: every test is estimated at [`DEFAULT_ESTIMATE_S`].
    pub fn empty() -> History {
        History::default()
    }

    /// History from builds, oldest first; only the last [`KEEP_BUILDS`] count.
    pub fn new(builds: &[BuildTimes]) -> History {
        let mut b = Builder::default();
        for build in &builds[builds.len().saturating_sub(KEEP_BUILDS)..] {
            b.push(build);
        }
        b.finish()
    }

    /// Reads builds of JUnit sources, oldest first (an empty build is a build with no
    /// tests, and still ages the ones before it). Every attempt counts, and suite
    /// times teach the start-up cost.
    pub fn from_sources(builds: &[Vec<Source>], options: &HistoryOptions) -> Result<History> {
        let mut b = Builder::default();
        let mut warnings = Vec::new();
        for build in &builds[builds.len().saturating_sub(KEEP_BUILDS)..] {
            b.start_build();
            for src in build {
                match read_source_into(&mut b, src) {
                    Ok(()) => {}
                    Err(e) if options.keep_going => warnings.push(e.to_string()),
                    Err(e) => return Err(e),
                }
            }
            b.finish_build();
        }
        let mut h = b.finish();
        h.warnings = warnings;
        Ok(h)
    }

    /// Reads builds given as merge inputs (what the dtf command expands files, folders
    /// and bundles into), oldest first. Through a merge, only each test's deciding
    /// attempt and its earlier failures are seen, and no start-up is learned; prefer
    /// [`History::from_sources`] where the documents can be opened twice.
    pub fn from_inputs(builds: &[Vec<Input>]) -> Result<History> {
        let mut b = Builder::default();
        for build in &builds[builds.len().saturating_sub(KEEP_BUILDS)..] {
            if build.is_empty() {
                b.push(&BuildTimes::default());
                continue;
            }
            let run = merge(build, &MergeOptions::default())?;
            b.push(&BuildTimes::from_merged(&run)?);
        }
        Ok(b.finish())
    }

    /// `--timings PATH...`: each argument is one build, oldest first, in any format
    /// [`load_timings`] accepts.
    pub fn from_timing_args(args: &[String], options: &HistoryOptions) -> Result<History> {
        let mut b = Builder::default();
        let mut warnings = Vec::new();
        for arg in &args[args.len().saturating_sub(KEEP_BUILDS)..] {
            let timings = match load_timings(arg) {
                Ok(t) => t,
                Err(e) if options.keep_going => {
                    warnings.push(e.to_string());
                    b.push(&BuildTimes::default());
                    continue;
                }
                Err(e) => return Err(e),
            };
            match timings {
                Timings::Junit(sources) => {
                    b.start_build();
                    for src in &sources {
                        match read_source_into(&mut b, src) {
                            Ok(()) => {}
                            Err(e) if options.keep_going => warnings.push(e.to_string()),
                            Err(e) => return Err(e),
                        }
                    }
                    b.finish_build();
                }
                Timings::Summary(s) => b.push(&BuildTimes::from_summary(&s)),
                Timings::Map(pairs) => b.push(&BuildTimes::from_map(&pairs)),
            }
        }
        let mut h = b.finish();
        h.warnings = warnings;
        Ok(h)
    }

    /// Builds that count (at most [`KEEP_BUILDS`]).
    pub fn builds(&self) -> usize {
        self.builds
    }

    /// Distinct tests seen.
    pub fn len(&self) -> usize {
        self.tests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tests.is_empty()
    }

    /// Inputs skipped under [`HistoryOptions::keep_going`].
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Every test seen, first-seen order (oldest build first), as
    /// `(id, scope, file)`.
    pub fn tests(&self) -> impl Iterator<Item = (&str, Option<&str>, Option<&str>)> {
        self.tests
            .iter()
            .map(|k| (k.id.as_str(), k.scope.as_deref(), k.file.as_deref()))
    }

    fn lookup(&self, id: &str) -> Option<&Known> {
        let i = match self.index.get(id) {
            Some(&i) => i,
            None if looks_like_pytest_nodeid(id) => *self.index.get(&pytest_nodeid_to_id(id))?,
            None => return None,
        };
        self.tests.get(i)
    }

    /// The measured duration of a test, if history has one.
    pub fn measured(&self, id: &str) -> Option<f64> {
        self.lookup(id)?.duration
    }

    /// Predicted seconds for each id, and whether it is an estimate. The file and suite
    /// of an unknown id are guessed from the id itself; [`History::predict`] takes
    /// them when the caller knows them.
    pub fn durations(&self, ids: &[String]) -> Vec<(f64, bool)> {
        ids.iter().map(|id| self.predict(id, None, None)).collect()
    }

    /// A test's run-to-run spread learned from history (see [`log_spread`]).
    pub fn spread(&self, id: &str) -> Option<f64> {
        self.lookup(id)?.spread
    }

    /// Predicted seconds for one test, and whether it is an estimate.
    pub fn predict(&self, id: &str, file: Option<&str>, scope: Option<&str>) -> (f64, bool) {
        let known = self.lookup(id);
        if let Some(d) = known.and_then(|k| k.duration) {
            return (d, false);
        }
        // A test seen without any time still tells where it lives.
        let file = file
            .map(normalize_file)
            .or_else(|| known.and_then(|k| k.file.clone()))
            .or_else(|| derive_file(id, None, None));
        if let Some(m) = file.as_deref().and_then(|f| self.by_file.get(f)) {
            return (*m, true);
        }
        let scope = scope
            .map(str::to_owned)
            .or_else(|| known.and_then(|k| k.scope.clone()))
            .or_else(|| self.known_scope_of(id).map(str::to_owned));
        if let Some(m) = scope.as_deref().and_then(|s| self.by_scope.get(s)) {
            return (*m, true);
        }
        (self.all_median.unwrap_or(DEFAULT_ESTIMATE_S), true)
    }

    /// The longest known scope that `id` starts with (`SCOPE::...`): scopes and names
    /// may both hold `::`, so the split is taken from what history has seen.
    fn known_scope_of<'a>(&self, id: &'a str) -> Option<&'a str> {
        id.match_indices("::")
            .map(|(i, _)| &id[..i])
            .filter(|s| self.by_scope.contains_key(*s))
            .last()
    }

    /// Predicted seconds for whole files (the sum of their tests' times in each build,
    /// weighted median over builds), and whether each is an estimate (the median file).
    pub fn file_durations(&self, files: &[String]) -> Vec<(f64, bool)> {
        files
            .iter()
            .map(|f| match self.file_time(f) {
                Some(d) => (d, false),
                None => (
                    self.file_median
                        .or(self.all_median)
                        .unwrap_or(DEFAULT_ESTIMATE_S),
                    true,
                ),
            })
            .collect()
    }

    /// A file's measured time: the same path, or the one path known that ends with it
    /// (results often name files absolutely, discovery relatively).
    pub fn file_time(&self, file: &str) -> Option<f64> {
        let file = normalize_file(file);
        if let Some(d) = self.files.get(&file) {
            return Some(*d);
        }
        let name = file.rsplit('/').next().unwrap_or(&file);
        let suffix = format!("/{file}");
        let mut candidates = self
            .file_names
            .get(name)?
            .iter()
            .filter(|k| k.ends_with(&suffix) || file.ends_with(&format!("/{k}")));
        let first = candidates.next()?;
        if candidates.next().is_some() {
            return None;
        }
        self.files.get(first).copied()
    }

    /// Seconds of start-up per invocation learned from suite times, if any suite taught
    /// one.
    pub fn startup_estimate(&self) -> Option<f64> {
        self.startup
    }
}

/// A timings input, as [`load_timings`] recognized it.
#[derive(Debug)]
pub enum Timings {
    Junit(Vec<Source>),
    Summary(Box<Summary>),
    /// `(test id, seconds)` in file order.
    Map(Vec<(String, f64)>),
}

impl Timings {
    /// This input as one build of history.
    pub fn into_history(self, options: &HistoryOptions) -> Result<History> {
        match self {
            Timings::Junit(sources) => History::from_sources(&[sources], options),
            Timings::Summary(s) => Ok(History::new(&[BuildTimes::from_summary(&s)])),
            Timings::Map(pairs) => Ok(History::new(&[BuildTimes::from_map(&pairs)])),
        }
    }
}

fn is_glob(arg: &str) -> bool {
    arg.contains(['*', '?', '['])
}

fn is_zip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// JUnit files an argument names: a file as it is, a folder's JUnit files (found by
/// their root element, recursively, in path order), or a glob's matches (folders among
/// them searched the same way).
pub fn expand_junit(arg: &str) -> Result<Vec<Source>> {
    let paths: Vec<PathBuf> = if is_glob(arg) {
        let matches = glob::glob(arg).map_err(|e| HistoryError::Glob {
            pattern: arg.to_owned(),
            message: e.to_string(),
        })?;
        let mut found: Vec<PathBuf> = matches.filter_map(std::result::Result::ok).collect();
        found.sort();
        if found.is_empty() {
            return Err(HistoryError::NoMatch {
                pattern: arg.to_owned(),
            });
        }
        found
    } else {
        vec![PathBuf::from(arg)]
    };
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut files = Vec::new();
            walk(&path, &mut files)?;
            let before = out.len();
            for f in files {
                if f.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml"))
                    && sniff(&f)? == Sniffed::Junit
                {
                    out.push(Source::file(f));
                }
            }
            if out.len() == before {
                return Err(HistoryError::EmptyFolder {
                    path: path.display().to_string(),
                });
            }
        } else if is_zip(&path) {
            return Err(HistoryError::Bundle {
                path: path.display().to_string(),
            });
        } else {
            out.push(Source::file(path));
        }
    }
    Ok(out)
}

/// Files under `dir`, sorted; symbolic links to folders are not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_at(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()
        .map_err(io_at(dir))?;
    entries.sort();
    for p in entries {
        let meta = std::fs::symlink_metadata(&p).map_err(io_at(&p))?;
        if meta.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Sniffed {
    Junit,
    Json,
    OtherXml,
    Unknown,
}

fn sniff_bytes(head: &[u8]) -> Sniffed {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    match text.chars().next() {
        Some('{' | '[') => return Sniffed::Json,
        Some('<') => {}
        _ => return Sniffed::Unknown,
    }
    // The first element's name, past the prolog, comments and doctype.
    let mut rest = text;
    loop {
        let Some(at) = rest.find('<') else {
            return Sniffed::OtherXml;
        };
        rest = &rest[at + 1..];
        if let Some(r) = rest.strip_prefix("!--") {
            match r.find("-->") {
                Some(end) => rest = &r[end + 3..],
                None => return Sniffed::OtherXml,
            }
        } else if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                .collect();
            let local = name.rsplit(':').next().unwrap_or(&name);
            return if local == "testsuites" || local == "testsuite" {
                Sniffed::Junit
            } else {
                Sniffed::OtherXml
            };
        }
    }
}

fn sniff(path: &Path) -> Result<Sniffed> {
    let mut head = vec![0u8; 4096];
    let mut f = std::fs::File::open(path).map_err(io_at(path))?;
    let mut filled = 0;
    while filled < head.len() {
        let n = f.read(&mut head[filled..]).map_err(io_at(path))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    head.truncate(filled);
    Ok(sniff_bytes(&head))
}

/// Whether a file's content starts like JSON (`{` or `[`).
pub(crate) fn looks_like_json(path: &Path) -> Result<bool> {
    Ok(sniff(path)? == Sniffed::Json)
}

/// Reads a `--timings` argument: JUnit (a file, a folder or a glob), a
/// `dtf.summary.v1`, or a JSON timings map (pytest-split's `.test_durations`), told
/// apart by content, not by name.
pub fn load_timings(arg: &str) -> Result<Timings> {
    let path = Path::new(arg);
    if is_glob(arg) || path.is_dir() {
        return expand_junit(arg).map(Timings::Junit);
    }
    if is_zip(path) {
        return Err(HistoryError::Bundle {
            path: arg.to_owned(),
        });
    }
    match sniff(path)? {
        Sniffed::Junit | Sniffed::OtherXml => Ok(Timings::Junit(vec![Source::file(path)])),
        Sniffed::Json => {
            let text = std::fs::read_to_string(path).map_err(io_at(path))?;
            parse_json_timings(&text, arg)
        }
        Sniffed::Unknown => Err(HistoryError::UnknownFormat {
            source_name: arg.to_owned(),
        }),
    }
}

/// A JSON timings document: a `dtf.summary.v1`, an object of id to seconds, or a list
/// of `[id, seconds]` pairs.
pub fn parse_json_timings(text: &str, source_name: &str) -> Result<Timings> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Head {
            schema: Option<serde_json::Value>,
        }
        if let Ok(Head { schema: Some(_) }) = serde_json::from_str::<Head>(text) {
            return Ok(Timings::Summary(Box::new(Summary::from_json(
                text,
                source_name,
            )?)));
        }
    }
    let map: TimingMap = serde_json::from_str(text).map_err(|e| json_error(&e, source_name))?;
    Ok(Timings::Map(map.0))
}

/// A serde_json error as (line, column, message without the position it appends).
pub(crate) fn json_error(e: &serde_json::Error, source_name: &str) -> HistoryError {
    HistoryError::Json {
        source_name: source_name.to_owned(),
        line: e.line(),
        column: e.column(),
        message: json_message(e),
    }
}

/// The message of a JSON error, without its position; syntax errors say so.
pub(crate) fn json_message(e: &serde_json::Error) -> String {
    let message = strip_position(e);
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("invalid JSON: {message}")
        }
        _ => message,
    }
}

pub(crate) fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    s.strip_suffix(&suffix).unwrap_or(&s).to_owned()
}

/// `{"id": seconds, ...}` or `[["id", seconds], ...]`, order kept, each value checked
/// as it is parsed (so the error carries its line and column).
struct TimingMap(Vec<(String, f64)>);

fn check_id<E: serde::de::Error>(id: &str) -> Result<(), E> {
    if id.trim().is_empty() {
        return Err(E::custom("empty test id"));
    }
    Ok(())
}

/// Seconds for test `.0`: a number of at least 0.
struct SecondsSeed<'a>(&'a str);

impl<'de> serde::de::DeserializeSeed<'de> for SecondsSeed<'_> {
    type Value = f64;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
        struct V<'a>(&'a str);
        impl V<'_> {
            fn check<E: serde::de::Error>(
                &self,
                s: f64,
                shown: &dyn fmt::Display,
            ) -> Result<f64, E> {
                if s.is_finite() && s >= 0.0 {
                    Ok(s)
                } else {
                    Err(E::custom(format!(
                        "the duration of `{}` is {shown}, expected seconds as a number of at least 0",
                        self.0
                    )))
                }
            }
        }
        impl<'de> serde::de::Visitor<'de> for V<'_> {
            type Value = f64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "seconds as a number for `{}`", self.0)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
                self.check(v, &v)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
                self.check(v as f64, &v)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
                self.check(v as f64, &v)
            }
        }
        d.deserialize_any(V(self.0))
    }
}

/// One `["id", seconds]` pair.
struct Pair(String, f64);

impl<'de> serde::Deserialize<'de> for Pair {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Pair;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an [id, seconds] pair")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Pair, A::Error> {
                use serde::de::Error;
                let id: String = s
                    .next_element()?
                    .ok_or_else(|| A::Error::custom("an empty pair"))?;
                check_id(&id)?;
                let secs = s
                    .next_element_seed(SecondsSeed(&id))?
                    .ok_or_else(|| A::Error::custom(format!("no seconds for `{id}`")))?;
                if s.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::custom(format!(
                        "more than [id, seconds] for `{id}`"
                    )));
                }
                Ok(Pair(id, secs))
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> serde::Deserialize<'de> for TimingMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TimingMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of test id to seconds, or a list of [id, seconds] pairs")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<TimingMap, A::Error> {
                let mut out = Vec::new();
                while let Some(id) = m.next_key::<String>()? {
                    check_id(&id)?;
                    let secs = m.next_value_seed(SecondsSeed(&id))?;
                    out.push((id.trim().to_owned(), secs));
                }
                Ok(TimingMap(out))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<TimingMap, A::Error> {
                let mut out = Vec::new();
                while let Some(Pair(id, secs)) = s.next_element()? {
                    out.push((id.trim().to_owned(), secs));
                }
                Ok(TimingMap(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Start-up seconds per leaf `<testsuite>` of a JUnit document: its `time` minus the
/// sum of its `<testcase>` times (and of the reruns Surefire times inside them), when
/// above a millisecond; suites without a time, with
/// a case without one, with nested suites, or without cases teach nothing.
///
/// dtf-core's reader does not expose suite times, so this is a second, small pass with
/// quick-xml that reads only tags and their `time` attributes. Documents are checked
/// by the reader first; on anything odd this stops and returns what it has.
pub fn suite_overheads(input: impl Read) -> Vec<f64> {
    use quick_xml::events::{BytesStart, Event};

    struct Open {
        time: Option<f64>,
        cases: f64,
        has_case: bool,
        complete: bool,
        leaf: bool,
    }
    fn time_of(tag: &BytesStart<'_>) -> Option<f64> {
        let attr = tag.try_get_attribute("time").ok().flatten()?;
        parse_time(&attr.unescape_value().ok()?)
    }
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(input));
    let mut buf = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut out = Vec::new();
    let mut in_case = false;
    loop {
        buf.clear();
        let (tag, empty) = match xml.read_event_into(&mut buf) {
            Ok(Event::Start(t)) => (t, false),
            Ok(Event::Empty(t)) => (t, true),
            Ok(Event::End(end)) => {
                match local_name(end.name().as_ref()) {
                    b"testsuite" => {
                        let Some(s) = stack.pop() else { break };
                        if let (true, true, true, Some(time)) =
                            (s.leaf, s.has_case, s.complete, s.time)
                        {
                            let overhead = time - s.cases;
                            if overhead > MIN_OVERHEAD_S {
                                out.push(overhead);
                            }
                        }
                    }
                    b"testcase" => in_case = false,
                    _ => {}
                }
                continue;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => continue,
        };
        match local_name(tag.name().as_ref()) {
            b"testsuite" => {
                if let Some(top) = stack.last_mut() {
                    top.leaf = false;
                }
                if !empty {
                    stack.push(Open {
                        time: time_of(&tag),
                        cases: 0.0,
                        has_case: false,
                        complete: true,
                        leaf: true,
                    });
                }
            }
            b"testcase" => {
                in_case = !empty;
                if let Some(top) = stack.last_mut() {
                    top.has_case = true;
                    match time_of(&tag) {
                        Some(t) => top.cases += t,
                        None => top.complete = false,
                    }
                }
            }
            // Surefire's earlier attempts, timed inside the element that passed.
            b"flakyFailure" | b"flakyError" | b"rerunFailure" | b"rerunError" if in_case => {
                if let (Some(top), Some(t)) = (stack.last_mut(), time_of(&tag)) {
                    top.cases += t;
                }
            }
            _ => {}
        }
    }
    out
}

fn local_name(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_learned_from_three_builds_and_ignores_one_outlier() {
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert_eq!(log_spread(&[1.0, 2.0]), None, "two builds tell too little");
        assert!(close(log_spread(&[2.0, 2.0, 2.0]), 0.0));
        // ln 1, ln e, ln e²: median 1, deviations 1, 0, 1, MAD 1.
        let e = std::f64::consts::E;
        assert!(close(log_spread(&[1.0, e, e * e]), 1.4826));
        // One build 100× slower moves the mean a lot, the MAD not at all.
        assert!(close(log_spread(&[2.0, 2.0, 2.0, 2.0, 200.0]), 0.0));
        // Millisecond times are timer noise and do not count.
        assert_eq!(log_spread(&[0.0, 0.001, 0.0005, 1.0]), None);

        let build = |d: f64| BuildTimes::from_map(&[("s::a".to_owned(), d)]);
        let h = History::new(&[build(1.0), build(e), build(e * e)]);
        assert!(close(h.spread("s::a"), 1.4826));
        assert_eq!(History::new(&[build(1.0)]).spread("s::a"), None);
    }

    #[test]
    fn sniffs_roots() {
        let cases: &[(&str, Sniffed)] = &[
            ("<?xml version=\"1.0\"?>\n<testsuites>", Sniffed::Junit),
            (
                "\u{feff}<!-- x --><!DOCTYPE a><testsuite name='a'>",
                Sniffed::Junit,
            ),
            ("<ns:testsuite>", Sniffed::Junit),
            ("<coverage>", Sniffed::OtherXml),
            ("  {\"a\": 1}", Sniffed::Json),
            ("[]", Sniffed::Json),
            ("hello", Sniffed::Unknown),
        ];
        for (text, want) in cases {
            assert_eq!(sniff_bytes(text.as_bytes()), *want, "{text}");
        }
    }
}
