//! Packing, listing and verifying bundles, including tampered ones.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use common::*;
use dtf_artifacts::{
    ArtifactKind, Bundle, Error, PackOptions, Refusal, SkipReason, VerifyReport, list, pack, verify,
};
use dtf_core::metadata::{BuildMetadata, Provider, Shard};
use zip::write::SimpleFileOptions;
use zip::{ZipArchive, ZipWriter};

fn sample_tree(root: &Path) {
    write_tree(
        root,
        &[
            ("junit/TEST-a.xml", JUNIT.as_bytes()),
            ("junit/pom.xml", b"<project/>"),
            ("logs/run.log", b"line 1\nline 2\n"),
            ("shots/fail.png", b"\x89PNG fake"),
            ("report/index.html", b"<html></html>"),
            ("coverage/lcov.info", b"TN:\n"),
            ("nested.zip", b"PK fake"),
            ("empty.bin", b""),
        ],
    );
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn pack_records_every_file_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    sample_tree(&dir);
    let bundle = tmp.path().join("shard.zip");
    let build = BuildMetadata {
        provider: Provider::Gitlab,
        shard: Some(Shard { index: 2, total: 3 }),
        runner_name: Some("runner-7".into()),
        commit: Some("abc123".into()),
        ..BuildMetadata::default()
    };
    let packed = pack(
        &dir,
        &bundle,
        &PackOptions {
            build: Some(build.clone()),
        },
    )
    .unwrap();
    assert!(packed.skipped.is_empty(), "{:?}", packed.skipped);

    let m = &packed.manifest;
    assert_eq!(m.schema, "dtf.manifest.v1");
    assert!(m.created_by.starts_with("dtf "));
    assert_eq!(m.build.as_ref(), Some(&build));
    let summary: Vec<(&str, ArtifactKind, &str, u64)> = m
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.kind, f.media_type.as_str(), f.size))
        .collect();
    use ArtifactKind::*;
    assert_eq!(
        summary,
        vec![
            ("coverage/lcov.info", Coverage, "text/plain", 4),
            ("empty.bin", Other, "application/octet-stream", 0),
            (
                "junit/TEST-a.xml",
                Junit,
                "application/xml",
                JUNIT.len() as u64
            ),
            ("junit/pom.xml", Other, "application/xml", 10),
            ("logs/run.log", Log, "text/plain", 14),
            ("nested.zip", ArtifactKind::Bundle, "application/zip", 7),
            ("report/index.html", Report, "text/html", 13),
            ("shots/fail.png", Screenshot, "image/png", 9),
        ]
    );
    for f in &m.files {
        let data = fs::read(dir.join(&f.name)).unwrap();
        assert_eq!(f.sha256, sha256(&data), "{}", f.name);
        assert_eq!(f.producer.shard, Some(Shard { index: 2, total: 3 }));
        assert_eq!(f.producer.runner.as_deref(), Some("runner-7"));
        assert_eq!(
            f.producer.build, None,
            "the manifest carries the build once"
        );
    }

    // The stored manifest is what pack returned, and it is the last entry.
    assert_eq!(&list(&bundle).unwrap(), m);
    let archive = ZipArchive::new(fs::File::open(&bundle).unwrap()).unwrap();
    let last = archive.file_names().last().unwrap().unwrap();
    assert_eq!(last, "manifest.json");

    let report = verify(&bundle).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(
        report.ok,
        m.files.iter().map(|f| f.name.clone()).collect::<Vec<_>>()
    );
    // Nothing but the bundle next to it: the temporary file was renamed.
    let beside: Vec<String> = listing(tmp.path())
        .into_iter()
        .filter(|p| !p.starts_with("out/"))
        .collect();
    assert_eq!(beside, ["shard.zip"]);
}

#[test]
fn pack_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    sample_tree(&dir);
    let first = tmp.path().join("first.zip");
    let second = tmp.path().join("second.zip");
    pack(&dir, &first, &PackOptions::default()).unwrap();
    pack(&dir, &second, &PackOptions::default()).unwrap();
    assert_eq!(fs::read(&first).unwrap(), fs::read(&second).unwrap());
}

