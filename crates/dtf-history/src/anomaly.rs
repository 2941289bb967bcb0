//! Anomaly detection: per-test models learned from the history, and what this build
//! does that they did not expect.
//!
//! Two models per test, both fitted on the test's own recent builds:
//!
//! - **Duration**: the median and the median absolute deviation (MAD) of its passing
//!   times on a log scale, and a robust z-score for the time now. Median and MAD rather
//!   than an EWMA because CI histories are short (tens of builds) and dirty: one slow
//!   build in an EWMA inflates its variance for many builds and hides the next real
//!   regression, while the median and MAD ignore up to half of the samples being odd.
//!   Log scale because test times are multiplicative and right-skewed: on seconds, the
//!   long tail of every noisy test looked like a regression (it doubled the false
//!   findings in `cargo xtask eval-anomaly`). The spread is floored at 5 % of the
//!   median and at 10 ms, both turned into log ratios at the test's level, so a stable
//!   10 ms test that takes 13 ms is timer noise, never a finding.
//!   Two corrections keep whole-machine effects out of per-test findings: each test is
//!   judged after dividing by its shard's *speed* (the median, over the shard's tests,
//!   of time now / the test's median), so a runner that is 40 % slow flags nothing per
//!   test (the suite total still shows it); and a test is also judged against the level
//!   of its last few runs when that moved, so a step that already happened on the base
//!   branch is not blamed on this build.
//!   The confidence is `P(T < t)` for Student's t with `n - 1` degrees of freedom and
//!   `t = z / sqrt(1 + 1/n)`: the prediction interval for one new sample from `n`
//!   samples, with the robust estimates plugged in. Few samples give heavy tails and so
//!   a lower confidence for the same z. It is a convention, not an exact probability
//!   (times are not normal); on the synthetic set it is conservative: at 0.999 about
//!   0.05 % of clean tests are flagged, not 0.1 %.
//! - **Failure**: the chance that the test fails in a build, Beta-binomial, with a prior
//!   worth `prior_builds` builds centred on the typical test's failure rate (the median
//!   over tests, so a few broken tests do not make failure look normal for all). A test
//!   with five clean builds and one with fifty are told apart, and a test that fails
//!   one build in ten is not news when it fails again. A failure now is an anomaly with
//!   confidence `1 - P(fail)`.
//!
//! A learned model ([`FlakyModel`], logistic regression) can replace the Beta estimate
//! of `P(fail)`. It is trained on the history it is given, self-supervised: features
//! of each test over a stretch of builds (failure rate, retry passes, flips, whether
//! the last run failed, duration variability) against whether the test failed or
//! passed only on retry in the build after that stretch, so it needs no labels and
//! never sees the build it judges. Measured by `cargo xtask eval-anomaly`, it did not
//! pay: failure F1 0.937 against the Beta model's 0.942, and as a flaky classifier it
//! lowered F1 against the flip rule (0.687 against 0.729). It is therefore off by
//! default ([`AnomalyOptions::flaky_model`]) and kept so the measurement can be redone.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use dtf_core::model::Status;

use crate::model::{Anomaly, BuildRecord, Confidence, TestRecord};

/// How the detector judges. The defaults were chosen on a tuning seed of
/// `cargo xtask eval-anomaly`, not on the seed it reports.
#[derive(Clone, Debug, PartialEq)]
pub struct AnomalyOptions {
    /// The most recent history builds the models learn from.
    pub window: usize,
    /// Runs of a test (builds where it ran) needed before it is judged at all.
    pub min_history: usize,
    /// Failures below this confidence are not reported.
    pub min_confidence: Confidence,
    /// Duration anomalies below this confidence are not reported. Stricter than for
    /// failures: every test's time is judged in every build, so at 100,000 tests even
    /// one in a thousand would be a hundred false findings.
    pub min_duration_confidence: Confidence,
    pub duration: DurationOptions,
    /// Weight of the typical test's failure rate in each test's failure model, in builds.
    pub prior_builds: f64,
    /// Estimate `P(fail)` with the learned [`FlakyModel`] instead of the Beta model
    /// when the history has enough to learn from. Off: it did not improve F1 on the
    /// labelled synthetic set (see the module docs).
    pub flaky_model: bool,
}

impl Default for AnomalyOptions {
    fn default() -> Self {
        AnomalyOptions {
            window: 30,
            min_history: 5,
            min_confidence: 0.99,
            min_duration_confidence: 0.999,
            duration: DurationOptions::default(),
            prior_builds: 10.0,
            flaky_model: false,
        }
    }
}

/// How durations are judged; shared by [`detect`] and `compare`.
#[derive(Clone, Debug, PartialEq)]
pub struct DurationOptions {
    /// The spread is at least this share of the median.
    pub min_spread_ratio: f64,
    /// And at least this many seconds.
    pub min_spread_s: f64,
    /// The last this many runs form the "recent level" a test is also judged against
    /// (0 turns that off). Needs at least 3 runs there to count.
    pub recent_runs: usize,
    /// A shard's speed is estimated only from at least this many tests with history;
    /// smaller shards use the whole build's, and smaller builds none.
    pub min_tests_for_speed: usize,
}

