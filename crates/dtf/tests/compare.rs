//! End-to-end: `dtf compare` and `dtf report --baseline/--db` with the real binary, on
//! small crafted builds where every test's change is known: a summary, JUnit and a
//! history as the baseline, the exit codes, and the comment's size budget.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Variables of CI providers that must not leak from the machine running the tests.
const CI_MARKERS: [&str; 5] = [
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "JENKINS_URL",
    "TF_BUILD",
    "DTF_PROVIDER",
];

fn dtf(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dtf"));
    cmd.args(args).current_dir(dir);
    for v in CI_MARKERS {
        cmd.env_remove(v);
    }
    cmd.output().expect("dtf runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    o
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON")
}

/// One JUnit file of tests in class `t`: `(name, outcome, seconds)` with outcome
/// `pass`, `fail`, `error` or `skip`.
fn junit(dir: &Path, file: &str, cases: &[(&str, &str, f64)]) -> String {
    let mut xml = String::from("<testsuites>\n<testsuite name=\"unit\">\n");
    for (name, outcome, seconds) in cases {
        let body = match *outcome {
            "pass" => String::new(),
            "fail" => format!("<failure message=\"AssertionError: {name} broke\"/>"),
            "error" => "<error message=\"ConnectionRefusedError: [Errno 111]\"/>".to_owned(),
            "skip" => "<skipped/>".to_owned(),
            other => panic!("outcome {other}"),
        };
        xml.push_str(&format!(
            "<testcase classname=\"t\" name=\"{name}\" time=\"{seconds}\">{body}</testcase>\n"
        ));
    }
    xml.push_str("</testsuite>\n</testsuites>\n");
    std::fs::write(dir.join(file), xml).expect("write");
    file.to_owned()
}

/// `main`'s build `k` (1 to 3): `flip` fails in builds 1 and 3, `c` and `d` always.
fn main_build(dir: &Path, k: u32) -> String {
    let flip = if k == 2 { "pass" } else { "fail" };
    junit(
        dir,
        &format!("main-{k}.xml"),
        &[
            ("a", "pass", 1.0),
            ("b", "pass", 0.5),
            ("c", "fail", 0.1),
            ("d", "fail", 0.1),
            ("e", "pass", 0.3),
            ("gone", "pass", 0.2),
            ("flip", flip, 0.1),
            ("skip", "skip", 0.0),
            ("retry", "pass", 0.1),
        ],
    )
}

/// This build: `now.xml`, then `rerun.xml` where `retry` passes on its second attempt.
fn this_build(dir: &Path) -> [String; 2] {
    [
        junit(
            dir,
            "now.xml",
            &[
                ("a", "pass", 1.0),
                ("b", "fail", 0.5),
                ("c", "pass", 0.1),
                ("d", "fail", 0.1),
                ("e", "skip", 0.0),
                ("new", "pass", 0.2),
                ("flip", "pass", 0.1),
                ("skip", "skip", 0.0),
                ("later", "skip", 0.0),
                ("retry", "error", 0.1),
            ],
        ),
        junit(dir, "rerun.xml", &[("retry", "pass", 0.1)]),
    ]
}

/// The comparison's changes as `change: ids` lines, in its own order.
fn changes(c: &Value) -> Vec<String> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for t in c["tests"].as_array().expect("tests") {
        let change = t["change"].as_str().expect("change").to_owned();
        let id = t["id"].as_str().expect("id").to_owned();
        match out.last_mut() {
            Some((c, ids)) if *c == change => ids.push(id),
            _ => out.push((change, vec![id])),
        }
    }
    out.into_iter()
        .map(|(c, ids)| format!("{c}: {}", ids.join(" ")))
        .collect()
}

fn compare_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["compare", "--json", "c.json"];
    all.extend_from_slice(args);
    all.extend(["now.xml", "rerun.xml"]);
    ok(dtf(dir, &all));
    let c = json(&dir.join("c.json"));
    assert_eq!(c["schema"], "dtf.comparison.v1");
    c
}

#[test]
fn a_junit_baseline_lists_every_change() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    this_build(dir);
    let base = main_build(dir, 3);
    let c = compare_json(dir, &["--baseline", &base]);
    // Without a history, one flip is not flaky: `flip` failed in the baseline and
    // passes now, so it is fixed.
    assert_eq!(
        changes(&c),
        [
            "new_failure: t::b",
            "still_failing: t::d",
            "fixed: t::c t::flip",
            "new: t::later t::new",
            "removed: t::gone",
            "newly_skipped: t::e",
            "flaky: t::retry",
        ]
    );
    assert_eq!(c["baseline_totals"]["tests"], 9);
    assert_eq!(c["totals"]["tests"], 10);
}

