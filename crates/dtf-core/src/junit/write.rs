//! Writes JUnit XML that the importers of Jenkins, GitLab and Azure DevOps accept.
//!
//! The common ground of those importers: a `<testsuites>` root with `tests`,
//! `failures`, `errors`, `skipped` and `time`; `<testsuite>` with the same counts;
//! `<testcase classname name time file line>`; one of `<failure>`, `<error>`,
//! `<skipped>` with a `message` and `type`; `<system-out>` and `<system-err>`.
//! Earlier attempts are written the way Maven Surefire does (`flakyFailure` when the
//! test finally passed, `rerunFailure` when it did not): Jenkins shows them, and the
//! other importers ignore elements they do not know.
//!
//! Characters XML 1.0 cannot carry (most control characters) are replaced, so a test
//! that printed binary garbage cannot make the whole file unreadable.

use std::io::{self, Write};

use crate::model::{Outcome, Rerun, TestCase};

/// How much of each text field the writer keeps. A longer field keeps its head and
/// tail, with a note of how much was left out in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteLimits {
    /// `message` attributes, in bytes.
    pub message: usize,
    /// Stack traces and other element text, in bytes.
    pub details: usize,
    /// Each of `system-out` and `system-err`, in bytes.
    pub output: usize,
}

impl Default for WriteLimits {
    fn default() -> Self {
        WriteLimits {
            message: 16 << 10,
            details: 64 << 10,
            output: 64 << 10,
        }
    }
}

/// Counts for a `<testsuites>` or `<testsuite>` element.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SuiteCounts {
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    pub time: f64,
}

impl SuiteCounts {
    /// Adds one written test case with this final outcome.
    pub fn add(&mut self, outcome: Outcome, time: Option<f64>) {
        self.tests += 1;
        match outcome {
            Outcome::Passed => {}
            Outcome::Failed => self.failures += 1,
            Outcome::Errored => self.errors += 1,
            Outcome::Skipped => self.skipped += 1,
        }
        self.time += time.unwrap_or(0.0);
    }
}

/// A streaming JUnit writer. Call [`JunitWriter::start`], then for each suite
/// [`JunitWriter::start_suite`], its cases, [`JunitWriter::end_suite`], then
/// [`JunitWriter::finish`].
pub struct JunitWriter<W: Write> {
    out: W,
    limits: WriteLimits,
    scratch: String,
}

impl<W: Write> JunitWriter<W> {
    pub fn new(out: W, limits: WriteLimits) -> Self {
        JunitWriter {
            out,
            limits,
            scratch: String::new(),
        }
    }

    pub fn start(&mut self, name: &str, counts: &SuiteCounts) -> io::Result<()> {
        self.out
            .write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites")?;
        self.attr("name", name)?;
        self.counts(counts)?;
        self.out.write_all(b">\n")
    }

    pub fn start_suite(
        &mut self,
        name: &str,
        counts: &SuiteCounts,
        extra: &[(&str, &str)],
    ) -> io::Result<()> {
        self.out.write_all(b"  <testsuite")?;
        self.attr("name", name)?;
        self.counts(counts)?;
        for (k, v) in extra {
            self.attr(k, v)?;
        }
        self.out.write_all(b">\n")
    }

    pub fn end_suite(&mut self) -> io::Result<()> {
        self.out.write_all(b"  </testsuite>\n")
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"</testsuites>\n")?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn counts(&mut self, c: &SuiteCounts) -> io::Result<()> {
        write!(
            self.out,
            " tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\"",
            c.tests, c.failures, c.errors, c.skipped, c.time
        )
    }

    fn attr(&mut self, key: &str, value: &str) -> io::Result<()> {
        self.out.write_all(b" ")?;
        self.out.write_all(key.as_bytes())?;
        self.out.write_all(b"=\"")?;
        escape_into(&mut self.out, value, true)?;
        self.out.write_all(b"\"")
    }

    fn limited_attr(&mut self, key: &str, value: &str, limit: usize) -> io::Result<()> {
        let mut scratch = std::mem::take(&mut self.scratch);
        clip_into(&mut scratch, value, limit);
        let r = self.attr(key, &scratch);
        self.scratch = scratch;
        r
    }

