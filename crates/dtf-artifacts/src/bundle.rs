//! Bundles: a zip of a job's artifacts plus `manifest.json`, the unit shards hand to the
//! merge job through whatever artifact store the CI provider has.
//!
//! Bundles travel through third-party storage and may be opened by jobs with more
//! privileges than the ones that made them, so reading one trusts nothing in it: names
//! are checked before anything touches the disk, sizes and compression ratios are
//! bounded on the bytes actually decompressed (not on what the headers claim), and every
//! byte is checked against the manifest's SHA-256.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use dtf_core::metadata::BuildMetadata;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::error::{Error, Refusal, Result, io_at, zip_at};
use crate::fs::{SkipReason, Skipped, TempPath, hex, safe_components, walk};
use crate::manifest::{MANIFEST_NAME, Manifest};
use crate::record::{ArtifactKind, ArtifactRecord, Producer, SNIFF_BYTES, classify};

/// `manifest.json` is read into memory; anything larger than this is not one of ours.
const MAX_MANIFEST_BYTES: u64 = 64 << 20;
const COPY_BUFFER: usize = 64 << 10;

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// What [`pack`] records about the build.
#[derive(Clone, Debug, Default)]
pub struct PackOptions {
    /// Stored once in the manifest; its shard and runner are also put on every record.
    pub build: Option<BuildMetadata>,
}

/// The result of [`pack`]: the manifest written, and what the walk left out.
#[derive(Clone, Debug)]
pub struct Packed {
    pub manifest: Manifest,
    /// Symbolic links, special files and names that cannot be stored safely; each
    /// displays as a warning line.
    pub skipped: Vec<Skipped>,
}

/// Bounds for [`unpack`], checked against the bytes actually decompressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Largest uncompressed entry. Default 4 GiB.
    pub max_entry_bytes: u64,
    /// Largest uncompressed total. Default 16 GiB.
    pub max_total_bytes: u64,
    /// Largest uncompressed-to-compressed ratio. Default 200.
    pub max_ratio: u64,
    /// The ratio is only checked past this many uncompressed bytes, since small files
    /// of repetitive text compress far better than 200:1 harmlessly. Default 1 MiB.
    pub ratio_min_bytes: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_entry_bytes: 4 << 30,
            max_total_bytes: 16 << 30,
            max_ratio: 200,
            ratio_min_bytes: 1 << 20,
        }
    }
}

/// The outcome of [`verify`]; each list is sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries whose size and SHA-256 match the manifest.
    pub ok: Vec<String>,
    /// Entries whose content differs from the manifest, or cannot be read intact.
    pub changed: Vec<String>,
    /// Listed in the manifest, absent from the zip.
    pub missing: Vec<String>,
    /// In the zip, not listed in the manifest (`manifest.json` itself excepted).
    pub extra: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

/// Packs every regular file under `dir` into the bundle `out`, with `manifest.json` last.
///
/// Left out, and listed in [`Packed::skipped`]: symbolic links (never followed), special
/// files, names that are not UTF-8 or that [`unpack`] would refuse, a top-level
/// `manifest.json`, and `out` itself when it lies inside `dir`.
///
/// Files are stored in name order with fixed timestamps and permissions, so the same
/// input gives the same bytes. Each file is hashed while it streams into the zip, so
/// size does not matter. The bundle is written
/// under a temporary name in `out`'s folder and renamed when complete.
pub fn pack(dir: &Path, out: &Path, options: &PackOptions) -> Result<Packed> {
    let root = fs::canonicalize(dir).map_err(io_at(dir))?;
    if !root.is_dir() {
        return Err(io_at(dir)(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    let out_name = out.file_name().ok_or_else(|| {
        io_at(out)(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the output needs a file name",
        ))
    })?;
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let out_abs = fs::canonicalize(out_dir)
        .map_err(io_at(out_dir))?
        .join(out_name);

    let (found, mut skipped) = walk(&root, &[])?;
    let mut files = Vec::with_capacity(found.len());
    for f in found {
        let reason = if f.path == out_abs {
            Some(SkipReason::OutputFile)
        } else if f.name == MANIFEST_NAME {
            Some(SkipReason::ReservedName)
        } else {
            safe_components(&f.name).err().map(SkipReason::UnsafeName)
        };
        match reason {
            Some(reason) => skipped.push(Skipped {
                path: f.path,
                reason,
            }),
            None => files.push(f),
        }
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));

    let producer = Producer {
        shard: options.build.as_ref().and_then(|b| b.shard),
        runner: options.build.as_ref().and_then(|b| b.runner_name.clone()),
        build: None,
    };
    let (temp, file) = TempPath::create_in(out_abs.parent().unwrap_or(Path::new(".")))?;
    let mut zip = ZipWriter::new(BufWriter::new(&file));
    let mut records = Vec::with_capacity(files.len());
    for f in &files {
        records.push(add_file(&mut zip, &f.name, &f.path, &producer, out)?);
    }
    let manifest = Manifest::new(options.build.clone(), records);
    let json = manifest
        .to_json()
        .map_err(|e| io_at(out)(io::Error::new(io::ErrorKind::InvalidData, e.to_string())))?;
    zip.start_file(
        MANIFEST_NAME,
        entry_options(MANIFEST_NAME, json.len() as u64),
    )
    .map_err(zip_at(out))?;
    zip.write_all(&json).map_err(io_at(out))?;
    let buffered = zip.finish().map_err(zip_at(out))?;
    buffered
        .into_inner()
        .map_err(|e| io_at(out)(e.into_error()))?;
    file.sync_all().map_err(io_at(out))?;
    drop(file);
    temp.persist(out)?;
    Ok(Packed { manifest, skipped })
}

fn entry_options(name: &str, size: u64) -> SimpleFileOptions {
    let method = if crate::record::is_precompressed(name) {
        CompressionMethod::Stored
    } else {
        CompressionMethod::Deflated
    };
    SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644)
        .large_file(size >= zip::ZIP64_BYTES_THR)
}

