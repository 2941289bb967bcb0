//! Runner capabilities and test requirements: which pools can run which tests, and
//! which of those a test should prefer.
//!
//! Capabilities are `key = value` pairs over a small taxonomy, so that "needs CUDA
//! 12.1" written by one team and "has CUDA 12.4" written by another compare
//! correctly whatever their spelling:
//!
//! | key | kind | compares |
//! | --- | --- | --- |
//! | `os` | name | `linux`, `windows` (`win`, `win32`, `win64`), `macos` (`darwin`, `osx`, `mac`) |
//! | `arch` | name | `x86_64` (`amd64`, `x64`, `x86-64`), `arm64` (`aarch64`, `armv8`), `x86` (`i386`, `i686`) |
//! | `cpu.cores`, `gpu.count` | integer | as numbers |
//! | `memory`, `disk`, `gpu.memory` | size | as bytes, see below |
//! | `gpu.vendor` | name | `nvidia`, `amd` (`ati`), `intel`, `apple` |
//! | `gpu.model` | name | without case |
//! | `cuda`, `rocm`, `browser.<b>` | version | as versions, see below |
//! | `browser.<b>.features` | list | membership, without case (`webgpu`, `webnn`) |
//! | `custom.<name>` | any | as versions when both sides are versions, else as names |
//!
//! where `<b>` is `chrome`, `chromium`, `firefox`, `safari` or `edge`. Keys and names
//! ignore case. The groups `gpu`, `cpu`, `browser`, `browser.<b>` and `custom` can be
//! required to exist (`"gpu"`: any GPU at all).
//!
//! **Versions** are dot-separated numbers, with an optional leading `v`; they compare
//! number by number, so `12.1 < 12.10`, and missing parts are zeros, so `12.1 ==
//! 12.1.0`. A suffix after `-` or `+` (`12.4-rc1`) is ignored: requirements are about
//! releases. `cuda = 12` means exactly 12.0, not "any 12.x".
//!
//! **Sizes** are a number and a unit (`16GB`, `8 GiB`, `512MB`, `1.5T`); a bare number
//! is refused, as no one means bytes. `GB` and `GiB` (and `MB`/`MiB`, ...) are *both*
//! taken as binary (2^30 bytes): CI vendors and users write them interchangeably (a
//! "16 GB" runner has 16 GiB), and reading them exactly would make `memory >= 16GiB`
//! fail on a runner declared as `16GB` for a 7% difference nobody meant.
//!
//! **Fit.** When several pools can run a test, [`fit_score`] prefers the one that
//! exceeds the test's needs least, so tests that need nothing special do not take
//! GPU runners from tests that need them.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::config::{Config, ConfigError, TestIndex, TestPattern};
use crate::model::{PlanTest, Pool, Problem, ReqOp, Requirement};

/// How a capability's values compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Os,
    Arch,
    Vendor,
    /// A free name, without case.
    Name,
    Int,
    Size,
    Version,
    List,
    /// `custom.*`: versions when both sides parse as versions, else names.
    Custom,
}

const BROWSERS: [&str; 5] = ["chrome", "chromium", "firefox", "safari", "edge"];

const FIXED: [(&str, Kind); 11] = [
    ("os", Kind::Os),
    ("arch", Kind::Arch),
    ("cpu.cores", Kind::Int),
    ("memory", Kind::Size),
    ("disk", Kind::Size),
    ("gpu.vendor", Kind::Vendor),
    ("gpu.model", Kind::Name),
    ("gpu.memory", Kind::Size),
    ("gpu.count", Kind::Int),
    ("cuda", Kind::Version),
    ("rocm", Kind::Version),
];

/// Groups of keys that a requirement may only ask to exist (`"gpu"`).
const GROUPS: [&str; 4] = ["cpu", "gpu", "browser", "custom"];

const ALIASES: [(Kind, &str, &str); 17] = [
    (Kind::Os, "win", "windows"),
    (Kind::Os, "win32", "windows"),
    (Kind::Os, "win64", "windows"),
    (Kind::Os, "darwin", "macos"),
    (Kind::Os, "osx", "macos"),
    (Kind::Os, "mac", "macos"),
    (Kind::Os, "macosx", "macos"),
    (Kind::Arch, "amd64", "x86_64"),
    (Kind::Arch, "x64", "x86_64"),
    (Kind::Arch, "x86-64", "x86_64"),
    (Kind::Arch, "aarch64", "arm64"),
    (Kind::Arch, "armv8", "arm64"),
    (Kind::Arch, "i386", "x86"),
    (Kind::Arch, "i686", "x86"),
    (Kind::Vendor, "ati", "amd"),
    (Kind::Vendor, "nvidia-corporation", "nvidia"),
    (Kind::Vendor, "intel-corporation", "intel"),
];

