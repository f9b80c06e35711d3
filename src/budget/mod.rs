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
//! use spendguard::{CallPlan, TaskBudget, Usage, Usd};
//! use spendguard::prices::{ModelPrice, Rates};
//! use spendguard::money::PricePerToken;
//!
//! let per_m = |d| PricePerToken::per_million(d).unwrap();
//! let price = Arc::new(ModelPrice::new("gpt-4o", Rates::new(per_m(2.50), per_m(10.0))));
//! let budget = TaskBudget::new(Usd::from_dollars(0.05)?);
//!
//! // 2,000 prompt tokens and the default 4,096-token output ceiling:
//! // worst case $0.005 + $0.04096.
//! let reservation = budget.reserve(CallPlan::new(&price, 2_000))?;
//! assert_eq!(reservation.max_output_tokens(), 4_096);
//! let receipt = reservation.settle(&Usage::new(2_000, 300));
//! assert_eq!(receipt.cost, Usd::from_dollars(0.008)?);
//!
//! // A second call's worst case no longer fits.
//! let refused = budget.reserve(CallPlan::new(&price, 2_000)).unwrap_err();
//! assert_eq!(refused.spent.to_string(), "$0.008");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod alert;
mod counters;
mod exceeded;
mod limits;
mod overrun;
mod plan;
mod reservation;
mod step;
mod tally;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use alert::{Alert, AlertCallback, AlertKind, DEFAULT_ALERT_PERCENTS};
pub use exceeded::{Amount, BudgetExceeded, LimitKind};
pub use limits::{BudgetConfigError, TaskBudgetBuilder};
pub use overrun::Overrun;
pub use plan::{CallPlan, OutputCeiling};
pub use reservation::{Receipt, Reservation};
pub use step::{StepError, StepGrant};

use crate::clock::Clock;
use crate::money::Usd;
use crate::tags::Tags;
use alert::AlertRule;
use counters::Counters;
use tally::{Refused, Tally};

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
    tags: Tags,
    subject: String,
    counters: Counters,
    max_duration: Option<Duration>,
    started_at: Duration,
    ceiling: OutputCeiling,
    alerts: AlertRule,
    clock: Arc<dyn Clock>,
}

