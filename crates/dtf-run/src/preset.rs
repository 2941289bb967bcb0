//! How each framework is told to run exactly some tests and where its JUnit goes.
//!
//! The engine hands a [`Framework`] the dtf ids of one invocation's tests (in plan
//! order) and a fresh work folder; the preset answers with an [`InvocationSpec`]: the
//! program, its arguments and environment, and the JUnit files to read afterwards.
//! Results are matched back to the plan by [`Framework::planned_id`], because some
//! frameworks name a test differently from the way dtf plans it (jest and vitest are
//! planned by file but report each test).
//!
//! | preset | command | JUnit |
//! |---|---|---|
//! | `cargo-nextest` | `cargo nextest run --no-fail-fast --profile dtf --tool-config-file dtf:<work>/nextest.toml --retries 0 --no-tests=warn -E 'binary_id(=B) & (test(=T) \| ...)'` | the `dtf` profile's `junit.path`, set in that tool config to `<work>/junit.xml` |
//! | `pytest` | `python -m pytest -p no:cacheprovider --junitxml=<work>/junit.xml -o junit_family=xunit2 ... NODEIDS` (past 50 tests: their files and `-p dtf_select`, a plugin dtf writes that keeps the planned node ids in order) | `<work>/junit.xml` |
//! | `go` | per package, `gotestsum --junitfile <work>/junit-N.xml -- -count=1 -run '^(A\|B)$' PKG`, else `go test -count=1 -v ...` piped through `go-junit-report` | `<work>/junit-*.xml` |
//! | `jest` | `npx --no-install jest --ci --reporters=default --reporters=jest-junit --runTestsByPath FILES` with `JEST_JUNIT_*` set | `<work>/junit.xml` |
//! | `vitest` | `npx --no-install vitest run --reporter=default --reporter=junit --outputFile.junit=<work>/junit.xml FILES` | `<work>/junit.xml` |
//! | template | `sh -c CMD`, placeholders expanded | `<work>/junit.xml` (`{junit}`) |
//!
//! Ids go back to what each framework accepts, as `dtf_plan::discover` names them:
//!
//! - nextest: `BINARY_ID::TEST_NAME`. Binary ids contain `::` too (`crate::tests`),
//!   so without a hint (the plan's suite, which is the binary id) both readings of
//!   an id (`crate` + `tests::x`, `crate::tests` + `x`) are selected; a test that
//!   exists under both is then run twice, under one dtf id.
//! - pytest: `dir.test_m.Class::test[p]` back to `dir/test_m.py::Class::test[p]`,
//!   from the plan's file when given, else by finding the module file under the
//!   project root, else taking trailing capitalised parts as classes.
//! - go: `IMPORT/PATH::TestName`; one `go test` per package, since `-run` applies
//!   to every package of a command line.
//! - jest and vitest: the test file; every test case a file reports maps back to it.
//!   vitest's file filters match substrings, so a filter can select a file whose
//!   path contains a planned one; such results map to ids that were not planned.
//!
//! Nothing here starts a process: building a spec only writes small files (a
//! nextest config, id lists) into the work folder, so every preset is tested without
//! its framework installed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One framework run, ready to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvocationSpec {
    pub program: String,
    pub args: Vec<String>,
    /// Added to dtf's own environment.
    pub env: Vec<(String, String)>,
    /// Where to run; dtf's own working folder when `None`.
    pub cwd: Option<PathBuf>,
    /// JUnit files to read after the process exits (globs allowed), relative to cwd.
    pub junit: Vec<PathBuf>,
}

impl InvocationSpec {
    /// The command as a shell would take it, for logs and error messages.
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What the engine knows about one invocation.
#[derive(Clone, Copy, Debug)]
pub struct InvocationCtx<'a> {
    /// dtf ids, in order.
    pub tests: &'a [String],
    /// A fresh folder for this invocation.
    pub work_dir: &'a Path,
    pub attempt: u32,
    pub slot: u32,
}

/// A way to run tests: a preset or a command template.
pub trait Framework: Send + Sync {
    fn name(&self) -> &str;

    fn invocation(&self, ctx: &InvocationCtx<'_>) -> Result<InvocationSpec, PresetError>;

    /// Map a JUnit test case id back to the planned id when the framework names tests
    /// differently (default: identity).
    fn planned_id(&self, junit_id: &str) -> String {
        junit_id.to_owned()
    }
}

/// Why an invocation cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("unknown preset `{name}` (known: {}; or a command template)", PRESETS.join(", "))]
    UnknownPreset { name: String },
    #[error("an invocation needs at least one test")]
    NoTests,
    #[error("{preset}: test id `{}` cannot be run: {reason}", id.escape_debug())]
    BadTestId {
        preset: &'static str,
        id: String,
        reason: String,
    },
    #[error("command template `{template}`: {message}")]
    BadTemplate { template: String, message: String },
    #[error("{preset}: {message}")]
    MissingTool {
        preset: &'static str,
        message: &'static str,
    },
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The preset names [`by_name`] knows.
pub const PRESETS: [&str; 5] = ["cargo-nextest", "pytest", "go", "jest", "vitest"];

/// What the plan knows about a test that helps to name it to its framework.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestHint {
    /// The test's file (pytest: the module path, `dir/test_m.py`).
    pub file: Option<String>,
    /// The test's suite (nextest: the binary id).
    pub suite: Option<String>,
}

