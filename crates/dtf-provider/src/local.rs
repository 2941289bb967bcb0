//! The local provider: everything a CI provider would show, written as files in a folder.
//!
//! It serves `dtf demo`, tests, and any CI system without an adapter: the comment lands
//! in `comment.md` (one file per marker, replaced in place, as the sticky comment is on a
//! pull request), the summary in `summary.md`, the native results in `results.json`, and
//! the baseline comes from a folder or zip on disk. Every file is written atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use dtf_core::metadata::{BuildMetadata, Provider as ProviderName};

use crate::Provider;
use crate::context::{BuildContext, TokenAccess};
use crate::error::ProviderError;
use crate::outcome::{
    BaselineBuild, BaselineOutcome, CommentOutcome, MissingBaseline, PublishOutcome, SummaryOutcome,
};
use crate::results::{PublishedResults, RESULTS_SCHEMA};
use crate::unzip;

/// Files in a folder; see the module docs.
#[derive(Debug)]
pub struct LocalProvider {
    dir: PathBuf,
    baseline_source: Option<PathBuf>,
    context: BuildContext,
}

impl LocalProvider {
    /// Writes into `dir` (created on first write); `metadata` describes the build.
    pub fn new(dir: impl Into<PathBuf>, metadata: &BuildMetadata) -> LocalProvider {
        LocalProvider {
            dir: dir.into(),
            baseline_source: None,
            context: BuildContext {
                provider: ProviderName::Local,
                repository: metadata.repository.clone(),
                change_request: metadata.change_request,
                base_branch: metadata.base_branch.clone(),
                branch: metadata.branch.clone(),
                head_sha: metadata.commit.clone(),
                build_id: metadata.build_id.clone(),
                workflow_id: None,
                build_url: metadata.build_url.clone(),
                api_url: None,
                event: None,
                access: TokenAccess::Write,
                notices: Vec::new(),
            },
        }
    }

    /// Baselines come from `source`: a folder holding the artifact as a subfolder or
    /// `NAME.zip`, the artifact folder itself, or a zip.
    pub fn with_baseline_source(mut self, source: impl Into<PathBuf>) -> LocalProvider {
        self.baseline_source = Some(source.into());
        self
    }

    /// Adds a notice to the context (for example why the local provider was chosen).
    pub fn with_notice(mut self, notice: impl Into<String>) -> LocalProvider {
        self.context.notices.push(notice.into());
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds the comment with `marker`: `comment.md` for the default
    /// marker, `comment-KEY.md` for `<!-- dtf:report:KEY -->`, and a name derived from
    /// the marker's text otherwise.
    pub fn comment_path(&self, marker: &str) -> PathBuf {
        let inner = marker
            .trim()
            .trim_start_matches("<!--")
            .trim_end_matches("-->")
            .trim();
        let name = match inner.strip_prefix("dtf:report") {
            Some("") => "comment.md".to_owned(),
            Some(rest) if rest.starts_with(':') => format!("comment-{}.md", file_part(&rest[1..])),
            _ => format!("comment-{}.md", file_part(inner)),
        };
        self.dir.join(name)
    }

    fn write(&self, name: &Path, bytes: &[u8]) -> Result<(), ProviderError> {
        fs::create_dir_all(&self.dir).map_err(ProviderError::io(&self.dir))?;
        let mut temp =
            tempfile::NamedTempFile::new_in(&self.dir).map_err(ProviderError::io(&self.dir))?;
        temp.write_all(bytes)
            .and_then(|()| temp.flush())
            .map_err(ProviderError::io(name))?;
        temp.persist(name)
            .map_err(|e| ProviderError::io(name)(e.error))?;
        Ok(())
    }
}

/// ASCII letters, digits, `-`, `_` and `.`; everything else becomes `_`.
fn file_part(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('.').to_owned();
    if cleaned.is_empty() {
        "marker".to_owned()
    } else {
        cleaned
    }
}

/// Whether a line of `body` is the marker: how the sticky comment is recognised, here
/// and on every provider (a quoted reply starts its lines with `>`, so it never is).
pub(crate) fn has_marker_line(body: &str, marker: &str) -> bool {
    let marker = marker.trim();
    !marker.is_empty() && body.lines().any(|l| l.trim() == marker)
}

/// `body` with `marker` as its first line unless a line of it already is the marker.
pub(crate) fn with_marker(marker: &str, body: &str) -> String {
    if has_marker_line(body, marker) {
        body.to_owned()
    } else {
        format!("{}\n{body}", marker.trim())
    }
}

impl Provider for LocalProvider {
    fn context(&self) -> &BuildContext {
        &self.context
    }

    fn upsert_comment(&self, marker: &str, body: &str) -> Result<CommentOutcome, ProviderError> {
        let path = self.comment_path(marker);
        let existed = match fs::read_to_string(&path) {
            Ok(old) => has_marker_line(&old, marker),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            // Unreadable (not UTF-8, say): replaced like any other stale file.
            Err(_) => false,
        };
        self.write(&path, with_marker(marker, body).as_bytes())?;
        let id = path.display().to_string();
        Ok(if existed {
            CommentOutcome::Updated { id, url: None }
        } else {
            CommentOutcome::Created { id, url: None }
        })
    }

