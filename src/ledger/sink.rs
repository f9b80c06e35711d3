//! Where ledger records go: the [`LedgerSink`] trait and its error.

use std::io;
use std::path::PathBuf;

use crate::ledger::record::LedgerRecord;

/// A destination for ledger records, shared by every call of a guard.
///
/// `record` sits on the call path, so it must not block for long: a sink
/// that writes somewhere slow hands the record to a background worker.
/// It returns nothing; a failed write surfaces at the next
/// [`flush`](LedgerSink::flush).
pub trait LedgerSink: Send + Sync {
    /// Takes one record. May wait briefly (back-pressure from a full
    /// queue) but never drops a record it accepted.
    fn record(&self, record: LedgerRecord);

    /// Returns once every record taken so far is written and handed to the
    /// operating system.
    ///
    /// # Errors
    /// [`LedgerError`] if any record since the last flush could not be
    /// written.
    fn flush(&self) -> Result<(), LedgerError>;
}

/// Why the ledger could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The ledger file could not be opened for appending.
    #[error("cannot open the ledger {}: {source}; check that its directory exists and is writable", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Records could not be written; they are lost.
    #[error("{lost} ledger record(s) could not be written to {}: {source}; check free space and permissions", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// How many records were lost since the last flush.
        lost: u64,
        /// The first error the operating system gave.
        #[source]
        source: io::Error,
    },
    /// The background writer is gone (it panicked), so nothing more can be
    /// written.
    #[error("the ledger writer for {} stopped; records sent since are lost. Open the ledger again", path.display())]
    WriterStopped {
        /// The file.
        path: PathBuf,
    },
}
