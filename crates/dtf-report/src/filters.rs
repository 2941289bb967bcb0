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
        check("{{ 'https://x' is web_url }}", "True");
        check("{{ none is web_url }}", "False");
        let err = env.render_str("{{ 1.5 | thousands }}", ()).unwrap_err();
        assert!(
            err.to_string().contains("thousands expects an integer"),
            "{err}"
        );
    }
}
