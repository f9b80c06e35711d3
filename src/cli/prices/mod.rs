//! `spendguard prices MODEL…`: the price the guard would use and how each
//! name resolved; `spendguard prices update FILE` regenerates the bundled
//! table (see [`update`]); `spendguard prices check FILE` cross-checks it
//! against a second price list (see [`check`]).

mod check;
mod update;

use std::io::{self, Write};

use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::figures::count;
use crate::prices::{ModelPrice, PriceTable, RateSchedule, Rates};
use crate::usage::ServiceTier;

/// `spendguard prices` arguments.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct Args {
    /// Model names, as a request would give them (`openai/gpt-4o`,
    /// `claude-sonnet-4-5-20250929`...).
    #[arg(required = true, value_name = "MODEL")]
    models: Vec<String>,
    #[command(subcommand)]
    update: Option<Subcommand>,
}

#[derive(Debug, clap::Subcommand)]
enum Subcommand {
    /// Regenerate pricing/litellm_prices.json from a newer LiteLLM price
    /// file and show what changed.
    Update(update::Args),
    /// Compare the bundled prices with a second price list
    /// (pricing/genai_prices.json) and print every disagreement.
    Check(check::Args),
}

pub(crate) fn run(args: Args, console: &mut Console<'_>) -> Result<(), CliError> {
    match args.update {
        Some(Subcommand::Update(update)) => return update::run(update, console),
        Some(Subcommand::Check(check)) => return check::run(check, console),
        None => {}
    }
    let table = PriceTable::bundled();
    let mut unknown = Vec::new();
    for (position, model) in args.models.iter().enumerate() {
        if position > 0 {
            writeln!(console.out)?;
        }
        match table.resolve(model) {
            Ok(resolved) => {
                writeln!(console.out, "{model}")?;
                writeln!(console.out, "  priced as   {resolved}")?;
                describe(console.out, resolved.price())?;
            }
            Err(error) => {
                writeln!(console.out, "{model}\n  no price (see the error)")?;
                unknown.push(error);
            }
        }
    }
    let others = unknown.len().saturating_sub(1);
    match unknown.into_iter().next() {
        Some(error) => Err(CliError::from_price(error, others)),
        None => Ok(()),
    }
}

/// The rates of every tier and band, and the model's limits.
fn describe(out: &mut dyn Write, price: &ModelPrice) -> io::Result<()> {
    if !price.provider().is_empty() {
        writeln!(out, "  sold by     {} ({})", price.provider(), price.mode())?;
    }
    let tiers = [
        ServiceTier::Standard,
        ServiceTier::Batch,
        ServiceTier::Flex,
        ServiceTier::Priority,
    ];
    for tier in tiers {
        match price.listed_schedule(tier) {
            Some(schedule) => write_schedule(out, tier, schedule)?,
            None if tier == ServiceTier::Priority => writeln!(
                out,
                "  priority    not listed: billed at twice the standard rates"
            )?,
            None => {}
        }
    }
    let limit = |tokens: Option<u64>| tokens.map_or_else(|| "unknown".to_owned(), count);
    writeln!(
        out,
        "  limits      {} input tokens, {} output tokens",
        limit(price.max_input_tokens()),
        limit(price.max_output_tokens())
    )
}

fn write_schedule(
    out: &mut dyn Write,
    tier: ServiceTier,
    schedule: &RateSchedule,
) -> io::Result<()> {
    writeln!(
        out,
        "  {:<10}  {}",
        tier.to_string(),
        rates(schedule.base())
    )?;
    for (threshold, band) in schedule.bands() {
        writeln!(
            out,
            "  {:<10}  above {} prompt tokens: {}",
            "",
            count(*threshold),
            rates(band)
        )?;
    }
    Ok(())
}

/// `input $2.50/1M tokens, cached $1.25/1M tokens, output $10.00/1M tokens`,
/// with only the rates the model lists apart from input and output.
fn rates(rates: &Rates) -> String {
    let mut parts = vec![format!("input {}", rates.input)];
    let listed = [
        ("cached", rates.cache_read),
        ("cache write", rates.cache_write),
        ("1 h cache write", rates.cache_write_1h),
        ("audio input", rates.input_audio),
    ];
    parts.extend(
        listed
            .iter()
            .filter_map(|(name, rate)| rate.map(|r| format!("{name} {r}"))),
    );
    parts.push(format!("output {}", rates.output));
    let listed = [
        ("reasoning", rates.reasoning),
        ("audio output", rates.output_audio),
    ];
    parts.extend(
        listed
            .iter()
            .filter_map(|(name, rate)| rate.map(|r| format!("{name} {r}"))),
    );
    parts.join(", ")
}