/// Settings shared by every preset.
#[derive(Clone, Debug, Default)]
pub struct PresetOptions {
    /// The project root: where commands run, and where pytest module files are
    /// looked for. dtf's working folder when `None`.
    pub root: Option<PathBuf>,
    /// Appended to the preset's own arguments, before the test selection
    /// (`--workspace`, `-p crate`, `-tags integration`, `--config jest.ci.js`).
    pub args: Vec<String>,
    /// Added to every invocation's environment.
    pub env: Vec<(String, String)>,
    /// Tests run in parallel inside one invocation (nextest `--test-threads`,
    /// jest and vitest `--maxWorkers`); the framework's default when `None`.
    pub jobs: Option<u32>,
    /// The shard being run, for templates' `{shard}` and `DTF_SHARD` (the runner
    /// also exports `DTF_SHARD`).
    pub shard: Option<u32>,
    /// More JUnit files a template's command writes (globs, relative to `root`).
    pub junit: Vec<PathBuf>,
    /// Per dtf id, from the plan.
    pub hints: HashMap<String, TestHint>,
}

impl PresetOptions {
    /// Adds the plan's file and suite of each test as hints.
    pub fn with_plan_hints<'a>(
        mut self,
        tests: impl IntoIterator<Item = &'a dtf_plan::model::PlanTest>,
    ) -> PresetOptions {
        for t in tests {
            if t.file.is_some() || t.suite.is_some() {
                self.hints.insert(
                    t.id.clone(),
                    TestHint {
                        file: t.file.clone(),
                        suite: t.suite.clone(),
                    },
                );
            }
        }
        self
    }

    fn hint(&self, id: &str) -> Option<&TestHint> {
        self.hints.get(id)
    }

    fn root(&self) -> &Path {
        self.root.as_deref().unwrap_or(Path::new("."))
    }
}

/// A framework preset with default options.
pub fn by_name(name: &str) -> Result<Box<dyn Framework>, PresetError> {
    by_name_with(name, PresetOptions::default())
}

/// A framework preset: `cargo-nextest` (or `nextest`), `pytest`, `go` (or
/// `go-test`), `jest`, `vitest`.
pub fn by_name_with(name: &str, options: PresetOptions) -> Result<Box<dyn Framework>, PresetError> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "cargo-nextest" | "nextest" => Box::new(Nextest::new(options)),
        "pytest" => Box::new(Pytest::new(options)),
        "go" | "go-test" => Box::new(GoTest::new(options)),
        "jest" => Box::new(Jest::new(options)),
        "vitest" => Box::new(Vitest::new(options)),
        _ => {
            return Err(PresetError::UnknownPreset {
                name: name.to_owned(),
            });
        }
    })
}

/// A command template with default options; see [`Template`].
pub fn template(cmd: &str) -> Result<Box<dyn Framework>, PresetError> {
    template_with(cmd, PresetOptions::default())
}

/// A command template; see [`Template`].
pub fn template_with(cmd: &str, options: PresetOptions) -> Result<Box<dyn Framework>, PresetError> {
    Ok(Box::new(Template::new(cmd, options)?))
}

/// `s` as one shell word: bare when it holds only characters no shell treats
/// specially, else in single quotes (a `'` inside becomes `'\''`).
pub fn shell_quote(s: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("'{}'", s.replace('\'', r"'\''")))
    }
}

/// Checks shared by all presets: at least one test, no NUL (no argument can hold it).
fn check_tests(preset: &'static str, tests: &[String]) -> Result<(), PresetError> {
    if tests.is_empty() {
        return Err(PresetError::NoTests);
    }
    if let Some(id) = tests.iter().find(|t| t.contains('\0')) {
        return Err(bad(preset, id, "it contains a NUL character"));
    }
    Ok(())
}

fn bad(preset: &'static str, id: &str, reason: impl Into<String>) -> PresetError {
    PresetError::BadTestId {
        preset,
        id: id.to_owned(),
        reason: reason.into(),
    }
}