impl Default for DurationOptions {
    fn default() -> Self {
        DurationOptions {
            min_spread_ratio: 0.05,
            min_spread_s: 0.010,
            recent_runs: 5,
            min_tests_for_speed: 20,
        }
    }
}

/// Finds what is unusual in `current` given `history` (earlier builds, oldest first):
/// tests that fail although they rarely do, and tests much slower than their own
/// history predicts. Failures first, then by confidence (highest first), then by id.
pub fn detect(
    current: &BuildRecord,
    history: &[BuildRecord],
    opts: &AnomalyOptions,
) -> Vec<Anomaly> {
    let index = HistoryIndex::new(current, history, opts.window);
    let durations = judge_durations(&index, &opts.duration);
    detect_indexed(&index, &durations, opts)
}

pub(crate) fn detect_indexed(
    index: &HistoryIndex<'_>,
    durations: &[Option<DurationJudgement>],
    opts: &AnomalyOptions,
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let failure = FailureModel::new(index, opts);
    for (row, judgement) in durations.iter().enumerate().take(index.len()) {
        let test = index.test(row);
        if is_failure(test.status)
            && let Some(a) = failure.judge(index, row, opts)
        {
            out.push(a);
        }
        if let Some(j) = judgement
            && j.runs >= opts.min_history
            && j.confidence_slower >= opts.min_duration_confidence
            && j.observed_s > j.expected_s
        {
            out.push(Anomaly {
                id: test.id.clone(),
                kind: "duration".into(),
                expected: j.explain_expected(),
                observed: format!(
                    "took {} ({:.1}× the expected)",
                    fmt_seconds(j.observed_s),
                    j.ratio
                ),
                confidence: round_to(j.confidence_slower, 4),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.kind != "failure")
            .cmp(&(b.kind != "failure"))
            .then(b.confidence.total_cmp(&a.confidence))
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.kind.cmp(&b.kind))
    });
    out
}

// ---------------------------------------------------------------------------------
// The history index: one row per test of the current build, one column per history
// build, filled in one pass over the history. Flat arrays rather than a vector per
// test, so 100,000 tests cost a handful of allocations.

pub(crate) const ABSENT: u8 = 0;
pub(crate) const PASSED: u8 = 1;
pub(crate) const FAILED: u8 = 2;
pub(crate) const ERRORED: u8 = 3;
pub(crate) const SKIPPED: u8 = 4;
pub(crate) const FLAKY: u8 = 5;

pub(crate) fn status_code(s: Status) -> u8 {
    match s {
        Status::Passed => PASSED,
        Status::Failed => FAILED,
        Status::Errored => ERRORED,
        Status::Skipped => SKIPPED,
        Status::Flaky => FLAKY,
    }
}

pub(crate) fn is_failure(s: Status) -> bool {
    matches!(s, Status::Failed | Status::Errored)
}

/// FxHash with a final avalanche: test ids share long prefixes, and std's SipHash
/// costs more than the rest of an index build.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        z ^ (z >> 33)
    }
}

pub(crate) type IdMap<'a, V> = HashMap<&'a str, V, BuildHasherDefault<IdHasher>>;

pub(crate) fn id_map<'a, V>(capacity: usize) -> IdMap<'a, V> {
    HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default())
}

pub(crate) struct HistoryIndex<'a> {
    pub current: &'a BuildRecord,
    /// The history builds the columns stand for, oldest first.
    pub history: &'a [BuildRecord],
    /// `current.tests` index of each row: the first occurrence of each id.
    rows: Vec<u32>,
    by_id: IdMap<'a, u32>,
    status: Vec<u8>,
    duration: Vec<f64>,
}

impl<'a> HistoryIndex<'a> {
    /// Indexes the last `window` builds of `history` for the tests of `current`.
    /// A test listed twice in one build counts once, as first listed.
    pub fn new(current: &'a BuildRecord, history: &'a [BuildRecord], window: usize) -> Self {
        let history = &history[history.len().saturating_sub(window)..];
        let mut by_id = id_map(current.tests.len());
        let mut rows = Vec::with_capacity(current.tests.len());
        for (i, t) in current.tests.iter().enumerate() {
            let next = rows.len() as u32;
            if let std::collections::hash_map::Entry::Vacant(e) = by_id.entry(t.id.as_str()) {
                e.insert(next);
                rows.push(i as u32);
            }
        }
        let cols = history.len();
        let mut status = vec![ABSENT; rows.len() * cols];
        let mut duration = vec![f64::NAN; rows.len() * cols];
        for (b, build) in history.iter().enumerate() {
            for t in &build.tests {
                if let Some(&row) = by_id.get(t.id.as_str()) {
                    let cell = row as usize * cols + b;
                    if status[cell] == ABSENT {
                        status[cell] = status_code(t.status);
                        duration[cell] = t
                            .duration_s
                            .filter(|d| d.is_finite() && *d >= 0.0)
                            .unwrap_or(f64::NAN);
                    }
                }
            }
        }
        HistoryIndex {
            current,
            history,
            rows,
            by_id,
            status,
            duration,
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn builds(&self) -> usize {
        self.history.len()
    }

    pub fn test(&self, row: usize) -> &'a TestRecord {
        &self.current.tests[self.rows[row] as usize]
    }

    pub fn row_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).map(|&r| r as usize)
    }

    /// Status codes of a row, oldest build first.
    pub fn statuses(&self, row: usize) -> &[u8] {
        let c = self.builds();
        &self.status[row * c..(row + 1) * c]
    }

    pub fn durations(&self, row: usize) -> &[f64] {
        let c = self.builds();
        &self.duration[row * c..(row + 1) * c]
    }
}

