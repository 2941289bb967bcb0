//! Validates a recorded request against the operations extracted from GitHub's OpenAPI
//! description (`tests/openapi/github-subset.json`, made by `tests/openapi/extract.mjs`).
//!
//! A hand-written validator for the JSON Schema keywords the subset uses, rather than the
//! `jsonschema` crate: the subset uses a dozen keywords, OpenAPI 3.0's `nullable` is not
//! JSON Schema anyway, and a small validator compiles in a second where the crate would
//! add a regex engine, URL parsing and an HTTP client to the test build. It refuses any
//! keyword it does not know, so a regenerated subset cannot be checked loosely by
//! accident.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The operations of the subset, by method and path template.
pub struct Contract {
    pub operations: Vec<Operation>,
    pub source: String,
}

pub struct Operation {
    pub method: String,
    pub path: String,
    pub operation_id: String,
    parameters: Vec<Parameter>,
    body: Option<(bool, Value)>,
}

struct Parameter {
    name: String,
    location: String,
    required: bool,
    schema: Value,
}

impl Contract {
    pub fn load() -> Contract {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi/github-subset.json");
        let text = std::fs::read_to_string(&path).expect("the OpenAPI subset is readable");
        let doc: Value = serde_json::from_str(&text).expect("the OpenAPI subset is JSON");
        assert_eq!(doc["schema"], "dtf.openapi-subset.v1");
        let source = format!(
            "{}@{}",
            doc["source"]["package"].as_str().unwrap_or("?"),
            doc["source"]["version"].as_str().unwrap_or("?")
        );
        let operations = doc["operations"]
            .as_array()
            .expect("operations")
            .iter()
            .map(|op| Operation {
                method: op["method"].as_str().expect("method").to_owned(),
                path: op["path"].as_str().expect("path").to_owned(),
                operation_id: op["operationId"].as_str().unwrap_or("?").to_owned(),
                parameters: op["parameters"]
                    .as_array()
                    .expect("parameters")
                    .iter()
                    .map(|p| Parameter {
                        name: p["name"].as_str().expect("name").to_owned(),
                        location: p["in"].as_str().expect("in").to_owned(),
                        required: p["required"].as_bool().unwrap_or(false),
                        schema: p["schema"].clone(),
                    })
                    .collect(),
                body: match &op["requestBody"] {
                    Value::Null => None,
                    b => Some((
                        b["required"].as_bool().unwrap_or(false),
                        b["schema"].clone(),
                    )),
                },
            })
            .collect();
        Contract { operations, source }
    }

