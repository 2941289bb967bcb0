//! `manifest.json`, the table of contents every dtf bundle carries: what each file is,
//! who made it, and the SHA-256 that lets `dtf artifacts verify` prove nothing changed
//! between the shard that packed it and the job that merges it.
//!
//! The reader checks the schema name before anything else, so a bundle from a newer dtf
//! fails with "newer than this dtf understands" rather than a confusing field error.

use std::collections::HashSet;

use dtf_core::metadata::BuildMetadata;
use serde::{Deserialize, Serialize};

use crate::record::ArtifactRecord;

/// The schema this crate writes and reads.
pub const MANIFEST_SCHEMA: &str = "dtf.manifest.v1";
/// The manifest's entry name inside a bundle.
pub const MANIFEST_NAME: &str = "manifest.json";

const SCHEMA_PREFIX: &str = "dtf.manifest.v";
const SCHEMA_VERSION: u32 = 1;

/// The contents of `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MANIFEST_SCHEMA`] once read or built by this crate.
    pub schema: String,
    /// `dtf <version>` of the program that packed the bundle.
    pub created_by: String,
    /// The build the files come from; `null` when packed outside CI knowledge.
    pub build: Option<BuildMetadata>,
    /// Every file in the bundle except `manifest.json`, sorted by name.
    pub files: Vec<ArtifactRecord>,
}

/// Why a `manifest.json` could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("invalid at line {line}, column {column}: {message}")]
    Invalid {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("no \"schema\" field, so this is not a dtf manifest")]
    MissingSchema,
    #[error("{found} is newer than this dtf understands (it reads {MANIFEST_SCHEMA}); upgrade dtf")]
    Newer { found: String },
    #[error("schema {found:?} is not {MANIFEST_SCHEMA}")]
    UnknownSchema { found: String },
    #[error("file {name:?} is listed more than once")]
    DuplicateFile { name: String },
}

impl ManifestError {
    fn from_json(e: &serde_json::Error) -> ManifestError {
        // serde_json's Display appends " at line L column C"; keep the message bare
        // since line and column get their own fields.
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
        ManifestError::Invalid {
            line: e.line(),
            column: e.column(),
            message,
        }
    }
}

#[derive(Deserialize)]
struct SchemaOnly {
    #[serde(default)]
    schema: Option<String>,
}

impl Manifest {
    /// A v1 manifest written by this version of dtf.
    pub fn new(build: Option<BuildMetadata>, files: Vec<ArtifactRecord>) -> Manifest {
        Manifest {
            schema: MANIFEST_SCHEMA.to_owned(),
            created_by: created_by(),
            build,
            files,
        }
    }

    /// Parses and checks a manifest: schema first, then the fields, then that no file
    /// is listed twice. Unknown fields are ignored so a later v1 can add some.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let probe: SchemaOnly =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::from_json(&e))?;
        check_schema(probe.schema)?;
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::from_json(&e))?;
        let mut seen = HashSet::new();
        for file in &manifest.files {
            if !seen.insert(file.name.as_str()) {
                return Err(ManifestError::DuplicateFile {
                    name: file.name.clone(),
                });
            }
        }
        Ok(manifest)
    }

    /// Pretty JSON with a trailing newline, as stored in a bundle.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = serde_json::to_vec_pretty(self)?;
        out.push(b'\n');
        Ok(out)
    }

    /// The record for `name`, if listed.
    pub fn file(&self, name: &str) -> Option<&ArtifactRecord> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// `dtf <version>`: this crate is versioned with the workspace, so its version is dtf's.
pub fn created_by() -> String {
    format!("dtf {}", env!("CARGO_PKG_VERSION"))
}

fn check_schema(schema: Option<String>) -> Result<(), ManifestError> {
    let found = schema.ok_or(ManifestError::MissingSchema)?;
    let version = found
        .strip_prefix(SCHEMA_PREFIX)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u32>().ok());
    match version {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(v) if v > SCHEMA_VERSION => Err(ManifestError::Newer { found }),
        _ => Err(ManifestError::UnknownSchema { found }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::record::{ArtifactKind, Producer};

    fn sample() -> Manifest {
        Manifest::new(
            None,
            vec![ArtifactRecord {
                name: "junit/a.xml".into(),
                kind: ArtifactKind::Junit,
                media_type: "application/xml".into(),
                size: 3,
                sha256: "ab".repeat(32),
                producer: Producer::default(),
            }],
        )
    }

    #[test]
    fn round_trips_and_keeps_build_null() {
        let m = sample();
        let json = m.to_json().unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["schema"], "dtf.manifest.v1");
        assert!(value["build"].is_null());
        assert_eq!(value["files"][0]["kind"], "junit");
        assert_eq!(Manifest::from_json(&json).unwrap(), m);
    }

    fn check_err(json: &str, expected: &str) {
        let err = Manifest::from_json(json.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), expected, "{json}");
    }

    #[test]
    fn explains_what_is_wrong() {
        check_err(
            r#"{"schema": "dtf.manifest.v2", "whatever": 1}"#,
            "dtf.manifest.v2 is newer than this dtf understands (it reads dtf.manifest.v1); upgrade dtf",
        );
        check_err(
            r#"{"schema": "dtf.manifest.v10", "files": "changed shape"}"#,
            "dtf.manifest.v10 is newer than this dtf understands (it reads dtf.manifest.v1); upgrade dtf",
        );
        check_err(
            r#"{"schema": "dtf.summary.v1"}"#,
            r#"schema "dtf.summary.v1" is not dtf.manifest.v1"#,
        );
        check_err(
            r#"{"schema": "dtf.manifest.v0"}"#,
            r#"schema "dtf.manifest.v0" is not dtf.manifest.v1"#,
        );
        check_err(
            r#"{"schema": "dtf.manifest.v+1"}"#,
            r#"schema "dtf.manifest.v+1" is not dtf.manifest.v1"#,
        );
        check_err(
            r#"{"files": []}"#,
            r#"no "schema" field, so this is not a dtf manifest"#,
        );
        check_err(
            "{\n  \"schema\": \"dtf.manifest.v1\",\n  oops\n}",
            "invalid at line 3, column 3: key must be a string",
        );
        check_err(
            r#"{"schema": "dtf.manifest.v1", "created_by": "dtf 0", "build": null}"#,
            "invalid at line 1, column 67: missing field `files`",
        );
    }

    #[test]
    fn refuses_a_file_listed_twice() {
        let mut m = sample();
        m.files.push(m.files[0].clone());
        let json = m.to_json().unwrap();
        check_err(
            std::str::from_utf8(&json).unwrap(),
            r#"file "junit/a.xml" is listed more than once"#,
        );
    }

    #[test]
    fn unknown_kinds_read_as_other() {
        let mut value: serde_json::Value =
            serde_json::from_slice(&sample().to_json().unwrap()).unwrap();
        value["files"][0]["kind"] = "trace".into();
        value["files"][0]["future_field"] = 1.into();
        let m = Manifest::from_json(value.to_string().as_bytes()).unwrap();
        assert_eq!(m.files[0].kind, ArtifactKind::Other);
    }
}