/// Everything a reservation checks and changes, kept together under one lock.
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

    /// A budget with only a dollar limit and the defaults: a 4,096-token
    /// clamping output ceiling, alerts at 50% and 80% (no callback), the
    /// system clock. It is named `task-1`, `task-2`, ... in the order such
    /// budgets are made, so unrelated tasks never share a runaway scope or
    /// a ledger tag; name it with [`TaskBudget::builder`] to choose.
    ///
    /// ```
    /// use spendguard::{TaskBudget, Usd};
    ///
    /// let first = TaskBudget::new(Usd::from_cents(100));
    /// let second = TaskBudget::new(Usd::from_cents(100));
    /// assert!(first.name().starts_with("task-"));
    /// assert_ne!(first.name(), second.name());
    /// ```
    pub fn new(max_cost: Usd) -> TaskBudget {
        static UNNAMED: AtomicU64 = AtomicU64::new(1);
        let number = UNNAMED.fetch_add(1, Ordering::Relaxed);
        let name = format!("task-{number}");
        TaskBudget::from_builder(TaskBudgetBuilder::new(name).max_cost(max_cost))
    }

    pub(crate) fn from_builder(builder: TaskBudgetBuilder) -> TaskBudget {
        let started_at = builder.clock.now();
        TaskBudget {
            state: Arc::new(BudgetState {
                subject: format!("task {}", builder.name),
                tags: builder.tags.or(&Tags::new().task(&builder.name)),
                name: builder.name,
                counters: Counters::new(
                    builder.max_cost.map(Usd::nanos),
                    builder.max_tokens,
                    builder.max_calls,
                ),
                max_duration: builder.max_duration,
                started_at,
                ceiling: builder.ceiling,
                alerts: builder.alerts,
                clock: builder.clock,
            }),
        }
    }

    /// The budget's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The budget as refusals and alerts name it: `task report`.
    pub(crate) fn subject(&self) -> &str {
        &self.state.subject
    }

    /// The tags the task's calls carry, for shared limits and the ledger:
    /// those given to [`TaskBudgetBuilder::tags`], with the task tag set to
    /// the budget's name unless given.
    pub fn tags(&self) -> &Tags {
        &self.state.tags
    }

    /// The per-call output ceiling.
    pub fn output_ceiling(&self) -> OutputCeiling {
        self.state.ceiling
    }

    /// Reserves the worst case of `plan` against every limit, all or none.
    ///
    /// A budget whose only limits are dollars and calls (with or without a
    /// time limit, which needs no counter) reserves and settles with atomic
    /// compare-and-swap, never waiting on a lock; one with a token limit
    /// claims its limits together under one short lock. Both refuse the same
    /// calls and never let spend plus reservations pass a limit.
    ///
    /// The reservation's [`max_output_tokens`](Reservation::max_output_tokens)
    /// is the `max_tokens` the request must be sent with: the request's own,
    /// clamped to the output ceiling and the model's maximum.
    ///
    /// # Errors
    /// [`BudgetExceeded`] naming the limit that would be crossed; nothing is
    /// reserved then.
    pub fn reserve(&self, plan: CallPlan) -> Result<Reservation, BudgetExceeded> {
        self.reserve_leaving(plan, Room::None)
    }

    /// [`reserve`](Self::reserve), but only while as much again would still
    /// fit after it: a reservation held on an upper bound of its prompt is
    /// made only far from every limit, so that its excess cannot be what
    /// refuses another call. A refusal here decides nothing; the caller
    /// counts exactly and reserves again.
    pub(crate) fn reserve_far_from_limits(
        &self,
        plan: CallPlan,
    ) -> Result<Reservation, BudgetExceeded> {
        self.reserve_leaving(plan, Room::AsMuchAgain)
    }

    fn reserve_leaving(&self, plan: CallPlan, room: Room) -> Result<Reservation, BudgetExceeded> {
        let state = &self.state;
        state.check_duration(Duration::ZERO)?;
        let max_output_tokens = state
            .ceiling
            .apply(
                plan.requested_output_tokens(),
                plan.price().max_output_tokens(),
            )
            .map_err(|asked| state.refusal_ceiling(asked))?;
        // Every answer asked for may run to the limit.
        let all_output = max_output_tokens.saturating_mul(plan.choices());
        let cost = plan.price().worst_case(
            plan.input_tokens(),
            all_output,
            plan.service_tier(),
            plan.cache_write(),
        );
        let tokens = plan.input_tokens().saturating_add(all_output);

        let claim = CallAmounts { cost, tokens };
        let room = match room {
            Room::None => CallAmounts {
                cost: Usd::ZERO,
                tokens: 0,
            },
            Room::AsMuchAgain => claim,
        };
        if let Err(refused) = state.counters.claim(claim, room) {
            return Err(state.refusal(refused));
        }
        let service_tier = plan.service_tier();
        let choices = plan.choices();
        Ok(Reservation::new(
            self.clone(),
            plan.into_price(),
            claim,
            max_output_tokens,
            service_tier,
        )
        .for_choices(choices))
    }

    /// Refuses a wait of `wait` (a retry's back-off) after which the time
    /// limit would already be reached, so a caller does not sleep only to be
    /// refused.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn check_wait(&self, wait: Duration) -> Result<(), BudgetExceeded> {
        self.state.check_duration(wait)
    }

    /// The budget's numbers now, all read at one instant.
    pub fn snapshot(&self) -> BudgetSnapshot {
        let state = &self.state;
        let tallies = state.counters.load();
        BudgetSnapshot {
            spent: Usd::from_nanos(tallies.cost.settled),
            in_flight: Usd::from_nanos(tallies.cost.in_flight),
            max_cost: tallies.cost.limit.map(Usd::from_nanos),
            tokens: tallies.tokens.settled,
            max_tokens: tallies.tokens.limit,
            calls: tallies.calls.settled,
            calls_in_flight: tallies.calls.in_flight,
            max_calls: tallies.calls.limit,
            elapsed: state.elapsed(),
            max_duration: state.max_duration,
            abandoned: tallies.abandoned,
        }
    }
}

impl BudgetState {
    fn elapsed(&self) -> Duration {
        self.clock.now().saturating_sub(self.started_at)
    }

    /// Refuses once the time limit is reached, or would be after `wait`.
    fn check_duration(&self, wait: Duration) -> Result<(), BudgetExceeded> {
        let Some(max) = self.max_duration else {
            return Ok(());
        };
        let elapsed = self.elapsed();
        if elapsed.saturating_add(wait) < max {
            return Ok(());
        }
        Err(BudgetExceeded {
            subject: self.subject.clone(),
            limit: LimitKind::Duration,
            max: Amount::Time(max),
            spent: Amount::Time(elapsed),
            in_flight: Amount::Time(Duration::ZERO),
            requested: Amount::Time(wait),
        })
    }

