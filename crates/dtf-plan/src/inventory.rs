//! Which tests to plan: from a list, from earlier results, or by discovery
//! ([`crate::discover`]), as tests or as files.
//!
//! A list file is one dtf test id a line (`SCOPE::NAME`; blank lines and lines whose
//! first non-blank character is `#` are ignored), or JSON: an array of ids or of
//! `{"id": ..., "file": ..., "suite": ...}` objects, or a `dtf.plan.v1` (its tests, in
//! shard order). Which one is told by the first non-blank character, never by the
//! file's name. Errors name the file and the line (and column, for JSON).
//!
//! Earlier results are JUnit (read through [`dtf_core::merge`], so ids and attempts
//! follow the rest of dtf) or a `dtf.summary.v1`. A summary names only failed, flaky
//! and slowest tests, so it serves `--rerun-failed`, never a full inventory.
//!
//! **Units.** Planning by file groups tests by their file: the JUnit `file` attribute,
//! else a path at the start of the id (pytest node ids, `path.py::name`), else a scope
//! that is a path (vitest's classname), else the scope itself (a Go package, a Java
//! class, a nextest binary: what those frameworks can select); the planned item's id is
//! then that file. Frameworks that can only select files (jest, vitest) give file items
//! even when planning by test.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::path::Path;
use std::str::FromStr;

use dtf_core::merge::{Input, MergeError, MergeOptions, MergedTest, merge};
use dtf_core::model::{Status, TestId};
use dtf_core::summary::{Summary, SummaryError};

use crate::durations::{History, HistoryError, expand_junit, json_message, looks_like_json};
use crate::model::{PLAN_SCHEMA, Plan, PlanTest};

/// What one planned item is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// One test, by its dtf id.
    #[default]
    Test,
    /// A whole file (or the nearest thing a framework selects: a Go package, a class).
    File,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Test => "test",
            Unit::File => "file",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Unit {
    type Err = String;
    fn from_str(s: &str) -> Result<Unit, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "test" | "tests" => Ok(Unit::Test),
            "file" | "files" => Ok(Unit::File),
            other => Err(format!("unknown unit `{other}` (expected test or file)")),
        }
    }
}

/// One entry of the inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// A dtf test id, or a file path when `unit` is [`Unit::File`].
    pub id: String,
    /// The file the test lives in, when known.
    pub file: Option<String>,
    /// The id's scope (class, module, package, binary), when known.
    pub suite: Option<String>,
    pub unit: Unit,
}

impl Item {
    pub fn test(id: impl Into<String>) -> Item {
        Item {
            id: id.into(),
            file: None,
            suite: None,
            unit: Unit::Test,
        }
    }

    /// A whole file, for frameworks that select files.
    pub fn file(path: impl Into<String>) -> Item {
        let path = normalize_file(&path.into());
        Item {
            file: Some(path.clone()),
            id: path,
            suite: None,
            unit: Unit::File,
        }
    }

    pub fn with_file(mut self, file: Option<String>) -> Item {
        self.file = file.map(|f| normalize_file(&f));
        self
    }

    pub fn with_suite(mut self, suite: Option<String>) -> Item {
        self.suite = suite.filter(|s| !s.is_empty());
        self
    }

    /// The file this item is planned under when planning by file.
    pub fn group(&self) -> String {
        if self.unit == Unit::File {
            return self.id.clone();
        }
        derive_file(&self.id, self.file.as_deref(), self.suite.as_deref())
            .unwrap_or_else(|| self.id.clone())
    }
}

/// `\` as `/`, no leading `./`: how results and discovery name the same file alike.
pub fn normalize_file(path: &str) -> String {
    normalized_file(path).into_owned()
}

/// [`normalize_file`] without a copy when the path is already normal (the usual case,
/// on hot paths that see every test case of a history).
pub(crate) fn normalized_file(path: &str) -> Cow<'_, str> {
    let mut p = path.trim();
    if !p.contains('\\') {
        while let Some(rest) = p.strip_prefix("./") {
            p = rest;
        }
        return Cow::Borrowed(p);
    }
    let mut owned = p.replace('\\', "/");
    while let Some(rest) = owned.strip_prefix("./") {
        owned = rest.to_owned();
    }
    Cow::Owned(owned)
}

