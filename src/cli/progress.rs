//! Progress of long work on standard error, drawn only for a person
//! watching a terminal.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::cli::figures::count;

/// How often the line is redrawn at most.
const REDRAW_EVERY: Duration = Duration::from_millis(200);

/// One line of progress, redrawn in place and cleared when done.
pub(crate) struct Progress {
    label: String,
    total_bytes: u64,
    shown: bool,
    enabled: bool,
    last_drawn: Instant,
}

impl Progress {
    /// Progress through `total_bytes` of input; `enabled` is false when
    /// standard error is not a terminal.
    pub(crate) fn new(label: String, total_bytes: u64, enabled: bool) -> Self {
        Progress {
            label,
            total_bytes,
            shown: false,
            enabled,
            last_drawn: Instant::now(),
        }
    }

    /// Redraws the line if it is time to.
    pub(crate) fn update(&mut self, err: &mut dyn Write, bytes_done: u64, records: u64) {
        if !self.enabled || self.last_drawn.elapsed() < REDRAW_EVERY {
            return;
        }
        self.last_drawn = Instant::now();
        self.shown = true;
        let _ = write!(
            err,
            "\r{}",
            line(&self.label, bytes_done, self.total_bytes, records)
        );
        let _ = err.flush();
    }

    /// Clears the line, if one was drawn.
    pub(crate) fn finish(&mut self, err: &mut dyn Write) {
        if self.shown {
            // Carriage return, then erase the line.
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}

/// `reading ledger.jsonl: 45% (450,000 records)`.
fn line(label: &str, done: u64, total: u64, records: u64) -> String {
    let percent = (u128::from(done) * 100)
        .checked_div(u128::from(total))
        .unwrap_or(100)
        .min(100);
    format!("{label}: {percent}% ({} records)", count(records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_how_far_and_how_many() {
        assert_eq!(
            line("reading l.jsonl", 450, 1_000, 450_000),
            "reading l.jsonl: 45% (450,000 records)"
        );
        assert_eq!(line("reading", 0, 0, 0), "reading: 100% (0 records)");
    }

    #[test]
    fn nothing_is_drawn_when_disabled() {
        let mut err = Vec::new();
        let mut progress = Progress::new("x".into(), 10, false);
        progress.last_drawn -= REDRAW_EVERY;
        progress.update(&mut err, 5, 1);
        progress.finish(&mut err);
        assert!(err.is_empty());
        let mut progress = Progress::new("x".into(), 10, true);
        progress.last_drawn -= REDRAW_EVERY;
        progress.update(&mut err, 5, 1);
        progress.finish(&mut err);
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "\rx: 50% (1 records)\r\x1b[2K"
        );
    }
}
