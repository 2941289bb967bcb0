//! `dtf query`: one read-only SQL statement over the history database, or a named query
//! (built in, or from `[[query]]` in `dtf.toml`), printed as a table, CSV or JSON.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::{ArgGroup, Args, ValueEnum};
use dtf_history::queries::{self, NamedQuery};
use dtf_history::store::{QueryOptions, QueryResult, Store, StoreError};
use serde_json::Value;

use super::history::{DEFAULT_DB, store_error};
use crate::{CliError, Finished};

/// Widest cell in the table format, in characters (CSV and JSON are never clipped).
const TABLE_CELL_CHARS: usize = 80;

#[derive(Args, Debug)]
#[command(
    group(ArgGroup::new("what").required(true).args(["sql", "name", "list"])),
    after_help = "Examples:
  dtf query --db history.db \"SELECT status, count(*) FROM results GROUP BY status\"
  dtf query --db history.db --name slowest-tests
  dtf query --db history.db --config dtf.toml --name slow-gpu --format csv > slow.csv
  dtf query --db history.db --format json --limit 100 \"SELECT * FROM build_totals\"
  dtf query --config dtf.toml --list

What the SQL sees:
  results       one row per test per build: build_id, branch, commit, time_unix, test_id,
                status (passed|failed|errored|skipped|flaky), duration_s, attempts,
                category (assertion|error|timeout|crash|infrastructure|setup|lost|unknown),
                message, shard (0-based), pool, labels (a JSON array: json_each(labels))
  build_totals  one row per build: build_id, branch, commit, time_unix, tests, passed,
                failed, errored, skipped, flaky, duration_s
  builds        the builds table: build_id, provider, repository, branch, base_branch,
                commit_sha, change_request, url, time_unix, wall_s

Only one statement that reads runs (SELECT, WITH, VALUES, EXPLAIN); INSERT, DROP, ATTACH,
PRAGMA and the like are refused, and the database is opened read-only. Read pragmas as
table functions: SELECT * FROM pragma_table_info('results').

Named queries: built-in ones (see --list), and [[query]] entries in dtf.toml with name,
sql, and optional title and description; a configured query replaces a built-in of the
same name.

Exit codes: 0 ok, 2 usage, 3 bad input (bad SQL, a refused statement, an unknown query
name, a missing, corrupt or foreign history file), 4 cannot write the output"
)]
pub struct QueryArgs {
    /// The SQL statement to run.
    #[arg(value_name = "SQL")]
    pub sql: Option<String>,
    /// Run the named query instead (see --list).
    #[arg(long, short, value_name = "NAME")]
    pub name: Option<String>,
    /// List the named queries and exit.
    #[arg(long)]
    pub list: bool,
    /// The history database.
    #[arg(long, default_value = DEFAULT_DB, value_name = "PATH")]
    pub db: PathBuf,
    /// dtf.toml with [[query]] entries.
    #[arg(long, value_name = "dtf.toml")]
    pub config: Option<PathBuf>,
    /// How to print the rows.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
    /// Most rows printed (0 for no limit).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub limit: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
}

/// The named queries: built-ins, then those of `config`.
pub fn named_queries(config: Option<&Path>) -> Result<Vec<NamedQuery>, CliError> {
    let configured = match config {
        None => Vec::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::BadInput(anyhow!(e).context(format!("reading {}", path.display())))
            })?;
            queries::from_toml(&text, &path.display().to_string())
                .map_err(|e| CliError::BadInput(anyhow!(e)))?
        }
    };
    Ok(queries::with_builtin(configured))
}

/// Opens the history for queries. An older schema is migrated in a copy: a query must
/// never rewrite the user's file (an older dtf could no longer read it).
pub fn open_for_query(db: &Path) -> Result<Store, CliError> {
    match Store::open_read_only(db) {
        Err(StoreError::NeedsMigration { .. }) => {
            let copy = std::env::temp_dir().join(format!(
                "dtf-query-{}-{}.db",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ));
            std::fs::copy(db, &copy).map_err(|e| {
                CliError::BadInput(anyhow!(e).context(format!(
                    "copying {} to migrate it for the query",
                    db.display()
                )))
            })?;
            let opened = Store::open(&copy).and_then(|s| {
                drop(s);
                Store::open_read_only(&copy)
            });
            // The open connection keeps reading the copy; where the system does not
            // allow removing an open file, it stays in the temporary folder.
            let _ = std::fs::remove_file(&copy);
            opened.map_err(store_error)
        }
        other => other.map_err(store_error),
    }
}