fn add_file<W: Write + io::Seek>(
    zip: &mut ZipWriter<W>,
    name: &str,
    path: &Path,
    producer: &Producer,
    out: &Path,
) -> Result<ArtifactRecord> {
    let mut file = File::open(path).map_err(io_at(path))?;
    let len = file.metadata().map_err(io_at(path))?.len();
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_at(path))?;
    let (kind, media_type) = classify(name, &head);
    zip.start_file(name, entry_options(name, len))
        .map_err(zip_at(out))?;
    let mut hasher = Sha256::new();
    let mut size = head.len() as u64;
    hasher.update(&head);
    zip.write_all(&head).map_err(io_at(out))?;
    let mut buf = vec![0; COPY_BUFFER];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_at(path)(e)),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        zip.write_all(&buf[..n]).map_err(io_at(out))?;
    }
    Ok(ArtifactRecord {
        name: name.to_owned(),
        kind,
        media_type: media_type.to_owned(),
        size,
        sha256: hex(&hasher.finalize()),
        producer: producer.clone(),
    })
}

/// An opened bundle: the zip's central directory and its parsed manifest. Opening reads
/// nothing else, so it is cheap even for large bundles.
pub struct Bundle {
    path: PathBuf,
    archive: ZipArchive<BufReader<File>>,
    archive_len: u64,
    manifest: Manifest,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("path", &self.path)
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

impl Bundle {
    /// Opens `path` and reads its manifest. Fails if it is not a zip, has no
    /// `manifest.json`, the manifest is not `dtf.manifest.v1`, or two entries share a name.
    pub fn open(path: &Path) -> Result<Bundle> {
        let file = File::open(path).map_err(io_at(path))?;
        let archive_len = file.metadata().map_err(io_at(path))?.len();
        let mut archive = ZipArchive::new(BufReader::new(file)).map_err(zip_at(path))?;
        if archive.has_duplicate_names() {
            return Err(Error::DuplicateNames {
                bundle: path.to_path_buf(),
            });
        }
        let index = archive
            .index_for_name(MANIFEST_NAME)
            .ok_or_else(|| Error::NoManifest {
                bundle: path.to_path_buf(),
            })?;
        let refused = |reason| Error::Refused {
            bundle: path.to_path_buf(),
            entry: MANIFEST_NAME.to_owned(),
            reason,
        };
        if let Some(reason) = entry_type_refusal(
            archive
                .by_index_data(index)
                .map_err(zip_at(path))?
                .unix_mode(),
        ) {
            return Err(refused(reason));
        }
        let mut bytes = Vec::new();
        archive
            .by_index(index)
            .map_err(zip_at(path))?
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Entry {
                bundle: path.to_path_buf(),
                entry: MANIFEST_NAME.to_owned(),
                source,
            })?;
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(refused(Refusal::EntryTooLarge {
                size: bytes.len() as u64,
                limit: MAX_MANIFEST_BYTES,
            }));
        }
        let manifest = Manifest::from_json(&bytes).map_err(|source| Error::Manifest {
            bundle: path.to_path_buf(),
            source,
        })?;
        Ok(Bundle {
            path: path.to_path_buf(),
            archive,
            archive_len,
            manifest,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn into_manifest(self) -> Manifest {
        self.manifest
    }

    /// Names of the manifest's JUnit files, in manifest order.
    pub fn junit_entries(&self) -> Vec<String> {
        self.manifest
            .files
            .iter()
            .filter(|f| f.kind == ArtifactKind::Junit)
            .map(|f| f.name.clone())
            .collect()
    }

    /// A reader over one manifest-listed entry's content. It fails with
    /// [`io::ErrorKind::InvalidData`] (wrapping an [`Error::Refused`]) as soon as the
    /// content runs past the manifest's size, and at the end if size or SHA-256 differ, so
    /// a consumer that reads to the end has read exactly what was packed.
    pub fn open_entry(&mut self, name: &str) -> Result<EntryReader<'_>> {
        let refused = |reason| Error::Refused {
            bundle: self.path.clone(),
            entry: name.to_owned(),
            reason,
        };
        let record = self
            .manifest
            .file(name)
            .ok_or_else(|| refused(Refusal::NotInManifest))?;
        let index = self
            .archive
            .index_for_name(name)
            .ok_or_else(|| refused(Refusal::MissingFromZip))?;
        let expect = Expect::from_record(record);
        let entry = self.archive.by_index(index).map_err(zip_at(&self.path))?;
        Ok(EntryReader {
            meter: Meter::new(entry, expect, None),
            bundle: &self.path,
            name: name.to_owned(),
        })
    }

    /// Recomputes every entry's size and SHA-256 and compares them with the manifest.
    /// Reads at most the manifest's size (plus one byte) of each entry.
    pub fn verify(&mut self) -> Result<VerifyReport> {
        let Bundle {
            path,
            archive,
            manifest,
            ..
        } = self;
        let listed: HashMap<&str, &ArtifactRecord> = manifest
            .files
            .iter()
            .map(|f| (f.name.as_str(), f))
            .collect();
        let mut report = VerifyReport::default();
        let mut seen = HashSet::new();
        for index in 0..archive.len() {
            let (name, is_dir) = {
                let entry = archive.by_index_data(index).map_err(zip_at(&*path))?;
                let name = entry.name().map_err(zip_at(&*path))?.into_owned();
                (name, entry.is_dir())
            };
            if is_dir || name == MANIFEST_NAME {
                continue;
            }
            let Some(record) = listed.get(name.as_str()) else {
                report.extra.push(name);
                continue;
            };
            seen.insert(record.name.as_str());
            let intact = match archive.by_index(index) {
                Ok(entry) => {
                    let mut meter = Meter::new(entry, Expect::from_record(record), None);
                    match io::copy(&mut meter, &mut io::sink()) {
                        Ok(_) => true,
                        Err(e) if is_data_error(&e) => false,
                        Err(source) => {
                            return Err(Error::Entry {
                                bundle: path.clone(),
                                entry: name,
                                source,
                            });
                        }
                    }
                }
                Err(zip::result::ZipError::Io(source)) if !is_data_error(&source) => {
                    return Err(Error::Entry {
                        bundle: path.clone(),
                        entry: name,
                        source,
                    });
                }
                // Damaged headers, encryption, unknown compression: we never write these,
                // so the entry is not what was packed.
                Err(_) => false,
            };
            if intact {
                report.ok.push(name);
            } else {
                report.changed.push(name);
            }
        }
        report.missing = manifest
            .files
            .iter()
            .filter(|f| !seen.contains(f.name.as_str()))
            .map(|f| f.name.clone())
            .collect();
        for list in [
            &mut report.ok,
            &mut report.changed,
            &mut report.missing,
            &mut report.extra,
        ] {
            list.sort();
        }
        Ok(report)
    }

    /// Extracts every entry under `dest` (created if needed), except `manifest.json`.
    ///
    /// First checks the whole central directory (names, entry types, declared sizes and
    /// ratios, manifest coverage) and refuses the bundle before writing anything if any
    /// entry fails. Then extracts each file to a temporary name in its target folder,
    /// enforcing the limits on the bytes actually decompressed and checking size and
    /// SHA-256, and renames it only once it is complete and intact. On error, files
    /// already extracted stay; no file is ever left half-written under its final name.
    /// Existing files with the same names are replaced.
    pub fn unpack(&mut self, dest: &Path, limits: &UnpackLimits) -> Result<()> {
        let plan = self.plan_unpack(limits)?;
        fs::create_dir_all(dest).map_err(io_at(dest))?;
        let mut total = 0u64;
        for item in plan {
            let components: Vec<&str> = item.name.trim_end_matches('/').split('/').collect();
            let refused = |reason| Error::Refused {
                bundle: self.path.clone(),
                entry: item.name.clone(),
                reason,
            };
            let Some(expect) = item.expect else {
                make_dirs(dest, &components).map_err(|e| e.into_error(refused))?;
                continue;
            };
            let (last, parents) = match components.split_last() {
                Some(split) => split,
                None => return Err(refused(Refusal::BadName)),
            };
            let parent = make_dirs(dest, parents).map_err(|e| e.into_error(refused))?;
            let (temp, mut out) = TempPath::create_in(&parent)?;
            let entry = self
                .archive
                .by_index(item.index)
                .map_err(zip_at(&self.path))?;
            let bounds = Bounds {
                max_entry: limits.max_entry_bytes,
                total_left: limits.max_total_bytes.saturating_sub(total),
                total_limit: limits.max_total_bytes,
                max_ratio: limits.max_ratio,
                ratio_min: limits.ratio_min_bytes,
                compressed: item.compressed.min(self.archive_len).max(1),
            };
            let mut meter = Meter::new(entry, expect, Some(bounds));
            let mut buf = vec![0; COPY_BUFFER];
            loop {
                let n = match meter.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(entry_error(&self.path, &item.name, e));
                    }
                };
                out.write_all(&buf[..n]).map_err(io_at(temp.path()))?;
            }
            total += meter.count;
            drop(out);
            temp.persist(&parent.join(last))?;
        }
        Ok(())
    }

    fn plan_unpack(&self, limits: &UnpackLimits) -> Result<Vec<Planned>> {
        let path = &self.path;
        let listed: HashMap<&str, &ArtifactRecord> = self
            .manifest
            .files
            .iter()
            .map(|f| (f.name.as_str(), f))
            .collect();
        let mut plan = Vec::new();
        let mut seen = HashSet::new();
        let mut declared_total = 0u64;
        for index in 0..self.archive.len() {
            let entry = self.archive.by_index_data(index).map_err(zip_at(path))?;
            let name = entry.name().map_err(zip_at(path))?.into_owned();
            let refused = |reason| Error::Refused {
                bundle: path.clone(),
                entry: name.clone(),
                reason,
            };
            if name == MANIFEST_NAME {
                continue;
            }
            safe_components(&name).map_err(refused)?;
            if let Some(reason) = entry_type_refusal(entry.unix_mode()) {
                return Err(refused(reason));
            }
            if entry.encrypted() {
                return Err(refused(Refusal::Encrypted));
            }
            if entry.is_dir() {
                plan.push(Planned {
                    index,
                    name,
                    compressed: 0,
                    expect: None,
                });
                continue;
            }
            let record = *listed
                .get(name.as_str())
                .ok_or_else(|| refused(Refusal::NotInManifest))?;
            let size = entry.size();
            if size > limits.max_entry_bytes {
                return Err(refused(Refusal::EntryTooLarge {
                    size,
                    limit: limits.max_entry_bytes,
                }));
            }
            declared_total = declared_total.saturating_add(size);
            if declared_total > limits.max_total_bytes {
                return Err(refused(Refusal::TotalTooLarge {
                    limit: limits.max_total_bytes,
                }));
            }
            let compressed = entry.compressed_size().min(self.archive_len).max(1);
            if size > limits.ratio_min_bytes && size > compressed.saturating_mul(limits.max_ratio) {
                return Err(refused(Refusal::RatioTooHigh {
                    limit: limits.max_ratio,
                }));
            }
            seen.insert(record.name.as_str());
            plan.push(Planned {
                index,
                name,
                compressed,
                expect: Some(Expect::from_record(record)),
            });
        }
        if let Some(absent) = self
            .manifest
            .files
            .iter()
            .find(|f| !seen.contains(f.name.as_str()))
        {
            return Err(Error::Refused {
                bundle: path.clone(),
                entry: absent.name.clone(),
                reason: Refusal::MissingFromZip,
            });
        }
        Ok(plan)
    }
}

