//! `dtf demo`: the whole pipeline on one machine, on the example suite built into the
//! binary. No network, no token, no provider: what a CI pipeline with dtf does, in one
//! command.
//!
//! 1. **plan**: the example suite's recorded results are the history; `dtf plan`
//!    splits it into three shards;
//! 2. **run**: each shard runs as its own `dtf run` process, all at once, as three
//!    CI jobs would; the example suite is a tiny framework built into dtf
//!    (`dtf example-suite`), so real processes start, fail, retry and write JUnit;
//! 3. **collect**: each run leaves a verified bundle;
//! 4. **history**: the bundles are merged and the build added to a history database
//!    that already holds eight earlier builds of `main` (made up from the example
//!    suite's records, see [`main_history`]);
//! 5. **compare**: the build against `main`'s latest build, judged against `main`'s
//!    history, as a pull-request comment would show it (`comparison.json` and
//!    `comment.md`: the local provider's comment is a file);
//! 6. **report**: every report, with the comparison, the trend, the named queries of
//!    the demo's `dtf.toml`, and the timeline of the three runs.
//!
//! Everything but the run's timings is the same on every run and every machine: the
//! history, the build's ids, commits and times are fixed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::anyhow;
use dtf_core::categorize::{Categorizer, Category};
use dtf_core::junit::read_all;
use dtf_core::metadata::{BuildMetadata, Provider};
use dtf_core::model::{Outcome, Status};
use dtf_history::ingest::{Origin, Origins, record_from_merged_with};
use dtf_history::model::{BuildInfo, BuildRecord, TestRecord};
use dtf_history::store::Store;
use dtf_plan::model::Plan;

use super::compare::{CommentArgs, ComparisonArgs, compare_merged, text_summary};
use super::history::{build_info, store_error};
use super::merge::{Merged, merge_inputs, write_atomically};
use super::report::{ReportSpec, write_reports};
use crate::args::{DemoArgs, MergeInputs, ReportFormat};
use crate::{CliError, Finished};

/// The example suite's recorded results: three CI runners and one rerun job.
pub(crate) const SHARDS: &[(&str, &str)] = &[
    (
        "shard-1",
        include_str!("../../../../examples/shards/shard-1.xml"),
    ),
    (
        "shard-2",
        include_str!("../../../../examples/shards/shard-2.xml"),
    ),
    (
        "shard-3",
        include_str!("../../../../examples/shards/shard-3.xml"),
    ),
    (
        "rerun-1",
        include_str!("../../../../examples/shards/rerun-1.xml"),
    ),
];

const SHARD_COUNT: u32 = 3;

/// Earlier builds of `main` in the demo's history.
const MAIN_BUILDS: usize = 8;
/// When the first of them ran (2025-01-01 10:00 UTC); one build every six hours.
const EPOCH: i64 = 1_735_725_600;
const BUILD_EVERY_S: i64 = 6 * 3600;
const REPOSITORY: &str = "example/acme-shop";
const BRANCH: &str = "feature/faster-checkout";

/// What happened on `main` before this branch: each test of the example suite passed
/// there at about its recorded time, except for these, so that the comparison has
/// something in every section.
mod story {
    /// Added by the branch: not in `main`'s history.
    pub const NEW: &str = "tests.test_checkout::test_split_payment";
    /// Removed by the branch: `main` still runs it.
    pub const REMOVED: (&str, f64) = ("tests.test_checkout::test_legacy_coupon_codes", 0.42);
    /// Ran on `main` (the search cluster was up); skipped now.
    pub const NEWLY_SKIPPED: (&str, f64) = ("tests.test_catalog::test_search_typo_tolerance", 0.38);
    /// Broken on `main` for its last three builds, and still.
    pub const STILL_FAILING: &str = "tests.integration.test_search_index::test_reindex";
    /// Failed twice on `main` and passed otherwise; fails now: a new failure all the
    /// same, shown with how often it flips.
    pub const FLIPPING: &str = "tests.test_inventory::test_concurrent_reservations";
    pub const FLIPPING_BUILDS: [usize; 2] = [2, 5];
    /// Failed in `main`'s last two builds; passes now.
    pub const FIXED: &str = "tests.test_cart::test_currency_rounding";
    /// Passed on retry once on `main` too.
    pub const RETRIED: &str = "tests.integration.test_payments_api::test_retry_on_502";
    /// How long each took on `main`, as a share of how long it takes now: the branch
    /// made the 3-D Secure challenge faster and the happy path slower.
    pub const SPEED: [(&str, f64); 3] = [
        ("tests.test_checkout::test_happy_path", 1.0 / 1.8),
        ("tests.test_cart::test_update_quantity", 1.0 / 1.4),
        ("tests.test_checkout::test_3ds_challenge", 2.0),
    ];
}