/// The kind of a full capability key (already canonical), or `None` for a key
/// outside the taxonomy or a group such as `gpu`.
pub fn kind_of(key: &str) -> Option<Kind> {
    if let Some((_, kind)) = FIXED.iter().find(|(k, _)| *k == key) {
        return Some(*kind);
    }
    if let Some(rest) = key.strip_prefix("browser.") {
        let (name, tail) = rest.split_once('.').unwrap_or((rest, ""));
        if BROWSERS.contains(&name) {
            return match tail {
                "" => Some(Kind::Version),
                "features" => Some(Kind::List),
                _ => None,
            };
        }
        return None;
    }
    match key.strip_prefix("custom.") {
        Some(rest) if !rest.is_empty() && !rest.split('.').any(str::is_empty) => Some(Kind::Custom),
        _ => None,
    }
}

/// A key that names a group of capabilities (`gpu`, `browser.chrome`), which a
/// requirement can ask to exist.
fn is_group(key: &str) -> bool {
    GROUPS.contains(&key)
        || key
            .strip_prefix("browser.")
            .is_some_and(|b| BROWSERS.contains(&b))
}

/// Lower case, and `cuda.version` / `browser.chrome.version` folded into `cuda` /
/// `browser.chrome` (TOML cannot give a key both a value and sub-keys).
pub fn canonical_key(raw: &str) -> String {
    let key = raw.trim().to_ascii_lowercase();
    if let Some(base) = key.strip_suffix(".version")
        && kind_of(base) == Some(Kind::Version)
    {
        return base.to_string();
    }
    key
}

const KNOWN: &str = "os, arch, cpu.cores, memory, disk, gpu.vendor, gpu.model, gpu.memory, \
gpu.count, cuda, rocm, browser.<chrome|chromium|firefox|safari|edge>, browser.<name>.features, \
custom.<name>";

