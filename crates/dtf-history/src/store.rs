//! The history database: one SQLite file that keeps every build's per-test results and
//! travels between builds as a CI artifact, so no server is needed.
//!
//! # Safety of the file
//!
//! - **Never a silent reset.** [`Store::open`] creates a file only where there is none
//!   (or an empty one). A file that is not SQLite, a SQLite file that is not a dtf
//!   history (its `PRAGMA application_id` is not [`APPLICATION_ID`], or its `meta` table
//!   does not say `dtf.history`), a corrupt file (`PRAGMA quick_check` fails) and a
//!   history from a newer dtf are each a [`StoreError`] that names the path and what is
//!   wrong.
//! - **Atomic writes.** Every change ([`Store::ingest`], [`Store::import`],
//!   [`Store::prune`], a migration) is one SQLite transaction. A crash or a kill in the
//!   middle leaves the rollback journal behind, and the next open rolls it back: the
//!   file holds the previous state, never half a build.
//! - **Journal mode `DELETE`, not WAL.** The file is uploaded as an artifact right after
//!   dtf exits; WAL keeps committed data in a `-wal` side file until a checkpoint, which
//!   a job that uploads only `history.db` would lose. With one transaction per command
//!   WAL buys no speed here anyway: the cost of an ingest is building the B-trees, not
//!   syncing, and a large page cache keeps the transaction in memory until commit.
//!
//! # Schema
//!
//! Versioned ([`SCHEMA_VERSION`], also in `PRAGMA user_version` and the `meta` table)
//! and migrated forward in a transaction on open; see [`schema`]. Test ids are interned
//! in `tests`, runner (pool, labels) pairs in `runners`, and `test_results` is clustered
//! on (build, test). For people's SQL ([`Store::query`], `dtf query`) two views read
//! like the model:
//!
//! - `results`: one row per test per build: `build_id`, `branch`, `commit`,
//!   `time_unix`, `test_id`, `status` (`passed`, `failed`, `errored`, `skipped`,
//!   `flaky`), `duration_s`, `attempts`, `category` (`assertion`, `error`, `timeout`,
//!   `crash`, `infrastructure`, `setup`, `lost`, `unknown`; NULL for passed and
//!   skipped), `message`, `shard` (0-based), `pool`, `labels` (a JSON array: use
//!   `json_each(labels)`).
//! - `build_totals`: one row per build: `build_id`, `branch`, `commit`, `time_unix`,
//!   `tests`, `passed`, `failed`, `errored`, `skipped`, `flaky`, `duration_s`.
//!
//! The table `builds` is readable as it is (`build_id`, `provider`, `repository`,
//! `branch`, `base_branch`, `commit_sha`, `change_request`, `url`, `time_unix`,
//! `wall_s`).
//!
//! # Choices
//!
//! - Re-ingesting a build id replaces that build entirely (the last write wins: a
//!   re-run of a CI build is the newer truth). [`Store::import`] does the same unless
//!   [`ImportOptions::skip_existing`] is set.
//! - Retention counts builds over all branches, oldest (by time, then by ingest order)
//!   first.
//! - Tests come back from the store sorted by id, whatever order they were ingested in.
//! - A duration that is not a finite number is stored as "no time recorded".

pub mod schema;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dtf_core::categorize::Category;
use dtf_core::model::Status;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::model::{BuildInfo, BuildRecord, TestRecord};
pub use schema::{APPLICATION_ID, SCHEMA_NAME, SCHEMA_VERSION};

/// The schema of [`Store::export`]'s first line.
pub const EXPORT_SCHEMA: &str = "dtf.history-export.v1";
const EXPORT_PREFIX: &str = "dtf.history-export.v";
const EXPORT_VERSION: u32 = 1;

/// Rows [`Store::query`] returns unless told otherwise.
pub const DEFAULT_MAX_ROWS: usize = 10_000;

/// How long a command waits for another dtf that is writing the same file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Page cache in KiB: big enough that a million-row ingest stays in memory until its
/// commit instead of spilling half-written pages through the journal.
const CACHE_KIB: i64 = 256 * 1024;

/// Why the history database could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{}: no history database here", path.display())]
    Missing { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: cannot create the history database: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a SQLite database (it starts with {head}), so not a dtf history; refusing to overwrite it", path.display())]
    NotSqlite { path: PathBuf, head: String },
    #[error("{}: the history database is corrupt ({detail}); restore it from an export or an earlier artifact, or delete it to start a new history", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{}: a SQLite database, but not a dtf history ({why}); refusing to change it", path.display())]
    Foreign { path: PathBuf, why: String },
    #[error("{}: history schema version {found} is newer than this dtf understands (it knows up to {known}); upgrade dtf", path.display())]
    Newer {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("{}: history schema version {found} needs migrating to {current}, which a read-only open cannot do; open it once for writing (any `dtf history` command)", path.display())]
    NeedsMigration {
        path: PathBuf,
        found: u32,
        current: u32,
    },
    #[error("{}: migrating the history schema from version {from} to {to}: {source}", path.display())]
    Migrate {
        path: PathBuf,
        from: u32,
        to: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{}: build {build_id:?} lists test {test_id:?} more than once", path.display())]
    DuplicateTest {
        path: PathBuf,
        build_id: String,
        test_id: String,
    },
    #[error("{}: build {build_id:?}: {why}", path.display())]
    InvalidBuild {
        path: PathBuf,
        build_id: String,
        why: String,
    },
    #[error("{}: no build {build_id:?} in the history", path.display())]
    UnknownBuild { path: PathBuf, build_id: String },
    #[error("{}: table {table}, column {column}: unexpected value {value:?}", path.display())]
    BadValue {
        path: PathBuf,
        table: &'static str,
        column: &'static str,
        value: String,
    },
    #[error("line {line}: {message}")]
    Import { line: usize, message: String },
    #[error("{message}")]
    Query { message: String },
    #[error("writing the export: {0}")]
    Write(#[source] io::Error),
}

impl StoreError {
    /// The error is about writing (a read-only file or folder, a full disk), not about
    /// what was read: the CLI's "cannot write" rather than "bad input".
    pub fn is_write_failure(&self) -> bool {
        let code = |e: &rusqlite::Error| e.sqlite_error_code();
        let writes = |c: Option<ErrorCode>| {
            matches!(
                c,
                Some(
                    ErrorCode::ReadOnly
                        | ErrorCode::DiskFull
                        | ErrorCode::CannotOpen
                        | ErrorCode::PermissionDenied
                )
            )
        };
        match self {
            StoreError::Write(_) | StoreError::Create { .. } => true,
            StoreError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
            ),
            StoreError::Sqlite { source, .. } | StoreError::Migrate { source, .. } => {
                writes(code(source))
            }
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How [`Store::ingest_with`] writes a build.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// Keep only this many builds afterwards (oldest removed first), in the same
    /// transaction.
    pub keep_builds: Option<usize>,
}

/// What one ingest did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    pub build_id: String,
    pub tests: usize,
    /// Test ids the history had not seen before.
    pub new_test_ids: usize,
    /// The build id was in the history already and was replaced.
    pub replaced: bool,
    /// Builds removed by the retention bound.
    pub pruned_builds: usize,
}

/// How [`Store::import_with`] merges builds.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Keep a build the history has already instead of replacing it with the import's.
    pub skip_existing: bool,
    /// Keep only this many builds afterwards, in the same transaction.
    pub keep_builds: Option<usize>,
}

/// What an import did (also handed to its progress callback, so far).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportStats {
    /// Builds written.
    pub builds: usize,
    /// Test results written.
    pub tests: usize,
    /// Builds that replaced one with the same id.
    pub replaced: usize,
    /// Builds left alone because the history had them (with `skip_existing`).
    pub skipped: usize,
    /// Builds removed by the retention bound.
    pub pruned_builds: usize,
}

