//! Contract tests: the requests dtf sends, validated against GitHub's official OpenAPI
//! description (the operations dtf uses, extracted from `@octokit/openapi` into
//! `tests/openapi/github-subset.json`; `tests/openapi/extract.mjs` says how to
//! regenerate it).
//!
//! Every wiremock test validates its requests when it finishes (`Harness::finish`);
//! here one build does everything the adapter can do, and every operation in the subset
//! must have been exercised, so an operation dtf stops or starts using shows up. The
//! validator itself is checked on requests that break the contract.

mod common;

use std::collections::BTreeSet;

use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

use common::contract::{Contract, validate};
use common::{Harness, REPO, json};
use dtf_provider::{
    Annotation, AnnotationLevel, BaselineOutcome, CommentOutcome, Conclusion, Provider,
    PublishOutcome, PublishedResults,
};

#[test]
fn every_operation_dtf_uses_is_exercised_and_valid() {
    let h = Harness::new();
    let repo = format!("/repos/{REPO}");
    // workflow_run with a fork's pull request: the pull request is looked up by commit.
    h.mount(
        Mock::given(method("GET"))
            .and(path(format!("{repo}/commits/headsha/pulls")))
            .respond_with(json(200, json!([{"number": 7, "state": "open", "head": {"sha": "headsha"}, "base": {"ref": "main"}}]))),
    );
    // No comment at first; once created, the search finds it.
    h.mount(
        Mock::given(method("GET"))
            .and(path(format!("{repo}/issues/7/comments")))
            .respond_with(json(200, json!([])))
            .up_to_n_times(1),
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(format!("{repo}/issues/7/comments")))
            .respond_with(json(200, json!([{"id": 1, "body": "<!-- m -->\nfirst"}]))),
    );
    h.mount(
        Mock::given(method("POST"))
            .and(path(format!("{repo}/issues/7/comments")))
            .respond_with(json(201, json!({"id": 1}))),
    );
    h.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{repo}/issues/comments/1")))
            .respond_with(json(200, json!({"id": 1}))),
    );
    h.mount(
        Mock::given(method("POST"))
            .and(path(format!("{repo}/check-runs")))
            .respond_with(json(201, json!({"id": 2}))),
    );
    h.mount(
        Mock::given(method("PATCH"))
            .and(path(format!("{repo}/check-runs/2")))
            .respond_with(json(200, json!({"id": 2}))),
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(format!("{repo}/actions/workflows/88/runs")))
            .respond_with(json(200, json!({"workflow_runs": [{"id": 3}]}))),
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(format!("{repo}/actions/runs/3/artifacts")))
            .respond_with(json(
                200,
                json!({"artifacts": [{"id": 4, "name": "dtf-report", "expired": false}]}),
            )),
    );
    h.mount(
        Mock::given(method("GET"))
            .and(path(format!("{repo}/actions/artifacts/4/zip")))
            .respond_with(ResponseTemplate::new(302).insert_header(
                "location",
                format!("{}/blob?sig=x", h.storage.uri()).as_str(),
            )),
    );
    h.mount_storage(
        Mock::given(method("GET"))
            .and(path_regex("^/blob$"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(empty_zip())),
    );
    // The run lookup for the workflow id, used when the payload has none.
    h.mount(
        Mock::given(method("GET"))
            .and(path(format!("{repo}/actions/runs/4242")))
            .respond_with(json(200, json!({"id": 4242, "workflow_id": 88}))),
    );

    let event = h.event(json!({"workflow_run": {
        "workflow_id": 88, "head_sha": "headsha", "head_branch": "feature",
        "event": "pull_request", "pull_requests": []
    }}));
    let env = h.env(&[
        ("GITHUB_EVENT_NAME", "workflow_run"),
        ("GITHUB_EVENT_PATH", event.to_str().expect("utf-8")),
    ]);
    let p = h.provider(&env);
    assert!(matches!(
        p.upsert_comment("<!-- m -->", "first").expect("ok"),
        CommentOutcome::Created { .. }
    ));
    let results = PublishedResults {
        name: "dtf".to_owned(),
        conclusion: Conclusion::Failure,
        title: "60 failed".to_owned(),
        summary: "summary".to_owned(),
        text: Some("details".to_owned()),
        details_url: Some("https://example.com/report".to_owned()),
        annotations: (0..60)
            .map(|i| Annotation {
                path: format!("src/t{i}.rs"),
                start_line: 3,
                end_line: 3,
                level: if i % 2 == 0 {
                    AnnotationLevel::Failure
                } else {
                    AnnotationLevel::Warning
                },
                title: Some("t".to_owned()),
                message: "m".to_owned(),
                raw_details: Some("trace".to_owned()),
            })
            .collect(),
        annotations_omitted: 0,
    };
    assert!(matches!(
        p.publish_results(&results).expect("ok"),
        PublishOutcome::Published { requests: 2, .. }
    ));
    assert!(matches!(
        p.fetch_baseline("dtf-report", &h.dir.path().join("b"))
            .expect("ok"),
        BaselineOutcome::Downloaded { .. }
    ));

    // A push build of the same workflow: the workflow id comes from the run.
    let push = h.provider(&h.env(&[
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/heads/main"),
    ]));
    push.fetch_baseline("dtf-report", &h.dir.path().join("c"))
        .expect("ok");

    // The comment again, now found: the update path.
    assert!(matches!(
        p.upsert_comment("<!-- m -->", "second").expect("ok"),
        CommentOutcome::Updated { .. }
    ));

    let requests = h.finish();
    let contract = Contract::load();
    let used: BTreeSet<String> = requests
        .iter()
        .map(|r| {
            let q: Vec<(String, String)> = r
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            contract
                .check(r.method.as_str(), r.url.path(), &q, &r.body)
                .expect("valid")
        })
        .collect();
    let all: BTreeSet<String> = contract
        .operations
        .iter()
        .map(|o| o.operation_id.clone())
        .collect();
    assert_eq!(
        used, all,
        "every operation in the subset is one dtf sends, and only those"
    );
}