pub fn run(args: &QueryArgs, quiet: bool) -> Result<Finished, CliError> {
    let named = named_queries(args.config.as_deref())?;
    if args.list {
        let columns = ["name", "title", "source", "description"].map(String::from);
        let rows: Vec<Vec<Value>> = named
            .iter()
            .map(|q| {
                vec![
                    q.name.clone().into(),
                    q.title.clone().into(),
                    if q.builtin { "built-in" } else { "dtf.toml" }.into(),
                    q.description.clone().into(),
                ]
            })
            .collect();
        let text = match args.format {
            QueryFormat::Table => render_table(&columns, &rows),
            QueryFormat::Csv => render_csv(&columns, &rows),
            QueryFormat::Json => {
                let v = serde_json::json!({"schema": "dtf.query-list.v1", "queries": named});
                format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
            }
        };
        print(&text)?;
        return Ok(Finished::Ok);
    }
    let (sql, query) = match (&args.sql, &args.name) {
        (Some(sql), _) => (sql.clone(), None),
        (None, Some(name)) => {
            let q = queries::find(&named, name).ok_or_else(|| {
                let names: Vec<&str> = named.iter().map(|q| q.name.as_str()).collect();
                CliError::BadInput(anyhow!(
                    "no query named {name:?}; the named queries are: {}",
                    names.join(", ")
                ))
            })?;
            (q.sql.clone(), Some(q))
        }
        (None, None) => {
            return Err(CliError::BadInput(anyhow!(
                "give a SQL statement, --name NAME or --list"
            )));
        }
    };
    let store = open_for_query(&args.db)?;
    let options = QueryOptions {
        max_rows: (args.limit > 0).then_some(args.limit),
    };
    let result = store
        .query_with(&sql, &options)
        .map_err(|e| match (&e, query) {
            (StoreError::Query { .. }, Some(q)) => {
                CliError::BadInput(anyhow!("query {:?}: {e}", q.name))
            }
            (StoreError::Query { .. }, None) => CliError::BadInput(anyhow!("query: {e}")),
            _ => store_error(e),
        })?;
    let text = match args.format {
        QueryFormat::Table => {
            let mut t = String::new();
            if let Some(q) = query {
                t.push_str(&q.title);
                t.push('\n');
            }
            t.push_str(&render_table(&result.columns, &result.rows));
            t
        }
        QueryFormat::Csv => render_csv(&result.columns, &result.rows),
        QueryFormat::Json => render_json(&result, &sql, query),
    };
    print(&text)?;
    if result.truncated && !quiet {
        eprintln!(
            "note: showing the first {} rows; --limit N shows more (0 for all)",
            result.rows.len()
        );
    }
    Ok(Finished::Ok)
}

fn print(text: &str) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    lock.write_all(text.as_bytes())
        .and_then(|_| lock.flush())
        .map_err(|e| CliError::Output(anyhow!(e).context("writing to standard output")))
}

fn render_json(result: &QueryResult, sql: &str, query: Option<&NamedQuery>) -> String {
    let v = serde_json::json!({
        "schema": "dtf.query.v1",
        "name": query.map(|q| q.name.as_str()),
        "sql": sql,
        "columns": result.columns,
        "rows": result.rows,
        "truncated": result.truncated,
    });
    format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
}

/// A cell as text: strings bare, null empty, numbers as JSON writes them.
fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One line per row; control characters escaped so that a message cannot break the
/// layout, long cells clipped with `…`.
fn table_cell(v: &Value) -> String {
    let text: String = cell_text(v)
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.chars().count() > TABLE_CELL_CHARS {
        let mut s: String = text.chars().take(TABLE_CELL_CHARS - 1).collect();
        s.push('…');
        s
    } else {
        text
    }
}

/// A plain-text table: a header, a rule, and rows; numeric columns aligned right.
pub fn render_table(columns: &[String], rows: &[Vec<Value>]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(table_cell).collect())
        .collect();
    let header: Vec<String> = columns
        .iter()
        .map(|c| table_cell(&Value::String(c.clone())))
        .collect();
    let width = |i: usize| {
        cells
            .iter()
            .filter_map(|r| r.get(i))
            .chain(header.get(i))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns.len()).map(width).collect();
    let numeric: Vec<bool> = (0..columns.len())
        .map(|i| {
            rows.iter().any(|r| r.get(i).is_some_and(Value::is_number))
                && rows
                    .iter()
                    .all(|r| r.get(i).is_none_or(|v| v.is_number() || v.is_null()))
        })
        .collect();
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let pad = widths[i].saturating_sub(c.chars().count());
            if numeric[i] {
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            } else {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat((*w).max(1))).collect();
    line(&rule);
    for r in &cells {
        line(r);
    }
    if rows.is_empty() {
        out.push_str("(no rows)\n");
    }
    out
}

/// RFC 4180 CSV: fields with a comma, quote or line break are quoted.
pub fn render_csv(columns: &[String], rows: &[Vec<Value>]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    };
    line(columns.iter().map(|c| field(c)).collect());
    for r in rows {
        line(r.iter().map(|v| field(&cell_text(v))).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tables_align_numbers_right_and_escape_control_characters() {
        let rows = vec![
            vec![json!("a::x"), json!(1.5), Value::Null],
            vec![json!("b\nc"), json!(12), json!("gpu")],
        ];
        let t = render_table(&cols(&["test_id", "mean_s", "pool"]), &rows);
        assert_eq!(
            t,
            "test_id  mean_s  pool\n\
             -------  ------  ----\n\
             a::x        1.5\n\
             b\\nc         12  gpu\n"
        );
        assert_eq!(render_table(&cols(&["n"]), &[]), "n\n-\n(no rows)\n");
        let long = render_table(&cols(&["m"]), &[vec![json!("x".repeat(200))]]);
        assert!(long.contains(&format!("{}…", "x".repeat(79))), "{long}");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let rows = vec![vec![
            json!("a,b"),
            json!("say \"hi\""),
            Value::Null,
            json!(3),
        ]];
        assert_eq!(
            render_csv(&cols(&["x", "y", "z", "n"]), &rows),
            "x,y,z,n\r\n\"a,b\",\"say \"\"hi\"\"\",,3\r\n"
        );
    }
}
