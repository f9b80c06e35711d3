//! [`RunawayDetected`]: what a runaway detector refused, and what to do next.

use std::fmt;
use std::time::Duration;

use crate::clock::{HumanDuration, UtcDateTime};
use crate::guard::runaway::RequestFingerprint;
use crate::money::Usd;

/// What happens when a detector fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunawayAction {
    /// Refuse this call only; the next one is judged afresh.
    Refuse,
    /// Refuse this call and every call in the same scope for this long.
    Pause(Duration),
    /// Refuse this call and trip the kill switch, stopping every call until
    /// a person resets it. The detectors only report it; the guard trips it.
    Halt,
}

impl fmt::Display for RunawayAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunawayAction::Refuse => f.write_str("refused"),
            RunawayAction::Pause(length) => write!(f, "paused for {}", HumanDuration(*length)),
            RunawayAction::Halt => f.write_str("kill switch tripped"),
        }
    }
}

/// Which runaway pattern a detector saw.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunawayKind {
    /// The same request again and again: a retry loop.
    Loop {
        /// The repeated request.
        fingerprint: RequestFingerprint,
        /// Identical calls the refused one would have made, counting itself.
        repeats: u32,
        /// The sliding window they fell in.
        within: Duration,
    },
    /// Too many calls in a sliding window: a call burst.
    CallVelocity {
        /// The most calls the window allows.
        limit: u32,
        /// The window.
        per: Duration,
    },
    /// Too much money reserved in a sliding window.
    SpendVelocity {
        /// Worst-case cost of the calls already in the window.
        spent: Usd,
        /// Worst-case cost of the refused call.
        requested: Usd,
        /// The most the window allows.
        limit: Usd,
        /// The window.
        per: Duration,
    },
    /// The provider kept failing (402, 429 or 5xx), so calls wait.
    CircuitOpen {
        /// Failures in a row that opened the circuit.
        failures: u32,
        /// When one probe call may go through, since the Unix epoch.
        until: Duration,
    },
    /// The scope is paused because of an earlier detection.
    Paused {
        /// When the pause ends, since the Unix epoch.
        until: Duration,
        /// The detection that paused it.
        cause: Box<RunawayKind>,
    },
}

impl fmt::Display for RunawayKind {
    /// A phrase that follows the scope's name: "agent=a reached its limit…".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunawayKind::Loop {
                fingerprint,
                repeats,
                within,
            } => write!(
                f,
                "tried the same request (fingerprint {fingerprint}) {repeats} times within \
                 {}: a retry loop",
                HumanDuration(*within)
            ),
            RunawayKind::CallVelocity { limit, per } => write!(
                f,
                "reached its limit of {limit} calls per {}: a call burst",
                HumanDuration(*per)
            ),
            RunawayKind::SpendVelocity {
                spent,
                requested,
                limit,
                per,
            } => write!(
                f,
                "reserved {spent} in the last {per} and this call may cost up to {requested}, \
                 over its limit of {limit} per {per}",
                per = HumanDuration(*per)
            ),
            RunawayKind::CircuitOpen { failures, until } => write!(
                f,
                "got {failures} failures in a row from the provider (402, 429 or 5xx), so \
                 calls wait until {}, when one probe call goes through",
                UtcDateTime::from_unix(*until)
            ),
            RunawayKind::Paused { until, cause } => write!(
                f,
                "is paused until {} because it {cause}",
                UtcDateTime::from_unix(*until)
            ),
        }
    }
}

/// A call was refused because its scope looks like a runaway. Nothing was
/// sent.
///
/// ```
/// use std::time::Duration;
/// use spendguard::guard::runaway::{RequestFingerprint, RunawayAction, RunawayPolicy};
///
/// let policy = RunawayPolicy::builder()
///     .calls_per(2, Duration::from_secs(60), RunawayAction::Pause(Duration::from_secs(300)))
///     .build()?;
/// let request = RequestFingerprint::of("gpt-4o", &serde_json::json!({"n": 1}));
/// let now = Duration::from_secs(1_700_000_000);
/// let check = |now| policy.check(&["agent=researcher"], request, Default::default(), now);
/// check(now)?;
/// check(now)?;
/// let refusal = check(now).unwrap_err();
/// assert_eq!(refusal.action, RunawayAction::Pause(Duration::from_secs(300)));
/// assert_eq!(
///     refusal.to_string(),
///     "agent=researcher reached its limit of 2 calls per 1m: a call burst; paused for 5m"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct RunawayDetected {
    /// The scope that ran away, as the guard named it (`agent=researcher`).
    pub scope: String,
    /// What it did.
    pub kind: RunawayKind,
    /// What the configuration says to do about it.
    pub action: RunawayAction,
}

impl RunawayDetected {
    pub(crate) fn new(scope: &str, kind: RunawayKind, action: RunawayAction) -> Self {
        RunawayDetected {
            scope: scope.to_owned(),
            kind,
            action,
        }
    }
}

impl fmt::Display for RunawayDetected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}; {}", self.scope, self.kind, self.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_names_scope_pattern_and_action() {
        let fingerprint = RequestFingerprint::of("gpt-4o", &serde_json::json!({}));
        let loop_kind = RunawayKind::Loop {
            fingerprint,
            repeats: 3,
            within: Duration::from_secs(60),
        };
        let refused = RunawayDetected::new("agent=a", loop_kind.clone(), RunawayAction::Refuse);
        assert_eq!(
            refused.to_string(),
            format!(
                "agent=a tried the same request (fingerprint {fingerprint}) 3 times within 1m: \
                 a retry loop; refused"
            )
        );

        let spend = RunawayKind::SpendVelocity {
            spent: Usd::from_cents(480),
            requested: Usd::from_cents(40),
            limit: Usd::from_cents(500),
            per: Duration::from_secs(60),
        };
        assert_eq!(
            RunawayDetected::new("key=prod-1", spend, RunawayAction::Halt).to_string(),
            "key=prod-1 reserved $4.80 in the last 1m and this call may cost up to $0.40, \
             over its limit of $5.00 per 1m; kill switch tripped"
        );

        let open = RunawayKind::CircuitOpen {
            failures: 5,
            until: Duration::from_secs(1_700_000_030),
        };
        assert_eq!(
            RunawayDetected::new("global", open, RunawayAction::Refuse).to_string(),
            "global got 5 failures in a row from the provider (402, 429 or 5xx), so calls \
             wait until 2023-11-14T22:13:50.000Z, when one probe call goes through; refused"
        );

        let paused = RunawayKind::Paused {
            until: Duration::from_secs(1_700_000_300),
            cause: Box::new(RunawayKind::CallVelocity {
                limit: 30,
                per: Duration::from_secs(60),
            }),
        };
        assert_eq!(
            RunawayDetected::new("agent=a", paused, RunawayAction::Refuse).to_string(),
            "agent=a is paused until 2023-11-14T22:18:20.000Z because it reached its limit \
             of 30 calls per 1m: a call burst; refused"
        );
    }
}
