//! Unpacking a downloaded artifact archive into a folder, safely.
//!
//! A provider's artifact zip is whatever an earlier build uploaded, so it is treated as
//! untrusted: names that leave the folder, links and encrypted entries are refused, and
//! the bytes actually decompressed are bounded. Files are written under a temporary name
//! and renamed when complete, so no half-written file sits under its final name.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::ProviderError;

/// Largest total of uncompressed bytes unpacked from one artifact.
pub(crate) const MAX_UNPACKED_BYTES: u64 = 8 << 30;

/// Unpacks the zip at `archive` into `dest`; returns the files written, relative to
/// `dest`. `name` is the artifact's name, for messages.
pub(crate) fn extract(
    archive: &Path,
    dest: &Path,
    name: &str,
    max_bytes: u64,
) -> Result<Vec<PathBuf>, ProviderError> {
    let refuse = |message: String| ProviderError::Archive {
        name: name.to_owned(),
        message,
    };
    let file = File::open(archive).map_err(ProviderError::io(archive))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| refuse(format!("not a readable zip: {e}")))?;
    fs::create_dir_all(dest).map_err(ProviderError::io(dest))?;
    let mut written = Vec::new();
    let mut total = 0u64;
    for index in 0..zip.len() {
        let mut entry = zip
            .by_index(index)
            .map_err(|e| refuse(format!("entry {index}: {e}")))?;
        let shown = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let Some(relative) = entry.enclosed_name() else {
            return Err(refuse(format!("entry {shown:?} leaves the folder")));
        };
        if entry.is_symlink() {
            return Err(refuse(format!("entry {shown:?} is a link")));
        }
        if entry.encrypted() {
            return Err(refuse(format!("entry {shown:?} is encrypted")));
        }
        let target = dest.join(&relative);
        if entry.is_dir() {
            fs::create_dir_all(&target).map_err(ProviderError::io(&target))?;
            continue;
        }
        let parent = target.parent().unwrap_or(dest).to_owned();
        fs::create_dir_all(&parent).map_err(ProviderError::io(&parent))?;
        let mut temp =
            tempfile::NamedTempFile::new_in(&parent).map_err(ProviderError::io(&parent))?;
        let left = max_bytes.saturating_sub(total);
        // One byte more than allowed tells a too-large entry from one that fits exactly.
        let copied = copy(&mut (&mut entry).take(left + 1), temp.as_file_mut())
            .map_err(|e| refuse(format!("entry {shown:?}: {e}")))?;
        if copied > left {
            return Err(refuse(format!(
                "unpacks to more than {max_bytes} bytes; refused"
            )));
        }
        total += copied;
        temp.persist(&target)
            .map_err(|e| ProviderError::io(&target)(e.error))?;
        written.push(relative);
    }
    Ok(written)
}

fn copy(from: &mut impl Read, to: &mut File) -> io::Result<u64> {
    let n = io::copy(from, to)?;
    to.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    fn zip_with(entries: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.zip");
        let mut w = zip::ZipWriter::new(File::create(&path).expect("create"));
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default())
                .expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish");
        (dir, path)
    }

    #[test]
    fn unpacks_nested_files() {
        let (dir, zip) = zip_with(&[("summary.json", b"{}"), ("shards/1.xml", b"<x/>")]);
        let out = dir.path().join("out");
        let files = extract(&zip, &out, "dtf-report", MAX_UNPACKED_BYTES).expect("unpacks");
        assert_eq!(files.len(), 2);
        assert_eq!(fs::read(out.join("shards/1.xml")).expect("read"), b"<x/>");
    }

    #[test]
    fn refuses_names_that_leave_and_too_many_bytes() {
        let (dir, zip) = zip_with(&[("../evil", b"x")]);
        let err =
            extract(&zip, &dir.path().join("o"), "n", MAX_UNPACKED_BYTES).expect_err("refused");
        assert!(err.to_string().contains("leaves the folder"), "{err}");

        let (dir, zip) = zip_with(&[("big", &[0u8; 100])]);
        let err = extract(&zip, &dir.path().join("o"), "n", 99).expect_err("refused");
        assert!(err.to_string().contains("more than 99 bytes"), "{err}");
        assert!(!dir.path().join("o/big").exists());
    }
}
