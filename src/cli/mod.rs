//! The `spendguard` command (feature `cli`): what the ledger says, what a
//! model costs, and what a prompt could cost before it is sent.
//!
//! ```text
//! spendguard report ledger.jsonl --svg spend.svg
//! spendguard prices gpt-4o claude-sonnet-4-5
//! spendguard report ledger.jsonl --reconcile openai-costs.json
//! spendguard suggest ledger.jsonl
//! spendguard estimate --model gpt-4o prompt.txt
//! spendguard halt --reason "bill spike" --store /var/lib/agents/spend.log
//! spendguard status --store /var/lib/agents/spend.log
//! spendguard resume --store /var/lib/agents/spend.log
//! ```
//!
//! Each subcommand is one module here and one variant of the `Command` enum; the
//! binary (`src/bin/spendguard.rs`) only calls [`main`].
//!
//! Exit status: 0 when the command did its work, 1 for a runtime error (a
//! file that cannot be read or written, an unknown model), 2 for a usage
//! error (a bad option or value). `report` exits 0 whatever it finds: read
//! its `--json` to act on spikes or refusals.

mod console;
mod decimal;
mod error;
mod estimate;
mod figures;
mod halt;
mod prices;
mod progress;
mod report;
mod resume;
mod status;
mod suggest;
mod target;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

use console::Console;
use error::CliError;

/// The exit codes, as `--help` states them.
const EXIT_STATUS: &str = "\
Exit status:
  0  the command did its work (a report exits 0 whatever it finds; read --json to act on it)
  1  runtime error: a file that cannot be read or written, an unknown model, a store that does not answer
  2  usage error: a bad option or value";

/// Command-line arguments of `spendguard`.
#[derive(Debug, Parser)]
#[command(
    name = "spendguard",
    version,
    about = "Reports on spendguard ledgers, model prices and prompt costs; halts, resumes and inspects spend stores.",
    after_help = EXIT_STATUS
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands; each is one module of `cli`.
#[derive(Debug, Subcommand)]
enum Command {
    /// Totals, spend per hour, spikes, recurring patterns and refusals of
    /// one or more ledgers.
    #[command(after_help = EXIT_STATUS)]
    Report(report::Args),
    /// Limits from the ledger: per-task budgets at a multiple of the median
    /// real task, daily caps per agent and key at a multiple of the busiest
    /// normal day, printed with the distributions used and as Rust to paste.
    #[command(after_help = EXIT_STATUS)]
    Suggest(suggest::Args),
    /// The price the guard would use for a model, and how its name resolved;
    /// `prices update FILE` regenerates the bundled table.
    #[command(after_help = EXIT_STATUS)]
    Prices(prices::Args),
    /// Token count and worst-case cost of a prompt file or request body.
    #[command(after_help = EXIT_STATUS)]
    Estimate(estimate::Args),
    /// Halts all spend through a store until `resume`: every guard using
    /// it refuses its next call, with the reason.
    #[command(after_help = EXIT_STATUS)]
    Halt(halt::Args),
    /// Lifts a store's halt.
    #[command(after_help = EXIT_STATUS)]
    Resume(resume::Args),
    /// The halt in force, and each live counter's spend, holds and limit.
    #[command(after_help = EXIT_STATUS)]
    Status(status::Args),
}

/// Runs `spendguard` with the process's arguments, standard output and
/// standard error, showing progress when standard error is a terminal.
pub fn main() -> ExitCode {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let stderr = io::stderr();
    let show_progress = stderr.is_terminal();
    let mut err = stderr.lock();
    let mut console = Console::new(&mut out, &mut err, show_progress);
    let code = run_in(std::env::args_os(), &mut console);
    match out.flush() {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => ExitCode::FAILURE,
        _ => code,
    }
}

/// Runs `spendguard` with `args` (the first is the program name), writing
/// its output to `out` and its warnings and errors to `err`, and returns
/// the exit status. Never shows progress.
///
/// ```
/// let (mut out, mut err) = (Vec::new(), Vec::new());
/// let status = spendguard::cli::run(["spendguard", "prices", "gpt-4o"], &mut out, &mut err);
/// assert_eq!(status, std::process::ExitCode::SUCCESS);
/// assert!(String::from_utf8(out)?.contains("gpt-4o (exact)"));
/// # Ok::<(), std::string::FromUtf8Error>(())
/// ```
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_in(args, &mut Console::new(out, err, false))
}

fn run_in<I, T>(args: I, console: &mut Console<'_>) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error, console),
    };
    let outcome = match cli.command {
        Command::Report(args) => report::run(args, console),
        Command::Suggest(args) => suggest::run(args, console),
        Command::Prices(args) => prices::run(args, console),
        Command::Estimate(args) => estimate::run(args, console),
        Command::Halt(args) => halt::run(args, console),
        Command::Resume(args) => resume::run(args, console),
        Command::Status(args) => status::run(args, console),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Output(error)) if error.kind() == io::ErrorKind::BrokenPipe => {
            // `spendguard report … | head`: the reader has all it wanted.
            ExitCode::SUCCESS
        }
        Err(error) => {
            let _ = writeln!(console.err, "error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Prints clap's help, version or usage error. A bad value is one line;
/// other mistakes keep clap's usage lines, which say what was expected.
fn usage_error(error: &clap::Error, console: &mut Console<'_>) -> ExitCode {
    let (text, to_out) = match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => (error.to_string(), true),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let text = error.to_string();
            let first = text.lines().next().unwrap_or_default().to_owned();
            (first + "\n", false)
        }
        _ => (error.to_string(), false),
    };
    let stream = if to_out {
        &mut *console.out
    } else {
        &mut *console.err
    };
    let _ = stream.write_all(text.as_bytes());
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
}
