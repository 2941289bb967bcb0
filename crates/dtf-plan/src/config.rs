//! `dtf.toml`: the planning settings a repository keeps next to its code, so that
//! every build plans the same way without a long command line.
//!
//! The format is small and strict: every table refuses keys it does not know, so a
//! typo (`runnres = 4`) is an error rather than a silently ignored setting, and
//! every error names the file, the line and column, and the key
//! (`dtf.toml:12:11: pool "gpu": runners: invalid type: string "four", expected an
//! integer`). See `examples/dtf.toml` for a commented file that uses every section.
//!
//! # Sections
//!
//! - `[plan]`: defaults for `dtf plan` flags (a flag on the command line wins):
//!   `strategy` (a strategy name), `shards`, `unit` (`"test"` or `"file"`), `waves`
//!   (dependent tests go to later waves instead of one shard), `max_batch` (tests per
//!   invocation, 0 = no limit), `deadline` (`"10m"`, `"90s"`, `"1h30m"`, or seconds
//!   as a number) and `startup` (start-up seconds per invocation when a pool does not
//!   say).
//! - `[[pool]]`: a pool of interchangeable runners: `name` (unique), `labels` (how the
//!   provider selects them: GitHub `runs-on` labels, GitLab `tags`, Jenkins label
//!   parts, the Azure pool name and demands), `runners` (at least 1), `speed`
//!   (relative, default 1.0), `startup` (a duration), `quota_minutes` (runner-minutes
//!   this pool may use per build) and `[pool.capabilities]` over the taxonomy of
//!   [`crate::capability`]: `os`, `arch`, `cpu.cores`, `memory`, `disk`,
//!   `gpu.vendor`, `gpu.model`, `gpu.memory`, `gpu.count`, `cuda`, `rocm`,
//!   `browser.<chrome|chromium|firefox|safari|edge>` (a version) and
//!   `browser.<name>.features` (a list such as `["webgpu", "webnn"]`), plus free
//!   `custom.<name>` keys. Nested tables (`[pool.capabilities.gpu]`), inline tables
//!   and dotted keys (`gpu.vendor = "nvidia"`) all work; because TOML cannot give
//!   `browser.chrome` both a value and sub-keys, a version may also be written as
//!   `browser.chrome.version` (likewise `cuda.version`).
//! - `[[require]]`: `tests` (ids or globs) and `needs` (requirement expressions):
//!   `"gpu.vendor = nvidia"`, `"cuda >= 12.1"`, `"memory >= 16GB"`,
//!   `"browser.chrome.features has webgpu"`, or a bare key such as `"gpu"` (the
//!   capability exists). See [`crate::capability::parse_requirement`].
//! - `[[dependency]]`: `before` and `after`, each an id, a glob or a list of them:
//!   every test matched by `after` runs after every test matched by `before`.
//! - `[[priority]]`: `tests` and `priority` (an integer, higher runs earlier); when
//!   several rules match a test, the last one in the file wins.
//! - `[[group]]`: `name`, `tests`, `share` (weight for fair-share, default 1.0) and
//!   `quota_minutes` (runner-minutes per build); a test belongs to the last group
//!   whose globs match it.
//!
//! # Test patterns
//!
//! Wherever a section names tests, each entry is an exact test id or a glob in the
//! syntax of the `glob` crate (`*`, `?`, `[abc]`, `[!abc]`), matched against the whole
//! id, case-sensitively. Test ids are not paths: `*` matches any run of characters
//! *including* `::` and `/`, so `gpu::*` matches `gpu::train::big` and `tests/*`
//! matches `tests/a/b.py`. An entry always matches the test whose id is exactly that
//! text too, so a pytest id with brackets (`t::test_x[1-2]`) can be written as is; to
//! match a literal `*`, `?` or `[` in a glob, enclose it in brackets (`[*]`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use glob::{MatchOptions, Pattern};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use crate::capability;
use crate::model::{PlanTest, Requirement};

/// Why `dtf.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, does not fit the format, or says something
    /// impossible. `line` and `column` are 1-based; `key` is a path such as
    /// `pool "gpu": runners` (empty when the error is not inside a key).
    #[error("{}", located(.file, *.line, *.column, .key, .message))]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    /// A dependency names a test (or a glob) that matches nothing in the inventory.
    #[error("{}", located(.file, *.line, *.column, .key, &format!("{:?} matches no test in the inventory", .pattern)))]
    UnknownTest {
        file: String,
        line: usize,
        column: usize,
        key: String,
        pattern: String,
    },
    /// No pool can run a test: `needs` are the requirements no pool meets together,
    /// `reason` says what each pool has instead.
    #[error("test {test} needs {}: {reason}", quoted(.needs))]
    NoPool {
        test: String,
        needs: Vec<String>,
        reason: String,
    },
}

