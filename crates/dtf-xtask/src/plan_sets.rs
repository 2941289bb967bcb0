//! The timing sets the planning benchmarks split: real ones recorded from real test
//! runs (`data/*.json`, see `data/README.md`) and synthetic ones that stress one shape
//! each.
//!
//! Real suites are long-tailed in ways nobody would invent (a median of a millisecond
//! next to one 11-second test); the synthetic sets cover what the real ones on this
//! machine cannot: large suites, a giant test that dominates a whole shard, and 100,000
//! tests where planning cost itself matters. Every set is deterministic for a seed, and
//! each synthetic set draws from its own generator, so adding a set changes no other.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::rng::Rng;

/// One suite's test ids, in collection order, and their durations in seconds.
pub struct TimingSet {
    pub name: String,
    /// "real" or "synthetic".
    pub kind: &'static str,
    /// Where the durations come from, in a few words.
    pub source: String,
    pub ids: Vec<String>,
    pub durations: Vec<f64>,
}

impl TimingSet {
    pub fn total(&self) -> f64 {
        self.durations.iter().sum()
    }

    pub fn longest(&self) -> f64 {
        self.durations.iter().copied().fold(0.0, f64::max)
    }

    pub fn median(&self) -> f64 {
        let mut d = self.durations.clone();
        d.sort_by(f64::total_cmp);
        d.get(d.len() / 2).copied().unwrap_or(0.0)
    }
}

/// `crates/dtf-xtask/data`, where the recorded real timing sets live.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Every `data/*.json`, by file name, read with dtf's own timings reader (so the file
/// order, which is the collection order, is kept).
pub fn real_sets(dir: &Path) -> Result<Vec<TimingSet>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut sets = Vec::with_capacity(files.len());
    for path in files {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let arg = path.to_string_lossy().into_owned();
        let pairs = match dtf_plan::durations::load_timings(&arg)
            .with_context(|| format!("reading {}", path.display()))?
        {
            dtf_plan::durations::Timings::Map(pairs) => pairs,
            _ => bail!(
                "{} is not a timings map ({{\"test id\": seconds}})",
                path.display()
            ),
        };
        if pairs.is_empty() {
            bail!("{} holds no tests", path.display());
        }
        let (ids, durations) = pairs.into_iter().unzip();
        sets.push(TimingSet {
            source: format!("recorded: data/{name}.json"),
            name,
            kind: "real",
            ids,
            durations,
        });
    }
    Ok(sets)
}

/// The synthetic sets, each from its own generator seeded from `seed` and its name.
pub fn synthetic_sets(seed: u64) -> Vec<TimingSet> {
    vec![
        synthetic(
            seed,
            "uniform",
            "10,000 tests, uniform 1–10 s",
            10_000,
            |r| 1.0 + 9.0 * r.unit(),
        ),
        synthetic(
            seed,
            "exponential",
            "10,000 tests, exponential, mean 5 s",
            10_000,
            |r| -5.0 * (1.0 - r.unit()).ln(),
        ),
        synthetic(
            seed,
            "log-normal",
            "10,000 tests, log-normal long tail, median 1 s, sigma 1.5",
            10_000,
            |r| r.log_normal(1.0, 1.5),
        ),
        one_giant(seed),
        synthetic(
            seed,
            "tiny-100k",
            "100,000 tiny tests, log-normal, median 20 ms, sigma 0.8",
            100_000,
            |r| r.log_normal(0.02, 0.8),
        ),
    ]
}

/// Ids look like pytest's dtf ids, 50 tests a module, so that estimates by scope (the
/// realistic benchmark's new tests) have something to work with.
fn synthetic_id(set: &str, i: usize) -> String {
    format!(
        "synthetic.{}.m{:04}::test_{:03}",
        set.replace('-', "_"),
        i / 50,
        i % 50
    )
}

fn synthetic(
    seed: u64,
    name: &str,
    source: &str,
    n: usize,
    mut draw: impl FnMut(&mut Rng) -> f64,
) -> TimingSet {
    let mut rng = Rng::new(seed ^ name_hash(name));
    let durations = (0..n).map(|_| round_us(draw(&mut rng))).collect();
    TimingSet {
        name: name.to_string(),
        kind: "synthetic",
        source: source.to_string(),
        ids: (0..n).map(|i| synthetic_id(name, i)).collect(),
        durations,
    }
}

/// One test of an hour among 5,000 of 1–10 s, placed mid-suite (where it hurts an
/// algorithm that cuts the collection order into chunks most).
fn one_giant(seed: u64) -> TimingSet {
    let mut set = synthetic(
        seed,
        "one-giant",
        "one test of 3,600 s + 5,000 tests of 1–10 s",
        5_001,
        |r| 1.0 + 9.0 * r.unit(),
    );
    set.durations[2_500] = 3_600.0;
    set
}

/// Microsecond resolution, like the best JUnit writers; keeps the JSON short and exact.
fn round_us(s: f64) -> f64 {
    (s * 1e6).round() / 1e6
}

/// FNV-1a, so each set's generator depends on its name, not its position.
pub fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn synthetic_sets_are_deterministic_and_shaped_as_documented() {
        let a = synthetic_sets(7);
        let b = synthetic_sets(7);
        let c = synthetic_sets(8);
        for ((x, y), z) in a.iter().zip(&b).zip(&c) {
            assert_eq!(x.durations, y.durations, "{}", x.name);
            assert_ne!(x.durations, z.durations, "{}", x.name);
            assert_eq!(x.ids.len(), x.durations.len());
            let mut ids = x.ids.clone();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), x.ids.len(), "{}: ids must be unique", x.name);
            assert!(x.durations.iter().all(|d| d.is_finite() && *d >= 0.0));
        }
        let by = |n: &str| a.iter().find(|s| s.name == n).unwrap();
        assert_eq!(by("tiny-100k").ids.len(), 100_000);
        assert_eq!(by("one-giant").longest(), 3_600.0);
        let u = by("uniform");
        assert!(u.durations.iter().all(|d| (1.0..=10.0).contains(d)));
        assert!((u.total() / 10_000.0 - 5.5).abs() < 0.2);
        assert!((by("exponential").total() / 10_000.0 - 5.0).abs() < 0.3);
        assert!((by("log-normal").median() - 1.0).abs() < 0.1);
    }

    #[test]
    fn recorded_sets_load_in_file_order() {
        let sets = real_sets(&data_dir()).unwrap();
        assert!(!sets.is_empty(), "data/*.json is missing");
        for s in &sets {
            assert!(
                s.ids.len() >= 100,
                "{} is too small to be a real suite",
                s.name
            );
            assert!(s.durations.iter().all(|d| d.is_finite() && *d >= 0.0));
        }
    }
}
