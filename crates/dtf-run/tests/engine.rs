//! The execution engine against a stand-in framework: a small `sh` script that
//! writes JUnit and misbehaves on request (fails, crashes, hangs, floods stdout).
//! Each test's name says what the script does with it:
//!
//! | name | behaviour |
//! |---|---|
//! | `pass*` | passes |
//! | `fail*` | an assertion failure |
//! | `net*` | "connection refused" the first time, then passes |
//! | `crashonce*` | the framework kills itself with SIGKILL the first time, then passes |
//! | `crash*` | the framework kills itself with SIGKILL, every time |
//! | `hang*` | starts a grandchild `sleep 30` and waits for it |
//! | `hangreport*` | the same, but on SIGINT reports it "aborted with signal 2 (SIGINT)" and exits, as cargo-nextest does |
//! | `big*` | prints 100 MB to stdout, then passes |
//! | `slow*` | sleeps 0.3 s, then passes |
//! | `missing*` | never reported, though the framework exits 0 |
//!
//! The script appends each result to its JUnit file as it goes, so a crash leaves a
//! truncated file with the results before it.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dtf_core::merge::{Input, MergeOptions, merge};
use dtf_core::model::Status;
use dtf_plan::model::{Plan, PlanTotals, PlannedShard};
use dtf_run::preset::{Framework, InvocationCtx, InvocationSpec, PresetError};
use dtf_run::shard::{Backoff, Parallelism, Resources, RunOptions, ShardOutcome, ShardRun};
use dtf_run::status::{Event, Progress, StatusSink};

const SCRIPT: &str = r#"
out="$JUNIT"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="stand-in">\n' > "$out"
pass() { printf '<testcase classname="t" name="%s" time="%s"/>\n' "$1" "${2:-0.010}" >> "$out"; }
for id in $DTF_TESTS; do
  name=${id#t::}
  n=$(cat "$STATE/$name.count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$STATE/$name.count"
  case $name in
    pass*) pass "$name" ;;
    fail*) printf '<testcase classname="t" name="%s" time="0.010"><failure type="AssertionError" message="assert 1 == 2">assert 1 == 2</failure></testcase>\n' "$name" >> "$out" ;;
    net*) if [ $n -eq 1 ]; then
            printf '<testcase classname="t" name="%s" time="0.010"><error type="ConnectionError" message="connect to db:5432: connection refused"/></testcase>\n' "$name" >> "$out"
          else pass "$name"; fi ;;
    crashonce*) if [ $n -eq 1 ]; then kill -9 $$; fi; pass "$name" ;;
    crash*) kill -9 $$ ;;
    hangreport*)
      trap 'printf "<testcase classname=\"t\" name=\"%s\"><failure type=\"test abort\" message=\"process aborted with signal 2 (SIGINT)\"/></testcase>\n</testsuite>\n" "$name" >> "$out"; exit 100' INT
      sleep 30 & echo $! > "$STATE/$name.pid"; wait ;;
    hang*) sleep 30 & echo $! > "$STATE/$name.pid"; wait ;;
    big*) dd if=/dev/zero bs=1048576 count=100 2>/dev/null | tr '\0' x; pass "$name" ;;
    slow*) sleep 0.3; pass "$name" 0.300 ;;
    missing*) ;;
  esac
done
printf '</testsuite>\n' >> "$out"
"#;

/// Runs the script with the tests in `$DTF_TESTS`, JUnit to the work folder.
struct StandIn {
    script: PathBuf,
    state: PathBuf,
}

impl Framework for StandIn {
    fn name(&self) -> &str {
        "stand-in"
    }