/// How [`Store::query_with`] runs.
#[derive(Clone, Debug)]
pub struct QueryOptions {
    /// Most rows returned; more set [`QueryResult::truncated`]. `None` for no limit.
    pub max_rows: Option<usize>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            max_rows: Some(DEFAULT_MAX_ROWS),
        }
    }
}

/// A query's answer: column names, then rows of JSON values (text, numbers, null;
/// a blob as a hex string).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    /// More rows matched than [`QueryOptions::max_rows`].
    #[serde(default)]
    pub truncated: bool,
}

/// A build with its counts, as `dtf history list` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildListing {
    pub info: BuildInfo,
    pub tests: u64,
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
    pub flaky: u64,
}

/// The history database. See the module documentation.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    read_only: bool,
    version: u32,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What the first bytes of a path say.
enum FileState {
    Missing,
    Empty,
    Sqlite,
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// A SQLite header is 100 bytes; a shorter file is cut off.
const SQLITE_HEADER: usize = 100;

fn sniff(path: &Path) -> Result<FileState> {
    let io_err = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        // A path under a regular file cannot exist either; creating it says why.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(FileState::Missing);
        }
        Err(e) => return Err(io_err(e)),
    };
    let mut head = Vec::with_capacity(SQLITE_HEADER);
    file.take(SQLITE_HEADER as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    if head.is_empty() {
        return Ok(FileState::Empty);
    }
    if !head.starts_with(SQLITE_MAGIC) {
        return Err(StoreError::NotSqlite {
            path: path.to_path_buf(),
            head: describe_head(&head),
        });
    }
    if head.len() < SQLITE_HEADER {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "{} bytes, shorter than a SQLite header of {SQLITE_HEADER}",
                head.len()
            ),
        });
    }
    Ok(FileState::Sqlite)
}

/// The first few bytes, quoted, for "it starts with ...".
fn describe_head(head: &[u8]) -> String {
    let shown: String = String::from_utf8_lossy(&head[..head.len().min(16)])
        .chars()
        .flat_map(char::escape_debug)
        .collect();
    format!("\"{shown}\"")
}

/// What the header and the `meta` table say about an open file.
enum Identity {
    Fresh,
    Version(u32),
}

