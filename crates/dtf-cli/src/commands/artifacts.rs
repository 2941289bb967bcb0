//! `dtf artifacts pack | verify | ls | unpack | discover`.

use anyhow::anyhow;
use dtf_artifacts::bundle::{PackOptions, UnpackLimits};

use crate::args::ArtifactsCommand;
use crate::{CliError, Finished};

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn run(cmd: ArtifactsCommand, quiet: bool) -> Result<Finished, CliError> {
    let bad = |e: dtf_artifacts::Error| CliError::BadInput(anyhow!(e));
    match cmd {
        ArtifactsCommand::Pack { dir, output } => {
            let detected = dtf_env::from_process_env();
            let options = PackOptions {
                build: Some(detected.metadata),
            };
            let packed =
                dtf_artifacts::bundle::pack(&dir, &output, &options).map_err(|e| match e {
                    dtf_artifacts::Error::Io { .. } => CliError::Output(anyhow!(e)),
                    other => CliError::BadInput(anyhow!(other)),
                })?;
            if !quiet {
                for s in &packed.skipped {
                    eprintln!("warning: not packed: {s}");
                }
                let bytes: u64 = packed.manifest.files.iter().map(|f| f.size).sum();
                eprintln!(
                    "packed {} files ({}) into {}",
                    packed.manifest.files.len(),
                    human(bytes),
                    output.display()
                );
            }
            Ok(Finished::Ok)
        }
        ArtifactsCommand::Verify { bundle } => {
            let report = dtf_artifacts::bundle::verify(&bundle).map_err(bad)?;
            for (label, names) in [
                ("changed", &report.changed),
                ("missing", &report.missing),
                ("extra", &report.extra),
            ] {
                for n in names {
                    println!("{label:8} {n}");
                }
            }
            if report.is_ok() {
                if !quiet {
                    eprintln!(
                        "{}: all {} files match the manifest",
                        bundle.display(),
                        report.ok.len()
                    );
                }
                Ok(Finished::Ok)
            } else {
                Err(CliError::Verify(anyhow!(
                    "{}: {} changed, {} missing, {} extra (of {} listed)",
                    bundle.display(),
                    report.changed.len(),
                    report.missing.len(),
                    report.extra.len(),
                    report.ok.len() + report.changed.len() + report.missing.len()
                )))
            }
        }
        ArtifactsCommand::Ls { bundle, json } => {
            let manifest = dtf_artifacts::bundle::list(&bundle).map_err(bad)?;
            if json {
                let text = serde_json::to_string_pretty(&manifest)
                    .map_err(|e| CliError::Output(anyhow!(e)))?;
                println!("{text}");
            } else {
                for f in &manifest.files {
                    let kind = serde_json::to_value(f.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let short = f.sha256.get(..12).unwrap_or(&f.sha256);
                    println!("{kind:<10} {:>10}  {short}  {}", human(f.size), f.name);
                }
            }
            Ok(Finished::Ok)
        }
        ArtifactsCommand::Unpack { bundle, dest } => {
            let manifest = dtf_artifacts::bundle::unpack(&bundle, &dest, &UnpackLimits::default())
                .map_err(bad)?;
            if !quiet {
                eprintln!(
                    "unpacked {} files into {}",
                    manifest.files.len(),
                    dest.display()
                );
            }
            Ok(Finished::Ok)
        }
        ArtifactsCommand::Discover { dir, pattern } => {
            let patterns: Vec<&str> = pattern.iter().map(String::as_str).collect();
            let found = dtf_artifacts::discover(&dir, &patterns).map_err(bad)?;
            for b in &found.bundles {
                println!("bundle  {}", b.display());
            }
            for j in &found.junit {
                println!("junit   {}", j.display());
            }
            for (b, why) in &found.invalid_bundles {
                eprintln!("warning: {}: {why}", b.display());
            }
            Ok(Finished::Ok)
        }
    }
}