// ---------------------------------------------------------------------------------
// Robust statistics.

/// Median of `v` (reordered in place); `None` when empty.
pub(crate) fn median_in_place(v: &mut [f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7), enough for the t distribution's tails.
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function `I_x(a, b)` by its continued fraction
/// (modified Lentz), using the symmetry relation where the fraction converges slowly.
fn inc_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(1.0 - x, b, a) / b
    }
}

fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-12 {
            break;
        }
    }
    h
}

/// `P(T <= t)` for Student's t with `dof` degrees of freedom.
pub(crate) fn student_t_cdf(t: f64, dof: f64) -> f64 {
    if t.is_nan() || dof <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let tail = 0.5 * inc_beta(dof / (dof + t * t), dof / 2.0, 0.5);
    if t > 0.0 { 1.0 - tail } else { tail }
}

/// How sure we are that one new sample with robust score `z` lies above the level
/// `n` earlier samples describe: the one-sided prediction probability under Student's
/// t with `n - 1` degrees of freedom. 0 with fewer than 2 samples.
pub fn confidence_above(z: f64, n: usize) -> Confidence {
    if n < 2 || !z.is_finite() {
        return if n >= 2 && z == f64::INFINITY {
            1.0
        } else {
            0.0
        };
    }
    let n = n as f64;
    let p = student_t_cdf(z / (1.0 + 1.0 / n).sqrt(), n - 1.0);
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

pub(crate) fn round_to(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

pub(crate) fn fmt_seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.01 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{:.1} ms", s * 1000.0)
    }
}

// ---------------------------------------------------------------------------------
// The duration model.

/// A level (median) and spread (MAD) of durations, in seconds and in log-seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DurationFit {
    pub runs: usize,
    pub median: f64,
    pub mad: f64,
    pub log_median: f64,
    pub log_mad: f64,
    /// The median of the last `recent_runs` runs (seconds), when there were at least 3.
    pub recent: Option<(usize, f64)>,
}

/// Durations are judged on a log scale: test times are multiplicative (a slow runner
/// scales everything) and right-skewed, so a symmetric spread in seconds would flag
/// the long tail of every noisy test.
fn log_seconds(s: f64) -> f64 {
    s.max(1e-4).ln()
}

impl DurationFit {
    /// Fits `samples` (seconds, in build order, oldest first; reordered in place).
    pub fn of(samples: &mut [f64], recent_runs: usize) -> Option<DurationFit> {
        let runs = samples.len();
        let recent = if recent_runs >= 3 && runs > recent_runs {
            let mut last = [0.0f64; 64];
            let k = recent_runs.min(64);
            last[..k].copy_from_slice(&samples[runs - k..]);
            median_in_place(&mut last[..k]).map(|m| (k, m))
        } else {
            None
        };
        let median = median_in_place(samples)?;
        // Sorted in seconds is sorted in log-seconds, so one sort serves both medians.
        let n = samples.len();
        let log_median = if n % 2 == 1 {
            log_seconds(samples[n / 2])
        } else {
            (log_seconds(samples[n / 2 - 1]) + log_seconds(samples[n / 2])) / 2.0
        };
        let mut logs = [0.0f64; 256];
        let log_mad = if n <= logs.len() {
            for (l, x) in logs.iter_mut().zip(samples.iter()) {
                *l = (log_seconds(*x) - log_median).abs();
            }
            median_in_place(&mut logs[..n])?
        } else {
            let mut v: Vec<f64> = samples
                .iter()
                .map(|x| (log_seconds(*x) - log_median).abs())
                .collect();
            median_in_place(&mut v)?
        };
        for x in samples.iter_mut() {
            *x = (*x - median).abs();
        }
        let mad = median_in_place(samples)?;
        Some(DurationFit {
            runs,
            median,
            mad,
            log_median,
            log_mad,
            recent,
        })
    }
}

/// Fits the passing runs among `statuses`/`durations` (oldest first).
pub(crate) fn fit_durations(
    statuses: &[u8],
    durations: &[f64],
    recent_runs: usize,
    scratch: &mut Vec<f64>,
) -> Option<DurationFit> {
    scratch.clear();
    scratch.extend(
        statuses
            .iter()
            .zip(durations)
            .filter(|(s, d)| matches!(**s, PASSED | FLAKY) && d.is_finite())
            .map(|(_, d)| *d),
    );
    DurationFit::of(scratch, recent_runs)
}

