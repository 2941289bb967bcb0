//! Progress for long merges: a bar on a terminal, a plain line every few seconds in
//! CI logs (where a redrawn bar turns into noise), nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dtf_core::merge::{InputDone, ProgressFn};
use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A reporter for `total` inputs.
    pub fn new(total: usize, quiet: bool) -> (Progress, Option<ProgressFn>) {
        if quiet || total < 2 {
            return (Progress { bar: None }, None);
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} merging [{bar:30}] {pos}/{len} inputs, {msg} ({elapsed})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            let b = bar.clone();
            let cases = Arc::new(Mutex::new(0u64));
            let cb: ProgressFn = Arc::new(move |done: &InputDone| {
                if let Ok(mut c) = cases.lock() {
                    *c += done.cases;
                    b.set_message(format!("{} test cases", *c));
                }
                b.inc(1);
            });
            return (Progress { bar: Some(bar) }, Some(cb));
        }
        let state = Arc::new(Mutex::new((Instant::now(), 0usize, 0u64)));
        let cb: ProgressFn = Arc::new(move |done: &InputDone| {
            if let Ok(mut s) = state.lock() {
                s.1 += 1;
                s.2 += done.cases;
                if s.0.elapsed() >= Duration::from_secs(5) || s.1 == total {
                    eprintln!("dtf: merged {}/{} inputs, {} test cases", s.1, total, s.2);
                    s.0 = Instant::now();
                }
            }
        });
        (Progress { bar: None }, Some(cb))
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
