//! Escaping and formatting used by the templates, also callable from Rust.
//!
//! Test names, messages and output come from the code under test and from CI
//! configuration, so a report must never let them become markup: a name like
//! `[x](http://evil)` or `@org/team` must render as text, not as a link or a
//! notification in a pull-request comment. The Markdown rules here backslash-escape
//! every character that CommonMark/GFM gives meaning to, and break up the patterns
//! that renderers turn into links or mentions *after* Markdown parsing (mentions, issue
//! references, bare URLs), which backslashes cannot stop, with a zero-width joiner.

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};

/// Zero-width joiner: invisible, but breaks `@name`, `#123` and `http://` patterns.
const ZWJ: char = '\u{200D}';

/// The longest a field from test output gets in Markdown unless a template asks
/// otherwise (`md_text(max)`), so one test with a huge name cannot crowd out the rest.
pub const DEFAULT_FIELD_CHARS: usize = 300;

/// Characters that start Markdown syntax somewhere in CommonMark or GFM (`$` is
/// GitHub's math, `&` starts entities).
fn is_markdown_special(c: char) -> bool {
    matches!(
        c,
        '\\' | '`'
            | '*'
            | '_'
            | '['
            | ']'
            | '('
            | ')'
            | '#'
            | '+'
            | '-'
            | '!'
            | '|'
            | '<'
            | '>'
            | '~'
            | '&'
            | '$'
    )
}

/// Escapes text for inline use in Markdown, including inside table cells: newlines
/// and control characters become spaces, Markdown syntax is backslash-escaped and
/// mentions, issue references and bare links are broken up.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    neutralise(s, &mut out, |c, out| {
        if is_markdown_special(c) {
            out.push('\\');
        }
        out.push(c);
    });
    out
}

/// Escapes text for Markdown that sits inside raw HTML (like `<summary>`), where
/// Markdown is not parsed but HTML and mentions still are.
pub fn escape_markdown_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    neutralise(s, &mut out, |c, out| match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    });
    out
}

/// Shared by the two Markdown escapers: flattens the text to one line and inserts
/// [`ZWJ`] where a renderer would otherwise find a mention, reference or link, passing
/// every other character to `push`.
fn neutralise(s: &str, out: &mut String, push: impl Fn(char, &mut String)) {
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        match c {
            '\r' if next == Some('\n') => {}
            c if c.is_control() => out.push(' '),
            // `www.` starts a GFM autolink; `i >= 3` guarantees the three chars exist.
            '.' if i >= 3
                && chars[i - 3..i].iter().all(|w| w.eq_ignore_ascii_case(&'w'))
                && (i == 3 || !chars[i - 4].is_alphanumeric()) =>
            {
                out.push(ZWJ);
                push(c, out);
            }
            c => {
                push(c, out);
                let breaks = match c {
                    // user and team mentions, and the domain of e-mail autolinks
                    '@' => next.is_some_and(char::is_alphanumeric),
                    // issue and pull-request references
                    '#' => next.is_some_and(|n| n.is_ascii_digit()),
                    // `scheme://` autolinks
                    ':' => next == Some('/') && chars.get(i + 2) == Some(&'/'),
                    _ => false,
                };
                if breaks {
                    out.push(ZWJ);
                }
            }
        }
    }
}

/// A fenced code block holding `content` verbatim, with a fence longer than any run
/// of backticks inside it so the content cannot close it. `lang` keeps only
/// characters that are safe in an info string.
pub fn markdown_code_block(content: &str, lang: &str) -> String {
    let content = content.replace("\r\n", "\n").replace('\r', "\n");
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    let lang: String = lang
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.'))
        .collect();
    let newline = if content.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{lang}\n{content}{newline}{fence}")
}

