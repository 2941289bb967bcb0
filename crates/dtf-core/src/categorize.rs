//! Error categories and failure groups: why a test failed, and which failures share a
//! cause.
//!
//! A retry policy needs to know whether a failure is worth retrying: a refused
//! connection or a killed worker is the runner's problem and may pass next time, an
//! assertion is the code's and will not. [`Categorizer`] reads a failure's type,
//! message and stack trace (and, when those say nothing specific, the end of its
//! output) and names a [`Category`]; users add their own regex rules in `dtf.toml`
//! (`[[category]]`, see [`RuleConfig`]), which are tried before the built-in ones.
//!
//! Reports need the other view: 37 tests failing with "connection refused" are one
//! problem, not 37. [`signature`] masks what varies between occurrences of the same
//! failure (numbers, addresses, ids, paths, quoted values, durations) and, for
//! failures in the code under test, adds the innermost project stack frame, so that
//! the same generic message at two places stays two problems. [`Grouper`] collects
//! failures into [`FailureGroup`]s by category and signature.
//!
//! Nothing here knows a CI provider or reads the environment: it is text in, category
//! out, so every rule is tested with plain tables.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};

use crate::junit::file_from_stack_trace;
use crate::model::{Detail, Outcome, TestCase};

/// Why a test failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// An assertion in the test did not hold.
    Assertion,
    /// Any other error or exception raised by the code under test.
    Error,
    /// The test, or a call it made, ran out of time.
    Timeout,
    /// The process died: a signal, an abort, out of memory.
    Crash,
    /// The environment failed: network, DNS, disk full, a service unavailable.
    Infrastructure,
    /// A fixture, setup or teardown step failed rather than the test itself.
    Setup,
    /// The framework never reported the test (it crashed or was killed first).
    Lost,
    /// Nothing was recorded to tell.
    Unknown,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Assertion,
        Category::Error,
        Category::Timeout,
        Category::Crash,
        Category::Infrastructure,
        Category::Setup,
        Category::Lost,
        Category::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Assertion => "assertion",
            Category::Error => "error",
            Category::Timeout => "timeout",
            Category::Crash => "crash",
            Category::Infrastructure => "infrastructure",
            Category::Setup => "setup",
            Category::Lost => "lost",
            Category::Unknown => "unknown",
        }
    }

    /// A few words for people, as reports show it.
    pub fn label(self) -> &'static str {
        match self {
            Category::Assertion => "assertion failure",
            Category::Error => "error or exception",
            Category::Timeout => "timeout",
            Category::Crash => "crash",
            Category::Infrastructure => "infrastructure",
            Category::Setup => "setup or teardown",
            Category::Lost => "lost",
            Category::Unknown => "unknown",
        }
    }

    /// Failures that say nothing about the code under test and may pass on a retry:
    /// infrastructure, timeout, crash and lost.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Category::Infrastructure | Category::Timeout | Category::Crash | Category::Lost
        )
    }

    /// Whether the failure is about the environment rather than a place in the code;
    /// such failures are grouped by message alone (see [`signature`]).
    fn is_environmental(self) -> bool {
        self.is_transient() || self == Category::Setup
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = RuleError;

    /// The names of [`Category::as_str`], in any case; `infra` is accepted for
    /// `infrastructure`.
    fn from_str(s: &str) -> Result<Category, RuleError> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "infra" {
            return Ok(Category::Infrastructure);
        }
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == lower)
            .ok_or_else(|| RuleError::UnknownCategory {
                category: s.to_owned(),
            })
    }
}

/// Which text of a failure a rule looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The failure's type, message and text (usually the stack trace).
    Message,
    /// The test's standard output and standard error (their last [`OUTPUT_TAIL`] bytes).
    Output,
    /// Both.
    #[default]
    Any,
}

impl FromStr for Field {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Field, RuleError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "message" => Ok(Field::Message),
            "output" => Ok(Field::Output),
            "any" => Ok(Field::Any),
            _ => Err(RuleError::UnknownField {
                field: s.to_owned(),
            }),
        }
    }
}

