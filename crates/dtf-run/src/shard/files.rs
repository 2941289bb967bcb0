//! Finding and reading the JUnit files an invocation wrote.
//!
//! Presets name their JUnit files as paths or simple patterns (`*`, `?`, `[abc]`
//! within a name, `**` for any folders), relative to the invocation's folder. The
//! matcher is small on purpose: patterns come from presets, not users, and need no
//! more.
//!
//! A file is read as far as it goes: a framework killed mid-write leaves a truncated
//! file, and every case before the cut is a result to keep.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use dtf_core::junit::JunitReader;
use dtf_core::model::TestCase;

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

/// The existing files a pattern matches, sorted (`*`, `?`, `[...]`, `**`).
pub(crate) fn expand(pattern: &Path) -> Vec<PathBuf> {
    let Ok(paths) = glob::glob(&pattern.to_string_lossy()) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::fs;

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
