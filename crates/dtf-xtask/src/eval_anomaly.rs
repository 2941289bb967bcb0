//! `cargo xtask eval-anomaly`: precision and recall of dtf's anomaly and flaky detection
//! on a labelled synthetic history.
//!
//! The generator knows the truth because it makes it: every label comes from what it
//! injected or built into a test, never from a detector. A stream of clean builds is
//! generated (log-normal times per test with per-build noise, one-off spikes, slow
//! shards and slow builds, step changes, tests broken for a while, flaky tests, tests
//! added and removed); each evaluated build is then a copy of one stream build with
//! anomalies injected, judged against the clean builds before it. The learned flaky
//! model trains only on those earlier builds, never on the build it judges, and the
//! detector's thresholds were tuned on a different seed than the one reported by
//! default.
//!
//! Assumptions the figures depend on (change them here, not in the detector): flaky
//! tests have somewhat noisier durations (×1.3 spread; timing-dependent tests tend to
//! be both), retries rescue 70 % of flaky failures, any test can hit an infrastructure blip (0.1 %
//! of runs, unlabelled, so flagging one counts as wrong), and a natural one-off spike (1 % of
//! runs, ×1.3–2.5) is not labelled a regression: a detector that flags it is counted
//! wrong, which is the conservative choice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;
use dtf_core::categorize::Category;
use dtf_core::model::Status;
use dtf_history::anomaly::failure_estimates;
use dtf_history::compare::{CompareOptions, compare};
use dtf_history::model::{BuildInfo, BuildRecord, TestRecord};
use serde_json::{Value, json};

use crate::bench::{machine_info, workspace_root};
use crate::rng::Rng;

/// The seed reported by default. The detector's defaults were tuned on `TUNING_SEED`.
const DEFAULT_SEED: u64 = 20_250_705;
const TUNING_SEED: u64 = 1;

#[derive(Args, Debug)]
pub struct EvalAnomalyArgs {
    /// Tests in the synthetic suite.
    #[arg(long, default_value_t = 2_000)]
    tests: usize,
    /// History builds each evaluated build is judged against.
    #[arg(long, default_value_t = 30)]
    history: usize,
    /// Evaluated builds (each with its own injected anomalies).
    #[arg(long, default_value_t = 20)]
    eval_builds: usize,
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Override the detector's minimum confidence for failures (default: the library's).
    #[arg(long)]
    min_confidence: Option<f64>,
    /// Override the detector's minimum confidence for durations (default: the library's).
    #[arg(long)]
    min_duration_confidence: Option<f64>,
    /// Probability from the learned model at which a passing test with a flip is called flaky.
    #[arg(long, default_value_t = 0.05)]
    flaky_threshold: f64,
    /// Flip window of the `rule-wide` variant.
    #[arg(long, default_value_t = 30)]
    wide_window: usize,
    /// Minimum flips of the `rule-wide` variant.
    #[arg(long, default_value_t = 2)]
    wide_flips: u32,
    /// Output folder [default: target/dtf-bench/anomaly].
    #[arg(long)]
    out: Option<PathBuf>,
}

const SHARDS: u32 = 8;
const REGRESSION_FACTORS: [f64; 5] = [1.25, 1.5, 2.0, 3.0, 5.0];
const FLAKE_RATES: [f64; 5] = [0.02, 0.05, 0.1, 0.2, 0.35];

/// One synthetic test: its truth.
struct Spec {
    id: String,
    median: f64,
    sigma: f64,
    /// Chance of failing a first attempt, from build `flaky_from` on.
    flake: f64,
    flaky_from: usize,
    /// Builds `[from, to)` in which it is broken (fails every run).
    broken: Option<(usize, usize)>,
    /// From this build on, its time is multiplied by the factor.
    step: Option<(usize, f64)>,
    /// It exists in builds `[born, dies)`.
    born: usize,
    dies: usize,
    pool: &'static str,
    labels: Vec<String>,
}

struct Stream {
    specs: Vec<Spec>,
    builds: Vec<BuildRecord>,
    /// Per build and test index: whether the run had a natural spike.
    spikes: Vec<BTreeSet<usize>>,
    /// Per build and shard: the shard's slowdown (1 = none), times the build's.
    slow: Vec<Vec<f64>>,
}