/// How much of the end of stdout and stderr is searched: the cause of a failure is
/// printed last, and a test that printed 100 MB must not make categorizing slow.
pub const OUTPUT_TAIL: usize = 256 * 1024;

/// A user rule: failures whose `field` matches `pattern` are `category`.
#[derive(Clone, Debug)]
pub struct Rule {
    pub category: Category,
    pub pattern: Regex,
    pub field: Field,
}

impl Rule {
    pub fn new(category: Category, pattern: &str, field: Field) -> Result<Rule, RuleError> {
        if pattern.is_empty() {
            return Err(RuleError::EmptyPattern);
        }
        let pattern = Regex::new(pattern).map_err(|e| RuleError::BadPattern {
            pattern: pattern.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Rule {
            category,
            pattern,
            field,
        })
    }
}

/// One `[[category]]` entry of `dtf.toml`, as written:
///
/// ```toml
/// [[category]]
/// category = "infrastructure"
/// pattern = "(?i)database is starting up"
/// field = "output"   # message, output or any (the default)
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub category: String,
    /// A regular expression (Rust `regex` syntax); `(?i)` makes it case-insensitive.
    pub pattern: String,
    /// `message`, `output` or `any`; `any` when left out.
    #[serde(default)]
    pub field: Option<String>,
}

impl RuleConfig {
    pub fn to_rule(&self) -> Result<Rule, RuleError> {
        let category: Category = self.category.parse()?;
        let field = match &self.field {
            Some(f) => f.parse()?,
            None => Field::Any,
        };
        Rule::new(category, &self.pattern, field)
    }
}

/// A user rule that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error(
        "unknown category `{category}` (known: assertion, error, timeout, crash, infrastructure, setup, lost, unknown)"
    )]
    UnknownCategory { category: String },
    #[error("unknown field `{field}` (known: message, output, any)")]
    UnknownField { field: String },
    #[error("bad pattern `{pattern}`: {message}")]
    BadPattern { pattern: String, message: String },
    #[error("empty pattern: it would match every failure")]
    EmptyPattern,
    /// A problem in the `index`-th (from 1) `[[category]]` entry.
    #[error("[[category]] entry {index}: {source}")]
    Entry {
        index: usize,
        #[source]
        source: Box<RuleError>,
    },
}

/// Built-in rules, most decisive first. Each is a list of patterns, any of which
/// matches; all are case-insensitive unless they spell a constant (`ENOSPC`).
struct Builtin {
    infrastructure: RegexSet,
    crash: RegexSet,
    timeout: RegexSet,
    setup: RegexSet,
    assertion: RegexSet,
}

const INFRASTRUCTURE: &[&str] = &[
    r"(?i)connection refused",
    r"\bECONNREFUSED\b",
    r"(?i)connection reset",
    r"\bECONNRESET\b",
    r"(?i)\bConnection(Refused|Reset|Aborted)Error\b",
    r"(?i)\b(NewConnectionError|MaxRetryError|RemoteDisconnected)\b",
    r"\bConnectionError\b",
    r"(?i)max retries exceeded with url",
    r"(?i)java\.net\.(ConnectException|UnknownHostException|NoRouteToHostException)",
    r"(?i)\bgetaddrinfo\b",
    r"\b(ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT)\b",
    r"(?i)name or service not known",
    r"(?i)temporary failure in name resolution",
    r"(?i)nodename nor servname",
    r"(?i)could not resolve (host|hostname|proxy)",
    r"(?i)no such host",
    r"(?i)\bgaierror\b",
    r"(?i)network is unreachable",
    r"(?i)no route to host",
    r"(?i)connection timed out",
    r"(?i)\bdial tcp\b.*\bi/o timeout",
    r"(?i)tls handshake timeout",
    r"(?i)no space left on device",
    r"\b(ENOSPC|EDQUOT|EROFS)\b",
    r"(?i)disk quota exceeded",
    r"(?i)read-only file system",
    r"(?i)\b503\b.{0,40}service unavailable|service unavailable",
    r"(?i)\b502\b.{0,40}bad gateway|bad gateway",
    r"(?i)\b504\b.{0,40}gateway time-?out|gateway time-?out",
    r"(?i)\b429\b.{0,40}too many requests|too many requests",
    r"(?i)rate[ -]?limit(ed|ing)?\b.{0,40}(exceeded|reached|hit)|\brate[ -]?limited\b",
    r"(?i)cannot connect to the docker daemon|is the docker daemon running|docker daemon (is )?not running",
];