/// A duration now against what the history predicts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DurationJudgement {
    pub runs: usize,
    pub median: f64,
    pub mad: f64,
    /// The recent level, when it was the one judged against.
    pub recent: Option<(usize, f64)>,
    /// This shard's speed against the history (1 = as usual).
    pub speed: f64,
    pub expected_s: f64,
    pub observed_s: f64,
    pub ratio: f64,
    /// Robust z on log-seconds.
    pub score: f64,
    pub confidence_slower: Confidence,
    pub confidence_faster: Confidence,
}

impl DurationJudgement {
    pub fn judge(fit: &DurationFit, observed_s: f64, speed: f64, opts: &DurationOptions) -> Self {
        let normalized = log_seconds(observed_s / speed);
        // The floors, stated in seconds, become log ratios at the level judged against:
        // 10 ms of spread is a lot for a 10 ms test and nothing for a 10 s one.
        let spread_at = |level: f64| {
            (1.4826 * fit.log_mad)
                .max(opts.min_spread_ratio.ln_1p())
                .max((opts.min_spread_s / speed / level.max(1e-4)).ln_1p())
        };
        let z_full = (normalized - fit.log_median) / spread_at(fit.median);
        // The recent level counts only when it moved away from the long-run one.
        let moved = |m: f64| (m - fit.median).abs() > opts.min_spread_ratio * fit.median;
        let (level, z, recent) = match fit.recent.filter(|(_, m)| moved(*m)) {
            Some((k, m)) => {
                let z_recent = (normalized - log_seconds(m)) / spread_at(m);
                if z_recent.abs() < z_full.abs() {
                    (m, z_recent, Some((k, m)))
                } else {
                    (fit.median, z_full, None)
                }
            }
            None => (fit.median, z_full, None),
        };
        let expected_s = level * speed;
        DurationJudgement {
            runs: fit.runs,
            median: fit.median,
            mad: fit.mad,
            recent,
            speed,
            expected_s,
            observed_s,
            // A floor of 1 ms on the expectation keeps a 0 s history from dividing by zero.
            ratio: observed_s / expected_s.max(0.001),
            score: z,
            confidence_slower: confidence_above(z, fit.runs),
            confidence_faster: confidence_above(-z, fit.runs),
        }
    }

    pub fn explain_expected(&self) -> String {
        let mut s = format!(
            "median {} (MAD {}) over {} builds",
            fmt_seconds(self.median),
            fmt_seconds(self.mad),
            self.runs
        );
        if let Some((k, m)) = self.recent {
            s.push_str(&format!(", {} over the last {k}", fmt_seconds(m)));
        }
        if (self.speed - 1.0).abs() >= 0.05 {
            s.push_str(&format!(
                "; its shard ran at {:.2}× the usual time, so {} expected",
                self.speed,
                fmt_seconds(self.expected_s)
            ));
        }
        s
    }
}

/// Judges every test of the index that passed now and has a duration and at least two
/// passing runs in the history; `None` for the rest.
pub(crate) fn judge_durations(
    index: &HistoryIndex<'_>,
    opts: &DurationOptions,
) -> Vec<Option<DurationJudgement>> {
    let mut scratch = Vec::with_capacity(index.builds());
    let mut fits: Vec<Option<(DurationFit, f64)>> = Vec::with_capacity(index.len());
    for row in 0..index.len() {
        let t = index.test(row);
        let observed = t.duration_s.filter(|d| {
            d.is_finite() && *d >= 0.0 && matches!(t.status, Status::Passed | Status::Flaky)
        });
        let fit = observed.and_then(|o| {
            fit_durations(
                index.statuses(row),
                index.durations(row),
                opts.recent_runs,
                &mut scratch,
            )
            .filter(|f| f.runs >= 2)
            .map(|f| (f, o))
        });
        fits.push(fit);
    }
    let speeds = shard_speeds(index, &fits, opts);
    fits.iter()
        .enumerate()
        .map(|(row, f)| {
            f.as_ref()
                .map(|(fit, observed)| DurationJudgement::judge(fit, *observed, speeds(row), opts))
        })
        .collect()
}

/// Each row's speed factor: its shard's median of `now / median` over tests with
/// enough history, else the build's, else 1.
fn shard_speeds<'s>(
    index: &'s HistoryIndex<'_>,
    fits: &[Option<(DurationFit, f64)>],
    opts: &DurationOptions,
) -> impl Fn(usize) -> f64 + 's {
    let mut by_shard: std::collections::BTreeMap<u32, Vec<f64>> = Default::default();
    let mut all = Vec::new();
    for (row, f) in fits.iter().enumerate() {
        if let Some((fit, observed)) = f
            && fit.runs >= 3
            && fit.median > 0.0
        {
            let r = observed / fit.median;
            all.push(r);
            if let Some(s) = index.test(row).shard {
                by_shard.entry(s).or_default().push(r);
            }
        }
    }
    let usable = |v: &mut Vec<f64>| {
        (opts.min_tests_for_speed > 0 && v.len() >= opts.min_tests_for_speed)
            .then(|| median_in_place(v))
            .flatten()
            .filter(|m| m.is_finite() && *m > 0.0)
            .map(|m| m.clamp(0.2, 5.0))
    };
    let global = usable(&mut all).unwrap_or(1.0);
    let shard: std::collections::BTreeMap<u32, f64> = by_shard
        .into_iter()
        .filter_map(|(s, mut v)| usable(&mut v).map(|m| (s, m)))
        .collect();
    move |row| {
        index
            .test(row)
            .shard
            .and_then(|s| shard.get(&s).copied())
            .unwrap_or(global)
    }
}

