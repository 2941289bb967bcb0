//! The artifact record: one description of a produced file that reads the same whatever
//! CI provider made it, plus the cheap classification that fills in its kind and media type.
//!
//! Classification looks at the name and, for `.xml`, at the first bytes: CI jobs name
//! JUnit files anything (`TEST-foo.xml`, `results.xml`, `junit/out.xml`), so the root
//! element is the only reliable signal, and it is always in the first few hundred bytes.

use dtf_core::metadata::{BuildMetadata, Shard};
use serde::{Deserialize, Serialize};

/// What a file is, as far as dtf cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    /// A JUnit XML result file, the input of `dtf merge`.
    Junit,
    Log,
    Report,
    Screenshot,
    Coverage,
    /// A zip archive, usually another dtf bundle.
    Bundle,
    /// Anything else; a kind written by a newer dtf also reads as `other`.
    #[serde(other)]
    Other,
}

/// Which job produced a file.
///
/// Inside a manifest, `build` is left empty on every record because the manifest's own
/// `build` covers all its files; `shard` and `runner` are repeated so records keep their
/// origin when lists from many bundles are concatenated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Producer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildMetadata>,
}

impl Producer {
    /// The producer of files made by `build`, with the full metadata attached.
    pub fn from_build(build: &BuildMetadata) -> Producer {
        Producer {
            shard: build.shard,
            runner: build.runner_name.clone(),
            build: Some(build.clone()),
        }
    }
}

/// One file: where it sits in a bundle, what it is, and how to check it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRecord {
    /// Path inside the bundle, `/`-separated, relative, never with `.` or `..`.
    pub name: String,
    pub kind: ArtifactKind,
    /// IANA media type, e.g. `application/xml`.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    #[serde(default)]
    pub producer: Producer,
}

/// How many leading bytes [`classify`] and [`looks_like_junit`] need to see.
pub const SNIFF_BYTES: usize = 4096;

/// Kind and media type of a file from its name (any `/`-separated path) and its first
/// bytes (up to [`SNIFF_BYTES`]; only consulted for `.xml`).
pub fn classify(name: &str, head: &[u8]) -> (ArtifactKind, &'static str) {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    let ext = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext,
        _ => "",
    };
    let media_type = media_type_for(&base, ext);
    let kind = if ext == "zip" {
        ArtifactKind::Bundle
    } else if matches!(ext, "png" | "jpg" | "jpeg" | "webp") {
        ArtifactKind::Screenshot
    } else if ext == "xml" && looks_like_junit(head) {
        ArtifactKind::Junit
    } else if is_coverage_name(&base, ext) {
        ArtifactKind::Coverage
    } else if matches!(ext, "log" | "txt") {
        ArtifactKind::Log
    } else if matches!(ext, "html" | "htm" | "md") {
        ArtifactKind::Report
    } else {
        ArtifactKind::Other
    };
    (kind, media_type)
}

