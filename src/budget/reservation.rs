//! [`Reservation`]: money held for one call until its bill is known.

use std::fmt;
use std::sync::Arc;

use crate::budget::{BudgetExceeded, CallAmounts, Overrun, TaskBudget};
use crate::money::Usd;
use crate::prices::ModelPrice;
use crate::usage::{ServiceTier, Usage};

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
/// use spendguard::{CallPlan, TaskBudget, Usd};
/// use spendguard::prices::{ModelPrice, Rates};
/// use spendguard::money::PricePerToken;
///
/// let per_m = |d| PricePerToken::per_million(d).unwrap();
/// let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(1.0), per_m(1.0))));
/// let budget = TaskBudget::new(Usd::from_dollars(1.0)?);
///
/// let never_sent = budget.reserve(CallPlan::new(&price, 1_000).with_max_output_tokens(1_000))?;
/// never_sent.release();
/// assert_eq!(budget.snapshot().spent, Usd::ZERO);
///
/// let lost = budget.reserve(CallPlan::new(&price, 1_000).with_max_output_tokens(1_000))?;
/// drop(lost);
/// assert_eq!(budget.snapshot().spent, Usd::from_dollars(0.002)?);
/// assert_eq!(budget.snapshot().abandoned, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A reservation owns a handle on its budget and price, like tokio's
/// `OwnedSemaphorePermit`: it can move into a spawned task or a stream and
/// outlive the code that made it.
#[must_use = "a reservation left unsettled is billed at its worst case when dropped"]
pub struct Reservation {
    budget: TaskBudget,
    price: Arc<ModelPrice>,
    claim: CallAmounts,
    max_output_tokens: u64,
    service_tier: ServiceTier,
    choices: u64,
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
    /// How far `cost` passed `reserved`, when it did: the bill is recorded
    /// in full, and an [`Overrun`] is announced.
    pub overran: Option<Usd>,
}

impl Reservation {
    pub(crate) fn new(
        budget: TaskBudget,
        price: Arc<ModelPrice>,
        claim: CallAmounts,
        max_output_tokens: u64,
        service_tier: ServiceTier,
    ) -> Self {
        Reservation {
            budget,
            price,
            claim,
            max_output_tokens,
            service_tier,
            choices: 1,
            open: true,
        }
    }

    /// The reservation of a call asking for `choices` answers.
    pub(crate) fn for_choices(mut self, choices: u64) -> Self {
        self.choices = choices;
        self
    }

    /// The `max_tokens` to send the request with: the limit of each answer.
    pub const fn max_output_tokens(&self) -> u64 {
        self.max_output_tokens
    }

    /// How many answers the call asked for, each up to
    /// [`max_output_tokens`](Self::max_output_tokens).
    pub const fn choices(&self) -> u64 {
        self.choices
    }

    /// The service tier the call was planned (and reserved) at: the tier to
    /// bill usage the guard estimates itself.
    pub const fn service_tier(&self) -> ServiceTier {
        self.service_tier
    }

    /// The worst case held for this call.
    pub const fn reserved_cost(&self) -> Usd {
        self.claim.cost
    }

    /// Tokens held for this call (prompt plus output ceiling).
    pub const fn reserved_tokens(&self) -> u64 {
        self.claim.tokens
    }

    /// The budget the call is reserved in.
    pub(crate) const fn budget(&self) -> &TaskBudget {
        &self.budget
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
        self.settle_in_place(usage, Usd::ZERO)
    }

