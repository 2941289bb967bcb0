//! End-to-end: `dtf history` and `dtf query` with the real binary on the example
//! shards, from ingest to export, import, prune, named queries and every error exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

/// Variables of CI providers that must not leak from the machine running the tests.
const CI_MARKERS: [&str; 5] = [
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "JENKINS_URL",
    "TF_BUILD",
    "DTF_PROVIDER",
];

fn dtf_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dtf"));
    cmd.args(args).current_dir(dir);
    for v in CI_MARKERS {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("dtf runs")
}

fn dtf(dir: &Path, args: &[&str]) -> Output {
    dtf_env(dir, args, &[])
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

fn shards() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shards")
}

fn shard(name: &str) -> String {
    shards().join(name).display().to_string()
}

fn ingest(dir: &Path, db: &str, id: &str, time: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "history",
        "ingest",
        "--db",
        db,
        "--build-id",
        id,
        "--branch",
        "main",
        "--commit",
        "c0ffee",
        "--time",
        time,
    ];
    args.extend_from_slice(extra);
    dtf(dir, &args)
}

fn query_json(dir: &Path, db: &str, sql: &str) -> Value {
    let o = ok(dtf(dir, &["query", "--db", db, "--format", "json", sql]));
    serde_json::from_str(&stdout(&o)).expect("query JSON")
}

