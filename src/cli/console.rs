//! Where a command writes: its output, its warnings, and whether it may
//! draw progress.

use std::io::Write;

/// The command's two streams.
pub(crate) struct Console<'a> {
    /// The report, table or estimate.
    pub(crate) out: &'a mut dyn Write,
    /// Warnings, errors and progress.
    pub(crate) err: &'a mut dyn Write,
    /// `true` when `err` is a terminal a person watches.
    pub(crate) show_progress: bool,
}

impl<'a> Console<'a> {
    pub(crate) fn new(out: &'a mut dyn Write, err: &'a mut dyn Write, show_progress: bool) -> Self {
        Console {
            out,
            err,
            show_progress,
        }
    }
}