/// A human duration: `0.0123` → "12ms", `1.234` → "1.23s", `252` → "4m 12s",
/// `3723` → "1h 2m"; "–" for unknown, negative or non-finite values.
pub fn format_duration(seconds: Option<f64>) -> String {
    let Some(s) = seconds.filter(|s| s.is_finite() && *s >= 0.0) else {
        return "–".to_owned();
    };
    if s == 0.0 {
        return "0s".to_owned();
    }
    // Each unit is chosen after rounding, so 59.996s shows as "1m 0s", not "60.00s".
    let ms = (s * 1000.0).round() as u64;
    if ms == 0 {
        return "<1ms".to_owned();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let cs = (s * 100.0).round() as u64;
    if cs < 6000 {
        return format!("{}.{:02}s", cs / 100, cs % 100);
    }
    let secs = s.round() as u64;
    if secs < 3600 {
        return format!("{}m {}s", secs / 60, secs % 60);
    }
    format!("{}h {}m", secs / 3600, secs % 3600 / 60)
}

/// An integer with comma thousands separators: `1234567` → "1,234,567".
pub fn format_thousands(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// The first non-blank line, trimmed and cut to `max` characters; "…" marks that
/// something was left out (more characters or more lines).
pub fn first_line(s: &str, max: usize) -> String {
    let mut lines = s.lines().map(str::trim).skip_while(|l| l.is_empty());
    let line = lines.next().unwrap_or("");
    let more_lines = lines.any(|l| !l.is_empty());
    let mut out: String = line.chars().take(max).collect();
    if out.len() < line.len() || more_lines {
        if out.len() < line.len() {
            // make room for the ellipsis within `max`
            out.pop();
        }
        out.push('…');
    }
    out
}

/// The last `max` characters of the first line, with "…" in front when cut: for
/// dotted or slashed names, whose end says most.
pub fn tail(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let count = line.chars().count();
    if count <= max {
        return line.to_owned();
    }
    let keep = max.saturating_sub(1);
    let mut out = String::from("…");
    out.extend(line.chars().skip(count - keep));
    out
}

/// Bidirectional-text controls (the embeddings, overrides and isolates, and the
/// direction marks): they make text display in another order than it is stored, so a
/// test name could show one thing and be another ("Trojan Source").
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// `s` as one line of at most `max` characters: line breaks and control characters
/// become spaces, bidirectional controls become U+FFFD (so that something visibly
/// stands where they were), and "…" marks a cut (it counts towards `max`).
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)));
    let mut chars = s.chars().peekable();
    let mut kept = 0;
    while let Some(c) = chars.next() {
        if kept == max {
            // Make room for the ellipsis within `max`.
            if max > 0 {
                out.pop();
                out.push('…');
            }
            return out;
        }
        match c {
            '\r' if chars.peek() == Some(&'\n') => continue,
            c if c.is_control() => out.push(' '),
            c if is_bidi_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
        kept += 1;
    }
    out
}

/// Characters [`md_text`] backslash-escapes: every ASCII punctuation character that
/// CommonMark, GFM or GitHub's extensions (math, footnotes) give meaning to anywhere.
/// A backslash before ASCII punctuation is always a valid escape, so escaping more than
/// the context needs costs nothing but bytes.
fn is_md_text_special(c: char) -> bool {
    is_markdown_special(c) || matches!(c, '.' | '{' | '}' | '^')
}

/// Text from test output for any Markdown context outside code, including table
/// cells: one line of at most `max` characters (see [`one_line`]), every Markdown
/// special character backslash-escaped, and mentions, issue references and bare links
/// broken up with a zero-width joiner.
pub fn md_text(s: &str, max: usize) -> String {
    let line = one_line(s, max);
    let mut out = String::with_capacity(line.len() + line.len() / 4);
    neutralise(&line, &mut out, |c, out| {
        if is_md_text_special(c) {
            out.push('\\');
        }
        out.push(c);
    });
    out
}

/// Text from test output as an inline code span, outside tables: one line of at most
/// `max` characters, between backtick fences longer than any run of backticks in it,
/// so nothing inside can close the span; GitHub neither links nor mentions inside
/// code. Empty text gives an empty string (an empty span is not a code span).
pub fn md_code(s: &str, max: usize) -> String {
    code_span(&one_line(s, max))
}

/// [`md_code`] for a GFM table cell: the table is split into cells before code spans
/// are parsed, so every `|` is written `\|` (which the table turns back into `|`);
/// a backslash right before a pipe gets a zero-width joiner after it, so that the
/// pair cannot be read as an escaped backslash that leaves the pipe live.
pub fn md_cell(s: &str, max: usize) -> String {
    let line = one_line(s, max);
    let mut escaped = String::with_capacity(line.len() + 8);
    let mut prev = None;
    for c in line.chars() {
        if c == '|' {
            if prev == Some('\\') {
                escaped.push(ZWJ);
            }
            escaped.push_str("\\|");
        } else {
            escaped.push(c);
        }
        prev = Some(c);
    }
    code_span(&escaped)
}