struct Planned {
    index: usize,
    name: String,
    compressed: u64,
    /// `None` for a directory entry.
    expect: Option<Expect>,
}

/// Opens the bundle and checks it against its manifest; see [`Bundle::verify`].
pub fn verify(bundle: &Path) -> Result<VerifyReport> {
    Bundle::open(bundle)?.verify()
}

/// The manifest of a bundle, for `dtf artifacts ls`.
pub fn list(bundle: &Path) -> Result<Manifest> {
    Ok(Bundle::open(bundle)?.into_manifest())
}

/// Extracts a bundle under `dest`; see [`Bundle::unpack`].
pub fn unpack(bundle: &Path, dest: &Path, limits: &UnpackLimits) -> Result<Manifest> {
    let mut opened = Bundle::open(bundle)?;
    opened.unpack(dest, limits)?;
    Ok(opened.into_manifest())
}

/// The names of a bundle's JUnit files; read each with [`Bundle::open_entry`].
pub fn junit_entries(bundle: &Path) -> Result<Vec<String>> {
    Ok(Bundle::open(bundle)?.junit_entries())
}

/// Refuses anything the unix mode marks as other than a regular file or directory.
fn entry_type_refusal(mode: Option<u32>) -> Option<Refusal> {
    let mode = mode?;
    match mode & S_IFMT {
        0 | S_IFREG | S_IFDIR => None,
        S_IFLNK => Some(Refusal::Symlink),
        _ => Some(Refusal::SpecialFile { mode }),
    }
}

