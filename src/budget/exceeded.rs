//! [`BudgetExceeded`]: the refusal a guard returns before anything is sent.

use std::fmt;
use std::time::Duration;

use crate::money::Usd;

/// Which limit of a budget refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKind {
    /// The dollar limit.
    Cost,
    /// The total-token limit.
    Tokens,
    /// The number-of-calls limit.
    Calls,
    /// The wall-clock limit.
    Duration,
    /// The per-call output ceiling, when set to refuse rather than clamp.
    OutputCeiling,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Cost => "cost limit",
            LimitKind::Tokens => "token limit",
            LimitKind::Calls => "call limit",
            LimitKind::Duration => "time limit",
            LimitKind::OutputCeiling => "per-call output ceiling",
        })
    }
}

/// A quantity of whatever a limit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Amount {
    /// Dollars.
    Usd(Usd),
    /// Tokens.
    Tokens(u64),
    /// Calls.
    Calls(u64),
    /// Wall-clock time.
    Time(Duration),
}

impl Amount {
    /// `n` units of what a metered limit counts: nano-dollars for
    /// [`LimitKind::Cost`], calls for [`LimitKind::Calls`], tokens otherwise.
    pub(crate) const fn of(limit: LimitKind, n: u64) -> Amount {
        match limit {
            LimitKind::Cost => Amount::Usd(Usd::from_nanos(n)),
            LimitKind::Calls => Amount::Calls(n),
            _ => Amount::Tokens(n),
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Usd(usd) => write!(f, "{usd}"),
            Amount::Tokens(n) => write!(f, "{n} tokens"),
            Amount::Calls(1) => f.write_str("1 call"),
            Amount::Calls(n) => write!(f, "{n} calls"),
            Amount::Time(d) => write!(f, "{:.1}s", d.as_secs_f64()),
        }
    }
}

/// A call was refused because it could cross a limit. Nothing was sent.
///
/// It carries every number a person needs to decide what to do: which budget
/// and which limit, the limit itself, what is already spent, what other
/// calls have reserved but not yet settled, and what this call asked for.
///
/// ```
/// use std::sync::Arc;
/// use spendguard::{CallPlan, TaskBudget, Usage, Usd};
/// use spendguard::prices::{ModelPrice, Rates};
/// use spendguard::money::PricePerToken;
/// use spendguard::budget::{Amount, LimitKind};
///
/// let per_m = |d| PricePerToken::per_million(d).unwrap();
/// let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(10.0), per_m(10.0))));
/// let budget = TaskBudget::builder("nightly-digest").max_cost(Usd::from_cents(200)).build()?;
///
/// let first = budget.reserve(CallPlan::new(&price, 190_000).with_max_output_tokens(5_000))?;
/// first.settle(&Usage::new(190_000, 5_000));
/// let refusal = budget
///     .reserve(CallPlan::new(&price, 5_000).with_max_output_tokens(1_000))
///     .unwrap_err();
/// assert_eq!(refusal.limit, LimitKind::Cost);
/// assert_eq!(refusal.requested, Amount::Usd(Usd::from_cents(6)));
/// assert_eq!(
///     refusal.to_string(),
///     "task nightly-digest would exceed its cost limit of $2.00: \
///      $1.95 is spent and $0.00 is in flight, and this call needs up to $0.06"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct BudgetExceeded {
    /// The budget that refused, e.g. `task nightly-digest`.
    pub subject: String,
    /// Which of its limits.
    pub limit: LimitKind,
    /// The limit.
    pub max: Amount,
    /// Settled use so far.
    pub spent: Amount,
    /// Reserved by calls still running.
    pub in_flight: Amount,
    /// What this call asked for (for the time limit: how long a retry
    /// would have waited first, or zero).
    pub requested: Amount,
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let BudgetExceeded {
            subject,
            limit,
            max,
            spent,
            in_flight,
            requested,
        } = self;
        match limit {
            LimitKind::Duration if matches!(requested, Amount::Time(wait) if !wait.is_zero()) => {
                write!(
                    f,
                    "{subject} would reach its {limit} of {max} while waiting {requested} to retry: \
                 it has been running for {spent}"
                )
            }
            LimitKind::Duration => write!(
                f,
                "{subject} reached its {limit} of {max}: it has been running for {spent}"
            ),
            LimitKind::OutputCeiling => write!(
                f,
                "{subject} refused a call asking for up to {requested} of output: \
                 its {limit} is {max} (lower max_tokens, or let the budget clamp it)"
            ),
            LimitKind::Calls => write!(
                f,
                "{subject} reached its {limit} of {max}: {spent} settled and {in_flight} in flight"
            ),
            _ => write!(
                f,
                "{subject} would exceed its {limit} of {max}: {spent} is spent and \
                 {in_flight} is in flight, and this call needs up to {requested}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(limit: LimitKind, max: Amount, spent: Amount, requested: Amount) -> String {
        BudgetExceeded {
            subject: "task t".into(),
            limit,
            max,
            spent,
            in_flight: Amount::Calls(0),
            requested,
        }
        .to_string()
    }

    #[test]
    fn every_limit_reads_as_a_sentence() {
        assert_eq!(
            refusal(
                LimitKind::Calls,
                Amount::Calls(100),
                Amount::Calls(100),
                Amount::Calls(1)
            ),
            "task t reached its call limit of 100 calls: 100 calls settled and 0 calls in flight"
        );
        assert_eq!(
            refusal(
                LimitKind::Duration,
                Amount::Time(Duration::from_secs(600)),
                Amount::Time(Duration::from_millis(600_500)),
                Amount::Calls(1)
            ),
            "task t reached its time limit of 600.0s: it has been running for 600.5s"
        );
        assert_eq!(
            refusal(
                LimitKind::Duration,
                Amount::Time(Duration::from_secs(600)),
                Amount::Time(Duration::from_secs(590)),
                Amount::Time(Duration::from_secs(30))
            ),
            "task t would reach its time limit of 600.0s while waiting 30.0s to retry: \
             it has been running for 590.0s"
        );
        assert_eq!(
            refusal(
                LimitKind::OutputCeiling,
                Amount::Tokens(4_096),
                Amount::Tokens(0),
                Amount::Tokens(100_000)
            ),
            "task t refused a call asking for up to 100000 tokens of output: its per-call \
             output ceiling is 4096 tokens (lower max_tokens, or let the budget clamp it)"
        );
        assert!(refusal(
            LimitKind::Tokens,
            Amount::Tokens(10),
            Amount::Tokens(9),
            Amount::Tokens(5)
        )
        .contains("would exceed its token limit of 10 tokens"));
    }
}
