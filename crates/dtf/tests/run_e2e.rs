//! End-to-end: `dtf run` on real test frameworks.
//!
//! The fixture suites (`tests/fixtures/nextest-suite`, `tests/fixtures/pytest-suite`)
//! hold tests that pass, take a while, fail, fail like an outage, pass only on a
//! retry, crash and hang. Each is copied to a temporary folder, planned into 3 shards
//! by discovery, run shard by shard (all three at once, as CI would), and the three
//! bundles merged: every test must come out exactly once, with its outcome, its error
//! category and its number of attempts. The faults follow: the framework killed with
//! SIGKILL mid-run, dtf itself sent SIGTERM, a test hanging past its timeout, a test
//! printing 100 MB, and a results folder that cannot be created.
//!
//! cargo-nextest is on every machine that builds dtf; pytest is installed by
//! `.ci/run`, and the pytest tests say so and pass when it is missing. The nextest
//! fixture builds into one target folder under `CARGO_TARGET_TMPDIR`, shared by every
//! test here, so it is compiled once.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const DTF: &str = env!("CARGO_BIN_EXE_dtf");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Nextest,
    Pytest,
}

impl Kind {
    fn fixture(self) -> PathBuf {
        let name = match self {
            Kind::Nextest => "nextest-suite",
            Kind::Pytest => "pytest-suite",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(name)
    }

    fn framework(self) -> &'static str {
        match self {
            Kind::Nextest => "cargo-nextest",
            Kind::Pytest => "pytest",
        }
    }

    /// A fixture test's dtf id from its short name (`fast::adds`, `test_fast::test_adds`).
    fn id(self, short: &str) -> String {
        match self {
            Kind::Nextest => format!("dtf-fixture-nextest::{short}"),
            Kind::Pytest => format!("tests.{short}"),
        }
    }
}

/// Whether pytest can run here; when not, says so on stderr (the test then passes
/// without checking anything: CI installs pytest, so it never gets here).
fn have_pytest(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pytest"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIPPED {test}: pytest is not installed (python3 -m pip install pytest; .ci/run does)"
        );
    }
    ok
}

/// A fixture suite copied into a temporary folder, with what its runs share.
struct Suite {
    kind: Kind,
    tmp: tempfile::TempDir,
    env: Vec<(OsString, OsString)>,
}

