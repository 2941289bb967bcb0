//! From a merged run to the [`BuildRecord`] the store keeps.
//!
//! The merge knows each test's verdict, attempts and deciding attempt, but not which
//! input it came from, so where a test ran (shard, runner pool, labels) arrives beside
//! it as [`Origins`]: the CLI fills them from what each input says about itself (a dtf
//! bundle's manifest names its shard and runner labels; a plan names each shard's
//! pool). A test with no origin keeps `None`s.

use std::collections::HashMap;
use std::io;

use dtf_core::categorize::{Categorizer, headline};
use dtf_core::merge::{MergedRun, MergedTest};
use dtf_core::model::{Detail, Status};

use crate::model::{BuildInfo, BuildRecord, TestRecord};

/// Longest failure message kept per test, in characters.
pub const MESSAGE_CHARS: usize = 500;

/// Where one test ran.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Origin {
    /// 0-based shard index.
    pub shard: Option<u32>,
    pub pool: Option<String>,
    pub labels: Vec<String>,
}

impl Origin {
    pub fn is_empty(&self) -> bool {
        self.shard.is_none() && self.pool.is_none() && self.labels.is_empty()
    }
}

/// Where each test ran, by test id. Origins are interned, since a whole shard's tests
/// share one.
#[derive(Clone, Debug, Default)]
pub struct Origins {
    origins: Vec<Origin>,
    index: HashMap<Origin, u32>,
    by_test: HashMap<String, u32>,
}

impl Origins {
    pub fn new() -> Origins {
        Origins::default()
    }

    /// Records that `test` ran at `origin`; a later call for the same test wins (a
    /// rerun shard's bundle comes after the shard it reruns).
    pub fn insert(&mut self, test: impl Into<String>, origin: &Origin) {
        if origin.is_empty() {
            return;
        }
        let next = self.origins.len() as u32;
        let i = *self.index.entry(origin.clone()).or_insert_with(|| {
            self.origins.push(origin.clone());
            next
        });
        self.by_test.insert(test.into(), i);
    }

    pub fn get(&self, test: &str) -> Option<&Origin> {
        self.by_test
            .get(test)
            .and_then(|&i| self.origins.get(i as usize))
    }

    pub fn len(&self) -> usize {
        self.by_test.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_test.is_empty()
    }
}

/// Why a merged run could not become a record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("reading back the merged results: {0}")]
    ReadBack(#[source] io::Error),
}

/// Every test of `run` as a [`TestRecord`], with `info` as the build.
pub fn record_from_merged(
    run: &MergedRun,
    info: BuildInfo,
    categorizer: &Categorizer,
) -> Result<BuildRecord, IngestError> {
    record_from_merged_with(run, info, categorizer, &Origins::default())
}

/// [`record_from_merged`], with where each test ran.
pub fn record_from_merged_with(
    run: &MergedRun,
    info: BuildInfo,
    categorizer: &Categorizer,
    origins: &Origins,
) -> Result<BuildRecord, IngestError> {
    let mut tests = Vec::with_capacity(run.len());
    run.visit(|t| {
        tests.push(test_record(t, categorizer, origins.get(t.id.as_str())));
        Ok(())
    })
    .map_err(IngestError::ReadBack)?;
    Ok(BuildRecord { info, tests })
}

/// One merged test as the store keeps it.
pub fn test_record(
    t: &MergedTest<'_>,
    categorizer: &Categorizer,
    origin: Option<&Origin>,
) -> TestRecord {
    let failed = matches!(t.status, Status::Failed | Status::Errored | Status::Flaky);
    let message = match t.status {
        Status::Failed | Status::Errored => message_line(&t.case.detail),
        // The deciding attempt passed; what flaked is the last failure before it.
        Status::Flaky => t
            .case
            .reruns
            .iter()
            .rev()
            .find(|r| r.outcome.is_failure())
            .and_then(|r| message_line(&r.detail)),
        Status::Passed | Status::Skipped => None,
    };
    let origin = origin.cloned().unwrap_or_default();
    TestRecord {
        id: t.id.0.clone(),
        status: t.status,
        duration_s: t.case.duration.filter(|d| d.is_finite() && *d >= 0.0),
        attempts: t.attempts.max(1),
        category: failed.then(|| categorizer.categorize(&t.case)),
        message,
        shard: origin.shard,
        pool: origin.pool,
        labels: origin.labels,
    }
}

/// A failure's headline (see `dtf_core::categorize::headline`), at most
/// [`MESSAGE_CHARS`] characters, or `None` when it says nothing.
pub fn message_line(detail: &Detail) -> Option<String> {
    let line = headline(detail);
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    Some(clip_chars(line, MESSAGE_CHARS))
}

