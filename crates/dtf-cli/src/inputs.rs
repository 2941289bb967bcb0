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
            let matches = in_run_order(matches);
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
                for j in in_run_order(found.junit) {
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

/// JUnit files in the order they ran, when each one's first `timestamp` attribute
/// says (a rerun file named `rerun-1.xml` sorts before `shard-1.xml` by name, and its
/// attempts must come after); otherwise the order given. Only the first 4 KiB of each
/// file are read; an unreadable file keeps its place for the merge to report.
fn in_run_order(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.len() < 2 {
        return paths;
    }
    let stamps: Option<Vec<String>> = paths.iter().map(|p| first_timestamp(p)).collect();
    let Some(stamps) = stamps else {
        return paths;
    };
    let mut keyed: Vec<(String, usize, PathBuf)> = stamps
        .into_iter()
        .zip(paths)
        .enumerate()
        .map(|(i, (t, p))| (t, i, p))
        .collect();
    // Stable on the original (name) order for equal times.
    keyed.sort();
    keyed.into_iter().map(|(_, _, p)| p).collect()
}

/// The first `timestamp="..."` in the file's first 4 KiB, to the second, if it looks
/// like an ISO 8601 date and time (so that the strings sort as times).
fn first_timestamp(path: &Path) -> Option<String> {
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .ok()?
        .take(4096)
        .read_to_end(&mut head)
        .ok()?;
    let text = String::from_utf8_lossy(&head);
    let at = text.find("timestamp=")? + "timestamp=".len();
    let rest = &text[at..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest[1..].split(quote).next()?;
    let b = value.as_bytes();
    let iso = b.len() >= 19
        && b[..19].is_ascii()
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':';
    // To the second: writers differ in fractions and zones, and equal seconds keep
    // the given order.
    iso.then(|| value[..19].replacen(' ', "T", 1))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn suite_file(dir: &Path, name: &str, stamp: Option<&str>) -> PathBuf {
        let attr = stamp.map_or(String::new(), |t| format!(" timestamp=\"{t}\""));
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!("<testsuites><testsuite name=\"s\"{attr}></testsuite></testsuites>"),
        )
        .unwrap();
        path
    }

    fn names(paths: &[PathBuf]) -> Vec<String> {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn files_merge_in_the_order_they_ran_when_every_one_says() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let rerun = suite_file(d, "rerun-1.xml", Some("2026-11-25T08:20:00"));
        let one = suite_file(d, "shard-1.xml", Some("2026-11-25T08:10:00.000000"));
        let two = suite_file(d, "shard-2.xml", Some("2026-11-25 08:10:00"));
        let ordered = in_run_order(vec![rerun.clone(), one.clone(), two.clone()]);
        // Equal times keep the given order.
        assert_eq!(
            names(&ordered),
            ["shard-1.xml", "shard-2.xml", "rerun-1.xml"]
        );

        // One file without a time: the given (name) order stands.
        let bare = suite_file(d, "shard-3.xml", None);
        let kept = in_run_order(vec![rerun.clone(), one.clone(), bare.clone()]);
        assert_eq!(names(&kept), ["rerun-1.xml", "shard-1.xml", "shard-3.xml"]);

        // Something that is not a date is not a time either, even one that starts like it.
        let near = suite_file(d, "near.xml", Some("2026-11-25T08:1xéé"));
        assert_eq!(first_timestamp(&near), None);
        let odd = suite_file(d, "odd.xml", Some("yesterday"));
        let kept = in_run_order(vec![rerun, odd]);
        assert_eq!(names(&kept), ["rerun-1.xml", "odd.xml"]);
    }

    #[test]
    fn a_folder_of_shards_and_a_rerun_makes_the_rerun_tests_flaky() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shards");
        let expanded = expand(&[root.display().to_string()]).unwrap();
        let run =
            dtf_core::merge::merge(&expanded.inputs, &dtf_core::merge::MergeOptions::default())
                .unwrap();
        assert!(run.totals().flaky > 0, "{:?}", run.totals());
    }
}