fn generate(tests: usize, total_builds: usize, history: usize, seed: u64) -> Stream {
    let mut rng = Rng::new(seed);
    let pools = ["linux", "linux", "linux", "gpu", "macos"];
    let browsers = ["chrome", "firefox", "webkit", "chrome-webgpu"];
    let mut specs = Vec::with_capacity(tests);
    for i in 0..tests {
        let flaky = rng.chance(0.04);
        let sigma = (0.03f64.ln() + rng.unit() * (0.35f64.ln() - 0.03f64.ln())).exp()
            * if flaky { 1.3 } else { 1.0 };
        let broken = if rng.chance(0.003) {
            Some((0, total_builds))
        } else if rng.chance(0.01) {
            // Broken for a while somewhere in the history, then fixed.
            let from = rng.range(0, history.saturating_sub(2));
            Some((from, from + rng.range(1, 6)))
        } else {
            None
        };
        let step = rng
            .chance(0.03)
            .then(|| (rng.range(5, total_builds - 1), 1.5 + rng.unit() * 1.5));
        let born = if rng.chance(0.01) {
            rng.range(history, total_builds - 1)
        } else {
            0
        };
        let dies = if rng.chance(0.005) {
            rng.range(history, total_builds - 1).max(born + 1)
        } else {
            total_builds
        };
        let web = i % 5 == 0;
        specs.push(Spec {
            id: format!(
                "suite{:02}/module{:03}.py::test_case_{i:05}",
                i % 37,
                i % 211
            ),
            median: rng.log_normal(0.15, 1.6).clamp(0.001, 120.0),
            sigma,
            flake: if flaky { *rng.pick(&FLAKE_RATES) } else { 0.0 },
            flaky_from: if flaky && rng.chance(0.3) {
                rng.range(history / 2, total_builds - 1)
            } else {
                0
            },
            broken,
            step,
            born,
            dies,
            pool: if web {
                "browser"
            } else {
                pools[i % pools.len()]
            },
            labels: if web {
                vec![browsers[i % browsers.len()].to_string()]
            } else {
                vec![]
            },
        });
    }
    let mut builds = Vec::with_capacity(total_builds);
    let mut spikes = Vec::with_capacity(total_builds);
    let mut slow = Vec::with_capacity(total_builds);
    for b in 0..total_builds {
        let build_factor = if rng.chance(0.05) {
            1.1 + rng.unit() * 0.4
        } else {
            1.0
        };
        let shard_factor: Vec<f64> = (0..SHARDS)
            .map(|_| {
                build_factor
                    * if rng.chance(0.08) {
                        1.2 + rng.unit() * 0.8
                    } else {
                        1.0
                    }
            })
            .collect();
        let mut spiked = BTreeSet::new();
        let mut records = Vec::with_capacity(tests);
        for (i, s) in specs.iter().enumerate() {
            if b < s.born || b >= s.dies {
                continue;
            }
            let shard = rng.below(SHARDS as usize) as u32;
            let mut d = s.median * (s.sigma * rng.normal()).exp() * shard_factor[shard as usize];
            if let Some((from, f)) = s.step
                && b >= from
            {
                d *= f;
            }
            if rng.chance(0.01) {
                d *= 1.3 + rng.unit() * 1.2;
                spiked.insert(i);
            }
            let (status, attempts, category) =
                if s.broken.is_some_and(|(from, to)| b >= from && b < to) {
                    (Status::Failed, 2, Some(Category::Assertion))
                } else if rng.chance(0.002) {
                    (Status::Skipped, 1, None)
                } else if rng.chance(0.001) {
                    // An infrastructure blip on any test; retries rescue most of them.
                    if rng.chance(0.7) {
                        (Status::Flaky, 2, Some(Category::Infrastructure))
                    } else {
                        (Status::Failed, 2, Some(Category::Infrastructure))
                    }
                } else if s.flake > 0.0 && b >= s.flaky_from && rng.chance(s.flake) {
                    let category = *rng.pick(&[
                        Category::Timeout,
                        Category::Infrastructure,
                        Category::Assertion,
                    ]);
                    if rng.chance(0.7) {
                        (Status::Flaky, 2, Some(category))
                    } else {
                        (Status::Failed, 2, Some(category))
                    }
                } else {
                    (Status::Passed, 1, None)
                };
            records.push(TestRecord {
                id: s.id.clone(),
                status,
                duration_s: Some((d * 1e6).round() / 1e6),
                attempts,
                category,
                message: category.map(|c| format!("synthetic {} failure", c.as_str())),
                shard: Some(shard),
                pool: Some(s.pool.to_string()),
                labels: s.labels.clone(),
            });
        }
        builds.push(BuildRecord {
            info: BuildInfo {
                build_id: format!("b{b:03}"),
                provider: "local".into(),
                branch: Some("main".into()),
                time_unix: 1_750_000_000 + b as i64 * 3_600,
                ..BuildInfo::default()
            },
            tests: records,
        });
        spikes.push(spiked);
        slow.push(shard_factor);
    }
    Stream {
        specs,
        builds,
        spikes,
        slow,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Failure,
    Duration,
    Flaky,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Failure, Kind::Duration, Kind::Flaky];
    fn name(self) -> &'static str {
        match self {
            Kind::Failure => "failure",
            Kind::Duration => "duration",
            Kind::Flaky => "flaky",
        }
    }
}