fn code_span(content: &str) -> String {
    if content.is_empty() {
        return String::new();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick needs a space to keep it off the
    // fence; CommonMark strips one space from each side when both are there, so text
    // that itself starts and ends with a space is padded too, to keep its own.
    let pad = content.starts_with('`')
        || content.ends_with('`')
        || (content.starts_with(' ') && content.ends_with(' ') && content.trim() != "");
    let space = if pad { " " } else { "" };
    format!("{fence}{space}{content}{space}{fence}")
}

/// A share as a percentage: `0.9712` → "97.1%" with one decimal, "97%" with none;
/// "–" for a non-finite value.
pub fn format_percent(share: f64, decimals: usize) -> String {
    if !share.is_finite() {
        return "–".to_owned();
    }
    format!("{:.*}%", decimals, share * 100.0)
}

/// A ratio as a signed change: `1.124` → "+12%", `0.9` → "-10%", `1.001` → "+0%";
/// "–" for a non-finite or negative ratio.
pub fn format_change(ratio: f64) -> String {
    if !ratio.is_finite() || ratio < 0.0 {
        return "–".to_owned();
    }
    // Adding 0.0 turns a negative zero into zero, which prints without a sign.
    let pct = ((ratio - 1.0) * 100.0).round() + 0.0;
    if pct < 0.0 {
        format!("-{}%", -pct)
    } else {
        format!("+{pct}%")
    }
}

/// One block character per value (from `dtf_history`, which draws the same trend
/// for other consumers).
pub use dtf_history::trend::sparkline;

/// JSON for a `<script type="application/json">` element: `<`, `>` and `&` become
/// `\u003c` etc., so no data can close the element or open a comment, and the line
/// separators that older JavaScript rejects are escaped too.
pub fn json_for_script<T: serde::Serialize + ?Sized>(
    value: &T,
) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Whether a link to `url` is safe to emit: `http(s)://` only (no `javascript:`), and
/// nothing that could end an attribute, a Markdown link destination or a line.
pub fn is_web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty())
        && !url.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '\\')
        })
}

/// Registers the filters and tests on a template environment.
pub(crate) fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("md", |v: Value| {
        Value::from_safe_string(escape_markdown(&value_text(&v)))
    });
    env.add_filter("mdhtml", |v: Value| {
        Value::from_safe_string(escape_markdown_html(&value_text(&v)))
    });
    env.add_filter("mdcode", |v: Value, lang: Option<&str>| {
        Value::from_safe_string(markdown_code_block(&value_text(&v), lang.unwrap_or("")))
    });
    env.add_filter("duration", |v: Option<f64>| format_duration(v));
    env.add_filter("thousands", thousands_filter);
    env.add_filter("first_line", |v: Value, max: Option<usize>| {
        first_line(&value_text(&v), max.unwrap_or(200))
    });
    env.add_filter("tail", |v: Value, max: Option<usize>| {
        tail(&value_text(&v), max.unwrap_or(40))
    });
    env.add_filter("json_script", |v: Value| {
        json_for_script(&v)
            .map(Value::from_safe_string)
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    "cannot serialize value to json",
                )
                .with_source(e)
            })
    });
    env.add_filter("md_text", |v: Value, max: Option<usize>| {
        Value::from_safe_string(md_text(&value_text(&v), max.unwrap_or(DEFAULT_FIELD_CHARS)))
    });
    env.add_filter("md_code", |v: Value, max: Option<usize>| {
        Value::from_safe_string(md_code(&value_text(&v), max.unwrap_or(DEFAULT_FIELD_CHARS)))
    });
    env.add_filter("md_cell", |v: Value, max: Option<usize>| {
        Value::from_safe_string(md_cell(&value_text(&v), max.unwrap_or(DEFAULT_FIELD_CHARS)))
    });
    env.add_filter("percent", |v: Option<f64>, decimals: Option<usize>| {
        Value::from_safe_string(v.map_or_else(
            || "–".to_owned(),
            |v| format_percent(v, decimals.unwrap_or(0)),
        ))
    });
    env.add_filter("change", |v: Option<f64>| {
        Value::from_safe_string(v.map_or_else(|| "–".to_owned(), format_change))
    });
    env.add_test("web_url", |v: Option<&str>| v.is_some_and(is_web_url));
}

