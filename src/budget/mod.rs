//! [`TaskBudget`]: a per-task ceiling checked *before* each call.
//!
//! A call first reserves its worst case (prompt plus the most output it may
//! produce). If that could cross any limit the call is refused with
//! [`BudgetExceeded`] and nothing is sent. Otherwise the [`Reservation`] holds
//! the money until the response reports what the call really used, and
//! [`Reservation::settle`] turns it into spend and frees the rest.
//!
//! ```
//! use std::sync::Arc;
//! use spendguard::{CallPlan, ModelPrice, PricePerToken, Rates, TaskBudget, Usage, Usd};
//!
//! let per_m = |d| PricePerToken::per_million(d).unwrap();
//! let price = Arc::new(ModelPrice::new("gpt-4o", Rates::new(per_m(2.50), per_m(10.0))));
//! let budget = TaskBudget::new(Usd::from_dollars(0.05)?);
//!
//! // 2,000 prompt tokens and the default 4,096-token output ceiling:
//! // worst case $0.005 + $0.04096.
//! let reservation = budget.reserve(CallPlan::new(price.clone(), 2_000))?;
//! assert_eq!(reservation.max_output_tokens(), 4_096);
//! let receipt = reservation.settle(&Usage::new(2_000, 300));
//! assert_eq!(receipt.cost, Usd::from_dollars(0.008)?);
//!
//! // A second call's worst case no longer fits.
//! let refused = budget.reserve(CallPlan::new(price, 2_000)).unwrap_err();
//! assert_eq!(refused.spent.to_string(), "$0.008");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod alert;
mod exceeded;
mod limits;
mod meter;
mod plan;
mod reservation;
mod step;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use alert::{Alert, AlertCallback, DEFAULT_ALERT_PERCENTS};
pub use exceeded::{Amount, BudgetExceeded, LimitKind};
pub use limits::{BudgetConfigError, TaskBudgetBuilder};
pub use plan::{CallPlan, OutputCeiling};
pub use reservation::{Receipt, Reservation};
pub use step::{StepError, StepGrant};

use crate::clock::Clock;
use crate::money::Usd;
use alert::AlertRule;
use meter::{Meter, Refused};

/// A budget for one task, shared by every call the task makes.
///
/// Cloning is cheap and every clone is the same budget, so it can be handed
/// to concurrent subtasks. Its limits (dollars, tokens, calls, wall-clock
/// time) are all optional; whichever would be crossed first refuses the call
/// and says so.
#[derive(Debug, Clone)]
pub struct TaskBudget {
    state: Arc<BudgetState>,
}

#[derive(Debug)]
pub(crate) struct BudgetState {
    name: String,
    scope: String,
    cost: Meter,
    tokens: Meter,
    calls: Meter,
    max_duration: Option<Duration>,
    started_at: Duration,
    ceiling: OutputCeiling,
    alerts: AlertRule,
    clock: Arc<dyn Clock>,
    abandoned: AtomicU64,
}

/// A budget's numbers at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetSnapshot {
    /// Settled spend.
    pub spent: Usd,
    /// Reserved by calls not yet settled.
    pub in_flight: Usd,
    /// The dollar limit, if any.
    pub max_cost: Option<Usd>,
    /// Settled tokens.
    pub tokens: u64,
    /// The token limit, if any.
    pub max_tokens: Option<u64>,
    /// Calls settled (including those billed at their worst case).
    pub calls: u64,
    /// Calls reserved and not yet settled.
    pub calls_in_flight: u64,
    /// The call limit, if any.
    pub max_calls: Option<u64>,
    /// Time since the budget was built.
    pub elapsed: Duration,
    /// The time limit, if any.
    pub max_duration: Option<Duration>,
    /// Reservations dropped without `settle` or `release`, each billed at its
    /// worst case.
    pub abandoned: u64,
}

impl BudgetSnapshot {
    /// Dollars left for new reservations, if there is a dollar limit.
    pub fn remaining(&self) -> Option<Usd> {
        self.max_cost
            .map(|max| max.saturating_sub(self.spent.saturating_add(self.in_flight)))
    }
}

impl TaskBudget {
    /// Starts configuring a budget named `name` (shown in refusals and alerts).
    pub fn builder(name: impl Into<String>) -> TaskBudgetBuilder {
        TaskBudgetBuilder::new(name)
    }

    /// A budget named `task` with only a dollar limit and the defaults:
    /// a 4,096-token clamping output ceiling, alerts at 50% and 80% (no
    /// callback), the system clock.
    pub fn new(max_cost: Usd) -> TaskBudget {
        TaskBudget::from_builder(TaskBudgetBuilder::new("task").max_cost(max_cost))
    }

    pub(crate) fn from_builder(builder: TaskBudgetBuilder) -> TaskBudget {
        let started_at = builder.clock.now();
        TaskBudget {
            state: Arc::new(BudgetState {
                scope: format!("task {}", builder.name),
                name: builder.name,
                cost: Meter::new(builder.max_cost.map(Usd::nanos)),
                tokens: Meter::new(builder.max_tokens),
                calls: Meter::new(builder.max_calls),
                max_duration: builder.max_duration,
                started_at,
                ceiling: builder.ceiling,
                alerts: builder.alerts,
                clock: builder.clock,
                abandoned: AtomicU64::new(0),
            }),
        }
    }

    /// The budget's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The per-call output ceiling.
    pub fn output_ceiling(&self) -> OutputCeiling {
        self.state.ceiling
    }