#[test]
fn a_summary_baseline_names_only_some_tests() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    this_build(dir);
    let base = main_build(dir, 3);
    ok(dtf(dir, &["merge", "--json", "main.json", &base]));
    let c = compare_json(dir, &["--baseline", "main.json"]);
    // A summary lists failures and the slowest tests: what it does not name passed
    // there, so nothing is new or removed, and `later` (skipped now, never listed)
    // is not called newly skipped.
    assert_eq!(
        changes(&c),
        [
            "new_failure: t::b",
            "still_failing: t::d",
            "fixed: t::c t::flip",
            "newly_skipped: t::e",
            "flaky: t::retry",
        ]
    );
    // The headline's counts are the summary's own, not those of the tests it lists.
    assert_eq!(c["baseline_totals"]["tests"], 9);
    assert_eq!(c["baseline_totals"]["failed"], 3);
}

#[test]
fn a_history_gives_the_baseline_flips_and_the_trend() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    this_build(dir);
    for k in 1..=3 {
        let file = main_build(dir, k);
        let (id, time) = (format!("b{k}"), format!("{}", 100 * k));
        ok(dtf(
            dir,
            &[
                "history",
                "ingest",
                "--db",
                "h.db",
                "--build-id",
                &id,
                "--branch",
                "main",
                "--time",
                &time,
                &file,
            ],
        ));
    }
    let expected = [
        "new_failure: t::b",
        "still_failing: t::d",
        "fixed: t::c",
        "new: t::later t::new",
        "removed: t::gone",
        "newly_skipped: t::e",
        "flaky: t::flip t::retry",
    ];
    let c = compare_json(
        dir,
        &["--db", "h.db", "--build-id", "pr-1", "--time", "400"],
    );
    assert_eq!(changes(&c), expected);
    assert_eq!(c["baseline"]["build_id"], "b3");
    let trend: Vec<&str> = c["trend"]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["build_id"].as_str().expect("id"))
        .collect();
    assert_eq!(trend, ["b1", "b2", "b3", "pr-1"]);
    let flip = c["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .find(|t| t["id"] == "t::flip")
        .expect("flip");
    // F, P, F in the history and P now: two flips in four runs.
    assert_eq!(flip["flip_rate"], 0.5);

    // The summary on standard output.
    let o = ok(dtf(
        dir,
        &[
            "compare",
            "--db",
            "h.db",
            "--build-id",
            "pr-1",
            "--time",
            "400",
            "now.xml",
            "rerun.xml",
        ],
    ));
    let text = stdout(&o);
    assert!(
        text.contains("10 tests: 4 passed, 2 failed, 0 errored, 3 skipped, 1 flaky"),
        "{text}"
    );
    assert!(
        text.contains("1 new failure, 1 still failing, 1 fixed, 2 flaky"),
        "{text}"
    );
    assert!(
        text.contains("new failure: t::b: AssertionError: b broke"),
        "{text}"
    );

    // This build in the history already, even on the base branch itself (a push to
    // main), is never its own baseline.
    ok(dtf(
        dir,
        &[
            "history",
            "ingest",
            "--db",
            "h.db",
            "--build-id",
            "b4",
            "--branch",
            "main",
            "--time",
            "400",
            "now.xml",
            "rerun.xml",
        ],
    ));
    let c = compare_json(
        dir,
        &["--db", "h.db", "--build-id", "b4", "--build-branch", "main"],
    );
    assert_eq!(changes(&c), expected);
    assert_eq!(c["baseline"]["build_id"], "b3");
    // Another branch's builds are not the baseline of a pull request into main.
    let c = compare_json(
        dir,
        &["--db", "h.db", "--branch", "main", "--build-id", "pr-2"],
    );
    assert_eq!(c["baseline"]["build_id"], "b4");

    // A history that does not exist yet is a first build.
    let c = compare_json(dir, &["--db", "none.db"]);
    assert!(c["baseline"].is_null());
    assert!(
        !dir.join("none.db").exists(),
        "compare does not create a history"
    );
}

