//! `dtf run` with pytest past 50 tests: pytest gets the files and dtf's selection
//! plugin instead of every node id. The plugin must keep exactly the planned tests,
//! in the plan's order.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn pytest_available() -> bool {
    Command::new("python3")
        .args(["-c", "import pytest"])
        .status()
        .is_ok_and(|s| s.success())
}

fn dtf(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dtf"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI_NODE_INDEX")
        .env_remove("SYSTEM_JOBPOSITIONINPHASE")
        .env_remove("DTF_SHARD_INDEX")
        .output()
        .expect("dtf runs")
}

#[test]
fn many_pytest_tests_run_through_the_selection_plugin() {
    if !pytest_available() {
        eprintln!("SKIPPED: pytest is not installed (.ci/run installs it)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path();
    std::fs::create_dir(root.join("tests")).expect("mkdir");
    // 3 files of 30 tests; one fails. A shard plans 2 of the 3 files' tests: the
    // plugin must leave out the third file's tests although pytest collects them.
    for f in 0..3 {
        let mut text = String::new();
        for t in 0..30 {
            let body = if f == 1 && t == 7 {
                "assert 1 == 2"
            } else {
                "pass"
            };
            text.push_str(&format!("def test_{f}_{t}():\n    {body}\n\n"));
        }
        std::fs::write(root.join(format!("tests/test_file{f}.py")), text).expect("write");
    }
    let mut ids = Vec::new();
    for f in 0..2 {
        // Reverse order within each file: the plugin must follow the plan, not the file.
        for t in (0..30).rev() {
            ids.push(format!("tests/test_file{f}.py::test_{f}_{t}"));
        }
    }
    // One test of the third file, so its file is collected whole.
    ids.push("tests/test_file2.py::test_2_0".to_owned());
    std::fs::write(root.join("tests.txt"), ids.join("\n")).expect("write");
    let out = dtf(
        root,
        &[
            "plan",
            "--shards",
            "1",
            "--strategy",
            "round-robin",
            "--tests",
            "tests.txt",
            "-o",
            "plan.json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = dtf(
        root,
        &[
            "run",
            "--plan",
            "plan.json",
            "--shard",
            "1",
            "--framework",
            "pytest",
            "--root",
            ".",
            "-o",
            "out",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one test fails: {err}");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("out/shard-summary.json")).expect("summary"),
    )
    .expect("json");
    let c = &summary["counts"];
    assert_eq!(
        (
            c["planned"].as_u64(),
            c["passed"].as_u64(),
            c["failed"].as_u64()
        ),
        (Some(61), Some(60), Some(1)),
        "{c}"
    );
    assert_eq!(c["lost"], 0, "{c}");
    // The planned order, as the timeline saw it.
    let timeline: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("out/timeline.json")).expect("timeline"),
    )
    .expect("json");
    let ran: Vec<&str> = timeline["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ran.len(), 61);
    assert!(ran[0].ends_with("test_0_29"), "{:?}", &ran[..3]);
    assert!(ran[59].ends_with("test_1_0"), "{:?}", &ran[58..]);
    assert!(
        !ran.iter().any(|id| id.contains("test_2_1")),
        "an unplanned test ran"
    );
}