fn list_ids(dir: &Path, db: &str) -> Vec<String> {
    let o = ok(dtf(dir, &["history", "list", "--db", db, "--json"]));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("list JSON");
    assert_eq!(v["schema"], "dtf.history-list.v1");
    v["builds"]
        .as_array()
        .expect("builds")
        .iter()
        .map(|b| {
            b["info"]["build_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn ingest_list_query_and_replace() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    // In run order: a folder would list rerun-1.xml first, before the runs it repeats.
    let files: Vec<String> = ["shard-1.xml", "shard-2.xml", "shard-3.xml", "rerun-1.xml"]
        .iter()
        .map(|f| shard(f))
        .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let o = ok(ingest(dir, "h.db", "b1", "1718000000", &files));
    let err = stderr(&o);
    assert!(err.contains("ingested build b1 (52 tests"), "{err}");

    let o = ok(dtf(dir, &["history", "list", "--db", "h.db", "--json"]));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let b = &v["builds"][0];
    assert_eq!(b["info"]["build_id"], "b1");
    assert_eq!(b["info"]["branch"], "main");
    assert_eq!(b["info"]["commit"], "c0ffee");
    assert_eq!(b["info"]["provider"], "local");
    assert_eq!(b["info"]["time_unix"], 1_718_000_000);
    let parts: u64 = ["passed", "failed", "errored", "skipped", "flaky"]
        .iter()
        .map(|k| b[k].as_u64().unwrap_or(0))
        .sum();
    assert_eq!((b["tests"].as_u64(), parts), (Some(52), 52));

    let table = stdout(&ok(dtf(dir, &["history", "list", "--db", "h.db"])));
    assert!(
        table.starts_with("build  branch  commit  time (UTC)"),
        "{table}"
    );
    assert!(
        table.contains("b1     main    c0ffee  2024-06-10 06:13"),
        "{table}"
    );

    // The flaky test of rerun-1.xml: failed in a shard, passed on the rerun.
    let flaky = query_json(
        dir,
        "h.db",
        "SELECT test_id, attempts, category, message IS NOT NULL AS has_message \
         FROM results WHERE status = 'flaky' ORDER BY test_id",
    );
    assert_eq!(flaky["schema"], "dtf.query.v1");
    let rows = flaky["rows"].as_array().expect("rows");
    assert!(!rows.is_empty());
    for r in rows {
        assert!(r[1].as_u64().unwrap_or(0) >= 2, "{r}");
        assert!(r[2].is_string(), "a flaky test has a category: {r}");
        assert_eq!(r[3], 1, "and the message of its failure: {r}");
    }
    let failed = query_json(
        dir,
        "h.db",
        "SELECT count(*) FROM results WHERE status IN ('failed', 'errored') AND category IS NULL",
    );
    assert_eq!(failed["rows"], json!([[0]]));

    // The same build id again: replaced, not added.
    let o = ok(ingest(
        dir,
        "h.db",
        "b1",
        "1718000000",
        &[&shard("shard-1.xml")],
    ));
    assert!(
        stderr(&o).contains("replaced build b1 (18 tests"),
        "{}",
        stderr(&o)
    );
    assert_eq!(list_ids(dir, "h.db"), ["b1"]);
    let n = query_json(dir, "h.db", "SELECT count(*) FROM results");
    assert_eq!(n["rows"], json!([[18]]));
}

#[test]
fn retention_export_import_and_prune() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    for (id, time) in [("b1", "100"), ("b2", "200"), ("b3", "300")] {
        ok(ingest(
            dir,
            "h.db",
            id,
            time,
            &["--keep-builds", "2", &shard("shard-2.xml")],
        ));
    }
    assert_eq!(list_ids(dir, "h.db"), ["b3", "b2"]);

    ok(dtf(
        dir,
        &["history", "export", "--db", "h.db", "-o", "h.jsonl"],
    ));
    let text = std::fs::read_to_string(dir.join("h.jsonl")).expect("export");
    let first: Value = serde_json::from_str(text.lines().next().expect("line")).expect("JSON");
    assert_eq!(first["schema"], "dtf.history-export.v1");
    assert_eq!(text.lines().count(), 3);
    let to_stdout = stdout(&ok(dtf(dir, &["history", "export", "--db", "h.db"])));
    assert_eq!(to_stdout, text);

    let o = ok(dtf(
        dir,
        &["history", "import", "--db", "copy.db", "h.jsonl"],
    ));
    assert!(stderr(&o).contains("imported 2 builds"), "{}", stderr(&o));
    ok(dtf(
        dir,
        &["history", "export", "--db", "copy.db", "-o", "copy.jsonl"],
    ));
    assert_eq!(
        std::fs::read_to_string(dir.join("copy.jsonl")).expect("copy"),
        text,
        "export, import, export gives the same text"
    );
    let o = ok(dtf(
        dir,
        &[
            "history",
            "import",
            "--db",
            "copy.db",
            "--skip-existing",
            "h.jsonl",
        ],
    ));
    assert!(stderr(&o).contains("2 skipped"), "{}", stderr(&o));

    let o = ok(dtf(
        dir,
        &["history", "prune", "--db", "copy.db", "--keep-builds", "1"],
    ));
    assert!(stderr(&o).contains("removed 1 builds"), "{}", stderr(&o));
    assert_eq!(list_ids(dir, "copy.db"), ["b3"]);
}

#[test]
fn bundles_and_a_plan_say_where_tests_ran() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    for (k, file, tags) in [(1, "shard-1.xml", "linux, gpu"), (2, "shard-2.xml", "")] {
        let folder = dir.join(format!("s{k}"));
        std::fs::create_dir(&folder).expect("mkdir");
        std::fs::copy(shards().join(file), folder.join("junit.xml")).expect("copy");
        let index = k.to_string();
        let zip = format!("s{k}.zip");
        let mut env = vec![
            ("DTF_SHARD_INDEX", index.as_str()),
            ("DTF_SHARD_TOTAL", "2"),
        ];
        if !tags.is_empty() {
            env.extend([("DTF_PROVIDER", "gitlab"), ("CI_RUNNER_TAGS", tags)]);
        }
        ok(dtf_env(
            dir,
            &["artifacts", "pack", &format!("s{k}"), "-o", &zip],
            &env,
        ));
    }
    let plan = json!({
        "schema": "dtf.plan.v1",
        "strategy": "timing",
        "shards": [
            {"index": 1, "pool": "gpu", "labels": ["gpu-label"], "wave": 0,
             "tests": ["tests.test_cart::test_add_item"], "predicted_s": 1.0},
            {"index": 2, "pool": "cpu", "labels": ["cpu-label"], "wave": 0,
             "tests": [], "predicted_s": 1.0}
        ],
        "totals": {"tests": 1, "shards": 2, "work_s": 1.0, "estimated": 0},
        "lower_bound_s": 1.0,
        "predicted_wall_s": 1.0,
        "imbalance": 0.0,
        "estimated": []
    });
    std::fs::write(dir.join("plan.json"), plan.to_string()).expect("plan");
    ok(ingest(
        dir,
        "h.db",
        "b1",
        "100",
        &["--plan", "plan.json", "s1.zip", "s2.zip"],
    ));
    let by_shard = query_json(
        dir,
        "h.db",
        "SELECT shard, pool, labels, count(*) FROM results GROUP BY shard, pool, labels ORDER BY shard",
    );
    assert_eq!(
        by_shard["rows"],
        json!([
            [0, "gpu", "[\"linux\",\"gpu\"]", 18],
            [1, "cpu", "[\"cpu-label\"]", 17]
        ]),
        "the bundle's runner labels win; the plan adds the pool (and labels when the bundle has none)"
    );
}

#[test]
fn named_queries_from_dtf_toml() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    ok(ingest(dir, "h.db", "b1", "100", &[&shard("shard-3.xml")]));
    std::fs::write(
        dir.join("dtf.toml"),
        "[[query]]\nname = \"by-status\"\ntitle = \"Tests by status\"\n\
         sql = \"SELECT status, count(*) AS n FROM results GROUP BY status ORDER BY status\"\n",
    )
    .expect("toml");
    let list = stdout(&ok(dtf(dir, &["query", "--config", "dtf.toml", "--list"])));
    assert!(list.contains("by-status"), "{list}");
    assert!(
        list.contains("slowest-tests"),
        "built-ins are listed: {list}"
    );
    let csv = stdout(&ok(dtf(
        dir,
        &[
            "query",
            "--db",
            "h.db",
            "--config",
            "dtf.toml",
            "--name",
            "by-status",
            "--format",
            "csv",
        ],
    )));
    assert!(csv.starts_with("status,n\r\n"), "{csv}");
    assert!(csv.contains("passed,"), "{csv}");
    let table = stdout(&ok(dtf(
        dir,
        &[
            "query",
            "--db",
            "h.db",
            "--config",
            "dtf.toml",
            "-n",
            "by-status",
        ],
    )));
    assert!(table.starts_with("Tests by status\nstatus"), "{table}");
    for name in [
        "builds",
        "slowest-tests",
        "slowest-by-pool",
        "failures-by-category",
        "flaky-tests",
    ] {
        ok(dtf(dir, &["query", "--db", "h.db", "--name", name]));
    }
    let o = dtf(dir, &["query", "--db", "h.db", "--name", "nope"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("no query named \"nope\""),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        dir.join("bad.toml"),
        "[[query]]\nname = \"x y\"\nsql = \"SELECT 1\"\n",
    )
    .expect("toml");
    let o = dtf(dir, &["query", "--config", "bad.toml", "--list"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("bad.toml:2:8: query \"x y\": name:"),
        "{}",
        stderr(&o)
    );
    let limited = stdout(&ok(dtf(
        dir,
        &[
            "query",
            "--db",
            "h.db",
            "--limit",
            "2",
            "--format",
            "json",
            "SELECT test_id FROM results",
        ],
    )));
    let v: Value = serde_json::from_str(&limited).expect("JSON");
    assert_eq!(
        (v["rows"].as_array().map(Vec::len), &v["truncated"]),
        (Some(2), &json!(true))
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
fn bad_input_exits_3_and_unwritable_output_exits_4() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let s1 = shard("shard-1.xml");
    ok(ingest(dir, "h.db", "b1", "100", &[&s1]));

    // SQL that is wrong, or that would write.
    check_exit(
        dir,
        &["query", "--db", "h.db", "SELECT nope FROM results"],
        3,
        &["no such column: nope"],
    );
    for sql in [
        "INSERT INTO builds (build_id, provider, time_unix) VALUES ('x', 'y', 1)",
        "DROP TABLE builds",
        "ATTACH DATABASE 'x.db' AS x",
        "PRAGMA user_version = 3",
    ] {
        check_exit(
            dir,
            &["query", "--db", "h.db", sql],
            3,
            &["only reading statements"],
        );
    }
    assert!(!dir.join("x.db").exists());
    check_exit(
        dir,
        &["query", "--db", "h.db", "SELECT 1; SELECT 2"],
        3,
        &["only one SQL statement"],
    );
    assert_eq!(list_ids(dir, "h.db"), ["b1"], "nothing changed");

    // A missing history is not created by readers.
    check_exit(
        dir,
        &["query", "--db", "none.db", "SELECT 1"],
        3,
        &["none.db: no history database here"],
    );
    check_exit(
        dir,
        &["history", "list", "--db", "none.db"],
        3,
        &["no history database"],
    );
    assert!(!dir.join("none.db").exists());

    // Not a database, a truncated one: every command refuses it, and leaves it alone.
    std::fs::write(dir.join("junk.db"), b"this is not a database at all").expect("write");
    let whole = std::fs::read(dir.join("h.db")).expect("read");
    std::fs::write(dir.join("cut.db"), &whole[..whole.len() / 2]).expect("write");
    for (db, says) in [("junk.db", "not a SQLite database"), ("cut.db", "corrupt")] {
        let before = std::fs::read(dir.join(db)).expect("read");
        check_exit(dir, &["history", "ingest", "--db", db, &s1], 3, &[db, says]);
        check_exit(dir, &["history", "list", "--db", db], 3, &[says]);
        check_exit(dir, &["history", "export", "--db", db], 3, &[says]);
        check_exit(
            dir,
            &["history", "prune", "--db", db, "--keep-builds", "1"],
            3,
            &[says],
        );
        check_exit(dir, &["query", "--db", db, "SELECT 1"], 3, &[says]);
        assert_eq!(
            std::fs::read(dir.join(db)).expect("read"),
            before,
            "{db} untouched"
        );
    }

    // A bad export line is named and nothing of the file is kept.
    let good = stdout(&ok(dtf(dir, &["history", "export", "--db", "h.db"])));
    let first = good.lines().next().expect("header");
    std::fs::write(dir.join("bad.jsonl"), format!("{first}\n{{\"info\": 1}}\n")).expect("write");
    check_exit(
        dir,
        &["history", "import", "--db", "new.db", "bad.jsonl"],
        3,
        &["bad.jsonl: line 2: column"],
    );
    check_exit(
        dir,
        &["history", "import", "--db", "new.db", "missing.jsonl"],
        3,
        &["missing.jsonl"],
    );

    // Outputs that cannot be written: a database or an export under a regular file.
    check_exit(
        dir,
        &["history", "ingest", "--db", "junk.db/h.db", &s1],
        4,
        &["junk.db/h.db"],
    );
    check_exit(
        dir,
        &[
            "history",
            "export",
            "--db",
            "h.db",
            "-o",
            "junk.db/out.jsonl",
        ],
        4,
        &["junk.db/out.jsonl"],
    );

    // Usage errors are clap's.
    check_exit(
        dir,
        &["history", "prune", "--db", "h.db", "--keep-builds", "0"],
        2,
        &[],
    );
    check_exit(dir, &["query", "--db", "h.db"], 2, &[]);
}

/// A query on a history of an older schema answers from a migrated copy and leaves the
/// file exactly as it was (an older dtf must still read it). The version 1 file is made
/// with version 1's own SQL, by Python's sqlite3.
#[test]
fn a_query_never_rewrites_an_older_history() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("v1.db");
    let schema = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../dtf-history/src/store/schema.rs"),
    )
    .expect("schema.rs");
    let start = schema.find("pub const V1: &str = \"").expect("V1") + 22;
    let v1 = &schema[start..start + schema[start..].find("\";\n").expect("end of V1")];
    let script = "import sqlite3, sys\n\
        c = sqlite3.connect(sys.argv[1]); c.executescript(sys.stdin.read())\n\
        c.executescript(\"INSERT INTO builds (build_key, build_id, provider, branch, time_unix) \
        VALUES (1, 'old-1', 'github', 'main', 100); INSERT INTO tests (test_key, test_id) \
        VALUES (1, 'mod::t1'); INSERT INTO test_results (build_key, test_key, status, attempts) \
        VALUES (1, 1, 'passed', 1);\")\nc.commit()\n";
    let mut py = Command::new("python3")
        .args(["-c", script])
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (installed by .ci/run)");
    std::io::Write::write_all(
        py.stdin.as_mut().expect("stdin"),
        v1.replace("\\\n", "").as_bytes(),
    )
    .expect("write");
    assert!(py.wait().expect("wait").success());
    let before = std::fs::read(&db).expect("read");

    let out = dtf(
        tmp.path(),
        &[
            "query",
            "--db",
            "v1.db",
            "SELECT test_id, status FROM results",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("mod::t1"));
    assert_eq!(std::fs::read(&db).expect("read"), before);
}