    fn invocation(&self, ctx: &InvocationCtx<'_>) -> Result<InvocationSpec, PresetError> {
        Ok(InvocationSpec {
            program: "sh".into(),
            args: vec![self.script.display().to_string()],
            env: vec![
                ("DTF_TESTS".into(), ctx.tests.join("\n")),
                (
                    "JUNIT".into(),
                    ctx.work_dir.join("junit.xml").display().to_string(),
                ),
                ("STATE".into(), self.state.display().to_string()),
            ],
            cwd: Some(ctx.work_dir.to_owned()),
            junit: vec![PathBuf::from("junit.xml")],
        })
    }
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("framework.sh"), SCRIPT).unwrap();
        fs::create_dir_all(dir.path().join("state")).unwrap();
        Fixture { dir }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("results")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn options(&self, tests: &[&str], batches: &[usize]) -> RunOptions {
        let ids: Vec<String> = tests.iter().map(|t| format!("t::{t}")).collect();
        let plan = Plan {
            schema: "dtf.plan.v1".into(),
            strategy: "test".into(),
            shards: vec![PlannedShard {
                index: 1,
                pool: "default".into(),
                labels: Vec::new(),
                wave: 0,
                tests: ids.clone(),
                batches: batches.to_vec(),
                predicted_s: ids.len() as f64 * 0.1,
            }],
            totals: PlanTotals::default(),
            lower_bound_s: 0.0,
            predicted_wall_s: 0.0,
            imbalance: 0.0,
            estimated: Vec::new(),
            warnings: Vec::new(),
        };
        let framework = StandIn {
            script: self.dir.path().join("framework.sh"),
            state: self.state(),
        };
        let mut o = RunOptions::new(plan, 1, Box::new(framework), self.out());
        o.backoff = Backoff::none();
        o.kill_grace = Duration::from_millis(300);
        o
    }
}

fn run(options: RunOptions) -> ShardOutcome {
    ShardRun::new(options).run().unwrap()
}

/// Each test's (status, attempts) as the core's merge sees the shard's JUnit.
fn merged(out: &Path) -> BTreeMap<String, (Status, u32)> {
    let run = merge(
        &[Input::file(out.join("junit.xml"))],
        &MergeOptions::default(),
    )
    .unwrap();
    let mut seen = BTreeMap::new();
    run.visit(|t| {
        let before = seen.insert(t.id.0.clone(), (t.status, t.attempts));
        assert!(before.is_none(), "{} twice", t.id);
        Ok(())
    })
    .unwrap();
    seen
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn expect(out: &Path, want: &[(&str, Status, u32)]) {
    let got = merged(out);
    let want: BTreeMap<String, (Status, u32)> = want
        .iter()
        .map(|(t, s, a)| (format!("t::{t}"), (*s, *a)))
        .collect();
    assert_eq!(got, want);
}

fn category(outcome: &ShardOutcome, test: &str) -> Option<&'static str> {
    outcome
        .tests
        .iter()
        .find(|t| t.id == format!("t::{test}"))
        .and_then(|t| t.category)
        .map(|c| c.as_str())
}