    fn refusal_ceiling(&self, asked: u64) -> BudgetExceeded {
        BudgetExceeded {
            subject: self.subject.clone(),
            limit: LimitKind::OutputCeiling,
            max: Amount::Tokens(self.ceiling.max_tokens()),
            spent: Amount::Tokens(0),
            in_flight: Amount::Tokens(0),
            requested: Amount::Tokens(asked),
        }
    }

    fn refusal(&self, refused: Refused) -> BudgetExceeded {
        let amount = |n| Amount::of(refused.limit, n);
        BudgetExceeded {
            subject: self.subject.clone(),
            limit: refused.limit,
            max: amount(refused.max),
            spent: amount(refused.settled),
            in_flight: amount(refused.in_flight),
            requested: amount(refused.requested),
        }
    }

    /// Records a settled call, then fires any alert thresholds it crossed
    /// (outside the lock: a callback must not hold up other calls). Returns
    /// the settled spend and what is left.
    fn record(
        &self,
        claim: CallAmounts,
        actual: CallAmounts,
        abandoned: bool,
    ) -> (Usd, Option<Usd>) {
        let mut alerts = Vec::new();
        let (spent, remaining) = {
            let tallies = self.counters.settle(claim, actual, abandoned);
            if self.alerts.listening() {
                for (kind, tally) in tallies.each() {
                    self.crossed_alerts(kind, tally, &mut alerts);
                }
            }
            let cost = tallies.cost;
            let remaining = cost
                .limit
                .map(|max| Usd::from_nanos(max.saturating_sub(cost.committed())));
            (Usd::from_nanos(cost.settled), remaining)
        };
        alerts.iter().for_each(|alert| self.alerts.announce(alert));
        (spent, remaining)
    }

    fn crossed_alerts(&self, kind: LimitKind, tally: Tally, alerts: &mut Vec<Alert>) {
        let Some(max) = tally.limit else {
            return;
        };
        for (index, percent) in self.alerts.crossed(tally.settled, max) {
            if self.counters.fire_alert_once(kind, index) {
                alerts.push(Alert {
                    subject: self.subject.clone(),
                    limit: kind,
                    percent,
                    used: Amount::of(kind, tally.settled),
                    max: Amount::of(kind, max),
                    kind: AlertKind::Threshold,
                });
            }
        }
    }

    /// `Err` if a call holding `claim` that has used `actual` so far would
    /// take the dollars or tokens past their limit, counting every other
    /// call as it stands (settled, plus the other claims in flight).
    fn check_progress(
        &self,
        claim: CallAmounts,
        actual: CallAmounts,
    ) -> Result<(), BudgetExceeded> {
        let tallies = self.counters.load();
        let checks = [
            (
                LimitKind::Cost,
                tallies.cost,
                claim.cost.nanos(),
                actual.cost.nanos(),
            ),
            (
                LimitKind::Tokens,
                tallies.tokens,
                claim.tokens,
                actual.tokens,
            ),
        ];
        for (limit, tally, held, used) in checks {
            let Some(max) = tally.limit else {
                continue;
            };
            let others = tally.in_flight.saturating_sub(held);
            if tally.settled.saturating_add(others).saturating_add(used) > max {
                return Err(self.refusal(Refused {
                    limit,
                    max,
                    settled: tally.settled,
                    in_flight: others,
                    requested: used,
                }));
            }
        }
        Ok(())
    }

    fn release(&self, claim: CallAmounts) {
        self.counters.release(claim);
    }
}

/// How much must still fit once a reservation is made.
#[derive(Debug, Clone, Copy)]
enum Room {
    /// Nothing: the reservation may fill the budget.
    None,
    /// As much again as the reservation.
    AsMuchAgain,
}

/// Dollars and tokens of one call: held by a reservation, or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallAmounts {
    pub(crate) cost: Usd,
    pub(crate) tokens: u64,
}

/// A budget whose dollar claims are a load and a later store instead of a
/// compare-and-swap: the broken variant the race tests must catch.
#[cfg(test)]
pub(crate) fn racy_budget(max_cost: Usd) -> TaskBudget {
    let mut budget = TaskBudget::new(max_cost);
    let state = Arc::get_mut(&mut budget.state).expect("the budget was just built");
    state.counters = counters::racy(Some(max_cost.nanos()), None);
    budget
}
