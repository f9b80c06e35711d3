//! `spendguard resume TARGET`: lift a halt.

use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::halt::describe;
use crate::cli::target::{block_on, Target};

/// `spendguard resume` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    target: Target,
}

pub(crate) fn run(args: Args, console: &mut Console<'_>) -> Result<(), CliError> {
    let lifted = block_on(async {
        let store = args.target.open().await?;
        store.resume().await.map_err(CliError::from)
    })??;
    match lifted {
        Some(halt) => writeln!(
            console.out,
            "resumed {}: lifted the halt {}",
            args.target,
            describe(&halt)
        )?,
        None => writeln!(
            console.out,
            "{} was not halted; nothing to lift",
            args.target
        )?,
    }
    Ok(())
}