/// Extensions that mark a string as a source file's path.
const SOURCE_EXTENSIONS: &[&str] = &[
    "py", "js", "jsx", "ts", "tsx", "mjs", "cjs", "mts", "cts", "vue", "svelte", "rb", "go",
    "java", "kt", "scala", "cs", "fs", "php", "rs", "c", "cc", "cpp", "swift", "ex", "exs",
    "feature", "robot", "lua", "dart",
];

/// Whether `s` looks like a path to a source file (`tests/test_a.py`, `src/x.test.ts`).
pub fn looks_like_path(s: &str) -> bool {
    match s.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && !stem.ends_with('/')
                && SOURCE_EXTENSIONS
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(ext))
        }
        None => false,
    }
}

/// The file a test is planned under; see the module documentation for the order.
pub fn derive_file(id: &str, file: Option<&str>, scope: Option<&str>) -> Option<String> {
    derived_file(id, file, scope).map(Cow::into_owned)
}

/// [`derive_file`], borrowing where it can.
pub(crate) fn derived_file<'a>(
    id: &'a str,
    file: Option<&'a str>,
    scope: Option<&'a str>,
) -> Option<Cow<'a, str>> {
    if let Some(f) = file.map(str::trim).filter(|f| !f.is_empty()) {
        return Some(normalized_file(f));
    }
    if let Some((head, _)) = id.split_once(TestId::SEPARATOR)
        && looks_like_path(head)
    {
        return Some(normalized_file(head));
    }
    let scope = scope.map(str::trim).filter(|s| !s.is_empty())?;
    if looks_like_path(scope) {
        Some(normalized_file(scope))
    } else {
        Some(Cow::Borrowed(scope))
    }
}

/// An inventory that could not be built.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("{source_name}:{line}: {message}")]
    Line {
        source_name: String,
        line: usize,
        message: String,
    },
    #[error("{source_name}:{line}:{column}: {message}")]
    Json {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{source_name}: expected a JSON array of test ids or of {{\"id\": ...}} objects, or a {PLAN_SCHEMA} document{found}"
    )]
    NotAList { source_name: String, found: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "{source_name}: the summary names {named} of its failed tests and omits {omitted}; rerun from the JUnit results instead"
    )]
    SummaryTruncated {
        source_name: String,
        named: usize,
        omitted: u64,
    },
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Summary(#[from] SummaryError),
}

type Result<T, E = InventoryError> = std::result::Result<T, E>;

/// The tests (or files) to plan, in a stable order, each id once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inventory {
    pub items: Vec<Item>,
    /// Things worth telling the user that did not stop anything (duplicates, inputs
    /// that could not be read, lost tests a summary cannot name).
    pub warnings: Vec<String>,
}

impl Inventory {
    /// Keeps the first of each id, in order.
    pub fn from_items(items: impl IntoIterator<Item = Item>) -> Inventory {
        let mut seen = HashSet::new();
        let mut inv = Inventory::default();
        let mut dupes = 0usize;
        let mut first_dupe = None;
        for item in items {
            if seen.insert(item.id.clone()) {
                inv.items.push(item);
            } else {
                dupes += 1;
                first_dupe.get_or_insert(item.id);
            }
        }
        if let Some(id) = first_dupe {
            inv.warnings.push(format!(
                "{dupes} repeated id{} kept once (first: `{id}`)",
                if dupes == 1 { "" } else { "s" }
            ));
        }
        inv
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn ids(&self) -> Vec<String> {
        self.items.iter().map(|i| i.id.clone()).collect()
    }

    /// Reads a list file (`--tests LIST`).
    pub fn read_list(path: &Path) -> Result<Inventory> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Inventory::parse_list(&text, &path.display().to_string())
    }

