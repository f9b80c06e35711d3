//! `spendguard report LEDGER… --reconcile FILE`: the ledger beside a
//! provider's own usage or cost export, and the UTC days and models where
//! the two disagree by more than a tolerance.
//!
//! Dollars are compared where the export has dollars (OpenAI's Costs API,
//! Anthropic's cost report), tokens where it has tokens (OpenAI's Usage
//! API, Anthropic's usage report). Only the export's provider's records
//! count, and only days the export has a bucket on. Model names are
//! compared without provider prefixes and dated snapshot suffixes
//! (`gpt-4o-2024-08-06` is `gpt-4o`); when a row of the export names no
//! model (it was not grouped by model), days are compared as a whole.

mod anthropic;
mod compare;
mod export;
mod format;
mod json;
mod measured;
mod model_name;
mod openai;
mod text;

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::cli::console::Console;
use crate::cli::decimal::parse_units;
use crate::cli::error::CliError;
use crate::cli::report::merge::{LedgerMerge, Skipped};
use crate::cli::report::{warn_skipped, Filter};
use crate::money::Usd;

use compare::{Row, Tolerance, Totals};
use export::Export;
use format::ExportFormat;
use measured::Measured;
use model_name::comparable;

/// Seconds in a day.
const DAY: u64 = 86_400;

/// `--reconcile` and its options.
#[derive(Debug, clap::Args)]
pub(crate) struct ReconcileArgs {
    /// Compare the ledger with a provider's own usage or cost export
    /// (OpenAI's Costs or Usage API, Anthropic's cost or usage report, as
    /// the API returns it) and list the UTC days and models where they
    /// disagree. Prints only the reconciliation.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["svg", "by", "deploys", "mark", "agent"])]
    pub(crate) reconcile: Option<PathBuf>,
    /// The export's format, when its content does not tell.
    #[arg(long, value_enum, value_name = "FORMAT", requires = "reconcile")]
    reconcile_format: Option<ExportFormat>,
    /// How far apart the ledger and the export may be, in percent of the
    /// larger.
    #[arg(long, value_name = "PERCENT", default_value = "2", value_parser = parse_percent, requires = "reconcile")]
    tolerance: u64,
    /// ... or this many dollars, whichever is more.
    #[arg(long, value_name = "DOLLARS", default_value = "0.05", value_parser = parse_dollars, requires = "reconcile")]
    tolerance_usd: Usd,
    /// ... or this many tokens, whichever is more.
    #[arg(
        long,
        value_name = "TOKENS",
        default_value_t = 1_000,
        requires = "reconcile"
    )]
    tolerance_tokens: u64,
}

/// `2`, `2%` or `0.5`: percent, read as basis points.
fn parse_percent(text: &str) -> Result<u64, String> {
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim());
    let basis_points = parse_units(number, 2).map_err(|error| error.to_string())?;
    if basis_points > 10_000 {
        return Err(format!("`{text}` is more than 100%"));
    }
    Ok(basis_points)
}

/// `0.05` or `$0.05`, exactly.
fn parse_dollars(text: &str) -> Result<Usd, String> {
    let number = text.trim().strip_prefix('$').unwrap_or(text.trim());
    parse_units(number, 9)
        .map(Usd::from_nanos)
        .map_err(|error| error.to_string())
}

/// What the reconciliation found, ready to print.
pub(crate) struct Reconciliation {
    pub(crate) ledgers: Vec<PathBuf>,
    pub(crate) export: Export,
    pub(crate) tolerance: Tolerance,
    /// The days compared: the export's, inside `--since`/`--until`.
    pub(crate) days: BTreeSet<u64>,
    pub(crate) rows: Vec<Row>,
    /// Days the ledger has calls of the export's provider on that the
    /// export does not cover.
    pub(crate) ledger_days_outside: usize,
    /// The ledger's calls of the export's provider, inside the filters.
    pub(crate) ledger_calls: u64,
}

impl Reconciliation {
    /// The rows that disagree.
    pub(crate) fn disagreements(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|row| !row.agrees)
    }
}

/// Runs the reconciliation `args.reconcile` asks for.
pub(crate) fn run(
    args: ReconcileArgs,
    path: PathBuf,
    ledgers: Vec<PathBuf>,
    filter: &Filter,
    json: bool,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&path).map_err(|source| CliError::Read {
        path: path.clone(),
        source,
    })?;
    let export = export::read(&path, &text, args.reconcile_format)?;
    let tolerance = Tolerance {
        basis_points: args.tolerance,
        floor_usd: args.tolerance_usd,
        floor_tokens: args.tolerance_tokens,
    };
    let mut skipped = Skipped::default();
    let side = ledger_totals(&ledgers, filter, &export, &mut skipped)?;
    warn_skipped(&skipped, console);
    let days: BTreeSet<u64> = export
        .days
        .iter()
        .copied()
        .filter(|&day| whole_day_kept(filter, day))
        .collect();
    let rows = compare::rows(
        &side.totals,
        &export.totals,
        &days,
        &tolerance,
        export.format.is_cost(),
    );
    let reconciliation = Reconciliation {
        ledgers,
        ledger_days_outside: side.days.difference(&export.days).count(),
        ledger_calls: side.calls,
        export,
        tolerance,
        days,
        rows,
    };
    if json {
        serde_json::to_writer_pretty(&mut *console.out, &json::to_json(&reconciliation))
            .map_err(std::io::Error::from)?;
        writeln!(console.out)?;
    } else {
        text::write(console.out, &reconciliation)?;
    }
    Ok(())
}

/// `true` when `--since`/`--until` keep all of `day`.
fn whole_day_kept(filter: &Filter, day: u64) -> bool {
    let (start, end) = (day * DAY, (day + 1) * DAY);
    filter.since.is_none_or(|since| since.as_secs() <= start)
        && filter.until.is_none_or(|until| until.as_secs() >= end)
}

/// The ledger's side: its calls of the export's provider.
#[derive(Default)]
struct LedgerSide {
    /// By day and model, as the export is compared.
    totals: Totals,
    /// Days with such calls.
    days: BTreeSet<u64>,
    calls: u64,
}

/// Reads the ledgers' calls of the export's provider that the filter keeps.
fn ledger_totals(
    files: &[PathBuf],
    filter: &Filter,
    export: &Export,
    skipped: &mut Skipped,
) -> Result<LedgerSide, CliError> {
    let provider = export.format.provider();
    let mut merge = LedgerMerge::open(files, skipped)?;
    let mut side = LedgerSide::default();
    while let Some(record) = merge.next(skipped)? {
        if record.provider != provider || !filter.keeps(&record) {
            continue;
        }
        let day = record.ts.unix().as_secs() / DAY;
        side.days.insert(day);
        side.calls += 1;
        let model = export.by_model.then(|| comparable(&record.model));
        side.totals
            .entry((day, model))
            .or_default()
            .add(Measured::of_record(&record));
    }
    Ok(side)
}