    fn element_text(
        &mut self,
        tag: &str,
        text: &str,
        limit: usize,
        indent: &str,
    ) -> io::Result<()> {
        let mut scratch = std::mem::take(&mut self.scratch);
        clip_into(&mut scratch, text, limit);
        write!(self.out, "{indent}<{tag}>")?;
        let r = escape_into(&mut self.out, &scratch, false);
        self.scratch = scratch;
        r?;
        writeln!(self.out, "</{tag}>")
    }

    /// Copies a `<testcase>` element as it was read.
    pub fn write_raw_case(&mut self, raw: &[u8]) -> io::Result<()> {
        self.out.write_all(b"    ")?;
        self.out.write_all(raw)?;
        self.out.write_all(b"\n")
    }

    /// Writes one `<testcase>`. Earlier attempts are its `reruns`; `properties` are
    /// written first, then `extra_properties` (such as dtf's attempt count).
    pub fn write_case(
        &mut self,
        case: &TestCase,
        extra_properties: &[(&str, String)],
    ) -> io::Result<()> {
        self.out.write_all(b"    <testcase")?;
        self.attr("name", &case.name)?;
        self.attr(
            "classname",
            case.classname.as_deref().unwrap_or(&case.suite),
        )?;
        if let Some(t) = case.duration {
            write!(self.out, " time=\"{t:.3}\"")?;
        }
        if let Some(f) = &case.file {
            self.attr("file", f)?;
        }
        if let Some(l) = case.line {
            write!(self.out, " line=\"{l}\"")?;
        }
        let has_body = case.outcome() != Outcome::Passed
            || !case.reruns.is_empty()
            || case.stdout.is_some()
            || case.stderr.is_some()
            || !case.properties.is_empty()
            || !extra_properties.is_empty();
        if !has_body {
            return self.out.write_all(b"/>\n");
        }
        self.out.write_all(b">\n")?;
        if !case.properties.is_empty() || !extra_properties.is_empty() {
            self.out.write_all(b"      <properties>\n")?;
            let props = case
                .properties
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()));
            let extra = extra_properties.iter().map(|(k, v)| (*k, v.as_str()));
            for (k, v) in props.chain(extra) {
                self.out.write_all(b"        <property")?;
                self.attr("name", k)?;
                self.limited_attr("value", v, self.limits.message)?;
                self.out.write_all(b"/>\n")?;
            }
            self.out.write_all(b"      </properties>\n")?;
        }
        // A test that passed in the end lists its earlier failures as `flaky*`. One
        // that failed lists them Surefire's way: the first failure as the result
        // element, every later attempt (the deciding one last) as `rerun*`.
        let finally_passed = !case.outcome().is_failure();
        let own = Rerun {
            outcome: case.outcome(),
            detail: case.detail.clone(),
            stdout: None,
            stderr: None,
            duration: None,
        };
        let (main, later): (&Rerun, Vec<&Rerun>) = match case.reruns.split_first() {
            Some((first, rest)) if !finally_passed => {
                (first, rest.iter().chain(std::iter::once(&own)).collect())
            }
            _ => (&own, case.reruns.iter().collect()),
        };
        let tag = match main.outcome {
            Outcome::Passed => None,
            Outcome::Failed => Some("failure"),
            Outcome::Errored => Some("error"),
            Outcome::Skipped => Some("skipped"),
        };
        if let Some(tag) = tag {
            write!(self.out, "      <{tag}")?;
            if let Some(m) = &main.detail.message {
                self.limited_attr("message", m, self.limits.message)?;
            }
            if let Some(t) = &main.detail.failure_type {
                self.limited_attr("type", t, self.limits.message)?;
            }
            match &main.detail.details {
                Some(d) => {
                    self.out.write_all(b">")?;
                    let mut scratch = std::mem::take(&mut self.scratch);
                    clip_into(&mut scratch, d, self.limits.details);
                    let r = escape_into(&mut self.out, &scratch, false);
                    self.scratch = scratch;
                    r?;
                    writeln!(self.out, "</{tag}>")?;
                }
                None => self.out.write_all(b"/>\n")?,
            }
        }
        for rerun in later {
            let tag = match (finally_passed, rerun.outcome) {
                (true, Outcome::Errored) => "flakyError",
                (true, _) => "flakyFailure",
                (false, Outcome::Errored) => "rerunError",
                (false, _) => "rerunFailure",
            };
            write!(self.out, "      <{tag}")?;
            if let Some(m) = &rerun.detail.message {
                self.limited_attr("message", m, self.limits.message)?;
            }
            if let Some(t) = &rerun.detail.failure_type {
                self.limited_attr("type", t, self.limits.message)?;
            }
            if let Some(t) = rerun.duration {
                write!(self.out, " time=\"{t:.3}\"")?;
            }
            if rerun.detail.details.is_none() && rerun.stdout.is_none() && rerun.stderr.is_none() {
                self.out.write_all(b"/>\n")?;
                continue;
            }
            self.out.write_all(b">\n")?;
            if let Some(d) = &rerun.detail.details {
                self.element_text("stackTrace", d, self.limits.details, "        ")?;
            }
            if let Some(o) = &rerun.stdout {
                self.element_text("system-out", o, self.limits.output, "        ")?;
            }
            if let Some(e) = &rerun.stderr {
                self.element_text("system-err", e, self.limits.output, "        ")?;
            }
            writeln!(self.out, "      </{tag}>")?;
        }
        if let Some(o) = &case.stdout {
            self.element_text("system-out", o, self.limits.output, "      ")?;
        }
        if let Some(e) = &case.stderr {
            self.element_text("system-err", e, self.limits.output, "      ")?;
        }
        self.out.write_all(b"    </testcase>\n")
    }
}

