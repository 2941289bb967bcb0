//! `dtf baseline`: the base branch's latest dtf results, downloaded for comparison.
//!
//! Having no baseline is normal (the first build on a branch, an expired artifact): it
//! is said on standard error and the command exits 0, so the comparison step runs
//! without one. On success the folder is printed on standard output, alone, for
//! scripts (`dir=$(dtf baseline)`).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use dtf_provider::BaselineOutcome;

use super::publish::ProviderArgs;
use crate::{CliError, Finished};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  dtf baseline --artifact dtf-results --out baseline/
  dtf baseline --provider local --from previous-report/ --out baseline/
  dtf baseline --provider gitlab --job report --out baseline/   # in a GitLab job

On GitLab the baseline is the artifacts archive of --job in the latest successful
pipeline on the merge request's target branch (else this branch), downloaded with
CI_JOB_TOKEN (or the --token-env token) and unpacked whole into --out.")]
pub struct BaselineArgs {
    #[command(flatten)]
    pub provider: ProviderArgs,
    /// The artifact holding the base branch's dtf results (the name the action uploads its
    /// report folder under).
    #[arg(long, value_name = "NAME", default_value = "dtf-results")]
    pub artifact: String,
    /// GitLab: the job whose artifacts are the baseline (the report job).
    #[arg(long, value_name = "NAME", default_value = "report")]
    pub job: String,
    /// Where to unpack it.
    #[arg(long, value_name = "DIR", default_value = "baseline")]
    pub out: PathBuf,
    /// Local provider: a folder holding the artifact (as a subfolder or NAME.zip), the
    /// artifact folder itself, or a zip.
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,
    /// Exit with code 3 when the provider could not be reached or answered an error
    /// (having no baseline still exits 0).
    #[arg(long)]
    pub fail_on_error: bool,
}

pub fn run(args: &BaselineArgs, quiet: bool) -> Result<Finished, CliError> {
    // The local provider writes nothing here; its folder is only where it would.
    let provider = args
        .provider
        .open(&args.out, args.from.as_deref(), Some(&args.job))?;
    if !quiet {
        eprintln!("{}", describe(provider.as_ref()));
    }
    for n in &provider.context().notices {
        eprintln!("notice: {n}");
    }
    match provider.fetch_baseline(&args.artifact, &args.out) {
        Ok(BaselineOutcome::Downloaded { path, build }) => {
            if !quiet {
                let mut from = format!("build {}", build.id);
                if let Some(branch) = &build.branch {
                    from.push_str(&format!(" on {branch}"));
                }
                if let Some(commit) = &build.commit {
                    from.push_str(&format!(" (commit {})", commit.get(..12).unwrap_or(commit)));
                }
                eprintln!(
                    "baseline: {} from {from} → {}",
                    build.artifact,
                    path.display()
                );
            }
            println!("{}", path.display());
            Ok(Finished::Ok)
        }
        Ok(BaselineOutcome::NotFound { reason }) => {
            eprintln!("no baseline: {reason}");
            Ok(Finished::Ok)
        }
        Err(e) if args.fail_on_error => Err(CliError::BadInput(
            anyhow!(e).context(format!("fetching the baseline {}", args.artifact)),
        )),
        Err(e) => {
            eprintln!("no baseline: fetching {} failed: {e}", args.artifact);
            Ok(Finished::Ok)
        }
    }
}

fn describe(provider: &dyn dtf_provider::Provider) -> String {
    let c = provider.context();
    let mut s = format!("baseline from {}", c.provider.as_str());
    if let Some(r) = &c.repository {
        s.push_str(&format!(" {r}"));
    }
    match c.baseline_branch() {
        Some(b) => s.push_str(&format!(", branch {b}")),
        None => s.push_str(", no branch"),
    }
    s
}
