//! [`CircuitBreaker`]: a provider that keeps failing gets a rest, then a probe.

use std::fmt;
use std::time::Duration;

use parking_lot::Mutex;

use crate::guard::runaway::scope_table::{Expiring, ScopeTable, DEFAULT_MAX_SCOPES};
use crate::guard::runaway::{RunawayAction, RunawayConfigError, RunawayDetected, RunawayKind};

/// A validated breaker setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BreakerRule {
    failures: u32,
    cool_down: Duration,
}

impl BreakerRule {
    pub(crate) fn new(failures: u32, cool_down: Duration) -> Result<Self, RunawayConfigError> {
        if failures == 0 {
            return Err(RunawayConfigError::ZeroFailures);
        }
        if cool_down.is_zero() {
            return Err(RunawayConfigError::ZeroDuration { what: "cool-down" });
        }
        Ok(BreakerRule {
            failures,
            cool_down,
        })
    }
}

/// What a finished call says about the provider's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    /// It answered: a success.
    Answered,
    /// It is out of credit, rate limiting or failing: 402, 429 or 5xx.
    Failing,
    /// Nothing about the provider (a 400 is the caller's own bug).
    Unknown,
}

impl Health {
    /// `None` (no status because the call succeeded) and 2xx are answers.
    pub(crate) const fn of(status: Option<u16>) -> Health {
        match status {
            None | Some(200..=299) => Health::Answered,
            Some(status) if CircuitBreaker::counts_as_failure(status) => Health::Failing,
            Some(_) => Health::Unknown,
        }
    }
}

/// One scope's circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Circuit {
    /// Calls go through; this many failures in a row so far.
    Closed { failures: u32 },
    /// Calls wait until `until`, when one probe goes through.
    Open { until: Duration },
    /// A probe went through; others wait for its outcome, or until
    /// `until`, when another probe goes (so a lost outcome cannot wedge it).
    Probing { until: Duration },
}

impl Default for Circuit {
    fn default() -> Self {
        Circuit::Closed { failures: 0 }
    }
}

impl Circuit {
    /// Refuses a call while the circuit is open or a probe is out.
    pub(crate) fn check(&self, rule: BreakerRule, now: Duration) -> Result<(), RunawayKind> {
        match *self {
            Circuit::Open { until } | Circuit::Probing { until } if now < until => {
                Err(RunawayKind::CircuitOpen {
                    failures: rule.failures,
                    until,
                })
            }
            _ => Ok(()),
        }
    }

    /// Lets a call through: after the cool-down it is the probe.
    pub(crate) fn admit(&mut self, rule: BreakerRule, now: Duration) {
        if let Circuit::Open { .. } | Circuit::Probing { .. } = self {
            *self = Circuit::Probing {
                until: now.saturating_add(rule.cool_down),
            };
        }
    }

    /// Takes a finished call's outcome into account.
    pub(crate) fn record(&mut self, rule: BreakerRule, health: Health, now: Duration) {
        match (health, *self) {
            (Health::Answered, _) => *self = Circuit::Closed { failures: 0 },
            (Health::Failing, Circuit::Closed { failures }) => {
                let failures = failures.saturating_add(1);
                *self = if failures >= rule.failures {
                    Circuit::opened(rule, now)
                } else {
                    Circuit::Closed { failures }
                };
            }
            (Health::Failing, Circuit::Probing { .. }) => *self = Circuit::opened(rule, now),
            // A straggler sent before the circuit opened changes nothing.
            (Health::Failing, Circuit::Open { .. }) | (Health::Unknown, _) => {}
        }
    }

    fn opened(rule: BreakerRule, now: Duration) -> Circuit {
        Circuit::Open {
            until: now.saturating_add(rule.cool_down),
        }
    }
}

impl Expiring for Circuit {
    fn is_idle(&self, _now: Duration) -> bool {
        *self == Circuit::Closed { failures: 0 }
    }
}

