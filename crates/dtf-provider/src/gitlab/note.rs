//! The sticky merge request note: found by its marker on any page, replaced in place,
//! never duplicated.
//!
//! The list is read page by page through [`Api::send`] because the next page is in a
//! header (`X-Next-Page`, or `Link` with `rel="next"`), which the `gitlab` crate's query
//! helpers do not hand back; the writes go through `gitlab::api::raw` on dtf's client.

use gitlab::api::Query;
use gitlab::api::projects::merge_requests::notes::{
    CreateMergeRequestNote, EditMergeRequestNote, MergeRequestNotes,
};
use serde::Deserialize;

use crate::error::ProviderError;
use crate::github::comment::next_page;
use crate::http::Retry;
use crate::local::{has_marker_line, with_marker};
use crate::outcome::{CommentOutcome, SkipReason};
use crate::summary_file::{Measure, fit};

use super::GitLabProvider;
use super::transport::{Auth, Failed};

/// GitLab's limit on a note body, in characters (`Note::MAX_NOTE_LENGTH`, 1,000,000).
pub const NOTE_LIMIT: usize = 1_000_000;
/// Notes per page: GitLab's largest.
const PER_PAGE: u32 = 100;
/// Pages searched at most (10,000 notes); a bound against a next page that never ends.
const MAX_PAGES: u32 = 100;

#[derive(Debug, Deserialize)]
struct Note {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    /// System notes ("added 1 commit") are GitLab's own and never dtf's.
    #[serde(default)]
    system: bool,
}

enum Found {
    Note { id: u64 },
    Nothing,
    Skip(SkipReason),
}

impl GitLabProvider {
    pub(super) fn upsert_note(
        &self,
        marker: &str,
        body: &str,
    ) -> Result<CommentOutcome, ProviderError> {
        let Some(iid) = self.context.change_request else {
            return Ok(CommentOutcome::Skipped {
                reason: SkipReason::NoChangeRequest,
            });
        };
        if !self.api.has(Auth::Private) {
            return Ok(CommentOutcome::Skipped {
                reason: self.no_token(),
            });
        }
        let (body, _) = fit(&with_marker(marker, body), NOTE_LIMIT, Measure::Chars);
        let max = self.api.policy().max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.find_note(iid, marker)? {
                Found::Skip(reason) => return Ok(CommentOutcome::Skipped { reason }),
                Found::Note { id } => {
                    let endpoint = EditMergeRequestNote::builder()
                        .project(self.project())
                        .merge_request(iid)
                        .note(id)
                        .body(body.as_str())
                        .build()
                        .map_err(|e| describe_error("the note update", &e))?;
                    let what = format!("merge request !{iid} note {id}");
                    let sent = gitlab::api::raw(endpoint)
                        .query(&self.api.rest(Auth::Private, Retry::Always));
                    match sent.map_err(|e| Failed::from(&self.api, &what, e)) {
                        Ok(_) => {
                            return Ok(CommentOutcome::Updated {
                                id: id.to_string(),
                                url: self.note_url(iid, id),
                            });
                        }
                        Err(Failed::Status { status, message }) => match status {
                            401 | 403 => return Ok(denied(status, message)),
                            // Deleted since it was found: search again, then create.
                            404 if attempt < max => continue,
                            _ => return Err(api_error("PUT", &what, status, message)),
                        },
                        Err(Failed::Provider(e)) => return Err(e),
                    }
                }
                Found::Nothing => {
                    let endpoint = CreateMergeRequestNote::builder()
                        .project(self.project())
                        .merge_request(iid)
                        .body(body.as_str())
                        .build()
                        .map_err(|e| describe_error("the new note", &e))?;
                    let what = format!("merge request !{iid} notes");
                    // Not repeated blindly: a create that timed out or met a 5xx may
                    // have gone through, so the next attempt searches first.
                    let sent = gitlab::api::raw(endpoint)
                        .query(&self.api.rest(Auth::Private, Retry::RefusedOnly));
                    match sent.map_err(|e| Failed::from(&self.api, &what, e)) {
                        Ok(bytes) => {
                            let created: Note = self.api.json(&what, &bytes)?;
                            return Ok(CommentOutcome::Created {
                                id: created.id.to_string(),
                                url: self.note_url(iid, created.id),
                            });
                        }
                        Err(Failed::Status { status, message }) => {
                            return match status {
                                401 | 403 | 404 => Ok(denied(status, message)),
                                _ => Err(api_error("POST", &what, status, message)),
                            };
                        }
                        Err(Failed::Provider(e)) if e.is_transient() && attempt < max => {
                            self.api.pause(attempt)
                        }
                        Err(Failed::Provider(e)) => return Err(e),
                    }
                }
            }
        }
    }

    /// The first note, in the order GitLab lists them, with a line that is the marker.
    fn find_note(&self, iid: u64, marker: &str) -> Result<Found, ProviderError> {
        let endpoint = MergeRequestNotes::builder()
            .project(self.project())
            .merge_request(iid)
            .build()
            .map_err(|e| describe_error("the note list", &e))?;
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let request = self.api.prepare(
                &endpoint,
                &[
                    ("per_page", PER_PAGE.to_string()),
                    ("page", page.to_string()),
                ],
            )?;
            let a = self.api.send(&request, Auth::Private, Retry::Always)?;
            if matches!(a.status, 401 | 403 | 404) {
                return Ok(Found::Skip(SkipReason::Denied {
                    status: a.status,
                    message: self.api.message(&a),
                }));
            }
            let shown = request.shown(&self.api);
            if !a.is_success() {
                return Err(self.api.error(&request.method, &shown, &a));
            }
            let notes: Vec<Note> = self.api.json(&format!("GET {shown}"), &a.body)?;
            if let Some(n) = notes.iter().find(|n| {
                !n.system
                    && n.body
                        .as_deref()
                        .is_some_and(|b| has_marker_line(b, marker))
            }) {
                return Ok(Found::Note { id: n.id });
            }
            let next = a
                .header("x-next-page")
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|n| *n > page)
                .or_else(|| next_page(&a.headers, page));
            match next {
                Some(n) => page = n,
                None => return Ok(Found::Nothing),
            }
        }
        Ok(Found::Nothing)
    }

    /// The note's page: the merge request's web page with the note's anchor.
    fn note_url(&self, iid: u64, id: u64) -> Option<String> {
        let server = self
            .api
            .base()
            .trim_end_matches('/')
            .strip_suffix("/api/v4")?;
        let project = self.context.repository.as_deref()?;
        Some(format!(
            "{server}/{project}/-/merge_requests/{iid}#note_{id}"
        ))
    }
}

fn denied(status: u16, message: String) -> CommentOutcome {
    CommentOutcome::Skipped {
        reason: SkipReason::Denied { status, message },
    }
}

fn api_error(method: &str, what: &str, status: u16, message: String) -> ProviderError {
    ProviderError::Api {
        method: method.to_owned(),
        path: what.to_owned(),
        status,
        message,
    }
}

fn describe_error(what: &str, e: &dyn std::error::Error) -> ProviderError {
    ProviderError::Config {
        message: format!("cannot describe {what}: {e}"),
    }
}