/// Errors a damaged or tampered entry produces while being read, as opposed to the disk
/// failing underneath.
fn is_data_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof
    )
}

fn entry_error(bundle: &Path, name: &str, e: io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Refusal>())
    {
        Some(reason) => Error::Refused {
            bundle: bundle.to_path_buf(),
            entry: name.to_owned(),
            reason: reason.clone(),
        },
        None => Error::Entry {
            bundle: bundle.to_path_buf(),
            entry: name.to_owned(),
            source: e,
        },
    }
}

enum DirError {
    Refused(Refusal),
    Io(Error),
}

impl DirError {
    fn into_error(self, refused: impl FnOnce(Refusal) -> Error) -> Error {
        match self {
            DirError::Refused(r) => refused(r),
            DirError::Io(e) => e,
        }
    }
}

/// Creates `dest/components...` one level at a time, refusing to pass through a symbolic
/// link that already exists in the destination, which could point anywhere.
fn make_dirs(dest: &Path, components: &[&str]) -> Result<PathBuf, DirError> {
    let mut path = dest.to_path_buf();
    for c in components {
        path.push(c);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(DirError::Refused(Refusal::SymlinkInDestination));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(DirError::Io(io_at(&path)(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not a directory",
                ))));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {}
                Err(e) => return Err(DirError::Io(io_at(&path)(e))),
            },
            Err(e) => return Err(DirError::Io(io_at(&path)(e))),
        }
    }
    Ok(path)
}