fn located(file: &str, line: usize, column: usize, key: &str, message: &str) -> String {
    let mut out = if line == 0 {
        file.to_string()
    } else {
        format!("{file}:{line}:{column}")
    };
    if !key.is_empty() {
        out.push_str(": ");
        out.push_str(key);
    }
    out.push_str(": ");
    out.push_str(message);
    out
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Planning unit: single tests, or whole files for frameworks that cannot select a
/// single test.
pub use crate::inventory::Unit;

/// `[plan]`: defaults for the `dtf plan` flags. `None` means the file does not say,
/// so the command line or the built-in default decides.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanSettings {
    pub strategy: Option<String>,
    pub shards: Option<u32>,
    pub unit: Option<Unit>,
    pub waves: Option<bool>,
    pub max_batch: Option<usize>,
    /// Seconds.
    pub deadline: Option<f64>,
    /// Start-up seconds per invocation, for pools that do not set their own.
    pub startup: Option<f64>,
}

/// `[[pool]]`, validated and with capabilities flattened and normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolConfig {
    pub name: String,
    pub labels: Vec<String>,
    pub runners: u32,
    pub speed: f64,
    /// Seconds; `None` falls back to `[plan] startup`, then to what history says.
    pub startup: Option<f64>,
    pub quota_minutes: Option<f64>,
    /// `key = value` over the taxonomy, sorted by key; lists are comma-joined.
    pub capabilities: Vec<(String, String)>,
    span: Range<usize>,
}

impl PoolConfig {
    /// The pool as the planner sees it; `default_startup` is used when neither the
    /// pool nor `[plan]` gives a start-up time.
    pub fn to_pool(&self, default_startup: f64) -> crate::model::Pool {
        crate::model::Pool {
            name: self.name.clone(),
            labels: self.labels.clone(),
            runners: self.runners,
            capabilities: self.capabilities.clone(),
            speed: self.speed,
            startup: self.startup.unwrap_or(default_startup),
        }
    }
}

/// `[[require]]`: tests matched by `tests` need every one of `needs`.
#[derive(Clone, Debug, PartialEq)]
pub struct RequireRule {
    pub tests: Vec<TestPattern>,
    pub needs: Vec<Requirement>,
}

/// `[[dependency]]`: tests matched by `after` run after those matched by `before`.
#[derive(Clone, Debug, PartialEq)]
pub struct DependencyRule {
    pub before: Vec<TestPattern>,
    pub after: Vec<TestPattern>,
    span: Range<usize>,
}

impl DependencyRule {
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.clone()
    }
}

/// `[[priority]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct PriorityRule {
    pub tests: Vec<TestPattern>,
    pub priority: i32,
}

/// `[[group]]`: a test type or team, for fair-share and quotas.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRule {
    pub name: String,
    pub tests: Vec<TestPattern>,
    pub share: f64,
    pub quota_minutes: Option<f64>,
}

/// A parsed `dtf.toml`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// The name errors use for the file (`dtf.toml`, or the path it was loaded from).
    pub source: String,
    pub plan: PlanSettings,
    pub pools: Vec<PoolConfig>,
    pub requires: Vec<RequireRule>,
    pub dependencies: Vec<DependencyRule>,
    pub priorities: Vec<PriorityRule>,
    pub groups: Vec<GroupRule>,
    /// `[[category]]`: the user's error-category rules for `dtf run` and the reports,
    /// checked (category name, regular expression) when the file is read.
    pub categories: Vec<dtf_core::categorize::RuleConfig>,
    /// The text, kept so that errors found later (an unknown test in a dependency)
    /// can still point at their line.
    text: String,
}

