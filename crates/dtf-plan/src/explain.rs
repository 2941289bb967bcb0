//! `dtf plan --explain`: the plan as a table a person can judge at a glance.
//!
//! One row a shard with a bar proportional to its predicted time, so that a shard
//! that sticks out is seen before it is read; then the numbers that say how good the
//! plan is (lower bound, predicted wall time, imbalance) and how much it rests on
//! guesses (estimated durations). Plain text, fixed width, no colour: it goes into CI
//! logs as well as terminals.

use crate::model::Plan;

/// Width of the longest bar, in character cells.
const BAR_WIDTH: usize = 40;

/// The table, ending in a newline.
pub fn explain(plan: &Plan) -> String {
    let multi_wave = plan.waves().len() > 1;
    let mut pools: Vec<&str> = plan.shards.iter().map(|s| s.pool.as_str()).collect();
    pools.sort_unstable();
    pools.dedup();

    let mut out = format!(
        "dtf plan: strategy {}, {} on {}, {}\n\n",
        plan.strategy,
        count(plan.shards.len(), "shard", "shards"),
        count(pools.len(), "pool", "pools"),
        count(plan.totals.tests, "test", "tests"),
    );

    let header = if multi_wave {
        ["shard", "wave", "pool", "tests", "predicted"].as_slice()
    } else {
        ["shard", "pool", "tests", "predicted"].as_slice()
    };
    let longest = plan
        .shards
        .iter()
        .map(|s| s.predicted_s)
        .fold(0.0_f64, f64::max);
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(plan.shards.len());
    for s in &plan.shards {
        let mut row = vec![s.index.to_string()];
        if multi_wave {
            row.push(s.wave.to_string());
        }
        row.push(s.pool.clone());
        row.push(s.tests.len().to_string());
        row.push(human_duration(s.predicted_s));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // The pool column reads left to right; numbers align on the right.
    let pool_col = if multi_wave { 2 } else { 1 };
    let line = |cells: &[String], bar: &str| {
        let mut l = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let pad = " ".repeat(widths[c].saturating_sub(cell.chars().count()));
            if c > 0 {
                l.push_str("  ");
            }
            if c == pool_col {
                l.push_str(cell);
                l.push_str(&pad);
            } else {
                l.push_str(&pad);
                l.push_str(cell);
            }
        }
        if !bar.is_empty() {
            l.push_str("  ");
            l.push_str(bar);
        }
        l.trim_end().to_owned() + "\n"
    };
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    out.push_str(&line(&header, ""));
    for (row, s) in rows.iter().zip(&plan.shards) {
        out.push_str(&line(row, &bar(s.predicted_s, longest)));
    }

    let work = format!(
        "{} ({} at speed 1.0, start-up excluded)",
        human_duration(plan.totals.work_s),
        count(plan.totals.tests, "test", "tests")
    );
    let estimated = if plan.totals.estimated == 0 {
        "none: every duration was measured".to_owned()
    } else {
        format!(
            "{} of {} durations (no history)",
            plan.totals.estimated, plan.totals.tests
        )
    };
    let footer = [
        ("total work", work),
        ("lower bound", human_duration(plan.lower_bound_s)),
        ("predicted wall", human_duration(plan.predicted_wall_s)),
        ("imbalance", format!("{:.1}%", plan.imbalance * 100.0)),
        ("estimated", estimated),
    ];
    out.push('\n');
    for (k, v) in footer {
        out.push_str(&format!("{k:<16}{v}\n"));
    }
    if !plan.warnings.is_empty() {
        out.push_str("warnings\n");
        for w in &plan.warnings {
            out.push_str(&format!("  - {w}\n"));
        }
    }
    out
}

/// Seconds for people: `0.4s`, `42s`, `4m 12s`, `1h 03m`.
pub fn human_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds <= 0.0 {
        return "0s".to_owned();
    }
    if seconds < 9.95 {
        return format!("{seconds:.1}s");
    }
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => {
            let m = (s + 30) / 60;
            format!("{}h {:02}m", m / 60, m % 60)
        }
    }
}

/// A bar of `value / max` of [`BAR_WIDTH`] cells, in eighths of a cell.
fn bar(value: f64, max: f64) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    if !max.is_finite() || max <= 0.0 || !value.is_finite() || value <= 0.0 {
        return String::new();
    }
    let eighths = ((value / max).min(1.0) * (BAR_WIDTH * 8) as f64).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    let rest = eighths % 8;
    if rest > 0 {
        s.push(EIGHTHS[rest]);
    }
    if s.is_empty() {
        // Some time, however little, shows.
        s.push('▏');
    }
    s
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
