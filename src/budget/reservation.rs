//! [`Reservation`]: money held for one call until its bill is known.

use std::fmt;
use std::sync::Arc;

use crate::budget::BudgetState;
use crate::money::Usd;
use crate::prices::ModelPrice;
use crate::usage::Usage;

/// The worst case of one call, held against a budget while the call runs.
///
/// End it one of two ways:
/// - [`settle`](Reservation::settle) with the usage the response reported:
///   the actual cost becomes spend and the rest of the hold is freed;
/// - [`release`](Reservation::release) for a call that was never sent: the
///   whole hold is freed and nothing is spent.
///
/// A reservation dropped without either (a cancelled future, a panic, an
/// early `?`) is a call whose outcome is unknown. It may have been billed, so
/// it is recorded as spent at its full worst case, never as free.
///
/// ```
/// use std::sync::Arc;
/// use spendguard::{CallPlan, ModelPrice, PricePerToken, Rates, TaskBudget, Usd};
///
/// let per_m = |d| PricePerToken::per_million(d).unwrap();
/// let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(1.0), per_m(1.0))));
/// let budget = TaskBudget::new(Usd::from_dollars(1.0)?);
///
/// let never_sent = budget.reserve(CallPlan::new(price.clone(), 1_000).with_max_output_tokens(1_000))?;
/// never_sent.release();
/// assert_eq!(budget.snapshot().spent, Usd::ZERO);
///
/// let lost = budget.reserve(CallPlan::new(price, 1_000).with_max_output_tokens(1_000))?;
/// drop(lost);
/// assert_eq!(budget.snapshot().spent, Usd::from_dollars(0.002)?);
/// assert_eq!(budget.snapshot().abandoned, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a reservation left unsettled is billed at its worst case when dropped"]
pub struct Reservation {
    budget: Arc<BudgetState>,
    price: Arc<ModelPrice>,
    cost: Usd,
    tokens: u64,
    max_output_tokens: u64,
    open: bool,
}

/// What a settled call cost and what its budget has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Receipt {
    /// The call's actual cost.
    pub cost: Usd,
    /// What had been reserved for it.
    pub reserved: Usd,
    /// The usage it was billed for.
    pub usage: Usage,
    /// The budget's settled spend after this call.
    pub spent: Usd,
    /// Dollars left for new reservations, if the budget has a dollar limit.
    pub remaining: Option<Usd>,
}

impl Reservation {
    pub(crate) fn new(
        budget: Arc<BudgetState>,
        price: Arc<ModelPrice>,
        cost: Usd,
        tokens: u64,
        max_output_tokens: u64,
    ) -> Self {
        Reservation {
            budget,
            price,
            cost,
            tokens,
            max_output_tokens,
            open: true,
        }
    }

    /// The `max_tokens` to send the request with.
    pub const fn max_output_tokens(&self) -> u64 {
        self.max_output_tokens
    }

    /// The worst case held for this call.
    pub const fn reserved_cost(&self) -> Usd {
        self.cost
    }

    /// Tokens held for this call (prompt plus output ceiling).
    pub const fn reserved_tokens(&self) -> u64 {
        self.tokens
    }

    /// The price the call is billed by.
    pub fn price(&self) -> &ModelPrice {
        &self.price
    }

    /// Records what the call used, priced by the model's price, and frees
    /// the rest of the hold.
    ///
    /// Usage above the reservation (a prompt estimate that was short) is
    /// recorded in full: the provider's bill is the truth, and the budget
    /// then refuses calls until there is room again.
    pub fn settle(mut self, usage: &Usage) -> Receipt {
        self.open = false;
        let cost = self.price.cost(usage);
        let spent = self
            .budget
            .record(self.cost, cost, self.tokens, usage.total_tokens());
        Receipt {
            cost,
            reserved: self.cost,
            usage: *usage,
            spent,
            remaining: self.budget.remaining(),
        }
    }

    /// Frees the whole hold: for a call that was never sent.
    pub fn release(mut self) {
        self.open = false;
        self.budget.release(self.cost, self.tokens);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.open {
            self.budget.abandon(self.cost, self.tokens);
        }
    }
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("budget", &self.budget.name)
            .field("model", &self.price.model())
            .field("cost", &self.cost)
            .field("tokens", &self.tokens)
            .field("max_output_tokens", &self.max_output_tokens)
            .finish()
    }
}
