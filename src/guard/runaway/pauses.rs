//! [`Pauses`]: scopes that refuse every call until an instant.

use std::fmt;
use std::time::Duration;

use parking_lot::Mutex;

use crate::guard::runaway::scope_table::{Expiring, ScopeTable, DEFAULT_MAX_SCOPES};
use crate::guard::runaway::{RunawayAction, RunawayConfigError, RunawayDetected, RunawayKind};

/// One scope's pause: until when, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pause {
    until: Duration,
    cause: RunawayKind,
}

impl Pause {
    /// Pauses `slot` until `until` for `cause`, unless it is already paused
    /// for longer.
    pub(crate) fn extend(slot: &mut Option<Pause>, until: Duration, cause: RunawayKind) {
        if slot.as_ref().is_some_and(|pause| pause.until >= until) {
            return;
        }
        // A refusal of an already paused scope names the original cause.
        let cause = match cause {
            RunawayKind::Paused { cause, .. } => *cause,
            other => other,
        };
        *slot = Some(Pause { until, cause });
    }

    /// Refuses a call before the pause ends.
    pub(crate) fn check(&self, now: Duration) -> Result<(), RunawayKind> {
        if now < self.until {
            return Err(RunawayKind::Paused {
                until: self.until,
                cause: Box::new(self.cause.clone()),
            });
        }
        Ok(())
    }
}

impl Expiring for Option<Pause> {
    fn is_idle(&self, now: Duration) -> bool {
        self.as_ref().is_none_or(|pause| pause.until <= now)
    }
}

/// Scopes paused until an instant: every call in a paused scope is refused
/// with the cause of the pause and when it ends.
///
/// ```
/// use std::time::Duration;
/// use spendguard::guard::runaway::{Pauses, RunawayKind};
///
/// let pauses = Pauses::new();
/// let now = Duration::from_secs(1_700_000_000);
/// let burst = RunawayKind::CallVelocity { limit: 30, per: Duration::from_secs(60) };
/// pauses.pause("agent=researcher", now + Duration::from_secs(300), burst, now);
///
/// let refusal = pauses.check("agent=researcher", now).unwrap_err();
/// assert!(refusal.to_string().starts_with(
///     "agent=researcher is paused until 2023-11-14T22:18:20.000Z because it reached \
///      its limit of 30 calls per 1m"
/// ));
/// assert!(pauses.check("agent=writer", now).is_ok());
/// assert!(pauses.check("agent=researcher", now + Duration::from_secs(300)).is_ok());
/// ```
pub struct Pauses {
    scopes: Mutex<ScopeTable<Option<Pause>>>,
}

impl Pauses {
    /// No scope paused, tracking up to
    /// [`DEFAULT_MAX_SCOPES`](crate::guard::runaway::DEFAULT_MAX_SCOPES).
    pub fn new() -> Self {
        Pauses {
            scopes: Mutex::new(ScopeTable::new(DEFAULT_MAX_SCOPES)),
        }
    }

    /// Tracks at most `max` paused scopes; when all are still paused, the
    /// one paused least recently is forgotten first.
    ///
    /// # Errors
    /// [`RunawayConfigError::ZeroScopes`] for 0.
    pub fn with_max_scopes(self, max: usize) -> Result<Self, RunawayConfigError> {
        if max == 0 {
            return Err(RunawayConfigError::ZeroScopes);
        }
        Ok(Pauses {
            scopes: Mutex::new(ScopeTable::new(max)),
        })
    }

    /// Pauses `scope` from `now` until `until` because of `cause`. A scope
    /// already paused for longer stays paused for longer.
    pub fn pause(&self, scope: &str, until: Duration, cause: RunawayKind, now: Duration) {
        self.scopes.lock().update(
            scope,
            now,
            || None,
            |slot| Pause::extend(slot, until, cause),
        );
    }

    /// Ends any pause of `scope` now.
    pub fn resume(&self, scope: &str) {
        self.scopes.lock().remove(scope);
    }

    /// Lets a call in `scope` through unless it is paused at `now`.
    ///
    /// # Errors
    /// [`RunawayDetected`] with [`RunawayKind::Paused`] and
    /// [`RunawayAction::Refuse`]: the pause is already in effect, so a
    /// refusal never extends it.
    pub fn check(&self, scope: &str, now: Duration) -> Result<(), RunawayDetected> {
        match self.scopes.lock().get_mut(scope) {
            Some(Some(pause)) => pause
                .check(now)
                .map_err(|kind| RunawayDetected::new(scope, kind, RunawayAction::Refuse)),
            _ => Ok(()),
        }
    }
}

impl Default for Pauses {
    fn default() -> Self {
        Pauses::new()
    }
}

impl fmt::Debug for Pauses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pauses")
            .field("scopes", &*self.scopes.lock())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Duration {
        Duration::from_secs(1_700_000_000 + secs)
    }

    fn burst() -> RunawayKind {
        RunawayKind::CallVelocity {
            limit: 30,
            per: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_paused_scope_refuses_until_the_pause_ends_and_others_are_unaffected() {
        let pauses = Pauses::new();
        pauses.pause("agent=a", at(300), burst(), at(0));
        for second in [0, 1, 299] {
            let refusal = pauses.check("agent=a", at(second)).unwrap_err();
            assert_eq!(
                refusal.kind,
                RunawayKind::Paused {
                    until: at(300),
                    cause: Box::new(burst())
                }
            );
            assert_eq!(refusal.action, RunawayAction::Refuse);
            assert!(pauses.check("agent=b", at(second)).is_ok());
        }
        assert!(pauses.check("agent=a", at(300)).is_ok());
    }

    #[test]
    fn a_shorter_pause_never_cuts_a_longer_one() {
        let pauses = Pauses::new();
        pauses.pause("agent=a", at(300), burst(), at(0));
        pauses.pause("agent=a", at(10), burst(), at(1));
        assert!(pauses.check("agent=a", at(200)).is_err());
        pauses.pause("agent=a", at(600), burst(), at(2));
        assert!(pauses.check("agent=a", at(500)).is_err());
    }

    #[test]
    fn pausing_with_a_pause_names_the_original_cause() {
        let pauses = Pauses::new();
        let nested = RunawayKind::Paused {
            until: at(5),
            cause: Box::new(burst()),
        };
        pauses.pause("agent=a", at(300), nested, at(0));
        let refusal = pauses.check("agent=a", at(1)).unwrap_err();
        assert_eq!(
            refusal.kind,
            RunawayKind::Paused {
                until: at(300),
                cause: Box::new(burst())
            }
        );
    }

    #[test]
    fn resume_ends_a_pause_early() {
        let pauses = Pauses::new();
        pauses.pause("agent=a", at(300), burst(), at(0));
        pauses.resume("agent=a");
        assert!(pauses.check("agent=a", at(1)).is_ok());
    }

    #[test]
    fn ended_pauses_make_room_for_new_ones() {
        let pauses = Pauses::new().with_max_scopes(4).unwrap();
        for n in 0..1_000u64 {
            pauses.pause(&format!("agent={n}"), at(n + 1), burst(), at(n));
            assert!(pauses.scopes.lock().len() <= 4);
        }
        assert!(pauses.check("agent=999", at(999)).is_err());
        assert_eq!(
            Pauses::new().with_max_scopes(0).unwrap_err(),
            RunawayConfigError::ZeroScopes
        );
    }
}
