//! A streaming JUnit reader that hands out one [`TestCase`] at a time.
//!
//! JUnit XML has no specification, only dialects: pytest, jest-junit, Surefire, Gradle,
//! go-junit-report, nextest, PHPUnit, xunit.net, NUnit, karma, Playwright, ctest, bazel
//! and Ant all differ in where they put names, times, output and retries. This reader
//! accepts all of them and keeps memory flat: it never builds a tree, and holds at most
//! one test case (plus the current event) at a time.
//!
//! It refuses, with a located error, anything that is not well-formed XML or not JUnit,
//! and it never expands entities declared in a DTD (so an entity-expansion bomb is an
//! error, not an out-of-memory kill).

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead, Read};

use quick_xml::events::{BytesRef, BytesStart, Event};

use super::{file_from_stack_trace, parse_time};
use crate::model::{Detail, Outcome, OutcomeField, Rerun, Status, TestCase};

/// Size limits that keep one hostile file from taking all the memory.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    /// Longest start tag (element name plus attributes), in bytes.
    pub max_tag_bytes: usize,
    /// Longest run of text or CDATA read in one piece, in bytes.
    pub max_text_bytes: usize,
    /// Longest value kept for one field (message, stack trace, output); the rest is
    /// read and dropped, and the kept part ends with a note saying so.
    pub max_field_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_tag_bytes: 16 << 20,
            max_text_bytes: 256 << 20,
            max_field_bytes: 4 << 20,
        }
    }
}

/// Where in a source something happened. Lines and columns are 1-based; the column
/// counts bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file (or bundle entry) as the user named it.
    pub source: String,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source, self.line, self.column)
    }
}

/// A JUnit file that could not be read, and where.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct ReadError {
    pub location: Location,
    pub kind: ReadErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    #[error("cannot read the file: {0}")]
    Io(#[source] io::Error),
    #[error("the file is empty")]
    Empty,
    #[error("not a JUnit file: the root element is <{0}>, expected <testsuites> or <testsuite>")]
    NotJunit(String),
    #[error("not a JUnit file: it holds no XML element")]
    NoRoot,
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("unexpected end of file: <{element}> opened at line {line} is not closed")]
    Truncated { element: String, line: u64 },
    #[error("text that is not valid UTF-8")]
    NotUtf8,
    #[error(
        "entity `&{0};` is not defined (dtf expands only the five predefined XML entities and character references, never entities declared in a DTD)"
    )]
    UndefinedEntity(String),
    #[error("{what} is longer than the limit of {limit} bytes")]
    TooLarge { what: &'static str, limit: usize },
}

impl ReadErrorKind {
    fn from_xml(e: quick_xml::Error) -> ReadErrorKind {
        use quick_xml::Error as X;
        match e {
            X::Io(io) => match io.get_ref().and_then(|i| i.downcast_ref::<LimitHit>()) {
                Some(hit) => ReadErrorKind::TooLarge {
                    what: hit.what,
                    limit: hit.limit,
                },
                None => ReadErrorKind::Io(io::Error::new(io.kind(), io.to_string())),
            },
            X::Encoding(_) => ReadErrorKind::NotUtf8,
            X::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name)) => {
                ReadErrorKind::UndefinedEntity(name)
            }
            other => ReadErrorKind::Malformed(other.to_string()),
        }
    }
}

/// Raised from inside [`Limited`] through quick-xml as an I/O error.
#[derive(Debug)]
struct LimitHit {
    what: &'static str,
    limit: usize,
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is longer than {} bytes", self.what, self.limit)
    }
}

impl std::error::Error for LimitHit {}

