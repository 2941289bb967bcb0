//! The GitHub adapter against a local wiremock server: every request's method, path,
//! query, headers and body checked, a catch-all that fails on anything else, and at the
//! end of each test every request validated against GitHub's OpenAPI description.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::ResponseTemplate;
use wiremock::matchers::{body_json, method, path};

use common::{ApiHeaders, Harness, NOW_EPOCH, NoBody, NoCredentials, REPO, TOKEN, json, query};
use dtf_provider::{
    Annotation, AnnotationLevel, BaselineOutcome, CommentOutcome, Conclusion, MissingBaseline,
    Provider, ProviderError, PublishOutcome, PublishedResults, SkipReason, SummaryOutcome,
    TokenAccess,
};

const MARKER: &str = "<!-- dtf:report -->";

fn comments_path(h: &Harness) -> String {
    h.p(&format!("/repos/{REPO}/issues/7/comments"))
}

/// `GET …/issues/7/comments?per_page=100&page=N` answering `body`, with a `Link` to the
/// next page when `next` is given.
fn comments_page(h: &Harness, page: u32, body: Value, next: Option<u32>) -> Mock {
    let mut answer = json(200, body);
    if let Some(n) = next {
        // GitHub links to its /repositories/{id}/ form; dtf must stay on the documented path.
        answer = answer.insert_header(
            "link",
            format!(
                "<{}/repositories/1296269/issues/7/comments?per_page=100&page={n}>; rel=\"next\", <{}/repositories/1296269/issues/7/comments?per_page=100&page=9>; rel=\"last\"",
                h.api_url(),
                h.api_url()
            )
            .as_str(),
        );
    }
    Mock::given(method("GET"))
        .and(path(comments_path(h)))
        .and(query(&[("per_page", "100"), ("page", &page.to_string())]))
        .and(ApiHeaders)
        .and(NoBody)
        .respond_with(answer)
}

fn comment(id: u64, body: &str) -> Value {
    json!({
        "id": id,
        "body": body,
        "html_url": format!("https://github.com/{REPO}/pull/7#issuecomment-{id}"),
        "user": {"login": "github-actions[bot]"}
    })
}

fn pr_provider(h: &Harness) -> dtf_provider::GitHubProvider {
    let event = h.pull_request_event();
    h.provider(&h.env(&[("GITHUB_EVENT_PATH", event.to_str().expect("utf-8"))]))
}

#[test]
fn the_context_comes_from_the_pull_request_payload() {
    let h = Harness::new();
    let p = pr_provider(&h);
    let c = p.context();
    assert_eq!(c.change_request, Some(7));
    assert_eq!(
        c.head_sha.as_deref(),
        Some("headsha111"),
        "the head, not the merge commit"
    );
    assert_eq!(c.base_branch.as_deref(), Some("main"));
    assert_eq!(c.repository.as_deref(), Some(REPO));
    assert_eq!(c.access, TokenAccess::Unknown);
    assert!(
        !format!("{p:?}").contains(TOKEN),
        "Debug must not show the token"
    );
    assert!(h.finish().is_empty());
}

#[test]
fn a_comment_is_created_when_no_page_has_the_marker() {
    let h = Harness::new();
    h.mount(
        comments_page(
            &h,
            1,
            json!([
                comment(1, "LGTM"),
                comment(2, "> <!-- dtf:report -->\nquoted")
            ]),
            None,
        )
        .expect(1),
    );
    h.mount(
        Mock::given(method("POST"))
            .and(path(comments_path(&h)))
            .and(ApiHeaders)
            .and(body_json(
                json!({"body": format!("{MARKER}\n## Tests\n3 passed")}),
            ))
            .respond_with(json(201, comment(99, "x")))
            .expect(1),
    );
    let p = pr_provider(&h);
    let got = p
        .upsert_comment(MARKER, "## Tests\n3 passed")
        .expect("publishes");
    assert_eq!(
        got,
        CommentOutcome::Created {
            id: "99".to_owned(),
            url: Some(format!("https://github.com/{REPO}/pull/7#issuecomment-99")),
        }
    );
    assert_eq!(h.finish().len(), 2);
}

