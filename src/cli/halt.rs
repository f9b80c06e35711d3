//! `spendguard halt --reason TEXT TARGET`: stop all spend through a store
//! from another terminal.

use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::target::{block_on, Target};
use crate::clock::UtcDateTime;
use crate::halt::Halt;

/// `spendguard halt` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Why spend is halted; every refused call carries it.
    #[arg(long, value_name = "TEXT", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    reason: String,
    /// Who halts it (default: `$USER@hostname`).
    #[arg(long, value_name = "WHO", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    by: Option<String>,
    #[command(flatten)]
    target: Target,
}

pub(crate) fn run(args: Args, console: &mut Console<'_>) -> Result<(), CliError> {
    let by = args.by.unwrap_or_else(default_by);
    let halt = Halt::new(by, args.reason);
    let first = block_on(async {
        let store = args.target.open().await?;
        // Like `KillSwitch::trip`: the first halt, its author and reason, stands.
        match store.halted().await? {
            Some(first) => Ok::<_, CliError>(Some(first)),
            None => store
                .halt(&halt)
                .await
                .map(|()| None)
                .map_err(CliError::from),
        }
    })??;
    let out = &mut *console.out;
    match first {
        Some(first) => writeln!(
            out,
            "{} was already halted {}; that halt stands (`spendguard resume` lifts it)",
            args.target,
            describe(&first)
        )?,
        None => writeln!(out, "halted {}: {}", args.target, describe(&halt))?,
    }
    Ok(())
}

/// `by ops@alice at 2026-11-25T12:00:00.000Z: bill spike`.
pub(crate) fn describe(halt: &Halt) -> String {
    format!(
        "by {} at {}: {}",
        halt.by,
        UtcDateTime::from_unix(halt.at),
        halt.reason
    )
}

/// `user@host` from `$USER` and `/etc/hostname` or `$HOSTNAME`.
fn default_by() -> String {
    let user = std::env::var("USER").ok();
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok());
    who(user, host)
}

/// `user@host`, each part `unknown` when missing or blank.
fn who(user: Option<String>, host: Option<String>) -> String {
    let part = |value: Option<String>| {
        value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "unknown".into())
    };
    format!("{}@{}", part(user), part(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_author_is_user_at_host() {
        assert_eq!(
            who(Some("alice".into()), Some("build-7\n".into())),
            "alice@build-7"
        );
        assert_eq!(who(None, Some(" ".into())), "unknown@unknown");
    }
}