impl Store {
    /// Opens the history at `path` for reading and writing, creating it when there is
    /// no file (or an empty one) and migrating an older schema forward.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let state = sniff(&path)?;
        if let FileState::Missing = state
            && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Create {
                path: path.clone(),
                source,
            })?;
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let mut store = Store {
            conn,
            path,
            read_only: false,
            version: 0,
        };
        store.set_busy_timeout()?;
        // Identify before configuring: setting the journal mode writes to the file, and
        // a file that is not a dtf history must be left exactly as it was.
        let identity = match state {
            FileState::Missing | FileState::Empty => Identity::Fresh,
            FileState::Sqlite => store.identify()?,
        };
        store.configure()?;
        let from = match identity {
            Identity::Fresh => 0,
            Identity::Version(v) => v,
        };
        if from < SCHEMA_VERSION {
            store.migrate(from)?;
        }
        store.version = SCHEMA_VERSION;
        Ok(store)
    }

    /// Opens an existing history for reading only: SQLite's read-only mode plus
    /// `PRAGMA query_only`, so nothing done through it can change the file.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        match sniff(&path)? {
            FileState::Missing => return Err(StoreError::Missing { path }),
            FileState::Empty => {
                return Err(StoreError::Foreign {
                    path,
                    why: "the file is empty".into(),
                });
            }
            FileState::Sqlite => {}
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let mut store = Store {
            conn,
            path,
            read_only: true,
            version: 0,
        };
        store.set_busy_timeout()?;
        store.configure()?;
        let version = match store.identify()? {
            Identity::Fresh => {
                return Err(StoreError::Foreign {
                    path: store.path,
                    why: "it has no tables".into(),
                });
            }
            Identity::Version(v) => v,
        };
        if version < SCHEMA_VERSION {
            return Err(StoreError::NeedsMigration {
                path: store.path,
                found: version,
                current: SCHEMA_VERSION,
            });
        }
        store.version = version;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file (always [`SCHEMA_VERSION`] once open).
    pub fn schema_version(&self) -> u32 {
        self.version
    }

    fn sql_err(&self, source: rusqlite::Error) -> StoreError {
        sql_error(&self.path, source)
    }

    fn set_busy_timeout(&self) -> Result<()> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.sql_err(e))
    }

    fn configure(&self) -> Result<()> {
        let c = &self.conn;
        let pragmas = if self.read_only {
            "PRAGMA query_only = ON;".to_owned()
        } else {
            // journal_mode answers with a row, so it cannot go through execute_batch.
            let mode: String = c
                .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
                .map_err(|e| self.sql_err(e))?;
            if !mode.eq_ignore_ascii_case("delete") {
                return Err(StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: format!("cannot leave journal mode {mode}"),
                });
            }
            format!("PRAGMA cache_size = -{CACHE_KIB}; PRAGMA temp_store = MEMORY;")
        };
        c.execute_batch(&pragmas).map_err(|e| self.sql_err(e))
    }

    /// Tells a dtf history (and its version) from an empty or a foreign file, and
    /// checks that its pages are intact.
    fn identify(&self) -> Result<Identity> {
        let c = &self.conn;
        let app_id: i32 = c
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| self.sql_err(e))?;
        let user_version: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql_err(e))?;
        if app_id != APPLICATION_ID {
            let tables = self.table_names()?;
            if app_id == 0 && user_version == 0 && tables.is_empty() {
                return Ok(Identity::Fresh);
            }
            let why = if app_id == 0 {
                if tables.is_empty() {
                    format!("no dtf application id, user_version {user_version}")
                } else {
                    format!("no dtf application id; its tables: {}", list(&tables, 6))
                }
            } else {
                format!("application id {app_id:#010x}, not dtf's {APPLICATION_ID:#010x}")
            };
            return Err(StoreError::Foreign {
                path: self.path.clone(),
                why,
            });
        }
        self.quick_check()?;
        let meta = |key: &str| -> Result<Option<String>> {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(|e| self.sql_err(e))
        };
        let has_meta = self.table_names()?.iter().any(|t| t == "meta");
        if !has_meta {
            return Err(StoreError::Foreign {
                path: self.path.clone(),
                why: "dtf's application id but no meta table".into(),
            });
        }
        match meta("schema")?.as_deref() {
            Some(SCHEMA_NAME) => {}
            other => {
                return Err(StoreError::Foreign {
                    path: self.path.clone(),
                    why: format!(
                        "its meta table names schema {}, not {SCHEMA_NAME}",
                        other.map_or_else(|| "nothing".to_owned(), |s| format!("{s:?}"))
                    ),
                });
            }
        }
        let meta_version = meta("version")?;
        let version = meta_version
            .as_deref()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|&v| v >= 1 && i64::from(v) == user_version)
            .ok_or_else(|| StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!(
                    "the meta table says version {}, the header {user_version}",
                    meta_version.as_deref().unwrap_or("(none)")
                ),
            })?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                path: self.path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        Ok(Identity::Version(version))
    }

    fn table_names(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .map_err(|e| self.sql_err(e))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sql_err(e))?;
        Ok(names)
    }

    /// `PRAGMA quick_check`: every page and index entry readable and well-formed (it
    /// skips only the cross-check of index contents against tables).
    fn quick_check(&self) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA quick_check(5)")
            .map_err(|e| self.sql_err(e))?;
        let lines = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sql_err(e))?;
        if lines.len() == 1 && lines[0] == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("quick_check: {}", lines.join("; ")),
            })
        }
    }

    /// Brings the schema from `from` (0 for a new file) to [`SCHEMA_VERSION`] in one
    /// transaction.
    fn migrate(&mut self, from: u32) -> Result<()> {
        let path = self.path.clone();
        let fail = |to: u32| {
            let path = path.clone();
            move |source| StoreError::Migrate {
                path,
                from,
                to,
                source,
            }
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(fail(SCHEMA_VERSION))?;
        // Another dtf may have migrated (or created) the file while this one waited.
        let now: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(fail(SCHEMA_VERSION))?;
        if now != i64::from(from) {
            drop(tx);
            return match self.identify()? {
                Identity::Version(SCHEMA_VERSION) => Ok(()),
                Identity::Version(v) => self.migrate(v),
                Identity::Fresh => self.migrate(0),
            };
        }
        if from == 0 {
            let objects: i64 = tx
                .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
                .map_err(fail(1))?;
            if objects > 0 {
                return Err(StoreError::Foreign {
                    path: self.path.clone(),
                    why: "it has tables but no dtf application id".into(),
                });
            }
        }
        for step in schema::steps().iter().filter(|s| s.to > from) {
            tx.execute_batch(step.sql).map_err(fail(step.to))?;
        }
        tx.commit().map_err(fail(SCHEMA_VERSION))
    }

    fn write_tx(&mut self) -> Result<Transaction<'_>> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sql_error(&path, e))
    }

    /// Writes one build in one transaction; a build with the same id is replaced.
    pub fn ingest(&mut self, record: &BuildRecord) -> Result<IngestStats> {
        self.ingest_with(record, &IngestOptions::default())
    }

    /// [`Store::ingest`], then the retention bound, both in one transaction.
    pub fn ingest_with(
        &mut self,
        record: &BuildRecord,
        options: &IngestOptions,
    ) -> Result<IngestStats> {
        let path = self.path.clone();
        let tx = self.write_tx()?;
        let mut w = Writer::new(&tx, &path, record.tests.len())?;
        let mut stats = w.write(record)?;
        drop(w);
        if let Some(keep) = options.keep_builds {
            // The build just written is never the one pruned, however old its time.
            stats.pruned_builds = prune_in(&tx, &path, keep, Some(&record.info.build_id))?;
        }
        tx.commit().map_err(|e| sql_error(&path, e))?;
        Ok(stats)
    }

    /// Builds, newest first (by time, then by ingest order), of one branch or all.
    pub fn builds(&self, branch: Option<&str>, limit: usize) -> Result<Vec<BuildInfo>> {
        Ok(self
            .build_rows(branch, limit, None)?
            .into_iter()
            .map(|(_, info)| info)
            .collect())
    }

    /// [`Store::builds`] with each build's counts.
    pub fn list_builds(&self, branch: Option<&str>, limit: usize) -> Result<Vec<BuildListing>> {
        let rows = self.build_rows(branch, limit, None)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT count(*), \
                 coalesce(sum(status = 'passed'), 0), coalesce(sum(status = 'failed'), 0), \
                 coalesce(sum(status = 'errored'), 0), coalesce(sum(status = 'skipped'), 0), \
                 coalesce(sum(status = 'flaky'), 0) \
                 FROM test_results WHERE build_key = ?1",
            )
            .map_err(|e| self.sql_err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for (key, info) in rows {
            let counts = stmt
                .query_row([key], |r| {
                    Ok([
                        r.get::<_, i64>(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ])
                })
                .map_err(|e| self.sql_err(e))?;
            let [tests, passed, failed, errored, skipped, flaky] = counts.map(|n| n.max(0) as u64);
            out.push(BuildListing {
                info,
                tests,
                passed,
                failed,
                errored,
                skipped,
                flaky,
            });
        }
        Ok(out)
    }

    /// `(build_key, info)` newest first; `before` is `(time_unix, build_key)` of a build
    /// the rows must be older than.
    fn build_rows(
        &self,
        branch: Option<&str>,
        limit: usize,
        before: Option<(i64, i64)>,
    ) -> Result<Vec<(i64, BuildInfo)>> {
        let mut sql = format!("SELECT {BUILD_COLUMNS} FROM builds WHERE 1");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut bound: Vec<(&str, &dyn rusqlite::ToSql)> = vec![(":limit", &limit)];
        if let Some(b) = &branch {
            sql.push_str(" AND branch = :branch");
            bound.push((":branch", b));
        }
        if let Some((t, k)) = &before {
            sql.push_str(" AND (time_unix, build_key) < (:time, :key)");
            bound.push((":time", t));
            bound.push((":key", k));
        }
        sql.push_str(" ORDER BY time_unix DESC, build_key DESC LIMIT :limit");
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.sql_err(e))?;
        let mut q = stmt.query(&*bound).map_err(|e| self.sql_err(e))?;
        let mut rows = Vec::new();
        while let Some(r) = q.next().map_err(|e| self.sql_err(e))? {
            rows.push(read_build_row(r).map_err(|e| self.sql_err(e))?);
        }
        Ok(rows)
    }

    fn build_key(&self, build_id: &str) -> Result<Option<(i64, i64, BuildInfo)>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {BUILD_COLUMNS}, time_unix FROM builds WHERE build_id = ?1"
            ))
            .and_then(|mut s| {
                s.query_row([build_id], |r| {
                    let (key, info) = read_build_row(r)?;
                    Ok((key, r.get::<_, i64>(11)?, info))
                })
                .optional()
            })
            .map_err(|e| self.sql_err(e))
    }

    /// One build with all its tests, or `None` when the history does not have it.
    pub fn load(&self, build_id: &str) -> Result<Option<BuildRecord>> {
        let Some((key, _, info)) = self.build_key(build_id)? else {
            return Ok(None);
        };
        let ctx = self.read_context()?;
        let tests = self.load_tests(key, &ctx)?;
        Ok(Some(BuildRecord { info, tests }))
    }

    /// The `n` newest builds of `branch` (all branches when `None`), oldest first: the
    /// history a comparison judges against. With `before_build`, only builds older than
    /// that one (which must be in the history) and not itself.
    pub fn recent(
        &self,
        branch: Option<&str>,
        n: usize,
        before_build: Option<&str>,
    ) -> Result<Vec<BuildRecord>> {
        let before = match before_build {
            None => None,
            Some(id) => match self.build_key(id)? {
                Some((key, time, _)) => Some((time, key)),
                None => {
                    return Err(StoreError::UnknownBuild {
                        path: self.path.clone(),
                        build_id: id.to_owned(),
                    });
                }
            },
        };
        let mut rows = self.build_rows(branch, n, before)?;
        rows.reverse();
        let ctx = self.read_context()?;
        rows.into_iter()
            .map(|(key, info)| {
                Ok(BuildRecord {
                    tests: self.load_tests(key, &ctx)?,
                    info,
                })
            })
            .collect()
    }

    /// The newest build of `branch` (of any branch when `None`).
    pub fn latest(&self, branch: Option<&str>) -> Result<Option<BuildRecord>> {
        Ok(self.recent(branch, 1, None)?.pop())
    }

    fn runners(&self) -> Result<RunnerMap> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT runner_key, pool, labels FROM runners")
            .map_err(|e| self.sql_err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sql_err(e))?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next().map_err(|e| self.sql_err(e))? {
            let key: i64 = r.get(0).map_err(|e| self.sql_err(e))?;
            let pool: String = r.get(1).map_err(|e| self.sql_err(e))?;
            let labels_text: String = r.get(2).map_err(|e| self.sql_err(e))?;
            let labels: Vec<String> =
                serde_json::from_str(&labels_text).map_err(|_| StoreError::BadValue {
                    path: self.path.clone(),
                    table: "runners",
                    column: "labels",
                    value: labels_text.clone(),
                })?;
            out.insert(key, ((!pool.is_empty()).then_some(pool), labels));
        }
        Ok(out)
    }

    /// What reading builds needs besides their rows.
    fn read_context(&self) -> Result<ReadContext> {
        Ok(ReadContext {
            runners: self.runners()?,
        })
    }

    fn load_tests(&self, build_key: i64, ctx: &ReadContext) -> Result<Vec<TestRecord>> {
        let sql = "SELECT t.test_id, r.status, r.duration_s, r.attempts, r.category, \
                   r.message, r.shard, r.runner_key \
                   FROM test_results AS r JOIN tests AS t ON t.test_key = r.test_key \
                   WHERE r.build_key = ?1";
        let runners = &ctx.runners;
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.sql_err(e))?;
        let mut rows = stmt.query([build_key]).map_err(|e| self.sql_err(e))?;
        let mut tests = Vec::new();
        let bad = |column: &'static str, value: String| StoreError::BadValue {
            path: self.path.clone(),
            table: "test_results",
            column,
            value,
        };
        while let Some(r) = rows.next().map_err(|e| self.sql_err(e))? {
            let get = |i| r.get_ref(i).map_err(|e| self.sql_err(e));
            let id = text(get(0)?).ok_or_else(|| bad("test_id", "not text".into()))?;
            let status = match get(1)? {
                ValueRef::Text(b) => std::str::from_utf8(b).ok().and_then(parse_status),
                _ => None,
            }
            .ok_or_else(|| bad("status", format!("{:?}", get(1))))?;
            let duration_s = get(2)?.as_f64_or_null().ok().flatten();
            let attempts = get(3)?
                .as_i64()
                .ok()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad("attempts", format!("{:?}", get(3))))?;
            let category = match text(get(4)?) {
                None => None,
                Some(c) => Some(parse_category(&c).ok_or_else(|| bad("category", c.clone()))?),
            };
            let message = text(get(5)?);
            let shard = match get(6)?.as_i64_or_null().ok().flatten() {
                None => None,
                Some(n) => Some(u32::try_from(n).map_err(|_| bad("shard", n.to_string()))?),
            };
            let (pool, labels) = match get(7)?.as_i64_or_null().ok().flatten() {
                None => (None, Vec::new()),
                Some(k) => runners
                    .get(&k)
                    .cloned()
                    .ok_or_else(|| bad("runner_key", k.to_string()))?,
            };
            tests.push(TestRecord {
                id,
                status,
                duration_s,
                attempts,
                category,
                message,
                shard,
                pool,
                labels,
            });
        }
        tests.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(tests)
    }

    /// Keeps the newest `keep_builds` builds and removes the rest with the test ids
    /// and runners only they used, then gives the space back to the file system
    /// (`VACUUM`). Returns how many builds were removed.
    pub fn prune(&mut self, keep_builds: usize) -> Result<usize> {
        let path = self.path.clone();
        let tx = self.write_tx()?;
        let removed = prune_in(&tx, &path, keep_builds, None)?;
        tx.commit().map_err(|e| sql_error(&path, e))?;
        if removed > 0 {
            // VACUUM rewrites the file through the journal too: atomic like the rest.
            self.conn
                .execute_batch("VACUUM")
                .map_err(|e| self.sql_err(e))?;
        }
        Ok(removed)
    }

    /// How many builds the history holds.
    pub fn build_count(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT count(*) FROM builds", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as usize)
            .map_err(|e| self.sql_err(e))
    }

    /// Writes every build as JSON lines, oldest first, after a first line
    /// `{"schema":"dtf.history-export.v1",...}`. Returns the number of builds.
    pub fn export(&self, mut w: impl Write) -> Result<usize> {
        let mut rows = self.build_rows(None, usize::MAX, None)?;
        rows.reverse();
        let header = serde_json::json!({
            "schema": EXPORT_SCHEMA,
            "generated_by": format!("dtf {}", env!("CARGO_PKG_VERSION")),
            "history_schema_version": self.version,
            "builds": rows.len(),
        });
        write_line(&mut w, &header).map_err(StoreError::Write)?;
        let ctx = self.read_context()?;
        let count = rows.len();
        for (key, info) in rows {
            let record = BuildRecord {
                tests: self.load_tests(key, &ctx)?,
                info,
            };
            write_line(&mut w, &record).map_err(StoreError::Write)?;
        }
        w.flush().map_err(StoreError::Write)?;
        Ok(count)
    }

    /// Reads an export back in one transaction: a bad line rolls the whole import back
    /// and the error names the line. Builds already in the history are replaced.
    pub fn import(&mut self, r: impl BufRead) -> Result<ImportStats> {
        self.import_with(r, &ImportOptions::default(), |_| {})
    }

    /// [`Store::import`] with options, calling `progress` after each build.
    pub fn import_with(
        &mut self,
        mut r: impl BufRead,
        options: &ImportOptions,
        mut progress: impl FnMut(&ImportStats),
    ) -> Result<ImportStats> {
        let path = self.path.clone();
        let tx = self.write_tx()?;
        let mut stats = ImportStats::default();
        let mut line_no = 0usize;
        let mut seen_header = false;
        let mut buf = String::new();
        let import_err = |line: usize, message: String| StoreError::Import { line, message };
        let mut writer: Option<Writer<'_>> = None;
        loop {
            buf.clear();
            line_no += 1;
            let n = r.read_line(&mut buf).map_err(|e| {
                if e.kind() == io::ErrorKind::InvalidData {
                    import_err(line_no, "not UTF-8 text".into())
                } else {
                    import_err(line_no, e.to_string())
                }
            })?;
            if n == 0 {
                break;
            }
            let text = buf.trim();
            if text.is_empty() {
                continue;
            }
            if !seen_header {
                check_export_header(text).map_err(|m| import_err(line_no, m))?;
                seen_header = true;
                continue;
            }
            let record: BuildRecord =
                serde_json::from_str(text).map_err(|e| import_err(line_no, json_message(&e)))?;
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(Writer::new(&tx, &path, record.tests.len())?),
            };
            if options.skip_existing && w.exists(&record.info.build_id)? {
                stats.skipped += 1;
            } else {
                let s = w.write(&record).map_err(|e| match e {
                    StoreError::DuplicateTest { .. } | StoreError::InvalidBuild { .. } => {
                        import_err(line_no, e.to_string())
                    }
                    other => other,
                })?;
                stats.builds += 1;
                stats.tests += s.tests;
                stats.replaced += usize::from(s.replaced);
            }
            progress(&stats);
        }
        if !seen_header {
            return Err(import_err(
                1,
                format!("empty: an export starts with a line {{\"schema\":\"{EXPORT_SCHEMA}\"}}"),
            ));
        }
        drop(writer);
        if let Some(keep) = options.keep_builds {
            stats.pruned_builds = prune_in(&tx, &path, keep, None)?;
        }
        tx.commit().map_err(|e| sql_error(&path, e))?;
        Ok(stats)
    }

    /// Runs one read-only SQL statement (see [`Store::query_with`]).
    pub fn query(&self, sql: &str) -> Result<QueryResult> {
        self.query_with(sql, &QueryOptions::default())
    }

    /// Runs one SQL statement that only reads: `SELECT`, `WITH ... SELECT`, `VALUES`
    /// or `EXPLAIN`. Anything else (`INSERT`, `DROP`, `ATTACH`, `PRAGMA`, several
    /// statements) is refused before it runs, and SQLite's own check
    /// (`sqlite3_stmt_readonly`) and `PRAGMA query_only` stand behind that. Pragmas
    /// that read are available as table functions: `SELECT * FROM
    /// pragma_table_info('results')`.
    pub fn query_with(&self, sql: &str, options: &QueryOptions) -> Result<QueryResult> {
        let rejected = |message: String| StoreError::Query { message };
        let keyword = first_keyword(sql);
        match keyword.as_deref() {
            Some("SELECT" | "WITH" | "VALUES" | "EXPLAIN") => {}
            None => return Err(rejected("no SQL statement given".into())),
            Some(k) => {
                return Err(rejected(format!(
                    "only reading statements (SELECT, WITH, VALUES, EXPLAIN) can run, not {k}"
                )));
            }
        }
        let _guard = QueryOnly::on(&self.conn, self.read_only).map_err(|e| self.sql_err(e))?;
        let sql_message = |e: rusqlite::Error| match e {
            rusqlite::Error::MultipleStatement => {
                rejected("only one SQL statement can run at a time".into())
            }
            e if matches!(
                e.sqlite_error_code(),
                Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
            ) =>
            {
                sql_error(&self.path, e)
            }
            rusqlite::Error::SqliteFailure(_, Some(m)) => rejected(format!("SQLite: {m}")),
            other => rejected(format!("SQLite: {other}")),
        };
        let mut stmt = self.conn.prepare(sql).map_err(sql_message)?;
        if !stmt.readonly() {
            return Err(rejected(
                "the statement would change the database; queries only read".into(),
            ));
        }
        let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
        let width = columns.len();
        let mut rows_out = Vec::new();
        let mut truncated = false;
        let mut rows = stmt.query([]).map_err(sql_message)?;
        while let Some(r) = rows.next().map_err(sql_message)? {
            if options.max_rows.is_some_and(|m| rows_out.len() >= m) {
                truncated = true;
                break;
            }
            let mut row = Vec::with_capacity(width);
            for i in 0..width {
                row.push(json_value(r.get_ref(i).map_err(sql_message)?));
            }
            rows_out.push(row);
        }
        Ok(QueryResult {
            columns,
            rows: rows_out,
            truncated,
        })
    }
}

