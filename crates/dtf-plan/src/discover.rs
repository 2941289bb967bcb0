//! Discovery: ask the test framework which tests exist, and name them with the ids
//! dtf will read back from that framework's JUnit, so that history, plan and results
//! all speak of the same tests.
//!
//! | preset | command (in the project root) | id of a test | unit |
//! |---|---|---|---|
//! | `cargo-nextest` | `cargo nextest list --message-format json` | `BINARY_ID::TEST_NAME` (nextest's JUnit: classname = binary id, name = test name) | test |
//! | `pytest` | `python -m pytest --collect-only -q` (`python3` when there is no `python`) | node id `dir/test_m.py::Class::test[p]` → `dir.test_m.Class::test[p]` (pytest's JUnit: the path's `/` as `.`, `.py` dropped, classes joined by `.`, parameters kept in the name) | test |
//! | `go` | `go test -list . ./...` | `IMPORT/PATH::TestName` (go-junit-report: classname = package import path); tests, examples and fuzz targets, not benchmarks | test |
//! | `jest` | `npx --no-install jest --listTests --json` | the test file, relative to the root, `/`-separated | file |
//! | `vitest` | `npx --no-install vitest list --filesOnly --json` | the test file, relative to the root | file |
//! | `js-files` | none: finds `*.test.*` / `*.spec.*` (`js`, `ts`, `jsx`, `tsx`, `mjs`, `cjs`, `mts`, `cts`) and files under `__tests__`, outside `node_modules` and hidden folders | the file, relative to the root | file |
//! | `--discover-cmd CMD` | `sh -c CMD` | each line of its output (or JSON), as a test list ([`Inventory::parse_list`]) | test |
//!
//! Extra arguments are appended to the preset's command (`--workspace`, `-p crate`,
//! a test path). Commands run without a shell (except the generic one), with their
//! output captured; a failure is an error that names the command, its exit code and
//! the last lines it wrote to stderr. Every parser is a pure function over captured
//! output, so it is tested without the framework installed.
//!
//! Not covered: pytest's `--junit-prefix` (it prefixes every classname), jest-junit
//! templates that rename classnames (plan jest by file, as the preset does).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

use crate::inventory::{Inventory, InventoryError, Item, Unit, normalize_file};

/// A discovery preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Preset {
    CargoNextest,
    Pytest,
    Go,
    Jest,
    Vitest,
    JsFiles,
}

impl Preset {
    pub const ALL: [Preset; 6] = [
        Preset::CargoNextest,
        Preset::Pytest,
        Preset::Go,
        Preset::Jest,
        Preset::Vitest,
        Preset::JsFiles,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::CargoNextest => "cargo-nextest",
            Preset::Pytest => "pytest",
            Preset::Go => "go",
            Preset::Jest => "jest",
            Preset::Vitest => "vitest",
            Preset::JsFiles => "js-files",
        }
    }

    /// What the preset's items are: tests, or files for frameworks that select files.
    pub fn unit(self) -> Unit {
        match self {
            Preset::CargoNextest | Preset::Pytest | Preset::Go => Unit::Test,
            Preset::Jest | Preset::Vitest | Preset::JsFiles => Unit::File,
        }
    }

    /// The command lines to try, in order (the next only when the program is missing).
    pub fn commands(self) -> Vec<Vec<&'static str>> {
        match self {
            Preset::CargoNextest => {
                vec![vec!["cargo", "nextest", "list", "--message-format", "json"]]
            }
            Preset::Pytest => vec![
                vec!["python", "-m", "pytest", "--collect-only", "-q"],
                vec!["python3", "-m", "pytest", "--collect-only", "-q"],
            ],
            Preset::Go => vec![vec!["go", "test", "-list", ".", "./..."]],
            Preset::Jest => vec![vec!["npx", "--no-install", "jest", "--listTests", "--json"]],
            Preset::Vitest => vec![vec![
                "npx",
                "--no-install",
                "vitest",
                "list",
                "--filesOnly",
                "--json",
            ]],
            Preset::JsFiles => Vec::new(),
        }
    }

    /// Turns the command's standard output into items.
    pub fn parse(self, stdout: &str, root: &Path) -> Result<Vec<Item>, DiscoverError> {
        match self {
            Preset::CargoNextest => parse_nextest_list(stdout),
            Preset::Pytest => Ok(parse_pytest_collect(stdout)),
            Preset::Go => parse_go_list(stdout),
            Preset::Jest => parse_jest_list(stdout, root),
            Preset::Vitest => parse_vitest_list(stdout, root),
            Preset::JsFiles => Ok(Vec::new()),
        }
    }

    /// Exit codes that still mean "listed": pytest's 5 is "no tests collected".
    fn accepts(self, code: Option<i32>) -> bool {
        code == Some(0) || (self == Preset::Pytest && code == Some(5))
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = DiscoverError;
    fn from_str(s: &str) -> Result<Preset, DiscoverError> {
        let s = s.trim().to_ascii_lowercase();
        let found = match s.as_str() {
            "nextest" | "cargo-nextest" => Some(Preset::CargoNextest),
            "pytest" => Some(Preset::Pytest),
            "go" | "go-test" => Some(Preset::Go),
            "jest" => Some(Preset::Jest),
            "vitest" => Some(Preset::Vitest),
            "js-files" => Some(Preset::JsFiles),
            _ => None,
        };
        found.ok_or(DiscoverError::UnknownPreset(s))
    }
}