impl Config {
    /// Reads and parses the file at `path`; errors name it as given.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml(&text, &path.display().to_string())
    }

    /// Parses `text`; `source_name` is what error messages call the file.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e
                .message()
                .replace("string \"$__toml_private_datetime\"", "a date-time")
                .replace("expected a spanned value", "expected a string or a number")
                .trim_end()
                .to_string();
            error_at(text, source_name, span, message)
        })?;
        let mut config = Config {
            source: source_name.to_string(),
            text: text.to_string(),
            ..Config::default()
        };
        config.build(raw)?;
        Ok(config)
    }

    /// An [`ConfigError::Invalid`] pointing at `span` of this file.
    pub(crate) fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        error_at(&self.text, &self.source, span, message.into())
    }

    /// Where `span` is, as `(line, column, key path)`.
    pub(crate) fn locate(&self, span: Range<usize>) -> (usize, usize, String) {
        locate(&self.text, span)
    }

    /// [`Config::locate`] for many spans, reading the document once.
    pub(crate) fn locate_all(&self, spans: &[Range<usize>]) -> Vec<(usize, usize, String)> {
        let doc = toml::de::DeTable::parse(&self.text).ok();
        spans
            .iter()
            .map(|span| {
                let (at, line, column) = line_column(&self.text, span.start);
                let key = match &doc {
                    Some(doc) => render_path(&find_in_table(doc.get_ref(), at).unwrap_or_default()),
                    None => key_path_by_lines(&self.text, at),
                };
                (line, column, key)
            })
            .collect()
    }

    fn build(&mut self, raw: RawConfig) -> Result<(), ConfigError> {
        for rule in raw.category {
            let span = rule.span();
            let rule = rule.into_inner();
            if let Err(e) = rule.to_rule() {
                return Err(self.error(span, format!("category rule: {e}")));
            }
            self.categories.push(rule);
        }
        if let Some(plan) = raw.plan {
            self.plan = self.plan_settings(plan)?;
        }
        for pool in raw.pool {
            let built = self.pool(pool)?;
            if let Some(first) = self.pools.iter().find(|p| p.name == built.name) {
                let (line, _, _) = self.locate(first.span.clone());
                return Err(self.error(
                    built.span,
                    format!(
                        "duplicate pool name {:?} (first declared on line {line})",
                        built.name
                    ),
                ));
            }
            self.pools.push(built);
        }
        for rule in raw.require {
            let tests = self.patterns(rule.tests)?;
            let mut needs = Vec::new();
            for expr in items(rule.needs) {
                let req = capability::parse_requirement(expr.get_ref())
                    .map_err(|msg| self.error(expr.span(), msg))?;
                if !needs.contains(&req) {
                    needs.push(req);
                }
            }
            self.requires.push(RequireRule { tests, needs });
        }
        for rule in raw.dependency {
            let span = rule.before.span();
            let before = self.patterns(rule.before)?;
            let after = self.patterns(rule.after)?;
            self.dependencies.push(DependencyRule {
                before,
                after,
                span,
            });
        }
        for rule in raw.priority {
            let tests = self.patterns(rule.tests)?;
            self.priorities.push(PriorityRule {
                tests,
                priority: rule.priority,
            });
        }
        let mut group_spans: Vec<Range<usize>> = Vec::new();
        for rule in raw.group {
            let name = rule.name.get_ref().trim().to_string();
            if name.is_empty() {
                return Err(self.error(rule.name.span(), "a group needs a non-empty name"));
            }
            if let Some(i) = self.groups.iter().position(|g| g.name == name) {
                let (line, _, _) = self.locate(group_spans[i].clone());
                return Err(self.error(
                    rule.name.span(),
                    format!("duplicate group name {name:?} (first declared on line {line})"),
                ));
            }
            let share = match rule.share {
                Some(s) => positive(self, s, "share")?,
                None => 1.0,
            };
            let quota_minutes = match rule.quota_minutes {
                Some(q) => Some(not_negative(self, q, "quota_minutes")?),
                None => None,
            };
            if quota_minutes.is_some()
                && let Some(pool) = self
                    .pools
                    .iter()
                    .find(|p| p.name == name && p.quota_minutes.is_some())
            {
                return Err(self.error(
                    rule.name.span(),
                    format!(
                        "group {name:?} and pool {:?} both have a quota under one name; rename one",
                        pool.name
                    ),
                ));
            }
            let tests = self.patterns(rule.tests)?;
            group_spans.push(rule.name.span());
            self.groups.push(GroupRule {
                name,
                tests,
                share,
                quota_minutes,
            });
        }
        Ok(())
    }

    fn plan_settings(&self, raw: RawPlan) -> Result<PlanSettings, ConfigError> {
        let strategy = match raw.strategy {
            Some(s) if s.get_ref().trim().is_empty() => {
                return Err(self.error(s.span(), "strategy must not be empty"));
            }
            Some(s) => Some(s.into_inner().trim().to_string()),
            None => None,
        };
        let shards = match raw.shards {
            Some(s) if s.get_ref().0 == 0 => {
                return Err(self.error(s.span(), "shards must be at least 1"));
            }
            Some(s) => Some(count_u32(self, s)?),
            None => None,
        };
        let deadline = match raw.deadline {
            Some(d) if d.get_ref().0 <= 0.0 => {
                return Err(self.error(d.span(), "deadline must be longer than zero"));
            }
            Some(d) => Some(d.into_inner().0),
            None => None,
        };
        Ok(PlanSettings {
            strategy,
            shards,
            unit: raw.unit,
            waves: raw.waves,
            max_batch: raw
                .max_batch
                .map(|m| usize::try_from(m.0).unwrap_or(usize::MAX)),
            deadline,
            startup: raw.startup.map(|d| d.0),
        })
    }

    fn pool(&self, raw: RawPool) -> Result<PoolConfig, ConfigError> {
        let span = raw.name.span();
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(self.error(span, "a pool needs a non-empty name"));
        }
        if raw.runners.get_ref().0 == 0 {
            return Err(self.error(raw.runners.span(), "a pool needs at least 1 runner"));
        }
        let runners = count_u32(self, raw.runners)?;
        let speed = match raw.speed {
            Some(s) => positive(self, s, "speed")?,
            None => 1.0,
        };
        let quota_minutes = match raw.quota_minutes {
            Some(q) => Some(not_negative(self, q, "quota_minutes")?),
            None => None,
        };
        let mut labels = Vec::new();
        for label in raw.labels {
            let text = label.get_ref().trim();
            if text.is_empty() {
                return Err(self.error(label.span(), "labels must not be empty"));
            }
            labels.push(text.to_string());
        }
        let capabilities = match raw.capabilities {
            Some(caps) => self.capabilities(caps)?,
            None => Vec::new(),
        };
        Ok(PoolConfig {
            name,
            labels,
            runners,
            speed,
            startup: raw.startup.map(|d| d.0),
            quota_minutes,
            capabilities,
            span,
        })
    }

    fn capabilities(&self, caps: Spanned<CapValue>) -> Result<Vec<(String, String)>, ConfigError> {
        let span = caps.span();
        let CapValue::Table(entries) = caps.into_inner() else {
            return Err(self.error(span, "capabilities must be a table"));
        };
        let mut flat: Vec<(String, Spanned<CapValue>, Range<usize>)> = Vec::new();
        flatten(String::new(), entries, &mut flat);
        let mut out: Vec<(String, String, Range<usize>)> = Vec::new();
        for (raw_key, value, key_span) in flat {
            let key = capability::canonical_key(&raw_key);
            let Some(kind) = capability::kind_of(&key) else {
                return Err(self.error(key_span, capability::unknown_key_message(&raw_key)));
            };
            let value_span = value.span();
            let text = leaf_text(kind, value.into_inner())
                .map_err(|msg| self.error(value_span.clone(), msg))?;
            let normal = capability::normalize_value(kind, &text)
                .map_err(|msg| self.error(value_span.clone(), msg))?;
            if let Some((_, _, first)) = out.iter().find(|(k, _, _)| *k == key) {
                let (line, _, _) = self.locate(first.clone());
                return Err(self.error(
                    key_span,
                    format!("capability `{key}` is given twice (also on line {line})"),
                ));
            }
            out.push((key, normal, key_span));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().map(|(k, v, _)| (k, v)).collect())
    }

    fn patterns(&self, raw: Spanned<OneOrMany>) -> Result<Vec<TestPattern>, ConfigError> {
        let outer = raw.span();
        let list = items(raw);
        if list.is_empty() {
            return Err(self.error(outer, "needs at least one test id or glob"));
        }
        let mut out = Vec::with_capacity(list.len());
        for item in list {
            let mut pattern = TestPattern::new(item.get_ref().trim())
                .map_err(|msg| self.error(item.span(), msg))?;
            pattern.span = item.span();
            out.push(pattern);
        }
        Ok(out)
    }
}