/// runner_key → (pool, labels).
type RunnerMap = HashMap<i64, (Option<String>, Vec<String>)>;

/// See [`Store::read_context`].
struct ReadContext {
    /// runner_key → (pool, labels).
    runners: RunnerMap,
}

/// Turns `PRAGMA query_only` on for one query on a writable connection, and off again.
struct QueryOnly<'c> {
    conn: Option<&'c Connection>,
}

impl<'c> QueryOnly<'c> {
    fn on(conn: &'c Connection, already: bool) -> rusqlite::Result<QueryOnly<'c>> {
        if already {
            return Ok(QueryOnly { conn: None });
        }
        conn.execute_batch("PRAGMA query_only = ON")?;
        Ok(QueryOnly { conn: Some(conn) })
    }
}

impl Drop for QueryOnly<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn {
            // A failure leaves the connection read-only, which is safe; the next write
            // reports it.
            let _ = c.execute_batch("PRAGMA query_only = OFF");
        }
    }
}

fn write_line(w: &mut impl Write, v: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *w, v).map_err(io::Error::from)?;
    w.write_all(b"\n")
}

/// The first keyword of a statement, upper-cased, after white space and comments.
fn first_keyword(sql: &str) -> Option<String> {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if word.is_empty() {
        // A statement that starts with punctuation: let SQLite say what it thinks.
        return (!rest.is_empty()).then(|| rest.chars().take(10).collect());
    }
    Some(word.to_ascii_uppercase())
}