#[test]
fn the_marker_on_page_three_is_found_and_updated_never_duplicated() {
    let h = Harness::new();
    let page = |from: u64| {
        (from..from + 100)
            .map(|i| comment(i, "chatter"))
            .collect::<Vec<_>>()
    };
    h.mount(comments_page(&h, 1, json!(page(1)), Some(2)).expect(1));
    h.mount(comments_page(&h, 2, json!(page(101)), Some(3)).expect(1));
    h.mount(
        comments_page(
            &h,
            3,
            json!([
                comment(201, "hi"),
                comment(202, &format!("{MARKER}\nold results"))
            ]),
            None,
        )
        .expect(1),
    );
    let body = format!("{MARKER}\nnew results");
    h.mount(
        Mock::given(method("PATCH"))
            .and(path(h.p(&format!("/repos/{REPO}/issues/comments/202"))))
            .and(ApiHeaders)
            .and(body_json(json!({"body": body})))
            .respond_with(json(200, comment(202, &body)))
            .expect(1),
    );
    let p = pr_provider(&h);
    let got = p.upsert_comment(MARKER, &body).expect("publishes");
    assert!(
        matches!(got, CommentOutcome::Updated { ref id, .. } if id == "202"),
        "{got:?}"
    );
    // No POST: the catch-all would have answered it, and `finish` fails on that.
    assert_eq!(h.finish().len(), 4);
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(comments_path(&h)))
            .respond_with(json(502, json!({"message": "Server Error"})))
            .up_to_n_times(2)
            .expect(2),
    );
    h.mount(comments_page(&h, 1, json!([]), None).expect(1));
    h.mount(
        Mock::given(method("POST"))
            .and(path(comments_path(&h)))
            .and(ApiHeaders)
            .and(body_json(json!({"body": format!("{MARKER}\nbody")})))
            .respond_with(json(201, comment(5, "x")))
            .expect(1),
    );
    let p = pr_provider(&h);
    let got = p
        .upsert_comment(MARKER, "body")
        .expect("publishes after retries");
    assert!(matches!(got, CommentOutcome::Created { .. }), "{got:?}");
    assert_eq!(
        h.clock.sleeps(),
        [Duration::from_secs(1), Duration::from_secs(2)]
    );
    h.finish();
}

#[test]
fn server_errors_on_every_attempt_are_a_clear_error() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(comments_path(&h)))
            .respond_with(json(
                503,
                json!({"message": format!("unavailable for Bearer {TOKEN}")}),
            ))
            .expect(3),
    );
    let p = pr_provider(&h);
    let err = p.upsert_comment(MARKER, "body").expect_err("fails");
    let text = err.to_string();
    assert!(text.contains("503"), "{text}");
    assert!(
        text.contains(&format!("/repos/{REPO}/issues/7/comments")),
        "{text}"
    );
    assert!(
        !text.contains(TOKEN),
        "the token is scrubbed from server text: {text}"
    );
    assert!(text.contains("Bearer ***"), "{text}");
    h.finish();
}

#[test]
fn a_create_that_may_have_gone_through_is_searched_for_before_trying_again() {
    let h = Harness::new();
    // The first search finds nothing; the POST fails with a 502 although GitHub created
    // the comment; the second search finds it, and it is updated rather than duplicated.
    h.mount(
        comments_page(&h, 1, json!([]), None)
            .up_to_n_times(1)
            .expect(1),
    );
    h.mount(
        comments_page(
            &h,
            1,
            json!([comment(31, &format!("{MARKER}\nbody"))]),
            None,
        )
        .expect(1),
    );
    h.mount(
        Mock::given(method("POST"))
            .and(path(comments_path(&h)))
            .and(ApiHeaders)
            .respond_with(json(502, json!({"message": "Bad Gateway"})))
            .expect(1),
    );
    h.mount(
        Mock::given(method("PATCH"))
            .and(path(h.p(&format!("/repos/{REPO}/issues/comments/31"))))
            .and(body_json(json!({"body": format!("{MARKER}\nbody")})))
            .respond_with(json(200, comment(31, "x")))
            .expect(1),
    );
    let p = pr_provider(&h);
    let got = p.upsert_comment(MARKER, "body").expect("publishes");
    assert!(
        matches!(got, CommentOutcome::Updated { ref id, .. } if id == "31"),
        "{got:?}"
    );
    h.finish();
}