/// Discovery that failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(
        "unknown discovery preset `{0}` (known: cargo-nextest, pytest, go, jest, vitest, js-files; or --discover-cmd)"
    )]
    UnknownPreset(String),
    #[error("cannot start `{command}`: {source}{hint}")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
        hint: &'static str,
    },
    #[error("`{command}` failed ({status}){}", stderr_tail(.stderr))]
    Failed {
        command: String,
        /// `exit code N`, or `killed by a signal`.
        status: String,
        /// The last lines of its standard error.
        stderr: String,
    },
    #[error("`{command}`: its output is not UTF-8")]
    NotUtf8 { command: String },
    #[error("{what}: {message}")]
    Parse { what: String, message: String },
    #[error("{what}: line {line}, column {column}: {message}")]
    Json {
        what: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    List(#[from] InventoryError),
}

fn stderr_tail(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        " and wrote nothing to stderr".to_owned()
    } else {
        let lines: Vec<String> = stderr.lines().map(|l| format!("\n  {l}")).collect();
        format!("; the end of its stderr:{}", lines.concat())
    }
}

/// Lines of stderr kept in an error.
const STDERR_LINES: usize = 20;

/// Where and how to run discovery.
#[derive(Clone, Debug, Default)]
pub struct DiscoverOptions {
    /// The project root the command runs in; the current folder when empty.
    pub root: PathBuf,
    /// Appended to the preset's command.
    pub args: Vec<String>,
    /// Added to the command's environment.
    pub env: Vec<(String, String)>,
}

impl DiscoverOptions {
    fn root(&self) -> &Path {
        if self.root.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.root
        }
    }
}

/// Runs a preset and returns its tests (or files).
pub fn discover(preset: Preset, options: &DiscoverOptions) -> Result<Inventory, DiscoverError> {
    let root = options.root();
    if preset == Preset::JsFiles {
        return Ok(Inventory::from_items(find_js_test_files(root)?));
    }
    let mut last_err = None;
    for base in preset.commands() {
        let mut argv: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
        argv.extend(options.args.iter().cloned());
        match run_command(&argv, root, &options.env, |c| preset.accepts(c)) {
            Ok(stdout) => return Ok(Inventory::from_items(preset.parse(&stdout, root)?)),
            Err(e @ DiscoverError::Spawn { .. }) => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| DiscoverError::UnknownPreset(preset.name().to_owned())))
}