/// Pauses a scope after `failures` consecutive 402, 429 or 5xx responses
/// for a cool-down, then lets exactly one probe call through.
///
/// While the probe is out, other calls are refused. Its success closes the
/// circuit; its failure opens it for another cool-down; if its outcome is
/// never recorded, another probe goes through one cool-down later. Any
/// success resets the count of failures in a row. Other statuses (400,
/// 401, 404, ...) are the caller's problem, not a storm: they neither count
/// nor reset. On its own the breaker only refuses;
/// [`RunawayPolicy`](crate::guard::runaway::RunawayPolicy) adds pausing and
/// halting.
///
/// ```
/// use std::time::Duration;
/// use spendguard::guard::runaway::CircuitBreaker;
///
/// let breaker = CircuitBreaker::new(3, Duration::from_secs(30))?;
/// let now = Duration::from_secs(1_700_000_000);
/// for _ in 0..3 {
///     breaker.check("key=prod-1", now)?;
///     breaker.record_failure("key=prod-1", 429, now);
/// }
/// assert!(breaker.check("key=prod-1", now).is_err());
///
/// let later = now + Duration::from_secs(30);
/// assert!(breaker.check("key=prod-1", later).is_ok()); // the probe
/// assert!(breaker.check("key=prod-1", later).is_err()); // waits for it
/// breaker.record_success("key=prod-1");
/// assert!(breaker.check("key=prod-1", later).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CircuitBreaker {
    rule: BreakerRule,
    scopes: Mutex<ScopeTable<Circuit>>,
}

impl CircuitBreaker {
    /// Opens after `failures` failures in a row, for `cool_down`.
    ///
    /// # Errors
    /// [`RunawayConfigError`] for zero failures or a zero cool-down.
    pub fn new(failures: u32, cool_down: Duration) -> Result<Self, RunawayConfigError> {
        Ok(CircuitBreaker {
            rule: BreakerRule::new(failures, cool_down)?,
            scopes: Mutex::new(ScopeTable::new(DEFAULT_MAX_SCOPES)),
        })
    }

    /// Tracks at most `max` scopes (10,000 by default); see
    /// [`DEFAULT_MAX_SCOPES`](crate::guard::runaway::DEFAULT_MAX_SCOPES).
    ///
    /// # Errors
    /// [`RunawayConfigError::ZeroScopes`] for 0.
    pub fn with_max_scopes(self, max: usize) -> Result<Self, RunawayConfigError> {
        if max == 0 {
            return Err(RunawayConfigError::ZeroScopes);
        }
        Ok(CircuitBreaker {
            scopes: Mutex::new(ScopeTable::new(max)),
            ..self
        })
    }

    /// `true` for the statuses that count towards opening the circuit:
    /// 402 (out of credit), 429 (rate limited) and every 5xx, including
    /// Anthropic's 529 (overloaded).
    pub const fn counts_as_failure(status: u16) -> bool {
        matches!(status, 402 | 429 | 500..=599)
    }

    /// Lets a call in `scope` through, or refuses it while the circuit is
    /// open or its probe is out.
    ///
    /// # Errors
    /// [`RunawayDetected`] with [`RunawayKind::CircuitOpen`] and
    /// [`RunawayAction::Refuse`].
    pub fn check(&self, scope: &str, now: Duration) -> Result<(), RunawayDetected> {
        let rule = self.rule;
        let mut scopes = self.scopes.lock();
        let Some(circuit) = scopes.get_mut(scope) else {
            return Ok(());
        };
        circuit
            .check(rule, now)
            .map_err(|kind| RunawayDetected::new(scope, kind, RunawayAction::Refuse))?;
        circuit.admit(rule, now);
        Ok(())
    }

    /// A call in `scope` succeeded: the circuit closes.
    pub fn record_success(&self, scope: &str) {
        if let Some(circuit) = self.scopes.lock().get_mut(scope) {
            *circuit = Circuit::default();
        }
    }