    fn fetch_baseline(
        &self,
        artifact_name: &str,
        dest: &Path,
    ) -> Result<BaselineOutcome, ProviderError> {
        let Some(source) = &self.baseline_source else {
            return Ok(BaselineOutcome::NotFound {
                reason: MissingBaseline::NoSource,
            });
        };
        let named_dir = source.join(artifact_name);
        let named_zip = source.join(format!("{artifact_name}.zip"));
        let from = if named_dir.is_dir() {
            copy_tree(&named_dir, dest)?;
            named_dir
        } else if named_zip.is_file() {
            unzip::extract(&named_zip, dest, artifact_name, unzip::MAX_UNPACKED_BYTES)?;
            named_zip
        } else if source.is_dir() {
            copy_tree(source, dest)?;
            source.clone()
        } else if source.is_file() {
            unzip::extract(source, dest, artifact_name, unzip::MAX_UNPACKED_BYTES)?;
            source.clone()
        } else {
            return Ok(BaselineOutcome::NotFound {
                reason: MissingBaseline::NotFound {
                    what: format!("{}", source.display()),
                },
            });
        };
        Ok(BaselineOutcome::Downloaded {
            path: dest.to_owned(),
            build: BaselineBuild {
                id: from.display().to_string(),
                url: None,
                branch: self.context.baseline_branch().map(str::to_owned),
                commit: None,
                artifact: artifact_name.to_owned(),
                artifact_id: None,
            },
        })
    }

    fn publish_results(&self, results: &PublishedResults) -> Result<PublishOutcome, ProviderError> {
        let path = self.dir.join("results.json");
        #[derive(serde::Serialize)]
        struct ResultsFile<'a> {
            schema: &'a str,
            results: &'a PublishedResults,
        }
        let doc = ResultsFile {
            schema: RESULTS_SCHEMA,
            results,
        };
        let mut text = serde_json::to_string_pretty(&doc).map_err(|e| ProviderError::Decode {
            what: "results.json".to_owned(),
            message: e.to_string(),
        })?;
        text.push('\n');
        self.write(&path, text.as_bytes())?;
        Ok(PublishOutcome::Published {
            id: path.display().to_string(),
            url: None,
            annotations: results.annotations.len(),
            requests: 0,
        })
    }

    fn write_summary(&self, markdown: &str) -> Result<SummaryOutcome, ProviderError> {
        let path = self.dir.join("summary.md");
        self.write(&path, markdown.as_bytes())?;
        Ok(SummaryOutcome::Written {
            path,
            bytes: markdown.len() as u64,
            cut_bytes: 0,
        })
    }
}

/// Copies the files under `from` into `to`; links and special files are left out, since
/// a baseline is plain result files.
fn copy_tree(from: &Path, to: &Path) -> Result<(), ProviderError> {
    fs::create_dir_all(to).map_err(ProviderError::io(to))?;
    let entries = fs::read_dir(from).map_err(ProviderError::io(from))?;
    for entry in entries {
        let entry = entry.map_err(ProviderError::io(from))?;
        let kind = entry.file_type().map_err(ProviderError::io(entry.path()))?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &target).map_err(ProviderError::io(&target))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_files_by_marker() {
        let p = LocalProvider::new("/o", &BuildMetadata::default());
        assert_eq!(
            p.comment_path("<!-- dtf:report -->"),
            Path::new("/o/comment.md")
        );
        assert_eq!(
            p.comment_path("<!-- dtf:report:linux/x86 -->"),
            Path::new("/o/comment-linux_x86.md")
        );
        assert_eq!(
            p.comment_path("<!-- other -->"),
            Path::new("/o/comment-other.md")
        );
    }

    #[test]
    fn the_comment_is_sticky_on_disk() {
        let dir = tempfile::tempdir().expect("temp");
        let p = LocalProvider::new(dir.path(), &BuildMetadata::default());
        let first = p
            .upsert_comment("<!-- dtf:report -->", "one")
            .expect("writes");
        assert!(matches!(first, CommentOutcome::Created { .. }), "{first:?}");
        let second = p
            .upsert_comment("<!-- dtf:report -->", "<!-- dtf:report -->\ntwo")
            .expect("writes");
        assert!(
            matches!(second, CommentOutcome::Updated { .. }),
            "{second:?}"
        );
        let text = fs::read_to_string(dir.path().join("comment.md")).expect("read");
        assert_eq!(text, "<!-- dtf:report -->\ntwo");
        // Another key keeps its own file.
        let other = p
            .upsert_comment("<!-- dtf:report:b -->", "x")
            .expect("writes");
        assert!(matches!(other, CommentOutcome::Created { .. }));
        assert!(dir.path().join("comment-b.md").is_file());
    }

    #[test]
    fn marker_lines() {
        assert!(has_marker_line("<!-- m -->\nbody", "<!-- m -->"));
        assert!(!has_marker_line("> <!-- m -->\nquoted", "<!-- m -->"));
        assert!(!has_marker_line("x", ""));
        assert_eq!(with_marker("<!-- m -->", "b"), "<!-- m -->\nb");
    }

    #[test]
    fn baselines_from_folders_and_missing_sources() {
        let dir = tempfile::tempdir().expect("temp");
        let src = dir.path().join("prev/dtf-report/sub");
        fs::create_dir_all(&src).expect("mkdir");
        fs::write(src.join("summary.json"), "{}").expect("write");
        let p = LocalProvider::new(dir.path().join("out"), &BuildMetadata::default())
            .with_baseline_source(dir.path().join("prev"));
        let dest = dir.path().join("base");
        let got = p.fetch_baseline("dtf-report", &dest).expect("copies");
        assert!(matches!(got, BaselineOutcome::Downloaded { .. }), "{got:?}");
        assert!(dest.join("sub/summary.json").is_file());

        let none = LocalProvider::new(dir.path(), &BuildMetadata::default());
        assert_eq!(
            none.fetch_baseline("x", &dest).expect("ok"),
            BaselineOutcome::NotFound {
                reason: MissingBaseline::NoSource
            }
        );
    }
}
