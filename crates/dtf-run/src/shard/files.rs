//! Finding and reading the JUnit files an invocation wrote.
//!
//! Presets name their JUnit files as paths or simple patterns (`*`, `?`, `[abc]`
//! within a name, `**` for any folders), relative to the invocation's folder. The
//! matcher is small on purpose: patterns come from presets, not users, and need no
//! more.
//!
//! A file is read as far as it goes: a framework killed mid-write leaves a truncated
//! file, and every case before the cut is a result to keep.

use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Component, Path, PathBuf};

use dtf_core::junit::JunitReader;
use dtf_core::model::TestCase;

/// How deep `**` looks.
const MAX_DEPTH: usize = 12;

/// What the invocation's JUnit files said.
#[derive(Debug, Default)]
pub(crate) struct Read {
    /// In the order the files list them, file after file.
    pub cases: Vec<TestCase>,
    pub files: Vec<PathBuf>,
    /// Missing files, unreadable ones, truncated ones.
    pub problems: Vec<String>,
}

/// Reads every file the patterns name, relative to `cwd`. Messages name files
/// relative to `shown_from` when inside it (the work folder is gone by the time
/// anyone reads them).
pub(crate) fn read_junit(patterns: &[PathBuf], cwd: &Path, shown_from: &Path) -> Read {
    let mut out = Read::default();
    for pattern in patterns {
        let full = if pattern.is_absolute() {
            pattern.clone()
        } else {
            cwd.join(pattern)
        };
        let found = if has_wildcard(&full) {
            expand(&full)
        } else if full.is_file() {
            vec![full.clone()]
        } else {
            Vec::new()
        };
        if found.is_empty() {
            out.problems.push(format!(
                "no JUnit file at {}",
                super::shown(&full, shown_from)
            ));
        }
        for path in found {
            read_one(&path, &super::shown(&path, shown_from), &mut out);
            out.files.push(path);
        }
    }
    out
}

fn read_one(path: &Path, name: &str, out: &mut Read) {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            out.problems.push(format!("cannot open {name}: {e}"));
            return;
        }
    };
    let mut reader = JunitReader::new(BufReader::new(file), name);
    loop {
        match reader.next_case() {
            Ok(Some(case)) => out.cases.push(case),
            Ok(None) => break,
            Err(e) => {
                // Keep what came before: the framework may have died mid-write.
                out.problems.push(format!(
                    "{e} (the {} test cases before it are kept)",
                    reader.cases_read()
                ));
                break;
            }
        }
    }
}

pub(crate) fn has_wildcard(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// The existing files a pattern matches, sorted.
pub(crate) fn expand(pattern: &Path) -> Vec<PathBuf> {
    let mut base = PathBuf::new();
    let mut parts: Vec<String> = Vec::new();
    for c in pattern.components() {
        match c {
            Component::Normal(s) => {
                let s = s.to_string_lossy().into_owned();
                if parts.is_empty() && !s.contains(['*', '?', '[']) {
                    base.push(&s);
                } else {
                    parts.push(s);
                }
            }
            other => {
                if parts.is_empty() {
                    base.push(other.as_os_str());
                } else {
                    parts.push(other.as_os_str().to_string_lossy().into_owned());
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(&base, &parts, 0, &mut found);
    found.sort();
    found.dedup();
    found
}

fn walk(dir: &Path, parts: &[String], depth: usize, found: &mut Vec<PathBuf>) {
    let Some((first, rest)) = parts.split_first() else {
        if dir.is_file() {
            found.push(dir.to_owned());
        }
        return;
    };
    if first == "**" {
        // Zero folders, then one more and `**` again.
        walk(dir, rest, depth, found);
        if depth >= MAX_DEPTH {
            return;
        }
        for entry in entries(dir) {
            if entry.is_dir() {
                walk(&entry, parts, depth + 1, found);
            }
        }
        return;
    }
    if !first.contains(['*', '?', '[']) {
        walk(&dir.join(first), rest, depth, found);
        return;
    }
    for entry in entries(dir) {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if wildcard(first, &name) {
            walk(&entry, rest, depth, found);
        }
    }
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    match fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    }
}

/// `*`, `?` and `[abc]`/`[a-z]`/`[!a]` over one name.
pub(crate) fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point for the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, pi, n[ni])
                        && matched
                    {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `c` is in the class opening at `p[at]`, and where the class ends.
fn class(p: &[char], at: usize, c: char) -> Option<(bool, usize)> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < p.len() && (first || p[i] != ']') {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    (i < p.len()).then_some((hit != negate, i + 1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wildcards() {
        let cases: &[(&str, &str, bool)] = &[
            ("*.xml", "junit.xml", true),
            ("*.xml", "junit.xml.tmp", false),
            ("junit-?.xml", "junit-1.xml", true),
            ("junit-?.xml", "junit-12.xml", false),
            ("junit-*-*.xml", "junit-a-b.xml", true),
            ("report[0-9].xml", "report7.xml", true),
            ("report[!0-9].xml", "report7.xml", false),
            ("report[ab].xml", "reportb.xml", true),
            ("*", "", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("exact.xml", "exact.xml", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(wildcard(pattern, name), *want, "{pattern} vs {name}");
        }
    }

    #[test]
    fn patterns_find_files_and_truncated_files_keep_their_cases() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("a/b")).unwrap();
        let whole = r#"<testsuite name="s"><testcase classname="c" name="one"/><testcase classname="c" name="two"/></testsuite>"#;
        let cut = r#"<testsuite name="s"><testcase classname="c" name="three"/><testcase classname="c" name="fo"#;
        fs::write(d.join("a/junit-1.xml"), whole).unwrap();
        fs::write(d.join("a/b/junit-2.xml"), cut).unwrap();
        fs::write(d.join("a/other.txt"), "x").unwrap();

        let found = expand(&d.join("**/junit-*.xml"));
        assert_eq!(
            found,
            vec![d.join("a/b/junit-2.xml"), d.join("a/junit-1.xml")]
        );

        let read = read_junit(
            &[
                PathBuf::from("a/junit-1.xml"),
                PathBuf::from("a/b/*.xml"),
                PathBuf::from("none.xml"),
            ],
            d,
            d,
        );
        let names: Vec<&str> = read.cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["one", "two", "three"]);
        assert_eq!(read.problems.len(), 2, "{:?}", read.problems);
        assert!(
            read.problems[0].contains("(the 1 test cases before it are kept)"),
            "{:?}",
            read.problems
        );
        assert!(
            read.problems[0].starts_with("a/b/junit-2.xml:1:"),
            "{:?}",
            read.problems
        );
        assert_eq!(read.problems[1], "no JUnit file at none.xml");
    }
}
