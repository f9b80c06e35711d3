//! `spendguard prices update FILE`: regenerates the bundled price table
//! from a newer LiteLLM price file and shows what changed.
//!
//! The new file goes through the same reader the crate uses
//! ([`crate::prices::litellm::bundle`]), so a malformed entry stops the
//! update with its model and field named. The bundled provider corrections
//! must still apply to the new data; if one does not, nothing is written.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::figures::count;
use crate::prices::{litellm, ModelPrice, Overrides, PriceTable};

/// The table compiled into this build, compared against when the output
/// file does not exist yet.
const BUNDLED: &str = include_str!("../../../pricing/litellm_prices.json");
/// How many examples of each kind of change to print.
const EXAMPLES: usize = 8;

/// `spendguard prices update` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// LiteLLM's model_prices_and_context_window(_backup).json.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where the bundled table is written: run from the repository root,
    /// or name the file.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "pricing/litellm_prices.json"
    )]
    out: PathBuf,
    /// Show what would change, and write nothing.
    #[arg(long)]
    dry_run: bool,
}

pub(crate) fn run(args: Args, console: &mut Console<'_>) -> Result<(), CliError> {
    let upstream = std::fs::read_to_string(&args.file).map_err(|source| CliError::Read {
        path: args.file.clone(),
        source,
    })?;
    let file_name = args.file.display().to_string();
    let bundled = litellm::bundle(&upstream).map_err(|error| CliError::PriceFile {
        file: file_name.clone(),
        error,
    })?;
    let overrides = Overrides::bundled();
    let corrected = PriceTable::from_litellm_json_with_overrides(&bundled, &overrides)
        .map_err(CliError::StaleOverride)?;

    let previous = match std::fs::read_to_string(&args.out) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => BUNDLED.to_owned(),
        Err(source) => {
            return Err(CliError::Read {
                path: args.out,
                source,
            })
        }
    };
    let old = PriceTable::from_litellm_json(&previous).map_err(|error| CliError::PriceFile {
        file: args.out.display().to_string(),
        error,
    })?;
    let new = PriceTable::from_litellm_json(&bundled).map_err(|error| CliError::PriceFile {
        file: file_name,
        error,
    })?;
    write_changes(console.out, &old, &new)?;
    write_redundant_overrides(console.out, &new, &corrected, &overrides)?;

    if args.dry_run {
        writeln!(
            console.out,
            "dry run: {} left as it was",
            args.out.display()
        )?;
        return Ok(());
    }
    std::fs::write(&args.out, &bundled).map_err(|source| CliError::Write {
        path: args.out.clone(),
        source,
    })?;
    writeln!(
        console.out,
        "wrote {} ({} bytes)",
        args.out.display(),
        count(bundled.len() as u64)
    )?;
    Ok(())
}

/// Added, removed and changed models, with a few examples of each.
fn write_changes(out: &mut dyn Write, old: &PriceTable, new: &PriceTable) -> io::Result<()> {
    let ids = |table: &PriceTable| -> BTreeSet<String> {
        table.iter().map(|price| price.model().to_owned()).collect()
    };
    let (old_ids, new_ids) = (ids(old), ids(new));
    let added: Vec<&String> = new_ids.difference(&old_ids).collect();
    let removed: Vec<&String> = old_ids.difference(&new_ids).collect();
    let changed: Vec<(&Arc<ModelPrice>, &Arc<ModelPrice>)> = old_ids
        .intersection(&new_ids)
        .filter_map(|id| Some((old.get(id)?, new.get(id)?)))
        .filter(|(before, after)| before != after)
        .collect();

    writeln!(
        out,
        "{} priced models before, {} after",
        count(old.len() as u64),
        count(new.len() as u64)
    )?;
    writeln!(out, "added: {}", added.len())?;
    for id in added.iter().take(EXAMPLES) {
        if let Some(price) = new.get(id) {
            writeln!(out, "  + {id}: {}", headline(price))?;
        }
    }
    writeln!(out, "removed: {}", removed.len())?;
    for id in removed.iter().take(EXAMPLES) {
        writeln!(out, "  - {id}")?;
    }
    writeln!(out, "changed: {}", changed.len())?;
    for (before, after) in changed.iter().take(EXAMPLES) {
        let (was, now) = (headline(before), headline(after));
        if was == now {
            writeln!(
                out,
                "  ~ {}: {now}; other rates or limits changed",
                after.model()
            )?;
        } else {
            writeln!(out, "  ~ {}: {was} -> {now}", after.model())?;
        }
    }
    Ok(())
}

/// The standard input and output rates, the numbers people compare first.
fn headline(price: &ModelPrice) -> String {
    let base = price.standard().base();
    format!("in {} / out {}", base.input, base.output)
}

/// Overrides whose models the new data already prices the same way: the
/// provider's number may have reached LiteLLM, and the override can go.
fn write_redundant_overrides(
    out: &mut dyn Write,
    plain: &PriceTable,
    corrected: &PriceTable,
    overrides: &Overrides,
) -> io::Result<()> {
    for (position, correction) in overrides.iter().enumerate() {
        let unchanged = correction
            .models()
            .iter()
            .all(|model| plain.get(model) == corrected.get(model));
        if unchanged {
            writeln!(
                out,
                "override #{} ({}) changes nothing any more: LiteLLM may have caught up; check and remove it",
                position + 1,
                correction.models().join(", ")
            )?;
        }
    }
    Ok(())
}