/// One evaluated build: the injected copy, and the truth about it.
struct Case {
    current: BuildRecord,
    /// Test index → its true kinds in this build.
    labels: BTreeMap<usize, BTreeSet<Kind>>,
    /// Injected regression factor and seconds added per test.
    factors: HashMap<usize, (f64, f64)>,
}

fn make_case(stream: &Stream, b: usize, rng: &mut Rng) -> Case {
    let mut current = stream.builds[b].clone();
    current.info.build_id = format!("eval-{b:03}");
    current.info.branch = Some("pull/1".into());
    let index: HashMap<&str, usize> = stream
        .specs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut labels: BTreeMap<usize, BTreeSet<Kind>> = BTreeMap::new();
    let mut factors = HashMap::new();
    for t in &mut current.tests {
        let i = index[t.id.as_str()];
        let s = &stream.specs[i];
        let has_history = s.born + 10 <= b;
        // Natural truths of this build.
        if s.flake > 0.0 && b >= s.flaky_from {
            labels.entry(i).or_default().insert(Kind::Flaky);
        }
        if let Some((from, _)) = s.broken
            && from == b
            && from > s.born
        {
            labels.entry(i).or_default().insert(Kind::Failure);
        }
        if let Some((from, _)) = s.step
            && from == b
            && t.status == Status::Passed
        {
            labels.entry(i).or_default().insert(Kind::Duration);
        }
        // Injections.
        let stable = s.flake == 0.0 && s.broken.is_none() && t.status == Status::Passed;
        if has_history && stable && rng.chance(0.005) {
            t.status = Status::Failed;
            t.attempts = 2;
            let c = if rng.chance(0.7) {
                Category::Assertion
            } else {
                Category::Error
            };
            t.category = Some(c);
            t.message = Some(format!("injected {} failure", c.as_str()));
            labels.entry(i).or_default().insert(Kind::Failure);
        } else if has_history && t.status == Status::Passed && rng.chance(0.015) {
            let f = *rng.pick(&REGRESSION_FACTORS);
            let before = t.duration_s.unwrap_or(0.0);
            t.duration_s = t.duration_s.map(|d| (d * f * 1e6).round() / 1e6);
            factors.insert(i, (f, before * (f - 1.0)));
            labels.entry(i).or_default().insert(Kind::Duration);
        }
    }
    Case {
        current,
        labels,
        factors,
    }
}

#[derive(Clone, Copy, Default)]
struct Counts {
    tp: u64,
    fp: u64,
    fn_: u64,
}

