//! `dtf run`: one shard of a plan, on this runner.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, anyhow};
use dtf_core::categorize::Categorizer;
use dtf_plan::capability::parse_size;
use dtf_plan::config::{Config, parse_duration};
use dtf_plan::model::Plan;
use dtf_run::preset::{PresetOptions, by_name_with, template_with};
use dtf_run::shard::{
    Parallelism, Resources, RunError, RunOptions, ShardOutcome, ShardRun, needs_from_config,
    together_from_config,
};
use dtf_run::status::{Event, LineSink, Progress, StatusSink};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::RunArgs;
use crate::{CliError, Finished};

fn bad(e: impl Into<anyhow::Error>) -> CliError {
    CliError::BadInput(e.into())
}

fn duration(flag: &str, text: &Option<String>) -> Result<Option<Duration>, CliError> {
    text.as_deref()
        .map(|t| {
            parse_duration(t)
                .map(Duration::from_secs_f64)
                .map_err(|e| bad(anyhow!("{flag} {t}: {e}")))
        })
        .transpose()
}

/// A progress bar on a terminal.
struct BarSink {
    bar: ProgressBar,
}

impl StatusSink for BarSink {
    fn event(&mut self, event: &Event<'_>, progress: &Progress) {
        if let Event::Warning { .. } = event {
            self.bar.println(format!("{event:?}"));
        }
        self.tick(progress);
    }

    fn tick(&mut self, p: &Progress) {
        self.bar.set_length(p.total as u64);
        self.bar.set_position(p.done as u64);
        self.bar.set_message(p.line());
    }
}

/// `--shard`, else the provider's shard index.
fn shard_index(args: &RunArgs, plan: &Plan) -> Result<u32, CliError> {
    let k = match args.shard {
        Some(k) => k,
        None => dtf_env::from_process_env().metadata.shard.map(|s| s.index).ok_or_else(|| {
            bad(anyhow!(
                "which shard? pass --shard K (1 to {}), or run where the provider says (CI_NODE_INDEX, System.JobPositionInPhase, DTF_SHARD_INDEX)",
                plan.shards.len()
            ))
        })?,
    };
    if plan.shard(k).is_none() {
        return Err(bad(anyhow!(
            "the plan has shards 1 to {}, not {k}",
            plan.shards.len()
        )));
    }
    Ok(k)
}

pub fn run(args: &RunArgs, quiet: bool) -> Result<Finished, CliError> {
    let text = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("reading {}", args.plan.display()))
        .map_err(bad)?;
    let plan = Plan::read(&text, &args.plan.display().to_string()).map_err(bad)?;
    let shard = shard_index(args, &plan)?;
    let config = match &args.config {
        Some(p) => Config::load(p).map_err(bad)?,
        None if Path::new("dtf.toml").is_file() => {
            Config::load(Path::new("dtf.toml")).map_err(bad)?
        }
        None => Config::from_toml("", "(no dtf.toml)").map_err(bad)?,
    };
    let options = PresetOptions {
        root: Some(args.root.clone()),
        args: args.framework_args.clone(),
        jobs: None,
        shard: Some(shard),
        ..PresetOptions::default()
    };
    let framework = match (&args.framework, &args.command) {
        (Some(name), _) => by_name_with(name, options).map_err(bad)?,
        (None, Some(cmd)) => template_with(cmd, options).map_err(bad)?,
        (None, None) => {
            return Err(bad(anyhow!(
                "pass --framework PRESET or --command TEMPLATE"
            )));
        }
    };
    let tests: Vec<String> = plan
        .shard(shard)
        .map(|s| s.tests.clone())
        .unwrap_or_default();
    let predicted: HashMap<String, f64> = HashMap::new();
    let mode = if args.memory.is_some() || args.gpus.is_some() {
        let memory_mb = match &args.memory {
            Some(m) => {
                (parse_size(m)
                    .ok_or_else(|| bad(anyhow!("--memory {m}: not a size such as 16GB")))?
                    / 1_048_576.0) as u64
            }
            None => u64::MAX,
        };
        Parallelism::ResourceAware {
            slots: args.jobs.max(1),
            capacity: Resources {
                memory_mb,
                gpus: args.gpus.unwrap_or(0),
            },
            needs: needs_from_config(&config, &tests),
        }
    } else if args.jobs > 1 {
        Parallelism::MaxParallel(args.jobs)
    } else {
        Parallelism::Sequential
    };

    let cancel = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        // A second signal ends dtf at once; the first asks the run to stop cleanly.
        for sig in [SIGINT, SIGTERM] {
            flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&cancel))
                .and_then(|_| flag::register(sig, Arc::clone(&cancel)))
                .map_err(|e| {
                    CliError::Output(anyhow!(e).context("installing the signal handlers"))
                })?;
        }
    }

    let mut o = RunOptions::new(plan, shard, framework, &args.out_dir);
    o.mode = mode;
    o.retries = args.retries;
    o.retry_failed = args.retry_failed;
    o.test_timeout = duration("--test-timeout", &args.test_timeout)?;
    o.invocation_timeout = duration("--invocation-timeout", &args.invocation_timeout)?;
    o.status_file = args.status_file.clone();
    o.categorizer = Categorizer::from_config(&config.categories).map_err(bad)?;
    o.cancel = cancel;
    o.build = Some(dtf_env::from_process_env().metadata);
    o.predicted = predicted;
    o.together = together_from_config(&config, &tests);

    let sink: Box<dyn StatusSink> = if quiet {
        Box::new(dtf_run::status::NullSink)
    } else if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(tests.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Box::new(BarSink { bar })
    } else {
        Box::new(LineSink::new(std::io::stderr(), Duration::from_secs(30)))
    };
    let outcome = ShardRun::new(o)
        .with_sink(sink)
        .run()
        .map_err(|e| match e {
            RunError::OutputNotWritable { .. } => CliError::Output(anyhow!(e)),
            other => CliError::BadInput(anyhow!(other)),
        })?;
    if !quiet {
        report(&outcome);
    }
    Ok(finished(&outcome))
}

fn report(o: &ShardOutcome) {
    let c = &o.counts;
    eprintln!(
        "shard {}: {} passed, {} failed, {} errored, {} skipped, {} flaky, {} lost{}",
        o.shard,
        c.passed,
        c.failed,
        c.errored,
        c.skipped,
        c.flaky,
        c.lost,
        if o.partial {
            " (partial: cancelled)"
        } else {
            ""
        }
    );
    for p in &o.problems {
        eprintln!("  problem: {p}");
    }
    if let Some(b) = &o.files.bundle {
        eprintln!("  wrote {}", b.display());
    }
}

fn finished(o: &ShardOutcome) -> Finished {
    if o.partial || o.cancelled {
        Finished::Cancelled
    } else if o.counts.failures() > 0 || !o.problems.is_empty() {
        Finished::TestsFailed
    } else {
        Finished::Ok
    }
}
