//! Named read-only queries over the history: a few built in, more in `dtf.toml`.
//!
//! A repository keeps the questions it asks of its history next to its code, so the
//! reports and `dtf query --name` answer them the same way on every build:
//!
//! ```toml
//! [[query]]
//! name = "slow-gpu"                       # letters, digits, '-' and '_'
//! title = "Slowest tests on the GPU pool"  # optional; the name when missing
//! description = "Mean over the last 10 builds."  # optional
//! sql = """
//! SELECT test_id, round(avg(duration_s), 2) AS mean_s FROM results
//! WHERE pool = 'gpu' GROUP BY test_id ORDER BY mean_s DESC LIMIT 10
//! """
//! ```
//!
//! The SQL runs through [`crate::store::Store::query`], so it can only read; it sees
//! the views the store documents (`results`, `build_totals`) and the `builds` table.
//! A configured query with a built-in's name replaces the built-in. Only `[[query]]`
//! is read here; the other sections of `dtf.toml` belong to the planner.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

/// One named query.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NamedQuery {
    pub name: String,
    pub title: String,
    pub sql: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Shipped with dtf rather than read from `dtf.toml`.
    pub builtin: bool,
}

/// Why the `[[query]]` entries of a `dtf.toml` could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryConfigError {
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}:{column}: query {name:?}: {key}: {message}")]
    Entry {
        file: String,
        line: usize,
        column: usize,
        /// The entry's name, or `#N` (from 1) when it has none yet.
        name: String,
        key: &'static str,
        message: String,
    },
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    query: Vec<RawQuery>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    name: Spanned<String>,
    title: Option<String>,
    sql: Spanned<String>,
    description: Option<String>,
}

/// The `[[query]]` entries of a `dtf.toml`'s text, in file order. `file` names the
/// file in errors.
pub fn from_toml(text: &str, file: &str) -> Result<Vec<NamedQuery>, QueryConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_column(text, s.start));
        QueryConfigError::Invalid {
            file: file.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    let mut out: Vec<NamedQuery> = Vec::with_capacity(raw.query.len());
    for q in raw.query {
        let name = q.name.get_ref().trim().to_owned();
        let fail = |span: Range<usize>, key: &'static str, message: String| {
            let (line, column) = line_column(text, span.start);
            QueryConfigError::Entry {
                file: file.to_owned(),
                line,
                column,
                name: name.clone(),
                key,
                message,
            }
        };
        if let Some(why) = invalid_name(&name) {
            return Err(fail(q.name.span(), "name", why));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(fail(
                q.name.span(),
                "name",
                "another [[query]] has this name".into(),
            ));
        }
        let sql = q.sql.get_ref().trim().to_owned();
        if sql.is_empty() {
            return Err(fail(q.sql.span(), "sql", "empty".into()));
        }
        out.push(NamedQuery {
            title: q
                .title
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| name.clone()),
            name,
            sql,
            description: q
                .description
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
            builtin: false,
        });
    }
    Ok(out)
}

