//! What one side says was used on a day: dollars, or input and output
//! tokens, or both.

use crate::ledger::LedgerRecord;
use crate::money::Usd;

/// Dollars and tokens summed over calls or export rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Measured {
    pub(crate) cost: Usd,
    /// Every input token: fresh, read from a cache and written to one.
    pub(crate) input: u64,
    /// Every output token, reasoning included.
    pub(crate) output: u64,
}

impl Measured {
    /// A cost alone.
    pub(crate) fn cost(cost: Usd) -> Self {
        Measured {
            cost,
            ..Measured::default()
        }
    }

    /// Tokens alone.
    pub(crate) fn tokens(input: u64, output: u64) -> Self {
        Measured {
            cost: Usd::ZERO,
            input,
            output,
        }
    }

    /// What one ledger record used.
    pub(crate) fn of_record(record: &LedgerRecord) -> Self {
        let t = &record.tokens;
        Measured {
            cost: record.cost,
            input: t
                .input
                .saturating_add(t.cached)
                .saturating_add(t.cache_write),
            output: t.output.saturating_add(t.reasoning),
        }
    }

    /// Adds `other` into this.
    pub(crate) fn add(&mut self, other: Measured) {
        self.cost += other.cost;
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
    }
}