#[test]
fn a_429_with_retry_after_is_waited_out() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(comments_path(&h)))
            .respond_with(
                json(
                    429,
                    json!({"message": "You have exceeded a secondary rate limit"}),
                )
                .insert_header("retry-after", "1"),
            )
            .up_to_n_times(1)
            .expect(1),
    );
    h.mount(comments_page(&h, 1, json!([comment(8, &format!("{MARKER}\nold"))]), None).expect(1));
    h.mount(
        Mock::given(method("PATCH"))
            .and(path(h.p(&format!("/repos/{REPO}/issues/comments/8"))))
            .respond_with(json(200, comment(8, "x")))
            .expect(1),
    );
    let p = pr_provider(&h);
    p.upsert_comment(MARKER, "new").expect("publishes");
    assert_eq!(
        h.clock.sleeps(),
        [Duration::from_secs(1)],
        "Retry-After: 1 is one second"
    );
    h.finish();
}

#[test]
fn a_403_with_an_exhausted_rate_limit_waits_for_the_reset() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(comments_path(&h)))
            .respond_with(
                json(403, json!({"message": "API rate limit exceeded"}))
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", (NOW_EPOCH + 7).to_string().as_str()),
            )
            .up_to_n_times(1)
            .expect(1),
    );
    h.mount(comments_page(&h, 1, json!([]), None).expect(1));
    h.mount(
        Mock::given(method("POST"))
            .and(path(comments_path(&h)))
            .respond_with(json(201, comment(9, "x")))
            .expect(1),
    );
    let p = pr_provider(&h);
    p.upsert_comment(MARKER, "x").expect("publishes");
    // Seven seconds to the reset, plus one for its rounding.
    assert_eq!(h.clock.sleeps(), [Duration::from_secs(8)]);
    h.finish();
}

#[test]
fn a_rate_limit_longer_than_the_bound_fails_at_once() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(comments_path(&h)))
            .respond_with(
                json(429, json!({"message": "slow down"})).insert_header("retry-after", "3600"),
            )
            .expect(1),
    );
    let p = pr_provider(&h);
    let err = p.upsert_comment(MARKER, "x").expect_err("fails");
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert!(err.to_string().contains("wait 3600s"), "{err}");
    assert!(h.clock.sleeps().is_empty());
    h.finish();
}

#[test]
fn timeouts_are_retried_then_reported() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(comments_path(&h)))
            .respond_with(json(200, json!([])).set_delay(Duration::from_secs(3)))
            .expect(2),
    );
    let event = h.pull_request_event();
    let env = h.env(&[("GITHUB_EVENT_PATH", event.to_str().expect("utf-8"))]);
    let p = h.provider_with(
        &env,
        dtf_provider::HttpPolicy {
            max_attempts: 2,
            request_timeout: Duration::from_millis(150),
            ..common::policy()
        },
    );
    let err = p.upsert_comment(MARKER, "x").expect_err("times out");
    assert!(
        matches!(err, ProviderError::Timeout { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no answer within 0.1s"), "{err}");
    assert_eq!(h.clock.sleeps(), [Duration::from_secs(1)]);
    h.finish();
}

#[test]
fn a_slow_answer_is_retried_and_the_next_one_counts() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(comments_path(&h)))
            .respond_with(json(200, json!([])).set_delay(Duration::from_secs(3)))
            .up_to_n_times(1)
            .expect(1),
    );
    h.mount(comments_page(&h, 1, json!([comment(4, MARKER)]), None).expect(1));
    h.mount(
        Mock::given(method("PATCH"))
            .and(path(h.p(&format!("/repos/{REPO}/issues/comments/4"))))
            .respond_with(json(200, comment(4, "x")))
            .expect(1),
    );
    let event = h.pull_request_event();
    let env = h.env(&[("GITHUB_EVENT_PATH", event.to_str().expect("utf-8"))]);
    let p = h.provider_with(
        &env,
        dtf_provider::HttpPolicy {
            request_timeout: Duration::from_millis(300),
            ..common::policy()
        },
    );
    let got = p.upsert_comment(MARKER, "x").expect("publishes");
    assert!(matches!(got, CommentOutcome::Updated { .. }));
    h.finish();
}