    /// [`settle`](Reservation::settle), billed at least `floor`: for a call
    /// whose provider reported a higher charge than the price says, or
    /// whose tier must be billed at a dearer price than the usage names.
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
    /// // The price says $0.0011; the provider said it charged $0.0015.
    /// let receipt = call.settle_at_least(&Usage::new(1_000, 100), Usd::from_dollars(0.0015)?);
    /// assert_eq!(receipt.cost, Usd::from_dollars(0.0015)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn settle_at_least(mut self, usage: &Usage, floor: Usd) -> Receipt {
        self.settle_in_place(usage, floor)
    }

    /// [`settle_at_least`](Reservation::settle_at_least) for a reservation
    /// kept inside a larger state that cannot hand it over by value. The
    /// reservation is closed afterwards, so dropping it records nothing
    /// more; the caller must not settle it again.
    pub(crate) fn settle_in_place(&mut self, usage: &Usage, floor: Usd) -> Receipt {
        self.open = false;
        let actual = CallAmounts {
            cost: self.price.cost(usage).max(floor),
            tokens: usage.total_tokens(),
        };
        let (spent, remaining) = self.budget.state.record(self.claim, actual, false);
        let overrun = Overrun::of(
            &self.budget.state.subject,
            self.price.model(),
            self.claim.cost,
            actual.cost,
        );
        if let Some(overrun) = &overrun {
            self.budget.state.alerts.announce_overrun(overrun);
        }
        Receipt {
            cost: actual.cost,
            reserved: self.claim.cost,
            usage: *usage,
            spent,
            remaining,
            overran: overrun.map(|overrun| overrun.by()),
        }
    }

    /// Checks that the budget still covers this call if it has used `used`
    /// so far: for a call whose output is still arriving, such as a stream.
    ///
    /// The call is counted at `used` instead of its worst case; every other
    /// call is counted as the budget stands, settled spend plus the other
    /// reservations in flight. So while `used` stays within this
    /// reservation the check can fail only if another call's bill ran over
    /// its own reservation and took the budget past a limit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use spendguard::{CallPlan, TaskBudget, Usage, Usd};
    /// use spendguard::prices::{ModelPrice, Rates};
    /// use spendguard::money::PricePerToken;
    /// use spendguard::budget::LimitKind;
    ///
    /// let per_m = |d| PricePerToken::per_million(d).unwrap();
    /// let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(1.0), per_m(1.0))));
    /// let budget = TaskBudget::new(Usd::from_dollars(0.01)?);
    ///
    /// let streaming = budget.reserve(CallPlan::new(&price, 1_000).with_max_output_tokens(3_000))?;
    /// let other = budget.reserve(CallPlan::new(&price, 1_000).with_max_output_tokens(1_000))?;
    /// assert!(streaming.check_progress(&Usage::new(1_000, 2_000)).is_ok());
    ///
    /// // The other call's prompt was far larger than estimated: its bill is
    /// // recorded in full, and the budget is now nearly used up.
    /// other.settle(&Usage::new(7_000, 500));
    /// let refusal = streaming.check_progress(&Usage::new(1_000, 2_000)).unwrap_err();
    /// assert_eq!(refusal.limit, LimitKind::Cost);
    /// assert!(streaming.check_progress(&Usage::new(1_000, 1_000)).is_ok());
    /// # streaming.release();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BudgetExceeded`] naming the dollar or token limit that `used`
    /// would pass; its `in_flight` is what the other calls hold and its
    /// `requested` is `used`.
    pub fn check_progress(&self, used: &Usage) -> Result<(), BudgetExceeded> {
        let actual = CallAmounts {
            cost: self.price.cost(used),
            tokens: used.total_tokens(),
        };
        self.budget.state.check_progress(self.claim, actual)
    }

    /// Ends a call that was sent but not billed (the provider refused it
    /// with a 429 or failed with a 5xx): its dollars and tokens are freed,
    /// and the call still counts toward the budget's call limit, so a retry
    /// loop against a failing provider is caught like any other.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use spendguard::prices::{ModelPrice, Rates};
    /// use spendguard::money::PricePerToken;
    /// use spendguard::{CallPlan, TaskBudget, Usd};
    ///
    /// let per_m = |d| PricePerToken::per_million(d).unwrap();
    /// let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(1.0), per_m(1.0))));
    /// let budget = TaskBudget::builder("t").max_cost(Usd::from_dollars(1.0)?).max_calls(2).build()?;
    ///
    /// budget.reserve(CallPlan::new(&price, 1_000))?.settle_unbilled();
    /// budget.reserve(CallPlan::new(&price, 1_000))?.settle_unbilled();
    /// assert_eq!(budget.snapshot().spent, Usd::ZERO);
    /// assert!(budget.reserve(CallPlan::new(&price, 1_000)).is_err(), "two attempts were made");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn settle_unbilled(mut self) -> Receipt {
        self.settle_in_place(&Usage::new(0, 0), Usd::ZERO)
    }

    /// Frees the whole hold: for a call that was never sent.
    pub fn release(mut self) {
        self.open = false;
        self.budget.state.release(self.claim);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.open {
            self.budget.state.record(self.claim, self.claim, true);
        }
    }
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("budget", &self.budget.name())
            .field("model", &self.price.model())
            .field("cost", &self.claim.cost)
            .field("tokens", &self.claim.tokens)
            .field("max_output_tokens", &self.max_output_tokens)
            .finish()
    }
}