/// Wraps the input to bound how much quick-xml may buffer for one event, and to count
/// lines as bytes go by (so every event and error has a line and column).
///
/// quick-xml reads an event by consuming the input up to its end, so the bytes consumed
/// since the event began are exactly what it is buffering.
struct Limited<R> {
    inner: R,
    limits: ReadLimits,
    /// Bytes consumed since [`Limited::start_event`].
    in_event: usize,
    /// The limit for the event under way, fixed by its first byte.
    event_limit: Option<(usize, &'static str)>,
    /// Total bytes consumed, newlines among them, and the offset just past the last one.
    offset: u64,
    newlines: u64,
    line_start: u64,
    /// The last byte consumed: quick-xml may consume the `<` that opens a tag as the
    /// end of the text event before it.
    last: Option<u8>,
    /// Whether the event under way began right after a consumed `<`.
    after_lt: bool,
    /// Whether consumed bytes are copied into `kept` (for [`JunitReader::keep_raw`]).
    keep: bool,
    kept: Vec<u8>,
}

impl<R: BufRead> Limited<R> {
    /// Begins an event. Unless `continue_kept`, what was kept so far is dropped and
    /// the kept bytes start with this event (and its `<`, if the text before took it).
    fn start_event(&mut self, continue_kept: bool) {
        self.in_event = 0;
        self.event_limit = None;
        self.after_lt = self.last == Some(b'<');
        if self.keep && !continue_kept {
            self.kept.clear();
            if self.after_lt {
                self.kept.push(b'<');
            }
        }
    }

    /// Line and column of an absolute byte offset at or after the last newline seen.
    /// Offsets before it (rare: errors reported at the start of a long event) get the
    /// position of the newline-counted prefix, which is still the right line or close.
    fn locate(&self, offset: u64) -> (u64, u64) {
        if offset >= self.line_start {
            (self.newlines + 1, offset - self.line_start + 1)
        } else {
            (self.newlines + 1, 1)
        }
    }
}

impl<R: BufRead> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Limited<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let buf = self.inner.fill_buf()?;
        if self.event_limit.is_none() && !buf.is_empty() {
            let tag = if self.after_lt {
                buf
            } else {
                buf.strip_prefix(b"<").unwrap_or(b"")
            };
            self.event_limit = Some(if !self.after_lt && !buf.starts_with(b"<") {
                (self.limits.max_text_bytes, "a text node")
            } else if tag.starts_with(b"![CDATA[") || tag.starts_with(b"!--") {
                (self.limits.max_text_bytes, "a CDATA section or comment")
            } else {
                (self.limits.max_tag_bytes, "an XML tag")
            });
        }
        if let Some((limit, what)) = self.event_limit
            && self.in_event > limit
        {
            return Err(io::Error::other(LimitHit { what, limit }));
        }
        Ok(buf)
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let taken = &buf[..amt.min(buf.len())];
            if let Some(i) = memchr::memrchr(b'\n', taken) {
                self.newlines += memchr::memchr_iter(b'\n', taken).count() as u64;
                self.line_start = self.offset + i as u64 + 1;
            }
            if let Some(&b) = taken.last() {
                self.last = Some(b);
            }
            if self.keep {
                self.kept.extend_from_slice(taken);
            }
        }
        self.offset += amt as u64;
        self.in_event += amt;
        self.inner.consume(amt);
    }
}

/// What the reader is collecting text for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Capture {
    None,
    /// Text of the result element with this index into `results`.
    Result(usize),
    /// Text of a child element (`stackTrace`, `system-out`, `system-err`) of a rerun.
    RerunDetails(usize),
    RerunStdout(usize),
    RerunStderr(usize),
    Stdout,
    Stderr,
    /// Text of a `<property>` without a `value` attribute.
    Property(usize),
}

/// One result element (`failure`, `error`, `skipped`) seen inside a test case.
#[derive(Debug)]
struct ResultElement {
    outcome: Outcome,
    detail: Detail,
}

/// The test case under construction.
#[derive(Debug, Default)]
struct Pending {
    case: TestCase,
    results: Vec<ResultElement>,
    /// Depth of the `<testcase>` element.
    depth: usize,
    /// An Ant/ctest style `status` attribute, used when no result element says more.
    status_attr: Option<Outcome>,
    /// Whether the reruns came as `rerunFailure`/`rerunError` (later than the result
    /// element) rather than `flakyFailure`/`flakyError` (earlier).
    reruns_follow: bool,
}