#[test]
fn passes_and_failures_with_every_output() {
    let f = Fixture::new();
    let mut o = f.options(&["pass1", "fail1", "pass2"], &[]);
    o.retries = 2;
    o.status_file = Some(f.dir.path().join("status.json"));
    let outcome = run(o);
    // An assertion failure is not retried without --retry-failed.
    expect(
        &f.out(),
        &[
            ("pass1", Status::Passed, 1),
            ("fail1", Status::Failed, 1),
            ("pass2", Status::Passed, 1),
        ],
    );
    assert!(!outcome.partial && !outcome.success());
    assert_eq!(
        (
            outcome.counts.passed,
            outcome.counts.failed,
            outcome.invocations
        ),
        (2, 1, 1)
    );
    assert_eq!(category(&outcome, "fail1"), Some("assertion"));

    let summary = json(&f.out().join("summary.json"));
    assert_eq!(summary["schema"], "dtf.summary.v1");
    assert_eq!(summary["totals"]["tests"], 3);
    let shard = json(&f.out().join("shard-summary.json"));
    assert_eq!(shard["schema"], "dtf.shard.v1");
    assert_eq!(shard["partial"], false);
    assert_eq!(shard["categories"]["assertion"], 1);
    assert_eq!(shard["failure_groups"][0]["count"], 1);
    assert_eq!(shard["failure_groups"][0]["members"][0], "t::fail1");
    let timeline = json(&f.out().join("timeline.json"));
    assert_eq!(timeline["schema"], "dtf.timeline.v1");
    let tests = timeline["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 3);
    // Laid end to end from the invocation's start, in JUnit order, within the
    // invocation.
    let spans: Vec<(f64, f64)> = tests
        .iter()
        .map(|t| (t["start_s"].as_f64().unwrap(), t["end_s"].as_f64().unwrap()))
        .collect();
    let inv = &timeline["invocations"][0];
    let (inv_start, inv_end) = (
        inv["start_s"].as_f64().unwrap(),
        inv["end_s"].as_f64().unwrap(),
    );
    assert_eq!(spans[0].0, inv_start, "{spans:?}");
    for w in spans.windows(2) {
        assert_eq!(w[0].1, w[1].0, "{spans:?}");
    }
    assert!(
        spans.iter().all(|s| s.0 <= s.1 && s.1 <= inv_end),
        "{spans:?} {inv}"
    );
    assert_eq!(inv["exit"]["code"], 0);
    let status = json(&f.dir.path().join("status.json"));
    assert_eq!(status["schema"], "dtf.status.v1");
    assert_eq!(status["state"], "finished");
    assert_eq!(status["progress"]["done"], 3);

    let bundle = outcome.files.bundle.clone().unwrap();
    assert_eq!(bundle, f.out().join("dtf-shard-1.zip"));
    let report = dtf_artifacts::bundle::verify(&bundle).unwrap();
    assert!(report.is_ok(), "{report:?}");
    let mut names = report.ok.clone();
    names.sort();
    assert_eq!(
        names,
        vec![
            "junit.xml",
            "logs/inv-0001.stderr.log",
            "logs/inv-0001.stdout.log",
            "shard-summary.json",
            "summary.json",
            "timeline.json"
        ]
    );
}

#[test]
fn a_framework_killed_mid_run_loses_nothing_and_lost_tests_pass_on_retry_as_flaky() {
    let f = Fixture::new();
    let mut o = f.options(&["pass1", "pass2", "crashonce1", "pass3", "pass4"], &[]);
    o.retries = 1;
    let outcome = run(o);
    // What the JUnit said before the crash is kept (one attempt); the lost tests ran
    // again and passed: flaky, with both attempts recorded.
    expect(
        &f.out(),
        &[
            ("pass1", Status::Passed, 1),
            ("pass2", Status::Passed, 1),
            ("crashonce1", Status::Flaky, 2),
            ("pass3", Status::Flaky, 2),
            ("pass4", Status::Flaky, 2),
        ],
    );
    assert!(outcome.success(), "{outcome:?}");
    assert_eq!(outcome.counts.flaky, 3);
    let shard = json(&f.out().join("shard-summary.json"));
    assert_eq!(shard["flaky_categories"]["lost"], 3);
    let timeline = json(&f.out().join("timeline.json"));
    let first = &timeline["invocations"][0];
    assert_eq!(first["exit"]["signal"], 9);
    assert_eq!(first["reported"], 2);
}

#[test]
fn a_test_that_always_crashes_is_isolated_and_the_others_still_pass() {
    let f = Fixture::new();
    let mut o = f.options(&["pass1", "pass2", "crash1", "pass3", "pass4"], &[]);
    o.retries = 1;
    let outcome = run(o);
    let got = merged(&f.out());
    assert_eq!(got["t::pass1"], (Status::Passed, 1));
    assert_eq!(got["t::pass2"], (Status::Passed, 1));
    assert_eq!(got["t::crash1"].0, Status::Errored);
    for t in ["t::pass3", "t::pass4"] {
        assert_eq!(got[t].0, Status::Flaky, "{t}: {got:?}");
    }
    // Alone, it still took the framework down: that is a crash of this test, not a
    // result the framework lost.
    assert_eq!(category(&outcome, "crash1"), Some("crash"));
    assert_eq!(outcome.counts.lost, 0);
    // Alone, it crashed twice: its one retry was spent there, not in the groups.
    let junit = fs::read_to_string(f.out().join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"<error message="the framework was killed by signal 9 (SIGKILL) while running this test alone" type="crash">"#),
        "{junit}"
    );
}

#[test]
fn a_hanging_test_is_killed_with_its_whole_process_group() {
    let f = Fixture::new();
    let mut o = f.options(&["hang1"], &[]);
    o.test_timeout = Some(Duration::from_secs(1));
    let started = Instant::now();
    let outcome = run(o);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    expect(&f.out(), &[("hang1", Status::Errored, 1)]);
    assert_eq!(category(&outcome, "hang1"), Some("timeout"));
    let pid: i32 = fs::read_to_string(f.state().join("hang1.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(dead(pid), "the grandchild sleep {pid} survived");
    let timeline = json(&f.out().join("timeline.json"));
    assert_eq!(timeline["invocations"][0]["stopped"], "timeout");
}

#[test]
fn a_hang_inside_a_batch_is_caught_by_the_per_test_timeout() {
    let f = Fixture::new();
    let mut o = f.options(&["pass1", "hang1", "pass2"], &[]);
    o.test_timeout = Some(Duration::from_secs(1));
    o.invocation_timeout = Some(Duration::from_secs(20));
    let started = Instant::now();
    let outcome = run(o);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    // pass1 was written before the hang. hang1 and pass2 were stopped together and
    // run again apart: hang1 timed out alone, pass2 passed. Being stopped for
    // another test's timeout is not an attempt: pass2 passed the first time it
    // had a chance.
    expect(
        &f.out(),
        &[
            ("pass1", Status::Passed, 1),
            ("hang1", Status::Errored, 1),
            ("pass2", Status::Passed, 1),
        ],
    );
    assert_eq!(category(&outcome, "hang1"), Some("timeout"));
    let timeline = json(&f.out().join("timeline.json"));
    assert_eq!(timeline["invocations"][0]["stopped"], "idle-timeout");
    let interrupted: Vec<&str> = timeline["interrupted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(interrupted, vec!["t::hang1", "t::pass2"]);
}

#[test]
fn a_framework_that_reports_the_hung_test_keeps_every_other_result() {
    // Like cargo-nextest: on SIGINT it reports the test it was running as aborted
    // by the signal. That test is the one that timed out; the rest run again.
    let f = Fixture::new();
    let mut o = f.options(&["pass1", "hangreport1", "pass2"], &[]);
    o.test_timeout = Some(Duration::from_secs(1));
    o.retries = 1;
    let outcome = run(o);
    expect(
        &f.out(),
        &[
            ("pass1", Status::Passed, 1),
            ("hangreport1", Status::Errored, 2),
            ("pass2", Status::Passed, 1),
        ],
    );
    assert_eq!(category(&outcome, "hangreport1"), Some("timeout"));
    let junit = fs::read_to_string(f.out().join("junit.xml")).unwrap();
    assert!(
        junit.contains("timeout: the invocation made no progress for 1s (no output, no results) and was stopped; the framework reported: process aborted with signal 2 (SIGINT)"),
        "{junit}"
    );
    let pid: i32 = fs::read_to_string(f.state().join("hangreport1.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(dead(pid), "the grandchild sleep {pid} survived");
}

/// Whether a process is gone (or a zombie nobody reaped yet).
fn dead(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Peak resident memory of this test process, in MB.
fn peak_rss_mb() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        / 1024
}

#[test]
fn a_test_printing_100_mb_goes_to_the_log_not_to_memory() {
    // Peak memory is per process, and other tests of this binary run beside this
    // one (a panicking one alone takes 100 MB for its backtrace): measure in a
    // process of its own.
    if std::env::var_os("DTF_ENGINE_MEMORY_CHILD").is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_test_printing_100_mb_goes_to_the_log_not_to_memory",
                "--test-threads=1",
            ])
            .env("DTF_ENGINE_MEMORY_CHILD", "1")
            .status()
            .unwrap();
        assert!(status.success());
        return;
    }
    let f = Fixture::new();
    let o = f.options(&["big1", "pass1"], &[]);
    let outcome = run(o);
    expect(
        &f.out(),
        &[("big1", Status::Passed, 1), ("pass1", Status::Passed, 1)],
    );
    let log = f.out().join("logs/inv-0001.stdout.log");
    assert_eq!(fs::metadata(&log).unwrap().len(), 100 << 20);
    // The bundle holds it too, and packing streamed it.
    assert!(outcome.files.bundle.is_some());
    let peak = peak_rss_mb();
    assert!(peak < 40, "peak memory {peak} MB");
}

#[test]
fn transient_failures_are_retried_and_assertions_only_with_retry_failed() {
    let f = Fixture::new();
    let mut o = f.options(&["net1", "fail1"], &[]);
    o.retries = 2;
    let outcome = run(o);
    expect(
        &f.out(),
        &[("net1", Status::Flaky, 2), ("fail1", Status::Failed, 1)],
    );
    assert_eq!(category(&outcome, "net1"), Some("infrastructure"));
    // Only net1 ran again.
    assert_eq!(outcome.invocations, 2);

    let f = Fixture::new();
    let mut o = f.options(&["fail1"], &[]);
    o.retries = 2;
    o.retry_failed = true;
    run(o);
    expect(&f.out(), &[("fail1", Status::Failed, 3)]);
}

#[test]
fn a_test_the_framework_never_reports_is_lost_after_its_retries() {
    let f = Fixture::new();
    let mut o = f.options(&["pass1", "missing1"], &[]);
    o.retries = 1;
    let outcome = run(o);
    expect(
        &f.out(),
        &[
            ("pass1", Status::Passed, 1),
            ("missing1", Status::Errored, 2),
        ],
    );
    assert_eq!(outcome.counts.lost, 1);
    let junit = fs::read_to_string(f.out().join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"message="no result: the framework exited with code 0 without reporting this test" type="lost""#),
        "{junit}"
    );
}

#[test]
fn cancellation_stops_the_children_and_writes_partial_results() {
    let f = Fixture::new();
    let mut o = f.options(&["pass1", "hangreport1", "pass2"], &[1, 1, 1]);
    let cancel = Arc::new(AtomicBool::new(false));
    o.cancel = cancel.clone();
    let state = f.state();
    let setter = std::thread::spawn(move || {
        // Cancel once the hanging test is running.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !state.join("hangreport1.pid").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        cancel.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let outcome = run(o);
    setter.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(outcome.partial && outcome.cancelled);
    // hangreport1 "failed" only because dtf interrupted it: it has no result.
    assert_eq!(outcome.not_run, vec!["t::hangreport1", "t::pass2"]);
    expect(&f.out(), &[("pass1", Status::Passed, 1)]);
    let junit = fs::read_to_string(f.out().join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<property name="dtf.partial" value="true"/>"#));
    let shard = json(&f.out().join("shard-summary.json"));
    assert_eq!(shard["partial"], true);
    assert_eq!(shard["counts"]["not_run"], 2);
    let pid: i32 = fs::read_to_string(f.state().join("hangreport1.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(dead(pid));
}

#[test]
fn an_unwritable_results_folder_fails_before_anything_runs() {
    let f = Fixture::new();
    fs::write(f.dir.path().join("file"), "x").unwrap();
    let mut o = f.options(&["pass1"], &[]);
    o.out_dir = f.dir.path().join("file/results");
    let e = ShardRun::new(o).run().unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("is not writable"), "{msg}");
    assert!(msg.contains("file/results"), "{msg}");
    assert!(!f.state().join("pass1.count").exists(), "a test ran");
}

#[test]
fn a_results_folder_that_goes_away_mid_run_keeps_results_in_memory() {
    let f = Fixture::new();
    let o = f.options(&["slow1", "slow2"], &[1, 1]);
    let out = f.out();
    let state = f.state();
    let breaker = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !state.join("slow1.count").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The folder becomes a file: nothing can be written under it any more.
        fs::remove_dir_all(&out).unwrap();
        fs::write(&out, "in the way").unwrap();
    });
    let outcome = run(o);
    breaker.join().unwrap();
    assert_eq!(outcome.counts.passed, 2, "{outcome:?}");
    assert!(outcome.files.junit.is_none());
    assert!(!outcome.problems.is_empty());
    assert!(!outcome.success());
}

#[test]
fn parallel_slots_and_resources() {
    // Four units of 0.3 s on two slots: both slots used, at the same time, and
    // never more than two at once.
    let f = Fixture::new();
    let mut o = f.options(&["slow1", "slow2", "slow3", "slow4"], &[1, 1, 1, 1]);
    o.mode = Parallelism::MaxParallel(2);
    let outcome = run(o);
    assert_eq!(outcome.counts.passed, 4);
    let timeline = json(&f.out().join("timeline.json"));
    let spans: Vec<(u64, f64, f64)> = timeline["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["slot"].as_u64().unwrap(),
                i["start_s"].as_f64().unwrap(),
                i["end_s"].as_f64().unwrap(),
            )
        })
        .collect();
    let mut slots: Vec<u64> = spans.iter().map(|s| s.0).collect();
    slots.sort_unstable();
    slots.dedup();
    assert_eq!(slots, vec![0, 1]);
    let running_at = |t: f64| spans.iter().filter(|s| s.1 <= t && t < s.2).count();
    let most = spans.iter().map(|s| running_at(s.1)).max().unwrap();
    assert_eq!(most, 2, "{spans:?}");

    // Two GPU tests on a one-GPU machine never overlap, even with free slots.
    let f = Fixture::new();
    let mut o = f.options(&["slow1", "slow2", "slow3"], &[1, 1, 1]);
    let gpu = Resources {
        memory_mb: 0,
        gpus: 1,
    };
    o.mode = Parallelism::ResourceAware {
        slots: 3,
        capacity: Resources {
            memory_mb: 0,
            gpus: 1,
        },
        needs: [("t::slow1".to_owned(), gpu), ("t::slow2".to_owned(), gpu)]
            .into_iter()
            .collect(),
    };
    run(o);
    let timeline = json(&f.out().join("timeline.json"));
    let span = |id: &str| {
        let t = timeline["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone();
        (t["start_s"].as_f64().unwrap(), t["end_s"].as_f64().unwrap())
    };
    let (a, b, c) = (span("t::slow1"), span("t::slow2"), span("t::slow3"));
    assert!(a.1 <= b.0 || b.1 <= a.0, "GPU tests overlap: {a:?} {b:?}");
    // The test without needs ran beside the first GPU test.
    assert!(c.0 < a.1.max(b.1), "{a:?} {b:?} {c:?}");
}

/// Records every event and the final progress.
struct Events(Arc<std::sync::Mutex<Vec<String>>>);

impl StatusSink for Events {
    fn event(&mut self, event: &Event<'_>, progress: &Progress) {
        let line = match event {
            Event::Started { total, .. } => format!("started {total}"),
            Event::TestFinished {
                id, outcome, last, ..
            } => format!("{id} {outcome} last={last}"),
            Event::Retrying { ids, attempt, .. } => {
                format!("retry {} attempt {attempt}", ids.join(","))
            }
            Event::Finished { partial } => {
                format!("finished partial={partial} {}", progress.line())
            }
            _ => return,
        };
        self.0.lock().unwrap().push(line);
    }
}

#[test]
fn the_sink_hears_every_attempt() {
    let f = Fixture::new();
    let mut o = f.options(&["net1", "pass1"], &[]);
    o.retries = 1;
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    ShardRun::new(o)
        .with_sink(Box::new(Events(events.clone())))
        .run()
        .unwrap();
    let got = events.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![
            "started 2",
            "t::net1 errored last=false",
            "t::pass1 passed last=true",
            "retry t::net1 attempt 2",
            "t::net1 passed last=true",
            "finished partial=false shard 1: 2/2 done, 1 flaky, 1 retried",
        ]
    );
}

#[test]
fn a_status_file_that_cannot_be_written_is_reported_once() {
    let f = Fixture::new();
    let mut o = f.options(&["slow1", "slow2", "slow3"], &[1, 1, 1]);
    o.status_file = Some(f.dir.path().join("no/such/folder/status.json"));
    let outcome = run(o);
    assert_eq!(outcome.counts.passed, 3);
    let said: Vec<&String> = outcome
        .problems
        .iter()
        .filter(|p| p.starts_with("cannot write the status file"))
        .collect();
    assert_eq!(said.len(), 1, "{:?}", outcome.problems);
}
