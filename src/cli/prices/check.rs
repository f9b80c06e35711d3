//! `spendguard prices check FILE`: compares the bundled prices with a second
//! price list (pydantic's genai-prices, as `pricing/genai_prices.json`
//! vendors it) and prints every rate they give differently, with what
//! accounts for it: an override in `pricing/overrides.json` or a checked
//! entry in `pricing/checked.json`. An unexplained disagreement, or a
//! checked entry that covers nothing any more, fails the command.

use std::path::PathBuf;

use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::figures::count;
use crate::prices::cross_check::{self, Checked, Explanation, BUNDLED_CHECKED};
use crate::prices::{Overrides, PriceTable};

/// `spendguard prices check` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The second list: pricing/genai_prices.json, or a newer export.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Checked disagreements to accept instead of the bundled
    /// pricing/checked.json.
    #[arg(long, value_name = "PATH")]
    checked: Option<PathBuf>,
}

pub(crate) fn run(args: Args, console: &mut Console<'_>) -> Result<(), CliError> {
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).map_err(|source| CliError::Read {
            path: path.clone(),
            source,
        })
    };
    let second = read(&args.file)?;
    let (checked_name, checked_text) = match &args.checked {
        Some(path) => (path.display().to_string(), read(path)?),
        None => (
            "pricing/checked.json".to_owned(),
            BUNDLED_CHECKED.to_owned(),
        ),
    };
    let checked: Vec<Checked> =
        cross_check::parse_checked(&checked_text).map_err(|error| CliError::PriceFile {
            file: checked_name.clone(),
            error,
        })?;
    let table = PriceTable::bundled();
    let report =
        cross_check::check(&table, &second, &Overrides::bundled(), &checked).map_err(|error| {
            CliError::PriceFile {
                file: args.file.display().to_string(),
                error,
            }
        })?;

    let out = &mut *console.out;
    let found = &report.comparison;
    writeln!(out, "{} against {}", table.version(), report.second_version)?;
    writeln!(
        out,
        "compared {} models both lists price ({} listed ids); {} models of the second list have no listed id to compare",
        count(found.paired_models as u64),
        count(found.pairs as u64),
        count(found.unpaired_models as u64)
    )?;
    let overridden = report
        .explained
        .iter()
        .filter(|(_, why)| matches!(why, Explanation::Override(_)))
        .count();
    let unexplained = report.unexplained();
    writeln!(
        out,
        "{} disagreements: {} resolved by overrides, {} checked, {} unexplained",
        count(report.explained.len() as u64),
        count(overridden as u64),
        count((report.explained.len() - overridden - unexplained) as u64),
        count(unexplained as u64)
    )?;
    for (disagreement, why) in &report.explained {
        let label = match why {
            Explanation::Override(entry) => format!("override #{entry}"),
            Explanation::Checked(entry) => {
                format!("checked #{entry}, {}", checked[entry - 1].right())
            }
            Explanation::Unexplained => "UNEXPLAINED".to_owned(),
        };
        writeln!(out, "  [{label}] {disagreement}")?;
    }
    for entry in &report.stale {
        writeln!(
            out,
            "  [stale] {checked_name} entry #{entry} covers no disagreement any more: remove it"
        )?;
    }
    if unexplained > 0 || !report.stale.is_empty() {
        return Err(CliError::PricesDisagree {
            unexplained,
            stale: report.stale.len(),
        });
    }
    Ok(())
}
