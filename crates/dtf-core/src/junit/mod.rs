//! JUnit XML in and out.
//!
//! [`JunitReader`] streams test cases out of any dialect; [`write`] produces JUnit
//! that the importers of Jenkins, GitLab and Azure DevOps accept.

mod read;
pub mod write;

pub use read::{JunitReader, Location, ReadError, ReadErrorKind, ReadLimits, read_all};

/// Parses a JUnit `time` value into seconds.
///
/// Accepts `1.5`, `1,234.5` (thousands separators), `0,25` (a decimal comma, as some
/// locales write), a trailing `s` or `sec` (`0.001s`), and surrounding blanks. Anything
/// else, and negative or non-finite values, is `None`: a missing time is not a zero.
pub fn parse_time(raw: &str) -> Option<f64> {
    let s = raw.trim();
    let s = s
        .strip_suffix("sec")
        .or_else(|| s.strip_suffix("secs"))
        .or_else(|| s.strip_suffix('s'))
        .unwrap_or(s)
        .trim_end();
    if s.is_empty() {
        return None;
    }
    let normalized: Cow<'_, str> = if !s.contains(',') {
        Cow::Borrowed(s)
    } else if s.contains('.') {
        Cow::Owned(s.replace(',', ""))
    } else {
        // One comma and no dot: a decimal comma unless it is clearly a thousands
        // separator (`1,234`). `0,123` is a decimal comma.
        let parts: Vec<&str> = s.split(',').collect();
        let thousands = parts.len() > 2
            || (parts.len() == 2 && parts[1].len() == 3 && parts[0].trim_start_matches('-') != "0");
        if thousands {
            Cow::Owned(s.replace(',', ""))
        } else {
            Cow::Owned(s.replace(',', "."))
        }
    };
    let v: f64 = normalized.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

use std::borrow::Cow;

const SOURCE_EXTENSIONS: &[&str] = &[
    "py", "js", "jsx", "mjs", "cjs", "ts", "tsx", "mts", "cts", "java", "kt", "kts", "scala",
    "groovy", "go", "rs", "rb", "php", "cs", "fs", "vb", "cpp", "cc", "cxx", "c", "h", "hpp",
    "swift", "m", "mm", "ex", "exs", "erl", "dart", "vue", "svelte", "lua", "pl", "sh", "feature",
    "robot",
];

/// Path fragments that mark a frame as not the project's own code.
const FOREIGN_FRAMES: &[&str] = &[
    "node_modules/",
    "site-packages/",
    "dist-packages/",
    "/usr/lib/",
    "/usr/local/lib/",
    "<frozen",
    "/rustc/",
    ".cargo/registry/",
    "/go/src/runtime/",
    "/go/pkg/mod/",
    "node:internal",
    "internal/",
];

/// Java frames from the JDK and test frameworks, recognised by the method's package.
const FOREIGN_JAVA: &[&str] = &[
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "org.junit.",
    "junit.",
    "org.testng.",
    "org.apache.maven.",
    "org.gradle.",
    "kotlin.",
    "scala.",
    "org.opentest4j.",
    "org.assertj.",
    "org.hamcrest.",
];

/// The first project source file (and line) named in a stack trace.
///
/// Recognises Python (`File "tests/t.py", line 12`), JavaScript and TypeScript
/// (`at fn (src/a.test.ts:10:5)`), Java and Kotlin (`at a.B.c(B.java:42)`), Go
/// (`foo_test.go:17: ...`), Rust (`src/lib.rs:10:5`) and any `path.ext:line` with a
/// known source extension. Frames in dependencies or the runtime are skipped. When
/// `want` is given, only a frame in that file is taken (to find the line of a test
/// whose file is known).
pub fn file_from_stack_trace(trace: &str, want: Option<&str>) -> Option<(String, Option<u32>)> {
    for line in trace.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(found) = python_frame(line)
            .or_else(|| dotnet_frame(line))
            .or_else(|| generic_frame(line))
            && want.is_none_or(|w| same_file(w, &found.0))
        {
            return Some(found);
        }
    }
    None
}

fn same_file(a: &str, b: &str) -> bool {
    let a = a.trim_start_matches("./");
    let b = b.trim_start_matches("./");
    a == b || a.ends_with(&format!("/{b}")) || b.ends_with(&format!("/{a}"))
}

fn is_foreign(path: &str) -> bool {
    FOREIGN_FRAMES.iter().any(|f| path.contains(f))
}

fn python_frame(line: &str) -> Option<(String, Option<u32>)> {
    let rest = line.strip_prefix("File \"")?;
    let end = rest.find('"')?;
    let path = &rest[..end];
    if is_foreign(path) || !path.ends_with(".py") {
        return None;
    }
    let after = &rest[end + 1..];
    let num = after.trim_start_matches([',', ' ']).strip_prefix("line ")?;
    let digits: String = num.chars().take_while(char::is_ascii_digit).collect();
    Some((path.to_owned(), digits.parse().ok()))
}