/// The work folder, created and made absolute (paths in it are handed to programs
/// that run elsewhere).
fn work_dir(ctx: &InvocationCtx<'_>) -> Result<PathBuf, PresetError> {
    let io_err = |source| PresetError::Io {
        path: ctx.work_dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(ctx.work_dir).map_err(io_err)?;
    std::path::absolute(ctx.work_dir).map_err(io_err)
}

fn write_file(path: &Path, text: &str) -> Result<(), PresetError> {
    std::fs::write(path, text).map_err(|source| PresetError::Io {
        path: path.to_owned(),
        source,
    })
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `DTF_*` variables every invocation gets, then the user's.
fn base_env(
    options: &PresetOptions,
    ctx: &InvocationCtx<'_>,
    work: &Path,
    junit: &Path,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("DTF_WORK_DIR".to_owned(), path_str(work)),
        ("DTF_JUNIT".to_owned(), path_str(junit)),
        ("DTF_ATTEMPT".to_owned(), ctx.attempt.to_string()),
        ("DTF_SLOT".to_owned(), ctx.slot.to_string()),
    ];
    if let Some(shard) = options.shard {
        env.push(("DTF_SHARD".to_owned(), shard.to_string()));
    }
    env.extend(options.env.iter().cloned());
    env
}

/// Ids as a framework reported them, mapped to the ids dtf planned, for the presets
/// whose planned form cannot be computed from the reported one alone. Filled while
/// building invocations.
#[derive(Default)]
struct Aliases(Mutex<HashMap<String, Option<String>>>);

impl Aliases {
    /// Records `reported` → `planned`; a reported id claimed by two planned ids maps
    /// to neither.
    fn insert(&self, reported: String, planned: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&reported) {
            Some(Some(p)) if p != planned => {
                map.insert(reported, None);
            }
            Some(_) => {}
            None => {
                map.insert(reported, Some(planned.to_owned()));
            }
        }
    }

    fn get(&self, reported: &str) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(reported).cloned().flatten()
    }

    /// The planned id that `file` names: itself, or the one planned file that ends
    /// with it (or that it ends with) at a `/`.
    fn file(&self, file: &str) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = map.get(file) {
            return p.clone();
        }
        let mut found = map.keys().filter(|planned| {
            planned.ends_with(&format!("/{file}")) || file.ends_with(&format!("/{planned}"))
        });
        match (found.next(), found.next()) {
            (Some(one), None) => map.get(one).cloned().flatten(),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------
// cargo-nextest

/// The nextest profile dtf defines in its tool config.
pub const NEXTEST_PROFILE: &str = "dtf";

/// Longest `-E` argument: Linux refuses any single argument over 128 KiB, so large
/// selections are split into several filtersets, which nextest unions.
const FILTERSET_CHUNK: usize = 16 * 1024;

/// `cargo nextest run` over the exact tests, with a tool config (lowest priority
/// after the repository's own `.config/nextest.toml`) that writes JUnit into the
/// work folder and turns off fail-fast; dtf does the retries, so `--retries 0`.
pub struct Nextest {
    options: PresetOptions,
    /// The project's test binaries, listed once: nextest refuses a filterset that
    /// names a binary id that does not exist, and a dtf id such as `a::b::c` can be
    /// read as binary `a` or binary `a::b`. `None` when listing failed.
    binaries: std::sync::OnceLock<Option<Vec<String>>>,
}

impl Nextest {
    pub fn new(options: PresetOptions) -> Nextest {
        Nextest {
            options,
            binaries: std::sync::OnceLock::new(),
        }
    }

    /// `cargo nextest list --list-type binaries-only` (builds the tests if needed).
    fn binaries(&self) -> Option<&[String]> {
        self.binaries
            .get_or_init(|| {
                // Only for a project the caller named (the CLI always does).
                let root = self.options.root.as_ref()?;
                let list = |extra: &[String]| {
                    let mut cmd = std::process::Command::new("cargo");
                    cmd.args(["nextest", "list", "--list-type", "binaries-only"]);
                    cmd.args(["--message-format", "json"]);
                    cmd.args(extra);
                    cmd.current_dir(root);
                    cmd.envs(self.options.env.iter().map(|(k, v)| (k, v)));
                    cmd.stderr(std::process::Stdio::null()).output().ok()
                };
                // The user's arguments select packages and features (`--workspace`,
                // `-p`), but some only `run` takes (`--no-capture`): list without
                // them when `list` refuses them.
                let out = list(&self.options.args)
                    .filter(|o| o.status.success())
                    .or_else(|| list(&[]).filter(|o| o.status.success()))?;
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
                let mut ids: Vec<String> =
                    v["rust-binaries"].as_object()?.keys().cloned().collect();
                ids.sort();
                Some(ids)
            })
            .as_deref()
    }

    /// The `(binary id, test name)` readings of a dtf id.
    fn readings<'a>(&self, id: &'a str) -> Result<Vec<(&'a str, &'a str)>, PresetError> {
        if let Some(suite) = self.options.hint(id).and_then(|h| h.suite.as_deref())
            && let Some(name) = id
                .strip_prefix(suite)
                .and_then(|r| r.strip_prefix("::"))
                .filter(|n| !n.is_empty())
        {
            return Ok(vec![(&id[..suite.len()], name)]);
        }
        let Some((krate, rest)) = id
            .split_once("::")
            .filter(|(k, r)| !k.is_empty() && !r.is_empty())
        else {
            return Err(bad("cargo-nextest", id, "expected BINARY_ID::TEST_NAME"));
        };
        let mut out = vec![(krate, rest)];
        if let Some((target, name)) = rest.split_once("::")
            && !target.is_empty()
            && !name.is_empty()
        {
            out.push((&id[..krate.len() + 2 + target.len()], name));
        }
        // Keep the readings whose binary exists, when the binaries are known.
        if let Some(known) = self.binaries() {
            let existing: Vec<(&str, &str)> = out
                .iter()
                .copied()
                .filter(|(b, _)| known.binary_search_by(|k| k.as_str().cmp(b)).is_ok())
                .collect();
            if !existing.is_empty() {
                out = existing;
            }
        }
        Ok(out)
    }

    /// The filtersets selecting `tests`, grouped by binary, each under
    /// [`FILTERSET_CHUNK`] bytes when possible.
    pub fn filtersets(&self, tests: &[String]) -> Result<Vec<String>, PresetError> {
        let mut order: Vec<&str> = Vec::new();
        let mut by_binary: HashMap<&str, Vec<&str>> = HashMap::new();
        for id in tests {
            for (binary, name) in self.readings(id)? {
                let names = by_binary.entry(binary).or_insert_with(|| {
                    order.push(binary);
                    Vec::new()
                });
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        let mut sets = Vec::new();
        let mut current = String::new();
        // One anchored regular expression per binary, not one `test(=…)` term per
        // test: nextest evaluates a union of thousands of terms against every test,
        // which cost a 2,000-test shard a quarter of a second.
        for binary in order {
            let head = format!("binary_id(={}) & test(/^(?:", filterset_escape(binary));
            let mut group = String::new();
            for name in &by_binary[binary] {
                let term = regex::escape(name).replace('/', "\\/");
                let projected = current.len() + head.len() + group.len() + term.len() + 8;
                if !group.is_empty() && projected > FILTERSET_CHUNK {
                    close_group(&mut current, &head, &group);
                    sets.push(std::mem::take(&mut current));
                    group.clear();
                }
                if !group.is_empty() {
                    group.push('|');
                }
                group.push_str(&term);
            }
            if current.len() + head.len() + group.len() > FILTERSET_CHUNK && !current.is_empty() {
                sets.push(std::mem::take(&mut current));
            }
            close_group(&mut current, &head, &group);
        }
        if !current.is_empty() {
            sets.push(current);
        }
        Ok(sets)
    }
}

fn close_group(out: &mut String, head: &str, group: &str) {
    if !out.is_empty() {
        out.push_str(" | ");
    }
    out.push('(');
    out.push_str(head);
    out.push_str(group);
    out.push_str(")$/))");
}

/// A name for nextest's `=` matcher, with its escapes: `\`, `)`, `,` and control
/// characters (the characters that would end or break the matcher).
pub fn filterset_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            ')' => out.push_str(r"\)"),
            ',' => out.push_str(r"\,"),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Framework for Nextest {
    fn name(&self) -> &str {
        "cargo-nextest"
    }

    fn invocation(&self, ctx: &InvocationCtx<'_>) -> Result<InvocationSpec, PresetError> {
        check_tests("cargo-nextest", ctx.tests)?;
        let filtersets = self.filtersets(ctx.tests)?;
        let work = work_dir(ctx)?;
        let junit = work.join("junit.xml");
        let config = work.join("nextest.toml");
        write_file(
            &config,
            &format!(
                "# Written by dtf for one invocation: JUnit into its work folder; dtf retries.\n\
                 [profile.{NEXTEST_PROFILE}]\nfail-fast = false\nretries = 0\n\n\
                 [profile.{NEXTEST_PROFILE}.junit]\npath = {}\n\
                 store-success-output = false\nstore-failure-output = true\n",
                toml_string(&path_str(&junit))
            ),
        )?;
        let mut args: Vec<String> = [
            "nextest",
            "run",
            "--no-fail-fast",
            "--profile",
            NEXTEST_PROFILE,
            "--tool-config-file",
        ]
        .map(str::to_owned)
        .into();
        args.push(format!("dtf:{}", path_str(&config)));
        args.extend(["--retries", "0", "--no-tests=warn"].map(str::to_owned));
        if let Some(jobs) = self.options.jobs {
            args.extend(["--test-threads".to_owned(), jobs.max(1).to_string()]);
        }
        args.extend(self.options.args.iter().cloned());
        for set in filtersets {
            args.push("-E".to_owned());
            args.push(set);
        }
        Ok(InvocationSpec {
            program: "cargo".to_owned(),
            args,
            env: base_env(&self.options, ctx, &work, &junit),
            cwd: self.options.root.clone(),
            junit: vec![junit],
        })
    }
}

// ---------------------------------------------------------------------------------
// pytest

/// Past this many node ids pytest is given their files and a small plugin that keeps
/// the planned items: resolving thousands of node ids one by one costs pytest more
/// (0.4 s for 2,000) than collecting the files whole.
pub const PYTEST_SELECT_FROM: usize = 50;

/// The plugin behind [`PYTEST_SELECT_FROM`]: keeps the collected items whose node id
/// is in `DTF_PYTEST_SELECT`, in that file's order, and deselects the rest the way
/// `-k` does. A node id is also tried relative to the working folder, for projects
/// whose rootdir is not where dtf runs pytest.
const PYTEST_SELECT_PLUGIN: &str = r#"# Written by dtf: keeps the tests this shard planned.
import os

_wanted = None


def _load():
    global _wanted
    if _wanted is None:
        with open(os.environ["DTF_PYTEST_SELECT"], encoding="utf-8") as f:
            ids = [line.rstrip("\n") for line in f]
        _wanted = {nodeid: i for i, nodeid in enumerate(ids) if nodeid}
    return _wanted


def _position(item, wanted):
    if item.nodeid in wanted:
        return wanted[item.nodeid]
    path = getattr(item, "path", None)
    if path is not None:
        rest = item.nodeid.split("::", 1)
        if len(rest) == 2:
            local = os.path.relpath(str(path), os.getcwd()).replace(os.sep, "/") + "::" + rest[1]
            return wanted.get(local)
    return None


def pytest_collection_modifyitems(session, config, items):
    wanted = _load()
    keep, drop = [], []
    for item in items:
        at = _position(item, wanted)
        (drop if at is None else keep).append((at, item))
    if not keep and wanted:
        # Nothing matched: run what was collected rather than nothing; dtf keeps the
        # planned tests' results and notes the others.
        return
    keep.sort(key=lambda pair: pair[0])
    if drop:
        config.hook.pytest_deselected(items=[item for _, item in drop])
    items[:] = [item for _, item in keep]
"#;

/// `python -m pytest` over node ids, JUnit in the xunit2 family with captured output
/// of failing tests.
pub struct Pytest {
    options: PresetOptions,
    python: String,
    /// Reported id → planned id, for tests planned by node id.
    aliases: Aliases,
}

impl Pytest {
    /// `python` when it is on PATH, else `python3` (as discovery does).
    pub fn new(options: PresetOptions) -> Pytest {
        let python = if on_path("python") {
            "python"
        } else {
            "python3"
        };
        Pytest::with_python(options, python)
    }

    pub fn with_python(options: PresetOptions, python: &str) -> Pytest {
        Pytest {
            options,
            python: python.to_owned(),
            aliases: Aliases::default(),
        }
    }

    /// The node id of a dtf id (`dir.test_m.Class::test[p]` →
    /// `dir/test_m.py::Class::test[p]`); node ids pass through.
    pub fn nodeid(&self, id: &str) -> Result<String, PresetError> {
        if dtf_plan::discover::looks_like_pytest_nodeid(id) {
            return Ok(id.to_owned());
        }
        let Some((classname, name)) = id
            .split_once("::")
            .filter(|(c, n)| !c.is_empty() && !n.is_empty())
        else {
            return Err(bad(
                "pytest",
                id,
                "expected module.Class::test or a node id",
            ));
        };
        if let Some(file) = self.options.hint(id).and_then(|h| h.file.as_deref())
            && let Some(module) = file.strip_suffix(".py")
        {
            let dotted = module.replace(['/', '\\'], ".");
            let classes = if classname == dotted {
                Some("")
            } else {
                classname
                    .strip_prefix(dotted.as_str())
                    .and_then(|r| r.strip_prefix('.'))
            };
            if let Some(classes) = classes {
                return Ok(join_nodeid(file, classes, name));
            }
        }
        let parts: Vec<&str> = classname.split('.').collect();
        let root = self.options.root();
        for k in (1..=parts.len()).rev() {
            let file = format!("{}.py", parts[..k].join("/"));
            if root.join(&file).is_file() {
                return Ok(join_nodeid(&file, &parts[k..].join("."), name));
            }
        }
        // Not found on disk (another root, a generated module): pytest's default
        // `python_classes` is `Test*`, so trailing capitalised parts are classes.
        let classes = parts
            .iter()
            .rev()
            .take_while(|p| p.starts_with(|c: char| c.is_uppercase()))
            .count();
        let module = &parts[..parts.len() - classes];
        if module.is_empty() {
            return Err(bad("pytest", id, "no module part before the class"));
        }
        Ok(join_nodeid(
            &format!("{}.py", module.join("/")),
            &parts[module.len()..].join("."),
            name,
        ))
    }
}

fn join_nodeid(file: &str, classes: &str, name: &str) -> String {
    let mut out = file.to_owned();
    for class in classes.split('.').filter(|c| !c.is_empty()) {
        out.push_str("::");
        out.push_str(class);
    }
    out.push_str("::");
    out.push_str(name);
    out
}

impl Framework for Pytest {
    fn name(&self) -> &str {
        "pytest"
    }

    fn invocation(&self, ctx: &InvocationCtx<'_>) -> Result<InvocationSpec, PresetError> {
        check_tests("pytest", ctx.tests)?;
        let mut nodeids = Vec::with_capacity(ctx.tests.len());
        for id in ctx.tests {
            let nodeid = self.nodeid(id)?;
            if nodeid.starts_with(['-', '@']) {
                return Err(bad("pytest", id, "a node id cannot start with `-` or `@`"));
            }
            if nodeid.contains(['\n', '\r']) {
                return Err(bad("pytest", id, "it contains a line break"));
            }
            if nodeid == *id {
                self.aliases
                    .insert(dtf_plan::discover::pytest_nodeid_to_id(id), id);
            }
            nodeids.push(nodeid);
        }
        let work = work_dir(ctx)?;
        let junit = work.join("junit.xml");
        let mut args: Vec<String> = vec![
            "-m".into(),
            "pytest".into(),
            "-p".into(),
            "no:cacheprovider".into(),
            format!("--junitxml={}", path_str(&junit)),
        ];
        for ini in [
            "junit_family=xunit2",
            "junit_logging=out-err",
            "junit_log_passing_tests=false",
        ] {
            args.extend(["-o".to_owned(), ini.to_owned()]);
        }
        args.extend(self.options.args.iter().cloned());
        let mut env = base_env(&self.options, ctx, &work, &junit);
        if nodeids.len() > PYTEST_SELECT_FROM {
            write_file(&work.join("dtf_select.py"), PYTEST_SELECT_PLUGIN)?;
            let list = work.join("dtf-selected.txt");
            let mut text = nodeids.join("\n");
            text.push('\n');
            write_file(&list, &text)?;
            let mut files: Vec<&str> = Vec::new();
            for n in &nodeids {
                let file = n.split("::").next().unwrap_or(n);
                if !files.contains(&file) {
                    files.push(file);
                }
            }
            args.extend(["-p".to_owned(), "dtf_select".to_owned()]);
            args.extend(files.iter().map(|f| (*f).to_owned()));
            let mut path = path_str(&work);
            if let Some(old) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
                path.push(':');
                path.push_str(&old.to_string_lossy());
            }
            env.push(("PYTHONPATH".to_owned(), path));
            env.push(("DTF_PYTEST_SELECT".to_owned(), path_str(&list)));
        } else {
            args.extend(nodeids);
        }
        Ok(InvocationSpec {
            program: self.python.clone(),
            args,
            env,
            cwd: self.options.root.clone(),
            junit: vec![junit],
        })
    }

    fn planned_id(&self, junit_id: &str) -> String {
        self.aliases
            .get(junit_id)
            .unwrap_or_else(|| junit_id.to_owned())
    }
}

// ---------------------------------------------------------------------------------
// go

/// The program that turns `go test` into JUnit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoJunitTool {
    /// `gotestsum --junitfile` (gotest.tools/gotestsum).
    Gotestsum,
    /// `go test -v` output through `go-junit-report` (github.com/jstemmer/go-junit-report).
    GoJunitReport,
}