/// Reads test cases from one JUnit document, one at a time.
///
/// ```
/// use dtf_core::junit::JunitReader;
/// let xml = br#"<testsuite name="s"><testcase classname="a.B" name="t" time="0.5"/></testsuite>"#;
/// let mut reader = JunitReader::new(&xml[..], "example.xml");
/// let case = reader.next_case().unwrap().unwrap();
/// assert_eq!(case.id().as_str(), "a.B::t");
/// assert!(reader.next_case().unwrap().is_none());
/// ```
pub struct JunitReader<R> {
    xml: quick_xml::Reader<Limited<R>>,
    source: String,
    buf: Vec<u8>,
    /// Names of the open `<testsuite>` elements, with the depth of each.
    suites: Vec<(usize, String)>,
    /// Open elements: where each name starts in `open_names`, and the line it opened
    /// on (for truncation errors). One buffer for all names, so opening an element
    /// allocates nothing.
    open: Vec<(usize, u64)>,
    open_names: Vec<u8>,
    pending: Option<Pending>,
    capture: Capture,
    text: String,
    /// Whether `text` hit the field limit.
    text_clipped: usize,
    /// Offset and position where the event being handled began.
    event_start: (u64, u64, u64),
    seen_root: bool,
    seen_any_byte: bool,
    done: bool,
    cases: u64,
    /// Whether element text (messages, stack traces, output) is collected.
    capture_text: bool,
    /// Whether the last case's markup says its verdict plainly; see
    /// [`JunitReader::raw_case_is_plain`].
    last_plain: bool,
}

impl<R: BufRead> JunitReader<R> {
    pub fn new(input: R, source: impl Into<String>) -> Self {
        Self::with_limits(input, source, ReadLimits::default())
    }

    pub fn with_limits(input: R, source: impl Into<String>, limits: ReadLimits) -> Self {
        let limited = Limited {
            inner: input,
            limits,
            in_event: 0,
            event_limit: None,
            offset: 0,
            newlines: 0,
            line_start: 0,
            last: None,
            after_lt: false,
            keep: false,
            kept: Vec::new(),
        };
        let mut xml = quick_xml::Reader::from_reader(limited);
        let config = xml.config_mut();
        config.trim_text(false);
        config.check_end_names = true;
        config.expand_empty_elements = false;
        JunitReader {
            xml,
            source: source.into(),
            buf: Vec::with_capacity(4096),
            suites: Vec::new(),
            open: Vec::new(),
            open_names: Vec::new(),
            pending: None,
            capture: Capture::None,
            text: String::new(),
            text_clipped: 0,
            event_start: (0, 1, 1),
            seen_root: false,
            seen_any_byte: false,
            done: false,
            cases: 0,
            capture_text: true,
            last_plain: true,
        }
    }

    /// Skips element text (stack traces, output, property text): the cases come back
    /// with attributes and outcomes only. For a first pass that keeps the raw bytes
    /// and reads the text later, from them.
    pub fn capture_text(mut self, capture: bool) -> Self {
        self.capture_text = capture;
        self
    }

    /// Keeps each test case's raw bytes, `<testcase` to its end; see
    /// [`JunitReader::raw_case`].
    pub fn keep_raw(mut self, keep: bool) -> Self {
        self.xml.get_mut().keep = keep;
        self
    }

    /// The raw bytes of the case [`JunitReader::next_case`] returned last, when
    /// [`JunitReader::keep_raw`] is on: a well-formed element that can be read again
    /// inside a `<testsuite>`.
    pub fn raw_case(&self) -> &[u8] {
        &self.xml.get_ref().kept
    }

    /// Whether the last case's markup says its verdict the way every importer reads
    /// it: result elements all of one kind, that kind the verdict (none for a pass),
    /// and no `status` attribute deciding instead. Such an element can be copied into
    /// merged JUnit as it is; any other is rewritten.
    pub fn raw_case_is_plain(&self) -> bool {
        self.last_plain
    }

    /// The name this reader reports in errors.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How many `<testcase>` elements have been handed out so far.
    pub fn cases_read(&self) -> u64 {
        self.cases
    }

