//! [`Overrun`]: a settled call whose bill passed what was reserved for it.
//!
//! The provider's bill is the truth, so it is recorded in full; an overrun
//! says that the reservation (the prompt estimate, or the output limit the
//! provider was sent) was short, and by how much.

use std::fmt;

use crate::money::Usd;

/// A call billed more than its reservation held: the provider counted more
/// input than the estimate, or wrote past the output limit it was sent.
///
/// Each one reaches the budget's `on_alert` callback as an
/// [`Alert`](crate::budget::Alert) of kind
/// [`AlertKind::Overrun`](crate::budget::AlertKind::Overrun) (and so a
/// [`WebhookAlerts`](https://docs.rs/spendguard/latest/spendguard/webhook/struct.WebhookAlerts.html)
/// sink); for a guarded call, the `on_alert` of its
/// [`SpendGuard`](crate::SpendGuard) too. With feature `tracing` it is a
/// `WARN` event on target `spendguard::alert`, like a threshold alert. The
/// [`Receipt`](crate::budget::Receipt) says `overran`, and so does a guarded
/// call's ledger line.
///
/// ```
/// use std::sync::Arc;
/// use spendguard::{CallPlan, TaskBudget, Usage, Usd};
/// use spendguard::prices::{ModelPrice, Rates};
/// use spendguard::money::PricePerToken;
///
/// let per_m = |d| PricePerToken::per_million(d).unwrap();
/// let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(1.0), per_m(1.0))));
/// let budget = TaskBudget::new(Usd::from_dollars(1.0)?);
/// let call = budget.reserve(CallPlan::new(&price, 1_000).with_max_output_tokens(1_000))?;
/// // The provider counted 3,000 input tokens, not 1,000.
/// let receipt = call.settle(&Usage::new(3_000, 1_000));
/// assert_eq!(receipt.reserved, Usd::from_dollars(0.002)?);
/// assert_eq!(receipt.overran, Some(Usd::from_dollars(0.002)?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Overrun {
    /// The budget, e.g. `task report`.
    pub subject: String,
    /// The model the call was priced as.
    pub model: String,
    /// What had been reserved for the call.
    pub reserved: Usd,
    /// What it was billed.
    pub cost: Usd,
}

impl Overrun {
    /// The overrun of a call reserved at `reserved` and billed `cost`, if
    /// the bill passed the reservation.
    pub(crate) fn of(subject: &str, model: &str, reserved: Usd, cost: Usd) -> Option<Overrun> {
        (cost > reserved).then(|| Overrun {
            subject: subject.to_owned(),
            model: model.to_owned(),
            reserved,
            cost,
        })
    }

    /// How far the bill passed the reservation.
    pub fn by(&self) -> Usd {
        self.cost.saturating_sub(self.reserved)
    }
}

impl fmt::Display for Overrun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: a call to {} was billed {}, {} more than the {} reserved for it \
             (recorded in full)",
            self.subject,
            self.model,
            self.cost,
            self.by(),
            self.reserved
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bill_above_the_reservation_is_an_overrun() {
        let cents = Usd::from_cents;
        assert_eq!(Overrun::of("task t", "m", cents(2), cents(2)), None);
        let overrun = Overrun::of("task t", "m", cents(2), cents(3)).unwrap();
        assert_eq!(overrun.by(), cents(1));
        assert_eq!(
            overrun.to_string(),
            "task t: a call to m was billed $0.03, $0.01 more than the $0.02 reserved for it \
             (recorded in full)"
        );
    }
}