fn empty_zip() -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    zip::ZipWriter::new(&mut cursor)
        .finish()
        .expect("an empty zip");
    cursor.into_inner()
}

fn check(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: serde_json::Value,
) -> Result<String, Vec<String>> {
    let q: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    Contract::load().check(method, path, &q, &body)
}

#[test]
fn the_validator_accepts_what_github_documents() {
    assert_eq!(
        check(
            "GET",
            "/repos/o/r/issues/7/comments",
            &[("per_page", "100"), ("page", "3")],
            json!(null)
        ),
        Ok("issues/list-comments".to_owned())
    );
    assert_eq!(
        check(
            "PATCH",
            "/repos/o/r/issues/comments/12",
            &[],
            json!({"body": "x"})
        ),
        Ok("issues/update-comment".to_owned()),
        "a literal segment wins over {{issue_number}}"
    );
    assert_eq!(
        check(
            "PATCH",
            "/repos/o/r/check-runs/5",
            &[],
            json!({"output": {"title": "t", "summary": "s"}})
        ),
        Ok("checks/update".to_owned())
    );
}

#[test]
fn the_validator_refuses_what_github_does_not_document() {
    let refused = |m: &str, p: &str, q: &[(&str, &str)], b: serde_json::Value, why: &str| {
        let problems = check(m, p, q, b).expect_err("refused");
        assert!(
            problems.iter().any(|x| x.contains(why)),
            "{why}: {problems:?}"
        );
    };
    refused(
        "GET",
        "/repos/o/r/nothing/here",
        &[],
        json!(null),
        "no operation",
    );
    refused(
        "DELETE",
        "/repos/o/r/issues/7/comments",
        &[],
        json!(null),
        "not with method DELETE",
    );
    refused(
        "GET",
        "/repos/o/r/issues/7/comments",
        &[("perpage", "100")],
        json!(null),
        "unknown query parameter perpage",
    );
    refused(
        "GET",
        "/repos/o/r/issues/7/comments",
        &[("page", "three")],
        json!(null),
        "not an integer",
    );
    refused(
        "GET",
        "/repos/o/r/issues/seven/comments",
        &[],
        json!(null),
        "not an integer",
    );
    refused(
        "GET",
        "/repos/o/r/actions/workflows/1/runs",
        &[("status", "succeeded")],
        json!(null),
        "is not one of",
    );
    refused(
        "POST",
        "/repos/o/r/issues/7/comments",
        &[],
        json!({"text": "x"}),
        "required property body missing",
    );
    refused(
        "POST",
        "/repos/o/r/issues/7/comments",
        &[],
        json!(null),
        "request body missing",
    );
    refused(
        "POST",
        "/repos/o/r/check-runs",
        &[],
        json!({"name": "dtf"}),
        "required property head_sha missing",
    );
    refused(
        "POST",
        "/repos/o/r/check-runs",
        &[],
        json!({"name": "dtf", "head_sha": "a", "conclusion": "passed"}),
        "is not one of",
    );
    let fifty_one: Vec<_> = (0..51)
        .map(|_| json!({"path": "a", "start_line": 1, "end_line": 1, "annotation_level": "failure", "message": "m"}))
        .collect();
    refused(
        "POST",
        "/repos/o/r/check-runs",
        &[],
        json!({"name": "dtf", "head_sha": "a", "output": {"title": "t", "summary": "s", "annotations": fifty_one}}),
        "51 items, more than 50",
    );
    refused(
        "POST",
        "/repos/o/r/check-runs",
        &[],
        json!({"name": "dtf", "head_sha": "a", "output": {"title": "t", "summary": "s", "annotations": [{"path": "a"}]}}),
        "required property start_line missing",
    );
    refused(
        "POST",
        "/repos/o/r/check-runs",
        &[],
        json!({"name": "dtf", "head_sha": "a", "output": {"title": "t", "summary": "x".repeat(65_536)}}),
        "more than 65535",
    );
    refused(
        "POST",
        "/repos/o/r/check-runs",
        &[],
        json!({"name": "dtf", "head_sha": "a", "colour": "red"}),
        "not in the schema",
    );
    refused(
        "GET",
        "/repos/o/r/actions/runs/1",
        &[],
        json!({"x": 1}),
        "takes no body",
    );
}