/// .NET: `at Acme.Tests.CartTests.Adds() in C:\src\CartTests.cs:line 27`.
fn dotnet_frame(line: &str) -> Option<(String, Option<u32>)> {
    let (before, after) = line.rsplit_once(":line ")?;
    let path = before.rsplit_once(" in ")?.1.trim();
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    let ext = path.rsplit_once('.')?.1;
    if !SOURCE_EXTENSIONS.contains(&ext) || is_foreign(path) {
        return None;
    }
    Some((path.to_owned(), digits.parse().ok()))
}

fn generic_frame(line: &str) -> Option<(String, Option<u32>)> {
    // Java: `at com.acme.FooTest.bar(FooTest.java:42)`: skip JDK and framework frames.
    if let Some(frame) = line.strip_prefix("at ")
        && let Some(paren) = frame.find('(')
    {
        let method = frame[..paren].trim();
        if !method.contains('/')
            && !method.contains(' ')
            && FOREIGN_JAVA.iter().any(|p| method.starts_with(p))
        {
            return None;
        }
        // `java.base/java.lang.Thread.run(Thread.java:840)`
        if method.contains("java.base/") {
            return None;
        }
    }
    for token in line.split(|c: char| {
        c.is_whitespace() || matches!(c, '(' | ')' | '"' | '\'' | ',' | '[' | ']' | '<' | '>')
    }) {
        let token = token.trim_start_matches("file://").trim_end_matches(':');
        if let Some(found) = path_with_line(token)
            && !is_foreign(&found.0)
        {
            return Some(found);
        }
    }
    None
}

/// `path.ext:line[:col]`, also after a function name and `@` (Firefox, Safari).
fn path_with_line(token: &str) -> Option<(String, Option<u32>)> {
    let token = token.rsplit_once('@').map_or(token, |(_, path)| path);
    let mut parts = token.split(':');
    let mut path = parts.next()?;
    // Windows drive letters: `C:\src\a.cs:12`.
    let mut rest: Vec<&str> = parts.collect();
    let drive;
    if path.len() == 1 && path.chars().all(|c| c.is_ascii_alphabetic()) && !rest.is_empty() {
        drive = format!("{}:{}", path, rest.remove(0));
        path = &drive;
    }
    let line: u32 = rest.first()?.parse().ok()?;
    let ext = path.rsplit_once('.')?.1;
    if !SOURCE_EXTENSIONS.contains(&ext) || path.len() <= ext.len() + 1 {
        return None;
    }
    Some((path.to_owned(), Some(line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1.5", Some(1.5)),
            ("1,234.5", Some(1234.5)),
            ("0.001s", Some(0.001)),
            ("2 sec", Some(2.0)),
            ("", None),
            ("  ", None),
            ("0,25", Some(0.25)),
            ("0,123", Some(0.123)),
            ("1,234", Some(1234.0)),
            ("12,345,678.9", Some(12345678.9)),
            ("-1", None),
            ("NaN", None),
            ("inf", None),
            ("abc", None),
            (" 3 ", Some(3.0)),
            ("1e-3", Some(0.001)),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_time(raw), *want, "parse_time({raw:?})");
        }
    }

    #[test]
    fn stack_trace_files() {
        type Case<'a> = (&'a str, Option<(&'a str, Option<u32>)>);
        let cases: &[Case] = &[
            (
                "Traceback (most recent call last):\n  File \"/usr/lib/python3.11/unittest/case.py\", line 57\n  File \"tests/test_math.py\", line 12, in test_div\n    1/0",
                Some(("tests/test_math.py", Some(12))),
            ),
            (
                "Error: expect(received)\n    at Object.<anonymous> (/repo/node_modules/expect/build/index.js:10:5)\n    at Object.<anonymous> (src/cart.test.js:42:17)",
                Some(("src/cart.test.js", Some(42))),
            ),
            (
                "java.lang.AssertionError: boom\n\tat org.junit.Assert.fail(Assert.java:89)\n\tat com.acme.FooTest.bar(FooTest.java:42)\n\tat java.base/java.lang.Thread.run(Thread.java:840)",
                Some(("FooTest.java", Some(42))),
            ),
            (
                "    calc_test.go:17: got 3, want 4",
                Some(("calc_test.go", Some(17))),
            ),
            (
                "thread 'tests::adds' panicked at src/lib.rs:10:5:\nassertion failed",
                Some(("src/lib.rs", Some(10))),
            ),
            (
                "formats prices@src/app/price.service.spec.ts:41:23\nUserContext.apply@http://localhost:9876/node_modules/jasmine-core/jasmine.js:7:1",
                Some(("src/app/price.service.spec.ts", Some(41))),
            ),
            ("no paths here at all", None),
            ("see http://example.com:8080/x", None),
            (
                r"   at Acme.Tests.CartTests.Adds() in C:\src\Acme.Tests\CartTests.cs:line 27",
                Some((r"C:\src\Acme.Tests\CartTests.cs", Some(27))),
            ),
        ];
        for (trace, want) in cases {
            let got = file_from_stack_trace(trace, None);
            let want = want.map(|(f, l)| (f.to_owned(), l));
            assert_eq!(got, want, "trace: {trace}");
        }
    }
}
