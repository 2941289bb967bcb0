//! Builders for test trees and hand-made (often malicious) zips. Zips are written with the
//! `zip` crate, then patched byte-wise where a lying header is the point.
#![allow(clippy::unwrap_used, dead_code)]

use std::fs;
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

pub const JUNIT: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- generated -->\n<testsuites name=\"unit\">\n  <testsuite name=\"a\" tests=\"1\"><testcase name=\"t\"/></testsuite>\n</testsuites>\n";

pub fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (name, data) in files {
        let path = root.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, data).unwrap();
    }
}

pub fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One entry of a hand-made zip.
pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Dir(&'a str),
}

/// A v1 manifest listing `files` with their true sizes and hashes.
pub fn manifest_json(files: &[(&str, &[u8])]) -> Vec<u8> {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, data)| {
            serde_json::json!({
                "name": name,
                "kind": "other",
                "media_type": "application/octet-stream",
                "size": data.len(),
                "sha256": sha256(data),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schema": "dtf.manifest.v1",
        "created_by": "test",
        "build": null,
        "files": files,
    }))
    .unwrap()
}

pub fn write_zip(path: &Path, entries: &[Entry<'_>]) {
    let mut zip = ZipWriter::new(fs::File::create(path).unwrap());
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for entry in entries {
        match entry {
            Entry::File(name, data) => {
                zip.start_file(*name, options).unwrap();
                zip.write_all(data).unwrap();
            }
            Entry::Symlink(name, target) => zip.add_symlink(*name, *target, options).unwrap(),
            Entry::Dir(name) => zip.add_directory(*name, options).unwrap(),
        }
    }
    zip.finish().unwrap();
}

/// A zip of `files` plus a manifest that describes them truthfully.
pub fn write_bundle(path: &Path, files: &[(&str, &[u8])]) {
    let manifest = manifest_json(files);
    let mut entries: Vec<Entry<'_>> = files.iter().map(|(n, d)| Entry::File(n, d)).collect();
    entries.push(Entry::File("manifest.json", &manifest));
    write_zip(path, &entries);
}

fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

/// Rewrites the uncompressed size of entry `name` in both its local header and its
/// central directory record: a header that lies.
pub fn patch_uncompressed_size(path: &Path, name: &str, size: u32) {
    let mut bytes = fs::read(path).unwrap();
    let mut patched = 0;
    // (signature, offset of the size field, offset of name length, offset of the name)
    for (sig, size_at, len_at, name_at) in
        [(b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)]
    {
        let mut i = 0;
        while i + name_at <= bytes.len() {
            if &bytes[i..i + 4] == sig {
                let len = u16_at(&bytes, i + len_at);
                if bytes.get(i + name_at..i + name_at + len) == Some(name.as_bytes()) {
                    bytes[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
                    patched += 1;
                }
            }
            i += 1;
        }
    }
    assert_eq!(patched, 2, "patched headers of {name}");
    fs::write(path, bytes).unwrap();
}

/// Replaces every occurrence of `from` with `to` (same length) in the file.
pub fn patch_bytes(path: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut bytes = fs::read(path).unwrap();
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
        }
        i += 1;
    }
    fs::write(path, bytes).unwrap();
}

/// Every path under `dir`, relative and sorted, directories with a trailing `/`.
pub fn listing(dir: &Path) -> Vec<String> {
    fn go(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if entry.file_type().unwrap().is_dir() {
                out.push(format!("{rel}/"));
                go(base, &path, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        go(dir, dir, &mut out);
    }
    out.sort();
    out
}