/// Runs a command and checks its exit code and that stderr says what is wrong.
fn check_exit(dir: &Path, args: &[&str], code: i32, says: &[&str]) {
    let o = dtf(dir, args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    for s in says {
        assert!(err.contains(s), "{args:?}: {err:?} should contain {s:?}");
    }
}

#[test]
fn exit_codes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    this_build(dir);
    let base = main_build(dir, 3);
    let good = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["compare".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(["now.xml".into(), "rerun.xml".into()]);
        v
    };
    let run = |args: &[String], code: i32, says: &[&str]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check_exit(dir, &args, code, says);
    };
    run(&good(&["--baseline", &base]), 0, &[]);
    run(
        &good(&["--baseline", &base, "--fail-on-new-failures"]),
        1,
        &[],
    );
    // Failing only where the baseline failed too is not new.
    junit(dir, "same.xml", &[("d", "fail", 0.1)]);
    check_exit(
        dir,
        &[
            "compare",
            "--baseline",
            &base,
            "--fail-on-new-failures",
            "same.xml",
        ],
        0,
        &[],
    );

    // Histories that cannot be read: named, exit 3, left as they were.
    ok(dtf(
        dir,
        &[
            "history", "ingest", "--db", "h.db", "--branch", "main", &base,
        ],
    ));
    let whole = std::fs::read(dir.join("h.db")).expect("read");
    std::fs::write(dir.join("cut.db"), &whole[..whole.len() / 2]).expect("write");
    std::fs::write(dir.join("junk.db"), b"this is not a database at all").expect("write");
    for (db, says) in [("cut.db", "corrupt"), ("junk.db", "not a SQLite database")] {
        let before = std::fs::read(dir.join(db)).expect("read");
        run(&good(&["--db", db]), 3, &[db, says]);
        let out = format!("out-{db}");
        check_exit(
            dir,
            &["report", "-o", &out, "--db", db, "now.xml", "rerun.xml"],
            3,
            &[db, says],
        );
        // The merge succeeded: its reports are written all the same.
        for file in ["summary.md", "report.html", "junit.xml", "summary.json"] {
            assert!(dir.join(&out).join(file).is_file(), "{db}: {file}");
        }
        assert_eq!(std::fs::read(dir.join(db)).expect("read"), before, "{db}");
    }

    // Baselines that cannot be read.
    std::fs::write(dir.join("bad.xml"), b"garbage, not XML").expect("write");
    run(
        &good(&["--baseline", "bad.xml"]),
        3,
        &["baseline", "bad.xml"],
    );
    std::fs::write(dir.join("other.json"), br#"{"schema": "dtf.plan.v1"}"#).expect("write");
    run(
        &good(&["--baseline", "other.json"]),
        3,
        &["other.json", "dtf.summary.v1"],
    );
    std::fs::write(dir.join("broken.json"), b"{\"schema\": ").expect("write");
    run(&good(&["--baseline", "broken.json"]), 3, &["broken.json"]);
    run(&good(&["--baseline", "missing.xml"]), 3, &["missing.xml"]);

    // Outputs that cannot be written.
    run(
        &good(&["--baseline", &base, "--json", "junk.db/c.json"]),
        4,
        &["junk.db/c.json"],
    );
    run(
        &good(&["--baseline", &base, "--comment", "junk.db/c.md"]),
        4,
        &["junk.db/c.md"],
    );

    // Usage: something to compare against, and a budget that is a number.
    check_exit(dir, &["compare", "now.xml"], 2, &["--baseline"]);
    run(&good(&["--baseline", &base, "--budget", "lots"]), 2, &[]);
}

#[test]
fn the_comment_fits_its_budget() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    this_build(dir);
    let base = main_build(dir, 3);
    ok(dtf(
        dir,
        &[
            "compare",
            "--baseline",
            &base,
            "--comment",
            "c.md",
            "--marker-key",
            "pr 7",
            "now.xml",
            "rerun.xml",
        ],
    ));
    let text = std::fs::read_to_string(dir.join("c.md")).expect("comment");
    assert!(text.starts_with("<!-- dtf:report:pr_7 -->\n"), "{text}");
    assert!(text.contains("t::b"), "{text}");

    // Thousands of new failures with long names: whole Markdown, within the budget.
    let passing: Vec<(String, &str, f64)> = (0..3000)
        .map(|i| (format!("case_{i:04}_{}", "x".repeat(120)), "pass", 0.01))
        .collect();
    let failing: Vec<(String, &str, f64)> = passing
        .iter()
        .map(|(n, _, s)| (n.clone(), "fail", *s))
        .collect();
    let borrow = |v: &[(String, &str, f64)]| -> Vec<(String, String, f64)> {
        v.iter()
            .map(|(n, o, s)| (n.clone(), o.to_string(), *s))
            .collect()
    };
    for (file, cases) in [
        ("green.xml", borrow(&passing)),
        ("red.xml", borrow(&failing)),
    ] {
        let cases: Vec<(&str, &str, f64)> = cases
            .iter()
            .map(|(n, o, s)| (n.as_str(), o.as_str(), *s))
            .collect();
        junit(dir, file, &cases);
    }
    for budget in ["github", "5000"] {
        let o = ok(dtf(
            dir,
            &[
                "compare",
                "--baseline",
                "green.xml",
                "--markdown",
                "--comment",
                "big.md",
                "--budget",
                budget,
                "red.xml",
            ],
        ));
        let text = std::fs::read_to_string(dir.join("big.md")).expect("comment");
        assert_eq!(stdout(&o), text, "--markdown prints the comment");
        let limit = if budget == "github" { 65_536 } else { 5_000 };
        let chars = text.chars().count();
        assert!(chars <= limit, "{budget}: {chars} characters");
        assert!(text.starts_with("<!-- dtf:report -->\n"));
        assert!(text.contains("3,000"), "the headline counts them all");
        assert!(text.contains("more"), "what is left out is counted");
        assert_eq!(text.matches("```").count() % 2, 0, "no open code fence");
        assert_eq!(
            text.matches("<details>").count(),
            text.matches("</details>").count()
        );
    }
}