fn media_type_for(base: &str, ext: &str) -> &'static str {
    match ext {
        "xml" => "application/xml",
        "json" => "application/json",
        "log" | "txt" | "lcov" => "text/plain",
        "info" if base.contains("lcov") => "text/plain",
        "html" | "htm" => "text/html",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "css" => "text/css",
        "js" => "text/javascript",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

fn is_coverage_name(base: &str, ext: &str) -> bool {
    base == "lcov.info"
        || ext == "lcov"
        || (ext == "info" && base.contains("lcov"))
        || base == "clover.xml"
        || (ext == "xml" && (base.starts_with("cobertura") || base.starts_with("jacoco")))
        || (matches!(ext, "xml" | "json") && base.starts_with("coverage"))
}

/// Whether content whose extension is already in a compressed format, where deflating
/// again only costs time.
pub(crate) fn is_precompressed(name: &str) -> bool {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    matches!(
        ext.as_str(),
        "png"
            | "jpg"
            | "jpeg"
            | "webp"
            | "gif"
            | "zip"
            | "jar"
            | "gz"
            | "tgz"
            | "bz2"
            | "xz"
            | "zst"
            | "7z"
            | "mp4"
            | "webm"
            | "woff2"
    )
}

/// Whether an XML document's root element is `<testsuites>` or `<testsuite>`, looking
/// only at `head` (its first bytes). Skips a UTF-8 byte-order mark, the XML declaration,
/// processing instructions, comments and a doctype, which may all precede the root.
pub fn looks_like_junit(head: &[u8]) -> bool {
    let mut s = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    loop {
        s = s.trim_ascii_start();
        let skip_to = if s.starts_with(b"<?") {
            find(s, 2, b"?>").map(|i| i + 2)
        } else if s.starts_with(b"<!--") {
            find(s, 4, b"-->").map(|i| i + 3)
        } else if s.starts_with(b"<!DOCTYPE") {
            doctype_end(s)
        } else {
            break;
        };
        match skip_to {
            Some(i) => s = &s[i..],
            None => return false,
        }
    }
    let Some(rest) = s.strip_prefix(b"<testsuite") else {
        return false;
    };
    let rest = rest.strip_prefix(b"s").unwrap_or(rest);
    matches!(
        rest.first(),
        Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')
    )
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// End of a doctype, which may carry an internal subset in `[...]` containing `>`.
fn doctype_end(s: &[u8]) -> Option<usize> {
    let close = find(s, 0, b">")?;
    match find(s, 0, b"[") {
        Some(open) if open < close => {
            let end_subset = find(s, open, b"]")?;
            find(s, end_subset, b">").map(|i| i + 1)
        }
        _ => Some(close + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, head: &str, kind: ArtifactKind, media_type: &str) {
        assert_eq!(
            classify(name, head.as_bytes()),
            (kind, media_type),
            "classify({name:?}, {head:?})"
        );
    }

    #[test]
    fn classifies_by_name_and_content() {
        use ArtifactKind::*;
        let junit = r#"<?xml version="1.0"?><testsuites name="x">"#;
        check("out/TEST-a.xml", junit, Junit, "application/xml");
        check("results.XML", "<testsuite>", Junit, "application/xml");
        check("pom.xml", "<project>", Other, "application/xml");
        check("coverage.xml", "<coverage>", Coverage, "application/xml");
        check(
            "cov/cobertura-unit.xml",
            "<coverage>",
            Coverage,
            "application/xml",
        );
        check(
            "jacocoTestReport.xml",
            "<report>",
            Coverage,
            "application/xml",
        );
        check("clover.xml", "<coverage>", Coverage, "application/xml");
        check("coverage/lcov.info", "TN:", Coverage, "text/plain");
        check("unit.lcov", "TN:", Coverage, "text/plain");
        check("coverage-final.json", "{}", Coverage, "application/json");
        check("summary.json", "{}", Other, "application/json");
        check("build.log", "", Log, "text/plain");
        check("stdout.txt", "", Log, "text/plain");
        check("report/index.html", "", Report, "text/html");
        check("SUMMARY.md", "", Report, "text/markdown");
        check("shots/fail.png", "", Screenshot, "image/png");
        check("shots/fail.JPEG", "", Screenshot, "image/jpeg");
        check("a.webp", "", Screenshot, "image/webp");
        check("shard-1.zip", "", Bundle, "application/zip");
        check("Makefile", "", Other, "application/octet-stream");
        check(".png", "", Other, "application/octet-stream");
    }

    fn sniff(head: &str, expected: bool) {
        assert_eq!(looks_like_junit(head.as_bytes()), expected, "{head:?}");
    }

    #[test]
    fn sniffs_the_root_element() {
        sniff("<testsuites>", true);
        sniff("<testsuite name='a'/>", true);
        sniff("<testsuite/>", true);
        sniff(
            "\u{feff}<?xml version='1.0' encoding='UTF-8'?>\n<testsuites\n>",
            true,
        );
        sniff(
            "<?xml version='1.0'?><!-- a <testcase> comment --><testsuite>",
            true,
        );
        sniff(
            "<?xml-stylesheet href='x'?>\n<?xml version='1.0'?>\n  <testsuite>",
            true,
        );
        sniff(
            "<!DOCTYPE testsuite [ <!ENTITY a 'b'> ]>\n<testsuite>",
            true,
        );
        sniff("<!DOCTYPE testsuites>\n<testsuites>", true);
        sniff("<testsuitex>", false);
        sniff("<testsuite", false);
        sniff("<project><testsuite>", false);
        sniff("<!-- never closed <testsuite>", false);
        sniff("<?xml version='1.0'", false);
        sniff("", false);
        sniff("testsuite", false);
    }
}
