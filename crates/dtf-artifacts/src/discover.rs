//! Finding the inputs of `dtf merge` in a downloaded-artifacts folder: dtf bundles, and
//! loose JUnit files for jobs that uploaded them without packing.
//!
//! CI providers lay downloaded artifacts out differently (one folder per artifact on
//! GitHub, the job's own paths on GitLab, ...), so discovery walks the whole tree and
//! decides by content: a zip is a bundle if its manifest says so, an XML file is JUnit
//! if its root element says so. Only the zip's central directory and manifest, and the
//! first 4 KiB of each candidate XML file, are read.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use glob::{MatchOptions, Pattern};

use crate::bundle::Bundle;
use crate::error::{Error, Result, io_at};
use crate::fs::walk;
use crate::record::{SNIFF_BYTES, looks_like_junit};

/// The JUnit patterns used when none are given.
pub const DEFAULT_JUNIT_PATTERNS: &[&str] = &["**/*.xml"];

/// Directories never entered: they hold no results and can be huge.
const PRUNED: &[&str] = &[".git"];

/// What [`discover`] found; every list is sorted by path.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Zip files whose `manifest.json` is `dtf.manifest.v1`.
    pub bundles: Vec<PathBuf>,
    /// Files matching a pattern whose root element is `<testsuites>` or `<testsuite>`.
    pub junit: Vec<PathBuf>,
    /// Files matching a pattern that are not JUnit, for a verbose "ignored" note.
    pub not_junit: Vec<PathBuf>,
    /// Zips that carry a `manifest.json` that could not be used (a newer schema,
    /// invalid JSON, ...), with the reason. Zips without a manifest are not listed.
    pub invalid_bundles: Vec<(PathBuf, Error)>,
}

/// Walks `root` without following symbolic links, skipping `.git`, and sorts what it
/// finds. `patterns` are globs over `/`-separated paths relative to `root` (`*` stays
/// within one directory, `**/` spans any number); empty means
/// [`DEFAULT_JUNIT_PATTERNS`]. Returned paths are `root` joined with the relative path.
pub fn discover(root: &Path, patterns: &[&str]) -> Result<Discovered> {
    let patterns = if patterns.is_empty() {
        DEFAULT_JUNIT_PATTERNS
    } else {
        patterns
    };
    let compiled = patterns
        .iter()
        .map(|p| {
            Pattern::new(p).map_err(|e| Error::Pattern {
                pattern: (*p).to_owned(),
                message: e.msg.to_owned(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let options = MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };

    let (found, _skipped) = walk(root, PRUNED)?;
    let mut out = Discovered::default();
    for f in found {
        let path = root.join(&f.name);
        if f.name.to_ascii_lowercase().ends_with(".zip") {
            match Bundle::open(&path) {
                Ok(_) => out.bundles.push(path.clone()),
                Err(Error::NoManifest { .. } | Error::Zip { .. }) => {}
                Err(e) => out.invalid_bundles.push((path.clone(), e)),
            }
        }
        if compiled.iter().any(|p| p.matches_with(&f.name, options)) {
            if sniff_file(&f.path)? {
                out.junit.push(path);
            } else {
                out.not_junit.push(path);
            }
        }
    }
    Ok(out)
}

fn sniff_file(path: &Path) -> Result<bool> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    File::open(path)
        .map_err(io_at(path))?
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_at(path))?;
    Ok(looks_like_junit(&head))
}