const CRASH: &[&str] = &[
    r"\bSIG(SEGV|ABRT|KILL|BUS|ILL|FPE|TRAP|SYS)\b",
    r"(?i)segmentation fault",
    r"(?i)core dumped",
    r"(?i)\b(killed|terminated|aborted) (by|with) signal\b",
    r"(?i)\bsignal \d+\b",
    r"(?i)out of memory",
    r"\bOOMKilled\b",
    r"\bOOM\b",
    r"\bENOMEM\b",
    r"(?i)cannot allocate memory",
    r"(?i)memory allocation of \d+ bytes failed",
    r"\bMemoryError\b",
    r"OutOfMemoryError",
    r"(?i)heap out of memory",
    r"(?i)\bexit (code|status):? (134|137|139)\b",
    r"(?i)\bexit code (134|137|139)\b",
    r"(?im)^\s*test abort\s*$",
    r"(?i)stack overflow|overflowed its stack",
    r"(?i)double free",
    r"(?i)illegal instruction",
    r"(?i)\bbus error\b",
    r"(?i)fatal error: runtime",
    r"(?i)non-unwinding panic|panicked while processing panic",
    r"(?i)worker (process )?(has )?(crashed|died|exited unexpectedly)",
    r"(?i)child process exceptions",
    r"(?i)node down: not properly terminated",
];

const TIMEOUT: &[&str] = &[
    r"(?i)\btimed ?out\b",
    r"(?i)\bTimeout(Error|Exception)\b",
    r"(?i)TestTimedOutException",
    r"(?i)deadline exceeded",
    r"\bDEADLINE_EXCEEDED\b",
    r"(?im)^\s*test timeout\s*$",
    r"(?i)exceeded timeout of",
    r"(?i)timeout of \d+ ?ms exceeded",
    r"(?im)^\s*timeout\b",
    r"(?i)\btimeout (exceeded|expired|reached)\b",
];

const SETUP: &[&str] = &[
    r"(?i)failed on (setup|teardown) with",
    r"(?i)error at (setup|teardown) of",
    r"(?i)\b(setUpClass|tearDownClass|setUpModule|tearDownModule)\b",
    r"@(BeforeAll|BeforeEach|AfterAll|AfterEach|BeforeClass|AfterClass)\b",
    r#"(?i)"(before|after) (all|each)" hook"#,
    r"(?i)\b(beforeAll|afterAll|beforeEach|afterEach)\b.{0,20}\bhook\b",
    r"(?i)fixture '[^']*' not found",
];

const ASSERTION: &[&str] = &[
    r"(?i)\bassert",
    r"(?i)\bComparisonFailure\b",
    r"(?i)\bexpected\b.{0,200}\b(but was|but got|but found|actual|received|got|to (deeply |strictly )?(be|equal|have|include|contain|match|throw))\b",
    r"(?i)\bexpect\(.*\)\.(not\.)?to[A-Z]\w*",
    r"(?i)\bgot\b.{0,200}\bwant\b",
    r"(?i)\bnot equal\b",
    r"(?m)^E\s+assert\b",
];

fn set(patterns: &[&str]) -> RegexSet {
    RegexSet::new(patterns).expect("built-in category patterns compile")
}

static BUILTIN: LazyLock<Builtin> = LazyLock::new(|| Builtin {
    infrastructure: set(INFRASTRUCTURE),
    crash: set(CRASH),
    timeout: set(TIMEOUT),
    setup: set(SETUP),
    assertion: set(ASSERTION),
});