    /// A call in `scope` got `status` back at `now`; only
    /// [failures](CircuitBreaker::counts_as_failure) count.
    pub fn record_failure(&self, scope: &str, status: u16, now: Duration) {
        let health = Health::of(Some(status));
        if health == Health::Failing {
            let rule = self.rule;
            self.scopes
                .lock()
                .update(scope, now, Circuit::default, |circuit| {
                    circuit.record(rule, health, now);
                });
        }
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("failures", &self.rule.failures)
            .field("cool_down", &self.rule.cool_down)
            .field("scopes", &*self.scopes.lock())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL_DOWN: Duration = Duration::from_secs(30);

    fn at(secs: u64) -> Duration {
        Duration::from_secs(1_700_000_000 + secs)
    }

    fn storm(breaker: &CircuitBreaker, scope: &str, failures: u32, now: Duration) {
        for _ in 0..failures {
            breaker.check(scope, now).unwrap();
            breaker.record_failure(scope, 429, now);
        }
    }

    #[test]
    fn n_failures_in_a_row_open_the_circuit_and_the_next_call_is_refused() {
        let breaker = CircuitBreaker::new(5, COOL_DOWN).unwrap();
        storm(&breaker, "key=k", 4, at(0));
        assert!(breaker.check("key=k", at(0)).is_ok());
        breaker.record_failure("key=k", 503, at(1));
        let refusal = breaker.check("key=k", at(2)).unwrap_err();
        assert_eq!(
            refusal.kind,
            RunawayKind::CircuitOpen {
                failures: 5,
                until: at(31)
            }
        );
        assert!(breaker.check("key=other", at(2)).is_ok());
    }

    #[test]
    fn after_the_cool_down_exactly_one_probe_goes_through() {
        let breaker = CircuitBreaker::new(2, COOL_DOWN).unwrap();
        storm(&breaker, "key=k", 2, at(0));
        assert!(breaker.check("key=k", at(29)).is_err());
        assert!(breaker.check("key=k", at(30)).is_ok());
        for _ in 0..10 {
            assert!(breaker.check("key=k", at(31)).is_err());
        }
    }

    #[test]
    fn a_failed_probe_reopens_and_a_successful_one_closes() {
        let breaker = CircuitBreaker::new(2, COOL_DOWN).unwrap();
        storm(&breaker, "key=k", 2, at(0));
        breaker.check("key=k", at(30)).unwrap();
        breaker.record_failure("key=k", 529, at(31));
        assert!(breaker.check("key=k", at(60)).is_err());
        assert!(breaker.check("key=k", at(61)).is_ok());
        breaker.record_success("key=k");
        for _ in 0..10 {
            assert!(breaker.check("key=k", at(62)).is_ok());
        }
    }

    #[test]
    fn a_probe_whose_outcome_is_lost_does_not_wedge_the_scope() {
        let breaker = CircuitBreaker::new(1, COOL_DOWN).unwrap();
        storm(&breaker, "key=k", 1, at(0));
        assert!(breaker.check("key=k", at(30)).is_ok());
        assert!(breaker.check("key=k", at(59)).is_err());
        assert!(breaker.check("key=k", at(60)).is_ok());
        assert!(breaker.check("key=k", at(60)).is_err());
    }

    #[test]
    fn a_success_in_between_resets_the_count() {
        let breaker = CircuitBreaker::new(3, COOL_DOWN).unwrap();
        storm(&breaker, "key=k", 2, at(0));
        breaker.record_success("key=k");
        storm(&breaker, "key=k", 2, at(1));
        assert!(breaker.check("key=k", at(2)).is_ok());
        breaker.record_failure("key=k", 500, at(2));
        assert!(breaker.check("key=k", at(3)).is_err());
    }

    #[test]
    fn only_credit_rate_limit_and_server_failures_count() {
        for status in [402, 429, 500, 502, 503, 504, 529, 599] {
            assert!(CircuitBreaker::counts_as_failure(status), "{status}");
        }
        for status in [200, 204, 301, 400, 401, 403, 404, 408, 413, 422, 600] {
            assert!(!CircuitBreaker::counts_as_failure(status), "{status}");
        }
        let breaker = CircuitBreaker::new(2, COOL_DOWN).unwrap();
        breaker.record_failure("key=k", 429, at(0));
        // A caller's bad request neither counts nor resets the run.
        for _ in 0..10 {
            breaker.record_failure("key=k", 400, at(0));
        }
        assert!(breaker.check("key=k", at(0)).is_ok());
        breaker.record_failure("key=k", 429, at(0));
        assert!(breaker.check("key=k", at(0)).is_err());
    }

    #[test]
    fn stragglers_failing_while_open_do_not_extend_the_cool_down() {
        let breaker = CircuitBreaker::new(1, COOL_DOWN).unwrap();
        storm(&breaker, "key=k", 1, at(0));
        breaker.record_failure("key=k", 429, at(20));
        assert!(breaker.check("key=k", at(30)).is_ok());
    }

    #[test]
    fn healthy_scopes_hold_no_state() {
        let breaker = CircuitBreaker::new(1, COOL_DOWN).unwrap();
        for n in 0..1_000 {
            breaker.check(&format!("key={n}"), at(0)).unwrap();
            breaker.record_success(&format!("key={n}"));
            breaker.record_failure(&format!("key={n}"), 400, at(0));
        }
        assert_eq!(breaker.scopes.lock().len(), 0);
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        assert_eq!(
            CircuitBreaker::new(0, COOL_DOWN).unwrap_err(),
            RunawayConfigError::ZeroFailures
        );
        assert_eq!(
            CircuitBreaker::new(1, Duration::ZERO).unwrap_err(),
            RunawayConfigError::ZeroDuration { what: "cool-down" }
        );
        assert_eq!(
            CircuitBreaker::new(1, COOL_DOWN)
                .unwrap()
                .with_max_scopes(0)
                .unwrap_err(),
            RunawayConfigError::ZeroScopes
        );
    }
}
