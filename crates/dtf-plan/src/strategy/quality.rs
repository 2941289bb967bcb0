//! The quality bar of `timing` with exactly known durations, on synthetic suites:
//! never worse than pytest-split's two algorithms (re-implemented here as the
//! references: `least_duration` and `duration_based_chunks`) nor round-robin, and within
//! 1.002 of max(total / shards, longest) wherever there are at least 20 tests a shard.
//! The CLI benchmark repeats this against the PyPI package and real JUnit timings.

#![allow(clippy::unwrap_used)]

use super::{Strategy, Timing, lower_bound, shard_times};
use crate::model::{PlanTest, Problem};

/// A deterministic generator for the synthetic suites.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub(crate) fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    pub(crate) fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Dist {
    Uniform,
    Exponential,
    LogNormal,
    OneGiant,
    Tiny,
}

/// `n` durations (seconds, rounded to the millisecond like JUnit files) from `dist`.
pub(crate) fn durations(dist: Dist, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let ms = |x: f64| (x * 1000.0).round().max(1.0) / 1000.0;
    let mut d: Vec<f64> = (0..n)
        .map(|_| match dist {
            Dist::Uniform => ms(rng.unit() * 10.0),
            Dist::Exponential => ms(-rng.unit().ln() * 5.0),
            // Median 2 s, a long tail: the slowest of 10,000 takes minutes.
            Dist::LogNormal => ms(2.0 * (1.5 * rng.normal()).exp()),
            Dist::OneGiant => ms(0.5 + rng.unit() * 1.5),
            Dist::Tiny => ms(0.001 + rng.unit() * 0.05),
        })
        .collect();
    if let Dist::OneGiant = dist {
        let total: f64 = d.iter().sum();
        d[n / 2] = ms(total * 0.2);
    }
    d
}

pub(crate) fn problem(d: &[f64], shards: u32) -> Problem {
    Problem {
        tests: d
            .iter()
            .enumerate()
            .map(|(i, &x)| PlanTest::new(format!("suite::t{i}"), x))
            .collect(),
        shards,
        ..Problem::default()
    }
}

fn makespan(loads: &[f64]) -> f64 {
    loads.iter().copied().fold(0.0, f64::max)
}

/// pytest-split's `least_duration`: longest first onto the least loaded group.
fn least_duration(d: &[f64], n: usize) -> f64 {
    let mut order: Vec<usize> = (0..d.len()).collect();
    order.sort_by(|&a, &b| d[b].total_cmp(&d[a]));
    let mut loads: Vec<f64> = vec![0.0; n];
    for i in order {
        let g = (0..n)
            .min_by(|&a, &b| loads[a].total_cmp(&loads[b]))
            .unwrap();
        loads[g] += d[i];
    }
    makespan(&loads)
}

/// pytest-split's `duration_based_chunks`: consecutive tests until a group reaches
/// total / n.
fn duration_based_chunks(d: &[f64], n: usize) -> f64 {
    let per_group = d.iter().sum::<f64>() / n as f64;
    let mut loads = vec![0.0; n];
    let mut g = 0;
    for &x in d {
        if loads[g] >= per_group && g + 1 < n {
            g += 1;
        }
        loads[g] += x;
    }
    makespan(&loads)
}

fn round_robin(d: &[f64], n: usize) -> f64 {
    let mut loads = vec![0.0; n];
    for (i, &x) in d.iter().enumerate() {
        loads[i % n] += x;
    }
    makespan(&loads)
}

struct Outcome {
    ratio: f64,
    worst_reference: f64,
    timing: f64,
}

fn run(d: &[f64], n: u32) -> Outcome {
    let p = problem(d, n);
    let a = Timing.plan(&p).unwrap();
    let timing = makespan(&shard_times(&p, &a));
    let references = [
        least_duration(d, n as usize),
        duration_based_chunks(d, n as usize),
        round_robin(d, n as usize),
    ];
    let best_reference = references.iter().copied().fold(f64::INFINITY, f64::min);
    Outcome {
        ratio: timing / lower_bound(&p),
        worst_reference: timing - best_reference,
        timing,
    }
}

const SHARDS: [u32; 10] = [2, 3, 4, 5, 8, 16, 32, 64, 128, 256];

#[test]
fn timing_is_within_two_per_mille_of_the_lower_bound() {
    let dists = [
        Dist::Uniform,
        Dist::Exponential,
        Dist::LogNormal,
        Dist::OneGiant,
    ];
    let mut worst: f64 = 1.0;
    for dist in dists {
        for per_shard in [20usize, 50] {
            for (k, &n) in SHARDS.iter().enumerate() {
                let d = durations(dist, per_shard * n as usize, 17 + k as u64);
                let o = run(&d, n);
                eprintln!(
                    "{dist:?} {per_shard}/shard {n} shards: ratio {:.6}",
                    o.ratio
                );
                assert!(
                    o.ratio <= 1.002,
                    "{dist:?}, {per_shard} tests a shard, {n} shards: {}",
                    o.ratio
                );
                assert!(
                    o.worst_reference <= 1e-9 * o.timing,
                    "{dist:?} {n} shards: worse than a reference by {}",
                    o.worst_reference
                );
                worst = worst.max(o.ratio);
            }
        }
    }
    eprintln!("worst ratio: {worst:.6}");
}

#[test]
fn timing_is_never_worse_than_the_references_on_sparse_suites() {
    for dist in [
        Dist::Uniform,
        Dist::Exponential,
        Dist::LogNormal,
        Dist::OneGiant,
    ] {
        for per_shard in [1usize, 2, 3, 5, 10] {
            for (k, &n) in SHARDS.iter().enumerate() {
                let d = durations(dist, per_shard * n as usize, 101 + k as u64);
                let o = run(&d, n);
                assert!(
                    o.worst_reference <= 1e-9 * o.timing,
                    "{dist:?}, {per_shard} a shard, {n} shards: worse than a reference by {}",
                    o.worst_reference
                );
            }
        }
    }
}

#[test]
fn timing_handles_100000_tiny_tests() {
    let d = durations(Dist::Tiny, 100_000, 5);
    for n in [2, 16, 256] {
        let o = run(&d, n);
        eprintln!("100,000 tiny tests, {n} shards: ratio {:.7}", o.ratio);
        assert!(o.ratio <= 1.002, "{n} shards: {}", o.ratio);
        assert!(o.worst_reference <= 1e-9 * o.timing);
    }
}
