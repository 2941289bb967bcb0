//! Unpacking, honest and hostile bundles alike. A refused bundle must leave nothing under
//! its final name, and nothing at all outside the destination.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;

use common::*;
use dtf_artifacts::{Error, PackOptions, Refusal, UnpackLimits, pack, unpack, verify};

/// Unpacks `bundle` into `<tmp>/dest` and expects a refusal of `entry` for `reason`.
fn check_refused(tmp: &Path, bundle: &Path, limits: UnpackLimits, entry: &str, reason: Refusal) {
    let dest = tmp.join("dest");
    let err = unpack(bundle, &dest, &limits).unwrap_err();
    match &err {
        Error::Refused {
            bundle: b,
            entry: e,
            reason: r,
        } => {
            assert_eq!(
                (b.as_path(), e.as_str(), r),
                (bundle, entry, &reason),
                "{err}"
            );
        }
        other => panic!("expected a refusal of {entry:?} for {reason:?}, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{}: entry {entry:?}: ", bundle.display())),
        "{message}"
    );
    assert_no_partial_files(&dest);
}

fn assert_no_partial_files(dest: &Path) {
    let leftovers: Vec<String> = listing(dest)
        .into_iter()
        .filter(|p| p.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn unpacks_what_pack_packed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write_tree(
        &src,
        &[
            ("junit/a.xml", JUNIT.as_bytes()),
            ("logs/deep/er/run.log", b"log"),
            ("empty.txt", b""),
        ],
    );
    let bundle = tmp.path().join("b.zip");
    let packed = pack(&src, &bundle, &PackOptions::default()).unwrap();
    let dest = tmp.path().join("dest");
    // An existing file with the same name is replaced.
    write_tree(&dest, &[("junit/a.xml", b"old")]);
    let manifest = unpack(&bundle, &dest, &UnpackLimits::default()).unwrap();
    assert_eq!(manifest, packed.manifest);
    assert_eq!(
        listing(&dest),
        [
            "empty.txt",
            "junit/",
            "junit/a.xml",
            "logs/",
            "logs/deep/",
            "logs/deep/er/",
            "logs/deep/er/run.log"
        ]
    );
    for f in &manifest.files {
        assert_eq!(
            fs::read(dest.join(&f.name)).unwrap(),
            fs::read(src.join(&f.name)).unwrap()
        );
    }
}

#[test]
fn refuses_names_that_escape() {
    let cases = [
        ("../evil", Refusal::ParentDir),
        ("a/../../evil", Refusal::ParentDir),
        ("a/../evil", Refusal::ParentDir),
        ("/abs/evil", Refusal::AbsolutePath),
        ("..\\evil", Refusal::Backslash),
        ("C:/evil", Refusal::DrivePrefix),
        ("c:evil", Refusal::DrivePrefix),
        ("./evil", Refusal::BadName),
        ("a//evil", Refusal::BadName),
    ];
    for (name, reason) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let bundle = tmp.path().join("b.zip");
        write_bundle(&bundle, &[("fine.txt", b"ok"), (name, b"evil")]);
        check_refused(tmp.path(), &bundle, UnpackLimits::default(), name, reason);
        // Refused before anything is written: not even the harmless entry.
        assert_eq!(listing(tmp.path()), ["b.zip"], "{name}");
    }
}

#[test]
fn refuses_symlink_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("b.zip");
    let manifest = manifest_json(&[("link", b"/etc/passwd")]);
    write_zip(
        &bundle,
        &[
            Entry::Symlink("link", "/etc/passwd"),
            Entry::File("manifest.json", &manifest),
        ],
    );
    check_refused(
        tmp.path(),
        &bundle,
        UnpackLimits::default(),
        "link",
        Refusal::Symlink,
    );
    assert_eq!(listing(tmp.path()), ["b.zip"]);
}

#[cfg(unix)]
#[test]
fn refuses_to_write_through_a_symlink_in_the_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("b.zip");
    write_bundle(&bundle, &[("sub/x.txt", b"x")]);
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let dest = tmp.path().join("dest");
    fs::create_dir(&dest).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("sub")).unwrap();
    check_refused(
        tmp.path(),
        &bundle,
        UnpackLimits::default(),
        "sub/x.txt",
        Refusal::SymlinkInDestination,
    );
    assert!(listing(&outside).is_empty());
}

fn zeros_bundle(tmp: &Path) -> std::path::PathBuf {
    let bundle = tmp.join("bomb.zip");
    let zeros = vec![0u8; 50 << 20];
    write_bundle(&bundle, &[("small.txt", b"hi"), ("zeros.bin", &zeros)]);
    assert!(fs::metadata(&bundle).unwrap().len() < 1 << 20);
    bundle
}