/// `--discover-cmd CMD`: runs `sh -c CMD` and reads its output as a test list.
pub fn discover_cmd(cmd: &str, options: &DiscoverOptions) -> Result<Inventory, DiscoverError> {
    let argv = vec!["sh".to_owned(), "-c".to_owned(), cmd.to_owned()];
    let stdout = run_command(&argv, options.root(), &options.env, |c| c == Some(0))?;
    Ok(Inventory::parse_list(
        &stdout,
        &format!("the output of `{cmd}`"),
    )?)
}

fn show_command(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `argv` in `root` with stdin closed and returns its standard output; an exit
/// code `ok` refuses is an error with the end of stderr.
pub fn run_command(
    argv: &[String],
    root: &Path,
    env: &[(String, String)],
    ok: impl Fn(Option<i32>) -> bool,
) -> Result<String, DiscoverError> {
    let command = show_command(argv);
    let Some((program, args)) = argv.split_first() else {
        return Err(DiscoverError::Parse {
            what: "discovery".into(),
            message: "an empty command".into(),
        });
    };
    let output = Command::new(program)
        .args(args)
        .current_dir(root)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .map_err(|source| DiscoverError::Spawn {
            hint: if source.kind() == io::ErrorKind::NotFound {
                " (is it installed and on PATH?)"
            } else {
                ""
            },
            command: command.clone(),
            source,
        })?;
    if !ok(output.status.code()) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(STDERR_LINES)..].join("\n");
        return Err(DiscoverError::Failed {
            command,
            status: match output.status.code() {
                Some(c) => format!("exit code {c}"),
                None => "killed by a signal".to_owned(),
            },
            stderr: tail,
        });
    }
    String::from_utf8(output.stdout).map_err(|_| DiscoverError::NotUtf8 { command })
}

fn json_err(e: &serde_json::Error, what: &str) -> DiscoverError {
    DiscoverError::Json {
        what: what.to_owned(),
        line: e.line(),
        column: e.column(),
        message: crate::durations::json_message(e),
    }
}

/// `cargo nextest list --message-format json`: every test that matches the filters
/// (ignored tests do not, as nextest does not run them by default), sorted by binary
/// id, then name.
pub fn parse_nextest_list(stdout: &str) -> Result<Vec<Item>, DiscoverError> {
    #[derive(serde::Deserialize)]
    struct List {
        #[serde(rename = "rust-suites")]
        suites: BTreeMap<String, Suite>,
    }
    #[derive(serde::Deserialize)]
    struct Suite {
        #[serde(rename = "binary-id")]
        binary_id: Option<String>,
        #[serde(default)]
        testcases: BTreeMap<String, Case>,
    }
    #[derive(serde::Deserialize)]
    struct Case {
        #[serde(default)]
        ignored: bool,
        #[serde(rename = "filter-match")]
        filter_match: Option<FilterMatch>,
    }
    #[derive(serde::Deserialize)]
    struct FilterMatch {
        status: String,
    }
    // Cargo may print before the document when it is not silenced; the JSON is the
    // line that starts with `{`.
    let json = stdout
        .find("\n{")
        .map(|i| &stdout[i + 1..])
        .filter(|_| !stdout.trim_start().starts_with('{'))
        .unwrap_or(stdout);
    let list: List =
        serde_json::from_str(json).map_err(|e| json_err(&e, "cargo nextest list output"))?;
    let mut items = Vec::new();
    for (key, suite) in list.suites {
        let binary = suite.binary_id.unwrap_or(key);
        for (name, case) in suite.testcases {
            let runs = match &case.filter_match {
                Some(m) => m.status == "matches",
                None => !case.ignored,
            };
            if runs {
                items
                    .push(Item::test(format!("{binary}::{name}")).with_suite(Some(binary.clone())));
            }
        }
    }
    Ok(items)
}

/// Whether an id is a pytest node id (`path.py::name`) rather than the dotted form
/// pytest's JUnit gives.
pub fn looks_like_pytest_nodeid(id: &str) -> bool {
    id.split_once("::")
        .is_some_and(|(path, _)| path.ends_with(".py") && !path.contains(char::is_whitespace))
}