/// The message for a key outside the taxonomy, with a suggestion when one is close.
pub fn unknown_key_message(raw: &str) -> String {
    let key = raw.trim().to_ascii_lowercase();
    let mut candidates: Vec<String> = FIXED.iter().map(|(k, _)| (*k).to_string()).collect();
    for b in BROWSERS {
        candidates.push(format!("browser.{b}"));
        candidates.push(format!("browser.{b}.features"));
    }
    candidates.extend(GROUPS.iter().map(|g| (*g).to_string()));
    let best = candidates
        .iter()
        .map(|c| (edit_distance(&key, c), c))
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    match best {
        Some((d, c)) if d <= 2 => {
            format!("unknown capability `{raw}`: did you mean `{c}`? (known: {KNOWN})")
        }
        _ => format!("unknown capability `{raw}` (known: {KNOWN})"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn alias(kind: Kind, value: &str) -> String {
    let v = value.trim().to_ascii_lowercase().replace(' ', "-");
    ALIASES
        .iter()
        .find(|(k, from, _)| *k == kind && *from == v)
        .map_or(v, |(_, _, to)| (*to).to_string())
}

/// Checks `value` for a capability of `kind` and returns the form stored in
/// [`Pool::capabilities`]: names lower-cased and de-aliased, lists lower-cased and
/// comma-joined, versions and sizes as written (trimmed).
pub fn normalize_value(kind: Kind, value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() && kind != Kind::List {
        return Err("empty value".to_string());
    }
    match kind {
        Kind::Os | Kind::Arch | Kind::Vendor => Ok(alias(kind, v)),
        Kind::Name => Ok(v.to_ascii_lowercase()),
        Kind::Int => v
            .parse::<u64>()
            .map(|n| n.to_string())
            .map_err(|_| format!("expected a whole number, got {v:?}")),
        Kind::Size => match parse_size(v) {
            Some(_) => Ok(v.to_string()),
            None => Err(format!(
                "not a size: {v:?} (write a number and a unit, like \"16GB\" or \"512MiB\")"
            )),
        },
        Kind::Version => match parse_version(v) {
            Some(_) => Ok(v.to_string()),
            None => Err(format!(
                "not a version: {v:?} (write dot-separated numbers, like \"12.1\")"
            )),
        },
        Kind::List => Ok(list_items(v).collect::<Vec<_>>().join(",")),
        Kind::Custom => Ok(v.to_string()),
    }
}

fn list_items(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
}

/// A version as its numbers, trailing zeros dropped (`12.1.0` → `[12, 1]`);
/// `None` when `text` is not a version.
pub fn parse_version(text: &str) -> Option<Vec<u64>> {
    let t = text.trim();
    let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
    let core = t.split(['-', '+']).next().unwrap_or("");
    if core.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    for part in core.split('.') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        parts.push(part.parse::<u64>().ok()?);
    }
    while parts.last() == Some(&0) {
        parts.pop();
    }
    Some(parts)
}

/// Compares two versions; `None` when either is not one.
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    Some(parse_version(a)?.cmp(&parse_version(b)?))
}

/// A size in bytes; `GB` and `GiB` alike are 2^30 (see the module documentation).
pub fn parse_size(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let number: f64 = t[..split].parse().ok()?;
    if !number.is_finite() {
        return None;
    }
    let factor: f64 = match t[split..].trim().to_ascii_lowercase().as_str() {
        "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(number * factor)
}

/// Compares two sizes; `None` when either is not one.
pub fn compare_sizes(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parse_size(a)?, parse_size(b)?);
    if (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) {
        Some(Ordering::Equal)
    } else {
        a.partial_cmp(&b)
    }
}

/// Parses a requirement expression: `key = value`, `key >= value`, `key has item`,
/// or a bare `key` (the capability, or any in the group, exists). The key must be
/// in the taxonomy, the operator must suit its kind, and the value must parse
/// (`cuda >= twelve` is an error here, not a test that silently never runs).
pub fn parse_requirement(expr: &str) -> Result<Requirement, String> {
    let bad = |why: String| format!("bad requirement {expr:?}: {why}");
    let t = expr.trim();
    let key_end = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(t.len());
    let raw_key = &t[..key_end];
    if raw_key.is_empty() {
        return Err(bad(
            "expected a capability name first, like `cuda >= 12.1` or `gpu`".to_string(),
        ));
    }
    let rest = t[key_end..].trim_start();
    let (op, value) = if rest.is_empty() {
        (ReqOp::Exists, "")
    } else if let Some(v) = rest.strip_prefix(">=") {
        (ReqOp::AtLeast, v)
    } else if let Some(v) = rest.strip_prefix("==") {
        (ReqOp::Eq, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (ReqOp::Eq, v)
    } else if let Some(v) = rest
        .strip_prefix("has")
        .filter(|v| v.starts_with(char::is_whitespace))
    {
        (ReqOp::Has, v)
    } else if rest.starts_with(['<', '>', '!', '~']) {
        let op: String = rest.chars().take_while(|c| "<>=!~".contains(*c)).collect();
        return Err(bad(format!(
            "unsupported operator `{op}` (use `=`, `>=`, `has`, or the key alone)"
        )));
    } else {
        return Err(bad(format!(
            "expected `=`, `>=` or `has` after `{raw_key}`"
        )));
    };
    let value = unquote(value.trim());
    if op != ReqOp::Exists && value.is_empty() {
        return Err(bad("missing the value after the operator".to_string()));
    }
    let key = canonical_key(raw_key);
    let Some(kind) = kind_of(&key) else {
        if is_group(&key) {
            if op == ReqOp::Exists {
                return Ok(Requirement {
                    key,
                    op,
                    value: String::new(),
                });
            }
            return Err(bad(format!(
                "`{key}` is a group of capabilities: compare one of them (like `gpu.vendor = nvidia`) or require it alone"
            )));
        }
        return Err(bad(unknown_key_message(raw_key)));
    };
    let value = match op {
        ReqOp::Exists => String::new(),
        ReqOp::Eq if kind == Kind::List => {
            return Err(bad(format!("`{key}` is a list: use `{key} has {value}`")));
        }
        ReqOp::AtLeast
            if !matches!(kind, Kind::Int | Kind::Size | Kind::Version | Kind::Custom) =>
        {
            return Err(bad(format!("`{key}` has no order: use `{key} = {value}`")));
        }
        ReqOp::Has if !matches!(kind, Kind::List | Kind::Custom) => {
            return Err(bad(format!(
                "`has` looks for an item in a list (like browser.chrome.features): use `{key} = {value}`"
            )));
        }
        ReqOp::Has if value.contains(',') => {
            return Err(bad(
                "`has` takes one item; write one requirement per item".to_string()
            ));
        }
        ReqOp::Has => value.to_ascii_lowercase(),
        ReqOp::AtLeast if kind == Kind::Custom => {
            if parse_version(value).is_none() {
                return Err(bad(format!(
                    "`>=` on `{key}` needs a version, got {value:?}"
                )));
            }
            value.to_string()
        }
        ReqOp::Eq | ReqOp::AtLeast => normalize_value(kind, value).map_err(bad)?,
    };
    Ok(Requirement { key, op, value })
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.trim();
        }
    }
    v
}

