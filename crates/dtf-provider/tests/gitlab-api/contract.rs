//! Validates a recorded request against `endpoints.json`, the GitLab endpoints dtf uses
//! as GitLab's REST API documentation describes them: the path template and method,
//! every path parameter's type, no query parameter the endpoint lacks, the required
//! ones present, and a form body with only documented fields.
//!
//! GitLab publishes no machine-readable description that covers these endpoints the
//! way GitHub's OpenAPI does, so the file is written by hand from the documentation and
//! names its sources; the validator refuses a type it does not know, so a careless edit
//! of the file cannot make it check less.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

pub struct Contract {
    pub operations: Vec<Value>,
}

impl Contract {
    pub fn load() -> Contract {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gitlab-api/endpoints.json");
        let text = std::fs::read_to_string(&path).expect("the endpoint description is readable");
        let doc: Value = serde_json::from_str(&text).expect("the endpoint description is JSON");
        assert_eq!(doc["schema"], "dtf.gitlab-api-subset.v1");
        let operations = doc["operations"].as_array().expect("operations").clone();
        for op in &operations {
            for t in op["path_params"].as_object().expect("path_params").values() {
                known_type(t.as_str().expect("a type name"));
            }
            for p in op["query"].as_array().expect("query") {
                known_type(p["type"].as_str().expect("a type name"));
            }
            if let Some(body) = op["body"].as_array() {
                for p in body {
                    known_type(p["type"].as_str().expect("a type name"));
                }
            }
        }
        Contract { operations }
    }

