//! plan.json, the provider-ready forms and the explain table.
//!
//! The provider forms are snapshotted, and, when `check-jsonschema` is installed, fed
//! to the providers' own schemas (GitHub workflows, GitLab CI, Azure Pipelines) inside
//! a minimal pipeline; `.ci/run` installs it so that CI never skips those checks.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use dtf_core::merge::Totals;
use dtf_core::model::Status;
use dtf_core::summary::{SUMMARY_SCHEMA, Summary, TestSummary};
use dtf_plan::emit::{EmitError, EmitFormat, EmitOptions, emit};
use dtf_plan::explain::{explain, human_duration};
use dtf_plan::model::{Assignment, PLAN_SCHEMA, Plan, PlanTest, Pool, Problem, ShardAssignment};
use dtf_plan::output::{LostCheck, PlanError, build_plan, rerun_failed};

// ---------------------------------------------------------------- fixtures

fn pool(name: &str, labels: &[&str], speed: f64, startup: f64) -> Pool {
    Pool {
        name: name.to_owned(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        runners: 8,
        capabilities: Vec::new(),
        speed,
        startup,
    }
}

fn shard(pool: usize, wave: u32, tests: &[usize], batches: &[usize]) -> ShardAssignment {
    ShardAssignment {
        pool,
        wave,
        tests: tests.to_vec(),
        batches: batches.to_vec(),
    }
}

/// Two pools, three shards: a small plan that exercises every column.
fn small() -> (Problem, Assignment) {
    let mut tests = vec![
        PlanTest::new("tests/api.py::test_login", 95.0),
        PlanTest::new("tests/api.py::test_logout", 40.5),
        PlanTest::new("tests/db.py::test_migrate", 70.0),
        PlanTest::new("tests/db.py::test_rollback", 62.25),
        PlanTest::new("tests/gpu.py::test_kernel", 150.0),
        PlanTest::new("tests/gpu.py::test_memory", 30.0),
    ];
    tests[1].estimated = true;
    tests[5].estimated = true;
    // Measured faster on the GPU pool than its speed says.
    tests[4].pool_durations = vec![("gpu".into(), 120.0)];
    let problem = Problem {
        tests,
        pools: vec![
            pool("linux", &["ubuntu-latest"], 1.0, 12.0),
            pool("gpu", &["self-hosted", "linux", "gpu"], 1.25, 30.0),
        ],
        shards: 3,
        ..Problem::default()
    };
    let assignment = Assignment {
        shards: vec![
            shard(0, 0, &[0, 1], &[]),
            shard(0, 0, &[2, 3], &[1, 1]),
            shard(1, 0, &[4, 5], &[]),
        ],
    };
    (problem, assignment)
}

fn small_plan() -> Plan {
    let (problem, assignment) = small();
    build_plan(&problem, &assignment, "timing")
}

/// Dependent tests in a second wave.
fn waved_plan() -> Plan {
    let (problem, _) = small();
    let assignment = Assignment {
        shards: vec![
            shard(0, 0, &[0, 1], &[]),
            shard(1, 0, &[4], &[]),
            shard(0, 1, &[2, 3], &[]),
            shard(1, 1, &[5], &[]),
        ],
    };
    build_plan(&problem, &assignment, "timing")
}

fn emitted(plan: &Plan, format: EmitFormat) -> String {
    emit(plan, format, &EmitOptions::default()).unwrap()
}

// ---------------------------------------------------------------- plan.json

#[test]
fn plan_json_snapshot() {
    insta::assert_snapshot!("plan_json", small_plan().to_json());
}

#[test]
fn plan_json_has_the_shape_other_programs_read() {
    let text = small_plan().to_json();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema"], PLAN_SCHEMA);
    let shards = v["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 3);
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s["index"], i + 1);
        assert!(s["tests"].as_array().unwrap().iter().all(|t| t.is_string()));
        assert!(s["predicted_s"].is_number());
        assert!(s["labels"].is_array());
    }
    for key in ["lower_bound_s", "predicted_wall_s", "imbalance"] {
        assert!(v[key].is_number(), "{key}");
    }
    assert_eq!(v["totals"]["tests"], 6);
    assert_eq!(v["totals"]["estimated"], 2);
    // No warnings: the key is left out.
    assert!(v.get("warnings").is_none());
}