/// The requirement as it would be written in `dtf.toml`.
pub fn requirement_text(req: &Requirement) -> String {
    match req.op {
        ReqOp::Exists => req.key.clone(),
        ReqOp::Eq => format!("{} = {}", req.key, req.value),
        ReqOp::AtLeast => format!("{} >= {}", req.key, req.value),
        ReqOp::Has => format!("{} has {}", req.key, req.value),
    }
}

/// The value of capability `key` (canonical) on `pool`, whatever the case or
/// `.version` spelling the pool was built with.
fn pool_value<'p>(pool: &'p Pool, key: &str) -> Option<&'p str> {
    pool.capabilities
        .iter()
        .find(|(k, _)| k == key || canonical_key(k) == key)
        .map(|(_, v)| v.as_str())
}

fn pool_has_group(pool: &Pool, key: &str) -> bool {
    pool.capabilities.iter().any(|(k, _)| {
        let k = canonical_key(k);
        k == key || k.strip_prefix(key).is_some_and(|r| r.starts_with('.'))
    })
}

/// Whether `pool` meets `req`, comparing values by the kind of the key.
pub fn satisfies(pool: &Pool, req: &Requirement) -> bool {
    if req.op == ReqOp::Exists {
        return pool_has_group(pool, &req.key);
    }
    let Some(have) = pool_value(pool, &req.key) else {
        return false;
    };
    let kind = kind_of(&req.key).unwrap_or(Kind::Custom);
    let want = req.value.as_str();
    match req.op {
        ReqOp::Exists => true,
        ReqOp::Eq => equal(kind, have, want),
        ReqOp::AtLeast => order(kind, have, want).is_some_and(|o| o != Ordering::Less),
        ReqOp::Has => match kind {
            Kind::List | Kind::Custom => {
                let want = want.trim().to_ascii_lowercase();
                list_items(have).any(|item| item == want)
            }
            _ => equal(kind, have, want),
        },
    }
}

fn equal(kind: Kind, have: &str, want: &str) -> bool {
    match kind {
        Kind::Os | Kind::Arch | Kind::Vendor => alias(kind, have) == alias(kind, want),
        Kind::Name => have.trim().eq_ignore_ascii_case(want.trim()),
        Kind::Int | Kind::Size | Kind::Version => order(kind, have, want) == Some(Ordering::Equal),
        Kind::List => {
            let want = want.trim().to_ascii_lowercase();
            list_items(have).any(|item| item == want)
        }
        Kind::Custom => match compare_versions(have, want) {
            Some(o) => o == Ordering::Equal,
            None => have.trim().eq_ignore_ascii_case(want.trim()),
        },
    }
}

fn order(kind: Kind, have: &str, want: &str) -> Option<Ordering> {
    match kind {
        Kind::Int => Some(
            have.trim()
                .parse::<u64>()
                .ok()?
                .cmp(&want.trim().parse::<u64>().ok()?),
        ),
        Kind::Size => compare_sizes(have, want),
        Kind::Version | Kind::Custom => compare_versions(have, want),
        _ => None,
    }
}

/// A number for an amount-like capability: counts as they are, sizes in GiB.
fn amount(kind: Kind, value: &str) -> Option<f64> {
    match kind {
        Kind::Int => value.trim().parse::<u32>().ok().map(f64::from),
        Kind::Size => parse_size(value).map(|b| b / (1024.0 * 1024.0 * 1024.0)),
        _ => None,
    }
}

