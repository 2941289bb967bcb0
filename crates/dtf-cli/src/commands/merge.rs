//! `dtf merge`, and the merging that `dtf report` and `dtf demo` share.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::anyhow;
use dtf_core::junit::write::WriteLimits;
use dtf_core::merge::{MergeError, MergeOptions, MergedRun, merge};
use dtf_core::metadata::BuildMetadata;
use dtf_core::summary::{Summary, SummaryLimits};

use super::generated_by;
use crate::args::{MergeArgs, MergeInputs};
use crate::progress::Progress;
use crate::{CliError, Finished, inputs};

/// A merged run with what the command line said about it.
pub struct Merged {
    pub run: MergedRun,
    /// Arguments that named nothing usable, and inputs that could not be read.
    pub problems: Vec<(String, String)>,
    pub build: BuildMetadata,
}

impl Merged {
    /// How the command ends when nothing failed in dtf itself.
    pub fn finished(&self, fail_on_failures: bool) -> Finished {
        let t = self.run.totals();
        if !self.problems.is_empty() {
            Finished::SomeInputsBad
        } else if fail_on_failures && t.failed + t.errored > 0 {
            Finished::TestsFailed
        } else {
            Finished::Ok
        }
    }

    pub fn summary(&self) -> Result<Summary, CliError> {
        let mut s = Summary::from_run(
            &self.run,
            Some(self.build.clone()),
            &generated_by(),
            SummaryLimits::default(),
        )
        .map_err(|e| CliError::Output(anyhow!(e).context("reading back the merged results")))?;
        // Arguments that matched nothing are inputs that could not be read, too.
        for (arg, why) in &self.problems {
            if !s.inputs.iter().any(|i| &i.source == arg) {
                s.inputs.push(dtf_core::merge::InputReport {
                    source: arg.clone(),
                    cases: 0,
                    bytes: 0,
                    error: Some(why.clone()),
                });
            }
        }
        Ok(s)
    }

    pub fn write_limits(args: &MergeInputs) -> WriteLimits {
        WriteLimits {
            message: args.max_message_bytes,
            details: args.max_details_bytes,
            output: args.max_output_bytes,
        }
    }
}

/// Expands the inputs, merges them, and reports unreadable ones.
pub fn merge_inputs(args: &MergeInputs, quiet: bool) -> Result<Merged, CliError> {
    let expanded = inputs::expand(&args.inputs).map_err(CliError::BadInput)?;
    let mut problems = expanded.problems;
    if !problems.is_empty() && !args.keep_going {
        let (arg, why) = &problems[0];
        return Err(CliError::BadInput(anyhow!(
            "{arg}: {why} (use --keep-going to merge the rest)"
        )));
    }
    if expanded.inputs.is_empty() {
        return Err(CliError::BadInput(anyhow!(
            "no JUnit results found in the inputs given"
        )));
    }
    let detected = dtf_env::from_process_env();
    if !quiet {
        for w in &detected.warnings {
            eprintln!("warning: {w}");
        }
    }
    let (progress, on_input_done) = Progress::new(expanded.inputs.len(), quiet);
    let options = MergeOptions {
        keep_going: args.keep_going,
        threads: args.threads,
        on_input_done,
        ..MergeOptions::default()
    };
    let run = merge(&expanded.inputs, &options);
    progress.finish();
    let run = run.map_err(|e| match e {
        MergeError::Spool(e) => {
            CliError::Output(anyhow!(e).context("writing the temporary spool file"))
        }
        other => CliError::BadInput(
            anyhow!(other).context("use --keep-going to merge the readable inputs"),
        ),
    })?;
    for i in run.problems() {
        let why = i.error.clone().unwrap_or_default();
        if !quiet {
            eprintln!(
                "warning: {why} ({} test cases read before the error were kept)",
                i.cases
            );
        }
        problems.push((i.source.clone(), why));
    }
    Ok(Merged {
        run,
        problems,
        build: detected.metadata,
    })
}

/// Writes to `path` through a temporary file in the same folder, so a reader never
/// sees half a file and a failed write leaves no wreck.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CliError> {
    let fail = |e: std::io::Error| {
        CliError::Output(anyhow!(e).context(format!("writing {}", path.display())))
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.dtf-tmp-{}", std::process::id()));
    let result = (|| {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        write(&mut out)?;
        out.flush()?;
        // No fsync: the rename already keeps readers from seeing half a file, and
        // results of a CI job need not survive a power cut; syncing 200 MB costs more
        // than the whole merge.
        drop(out.into_inner().map_err(|e| e.into_error())?);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

pub fn write_junit(merged: &Merged, path: &Path, limits: WriteLimits) -> Result<(), CliError> {
    write_atomically(path, |out| merged.run.write_junit(out, limits).map(|_| ()))
}

pub fn write_summary(summary: &Summary, path: &Path) -> Result<(), CliError> {
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, summary)?;
        out.write_all(b"\n")
    };
    if path.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        return write(&mut lock)
            .map_err(|e| CliError::Output(anyhow!(e).context("writing to standard output")));
    }
    write_atomically(path, write)
}

/// One line a person reads at the end.
pub fn headline(merged: &Merged) -> String {
    let t = merged.run.totals();
    format!(
        "{} tests ({} cases): {} passed, {} failed, {} errored, {} skipped, {} flaky",
        t.tests, t.cases, t.passed, t.failed, t.errored, t.skipped, t.flaky
    )
}

pub fn run(args: &MergeArgs, quiet: bool) -> Result<Finished, CliError> {
    let merged = merge_inputs(&args.common, quiet)?;
    if let Some(path) = &args.junit {
        write_junit(&merged, path, Merged::write_limits(&args.common))?;
    }
    if let Some(path) = &args.json {
        let summary = merged.summary()?;
        write_summary(&summary, path)?;
    }
    if !quiet {
        eprintln!("{}", headline(&merged));
        for (what, why) in &merged.problems {
            eprintln!("  not merged: {what}: {why}");
        }
    }
    Ok(merged.finished(args.common.fail_on_failures))
}
