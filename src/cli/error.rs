//! Why a command failed, as one line that says what to do.

use std::io;
use std::path::PathBuf;

use crate::ledger::LedgerReadError;
use crate::prices::PriceError;
use crate::store::StoreError;
use crate::tokens::RequestShapeError;

/// A command's failure; `Display` is the line printed after `error: `.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A ledger could not be opened or read.
    #[error(transparent)]
    Ledger(#[from] LedgerReadError),
    /// An input file could not be read.
    #[error("cannot read {}: {source}; check the path", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An output file could not be written.
    #[error("cannot write {}: {source}; check that its directory exists and is writable", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Standard output could not be written.
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
    /// A model the price table does not list.
    #[error(
        "no price for model \"{model}\"{}; check the spelling, or price it yourself with PriceTable::insert{}",
        close(suggestions),
        more(*others)
    )]
    UnknownModel {
        model: String,
        suggestions: Vec<String>,
        /// Other models of the same command without a price.
        others: usize,
    },
    /// A price file failed to load, for the reason given, with the fix.
    #[error("{file}: {error}")]
    PriceFile {
        file: String,
        #[source]
        error: PriceError,
    },
    /// The price file is fine but the bundled corrections no longer apply.
    #[error("pricing/overrides.json no longer applies to the new data: {0}; nothing written: fix or drop that override first")]
    StaleOverride(#[source] PriceError),
    /// `prices check` found disagreements nothing accounts for.
    #[error("{unexplained} price disagreements are unexplained and {stale} checked entries cover nothing any more; resolve each with an override in pricing/overrides.json or an entry in pricing/checked.json (see pricing/README.md)")]
    PricesDisagree {
        /// Disagreements nothing accounts for.
        unexplained: usize,
        /// Checked entries that match no disagreement.
        stale: usize,
    },
    /// A request body is not in a shape the token counter reads.
    #[error("{}: {error}", path.display())]
    RequestShape {
        path: PathBuf,
        #[source]
        error: RequestShapeError,
    },
    /// A file that looks like JSON is not valid JSON.
    #[error("{} is not valid JSON (line {line}, column {column}: {problem}); pass --text to count it as a plain prompt", path.display())]
    NotJson {
        path: PathBuf,
        line: usize,
        column: usize,
        problem: String,
    },
    /// A line of a `--deploys` file is not `TIME LABEL`.
    #[error("{}, line {line}: {problem}; write one deploy per line as `2026-11-25T06:10:00Z v1.4.2`", path.display())]
    DeployLine {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    /// A `--reconcile` export is not JSON, or not the shape of the export
    /// it was read as.
    #[error("{}, line {line}, column {column}: {problem} (read as {format}); pass the provider's response unchanged, or the right --reconcile-format", path.display())]
    ExportJson {
        path: PathBuf,
        format: &'static str,
        line: usize,
        column: usize,
        problem: String,
    },
    /// No export `--reconcile` knows looks like this file.
    #[error("{}: not a provider export spendguard reads ({seen}); pass --reconcile-format openai-costs, openai-usage, anthropic-cost or anthropic-usage", path.display())]
    UnknownExport { path: PathBuf, seen: String },
    /// A `--reconcile` export's time bucket is longer than one UTC day or
    /// does not fit in one.
    #[error("{}, time bucket {index} ({from} to {to}): a bucket must lie within one UTC day; export with a bucket width of 1d from midnight UTC, or 1h", path.display())]
    BucketSpansDays {
        path: PathBuf,
        /// The bucket's place in the file, from 1.
        index: usize,
        from: String,
        to: String,
    },
    /// A `--reconcile` export without time buckets.
    #[error("{} has no time buckets: nothing to compare; export a period the ledger covers", path.display())]
    EmptyExport { path: PathBuf },
    /// A spend store could not be opened or did not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The runtime the store calls run on could not start.
    #[error("cannot start the runtime for the store calls: {0}")]
    Runtime(#[source] io::Error),
    /// The command line is well-formed but asks for something impossible.
    #[error("{0}")]
    Usage(String),
}

/// ` (close listed ids: "a", "b")`, or nothing.
fn close(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        return String::new();
    }
    let quoted: Vec<String> = suggestions.iter().map(|s| format!("\"{s}\"")).collect();
    format!(" (close listed ids: {})", quoted.join(", "))
}

/// `; 2 more models have no price either`, or nothing.
fn more(others: usize) -> String {
    match others {
        0 => String::new(),
        1 => "; 1 more model has no price either".into(),
        n => format!("; {n} more models have no price either"),
    }
}

impl CliError {
    /// The error for a price lookup that failed.
    pub(crate) fn from_price(error: PriceError, others: usize) -> Self {
        match error {
            PriceError::UnknownModel { model, suggestions } => CliError::UnknownModel {
                model,
                suggestions,
                others,
            },
            error => CliError::PriceFile {
                file: "the bundled price table".into(),
                error,
            },
        }
    }

    /// 2 for a usage error, 1 for everything else.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}
