//! Price drift: the price table and the provider disagree about what a
//! call cost.

use std::fmt;

use crate::money::Usd;

/// How far the price table's cost and the provider's own figure may differ
/// before the call is marked with a [`PriceDrift`]: a share of the higher
/// of the two (default 5%). Differences of a nano-dollar, which rounding
/// alone can make, never count.
///
/// ```
/// use spendguard::client::DriftTolerance;
/// use spendguard::Usd;
///
/// let tolerance = DriftTolerance::default();
/// assert!(!tolerance.drifts(Usd::from_nanos(100_000), Usd::from_nanos(104_000)));
/// assert!(tolerance.drifts(Usd::from_nanos(100_000), Usd::from_nanos(110_000)));
/// assert!(DriftTolerance::percent(0).drifts(Usd::from_nanos(100), Usd::from_nanos(102)));
/// assert!(!DriftTolerance::percent(0).drifts(Usd::from_nanos(100), Usd::from_nanos(101)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DriftTolerance {
    percent: u32,
}

impl DriftTolerance {
    /// The default: 5% of the higher figure.
    pub const DEFAULT: DriftTolerance = DriftTolerance { percent: 5 };

    /// Drift beyond `percent` percent of the higher figure.
    pub const fn percent(percent: u32) -> Self {
        DriftTolerance { percent }
    }

    /// The tolerance, in percent.
    pub const fn as_percent(self) -> u32 {
        self.percent
    }

    /// `true` when `table` and `provider` differ by more than the tolerance.
    pub fn drifts(self, table: Usd, provider: Usd) -> bool {
        let (low, high) = (table.min(provider), table.max(provider));
        let difference = u128::from(high.nanos() - low.nanos());
        difference > 1 && difference * 100 > u128::from(self.percent) * u128::from(high.nanos())
    }
}

impl Default for DriftTolerance {
    fn default() -> Self {
        DriftTolerance::DEFAULT
    }
}

/// A call whose cost by the price table and the provider's own figure differ
/// by more than the client's [`DriftTolerance`]: the table's price for the
/// model is probably out of date. The call is settled at the higher figure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PriceDrift {
    /// The listed model id the call was priced as.
    pub model: String,
    /// What the price table says the call cost.
    pub table: Usd,
    /// What the provider says it charged.
    pub provider: Usd,
}

impl fmt::Display for PriceDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "price drift for {}: table {}, provider {}",
            self.model, self.table, self.provider
        )
    }
}

/// With feature `tracing`, a `WARN` event on target `spendguard::cost`.
pub(crate) fn announce(drift: &PriceDrift) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        target: "spendguard::cost",
        model = %drift.model,
        table = %drift.table,
        provider = %drift.provider,
        "{drift}"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = drift;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_is_measured_against_the_higher_figure() {
        let five = DriftTolerance::default();
        // 5% of $1.05 is $0.0525: a $0.05 difference is within it either way.
        assert!(!five.drifts(Usd::from_cents(100), Usd::from_cents(105)));
        assert!(!five.drifts(Usd::from_cents(105), Usd::from_cents(100)));
        assert!(five.drifts(Usd::from_cents(100), Usd::from_cents(106)));
        assert!(five.drifts(Usd::ZERO, Usd::from_nanos(2)));
        assert!(!five.drifts(Usd::MAX, Usd::MAX));
    }

    #[test]
    fn drift_reads_as_a_sentence() {
        let drift = PriceDrift {
            model: "grok-4.3".into(),
            table: Usd::from_nanos(11_600_000),
            provider: Usd::from_nanos(23_200_000),
        };
        assert_eq!(
            drift.to_string(),
            "price drift for grok-4.3: table $0.0116, provider $0.0232"
        );
    }
}
