//! Discovery over a downloaded-artifacts tree.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use dtf_artifacts::{Error, ManifestError, PackOptions, discover, pack};

fn rel(root: &Path, paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            p.strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect()
}

fn artifacts_tree(root: &Path) {
    let shard = root.join("src");
    write_tree(&shard, &[("junit.xml", JUNIT.as_bytes())]);
    fs::create_dir_all(root.join("shard-1")).unwrap();
    pack(
        &shard,
        &root.join("shard-1/bundle.zip"),
        &PackOptions::default(),
    )
    .unwrap();
    fs::remove_dir_all(&shard).unwrap();
    write_tree(
        root,
        &[
            ("results/TEST-a.xml", JUNIT.as_bytes()),
            ("results/pom.xml", b"<?xml version='1.0'?><project/>"),
            ("top.xml", b"<testsuite name='x'/>"),
            (".git/hooks/x.xml", b"<testsuite/>"),
            ("notes.txt", b"<testsuite/>"),
        ],
    );
    write_zip(&root.join("random.zip"), &[Entry::File("a.txt", b"a")]);
    fs::write(root.join("fake.zip"), "not a zip").unwrap();
    write_zip(
        &root.join("newer.zip"),
        &[Entry::File(
            "manifest.json",
            br#"{"schema": "dtf.manifest.v3"}"#,
        )],
    );
}

#[test]
fn finds_bundles_and_junit_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    artifacts_tree(root);
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("results"), root.join("linked")).unwrap();

    let found = discover(root, &[]).unwrap();
    assert_eq!(rel(root, &found.bundles), ["shard-1/bundle.zip"]);
    assert_eq!(rel(root, &found.junit), ["results/TEST-a.xml", "top.xml"]);
    assert_eq!(rel(root, &found.not_junit), ["results/pom.xml"]);
    let invalid: Vec<(String, bool)> = found
        .invalid_bundles
        .iter()
        .map(|(p, e)| {
            let newer = matches!(
                e,
                Error::Manifest {
                    source: ManifestError::Newer { .. },
                    ..
                }
            );
            (rel(root, std::slice::from_ref(p)).remove(0), newer)
        })
        .collect();
    assert_eq!(invalid, [("newer.zip".to_owned(), true)]);

    let names = dtf_artifacts::junit_entries(&found.bundles[0]).unwrap();
    assert_eq!(names, ["junit.xml"]);
}

#[test]
fn patterns_select_junit_candidates() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    artifacts_tree(root);
    let check = |patterns: &[&str], junit: &[&str], not_junit: &[&str]| {
        let found = discover(root, patterns).unwrap();
        assert_eq!(rel(root, &found.junit), junit, "{patterns:?}");
        assert_eq!(rel(root, &found.not_junit), not_junit, "{patterns:?}");
        assert_eq!(found.bundles.len(), 1, "bundles do not depend on patterns");
    };
    check(
        &["results/*.xml"],
        &["results/TEST-a.xml"],
        &["results/pom.xml"],
    );
    check(&["*.xml"], &["top.xml"], &[]);
    check(&["**/TEST-*.xml"], &["results/TEST-a.xml"], &[]);
    check(&["*.txt", "top.xml"], &["notes.txt", "top.xml"], &[]);
    check(&["nothing/**/*.xml"], &[], &[]);

    let err = discover(root, &["[oops"]).unwrap_err();
    assert!(
        err.to_string().starts_with("file pattern \"[oops\": "),
        "{err}"
    );
}