/// "column C: message", without serde_json's own " at line L column C" (lines here
/// count in the file, not in the one-line document).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let bare = text.strip_suffix(&suffix).unwrap_or(&text);
    format!("column {}: {bare}", e.column())
}

fn check_export_header(text: &str) -> std::result::Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a dtf history export: the first line is not JSON ({})",
            json_message(&e)
        )
    })?;
    let Some(schema) = v.get("schema").and_then(serde_json::Value::as_str) else {
        return Err(format!(
            "no \"schema\" field on the first line, so not a dtf history export ({EXPORT_SCHEMA})"
        ));
    };
    let version = schema
        .strip_prefix(EXPORT_PREFIX)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u32>().ok());
    match version {
        Some(EXPORT_VERSION) => Ok(()),
        Some(v) if v > EXPORT_VERSION => Err(format!(
            "{schema} is newer than this dtf understands (it reads {EXPORT_SCHEMA}); upgrade dtf"
        )),
        _ => Err(format!("schema {schema:?} is not {EXPORT_SCHEMA}")),
    }
}

const BUILD_COLUMNS: &str = "build_key, build_id, provider, repository, branch, base_branch, \
                             commit_sha, change_request, url, time_unix, wall_s";

fn read_build_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, BuildInfo)> {
    let change_request: Option<i64> = r.get(7)?;
    Ok((
        r.get(0)?,
        BuildInfo {
            build_id: r.get(1)?,
            provider: r.get(2)?,
            repository: r.get(3)?,
            branch: r.get(4)?,
            base_branch: r.get(5)?,
            commit: r.get(6)?,
            change_request: change_request.and_then(|n| u64::try_from(n).ok()),
            url: r.get(8)?,
            time_unix: r.get(9)?,
            wall_s: r.get(10)?,
        },
    ))
}