/// Names a [`Category`] for failures: user rules first, then the built-in ones.
///
/// The order of the decision:
///
/// 1. a failure whose type is exactly a category name (`lost`, `timeout`, `crash`, as
///    dtf's runner writes for tests it had to give up on) is that category;
/// 2. user rules, in order;
/// 3. built-in rules (infrastructure, crash, timeout, setup, assertion, in that
///    order, so that a setup fixture that cannot connect is infrastructure and
///    retried) over the type and message, then over the stack trace: the message is
///    the most specific evidence, and a trace also quotes source code;
/// 4. infrastructure, crash and timeout rules over the end of stdout and stderr;
/// 5. otherwise [`Category::Error`] (an exception, or a failure the rules do not
///    know) when anything was recorded, else [`Category::Unknown`].
///
/// A passed or skipped test is [`Category::Unknown`], unless it passed after failed
/// attempts recorded in the same element (flaky): then the last failed attempt is
/// categorized, which says why the test flaked.
#[derive(Clone, Debug, Default)]
pub struct Categorizer {
    rules: Vec<Rule>,
}

impl Categorizer {
    /// The built-in rules only.
    pub fn builtin() -> Self {
        Categorizer { rules: Vec::new() }
    }

    /// User rules, tried in order before the built-in ones.
    pub fn with_rules(rules: Vec<Rule>) -> Result<Self, RuleError> {
        if rules.iter().any(|r| r.pattern.as_str().is_empty()) {
            return Err(RuleError::EmptyPattern);
        }
        Ok(Categorizer { rules })
    }

    /// User rules as `dtf.toml` spells them; errors name the entry (from 1).
    pub fn from_config(entries: &[RuleConfig]) -> Result<Self, RuleError> {
        let rules = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.to_rule().map_err(|source| RuleError::Entry {
                    index: i + 1,
                    source: Box::new(source),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Categorizer::with_rules(rules)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn categorize(&self, case: &TestCase) -> Category {
        match failed_attempt(case) {
            Some((outcome, detail, stdout, stderr)) => {
                self.categorize_parts(outcome, detail, stdout, stderr)
            }
            None => Category::Unknown,
        }
    }

    /// One failed attempt's parts, for callers that do not hold a [`TestCase`].
    /// A passed or skipped `outcome` is [`Category::Unknown`].
    pub fn categorize_parts(
        &self,
        outcome: Outcome,
        detail: &Detail,
        stdout: Option<&str>,
        stderr: Option<&str>,
    ) -> Category {
        if !outcome.is_failure() {
            return Category::Unknown;
        }
        if let Some(t) = detail.failure_type.as_deref()
            && let Some(c) = Category::ALL.into_iter().find(|c| c.as_str() == t.trim())
        {
            return c;
        }
        let head = head_text(detail);
        let details = detail.details.as_deref().unwrap_or("");
        let output = OutputTail::new(stdout, stderr);
        for rule in &self.rules {
            let in_message = || rule.pattern.is_match(&head) || rule.pattern.is_match(details);
            let hit = match rule.field {
                Field::Message => in_message(),
                Field::Output => output.is_match(&rule.pattern),
                Field::Any => in_message() || output.is_match(&rule.pattern),
            };
            if hit {
                return rule.category;
            }
        }
        let b = &*BUILTIN;
        let ordered = [
            (&b.infrastructure, Category::Infrastructure),
            (&b.crash, Category::Crash),
            (&b.timeout, Category::Timeout),
            (&b.setup, Category::Setup),
            (&b.assertion, Category::Assertion),
        ];
        let body = evidence(details);
        for text in [head.as_str(), body.as_ref()] {
            for (patterns, category) in ordered {
                if patterns.is_match(text) {
                    return category;
                }
            }
        }
        for (patterns, category) in &ordered[..3] {
            if output.is_match_set(patterns) {
                return *category;
            }
        }
        if head.trim().is_empty() && details.trim().is_empty() && output.is_empty() {
            Category::Unknown
        } else {
            Category::Error
        }
    }

    /// The failure's signature under these rules; see [`signature`].
    pub fn signature(&self, case: &TestCase) -> String {
        let category = self.categorize(case);
        match failed_attempt(case) {
            Some((_, detail, _, _)) => signature_of(category, detail),
            None => String::new(),
        }
    }

    /// Collects failures into groups.
    pub fn grouper(&self) -> Grouper<'_> {
        Grouper {
            categorizer: self,
            index: HashMap::new(),
            groups: Vec::new(),
        }
    }

    /// The failed and errored cases among `cases`, grouped; see [`Grouper`].
    pub fn group<'a>(&self, cases: impl IntoIterator<Item = &'a TestCase>) -> Vec<FailureGroup> {
        let mut g = self.grouper();
        for case in cases {
            g.add(case);
        }
        g.finish()
    }
}

/// The attempt to categorize: the case itself when it failed, else its last failed
/// rerun (a flaky test), else none.
fn failed_attempt(case: &TestCase) -> Option<(Outcome, &Detail, Option<&str>, Option<&str>)> {
    if case.outcome().is_failure() {
        return Some((
            case.outcome(),
            &case.detail,
            case.stdout.as_deref(),
            case.stderr.as_deref(),
        ));
    }
    case.reruns
        .iter()
        .rev()
        .find(|r| r.outcome.is_failure())
        .map(|r| {
            (
                r.outcome,
                &r.detail,
                r.stdout.as_deref().or(case.stdout.as_deref()),
                r.stderr.as_deref().or(case.stderr.as_deref()),
            )
        })
}

/// Type and message of a failure, one per line: the most specific evidence.
fn head_text(detail: &Detail) -> String {
    match (&detail.failure_type, &detail.message) {
        (Some(t), Some(m)) => format!("{t}\n{m}"),
        (Some(s), None) | (None, Some(s)) => s.clone(),
        (None, None) => String::new(),
    }
}

/// The lines of a failure's text that state what happened. pytest quotes the test's
/// source around the failing line (indented, or marked `>`) and prints the error on
/// lines starting with `E `; source that merely mentions a timeout or a refused
/// connection must not decide the category, so in that format only unindented lines
/// count. Other formats are used whole.
fn evidence(details: &str) -> Cow<'_, str> {
    let pytest = details.lines().any(|l| l.starts_with("E   "));
    if !pytest {
        return Cow::Borrowed(details);
    }
    let kept: Vec<&str> = details
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace) && !l.starts_with('>'))
        .collect();
    Cow::Owned(kept.join("\n"))
}