    /// Bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.xml.get_ref().offset
    }

    fn limits(&self) -> ReadLimits {
        self.xml.get_ref().limits
    }

    fn error_at(&self, offset: u64, kind: ReadErrorKind) -> ReadError {
        let (line, column) = self.xml.get_ref().locate(offset);
        ReadError {
            location: Location {
                source: self.source.clone(),
                line,
                column,
            },
            kind,
        }
    }

    fn error_here(&self, kind: ReadErrorKind) -> ReadError {
        self.error_at(self.xml.get_ref().offset, kind)
    }

    fn current_line(&self) -> u64 {
        self.xml.get_ref().newlines + 1
    }

    /// The next test case, `None` at the end of the document.
    ///
    /// After an error the reader is finished: it returns `None` from then on.
    pub fn next_case(&mut self) -> Result<Option<TestCase>, ReadError> {
        if self.done {
            return Ok(None);
        }
        let result = self.advance();
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result
    }

    fn advance(&mut self) -> Result<Option<TestCase>, ReadError> {
        // Events borrow the buffer; keeping it out of `self` while they live lets the
        // handlers take `&mut self` without copying every event.
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.advance_with(&mut buf);
        self.buf = buf;
        result
    }

    fn advance_with(&mut self, buf: &mut Vec<u8>) -> Result<Option<TestCase>, ReadError> {
        loop {
            buf.clear();
            let in_case = self.pending.is_some();
            self.xml.get_mut().start_event(in_case);
            let event_start = self.xml.get_ref().offset;
            {
                let l = self.xml.get_ref();
                // After `<` was consumed with the text before it, the tag began one back.
                let begin = if l.last == Some(b'<') {
                    event_start.saturating_sub(1)
                } else {
                    event_start
                };
                let (line, column) = l.locate(begin);
                self.event_start = (begin, line, column);
            }
            let event = match self.xml.read_event_into(buf) {
                Ok(e) => e,
                Err(e) => {
                    let at = match &e {
                        quick_xml::Error::Io(_) => self.xml.get_ref().offset,
                        _ => self.xml.error_position(),
                    };
                    let kind = ReadErrorKind::from_xml(e);
                    return Err(self.error_at(at, kind));
                }
            };
            if event_start > 0 || !matches!(event, Event::Eof) {
                self.seen_any_byte = true;
            }
            // Events borrow `self.buf`; take what we need out of them before calling
            // methods that need `&mut self`.
            match event {
                Event::Start(start) => {
                    if let Some(case) = self.on_start(&start, false)? {
                        return Ok(Some(case));
                    }
                }
                Event::Empty(start) => {
                    if let Some(case) = self.on_start(&start, true)? {
                        return Ok(Some(case));
                    }
                }
                Event::End(end) => {
                    if let Some(case) = self.on_end(local(end.name().as_ref()))? {
                        return Ok(Some(case));
                    }
                }
                Event::Text(text) => {
                    if self.capture != Capture::None || !self.seen_root {
                        match std::str::from_utf8(&text) {
                            Ok(s) => self.push_text(s),
                            Err(e) => {
                                return Err(self.error_in_event(
                                    &text,
                                    e.valid_up_to(),
                                    ReadErrorKind::NotUtf8,
                                ));
                            }
                        }
                    }
                }
                Event::CData(data) => {
                    if self.capture != Capture::None {
                        match std::str::from_utf8(&data) {
                            Ok(s) => self.push_text(s),
                            // `<![CDATA[` comes before the content.
                            Err(e) => {
                                return Err(self.error_in_event(
                                    &data,
                                    e.valid_up_to() + 9,
                                    ReadErrorKind::NotUtf8,
                                ));
                            }
                        }
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = resolve_ref(&r).map_err(|k| self.error_at(event_start, k))?;
                    if self.capture != Capture::None {
                        self.push_text(&resolved);
                    }
                }
                Event::Eof => {
                    if let Some(&(start, line)) = self.open.last() {
                        let element =
                            String::from_utf8_lossy(&self.open_names[start..]).into_owned();
                        let kind = ReadErrorKind::Truncated { element, line };
                        return Err(self.error_here(kind));
                    }
                    if !self.seen_root {
                        let kind = if self.seen_any_byte {
                            ReadErrorKind::NoRoot
                        } else {
                            ReadErrorKind::Empty
                        };
                        return Err(self.error_here(kind));
                    }
                    return Ok(None);
                }
                Event::Decl(_) | Event::PI(_) | Event::DocType(_) | Event::Comment(_) => {}
            }
        }
    }

    /// An error `at` bytes into the event being handled, whose bytes are `bytes`.
    fn error_in_event(&self, bytes: &[u8], at: usize, kind: ReadErrorKind) -> ReadError {
        let (_, mut line, mut column) = self.event_start;
        let before = &bytes[..at.min(bytes.len())];
        match before.iter().rposition(|&b| b == b'\n') {
            Some(nl) => {
                line += before.iter().filter(|&&b| b == b'\n').count() as u64;
                column = (before.len() - nl) as u64;
            }
            None => column += at as u64,
        }
        ReadError {
            location: Location {
                source: self.source.clone(),
                line,
                column,
            },
            kind,
        }
    }

    fn push_text(&mut self, s: &str) {
        if self.capture == Capture::None || !self.capture_text {
            return;
        }
        let max = self.limits().max_field_bytes;
        let room = max.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
        } else {
            let mut cut = room;
            while cut > 0 && !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.text.push_str(&s[..cut]);
            self.text_clipped += s.len() - cut;
        }
    }

    fn take_text(&mut self) -> Option<String> {
        let mut text = std::mem::take(&mut self.text);
        if self.text_clipped > 0 {
            text.push_str(&format!(
                "\n[dtf: {} more bytes not kept]",
                self.text_clipped
            ));
            self.text_clipped = 0;
        }
        if text.trim().is_empty() {
            None
        } else {
            Some(text)
        }
    }

    /// An error in the tag being handled, located at its `<`.
    fn tag_error(&self, kind: ReadErrorKind) -> ReadError {
        let (_, line, column) = self.event_start;
        ReadError {
            location: Location {
                source: self.source.clone(),
                line,
                column,
            },
            kind,
        }
    }

    fn attr_error(&self, e: quick_xml::events::attributes::AttrError) -> ReadError {
        // quick-xml's message leads with a position inside the tag; the location
        // already says where the tag is.
        let message = e.to_string();
        let message = match message.split_once(": ") {
            Some((head, rest)) if head.starts_with("position ") => rest.to_owned(),
            _ => message,
        };
        self.tag_error(ReadErrorKind::Malformed(format!(
            "in an attribute: {message}"
        )))
    }

    /// Every attribute of a start tag, unescaped, keyed by local name.
    fn attributes(&self, start: &BytesStart<'_>) -> Result<Vec<(Vec<u8>, String)>, ReadError> {
        let mut out = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| self.attr_error(e))?;
            let value = attr
                .unescape_value()
                .map_err(|e| self.tag_error(ReadErrorKind::from_xml(e)))?;
            out.push((local(attr.key.as_ref()).to_vec(), value.into_owned()));
        }
        Ok(out)
    }

    fn on_start(
        &mut self,
        start: &BytesStart<'_>,
        empty: bool,
    ) -> Result<Option<TestCase>, ReadError> {
        let qname = start.name();
        let name = local(qname.as_ref());
        let depth = self.open.len();
        if !self.seen_root {
            if name != b"testsuites" && name != b"testsuite" {
                let root = String::from_utf8_lossy(name).into_owned();
                return Err(self.tag_error(ReadErrorKind::NotJunit(root)));
            }
            self.seen_root = true;
        }
        if !empty {
            let line = self.current_line();
            self.open.push((self.open_names.len(), line));
            self.open_names.extend_from_slice(name);
        }

        if self.pending.is_none() {
            match name {
                b"testsuite" => {
                    let attrs = self.attributes(start)?;
                    let suite_name = attr(&attrs, b"name").unwrap_or_default().to_owned();
                    if !empty {
                        self.suites.push((depth, suite_name));
                    }
                }
                b"testcase" => {
                    let pending = self.new_case(start, depth)?;
                    if empty {
                        return Ok(Some(self.finish(pending)));
                    }
                    self.pending = Some(pending);
                }
                _ => {}
            }
            return Ok(None);
        }

        // Inside a test case.
        let case_depth = self.pending.as_ref().map_or(0, |p| p.depth);
        let child_of_case = depth == case_depth + 1;
        let rerun_index = self
            .pending
            .as_ref()
            .and_then(|p| p.case.reruns.len().checked_sub(1));
        match name {
            b"failure" | b"error" | b"skipped" if child_of_case => {
                let attrs = self.attributes(start)?;
                let outcome = match name {
                    b"failure" => Outcome::Failed,
                    b"error" => Outcome::Errored,
                    _ => Outcome::Skipped,
                };
                let detail = Detail {
                    message: attr(&attrs, b"message")
                        .filter(|m| !m.is_empty())
                        .map(str::to_owned),
                    failure_type: attr(&attrs, b"type")
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned),
                    details: None,
                };
                if let Some(p) = self.pending.as_mut() {
                    p.results.push(ResultElement { outcome, detail });
                    if !empty {
                        self.capture = Capture::Result(p.results.len() - 1);
                    }
                }
            }
            b"flakyFailure" | b"flakyError" | b"rerunFailure" | b"rerunError" if child_of_case => {
                let attrs = self.attributes(start)?;
                let outcome = if name.ends_with(b"Failure") {
                    Outcome::Failed
                } else {
                    Outcome::Errored
                };
                let rerun = Rerun {
                    outcome,
                    detail: Detail {
                        message: attr(&attrs, b"message")
                            .filter(|m| !m.is_empty())
                            .map(str::to_owned),
                        failure_type: attr(&attrs, b"type")
                            .filter(|t| !t.is_empty())
                            .map(str::to_owned),
                        details: None,
                    },
                    stdout: None,
                    stderr: None,
                    duration: attr(&attrs, b"time").and_then(parse_time),
                };
                if let Some(p) = self.pending.as_mut() {
                    p.reruns_follow |= name.starts_with(b"rerun");
                    p.case.reruns.push(rerun);
                    if !empty {
                        // Older Surefire puts the stack trace directly in the element.
                        self.capture = Capture::RerunDetails(p.case.reruns.len() - 1);
                    }
                }
            }
            b"stackTrace" if rerun_index.is_some() && depth == case_depth + 2 => {
                self.text.clear();
                self.capture = Capture::RerunDetails(rerun_index.unwrap_or(0));
            }
            b"system-out" | b"system-err" if depth == case_depth + 2 && rerun_index.is_some() => {
                self.text.clear();
                let i = rerun_index.unwrap_or(0);
                self.capture = if name == b"system-out" {
                    Capture::RerunStdout(i)
                } else {
                    Capture::RerunStderr(i)
                };
            }
            b"system-out" if child_of_case && !empty => {
                self.text.clear();
                self.capture = Capture::Stdout;
            }
            b"system-err" if child_of_case && !empty => {
                self.text.clear();
                self.capture = Capture::Stderr;
            }
            b"property" => {
                let attrs = self.attributes(start)?;
                let key = attr(&attrs, b"name").unwrap_or_default().to_owned();
                let value = attr(&attrs, b"value").map(str::to_owned);
                if let Some(p) = self.pending.as_mut() {
                    let has_value = value.is_some();
                    p.case.properties.push((key, value.unwrap_or_default()));
                    if !empty && !has_value {
                        self.text.clear();
                        self.capture = Capture::Property(p.case.properties.len() - 1);
                    }
                }
            }
            _ => {}
        }
        Ok(None)
    }

    fn on_end(&mut self, name: &[u8]) -> Result<Option<TestCase>, ReadError> {
        // quick-xml checks that end names match, so the top of `open` is this element.
        if let Some((start, _)) = self.open.pop() {
            self.open_names.truncate(start);
        }
        let depth = self.open.len();
        if let Some(p) = self.pending.as_ref() {
            if depth == p.depth {
                self.capture = Capture::None;
                self.text.clear();
                if let Some(p) = self.pending.take() {
                    return Ok(Some(self.finish(p)));
                }
            }
            let capture = std::mem::replace(&mut self.capture, Capture::None);
            let text = self.take_text();
            if let Some(p) = self.pending.as_mut() {
                match capture {
                    Capture::None => {}
                    Capture::Result(i) => {
                        if let Some(r) = p.results.get_mut(i) {
                            r.detail.details = text;
                        }
                    }
                    Capture::RerunDetails(i) => {
                        if let (Some(r), Some(t)) = (p.case.reruns.get_mut(i), text) {
                            r.detail.details = Some(t);
                        }
                    }
                    Capture::RerunStdout(i) => {
                        if let Some(r) = p.case.reruns.get_mut(i) {
                            r.stdout = text;
                        }
                    }
                    Capture::RerunStderr(i) => {
                        if let Some(r) = p.case.reruns.get_mut(i) {
                            r.stderr = text;
                        }
                    }
                    Capture::Stdout => append(&mut p.case.stdout, text),
                    Capture::Stderr => append(&mut p.case.stderr, text),
                    Capture::Property(i) => {
                        if let (Some(prop), Some(t)) = (p.case.properties.get_mut(i), text) {
                            prop.1 = t;
                        }
                    }
                }
            }
            return Ok(None);
        }
        if name == b"testsuite" && self.suites.last().is_some_and(|(d, _)| *d == depth) {
            self.suites.pop();
        }
        Ok(None)
    }

    /// Starts a case from its `<testcase>` tag. The hot path of every merge: it reads
    /// the attributes in one pass and allocates only for the ones it keeps.
    fn new_case(&self, start: &BytesStart<'_>, depth: usize) -> Result<Pending, ReadError> {
        let suite = self
            .suites
            .iter()
            .rev()
            .map(|(_, n)| n.as_str())
            .find(|n| !n.is_empty())
            .unwrap_or_default()
            .to_owned();
        let mut case = TestCase {
            suite,
            ..TestCase::default()
        };
        let (mut classname, mut class, mut file, mut filepath, mut filename) =
            (None, None, None, None, None);
        let (mut time, mut duration, mut status, mut line) = (None, None, None, None);
        for attr in start.attributes() {
            let attr = attr.map_err(|e| self.attr_error(e))?;
            let slot = match local(attr.key.as_ref()) {
                b"name" => None,
                b"classname" => Some(&mut classname),
                b"class" => Some(&mut class),
                b"file" => Some(&mut file),
                b"filepath" => Some(&mut filepath),
                b"filename" => Some(&mut filename),
                b"line" => Some(&mut line),
                b"time" => Some(&mut time),
                b"duration" => Some(&mut duration),
                b"status" | b"result" => Some(&mut status),
                _ => continue,
            };
            let value = attr
                .unescape_value()
                .map_err(|e| self.tag_error(ReadErrorKind::from_xml(e)))?;
            match slot {
                None => case.name = value.into_owned(),
                Some(slot) => {
                    if slot.is_none() {
                        *slot = Some(value.into_owned());
                    }
                }
            }
        }
        let nonempty = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        case.classname = nonempty(classname).or_else(|| nonempty(class));
        case.file = nonempty(file)
            .or_else(|| nonempty(filepath))
            .or_else(|| nonempty(filename));
        case.line = line.and_then(|l| l.trim().parse().ok());
        case.duration = time.or(duration).as_deref().and_then(parse_time);
        let status_attr = status.and_then(|s| match s.trim().to_ascii_lowercase().as_str() {
            "notrun" | "disabled" | "skipped" | "skip" | "ignored" | "pending" => {
                Some(Outcome::Skipped)
            }
            "fail" | "failed" | "failure" => Some(Outcome::Failed),
            "error" | "errored" => Some(Outcome::Errored),
            _ => None,
        });
        Ok(Pending {
            case,
            results: Vec::new(),
            depth,
            status_attr,
            reruns_follow: false,
        })
    }

    fn finish(&mut self, pending: Pending) -> TestCase {
        self.cases += 1;
        let Pending {
            mut case,
            results,
            status_attr,
            reruns_follow,
            ..
        } = pending;
        let first_kind = results.first().map_or(Outcome::Passed, |r| r.outcome);
        let one_kind = results.iter().all(|r| r.outcome == first_kind);
        let status_decides =
            results.is_empty() && status_attr.is_some_and(|s| s != Outcome::Passed);
        // The most severe result element decides; among equals, the first.
        let mut decisive: Option<ResultElement> = None;
        for r in results {
            if decisive
                .as_ref()
                .is_none_or(|d| r.outcome.severity() > d.outcome.severity())
            {
                decisive = Some(r);
            }
        }
        match decisive {
            Some(r) => {
                case.outcome = OutcomeField(r.outcome);
                case.detail = r.detail;
            }
            None => case.outcome = OutcomeField(status_attr.unwrap_or(Outcome::Passed)),
        }
        // Surefire's `rerunFailure`/`rerunError` follow a `<failure>`/`<error>` that was
        // the first run; the last rerun decided. The model keeps the deciding attempt
        // as the case and earlier ones as reruns, so rotate.
        // (nextest writes a test that passed on a retry but must fail as a `<failure>`
        // with `flakyFailure`s: those came first, and the failure is the verdict.)
        if case.outcome().is_failure()
            && reruns_follow
            && let Some(last) = case.reruns.pop()
        {
            let first = Rerun {
                outcome: case.outcome(),
                detail: std::mem::replace(&mut case.detail, last.detail),
                stdout: None,
                stderr: None,
                duration: None,
            };
            case.outcome = OutcomeField(last.outcome);
            case.reruns.insert(0, first);
        }
        let verdict = match case.status() {
            Status::Passed | Status::Flaky => Outcome::Passed,
            Status::Failed => Outcome::Failed,
            Status::Errored => Outcome::Errored,
            Status::Skipped => Outcome::Skipped,
        };
        self.last_plain = one_kind && !status_decides && verdict == first_kind;
        if self.capture_text && (case.file.is_none() || case.line.is_none()) {
            let traces = std::iter::once(case.detail.details.as_deref())
                .chain(case.reruns.iter().map(|r| r.detail.details.as_deref()))
                .flatten();
            for trace in traces {
                if let Some((file, line)) = file_from_stack_trace(trace, case.file.as_deref()) {
                    if case.file.is_none() {
                        case.file = Some(file);
                        case.file_inferred = true;
                    }
                    if case.line.is_none() {
                        case.line = line;
                    }
                    break;
                }
            }
        }
        case
    }
}

