//! `dtf plan`: flags and `dtf.toml` resolved into one problem, a strategy run on it,
//! and the plan written as `plan.json`, a provider's form, or a table.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow};
use dtf_plan::capability::{ResolveOptions, resolve_with};
use dtf_plan::config::{Config, parse_duration};
use dtf_plan::discover::{DiscoverOptions, Preset, discover, discover_cmd};
use dtf_plan::durations::{History, HistoryOptions};
use dtf_plan::emit::{EmitFormat, EmitOptions, emit};
use dtf_plan::explain::explain;
use dtf_plan::inventory::{Inventory, Unit};
use dtf_plan::model::{PLAN_SCHEMA, Plan, Problem};
use dtf_plan::output::build_plan;
use dtf_plan::strategy;

use super::merge::write_atomically;
use crate::args::PlanArgs;
use crate::{CliError, Finished};

fn bad(e: impl Into<anyhow::Error>) -> CliError {
    CliError::BadInput(e.into())
}

/// `dtf.toml` from `--config`, else from the current folder when it has one.
fn load_config(path: Option<&Path>) -> Result<Config, CliError> {
    match path {
        Some(p) => Config::load(p).map_err(bad),
        None if Path::new("dtf.toml").is_file() => Config::load(Path::new("dtf.toml")).map_err(bad),
        None => Config::from_toml("", "(no dtf.toml)").map_err(bad),
    }
}

/// Everything the flags and the config say, resolved once, flags first.
struct Settings {
    strategy: String,
    shards: u32,
    unit: Unit,
    waves: bool,
    deadline: Option<f64>,
    max_batch: usize,
}

fn settings(args: &PlanArgs, config: &Config) -> Result<Settings, CliError> {
    let strategy = args
        .strategy
        .clone()
        .or_else(|| config.plan.strategy.clone())
        .unwrap_or_else(|| strategy::DEFAULT.to_owned());
    // Checked here so that a typo in dtf.toml is named before any work.
    strategy::by_name(&strategy).map_err(|e| bad(anyhow!("cannot plan: {e}")))?;
    let deadline = match &args.deadline {
        Some(text) => {
            Some(parse_duration(text).map_err(|e| bad(anyhow!("--deadline {text}: {e}")))?)
        }
        None => config.plan.deadline,
    };
    let shards = args
        .max_shards
        .or(args.shards)
        .or(config.plan.shards)
        .ok_or_else(|| {
            bad(anyhow!(
                "how many shards? pass --shards N (or set `shards` under [plan] in dtf.toml)"
            ))
        })?;
    let unit = match args.unit.as_deref() {
        Some(u) => u.parse().map_err(|e: String| bad(anyhow!(e)))?,
        None => config.plan.unit.unwrap_or_default(),
    };
    Ok(Settings {
        strategy,
        shards,
        unit,
        waves: args.waves || config.plan.waves.unwrap_or(false),
        deadline,
        max_batch: args.max_batch.or(config.plan.max_batch).unwrap_or(0),
    })
}

/// The tests to plan, by the first source the flags name.
fn inventory(args: &PlanArgs, history: &History) -> Result<(Inventory, bool), CliError> {
    let options = DiscoverOptions {
        root: args.root.clone(),
        ..DiscoverOptions::default()
    };
    if let Some(list) = &args.tests {
        return Ok((Inventory::read_list(list).map_err(bad)?, false));
    }
    if let Some(preset) = &args.discover {
        let preset: Preset = preset.parse().map_err(bad)?;
        return Ok((discover(preset, &options).map_err(bad)?, false));
    }
    if let Some(cmd) = &args.discover_cmd {
        return Ok((discover_cmd(cmd, &options).map_err(bad)?, false));
    }
    if let Some(results) = &args.rerun_failed {
        let planned: Vec<String> = match &args.previous_plan {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))
                    .map_err(bad)?;
                let plan = Plan::read(&text, &p.display().to_string()).map_err(bad)?;
                plan.shards.into_iter().flat_map(|s| s.tests).collect()
            }
            None => Vec::new(),
        };
        return Ok((
            Inventory::rerun_from_path(results, &planned).map_err(bad)?,
            true,
        ));
    }
    if history.is_empty() {
        return Err(bad(anyhow!(
            "no tests to plan: pass --timings with earlier results, --tests LIST, --discover PRESET or --discover-cmd CMD"
        )));
    }
    Ok((Inventory::from_history(history), false))
}

