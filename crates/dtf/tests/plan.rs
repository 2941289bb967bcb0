//! End-to-end: `dtf plan` on real files, its outputs, and its errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn dtf(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dtf"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("dtf runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A timing file of `n` tests `m{i%5}::t{i}` taking 1 + i % 7 seconds.
fn timings(dir: &Path, n: usize) -> PathBuf {
    let map: BTreeMap<String, f64> = (0..n)
        .map(|i| (format!("m{}::t{i}", i % 5), 1.0 + (i % 7) as f64))
        .collect();
    let p = dir.join("durations.json");
    std::fs::write(&p, serde_json::to_string(&map).expect("json")).expect("write");
    p
}

fn plan_json(dir: &Path, args: &[&str]) -> Value {
    let out = dtf(dir, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("plan.json on stdout")
}

#[test]
fn every_test_lands_in_exactly_one_shard() {
    let tmp = tempfile::tempdir().expect("tmp");
    let t = timings(tmp.path(), 500);
    for strategy in ["timing", "round-robin", "priority", "batching"] {
        let plan = plan_json(
            tmp.path(),
            &[
                "plan",
                "--shards",
                "7",
                "--strategy",
                strategy,
                "--timings",
                t.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(plan["schema"], "dtf.plan.v1");
        let shards = plan["shards"].as_array().expect("shards");
        assert_eq!(shards.len(), 7, "{strategy}");
        let mut seen: Vec<&str> = shards
            .iter()
            .flat_map(|s| s["tests"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        seen.sort_unstable();
        let before = seen.len();
        seen.dedup();
        assert_eq!(
            (before, seen.len()),
            (500, 500),
            "{strategy}: every test once"
        );
        let wall = plan["predicted_wall_s"].as_f64().expect("wall");
        let bound = plan["lower_bound_s"].as_f64().expect("bound");
        assert!(
            wall >= bound - 1e-9,
            "{strategy}: wall {wall} below the bound {bound}"
        );
        if strategy == "timing" {
            assert!(wall <= bound * 1.002, "timing: {wall} vs bound {bound}");
        }
    }
}

#[test]
fn the_demo_results_plan_and_emit() {
    let tmp = tempfile::tempdir().expect("tmp");
    let junit = examples().join("shards");
    let junit = junit.to_str().expect("utf-8");
    let out = dtf(
        tmp.path(),
        &[
            "plan",
            "--shards",
            "3",
            "--timings",
            junit,
            "-o",
            "plan.json",
            "--explain",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("lower bound"), "{table}");
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("plan.json")).expect("plan"))
            .expect("json");
    assert_eq!(plan["totals"]["tests"], 52);
    for format in [
        "github-matrix",
        "gitlab-parallel",
        "gitlab-child-pipeline",
        "jenkins",
        "azure-matrix",
    ] {
        let out = dtf(
            tmp.path(),
            &[
                "plan",
                "--shards",
                "3",
                "--timings",
                junit,
                "--emit",
                format,
            ],
        );
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        assert!(!out.stdout.is_empty(), "{format}");
    }

    // The child pipeline runs what it is told, and a pool without labels (the implicit
    // one here) gets no tags: it runs on any runner.
    let out = dtf(
        tmp.path(),
        &[
            "plan",
            "--shards",
            "3",
            "--timings",
            junit,
            "--emit",
            "gitlab-child-pipeline",
            "--emit-command",
            "dtf run --plan plan.json --shard {shard} --framework pytest",
            "--emit-plan-job",
            "plan",
            "--emit-stage",
            "shards",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let child = String::from_utf8_lossy(&out.stdout);
    assert!(
        child.contains("dtf run --plan plan.json --shard 3 --framework pytest"),
        "{child}"
    );
    assert!(
        child.contains("job: plan") || child.contains("job: \"plan\""),
        "{child}"
    );
    assert!(
        child.contains("- shards") || child.contains("- \"shards\""),
        "{child}"
    );
    assert!(!child.contains("tags:"), "{child}");
}

#[test]
fn rerun_failed_plans_only_the_failures() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = dtf(tmp.path(), &["demo", "-o", "demo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = plan_json(
        tmp.path(),
        &[
            "plan",
            "--shards",
            "2",
            "--rerun-failed",
            "demo/report/summary.json",
        ],
    );
    let mut ids: Vec<&str> = plan["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .flat_map(|s| s["tests"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "tests.integration.test_search_index::test_reindex",
            "tests.test_checkout::test_card_declined",
            "tests.test_inventory::test_concurrent_reservations"
        ]
    );
}

/// Each bad input: exit code 3 and a message that says what and where.
#[test]
fn bad_input_is_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let t = timings(tmp.path(), 20);
    let t = t.to_str().expect("utf-8");
    let config = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.to_str().expect("utf-8").to_owned()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--config".into(),
                config(
                    "cycle.toml",
                    "[[dependency]]\nbefore = \"m0::t0\"\nafter = \"m1::t1\"\n[[dependency]]\nbefore = \"m1::t1\"\nafter = \"m0::t0\"\n",
                ),
            ],
            "cycle",
        ),
        (
            vec![
                "--config".into(),
                config(
                    "unknown.toml",
                    "[[dependency]]\nbefore = \"m0::t0\"\nafter = \"nope::missing\"\n",
                ),
            ],
            "nope::missing",
        ),
        (
            vec![
                "--config".into(),
                config(
                    "nopool.toml",
                    "[[pool]]\nname = \"linux\"\nlabels = [\"ubuntu-latest\"]\nrunners = 4\ncapabilities = { os = \"linux\" }\n[[require]]\ntests = \"m0::*\"\nneeds = \"cuda >= 12.1\"\n",
                ),
            ],
            "cuda",
        ),
        (
            vec![
                "--config".into(),
                config("malformed.toml", "[plan]\nshards = \"four\"\n"),
            ],
            "malformed.toml:2",
        ),
        (vec!["--shards".into(), "0".into()], "at least 1"),
        (
            vec![
                "--strategy".into(),
                "deadline".into(),
                "--deadline".into(),
                "1s".into(),
                "--max-shards".into(),
                "2".into(),
            ],
            "smallest feasible",
        ),
        (vec!["--strategy".into(), "fastest".into()], "fastest"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["plan".to_owned(), "--timings".into(), t.to_owned()];
        if !extra.iter().any(|a| a == "--shards" || a == "--max-shards") {
            args.extend(["--shards".to_owned(), "3".to_owned()]);
        }
        args.extend(extra);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = dtf(tmp.path(), &argv);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{argv:?}: {err}");
        assert!(
            err.contains(want),
            "{argv:?}: {err:?} should contain {want:?}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