/// The demo's `dtf.toml`: named queries over its history, shown in the reports and
/// the comment.
const DEMO_CONFIG: &str = r#"# dtf.toml for `dtf demo`: named queries over the history database (history.db),
# shown as tables in the reports and the pull-request comment. Try:
#   dtf query --db history.db --config dtf.toml --list
#   dtf query --db history.db --config dtf.toml --name unreliable-on-main

[[query]]
name = "unreliable-on-main"
title = "Tests that failed or needed a retry on main"
sql = """
SELECT test_id,
       sum(status IN ('failed', 'errored')) AS failed,
       sum(status = 'flaky') AS flaky,
       count(*) AS builds
FROM results WHERE branch = 'main'
GROUP BY test_id HAVING sum(status IN ('failed', 'errored', 'flaky')) > 0
ORDER BY failed + flaky DESC, test_id
"""

[[query]]
name = "time-by-module"
title = "Test time by module, mean per build"
sql = """
SELECT substr(test_id, 1, instr(test_id, '::') - 1) AS module,
       round(sum(duration_s) / count(DISTINCT build_id), 2) AS seconds_per_build
FROM results GROUP BY module ORDER BY seconds_per_build DESC, module LIMIT 5
"""
"#;

/// A number in [0, 1) that depends only on `build` and `id` (splitmix64 over FNV-1a):
/// the history's noise, the same on every machine.
fn unit_noise(build: usize, id: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ (build as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn commit_of(build: usize) -> String {
    (0..5).fold(String::new(), |mut s, k| {
        let part = (unit_noise(build, &format!("commit-{k}")) * f64::from(u32::MAX)) as u32;
        s.push_str(&format!("{part:08x}"));
        s
    })
}

/// `main`'s earlier builds, oldest first: every test of the example suite at its
/// recorded time give or take 3%, with the exceptions of [`story`].
fn main_history() -> Result<Vec<BuildRecord>, CliError> {
    // The first attempt of each test, as the shard jobs recorded it.
    let mut recorded: Vec<(String, f64, bool)> = Vec::new();
    for (name, xml) in SHARDS.iter().filter(|(n, _)| n.starts_with("shard-")) {
        for case in read_all(xml.as_bytes(), name).map_err(|e| CliError::BadInput(anyhow!(e)))? {
            let id = case.id().to_string();
            if id != story::NEW && !recorded.iter().any(|(r, _, _)| *r == id) {
                let skipped = case.outcome() == Outcome::Skipped;
                recorded.push((id, case.duration.unwrap_or(0.0), skipped));
            }
        }
    }
    recorded.push((story::REMOVED.0.to_owned(), story::REMOVED.1, false));
    let mut builds = Vec::with_capacity(MAIN_BUILDS);
    for b in 1..=MAIN_BUILDS {
        let tests = recorded
            .iter()
            .map(|(id, seconds, skipped)| main_test(b, id, *seconds, *skipped))
            .collect();
        builds.push(BuildRecord {
            info: BuildInfo {
                build_id: format!("{}", 4100 + b),
                provider: "local".into(),
                repository: Some(REPOSITORY.into()),
                branch: Some("main".into()),
                base_branch: None,
                commit: Some(commit_of(b)),
                change_request: None,
                url: None,
                time_unix: EPOCH + b as i64 * BUILD_EVERY_S,
                wall_s: None,
            },
            tests,
        });
    }
    Ok(builds)
}

/// One test in `main`'s build `b` (1 is the oldest).
fn main_test(b: usize, id: &str, seconds: f64, skipped: bool) -> TestRecord {
    let noise = 0.97 + 0.06 * unit_noise(b, id);
    let share = story::SPEED
        .iter()
        .find(|(t, _)| *t == id)
        .map_or(1.0, |(_, s)| *s);
    let mut t = TestRecord {
        id: id.to_owned(),
        status: Status::Passed,
        duration_s: Some(((seconds * share * noise) * 1000.0).round() / 1000.0),
        attempts: 1,
        category: None,
        message: None,
        shard: None,
        pool: Some("default".into()),
        labels: Vec::new(),
    };
    let mut fail = |status, category, message: &str| {
        t.status = status;
        t.category = Some(category);
        t.message = Some(message.to_owned());
    };
    if id == story::NEWLY_SKIPPED.0 {
        t.duration_s = Some(((story::NEWLY_SKIPPED.1 * noise) * 1000.0).round() / 1000.0);
    } else if skipped {
        t.status = Status::Skipped;
        t.duration_s = Some(0.0);
    } else if id == story::STILL_FAILING && b + 3 > MAIN_BUILDS {
        fail(
            Status::Errored,
            Category::Infrastructure,
            "ConnectionRefusedError: [Errno 111] Connection refused: 'localhost:9200'",
        );
        t.attempts = 3;
    } else if id == story::FLIPPING && story::FLIPPING_BUILDS.contains(&b) {
        fail(
            Status::Failed,
            Category::Assertion,
            "AssertionError: reserved 11 units but only 10 in stock",
        );
    } else if id == story::FIXED && b + 2 > MAIN_BUILDS {
        fail(
            Status::Failed,
            Category::Assertion,
            "AssertionError: assert Decimal('10.01') == Decimal('10.00')",
        );
    } else if id == story::RETRIED && b == 4 {
        fail(
            Status::Flaky,
            Category::Infrastructure,
            "requests.exceptions.HTTPError: 502 Server Error: Bad Gateway",
        );
        t.attempts = 2;
    }
    t
}

/// Where each test ran, as the plan put it (`dtf history ingest --plan` does the same).
fn plan_origins(plan: &Path) -> Result<Origins, CliError> {
    let text = std::fs::read_to_string(plan).map_err(|e| {
        CliError::BadInput(anyhow!(e).context(format!("reading {}", plan.display())))
    })?;
    let plan = Plan::read(&text, &plan.display().to_string())
        .map_err(|e| CliError::BadInput(anyhow!(e)))?;
    let mut origins = Origins::new();
    for s in &plan.shards {
        let origin = Origin {
            shard: s.index.checked_sub(1),
            pool: Some(s.pool.clone()).filter(|p| !p.is_empty()),
            labels: s.labels.clone(),
        };
        for t in &s.tests {
            origins.insert(t.as_str(), &origin);
        }
    }
    Ok(origins)
}

fn out_err(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |e| CliError::Output(anyhow!(e).context(format!("writing {}", path.display())))
}

fn dtf_command(exe: &Path, quiet: bool) -> Command {
    let mut c = Command::new(exe);
    if quiet {
        c.arg("--quiet");
    }
    // A CI machine's variables would make the demo's runs think they are CI jobs.
    for var in [
        "CI_NODE_INDEX",
        "CI_NODE_TOTAL",
        "SYSTEM_JOBPOSITIONINPHASE",
        "DTF_SHARD_INDEX",
    ] {
        c.env_remove(var);
    }
    c
}

fn check(
    step: &str,
    status: std::io::Result<std::process::ExitStatus>,
    ok: &[i32],
) -> Result<(), CliError> {
    let status =
        status.map_err(|e| CliError::Output(anyhow!(e).context(format!("starting {step}"))))?;
    match status.code() {
        Some(code) if ok.contains(&code) => Ok(()),
        _ => Err(CliError::BadInput(anyhow!("{step} ended with {status}"))),
    }
}

pub fn run(args: &DemoArgs, quiet: bool) -> Result<Finished, CliError> {
    let out = &args.out_dir;
    let say = |s: String| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Output(anyhow!(e).context("finding the dtf executable")))?;
    std::fs::create_dir_all(out).map_err(out_err(out))?;
    let out = std::fs::canonicalize(out).map_err(out_err(out))?;

    // 0. The history: the example suite's last build, as its CI runners left it.
    let history = out.join("history");
    for (name, xml) in SHARDS {
        let path = history.join(format!("{name}.xml"));
        write_atomically(&path, |w| w.write_all(xml.as_bytes()))?;
    }
    say(format!(
        "dtf demo in {}: the example suite, {SHARD_COUNT} shards, no network",
        out.display()
    ));

    // 0. main's earlier builds, where a CI pipeline keeps them: a history database.
    let db = out.join("history.db");
    // A rerun of the demo starts from scratch: the same history, not a longer one.
    for stale in [db.clone(), out.join("history.db-journal")] {
        match std::fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(out_err(&stale)(e)),
            _ => {}
        }
    }
    let mut store = Store::open(&db).map_err(store_error)?;
    for build in main_history()? {
        store.ingest(&build).map_err(store_error)?;
    }
    let config = out.join("dtf.toml");
    write_atomically(&config, |w| w.write_all(DEMO_CONFIG.as_bytes()))?;
    say(format!(
        "0. history: {MAIN_BUILDS} earlier builds of main in {}",
        db.display()
    ));

    // 1. Plan.
    let plan = out.join("plan.json");
    say("1. plan: split the suite from the last build's timings".into());
    let status = dtf_command(&exe, true)
        .args(["plan", "--shards", &SHARD_COUNT.to_string(), "--timings"])
        .arg(&history)
        .arg("-o")
        .arg(&plan)
        .status();
    check("dtf plan", status, &[0])?;
    if !quiet {
        let status = dtf_command(&exe, true)
            .args([
                "plan",
                "--shards",
                &SHARD_COUNT.to_string(),
                "--explain",
                "--timings",
            ])
            .arg(&history)
            // Standard output is for the folder's name alone.
            .stdout(std::process::Stdio::from(std::io::stderr()))
            .status();
        check("dtf plan --explain", status, &[0])?;
    }

    // 2. Run every shard at once, each its own process, as CI jobs would.
    say(format!(
        "2. run: {SHARD_COUNT} shards in parallel, retrying transient failures"
    ));
    let state = out.join("example-state");
    // A rerun of the demo starts from scratch: flaky tests fail first again.
    let _ = std::fs::remove_dir_all(&state);
    let mut children = Vec::new();
    let mut results: Vec<PathBuf> = Vec::new();
    for k in 1..=SHARD_COUNT {
        let dir = out.join(format!("shard-{k}"));
        let _ = std::fs::remove_dir_all(&dir);
        let template = format!(
            "'{}' example-suite --tests-file {{tests_file}} --junit {{junit}} --state-dir '{}'",
            exe.display(),
            state.join(format!("shard-{k}")).display()
        );
        let child = dtf_command(&exe, true)
            .args(["run", "--plan"])
            .arg(&plan)
            .args([
                "--shard",
                &k.to_string(),
                "--retries",
                "2",
                "--test-timeout",
                "30s",
            ])
            .args(["--command", &template, "--out-dir"])
            .arg(&dir)
            .spawn()
            .map_err(|e| CliError::Output(anyhow!(e).context("starting dtf run")))?;
        children.push((k, child));
        results.push(dir);
    }
    for (k, mut child) in children {
        // 1 means tests failed: the example suite has real failures.
        check(&format!("dtf run --shard {k}"), child.wait(), &[0, 1])?;
        let summary = out.join(format!("shard-{k}")).join("shard-summary.json");
        if let Ok(text) = std::fs::read_to_string(&summary)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        {
            let c = &v["counts"];
            say(format!(
                "   shard {k}: {} passed, {} failed, {} errored, {} skipped, {} flaky",
                c["passed"], c["failed"], c["errored"], c["skipped"], c["flaky"]
            ));
        }
    }

    // 3. Collect: each run left a bundle; verify them as the report job would.
    let bundles: Vec<PathBuf> = (1..=SHARD_COUNT)
        .map(|k| {
            out.join(format!("shard-{k}"))
                .join(format!("dtf-shard-{k}.zip"))
        })
        .collect();
    for b in &bundles {
        let report =
            dtf_artifacts::bundle::verify(b).map_err(|e| CliError::BadInput(anyhow!(e)))?;
        if !report.is_ok() {
            return Err(CliError::Verify(anyhow!(
                "{}: the bundle does not verify",
                b.display()
            )));
        }
    }
    say(format!(
        "3. collect: {} bundles, every file matches its sha256",
        bundles.len()
    ));

    // 4. Merge and report.
    let inputs = MergeInputs {
        inputs: bundles.iter().map(|b| b.display().to_string()).collect(),
        keep_going: false,
        fail_on_failures: false,
        max_message_bytes: 16 << 10,
        max_details_bytes: 64 << 10,
        max_output_bytes: 64 << 10,
        threads: 0,
    };
    let mut merged: Merged = merge_inputs(&inputs, true)?;
    merged.build = BuildMetadata {
        provider: Provider::Local,
        repository: Some(REPOSITORY.into()),
        branch: Some(BRANCH.into()),
        base_branch: Some("main".into()),
        commit: Some(commit_of(0)),
        build_id: Some("demo".into()),
        ..BuildMetadata::default()
    };
    let time = EPOCH + (MAIN_BUILDS as i64 + 1) * BUILD_EVERY_S;
    let info = build_info(&merged.build, None, None, None, Some(time));
    let record = record_from_merged_with(
        &merged.run,
        info,
        &Categorizer::builtin(),
        &plan_origins(&plan)?,
    )
    .map_err(|e| CliError::Output(anyhow!(e)))?;
    store.ingest(&record).map_err(store_error)?;
    drop(store);
    say(format!(
        "4. history: {}; added as build demo of {BRANCH}",
        super::merge::headline(&merged)
    ));

    // 5. Compare with main, as the pull request's comment would.
    let compared = compare_merged(
        &merged,
        &ComparisonArgs {
            baseline: Vec::new(),
            db: Some(db.clone()),
            branch: None,
            history_builds: 30,
            config: Some(config.clone()),
            build_id: None,
            build_branch: None,
            commit: None,
            time: Some(time),
        },
        quiet,
    )?;
    say("5. compare: this build against main, judged by main's history".into());
    for line in text_summary(&compared).lines().skip(1) {
        say(format!("   {line}"));
    }
    say("6. report".into());
    let timelines: Vec<PathBuf> = results.iter().map(|d| d.join("timeline.json")).collect();
    let report_dir = out.join("report");
    let written = write_reports(
        &merged,
        &report_dir,
        &ReportSpec {
            formats: &[
                ReportFormat::Md,
                ReportFormat::Html,
                ReportFormat::Junit,
                ReportFormat::Json,
            ],
            template_dir: None,
            title: "acme-shop: feature/faster-checkout",
            max_html_tests: 20_000,
            limits: Merged::write_limits(&inputs),
            timelines: &timelines,
            comparison: Some(&compared),
            comment: &CommentArgs::default(),
        },
    )?;
    for p in &written.paths {
        say(format!("   wrote {}", p.display()));
    }
    // The one line on standard output: where to look.
    println!("{}", out.display());
    say(format!(
        "open {}/report/report.html in a browser; {}/report/comment.md is the pull-request comment",
        out.display(),
        out.display()
    ));
    Ok(Finished::Ok)
}