/// `go test` per package. `go test` writes no JUnit itself: gotestsum is used when
/// it is on PATH, else go-junit-report; with neither the invocation is refused.
/// `-count=1` turns off the test cache, whose replayed results carry no real
/// timing.
pub struct GoTest {
    options: PresetOptions,
    tool: Option<GoJunitTool>,
    aliases: Aliases,
}

impl GoTest {
    /// Finds the JUnit tool on PATH when an invocation is built.
    pub fn new(options: PresetOptions) -> GoTest {
        GoTest {
            options,
            tool: None,
            aliases: Aliases::default(),
        }
    }

    pub fn with_tool(options: PresetOptions, tool: GoJunitTool) -> GoTest {
        GoTest {
            tool: Some(tool),
            ..GoTest::new(options)
        }
    }

    fn tool(&self) -> Result<GoJunitTool, PresetError> {
        if let Some(t) = self.tool {
            return Ok(t);
        }
        if on_path("gotestsum") {
            Ok(GoJunitTool::Gotestsum)
        } else if on_path("go-junit-report") {
            Ok(GoJunitTool::GoJunitReport)
        } else {
            Err(PresetError::MissingTool {
                preset: "go",
                message: "go test writes no JUnit: install gotestsum (go install gotest.tools/gotestsum@latest) \
                          or go-junit-report (go install github.com/jstemmer/go-junit-report/v2@latest)",
            })
        }
    }