pub fn run(args: &PlanArgs, quiet: bool) -> Result<Finished, CliError> {
    let config = load_config(args.config.as_deref())?;
    let s = settings(args, &config)?;
    let history = History::from_timing_args(
        &args.timings,
        &HistoryOptions {
            keep_going: args.keep_going,
        },
    )
    .map_err(bad)?;
    let (inventory, partial) = inventory(args, &history)?;
    if !quiet {
        for w in history.warnings().iter().chain(&inventory.warnings) {
            eprintln!("warning: {w}");
        }
    }
    let mut tests = inventory.plan_tests(s.unit, &history);
    let resolved = resolve_with(
        &config,
        &mut tests,
        ResolveOptions {
            partial_inventory: partial,
            default_startup: history.startup_estimate().unwrap_or(0.0),
        },
    )
    .map_err(bad)?;
    if !quiet {
        for w in &resolved.warnings {
            eprintln!("warning: {w}");
        }
    }
    let mut problem = Problem {
        tests,
        shards: s.shards,
        waves: s.waves,
        deadline: s.deadline,
        max_batch: s.max_batch,
        ..Problem::default()
    };
    resolved.apply(&mut problem);
    if problem.pools.is_empty() {
        let mut pool = strategy::default_pool(s.shards);
        pool.startup = history.startup_estimate().unwrap_or(0.0);
        problem.pools.push(pool);
    }
    let chosen = strategy::by_name(&s.strategy).map_err(|e| bad(anyhow!("cannot plan: {e}")))?;
    let (assignment, report) = chosen
        .plan_with_report(&problem)
        .map_err(|e| bad(anyhow!("cannot plan: {e}")))?;
    let mut plan = build_plan(&problem, &assignment, chosen.name());
    debug_assert_eq!(plan.schema, PLAN_SCHEMA);
    // The strategy's own notes: shards per group, quota overage, deadline risk.
    plan.warnings.extend(report.notes.iter().cloned());

    let stdout_taken = args.emit.is_some() || args.output.as_deref() == Some(Path::new("-"));
    match &args.output {
        Some(p) if p.as_os_str() == "-" => print_out(&plan.to_json())?,
        Some(p) => write_atomically(p, |w| w.write_all(plan.to_json().as_bytes()))?,
        None if args.emit.is_none() && !args.explain => print_out(&plan.to_json())?,
        None => {}
    }
    if let Some(format) = &args.emit {
        let format: EmitFormat = format.parse().map_err(bad)?;
        let defaults = EmitOptions::default();
        let options = EmitOptions {
            command: args.emit_command.clone().unwrap_or(defaults.command),
            artifact: args.emit_artifact.clone().unwrap_or(defaults.artifact),
            plan_job: args.emit_plan_job.clone().unwrap_or(defaults.plan_job),
            stage: args.emit_stage.clone().unwrap_or(defaults.stage),
            wave: args.wave,
            part: args.part,
        };
        let text = emit(&plan, format, &options).map_err(bad)?;
        print_out(&text)?;
    }
    if args.explain {
        let table = explain(&plan);
        if stdout_taken {
            eprint!("{table}");
        } else {
            print_out(&table)?;
        }
    } else if !quiet {
        eprintln!(
            "planned {} tests into {} shards with {}: predicted wall {} (lower bound {}, imbalance {:.1}%){}",
            plan.totals.tests,
            plan.shards.len(),
            plan.strategy,
            strategy::format_duration(plan.predicted_wall_s),
            strategy::format_duration(plan.lower_bound_s),
            plan.imbalance * 100.0,
            match &args.output {
                Some(p) if p.as_os_str() != "-" => format!(", wrote {}", p.display()),
                _ => String::new(),
            }
        );
        for w in &plan.warnings {
            eprintln!("note: {w}");
        }
    }
    Ok(Finished::Ok)
}

fn print_out(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .map_err(|e| CliError::Output(anyhow!(e).context("writing to standard output")))
}
