//! One error type for the crate, so the CLI can print any failure with the bundle and
//! the entry it concerns, and tests can match on the precise reason.

use std::io;
use std::path::PathBuf;

use crate::manifest::ManifestError;

/// Everything that can go wrong reading, writing or discovering bundles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory on disk could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The zip layer failed: not a zip file, a damaged central directory, a write error.
    #[error("{}: zip archive: {source}", bundle.display())]
    Zip {
        bundle: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{}: no manifest.json inside, so this is not a dtf bundle", bundle.display())]
    NoManifest { bundle: PathBuf },
    #[error("{}: manifest.json: {source}", bundle.display())]
    Manifest {
        bundle: PathBuf,
        #[source]
        source: ManifestError,
    },
    /// Two central-directory entries share a name; which one a tool extracts differs,
    /// so such an archive could hide content from `verify`.
    #[error("{}: two or more zip entries have the same name", bundle.display())]
    DuplicateNames { bundle: PathBuf },
    /// An entry was refused; `reason` says why.
    #[error("{}: entry {entry:?}: {reason}", bundle.display())]
    Refused {
        bundle: PathBuf,
        entry: String,
        reason: Refusal,
    },
    /// Reading an entry's bytes failed (corrupt data, checksum error, I/O).
    #[error("{}: entry {entry:?}: {source}", bundle.display())]
    Entry {
        bundle: PathBuf,
        entry: String,
        #[source]
        source: io::Error,
    },
    #[error("file pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
}

/// Why an entry was refused by `unpack`, `open_entry` or while reading a manifest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("the name is empty or has an empty, `.` or NUL component")]
    BadName,
    #[error("absolute path")]
    AbsolutePath,
    #[error("a `..` component would escape the destination")]
    ParentDir,
    #[error("a backslash in the name (a Windows path separator)")]
    Backslash,
    #[error("a Windows drive prefix in the name")]
    DrivePrefix,
    #[error("a symbolic link entry, which dtf never follows or creates")]
    Symlink,
    #[error("the destination path goes through an existing symbolic link")]
    SymlinkInDestination,
    #[error("not a regular file or directory (unix mode {mode:o})")]
    SpecialFile { mode: u32 },
    #[error("encrypted entries are not supported")]
    Encrypted,
    #[error("{size} bytes uncompressed is over the limit of {limit} bytes per entry")]
    EntryTooLarge { size: u64, limit: u64 },
    #[error("the bundle uncompresses to more than the limit of {limit} bytes in total")]
    TotalTooLarge { limit: u64 },
    #[error("compression ratio over the limit of {limit}:1 (a zip bomb?)")]
    RatioTooHigh { limit: u64 },
    #[error("not listed in manifest.json")]
    NotInManifest,
    #[error("listed in manifest.json but missing from the zip")]
    MissingFromZip,
    #[error("holds more than the {expected} bytes manifest.json lists")]
    LongerThanManifest { expected: u64 },
    #[error("holds {actual} bytes, manifest.json lists {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
    #[error("sha256 is {actual}, manifest.json lists {expected}")]
    ChecksumMismatch { expected: String, actual: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_at(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

pub(crate) fn zip_at(bundle: impl Into<PathBuf>) -> impl FnOnce(zip::result::ZipError) -> Error {
    let bundle = bundle.into();
    move |source| Error::Zip { bundle, source }
}