    /// Tests by package, in the order packages first appear.
    fn packages<'a>(
        &self,
        tests: &'a [String],
    ) -> Result<Vec<(&'a str, Vec<&'a str>)>, PresetError> {
        let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
        for id in tests {
            let Some((pkg, name)) = id
                .split_once("::")
                .filter(|(p, n)| !p.is_empty() && !n.is_empty())
            else {
                return Err(bad("go", id, "expected IMPORT/PATH::TestName"));
            };
            if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(bad("go", id, "a Go test name is an identifier"));
            }
            if pkg.starts_with('-') || pkg.contains(['\n', '\r']) {
                return Err(bad("go", id, "not a package path"));
            }
            match out.iter_mut().find(|(p, _)| *p == pkg) {
                Some((_, names)) => names.push(name),
                None => out.push((pkg, vec![name])),
            }
        }
        Ok(out)
    }
}

impl Framework for GoTest {
    fn name(&self) -> &str {
        "go"
    }

    fn invocation(&self, ctx: &InvocationCtx<'_>) -> Result<InvocationSpec, PresetError> {
        check_tests("go", ctx.tests)?;
        let packages = self.packages(ctx.tests)?;
        let tool = self.tool()?;
        let work = work_dir(ctx)?;
        let extra: String = self
            .options
            .args
            .iter()
            .map(|a| format!(" {}", shell_quote(a)))
            .collect();
        let mut script = String::from("rc=0\n");
        for (n, (pkg, names)) in packages.iter().enumerate() {
            let n = n + 1;
            let run = format!(
                "^({})$",
                names
                    .iter()
                    .map(|t| regex::escape(t))
                    .collect::<Vec<_>>()
                    .join("|")
            );
            let junit = shell_quote(&path_str(&work.join(format!("junit-{n}.xml")))).into_owned();
            let qpkg = shell_quote(pkg);
            let run = shell_quote(&run);
            match tool {
                GoJunitTool::Gotestsum => {
                    let _ = writeln!(
                        script,
                        "gotestsum --junitfile {junit} --format standard-verbose -- -count=1 -run {run}{extra} {qpkg} || rc=$?"
                    );
                }
                GoJunitTool::GoJunitReport => {
                    let out =
                        shell_quote(&path_str(&work.join(format!("go-{n}.out")))).into_owned();
                    let code =
                        shell_quote(&path_str(&work.join(format!("go-{n}.rc")))).into_owned();
                    // `go test`'s exit status survives the pipe through a file: POSIX
                    // sh has no pipefail.
                    let _ = writeln!(
                        script,
                        "{{ go test -count=1 -v -run {run}{extra} {qpkg} 2>&1; echo $? > {code}; }} | tee {out}\n\
                         go-junit-report < {out} > {junit} || rc=$?\n\
                         r=$(cat {code} 2>/dev/null || echo 1); [ \"$r\" = 0 ] || rc=$r"
                    );
                }
            }
            for name in names {
                // go-junit-report before v2 names the class by the package's last
                // path component.
                if let Some((_, last)) = pkg.rsplit_once('/') {
                    self.aliases
                        .insert(format!("{last}::{name}"), &format!("{pkg}::{name}"));
                }
            }
        }
        script.push_str("exit $rc\n");
        let junit = work.join("junit-*.xml");
        Ok(InvocationSpec {
            program: "sh".to_owned(),
            args: vec!["-c".to_owned(), script],
            env: base_env(&self.options, ctx, &work, &work),
            cwd: self.options.root.clone(),
            junit: vec![junit],
        })
    }