/// The family a key belongs to, for fit scoring: `gpu` (with `cuda` and `rocm`),
/// `browser.<b>`, each `custom.*` key, or the key itself.
fn family(key: &str) -> String {
    if key == "gpu" || key.starts_with("gpu.") || key == "cuda" || key == "rocm" {
        return "gpu".to_string();
    }
    if let Some(rest) = key.strip_prefix("browser.") {
        let name = rest.split('.').next().unwrap_or(rest);
        return format!("browser.{name}");
    }
    key.to_string()
}

/// What an unused family costs: a GPU is the scarce, expensive thing to keep free.
fn family_weight(family: &str) -> f64 {
    if family == "gpu" {
        4.0
    } else if family.starts_with("browser.") {
        0.25
    } else if family.starts_with("custom.") {
        0.1
    } else {
        0.0
    }
}

/// Cost per doubling of an amount beyond what a test asked for.
const EXCESS_WEIGHT: f64 = 0.5;
/// Cost per doubling of an amount a test did not ask about (prefer small runners).
const UNASKED_WEIGHT: f64 = 0.1;

/// How well `pool` fits a test with requirements `reqs`: 0.0 when the pool cannot
/// run it, else in (0, 1], 1.0 when the pool has nothing the test does not use.
///
/// The waste counted against a pool: each capability family the test does not ask
/// about (a GPU costs 4, a browser 0.25, a custom key 0.1; os and arch nothing), for
/// amounts the test asks for (`memory >= 16GB`) half a point per doubling beyond
/// the need, and for amounts it does not ask about a tenth of a point per doubling of
/// the amount (a 64-core runner is wasted on a test that needs no cores in
/// particular). The score is `1 / (1 + waste)`.
pub fn fit_score(pool: &Pool, reqs: &[Requirement]) -> f64 {
    if !reqs.iter().all(|r| satisfies(pool, r)) {
        return 0.0;
    }
    let asked = |fam: &str| {
        reqs.iter().any(|r| {
            family(&r.key) == fam
                || fam
                    .strip_prefix(r.key.as_str())
                    .is_some_and(|t| t.starts_with('.'))
        })
    };
    let mut waste = 0.0;
    let mut charged: Vec<String> = Vec::new();
    for (raw_key, value) in &pool.capabilities {
        let key = canonical_key(raw_key);
        let fam = family(&key);
        let fam_asked = asked(&fam);
        if let Some(kind) = kind_of(&key)
            && let Some(have) = amount(kind, value)
        {
            let need = reqs
                .iter()
                .filter(|r| r.key == key && matches!(r.op, ReqOp::AtLeast | ReqOp::Eq))
                .filter_map(|r| amount(kind, &r.value))
                .fold(0.0_f64, f64::max);
            if need > 0.0 {
                waste += EXCESS_WEIGHT * (have / need).max(1.0).log2();
            } else if !reqs.iter().any(|r| r.key == key) {
                waste += UNASKED_WEIGHT * (1.0 + have.max(0.0)).log2();
            }
        }
        if !fam_asked && !charged.contains(&fam) {
            waste += family_weight(&fam);
            charged.push(fam);
        }
    }
    1.0 / (1.0 + waste)
}

/// The pools that can run a test with `reqs`, best fit first, ties in pool order.
pub fn rank_pools(pools: &[Pool], reqs: &[Requirement]) -> Vec<usize> {
    let mut scored: Vec<(f64, usize)> = pools
        .iter()
        .enumerate()
        .filter(|(_, p)| reqs.iter().all(|r| satisfies(p, r)))
        .map(|(i, p)| (fit_score(p, reqs), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, i)| i).collect()
}

// ---------------------------------------------------------------------------
// Resolving dtf.toml against an inventory

/// What `dtf.toml` contributes to a [`Problem`], resolved against the inventory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resolved {
    /// The declared pools, in file order (empty when the file declares none).
    pub pools: Vec<Pool>,
    /// `(before, after)` test indices, sorted and without repeats.
    pub dependencies: Vec<(usize, usize)>,
    /// Per test, the pools that can run it, best fit first; empty means every pool
    /// in pool order (as [`Problem::pools_for`] reads it).
    pub eligible: Vec<Vec<usize>>,
    /// `(group, weight)` in file order.
    pub shares: Vec<(String, f64)>,
    /// `(pool or group, seconds)` in file order, pools first.
    pub quotas: Vec<(String, f64)>,
    /// Ids and globs in `[[require]]`, `[[priority]]` and `[[group]]` that matched
    /// no test, as located messages.
    pub warnings: Vec<String>,
}