#[test]
fn plan_json_round_trips() {
    let plan = small_plan();
    assert_eq!(Plan::read(&plan.to_json(), "plan.json").unwrap(), plan);
    let waved = waved_plan();
    assert_eq!(Plan::read(&waved.to_json(), "plan.json").unwrap(), waved);
}

#[test]
fn plan_read_refuses_what_it_cannot_use() {
    fn check(text: &str, expected: &str) {
        let err = Plan::read(text, "in/plan.json").unwrap_err();
        assert_eq!(err.to_string(), expected, "{text}");
    }
    check(
        r#"{"schema": "dtf.summary.v1"}"#,
        "in/plan.json: schema `dtf.summary.v1` is not `dtf.plan.v1`",
    );
    check(
        r#"{"schema": "dtf.plan.v2", "shards": 3}"#,
        "in/plan.json: schema `dtf.plan.v2` is not `dtf.plan.v1` \
         (written by a newer dtf? upgrade dtf to read it)",
    );
    check(
        r#"{"shards": []}"#,
        "in/plan.json: schema `` is not `dtf.plan.v1` (is this a dtf plan? it has no `schema` field)",
    );
    check(
        "{\"schema\": \"dtf.plan.v1\",\n  oops}",
        "in/plan.json: invalid JSON at line 2, column 3: key must be a string at line 2 column 3",
    );

    let mut v: serde_json::Value = serde_json::from_str(&small_plan().to_json()).unwrap();
    v["shards"][1]["index"] = 7.into();
    check(
        &v.to_string(),
        "in/plan.json: shard 7: index is not between 1 and 3",
    );
    v["shards"][1]["index"] = 1.into();
    check(&v.to_string(), "in/plan.json: shard 1: index appears twice");
    v["shards"][1]["index"] = 2.into();
    v["shards"][1]["batches"] = serde_json::json!([1, 3]);
    check(
        &v.to_string(),
        "in/plan.json: shard 2: batches add up to 4, not its 2 tests",
    );
    assert!(matches!(
        Plan::read("[]", "x").unwrap_err(),
        PlanError::Json { .. }
    ));
}

#[test]
fn plan_warns_about_a_broken_assignment() {
    let (problem, _) = small();
    let assignment = Assignment {
        shards: vec![
            shard(0, 0, &[0, 1, 1, 9], &[1, 1]),
            shard(5, 0, &[2], &[]),
            shard(0, 0, &[], &[]),
        ],
    };
    let plan = build_plan(&problem, &assignment, "x");
    assert_eq!(
        plan.warnings,
        [
            "shard 1: test #9 does not exist",
            "shard 1: batches add up to 2, not its 3 tests; planned as one invocation",
            "shard 2: pool #5 does not exist; its labels are unknown",
            "1 shard without tests: 3",
            "3 tests are in no shard: tests/db.py::test_rollback, tests/gpu.py::test_kernel, \
             tests/gpu.py::test_memory",
            "1 test is in more than one shard: tests/api.py::test_logout",
        ]
    );
    assert_eq!(plan.shards[1].pool, "#5");
    assert!(plan.shards[0].batches.is_empty());
    let table = explain(&plan);
    assert!(
        table.contains("\nwarnings\n  - shard 1: test #9 does not exist\n"),
        "{table}"
    );
}

// ---------------------------------------------------------------- the arithmetic

struct Case {
    name: &'static str,
    /// (speed, startup) per pool.
    pools: &'static [(f64, f64)],
    durations: &'static [f64],
    /// (pool, wave, tests, batches) per shard.
    shards: &'static [(usize, u32, &'static [usize], &'static [usize])],
    predicted: &'static [f64],
    lower_bound: f64,
    wall: f64,
    imbalance: f64,
}