// ---------------------------------------------------------------------------------
// The failure model.

/// Pass and fail counts of one test over some builds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Builds where it ran (not skipped, not absent).
    pub runs: u32,
    /// Builds where it failed or errored in the end.
    pub fails: u32,
    /// Builds where it passed only on retry.
    pub retry_passes: u32,
    /// Flips: a failure followed later by a pass (a test broken for five builds and then
    /// fixed flips once), plus every pass on retry.
    pub flips: u32,
    /// Whether the last run failed.
    pub last_failed: bool,
}

impl FailureCounts {
    pub(crate) fn of(statuses: impl IntoIterator<Item = u8>) -> Self {
        let mut c = FailureCounts::default();
        let mut in_failure = false;
        for s in statuses {
            match s {
                PASSED => {
                    c.runs += 1;
                    if in_failure {
                        c.flips += 1;
                    }
                    in_failure = false;
                    c.last_failed = false;
                }
                FAILED | ERRORED => {
                    c.runs += 1;
                    c.fails += 1;
                    in_failure = true;
                    c.last_failed = true;
                }
                FLAKY => {
                    c.runs += 1;
                    c.retry_passes += 1;
                    c.flips += 1 + u32::from(in_failure);
                    in_failure = false;
                    c.last_failed = false;
                }
                _ => {}
            }
        }
        c
    }

    /// The Beta-binomial predictive chance of a failure (or a pass only on retry) in
    /// the next build, with the prior `rate` worth `weight` builds.
    pub fn predicted_failure_rate(&self, rate: f64, weight: f64) -> f64 {
        (rate * weight + f64::from(self.fails + self.retry_passes))
            / (weight + f64::from(self.runs))
    }
}

/// The typical test's rate of builds in which it failed or passed only on retry: the
/// median over tests rather than the pooled rate, so a few broken or flaky tests do not
/// make failure look normal for every other test of a small suite. Kept away from 0
/// and 1 so the prior never claims certainty.
pub(crate) fn typical_failure_rate(index: &HistoryIndex<'_>) -> f64 {
    let mut rates: Vec<f64> = (0..index.len())
        .filter_map(|row| {
            let c = FailureCounts::of(index.statuses(row).iter().copied());
            (c.runs > 0).then(|| f64::from(c.fails + c.retry_passes) / f64::from(c.runs))
        })
        .collect();
    median_in_place(&mut rates).unwrap_or(0.01).clamp(1e-4, 0.5)
}

struct FailureModel {
    rate: f64,
    learned: Option<FlakyModel>,
    feature_builds: usize,
}

impl FailureModel {
    fn new(index: &HistoryIndex<'_>, opts: &AnomalyOptions) -> Self {
        let rate = typical_failure_rate(index);
        let (learned, feature_builds) = if opts.flaky_model {
            match learn_from_index(index, rate, opts) {
                Some((m, l)) => (Some(m), l),
                None => (None, index.builds()),
            }
        } else {
            (None, index.builds())
        };
        FailureModel {
            rate,
            learned,
            feature_builds,
        }
    }

    fn judge(
        &self,
        index: &HistoryIndex<'_>,
        row: usize,
        opts: &AnomalyOptions,
    ) -> Option<Anomaly> {
        let statuses = index.statuses(row);
        let counts = FailureCounts::of(statuses.iter().copied());
        if (counts.runs as usize) < opts.min_history {
            return None;
        }
        let beta = counts.predicted_failure_rate(self.rate, opts.prior_builds);
        let p = match &self.learned {
            Some(m) => {
                let from = statuses.len().saturating_sub(self.feature_builds);
                let x = features(
                    &statuses[from..],
                    &index.durations(row)[from..],
                    self.rate,
                    opts.prior_builds,
                );
                m.probability(&x)
            }
            None => beta,
        };
        let confidence = 1.0 - p;
        if confidence < opts.min_confidence {
            return None;
        }
        let test = index.test(row);
        let mut expected = if counts.fails == 0 && counts.retry_passes == 0 {
            format!("passed all {} builds it ran in", counts.runs)
        } else {
            let mut parts = Vec::new();
            if counts.fails > 0 {
                parts.push(format!("failed {}", counts.fails));
            }
            if counts.retry_passes > 0 {
                parts.push(format!("passed only on retry {}", counts.retry_passes));
            }
            format!("{} of {} builds", parts.join(" and "), counts.runs)
        };
        expected.push_str(&format!(" (failure rate about {})", fmt_rate(p)));
        let verb = if test.status == Status::Errored {
            "errored"
        } else {
            "failed"
        };
        let observed = match test.category {
            Some(c) => format!("{verb} ({})", c.as_str()),
            None => verb.to_string(),
        };
        Some(Anomaly {
            id: test.id.clone(),
            kind: "failure".into(),
            expected,
            observed,
            confidence: round_to(confidence, 4),
        })
    }
}