#[test]
fn a_read_only_token_skips_the_comment_and_check_but_writes_the_summary() {
    let h = Harness::new();
    let denied = json!({
        "message": "Resource not accessible by integration",
        "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
    });
    h.mount(comments_page(&h, 1, json!([]), None).expect(1));
    h.mount(
        Mock::given(method("POST"))
            .and(path(comments_path(&h)))
            .respond_with(json(403, denied.clone()))
            .expect(1),
    );
    h.mount(
        Mock::given(method("POST"))
            .and(path(h.p(&format!("/repos/{REPO}/check-runs"))))
            .respond_with(json(403, denied))
            .expect(1),
    );
    let summary = h.dir.path().join("step_summary.md");
    let event = h.event(json!({
        "pull_request": {
            "number": 7,
            "head": {"ref": "main", "sha": "forksha", "repo": {"full_name": "someone/widgets"}},
            "base": {"ref": "main", "repo": {"full_name": REPO}}
        }
    }));
    let env = h.env(&[
        ("GITHUB_EVENT_PATH", event.to_str().expect("utf-8")),
        ("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf-8")),
    ]);
    let p = h.provider(&env);
    assert!(matches!(
        p.context().access,
        TokenAccess::LikelyReadOnly { .. }
    ));

    let expected = SkipReason::Denied {
        status: 403,
        message: "Resource not accessible by integration".to_owned(),
    };
    assert_eq!(
        p.upsert_comment(MARKER, "x").expect("no error"),
        CommentOutcome::Skipped {
            reason: expected.clone()
        }
    );
    assert_eq!(
        p.publish_results(&results(0)).expect("no error"),
        PublishOutcome::Skipped { reason: expected }
    );
    let written = p.write_summary("## Tests\nall good\n").expect("written");
    assert!(
        matches!(written, SummaryOutcome::Written { cut_bytes: 0, .. }),
        "{written:?}"
    );
    assert_eq!(common::read(&summary), "## Tests\nall good\n");
    h.finish();
}

fn results(annotations: usize) -> PublishedResults {
    PublishedResults {
        name: "dtf".to_owned(),
        conclusion: Conclusion::Failure,
        title: format!("{annotations} failed, 10 passed"),
        summary: "| tests | failed |\n|---|---|\n| 10 | 1 |\n".to_owned(),
        text: None,
        details_url: None,
        annotations: (0..annotations)
            .map(|i| Annotation {
                path: format!("/home/runner/work/widgets/widgets/tests/test_{i}.py"),
                start_line: i as u32 + 1,
                end_line: i as u32 + 1,
                level: AnnotationLevel::Failure,
                title: Some(format!("tests::test_{i} failed")),
                message: "assert 1 == 2".to_owned(),
                raw_details: None,
            })
            .collect(),
        annotations_omitted: 0,
    }
}

fn annotation_json(i: usize) -> Value {
    json!({
        "path": format!("tests/test_{i}.py"),
        "start_line": i + 1,
        "end_line": i + 1,
        "annotation_level": "failure",
        "message": "assert 1 == 2",
        "title": format!("tests::test_{i} failed"),
    })
}