impl Suite {
    fn new(kind: Kind) -> Suite {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&kind.fixture(), &tmp.path().join("project"));
        let state = tmp.path().join("state");
        fs::create_dir_all(&state).unwrap();
        let mut env: Vec<(OsString, OsString)> = vec![
            ("DTF_FIXTURE_STATE".into(), state.into()),
            // Plain, stable output for the logs.
            ("NO_COLOR".into(), "1".into()),
            ("CARGO_TERM_COLOR".into(), "never".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ];
        if kind == Kind::Nextest {
            let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nextest-suite-target");
            env.push(("CARGO_TARGET_DIR".into(), target.into()));
        }
        Suite { kind, tmp, env }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn dtf(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(DTF);
        cmd.args(args)
            .current_dir(self.tmp.path())
            .stdin(Stdio::null())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `dtf plan --discover` into `shards` shards; returns the plan's path.
    fn plan(&self, shards: u32) -> PathBuf {
        let plan = self.path("plan.json");
        let out = output(self.dtf(&[
            "plan",
            "--discover",
            self.kind.framework(),
            "--root",
            "project",
            "--shards",
            &shards.to_string(),
            "-o",
            "plan.json",
        ]));
        assert!(out.status.success(), "dtf plan: {}", text(&out.stderr));
        plan
    }

    /// A hand-made plan of one shard: these tests, in this order, in these invocations.
    fn plan_batches(&self, name: &str, batches: &[&[&str]]) -> PathBuf {
        let tests: Vec<String> = batches
            .iter()
            .flat_map(|b| b.iter().map(|t| self.kind.id(t)))
            .collect();
        let plan = json!({
            "schema": "dtf.plan.v1",
            "strategy": "batching",
            "shards": [{
                "index": 1,
                "pool": "default",
                "labels": [],
                "wave": 0,
                "tests": tests,
                "batches": batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
                "predicted_s": tests.len() as f64,
            }],
            "totals": {"tests": tests.len(), "shards": 1, "work_s": tests.len() as f64, "estimated": tests.len()},
            "lower_bound_s": 1.0,
            "predicted_wall_s": tests.len() as f64,
            "imbalance": 0.0,
            "estimated": tests,
        });
        let path = self.path(name);
        fs::write(&path, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
        path
    }

    /// `dtf run` of shard `k` into `out/shard-K` (plus `extra` arguments).
    fn run_cmd(&self, plan: &Path, k: u32, extra: &[&str]) -> Command {
        let out = self.out_dir(k);
        let status = self.path(&format!("status-{k}.json"));
        let mut cmd = self.dtf(&[
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "--shard",
            &k.to_string(),
            "--framework",
            self.kind.framework(),
            "--root",
            "project",
            "--out-dir",
            out.to_str().unwrap(),
            "--status-file",
            status.to_str().unwrap(),
        ]);
        cmd.args(extra);
        cmd
    }

    fn out_dir(&self, k: u32) -> PathBuf {
        self.path(&format!("out/shard-{k}"))
    }

    fn status_file(&self, k: u32) -> PathBuf {
        self.path(&format!("status-{k}.json"))
    }

    fn shard_summary(&self, k: u32) -> Value {
        read_json(&self.out_dir(k).join("shard-summary.json"))
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let skip = ["target", "__pycache__", ".pytest_cache", ".fixture-state"];
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

fn output(mut cmd: Command) -> Output {
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The `<testcase>` elements of a JUnit file: (id, outcome, attempts) in file order.
/// The outcome is `failed`, `errored`, `skipped`, `flaky` (a flaky element and no
/// failure) or `passed`; attempts come from dtf's `dtf.attempts` property.
fn junit_cases(path: &Path) -> Vec<(String, String, u32)> {
    let xml =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut cases = Vec::new();
    for chunk in xml.split("<testcase").skip(1) {
        if !chunk.starts_with([' ', '\n', '\t', '>', '/']) {
            continue;
        }
        let tag_end = chunk.find('>').unwrap();
        let tag = &chunk[..tag_end];
        let body = if tag.ends_with('/') {
            ""
        } else {
            chunk
                .find("</testcase>")
                .map_or(&chunk[tag_end..], |e| &chunk[tag_end..e])
        };
        let classname = attr(tag, "classname").unwrap_or_default();
        let name = attr(tag, "name").unwrap_or_default();
        let outcome = if body.contains("<error") {
            "errored"
        } else if body.contains("<failure") {
            "failed"
        } else if body.contains("<skipped") {
            "skipped"
        } else if body.contains("<flakyFailure") || body.contains("<flakyError") {
            "flaky"
        } else {
            "passed"
        };
        let attempts = body
            .find("name=\"dtf.attempts\"")
            .and_then(|at| attr(&body[at..], "value"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        cases.push((format!("{classname}::{name}"), outcome.to_owned(), attempts));
    }
    cases
}

/// An attribute's unescaped value in a start tag.
fn attr(tag: &str, key: &str) -> Option<String> {
    let pat = format!(" {key}=\"");
    let start = tag.find(&pat)? + pat.len();
    let end = start + tag[start..].find('"')?;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The verdicts of a shard summary by test id.
fn verdicts(summary: &Value) -> BTreeMap<String, Value> {
    summary["tests"]
        .as_array()
        .unwrap_or_else(|| panic!("a shard summary lists its tests: {summary:#}"))
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), t.clone()))
        .collect()
}

/// What a fixture test must come to: (short name, status, category, own attempts).
///
/// Own attempts leave out the *collateral* ones: when a crash or a timeout loses
/// several tests of one invocation, dtf runs them again (halving the set) to find the
/// culprit without spending their retries, and the timeline marks those attempts
/// `collateral`. A bystander that passes when run again is flaky (every attempt
/// counts for the verdict, and its first was lost), so a test expected to pass may be
/// flaky exactly when it has collateral attempts.
type Expected = (&'static str, &'static str, Option<&'static str>, u32);

const NEXTEST_EXPECTED: &[Expected] = &[
    ("fast::adds", "passed", None, 1),
    ("fast::concatenates", "passed", None, 1),
    ("fast::sorts", "passed", None, 1),
    ("fast::parses", "passed", None, 1),
    ("fast::reverses", "passed", None, 1),
    ("fast::empty_is_empty", "passed", None, 1),
    ("slow::one_second", "passed", None, 1),
    ("slow::two_seconds", "passed", None, 1),
    ("loud::prints", "passed", None, 1),
    ("fail::wrong_total", "failed", Some("assertion"), 1),
    ("fail::wrong_name", "failed", Some("assertion"), 1),
    (
        "infra::database_unreachable",
        "failed",
        Some("infrastructure"),
        3,
    ),
    ("flaky::passes_on_retry", "flaky", Some("infrastructure"), 2),
    // nextest runs each test in its own process: it reports the abort itself.
    ("crash::aborts", "failed", Some("crash"), 3),
    // Stopped by dtf's timeout (nextest would report it as failed by SIGTERM).
    ("hang::sleeps_an_hour", "errored", Some("timeout"), 3),
];

const PYTEST_EXPECTED: &[Expected] = &[
    ("test_fast::test_adds", "passed", None, 1),
    ("test_fast::test_concatenates", "passed", None, 1),
    ("test_fast::test_sorts", "passed", None, 1),
    ("test_fast::test_square[2-4]", "passed", None, 1),
    ("test_fast::test_square[3-9]", "passed", None, 1),
    ("test_slow::test_one_second", "passed", None, 1),
    ("test_slow::test_two_seconds", "passed", None, 1),
    ("test_loud::test_prints", "passed", None, 1),
    (
        "test_fail::test_wrong_total",
        "failed",
        Some("assertion"),
        1,
    ),
    ("test_fail::test_wrong_name", "failed", Some("assertion"), 1),
    (
        "test_infra::test_fetch_user",
        "failed",
        Some("infrastructure"),
        3,
    ),
    (
        "test_setup::test_with_broken_fixture",
        "errored",
        Some("setup"),
        1,
    ),
    (
        "test_flaky::test_passes_on_retry",
        "flaky",
        Some("infrastructure"),
        2,
    ),
    // The abort takes pytest down with no JUnit at all: dtf isolates the culprit (a
    // lone test whose process died of SIGABRT) and calls it a crash.
    ("test_crash::test_aborts", "errored", Some("crash"), 3),
    (
        "test_hang::test_sleeps_an_hour",
        "errored",
        Some("timeout"),
        3,
    ),
];

/// Attempts per test id in a shard's timeline that were collateral.
fn collateral_attempts(timeline: &Value) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for t in timeline["tests"].as_array().unwrap() {
        if t["collateral"] == true {
            *out.entry(t["id"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    out
}

/// Plans a suite into 3 shards, runs them at once, merges the bundles, and checks
/// every test against `expected`.
fn three_shards_run_and_merge(kind: Kind, expected: &[Expected]) {
    let started = Instant::now();
    let suite = Suite::new(kind);
    let plan = suite.plan(3);
    let planned: Vec<String> = read_json(&plan)["shards"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["tests"].as_array().unwrap().iter())
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    let mut want: Vec<String> = expected.iter().map(|e| kind.id(e.0)).collect();
    want.sort();
    let mut got = planned.clone();
    got.sort();
    assert_eq!(got, want, "discovery finds the fixture's tests");

    let children: Vec<(u32, Child)> = (1..=3)
        .map(|k| {
            let mut cmd = suite.run_cmd(&plan, k, &["--retries", "2", "--test-timeout", "5s"]);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            (k, cmd.spawn().unwrap())
        })
        .collect();
    let mut bundles = Vec::new();
    let mut shard_verdicts = BTreeMap::new();
    let mut collateral = BTreeMap::new();
    for (k, child) in children {
        let out = child.wait_with_output().unwrap();
        let summary = suite.shard_summary(k);
        assert_eq!(summary["schema"], "dtf.shard.v1");
        assert_eq!(summary["partial"], false, "shard {k}: {summary:#}");
        let v = verdicts(&summary);
        let failing = v
            .values()
            .any(|t| matches!(t["status"].as_str(), Some("failed" | "errored")));
        assert_eq!(
            out.status.code(),
            Some(if failing { 1 } else { 0 }),
            "shard {k}: exit code 1 exactly when a test failed\n{}",
            text(&out.stderr)
        );
        for file in ["junit.xml", "timeline.json", "logs"] {
            assert!(
                suite.out_dir(k).join(file).exists(),
                "shard {k} wrote {file}"
            );
        }
        let timeline = read_json(&suite.out_dir(k).join("timeline.json"));
        assert_eq!(timeline["schema"], "dtf.timeline.v1");
        collateral.extend(collateral_attempts(&timeline));
        let bundle = suite.out_dir(k).join(format!("dtf-shard-{k}.zip"));
        assert!(bundle.is_file(), "shard {k} wrote its bundle");
        bundles.push(bundle);
        for (id, t) in v {
            assert!(
                shard_verdicts.insert(id.clone(), t).is_none(),
                "{id} ran in two shards"
            );
        }
    }

    let mut merge = suite.dtf(&["merge", "--json", "merged.json", "--junit", "merged.xml"]);
    merge.args(&bundles);
    let out = output(merge);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "dtf merge: {}",
        text(&out.stderr)
    );
    let merged = read_json(&suite.path("merged.json"));
    assert_eq!(merged["totals"]["tests"], expected.len(), "{merged:#}");
    let mut by_id: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    for (id, outcome, attempts) in junit_cases(&suite.path("merged.xml")) {
        by_id.entry(id).or_default().push((outcome, attempts));
    }
    let merged_lists: BTreeMap<String, (Value, Value)> = ["failures", "flaky"]
        .iter()
        .flat_map(|list| merged[*list].as_array().unwrap().iter())
        .map(|t| {
            let id = t["id"].as_str().unwrap().to_owned();
            (id, (t["status"].clone(), t["attempts"].clone()))
        })
        .collect();

    let mut problems = Vec::new();
    for &(short, status, category, own_attempts) in expected {
        let id = kind.id(short);
        let Some(v) = shard_verdicts.get(&id) else {
            problems.push(format!("{id}: no shard has a verdict"));
            continue;
        };
        let got_status = v["status"].as_str().unwrap_or("?");
        let got_category = v["category"].as_str();
        let attempts = v["attempts"].as_u64().unwrap_or(0) as u32;
        let bystander = collateral.get(&id).copied().unwrap_or(0);
        let lost_then_passed = status == "passed" && bystander > 0 && got_status == "flaky";
        if !lost_then_passed && (got_status, got_category) != (status, category) {
            problems.push(format!(
                "{id}: {got_status} ({got_category:?}) in the shard summary, expected {status} ({category:?})"
            ));
        }
        if attempts.checked_sub(bystander) != Some(own_attempts) {
            problems.push(format!(
                "{id}: {attempts} attempts ({bystander} collateral), expected {own_attempts} of its own"
            ));
        }
        // Exactly once in the merged result, with the shard's verdict and attempts.
        match by_id.get(&id).map(Vec::as_slice) {
            Some([(outcome, n)]) if (outcome.as_str(), *n) == (got_status, attempts) => {}
            other => problems.push(format!(
                "{id}: {other:?} in the merged JUnit, expected once as ({got_status:?}, {attempts})"
            )),
        }
        let listed = merged_lists.get(&id);
        if matches!(got_status, "failed" | "errored" | "flaky") {
            if listed != Some(&(json!(got_status), json!(attempts))) {
                problems.push(format!(
                    "{id}: {listed:?} in the merged summary, expected ({got_status}, {attempts})"
                ));
            }
        } else if listed.is_some() {
            problems.push(format!("{id}: listed in the merged summary as {listed:?}"));
        }
    }
    assert_eq!(
        by_id.len(),
        expected.len(),
        "the merged JUnit has other tests: {:?}",
        by_id.keys().collect::<Vec<_>>()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!(
        "{}: 3 shards run and merged in {:.1}s",
        kind.framework(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn nextest_suite_in_three_shards() {
    three_shards_run_and_merge(Kind::Nextest, NEXTEST_EXPECTED);
}

#[test]
fn pytest_suite_in_three_shards() {
    if have_pytest("pytest_suite_in_three_shards") {
        three_shards_run_and_merge(Kind::Pytest, PYTEST_EXPECTED);
    }
}

// ---------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------

/// The status file's document, once it exists and parses.
fn status(path: &Path) -> Option<Value> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// Waits until `ready` holds for the status file (or the child exits: then panics).
fn wait_for_status(child: &mut Child, path: &Path, what: &str, ready: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if status(path).is_some_and(|s| ready(&s)) {
            return;
        }
        if let Some(code) = child.try_wait().unwrap() {
            panic!("dtf ended ({code}) before {what}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn done(status: &Value) -> u64 {
    status["progress"]["done"].as_u64().unwrap_or(0)
}

/// The children of a process, from `/proc/*/stat`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// The framework killed with SIGKILL in the middle of an invocation: the tests of the
/// invocations before keep their results, the killed ones are lost and run again.
fn framework_killed(kind: Kind, batches: &[&[&str]]) {
    let suite = Suite::new(kind);
    let plan = suite.plan_batches("plan.json", batches);
    let mut cmd = suite.run_cmd(&plan, 1, &["--retries", "1", "--test-timeout", "20s"]);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = batches[0].len() as u64;
    wait_for_status(
        &mut child,
        &suite.status_file(1),
        "the first invocation's results",
        |s| done(s) >= first,
    );
    // The second invocation (the slow one) is under way: kill its framework process.
    let deadline = Instant::now() + Duration::from_secs(30);
    let victim = loop {
        if let Some(&pid) = children_of(child.id()).first() {
            break pid;
        }
        assert!(Instant::now() < deadline, "no framework process appeared");
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(300));
    signal(victim, "KILL");
    let out = child.wait_with_output().unwrap();

    let summary = suite.shard_summary(1);
    let v = verdicts(&summary);
    assert_eq!(summary["partial"], false);
    assert_eq!(
        v.len(),
        batches.iter().map(|b| b.len()).sum::<usize>(),
        "{summary:#}"
    );
    // The invocations before the kill keep their results; the ones after run as planned.
    for t in batches[0].iter().chain(batches[2]) {
        let t = &v[&kind.id(t)];
        assert_eq!(
            (t["status"].as_str(), t["attempts"].as_u64()),
            (Some("passed"), Some(1)),
            "{t}"
        );
    }
    // The killed invocation's tests ran again and passed; none is left without a verdict.
    for t in batches[1] {
        let t = &v[&kind.id(t)];
        assert!(
            matches!(t["status"].as_str(), Some("flaky" | "passed")),
            "a test the kill lost is run again: {t}"
        );
        assert!(t["attempts"].as_u64() >= Some(2), "{t}");
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let junit = junit_cases(&suite.out_dir(1).join("junit.xml"));
    let lost_attempts = junit
        .iter()
        .filter(|(id, outcome, _)| {
            outcome == "errored" && batches[1].iter().any(|t| &kind.id(t) == id)
        })
        .count();
    assert!(
        lost_attempts >= 1,
        "the lost attempt is recorded in junit.xml: {junit:?}"
    );
}

#[test]
fn nextest_framework_killed_mid_run() {
    framework_killed(
        Kind::Nextest,
        &[
            &["fast::adds", "fast::sorts"],
            &["slow::two_seconds", "fast::parses"],
            &["fast::reverses"],
        ],
    );
}

#[test]
fn pytest_framework_killed_mid_run() {
    if have_pytest("pytest_framework_killed_mid_run") {
        framework_killed(
            Kind::Pytest,
            &[
                &["test_fast::test_adds", "test_fast::test_sorts"],
                &[
                    "test_slow::test_two_seconds",
                    "test_fast::test_concatenates",
                ],
                &["test_fast::test_square[2-4]"],
            ],
        );
    }
}

/// dtf itself sent SIGTERM (a cancelled CI job): it stops the framework, writes what
/// it has marked partial, and exits with 6.
#[test]
fn dtf_sigterm_writes_partial_results() {
    let kind = Kind::Nextest;
    let suite = Suite::new(kind);
    let batches: &[&[&str]] = &[
        &["fast::adds", "fast::sorts"],
        &["slow::two_seconds"],
        &["fast::parses", "fast::reverses"],
    ];
    let plan = suite.plan_batches("plan.json", batches);
    let mut cmd = suite.run_cmd(&plan, 1, &["--test-timeout", "20s"]);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_status(
        &mut child,
        &suite.status_file(1),
        "the first invocation's results",
        |s| done(s) >= 2,
    );
    let sent = Instant::now();
    signal(child.id(), "TERM");
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "dtf stops promptly after SIGTERM ({:?})",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));

    let summary = suite.shard_summary(1);
    assert_eq!(summary["partial"], true, "{summary:#}");
    let v = verdicts(&summary);
    for t in batches[0] {
        assert_eq!(v[&kind.id(t)]["status"], "passed", "{t} kept");
    }
    let junit = junit_cases(&suite.out_dir(1).join("junit.xml"));
    for t in batches[0] {
        assert!(
            junit
                .iter()
                .any(|(id, o, _)| id == &kind.id(t) && o == "passed"),
            "{t} is in the partial junit.xml: {junit:?}"
        );
    }
    for t in batches[2] {
        assert!(
            !v.get(&kind.id(t)).is_some_and(|t| t["status"] == "passed"),
            "{t} never ran, so it did not pass"
        );
    }
    assert!(
        suite.out_dir(1).join("dtf-shard-1.zip").is_file(),
        "the partial results are bundled"
    );
}

/// A test that hangs past its timeout is killed and marked timeout; the tests around
/// it keep their results.
#[test]
fn hanging_test_is_killed_at_its_timeout() {
    let kind = Kind::Nextest;
    let suite = Suite::new(kind);
    let plan = suite.plan_batches(
        "plan.json",
        &[&["fast::adds", "hang::sleeps_an_hour", "fast::sorts"]],
    );
    let started = Instant::now();
    let out = output(suite.run_cmd(&plan, 1, &["--test-timeout", "2s"]));
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(took < Duration::from_secs(40), "took {took:?}");
    let v = verdicts(&suite.shard_summary(1));
    assert_eq!(v[&kind.id("hang::sleeps_an_hour")]["status"], "errored");
    assert_eq!(v[&kind.id("hang::sleeps_an_hour")]["category"], "timeout");
    for t in ["fast::adds", "fast::sorts"] {
        assert_eq!(v[&kind.id(t)]["status"], "passed", "{t}");
    }
}

/// A test that prints 100 MB: the run completes, the output lands in the log on disk,
/// and dtf's own memory stays small (the child writes into the log file itself).
#[test]
fn a_test_printing_100_mb() {
    let kind = Kind::Nextest;
    let mut suite = Suite::new(kind);
    suite.env.push(("DTF_FIXTURE_LOUD_MB".into(), "100".into()));
    // nextest keeps a passing test's output to itself unless told to show it.
    suite
        .env
        .push(("NEXTEST_SUCCESS_OUTPUT".into(), "immediate".into()));
    let plan = suite.plan_batches("plan.json", &[&["loud::prints", "fast::adds"]]);
    let mut cmd = suite.run_cmd(&plan, 1, &["--test-timeout", "30s"]);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut peak_kib = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(k) = vm_hwm_kib(child.id()) {
            peak_kib = peak_kib.max(k);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let v = verdicts(&suite.shard_summary(1));
    assert_eq!(v[&kind.id("loud::prints")]["status"], "passed");
    let logged: u64 = fs::read_dir(suite.out_dir(1).join("logs"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    assert!(
        logged >= 100 << 20,
        "the logs hold the 100 MB ({logged} bytes)"
    );
    eprintln!("100 MB of output: {logged} bytes logged, dtf's peak RSS {peak_kib} KiB");
    assert!(
        peak_kib < 64 * 1024,
        "dtf's peak RSS stays small: {peak_kib} KiB"
    );
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A results folder that cannot be created (under a regular file: even root cannot):
/// exit 4 with a clear message, before any test runs.
#[test]
fn results_folder_not_writable() {
    let kind = Kind::Nextest;
    let suite = Suite::new(kind);
    // Were it run, the flaky test would leave its marker behind.
    let plan = suite.plan_batches("plan.json", &[&["flaky::passes_on_retry"]]);
    fs::write(suite.path("afile"), "a file, not a folder\n").unwrap();
    let bad = suite.path("afile/out");
    let started = Instant::now();
    let out = output(suite.dtf(&[
        "run",
        "--plan",
        plan.to_str().unwrap(),
        "--shard",
        "1",
        "--framework",
        "cargo-nextest",
        "--root",
        "project",
        "--out-dir",
        bad.to_str().unwrap(),
    ]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("afile/out"),
        "the message names the folder: {err}"
    );
    assert!(
        !suite.path("state").join("nextest-flaky.marker").exists()
            && started.elapsed() < Duration::from_secs(5),
        "no test ran"
    );
}