    /// Checks one request: `path` relative to the API URL (`/projects/...`), still
    /// percent-encoded; `query` as decoded pairs. Returns the operation's name or every
    /// problem found.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<String, Vec<String>> {
        let matched: Vec<(&Value, BTreeMap<String, String>)> = self
            .operations
            .iter()
            .filter_map(|op| {
                match_template(op["path"].as_str().unwrap_or_default(), path).map(|p| (op, p))
            })
            .collect();
        let Some((op, params)) = matched
            .iter()
            .find(|(op, _)| op["method"].as_str() == Some(method))
        else {
            return Err(vec![if matched.is_empty() {
                format!("{method} {path}: no documented endpoint has this path")
            } else {
                format!("{method} {path}: the path is documented, but not with {method}")
            }]);
        };
        let name = op["name"].as_str().unwrap_or("?").to_owned();
        let mut problems = Vec::new();
        for (param, value) in params {
            let t = op["path_params"][param.as_str()].as_str().unwrap_or("?");
            check_value(&format!("path parameter {param}"), value, t, &mut problems);
        }
        let documented = op["query"].as_array().cloned().unwrap_or_default();
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in query {
            match documented.iter().find(|p| p["name"] == k.as_str()) {
                Some(p) => check_param(&format!("query parameter {k}"), v, p, &mut problems),
                None => problems.push(format!("unknown query parameter {k}={v}")),
            }
            if seen.contains(&k.as_str()) {
                problems.push(format!("query parameter {k} sent twice"));
            }
            seen.push(k);
        }
        for p in documented.iter().filter(|p| p["required"] == true) {
            let n = p["name"].as_str().unwrap_or_default();
            if !seen.contains(&n) {
                problems.push(format!("required query parameter {n} missing"));
            }
        }
        match op["body"].as_array() {
            None if !body.is_empty() => {
                problems.push(format!("takes no body, got {} bytes", body.len()))
            }
            None => {}
            Some(fields) => {
                let pairs: Vec<(String, String)> = match content_type {
                    Some(t) if t.starts_with("application/x-www-form-urlencoded") => {
                        url_pairs(body)
                    }
                    Some(t) if t.starts_with("application/json") => {
                        match serde_json::from_slice::<Value>(body) {
                            Ok(Value::Object(o)) => o
                                .into_iter()
                                .map(|(k, v)| match v {
                                    Value::String(s) => (k, s),
                                    other => (k, other.to_string()),
                                })
                                .collect(),
                            _ => {
                                problems.push("the JSON body is not an object".to_owned());
                                Vec::new()
                            }
                        }
                    }
                    other => {
                        problems.push(format!("body content type {other:?} is not form or JSON"));
                        Vec::new()
                    }
                };
                let mut given: Vec<&str> = Vec::new();
                for (k, v) in &pairs {
                    match fields.iter().find(|f| f["name"] == k.as_str()) {
                        Some(f) => check_param(&format!("body field {k}"), v, f, &mut problems),
                        None => problems.push(format!("unknown body field {k}")),
                    }
                    given.push(k);
                }
                for f in fields.iter().filter(|f| f["required"] == true) {
                    let n = f["name"].as_str().unwrap_or_default();
                    if !given.contains(&n) {
                        problems.push(format!("required body field {n} missing"));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(name)
        } else {
            Err(problems
                .into_iter()
                .map(|p| format!("{method} {path} ({name}): {p}"))
                .collect())
        }
    }
}

fn known_type(t: &str) {
    assert!(
        matches!(t, "integer" | "string" | "boolean" | "id"),
        "the endpoint description uses a type the validator does not know: {t}"
    );
}

/// Decoded `k=v&...` pairs, the form and query encoding (`+` is a space).
fn url_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    let Ok(mut url) = reqwest::Url::parse("http://form.invalid/") else {
        return Vec::new();
    };
    url.set_query(Some(&String::from_utf8_lossy(bytes)));
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn check_param(what: &str, value: &str, p: &Value, problems: &mut Vec<String>) {
    check_value(what, value, p["type"].as_str().unwrap_or("?"), problems);
    if let Some(allowed) = p["enum"].as_array()
        && !allowed.iter().any(|a| a == value)
    {
        problems.push(format!("{what}={value} is not one of {allowed:?}"));
    }
    if let Some(max) = p["max"].as_u64()
        && value.parse::<u64>().is_ok_and(|v| v > max)
    {
        problems.push(format!("{what}={value} is above {max}"));
    }
    if let Some(max) = p["max_chars"].as_u64()
        && value.chars().count() as u64 > max
    {
        problems.push(format!("{what} is longer than {max} characters"));
    }
}

fn check_value(what: &str, value: &str, t: &str, problems: &mut Vec<String>) {
    let ok = match t {
        "integer" => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
        "boolean" => value == "true" || value == "false",
        "string" => !value.is_empty(),
        // A numeric id, or a path URL-encoded into one segment (`group%2Fproject`).
        "id" => !value.is_empty() && !value.contains('/'),
        _ => false,
    };
    if !ok {
        problems.push(format!("{what}={value:?} is not a valid {t}"));
    }
}

/// The path parameters when `path` fits `template` segment by segment; parameters are
/// `:name` segments and take any one non-empty segment.
fn match_template(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (t, p) in t.iter().zip(&p) {
        if let Some(name) = t.strip_prefix(':') {
            if p.is_empty() {
                return None;
            }
            params.insert(name.to_owned(), (*p).to_owned());
        } else if t != p {
            return None;
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        method: &str,
        target: &str,
        ct: Option<&str>,
        body: &str,
    ) -> Result<String, Vec<String>> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query = url_pairs(query.as_bytes());
        Contract::load().check(method, path, &query, ct, body.as_bytes())
    }

    #[test]
    fn the_validator_accepts_what_gitlab_documents() {
        let form = Some("application/x-www-form-urlencoded");
        check(
            "GET",
            "/projects/42/merge_requests/7/notes?per_page=100&page=3",
            None,
            "",
        )
        .expect("valid");
        check(
            "POST",
            "/projects/group%2Fapp/merge_requests/7/notes",
            form,
            "body=hi",
        )
        .expect("valid");
        check(
            "PUT",
            "/projects/42/merge_requests/7/notes/9",
            form,
            "body=hi",
        )
        .expect("valid");
        check(
            "GET",
            "/projects/42/jobs/artifacts/feature%2Fx/download?job=report",
            None,
            "",
        )
        .expect("valid");
        check("GET", "/projects/42/merge_requests/7", None, "").expect("valid");
    }

    #[test]
    fn the_validator_refuses_what_gitlab_does_not_document() {
        let form = Some("application/x-www-form-urlencoded");
        let bad = [
            check(
                "PATCH",
                "/projects/42/merge_requests/7/notes/9",
                form,
                "body=x",
            ),
            check(
                "GET",
                "/projects/42/merge_requests/7/notes?per_page=500",
                None,
                "",
            ),
            check(
                "GET",
                "/projects/42/merge_requests/7/notes?pages=2",
                None,
                "",
            ),
            check("GET", "/projects/42/merge_requests/x/notes", None, ""),
            check("GET", "/projects/42/jobs/artifacts/main/download", None, ""),
            check(
                "POST",
                "/projects/42/merge_requests/7/notes",
                form,
                "note=x",
            ),
            check("PUT", "/projects/42/merge_requests/7/notes/9", form, ""),
            check("GET", "/projects/42/merge_requests/7/notes", None, "body=x"),
            check("GET", "/projects/42/issues/7/notes", None, ""),
            check("GET", "/projects/group/app/merge_requests/7", None, ""),
        ];
        for (i, r) in bad.iter().enumerate() {
            assert!(r.is_err(), "case {i} should be refused: {r:?}");
        }
    }
}