fn fmt_rate(p: f64) -> String {
    let pct = p * 100.0;
    if pct >= 10.0 {
        format!("{pct:.0}%")
    } else if pct >= 1.0 {
        format!("{pct:.1}%")
    } else {
        format!("{pct:.2}%")
    }
}

/// What the failure models say about one test of the current build.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FailureEstimate {
    /// Counts over the whole window.
    pub counts: FailureCounts,
    /// The Beta model's chance of a failure (or a pass only on retry) in a build.
    pub beta: f64,
    /// The learned model's, when one could be learned.
    pub learned: Option<f64>,
}

/// Both failure models' estimates for each test of `current` (by position in
/// `current.tests`; `None` for a repeated id). The learned model is fitted here even
/// when `opts.flaky_model` is off, so the two can be compared.
pub fn failure_estimates(
    current: &BuildRecord,
    history: &[BuildRecord],
    opts: &AnomalyOptions,
) -> Vec<Option<FailureEstimate>> {
    let index = HistoryIndex::new(current, history, opts.window);
    let rate = typical_failure_rate(&index);
    let learned = learn_from_index(&index, rate, opts);
    let mut out = vec![None; current.tests.len()];
    for row in 0..index.len() {
        let st = index.statuses(row);
        let counts = FailureCounts::of(st.iter().copied());
        let learned = learned.as_ref().map(|(m, stretch)| {
            let from = st.len().saturating_sub(*stretch);
            m.probability(&features(
                &st[from..],
                &index.durations(row)[from..],
                rate,
                opts.prior_builds,
            ))
        });
        out[index.rows[row] as usize] = Some(FailureEstimate {
            counts,
            beta: counts.predicted_failure_rate(rate, opts.prior_builds),
            learned,
        });
    }
    out
}

// ---------------------------------------------------------------------------------
// The learned flaky model.

/// The number of features [`FlakyModel`] reads.
pub const FLAKY_FEATURES: usize = 7;

/// The names of the features, in order (for reports).
pub const FLAKY_FEATURE_NAMES: [&str; FLAKY_FEATURES] = [
    "logit(beta failure rate)",
    "ln(1 + failures)",
    "ln(1 + retry passes)",
    "ln(1 + flips)",
    "last run failed",
    "duration spread / median",
    "share of builds run",
];

/// A test's features over a stretch of builds (statuses and durations oldest first).
pub(crate) fn features(
    statuses: &[u8],
    durations: &[f64],
    rate: f64,
    prior_builds: f64,
) -> [f64; FLAKY_FEATURES] {
    let c = FailureCounts::of(statuses.iter().copied());
    let p = c
        .predicted_failure_rate(rate, prior_builds)
        .clamp(1e-6, 1.0 - 1e-6);
    let mut scratch = Vec::with_capacity(statuses.len());
    let cv = fit_durations(statuses, durations, 0, &mut scratch)
        .filter(|f| f.runs >= 3 && f.median > 0.0)
        .map_or(0.0, |f| (1.4826 * f.mad / f.median).min(2.0));
    [
        (p / (1.0 - p)).ln(),
        f64::from(c.fails).ln_1p(),
        f64::from(c.retry_passes).ln_1p(),
        f64::from(c.flips).ln_1p(),
        if c.last_failed { 1.0 } else { 0.0 },
        cv,
        f64::from(c.runs) / statuses.len().max(1) as f64,
    ]
}

/// Logistic regression for the chance that a test fails (or passes only on retry) in
/// the next build, from [`features`]. Standardized inputs, ridge-penalized, fitted by
/// Newton's method (iteratively reweighted least squares).
#[derive(Clone, Debug, PartialEq)]
pub struct FlakyModel {
    pub mean: [f64; FLAKY_FEATURES],
    pub scale: [f64; FLAKY_FEATURES],
    pub weights: [f64; FLAKY_FEATURES],
    pub bias: f64,
}

impl FlakyModel {
    pub fn probability(&self, x: &[f64; FLAKY_FEATURES]) -> f64 {
        let s: f64 = (0..FLAKY_FEATURES)
            .map(|k| self.weights[k] * (x[k] - self.mean[k]) / self.scale[k])
            .sum();
        sigmoid(self.bias + s)
    }