fn count_u32(config: &Config, value: Spanned<Count>) -> Result<u32, ConfigError> {
    let span = value.span();
    u32::try_from(value.into_inner().0)
        .map_err(|_| config.error(span, format!("must be at most {}", u32::MAX)))
}

fn positive(config: &Config, value: Spanned<f64>, what: &str) -> Result<f64, ConfigError> {
    let v = *value.get_ref();
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(config.error(
            value.span(),
            format!("{what} must be a number greater than zero, got {v}"),
        ))
    }
}

fn not_negative(config: &Config, value: Spanned<f64>, what: &str) -> Result<f64, ConfigError> {
    let v = *value.get_ref();
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(config.error(
            value.span(),
            format!("{what} must not be negative, got {v}"),
        ))
    }
}

fn flatten(
    prefix: String,
    entries: Vec<(Spanned<String>, Spanned<CapValue>)>,
    out: &mut Vec<(String, Spanned<CapValue>, Range<usize>)>,
) {
    for (key, value) in entries {
        let key_span = key.span();
        let full = if prefix.is_empty() {
            key.into_inner()
        } else {
            format!("{prefix}.{}", key.into_inner())
        };
        let value_span = value.span();
        match value.into_inner() {
            CapValue::Table(inner) => flatten(full, inner, out),
            leaf => out.push((full, Spanned::new(value_span, leaf), key_span)),
        }
    }
}