/// The last [`OUTPUT_TAIL`] bytes of stdout and of stderr.
struct OutputTail<'a> {
    parts: [&'a str; 2],
}

impl<'a> OutputTail<'a> {
    fn new(stdout: Option<&'a str>, stderr: Option<&'a str>) -> Self {
        OutputTail {
            parts: [tail(stdout.unwrap_or("")), tail(stderr.unwrap_or(""))],
        }
    }

    fn is_empty(&self) -> bool {
        self.parts.iter().all(|p| p.trim().is_empty())
    }

    fn is_match(&self, re: &Regex) -> bool {
        self.parts.iter().any(|p| re.is_match(p))
    }

    fn is_match_set(&self, set: &RegexSet) -> bool {
        self.parts.iter().any(|p| set.is_match(p))
    }
}

fn tail(s: &str) -> &str {
    if s.len() <= OUTPUT_TAIL {
        return s;
    }
    let mut start = s.len() - OUTPUT_TAIL;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The failure's category under the built-in rules.
pub fn categorize(case: &TestCase) -> Category {
    Categorizer::builtin().categorize(case)
}

/// Longest headline kept as a group's example message.
const HEADLINE_CHARS: usize = 500;
/// Longest masked message in a signature.
const SIGNATURE_CHARS: usize = 300;

/// What a failure says, in one line: the first line of its message (else of its
/// text, else its type), with a Rust panic's payload after nextest's `thread 'x'
/// panicked at file:line` header, and the exception type in front when the message
/// does not name it.
pub fn headline(detail: &Detail) -> String {
    let first = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| s.lines().map(str::trim).find(|l| !l.is_empty()))
            .map(str::to_owned)
    };
    let mut line = first(&detail.message)
        .or_else(|| first(&detail.details))
        .or_else(|| first(&detail.failure_type))
        .unwrap_or_default();
    if line.contains("panicked at")
        && let Some(details) = detail.details.as_deref()
    {
        let mut lines = details.lines().map(str::trim);
        if lines.any(|l| l.contains("panicked at"))
            && let Some(payload) = lines.find(|l| !l.is_empty())
            && !payload.starts_with("note: ")
            && !payload.starts_with("stack backtrace")
        {
            line = format!("{}: {payload}", line.trim_end_matches(':'));
        }
    }
    if let Some(t) = detail.failure_type.as_deref().map(str::trim)
        && !t.is_empty()
        && !t.contains(char::is_whitespace)
        && !contains_word(&line, t.rsplit('.').next().unwrap_or(t))
    {
        line = format!("{t}: {line}");
    }
    clip(&line, HEADLINE_CHARS)
}