/// Deletes the oldest builds beyond `keep`, and the test ids and runners nothing uses
/// any more.
/// Keeps the newest `keep` builds. `spare` (a build id) is always kept and counts as
/// one of them.
fn prune_in(tx: &Transaction<'_>, path: &Path, keep: usize, spare: Option<&str>) -> Result<usize> {
    let err = |e| sql_error(path, e);
    let others = if spare.is_some() {
        keep.saturating_sub(1)
    } else {
        keep
    };
    let keys: Vec<i64> = {
        let mut stmt = tx
            .prepare(
                "SELECT build_key FROM builds WHERE build_id IS NOT ?2 \
                 ORDER BY time_unix DESC, build_key DESC LIMIT -1 OFFSET ?1",
            )
            .map_err(err)?;
        let offset = i64::try_from(others).unwrap_or(i64::MAX);
        stmt.query_map(rusqlite::params![offset, spare], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<i64>>>())
            .map_err(err)?
    };
    if keys.is_empty() {
        return Ok(0);
    }
    {
        let mut del_results = tx
            .prepare_cached("DELETE FROM test_results WHERE build_key = ?1")
            .map_err(err)?;
        let mut del_build = tx
            .prepare_cached("DELETE FROM builds WHERE build_key = ?1")
            .map_err(err)?;
        for k in &keys {
            del_results.execute([k]).map_err(err)?;
            del_build.execute([k]).map_err(err)?;
        }
    }
    tx.execute_batch(
        "DELETE FROM tests WHERE test_key NOT IN (SELECT test_key FROM test_results);
         DELETE FROM runners WHERE runner_key NOT IN
             (SELECT runner_key FROM test_results WHERE runner_key IS NOT NULL);",
    )
    .map_err(err)?;
    Ok(keys.len())
}