/// What an entry must hash to.
#[derive(Clone, Debug)]
struct Expect {
    size: u64,
    sha256: String,
}

impl Expect {
    fn from_record(record: &ArtifactRecord) -> Expect {
        Expect {
            size: record.size,
            sha256: record.sha256.to_ascii_lowercase(),
        }
    }
}

/// Extraction limits for one entry.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    max_entry: u64,
    total_left: u64,
    total_limit: u64,
    max_ratio: u64,
    ratio_min: u64,
    /// Compressed size, clamped to the archive's length so a header claiming a huge
    /// compressed size cannot buy a higher allowance.
    compressed: u64,
}

/// Counts and hashes the bytes read through it, fails as soon as a limit is passed, and
/// at the end checks size and SHA-256. Failures are `InvalidData` errors carrying a
/// [`Refusal`].
struct Meter<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    expect: Expect,
    bounds: Option<Bounds>,
    done: bool,
}

impl<R: Read> Meter<R> {
    fn new(inner: R, expect: Expect, bounds: Option<Bounds>) -> Meter<R> {
        Meter {
            inner,
            hasher: Sha256::new(),
            count: 0,
            expect,
            bounds,
            done: false,
        }
    }

    fn over_limit(&self) -> Option<Refusal> {
        let n = self.count;
        if let Some(b) = self.bounds {
            if n > b.max_entry {
                return Some(Refusal::EntryTooLarge {
                    size: n,
                    limit: b.max_entry,
                });
            }
            if n > b.total_left {
                return Some(Refusal::TotalTooLarge {
                    limit: b.total_limit,
                });
            }
            if n > b.ratio_min && n > b.compressed.saturating_mul(b.max_ratio) {
                return Some(Refusal::RatioTooHigh { limit: b.max_ratio });
            }
        }
        if n > self.expect.size {
            return Some(Refusal::LongerThanManifest {
                expected: self.expect.size,
            });
        }
        None
    }