/// At most `max` characters; a cut string ends with `…` (counted).
fn clip_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some(_) => {
            let keep = max.saturating_sub(1);
            let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..end])
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use dtf_core::categorize::Category;
    use dtf_core::merge::{Input, MergeOptions, merge};

    fn merged(docs: &[&str]) -> MergedRun {
        let inputs: Vec<Input> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| Input::bytes(format!("in-{i}.xml"), d.as_bytes().to_vec()))
            .collect();
        merge(&inputs, &MergeOptions::default()).unwrap()
    }

    fn info() -> BuildInfo {
        BuildInfo {
            build_id: "b1".into(),
            provider: "local".into(),
            time_unix: 1_700_000_000,
            ..BuildInfo::default()
        }
    }

    #[test]
    fn every_status_becomes_a_record() {
        let run = merged(&[
            r#"<testsuite name="s">
              <testcase classname="a" name="pass" time="1.5"/>
              <testcase classname="a" name="fail" time="0.25"><failure message="expected 1, got 2&#10;more detail">trace</failure></testcase>
              <testcase classname="a" name="err"><error message="Connection refused" type="java.net.ConnectException"/></testcase>
              <testcase classname="a" name="skip"><skipped/></testcase>
              <testcase classname="a" name="flaky" time="3"><failure message="timed out after 30s"/></testcase>
            </testsuite>"#,
            r#"<testsuite name="s"><testcase classname="a" name="flaky" time="2"/></testsuite>"#,
        ]);
        let rec = record_from_merged(&run, info(), &Categorizer::builtin()).unwrap();
        assert_eq!(rec.info, info());
        let by_id: HashMap<&str, &TestRecord> =
            rec.tests.iter().map(|t| (t.id.as_str(), t)).collect();
        assert_eq!(by_id.len(), 5);
        let pass = by_id["a::pass"];
        assert_eq!(
            (pass.status, pass.duration_s, pass.attempts, pass.category),
            (Status::Passed, Some(1.5), 1, None)
        );
        assert_eq!(pass.message, None);
        let fail = by_id["a::fail"];
        assert_eq!(fail.status, Status::Failed);
        assert_eq!(fail.category, Some(Category::Assertion));
        assert_eq!(fail.message.as_deref(), Some("expected 1, got 2"));
        let err = by_id["a::err"];
        assert_eq!(err.status, Status::Errored);
        assert_eq!(err.category, Some(Category::Infrastructure));
        assert!(
            err.message
                .as_deref()
                .unwrap()
                .contains("Connection refused")
        );
        let skip = by_id["a::skip"];
        assert_eq!((skip.status, skip.category), (Status::Skipped, None));
        let flaky = by_id["a::flaky"];
        assert_eq!((flaky.status, flaky.attempts), (Status::Flaky, 2));
        assert_eq!(flaky.duration_s, Some(2.0), "the deciding attempt's time");
        assert_eq!(flaky.category, Some(Category::Timeout));
        assert_eq!(flaky.message.as_deref(), Some("timed out after 30s"));
        assert!(
            rec.tests
                .iter()
                .all(|t| t.shard.is_none() && t.pool.is_none())
        );
    }

    #[test]
    fn origins_fill_shard_pool_and_labels() {
        let run = merged(&[
            r#"<testsuite name="s"><testcase classname="a" name="x"/><testcase classname="a" name="y"/></testsuite>"#,
        ]);
        let gpu = Origin {
            shard: Some(1),
            pool: Some("gpu".into()),
            labels: vec!["linux".into(), "cuda".into()],
        };
        let mut origins = Origins::new();
        origins.insert("a::x", &Origin::default());
        origins.insert("a::x", &gpu);
        assert_eq!(origins.len(), 1);
        let rec = record_from_merged_with(&run, info(), &Categorizer::builtin(), &origins).unwrap();
        let x = rec.tests.iter().find(|t| t.id == "a::x").unwrap();
        assert_eq!(
            (x.shard, x.pool.as_deref(), x.labels.clone()),
            (Some(1), Some("gpu"), gpu.labels.clone())
        );
        let y = rec.tests.iter().find(|t| t.id == "a::y").unwrap();
        assert_eq!((y.shard, y.pool.as_deref()), (None, None));
        assert!(y.labels.is_empty());
    }

    #[test]
    fn messages_are_one_clipped_line() {
        let check = |message: &str, expected: Option<&str>| {
            let d = Detail {
                message: Some(message.into()),
                ..Detail::default()
            };
            assert_eq!(message_line(&d).as_deref(), expected, "{message:?}");
        };
        check("first\nsecond", Some("first"));
        check("   \n  ", None);
        let long = "é".repeat(600);
        let clipped = message_line(&Detail {
            message: Some(long),
            ..Detail::default()
        })
        .unwrap();
        assert_eq!(clipped.chars().count(), MESSAGE_CHARS);
        assert!(clipped.ends_with('…'));
        check(&"x".repeat(500), Some(&"x".repeat(500)));
    }
}