    /// Fits `labels` from `xs`; `None` when either class has fewer than `min_class`
    /// examples or the fit does not settle.
    #[expect(
        clippy::needless_range_loop,
        reason = "matrix algebra reads best with the indices of its formulas"
    )]
    pub fn fit(
        xs: &[[f64; FLAKY_FEATURES]],
        labels: &[bool],
        ridge: f64,
        min_class: usize,
    ) -> Option<Self> {
        const P: usize = FLAKY_FEATURES + 1;
        let n = xs.len().min(labels.len());
        let positives = labels[..n].iter().filter(|&&y| y).count();
        if positives < min_class || n - positives < min_class {
            return None;
        }
        let mut mean = [0.0; FLAKY_FEATURES];
        let mut scale = [0.0; FLAKY_FEATURES];
        for x in &xs[..n] {
            for k in 0..FLAKY_FEATURES {
                mean[k] += x[k];
            }
        }
        for m in &mut mean {
            *m /= n as f64;
        }
        for x in &xs[..n] {
            for k in 0..FLAKY_FEATURES {
                scale[k] += (x[k] - mean[k]).powi(2);
            }
        }
        for s in &mut scale {
            *s = (*s / n as f64).sqrt();
            if !s.is_finite() || *s < 1e-9 {
                *s = 1.0;
            }
        }
        let row = |x: &[f64; FLAKY_FEATURES]| {
            let mut z = [1.0; P];
            for k in 0..FLAKY_FEATURES {
                z[k + 1] = (x[k] - mean[k]) / scale[k];
            }
            z
        };
        let zs: Vec<[f64; P]> = xs[..n].iter().map(row).collect();
        let ys = &labels[..n];
        // The penalized log-likelihood, to keep Newton's steps from overshooting.
        let objective = |beta: &[f64; P]| -> f64 {
            let mut ll = 0.0;
            for (z, &y) in zs.iter().zip(ys) {
                let eta: f64 = z.iter().zip(beta).map(|(a, b)| a * b).sum();
                // log(1 + e^eta), stable for large |eta|.
                let soft = if eta > 0.0 {
                    eta + (-eta).exp().ln_1p()
                } else {
                    eta.exp().ln_1p()
                };
                ll += if y { eta - soft } else { -soft };
            }
            ll - 0.5 * ridge * beta[1..].iter().map(|b| b * b).sum::<f64>()
        };
        let prior = positives as f64 / n as f64;
        let mut beta = [0.0; P];
        beta[0] = (prior / (1.0 - prior)).ln();
        let mut current = objective(&beta);
        let mut settled = false;
        for _ in 0..100 {
            let mut grad = [0.0; P];
            let mut hess = [[0.0; P]; P];
            for (z, &y) in zs.iter().zip(ys) {
                let eta: f64 = z.iter().zip(&beta).map(|(a, b)| a * b).sum();
                let p = sigmoid(eta);
                let w = (p * (1.0 - p)).max(1e-10);
                let r = f64::from(u8::from(y)) - p;
                for i in 0..P {
                    grad[i] += r * z[i];
                    for j in 0..=i {
                        hess[i][j] += w * z[i] * z[j];
                    }
                }
            }
            for i in 1..P {
                grad[i] -= ridge * beta[i];
                hess[i][i] += ridge;
            }
            for i in 0..P {
                for j in 0..i {
                    hess[j][i] = hess[i][j];
                }
            }
            let step = solve(hess, grad)?;
            // Halve the step until the objective does not get worse.
            let mut t = 1.0;
            let mut next = beta;
            let mut value = f64::NEG_INFINITY;
            for _ in 0..30 {
                for i in 0..P {
                    next[i] = beta[i] + t * step[i];
                }
                value = objective(&next);
                if value.is_finite() && value >= current - 1e-12 {
                    break;
                }
                t *= 0.5;
            }
            if !value.is_finite() || value < current - 1e-12 {
                break;
            }
            let moved = step.iter().fold(0.0f64, |m, s| m.max((t * s).abs()));
            beta = next;
            let gain = value - current;
            current = value;
            if moved < 1e-7 || gain.abs() < 1e-9 * (1.0 + current.abs()) {
                settled = true;
                break;
            }
        }
        if !settled || !beta.iter().all(|b| b.is_finite()) {
            return None;
        }
        let mut weights = [0.0; FLAKY_FEATURES];
        weights.copy_from_slice(&beta[1..]);
        Some(FlakyModel {
            mean,
            scale,
            weights,
            bias: beta[0],
        })
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting.
#[expect(
    clippy::needless_range_loop,
    reason = "matrix algebra reads best with the indices of its formulas"
)]
fn solve<const P: usize>(mut a: [[f64; P]; P], mut b: [f64; P]) -> Option<[f64; P]> {
    for col in 0..P {
        let pivot = (col..P).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for r in col + 1..P {
            let f = a[r][col] / a[col][col];
            for c in col..P {
                a[r][c] -= f * a[col][c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0.0; P];
    for r in (0..P).rev() {
        let s: f64 = (r + 1..P).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// How many of the latest history builds serve as training targets.
const TRAINING_TARGETS: usize = 8;
/// At most this many training examples (every k-th test), so a 100,000-test suite
/// trains in milliseconds.
const MAX_EXAMPLES: usize = 40_000;

/// Learns a [`FlakyModel`] from `history` alone (see the module docs): `None` when it is
/// too short or too clean to learn from. Also returns how many builds each feature
/// stretch covers, which is what the model must be given at prediction time.
pub fn learn_flaky_model(
    current: &BuildRecord,
    history: &[BuildRecord],
    opts: &AnomalyOptions,
) -> Option<(FlakyModel, usize)> {
    let index = HistoryIndex::new(current, history, opts.window);
    let rate = typical_failure_rate(&index);
    learn_from_index(&index, rate, opts)
}

fn learn_from_index(
    index: &HistoryIndex<'_>,
    rate: f64,
    opts: &AnomalyOptions,
) -> Option<(FlakyModel, usize)> {
    let builds = index.builds();
    let targets = TRAINING_TARGETS.min(builds.saturating_sub(opts.min_history.max(5)));
    if targets < 2 {
        return None;
    }
    let stretch = builds - targets;
    let rows = index.len();
    let stride = (rows * targets).div_ceil(MAX_EXAMPLES).max(1);
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for row in (0..rows).step_by(stride) {
        let st = index.statuses(row);
        let du = index.durations(row);
        for t in 0..targets {
            let target = stretch + t;
            let y = match st[target] {
                PASSED => false,
                FAILED | ERRORED | FLAKY => true,
                _ => continue,
            };
            let from = target - stretch;
            if FailureCounts::of(st[from..target].iter().copied()).runs < opts.min_history as u32 {
                continue;
            }
            xs.push(features(
                &st[from..target],
                &du[from..target],
                rate,
                opts.prior_builds,
            ));
            ys.push(y);
        }
    }
    FlakyModel::fit(&xs, &ys, 1.0, 10).map(|m| (m, stretch))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn t_cdf_matches_tables() {
        // Two-sided 95 % points of Student's t.
        for (t, dof) in [(12.706, 1.0), (4.303, 2.0), (2.228, 10.0), (2.042, 30.0)] {
            let p = student_t_cdf(t, dof);
            assert!((p - 0.975).abs() < 1e-3, "t={t} dof={dof} p={p}");
            assert!((student_t_cdf(-t, dof) - 0.025).abs() < 1e-3);
        }
        assert!((student_t_cdf(0.0, 5.0) - 0.5).abs() < 1e-12);
        // Large dof approaches the normal: P(Z < 1.96) = 0.975.
        assert!((student_t_cdf(1.96, 1e6) - 0.975).abs() < 1e-3);
    }

    #[test]
    fn confidence_grows_with_score_and_samples() {
        assert!(confidence_above(4.0, 3) < confidence_above(4.0, 20));
        assert!(confidence_above(2.0, 20) < confidence_above(4.0, 20));
        assert_eq!(confidence_above(5.0, 1), 0.0);
        assert!(confidence_above(-3.0, 20) < 0.01);
    }

    #[test]
    fn median_and_mad() {
        let mut v = vec![1.0, 9.0, 2.0, 3.0, 2.0, 2.0, 8.0];
        let f = DurationFit::of(&mut v, 3).unwrap();
        assert_eq!((f.runs, f.median, f.mad), (7, 2.0, 1.0));
        // The last three runs were 2, 2, 8.
        assert_eq!(f.recent, Some((3, 2.0)));
        assert!((f.log_median - 2f64.ln()).abs() < 1e-12);
        assert!((f.log_mad - 1.5f64.ln()).abs() < 1e-12, "{}", f.log_mad);
        assert_eq!(DurationFit::of(&mut [], 3), None);
        let mut even = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(median_in_place(&mut even), Some(2.5));
    }

    #[test]
    fn flips_count_recoveries_and_retries() {
        let c = |s: &[u8]| FailureCounts::of(s.iter().copied());
        // Broken for three builds, then fixed: one flip.
        assert_eq!(c(&[PASSED, FAILED, FAILED, FAILED, PASSED]).flips, 1);
        // Two separate failures: two flips.
        assert_eq!(c(&[PASSED, FAILED, PASSED, FAILED, PASSED]).flips, 2);
        // A pass on retry is a flip by itself; skips and gaps do not break a failure.
        assert_eq!(
            c(&[FLAKY, PASSED, FAILED, SKIPPED, ABSENT, PASSED]).flips,
            2
        );
        // Still failing at the end: the last failure has not flipped yet.
        let s = c(&[PASSED, FAILED, PASSED, FAILED]);
        assert_eq!((s.flips, s.fails, s.runs, s.last_failed), (1, 2, 4, true));
    }

    #[test]
    fn logistic_regression_recovers_a_separating_direction() {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..400 {
            let v = f64::from(i % 20) / 20.0;
            let mut x = [0.0; FLAKY_FEATURES];
            x[3] = v;
            x[5] = f64::from(i % 7);
            xs.push(x);
            // Positive mostly above 0.7, with some noise so the fit stays finite.
            ys.push(v > 0.7 || i % 37 == 0);
        }
        let m = FlakyModel::fit(&xs, &ys, 1.0, 5).unwrap();
        let mut lo = [0.0; FLAKY_FEATURES];
        let mut hi = [0.0; FLAKY_FEATURES];
        lo[3] = 0.1;
        hi[3] = 0.95;
        assert!(m.probability(&hi) > 0.8, "{}", m.probability(&hi));
        assert!(m.probability(&lo) < 0.2, "{}", m.probability(&lo));
        // Too few positives: no model.
        assert!(FlakyModel::fit(&xs, &vec![false; xs.len()], 1.0, 5).is_none());
    }

    #[test]
    fn hasher_spreads_common_prefixes() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let b = BuildHasherDefault::<IdHasher>::default();
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            let id = format!("tests/integration/very/long/module/path::test_case_{i}");
            // The low bits pick the bucket: they must differ too.
            seen.insert(b.hash_one(id.as_str()) & 0xFFFF);
        }
        assert!(seen.len() > 8_000, "{}", seen.len());
    }
}