fn invalid_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("empty".into());
    }
    if name.len() > 64 {
        return Some("longer than 64 characters".into());
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        .map(|c| format!("{c:?} is not allowed; use letters, digits, '-' and '_'"))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The last ten builds, newest first; a sub-query the built-ins share.
const LAST_10: &str =
    "SELECT build_id FROM builds ORDER BY time_unix DESC, build_key DESC LIMIT 10";

/// The queries every history answers, whatever `dtf.toml` says.
pub fn builtin() -> Vec<NamedQuery> {
    let q = |name: &str, title: &str, description: &str, sql: String| NamedQuery {
        name: name.to_owned(),
        title: title.to_owned(),
        sql,
        description: Some(description.to_owned()),
        builtin: true,
    };
    vec![
        q(
            "builds",
            "Recent builds",
            "The last 20 builds with their counts and pass rate (flaky counts as passed).",
            "SELECT build_id, branch, \"commit\", datetime(time_unix, 'unixepoch') AS time, \
             tests, failed + errored AS failures, flaky, \
             round(100.0 * (passed + flaky) / max(tests - skipped, 1), 2) AS pass_rate_pct, \
             round(duration_s, 1) AS duration_s \
             FROM build_totals ORDER BY time_unix DESC LIMIT 20"
                .to_owned(),
        ),
        q(
            "slowest-tests",
            "Slowest tests",
            "The 20 tests with the highest mean duration over the last 10 builds.",
            format!(
                "SELECT test_id, round(avg(duration_s), 3) AS mean_s, \
                 round(max(duration_s), 3) AS max_s, count(*) AS builds \
                 FROM results WHERE build_id IN ({LAST_10}) AND duration_s IS NOT NULL \
                 GROUP BY test_id ORDER BY avg(duration_s) DESC, test_id LIMIT 20"
            ),
        ),
        q(
            "slowest-by-pool",
            "Test time by runner pool",
            "Total and mean test time per runner pool over the last 10 builds.",
            format!(
                "SELECT coalesce(pool, '(unknown)') AS pool, count(*) AS results, \
                 round(sum(duration_s), 1) AS total_s, round(avg(duration_s), 3) AS mean_s, \
                 round(max(duration_s), 3) AS max_s \
                 FROM results WHERE build_id IN ({LAST_10}) \
                 GROUP BY pool ORDER BY sum(duration_s) DESC, pool"
            ),
        ),
        q(
            "failures-by-category",
            "Failures by error category",
            "Failed, errored and flaky results per category over the last 10 builds, with \
             their share of all results.",
            format!(
                "SELECT coalesce(category, 'unknown') AS category, count(*) AS failures, \
                 count(DISTINCT test_id) AS tests, \
                 round(100.0 * count(*) / max((SELECT count(*) FROM results \
                 WHERE build_id IN ({LAST_10})), 1), 3) AS pct_of_results \
                 FROM results WHERE build_id IN ({LAST_10}) \
                 AND status IN ('failed', 'errored', 'flaky') \
                 GROUP BY category ORDER BY failures DESC, category"
            ),
        ),
        q(
            "flaky-tests",
            "Flakiest tests",
            "Tests that were flaky or failed over the last 10 builds, most flaky first.",
            format!(
                "SELECT test_id, sum(status = 'flaky') AS flaky, \
                 sum(status IN ('failed', 'errored')) AS failed, count(*) AS builds \
                 FROM results WHERE build_id IN ({LAST_10}) \
                 GROUP BY test_id HAVING sum(status = 'flaky') > 0 \
                 ORDER BY flaky DESC, failed DESC, test_id LIMIT 20"
            ),
        ),
    ]
}

/// The built-ins, then the configured queries; a configured query replaces the
/// built-in of the same name in its place.
pub fn with_builtin(configured: Vec<NamedQuery>) -> Vec<NamedQuery> {
    let mut all = builtin();
    for q in configured {
        match all.iter_mut().find(|b| b.builtin && b.name == q.name) {
            Some(slot) => *slot = q,
            None => all.push(q),
        }
    }
    all
}

/// The query called `name`.
pub fn find<'a>(queries: &'a [NamedQuery], name: &str) -> Option<&'a NamedQuery> {
    queries.iter().find(|q| q.name == name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn check_err(text: &str, expected: &str) {
        let err = from_toml(text, "dtf.toml").unwrap_err();
        assert_eq!(err.to_string(), expected, "{text}");
    }

    #[test]
    fn reads_entries_and_ignores_other_sections() {
        let text = r#"
[plan]
shards = 4

[[pool]]
name = "gpu"
runners = 2

[[query]]
name = "slow-gpu"
title = "Slow on GPU"
description = "  mean time  "
sql = """
SELECT test_id FROM results WHERE pool = 'gpu'
"""

[[query]]
name = "count"
sql = "SELECT count(*) FROM results"
"#;
        let qs = from_toml(text, "dtf.toml").unwrap();
        assert_eq!(
            qs,
            vec![
                NamedQuery {
                    name: "slow-gpu".into(),
                    title: "Slow on GPU".into(),
                    sql: "SELECT test_id FROM results WHERE pool = 'gpu'".into(),
                    description: Some("mean time".into()),
                    builtin: false,
                },
                NamedQuery {
                    name: "count".into(),
                    title: "count".into(),
                    sql: "SELECT count(*) FROM results".into(),
                    description: None,
                    builtin: false,
                },
            ]
        );
        assert_eq!(from_toml("", "dtf.toml").unwrap(), vec![]);
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        check_err(
            "[[query]]\nname = \"a b\"\nsql = \"SELECT 1\"\n",
            "dtf.toml:2:8: query \"a b\": name: ' ' is not allowed; use letters, digits, '-' and '_'",
        );
        check_err(
            "[[query]]\nname = \"a\"\nsql = \"  \"\n",
            "dtf.toml:3:7: query \"a\": sql: empty",
        );
        check_err(
            "[[query]]\nname = \"a\"\nsql = \"SELECT 1\"\n[[query]]\nname = \"a\"\nsql = \"SELECT 2\"\n",
            "dtf.toml:5:8: query \"a\": name: another [[query]] has this name",
        );
        let e = from_toml(
            "[[query]]\nname = \"a\"\nsql = \"x\"\nsqll = 1\n",
            "dtf.toml",
        )
        .unwrap_err();
        match e {
            QueryConfigError::Invalid { line, message, .. } => {
                assert_eq!(line, 4);
                assert!(message.contains("sqll"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let e = from_toml("[[query]]\nname = \"a\"\n", "dtf.toml").unwrap_err();
        assert!(e.to_string().contains("sql"), "{e}");
        assert!(e.to_string().starts_with("dtf.toml:"), "{e}");
        let e = from_toml("[query]\nname = \"a\"\nsql = \"x\"\n", "dtf.toml").unwrap_err();
        assert!(e.to_string().starts_with("dtf.toml:1:"), "{e}");
    }

    #[test]
    fn configured_queries_replace_builtins_by_name() {
        let mine = NamedQuery {
            name: "flaky-tests".into(),
            title: "Mine".into(),
            sql: "SELECT 1".into(),
            description: None,
            builtin: false,
        };
        let extra = NamedQuery {
            name: "extra".into(),
            ..mine.clone()
        };
        let all = with_builtin(vec![mine.clone(), extra.clone()]);
        assert_eq!(all.len(), builtin().len() + 1);
        assert_eq!(find(&all, "flaky-tests"), Some(&mine));
        assert_eq!(all.last(), Some(&extra));
        for q in builtin() {
            assert_eq!(invalid_name(&q.name), None, "{}", q.name);
        }
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("x", 0), (1, 1));
        assert_eq!(line_column("x", 99), (1, 2));
    }
}