impl Counts {
    fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
    fn json(&self) -> Value {
        json!({
            "tp": self.tp, "fp": self.fp, "fn": self.fn_,
            "precision": round4(self.precision()), "recall": round4(self.recall()), "f1": round4(self.f1()),
        })
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// One way of detecting, scored.
struct Variant {
    name: &'static str,
    about: &'static str,
    kinds: BTreeMap<Kind, Counts>,
    /// Primary true kind → primary predicted kind → count (`None` = nothing).
    confusion: BTreeMap<Option<Kind>, BTreeMap<Option<Kind>, u64>>,
    /// Recall by injected regression factor: (found, injected).
    by_factor: BTreeMap<String, (u64, u64)>,
    /// Recall by seconds the injected regression added.
    by_added: BTreeMap<String, (u64, u64)>,
    /// Recall by flake rate: (found, labelled).
    by_flake: BTreeMap<String, (u64, u64)>,
    /// Why duration findings were wrong.
    duration_fp_causes: BTreeMap<&'static str, u64>,
}

impl Variant {
    fn new(name: &'static str, about: &'static str) -> Self {
        Variant {
            name,
            about,
            kinds: Kind::ALL.iter().map(|k| (*k, Counts::default())).collect(),
            confusion: BTreeMap::new(),
            by_factor: BTreeMap::new(),
            by_added: BTreeMap::new(),
            by_flake: BTreeMap::new(),
            duration_fp_causes: BTreeMap::new(),
        }
    }

    fn overall(&self) -> Counts {
        self.kinds.values().fold(Counts::default(), |a, c| Counts {
            tp: a.tp + c.tp,
            fp: a.fp + c.fp,
            fn_: a.fn_ + c.fn_,
        })
    }

    fn score(
        &mut self,
        stream: &Stream,
        b: usize,
        case: &Case,
        predicted: &BTreeMap<usize, BTreeSet<Kind>>,
    ) {
        let keys: BTreeSet<usize> = case
            .labels
            .keys()
            .chain(predicted.keys())
            .copied()
            .collect();
        let empty = BTreeSet::new();
        for i in keys {
            let truth = case.labels.get(&i).unwrap_or(&empty);
            let said = predicted.get(&i).unwrap_or(&empty);
            for k in Kind::ALL {
                let c = self.kinds.entry(k).or_default();
                match (truth.contains(&k), said.contains(&k)) {
                    (true, true) => c.tp += 1,
                    (false, true) => c.fp += 1,
                    (true, false) => c.fn_ += 1,
                    (false, false) => {}
                }
            }
            let primary = |s: &BTreeSet<Kind>| s.iter().next().copied();
            *self
                .confusion
                .entry(primary(truth))
                .or_default()
                .entry(primary(said))
                .or_default() += 1;
            let s = &stream.specs[i];
            if let Some((f, added)) = case.factors.get(&i) {
                let found = u64::from(said.contains(&Kind::Duration));
                let e = self.by_factor.entry(format!("×{f}")).or_default();
                e.1 += 1;
                e.0 += found;
                let bucket = if *added < 0.05 {
                    "1: under 50 ms"
                } else if *added < 0.5 {
                    "2: 50–500 ms"
                } else {
                    "3: 500 ms or more"
                };
                let e = self.by_added.entry(bucket.to_string()).or_default();
                e.1 += 1;
                e.0 += found;
            }
            if truth.contains(&Kind::Flaky) {
                let e = self.by_flake.entry(format!("{:.2}", s.flake)).or_default();
                e.1 += 1;
                e.0 += u64::from(said.contains(&Kind::Flaky));
            }
            if said.contains(&Kind::Duration) && !truth.contains(&Kind::Duration) {
                let cause = if stream.spikes[b].contains(&i) {
                    "natural one-off spike"
                } else if s.step.is_some_and(|(from, _)| from < b) {
                    "earlier step change"
                } else if stream.slow[b].iter().any(|f| *f > 1.0) {
                    "other (a slow shard in this build)"
                } else {
                    "other"
                };
                *self.duration_fp_causes.entry(cause).or_default() += 1;
            }
        }
    }

    fn json(&self) -> Value {
        let kinds: serde_json::Map<String, Value> = self
            .kinds
            .iter()
            .map(|(k, c)| (k.name().to_string(), c.json()))
            .collect();
        let name = |k: &Option<Kind>| k.map_or("none", Kind::name).to_string();
        let confusion: serde_json::Map<String, Value> = self
            .confusion
            .iter()
            .map(|(t, row)| {
                let r: serde_json::Map<String, Value> =
                    row.iter().map(|(p, n)| (name(p), json!(n))).collect();
                (name(t), Value::Object(r))
            })
            .collect();
        let recall_map = |m: &BTreeMap<String, (u64, u64)>| -> Value {
            m.iter()
                .map(|(k, (found, total))| {
                    (k.clone(), json!({"found": found, "labelled": total, "recall": round4(ratio(*found, *total))}))
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        json!({
            "variant": self.name,
            "about": self.about,
            "kinds": kinds,
            "overall": self.overall().json(),
            "confusion": confusion,
            "duration_recall_by_factor": recall_map(&self.by_factor),
            "duration_recall_by_added_time": recall_map(&self.by_added),
            "flaky_recall_by_flake_rate": recall_map(&self.by_flake),
            "duration_false_positive_causes": self.duration_fp_causes,
        })
    }
}

pub fn eval_anomaly(args: EvalAnomalyArgs) -> Result<ExitCode> {
    let root = workspace_root();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target/dtf-bench/anomaly"));
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let total = args.history + args.eval_builds;
    let stream = generate(args.tests, total, args.history, args.seed);
    let mut inject = Rng::new(args.seed ^ 0x5eed_1abe1);

    let mut base = CompareOptions::default();
    if let Some(c) = args.min_confidence {
        base.anomaly.min_confidence = c;
    }
    if let Some(c) = args.min_duration_confidence {
        base.anomaly.min_duration_confidence = c;
    }
    let mut learned = base.clone();
    learned.anomaly.flaky_model = true;

    let mut wide = base.clone();
    wide.flaky_window = args.wide_window;
    wide.min_flips = args.wide_flips;

    let mut variants = [
        Variant::new(
            "beta",
            "failure: Beta model of the failure rate; flaky: compare's rule (a pass on retry, or 2 flips in 10 builds)",
        ),
        Variant::new(
            "learned-failure",
            "failure: the learned logistic model's P(fail) instead of the Beta model; flaky: the rule",
        ),
        Variant::new(
            "rule-wide",
            "failure: Beta; flaky: the rule over a wider window (the best simple rule found; the learned model must beat it)",
        ),
        Variant::new(
            "rule-wide+learned",
            "failure: Beta; flaky: the wide rule, or a passing test with at least one flip whose learned P(fail) reaches the threshold",
        ),
    ];
    let mut stats = json!({});
    let mut injected = BTreeMap::<&str, u64>::new();
    for e in 0..args.eval_builds {
        let b = args.history + e;
        let case = make_case(&stream, b, &mut inject);
        for set in case.labels.values() {
            for k in set {
                *injected.entry(k.name()).or_default() += 1;
            }
        }
        let history = &stream.builds[e..b];
        let baseline = history.last();
        let index: HashMap<&str, usize> = stream
            .specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();

        let plain = compare(&case.current, baseline, history, &base);
        let with_model = compare(&case.current, baseline, history, &learned);
        let estimates = failure_estimates(&case.current, history, &base.anomaly);

        let predictions = |c: &dtf_history::model::Comparison, extra_flaky: &[usize]| {
            let mut p: BTreeMap<usize, BTreeSet<Kind>> = BTreeMap::new();
            for a in &c.anomalies {
                let k = if a.kind == "failure" {
                    Kind::Failure
                } else {
                    Kind::Duration
                };
                p.entry(index[a.id.as_str()]).or_default().insert(k);
            }
            for t in c.flaky_now() {
                p.entry(index[t.id.as_str()])
                    .or_default()
                    .insert(Kind::Flaky);
            }
            for &i in extra_flaky {
                p.entry(i).or_default().insert(Kind::Flaky);
            }
            p
        };
        let model_flaky: Vec<usize> = case
            .current
            .tests
            .iter()
            .zip(&estimates)
            .filter_map(|(t, est)| {
                let est = est.as_ref()?;
                (t.status == Status::Passed
                    && est.counts.flips >= 1
                    && est.learned? >= args.flaky_threshold)
                    .then(|| index[t.id.as_str()])
            })
            .collect();
        variants[0].score(&stream, b, &case, &predictions(&plain, &[]));
        variants[1].score(&stream, b, &case, &predictions(&with_model, &[]));
        let wide_cmp = compare(&case.current, baseline, history, &wide);
        variants[2].score(&stream, b, &case, &predictions(&wide_cmp, &[]));
        variants[3].score(&stream, b, &case, &predictions(&wide_cmp, &model_flaky));
        if e == 0 {
            stats = json!({
                "tests_in_first_evaluated_build": case.current.tests.len(),
                "learned_model_available": estimates.iter().flatten().any(|e| e.learned.is_some()),
            });
        }
    }

    let md = markdown(&args, &variants, &injected);
    println!("{md}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let results = json!({
        "schema": "dtf.eval-anomaly.v1",
        "unix_time": now,
        "params": {
            "tests": args.tests,
            "history_builds": args.history,
            "evaluated_builds": args.eval_builds,
            "seed": args.seed,
            "tuning_seed": TUNING_SEED,
            "min_confidence": base.anomaly.min_confidence,
            "min_duration_confidence": base.anomaly.min_duration_confidence,
            "flaky_threshold": args.flaky_threshold,
        },
        "labelled": injected,
        "notes": stats,
        "method": {
            "labels": "from the generator: injected regressions (×1.25–5) and failures of stable tests, a step change or a break that starts in this build, and every test that is flaky at this build",
            "unit": "one (evaluated build, test) pair per kind; a test may carry several kinds",
            "confusion": "primary kind of truth and prediction, failure > duration > flaky",
            "training": "the learned model fits each evaluated build's history only (self-supervised: did the test fail or pass on retry in the build after a stretch), never the evaluated build",
        },
        "variants": variants.iter().map(Variant::json).collect::<Vec<_>>(),
        "machine": machine_info(),
    });
    let json_path = out.join("eval-anomaly.json");
    let md_path = out.join("eval-anomaly.md");
    fs::write(&json_path, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    fs::write(&md_path, md).with_context(|| format!("writing {}", md_path.display()))?;
    println!("results: {} and {}", md_path.display(), json_path.display());
    Ok(ExitCode::SUCCESS)
}

fn markdown(
    args: &EvalAnomalyArgs,
    variants: &[Variant],
    injected: &BTreeMap<&str, u64>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Anomaly detection on a labelled synthetic history\n\n{} tests, {} evaluated builds, each judged against the {} clean builds before it; seed {} (defaults tuned on seed {TUNING_SEED}).\nLabelled (build, test) pairs: {}.\n",
        args.tests,
        args.eval_builds,
        args.history,
        args.seed,
        injected
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "| variant | kind | TP | FP | FN | precision | recall | F1 |\n|---|---|---:|---:|---:|---:|---:|---:|"
    );
    for v in variants {
        let rows = v
            .kinds
            .iter()
            .map(|(k, c)| (k.name(), *c))
            .chain([("**overall**", v.overall())]);
        for (k, c) in rows {
            let _ = writeln!(
                s,
                "| {} | {k} | {} | {} | {} | {:.3} | {:.3} | {:.3} |",
                v.name,
                c.tp,
                c.fp,
                c.fn_,
                c.precision(),
                c.recall(),
                c.f1()
            );
        }
    }
    let _ = writeln!(s);
    for v in variants {
        let _ = writeln!(s, "- `{}`: {}", v.name, v.about);
    }
    let v = &variants[0];
    let _ = writeln!(
        s,
        "\n## Confusion (variant `{}`; rows: truth, columns: prediction; primary kind failure > duration > flaky)\n",
        v.name
    );
    let cols = [
        Some(Kind::Failure),
        Some(Kind::Duration),
        Some(Kind::Flaky),
        None,
    ];
    let name = |k: &Option<Kind>| k.map_or("none", Kind::name);
    let _ = writeln!(
        s,
        "| truth \\ predicted | {} |\n|---|{}",
        cols.iter().map(name).collect::<Vec<_>>().join(" | "),
        "---:|".repeat(cols.len())
    );
    for t in cols {
        let row = v.confusion.get(&t);
        let cells: Vec<String> = cols
            .iter()
            .map(|p| {
                if t.is_none() && p.is_none() {
                    "–".to_string()
                } else {
                    row.and_then(|r| r.get(p)).copied().unwrap_or(0).to_string()
                }
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", name(&t), cells.join(" | "));
    }
    let recall_line = |m: &BTreeMap<String, (u64, u64)>| {
        m.iter()
            .map(|(k, (f, t))| format!("{k}: {f}/{t} ({:.0}%)", 100.0 * ratio(*f, *t)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        s,
        "\nDuration recall by injected factor: {}.",
        recall_line(&v.by_factor)
    );
    let _ = writeln!(
        s,
        "Duration recall by time the regression added: {}.",
        recall_line(&v.by_added)
    );
    let _ = writeln!(
        s,
        "Flaky recall by flake rate (rule): {}.",
        recall_line(&v.by_flake)
    );
    let _ = writeln!(
        s,
        "Flaky recall by flake rate (wide rule): {}; (wide rule + learned): {}.",
        recall_line(&variants[2].by_flake),
        recall_line(&variants[3].by_flake)
    );
    let d = v.kinds[&Kind::Duration];
    let spikes = v
        .duration_fp_causes
        .get("natural one-off spike")
        .copied()
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "Duration precision if the natural one-off spikes it flagged counted as right: {:.3}.",
        ratio(d.tp + spikes, d.tp + d.fp)
    );
    let _ = writeln!(
        s,
        "Duration false positives by cause: {}.",
        v.duration_fp_causes
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}