#[test]
fn annotations_go_fifty_per_request() {
    let h = Harness::new();
    let output = |range: std::ops::Range<usize>| {
        json!({
            "title": "51 failed, 10 passed",
            "summary": "| tests | failed |\n|---|---|\n| 10 | 1 |\n",
            "annotations": range.map(annotation_json).collect::<Vec<_>>(),
        })
    };
    h.mount(
        Mock::given(method("POST"))
            .and(path(h.p(&format!("/repos/{REPO}/check-runs"))))
            .and(ApiHeaders)
            .and(body_json(json!({
                "name": "dtf",
                "head_sha": "headsha111",
                "status": "completed",
                "conclusion": "failure",
                "details_url": format!("https://github.com/{REPO}/actions/runs/4242"),
                "external_id": "4242",
                "output": output(0..50),
            })))
            .respond_with(json(
                201,
                json!({"id": 555, "html_url": "https://github.com/octo/widgets/runs/555"}),
            ))
            .expect(1),
    );
    h.mount(
        Mock::given(method("PATCH"))
            .and(path(h.p(&format!("/repos/{REPO}/check-runs/555"))))
            .and(ApiHeaders)
            .and(body_json(json!({"output": output(50..51)})))
            .respond_with(json(200, json!({"id": 555})))
            .expect(1),
    );
    let event = h.pull_request_event();
    let env = h.env(&[
        ("GITHUB_EVENT_PATH", event.to_str().expect("utf-8")),
        ("GITHUB_WORKSPACE", "/home/runner/work/widgets/widgets"),
    ]);
    let p = h.provider(&env);
    let got = p.publish_results(&results(51)).expect("published");
    assert_eq!(
        got,
        PublishOutcome::Published {
            id: "555".to_owned(),
            url: Some("https://github.com/octo/widgets/runs/555".to_owned()),
            annotations: 51,
            requests: 2,
        }
    );
    h.finish();
}

#[test]
fn a_hundred_and_twenty_annotations_take_three_requests() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("POST"))
            .and(path(h.p(&format!("/repos/{REPO}/check-runs"))))
            .respond_with(json(201, json!({"id": 556})))
            .expect(1),
    );
    h.mount(
        Mock::given(method("PATCH"))
            .and(path(h.p(&format!("/repos/{REPO}/check-runs/556"))))
            .respond_with(json(200, json!({"id": 556})))
            .expect(2),
    );
    let event = h.pull_request_event();
    let env = h.env(&[
        ("GITHUB_EVENT_PATH", event.to_str().expect("utf-8")),
        ("GITHUB_WORKSPACE", "/home/runner/work/widgets/widgets"),
    ]);
    let got = h
        .provider(&env)
        .publish_results(&results(120))
        .expect("published");
    assert!(
        matches!(
            got,
            PublishOutcome::Published {
                annotations: 120,
                requests: 3,
                ..
            }
        ),
        "{got:?}"
    );
    let requests = h.finish();
    let counts: Vec<usize> = requests
        .iter()
        .map(|r| {
            let body: Value = r.body_json().expect("JSON");
            body["output"]["annotations"].as_array().map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(counts, [50, 50, 20]);
}

fn zip_bytes(files: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut cursor);
        for (name, text) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(text.as_bytes()).expect("write");
        }
        w.finish().expect("finish");
    }
    cursor.into_inner()
}

fn mount_run_lookup(h: &Harness) {
    h.mount(
        Mock::given(method("GET"))
            .and(path(h.p(&format!("/repos/{REPO}/actions/runs/4242"))))
            .and(query(&[]))
            .and(ApiHeaders)
            .and(NoBody)
            .respond_with(json(
                200,
                json!({"id": 4242, "workflow_id": 77, "name": "CI"}),
            ))
            .expect(1),
    );
}

fn mount_runs(h: &Harness, runs: Value) {
    h.mount(
        Mock::given(method("GET"))
            .and(path(
                h.p(&format!("/repos/{REPO}/actions/workflows/77/runs")),
            ))
            .and(query(&[
                ("branch", "main"),
                ("status", "success"),
                ("per_page", "10"),
            ]))
            .and(ApiHeaders)
            .respond_with(json(
                200,
                json!({"total_count": runs.as_array().map_or(0, Vec::len), "workflow_runs": runs}),
            ))
            .expect(1),
    );
}

