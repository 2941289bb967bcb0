//! Every JUnit dialect in `tests/fixtures/junit/`, read through the merge, against the
//! counts a person checked by hand (`expected.json`, described in that folder's README).

use std::path::{Path, PathBuf};

use dtf_core::merge::{Input, MergeOptions, merge};
use dtf_core::model::Status;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/junit")
}

fn status(s: &str) -> Status {
    serde_json::from_value(Value::String(s.to_owned()))
        .unwrap_or_else(|e| panic!("status {s}: {e}"))
}

/// Reads one fixture and compares it with its expectations; returns the mismatches.
fn check(expected: &Value) -> Vec<String> {
    let file = expected["file"].as_str().expect("file");
    let path = fixtures().join(file);
    let run = match merge(&[Input::file(&path)], &MergeOptions::default()) {
        Ok(run) => run,
        Err(e) => return vec![format!("{file}: {e}")],
    };
    let mut problems = Vec::new();
    let totals = serde_json::to_value(run.totals()).expect("totals serialize");
    for key in [
        "cases", "tests", "passed", "failed", "errored", "skipped", "flaky",
    ] {
        if totals[key] != expected[key] {
            problems.push(format!(
                "{file}: {key} is {}, expected {}",
                totals[key], expected[key]
            ));
        }
    }
    let mut tests = Vec::new();
    run.visit(|t| {
        tests.push((t.id.to_string(), t.status, t.attempts, t.case.clone()));
        Ok(())
    })
    .expect("visit");
    for c in expected["checks"].as_array().into_iter().flatten() {
        let id = c["id"].as_str().expect("id");
        let Some((_, got_status, attempts, case)) = tests.iter().find(|t| t.0 == id) else {
            let ids: Vec<&str> = tests.iter().map(|t| t.0.as_str()).collect();
            problems.push(format!("{file}: no test {id:?} among {ids:?}"));
            continue;
        };
        let mut differ = |what: &str, got: String, want: String| {
            if got != want {
                problems.push(format!("{file}: {id}: {what} is {got}, expected {want}"));
            }
        };
        if let Some(s) = c["status"].as_str() {
            differ("status", got_status.to_string(), status(s).to_string());
        }
        if let Some(n) = c["attempts"].as_u64() {
            differ("attempts", attempts.to_string(), n.to_string());
        }
        if let Some(f) = c["file"].as_str() {
            differ("file", format!("{:?}", case.file), format!("{:?}", Some(f)));
        }
        if let Some(l) = c["line"].as_u64() {
            differ("line", format!("{:?}", case.line), format!("{:?}", Some(l)));
        }
        if let Some(d) = c.get("duration") {
            let got = case.duration.map(|d| format!("{d:.4}"));
            let want = d.as_f64().map(|d| format!("{d:.4}"));
            differ("duration", format!("{got:?}"), format!("{want:?}"));
        }
        if let Some(m) = c["message_contains"].as_str() {
            // A flaky test's message is its failure's; a message attribute first, else
            // the element text's first line.
            let detail = if *got_status == Status::Flaky {
                case.reruns
                    .last()
                    .map(|r| &r.detail)
                    .unwrap_or(&case.detail)
            } else {
                &case.detail
            };
            let message = detail
                .message
                .clone()
                .or_else(|| {
                    detail
                        .details
                        .as_deref()
                        .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            if !message.contains(m) {
                problems.push(format!(
                    "{file}: {id}: message {message:?} does not contain {m:?}"
                ));
            }
        }
    }
    problems
}

#[test]
fn every_dialect_matches_its_hand_counts() {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    let expected: Vec<Value> = serde_json::from_str(&text).expect("expected.json is JSON");
    assert!(expected.len() >= 20, "one fixture or more per tool");
    let problems: Vec<String> = expected.iter().flat_map(check).collect();
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_fixture_is_listed() {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    let expected: Vec<Value> = serde_json::from_str(&text).expect("expected.json is JSON");
    let listed: Vec<&str> = expected.iter().filter_map(|e| e["file"].as_str()).collect();
    for entry in std::fs::read_dir(fixtures()).expect("fixtures folder") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".xml") {
            assert!(
                listed.contains(&name.as_str()),
                "{name} has no expectations"
            );
        }
    }
}

/// The merged JUnit of every dialect at once is what importers need: each suite's
/// counts agree with its children, every test case has a name, and the whole reads
/// back to the same verdicts.
#[test]
fn merged_junit_is_consistent() {
    use quick_xml::events::Event;

    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(fixtures()).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "xml") {
            inputs.push(Input::file(path));
        }
    }
    inputs.sort_by(|a, b| a.name().cmp(b.name()));
    let run = merge(&inputs, &MergeOptions::default()).expect("merge");
    let xml = run
        .write_junit(Vec::new(), dtf_core::junit::write::WriteLimits::default())
        .expect("write");

    let mut reader = quick_xml::Reader::from_reader(&xml[..]);
    let mut buf = Vec::new();
    let mut declared: Vec<[u64; 4]> = Vec::new();
    let mut counted: Vec<[u64; 4]> = Vec::new();
    let mut depth_in_case = 0usize;
    let mut case_kind = 0usize;
    let attr = |e: &quick_xml::events::BytesStart<'_>, k: &str| -> Option<String> {
        e.try_get_attribute(k)
            .ok()
            .flatten()
            .map(|a| a.unescape_value().expect("value").into_owned())
    };
    loop {
        match reader.read_event_into(&mut buf).expect("well-formed") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testsuite" => {
                let n = |k| {
                    attr(&e, k)
                        .and_then(|v| v.parse().ok())
                        .expect("count attribute")
                };
                declared.push([n("tests"), n("failures"), n("errors"), n("skipped")]);
                counted.push([0; 4]);
            }
            Event::Start(e) if e.name().as_ref() == b"testcase" => {
                assert!(attr(&e, "name").is_some(), "a testcase without a name");
                depth_in_case = 1;
                case_kind = 0;
            }
            Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                assert!(attr(&e, "name").is_some(), "a testcase without a name");
                if let Some(c) = counted.last_mut() {
                    c[0] += 1;
                }
            }
            Event::Start(e) | Event::Empty(e) if depth_in_case == 1 => {
                let kind = match e.name().as_ref() {
                    b"failure" => 1,
                    b"error" => 2,
                    b"skipped" => 3,
                    _ => 0,
                };
                if kind != 0 && case_kind == 0 {
                    case_kind = kind;
                }
            }
            Event::End(e) if e.name().as_ref() == b"testcase" => {
                depth_in_case = 0;
                if let Some(c) = counted.last_mut() {
                    c[0] += 1;
                    if case_kind != 0 {
                        c[case_kind] += 1;
                    }
                }
            }
            _ => {}
        }
        buf.clear();
    }
    assert_eq!(declared.len(), run.suite_names().len());
    assert_eq!(
        declared, counted,
        "suite counts agree with their test cases"
    );
    let again =
        merge(&[Input::bytes("merged.xml", xml)], &MergeOptions::default()).expect("reads back");
    let (a, b) = (again.totals(), run.totals());
    assert_eq!(
        (a.tests, a.passed, a.failed, a.errored, a.skipped, a.flaky),
        (b.tests, b.passed, b.failed, b.errored, b.skipped, b.flaky)
    );
}