    fn planned_id(&self, junit_id: &str) -> String {
        self.aliases
            .get(junit_id)
            .unwrap_or_else(|| junit_id.to_owned())
    }
}

// ---------------------------------------------------------------------------------
// jest and vitest

/// Files as arguments: a leading `-` would read as an option.
fn file_args(preset: &'static str, tests: &[String]) -> Result<Vec<String>, PresetError> {
    tests
        .iter()
        .map(|f| {
            if f.trim().is_empty() {
                Err(bad(preset, f, "an empty file name"))
            } else if f.starts_with('-') {
                Ok(format!("./{f}"))
            } else {
                Ok(f.clone())
            }
        })
        .collect()
}

/// The planned file a JUnit id of jest-junit or vitest names: its classname (the
/// file, as both are configured here), or for a file that failed to load, which
/// jest-junit reports as `Test suite failed to run::FILE`, its name.
fn file_of(aliases: &Aliases, junit_id: &str) -> String {
    let file = match junit_id.split_once("::") {
        Some(("Test suite failed to run", name)) => name,
        Some((classname, _)) => classname,
        None => junit_id,
    };
    let file = file.trim().trim_start_matches("./").replace('\\', "/");
    aliases.file(&file).unwrap_or(file)
}

fn remember_files(aliases: &Aliases, tests: &[String]) {
    for t in tests {
        let normal = t.trim_start_matches("./").replace('\\', "/");
        aliases.insert(normal, t);
    }
}