#[test]
fn the_baseline_is_downloaded_following_the_redirect_without_the_token() {
    let h = Harness::new();
    mount_run_lookup(&h);
    mount_runs(
        &h,
        json!([
            // A fork's branch called main: not a baseline.
            {"id": 900, "head_sha": "forkmain", "head_branch": "main", "head_repository": {"full_name": "someone/widgets"}},
            {"id": 901, "head_sha": "basesha", "head_branch": "main", "html_url": "https://github.com/octo/widgets/actions/runs/901", "head_repository": {"full_name": REPO}}
        ]),
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(
                h.p(&format!("/repos/{REPO}/actions/runs/901/artifacts")),
            ))
            .and(query(&[("name", "dtf-report"), ("per_page", "10")]))
            .and(ApiHeaders)
            .respond_with(json(
                200,
                json!({"total_count": 1, "artifacts": [
                    {"id": 31, "name": "dtf-report", "expired": false, "size_in_bytes": 100}
                ]}),
            ))
            .expect(1),
    );
    let storage_url = format!(
        "{}/blobs/artifact-31.zip?sig={}&se=2030",
        h.storage.uri(),
        "SIGNATURE"
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(
                h.p(&format!("/repos/{REPO}/actions/artifacts/31/zip")),
            ))
            .and(ApiHeaders)
            .respond_with(
                ResponseTemplate::new(302).insert_header("location", storage_url.as_str()),
            )
            .expect(1),
    );
    h.mount_storage(
        Mock::given(method("GET"))
            .and(path("/blobs/artifact-31.zip"))
            .and(query(&[("sig", "SIGNATURE"), ("se", "2030")]))
            .and(NoCredentials)
            .respond_with(ResponseTemplate::new(200).set_body_bytes(zip_bytes(&[
                ("summary.json", "{\"schema\":\"dtf.summary.v1\"}"),
                ("html/report.html", "<p>"),
            ])))
            .expect(1),
    );
    let dest = h.dir.path().join("baseline");
    let p = pr_provider(&h);
    let got = p.fetch_baseline("dtf-report", &dest).expect("downloads");
    match got {
        BaselineOutcome::Downloaded { path, build } => {
            assert_eq!(path, dest);
            assert_eq!(build.id, "901");
            assert_eq!(build.commit.as_deref(), Some("basesha"));
            assert_eq!(build.artifact_id.as_deref(), Some("31"));
        }
        other => panic!("expected a download, got {other:?}"),
    }
    assert_eq!(
        common::read(&dest.join("summary.json")),
        "{\"schema\":\"dtf.summary.v1\"}"
    );
    assert_eq!(common::read(&dest.join("html/report.html")), "<p>");
    // The storage request was checked by `NoCredentials`; make the point explicit.
    let storage =
        h.rt.block_on(h.storage.received_requests())
            .expect("recorded");
    assert_eq!(storage.len(), 1);
    assert!(storage[0].headers.get("authorization").is_none());
    h.finish();
}

#[test]
fn no_successful_run_on_the_base_branch_is_a_first_build() {
    let h = Harness::new();
    mount_run_lookup(&h);
    mount_runs(&h, json!([]));
    let p = pr_provider(&h);
    let got = p
        .fetch_baseline("dtf-report", &h.dir.path().join("b"))
        .expect("no error");
    assert_eq!(
        got,
        BaselineOutcome::NotFound {
            reason: MissingBaseline::FirstBuild {
                branch: "main".to_owned()
            }
        }
    );
    assert_eq!(
        got_text(&got),
        "first build on main: no successful build of this workflow there yet"
    );
    h.finish();
}

fn got_text(b: &BaselineOutcome) -> String {
    match b {
        BaselineOutcome::NotFound { reason } => reason.to_string(),
        other => format!("{other:?}"),
    }
}