/// Writes builds inside an open transaction, with the id interners warm across builds
/// (an import writes many).
struct Writer<'t> {
    tx: &'t Transaction<'t>,
    path: &'t Path,
    /// Test id → key. Either every id in the table (`all_loaded`), or those looked up.
    tests: HashMap<String, i64>,
    all_loaded: bool,
    runners: HashMap<(String, String), i64>,
}

impl<'t> Writer<'t> {
    fn new(tx: &'t Transaction<'t>, path: &'t Path, expected_tests: usize) -> Result<Writer<'t>> {
        let err = |e| sql_error(path, e);
        let known: i64 = tx
            .query_row("SELECT count(*) FROM tests", [], |r| r.get(0))
            .map_err(err)?;
        // Reading every id costs one pass over `tests`; worth it unless the build is
        // small against the table, where one indexed look-up per test is cheaper.
        let all_loaded = (expected_tests as i64).saturating_mul(8) >= known;
        let mut tests = HashMap::new();
        if all_loaded {
            tests.reserve(known.max(0) as usize + expected_tests);
            let mut stmt = tx
                .prepare("SELECT test_id, test_key FROM tests")
                .map_err(err)?;
            let mut rows = stmt.query([]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                tests.insert(r.get(0).map_err(err)?, r.get(1).map_err(err)?);
            }
        }
        let mut runners = HashMap::new();
        {
            let mut stmt = tx
                .prepare("SELECT pool, labels, runner_key FROM runners")
                .map_err(err)?;
            let mut rows = stmt.query([]).map_err(err)?;
            while let Some(r) = rows.next().map_err(err)? {
                runners.insert(
                    (r.get(0).map_err(err)?, r.get(1).map_err(err)?),
                    r.get(2).map_err(err)?,
                );
            }
        }
        Ok(Writer {
            tx,
            path,
            tests,
            all_loaded,
            runners,
        })
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        sql_error(self.path, e)
    }

    fn exists(&self, build_id: &str) -> Result<bool> {
        self.tx
            .prepare_cached("SELECT 1 FROM builds WHERE build_id = ?1")
            .and_then(|mut s| s.exists([build_id]))
            .map_err(|e| self.err(e))
    }

    fn write(&mut self, record: &BuildRecord) -> Result<IngestStats> {
        let info = &record.info;
        let invalid = |why: String| StoreError::InvalidBuild {
            path: self.path.to_path_buf(),
            build_id: info.build_id.clone(),
            why,
        };
        if info.build_id.trim().is_empty() {
            return Err(invalid("the build id is empty".into()));
        }
        let change_request = info
            .change_request
            .map(i64::try_from)
            .transpose()
            .map_err(|_| invalid("the change request number is too large".into()))?;
        let tx = self.tx;
        let old: Option<i64> = tx
            .prepare_cached("SELECT build_key FROM builds WHERE build_id = ?1")
            .and_then(|mut s| s.query_row([&info.build_id], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        if let Some(k) = old {
            tx.prepare_cached("DELETE FROM test_results WHERE build_key = ?1")
                .and_then(|mut s| s.execute([k]))
                .and_then(|_| tx.prepare_cached("DELETE FROM builds WHERE build_key = ?1"))
                .and_then(|mut s| s.execute([k]))
                .map_err(|e| self.err(e))?;
        }
        tx.prepare_cached(
            "INSERT INTO builds (build_id, provider, repository, branch, base_branch, \
             commit_sha, change_request, url, time_unix, wall_s) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .and_then(|mut s| {
            s.execute(params![
                info.build_id,
                info.provider,
                info.repository,
                info.branch,
                info.base_branch,
                info.commit,
                change_request,
                info.url,
                info.time_unix,
                info.wall_s.filter(|w| w.is_finite()),
            ])
        })
        .map_err(|e| self.err(e))?;
        let build_key = tx.last_insert_rowid();

        let mut find_test = tx
            .prepare_cached("SELECT test_key FROM tests WHERE test_id = ?1")
            .map_err(|e| self.err(e))?;
        let mut add_test = tx
            .prepare_cached("INSERT INTO tests (test_id) VALUES (?1)")
            .map_err(|e| self.err(e))?;
        let mut add_runner = tx
            .prepare_cached("INSERT INTO runners (pool, labels) VALUES (?1, ?2)")
            .map_err(|e| self.err(e))?;
        let mut add_result = tx
            .prepare_cached(
                "INSERT INTO test_results (build_key, test_key, status, duration_s, attempts, \
                 category, message, shard, runner_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(|e| self.err(e))?;
        let mut new_test_ids = 0usize;
        // Neighbouring tests usually ran on the same runner: skip the JSON and the map.
        let mut last_runner: Option<(&Option<String>, &Vec<String>, i64)> = None;
        for t in &record.tests {
            let test_key = match self.tests.get(t.id.as_str()) {
                Some(&k) => k,
                None => {
                    let found = if self.all_loaded {
                        None
                    } else {
                        find_test
                            .query_row([&t.id], |r| r.get::<_, i64>(0))
                            .optional()
                            .map_err(|e| sql_error(self.path, e))?
                    };
                    let k = match found {
                        Some(k) => k,
                        None => {
                            add_test
                                .execute([&t.id])
                                .map_err(|e| sql_error(self.path, e))?;
                            new_test_ids += 1;
                            tx.last_insert_rowid()
                        }
                    };
                    self.tests.insert(t.id.clone(), k);
                    k
                }
            };
            let runner_key = if t.pool.is_none() && t.labels.is_empty() {
                None
            } else {
                match last_runner {
                    Some((p, l, k)) if p == &t.pool && l == &t.labels => Some(k),
                    _ => {
                        let labels = serde_json::to_string(&t.labels).unwrap_or_default();
                        let key = (t.pool.clone().unwrap_or_default(), labels);
                        let k = match self.runners.get(&key) {
                            Some(&k) => k,
                            None => {
                                add_runner
                                    .execute(params![key.0, key.1])
                                    .map_err(|e| sql_error(self.path, e))?;
                                let k = tx.last_insert_rowid();
                                self.runners.insert(key, k);
                                k
                            }
                        };
                        last_runner = Some((&t.pool, &t.labels, k));
                        Some(k)
                    }
                }
            };
            let result = add_result.execute(params![
                build_key,
                test_key,
                t.status.as_str(),
                t.duration_s.filter(|d| d.is_finite()),
                t.attempts,
                t.category.map(Category::as_str),
                t.message,
                t.shard,
                runner_key,
            ]);
            if let Err(e) = result {
                return Err(
                    if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) {
                        StoreError::DuplicateTest {
                            path: self.path.to_path_buf(),
                            build_id: info.build_id.clone(),
                            test_id: t.id.clone(),
                        }
                    } else {
                        sql_error(self.path, e)
                    },
                );
            }
        }
        Ok(IngestStats {
            build_id: info.build_id.clone(),
            tests: record.tests.len(),
            new_test_ids,
            replaced: old.is_some(),
            pruned_builds: 0,
        })
    }
}

fn sql_error(path: &Path, source: rusqlite::Error) -> StoreError {
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: source.to_string(),
        },
        _ => StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        },
    }
}

fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

fn json_value(v: ValueRef<'_>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        ValueRef::Blob(b) => {
            let mut s = String::with_capacity(b.len() * 2);
            for byte in b {
                s.push_str(&format!("{byte:02x}"));
            }
            Value::String(s)
        }
    }
}

fn parse_status(s: &str) -> Option<Status> {
    Some(match s {
        "passed" => Status::Passed,
        "failed" => Status::Failed,
        "errored" => Status::Errored,
        "skipped" => Status::Skipped,
        "flaky" => Status::Flaky,
        _ => return None,
    })
}

fn parse_category(s: &str) -> Option<Category> {
    Category::ALL.into_iter().find(|c| c.as_str() == s)
}

fn list(items: &[String], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        s.push_str(&format!(" and {} more", items.len() - max));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_keyword_skips_space_and_comments() {
        let check = |sql: &str, expected: Option<&str>| {
            assert_eq!(first_keyword(sql).as_deref(), expected, "{sql:?}");
        };
        check("select 1", Some("SELECT"));
        check("  \n\tWITH x AS (SELECT 1) SELECT * FROM x", Some("WITH"));
        check("-- note\nSELECT 1", Some("SELECT"));
        check("/* a */ /* b */ insert into t values (1)", Some("INSERT"));
        check("", None);
        check("  -- only a comment", None);
        check("(SELECT 1)", Some("(SELECT 1)"));
    }

    #[test]
    fn export_header_versions() {
        let check = |line: &str, expected: std::result::Result<(), &str>| {
            assert_eq!(
                check_export_header(line).as_ref().map_err(String::as_str),
                expected.as_ref().map_err(|e| *e),
                "{line}"
            );
        };
        check(r#"{"schema":"dtf.history-export.v1","builds":0}"#, Ok(()));
        check(
            r#"{"schema":"dtf.history-export.v2"}"#,
            Err(
                "dtf.history-export.v2 is newer than this dtf understands (it reads dtf.history-export.v1); upgrade dtf",
            ),
        );
        check(
            r#"{"schema":"dtf.summary.v1"}"#,
            Err(r#"schema "dtf.summary.v1" is not dtf.history-export.v1"#),
        );
        check(
            r#"{"builds":1}"#,
            Err(
                r#"no "schema" field on the first line, so not a dtf history export (dtf.history-export.v1)"#,
            ),
        );
    }

    #[test]
    fn statuses_and_categories_read_back() {
        for s in [
            Status::Passed,
            Status::Failed,
            Status::Errored,
            Status::Skipped,
            Status::Flaky,
        ] {
            assert_eq!(parse_status(s.as_str()), Some(s));
        }
        for c in Category::ALL {
            assert_eq!(parse_category(c.as_str()), Some(c));
        }
        assert_eq!(parse_status("PASSED"), None);
    }
}
