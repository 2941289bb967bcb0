//! The check run: the results where GitHub shows them natively, with annotations at the
//! failing tests' lines in the pull request's "Files changed" tab.

use std::path::Path;

use http::Method;
use serde_json::{Value, json};

use crate::error::ProviderError;
use crate::outcome::{PublishOutcome, SkipReason};
use crate::results::{Annotation, PublishedResults};
use crate::summary_file::{Measure, fit};

use super::transport::Retry;
use super::{GitHubProvider, Id};

/// The Checks API takes at most 50 annotations per request; more go in updates.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// Longest `output.summary` and `output.text`, in characters.
const OUTPUT_TEXT_LIMIT: usize = 65_535;
/// Longest annotation title, in characters.
const ANNOTATION_TITLE_LIMIT: usize = 255;
/// Longest annotation message and raw details: GitHub allows 64 KB; characters may take
/// four bytes each.
const ANNOTATION_TEXT_LIMIT: usize = 16_000;
/// Longest check name and output title, in characters.
const NAME_LIMIT: usize = 255;

impl GitHubProvider {
    pub(super) fn publish_results_impl(
        &self,
        results: &PublishedResults,
    ) -> Result<PublishOutcome, ProviderError> {
        if !self.api.has_token() {
            return Ok(PublishOutcome::Skipped {
                reason: self.no_token(),
            });
        }
        let Some(head_sha) = &self.context.head_sha else {
            return Ok(PublishOutcome::Skipped {
                reason: SkipReason::NoCommit,
            });
        };
        let annotations: Vec<Value> = results
            .annotations
            .iter()
            .filter_map(|a| self.annotation(a))
            .collect();
        let title = clip(&results.title, NAME_LIMIT);
        let mut summary = results.summary.clone();
        let unplaced =
            results.annotations_omitted + (results.annotations.len() - annotations.len()) as u64;
        if unplaced > 0 {
            summary.push_str(&format!(
                "\n{unplaced} failing test(s) not annotated: no file in the repository, or beyond the limit.\n"
            ));
        }
        let (summary, _) = fit(&summary, OUTPUT_TEXT_LIMIT, Measure::Chars);
        let text = results
            .text
            .as_deref()
            .map(|t| fit(t, OUTPUT_TEXT_LIMIT, Measure::Chars).0);
        let output = |batch: &[Value]| {
            let mut o = json!({ "title": title, "summary": summary });
            if let Some(text) = &text {
                o["text"] = json!(text);
            }
            if !batch.is_empty() {
                o["annotations"] = json!(batch);
            }
            o
        };
        let mut batches = annotations.chunks(ANNOTATIONS_PER_REQUEST);
        let first = batches.next().unwrap_or_default();
        let mut body = json!({
            "name": clip(&results.name, NAME_LIMIT),
            "head_sha": head_sha,
            "status": "completed",
            "conclusion": results.conclusion.as_str(),
            "output": output(first),
        });
        if let Some(url) = results
            .details_url
            .as_ref()
            .or(self.context.build_url.as_ref())
        {
            body["details_url"] = json!(url);
        }
        if let Some(run) = &self.context.build_id {
            body["external_id"] = json!(run);
        }
        let path = format!("{}/check-runs", self.repo_path);
        let a = self
            .api
            .send(Method::POST, &path, Some(&body), Retry::Always)?;
        if a.status == 403 || a.status == 404 {
            return Ok(PublishOutcome::Skipped {
                reason: SkipReason::Denied {
                    status: a.status,
                    message: self.api.message(&a),
                },
            });
        }
        if !a.is_success() {
            return Err(self.api.error(&Method::POST, &path, &a));
        }
        let created: Id = self.api.json(&Method::POST, &path, &a)?;
        let mut requests = 1;
        let update = format!("{}/check-runs/{}", self.repo_path, created.id);
        for batch in batches {
            let a = self.api.send(
                Method::PATCH,
                &update,
                Some(&json!({ "output": output(batch) })),
                Retry::Always,
            )?;
            if !a.is_success() {
                return Err(self.api.error(&Method::PATCH, &update, &a));
            }
            requests += 1;
        }
        Ok(PublishOutcome::Published {
            id: created.id.to_string(),
            url: created.html_url,
            annotations: annotations.len(),
            requests,
        })
    }

    /// The annotation as the Checks API takes it, or `None` when its file is outside the
    /// repository (an absolute path not under `GITHUB_WORKSPACE`).
    fn annotation(&self, a: &Annotation) -> Option<Value> {
        let path = repository_path(&a.path, self.config.workspace.as_deref())?;
        let start = a.start_line.max(1);
        let mut v = json!({
            "path": path,
            "start_line": start,
            "end_line": a.end_line.max(start),
            "annotation_level": a.level.as_str(),
            "message": clip(&a.message, ANNOTATION_TEXT_LIMIT),
        });
        if let Some(title) = &a.title {
            v["title"] = json!(clip(title, ANNOTATION_TITLE_LIMIT));
        }
        if let Some(raw) = &a.raw_details {
            v["raw_details"] = json!(clip(raw, ANNOTATION_TEXT_LIMIT));
        }
        Some(v)
    }
}

/// `path` relative to the repository: `/` separators, without `./` or the workspace
/// prefix; `None` when it stays absolute.
pub(crate) fn repository_path(path: &str, workspace: Option<&Path>) -> Option<String> {
    let mut p = path.trim().replace('\\', "/");
    if let Some(ws) = workspace {
        let ws = ws.to_string_lossy().replace('\\', "/");
        let ws = ws.trim_end_matches('/');
        if !ws.is_empty()
            && let Some(rest) = p.strip_prefix(ws)
            && rest.starts_with('/')
        {
            p = rest.trim_start_matches('/').to_owned();
        }
    }
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_owned();
    }
    let drive = p.len() > 2 && p.as_bytes()[1] == b':' && p.as_bytes()[2] == b'/';
    if p.is_empty() || p.starts_with('/') || drive || p.split('/').any(|c| c == "..") {
        return None;
    }
    Some(p)
}

/// At most `max` characters, with `…` when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_repository_paths() {
        let ws = Some(Path::new("/home/runner/work/r/r"));
        assert_eq!(
            repository_path("/home/runner/work/r/r/tests/a.py", ws).as_deref(),
            Some("tests/a.py")
        );
        assert_eq!(
            repository_path("./src\\b.rs", None).as_deref(),
            Some("src/b.rs")
        );
        assert_eq!(repository_path("/usr/lib/x.py", ws), None);
        assert_eq!(repository_path("C:/x/y.cs", None), None);
        assert_eq!(repository_path("../up.py", None), None);
        assert_eq!(repository_path("", None), None);
    }

    #[test]
    fn clipping_counts_characters() {
        assert_eq!(clip("ééé", 3), "ééé");
        assert_eq!(clip("éééé", 3), "éé…");
    }
}
