//! Dependencies between tests ("b runs after a") as a graph.
//!
//! `dtf.toml` may say that a test must run after another (it reads state the first
//! one leaves, or they share a resource that must be set up once). The planner has to
//! keep such tests in order: either in one shard, one after the other (the tests of a
//! weakly connected component form a [chain](DepGraph::chains) that is planned as one
//! unit), or, when the user asks for waves, in later [waves](DepGraph::waves) that start
//! only after the earlier ones finished. The runner then runs each shard's tests in
//! [`execution_order`].
//!
//! Everything here is linear or `n log n` and iterative, so 100,000 tests with long
//! chains cannot overflow the stack. Results never depend on hash order: ties are
//! broken by test index (or by the order the caller gives).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use thiserror::Error;

use crate::model::PlanTest;

/// A dependency declaration that cannot be planned.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DepError {
    /// The dependencies form a cycle; `cycle` lists its tests in run order, each one
    /// declared to run after the one before it (and the first after the last).
    #[error("dependency cycle: {}", cycle_text(.cycle))]
    Cycle { cycle: Vec<String> },
    #[error("test `{test}` is declared to run after itself")]
    SelfDependency { test: String },
    #[error("dependency ({before} → {after}) refers to a test index beyond the {count} tests")]
    UnknownIndex {
        before: usize,
        after: usize,
        count: usize,
    },
}

fn cycle_text(cycle: &[String]) -> String {
    let mut text = cycle.join(" → ");
    if let Some(first) = cycle.first() {
        text.push_str(" → ");
        text.push_str(first);
    }
    text
}

/// The validated dependency graph over a list of tests, in compressed adjacency form.
///
/// Edges point from `before` to `after`. Duplicate declarations count once.
#[derive(Clone, Debug)]
pub struct DepGraph {
    succ_start: Vec<usize>,
    succ: Vec<usize>,
    pred_start: Vec<usize>,
    pred: Vec<usize>,
    /// Every test, in a topological order that prefers lower indices.
    topo: Vec<usize>,
}

impl DepGraph {
    /// Builds and validates the graph of `deps` (pairs `(before, after)` of indices into
    /// `tests`): an index out of range, a test that depends on itself and a cycle are
    /// errors that name the tests.
    pub fn new(tests: &[PlanTest], deps: &[(usize, usize)]) -> Result<DepGraph, DepError> {
        let n = tests.len();
        let mut edges = Vec::with_capacity(deps.len());
        for &(before, after) in deps {
            if before >= n || after >= n {
                return Err(DepError::UnknownIndex {
                    before,
                    after,
                    count: n,
                });
            }
            if before == after {
                return Err(DepError::SelfDependency {
                    test: tests[before].id.clone(),
                });
            }
            edges.push((before, after));
        }
        edges.sort_unstable();
        edges.dedup();
        let (succ_start, succ) = csr(n, edges.iter().copied());
        // Sorting by (after, before) keeps every predecessor list ascending, which makes
        // the cycle walk below deterministic.
        edges.sort_unstable_by_key(|&(b, a)| (a, b));
        let (pred_start, pred) = csr(n, edges.iter().map(|&(b, a)| (a, b)));
        let mut graph = DepGraph {
            succ_start,
            succ,
            pred_start,
            pred,
            topo: Vec::new(),
        };
        graph.topo = graph.kahn(n).map_err(|remaining| DepError::Cycle {
            cycle: graph
                .find_cycle(&remaining)
                .into_iter()
                .map(|t| tests[t].id.clone())
                .collect(),
        })?;
        Ok(graph)
    }

    /// Number of tests the graph covers.
    pub fn len(&self) -> usize {
        self.topo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topo.is_empty()
    }

    /// No dependencies at all.
    pub fn has_no_edges(&self) -> bool {
        self.succ.is_empty()
    }

    /// Tests that must run before `t`.
    pub fn predecessors(&self, t: usize) -> &[usize] {
        &self.pred[self.pred_start[t]..self.pred_start[t + 1]]
    }

    /// Tests that must run after `t`.
    pub fn successors(&self, t: usize) -> &[usize] {
        &self.succ[self.succ_start[t]..self.succ_start[t + 1]]
    }

