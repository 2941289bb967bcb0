//! The data contract between the history store, the analysis and the reports.
//!
//! A [`BuildRecord`] is everything dtf keeps of one build: who built what, and one
//! [`TestRecord`] per test. A [`Comparison`] is what the analysis concludes about a
//! build against its baseline; reports and the pull-request comment render it as is.

use dtf_core::categorize::Category;
use dtf_core::model::Status;
use serde::{Deserialize, Serialize};

/// One build, as the store keeps it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// The provider's build id (GitHub run id, GitLab pipeline id, ...), or one dtf
    /// made up for a local build. Unique within a history.
    pub build_id: String,
    /// `github`, `gitlab`, `jenkins`, `azure-pipelines` or `local`, as
    /// `dtf_core::metadata::Provider::as_str` names them.
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Pull or merge request number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When the build ran (seconds since the Unix epoch, UTC).
    pub time_unix: i64,
    /// Wall time of the whole build (slowest shard), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
}

/// One test in one build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestRecord {
    /// The dtf test id (`SCOPE::NAME`, see `dtf_core::model::TestId`).
    pub id: String,
    pub status: Status,
    /// Seconds of the deciding attempt; `None` when no time was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    pub attempts: u32,
    /// Why it failed, for failed, errored and flaky tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// The failure message, first line, at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Shard index (0-based) that ran it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// Runner pool name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Runner labels (GitHub runs-on, GitLab tags, ...), e.g. `gpu`, `chrome-webgpu`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildRecord {
    pub info: BuildInfo,
    pub tests: Vec<TestRecord>,
}

/// How sure the analysis is of a finding, 0 to 1.
pub type Confidence = f64;

/// Where a test stands in this build against the baseline. A test is in exactly one
/// of these (see [`Comparison::tests`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Passed (or was flaky) in the baseline, fails now.
    NewFailure,
    /// Failed in the baseline and fails now.
    StillFailing,
    /// Failed in the baseline, passes now.
    Fixed,
    /// Not in the baseline; `status` says how it did.
    New,
    /// In the baseline, not in this build.
    Removed,
    /// Ran in the baseline, skipped now.
    NewlySkipped,
    /// Passed only on retry now, or flips between pass and fail across recent builds.
    Flaky,
    /// Nothing to report.
    Unchanged,
}

/// One test's line in a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestChange {
    pub id: String,
    pub change: Change,
    /// Now (`None` when removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// In the baseline (`None` when new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For flaky: the share of recent builds in which it flipped, or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flip_rate: Option<f64>,
    /// How sure the finding is (1.0 for plain facts such as a new failure).
    pub confidence: Confidence,
}

/// A test that got slower (or faster), judged against its own history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DurationChange {
    pub id: String,
    /// What its history predicts (median of recent builds).
    pub expected_s: f64,
    pub observed_s: f64,
    /// `observed / expected`.
    pub ratio: f64,
    /// Robust z-score on log durations: `ln(observed / shard speed)` less the median of
    /// the history's log durations, over `1.4826 × MAD` of those logs, that spread
    /// floored (see `anomaly::DurationOptions`); judged against the recent level
    /// instead when that level moved and is the closer one. Positive means slower.
    pub score: f64,
    pub confidence: Confidence,
}

/// Totals of one build, for the headline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildTotals {
    pub tests: u64,
    pub passed: u64,
    pub failed: u64,
    pub errored: u64,
    pub skipped: u64,
    pub flaky: u64,
    /// Sum of test times.
    pub duration_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
}

/// One group's results (a runner pool, or a browser label) in both builds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupComparison {
    /// `pool` or `label`.
    pub kind: String,
    pub name: String,
    pub now: BuildTotals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BuildTotals>,
    pub new_failures: u64,
}

/// An unusual result, explained: what the test's history expected against what was
/// observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub id: String,
    /// `duration` or `failure`.
    pub kind: String,
    pub expected: String,
    pub observed: String,
    pub confidence: Confidence,
}

/// One point of a trend, oldest first in [`Trend::points`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub build_id: String,
    pub time_unix: i64,
    pub pass_rate: f64,
    pub duration_s: f64,
    pub tests: u64,
    pub flaky: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub points: Vec<TrendPoint>,
}

/// This build against its baseline: everything the reports and the comment show.
/// Serialized with `"schema": "dtf.comparison.v1"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub schema: String,
    pub build: BuildInfo,
    /// `None` when there was nothing to compare against (the first build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BuildInfo>,
    pub totals: BuildTotals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_totals: Option<BuildTotals>,
    /// Every test with a change other than `Unchanged`, ordered by change, then id.
    pub tests: Vec<TestChange>,
    /// Slower tests, worst first.
    pub slower: Vec<DurationChange>,
    /// Faster tests, best first.
    pub faster: Vec<DurationChange>,
    /// The whole suite's duration against its history, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite_duration: Option<DurationChange>,
    pub groups: Vec<GroupComparison>,
    pub anomalies: Vec<Anomaly>,
    pub trend: Trend,
}

/// The schema name of a serialized [`Comparison`].
pub const COMPARISON_SCHEMA: &str = "dtf.comparison.v1";