/// A value as text; `none` is empty rather than "none", so optional fields need no
/// extra guard when escaped.
fn value_text(v: &Value) -> String {
    if v.is_none() {
        String::new()
    } else if let Some(s) = v.as_str() {
        s.to_owned()
    } else {
        v.to_string()
    }
}

fn thousands_filter(v: Value) -> Result<String, Error> {
    i128::try_from(v.clone())
        .map(format_thousands)
        .map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("thousands expects an integer, got {}", v.kind()),
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn markdown_escaping() {
        let check = |input: &str, expected: &str| {
            assert_eq!(escape_markdown(input), expected, "input {input:?}");
        };
        check("", "");
        check("plain_name", "plain\\_name");
        check("test 1 ok", "test 1 ok");
        check("**bold**", "\\*\\*bold\\*\\*");
        check("[link](http://x)", "\\[link\\]\\(http:\u{200D}//x\\)");
        check(
            "<script>alert(1)</script>",
            "\\<script\\>alert\\(1\\)\\</script\\>",
        );
        check("| pipe |", "\\| pipe \\|");
        check("```", "\\`\\`\\`");
        check("a\\b", "a\\\\b");
        check("# h", "\\# h");
        check(
            "~~x~~ $x$ !img &amp;",
            "\\~\\~x\\~\\~ \\$x\\$ \\!img \\&amp;",
        );
        check("+-", "\\+\\-");
        check("line1\nline2\r\nline3\rline4", "line1 line2 line3 line4");
        check("tab\there\u{0}", "tab here ");
        check("@channel", "@\u{200D}channel");
        check("mail a@b.com", "mail a@\u{200D}b.com");
        check("@ alone and trailing@", "@ alone and trailing@");
        check("fixes #12", "fixes \\#\u{200D}12");
        check("#x", "\\#x");
        check("see www.example.com", "see www\u{200D}.example.com");
        check("WWW.x", "WWW\u{200D}.x");
        check("awww.x", "awww.x");
        check("https://a", "https:\u{200D}//a");
        check("a::b", "a::b");
        check("ünïcode ✓", "ünïcode ✓");
    }

    #[test]
    fn one_lines() {
        let check = |input: &str, max: usize, expected: &str| {
            assert_eq!(one_line(input, max), expected, "input {input:?}");
        };
        check("", 5, "");
        check("abc", 3, "abc");
        check("abcd", 3, "ab…");
        check("abcd", 0, "");
        check("a\r\nb\rc\nd", 10, "a b c d");
        check("nul\0bel\u{7}", 10, "nul bel ");
        check("\u{202E}txt\u{2066}", 10, "\u{FFFD}txt\u{FFFD}");
        check("ääää", 2, "ä…");
    }

    #[test]
    fn md_text_escapes_everything_markdown_reads() {
        let check = |input: &str, expected: &str| {
            assert_eq!(md_text(input, 300), expected, "input {input:?}");
        };
        check("plain words 42", "plain words 42");
        check("1. item", "1\\. item");
        check("{x} ^y", "\\{x\\} \\^y");
        check(
            "<script>alert(1)</script>",
            "\\<script\\>alert\\(1\\)\\</script\\>",
        );
        check("a|b", "a\\|b");
        check("x\\|y", "x\\\\\\|y");
        check(
            "[x](javascript:alert(1))",
            "\\[x\\]\\(javascript:alert\\(1\\)\\)",
        );
        check(
            "@channel #1 http://x",
            "@\u{200D}channel \\#\u{200D}1 http:\u{200D}//x",
        );
        check("&amp; ~~s~~ $m$", "\\&amp; \\~\\~s\\~\\~ \\$m\\$");
        check("two\nlines", "two lines");
        check("\u{202E}rtl", "\u{FFFD}rtl");
        assert_eq!(md_text(&"x".repeat(500), 10), format!("{}…", "x".repeat(9)));
    }

    #[test]
    fn code_spans() {
        let check = |input: &str, code: &str, cell: &str| {
            assert_eq!(md_code(input, 300), code, "code {input:?}");
            assert_eq!(md_cell(input, 300), cell, "cell {input:?}");
        };
        check("", "", "");
        check("a::b", "`a::b`", "`a::b`");
        check("a`b", "``a`b``", "``a`b``");
        check("```", "```` ``` ````", "```` ``` ````");
        check("`x", "`` `x ``", "`` `x ``");
        check(" x ", "`  x  `", "`  x  `");
        check("   ", "`   `", "`   `");
        check("a|b", "`a|b`", "`a\\|b`");
        // a backslash before a pipe must not escape the pipe's own backslash
        check("a\\|b", "`a\\|b`", "`a\\\u{200D}\\|b`");
        check("<b>@x</b>", "`<b>@x</b>`", "`<b>@x</b>`");
        check("x\ny", "`x y`", "`x y`");
        assert_eq!(md_code(&"`".repeat(500), 4), "```` ```… ````");
    }

    #[test]
    fn percents_changes_and_sparklines() {
        assert_eq!(format_percent(0.9712, 1), "97.1%");
        assert_eq!(format_percent(0.9712, 0), "97%");
        assert_eq!(format_percent(f64::NAN, 0), "–");
        let change = |r: f64, expected: &str| assert_eq!(format_change(r), expected, "{r}");
        change(1.124, "+12%");
        change(0.9, "-10%");
        change(0.999, "+0%");
        change(1.0, "+0%");
        change(3.0, "+200%");
        change(f64::INFINITY, "–");
        change(-1.0, "–");
        let spark = |v: &[f64], expected: &str| assert_eq!(sparkline(v), expected, "{v:?}");
        spark(&[], "");
        spark(&[5.0], "▄");
        spark(&[2.0, 2.0, 2.0], "▄▄▄");
        spark(&[0.0, 7.0], "▁█");
        spark(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], "▁▂▃▄▅▆▇█");
        spark(&[1.0, f64::NAN, 3.0], "▁ █");
        spark(&[f64::NAN], " ");
    }

    #[test]
    fn markdown_html_escaping() {
        let check = |input: &str, expected: &str| {
            assert_eq!(escape_markdown_html(input), expected, "input {input:?}");
        };
        check("a_b *c*", "a_b *c*");
        check("<b>&'\"", "&lt;b&gt;&amp;&#39;&quot;");
        check("x\n\ny", "x  y");
        check(
            "@team #3 http://x",
            "@\u{200D}team #\u{200D}3 http:\u{200D}//x",
        );
    }

    #[test]
    fn code_blocks() {
        let check = |content: &str, lang: &str, expected: &str| {
            assert_eq!(markdown_code_block(content, lang), expected, "{content:?}");
        };
        check("x", "", "```\nx\n```");
        check("x\n", "text", "```text\nx\n```");
        check("a ``` b", "", "````\na ``` b\n````");
        check("`````", "", "``````\n`````\n``````");
        check("a\r\nb\rc", "", "```\na\nb\nc\n```");
        check("x", "rust`\nevil", "```rustevil\nx\n```");
        check("", "", "```\n\n```");
    }

    #[test]
    fn durations() {
        let check = |s: Option<f64>, expected: &str| {
            assert_eq!(format_duration(s), expected, "{s:?}");
        };
        check(None, "–");
        check(Some(-1.0), "–");
        check(Some(f64::NAN), "–");
        check(Some(f64::INFINITY), "–");
        check(Some(0.0), "0s");
        check(Some(0.0001), "<1ms");
        check(Some(0.0123), "12ms");
        check(Some(0.9994), "999ms");
        check(Some(0.9996), "1.00s");
        check(Some(1.234), "1.23s");
        check(Some(59.99), "59.99s");
        check(Some(59.996), "1m 0s");
        check(Some(60.0), "1m 0s");
        check(Some(252.0), "4m 12s");
        check(Some(3599.4), "59m 59s");
        check(Some(3599.6), "1h 0m");
        check(Some(3723.0), "1h 2m");
        check(Some(90061.0), "25h 1m");
    }

    #[test]
    fn thousands() {
        let check = |n: i128, expected: &str| assert_eq!(format_thousands(n), expected);
        check(0, "0");
        check(7, "7");
        check(999, "999");
        check(1000, "1,000");
        check(1234, "1,234");
        check(123456, "123,456");
        check(1234567, "1,234,567");
        check(-1234, "-1,234");
        check(i128::from(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn first_lines() {
        let check = |s: &str, max: usize, expected: &str| {
            assert_eq!(first_line(s, max), expected, "{s:?}");
        };
        check("", 10, "");
        check("short", 10, "short");
        check("  padded  ", 10, "padded");
        check("\n\n  second\n", 10, "second");
        check("one\ntwo", 10, "one…");
        check("one\n   \n", 10, "one");
        check("exactly10!", 10, "exactly10!");
        check("eleven chars", 10, "eleven ch…");
        check("ääääääääääää", 5, "ääää…");
    }

    #[test]
    fn tails() {
        let check = |s: &str, max: usize, expected: &str| {
            assert_eq!(tail(s, max), expected, "{s:?}");
        };
        check("", 5, "");
        check("short", 5, "short");
        check("com.acme.CartTest", 9, "…CartTest");
        check("a.b\nsecond", 5, "a.b");
        check("ääääää", 3, "…ää");
        check("abc", 0, "…");
    }

    #[test]
    fn script_json() {
        let check = |v: serde_json::Value, expected: &str| {
            assert_eq!(json_for_script(&v).unwrap(), expected);
        };
        check(
            serde_json::json!("</script><!--&"),
            r#""\u003c/script\u003e\u003c!--\u0026""#,
        );
        check(serde_json::json!({"a": [1, null]}), r#"{"a":[1,null]}"#);
        check(serde_json::json!("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        // what the escaped form decodes to is the original
        let v = serde_json::json!({"s": "</SCRIPT>&<b>\u{2028}"});
        let back: serde_json::Value = serde_json::from_str(&json_for_script(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn web_urls() {
        let check = |url: &str, expected: bool| assert_eq!(is_web_url(url), expected, "{url}");
        check("https://ci.example.com/build/1", true);
        check("HTTP://x", true);
        check("https://", false);
        check("javascript:alert(1)", false);
        check("ftp://x", false);
        check("https://x/a b", false);
        check("https://x/\"onload=", false);
        check("https://x/<", false);
        check("https://x/\n", false);
        check("https://x/)(", true);
    }

    #[test]
    fn filters_in_templates() {
        let mut env = minijinja::Environment::new();
        register(&mut env);
        let check = |template: &str, expected: &str| {
            let out = env
                .render_str(
                    template,
                    minijinja::context! { n => 1234, s => "a_b", none => () },
                )
                .unwrap();
            assert_eq!(out, expected, "{template}");
        };
        check("{{ n | thousands }}", "1,234");
        check("{{ 252 | duration }}", "4m 12s");
        check("{{ 1.234 | duration }}", "1.23s");
        check("{{ none | duration }}", "–");
        check("{{ s | md }}", "a\\_b");
        check("{{ none | md }}", "");
        check("{{ n | md }}", "1234");
        check("{{ '<x>' | mdhtml }}", "&lt;x&gt;");
        check("{{ 'a' | mdcode('text') }}", "```text\na\n```");
        check("{{ 'a\nb' | first_line(5) }}", "a…");
        check("{{ 'x.y.Zed' | tail(4) }}", "…Zed");
        check("{{ '<' | json_script }}", "\"\\u003c\"");
        check("{{ 'a|b' | md_cell }}", "`a\\|b`");
        check("{{ 'a|b' | md_code }}", "`a|b`");
        check("{{ '@x.y' | md_text(3) }}", "@\u{200D}x…");
        check("{{ none | md_text }}", "");
        check("{{ 0.971 | percent(1) }}", "97.1%");
        check("{{ none | percent }}", "–");
        check("{{ 1.5 | change }}", "+50%");
        check("{{ 'https://x' is web_url }}", "True");
        check("{{ none is web_url }}", "False");
        let err = env.render_str("{{ 1.5 | thousands }}", ()).unwrap_err();
        assert!(
            err.to_string().contains("thousands expects an integer"),
            "{err}"
        );
    }
}