fn check_math(c: &Case) {
    let problem = Problem {
        tests: c
            .durations
            .iter()
            .enumerate()
            .map(|(i, d)| PlanTest::new(format!("s::t{i}"), *d))
            .collect(),
        pools: c
            .pools
            .iter()
            .enumerate()
            .map(|(i, (speed, startup))| pool(&format!("p{i}"), &[], *speed, *startup))
            .collect(),
        shards: c.shards.len() as u32,
        ..Problem::default()
    };
    let assignment = Assignment {
        shards: c
            .shards
            .iter()
            .map(|(p, w, t, b)| shard(*p, *w, t, b))
            .collect(),
    };
    let plan = build_plan(&problem, &assignment, "test");
    let predicted: Vec<f64> = plan.shards.iter().map(|s| s.predicted_s).collect();
    assert_eq!(predicted, c.predicted, "{}: predicted", c.name);
    assert_eq!(plan.lower_bound_s, c.lower_bound, "{}: lower bound", c.name);
    assert_eq!(plan.predicted_wall_s, c.wall, "{}: wall", c.name);
    assert_eq!(plan.imbalance, c.imbalance, "{}: imbalance", c.name);
}

#[test]
fn lower_bound_wall_and_imbalance() {
    let cases = [
        Case {
            name: "one shard has no imbalance",
            pools: &[(1.0, 0.0)],
            durations: &[1.0, 2.0, 3.0],
            shards: &[(0, 0, &[0, 1, 2], &[])],
            predicted: &[6.0],
            lower_bound: 6.0,
            wall: 6.0,
            imbalance: 0.0,
        },
        Case {
            name: "perfect split",
            pools: &[(1.0, 0.0)],
            durations: &[4.0, 1.0, 3.0],
            shards: &[(0, 0, &[0], &[]), (0, 0, &[1, 2], &[])],
            predicted: &[4.0, 4.0],
            lower_bound: 4.0,
            wall: 4.0,
            imbalance: 0.0,
        },
        Case {
            name: "a giant test sets the lower bound",
            pools: &[(1.0, 0.0)],
            durations: &[6.0, 1.0, 1.0],
            shards: &[(0, 0, &[0], &[]), (0, 0, &[1, 2], &[])],
            predicted: &[6.0, 2.0],
            lower_bound: 6.0,
            wall: 6.0,
            imbalance: 0.5,
        },
        Case {
            name: "start-up is paid once per batch",
            pools: &[(1.0, 10.0)],
            durations: &[1.0, 1.0, 1.0, 1.0, 2.0],
            shards: &[(0, 0, &[0, 1, 2, 3], &[2, 2]), (0, 0, &[4], &[])],
            predicted: &[24.0, 12.0],
            // Start-up is not work: 6 / 2 = 3.
            lower_bound: 3.0,
            wall: 24.0,
            imbalance: 0.333333,
        },
        Case {
            name: "a faster pool beats the speed-1 lower bound",
            pools: &[(2.0, 0.0), (1.0, 0.0)],
            durations: &[4.0, 4.0],
            shards: &[(0, 0, &[0], &[]), (1, 0, &[1], &[])],
            predicted: &[2.0, 4.0],
            lower_bound: 4.0,
            wall: 4.0,
            imbalance: 0.333333,
        },
        Case {
            name: "waves add up, imbalance is within each wave",
            pools: &[(1.0, 0.0)],
            durations: &[5.0, 3.0, 2.0, 2.0],
            shards: &[
                (0, 0, &[0], &[]),
                (0, 0, &[1], &[]),
                (0, 1, &[2], &[]),
                (0, 1, &[3], &[]),
            ],
            predicted: &[5.0, 3.0, 2.0, 2.0],
            lower_bound: 5.0,
            wall: 7.0,
            // ideal = mean(5, 3) + mean(2, 2) = 6
            imbalance: 0.166667,
        },
        Case {
            name: "an empty shard starts nothing",
            pools: &[(1.0, 10.0)],
            durations: &[3.0],
            shards: &[(0, 0, &[0], &[]), (0, 0, &[], &[])],
            predicted: &[13.0, 0.0],
            lower_bound: 3.0,
            wall: 13.0,
            imbalance: 1.0,
        },
        Case {
            name: "no shards",
            pools: &[(1.0, 0.0)],
            durations: &[],
            shards: &[],
            predicted: &[],
            lower_bound: 0.0,
            wall: 0.0,
            imbalance: 0.0,
        },
        Case {
            name: "seconds are rounded to milliseconds",
            pools: &[(3.0, 0.0)],
            durations: &[1.0, 0.1, 0.2],
            shards: &[(0, 0, &[0, 1, 2], &[])],
            predicted: &[0.433],
            lower_bound: 1.3,
            wall: 0.433,
            imbalance: 0.0,
        },
    ];
    for c in &cases {
        check_math(c);
    }
}