/// The dtf id of a pytest node id, as pytest's JUnit names it (`mangle_test_address`
/// in `_pytest/junitxml.py`): parameters split off at the first `[`, the rest split on
/// `::`; the path's `/` become `.` and `.py` is dropped; classname is everything but the
/// last part joined by `.`, name the last part with its parameters.
pub fn pytest_nodeid_to_id(nodeid: &str) -> String {
    match pytest_junit_names(nodeid) {
        Some((classname, name)) => format!("{classname}::{name}"),
        None => nodeid.to_owned(),
    }
}

/// `(classname, name)` of a node id in pytest's JUnit, or `None` for a node id
/// without `::`.
fn pytest_junit_names(nodeid: &str) -> Option<(String, String)> {
    let (path, params) = match nodeid.find('[') {
        Some(i) => nodeid.split_at(i),
        None => (nodeid, ""),
    };
    let mut names: Vec<&str> = path.split("::").collect();
    let name = names.pop().filter(|_| !names.is_empty())?;
    let module = names[0].replace('/', ".");
    let module = module.strip_suffix(".py").unwrap_or(&module);
    let mut classname = module.to_owned();
    for class in &names[1..] {
        classname.push('.');
        classname.push_str(class);
    }
    Some((classname, format!("{name}{params}")))
}

/// `pytest --collect-only -q`: one node id a line, until the blank line before the
/// count; anything else (plugin banners, the warnings summary) is skipped.
pub fn parse_pytest_collect(stdout: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for line in stdout.lines() {
        if line.trim().is_empty() {
            if items.is_empty() {
                continue;
            }
            break;
        }
        if line.starts_with(char::is_whitespace) {
            continue;
        }
        let nodeid = line.trim_end();
        let (Some((path, _)), Some((classname, name))) =
            (nodeid.split_once("::"), pytest_junit_names(nodeid))
        else {
            continue;
        };
        items.push(
            Item::test(format!("{classname}::{name}"))
                .with_file(Some(path.to_owned()))
                .with_suite(Some(classname)),
        );
    }
    items
}

/// `go test -list . ./...`: test names, then `ok <package> <time>` for each package.
/// Benchmarks are left out: `go test` does not run them without `-bench`.
pub fn parse_go_list(stdout: &str) -> Result<Vec<Item>, DiscoverError> {
    let mut items = Vec::new();
    let mut pending: Vec<&str> = Vec::new();
    for (n, line) in stdout.lines().enumerate() {
        let trimmed = line.trim();
        let mut fields = trimmed.split_whitespace();
        match fields.next() {
            Some("ok") => {
                let Some(pkg) = fields.next() else {
                    return Err(DiscoverError::Parse {
                        what: "go test -list output".into(),
                        message: format!("line {}: `ok` without a package", n + 1),
                    });
                };
                for name in pending.drain(..) {
                    items.push(
                        Item::test(format!("{pkg}::{name}"))
                            .with_file(Some(pkg.to_owned()))
                            .with_suite(Some(pkg.to_owned())),
                    );
                }
            }
            Some("FAIL") => {
                return Err(DiscoverError::Parse {
                    what: "go test -list output".into(),
                    message: format!("line {}: {trimmed}", n + 1),
                });
            }
            Some("?") => pending.clear(),
            Some(name)
                if fields.next().is_none()
                    && ["Test", "Example", "Fuzz"]
                        .iter()
                        .any(|p| name.starts_with(p))
                    && name.chars().all(|c| c.is_alphanumeric() || c == '_') =>
            {
                pending.push(name);
            }
            _ => {}
        }
    }
    if let Some(first) = pending.first() {
        return Err(DiscoverError::Parse {
            what: "go test -list output".into(),
            message: format!(
                "`{first}` and others are listed without a package (`ok` line) after them"
            ),
        });
    }
    Ok(items)
}