#[test]
fn pack_skips_its_own_output() {
    let tmp = tempfile::tempdir().unwrap();
    sample_tree(tmp.path());
    let out = tmp.path().join("bundle.zip");
    let first = pack(tmp.path(), &out, &PackOptions::default()).unwrap();
    assert!(first.skipped.is_empty());
    // The previous bundle is now in the folder; packing again must not include it.
    let again = pack(tmp.path(), &out, &PackOptions::default()).unwrap();
    assert_eq!(again.skipped.len(), 1);
    assert_eq!(again.skipped[0].reason, SkipReason::OutputFile);
    assert_eq!(again.manifest.files, first.manifest.files);
}

#[cfg(unix)]
#[test]
fn pack_skips_symlinks_and_reserved_names() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("secret.txt");
    fs::write(&outside, "secret").unwrap();
    let dir = tmp.path().join("dir");
    write_tree(
        &dir,
        &[
            ("keep.txt", b"keep"),
            ("manifest.json", b"{}"),
            ("sub/manifest.json", b"{}"),
            ("back\\slash.txt", b"x"),
        ],
    );
    std::os::unix::fs::symlink(&outside, dir.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), dir.join("linkdir")).unwrap();
    let packed = pack(&dir, &tmp.path().join("b.zip"), &PackOptions::default()).unwrap();
    let names: Vec<&str> = packed
        .manifest
        .files
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["keep.txt", "sub/manifest.json"]);
    let skipped: Vec<(String, SkipReason)> = packed
        .skipped
        .iter()
        .map(|s| {
            let name = s.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, s.reason.clone())
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            (
                "back\\slash.txt".into(),
                SkipReason::UnsafeName(Refusal::Backslash)
            ),
            ("link.txt".into(), SkipReason::Symlink),
            ("linkdir".into(), SkipReason::Symlink),
            ("manifest.json".into(), SkipReason::ReservedName),
        ]
    );
    assert!(
        packed.skipped[1]
            .to_string()
            .ends_with("link.txt: symbolic link, not followed")
    );
}

#[test]
fn pack_streams_a_large_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    fs::create_dir(&dir).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(dir.join("big.log"), &data).unwrap();
    let bundle = tmp.path().join("b.zip");
    let packed = pack(&dir, &bundle, &PackOptions::default()).unwrap();
    assert_eq!(packed.manifest.files[0].size, 3_000_000);
    assert_eq!(packed.manifest.files[0].sha256, sha256(&data));
    assert!(verify(&bundle).unwrap().is_ok());
}

#[test]
fn pack_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let err = pack(&missing, &tmp.path().join("b.zip"), &PackOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::Io { ref path, .. } if path == &missing),
        "{err}"
    );
    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    let err = pack(&file, &tmp.path().join("b.zip"), &PackOptions::default()).unwrap_err();
    assert!(err.to_string().ends_with("file: not a directory"), "{err}");
    assert_eq!(listing(tmp.path()), ["file"]);
}

/// Rewrites `bundle` keeping manifest.json: `change` gets new content, `remove` is
/// dropped and `add` is added.
fn tamper(bundle: &Path, change: &str, remove: &str, add: &str) {
    let original = fs::read(bundle).unwrap();
    let mut archive = ZipArchive::new(std::io::Cursor::new(original)).unwrap();
    let mut zip = ZipWriter::new(fs::File::create(bundle).unwrap());
    for i in 0..archive.len() {
        let entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        if name == change {
            drop(entry);
            zip.start_file(&name, SimpleFileOptions::default()).unwrap();
            zip.write_all(b"tampered").unwrap();
        } else if name != remove {
            zip.raw_copy_file(entry).unwrap();
        }
    }
    zip.start_file(add, SimpleFileOptions::default()).unwrap();
    zip.write_all(b"new").unwrap();
    zip.finish().unwrap();
}

#[test]
fn verify_reports_changed_missing_and_extra_precisely() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    sample_tree(&dir);
    let bundle = tmp.path().join("b.zip");
    pack(&dir, &bundle, &PackOptions::default()).unwrap();
    tamper(&bundle, "logs/run.log", "shots/fail.png", "added/extra.txt");
    let report = verify(&bundle).unwrap();
    assert_eq!(
        report,
        VerifyReport {
            ok: strings(&[
                "coverage/lcov.info",
                "empty.bin",
                "junit/TEST-a.xml",
                "junit/pom.xml",
                "nested.zip",
                "report/index.html",
            ]),
            changed: strings(&["logs/run.log"]),
            missing: strings(&["shots/fail.png"]),
            extra: strings(&["added/extra.txt"]),
        }
    );
    assert!(!report.is_ok());
}