#[test]
fn per_pool_measurements_override_speed() {
    let plan = small_plan();
    // gpu: 120 measured + 30 / 1.25 + 30 start-up.
    assert_eq!(plan.shards[2].predicted_s, 174.0);
    // linux, two batches: 70 + 62.25 + 2 * 12.
    assert_eq!(plan.shards[1].predicted_s, 156.25);
    assert_eq!(plan.shards[1].batches, [1, 1]);
    assert_eq!(
        plan.estimated,
        ["tests/api.py::test_logout", "tests/gpu.py::test_memory"]
    );
}

// ---------------------------------------------------------------- rerun-failed

fn summary(failures: &[(&str, Status, Option<&str>)], omitted: u64) -> Summary {
    Summary {
        schema: SUMMARY_SCHEMA.to_owned(),
        totals: Totals::default(),
        generated_by: "test".to_owned(),
        build: None,
        inputs: Vec::new(),
        suites: Vec::new(),
        failures: failures
            .iter()
            .map(|(id, status, file)| TestSummary {
                id: (*id).to_owned(),
                suite: "s".to_owned(),
                name: id.rsplit("::").next().unwrap().to_owned(),
                classname: None,
                file: file.map(str::to_owned),
                line: None,
                status: *status,
                attempts: 1,
                duration_s: None,
                message: None,
                failure_type: None,
            })
            .collect(),
        failures_omitted: omitted,
        flaky: Vec::new(),
        flaky_omitted: 0,
        slowest: Vec::new(),
    }
}

fn plan_of(shards: &[&[&str]]) -> Plan {
    let mut ids = Vec::new();
    let mut assigned = Vec::new();
    for s in shards {
        let mut list = Vec::new();
        for id in *s {
            list.push(ids.len());
            ids.push(PlanTest::new(*id, 1.0));
        }
        assigned.push(shard(0, 0, &list, &[]));
    }
    let problem = Problem {
        tests: ids,
        pools: vec![pool("p", &[], 1.0, 0.0)],
        ..Problem::default()
    };
    build_plan(&problem, &Assignment { shards: assigned }, "x")
}

#[test]
fn rerun_selects_failed_errored_and_lost() {
    struct RerunCase {
        name: &'static str,
        failures: &'static [(&'static str, Status, Option<&'static str>)],
        omitted: u64,
        plan: Option<&'static [&'static [&'static str]]>,
        seen: &'static [&'static str],
        failed: &'static [&'static str],
        lost: &'static [&'static str],
        tests: &'static [&'static str],
        warnings: usize,
    }
    let cases = [
        RerunCase {
            name: "failures only, sorted",
            failures: &[
                ("s::b", Status::Failed, None),
                ("s::a", Status::Errored, None),
                ("s::c", Status::Flaky, None),
            ],
            omitted: 0,
            plan: None,
            seen: &[],
            failed: &["s::a", "s::b"],
            lost: &[],
            tests: &["s::a", "s::b"],
            warnings: 0,
        },
        RerunCase {
            name: "a shard that never reported",
            failures: &[("s::a", Status::Failed, None)],
            omitted: 0,
            plan: Some(&[&["s::a", "s::b"], &["s::c", "s::d"]]),
            seen: &["s::a", "s::b"],
            failed: &["s::a"],
            lost: &["s::c", "s::d"],
            tests: &["s::a", "s::c", "s::d"],
            warnings: 0,
        },
        RerunCase {
            name: "a plan by file reruns the failed test's file",
            failures: &[("tests/x.py::test_a", Status::Failed, Some("tests/x.py"))],
            omitted: 0,
            plan: Some(&[&["tests/x.py"], &["tests/y.py"]]),
            seen: &["tests/x.py::test_a", "tests/x.py", "tests/y.py"],
            failed: &["tests/x.py"],
            lost: &[],
            tests: &["tests/x.py"],
            warnings: 0,
        },
        RerunCase {
            name: "failures the summary left out are warned about",
            failures: &[("s::a", Status::Failed, None)],
            omitted: 12,
            plan: None,
            seen: &[],
            failed: &["s::a"],
            lost: &[],
            tests: &["s::a"],
            warnings: 1,
        },
        RerunCase {
            name: "nothing seen: everything lost, and said so",
            failures: &[],
            omitted: 0,
            plan: Some(&[&["s::a"], &["s::b"]]),
            seen: &[],
            failed: &[],
            lost: &["s::a", "s::b"],
            tests: &["s::a", "s::b"],
            warnings: 1,
        },
    ];
    for c in &cases {
        let s = summary(c.failures, c.omitted);
        let plan = c.plan.map(plan_of);
        let seen: BTreeSet<String> = c.seen.iter().map(|s| (*s).to_owned()).collect();
        let check = plan.as_ref().map(|plan| LostCheck { plan, seen: &seen });
        let got = rerun_failed(&s, check);
        assert_eq!(got.failed, c.failed, "{}: failed", c.name);
        assert_eq!(got.lost, c.lost, "{}: lost", c.name);
        assert_eq!(got.tests, c.tests, "{}: tests", c.name);
        assert_eq!(
            got.warnings.len(),
            c.warnings,
            "{}: {:?}",
            c.name,
            got.warnings
        );
    }
}