/// The text of one capability leaf; lists only where the taxonomy has lists, and no
/// floats for versions (TOML would read `cuda = 12.10` as 12.1).
fn leaf_text(kind: capability::Kind, value: CapValue) -> Result<String, String> {
    use capability::Kind;
    match value {
        CapValue::Str(s) => Ok(s),
        CapValue::Int(i) if kind != Kind::List => Ok(i.to_string()),
        CapValue::Float(f) if kind == Kind::Custom => Ok(f.to_string()),
        CapValue::Float(f) if kind == Kind::Version => Err(format!(
            "write versions as strings (\"{f}\"): a TOML number loses trailing zeros"
        )),
        CapValue::List(items) if matches!(kind, Kind::List | Kind::Custom) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    CapValue::Str(s) => parts.push(s),
                    CapValue::Int(i) => parts.push(i.to_string()),
                    _ => return Err("list items must be strings".to_string()),
                }
            }
            Ok(parts.join(","))
        }
        CapValue::List(_) => Err("expected a single value, not a list".to_string()),
        other if kind == Kind::List => {
            Err(format!("expected a list of strings, got {}", other.what()))
        }
        other => Err(format!("expected a string, got {}", other.what())),
    }
}

fn error_at(text: &str, file: &str, span: Range<usize>, message: String) -> ConfigError {
    let (line, column, key) = locate(text, span);
    ConfigError::Invalid {
        file: file.to_string(),
        line,
        column,
        key,
        message,
    }
}

/// Line, column (1-based, in characters) and key path of a byte span.
fn locate(text: &str, span: Range<usize>) -> (usize, usize, String) {
    let (at, line, column) = line_column(text, span.start);
    (line, column, key_path(text, at))
}

/// The byte offset clamped to a character boundary, and its 1-based line and column.
fn line_column(text: &str, offset: usize) -> (usize, usize, usize) {
    let mut at = offset.min(text.len());
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = text[line_start..at].chars().count() + 1;
    (at, line, column)
}

#[derive(Debug)]
enum Seg {
    Key(String),
    Index(usize, Option<String>),
}

/// The key path of the value, key or table header at byte `at`, with `[[pool]]`
/// and `[[group]]` entries called by their names.
fn key_path(text: &str, at: usize) -> String {
    let segs = match toml::de::DeTable::parse(text) {
        Ok(doc) => find_in_table(doc.get_ref(), at).unwrap_or_default(),
        Err(_) => return key_path_by_lines(text, at),
    };
    render_path(&segs)
}

fn render_path(segs: &[Seg]) -> String {
    let mut out = String::new();
    let mut rest: Vec<String> = Vec::new();
    let mut iter = segs.iter().peekable();
    if let Some(Seg::Key(top)) = iter.next() {
        out.push_str(top);
        if let Some(Seg::Index(i, name)) = iter.peek() {
            match name {
                Some(n) => out.push_str(&format!(" {n:?}")),
                None => out.push_str(&format!(" #{}", i + 1)),
            }
            iter.next();
        }
    }
    for seg in iter {
        if let Seg::Key(k) = seg {
            rest.push(k.clone());
        }
    }
    if !rest.is_empty() {
        out.push_str(": ");
        out.push_str(&rest.join("."));
    }
    out
}

fn contains(span: &Range<usize>, at: usize) -> bool {
    span.start <= at && (at < span.end || span.start == span.end && at == span.start)
}

fn find_in_table(table: &toml::de::DeTable<'_>, at: usize) -> Option<Vec<Seg>> {
    for (key, value) in table.iter() {
        let name = key.get_ref().to_string();
        if contains(&key.span(), at) {
            return Some(vec![Seg::Key(name)]);
        }
        if let Some(mut sub) = find_in_value(value, at) {
            sub.insert(0, Seg::Key(name));
            return Some(sub);
        }
        if contains(&value.span(), at) {
            return Some(vec![Seg::Key(name)]);
        }
    }
    None
}

fn find_in_value(value: &Spanned<toml::de::DeValue<'_>>, at: usize) -> Option<Vec<Seg>> {
    match value.get_ref() {
        toml::de::DeValue::Table(t) => find_in_table(t, at),
        toml::de::DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let inner = find_in_value(item, at);
                if inner.is_some() || contains(&item.span(), at) {
                    let name = match item.get_ref() {
                        toml::de::DeValue::Table(t) => t
                            .iter()
                            .find(|(k, _)| k.get_ref() == "name")
                            .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string)),
                        _ => None,
                    };
                    let mut out = vec![Seg::Index(i, name)];
                    out.extend(inner.unwrap_or_default());
                    return Some(out);
                }
            }
            None
        }
        _ => None,
    }
}