    /// Parses a list: text, a JSON array, or a plan, by its first non-blank character.
    pub fn parse_list(text: &str, source_name: &str) -> Result<Inventory> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match text.trim_start().chars().next() {
            Some('[') => parse_json_list(text, source_name),
            Some('{') => parse_plan(text, source_name),
            _ => parse_text_list(text, source_name),
        }
    }

    /// Every test of earlier JUnit results, in the merge's order (by suite, first
    /// seen).
    pub fn from_inputs(inputs: &[Input]) -> Result<Inventory> {
        let run = merge(inputs, &MergeOptions::default())?;
        let mut items = Vec::with_capacity(run.len());
        run.visit(|t| {
            items.push(item_of(t));
            Ok(())
        })
        .map_err(spool_error)?;
        Ok(Inventory::from_items(items))
    }

    /// The tests history knows (`dtf plan --timings ...` without a test list): every
    /// test of the kept builds, first-seen order.
    pub fn from_history(history: &History) -> Inventory {
        Inventory::from_items(history.tests().map(|(id, scope, file)| {
            Item::test(id)
                .with_file(file.map(str::to_owned))
                .with_suite(scope.map(str::to_owned))
        }))
    }

    /// `--rerun-failed` from JUnit results: the failed and errored tests (a test that
    /// passed on a retry is flaky and is not rerun), then the `planned` tests that have
    /// no result at all (lost: a shard that died, a file never uploaded). Unreadable
    /// inputs are read as far as they go and reported in the warnings.
    pub fn rerun_from_inputs(inputs: &[Input], planned: &[String]) -> Result<Inventory> {
        let options = MergeOptions {
            keep_going: true,
            ..MergeOptions::default()
        };
        let run = merge(inputs, &options)?;
        let mut warnings: Vec<String> = run
            .problems()
            .map(|p| {
                format!(
                    "{}: {}",
                    p.source,
                    p.error.as_deref().unwrap_or("unreadable")
                )
            })
            .collect();
        let mut items = Vec::new();
        let failed = run.with_status(&[Status::Failed, Status::Errored]);
        run.visit_entries(&failed, |t| {
            items.push(item_of(t));
            Ok(())
        })
        .map_err(spool_error)?;
        if !planned.is_empty() {
            let mut seen = HashSet::with_capacity(run.len());
            run.visit(|t| {
                seen.insert(t.id.0.clone());
                Ok(())
            })
            .map_err(spool_error)?;
            let lost: Vec<&String> = planned
                .iter()
                .filter(|id| !seen.contains(id.as_str()))
                .collect();
            if !lost.is_empty() {
                warnings.push(format!(
                    "{} planned test{} had no result (lost) and will run again",
                    lost.len(),
                    if lost.len() == 1 { "" } else { "s" }
                ));
            }
            items.extend(lost.into_iter().map(|id| {
                Item::test(id.clone())
                    .with_file(derive_file(id, None, None).filter(|f| looks_like_path(f)))
            }));
        }
        let mut inv = Inventory::from_items(items);
        warnings.append(&mut inv.warnings);
        inv.warnings = warnings;
        Ok(inv)
    }

    /// `--rerun-failed` from a summary: its failed and errored tests. A summary that
    /// omits failures beyond its limit is refused (planning a part of them silently
    /// would look like success); lost tests cannot be named from a summary, which only
    /// lists failures, so they are only counted in a warning when `planned` is given.
    pub fn rerun_from_summary(
        summary: &Summary,
        source_name: &str,
        planned: &[String],
    ) -> Result<Inventory> {
        if summary.failures_omitted > 0 {
            return Err(InventoryError::SummaryTruncated {
                source_name: source_name.to_owned(),
                named: summary.failures.len(),
                omitted: summary.failures_omitted,
            });
        }
        let items = summary
            .failures
            .iter()
            .filter(|t| t.status.is_failure())
            .map(|t| {
                let scope = TestId::scope(t.classname.as_deref(), t.file.as_deref(), &t.suite);
                Item::test(t.id.clone())
                    .with_file(t.file.clone())
                    .with_suite(Some(scope.to_owned()))
            });
        let mut inv = Inventory::from_items(items);
        for p in summary.inputs.iter().filter(|p| p.error.is_some()) {
            inv.warnings.push(format!(
                "{source_name}: input {} was not read to the end ({}); its remaining tests are lost and a summary cannot name them",
                p.source,
                p.error.as_deref().unwrap_or("")
            ));
        }
        let ran = summary.totals.tests as usize;
        if !planned.is_empty() && ran < planned.len() {
            inv.warnings.push(format!(
                "{source_name}: {} planned tests have no result, but a summary cannot name them; pass the JUnit results to rerun them too",
                planned.len() - ran
            ));
        }
        Ok(inv)
    }

    /// `--rerun-failed PATH`: a summary (JSON) or JUnit (a file, a folder, a glob),
    /// told apart by content.
    pub fn rerun_from_path(arg: &str, planned: &[String]) -> Result<Inventory> {
        let path = Path::new(arg);
        if path.is_file() && looks_like_json(path)? {
            let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Io {
                path: arg.to_owned(),
                source,
            })?;
            let summary = Summary::from_json(&text, arg)?;
            return Inventory::rerun_from_summary(&summary, arg, planned);
        }
        let inputs: Vec<Input> = expand_junit(arg)?.iter().map(|s| s.to_input()).collect();
        Inventory::rerun_from_inputs(&inputs, planned)
    }

    /// The planning problem's tests, with durations from `history`.
    ///
    /// By test, each item is one [`PlanTest`] (a file item keeps its file's time).
    /// By file, items are grouped by [`Item::group`] in first-seen order; a group of
    /// tests takes the sum of their predictions, estimated when any of them is (unless
    /// none of them is known and history knows the file as a whole: then that).
    pub fn plan_tests(&self, unit: Unit, history: &History) -> Vec<PlanTest> {
        match unit {
            Unit::Test => self
                .items
                .iter()
                .map(|item| {
                    let (duration, estimated) = match item.unit {
                        Unit::File => file_prediction(history, &item.id),
                        Unit::Test => {
                            history.predict(&item.id, item.file.as_deref(), item.suite.as_deref())
                        }
                    };
                    PlanTest {
                        estimated,
                        file: item.file.clone().or_else(|| {
                            derive_file(&item.id, None, None).filter(|f| looks_like_path(f))
                        }),
                        suite: item.suite.clone(),
                        spread: match item.unit {
                            Unit::File => None,
                            Unit::Test => history.spread(&item.id),
                        },
                        ..PlanTest::new(item.id.clone(), duration)
                    }
                })
                .collect(),
            Unit::File => {
                let mut order: Vec<String> = Vec::new();
                let mut groups: HashMap<String, Vec<&Item>> = HashMap::new();
                for item in &self.items {
                    let key = item.group();
                    groups
                        .entry(key.clone())
                        .or_insert_with(|| {
                            order.push(key);
                            Vec::new()
                        })
                        .push(item);
                }
                order
                    .into_iter()
                    .map(|key| {
                        let members = groups.remove(&key).unwrap_or_default();
                        let (duration, estimated) = group_prediction(history, &key, &members);
                        let suite = members
                            .first()
                            .and_then(|m| m.suite.clone())
                            .filter(|s| members.iter().all(|m| m.suite.as_ref() == Some(s)));
                        PlanTest {
                            estimated,
                            file: Some(key.clone()),
                            suite,
                            ..PlanTest::new(key, duration)
                        }
                    })
                    .collect()
            }
        }
    }
}

