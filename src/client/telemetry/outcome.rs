//! How one call ended, as spans and metrics name it: the ledger's decision,
//! and for a refusal the kind of limit that refused, from a short fixed list
//! (so a metric label never takes an unbounded value).

use crate::budget::{LimitKind, TaskBudget};
use crate::client::error::{ClientError, CutOffReason};
use crate::client::recorder::{failed_decision, settled_decision};
use crate::guard::runaway::RunawayKind;
use crate::ledger::Decision;

/// How a call ended: its decision and, for a call stopped by a limit, which
/// kind of limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) decision: Decision,
    pub(crate) limit: Option<&'static str>,
}

impl Outcome {
    /// The outcome of a call that ended without a receipt (refused before it
    /// was sent, or failed), checked against `budget`.
    pub(crate) fn failed(error: &ClientError, budget: &TaskBudget) -> Outcome {
        Outcome {
            decision: failed_decision(error),
            limit: limit_kind(error, budget),
        }
    }

    /// The outcome of a call that was answered; `error` is how a stream
    /// ended badly, if it did.
    pub(crate) fn settled(error: Option<&ClientError>, budget: &TaskBudget) -> Outcome {
        Outcome {
            decision: settled_decision(error),
            limit: error.and_then(|error| limit_kind(error, budget)),
        }
    }

    /// `true` when a person should hear of it: refused, halted, a runaway,
    /// or cut off.
    #[cfg(feature = "tracing")]
    pub(crate) fn is_warning(self) -> bool {
        matches!(
            self.decision,
            Decision::Refused | Decision::Killed | Decision::Runaway | Decision::CutOff
        )
    }
}

/// The kind of limit that stopped a call, if one did: a limit of the task
/// budget (`cost`, `tokens`, `calls`, `duration`, `output_ceiling`), a
/// shared limit (`shared_cost`), the model's `context_window`, the
/// `kill_switch`, a runaway detector, or the provider's ignored
/// `output_limit`.
pub(crate) fn limit_kind(error: &ClientError, budget: &TaskBudget) -> Option<&'static str> {
    match error {
        ClientError::Budget(exceeded) => Some(if exceeded.subject == budget.subject() {
            task_limit(exceeded.limit)
        } else {
            "shared_cost"
        }),
        ClientError::ContextWindow { .. } => Some("context_window"),
        ClientError::Halted(_) => Some("kill_switch"),
        ClientError::Runaway(detected) => Some(detector(&detected.kind)),
        ClientError::StreamCutOff { reason, .. } => Some(match reason {
            CutOffReason::OutputLimitIgnored { .. } => "output_limit",
            CutOffReason::Budget(exceeded) if exceeded.subject == budget.subject() => {
                task_limit(exceeded.limit)
            }
            CutOffReason::Budget(_) => "shared_cost",
            CutOffReason::Halted(_) => "kill_switch",
        }),
        _ => None,
    }
}

const fn task_limit(limit: LimitKind) -> &'static str {
    match limit {
        LimitKind::Cost => "cost",
        LimitKind::Tokens => "tokens",
        LimitKind::Calls => "calls",
        LimitKind::Duration => "duration",
        LimitKind::OutputCeiling => "output_ceiling",
    }
}

fn detector(kind: &RunawayKind) -> &'static str {
    match kind {
        RunawayKind::Loop { .. } => "retry_loop",
        RunawayKind::CallVelocity { .. } => "call_velocity",
        RunawayKind::SpendVelocity { .. } => "spend_velocity",
        RunawayKind::CircuitOpen { .. } => "circuit_breaker",
        RunawayKind::Paused { .. } => "paused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::{Amount, BudgetExceeded};
    use crate::money::Usd;

    fn exceeded(subject: &str, limit: LimitKind) -> ClientError {
        ClientError::Budget(BudgetExceeded {
            subject: subject.into(),
            limit,
            max: Amount::Usd(Usd::from_cents(1)),
            spent: Amount::Usd(Usd::ZERO),
            in_flight: Amount::Usd(Usd::ZERO),
            requested: Amount::Usd(Usd::from_cents(2)),
        })
    }

    #[test]
    fn a_refusal_names_the_task_limit_or_the_shared_one() {
        let budget = TaskBudget::builder("t").build().unwrap();
        let task = Outcome::failed(&exceeded("task t", LimitKind::Calls), &budget);
        assert_eq!(
            (task.decision, task.limit),
            (Decision::Refused, Some("calls"))
        );
        let shared = Outcome::failed(&exceeded("everything today", LimitKind::Cost), &budget);
        assert_eq!(shared.limit, Some("shared_cost"));
        #[cfg(feature = "tracing")]
        assert!(shared.is_warning());
    }

    #[test]
    fn an_answered_call_has_no_limit_and_no_warning() {
        let budget = TaskBudget::builder("t").build().unwrap();
        let allowed = Outcome::settled(None, &budget);
        assert_eq!((allowed.decision, allowed.limit), (Decision::Allowed, None));
        #[cfg(feature = "tracing")]
        assert!(!allowed.is_warning());
    }
}