/// Reads every test case of a file into memory; for small inputs and tests.
pub fn read_all<R: BufRead>(reader: R, source: &str) -> Result<Vec<TestCase>, ReadError> {
    let mut r = JunitReader::new(reader, source);
    let mut out = Vec::new();
    while let Some(case) = r.next_case()? {
        out.push(case);
    }
    Ok(out)
}

fn append(slot: &mut Option<String>, text: Option<String>) {
    match (slot.as_mut(), text) {
        (Some(s), Some(t)) => {
            s.push('\n');
            s.push_str(&t);
        }
        (None, t) => *slot = t,
        (Some(_), None) => {}
    }
}

fn attr<'a>(attrs: &'a [(Vec<u8>, String)], key: &[u8]) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The local part of a possibly prefixed name (`ns:testcase` → `testcase`).
fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

fn resolve_ref(r: &BytesRef<'_>) -> Result<Cow<'static, str>, ReadErrorKind> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(Cow::Owned(c.to_string())),
            Ok(None) => Err(ReadErrorKind::Malformed("empty character reference".into())),
            Err(e) => Err(ReadErrorKind::Malformed(e.to_string())),
        };
    }
    let name = std::str::from_utf8(r).map_err(|_| ReadErrorKind::NotUtf8)?;
    quick_xml::escape::resolve_predefined_entity(name)
        .map(Cow::Borrowed)
        .ok_or_else(|| ReadErrorKind::UndefinedEntity(name.to_owned()))
}
