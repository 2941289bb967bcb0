//! Inputs that are not valid JUnit: each gives an error that names the source and a
//! line:column, and never a panic.

use std::io::{self, BufReader, Read};

use dtf_core::junit::{JunitReader, ReadError, read_all};

fn error_of(input: &[u8]) -> ReadError {
    match read_all(input, "shard.xml") {
        Ok(cases) => panic!("expected an error, read {} cases", cases.len()),
        Err(e) => e,
    }
}

/// `want` is a piece of the message; `at` the expected `line:column`.
fn check(input: &[u8], want: &str, at: (u64, u64)) {
    let e = error_of(input);
    let text = e.to_string();
    assert!(text.contains(want), "{text:?} should contain {want:?}");
    assert!(text.starts_with("shard.xml:"), "{text}");
    assert_eq!((e.location.line, e.location.column), at, "{text}");
}

#[test]
fn malformed_xml() {
    check(
        b"<testsuite name=\"s\">\n  <testcase name=\"a\">\n</testsuite>\n",
        "malformed XML",
        (3, 1),
    );
    check(
        b"<testsuite>\n<testcase name=a/>\n</testsuite>",
        "malformed XML: in an attribute: attribute value must be enclosed",
        (2, 1),
    );
}

#[test]
fn truncated_file() {
    let full = b"<testsuites>\n  <testsuite name=\"s\">\n    <testcase name=\"a\"/>\n    <testcase name=\"b\">\n      <failure message=\"x\">trace";
    check(
        full,
        "unexpected end of file: <failure> opened at line 5 is not closed",
        (5, 33),
    );
    // Cut between elements: the open <testsuite> is named.
    check(
        b"<testsuites>\n<testsuite name=\"s\">\n<testcase name=\"a\"/>\n",
        "<testsuite> opened at line 2",
        (4, 1),
    );
}

#[test]
fn empty_and_blank_files() {
    check(b"", "the file is empty", (1, 1));
    check(b"   \n\n", "holds no XML element", (3, 1));
    check(
        b"<?xml version=\"1.0\"?>\n<!-- nothing -->\n",
        "holds no XML element",
        (3, 1),
    );
}

#[test]
fn not_utf8() {
    check(
        b"<testsuite name=\"s\">\n<testcase name=\"\xff\xfe\"/>\n</testsuite>",
        "UTF-8",
        (2, 1),
    );
    check(b"<testsuite name=\"s\"><testcase name=\"a\"><system-out>ok \xc3\x28 bad</system-out></testcase></testsuite>", "UTF-8", (1, 55));
}

#[test]
fn entity_expansion_bomb() {
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<testsuite name="s">
  <testcase name="a"><failure message="&lol9;">&lol9;</failure></testcase>
</testsuite>"#;
    check(bomb.as_bytes(), "entity `&lol9;` is not defined", (9, 22));
    // in text, too
    check(
        bomb.replace(r#" message="&lol9;""#, "").as_bytes(),
        "entity `&lol9;` is not defined",
        (9, 31),
    );
}

#[test]
fn not_junit() {
    check(
        b"<html><body>404</body></html>",
        "not a JUnit file: the root element is <html>",
        (1, 1),
    );
    check(b"{\"tests\": []}", "holds no XML element", (1, 14));
    check(
        b"<?xml version=\"1.0\"?>\n<coverage line-rate=\"0.5\"></coverage>",
        "root element is <coverage>",
        (2, 1),
    );
}

/// Produces `<testsuite><testcase name="aaaa…` with `n` bytes of attribute, without
/// ever holding them in memory.
struct HugeAttribute {
    head: &'static [u8],
    remaining: u64,
    tail: &'static [u8],
}

impl Read for HugeAttribute {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.head.is_empty() {
            let n = self.head.len().min(buf.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head = &self.head[n..];
            return Ok(n);
        }
        if self.remaining > 0 {
            let n = (self.remaining.min(buf.len() as u64)) as usize;
            buf[..n].fill(b'a');
            self.remaining -= n as u64;
            return Ok(n);
        }
        let n = self.tail.len().min(buf.len());
        buf[..n].copy_from_slice(&self.tail[..n]);
        self.tail = &self.tail[n..];
        Ok(n)
    }
}

#[test]
fn attribute_of_200_megabytes() {
    let input = HugeAttribute {
        head: b"<testsuite name=\"s\">\n<testcase name=\"",
        remaining: 200 << 20,
        tail: b"\"/></testsuite>",
    };
    let mut reader = JunitReader::new(BufReader::new(input), "huge.xml");
    let e = reader
        .next_case()
        .expect_err("a 200 MB attribute is refused");
    let text = e.to_string();
    assert!(
        text.contains("an XML tag is longer than the limit of 16777216 bytes"),
        "{text}"
    );
    assert!(text.starts_with("huge.xml:2:"), "{text}");
    // Finished after an error: no panic, no more cases.
    assert!(reader.next_case().expect("done").is_none());
}

#[test]
fn unreadable_source() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "permission denied",
            ))
        }
    }
    let e = read_all(BufReader::new(Broken), "locked.xml").expect_err("unreadable");
    let text = e.to_string();
    assert!(
        text.starts_with("locked.xml:1:1: cannot read the file"),
        "{text}"
    );
    assert!(text.contains("permission denied"), "{text}");
}

#[test]
fn cases_before_an_error_are_returned() {
    let input =
        b"<testsuite name=\"s\">\n<testcase name=\"a\"/>\n<testcase name=\"b\"/>\n<testcase name=";
    let mut reader = JunitReader::new(&input[..], "cut.xml");
    assert_eq!(
        reader.next_case().expect("first").map(|c| c.name),
        Some("a".into())
    );
    assert_eq!(
        reader.next_case().expect("second").map(|c| c.name),
        Some("b".into())
    );
    assert!(reader.next_case().is_err());
}
