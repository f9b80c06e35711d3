//! [`CallReceipt`]: what one guarded call cost, and how that is known.

use std::fmt;

use crate::guard::Degraded;
use crate::money::Usd;
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
    /// The budget's settled spend after this call.
    pub spent: Usd,
    /// Dollars left for new reservations, if the budget has a dollar limit.
    pub remaining: Option<Usd>,
    /// Set when a shared limit ran low and the call was sent to a cheaper
    /// model than it asked for ([`Degrade`](crate::guard::Degrade)).
    pub degraded: Option<Degraded>,
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
        write!(f, "; spent {}", self.spent)?;
        if let Some(remaining) = self.remaining {
            write!(f, ", {remaining} left")?;
        }
        Ok(())
    }
}
