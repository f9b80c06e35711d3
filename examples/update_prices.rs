//! Regenerates `pricing/litellm_prices.json` from a newer LiteLLM price list.
//!
//! ```text
//! pip download --no-deps litellm==<version> -d /tmp/litellm
//! unzip -o /tmp/litellm/litellm-*.whl 'litellm/model_prices_and_context_window_backup.json' -d /tmp/litellm
//! cargo run --example update_prices -- /tmp/litellm/litellm/model_prices_and_context_window_backup.json
//! ```
//!
//! The new file goes through the same reader the crate uses
//! ([`spendguard::prices::litellm::bundle`]), so a malformed entry stops the
//! update with its model and field named. The bundled provider corrections
//! must still apply to the new data; if one does not, nothing is written.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;

use spendguard::prices::{litellm, Overrides};
use spendguard::{ModelPrice, PriceTable};

/// The data this build bundles, to compare against.
const BUNDLED: &str = include_str!("../pricing/litellm_prices.json");
/// Where the regenerated data goes.
const OUTPUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pricing/litellm_prices.json");
/// How many examples of each kind of change to print.
const EXAMPLES: usize = 8;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: cargo run --example update_prices -- path/to/model_prices_and_context_window.json");
        return ExitCode::FAILURE;
    };
    match update(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn update(path: &str) -> Result<(), String> {
    let upstream = std::fs::read_to_string(path).map_err(|error| format!("{path}: {error}"))?;
    let bundled = litellm::bundle(&upstream).map_err(|error| format!("{path}: {error}"))?;
    let overrides = Overrides::bundled();
    let corrected = PriceTable::from_litellm_json_with_overrides(&bundled, &overrides).map_err(|error| {
        format!("pricing/overrides.json no longer applies to the new data: {error}\nNothing written; fix or drop that override first.")
    })?;

    let old = PriceTable::from_litellm_json(BUNDLED).map_err(|error| error.to_string())?;
    let new = PriceTable::from_litellm_json(&bundled).map_err(|error| error.to_string())?;
    report_changes(&old, &new);
    report_redundant_overrides(&new, &corrected, &overrides);

    std::fs::write(OUTPUT, &bundled).map_err(|error| format!("{OUTPUT}: {error}"))?;
    println!("wrote {OUTPUT} ({} bytes)", bundled.len());
    Ok(())
}

/// Prints added, removed and changed models, with a few examples of each.
fn report_changes(old: &PriceTable, new: &PriceTable) {
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

    println!("{} priced models before, {} after", old.len(), new.len());
    println!("added: {}", added.len());
    for id in added.iter().take(EXAMPLES) {
        if let Some(price) = new.get(id) {
            println!("  + {id}: {}", headline(price));
        }
    }
    println!("removed: {}", removed.len());
    for id in removed.iter().take(EXAMPLES) {
        println!("  - {id}");
    }
    println!("changed: {}", changed.len());
    for (before, after) in changed.iter().take(EXAMPLES) {
        let (was, now) = (headline(before), headline(after));
        if was == now {
            println!(
                "  ~ {}: {now}; other rates or limits changed",
                after.model()
            );
        } else {
            println!("  ~ {}: {was} -> {now}", after.model());
        }
    }
}

/// The standard input and output rates, the numbers people compare first.
fn headline(price: &ModelPrice) -> String {
    let base = price.standard().base();
    format!("in {} / out {}", base.input, base.output)
}

/// Overrides whose models the new data already prices the same way: the
/// provider's number may have reached LiteLLM, and the override can go.
fn report_redundant_overrides(plain: &PriceTable, corrected: &PriceTable, overrides: &Overrides) {
    for (position, correction) in overrides.iter().enumerate() {
        let unchanged = correction
            .models()
            .iter()
            .all(|model| plain.get(model) == corrected.get(model));
        if unchanged {
            println!(
                "override #{} ({}) changes nothing any more: LiteLLM may have caught up; check and remove it",
                position + 1,
                correction.models().join(", ")
            );
        }
    }
}