/// `npx --no-install jest` on exact paths, with jest-junit (which must be installed)
/// writing each test case with its file as classname.
pub struct Jest {
    options: PresetOptions,
    aliases: Aliases,
}

impl Jest {
    pub fn new(options: PresetOptions) -> Jest {
        Jest {
            options,
            aliases: Aliases::default(),
        }
    }
}

impl Framework for Jest {
    fn name(&self) -> &str {
        "jest"
    }

    fn invocation(&self, ctx: &InvocationCtx<'_>) -> Result<InvocationSpec, PresetError> {
        check_tests("jest", ctx.tests)?;
        let files = file_args("jest", ctx.tests)?;
        remember_files(&self.aliases, ctx.tests);
        let work = work_dir(ctx)?;
        let junit = work.join("junit.xml");
        let mut args: Vec<String> = [
            "--no-install",
            "jest",
            "--ci",
            "--reporters=default",
            "--reporters=jest-junit",
        ]
        .map(str::to_owned)
        .into();
        if let Some(jobs) = self.options.jobs {
            args.push(format!("--maxWorkers={}", jobs.max(1)));
        }
        args.extend(self.options.args.iter().cloned());
        args.push("--runTestsByPath".to_owned());
        args.extend(files);
        let mut env = base_env(&self.options, ctx, &work, &junit);
        for (k, v) in [
            ("JEST_JUNIT_OUTPUT_FILE", path_str(&junit)),
            ("JEST_JUNIT_CLASSNAME", "{filepath}".to_owned()),
            ("JEST_JUNIT_TITLE", "{classname} {title}".to_owned()),
            ("JEST_JUNIT_ADD_FILE_ATTRIBUTE", "true".to_owned()),
            ("JEST_JUNIT_REPORT_TEST_SUITE_ERRORS", "true".to_owned()),
        ] {
            env.insert(0, (k.to_owned(), v));
        }
        Ok(InvocationSpec {
            program: "npx".to_owned(),
            args,
            env,
            cwd: self.options.root.clone(),
            junit: vec![junit],
        })
    }

    fn planned_id(&self, junit_id: &str) -> String {
        file_of(&self.aliases, junit_id)
    }
}

/// `npx --no-install vitest run` filtered to the files, with the built-in JUnit
/// reporter (classname: the file relative to the root).
pub struct Vitest {
    options: PresetOptions,
    aliases: Aliases,
}

impl Vitest {
    pub fn new(options: PresetOptions) -> Vitest {
        Vitest {
            options,
            aliases: Aliases::default(),
        }
    }
}

impl Framework for Vitest {
    fn name(&self) -> &str {
        "vitest"
    }

    fn invocation(&self, ctx: &InvocationCtx<'_>) -> Result<InvocationSpec, PresetError> {
        check_tests("vitest", ctx.tests)?;
        let files = file_args("vitest", ctx.tests)?;
        remember_files(&self.aliases, ctx.tests);
        let work = work_dir(ctx)?;
        let junit = work.join("junit.xml");
        let mut args: Vec<String> = vec![
            "--no-install".into(),
            "vitest".into(),
            "run".into(),
            "--reporter=default".into(),
            "--reporter=junit".into(),
            format!("--outputFile.junit={}", path_str(&junit)),
        ];
        if let Some(jobs) = self.options.jobs {
            args.push(format!("--maxWorkers={}", jobs.max(1)));
        }
        args.extend(self.options.args.iter().cloned());
        args.extend(files);
        Ok(InvocationSpec {
            program: "npx".to_owned(),
            args,
            env: base_env(&self.options, ctx, &work, &junit),
            cwd: self.options.root.clone(),
            junit: vec![junit],
        })
    }

    fn planned_id(&self, junit_id: &str) -> String {
        file_of(&self.aliases, junit_id)
    }
}

// ---------------------------------------------------------------------------------
// command templates

/// A placeholder of a command template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placeholder {
    /// The ids, shell-quoted, separated by spaces.
    Tests,
    /// A file in the work folder with one id per line.
    TestsFile,
    /// Where the JUnit must be written: `<work>/junit.xml`.
    Junit,
    WorkDir,
    Shard,
    Slot,
    Attempt,
}