#[test]
fn a_404_anywhere_in_the_baseline_search_is_no_baseline() {
    // The run itself.
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(h.p(&format!("/repos/{REPO}/actions/runs/4242"))))
            .respond_with(json(404, json!({"message": "Not Found"})))
            .expect(1),
    );
    let got = pr_provider(&h)
        .fetch_baseline("dtf-report", &h.dir.path().join("b"))
        .expect("no error");
    assert!(
        matches!(
            got,
            BaselineOutcome::NotFound {
                reason: MissingBaseline::NotFound { .. }
            }
        ),
        "{got:?}"
    );
    h.finish();

    // The artifact, expired or gone.
    let h = Harness::new();
    mount_run_lookup(&h);
    mount_runs(
        &h,
        json!([{"id": 901, "head_repository": {"full_name": REPO}}]),
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(h.p(&format!("/repos/{REPO}/actions/runs/901/artifacts"))))
            .respond_with(json(200, json!({"total_count": 1, "artifacts": [{"id": 31, "name": "dtf-report", "expired": false}]})))
            .expect(1),
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(
                h.p(&format!("/repos/{REPO}/actions/artifacts/31/zip")),
            ))
            .respond_with(json(404, json!({"message": "Not Found"})))
            .expect(1),
    );
    let got = pr_provider(&h)
        .fetch_baseline("dtf-report", &h.dir.path().join("b"))
        .expect("no error");
    assert!(
        matches!(
            got,
            BaselineOutcome::NotFound {
                reason: MissingBaseline::NoArtifact { .. }
            }
        ),
        "{got:?}"
    );
    assert!(!h.dir.path().join("b").exists());
    h.finish();
}

#[test]
fn workflow_run_maps_the_head_commit_to_its_pull_request() {
    let h = Harness::new();
    h.mount(
        Mock::given(method("GET"))
            .and(path(h.p(&format!("/repos/{REPO}/commits/runheadsha/pulls"))))
            .and(query(&[("per_page", "100")]))
            .and(ApiHeaders)
            .respond_with(json(200, json!([
                {"number": 11, "state": "closed", "head": {"sha": "other"}, "base": {"ref": "main"}},
                {"number": 12, "state": "open", "head": {"sha": "runheadsha", "ref": "fix"}, "base": {"ref": "release"}}
            ])))
            .expect(1),
    );
    // The workflow id comes from the payload: no GET …/actions/runs/{id} for it.
    mount_runs_for(&h, "88", "release");
    let event = h.event(json!({
        "workflow_run": {"id": 1000, "workflow_id": 88, "head_sha": "runheadsha", "head_branch": "fix",
                         "event": "pull_request", "pull_requests": []}
    }));
    let env = h.env(&[
        ("GITHUB_EVENT_NAME", "workflow_run"),
        ("GITHUB_EVENT_PATH", event.to_str().expect("utf-8")),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_HEAD_REF", ""),
        ("GITHUB_BASE_REF", ""),
    ]);
    let p = h.provider(&env);
    let c = p.context();
    assert_eq!(c.change_request, Some(12));
    assert_eq!(c.base_branch.as_deref(), Some("release"));
    assert_eq!(c.head_sha.as_deref(), Some("runheadsha"));
    assert_eq!(c.workflow_id.as_deref(), Some("88"));
    let got = p
        .fetch_baseline("dtf-report", &h.dir.path().join("b"))
        .expect("no error");
    assert!(matches!(
        got,
        BaselineOutcome::NotFound {
            reason: MissingBaseline::FirstBuild { .. }
        }
    ));
    h.finish();
}

fn mount_runs_for(h: &Harness, workflow: &str, branch: &str) {
    h.mount(
        Mock::given(method("GET"))
            .and(path(h.p(&format!(
                "/repos/{REPO}/actions/workflows/{workflow}/runs"
            ))))
            .and(query(&[
                ("branch", branch),
                ("status", "success"),
                ("per_page", "10"),
            ]))
            .respond_with(json(200, json!({"total_count": 0, "workflow_runs": []})))
            .expect(1),
    );
}

#[test]
fn ghes_api_urls_keep_their_prefix() {
    let h = Harness::with_prefix("/api/v3");
    h.mount(comments_page(&h, 1, json!([]), Some(2)).expect(1));
    h.mount(comments_page(&h, 2, json!([]), None).expect(1));
    h.mount(
        Mock::given(method("POST"))
            .and(path(comments_path(&h)))
            .and(ApiHeaders)
            .respond_with(json(201, comment(1, "x")))
            .expect(1),
    );
    let p = pr_provider(&h);
    assert_eq!(p.context().api_url.as_deref(), Some(h.api_url().as_str()));
    p.upsert_comment(MARKER, "x").expect("publishes");
    let requests = h.finish();
    assert!(
        requests
            .iter()
            .all(|r| r.url.path().starts_with("/api/v3/repos/"))
    );
}