/// Copies `text` into `out`, keeping its head and tail when it is longer than `limit`.
pub fn clip_into(out: &mut String, text: &str, limit: usize) {
    out.clear();
    if text.len() <= limit {
        out.push_str(text);
        return;
    }
    let keep = limit.saturating_sub(64) / 2;
    let mut head = keep;
    while head > 0 && !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - keep;
    while tail < text.len() && !text.is_char_boundary(tail) {
        tail += 1;
    }
    out.push_str(&text[..head]);
    out.push_str(&format!("\n[dtf: {} bytes left out]\n", tail - head));
    out.push_str(&text[tail..]);
}

/// XML-escapes `text` into `out`. In attributes, whitespace that attribute-value
/// normalisation would turn into spaces is written as character references, so a
/// multi-line message survives the round trip.
pub fn escape_into<W: Write + ?Sized>(out: &mut W, text: &str, attribute: bool) -> io::Result<()> {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let replacement: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' if attribute => b"&quot;",
            b'\n' if attribute => b"&#10;",
            b'\r' if attribute => b"&#13;",
            b'\t' if attribute => b"&#9;",
            b'\r' => b"&#13;",
            b'\n' | b'\t' => continue,
            0..=0x1f => "\u{fffd}".as_bytes(),
            _ => continue,
        };
        out.write_all(&bytes[start..i])?;
        out.write_all(replacement)?;
        start = i + 1;
    }
    out.write_all(&bytes[start..])?;
    // U+FFFE and U+FFFF are not XML characters either; they are rare enough to check
    // only when present.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str, attribute: bool) -> String {
        let mut v = Vec::new();
        escape_into(&mut v, s, attribute).unwrap_or_default();
        String::from_utf8(v).unwrap_or_default()
    }

    #[test]
    fn escaping() {
        let cases: &[(&str, bool, &str)] = &[
            ("a<b>&\"c\"", true, "a&lt;b&gt;&amp;&quot;c&quot;"),
            ("a<b>&\"c\"", false, "a&lt;b&gt;&amp;\"c\""),
            ("l1\nl2\tx", true, "l1&#10;l2&#9;x"),
            ("l1\nl2\tx", false, "l1\nl2\tx"),
            ("bell\u{7}nul\u{0}", false, "bell\u{fffd}nul\u{fffd}"),
            ("crlf\r\n", false, "crlf&#13;\n"),
            ("ünïcödé 😀", true, "ünïcödé 😀"),
        ];
        for (input, attribute, want) in cases {
            assert_eq!(
                esc(input, *attribute),
                *want,
                "escape({input:?}, {attribute})"
            );
        }
    }

    #[test]
    fn clipping_keeps_head_and_tail() {
        let text = format!("{}{}", "a".repeat(1000), "z".repeat(1000));
        let mut out = String::new();
        clip_into(&mut out, &text, 264);
        assert!(out.starts_with(&"a".repeat(100)));
        assert!(out.ends_with(&"z".repeat(100)));
        assert!(out.contains("[dtf: 1800 bytes left out]"), "{out}");
        clip_into(&mut out, "short", 264);
        assert_eq!(out, "short");
        // never splits a character
        clip_into(&mut out, &"é".repeat(500), 101);
        assert!(out.starts_with('é'));
    }
}
