//! [`LoopDetector`]: the same request again and again is a retry loop.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use parking_lot::Mutex;

use crate::guard::runaway::scope_table::{Expiring, ScopeTable, DEFAULT_MAX_SCOPES};
use crate::guard::runaway::{
    RequestFingerprint, RunawayAction, RunawayConfigError, RunawayDetected, RunawayKind,
};

/// Calls remembered per scope, newest first; older ones are forgotten.
pub(crate) const REMEMBERED_CALLS: usize = 64;
/// The most repeats a loop rule may wait for: every repeat must still be
/// remembered when the last one arrives.
pub(crate) const MAX_REPEATS: u32 = REMEMBERED_CALLS as u32;

/// A validated loop setting: `repeats` identical calls within `within`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LoopRule {
    repeats: u32,
    within: Duration,
}

impl LoopRule {
    pub(crate) fn new(repeats: u32, within: Duration) -> Result<Self, RunawayConfigError> {
        if repeats < 2 {
            return Err(RunawayConfigError::TooFewRepeats { repeats });
        }
        if repeats > MAX_REPEATS {
            return Err(RunawayConfigError::TooManyRepeats {
                repeats,
                max: MAX_REPEATS,
            });
        }
        if within.is_zero() {
            return Err(RunawayConfigError::ZeroDuration {
                what: "loop window",
            });
        }
        Ok(LoopRule { repeats, within })
    }
}

/// One scope's recent calls: each fingerprint with the instant it stops
/// counting, oldest first.
#[derive(Debug, Default)]
pub(crate) struct LoopLog {
    recent: VecDeque<(RequestFingerprint, Duration)>,
}

impl LoopLog {
    /// Refuses the call that would be the `repeats`-th identical one in the
    /// window; records nothing.
    pub(crate) fn check(
        &mut self,
        rule: LoopRule,
        fingerprint: RequestFingerprint,
        now: Duration,
    ) -> Result<(), RunawayKind> {
        while self.recent.front().is_some_and(|&(_, ends)| ends <= now) {
            self.recent.pop_front();
        }
        let earlier = self
            .recent
            .iter()
            .filter(|&&(seen, ends)| seen == fingerprint && ends > now)
            .count();
        if earlier + 1 >= rule.repeats as usize {
            return Err(RunawayKind::Loop {
                fingerprint,
                repeats: rule.repeats,
                within: rule.within,
            });
        }
        Ok(())
    }

    /// Counts a call that went through.
    pub(crate) fn record(
        &mut self,
        rule: LoopRule,
        fingerprint: RequestFingerprint,
        now: Duration,
    ) {
        if self.recent.len() == REMEMBERED_CALLS {
            self.recent.pop_front();
        }
        self.recent
            .push_back((fingerprint, now.saturating_add(rule.within)));
    }
}

impl Expiring for LoopLog {
    fn is_idle(&self, now: Duration) -> bool {
        self.recent.iter().all(|&(_, ends)| ends <= now)
    }
}

/// Refuses a scope's `repeats`-th identical request within a sliding window,
/// so exactly `repeats - 1` identical calls go through per window.
///
/// Requests are compared by [`RequestFingerprint`]. A refused call is not
/// counted, so once the window has slid past the earlier calls the request
/// is allowed again. Each scope remembers its last 64 calls: a loop hidden
/// among more than that many different calls within the window goes unseen
/// here (a velocity limit sees that volume). On its own the detector only
/// refuses; [`RunawayPolicy`](crate::guard::runaway::RunawayPolicy) adds
/// pausing and halting.
///
/// ```
/// use std::time::Duration;
/// use serde_json::json;
/// use spendguard::guard::runaway::{LoopDetector, RequestFingerprint};
///
/// let loops = LoopDetector::new(3, Duration::from_secs(60))?;
/// let retry = RequestFingerprint::of("gpt-4o", &json!({"messages": [{"role": "user", "content": "fix it"}]}));
/// let at = |secs: u64| Duration::from_secs(1_700_000_000 + secs);
/// assert!(loops.observe("agent=fixer", retry, at(0)).is_ok());
/// assert!(loops.observe("agent=fixer", retry, at(2)).is_ok());
/// assert!(loops.observe("agent=fixer", retry, at(4)).is_err());
/// // A minute after the first call, one more fits in the window.
/// assert!(loops.observe("agent=fixer", retry, at(60)).is_ok());
/// # Ok::<(), spendguard::guard::runaway::RunawayConfigError>(())
/// ```
pub struct LoopDetector {
    rule: LoopRule,
    scopes: Mutex<ScopeTable<LoopLog>>,
}