#[test]
fn report_shows_the_comparison() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    this_build(dir);
    let base = main_build(dir, 3);
    ok(dtf(dir, &["merge", "--json", "main.json", &base]));
    ok(dtf(
        dir,
        &[
            "report",
            "-o",
            "out",
            "--baseline",
            "main.json",
            "--title",
            "unit",
            "now.xml",
            "rerun.xml",
        ],
    ));
    let out = dir.join("out");
    let md = std::fs::read_to_string(out.join("summary.md")).expect("md");
    assert!(md.contains("### Compared with"), "{md}");
    assert!(md.contains("**New failures**"), "{md}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("html");
    assert!(html.contains("Compared with"), "the HTML report too");
    assert_eq!(
        json(&out.join("comparison.json"))["schema"],
        "dtf.comparison.v1"
    );
    let comment = std::fs::read_to_string(out.join("comment.md")).expect("comment");
    assert!(comment.starts_with("<!-- dtf:report -->"), "{comment}");
    assert!(
        comment.contains("unit"),
        "the reports' title heads the comment"
    );

    // With a history and named queries: the trend and the tables.
    for k in 1..=3 {
        let file = main_build(dir, k);
        let time = format!("{}", 100 * k);
        ok(dtf(
            dir,
            &[
                "history",
                "ingest",
                "--db",
                "h.db",
                "--branch",
                "main",
                "--build-id",
                &format!("b{k}"),
                "--time",
                &time,
                &file,
            ],
        ));
    }
    std::fs::write(
        dir.join("dtf.toml"),
        "[[query]]\nname = \"failing\"\ntitle = \"Failures per test\"\n\
         sql = \"SELECT test_id, count(*) AS n FROM results WHERE status = 'failed' \
         GROUP BY test_id ORDER BY n DESC, test_id\"\n",
    )
    .expect("write");
    ok(dtf(
        dir,
        &[
            "report",
            "-o",
            "out2",
            "--db",
            "h.db",
            "--config",
            "dtf.toml",
            "now.xml",
            "rerun.xml",
        ],
    ));
    let md = std::fs::read_to_string(dir.join("out2/summary.md")).expect("md");
    assert!(md.contains("**Trend** (last 4 builds)"), "{md}");
    assert!(md.contains("### Failures per test"), "{md}");
    let comment = std::fs::read_to_string(dir.join("out2/comment.md")).expect("comment");
    assert!(comment.contains("Failures per test"), "{comment}");

    // A bad query is named.
    std::fs::write(
        dir.join("bad.toml"),
        "[[query]]\nname = \"oops\"\nsql = \"SELECT nope FROM results\"\n",
    )
    .expect("write");
    check_exit(
        dir,
        &[
            "report", "-o", "out3", "--db", "h.db", "--config", "bad.toml", "now.xml",
        ],
        3,
        &["oops", "nope"],
    );

    // Without a baseline nothing is compared.
    ok(dtf(dir, &["report", "-o", "plain", "now.xml"]));
    assert!(!dir.join("plain/comparison.json").exists());
    assert!(!dir.join("plain/comment.md").exists());
}

#[test]
fn help_has_examples() {
    let tmp = tempfile::tempdir().expect("tmp");
    for cmd in [["compare", "--help"], ["report", "--help"]] {
        let o = ok(dtf(tmp.path(), &cmd));
        let text = stdout(&o);
        assert!(text.contains("Examples:"), "{cmd:?}: {text}");
        assert!(text.contains("--baseline"), "{cmd:?}: {text}");
    }
}