fn file_prediction(history: &History, file: &str) -> (f64, bool) {
    history
        .file_durations(&[file.to_owned()])
        .into_iter()
        .next()
        .unwrap_or((crate::durations::DEFAULT_ESTIMATE_S, true))
}

fn group_prediction(history: &History, key: &str, members: &[&Item]) -> (f64, bool) {
    if members.iter().any(|m| m.unit == Unit::File) {
        return file_prediction(history, key);
    }
    let mut total = 0.0;
    let mut estimated = 0usize;
    for m in members {
        let (d, est) = history.predict(&m.id, m.file.as_deref(), m.suite.as_deref());
        total += d;
        estimated += usize::from(est);
    }
    if estimated == members.len()
        && let Some(d) = history.file_time(key)
    {
        return (d, false);
    }
    (total, estimated > 0)
}

fn item_of(t: &MergedTest<'_>) -> Item {
    let scope = TestId::scope(t.case.classname.as_deref(), t.case.id_file(), t.suite);
    Item::test(t.id.0.clone())
        .with_file(t.case.id_file().map(str::to_owned))
        .with_suite(Some(scope.to_owned()))
}

fn spool_error(source: io::Error) -> InventoryError {
    InventoryError::Io {
        path: "the merge spool".into(),
        source,
    }
}

