//! `dtf demo`: the whole pipeline on one machine, on the example suite built into the
//! binary. No network, no token, no provider: what a CI pipeline with dtf does, in one
//! command.

use std::path::Path;

use anyhow::anyhow;
use dtf_artifacts::bundle::PackOptions;
use dtf_core::metadata::{BuildMetadata, Provider, Shard};

use super::merge::{Merged, merge_inputs, write_atomically};
use super::report::write_reports;
use crate::args::{DemoArgs, MergeInputs, ReportFormat};
use crate::{CliError, Finished};

/// The example suite's shard results, as three CI runners and one rerun job left them.
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

fn out_err(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |e| CliError::Output(anyhow!(e).context(format!("writing {}", path.display())))
}

pub fn run(args: &DemoArgs, quiet: bool) -> Result<Finished, CliError> {
    let out = &args.out_dir;
    let say = |s: String| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    say(format!(
        "dtf demo: the example suite, {} shard jobs, no network",
        SHARDS.len()
    ));

    // 1. Each "runner" leaves its results, packed into a verifiable bundle.
    let bundles_dir = out.join("bundles");
    std::fs::create_dir_all(&bundles_dir).map_err(out_err(&bundles_dir))?;
    let total = SHARDS
        .iter()
        .filter(|(n, _)| n.starts_with("shard-"))
        .count() as u32;
    let mut bundle_paths = Vec::new();
    for (i, (name, xml)) in SHARDS.iter().enumerate() {
        let job_dir = out.join("runners").join(name);
        let junit = job_dir.join("junit.xml");
        write_atomically(&junit, |w| w.write_all(xml.as_bytes()))?;
        let build = BuildMetadata {
            provider: Provider::Local,
            repository: Some("example/acme-shop".into()),
            branch: Some("feature/faster-checkout".into()),
            base_branch: Some("main".into()),
            build_id: Some("demo".into()),
            job: Some((*name).into()),
            shard: name.starts_with("shard-").then_some(Shard {
                index: i as u32 + 1,
                total,
            }),
            runner_name: Some(format!("local-{}", i + 1)),
            ..BuildMetadata::default()
        };
        let bundle = bundles_dir.join(format!("{name}.zip"));
        let packed =
            dtf_artifacts::bundle::pack(&job_dir, &bundle, &PackOptions { build: Some(build) })
                .map_err(|e| CliError::Output(anyhow!(e)))?;
        let report =
            dtf_artifacts::bundle::verify(&bundle).map_err(|e| CliError::BadInput(anyhow!(e)))?;
        if !report.is_ok() {
            return Err(CliError::Verify(anyhow!(
                "{}: the bundle just written does not verify",
                bundle.display()
            )));
        }
        say(format!(
            "  {name}: packed {} file(s) into {} and verified it",
            packed.manifest.files.len(),
            bundle.display()
        ));
        bundle_paths.push(bundle.display().to_string());
    }

    // 2. Merge every bundle, as the report job of a pipeline does.
    let inputs = MergeInputs {
        inputs: bundle_paths,
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
    say(format!("  merged: {}", super::merge::headline(&merged)));

    // 3. Every report.
    let report_dir = out.join("report");
    let written = write_reports(
        &merged,
        &report_dir,
        &[
            ReportFormat::Md,
            ReportFormat::Html,
            ReportFormat::Junit,
            ReportFormat::Json,
        ],
        None,
        "acme-shop: feature/faster-checkout",
        20_000,
        Merged::write_limits(&inputs),
    )?;
    for p in &written.paths {
        say(format!("  wrote {}", p.display()));
    }
    let shown = std::fs::canonicalize(out).unwrap_or_else(|_| out.clone());
    // The one line on standard output: where to look.
    println!("{}", shown.display());
    say(format!(
        "open {}/report/report.html in a browser",
        shown.display()
    ));
    Ok(Finished::Ok)
}
