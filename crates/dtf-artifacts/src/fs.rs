//! File-system helpers shared by packing, unpacking and discovery: a directory walk that
//! never follows symbolic links, entry-name checks, and temporary files that only get
//! their final name once complete.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Refusal, Result, io_at};

/// A path a walk left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// Symbolic links are never followed, so nothing outside the directory gets packed.
    Symlink,
    /// A socket, FIFO or device.
    NotRegularFile,
    NonUtf8Name,
    /// A name that `unpack` would refuse on some platform.
    UnsafeName(Refusal),
    /// `manifest.json` at the top level, which the bundle's own manifest would replace.
    ReservedName,
    /// The bundle being written.
    OutputFile,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match &self.reason {
            SkipReason::Symlink => "symbolic link, not followed".to_owned(),
            SkipReason::NotRegularFile => "not a regular file".to_owned(),
            SkipReason::NonUtf8Name => "name is not valid UTF-8".to_owned(),
            SkipReason::UnsafeName(r) => format!("unsafe name: {r}"),
            SkipReason::ReservedName => "the bundle's own manifest.json takes this name".to_owned(),
            SkipReason::OutputFile => "the bundle being written".to_owned(),
        };
        write!(f, "skipped {}: {why}", self.path.display())
    }
}

/// A regular file found by [`walk`]: its `/`-separated path relative to the root, and
/// its path on disk.
pub(crate) struct Found {
    pub name: String,
    pub path: PathBuf,
}

/// All regular files under `root`, sorted by relative name. Directories named in
/// `prune` are not entered.
pub(crate) fn walk(root: &Path, prune: &[&str]) -> Result<(Vec<Found>, Vec<Skipped>)> {
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(io_at(&dir))? {
            let entry = entry.map_err(io_at(&dir))?;
            let path = entry.path();
            // DirEntry::file_type does not follow symbolic links.
            let file_type = entry.file_type().map_err(io_at(&path))?;
            let skip = |reason| Skipped {
                path: path.clone(),
                reason,
            };
            if file_type.is_symlink() {
                skipped.push(skip(SkipReason::Symlink));
                continue;
            }
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
                skipped.push(skip(SkipReason::NonUtf8Name));
                continue;
            };
            let name = format!("{prefix}{file_name}");
            if file_type.is_dir() {
                if !prune.contains(&file_name.as_str()) {
                    pending.push((path, format!("{name}/")));
                }
            } else if !file_type.is_file() {
                skipped.push(skip(SkipReason::NotRegularFile));
            } else {
                found.push(Found { name, path });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((found, skipped))
}

/// The components of an entry name if it is safe to create under any destination on any
/// platform: relative, `/`-separated, no `..`, `.`, empty or NUL components, no
/// backslashes and no drive prefix. A trailing `/` (a directory entry) is allowed.
pub(crate) fn safe_components(name: &str) -> Result<Vec<&str>, Refusal> {
    if name.starts_with('/') {
        return Err(Refusal::AbsolutePath);
    }
    if name.contains('\\') {
        return Err(Refusal::Backslash);
    }
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    let parts: Vec<&str> = trimmed.split('/').collect();
    if let Some(first) = parts.first() {
        let b = first.as_bytes();
        if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
            return Err(Refusal::DrivePrefix);
        }
    }
    if parts.contains(&"..") {
        return Err(Refusal::ParentDir);
    }
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || p.contains('\0'))
    {
        return Err(Refusal::BadName);
    }
    Ok(parts)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A file being written under a temporary name next to its destination. It is removed
/// when dropped unless [`TempPath::persist`] renamed it, so an error never leaves a
/// half-written file under the final name.
pub(crate) struct TempPath {
    path: Option<PathBuf>,
}

impl TempPath {
    /// Creates a new, empty file in `dir` (with the usual permissions for new files,
    /// which a `0600` temporary file would not have).
    pub fn create_in(dir: &Path) -> Result<(TempPath, File)> {
        let mut attempts = 0;
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".dtf-{}-{n}.partial", std::process::id()));
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => return Ok((TempPath { path: Some(path) }, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {
                    attempts += 1;
                }
                Err(e) => return Err(io_at(path)(e)),
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Gives the file its final name, replacing whatever had it. Close the file first:
    /// Windows cannot rename an open file.
    pub fn persist(mut self, to: &Path) -> Result<()> {
        if let Some(path) = self.path.take()
            && let Err(e) = fs::rename(&path, to)
        {
            let _ = fs::remove_file(&path);
            return Err(io_at(to)(e));
        }
        Ok(())
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = fs::remove_file(path);
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expected: Result<&[&str], Refusal>) {
        assert_eq!(
            safe_components(name).as_deref().map_err(Clone::clone),
            expected,
            "{name:?}"
        );
    }

    #[test]
    fn entry_names() {
        check("a.xml", Ok(&["a.xml"]));
        check("junit/a.xml", Ok(&["junit", "a.xml"]));
        check("dir/", Ok(&["dir"]));
        check("a..b/c..", Ok(&["a..b", "c.."]));
        check("2024-01-01T10:00:00.png", Ok(&["2024-01-01T10:00:00.png"]));
        check("../evil", Err(Refusal::ParentDir));
        check("a/../../b", Err(Refusal::ParentDir));
        check("a/..", Err(Refusal::ParentDir));
        check("/abs", Err(Refusal::AbsolutePath));
        check("//server/share", Err(Refusal::AbsolutePath));
        check("..\\evil", Err(Refusal::Backslash));
        check("a\\b", Err(Refusal::Backslash));
        check("C:/Windows/evil", Err(Refusal::DrivePrefix));
        check("c:evil", Err(Refusal::DrivePrefix));
        check("", Err(Refusal::BadName));
        check("/", Err(Refusal::AbsolutePath));
        check("a//b", Err(Refusal::BadName));
        check("./a", Err(Refusal::BadName));
        check("a\0b", Err(Refusal::BadName));
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