/// Checks an id from a list: not blank, no control characters.
fn check_id(id: &str) -> std::result::Result<(), &'static str> {
    if id.trim().is_empty() {
        Err("empty test id")
    } else if id.chars().any(char::is_control) {
        Err("control character in test id")
    } else {
        Ok(())
    }
}

fn parse_text_list(text: &str, source_name: &str) -> Result<Inventory> {
    let mut items = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let id = line.trim();
        if id.is_empty() || id.starts_with('#') {
            continue;
        }
        check_id(id).map_err(|m| InventoryError::Line {
            source_name: source_name.to_owned(),
            line: n + 1,
            message: m.to_owned(),
        })?;
        items.push(
            Item::test(id).with_file(derive_file(id, None, None).filter(|f| looks_like_path(f))),
        );
    }
    Ok(Inventory::from_items(items))
}

fn json_error(e: &serde_json::Error, source_name: &str) -> InventoryError {
    InventoryError::Json {
        source_name: source_name.to_owned(),
        line: e.line(),
        column: e.column(),
        message: json_message(e),
    }
}

fn parse_json_list(text: &str, source_name: &str) -> Result<Inventory> {
    let list: JsonList = serde_json::from_str(text).map_err(|e| json_error(&e, source_name))?;
    Ok(Inventory::from_items(list.0))
}

fn parse_plan(text: &str, source_name: &str) -> Result<Inventory> {
    #[derive(serde::Deserialize)]
    struct Head {
        schema: Option<String>,
    }
    let head: Head = serde_json::from_str(text).map_err(|e| json_error(&e, source_name))?;
    match head.schema.as_deref() {
        Some(PLAN_SCHEMA) => {}
        other => {
            return Err(InventoryError::NotAList {
                source_name: source_name.to_owned(),
                found: match other {
                    Some(s) => format!(" (found schema `{s}`)"),
                    None => " (found an object)".to_owned(),
                },
            });
        }
    }
    let plan: Plan = serde_json::from_str(text).map_err(|e| json_error(&e, source_name))?;
    Ok(Inventory::from_items(
        plan.shards.into_iter().flat_map(|s| s.tests).map(|id| {
            let file = derive_file(&id, None, None).filter(|f| looks_like_path(f));
            Item::test(id).with_file(file)
        }),
    ))
}

/// A JSON list, each entry checked where it stands so that errors carry its position.
struct JsonList(Vec<Item>);

struct JsonEntry(Item);

impl<'de> serde::Deserialize<'de> for JsonList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = JsonList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of test ids")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<JsonList, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(JsonEntry(item)) = seq.next_element()? {
                    out.push(item);
                }
                Ok(JsonList(out))
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> serde::Deserialize<'de> for JsonEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = JsonEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a test id or an object {\"id\": ..., \"file\": ...}")
            }
            fn visit_str<E: Error>(self, id: &str) -> std::result::Result<JsonEntry, E> {
                check_id(id).map_err(E::custom)?;
                let id = id.trim();
                Ok(JsonEntry(Item::test(id).with_file(
                    derive_file(id, None, None).filter(|f| looks_like_path(f)),
                )))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<JsonEntry, A::Error> {
                let mut id: Option<String> = None;
                let mut file: Option<String> = None;
                let mut suite: Option<String> = None;
                while let Some(key) = m.next_key::<String>()? {
                    let slot = match key.as_str() {
                        "id" => &mut id,
                        "file" => &mut file,
                        "suite" => &mut suite,
                        other => {
                            return Err(A::Error::custom(format!(
                                "unknown key `{other}` (expected id, file, suite)"
                            )));
                        }
                    };
                    if slot.is_some() {
                        return Err(A::Error::custom(format!("key `{key}` given twice")));
                    }
                    *slot = m.next_value::<Option<String>>()?;
                }
                let Some(id) = id else {
                    return Err(A::Error::custom("an entry without `id`"));
                };
                check_id(&id).map_err(A::Error::custom)?;
                let id = id.trim().to_owned();
                let file = file
                    .filter(|f| !f.trim().is_empty())
                    .or_else(|| derive_file(&id, None, None).filter(|f| looks_like_path(f)));
                Ok(JsonEntry(Item::test(id).with_file(file).with_suite(suite)))
            }
        }
        d.deserialize_any(V)
    }
}
