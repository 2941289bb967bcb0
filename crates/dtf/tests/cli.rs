//! End-to-end: the real `dtf` binary on real files, every output compared.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn dtf(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dtf"))
        .args(args)
        .current_dir(dir)
        // A CI machine's own variables must not leak into what is compared.
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("JENKINS_URL")
        .env_remove("TF_BUILD")
        .output()
        .expect("dtf runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/junit")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON")
}

fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn demo_writes_every_report() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = dtf(tmp.path(), &["demo", "-o", "out"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.trim().ends_with("out"),
        "prints where it wrote: {shown}"
    );
    let report = tmp.path().join("out/report");
    for f in ["summary.md", "report.html", "junit.xml", "summary.json"] {
        assert!(report.join(f).is_file(), "{f} written");
    }
    let summary = json(&report.join("summary.json"));
    assert_eq!(summary["schema"], "dtf.summary.v1");
    let t = &summary["totals"];
    assert_eq!(
        (t["tests"].as_u64(), t["cases"].as_u64()),
        (Some(52), Some(56))
    );
    let parts: u64 = ["passed", "failed", "errored", "skipped", "flaky"]
        .iter()
        .map(|k| t[k].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(parts, 52);
    // The demo really runs its shards: times and the order of attempts vary from run
    // to run, verdicts and counts do not.
    insta::with_settings!({filters => vec![
        (r"\d+(\.\d+)?(ms|s)\b", "[time]"),
        (r"\d+m \d+s", "[time]"),
        (r"/[^\s\x22]*/out/", "[out]/"),
    ]}, {
        insta::assert_json_snapshot!("demo_summary", summary, {
            ".**.duration_s" => "[seconds]",
            ".inputs[].bytes" => "[bytes]",
            ".slowest" => "[slowest]",
        });
        let md = std::fs::read_to_string(report.join("summary.md")).expect("md");
        insta::assert_snapshot!("demo_summary_md", md);
    });
    // The merged JUnit reads back to the same verdicts.
    let again = dtf(
        tmp.path(),
        &["merge", "--json", "again.json", "out/report/junit.xml"],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    let again = json(&tmp.path().join("again.json"));
    for k in ["tests", "passed", "failed", "errored", "skipped", "flaky"] {
        assert_eq!(again["totals"][k], t[k], "{k} after a second merge");
    }
    // Each shard's bundle verifies, and its run left a timeline.
    for k in 1..=3 {
        let v = dtf(
            tmp.path(),
            &[
                "artifacts",
                "verify",
                &format!("out/shard-{k}/dtf-shard-{k}.zip"),
            ],
        );
        assert!(v.status.success(), "shard {k}: {}", stderr(&v));
        assert!(
            tmp.path()
                .join(format!("out/shard-{k}/timeline.json"))
                .is_file()
        );
    }
    let html = std::fs::read_to_string(report.join("report.html")).expect("html");
    assert!(
        html.contains("Timeline"),
        "the report draws the runs' timeline"
    );

    // The build joins main's history and is compared with it, as a pull request's
    // comment would show it: every kind of change, decided the same way every time.
    assert!(tmp.path().join("out/history.db").is_file());
    let c = json(&report.join("comparison.json"));
    assert_eq!(c["schema"], "dtf.comparison.v1");
    assert_eq!(
        (&c["build"]["build_id"], &c["baseline"]["branch"]),
        (&Value::from("demo"), &Value::from("main"))
    );
    let mut changes = std::collections::BTreeMap::new();
    for t in c["tests"].as_array().expect("tests") {
        let change = t["change"].as_str().expect("change").to_owned();
        changes
            .entry(change)
            .or_insert_with(Vec::new)
            .push(t["id"].as_str().expect("id").to_owned());
    }
    let ids = |change: &str| changes.get(change).cloned().unwrap_or_default();
    assert_eq!(
        ids("new_failure"),
        [
            "tests.test_checkout::test_card_declined",
            "tests.test_inventory::test_concurrent_reservations"
        ]
    );
    assert_eq!(
        ids("still_failing"),
        ["tests.integration.test_search_index::test_reindex"]
    );
    assert_eq!(ids("fixed"), ["tests.test_cart::test_currency_rounding"]);
    assert_eq!(ids("new"), ["tests.test_checkout::test_split_payment"]);
    assert_eq!(
        ids("removed"),
        ["tests.test_checkout::test_legacy_coupon_codes"]
    );
    assert_eq!(
        ids("newly_skipped"),
        ["tests.test_catalog::test_search_typo_tolerance"]
    );
    assert_eq!(
        ids("flaky"),
        [
            "tests.integration.test_payments_api::test_retry_on_502",
            "tests.test_checkout::test_timeout_recovery"
        ]
    );
    let listed = |key: &str| -> Vec<String> {
        c[key]
            .as_array()
            .expect("list")
            .iter()
            .map(|d| d["id"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(
        listed("slower"),
        [
            "tests.test_checkout::test_happy_path",
            "tests.test_cart::test_update_quantity"
        ]
    );
    assert_eq!(
        listed("faster"),
        ["tests.test_checkout::test_3ds_challenge"]
    );
    assert_eq!(c["trend"]["points"].as_array().map(Vec::len), Some(9));
    let comment = std::fs::read_to_string(report.join("comment.md")).expect("comment");
    assert!(comment.starts_with("<!-- dtf:report -->"));
    // Unlike the summary, the comment shows only recorded times: no filter needed.
    insta::assert_snapshot!("demo_comment_md", comment);
}

#[test]
fn merging_every_dialect_at_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = fixtures();
    let out = dtf(
        tmp.path(),
        &[
            "merge",
            "--junit",
            "all.xml",
            "--json",
            "all.json",
            dir.to_str().expect("utf-8 path"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = json(&tmp.path().join("all.json"));
    let expected: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"),
    )
    .expect("JSON");
    let cases: u64 = expected
        .iter()
        .map(|e| e["cases"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(summary["totals"]["cases"].as_u64(), Some(cases));
    assert_eq!(
        summary["inputs"].as_array().map(Vec::len),
        Some(expected.len())
    );
}

#[test]
fn fail_on_failures_sets_exit_code_1() {
    let tmp = tempfile::tempdir().expect("tmp");
    let f = write(
        tmp.path(),
        "r.xml",
        br#"<testsuite name="s"><testcase classname="a" name="b"><failure message="no"/></testcase></testsuite>"#,
    );
    let path = f.to_str().expect("utf-8");
    assert_eq!(dtf(tmp.path(), &["merge", path]).status.code(), Some(0));
    assert_eq!(
        dtf(tmp.path(), &["merge", "--fail-on-failures", path])
            .status
            .code(),
        Some(1)
    );
}

/// Each bad input: exit code 3, an error naming the file and line:column, no panic.
#[test]
fn bad_inputs_are_located_and_exit_3() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cases: &[(&str, &[u8], &str)] = &[
        ("malformed.xml", b"<testsuite>\n<testcase name=\"a\">\n</testsuite>", "malformed.xml:3:1: malformed XML"),
        ("truncated.xml", b"<testsuite>\n<testcase name=\"a\">\n<failure>boom", "truncated.xml:3:14: unexpected end of file"),
        ("empty.xml", b"", "empty.xml:1:1: the file is empty"),
        ("latin1.xml", b"<testsuite name=\"caf\xe9\"/>", "latin1.xml:1:1: text that is not valid UTF-8"),
        ("html.xml", b"<html></html>", "html.xml:1:1: not a JUnit file"),
        (
            "bomb.xml",
            b"<!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>\n<testsuite name=\"&b;\"/>",
            "bomb.xml:2:1: entity `&b;` is not defined",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = write(tmp.path(), name, bytes);
        let out = dtf(tmp.path(), &["merge", path.to_str().expect("utf-8")]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{name}: {err}");
        assert!(
            err.contains(want),
            "{name}: {err:?} should contain {want:?}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    // A folder where a file should be, and a file that does not exist.
    std::fs::create_dir(tmp.path().join("dir.xml")).expect("mkdir");
    let out = dtf(tmp.path(), &["merge", "dir.xml/"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = dtf(tmp.path(), &["merge", "missing.xml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("missing.xml"), "{err}");
}

#[test]
fn keep_going_merges_the_good_and_lists_the_bad() {
    let tmp = tempfile::tempdir().expect("tmp");
    let good = write(
        tmp.path(),
        "good.xml",
        br#"<testsuite name="s"><testcase classname="a" name="ok"/><testcase classname="a" name="bad"><failure/></testcase></testsuite>"#,
    );
    let cut = write(
        tmp.path(),
        "cut.xml",
        b"<testsuite name=\"s\">\n<testcase classname=\"b\" name=\"kept\"/>\n<testcase classname=\"b\" name=\"lost\">",
    );
    let out = dtf(
        tmp.path(),
        &[
            "merge",
            "--keep-going",
            "--json",
            "s.json",
            "--junit",
            "m.xml",
            good.to_str().expect("utf-8"),
            cut.to_str().expect("utf-8"),
            "nothing-*.xml",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let s = json(&tmp.path().join("s.json"));
    assert_eq!(
        s["totals"]["tests"], 3,
        "two good tests and the one read before the cut"
    );
    let inputs = s["inputs"].as_array().expect("inputs");
    let errors: Vec<&str> = inputs.iter().filter_map(|i| i["error"].as_str()).collect();
    assert_eq!(errors.len(), 2, "{inputs:?}");
    assert!(
        errors.iter().any(|e| e.contains("cut.xml:3:")),
        "{errors:?}"
    );
    assert!(
        inputs.iter().any(|i| i["source"] == "nothing-*.xml"),
        "{inputs:?}"
    );
    let merged = std::fs::read_to_string(tmp.path().join("m.xml")).expect("merged junit");
    assert!(merged.contains("name=\"kept\""));
}

#[test]
fn retries_across_files_are_attempts() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = write(
        tmp.path(),
        "a.xml",
        br#"<testsuite name="shard-1"><testcase classname="m" name="t" time="1"><failure message="first">trace 1</failure></testcase><testcase classname="m" name="u"><error message="x"/></testcase></testsuite>"#,
    );
    let b = write(
        tmp.path(),
        "b.xml",
        br#"<testsuite name="rerun"><testcase classname="m" name="t" time="2"/><testcase classname="m" name="u"><error message="y"/></testcase></testsuite>"#,
    );
    let out = dtf(
        tmp.path(),
        &[
            "merge",
            "--junit",
            "m.xml",
            "--json",
            "s.json",
            a.to_str().expect("utf-8"),
            b.to_str().expect("utf-8"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let s = json(&tmp.path().join("s.json"));
    assert_eq!(s["totals"]["flaky"], 1);
    assert_eq!(s["totals"]["errored"], 1);
    assert_eq!(s["totals"]["cases"], 4);
    assert_eq!(s["flaky"][0]["attempts"], 2);
    assert_eq!(s["flaky"][0]["message"], "first");
    assert_eq!(
        s["failures"][0]["message"], "y",
        "the last attempt decides the message"
    );
    let xml = std::fs::read_to_string(tmp.path().join("m.xml")).expect("junit");
    assert!(xml.contains("<flakyFailure message=\"first\""), "{xml}");
    assert!(xml.contains("<rerunError message=\"y\""), "{xml}");
    assert!(xml.contains("name=\"dtf.attempts\" value=\"2\""), "{xml}");
}

#[test]
fn tokens_never_reach_an_output() {
    let tmp = tempfile::tempdir().expect("tmp");
    let secret = "ghp_DTFTESTSECRET0123456789abcdefABCDEF";
    let f = write(
        tmp.path(),
        "r.xml",
        br#"<testsuite name="s"><testcase classname="a" name="b"><failure message="no"/></testcase></testsuite>"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_dtf"))
        .args(["report", "-o", "rep", f.to_str().expect("utf-8")])
        .current_dir(tmp.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_TOKEN", secret)
        .env("CI_JOB_TOKEN", secret)
        .env("SYSTEM_ACCESSTOKEN", secret)
        .env("GITHUB_REPOSITORY", "acme/shop")
        .output()
        .expect("dtf runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains(secret));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    for f in ["summary.md", "report.html", "junit.xml", "summary.json"] {
        let text = std::fs::read_to_string(tmp.path().join("rep").join(f)).expect("report");
        assert!(!text.contains(secret), "{f} holds the token");
    }
    let s = json(&tmp.path().join("rep/summary.json"));
    assert_eq!(s["build"]["provider"], "github");
    assert_eq!(s["build"]["repository"], "acme/shop");
}

#[test]
fn bundles_round_trip_and_tampering_is_found() {
    let tmp = tempfile::tempdir().expect("tmp");
    let results = tmp.path().join("results");
    std::fs::create_dir_all(results.join("logs")).expect("mkdir");
    std::fs::write(
        results.join("junit.xml"),
        br#"<testsuite name="s"><testcase classname="a" name="b"/></testsuite>"#,
    )
    .expect("write");
    std::fs::write(results.join("logs/run.log"), b"hello\n").expect("write");
    let pack = dtf(tmp.path(), &["artifacts", "pack", "results", "-o", "b.zip"]);
    assert!(pack.status.success(), "{}", stderr(&pack));
    let ls = dtf(tmp.path(), &["artifacts", "ls", "b.zip"]);
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(
        listing.contains("junit") && listing.contains("logs/run.log"),
        "{listing}"
    );
    assert_eq!(
        dtf(tmp.path(), &["artifacts", "verify", "b.zip"])
            .status
            .code(),
        Some(0)
    );
    let unpack = dtf(tmp.path(), &["artifacts", "unpack", "b.zip", "-d", "out"]);
    assert!(unpack.status.success(), "{}", stderr(&unpack));
    assert_eq!(
        std::fs::read(tmp.path().join("out/logs/run.log")).expect("unpacked"),
        b"hello\n"
    );
    // A bundle is a merge input.
    let merged = dtf(tmp.path(), &["merge", "--json", "s.json", "b.zip"]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    assert_eq!(json(&tmp.path().join("s.json"))["totals"]["tests"], 1);

    // Rewrite the zip with one file changed and one added: verify says which, exit 5.
    let src = std::fs::File::open(tmp.path().join("b.zip")).expect("open");
    let mut archive = zip::ZipArchive::new(src).expect("zip");
    let dst = std::fs::File::create(tmp.path().join("t.zip")).expect("create");
    let mut writer = zip::ZipWriter::new(dst);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let name = entry.name().expect("utf-8 name").to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).expect("read");
        if name == "logs/run.log" {
            bytes = b"tampered\n".to_vec();
        }
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        std::io::Write::write_all(&mut writer, &bytes).expect("write");
    }
    writer
        .start_file("extra.txt", zip::write::SimpleFileOptions::default())
        .expect("start");
    writer.finish().expect("finish");
    let v = dtf(tmp.path(), &["artifacts", "verify", "t.zip"]);
    let out = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(5), "{}", stderr(&v));
    assert!(out.contains("changed  logs/run.log"), "{out}");
    assert!(out.contains("extra    extra.txt"), "{out}");
}

#[test]
fn help_has_examples_on_every_command() {
    let tmp = tempfile::tempdir().expect("tmp");
    for cmd in [
        &["merge", "--help"][..],
        &["report", "--help"],
        &["demo", "--help"],
        &["artifacts", "pack", "--help"],
        &["artifacts", "verify", "--help"],
        &["artifacts", "ls", "--help"],
        &["artifacts", "unpack", "--help"],
        &["artifacts", "discover", "--help"],
    ] {
        let out = dtf(tmp.path(), cmd);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Examples:"), "{cmd:?}: {text}");
    }
    let out = dtf(tmp.path(), &["--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Exit codes:"));
    assert_eq!(
        dtf(tmp.path(), &["merge"]).status.code(),
        Some(2),
        "usage errors exit 2"
    );
}
