//! [`CallReceipt`]: what one guarded call cost, and how that is known.

use std::fmt;

use crate::client::PriceDrift;
use crate::guard::Degraded;
use crate::money::Usd;
use crate::prices::PriceTableVersion;
use crate::usage::Usage;

/// Where a call's cost came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CostSource {
    /// Priced from the usage the provider reported.
    Reported,
    /// The provider's report was missing, unreadable or implausible, so the
    /// call was priced from the guard's own estimate, which leans high.
    Estimated {
        /// Why the report could not be used.
        reason: String,
    },
}

/// The cost of one guarded call and what its budget has left.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallReceipt {
    /// The listed model id the call was priced as.
    pub model: String,
    /// What the call cost.
    pub cost: Usd,
    /// How the cost is known.
    pub source: CostSource,
    /// What had been reserved for it.
    pub reserved: Usd,
    /// The usage it was billed for.
    pub usage: Usage,
    /// The price table that priced it (its data and date).
    pub price_table: PriceTableVersion,
    /// The budget's settled spend after this call.
    pub spent: Usd,
    /// Dollars left for new reservations, if the budget has a dollar limit.
    pub remaining: Option<Usd>,
    /// Set when a shared limit ran low and the call was sent to a cheaper
    /// model than it asked for ([`Degrade`](crate::guard::Degrade)).
    pub degraded: Option<Degraded>,
    /// What the price table says the call cost; at the dearest price the
    /// model has when `unpriced_tier` is set. `cost` is the higher of this
    /// and `provider_cost`, so a call is never billed below either.
    pub table_cost: Usd,
    /// What the provider says it charged, where its response says so (xAI,
    /// OpenRouter, Perplexity; see [`UsageReport`](crate::usage::UsageReport)).
    pub provider_cost: Option<Usd>,
    /// The service tier the provider named when the price table cannot
    /// price it (OpenAI's `scale`, a new name): the call was billed at the
    /// dearest price the model has.
    pub unpriced_tier: Option<String>,
    /// Set when `table_cost` and `provider_cost` differ by more than the
    /// client's [`DriftTolerance`](crate::client::DriftTolerance).
    pub price_drift: Option<PriceDrift>,
    /// How far `cost` passed `reserved`, when it did: the provider counted
    /// more input than estimated, or wrote past the output limit it was
    /// sent. The bill is recorded in full and an
    /// [`Overrun`](crate::budget::Overrun) is announced.
    pub overran: Option<Usd>,
}

impl CallReceipt {
    /// `true` when the cost was priced from the provider's own report.
    pub fn is_reported(&self) -> bool {
        self.source == CostSource::Reported
    }
}

impl fmt::Display for CallReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cost {}", self.model, self.cost)?;
        if let Some(degraded) = &self.degraded {
            write!(f, " ({degraded})")?;
        }
        if let CostSource::Estimated { reason } = &self.source {
            write!(f, " (estimated: {reason})")?;
        }
        if let Some(tier) = &self.unpriced_tier {
            write!(f, " (tier {tier:?} billed at the dearest price)")?;
        }
        if let Some(drift) = &self.price_drift {
            write!(f, " ({drift})")?;
        }
        if let Some(overran) = self.overran {
            write!(f, " ({overran} over its reservation of {})", self.reserved)?;
        }
        write!(f, "; spent {}", self.spent)?;
        if let Some(remaining) = self.remaining {
            write!(f, ", {remaining} left")?;
        }
        Ok(())
    }
}