#[test]
fn the_validator_knows_every_keyword_the_subset_uses() {
    // A keyword the validator does not implement would be reported on every request
    // that reaches it; run every body schema against a value that visits most of it.
    let contract = Contract::load();
    assert!(
        contract.source.starts_with("@octokit/openapi@"),
        "{}",
        contract.source
    );
    let doc: serde_json::Value = serde_json::from_str(&common::read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi/github-subset.json"),
    ))
    .expect("JSON");
    let mut problems = Vec::new();
    for op in doc["operations"].as_array().expect("operations") {
        visit(&op["requestBody"]["schema"], &mut problems);
        for p in op["parameters"].as_array().expect("parameters") {
            visit(&p["schema"], &mut problems);
        }
    }
    assert!(problems.is_empty(), "{problems:?}");

    fn visit(schema: &serde_json::Value, problems: &mut Vec<String>) {
        if schema.is_object() {
            // Validating null against the schema reports unknown keywords at this level.
            let mut p = Vec::new();
            validate(&serde_json::Value::Null, schema, "schema", &mut p);
            problems.extend(p.into_iter().filter(|x| x.contains("does not know")));
            for key in ["items", "additionalProperties"] {
                visit(&schema[key], problems);
            }
            if let Some(props) = schema["properties"].as_object() {
                props.values().for_each(|s| visit(s, problems));
            }
            for key in ["oneOf", "anyOf", "allOf"] {
                if let Some(list) = schema[key].as_array() {
                    list.iter().for_each(|s| visit(s, problems));
                }
            }
        }
    }
}
