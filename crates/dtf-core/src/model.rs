//! The results model: what one `<testcase>` says, and what a test is across attempts.
//!
//! A [`TestCase`] is one attempt as a JUnit file records it. The same test seen again
//! (a retry inside one file, a rerun shard, a second file) is another attempt of the
//! same [`TestId`]; [`Status`] is the verdict over all attempts.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The outcome of one attempt.
///
/// When one `<testcase>` carries several result elements the most severe wins:
/// errored over failed over skipped over passed (see [`Outcome::severity`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Skipped,
    Failed,
    Errored,
}

impl Outcome {
    /// Higher is more severe; used to pick one outcome from several result elements.
    pub fn severity(self) -> u8 {
        match self {
            Outcome::Passed => 0,
            Outcome::Skipped => 1,
            Outcome::Failed => 2,
            Outcome::Errored => 3,
        }
    }

    /// The more severe of two outcomes.
    pub fn worst(self, other: Outcome) -> Outcome {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Errored)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on a test over all of its attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    Errored,
    Skipped,
    /// Failed or errored at least once, then passed.
    Flaky,
}

impl Status {
    /// The verdict over attempts in the order they ran.
    ///
    /// The last attempt that was not skipped decides; a pass after any failure is flaky.
    /// Only skips means skipped.
    pub fn from_attempts(outcomes: impl IntoIterator<Item = Outcome>) -> Status {
        let mut failed_before = false;
        let mut last: Option<Outcome> = None;
        for o in outcomes {
            match o {
                Outcome::Skipped => {
                    if last.is_none() {
                        last = Some(Outcome::Skipped);
                    }
                }
                o => {
                    if let Some(prev) = last {
                        failed_before |= prev.is_failure();
                    }
                    last = Some(o);
                }
            }
        }
        match last {
            None | Some(Outcome::Skipped) => Status::Skipped,
            Some(Outcome::Passed) if failed_before => Status::Flaky,
            Some(Outcome::Passed) => Status::Passed,
            Some(Outcome::Failed) => Status::Failed,
            Some(Outcome::Errored) => Status::Errored,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Errored => "errored",
            Status::Skipped => "skipped",
            Status::Flaky => "flaky",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Errored)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A test's identity, stable across shards and builds.
///
/// It is `SCOPE::NAME`, where SCOPE is the first non-empty of the testcase's
/// `classname`, its `file`, and the enclosing suite's name. The suite comes last
/// because shards of one suite are often given different suite names (per shard,
/// per host, per timestamp), while classname and file are properties of the test.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TestId(pub String);

impl TestId {
    pub const SEPARATOR: &'static str = "::";

    pub fn new(classname: Option<&str>, file: Option<&str>, suite: &str, name: &str) -> TestId {
        let mut s = String::with_capacity(64);
        TestId::write(&mut s, classname, file, suite, name);
        TestId(s)
    }

    /// Writes the id into `out` (cleared first), so hot loops can reuse one buffer.
    pub fn write(
        out: &mut String,
        classname: Option<&str>,
        file: Option<&str>,
        suite: &str,
        name: &str,
    ) {
        out.clear();
        out.push_str(TestId::scope(classname, file, suite));
        out.push_str(TestId::SEPARATOR);
        out.push_str(name);
    }

    /// The scope part of the id; see the type's documentation.
    pub fn scope<'a>(classname: Option<&'a str>, file: Option<&'a str>, suite: &'a str) -> &'a str {
        [classname, file]
            .into_iter()
            .flatten()
            .map(str::trim)
            .find(|s| !s.is_empty())
            .unwrap_or(suite.trim())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one failed, errored or skipped result element says.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    /// The `message` attribute.
    pub message: Option<String>,
    /// The `type` attribute (an exception class, "AssertionError", ...).
    pub failure_type: Option<String>,
    /// The element's text: usually a stack trace.
    pub details: Option<String>,
}

impl Detail {
    pub fn is_empty(&self) -> bool {
        self.message.is_none() && self.failure_type.is_none() && self.details.is_none()
    }
}

/// An earlier attempt recorded inside one `<testcase>` (Maven Surefire's
/// `flakyFailure`, `flakyError`, `rerunFailure`, `rerunError`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rerun {
    /// Failed or errored.
    pub outcome: Outcome,
    pub detail: Detail,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// Seconds, when the element gives a `time`.
    pub duration: Option<f64>,
}

/// One `<testcase>`: one attempt of one test, with any earlier attempts that the
/// same element records as [`Rerun`]s.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    /// The innermost enclosing `<testsuite>`'s name ("" when it has none).
    pub suite: String,
    pub classname: Option<String>,
    pub name: String,
    /// Source file: the `file` or `filepath` attribute, else the first project file
    /// named in the stack trace (then `file_inferred` is set).
    pub file: Option<String>,
    /// `file` came from a stack trace, not from the element: it does not take part in
    /// the test's identity, which must not depend on whether the test failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub file_inferred: bool,
    pub line: Option<u32>,
    /// Seconds; `None` when the file gives no time.
    pub duration: Option<f64>,
    pub outcome: OutcomeField,
    /// Message, type and text of the result element that decided the outcome.
    pub detail: Detail,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub properties: Vec<(String, String)>,
    /// Earlier attempts recorded inside this element, in the order they ran.
    pub reruns: Vec<Rerun>,
}

/// [`Outcome`] with a default, so [`TestCase`] can derive `Default`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutcomeField(pub Outcome);

impl Default for OutcomeField {
    fn default() -> Self {
        OutcomeField(Outcome::Passed)
    }
}

impl TestCase {
    pub fn id(&self) -> TestId {
        TestId::new(
            self.classname.as_deref(),
            self.id_file(),
            &self.suite,
            &self.name,
        )
    }

    /// The file that takes part in the identity: only one the element named.
    pub fn id_file(&self) -> Option<&str> {
        if self.file_inferred {
            None
        } else {
            self.file.as_deref()
        }
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome.0
    }

    /// Outcomes of every attempt this element records, earliest first.
    pub fn attempt_outcomes(&self) -> impl Iterator<Item = Outcome> + '_ {
        self.reruns
            .iter()
            .map(|r| r.outcome)
            .chain(std::iter::once(self.outcome.0))
    }

    /// The verdict over the attempts this element alone records.
    pub fn status(&self) -> Status {
        Status::from_attempts(self.attempt_outcomes())
    }
}