// ---------------------------------------------------------------- emit

#[test]
fn emit_snapshots() {
    let plan = small_plan();
    for format in EmitFormat::ALL {
        insta::assert_snapshot!(format!("emit_{format}"), emitted(&plan, format));
    }
    insta::assert_snapshot!(
        "emit_gitlab-child-pipeline_waves",
        emitted(&waved_plan(), EmitFormat::GitlabChildPipeline)
    );
    let wave1 = EmitOptions {
        wave: Some(1),
        ..EmitOptions::default()
    };
    insta::assert_snapshot!(
        "emit_github-matrix_wave_1",
        emit(&waved_plan(), EmitFormat::GithubMatrix, &wave1).unwrap()
    );
}

#[test]
fn emit_format_names() {
    for format in EmitFormat::ALL {
        assert_eq!(format.name().parse::<EmitFormat>().unwrap(), format);
        assert_eq!(format.to_string(), format.name());
    }
    let err = "github".parse::<EmitFormat>().unwrap_err();
    assert!(
        err.to_string().starts_with("unknown emit format `github`"),
        "{err}"
    );
}

#[test]
fn json_forms_are_single_lines_of_json() {
    let plan = small_plan();
    for format in [
        EmitFormat::GithubMatrix,
        EmitFormat::Jenkins,
        EmitFormat::AzureMatrix,
    ] {
        let text = emitted(&plan, format);
        assert_eq!(text.lines().count(), 1, "{format}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v.is_object(), "{format}");
    }
}

#[test]
fn github_runs_on_is_a_string_for_one_label() {
    let v: serde_json::Value =
        serde_json::from_str(&emitted(&small_plan(), EmitFormat::GithubMatrix)).unwrap();
    assert_eq!(v["include"][0]["runs-on"], "ubuntu-latest");
    assert_eq!(
        v["include"][2]["runs-on"],
        serde_json::json!(["self-hosted", "linux", "gpu"])
    );
}

#[test]
fn azure_values_are_strings_and_names_are_valid() {
    let v: serde_json::Value =
        serde_json::from_str(&emitted(&small_plan(), EmitFormat::AzureMatrix)).unwrap();
    for (name, leg) in v.as_object().unwrap() {
        assert!(name.chars().next().unwrap().is_ascii_alphabetic(), "{name}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{name}"
        );
        assert!(name.len() <= 100);
        for (k, value) in leg.as_object().unwrap() {
            assert!(value.is_string(), "{name}.{k}");
        }
    }
}

#[test]
fn gitlab_parallel_is_a_count_for_uniform_runners() {
    let (problem, mut assignment) = small();
    assignment.shards[2].pool = 0;
    let plan = build_plan(&problem, &assignment, "timing");
    assert_eq!(emitted(&plan, EmitFormat::GitlabParallel), "3\n");
}

#[test]
fn jenkins_quotes_labels_that_need_it() {
    let (mut problem, assignment) = small();
    problem.pools[1].labels = vec!["linux".into(), "gpu && big".into(), "a\"b".into()];
    let plan = build_plan(&problem, &assignment, "timing");
    let v: serde_json::Value = serde_json::from_str(&emitted(&plan, EmitFormat::Jenkins)).unwrap();
    assert_eq!(v["shard-3"]["label"], r#"linux && "gpu && big" && "a\"b""#);
}

#[test]
fn jenkins_keys_keep_shard_order() {
    let shards: Vec<&[&str]> = (0..12).map(|_| &["s::t"][..]).collect();
    let plan = plan_of(&shards);
    let text = emitted(&plan, EmitFormat::Jenkins);
    let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
    assert!(at("shard-2") < at("shard-10"));
}

#[test]
fn emit_refuses_what_a_provider_cannot_run() {
    fn check(plan: &Plan, format: EmitFormat, options: EmitOptions, expected: &str) {
        let err = emit(plan, format, &options).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
    let big = plan_of(&vec![&["s::t"][..]; 300]);
    check(
        &big,
        EmitFormat::GithubMatrix,
        EmitOptions::default(),
        "300 shards are more than the 256 jobs one github-matrix may hold: emit it in 2 parts \
         (--part 1 to --part 2), one matrix job each, or plan fewer shards",
    );
    check(
        &big,
        EmitFormat::GithubMatrix,
        EmitOptions {
            part: Some(3),
            ..EmitOptions::default()
        },
        "part 3 does not exist: this github-matrix has 2 part(s) of at most 256 shards",
    );
    check(
        &waved_plan(),
        EmitFormat::AzureMatrix,
        EmitOptions::default(),
        "the plan runs in 2 waves (0, 1) and one azure-matrix starts all of its jobs at once: \
         emit each wave on its own (--wave N) and run them in order",
    );
    check(
        &waved_plan(),
        EmitFormat::Jenkins,
        EmitOptions {
            wave: Some(4),
            ..EmitOptions::default()
        },
        "no shard of the plan is in wave 4 (waves: 0, 1)",
    );
    assert!(matches!(
        emit(&plan_of(&[]), EmitFormat::Jenkins, &EmitOptions::default()),
        Err(EmitError::NoShards)
    ));
}

#[test]
fn big_plans_split_into_parts() {
    let big = plan_of(&vec![&["s::t"][..]; 300]);
    let part = |p: u32| {
        let text = emit(
            &big,
            EmitFormat::GithubMatrix,
            &EmitOptions {
                part: Some(p),
                ..EmitOptions::default()
            },
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let include = v["include"].as_array().unwrap().clone();
        (
            include.len(),
            include[0]["shard"].as_u64().unwrap(),
            include[0]["total"].as_u64().unwrap(),
        )
    };
    assert_eq!(part(1), (256, 1, 300));
    assert_eq!(part(2), (44, 257, 300));
    // GitLab's limit is lower, and a part that does not start at 1 needs the matrix form.
    let gitlab = emit(
        &big,
        EmitFormat::GitlabParallel,
        &EmitOptions {
            part: Some(2),
            ..EmitOptions::default()
        },
    )
    .unwrap();
    assert!(gitlab.contains("DTF_SHARD: [\"201\", "), "{gitlab}");
}

#[test]
fn yaml_strings_are_quoted_when_plain_would_change_them() {
    let (mut problem, assignment) = small();
    problem.pools[0].labels = vec![
        "yes".into(),
        "22.04".into(),
        "a: b".into(),
        "#x".into(),
        "line\nbreak".into(),
        "ok-label_1.2".into(),
    ];
    let plan = build_plan(&problem, &assignment, "timing");
    let text = emitted(&plan, EmitFormat::GitlabChildPipeline);
    for expected in [
        "    - \"yes\"\n",
        "    - \"22.04\"\n",
        "    - \"a: b\"\n",
        "    - \"#x\"\n",
        "    - \"line\\nbreak\"\n",
        "    - ok-label_1.2\n",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
}

#[test]
fn custom_command_and_artifact_templates() {
    let options = EmitOptions {
        command: "make test SHARD={shard}/{total} POOL={pool}".into(),
        artifact: "out/{pool}-{shard}.zip".into(),
        plan_job: "plan".into(),
        ..EmitOptions::default()
    };
    let text = emit(&small_plan(), EmitFormat::GitlabChildPipeline, &options).unwrap();
    assert!(
        text.contains("    - make test SHARD=3/3 POOL=gpu\n"),
        "{text}"
    );
    assert!(text.contains("      - out/gpu-3.zip\n"), "{text}");
    assert!(text.contains("      job: plan\n"), "{text}");
}

// ---------------------------------------------------------------- explain

#[test]
fn explain_snapshots() {
    insta::assert_snapshot!("explain", explain(&small_plan()));
    insta::assert_snapshot!("explain_waves", explain(&waved_plan()));
}

#[test]
fn human_durations() {
    let cases = [
        (0.0, "0s"),
        (-1.0, "0s"),
        (f64::NAN, "0s"),
        (0.42, "0.4s"),
        (9.9, "9.9s"),
        (9.96, "10s"),
        (42.4, "42s"),
        (59.6, "1m 00s"),
        (252.0, "4m 12s"),
        (3599.0, "59m 59s"),
        (3600.0, "1h 00m"),
        (3780.0, "1h 03m"),
        (90000.0, "25h 00m"),
    ];
    for (seconds, expected) in cases {
        assert_eq!(human_duration(seconds), expected, "{seconds}");
    }
}

// ---------------------------------------------------------------- provider schemas

/// Validates `document` with `check-jsonschema --builtin-schema NAME`, or says why not.
fn provider_schema(schema: &str, file_name: &str, document: &str) {
    let installed = Command::new("check-jsonschema")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!(
            "SKIPPED: check-jsonschema is not installed, so {file_name} is not validated \
             against {schema} (pip install check-jsonschema; .ci/run installs it)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, document).unwrap();
    let out = run_check(schema, &path);
    assert!(
        out.status.success(),
        "{schema} rejects {file_name}:\n{}\n{}\n--- document ---\n{document}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_check(schema: &str, path: &Path) -> std::process::Output {
    Command::new("check-jsonschema")
        .args(["--builtin-schema", schema])
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn gitlab_child_pipeline_passes_gitlabs_schema() {
    provider_schema(
        "vendor.gitlab-ci",
        "child.gitlab-ci.yml",
        &emitted(&small_plan(), EmitFormat::GitlabChildPipeline),
    );
    provider_schema(
        "vendor.gitlab-ci",
        "child-waves.gitlab-ci.yml",
        &emitted(&waved_plan(), EmitFormat::GitlabChildPipeline),
    );
}

#[test]
fn gitlab_parallel_matrix_passes_gitlabs_schema() {
    let parallel = emitted(&small_plan(), EmitFormat::GitlabParallel);
    let mut doc = String::from(
        "dtf-shards:\n  stage: test\n  tags: [$DTF_TAG_1, $DTF_TAG_2, $DTF_TAG_3]\n  \
         script:\n    - dtf run --plan plan.json --shard $DTF_SHARD\n",
    );
    for line in parallel.lines() {
        doc.push_str("  ");
        doc.push_str(line);
        doc.push('\n');
    }
    provider_schema("vendor.gitlab-ci", "parallel.gitlab-ci.yml", &doc);
}

#[test]
fn github_matrix_passes_githubs_schema() {
    let matrix = emitted(&small_plan(), EmitFormat::GithubMatrix);
    let doc = format!(
        "on: push\njobs:\n  test:\n    strategy:\n      fail-fast: false\n      matrix: {}\n    \
         runs-on: ${{{{ matrix.runs-on }}}}\n    steps:\n      - run: dtf run --plan plan.json \
         --shard ${{{{ matrix.shard }}}}\n",
        matrix.trim_end()
    );
    provider_schema("vendor.github-workflows", "workflow.yml", &doc);
}

#[test]
fn azure_matrix_passes_azures_schema() {
    let matrix = emitted(&small_plan(), EmitFormat::AzureMatrix);
    let doc = format!(
        "jobs:\n  - job: dtf\n    strategy:\n      matrix: {}\n    pool:\n      name: $(pool)\n      \
         demands:\n        - $(demand_1)\n        - $(demand_2)\n    steps:\n      - script: dtf \
         run --plan plan.json --shard $(shard)\n",
        matrix.trim_end()
    );
    provider_schema("vendor.azure-pipelines", "azure-pipelines.yml", &doc);
}
