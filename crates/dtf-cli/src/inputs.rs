//! Turns what the user typed (files, folders, globs, bundles) into merge inputs.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use dtf_artifacts::bundle::Bundle;
use dtf_core::merge::Input;

/// The inputs found, and arguments that named nothing usable.
#[derive(Default)]
pub struct Expanded {
    pub inputs: Vec<Input>,
    /// `(argument, why)`: a glob that matched nothing, a path that does not exist.
    pub problems: Vec<(String, String)>,
}

fn is_glob(arg: &str) -> bool {
    arg.contains(['*', '?', '['])
}

fn is_zip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Expands the arguments in order; duplicates (the same path named twice) are kept
/// once, at their first place.
pub fn expand(args: &[String]) -> anyhow::Result<Expanded> {
    let mut out = Expanded::default();
    let mut seen = std::collections::HashSet::new();
    for arg in args {
        let paths: Vec<PathBuf> = if is_glob(arg) {
            let matches: Vec<PathBuf> = glob::glob(arg)
                .with_context(|| format!("invalid glob pattern `{arg}`"))?
                .filter_map(Result::ok)
                .collect();
            if matches.is_empty() {
                out.problems
                    .push((arg.clone(), "the pattern matched no file".into()));
            }
            matches
        } else {
            vec![PathBuf::from(arg)]
        };
        for path in paths {
            if !seen.insert(path.clone()) {
                continue;
            }
            if path.is_dir() {
                let found = dtf_artifacts::discover(&path, &[])
                    .with_context(|| format!("searching {} for results", path.display()))?;
                if found.junit.is_empty() && found.bundles.is_empty() {
                    out.problems.push((
                        path.display().to_string(),
                        "the folder holds no JUnit file or dtf bundle".into(),
                    ));
                }
                for (bundle, why) in &found.invalid_bundles {
                    out.problems
                        .push((bundle.display().to_string(), why.to_string()));
                }
                for j in found.junit {
                    if seen.insert(j.clone()) {
                        out.inputs.push(Input::file(j));
                    }
                }
                for b in found.bundles {
                    if seen.insert(b.clone()) {
                        add_bundle(&b, &mut out)?;
                    }
                }
            } else if is_zip(&path) {
                add_bundle(&path, &mut out)?;
            } else {
                // A missing or unreadable file surfaces from the merge with its name.
                out.inputs.push(Input::file(path));
            }
        }
    }
    Ok(out)
}

/// Adds every JUnit entry of a bundle as an input named `bundle.zip!entry.xml`.
fn add_bundle(path: &Path, out: &mut Expanded) -> anyhow::Result<()> {
    let bundle = match Bundle::open(path) {
        Ok(b) => b,
        Err(e) => {
            out.problems
                .push((path.display().to_string(), format!("{e}")));
            return Ok(());
        }
    };
    let entries = bundle.junit_entries();
    if entries.is_empty() {
        out.problems.push((
            path.display().to_string(),
            "the bundle holds no JUnit file".into(),
        ));
    }
    for entry in entries {
        let bundle_path = path.to_path_buf();
        let name = format!("{}!{}", path.display(), entry);
        out.inputs.push(Input::custom(name, move || {
            open_entry(&bundle_path, &entry)
        }));
    }
    Ok(())
}

/// Reads one bundle entry, checked against its manifest's size and sha256 as it is read.
fn open_entry(bundle: &Path, entry: &str) -> io::Result<Box<dyn Read + Send>> {
    let mut b = Bundle::open(bundle).map_err(|e| io::Error::other(anyhow!("{e}")))?;
    let mut reader = b
        .open_entry(entry)
        .map_err(|e| io::Error::other(anyhow!("{e}")))?;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    Ok(Box::new(io::Cursor::new(bytes)))
}