impl Resolved {
    /// Moves everything into `problem` (its tests must be the ones resolved).
    pub fn apply(self, problem: &mut Problem) {
        problem.pools = self.pools;
        problem.dependencies = self.dependencies;
        problem.eligible = self.eligible;
        problem.shares = self.shares;
        problem.quotas = self.quotas;
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ResolveOptions {
    /// The inventory is a subset of the suite (`--rerun-failed`): ids and globs that
    /// match nothing are expected, so they are neither errors (in dependencies) nor
    /// warnings (elsewhere).
    pub partial_inventory: bool,
    /// Start-up seconds for pools when neither the pool nor `[plan]` says.
    pub default_startup: f64,
}

/// More ordered pairs than this from the dependency rules is surely a glob that
/// matches far more than meant (and would exhaust memory).
pub const MAX_DEPENDENCY_PAIRS: usize = 5_000_000;

/// [`resolve_with`] with default options.
pub fn resolve(config: &Config, tests: &mut [PlanTest]) -> Result<Resolved, ConfigError> {
    resolve_with(config, tests, ResolveOptions::default())
}

/// Applies `dtf.toml` to the inventory: adds requirements, sets priorities (the
/// last matching rule wins) and groups (likewise), turns dependency rules into
/// index pairs, and finds the eligible pools of every test.
///
/// Errors: a dependency id or glob that matches no test (naming it and its line),
/// a test no pool can run (naming the test, the capability, and what each pool
/// has instead).
pub fn resolve_with<'a>(
    config: &'a Config,
    tests: &mut [PlanTest],
    options: ResolveOptions,
) -> Result<Resolved, ConfigError> {
    // Patterns that matched nothing, located together at the end (reading the
    // document once) unless one of them is an error.
    let mut unmatched: Vec<&TestPattern> = Vec::new();
    let (require_sets, priority_sets, group_sets, dependencies) = {
        let index = TestIndex::new(tests);
        let mut match_all =
            |patterns: &'a [TestPattern], fatal: bool| -> Result<Vec<usize>, ConfigError> {
                let mut out = Vec::new();
                for p in patterns {
                    let before = out.len();
                    index.extend_matching(p, &mut out);
                    if out.len() == before {
                        if fatal {
                            let (line, column, key) = config.locate(p.span());
                            return Err(ConfigError::UnknownTest {
                                file: config.source.clone(),
                                line,
                                column,
                                key,
                                pattern: p.as_str().to_string(),
                            });
                        }
                        unmatched.push(p);
                    }
                }
                out.sort_unstable();
                out.dedup();
                Ok(out)
            };
        let mut require_sets = Vec::with_capacity(config.requires.len());
        for rule in &config.requires {
            require_sets.push(match_all(&rule.tests, false)?);
        }
        let mut priority_sets = Vec::with_capacity(config.priorities.len());
        for rule in &config.priorities {
            priority_sets.push(match_all(&rule.tests, false)?);
        }
        let mut group_sets = Vec::with_capacity(config.groups.len());
        for rule in &config.groups {
            group_sets.push(match_all(&rule.tests, false)?);
        }
        let fatal = !options.partial_inventory;
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for rule in &config.dependencies {
            let before = match_all(&rule.before, fatal)?;
            let after = match_all(&rule.after, fatal)?;
            let count = before.len().saturating_mul(after.len());
            if pairs.len().saturating_add(count) > MAX_DEPENDENCY_PAIRS {
                return Err(config.error(
                    rule.span(),
                    format!(
                        "the dependency rules expand to more than {MAX_DEPENDENCY_PAIRS} ordered pairs \
                         (this one alone: {} before x {} after); narrow the globs",
                        before.len(),
                        after.len()
                    ),
                ));
            }
            for &b in &before {
                pairs.extend(after.iter().filter(|&&a| a != b).map(|&a| (b, a)));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        (require_sets, priority_sets, group_sets, pairs)
    };

    for (rule, set) in config.requires.iter().zip(&require_sets) {
        for &t in set {
            let reqs = &mut tests[t].requires;
            for need in &rule.needs {
                if !reqs.contains(need) {
                    reqs.push(need.clone());
                }
            }
        }
    }
    for (rule, set) in config.priorities.iter().zip(&priority_sets) {
        for &t in set {
            tests[t].priority = rule.priority;
        }
    }
    for (rule, set) in config.groups.iter().zip(&group_sets) {
        for &t in set {
            tests[t].group = Some(rule.name.clone());
        }
    }

    // A partial inventory leaves rules unmatched by design: no warnings then.
    let mut warnings = Vec::new();
    if !options.partial_inventory {
        let spans: Vec<_> = unmatched.iter().map(|p| p.span()).collect();
        for (p, (line, column, key)) in unmatched.iter().zip(config.locate_all(&spans)) {
            warnings.push(
                ConfigError::UnknownTest {
                    file: config.source.clone(),
                    line,
                    column,
                    key,
                    pattern: p.as_str().to_string(),
                }
                .to_string(),
            );
        }
    }

    let default_startup = config.plan.startup.unwrap_or(options.default_startup);
    let pools: Vec<Pool> = config
        .pools
        .iter()
        .map(|p| p.to_pool(default_startup))
        .collect();

    let eligible = eligible_pools(&pools, tests)?;

    let shares = config
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.share))
        .collect();
    let quotas = config
        .pools
        .iter()
        .filter_map(|p| p.quota_minutes.map(|q| (p.name.clone(), q * 60.0)))
        .chain(
            config
                .groups
                .iter()
                .filter_map(|g| g.quota_minutes.map(|q| (g.name.clone(), q * 60.0))),
        )
        .collect();

