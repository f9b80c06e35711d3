//! [`MemorySink`]: a ledger kept in memory, for tests.

use parking_lot::Mutex;

use crate::ledger::record::LedgerRecord;
use crate::ledger::sink::{LedgerError, LedgerSink};

/// Keeps every record in memory, in the order recorded.
///
/// ```
/// use std::time::Duration;
/// use spendguard::clock::UtcDateTime;
/// use spendguard::ledger::{Decision, LedgerRecord, LedgerSink, MemorySink};
///
/// let sink = MemorySink::new();
/// let at = UtcDateTime::from_unix(Duration::from_secs(1_795_588_219));
/// sink.record(LedgerRecord::new(at, "openai", "gpt-4o", Decision::Refused));
/// sink.flush()?;
/// assert_eq!(sink.records()[0].decision, Decision::Refused);
/// # Ok::<(), spendguard::ledger::LedgerError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemorySink {
    records: Mutex<Vec<LedgerRecord>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        MemorySink::default()
    }

    /// A copy of every record so far.
    pub fn records(&self) -> Vec<LedgerRecord> {
        self.records.lock().clone()
    }
}

impl LedgerSink for MemorySink {
    fn record(&self, record: LedgerRecord) {
        self.records.lock().push(record);
    }

    fn flush(&self) -> Result<(), LedgerError> {
        Ok(())
    }
}