    /// `t` takes part in at least one dependency.
    pub fn is_linked(&self, t: usize) -> bool {
        self.succ_start[t] != self.succ_start[t + 1] || self.pred_start[t] != self.pred_start[t + 1]
    }

    /// All tests in one topological order: ties go to the lower index.
    pub fn topological_order(&self) -> &[usize] {
        &self.topo
    }

    /// The weakly connected components with at least two tests, each in topological
    /// order (ties by index), listed by their lowest test index. Without waves these
    /// must each land in one shard; every test not listed is free.
    pub fn chains(&self) -> Vec<Vec<usize>> {
        let n = self.len();
        let mut parent: Vec<usize> = (0..n).collect();
        for before in 0..n {
            for &after in self.successors(before) {
                let (a, b) = (find(&mut parent, before), find(&mut parent, after));
                if a != b {
                    // The lower index becomes the root, so roots are each chain's minimum.
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        let mut slot = vec![usize::MAX; n];
        let mut chains: Vec<Vec<usize>> = Vec::new();
        for t in 0..n {
            if self.is_linked(t) {
                let root = find(&mut parent, t);
                if slot[root] == usize::MAX {
                    slot[root] = chains.len();
                    chains.push(Vec::new());
                }
            }
        }
        for &t in &self.topo {
            if self.is_linked(t) {
                let root = find(&mut parent, t);
                chains[slot[root]].push(t);
            }
        }
        chains
    }

    /// For every test, its wave: the length of the longest dependency path that ends
    /// in it (0 for tests nothing must precede). A test always has a higher wave than
    /// everything it runs after.
    pub fn waves(&self) -> Vec<u32> {
        let mut wave = vec![0u32; self.len()];
        for &t in &self.topo {
            let w = wave[t] + 1;
            for &next in self.successors(t) {
                wave[next] = wave[next].max(w);
            }
        }
        wave
    }

    /// `tests` (one shard's tests, most wanted first) in an order that respects every
    /// dependency between them; among tests that are free to run, the one earlier in
    /// `tests` goes first. Dependencies on tests outside `tests` are ignored (they ran in
    /// an earlier wave).
    pub fn execution_order(&self, tests: &[usize]) -> Vec<usize> {
        let linked = tests.iter().any(|&t| t < self.len() && self.is_linked(t));
        if !linked {
            return tests.to_vec();
        }
        let pos: HashMap<usize, usize> = tests
            .iter()
            .enumerate()
            .filter(|&(_, &t)| t < self.len() && self.is_linked(t))
            .map(|(i, &t)| (t, i))
            .collect();
        let mut local = Vec::new();
        for (i, &t) in tests.iter().enumerate() {
            if t < self.len() {
                for next in self.successors(t) {
                    if let Some(&j) = pos.get(next) {
                        local.push((i, j));
                    }
                }
            }
        }
        kahn_positions(tests.len(), &local)
            .into_iter()
            .map(|i| tests[i])
            .collect()
    }

    /// Kahn's algorithm over all tests with a min-heap, so ties go to the lower index.
    /// On a cycle, returns the tests that could not be ordered.
    fn kahn(&self, n: usize) -> Result<Vec<usize>, Vec<bool>> {
        let mut indeg: Vec<usize> = (0..n)
            .map(|t| self.pred_start[t + 1] - self.pred_start[t])
            .collect();
        let mut ready: BinaryHeap<Reverse<usize>> =
            (0..n).filter(|&t| indeg[t] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse(t)) = ready.pop() {
            order.push(t);
            for &next in self.successors(t) {
                indeg[next] -= 1;
                if indeg[next] == 0 {
                    ready.push(Reverse(next));
                }
            }
        }
        if order.len() == n {
            Ok(order)
        } else {
            Err(indeg.iter().map(|&d| d > 0).collect())
        }
    }

    /// A cycle among the tests Kahn's algorithm left over. Each of them still has a
    /// predecessor that is also left over, so walking backwards must revisit a test:
    /// the walk between the two visits is a cycle. Returned in run order, starting at
    /// its lowest index.
    fn find_cycle(&self, remaining: &[bool]) -> Vec<usize> {
        let Some(start) = remaining.iter().position(|&r| r) else {
            return Vec::new();
        };
        let mut seen_at = HashMap::new();
        let mut walk = Vec::new();
        let mut t = start;
        while !seen_at.contains_key(&t) {
            seen_at.insert(t, walk.len());
            walk.push(t);
            match self.predecessors(t).iter().find(|&&u| remaining[u]) {
                Some(&u) => t = u,
                None => return walk,
            }
        }
        let mut cycle = walk.split_off(seen_at[&t]);
        cycle.reverse();
        if let Some(min_at) = cycle
            .iter()
            .enumerate()
            .min_by_key(|&(_, &t)| t)
            .map(|(i, _)| i)
        {
            cycle.rotate_left(min_at);
        }
        cycle
    }
}

/// `tests_in_shard` (most wanted first) in an order that respects every dependency in
/// `deps` (pairs of test indices `(before, after)`) between them; among tests free to
/// run, the earlier one in `tests_in_shard` goes first. Pairs that mention a test not
/// in the shard are ignored. This is what the runner uses; it never drops a test, even
/// on unvalidated input with a cycle (the tests of the cycle then keep the given order
/// at the end).
pub fn execution_order(tests_in_shard: &[usize], deps: &[(usize, usize)]) -> Vec<usize> {
    let pos: HashMap<usize, usize> = tests_in_shard
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i))
        .collect();
    let local: Vec<(usize, usize)> = deps
        .iter()
        .filter_map(|(b, a)| Some((*pos.get(b)?, *pos.get(a)?)))
        .filter(|(b, a)| b != a)
        .collect();
    kahn_positions(tests_in_shard.len(), &local)
        .into_iter()
        .map(|i| tests_in_shard[i])
        .collect()
}

/// Topological order of positions `0..k` under `edges`, ties by position; positions
/// left on a cycle follow in position order.
fn kahn_positions(k: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let (start, succ) = {
        let mut sorted = edges.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        csr(k, sorted.into_iter())
    };
    let mut indeg = vec![0usize; k];
    for &j in &succ {
        indeg[j] += 1;
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..k).filter(|&i| indeg[i] == 0).map(Reverse).collect();
    let mut done = vec![false; k];
    let mut order = Vec::with_capacity(k);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        done[i] = true;
        for &j in &succ[start[i]..start[i + 1]] {
            indeg[j] -= 1;
            if indeg[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    order.extend((0..k).filter(|&i| !done[i]));
    order
}

/// Compressed adjacency of `n` nodes from edges sorted by source.
fn csr(n: usize, edges: impl Iterator<Item = (usize, usize)>) -> (Vec<usize>, Vec<usize>) {
    let mut start = vec![0usize; n + 1];
    let mut targets = Vec::new();
    for (from, to) in edges {
        start[from + 1] += 1;
        targets.push(to);
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    (start, targets)
}

/// Union-find root with path halving (iterative).
fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Dependency pairs in a table of cases.
    type Deps = &'static [(usize, usize)];

    fn tests(n: usize) -> Vec<PlanTest> {
        (0..n)
            .map(|i| PlanTest::new(format!("s::t{i}"), 1.0))
            .collect()
    }

    fn err(n: usize, deps: &[(usize, usize)]) -> String {
        DepGraph::new(&tests(n), deps).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_tests() {
        let cases: &[(usize, Deps, &str)] = &[
            (
                3,
                &[(0, 1), (1, 2), (2, 0)],
                "dependency cycle: s::t0 → s::t1 → s::t2 → s::t0",
            ),
            // The cycle is named in run order whichever test the declarations start at.
            (
                4,
                &[(3, 2), (2, 1), (1, 3), (0, 1)],
                "dependency cycle: s::t1 → s::t3 → s::t2 → s::t1",
            ),
            (
                2,
                &[(0, 1), (1, 0)],
                "dependency cycle: s::t0 → s::t1 → s::t0",
            ),
            (2, &[(1, 1)], "test `s::t1` is declared to run after itself"),
            (
                2,
                &[(0, 5)],
                "dependency (0 → 5) refers to a test index beyond the 2 tests",
            ),
        ];
        for (n, deps, expected) in cases {
            assert_eq!(err(*n, deps), *expected, "deps {deps:?}");
        }
    }

    #[test]
    fn cycle_inside_a_larger_graph_is_found_exactly() {
        // 0 → 1 → 2 → 3 → 1, plus a tail 3 → 4 that is not part of the cycle.
        let e = err(5, &[(0, 1), (1, 2), (2, 3), (3, 1), (3, 4)]);
        assert_eq!(e, "dependency cycle: s::t1 → s::t2 → s::t3 → s::t1");
    }

    #[test]
    fn long_chain_does_not_overflow() {
        let n = 200_000;
        let deps: Vec<_> = (1..n).map(|i| (i - 1, i)).collect();
        let g = DepGraph::new(&tests(n), &deps).unwrap();
        assert_eq!(g.waves()[n - 1], (n - 1) as u32);
        assert_eq!(g.chains().len(), 1);
        let mut cyclic = deps.clone();
        cyclic.push((n - 1, 0));
        assert!(matches!(
            DepGraph::new(&tests(n), &cyclic),
            Err(DepError::Cycle { cycle }) if cycle.len() == n
        ));
    }

    fn check_chains(n: usize, deps: &[(usize, usize)], expected: &[&[usize]]) {
        let g = DepGraph::new(&tests(n), deps).unwrap();
        let got = g.chains();
        let want: Vec<Vec<usize>> = expected.iter().map(|c| c.to_vec()).collect();
        assert_eq!(got, want, "deps {deps:?}");
    }

    #[test]
    fn chains_are_components_in_topological_order() {
        check_chains(4, &[], &[]);
        check_chains(4, &[(2, 0)], &[&[2, 0]]);
        check_chains(6, &[(5, 1), (1, 3), (0, 4)], &[&[0, 4], &[5, 1, 3]]);
        // A diamond plus an extra root joining it.
        check_chains(
            5,
            &[(0, 1), (0, 2), (1, 3), (2, 3), (4, 2)],
            &[&[0, 1, 4, 2, 3]],
        );
        // Duplicate declarations count once.
        check_chains(3, &[(0, 1), (0, 1)], &[&[0, 1]]);
    }

    #[test]
    fn waves_are_longest_path_lengths() {
        let cases: &[(usize, Deps, &[u32])] = &[
            (3, &[], &[0, 0, 0]),
            (3, &[(0, 1), (1, 2)], &[0, 1, 2]),
            // 0 → 3 directly and through 1 → 2: the longest path wins.
            (4, &[(0, 3), (0, 1), (1, 2), (2, 3)], &[0, 1, 2, 3]),
            (4, &[(3, 0), (2, 0)], &[1, 0, 0, 0]),
        ];
        for (n, deps, expected) in cases {
            let g = DepGraph::new(&tests(*n), deps).unwrap();
            assert_eq!(g.waves(), *expected, "deps {deps:?}");
        }
    }

    #[test]
    fn execution_order_is_topological_and_stable() {
        let cases: &[(&[usize], Deps, &[usize])] = &[
            (&[0, 1, 2], &[], &[0, 1, 2]),
            (&[2, 1, 0], &[], &[2, 1, 0]),
            (&[2, 1, 0], &[(0, 2)], &[1, 0, 2]),
            (&[3, 0, 1, 2], &[(0, 1), (1, 3)], &[0, 1, 3, 2]),
            // A dependency on a test outside the shard (an earlier wave) is ignored.
            (&[1, 2], &[(0, 1), (1, 2)], &[1, 2]),
            (&[2, 1], &[(0, 1), (1, 2)], &[1, 2]),
        ];
        for (shard, deps, expected) in cases {
            assert_eq!(
                execution_order(shard, deps),
                *expected,
                "{shard:?} {deps:?}"
            );
            let g = DepGraph::new(&tests(4), deps).unwrap();
            assert_eq!(g.execution_order(shard), *expected, "{shard:?} {deps:?}");
        }
    }

    #[test]
    fn execution_order_never_drops_tests_on_a_cycle() {
        assert_eq!(
            execution_order(&[0, 1, 2], &[(1, 2), (2, 1)]),
            vec![0, 1, 2]
        );
        assert_eq!(
            execution_order(&[2, 0, 1], &[(1, 2), (2, 1), (1, 0)]),
            vec![2, 0, 1]
        );
    }
}