    Ok(Resolved {
        pools,
        dependencies,
        eligible,
        shares,
        quotas,
        warnings,
    })
}

/// Ranks the pools once per distinct requirement set (a suite has a handful), not
/// once per test.
pub fn eligible_pools(pools: &[Pool], tests: &[PlanTest]) -> Result<Vec<Vec<usize>>, ConfigError> {
    let identity: Vec<usize> = (0..pools.len()).collect();
    let mut cache: HashMap<&[Requirement], Vec<usize>> = HashMap::new();
    let mut eligible = Vec::with_capacity(tests.len());
    for test in tests {
        let reqs = test.requires.as_slice();
        if !cache.contains_key(reqs) {
            let ranked = rank_pools(pools, reqs);
            if ranked.is_empty() && !reqs.is_empty() {
                return Err(no_pool(&test.id, reqs, pools));
            }
            cache.insert(reqs, ranked);
        }
        let ranked = cache.get(reqs).map_or(&identity, |r| r);
        // An empty list already means "every pool in pool order".
        if reqs.is_empty() && *ranked == identity {
            eligible.push(Vec::new());
        } else {
            eligible.push(ranked.clone());
        }
    }
    Ok(eligible)
}

fn no_pool(test: &str, reqs: &[Requirement], pools: &[Pool]) -> ConfigError {
    if pools.is_empty() {
        return ConfigError::NoPool {
            test: test.to_string(),
            needs: reqs.iter().map(requirement_text).collect(),
            reason: "dtf.toml declares no [[pool]] to run it on".to_string(),
        };
    }
    if let Some(req) = reqs.iter().find(|r| !pools.iter().any(|p| satisfies(p, r))) {
        let have: Vec<String> = pools.iter().map(|p| describe_have(p, req)).collect();
        return ConfigError::NoPool {
            test: test.to_string(),
            needs: vec![requirement_text(req)],
            reason: format!("no pool has it ({})", have.join("; ")),
        };
    }
    let lacks: Vec<String> = pools
        .iter()
        .map(|p| {
            let missing: Vec<String> = reqs
                .iter()
                .filter(|r| !satisfies(p, r))
                .map(|r| format!("{:?}", requirement_text(r)))
                .collect();
            format!("pool {:?} lacks {}", p.name, missing.join(" and "))
        })
        .collect();
    ConfigError::NoPool {
        test: test.to_string(),
        needs: reqs.iter().map(requirement_text).collect(),
        reason: format!("no single pool has all of them ({})", lacks.join("; ")),
    }
}

fn describe_have(pool: &Pool, req: &Requirement) -> String {
    if req.op == ReqOp::Exists {
        return format!("pool {:?} has no {}", pool.name, req.key);
    }
    match pool_value(pool, &req.key) {
        None => format!("pool {:?} has no {}", pool.name, req.key),
        Some(v) if kind_of(&req.key) == Some(Kind::List) => {
            let items: Vec<String> = list_items(v).collect();
            format!(
                "pool {:?} has {} [{}]",
                pool.name,
                req.key,
                items.join(", ")
            )
        }
        Some(v) => format!("pool {:?} has {} {}", pool.name, req.key, v),
    }
}