    /// Checks one request: `path` without the API's own prefix (GHES' `/api/v3`),
    /// `query` as decoded pairs. Returns the operation's id, or every problem found.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: &[u8],
    ) -> Result<String, Vec<String>> {
        let mut problems = Vec::new();
        let matched: Vec<(&Operation, BTreeMap<String, String>)> = self
            .operations
            .iter()
            .filter_map(|op| match_template(&op.path, path).map(|params| (op, params)))
            .collect();
        if matched.is_empty() {
            return Err(vec![format!(
                "{method} {path}: no operation of {} has this path",
                self.source
            )]);
        }
        // A literal segment beats a parameter ("/issues/comments/1" is not
        // "/issues/{issue_number}/comments" with "comments" as the number).
        let Some((op, path_params)) = matched
            .iter()
            .filter(|(op, _)| op.method.eq_ignore_ascii_case(method))
            .max_by_key(|(op, _)| op.path.split('/').filter(|s| !s.starts_with('{')).count())
        else {
            return Err(vec![format!(
                "{method} {path}: the path exists ({}) but not with method {method}",
                matched[0].0.path
            )]);
        };

        for p in op.parameters.iter().filter(|p| p.location == "path") {
            match path_params.get(&p.name) {
                Some(v) => check_text(
                    &format!("path parameter {}", p.name),
                    v,
                    &p.schema,
                    &mut problems,
                ),
                None => problems.push(format!("path parameter {} missing", p.name)),
            }
        }
        let mut seen = Vec::new();
        for (name, value) in query {
            match op
                .parameters
                .iter()
                .find(|p| p.location == "query" && &p.name == name)
            {
                Some(p) => check_text(
                    &format!("query parameter {name}"),
                    value,
                    &p.schema,
                    &mut problems,
                ),
                None => problems.push(format!("unknown query parameter {name}={value}")),
            }
            if seen.contains(name) {
                problems.push(format!("query parameter {name} sent twice"));
            }
            seen.push(name.clone());
        }
        for p in op
            .parameters
            .iter()
            .filter(|p| p.location == "query" && p.required)
        {
            if !seen.contains(&p.name) {
                problems.push(format!("required query parameter {} missing", p.name));
            }
        }

        match &op.body {
            Some((required, schema)) => {
                if body.is_empty() {
                    if *required {
                        problems.push("request body missing".to_owned());
                    }
                } else {
                    match serde_json::from_slice::<Value>(body) {
                        Ok(v) => validate(&v, schema, "body", &mut problems),
                        Err(e) => problems.push(format!("body is not JSON: {e}")),
                    }
                }
            }
            None => {
                if !body.is_empty() {
                    problems.push(format!(
                        "{} takes no body, got {} bytes",
                        op.operation_id,
                        body.len()
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(op.operation_id.clone())
        } else {
            Err(problems
                .into_iter()
                .map(|p| format!("{method} {path} ({}): {p}", op.operation_id))
                .collect())
        }
    }
}

/// The path parameters when `path` fits `template` segment by segment.
fn match_template(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (t, p) in t.iter().zip(&p) {
        if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
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

/// A path or query value (text on the wire) against its schema: integers must parse,
/// enums must match.
fn check_text(what: &str, value: &str, schema: &Value, problems: &mut Vec<String>) {
    let as_json = match schema["type"].as_str() {
        Some("integer") => match value.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => {
                problems.push(format!("{what}={value:?} is not an integer"));
                return;
            }
        },
        Some("boolean") => match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => {
                problems.push(format!("{what}={value:?} is not a boolean"));
                return;
            }
        },
        _ => {
            // oneOf [integer, string] and plain strings: try the number first.
            if schema.get("oneOf").is_some() {
                value
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(value))
            } else {
                Value::from(value)
            }
        }
    };
    validate(&as_json, schema, what, problems);
}

const KNOWN: &[&str] = &[
    "type",
    "properties",
    "required",
    "enum",
    "items",
    "maxItems",
    "minItems",
    "maxLength",
    "minLength",
    "minimum",
    "maximum",
    "nullable",
    "oneOf",
    "anyOf",
    "allOf",
    "additionalProperties",
    "format",
];

/// JSON Schema (OpenAPI 3.0 flavour) validation for the keywords in [`KNOWN`].
pub fn validate(v: &Value, schema: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            problems.push(format!("{at}: not allowed"));
        }
        return;
    };
    for key in s.keys() {
        if !KNOWN.contains(&key.as_str()) {
            problems.push(format!("{at}: the validator does not know keyword {key}"));
        }
    }
    if v.is_null() && s.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            "null" => v.is_null(),
            _ => false,
        };
        if !ok {
            problems.push(format!("{at}: expected {t}, got {v}"));
            return;
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        problems.push(format!(
            "{at}: {v} is not one of {}",
            Value::from(options.clone())
        ));
    }
    if let Some(text) = v.as_str() {
        let chars = text.chars().count() as u64;
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            problems.push(format!("{at}: {chars} characters, more than {max}"));
        }
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            problems.push(format!("{at}: {chars} characters, fewer than {min}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            problems.push(format!("{at}: {n} above {max}"));
        }
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            problems.push(format!("{at}: {n} below {min}"));
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
            && n > max
        {
            problems.push(format!("{at}: {n} items, more than {max}"));
        }
        if let Some(min) = s.get("minItems").and_then(Value::as_u64)
            && n < min
        {
            problems.push(format!("{at}: {n} items, fewer than {min}"));
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                validate(item, item_schema, &format!("{at}[{i}]"), problems);
            }
        }
    }
    if let Some(object) = v.as_object() {
        let properties = s.get("properties").and_then(Value::as_object);
        if let Some(required) = s.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    problems.push(format!("{at}: required property {name} missing"));
                }
            }
        }
        for (name, value) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(p) => validate(value, p, &format!("{at}.{name}"), problems),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        problems.push(format!("{at}: property {name} is not allowed"))
                    }
                    Some(extra @ Value::Object(_)) => {
                        validate(value, extra, &format!("{at}.{name}"), problems)
                    }
                    // Properties the schema does not list: OpenAPI allows them unless it
                    // says otherwise, but dtf sends none it did not mean to, so they are
                    // refused when the schema lists properties at all.
                    _ if properties.is_some() && s.get("additionalProperties").is_none() => {
                        problems.push(format!("{at}: property {name} is not in the schema"))
                    }
                    _ => {}
                },
            }
        }
    }
    let sub = |key: &str| {
        s.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let passes = |schema: &Value| {
        let mut p = Vec::new();
        validate(v, schema, at, &mut p);
        p
    };
    for schema in sub("allOf") {
        problems.extend(passes(&schema));
    }
    let any = sub("anyOf");
    if !any.is_empty() && !any.iter().any(|sc| passes(sc).is_empty()) {
        problems.push(format!("{at}: matches none of anyOf"));
    }
    let one = sub("oneOf");
    if !one.is_empty() {
        let n = one.iter().filter(|sc| passes(sc).is_empty()).count();
        if n != 1 {
            problems.push(format!("{at}: matches {n} of oneOf, not exactly one"));
        }
    }
}