#[test]
fn verify_flags_a_header_that_lies_about_size() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("b.zip");
    let data = vec![b'a'; 100_000];
    write_bundle(&bundle, &[("a.txt", &data), ("ok.txt", b"fine")]);
    patch_uncompressed_size(&bundle, "a.txt", 10);
    let report = verify(&bundle).unwrap();
    assert_eq!(report.changed, ["a.txt"]);
    assert_eq!(report.ok, ["ok.txt"]);
}

fn check_open_error(bundle: &Path, expected: &str) {
    let err = Bundle::open(bundle).unwrap_err();
    assert_eq!(err.to_string(), format!("{}{expected}", bundle.display()));
    assert_eq!(
        verify(bundle).unwrap_err().to_string(),
        err.to_string(),
        "verify fails the same way"
    );
}

#[test]
fn bundles_that_cannot_be_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |n: &str| tmp.path().join(n);

    write_zip(&path("plain.zip"), &[Entry::File("a.txt", b"a")]);
    check_open_error(
        &path("plain.zip"),
        ": no manifest.json inside, so this is not a dtf bundle",
    );

    let newer = br#"{"schema": "dtf.manifest.v2", "files": {"changed": "shape"}}"#;
    write_zip(&path("newer.zip"), &[Entry::File("manifest.json", newer)]);
    check_open_error(
        &path("newer.zip"),
        ": manifest.json: dtf.manifest.v2 is newer than this dtf understands (it reads dtf.manifest.v1); upgrade dtf",
    );

    let other = br#"{"schema": "something.else"}"#;
    write_zip(&path("other.zip"), &[Entry::File("manifest.json", other)]);
    check_open_error(
        &path("other.zip"),
        ": manifest.json: schema \"something.else\" is not dtf.manifest.v1",
    );

    write_zip(
        &path("broken.zip"),
        &[Entry::File(
            "manifest.json",
            b"{\n  \"schema\": \"dtf.manifest.v1\",\n}",
        )],
    );
    check_open_error(
        &path("broken.zip"),
        ": manifest.json: invalid at line 3, column 1: trailing comma",
    );

    fs::write(path("notzip.zip"), "hello").unwrap();
    let err = Bundle::open(&path("notzip.zip")).unwrap_err();
    assert!(matches!(err, Error::Zip { .. }), "{err}");

    write_zip(
        &path("linked.zip"),
        &[Entry::Symlink("manifest.json", "/etc/passwd")],
    );
    check_open_error(
        &path("linked.zip"),
        ": entry \"manifest.json\": a symbolic link entry, which dtf never follows or creates",
    );

    write_zip(
        &path("dup.zip"),
        &[
            Entry::File("manifest.json", &manifest_json(&[("a.txt", b"a")])),
            Entry::File("a.txt", b"a"),
            Entry::File("b.txt", b"b"),
        ],
    );
    patch_bytes(&path("dup.zip"), b"b.txt", b"a.txt");
    check_open_error(
        &path("dup.zip"),
        ": two or more zip entries have the same name",
    );
}

#[test]
fn open_entry_reads_checked_content() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    sample_tree(&dir);
    let bundle = tmp.path().join("b.zip");
    pack(&dir, &bundle, &PackOptions::default()).unwrap();
    assert_eq!(
        dtf_artifacts::junit_entries(&bundle).unwrap(),
        ["junit/TEST-a.xml"]
    );
    let mut opened = Bundle::open(&bundle).unwrap();
    let mut text = String::new();
    opened
        .open_entry("junit/TEST-a.xml")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, JUNIT);
    let err = opened.open_entry("nope.xml").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused {
                reason: Refusal::NotInManifest,
                ..
            }
        ),
        "{err}"
    );

    tamper(&bundle, "logs/run.log", "shots/fail.png", "x");
    let mut opened = Bundle::open(&bundle).unwrap();
    let mut sink = Vec::new();
    let err = opened
        .open_entry("logs/run.log")
        .unwrap()
        .read_to_end(&mut sink)
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("entry \"logs/run.log\": holds 8 bytes, manifest.json lists 14"),
        "{message}"
    );
    let err = opened.open_entry("shots/fail.png").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused {
                reason: Refusal::MissingFromZip,
                ..
            }
        ),
        "{err}"
    );
}