#[test]
fn without_a_pull_request_or_a_token_nothing_is_sent() {
    let h = Harness::new();
    let push = h.provider(&h.env(&[
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_HEAD_REF", ""),
        ("GITHUB_BASE_REF", ""),
    ]));
    assert_eq!(
        push.upsert_comment(MARKER, "x").expect("no error"),
        CommentOutcome::Skipped {
            reason: SkipReason::NoChangeRequest
        }
    );
    assert_eq!(push.context().baseline_branch(), Some("main"));

    let tokenless = pr_provider_without_token(&h);
    assert_eq!(tokenless.context().access, TokenAccess::None);
    let no_token = SkipReason::NoToken {
        variable: "GITHUB_TOKEN".to_owned(),
    };
    assert_eq!(
        tokenless.upsert_comment(MARKER, "x").expect("no error"),
        CommentOutcome::Skipped {
            reason: no_token.clone()
        }
    );
    assert_eq!(
        tokenless.publish_results(&results(1)).expect("no error"),
        PublishOutcome::Skipped { reason: no_token }
    );
    assert!(matches!(
        tokenless
            .fetch_baseline("dtf-report", &h.dir.path().join("b"))
            .expect("no error"),
        BaselineOutcome::NotFound {
            reason: MissingBaseline::NoToken { .. }
        }
    ));
    assert!(h.finish().is_empty());
}

fn pr_provider_without_token(h: &Harness) -> dtf_provider::GitHubProvider {
    let event = h.pull_request_event();
    h.provider(&h.env(&[
        ("GITHUB_EVENT_PATH", event.to_str().expect("utf-8")),
        ("GITHUB_TOKEN", ""),
    ]))
}

#[test]
fn a_step_summary_near_one_mib_is_cut_cleanly() {
    let h = Harness::new();
    let file = h.dir.path().join("summary.md");
    let limit = dtf_provider::summary_file::STEP_SUMMARY_LIMIT as usize;
    std::fs::write(&file, "x".repeat(limit - 3_000) + "\n").expect("written");
    let event = h.pull_request_event();
    let p = h.provider(&h.env(&[
        ("GITHUB_EVENT_PATH", event.to_str().expect("utf-8")),
        ("GITHUB_STEP_SUMMARY", file.to_str().expect("utf-8")),
    ]));
    let mut md = String::from("## Failures\n<details><summary>stack traces</summary>\n\n```\n");
    for i in 0..500 {
        md.push_str(&format!("at frame {i} (src/lib.rs:{i})\n"));
    }
    md.push_str("```\n</details>\n");
    let got = p.write_summary(&md).expect("written");
    let SummaryOutcome::Written { cut_bytes, .. } = got else {
        panic!("expected a write, got {got:?}");
    };
    assert!(cut_bytes > 0);
    let text = common::read(&file);
    assert!(text.len() <= limit, "{} bytes", text.len());
    let added = &text[limit - 3_000 + 1..];
    assert!(added.starts_with("\n## Failures\n"), "{added}");
    assert!(
        added.contains("```\n</details>\n\n> [!NOTE]"),
        "the fence and details are closed: {added}"
    );
    assert!(added.contains(&format!("{cut_bytes} bytes left out")));
    // Whole lines only: every frame line kept is complete.
    assert!(
        added
            .lines()
            .filter(|l| l.starts_with("at frame"))
            .all(|l| l.ends_with(')'))
    );

    // A full file takes nothing more, and says so.
    std::fs::write(&file, "x".repeat(limit)).expect("written");
    assert!(matches!(
        p.write_summary("more").expect("no error"),
        SummaryOutcome::Skipped { .. }
    ));
    assert_eq!(
        std::fs::metadata(&file).expect("exists").len() as usize,
        limit
    );
    assert!(h.finish().is_empty());
}