    fn at_end(&self) -> Option<Refusal> {
        if self.count != self.expect.size {
            return Some(Refusal::SizeMismatch {
                expected: self.expect.size,
                actual: self.count,
            });
        }
        let actual = hex(&self.hasher.clone().finalize());
        (actual != self.expect.sha256).then(|| Refusal::ChecksumMismatch {
            expected: self.expect.sha256.clone(),
            actual,
        })
    }
}

impl<R: Read> Read for Meter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.done = true;
            return match self.at_end() {
                Some(r) => Err(io::Error::new(io::ErrorKind::InvalidData, r)),
                None => Ok(0),
            };
        }
        self.count += n as u64;
        if let Some(r) = self.over_limit() {
            self.done = true;
            return Err(io::Error::new(io::ErrorKind::InvalidData, r));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// One bundle entry's content, checked against the manifest as it is read; see
/// [`Bundle::open_entry`]. Errors carry the bundle and entry names.
pub struct EntryReader<'a> {
    meter: Meter<zip::read::ZipFile<'a, BufReader<File>>>,
    bundle: &'a Path,
    name: String,
}

impl std::fmt::Debug for EntryReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryReader")
            .field("bundle", &self.bundle)
            .field("name", &self.name)
            .field("read", &self.meter.count)
            .finish_non_exhaustive()
    }
}

impl Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.meter.read(buf).map_err(|e| {
            let kind = e.kind();
            io::Error::new(kind, entry_error(self.bundle, &self.name, e))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn expect_for(data: &[u8]) -> Expect {
        Expect {
            size: data.len() as u64,
            sha256: hex(&Sha256::digest(data)),
        }
    }

    fn bounds(max_entry: u64, total_left: u64, compressed: u64) -> Bounds {
        Bounds {
            max_entry,
            total_left,
            total_limit: 99,
            max_ratio: 10,
            ratio_min: 100,
            compressed,
        }
    }

    /// Reads `data` through a meter expecting `claimed` and returns the refusal, if any.
    fn run(data: &[u8], claimed: &[u8], b: Option<Bounds>) -> Option<Refusal> {
        let mut meter = Meter::new(data, expect_for(claimed), b);
        let err = io::copy(&mut meter, &mut io::sink()).err()?;
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        err.into_inner()?.downcast::<Refusal>().ok().map(|r| *r)
    }

    #[test]
    fn meter_enforces_limits_on_actual_bytes() {
        let data = vec![0u8; 1000];
        let roomy = bounds(10_000, 10_000, 1000);
        assert_eq!(run(&data, &data, Some(roomy)), None);
        assert_eq!(run(&data, &data, None), None);
        assert_eq!(
            run(&data, &data, Some(bounds(999, 10_000, 1000))),
            Some(Refusal::EntryTooLarge {
                size: 1000,
                limit: 999
            })
        );
        assert_eq!(
            run(&data, &data, Some(bounds(10_000, 500, 1000))),
            Some(Refusal::TotalTooLarge { limit: 99 })
        );
        assert_eq!(
            run(&data, &data, Some(bounds(10_000, 10_000, 10))),
            Some(Refusal::RatioTooHigh { limit: 10 })
        );
        assert_eq!(
            run(&data, &data[..10], Some(roomy)),
            Some(Refusal::LongerThanManifest { expected: 10 })
        );
        assert_eq!(
            run(&data[..10], &data, Some(roomy)),
            Some(Refusal::SizeMismatch {
                expected: 1000,
                actual: 10
            })
        );
        let other = vec![1u8; 1000];
        assert!(matches!(
            run(&data, &other, Some(roomy)),
            Some(Refusal::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn entry_types() {
        assert_eq!(entry_type_refusal(None), None);
        assert_eq!(entry_type_refusal(Some(0o100_644)), None);
        assert_eq!(entry_type_refusal(Some(0o040_755)), None);
        assert_eq!(entry_type_refusal(Some(0o644)), None);
        assert_eq!(entry_type_refusal(Some(0o120_777)), Some(Refusal::Symlink));
        assert_eq!(
            entry_type_refusal(Some(0o140_644)),
            Some(Refusal::SpecialFile { mode: 0o140_644 })
        );
    }
}