#[test]
fn refuses_zip_bombs() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = zeros_bundle(tmp.path());
    let cases = [
        (
            UnpackLimits {
                max_entry_bytes: 10 << 20,
                ..UnpackLimits::default()
            },
            Refusal::EntryTooLarge {
                size: 50 << 20,
                limit: 10 << 20,
            },
        ),
        (
            UnpackLimits {
                max_total_bytes: 20 << 20,
                ..UnpackLimits::default()
            },
            Refusal::TotalTooLarge { limit: 20 << 20 },
        ),
        (
            UnpackLimits::default(),
            Refusal::RatioTooHigh { limit: 200 },
        ),
    ];
    for (limits, reason) in cases {
        check_refused(tmp.path(), &bundle, limits, "zeros.bin", reason);
        assert_eq!(listing(tmp.path()), ["bomb.zip"]);
    }
    // With a generous ratio it is an honest bundle after all.
    let generous = UnpackLimits {
        max_ratio: 10_000,
        ..UnpackLimits::default()
    };
    unpack(&bundle, &tmp.path().join("dest"), &generous).unwrap();
    assert_eq!(
        fs::metadata(tmp.path().join("dest/zeros.bin"))
            .unwrap()
            .len(),
        50 << 20
    );
}

#[test]
fn refuses_a_header_that_lies_about_size() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = zeros_bundle(tmp.path());
    // Claims 1000 bytes, under every limit and ratio; holds 50 MiB.
    patch_uncompressed_size(&bundle, "zeros.bin", 1000);
    let limits = UnpackLimits {
        max_entry_bytes: 1 << 20,
        ..UnpackLimits::default()
    };
    let dest = tmp.path().join("dest");
    let err = unpack(&bundle, &dest, &limits).unwrap_err();
    match &err {
        Error::Refused { entry, .. } | Error::Entry { entry, .. } => {
            assert_eq!(entry, "zeros.bin", "{err}");
        }
        other => panic!("unexpected error {other}"),
    }
    assert_no_partial_files(&dest);
    assert!(!dest.join("zeros.bin").exists());
    assert_eq!(verify(&bundle).unwrap().changed, ["zeros.bin"]);
}

#[test]
fn refuses_content_that_differs_from_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("b.zip");
    // The manifest describes "bbbb"; the zip holds "XXXX" with a valid CRC.
    let manifest = manifest_json(&[("a.txt", b"aaaa"), ("b.txt", b"bbbb")]);
    write_zip(
        &bundle,
        &[
            Entry::File("a.txt", b"aaaa"),
            Entry::File("b.txt", b"XXXX"),
            Entry::File("manifest.json", &manifest),
        ],
    );
    check_refused(
        tmp.path(),
        &bundle,
        UnpackLimits::default(),
        "b.txt",
        Refusal::ChecksumMismatch {
            expected: sha256(b"bbbb"),
            actual: sha256(b"XXXX"),
        },
    );
    // Entries before the bad one were complete and stay; the bad one never got its name.
    assert_eq!(listing(&tmp.path().join("dest")), ["a.txt"]);
}

#[test]
fn refuses_entries_the_manifest_does_not_account_for() {
    let tmp = tempfile::tempdir().unwrap();
    let unlisted = tmp.path().join("unlisted.zip");
    let manifest = manifest_json(&[("a.txt", b"a")]);
    write_zip(
        &unlisted,
        &[
            Entry::File("a.txt", b"a"),
            Entry::File("sneaky.sh", b"rm -rf"),
            Entry::File("manifest.json", &manifest),
        ],
    );
    check_refused(
        tmp.path(),
        &unlisted,
        UnpackLimits::default(),
        "sneaky.sh",
        Refusal::NotInManifest,
    );

    let absent = tmp.path().join("absent.zip");
    let manifest = manifest_json(&[("a.txt", b"a"), ("gone.txt", b"g")]);
    write_zip(
        &absent,
        &[
            Entry::File("a.txt", b"a"),
            Entry::File("manifest.json", &manifest),
        ],
    );
    check_refused(
        tmp.path(),
        &absent,
        UnpackLimits::default(),
        "gone.txt",
        Refusal::MissingFromZip,
    );
}

#[test]
fn directory_entries_are_created() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("b.zip");
    let manifest = manifest_json(&[("d/a.txt", b"a")]);
    write_zip(
        &bundle,
        &[
            Entry::Dir("empty/"),
            Entry::Dir("d/"),
            Entry::File("d/a.txt", b"a"),
            Entry::File("manifest.json", &manifest),
        ],
    );
    unpack(&bundle, &tmp.path().join("dest"), &UnpackLimits::default()).unwrap();
    assert_eq!(
        listing(&tmp.path().join("dest")),
        ["d/", "d/a.txt", "empty/"]
    );
    assert!(verify(&bundle).unwrap().is_ok());
}
