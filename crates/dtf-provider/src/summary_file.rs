//! Markdown cut to a size limit without breaking it, and the GitHub job summary file.
//!
//! Providers cap what they show (GitHub: 1 MiB per step's job summary, 65,535 characters
//! for a check run's summary, 65,536 for a comment). A cut in the middle of a line, a
//! code fence or a `<details>` block garbles everything after it, so [`fit`] keeps whole
//! lines, closes what it left open, and says what was left out.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use crate::error::ProviderError;
use crate::outcome::{SkipReason, SummaryOutcome};

/// GitHub's limit on one step's job summary, in bytes.
pub const STEP_SUMMARY_LIMIT: u64 = 1 << 20;

/// How a limit is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// UTF-8 bytes (files).
    Bytes,
    /// Unicode scalar values, as `str::chars` counts (GitHub's API text fields).
    Chars,
}

impl Measure {
    fn of(self, s: &str) -> usize {
        match self {
            Measure::Bytes => s.len(),
            Measure::Chars => s.chars().count(),
        }
    }
}

/// `text` if it fits in `budget`; otherwise its longest prefix of whole lines that fits
/// together with the closers of whatever it left open (a code fence, `<details>`
/// blocks) and a note saying how much was cut. Returns the text and how many bytes of
/// `text` were left out; an empty text when not even the note fits.
pub fn fit(text: &str, budget: usize, measure: Measure) -> (String, u64) {
    if measure.of(text) <= budget {
        return (text.to_owned(), 0);
    }
    let mut best: Option<(usize, Open)> = None;
    let mut used = 0usize;
    let mut end = 0usize;
    let mut open = Open::default();
    // The note's length depends on the number in it; its longest form bounds it.
    let note_room = measure.of(&note(u64::MAX));
    loop {
        if used + open.closers_len(measure) + note_room <= budget {
            best = Some((end, open));
        } else if used > budget {
            break;
        }
        let Some(line) = text[end..].split_inclusive('\n').next() else {
            break;
        };
        used += measure.of(line);
        end += line.len();
        open.after(line);
    }
    match best {
        Some((end, open)) => {
            let mut out = text[..end].to_owned();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&open.closers());
            let cut = (text.len() - end) as u64;
            out.push_str(&note(cut));
            (out, cut)
        }
        None => (String::new(), text.len() as u64),
    }
}

fn note(cut_bytes: u64) -> String {
    format!(
        "\n> [!NOTE]\n> Cut here to stay within the provider's size limit: {cut_bytes} bytes left out. The full report is in the build's artifacts.\n"
    )
}

/// Markdown blocks open at a point of the text.
#[derive(Clone, Copy, Debug, Default)]
struct Open {
    /// Inside a fenced code block opened with this many backticks or tildes.
    fence: Option<(u8, usize)>,
    details: usize,
}

impl Open {
    fn after(&mut self, line: &str) {
        let trimmed = line.trim_start();
        let fence_char = trimmed.bytes().next().filter(|b| *b == b'`' || *b == b'~');
        if let Some(c) = fence_char {
            let run = trimmed.bytes().take_while(|b| *b == c).count();
            if run >= 3 {
                match self.fence {
                    None => self.fence = Some((c, run)),
                    Some((open_c, open_run)) if open_c == c && run >= open_run => self.fence = None,
                    Some(_) => {}
                }
                return;
            }
        }
        if self.fence.is_some() {
            return;
        }
        let lower = line.to_ascii_lowercase();
        self.details += lower.matches("<details").count();
        self.details = self
            .details
            .saturating_sub(lower.matches("</details>").count());
    }

    fn closers(&self) -> String {
        let mut s = String::new();
        if let Some((c, run)) = self.fence {
            s.push_str(&String::from(c as char).repeat(run));
            s.push('\n');
        }
        for _ in 0..self.details {
            s.push_str("</details>\n");
        }
        s
    }

    fn closers_len(&self, measure: Measure) -> usize {
        // A newline may be needed before the closers when the kept text lacks one.
        measure.of(&self.closers()) + 1
    }
}

/// Appends `markdown` to the job summary file at `path`, keeping the file within
/// [`STEP_SUMMARY_LIMIT`] including what earlier steps or commands already wrote.
pub fn append_step_summary(path: &Path, markdown: &str) -> Result<SummaryOutcome, ProviderError> {
    let existing = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(ProviderError::io(path)(e)),
    };
    // Start on a line of its own, separated from what is there.
    let separator = if existing > 0 { "\n" } else { "" };
    let room = STEP_SUMMARY_LIMIT
        .saturating_sub(existing)
        .saturating_sub(separator.len() as u64);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    let (text, cut_bytes) = fit(markdown, room, Measure::Bytes);
    if text.is_empty() {
        return Ok(SummaryOutcome::Skipped {
            reason: SkipReason::NotAvailable {
                what: format!(
                    "the job summary is full: {existing} of {STEP_SUMMARY_LIMIT} bytes already used"
                ),
            },
        });
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(ProviderError::io(path))?;
    file.write_all(separator.as_bytes())
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.flush())
        .map_err(ProviderError::io(path))?;
    Ok(SummaryOutcome::Written {
        path: path.to_owned(),
        bytes: (separator.len() + text.len()) as u64,
        cut_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(fit("a\nb\n", 10, Measure::Bytes), ("a\nb\n".to_owned(), 0));
    }

    #[test]
    fn cuts_at_a_line_and_closes_a_fence_and_details() {
        let mut text = String::from("# Title\n<details><summary>x</summary>\n\n```text\n");
        for i in 0..200 {
            text.push_str(&format!("line {i}\n"));
        }
        text.push_str("```\n</details>\nafter\n");
        let (out, cut) = fit(&text, 600, Measure::Bytes);
        assert!(out.len() <= 600, "{}", out.len());
        assert!(cut > 0);
        assert!(out.contains("line 0\n"));
        // Every line kept is whole, then the fence and details are closed, then the note.
        let fences = out.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences, 2, "{out}");
        assert!(out.contains("```\n</details>\n\n> [!NOTE]"), "{out}");
        assert!(out.contains(&format!("{cut} bytes left out")));
    }

    #[test]
    fn counts_characters_for_apis() {
        let text = "é".repeat(100) + "\n" + &"ü".repeat(100) + "\n";
        let (out, _) = fit(&text, 300, Measure::Chars);
        assert!(out.chars().count() <= 300);
        assert!(out.starts_with(&"é".repeat(100)));
    }

    #[test]
    fn nothing_when_not_even_the_note_fits() {
        let (out, cut) = fit(&"x\n".repeat(100), 20, Measure::Bytes);
        assert_eq!(out, "");
        assert_eq!(cut, 200);
    }

    #[test]
    fn a_long_single_line_is_dropped_not_split() {
        let text = format!("{}\n", "y".repeat(5000));
        let (out, cut) = fit(&text, 1000, Measure::Bytes);
        assert!(!out.contains("yy"));
        assert_eq!(cut, 5001);
    }
}