    /// Reserves the worst case of `plan` against every limit, all or none.
    ///
    /// The reservation's [`max_output_tokens`](Reservation::max_output_tokens)
    /// is the `max_tokens` the request must be sent with: the request's own,
    /// clamped to the output ceiling and the model's maximum.
    ///
    /// # Errors
    /// [`BudgetExceeded`] naming the limit that would be crossed; nothing is
    /// reserved then.
    pub fn reserve(&self, plan: CallPlan) -> Result<Reservation, BudgetExceeded> {
        let state = &self.state;
        state.check_duration()?;
        let max_output_tokens = state
            .ceiling
            .apply(
                plan.requested_output_tokens(),
                plan.price().max_output_tokens(),
            )
            .map_err(|asked| state.refusal_ceiling(asked))?;
        let cost = plan.price().worst_case(
            plan.input_tokens(),
            max_output_tokens,
            plan.service_tier(),
            plan.cache_write(),
        );
        let tokens = plan.input_tokens().saturating_add(max_output_tokens);

        state
            .calls
            .claim(1)
            .map_err(|r| state.refusal(LimitKind::Calls, r, 1))?;
        if let Err(r) = state.tokens.claim(tokens) {
            state.calls.unclaim(1);
            return Err(state.refusal(LimitKind::Tokens, r, tokens));
        }
        if let Err(r) = state.cost.claim(cost.nanos()) {
            state.calls.unclaim(1);
            state.tokens.unclaim(tokens);
            return Err(state.refusal(LimitKind::Cost, r, cost.nanos()));
        }
        Ok(Reservation::new(
            Arc::clone(&self.state),
            plan.into_price(),
            cost,
            tokens,
            max_output_tokens,
        ))
    }

    /// The budget's numbers now.
    pub fn snapshot(&self) -> BudgetSnapshot {
        let state = &self.state;
        BudgetSnapshot {
            spent: Usd::from_nanos(state.cost.settled()),
            in_flight: Usd::from_nanos(state.cost.in_flight()),
            max_cost: state.cost.limit().map(Usd::from_nanos),
            tokens: state.tokens.settled(),
            max_tokens: state.tokens.limit(),
            calls: state.calls.settled(),
            calls_in_flight: state.calls.in_flight(),
            max_calls: state.calls.limit(),
            elapsed: state.elapsed(),
            max_duration: state.max_duration,
            abandoned: state.abandoned.load(Ordering::Acquire),
        }
    }
}

impl BudgetState {
    fn elapsed(&self) -> Duration {
        self.clock.now().saturating_sub(self.started_at)
    }

    fn check_duration(&self) -> Result<(), BudgetExceeded> {
        let Some(max) = self.max_duration else {
            return Ok(());
        };
        let elapsed = self.elapsed();
        if elapsed < max {
            return Ok(());
        }
        Err(BudgetExceeded {
            scope: self.scope.clone(),
            limit: LimitKind::Duration,
            max: Amount::Time(max),
            spent: Amount::Time(elapsed),
            in_flight: Amount::Time(Duration::ZERO),
            requested: Amount::Time(Duration::ZERO),
        })
    }

    fn refusal_ceiling(&self, asked: u64) -> BudgetExceeded {
        BudgetExceeded {
            scope: self.scope.clone(),
            limit: LimitKind::OutputCeiling,
            max: Amount::Tokens(self.ceiling.max_tokens()),
            spent: Amount::Tokens(0),
            in_flight: Amount::Tokens(0),
            requested: Amount::Tokens(asked),
        }
    }

    fn refusal(&self, limit: LimitKind, refused: Refused, requested: u64) -> BudgetExceeded {
        let amount = |n| Amount::of(limit, n);
        BudgetExceeded {
            scope: self.scope.clone(),
            limit,
            max: amount(refused.limit),
            spent: amount(refused.settled),
            in_flight: amount(refused.committed.saturating_sub(refused.settled)),
            requested: amount(requested),
        }
    }

    /// Records a settled call and fires any alert thresholds it crossed.
    fn record(&self, claimed_cost: Usd, cost: Usd, claimed_tokens: u64, tokens: u64) -> Usd {
        let spent = self.cost.settle(claimed_cost.nanos(), cost.nanos());
        let tokens_used = self.tokens.settle(claimed_tokens, tokens);
        let calls = self.calls.settle(1, 1);
        if self.alerts.callback.is_some() {
            self.alert_if_crossed(LimitKind::Cost, &self.cost, spent);
            self.alert_if_crossed(LimitKind::Tokens, &self.tokens, tokens_used);
            self.alert_if_crossed(LimitKind::Calls, &self.calls, calls);
        }
        Usd::from_nanos(spent)
    }

    fn alert_if_crossed(&self, limit: LimitKind, meter: &Meter, used: u64) {
        let (Some(max), Some(callback)) = (meter.limit(), &self.alerts.callback) else {
            return;
        };
        let amount = |n| Amount::of(limit, n);
        for (index, percent) in self.alerts.crossed(used, max) {
            if meter.fire_alert_once(index) {
                callback(&Alert {
                    scope: self.scope.clone(),
                    limit,
                    percent,
                    used: amount(used),
                    max: amount(max),
                });
            }
        }
    }

    fn release(&self, claimed_cost: Usd, claimed_tokens: u64) {
        self.cost.unclaim(claimed_cost.nanos());
        self.tokens.unclaim(claimed_tokens);
        self.calls.unclaim(1);
    }

    fn abandon(&self, claimed_cost: Usd, claimed_tokens: u64) {
        self.abandoned.fetch_add(1, Ordering::AcqRel);
        self.record(claimed_cost, claimed_cost, claimed_tokens, claimed_tokens);
    }

    fn remaining(&self) -> Option<Usd> {
        self.cost.limit().map(|max| {
            let committed = self.cost.settled().saturating_add(self.cost.in_flight());
            Usd::from_nanos(max.saturating_sub(committed))
        })
    }
}