/// A listed file, relative to `root` when it is inside it.
fn relative_file(path: &str, root: &Path) -> String {
    let p = Path::new(path.trim());
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let rel = p
        .strip_prefix(&canonical_root)
        .or_else(|_| p.strip_prefix(root))
        .unwrap_or(p);
    normalize_file(&rel.to_string_lossy())
}

fn file_items(paths: impl IntoIterator<Item = String>, root: &Path) -> Vec<Item> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for p in paths {
        if p.trim().is_empty() {
            continue;
        }
        let rel = relative_file(&p, root);
        if seen.insert(rel.clone()) {
            out.push(Item::file(rel));
        }
    }
    out
}

/// `jest --listTests`: a JSON array of absolute paths (with `--json`), or one a line.
pub fn parse_jest_list(stdout: &str, root: &Path) -> Result<Vec<Item>, DiscoverError> {
    let text = stdout.trim();
    let paths: Vec<String> = if text.starts_with('[') {
        serde_json::from_str(text).map_err(|e| json_err(&e, "jest --listTests output"))?
    } else {
        text.lines().map(str::to_owned).collect()
    };
    Ok(file_items(paths, root))
}

/// `vitest list --filesOnly`: with `--json`, an array of `{"file": ..., "projectName":
/// ...}`; else one path a line, maybe after a `[project]` tag. A file in several
/// projects is listed once.
pub fn parse_vitest_list(stdout: &str, root: &Path) -> Result<Vec<Item>, DiscoverError> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Path(String),
        Object { file: String },
    }
    let text = stdout.trim();
    // `[project] path` lines also start with `[`; JSON continues with `{`, `"` or `]`.
    let json = text
        .strip_prefix('[')
        .is_some_and(|rest| rest.trim_start().starts_with(['{', '"', ']']));
    let paths: Vec<String> = if json {
        let entries: Vec<Entry> =
            serde_json::from_str(text).map_err(|e| json_err(&e, "vitest list output"))?;
        entries
            .into_iter()
            .map(|e| match e {
                Entry::Path(p) | Entry::Object { file: p } => p,
            })
            .collect()
    } else {
        text.lines()
            .map(|l| {
                let l = l.trim();
                match (l.starts_with('['), l.find("] ")) {
                    (true, Some(i)) => l[i + 2..].to_owned(),
                    _ => l.to_owned(),
                }
            })
            .collect()
    };
    Ok(file_items(paths, root))
}

const JS_EXTENSIONS: &[&str] = &["js", "ts", "jsx", "tsx", "mjs", "cjs", "mts", "cts"];

/// Whether a file name (and whether it is under `__tests__`) marks a JS/TS test file,
/// as jest's and vitest's default patterns do.
pub fn is_js_test_file(name: &str, under_tests_dir: bool) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    if !JS_EXTENSIONS.contains(&ext) {
        return false;
    }
    under_tests_dir || stem.ends_with(".test") || stem.ends_with(".spec")
}

/// The `js-files` preset: test files under `root`, sorted, relative to it.
pub fn find_js_test_files(root: &Path) -> Result<Vec<Item>, DiscoverError> {
    fn walk(
        dir: &Path,
        rel: &str,
        in_tests: bool,
        out: &mut Vec<String>,
    ) -> Result<(), DiscoverError> {
        let io_err = |source| DiscoverError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
            .map_err(io_err)?
            .map(|e| e.map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())))
            .collect::<io::Result<_>>()
            .map_err(io_err)?;
        entries.sort();
        for (name, path) in entries {
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let meta = std::fs::symlink_metadata(&path).map_err(|source| DiscoverError::Io {
                path: path.display().to_string(),
                source,
            })?;
            if meta.is_dir() {
                if name == "node_modules" || name.starts_with('.') {
                    continue;
                }
                walk(&path, &child, in_tests || name == "__tests__", out)?;
            } else if is_js_test_file(&name, in_tests) {
                out.push(child);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(root, "", false, &mut files)?;
    Ok(files.into_iter().map(Item::file).collect())
}