/// Whether `word` occurs in `text` with no letter, digit or `_` on either side.
fn contains_word(text: &str, word: &str) -> bool {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(word).any(|(i, w)| {
        !is_word(text[..i].chars().next_back()) && !is_word(text[i + w.len()..].chars().next())
    })
}

fn clip(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Masks, in order: each replaces what it matched with a placeholder.
static MASKS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let masks: &[(&str, &str)] = &[
        (r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\x22`<>()]+", "<url>"),
        (
            r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "<uuid>",
        ),
        (r"(?i)\b0x[0-9a-f]+\b", "0x<hex>"),
        // Quoted values, up to 64 characters: longer quotes are prose (an inner
        // exception's message) that tells failures apart. An apostrophe inside a word
        // (`can't`) does not open a quote.
        (r"(^|[^\w'])'[^'\n]{0,64}'", "${1}'<str>'"),
        (r#""[^"\n]{0,64}""#, "\"<str>\""),
        (r"`[^`\n]{0,64}`", "`<str>`"),
        (r"\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b", "<ip>"),
        (
            r"(?:[A-Za-z]:)?(?:[\\/]?[\w.@+~-]+[\\/])+[\w.@+~-]*",
            "<path>",
        ),
        // Go's `1m30s`, then `1.5 s`, `300ms`, `2 minutes`.
        (r"\b(\d+(\.\d+)?(h|m|s|ms|us|µs|ns)){2,}\b", "<duration>"),
        (
            r"(?i)\b\d+(\.\d+)?\s?(ns|us|µs|ms|s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b",
            "<duration>",
        ),
        (r"_\d+\b", "_<n>"),
        (r"\b\d+(\.\d+)?\b", "<n>"),
        (r"\s+", " "),
    ];
    masks
        .iter()
        .map(|(p, r)| (Regex::new(p).expect("built-in mask patterns compile"), *r))
        .collect()
});

/// The position of the path mask in [`MASKS`]; hex ids are masked right after it.
const PATH_MASK: usize = 7;

/// Hex runs of 8 or more characters: commit hashes, object ids, tokens.
static HEX_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b[0-9a-f]{8,}\b").expect("built-in mask pattern compiles"));

/// `text` with what varies between occurrences of one failure masked: URLs, UUIDs,
/// hex addresses and ids, quoted values, IP addresses and ports, paths, durations and
/// numbers; whitespace collapsed.
pub fn normalize_message(text: &str) -> String {
    let mut s = text.trim().to_owned();
    for (i, (re, with)) in MASKS.iter().enumerate() {
        if let Cow::Owned(o) = re.replace_all(&s, *with) {
            s = o;
        }
        // After quotes and paths, before numbers: a hex id is one mixing digits and
        // letters (all digits is a number; all letters may be a word like `deadbeef`).
        if i == PATH_MASK
            && let Cow::Owned(o) = HEX_ID.replace_all(&s, |c: &regex::Captures<'_>| {
                let m = &c[0];
                let digit = m.bytes().any(|b| b.is_ascii_digit());
                let letter = m.bytes().any(|b| b.is_ascii_alphabetic());
                if digit && letter {
                    "<hex>".to_owned()
                } else {
                    m.to_owned()
                }
            })
        {
            s = o;
        }
    }
    clip(s.trim(), SIGNATURE_CHARS)
}

