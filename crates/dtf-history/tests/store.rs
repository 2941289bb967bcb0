//! The history store against real files: round trips, replacement, retention,
//! export and import, migration from version 1, and every way a file can be wrong.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use dtf_core::categorize::Category;
use dtf_core::model::Status;
use dtf_history::model::{BuildInfo, BuildRecord, TestRecord};
use dtf_history::store::schema::{self, APPLICATION_ID, SCHEMA_VERSION};
use dtf_history::store::{ImportOptions, IngestOptions, QueryOptions, Store, StoreError};
use rusqlite::Connection;
use serde_json::json;

fn info(id: &str, branch: &str, time: i64) -> BuildInfo {
    BuildInfo {
        build_id: id.into(),
        provider: "github".into(),
        branch: Some(branch.into()),
        time_unix: time,
        ..BuildInfo::default()
    }
}

fn test(id: &str, status: Status, duration: f64) -> TestRecord {
    TestRecord {
        id: id.into(),
        status,
        duration_s: Some(duration),
        attempts: 1,
        category: None,
        message: None,
        shard: None,
        pool: None,
        labels: Vec::new(),
    }
}

fn build(id: &str, branch: &str, time: i64, tests: &[(&str, Status)]) -> BuildRecord {
    BuildRecord {
        info: info(id, branch, time),
        tests: tests
            .iter()
            .enumerate()
            .map(|(i, (t, s))| test(t, *s, i as f64 + 0.5))
            .collect(),
    }
}

/// A build that uses every field of the model.
fn full_build() -> BuildRecord {
    BuildRecord {
        info: BuildInfo {
            build_id: "run-17".into(),
            provider: "gitlab".into(),
            repository: Some("group/project".into()),
            branch: Some("feature/x".into()),
            base_branch: Some("main".into()),
            commit: Some("3f2a9c1e".into()),
            change_request: Some(42),
            url: Some("https://ci.example/jobs/17".into()),
            time_unix: 1_718_000_000,
            wall_s: Some(321.25),
        },
        tests: vec![
            TestRecord {
                id: "suite::b_fails".into(),
                status: Status::Failed,
                duration_s: Some(1.25),
                attempts: 3,
                category: Some(Category::Timeout),
                message: Some("timed out after 30s — ünïcode".into()),
                shard: Some(2),
                pool: Some("gpu".into()),
                labels: vec!["linux".into(), "cuda-12".into()],
            },
            TestRecord {
                id: "suite::a_passes".into(),
                status: Status::Passed,
                duration_s: None,
                attempts: 1,
                category: None,
                message: None,
                shard: Some(0),
                pool: None,
                labels: vec!["chrome-webgpu".into()],
            },
            TestRecord {
                id: "suite::c_flaky".into(),
                status: Status::Flaky,
                duration_s: Some(0.001),
                attempts: 2,
                category: Some(Category::Infrastructure),
                message: Some("connection reset".into()),
                shard: Some(2),
                pool: Some("gpu".into()),
                labels: vec!["linux".into(), "cuda-12".into()],
            },
            TestRecord {
                id: "suite::d_skipped".into(),
                status: Status::Skipped,
                duration_s: Some(0.0),
                attempts: 1,
                category: None,
                message: None,
                shard: None,
                pool: Some("cpu".into()),
                labels: Vec::new(),
            },
            TestRecord {
                id: "suite::e_errored".into(),
                status: Status::Errored,
                duration_s: Some(7.5),
                attempts: 1,
                category: Some(Category::Unknown),
                message: None,
                shard: None,
                pool: None,
                labels: Vec::new(),
            },
        ],
    }
}

fn sorted(mut r: BuildRecord) -> BuildRecord {
    r.tests.sort_by(|a, b| a.id.cmp(&b.id));
    r
}

fn tmp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    (dir, path)
}

fn count(store: &Store, sql: &str) -> i64 {
    store.query(sql).unwrap().rows[0][0].as_i64().unwrap()
}

