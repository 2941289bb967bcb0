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
//! 4. **report**: the bundles are merged and every report written, the timeline
//!    of the three runs included.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::anyhow;
use dtf_core::metadata::{BuildMetadata, Provider};

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
        repository: Some("example/acme-shop".into()),
        branch: Some("feature/faster-checkout".into()),
        base_branch: Some("main".into()),
        build_id: Some("demo".into()),
        ..BuildMetadata::default()
    };
    say(format!("4. report: {}", super::merge::headline(&merged)));
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
        },
    )?;
    for p in &written.paths {
        say(format!("   wrote {}", p.display()));
    }
    // The one line on standard output: where to look.
    println!("{}", out.display());
    say(format!(
        "open {}/report/report.html in a browser",
        out.display()
    ));
    Ok(Finished::Ok)
}