impl Placeholder {
    const ALL: [(&'static str, Placeholder); 7] = [
        ("tests", Placeholder::Tests),
        ("tests_file", Placeholder::TestsFile),
        ("junit", Placeholder::Junit),
        ("work_dir", Placeholder::WorkDir),
        ("shard", Placeholder::Shard),
        ("slot", Placeholder::Slot),
        ("attempt", Placeholder::Attempt),
    ];
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Hole(Placeholder),
}

/// A command run through `sh -c`, with placeholders expanded into shell words that
/// are already quoted (write `--out {junit}`, not `--out '{junit}'`):
///
/// - `{tests}`: the ids, space-separated;
/// - `{tests_file}`: a file in the work folder with one id per line;
/// - `{junit}`: where the JUnit must be written (`<work>/junit.xml`);
/// - `{work_dir}`, `{shard}`, `{slot}`, `{attempt}` (`{shard}` is `"${DTF_SHARD}"`
///   when the options do not say, which dtf's runner exports).
///
/// `{{` and `}}` are literal braces; a `{` right after `$` is the shell's
/// (`${HOME}`). An unknown `{name}` is an error, so a typo fails at once. The same
/// values are in the environment: `DTF_TESTS_FILE`, `DTF_JUNIT`, `DTF_WORK_DIR`,
/// `DTF_SHARD`, `DTF_SLOT`, `DTF_ATTEMPT`. Ids with line breaks are refused (they
/// cannot be one per line).
pub struct Template {
    source: String,
    parts: Vec<Part>,
    options: PresetOptions,
}

impl Template {
    pub fn new(cmd: &str, options: PresetOptions) -> Result<Template, PresetError> {
        let err = |message: String| PresetError::BadTemplate {
            template: cmd.to_owned(),
            message,
        };
        if cmd.trim().is_empty() {
            return Err(err("the command is empty".into()));
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = cmd;
        while let Some(c) = rest.chars().next() {
            if rest.starts_with("{{") || rest.starts_with("}}") {
                text.push(c);
                rest = &rest[2..];
                continue;
            }
            if c == '{' && !text.ends_with('$') {
                let end = rest.find('}');
                let name = end.map(|e| &rest[1..e]);
                if let Some(name) = name.filter(|n| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) {
                    let Some((_, hole)) = Placeholder::ALL.iter().find(|(n, _)| *n == name) else {
                        let known: Vec<String> = Placeholder::ALL
                            .iter()
                            .map(|(n, _)| format!("{{{n}}}"))
                            .collect();
                        return Err(err(format!(
                            "unknown placeholder {{{name}}} (known: {}; write {{{{ for a literal brace)",
                            known.join(", ")
                        )));
                    };
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Hole(*hole));
                    rest = &rest[name.len() + 2..];
                    continue;
                }
            }
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template {
            source: cmd.to_owned(),
            parts,
            options,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

impl Framework for Template {
    fn name(&self) -> &str {
        "template"
    }

    fn invocation(&self, ctx: &InvocationCtx<'_>) -> Result<InvocationSpec, PresetError> {
        check_tests("template", ctx.tests)?;
        if let Some(id) = ctx.tests.iter().find(|t| t.contains(['\n', '\r'])) {
            return Err(bad("template", id, "it contains a line break"));
        }
        let work = work_dir(ctx)?;
        let junit = work.join("junit.xml");
        let tests_file = work.join("tests.txt");
        let mut list = ctx.tests.join("\n");
        list.push('\n');
        write_file(&tests_file, &list)?;
        let mut cmd = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => cmd.push_str(t),
                Part::Hole(h) => {
                    let value: Cow<'_, str> = match h {
                        Placeholder::Tests => Cow::Owned(
                            ctx.tests
                                .iter()
                                .map(|t| shell_quote(t))
                                .collect::<Vec<_>>()
                                .join(" "),
                        ),
                        Placeholder::TestsFile => {
                            Cow::Owned(shell_quote(&path_str(&tests_file)).into_owned())
                        }
                        Placeholder::Junit => {
                            Cow::Owned(shell_quote(&path_str(&junit)).into_owned())
                        }
                        Placeholder::WorkDir => {
                            Cow::Owned(shell_quote(&path_str(&work)).into_owned())
                        }
                        // The runner exports DTF_SHARD to every invocation.
                        Placeholder::Shard => match self.options.shard {
                            Some(s) => Cow::Owned(s.to_string()),
                            None => Cow::Borrowed("\"${DTF_SHARD}\""),
                        },
                        Placeholder::Slot => Cow::Owned(ctx.slot.to_string()),
                        Placeholder::Attempt => Cow::Owned(ctx.attempt.to_string()),
                    };
                    cmd.push_str(&value);
                }
            }
        }
        let mut env = base_env(&self.options, ctx, &work, &junit);
        env.insert(0, ("DTF_TESTS_FILE".to_owned(), path_str(&tests_file)));
        let mut junits = vec![junit];
        junits.extend(self.options.junit.iter().cloned());
        Ok(InvocationSpec {
            program: "sh".to_owned(),
            args: vec!["-c".to_owned(), cmd],
            env,
            cwd: self.options.root.clone(),
            junit: junits,
        })
    }
}

/// Whether `program` is an executable file in a PATH folder.
fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(program);
        is_executable(&candidate)
    })
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file() || p.with_extension("exe").is_file()
}