/// The innermost stack frame in the project's own code, as `dir/file.ext:line` (the
/// last two path components, so frames from different checkouts compare equal).
/// Python tracebacks list the innermost frame last; other languages first.
pub fn top_frame(trace: &str) -> Option<String> {
    let frames: Vec<(String, Option<u32>)> = trace
        .lines()
        .filter_map(|l| file_from_stack_trace(l, None))
        .collect();
    let python = trace.contains("most recent call last")
        || frames.first().is_some_and(|(f, _)| f.ends_with(".py"));
    let (file, line) = if python {
        frames.last()?
    } else {
        frames.first()?
    };
    let file = file.replace('\\', "/");
    let mut parts: Vec<&str> = file.rsplit('/').filter(|p| !p.is_empty()).take(2).collect();
    parts.reverse();
    let short = parts.join("/");
    Some(match line {
        Some(l) => format!("{short}:{l}"),
        None => short,
    })
}

/// A failure's signature: its [`headline`] with [`normalize_message`]'s masks, and
/// for failures in the code (assertion, error, unknown) the [`top_frame`] after ` @ `.
/// Environmental failures (infrastructure, timeout, crash, lost, setup) are grouped
/// by message alone: 37 tests that cannot reach the database fail at 37 places for
/// one reason.
pub fn signature(case: &TestCase) -> String {
    Categorizer::builtin().signature(case)
}

fn signature_of(category: Category, detail: &Detail) -> String {
    let message = normalize_message(&headline(detail));
    if category.is_environmental() {
        return message;
    }
    match detail.details.as_deref().and_then(top_frame) {
        Some(frame) => format!("{message} @ {frame}"),
        None => message,
    }
}

/// Failures that share a category and a signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureGroup {
    pub signature: String,
    pub category: Category,
    /// The first member's [`headline`], unmasked.
    pub message: String,
    /// Test ids, in the order they were added, each once.
    pub members: Vec<String>,
}

impl FailureGroup {
    pub fn count(&self) -> usize {
        self.members.len()
    }
}

/// Collects failing tests into [`FailureGroup`]s, one test at a time (so a merged
/// run can be streamed through it). Passed, skipped and flaky tests are ignored:
/// pass each test's deciding attempt once.
pub struct Grouper<'c> {
    categorizer: &'c Categorizer,
    index: HashMap<(Category, String), usize>,
    groups: Vec<(FailureGroup, HashSet<String>)>,
}

impl Grouper<'_> {
    /// Adds a test under its own id ([`TestCase::id`]).
    pub fn add(&mut self, case: &TestCase) {
        if case.outcome().is_failure() {
            let id = case.id();
            self.add_as(id.as_str(), case);
        }
    }

    /// Adds a test under `id` (the merged run's id, when the caller has it).
    pub fn add_as(&mut self, id: &str, case: &TestCase) {
        if !case.outcome().is_failure() {
            return;
        }
        let category = self.categorizer.categorize(case);
        let signature = signature_of(category, &case.detail);
        let key = (category, signature);
        let slot = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                let group = FailureGroup {
                    signature: key.1.clone(),
                    category,
                    message: headline(&case.detail),
                    members: Vec::new(),
                };
                self.groups.push((group, HashSet::new()));
                self.index.insert(key, self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let (group, seen) = &mut self.groups[slot];
        if seen.insert(id.to_owned()) {
            group.members.push(id.to_owned());
        }
    }

    /// The groups, largest first; ties by category, then signature.
    pub fn finish(self) -> Vec<FailureGroup> {
        let mut groups: Vec<FailureGroup> = self.groups.into_iter().map(|(g, _)| g).collect();
        groups.sort_by(|a, b| {
            b.members
                .len()
                .cmp(&a.members.len())
                .then(a.category.cmp(&b.category))
                .then_with(|| a.signature.cmp(&b.signature))
        });
        groups
    }
}

/// The failed and errored cases among `cases`, grouped under the built-in rules.
pub fn group<'a>(cases: impl IntoIterator<Item = &'a TestCase>) -> Vec<FailureGroup> {
    Categorizer::builtin().group(cases)
}