#[test]
fn every_field_round_trips() {
    let (_dir, path) = tmp_db();
    let rec = full_build();
    {
        let mut store = Store::open(&path).unwrap();
        let stats = store.ingest(&rec).unwrap();
        assert_eq!(
            (stats.tests, stats.new_test_ids, stats.replaced),
            (5, 5, false)
        );
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    assert_eq!(store.load("run-17").unwrap(), Some(sorted(rec.clone())));
    assert_eq!(store.load("nope").unwrap(), None);
    let ro = Store::open_read_only(&path).unwrap();
    assert_eq!(ro.latest(None).unwrap(), Some(sorted(rec)));
    // Three distinct runner kinds among five tests are stored once each.
    assert_eq!(count(&ro, "SELECT count(*) FROM runners"), 3);
}

#[test]
fn non_finite_durations_are_no_time() {
    let (_dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    let mut rec = build("b", "main", 1, &[("t::nan", Status::Passed)]);
    rec.tests[0].duration_s = Some(f64::NAN);
    rec.info.wall_s = Some(f64::INFINITY);
    store.ingest(&rec).unwrap();
    let back = store.load("b").unwrap().unwrap();
    assert_eq!(back.tests[0].duration_s, None);
    assert_eq!(back.info.wall_s, None);
}

#[test]
fn reingesting_a_build_id_replaces_it() {
    let (_dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    store
        .ingest(&build(
            "b1",
            "main",
            10,
            &[("t::a", Status::Failed), ("t::b", Status::Passed)],
        ))
        .unwrap();
    let again = build(
        "b1",
        "main",
        11,
        &[("t::a", Status::Passed), ("t::c", Status::Passed)],
    );
    let stats = store.ingest(&again).unwrap();
    assert!(stats.replaced);
    assert_eq!(stats.new_test_ids, 1, "t::c is new; t::a is known");
    assert_eq!(store.build_count().unwrap(), 1);
    assert_eq!(store.load("b1").unwrap(), Some(sorted(again)));
    assert_eq!(count(&store, "SELECT count(*) FROM results"), 2);
}

#[test]
fn a_failed_ingest_leaves_the_previous_state() {
    let (_dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    let first = build("b1", "main", 10, &[("t::a", Status::Passed)]);
    store.ingest(&first).unwrap();
    let dup = build(
        "b1",
        "main",
        11,
        &[("t::x", Status::Passed), ("t::x", Status::Failed)],
    );
    let err = store.ingest(&dup).unwrap_err();
    assert!(
        matches!(&err, StoreError::DuplicateTest { test_id, .. } if test_id == "t::x"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("lists test \"t::x\" more than once"),
        "{err}"
    );
    let empty = build("  ", "main", 11, &[]);
    assert!(matches!(
        store.ingest(&empty).unwrap_err(),
        StoreError::InvalidBuild { .. }
    ));
    // The replacement was rolled back with the failure: b1 is as it was.
    assert_eq!(store.load("b1").unwrap(), Some(first));
    assert_eq!(count(&store, "SELECT count(*) FROM tests"), 1);
}

/// A crash in the middle of a write leaves the database file half-written plus a hot
/// rollback journal; the next open must roll it back to the last commit.
#[test]
fn a_crash_mid_write_rolls_back_on_the_next_open() {
    let (dir, path) = tmp_db();
    let first = build("b1", "main", 10, &[("t::a", Status::Passed)]);
    Store::open(&path).unwrap().ingest(&first).unwrap();
    let conn = Connection::open(&path).unwrap();
    // A tiny cache makes SQLite write pages into the file before the commit.
    conn.execute_batch("PRAGMA cache_size = 1; BEGIN;").unwrap();
    conn.execute(
        "INSERT INTO builds (build_id, provider, time_unix) VALUES ('b2', 'local', 20)",
        [],
    )
    .unwrap();
    for i in 0..5_000 {
        conn.execute(
            "INSERT INTO tests (test_id) VALUES (?1)",
            [format!("t::crash-{i}-{}", "x".repeat(100))],
        )
        .unwrap();
    }
    // "Crash": copy the files as they are now, without a commit or a rollback.
    let journal = dir.path().join("history.db-journal");
    assert!(journal.exists(), "a hot journal exists mid-transaction");
    let crashed = dir.path().join("crashed");
    std::fs::create_dir(&crashed).unwrap();
    std::fs::copy(&path, crashed.join("history.db")).unwrap();
    std::fs::copy(&journal, crashed.join("history.db-journal")).unwrap();
    drop(conn);
    let store = Store::open(crashed.join("history.db")).unwrap();
    assert_eq!(store.build_count().unwrap(), 1);
    assert_eq!(store.load("b1").unwrap(), Some(first));
    assert_eq!(count(&store, "SELECT count(*) FROM tests"), 1);
}

#[test]
fn builds_recent_and_latest_are_ordered_and_filtered() {
    let (_dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    // Ingested out of time order; two builds share a time (ingest order breaks the tie).
    for (id, branch, time) in [
        ("m3", "main", 30),
        ("m1", "main", 10),
        ("f1", "feature", 15),
        ("m2", "main", 20),
        ("m2b", "main", 20),
    ] {
        store
            .ingest(&build(id, branch, time, &[("t::a", Status::Passed)]))
            .unwrap();
    }
    let ids = |v: Vec<BuildInfo>| v.into_iter().map(|b| b.build_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.builds(None, 10).unwrap()),
        ["m3", "m2b", "m2", "f1", "m1"]
    );
    assert_eq!(ids(store.builds(Some("main"), 2).unwrap()), ["m3", "m2b"]);
    assert_eq!(
        ids(store.builds(Some("nope"), 2).unwrap()),
        Vec::<String>::new()
    );
    let rids = |v: Vec<BuildRecord>| v.into_iter().map(|b| b.info.build_id).collect::<Vec<_>>();
    assert_eq!(
        rids(store.recent(Some("main"), 3, None).unwrap()),
        ["m2", "m2b", "m3"]
    );
    assert_eq!(
        rids(store.recent(None, 3, Some("m2b")).unwrap()),
        ["m1", "f1", "m2"]
    );
    assert_eq!(
        rids(store.recent(Some("main"), 10, Some("m2")).unwrap()),
        ["m1"]
    );
    assert_eq!(
        rids(store.recent(None, 0, None).unwrap()),
        Vec::<String>::new()
    );
    assert!(matches!(
        store.recent(None, 3, Some("ghost")).unwrap_err(),
        StoreError::UnknownBuild { .. }
    ));
    assert_eq!(
        store
            .latest(Some("feature"))
            .unwrap()
            .unwrap()
            .info
            .build_id,
        "f1"
    );
    assert_eq!(store.latest(Some("none")).unwrap(), None);
    let listed = store.list_builds(Some("main"), 1).unwrap();
    assert_eq!(
        (
            listed[0].info.build_id.as_str(),
            listed[0].tests,
            listed[0].passed
        ),
        ("m3", 1, 1)
    );
}

#[test]
fn prune_keeps_the_newest_and_drops_orphans() {
    let (_dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    let many: Vec<(String, Status)> = (0..2_000)
        .map(|i| (format!("old::test_{i}"), Status::Passed))
        .collect();
    let many: Vec<(&str, Status)> = many.iter().map(|(s, st)| (s.as_str(), *st)).collect();
    store.ingest(&build("b1", "main", 1, &many)).unwrap();
    store
        .ingest(&build("b2", "main", 2, &[("t::keep", Status::Passed)]))
        .unwrap();
    let mut b3 = build("b3", "main", 3, &[("t::keep", Status::Failed)]);
    b3.tests[0].pool = Some("gpu".into());
    store.ingest(&b3).unwrap();
    let size_before = std::fs::metadata(&path).unwrap().len();
    assert_eq!(store.prune(2).unwrap(), 1);
    assert_eq!(store.prune(2).unwrap(), 0, "nothing more to prune");
    let ids: Vec<String> = store
        .builds(None, 10)
        .unwrap()
        .into_iter()
        .map(|b| b.build_id)
        .collect();
    assert_eq!(ids, ["b3", "b2"]);
    assert_eq!(count(&store, "SELECT count(*) FROM tests"), 1);
    assert!(
        std::fs::metadata(&path).unwrap().len() < size_before,
        "VACUUM shrank the file"
    );
    assert_eq!(store.prune(1).unwrap(), 1);
    assert_eq!(
        count(&store, "SELECT count(*) FROM runners"),
        1,
        "b3's runner stays"
    );
    assert_eq!(store.prune(0).unwrap(), 1);
    assert_eq!(count(&store, "SELECT count(*) FROM runners"), 0);
}

#[test]
fn ingest_with_retention_prunes_in_the_same_write() {
    let (_dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    let keep = IngestOptions {
        keep_builds: Some(2),
    };
    let mut pruned = Vec::new();
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        let s = store
            .ingest_with(&build(id, "main", i as i64, &[(id, Status::Passed)]), &keep)
            .unwrap();
        pruned.push(s.pruned_builds);
    }
    assert_eq!(pruned, [0, 0, 1, 1]);
    let ids: Vec<String> = store
        .builds(None, 10)
        .unwrap()
        .into_iter()
        .map(|b| b.build_id)
        .collect();
    assert_eq!(ids, ["d", "c"]);
    assert_eq!(count(&store, "SELECT count(*) FROM tests"), 2);

    // A build older than those kept (a re-run of an old pipeline) is still kept: it
    // counts as one of the two, and the oldest of the others goes.
    let s = store
        .ingest_with(&build("old", "main", -5, &[("old", Status::Passed)]), &keep)
        .unwrap();
    assert_eq!(s.pruned_builds, 1);
    let ids: Vec<String> = store
        .builds(None, 10)
        .unwrap()
        .into_iter()
        .map(|b| b.build_id)
        .collect();
    assert_eq!(ids, ["d", "old"]);
    // Keeping no builds still keeps the one just written.
    let none = IngestOptions {
        keep_builds: Some(0),
    };
    store
        .ingest_with(&build("e", "main", 9, &[("e", Status::Passed)]), &none)
        .unwrap();
    assert_eq!(store.build_count().unwrap(), 1);
}

fn export_text(store: &Store) -> String {
    let mut out = Vec::new();
    store.export(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn export_then_import_gives_the_same_history() {
    let (dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    store.ingest(&full_build()).unwrap();
    store
        .ingest(&build("b0", "main", 5, &[("t::a", Status::Passed)]))
        .unwrap();
    let text = export_text(&store);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let header: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["schema"], "dtf.history-export.v1");
    assert_eq!(header["builds"], 2);
    assert!(lines[1].contains("\"b0\""), "oldest first: {}", lines[1]);

    let other = dir.path().join("other.db");
    let mut imported = Store::open(&other).unwrap();
    let mut seen = Vec::new();
    let stats = imported
        .import_with(text.as_bytes(), &ImportOptions::default(), |s| {
            seen.push(s.builds)
        })
        .unwrap();
    assert_eq!((stats.builds, stats.tests, stats.replaced), (2, 6, 0));
    assert_eq!(seen, [1, 2]);
    assert_eq!(export_text(&imported), text);
    assert_eq!(imported.load("run-17").unwrap(), Some(sorted(full_build())));

    // Again: replaced by default, left alone with skip_existing.
    let again = imported.import(text.as_bytes()).unwrap();
    assert_eq!((again.builds, again.replaced), (2, 2));
    let skip = ImportOptions {
        skip_existing: true,
        keep_builds: None,
    };
    let skipped = imported
        .import_with(text.as_bytes(), &skip, |_| {})
        .unwrap();
    assert_eq!((skipped.builds, skipped.skipped), (0, 2));
    assert_eq!(export_text(&imported), text);
}

#[test]
fn import_errors_name_the_line_and_keep_nothing() {
    let (_dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    store
        .ingest(&build("keep", "main", 1, &[("t::a", Status::Passed)]))
        .unwrap();
    let good =
        serde_json::to_string(&build("new", "main", 2, &[("t::b", Status::Passed)])).unwrap();
    let header = r#"{"schema":"dtf.history-export.v1","builds":2}"#;
    let check = |text: String, expected: &str| {
        let mut store = Store::open(&path).unwrap();
        let err = store.import(text.as_bytes()).unwrap_err();
        assert!(matches!(err, StoreError::Import { .. }), "{err:?}");
        assert!(err.to_string().starts_with(expected), "{err} / {expected}");
        let ids: Vec<String> = store
            .builds(None, 10)
            .unwrap()
            .into_iter()
            .map(|b| b.build_id)
            .collect();
        assert_eq!(ids, ["keep"], "nothing of a failed import is kept");
    };
    check(
        format!("{header}\n{good}\n{{\"info\": 3}}\n"),
        "line 3: column 10: invalid type: integer `3`, expected struct BuildInfo",
    );
    check(
        format!("{header}\n\n{good}\nnot json\n"),
        "line 4: column 2: expected ident",
    );
    check(
        format!(
            "{header}\n{}\n",
            json!({"info": {"build_id": "x", "provider": "local", "time_unix": 1}, "tests": [
            {"id": "a", "status": "passed", "attempts": 1},
            {"id": "a", "status": "failed", "attempts": 1}]})
        ),
        "line 2: ",
    );
    check(
        format!("{{\"schema\":\"dtf.history-export.v9\"}}\n{good}\n"),
        "line 1: dtf.history-export.v9 is newer",
    );
    check(
        format!("{{\"schema\":\"dtf.summary.v1\"}}\n{good}\n"),
        "line 1: schema \"dtf.summary.v1\" is not",
    );
    check(format!("{good}\n"), "line 1: no \"schema\" field");
    check(String::new(), "line 1: empty");
    check("garbage\n".into(), "line 1: not a dtf history export");
}

/// Makes a version 1 file with version 1's own SQL, as an old dtf would have.
fn make_v1(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(schema::V1).unwrap();
    conn.execute_batch(
        "INSERT INTO builds (build_key, build_id, provider, branch, commit_sha, change_request, time_unix, wall_s)
             VALUES (1, 'old-1', 'github', 'main', 'abc', 7, 100, 12.5),
                    (2, 'old-2', 'github', 'main', 'def', NULL, 200, NULL);
         INSERT INTO tests (test_key, test_id) VALUES (1, 'mod::t1'), (2, 'mod::t2');
         INSERT INTO test_results (build_key, test_key, status, duration_s, attempts, category, message, shard)
             VALUES (1, 1, 'passed', 1.5, 1, NULL, NULL, 0),
                    (1, 2, 'failed', 2.5, 2, 'assertion', 'expected 1', 1),
                    (2, 1, 'flaky', 1.0, 2, 'timeout', 'timed out', NULL),
                    (2, 2, 'passed', NULL, 1, NULL, NULL, NULL);",
    )
    .unwrap();
}

fn schema_sql(path: &Path) -> Vec<(String, String)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_version_1_history_is_migrated_with_its_data() {
    let (dir, path) = tmp_db();
    make_v1(&path);
    let err = Store::open_read_only(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NeedsMigration {
                found: 1,
                current: 2,
                ..
            }
        ),
        "{err}"
    );

    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version(), 2);
    let old1 = store.load("old-1").unwrap().unwrap();
    assert_eq!(
        old1.info,
        BuildInfo {
            build_id: "old-1".into(),
            provider: "github".into(),
            branch: Some("main".into()),
            commit: Some("abc".into()),
            change_request: Some(7),
            time_unix: 100,
            wall_s: Some(12.5),
            ..BuildInfo::default()
        }
    );
    assert_eq!(
        old1.tests[1],
        TestRecord {
            id: "mod::t2".into(),
            status: Status::Failed,
            duration_s: Some(2.5),
            attempts: 2,
            category: Some(Category::Assertion),
            message: Some("expected 1".into()),
            shard: Some(1),
            pool: None,
            labels: Vec::new(),
        }
    );
    let history = store.recent(Some("main"), 10, None).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].tests[0].status, Status::Flaky);
    // Version 2's additions work on the migrated file.
    let mut new = build("new-3", "main", 300, &[("mod::t1", Status::Passed)]);
    new.tests[0].pool = Some("gpu".into());
    assert_eq!(store.ingest(&new).unwrap().new_test_ids, 0);
    let r = store
        .query("SELECT build_id, pool, labels FROM results WHERE test_id = 'mod::t1' ORDER BY time_unix")
        .unwrap();
    assert_eq!(
        r.rows,
        vec![
            vec![json!("old-1"), json!(null), json!("[]")],
            vec![json!("old-2"), json!(null), json!("[]")],
            vec![json!("new-3"), json!("gpu"), json!("[]")],
        ]
    );
    drop(store);
    // A migrated file has exactly the schema of a fresh one.
    let fresh = dir.path().join("fresh.db");
    drop(Store::open(&fresh).unwrap());
    assert_eq!(schema_sql(&path), schema_sql(&fresh));
    let ro = Store::open_read_only(&path).unwrap();
    assert_eq!(ro.schema_version(), 2);
}

/// What `Store::open` says about a file, and that the file was not touched.
fn check_open_error(setup: impl FnOnce(&Path), expected: &[&str]) {
    let (_dir, path) = tmp_db();
    setup(&path);
    let before = std::fs::read(&path).unwrap();
    for (how, err) in [
        ("open", Store::open(&path).unwrap_err()),
        ("open_read_only", Store::open_read_only(&path).unwrap_err()),
    ] {
        let text = err.to_string();
        assert!(
            text.starts_with(&path.display().to_string()),
            "{how}: names the path: {text}"
        );
        for e in expected {
            assert!(text.contains(e), "{how}: {text:?} should contain {e:?}");
        }
        assert!(
            !err.is_write_failure(),
            "{how}: bad input, not a write failure"
        );
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is left as it was"
    );
}

fn real_history(path: &Path, tests: usize) {
    let mut store = Store::open(path).unwrap();
    let names: Vec<String> = (0..tests).map(|i| format!("mod::test_{i:05}")).collect();
    let list: Vec<(&str, Status)> = names.iter().map(|n| (n.as_str(), Status::Passed)).collect();
    store.ingest(&build("b1", "main", 1, &list)).unwrap();
}

#[test]
fn garbage_is_not_a_sqlite_file() {
    check_open_error(
        |p| std::fs::write(p, b"PK\x03\x04 this is a zip, not a database").unwrap(),
        &[
            "not a SQLite database",
            "PK\\u{3}\\u{4}",
            "refusing to overwrite",
        ],
    );
    check_open_error(
        |p| std::fs::write(p, b"hello").unwrap(),
        &["not a SQLite database"],
    );
}

#[test]
fn a_truncated_history_is_corrupt() {
    check_open_error(
        |p| {
            real_history(p, 5_000);
            let bytes = std::fs::read(p).unwrap();
            std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
        },
        &["corrupt", "restore it"],
    );
    check_open_error(
        |p| {
            real_history(p, 10);
            let bytes = std::fs::read(p).unwrap();
            std::fs::write(p, &bytes[..60]).unwrap();
        },
        &["corrupt", "shorter than a SQLite header"],
    );
}

#[test]
fn damaged_pages_are_corrupt() {
    check_open_error(
        |p| {
            real_history(p, 5_000);
            let mut bytes = std::fs::read(p).unwrap();
            let page = 4096;
            // Scribble over the B-tree pages after the schema page.
            for b in &mut bytes[page * 2..page * 6] {
                *b = 0xA5;
            }
            std::fs::write(p, &bytes).unwrap();
        },
        &["corrupt"],
    );
}

#[test]
fn other_sqlite_files_are_foreign() {
    check_open_error(
        |p| {
            let c = Connection::open(p).unwrap();
            c.execute_batch("CREATE TABLE users (id INTEGER); INSERT INTO users VALUES (1);")
                .unwrap();
        },
        &[
            "not a dtf history",
            "no dtf application id; its tables: users",
        ],
    );
    check_open_error(
        |p| {
            let c = Connection::open(p).unwrap();
            c.execute_batch("PRAGMA application_id = 1234; CREATE TABLE t (x);")
                .unwrap();
        },
        &["not a dtf history", "application id 0x000004d2"],
    );
    check_open_error(
        |p| {
            let c = Connection::open(p).unwrap();
            c.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; CREATE TABLE meta (key TEXT, value TEXT);
                 INSERT INTO meta VALUES ('schema', 'something.else');"
            ))
            .unwrap();
        },
        &[
            "not a dtf history",
            "meta table names schema \"something.else\"",
        ],
    );
}

#[test]
fn a_newer_schema_is_refused() {
    check_open_error(
        |p| {
            real_history(p, 3);
            let c = Connection::open(p).unwrap();
            c.execute_batch(
                "UPDATE meta SET value = '9' WHERE key = 'version'; PRAGMA user_version = 9;",
            )
            .unwrap();
        },
        &[
            "schema version 9 is newer than this dtf understands",
            "upgrade dtf",
        ],
    );
}

#[test]
fn an_empty_file_becomes_a_history_but_a_missing_one_is_not_read() {
    let (_dir, path) = tmp_db();
    assert!(matches!(
        Store::open_read_only(&path).unwrap_err(),
        StoreError::Missing { .. }
    ));
    std::fs::write(&path, b"").unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.build_count().unwrap(), 0);
    drop(store);
    assert_eq!(
        Store::open_read_only(&path).unwrap().build_count().unwrap(),
        0
    );
}

#[test]
fn queries_only_read() {
    let (_dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    store.ingest(&full_build()).unwrap();
    let attach = format!(
        "ATTACH DATABASE '{}' AS x",
        path.with_file_name("other.db").display()
    );
    let refused = [
        "INSERT INTO builds (build_id, provider, time_unix) VALUES ('x', 'y', 1)",
        "DELETE FROM test_results",
        "DROP TABLE builds",
        "DROP VIEW results",
        "CREATE TABLE x (a)",
        "UPDATE builds SET branch = 'x'",
        attach.as_str(),
        "DETACH DATABASE main",
        "PRAGMA user_version = 5",
        "PRAGMA journal_mode = WAL",
        "VACUUM",
        "BEGIN",
        "  -- sneaky\n  REPLACE INTO tests (test_id) VALUES ('x')",
        "WITH x AS (SELECT 1) DELETE FROM builds",
        "SELECT 1; DROP TABLE builds",
        "",
    ];
    let ro = Store::open_read_only(&path).unwrap();
    for s in [&store, &ro] {
        for sql in refused {
            let err = s.query(sql).unwrap_err();
            assert!(matches!(err, StoreError::Query { .. }), "{sql}: {err:?}");
        }
    }
    assert!(
        !path.with_file_name("other.db").exists(),
        "ATTACH created nothing"
    );
    assert_eq!(
        store
            .query("SELECT 1; DROP TABLE builds")
            .unwrap_err()
            .to_string(),
        "only one SQL statement can run at a time"
    );
    assert_eq!(
        store
            .query("PRAGMA user_version = 5")
            .unwrap_err()
            .to_string(),
        "only reading statements (SELECT, WITH, VALUES, EXPLAIN) can run, not PRAGMA"
    );
    let bad = store
        .query("SELECT nope FROM results")
        .unwrap_err()
        .to_string();
    assert!(bad.starts_with("SQLite: no such column: nope"), "{bad}");
    // The writable store still writes after its queries.
    store
        .ingest(&build("b2", "main", 1, &[("t", Status::Passed)]))
        .unwrap();
    assert_eq!(store.build_count().unwrap(), 2);
}

#[test]
fn queries_see_readable_views() {
    let (_dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    store.ingest(&full_build()).unwrap();
    let r = store
        .query(
            "SELECT build_id, branch, \"commit\", time_unix, test_id, status, duration_s, attempts, \
             category, message, shard, pool, labels FROM results WHERE test_id = 'suite::b_fails'",
        )
        .unwrap();
    assert_eq!(r.columns.len(), 13);
    assert_eq!(
        r.rows,
        vec![vec![
            json!("run-17"),
            json!("feature/x"),
            json!("3f2a9c1e"),
            json!(1_718_000_000),
            json!("suite::b_fails"),
            json!("failed"),
            json!(1.25),
            json!(3),
            json!("timeout"),
            json!("timed out after 30s — ünïcode"),
            json!(2),
            json!("gpu"),
            json!("[\"linux\",\"cuda-12\"]"),
        ]]
    );
    let labels = store
        .query(
            "SELECT DISTINCT j.value AS label FROM results, json_each(results.labels) AS j ORDER BY label",
        )
        .unwrap();
    assert_eq!(
        labels.rows,
        vec![
            vec![json!("chrome-webgpu")],
            vec![json!("cuda-12")],
            vec![json!("linux")]
        ]
    );
    let totals = store.query("SELECT * FROM build_totals").unwrap();
    assert_eq!(
        totals.columns,
        [
            "build_id",
            "branch",
            "commit",
            "time_unix",
            "tests",
            "passed",
            "failed",
            "errored",
            "skipped",
            "flaky",
            "duration_s"
        ]
    );
    assert_eq!(
        totals.rows[0][4..10].to_vec(),
        vec![json!(5), json!(1), json!(1), json!(1), json!(1), json!(1)]
    );
    let limited = store
        .query_with(
            "SELECT test_id FROM results ORDER BY test_id",
            &QueryOptions { max_rows: Some(2) },
        )
        .unwrap();
    assert_eq!((limited.rows.len(), limited.truncated), (2, true));
    let all = store
        .query_with(
            "SELECT test_id FROM results",
            &QueryOptions { max_rows: None },
        )
        .unwrap();
    assert_eq!((all.rows.len(), all.truncated), (5, false));
    let pragma = store
        .query("SELECT name FROM pragma_table_info('results') ORDER BY cid LIMIT 2")
        .unwrap();
    assert_eq!(
        pragma.rows,
        vec![vec![json!("build_id")], vec![json!("branch")]]
    );
}

#[test]
fn builtin_named_queries_run() {
    let (_dir, path) = tmp_db();
    let mut store = Store::open(&path).unwrap();
    store.ingest(&full_build()).unwrap();
    store
        .ingest(&build(
            "b2",
            "main",
            1_718_000_100,
            &[("suite::c_flaky", Status::Flaky)],
        ))
        .unwrap();
    for q in dtf_history::queries::builtin() {
        let r = store
            .query(&q.sql)
            .unwrap_or_else(|e| panic!("{}: {e}", q.name));
        assert!(!r.rows.is_empty(), "{} returns rows", q.name);
    }
    let flaky = store
        .query(
            &dtf_history::queries::builtin()
                .iter()
                .find(|q| q.name == "flaky-tests")
                .unwrap()
                .sql,
        )
        .unwrap();
    assert_eq!(
        flaky.rows[0][0..2].to_vec(),
        vec![json!("suite::c_flaky"), json!(2)]
    );
}
