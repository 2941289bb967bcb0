//! Artifact records, bundles and discovery for dtf.
//!
//! Every shard of a dtf run ends by uploading its results through its CI provider's
//! artifact store, and a later job downloads them all to merge. Providers differ in how
//! they store, name and lay out artifacts, so dtf moves one self-describing unit through
//! all of them: a **bundle**, a zip holding the files and a `manifest.json`
//! (`dtf.manifest.v1`) that lists each file's kind, media type, size, SHA-256 and the
//! shard and build that made it. The merging job can then find its inputs by content
//! ([`discover()`]), prove nothing was lost or altered on the way ([`verify`]), read JUnit
//! files straight out of the zips ([`Bundle::open_entry`]) and extract safely
//! ([`unpack`]) even from bundles it has no reason to trust.
//!
//! - [`record`]: [`ArtifactRecord`], [`ArtifactKind`], [`Producer`] and [`classify`];
//! - [`manifest`]: the [`Manifest`] and its reader;
//! - [`bundle`]: [`pack`], [`verify`], [`list`], [`unpack`] and [`Bundle`];
//! - [`discover()`]: bundles and loose JUnit files under a folder.

pub mod bundle;
pub mod discover;
mod error;
mod fs;
pub mod manifest;
pub mod record;

pub use bundle::{
    Bundle, EntryReader, PackOptions, Packed, UnpackLimits, VerifyReport, junit_entries, list,
    pack, unpack, verify,
};
pub use discover::{DEFAULT_JUNIT_PATTERNS, Discovered, discover};
pub use error::{Error, Refusal, Result};
pub use fs::{SkipReason, Skipped};
pub use manifest::{MANIFEST_NAME, MANIFEST_SCHEMA, Manifest, ManifestError};
pub use record::{ArtifactKind, ArtifactRecord, Producer, classify, looks_like_junit};
