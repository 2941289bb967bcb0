//! The history database's schema, as SQL, one version at a time.
//!
//! Version 1 is kept exactly as it was first written and every later version is a
//! migration from the one before, so a fresh database is built by the same steps that
//! bring an old one forward: version 1, then each migration in order. Whatever a fresh
//! database looks like, a migrated one looks like too, and the migration test can make
//! a real version 1 file from [`V1`] alone.
//!
//! Never edit a released step: add a migration.

/// `PRAGMA application_id` of a dtf history: "dtfH" in ASCII. It tells a dtf history
/// from any other SQLite file before a table is read.
pub const APPLICATION_ID: i32 = 0x6474_6648;

/// The `schema` row of the `meta` table.
pub const SCHEMA_NAME: &str = "dtf.history";

/// The version this dtf writes: the number of steps in [`steps`].
pub const SCHEMA_VERSION: u32 = 2;

/// Version 1: builds, interned test ids and one row per test per build.
///
/// `test_results` is clustered on (build, test), so loading one build is a single range
/// scan and deleting one is a range delete. No foreign keys: SQLite would check them on
/// each of a million inserts, and the store is the only writer.
pub const V1: &str = "
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE builds (
    build_key INTEGER PRIMARY KEY,
    build_id TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    repository TEXT,
    branch TEXT,
    base_branch TEXT,
    commit_sha TEXT,
    change_request INTEGER,
    url TEXT,
    time_unix INTEGER NOT NULL,
    wall_s REAL
);

CREATE TABLE tests (
    test_key INTEGER PRIMARY KEY,
    test_id TEXT NOT NULL UNIQUE
);

CREATE TABLE test_results (
    build_key INTEGER NOT NULL,
    test_key INTEGER NOT NULL,
    status TEXT NOT NULL,
    duration_s REAL,
    attempts INTEGER NOT NULL,
    category TEXT,
    message TEXT,
    shard INTEGER,
    PRIMARY KEY (build_key, test_key)
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('schema', 'dtf.history'), ('version', '1');
PRAGMA application_id = 1685349960;
PRAGMA user_version = 1;
";

/// Version 2: where each test ran, indexes for the questions the store asks, and views
/// for people's SQL.
///
/// - `runners` interns (pool, labels) pairs: a build's 100,000 tests run on a handful
///   of runner kinds, so each result carries one small key instead of the strings.
///   `pool` is `''` when unknown (a NULL would defeat the UNIQUE constraint); `labels`
///   is a JSON array, so `json_each(labels)` takes it apart.
/// - `builds_by_time` and `builds_by_branch` answer "the last N builds (of a branch)"
///   without reading every build, which is what each comparison asks first.
/// - The views join the keys back to readable values (see the crate's store docs).
pub const V1_TO_V2: &str = "
CREATE TABLE runners (
    runner_key INTEGER PRIMARY KEY,
    pool TEXT NOT NULL DEFAULT '',
    labels TEXT NOT NULL DEFAULT '[]',
    UNIQUE (pool, labels)
);

ALTER TABLE test_results ADD COLUMN runner_key INTEGER;

CREATE INDEX builds_by_time ON builds (time_unix, build_key);
CREATE INDEX builds_by_branch ON builds (branch, time_unix, build_key);

CREATE VIEW results AS
SELECT
    b.build_id AS build_id,
    b.branch AS branch,
    b.commit_sha AS \"commit\",
    b.time_unix AS time_unix,
    t.test_id AS test_id,
    r.status AS status,
    r.duration_s AS duration_s,
    r.attempts AS attempts,
    r.category AS category,
    r.message AS message,
    r.shard AS shard,
    NULLIF(u.pool, '') AS pool,
    COALESCE(u.labels, '[]') AS labels
FROM test_results AS r
JOIN builds AS b ON b.build_key = r.build_key
JOIN tests AS t ON t.test_key = r.test_key
LEFT JOIN runners AS u ON u.runner_key = r.runner_key;

CREATE VIEW build_totals AS
SELECT
    b.build_id AS build_id,
    b.branch AS branch,
    b.commit_sha AS \"commit\",
    b.time_unix AS time_unix,
    COUNT(r.test_key) AS tests,
    COALESCE(SUM(r.status = 'passed'), 0) AS passed,
    COALESCE(SUM(r.status = 'failed'), 0) AS failed,
    COALESCE(SUM(r.status = 'errored'), 0) AS errored,
    COALESCE(SUM(r.status = 'skipped'), 0) AS skipped,
    COALESCE(SUM(r.status = 'flaky'), 0) AS flaky,
    COALESCE(SUM(r.duration_s), 0.0) AS duration_s
FROM builds AS b
LEFT JOIN test_results AS r ON r.build_key = b.build_key
GROUP BY b.build_key;

UPDATE meta SET value = '2' WHERE key = 'version';
PRAGMA user_version = 2;
";

/// One step of the schema's history: the SQL that makes version `to`.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub to: u32,
    pub sql: &'static str,
}

/// Every step from an empty file, in order. Step `i` makes version `i + 1`.
pub fn steps() -> &'static [Step] {
    const STEPS: &[Step] = &[
        Step { to: 1, sql: V1 },
        Step {
            to: 2,
            sql: V1_TO_V2,
        },
    ];
    STEPS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_count_up_to_the_current_version() {
        let versions: Vec<u32> = steps().iter().map(|s| s.to).collect();
        let expected: Vec<u32> = (1..=SCHEMA_VERSION).collect();
        assert_eq!(versions, expected);
    }

    #[test]
    fn application_id_is_spelled_the_same_in_sql() {
        assert!(V1.contains(&format!("PRAGMA application_id = {APPLICATION_ID};")));
        assert_eq!(&APPLICATION_ID.to_be_bytes(), b"dtfH");
    }

    #[test]
    fn each_step_sets_its_own_version() {
        for s in steps() {
            assert!(
                s.sql.contains(&format!("PRAGMA user_version = {};", s.to)),
                "step {}",
                s.to
            );
        }
    }
}
