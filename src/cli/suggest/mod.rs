//! `spendguard suggest LEDGER…`: limits from data, not guesses. The guides'
//! arithmetic: a per-task budget at 2–3× the median cost of a real task
//! (`--task-factor`, 2.5), a daily cap per agent and per key at about 1.5×
//! the busiest normal day (`--day-factor`), alerts at 50% and 80%.
//!
//! "Normal" leaves out the hours the report flags as spikes and the calls
//! the guard stopped (refused, cut off, killed, runaway); a task with any
//! such call is left out whole. The distributions used are shown beside
//! the limits, which are also printed as Rust to paste.

mod code;
mod distribution;
mod json;
mod limits;
mod tally;
mod text;

use std::path::PathBuf;

use crate::cli::console::Console;
use crate::cli::decimal::parse_units;
use crate::cli::error::CliError;
use crate::cli::report::merge::{self, LedgerMerge, Skipped};
use crate::cli::report::warn_skipped;

use limits::{Factor, Suggestions};
use tally::Tally;

/// `spendguard suggest` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Ledger files (JSON lines), read together in time order.
    #[arg(required = true, value_name = "LEDGER")]
    ledgers: Vec<PathBuf>,
    /// Per-task budget as this many times the median real task (1 to 10).
    #[arg(long, value_name = "TIMES", default_value = "2.5", value_parser = parse_factor)]
    task_factor: Factor,
    /// Daily caps as this many times the busiest normal day (1 to 10).
    #[arg(long, value_name = "TIMES", default_value = "1.5", value_parser = parse_factor)]
    day_factor: Factor,
    /// Print the suggestions as JSON (exact nano-dollar amounts).
    #[arg(long)]
    json: bool,
}

/// `2.5`: a multiplier from 1 to 10 with at most two decimals.
fn parse_factor(text: &str) -> Result<Factor, String> {
    let hundredths = parse_units(text, 2).map_err(|error| error.to_string())?;
    if !(100..=1_000).contains(&hundredths) {
        return Err(format!("`{text}` is not between 1 and 10"));
    }
    Ok(Factor(hundredths))
}

/// What `suggest` read and found.
pub(crate) struct Suggest {
    /// The ledgers, as the heading names them.
    pub(crate) files: String,
    pub(crate) calls: u64,
    pub(crate) tasks: usize,
    pub(crate) stopped_calls: u64,
    pub(crate) found: Suggestions,
}

/// Reads the ledgers and prints the limits they suggest.
pub(crate) fn run(args: Args, console: &mut Console<'_>) -> Result<(), CliError> {
    let mut skipped = Skipped::default();
    let mut merge = LedgerMerge::open(&args.ledgers, &mut skipped)?;
    let mut tally = Tally::default();
    while let Some(record) = merge.next(&mut skipped)? {
        tally.add(&record);
    }
    warn_skipped(&skipped, console);
    if tally.aggregate.total.calls == 0 {
        return Err(CliError::Usage(format!(
            "{} has no records to suggest limits from; pass a ledger the guard has written",
            merge::describe(&args.ledgers)
        )));
    }
    let suggest = Suggest {
        files: merge::describe(&args.ledgers),
        calls: tally.aggregate.total.calls,
        tasks: tally.tasks.len(),
        stopped_calls: tally.stopped_calls,
        found: limits::suggest(&tally, args.task_factor, args.day_factor),
    };
    if args.json {
        serde_json::to_writer_pretty(&mut *console.out, &json::to_json(&suggest))
            .map_err(std::io::Error::from)?;
        writeln!(console.out)?;
    } else {
        text::write(console.out, &suggest)?;
    }
    Ok(())
}