impl LoopDetector {
    /// Refuses the `repeats`-th identical call within `within`.
    ///
    /// # Errors
    /// [`RunawayConfigError`] for fewer than 2 or more than 64 repeats, or a
    /// zero window.
    pub fn new(repeats: u32, within: Duration) -> Result<Self, RunawayConfigError> {
        Ok(LoopDetector {
            rule: LoopRule::new(repeats, within)?,
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
        Ok(LoopDetector {
            scopes: Mutex::new(ScopeTable::new(max)),
            ..self
        })
    }

    /// Counts a call in `scope` at `now`, or refuses it as a loop.
    ///
    /// # Errors
    /// [`RunawayDetected`] with [`RunawayKind::Loop`] and
    /// [`RunawayAction::Refuse`]; the refused call is not counted.
    pub fn observe(
        &self,
        scope: &str,
        fingerprint: RequestFingerprint,
        now: Duration,
    ) -> Result<(), RunawayDetected> {
        let rule = self.rule;
        self.scopes
            .lock()
            .update(scope, now, LoopLog::default, |log| {
                log.check(rule, fingerprint, now)?;
                log.record(rule, fingerprint, now);
                Ok(())
            })
            .map_err(|kind| RunawayDetected::new(scope, kind, RunawayAction::Refuse))
    }
}

impl fmt::Debug for LoopDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopDetector")
            .field("repeats", &self.rule.repeats)
            .field("within", &self.rule.within)
            .field("scopes", &*self.scopes.lock())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(content: &str) -> RequestFingerprint {
        RequestFingerprint::of("gpt-4o", &json!({"messages": [{"content": content}]}))
    }

    fn at(secs: u64) -> Duration {
        Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn a_retry_every_two_seconds_is_refused_at_exactly_the_nth_repeat() {
        for repeats in [2, 3, 5, 64] {
            let loops = LoopDetector::new(repeats, Duration::from_secs(600)).unwrap();
            let retry = request("again");
            for n in 1..repeats {
                let when = at(2 * u64::from(n));
                assert!(loops.observe("agent=a", retry, when).is_ok(), "call {n}");
            }
            let refusal = loops
                .observe("agent=a", retry, at(2 * u64::from(repeats)))
                .unwrap_err();
            assert_eq!(
                refusal.kind,
                RunawayKind::Loop {
                    fingerprint: retry,
                    repeats,
                    within: Duration::from_secs(600)
                }
            );
            assert_eq!(refusal.scope, "agent=a");
            assert_eq!(refusal.action, RunawayAction::Refuse);
        }
    }

    #[test]
    fn different_requests_and_other_scopes_are_not_a_loop() {
        let loops = LoopDetector::new(2, Duration::from_secs(60)).unwrap();
        for n in 0..REMEMBERED_CALLS as u64 * 2 {
            let fresh = request(&format!("step {n}"));
            assert!(loops.observe("agent=a", fresh, at(n)).is_ok());
        }
        let same = request("same");
        assert!(loops.observe("agent=a", same, at(200)).is_ok());
        assert!(loops.observe("agent=b", same, at(200)).is_ok());
        assert!(loops.observe("agent=a", same, at(200)).is_err());
    }

    #[test]
    fn the_window_slides_and_refused_calls_do_not_extend_it() {
        let loops = LoopDetector::new(3, Duration::from_secs(60)).unwrap();
        let retry = request("again");
        assert!(loops.observe("agent=a", retry, at(0)).is_ok());
        assert!(loops.observe("agent=a", retry, at(2)).is_ok());
        for refused in (4..60).step_by(2) {
            assert!(loops.observe("agent=a", retry, at(refused)).is_err());
        }
        // The call at 0 has left the window (it is exactly 60 s old).
        assert!(loops.observe("agent=a", retry, at(60)).is_ok());
        assert!(loops.observe("agent=a", retry, at(61)).is_err());
        assert!(loops.observe("agent=a", retry, at(62)).is_ok());
    }

    #[test]
    fn each_scope_remembers_a_bounded_number_of_calls() {
        let loops = LoopDetector::new(2, Duration::from_secs(3_600)).unwrap();
        for n in 0..10_000u64 {
            let fresh = request(&n.to_string());
            loops.observe("agent=a", fresh, at(0)).unwrap();
        }
        let mut scopes = loops.scopes.lock();
        let log = scopes.get_mut("agent=a").unwrap();
        assert_eq!(log.recent.len(), REMEMBERED_CALLS);
    }

    #[test]
    fn many_scopes_never_grow_the_table_past_its_bound() {
        let loops = LoopDetector::new(2, Duration::from_secs(3_600))
            .unwrap()
            .with_max_scopes(8)
            .unwrap();
        let retry = request("again");
        for n in 0..1_000u64 {
            loops
                .observe(&format!("agent=other-{n}"), retry, at(n))
                .unwrap();
            assert!(loops.scopes.lock().len() <= 8);
        }
        assert!(loops.observe("agent=other-999", retry, at(1_000)).is_err());
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        let minute = Duration::from_secs(60);
        assert_eq!(
            LoopDetector::new(1, minute).unwrap_err(),
            RunawayConfigError::TooFewRepeats { repeats: 1 }
        );
        assert_eq!(
            LoopDetector::new(65, minute).unwrap_err(),
            RunawayConfigError::TooManyRepeats {
                repeats: 65,
                max: 64
            }
        );
        assert_eq!(
            LoopDetector::new(3, Duration::ZERO).unwrap_err(),
            RunawayConfigError::ZeroDuration {
                what: "loop window"
            }
        );
        assert_eq!(
            LoopDetector::new(3, minute)
                .unwrap()
                .with_max_scopes(0)
                .unwrap_err(),
            RunawayConfigError::ZeroScopes
        );
    }
}