/// For text that is not even TOML: the nearest table header above `at` and the key
/// on its line, read from the lines themselves.
fn key_path_by_lines(text: &str, at: usize) -> String {
    let mut header = String::new();
    let mut index = 0usize;
    let mut counts: Vec<(String, usize)> = Vec::new();
    let upto = &text[..at];
    for line in upto.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_string();
            let n = match counts.iter_mut().find(|(k, _)| *k == name) {
                Some((_, c)) => {
                    *c += 1;
                    *c
                }
                None => {
                    counts.push((name.clone(), 1));
                    1
                }
            };
            header = name;
            index = n;
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            header = name.trim().to_string();
            index = 0;
        }
    }
    let line_start = upto.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| {
            !k.is_empty()
                && !k.starts_with('[')
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"'))
        })
        .unwrap_or("");
    let mut out = header;
    if index > 0 {
        out.push_str(&format!(" #{index}"));
    }
    if !key.is_empty() {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(key);
    }
    out
}

// ---------------------------------------------------------------------------
// Test patterns

/// How a pattern is matched, chosen once when it is compiled.
#[derive(Clone, Debug, PartialEq)]
enum Matcher {
    /// No glob characters: the exact id only.
    Exact,
    /// Only `*` wildcards (not `**`): literal pieces found in order, without the
    /// general glob matcher, which is several times slower.
    Stars(Vec<String>),
    /// `*` and `?` only (not `**`): a linear wildcard matcher, again without the
    /// general one.
    Wild(Vec<Wild>),
    /// Anything else (brackets, `**`), by `glob::Pattern`.
    Glob(Pattern),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Wild {
    Char(char),
    One,
    Any,
}

const MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// An exact test id or a glob over test ids (see the module documentation).
#[derive(Clone, Debug)]
pub struct TestPattern {
    text: String,
    matcher: Matcher,
    required: Vec<String>,
    span: Range<usize>,
}

impl PartialEq for TestPattern {
    fn eq(&self, other: &TestPattern) -> bool {
        self.text == other.text
    }
}

impl TestPattern {
    /// Compiles `text`; the error says what is wrong with the glob.
    pub fn new(text: &str) -> Result<TestPattern, String> {
        if text.is_empty() {
            return Err("a test id or glob must not be empty".to_string());
        }
        let matcher = if !text.contains(['*', '?', '[']) {
            Matcher::Exact
        } else if !text.contains(['?', '[', ']']) && !text.contains("**") {
            Matcher::Stars(text.split('*').map(str::to_string).collect())
        } else if !text.contains(['[', ']']) && !text.contains("**") {
            Matcher::Wild(
                text.chars()
                    .map(|c| match c {
                        '*' => Wild::Any,
                        '?' => Wild::One,
                        c => Wild::Char(c),
                    })
                    .collect(),
            )
        } else {
            match Pattern::new(text) {
                Ok(p) => Matcher::Glob(p),
                // `gpu::**` is not a valid glob (a `**` must be a whole path
                // component), but for ids it can only mean "anything".
                Err(e) => match Pattern::new(&collapse_stars(text)) {
                    Ok(p) if text.contains("**") => Matcher::Glob(p),
                    _ => return Err(glob_error(text, &e)),
                },
            }
        };
        // Literal runs before any bracket must appear in every id that matches:
        // checking them first spares most ids the slower matchers.
        let required = match matcher {
            Matcher::Wild(_) | Matcher::Glob(_) => {
                let head = text.split('[').next().unwrap_or("");
                let mut runs: Vec<String> = head
                    .split(['*', '?'])
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect();
                runs.sort_by_key(|r| std::cmp::Reverse(r.len()));
                runs
            }
            _ => Vec::new(),
        };
        Ok(TestPattern {
            text: text.to_string(),
            matcher,
            required,
            span: 0..0,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the pattern has no glob characters.
    pub fn is_exact(&self) -> bool {
        self.matcher == Matcher::Exact
    }

    /// The text before the first glob character: every id it matches, other than
    /// the exact text itself, starts with this.
    pub fn literal_prefix(&self) -> &str {
        match self.text.find(['*', '?', '[']) {
            Some(i) => &self.text[..i],
            None => &self.text,
        }
    }

    pub fn matches(&self, id: &str) -> bool {
        if id == self.text {
            return true;
        }
        if !self.required.iter().all(|r| id.contains(r.as_str())) {
            return false;
        }
        match &self.matcher {
            Matcher::Exact => false,
            Matcher::Stars(pieces) => stars_match(pieces, id),
            Matcher::Wild(tokens) => wild_match(tokens, id),
            Matcher::Glob(p) => p.matches_with(id, MATCH),
        }
    }

    pub(crate) fn span(&self) -> Range<usize> {
        self.span.clone()
    }
}

fn collapse_stars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !(c == '*' && out.ends_with('*')) {
            out.push(c);
        }
    }
    out
}

fn glob_error(text: &str, e: &glob::PatternError) -> String {
    format!(
        "bad glob {text:?}: {} at character {} (enclose a literal `[`, `*` or `?` in brackets, like `[[]`)",
        e.msg,
        e.pos + 1
    )
}

/// `pieces` is the pattern split on `*`: the first must start the id, the last end
/// it, the rest appear in order between them.
fn stars_match(pieces: &[String], id: &str) -> bool {
    let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
        return false;
    };
    if pieces.len() == 1 {
        return id == first;
    }
    if !id.starts_with(first.as_str()) || id.len() < first.len() + last.len() {
        return false;
    }
    let end = id.len() - last.len();
    if !id.ends_with(last.as_str()) {
        return false;
    }
    let mut pos = first.len();
    for piece in &pieces[1..pieces.len() - 1] {
        match id.get(pos..end).and_then(|rest| rest.find(piece.as_str())) {
            Some(i) => pos += i + piece.len(),
            None => return false,
        }
    }
    true
}

/// Classic wildcard matching: on a mismatch, let the last `*` swallow one more
/// character and retry from there; linear in practice, no recursion.
fn wild_match(tokens: &[Wild], id: &str) -> bool {
    let mut p = 0;
    let mut s = 0;
    let mut star: Option<(usize, usize)> = None;
    while let Some(c) = id[s..].chars().next() {
        match tokens.get(p) {
            Some(Wild::Any) => {
                star = Some((p, s));
                p += 1;
                continue;
            }
            Some(Wild::One) => {
                p += 1;
                s += c.len_utf8();
                continue;
            }
            Some(Wild::Char(t)) if *t == c => {
                p += 1;
                s += c.len_utf8();
                continue;
            }
            _ => {}
        }
        let Some((star_p, star_s)) = star else {
            return false;
        };
        let skipped = id[star_s..].chars().next().map_or(1, char::len_utf8);
        star = Some((star_p, star_s + skipped));
        p = star_p + 1;
        s = star_s + skipped;
    }
    tokens[p.min(tokens.len())..]
        .iter()
        .all(|t| *t == Wild::Any)
}

/// Test ids sorted once, so that exact ids and patterns with a literal prefix look
/// up only the ids that can match (a binary search) instead of scanning them all.
pub struct TestIndex<'a> {
    sorted: Vec<(&'a str, usize)>,
}

impl<'a> TestIndex<'a> {
    pub fn new(tests: &'a [PlanTest]) -> TestIndex<'a> {
        let mut sorted: Vec<(&str, usize)> = tests
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        sorted.sort_unstable();
        TestIndex { sorted }
    }

    /// Indices of the tests `pattern` matches, ascending.
    pub fn matching(&self, pattern: &TestPattern) -> Vec<usize> {
        let mut out = Vec::new();
        self.extend_matching(pattern, &mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Appends the indices `pattern` matches to `out`, unsorted, possibly repeated.
    pub fn extend_matching(&self, pattern: &TestPattern, out: &mut Vec<usize>) {
        let exact = pattern.as_str();
        let lo = self.sorted.partition_point(|(id, _)| *id < exact);
        out.extend(
            self.sorted[lo..]
                .iter()
                .take_while(|(id, _)| *id == exact)
                .map(|(_, i)| *i),
        );
        if pattern.is_exact() {
            return;
        }
        let prefix = pattern.literal_prefix();
        let lo = self.sorted.partition_point(|(id, _)| *id < prefix);
        let candidates = self.sorted[lo..]
            .iter()
            .take_while(|(id, _)| id.starts_with(prefix));
        // `prefix*` takes the whole range without matching each id.
        let whole_range =
            matches!(&pattern.matcher, Matcher::Stars(p) if p.len() == 2 && p[1].is_empty());
        for (id, i) in candidates {
            if whole_range || pattern.matches(id) {
                out.push(*i);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The raw format, as serde reads it

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    plan: Option<RawPlan>,
    #[serde(default)]
    pool: Vec<RawPool>,
    #[serde(default)]
    require: Vec<RawRequire>,
    #[serde(default)]
    dependency: Vec<RawDependency>,
    #[serde(default)]
    priority: Vec<RawPriority>,
    #[serde(default)]
    group: Vec<RawGroup>,
    #[serde(default)]
    category: Vec<Spanned<dtf_core::categorize::RuleConfig>>,
    /// Named history queries: read and checked by `dtf_history::queries`.
    #[serde(default, rename = "query")]
    _query: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    strategy: Option<Spanned<String>>,
    shards: Option<Spanned<Count>>,
    unit: Option<Unit>,
    waves: Option<bool>,
    max_batch: Option<Count>,
    deadline: Option<Spanned<Duration>>,
    startup: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    name: Spanned<String>,
    #[serde(default)]
    labels: Vec<Spanned<String>>,
    runners: Spanned<Count>,
    speed: Option<Spanned<f64>>,
    startup: Option<Duration>,
    quota_minutes: Option<Spanned<f64>>,
    capabilities: Option<Spanned<CapValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequire {
    tests: Spanned<OneOrMany>,
    needs: Spanned<OneOrMany>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDependency {
    before: Spanned<OneOrMany>,
    after: Spanned<OneOrMany>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPriority {
    tests: Spanned<OneOrMany>,
    priority: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: Spanned<String>,
    tests: Spanned<OneOrMany>,
    share: Option<Spanned<f64>>,
    quota_minutes: Option<Spanned<f64>>,
}

/// A non-negative integer, with an error that says so instead of "expected u32".
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                u64::try_from(v)
                    .map(Count)
                    .map_err(|_| E::custom(format!("must not be negative, got {v}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// Seconds, from `"1h30m"`, `"90s"`, `"1.5m"`, `"250ms"` or a plain number of seconds.
struct Duration(f64);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"10m\", \"90s\" or \"1h30m\", or seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                self.visit_f64(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                if !v.is_finite() {
                    Err(E::custom(format!("not a duration: {v}")))
                } else if v < 0.0 {
                    Err(E::custom(format!(
                        "a duration must not be negative, got {v}"
                    )))
                } else {
                    Ok(Duration(v))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse_duration(v).map(Duration).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses `"1h30m"`, `"90s"`, `"1.5m"`, `"250ms"`, `"2h 5m"`, or `"45"` (seconds).
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("a duration must not be negative, got {t:?}"));
    }
    if t.is_empty() {
        return Err("empty duration (write \"10m\", \"90s\" or \"1h30m\")".to_string());
    }
    if let Ok(secs) = t.parse::<f64>()
        && secs.is_finite()
    {
        return Ok(secs);
    }
    let bad = || format!("not a duration: {t:?} (write \"10m\", \"90s\" or \"1h30m\")");
    let mut total = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let factor = match rest[..unit_len].to_ascii_lowercase().as_str() {
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
        total += number * factor;
        rest = rest[unit_len..].trim_start();
    }
    Ok(total)
}

/// One string or a list of strings.
enum OneOrMany {
    One(String),
    Many(Vec<Spanned<String>>),
}

/// The strings of a [`OneOrMany`], a single one spanning the whole value.
fn items(value: Spanned<OneOrMany>) -> Vec<Spanned<String>> {
    let span = value.span();
    match value.into_inner() {
        OneOrMany::One(s) => vec![Spanned::new(span, s)],
        OneOrMany::Many(v) => v,
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OneOrMany, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    out.push(item);
                }
                Ok(OneOrMany::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A capability table as written, before flattening.
enum CapValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool,
    List(Vec<CapValue>),
    Table(Vec<(Spanned<String>, Spanned<CapValue>)>),
}

impl CapValue {
    fn what(&self) -> &'static str {
        match self {
            CapValue::Str(_) => "a string",
            CapValue::Int(_) => "an integer",
            CapValue::Float(_) => "a float",
            CapValue::Bool => "a boolean",
            CapValue::List(_) => "a list",
            CapValue::Table(_) => "a table",
        }
    }
}

impl<'de> Deserialize<'de> for CapValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CapValue, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CapValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a capability value (a string, a number or a list of strings)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CapValue, E> {
                Ok(CapValue::Str(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CapValue, E> {
                Ok(CapValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CapValue, E> {
                i64::try_from(v)
                    .map(CapValue::Int)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<CapValue, E> {
                Ok(CapValue::Float(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<CapValue, E> {
                Ok(CapValue::Bool)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CapValue, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<CapValue>()? {
                    out.push(item);
                }
                Ok(CapValue::List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CapValue, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<Spanned<String>, Spanned<CapValue>>()? {
                    out.push((k, v));
                }
                Ok(CapValue::Table(out))
            }
        }
        d.deserialize_any(V)
    }
}
