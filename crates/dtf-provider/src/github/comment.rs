//! The sticky pull-request comment: found by its marker on any page, updated in place,
//! never duplicated.

use http::{HeaderMap, Method};
use serde::Deserialize;

use crate::error::ProviderError;
use crate::local::{has_marker_line, with_marker};
use crate::outcome::{CommentOutcome, SkipReason};
use crate::summary_file::{Measure, fit};

use super::transport::Retry;
use super::{GitHubProvider, Id};

/// GitHub's limit on a comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;
/// Comments per page: GitHub's largest.
const PER_PAGE: u32 = 100;
/// Pages searched at most (10,000 comments); a bound against a `Link` that never ends.
const MAX_PAGES: u32 = 100;

#[derive(Debug, Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
}

enum Found {
    Comment { id: u64, url: Option<String> },
    Nothing,
    Skip(SkipReason),
}

impl GitHubProvider {
    pub(super) fn upsert_comment_impl(
        &self,
        marker: &str,
        body: &str,
    ) -> Result<CommentOutcome, ProviderError> {
        let Some(number) = self.context.change_request else {
            return Ok(CommentOutcome::Skipped {
                reason: SkipReason::NoChangeRequest,
            });
        };
        if !self.api.has_token() {
            return Ok(CommentOutcome::Skipped {
                reason: self.no_token(),
            });
        }
        let (body, _) = fit(&with_marker(marker, body), COMMENT_LIMIT, Measure::Chars);
        let payload = serde_json::json!({ "body": body });
        let max = self.api.policy().max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.find_comment(number, marker)? {
                Found::Skip(reason) => return Ok(CommentOutcome::Skipped { reason }),
                Found::Comment { id, url } => {
                    let path = format!("{}/issues/comments/{id}", self.repo_path);
                    let a = self
                        .api
                        .send(Method::PATCH, &path, Some(&payload), Retry::Always)?;
                    if a.is_success() {
                        let url = self
                            .api
                            .json::<Id>(&Method::PATCH, &path, &a)
                            .ok()
                            .and_then(|c| c.html_url)
                            .or(url);
                        return Ok(CommentOutcome::Updated {
                            id: id.to_string(),
                            url,
                        });
                    }
                    match a.status {
                        403 => return Ok(self.comment_denied(&a)),
                        // Deleted since it was found: search again, then create.
                        404 if attempt < max => continue,
                        _ => return Err(self.api.error(&Method::PATCH, &path, &a)),
                    }
                }
                Found::Nothing => {
                    let path = format!("{}/issues/{number}/comments", self.repo_path);
                    // Not repeated blindly: a create that timed out or met a 5xx may have
                    // gone through, so the next attempt searches first.
                    match self
                        .api
                        .send(Method::POST, &path, Some(&payload), Retry::RefusedOnly)
                    {
                        Ok(a) if a.is_success() => {
                            let created: Id = self.api.json(&Method::POST, &path, &a)?;
                            return Ok(CommentOutcome::Created {
                                id: created.id.to_string(),
                                url: created.html_url,
                            });
                        }
                        Ok(a) if a.status == 403 || a.status == 404 => {
                            return Ok(self.comment_denied(&a));
                        }
                        Ok(a) => return Err(self.api.error(&Method::POST, &path, &a)),
                        Err(e) if e.is_transient() && attempt < max => self.api.pause(attempt),
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    fn comment_denied(&self, answer: &super::transport::Answer) -> CommentOutcome {
        CommentOutcome::Skipped {
            reason: SkipReason::Denied {
                status: answer.status,
                message: self.api.message(answer),
            },
        }
    }

    /// The first comment, oldest first, with a line that is the marker.
    fn find_comment(&self, number: u64, marker: &str) -> Result<Found, ProviderError> {
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let path = format!(
                "{}/issues/{number}/comments?per_page={PER_PAGE}&page={page}",
                self.repo_path
            );
            let a = self.api.get(&path)?;
            if a.status == 403 || a.status == 404 {
                return Ok(Found::Skip(SkipReason::Denied {
                    status: a.status,
                    message: self.api.message(&a),
                }));
            }
            if !a.is_success() {
                return Err(self.api.error(&Method::GET, &path, &a));
            }
            let comments: Vec<Comment> = self.api.json(&Method::GET, &path, &a)?;
            if let Some(c) = comments.iter().find(|c| {
                c.body
                    .as_deref()
                    .is_some_and(|b| has_marker_line(b, marker))
            }) {
                return Ok(Found::Comment {
                    id: c.id,
                    url: c.html_url.clone(),
                });
            }
            match next_page(&a.headers, page) {
                Some(next) => page = next,
                None => return Ok(Found::Nothing),
            }
        }
        Ok(Found::Nothing)
    }
}

/// The page after `current` when the `Link` header has `rel="next"`: its `page`
/// parameter (so the request stays on the documented path, whatever URL form GitHub
/// links to), or `current + 1` when it has none. `None` on the last page, or if the
/// link points backwards.
pub(crate) fn next_page(headers: &HeaderMap, current: u32) -> Option<u32> {
    let link = headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok());
    for value in link {
        for part in value.split(',') {
            let mut pieces = part.split(';');
            let url = pieces.next().unwrap_or_default().trim();
            let is_next = pieces.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            if !is_next {
                continue;
            }
            let url = url.trim_start_matches('<').trim_end_matches('>');
            let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
            let page = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "page")
                .and_then(|(_, v)| v.parse::<u32>().ok());
            return match page {
                Some(p) if p > current => Some(p),
                Some(_) => None,
                None => current.checked_add(1),
            };
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn link(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("link", HeaderValue::from_str(v).expect("valid"));
        h
    }

    #[test]
    fn next_pages_from_link_headers() {
        let h = link(
            r#"<https://api.github.com/repositories/1/issues/5/comments?per_page=100&page=3>; rel="next", <https://api.github.com/repositories/1/issues/5/comments?per_page=100&page=9>; rel="last""#,
        );
        assert_eq!(next_page(&h, 2), Some(3));
        let h = link(r#"<https://x/c?page=1>; rel="prev", <https://x/c?page=1>; rel="first""#);
        assert_eq!(next_page(&h, 2), None);
        assert_eq!(next_page(&HeaderMap::new(), 1), None);
        assert_eq!(
            next_page(&link(r#"<https://x/c?after=abc>; rel="next""#), 4),
            Some(5)
        );
        assert_eq!(
            next_page(&link(r#"<https://x/c?page=2>; rel="next""#), 2),
            None
        );
    }
}
