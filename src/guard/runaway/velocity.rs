//! [`VelocityLimit`]: calls or dollars per sliding window, per scope.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use parking_lot::Mutex;

use crate::guard::runaway::scope_table::{Expiring, ScopeTable, DEFAULT_MAX_SCOPES};
use crate::guard::runaway::{RunawayAction, RunawayConfigError, RunawayDetected, RunawayKind};
use crate::money::Usd;

/// Calls closer together than this share of the window share one log
/// entry, so a log never holds more than about this many entries.
const WINDOW_SLICES: u32 = 64;

/// A validated velocity setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VelocityRule {
    max_calls: Option<u32>,
    max_spend: Option<Usd>,
    per: Duration,
}

impl VelocityRule {
    pub(crate) fn calls(max: u32, per: Duration) -> Result<Self, RunawayConfigError> {
        if max == 0 {
            return Err(RunawayConfigError::ZeroCalls);
        }
        VelocityRule::over(per, Some(max), None)
    }

    pub(crate) fn spend(max: Usd, per: Duration) -> Result<Self, RunawayConfigError> {
        if max.is_zero() {
            return Err(RunawayConfigError::ZeroSpend);
        }
        VelocityRule::over(per, None, Some(max))
    }

    /// Whether the rule weighs each call's reserved worst case (a spend
    /// limit), not only its arrival.
    pub(crate) const fn limits_spend(&self) -> bool {
        self.max_spend.is_some()
    }

    fn over(
        per: Duration,
        max_calls: Option<u32>,
        max_spend: Option<Usd>,
    ) -> Result<Self, RunawayConfigError> {
        if per.is_zero() {
            return Err(RunawayConfigError::ZeroDuration {
                what: "velocity window",
            });
        }
        Ok(VelocityRule {
            max_calls,
            max_spend,
            per,
        })
    }
}

/// Calls that arrived within one slice of the window, and what they
/// reserved.
#[derive(Debug, Clone, Copy)]
struct Slice {
    /// The first call's instant.
    started: Duration,
    /// When the last call leaves the window.
    ends: Duration,
    calls: u32,
    spend: Usd,
}

/// One scope's calls in the window, oldest first, with running totals.
#[derive(Debug, Default)]
pub(crate) struct VelocityLog {
    slices: VecDeque<Slice>,
    calls: u64,
    spend: Usd,
}

impl VelocityLog {
    /// Refuses a call of worst case `cost` that would cross the rule;
    /// records nothing.
    pub(crate) fn check(
        &mut self,
        rule: VelocityRule,
        cost: Usd,
        now: Duration,
    ) -> Result<(), RunawayKind> {
        self.forget_before(now);
        if let Some(limit) = rule.max_calls {
            if self.calls >= u64::from(limit) {
                return Err(RunawayKind::CallVelocity {
                    limit,
                    per: rule.per,
                });
            }
        }
        if let Some(limit) = rule.max_spend {
            if self.spend.saturating_add(cost) > limit {
                return Err(RunawayKind::SpendVelocity {
                    spent: self.spend,
                    requested: cost,
                    limit,
                    per: rule.per,
                });
            }
        }
        Ok(())
    }

    /// Counts a call that went through.
    ///
    /// A call within a slice (1/64 of the window) of the newest entry's
    /// first call joins that entry and the entry leaves the window with its
    /// last call: counts stay exact, and a call's window can end up to one
    /// slice late, never early.
    pub(crate) fn record(&mut self, rule: VelocityRule, cost: Usd, now: Duration) {
        let ends = now.saturating_add(rule.per);
        let slice = rule.per / WINDOW_SLICES;
        self.calls += 1;
        self.spend = self.spend.saturating_add(cost);
        match self.slices.back_mut() {
            Some(newest) if now < newest.started.saturating_add(slice) => {
                newest.ends = newest.ends.max(ends);
                newest.calls = newest.calls.saturating_add(1);
                newest.spend = newest.spend.saturating_add(cost);
            }
            _ => self.slices.push_back(Slice {
                started: now,
                ends,
                calls: 1,
                spend: cost,
            }),
        }
    }

    fn forget_before(&mut self, now: Duration) {
        while let Some(oldest) = self.slices.front().copied() {
            if oldest.ends > now {
                break;
            }
            self.slices.pop_front();
            self.calls -= u64::from(oldest.calls);
            self.spend = self.spend.saturating_sub(oldest.spend);
        }
    }
}

impl Expiring for VelocityLog {
    fn is_idle(&self, now: Duration) -> bool {
        self.slices.iter().all(|slice| slice.ends <= now)
    }
}

/// Refuses calls in a scope once a sliding window holds a number of calls,
/// an amount of worst-case spend, or either.
///
/// A call is counted only if it is allowed (all or nothing, under one
/// lock), so a refused call never uses up the window. Counts and dollars
/// are exact integers; calls less than 1/64 of the window apart share a log
/// entry, so memory per scope is bounded and a call may leave the window up
/// to 1/64 of it late, never early. On its own the limit only refuses;
/// [`RunawayPolicy`](crate::guard::runaway::RunawayPolicy) adds pausing and
/// halting.
///
/// ```
/// use std::time::Duration;
/// use spendguard::guard::runaway::VelocityLimit;
/// use spendguard::Usd;
///
/// let burst = VelocityLimit::calls(2, Duration::from_secs(60))?;
/// let now = Duration::from_secs(1_700_000_000);
/// assert!(burst.check("key=prod-1", Usd::ZERO, now).is_ok());
/// assert!(burst.check("key=prod-1", Usd::ZERO, now).is_ok());
/// assert!(burst.check("key=prod-1", Usd::ZERO, now).is_err());
/// assert!(burst.check("key=prod-1", Usd::ZERO, now + Duration::from_secs(60)).is_ok());
///
/// let dollars = VelocityLimit::spend(Usd::from_cents(100), Duration::from_secs(60))?;
/// assert!(dollars.check("key=prod-1", Usd::from_cents(60), now).is_ok());
/// assert!(dollars.check("key=prod-1", Usd::from_cents(60), now).is_err());
/// assert!(dollars.check("key=prod-1", Usd::from_cents(40), now).is_ok());
/// # Ok::<(), spendguard::guard::runaway::RunawayConfigError>(())
/// ```
pub struct VelocityLimit {
    rule: VelocityRule,
    scopes: Mutex<ScopeTable<VelocityLog>>,
}

impl VelocityLimit {
    /// At most `max` calls per `per` in each scope.
    ///
    /// # Errors
    /// [`RunawayConfigError`] for zero calls or a zero window.
    pub fn calls(max: u32, per: Duration) -> Result<Self, RunawayConfigError> {
        Ok(VelocityLimit::with_rule(VelocityRule::calls(max, per)?))
    }

    /// At most `max` of worst-case spend per `per` in each scope.
    ///
    /// # Errors
    /// [`RunawayConfigError`] for $0 or a zero window.
    pub fn spend(max: Usd, per: Duration) -> Result<Self, RunawayConfigError> {
        Ok(VelocityLimit::with_rule(VelocityRule::spend(max, per)?))
    }

    /// Also limits worst-case spend to `max` in the same window.
    ///
    /// ```
    /// use std::time::Duration;
    /// use spendguard::guard::runaway::{RunawayKind, VelocityLimit};
    /// use spendguard::Usd;
    ///
    /// let limit = VelocityLimit::calls(100, Duration::from_secs(60))?.and_spend(Usd::from_cents(50))?;
    /// let now = Duration::from_secs(1_700_000_000);
    /// limit.check("agent=a", Usd::from_cents(50), now)?;
    /// let refusal = limit.check("agent=a", Usd::from_cents(1), now).unwrap_err();
    /// assert!(matches!(refusal.kind, RunawayKind::SpendVelocity { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`RunawayConfigError::ZeroSpend`] for $0.
    pub fn and_spend(self, max: Usd) -> Result<Self, RunawayConfigError> {
        let spend = VelocityRule::spend(max, self.rule.per)?;
        Ok(VelocityLimit {
            rule: VelocityRule {
                max_spend: spend.max_spend,
                ..self.rule
            },
            ..self
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
        Ok(VelocityLimit {
            scopes: Mutex::new(ScopeTable::new(max)),
            ..self
        })
    }

    /// Counts a call in `scope` whose worst case is `cost`, or refuses it.
    ///
    /// # Errors
    /// [`RunawayDetected`] with [`RunawayKind::CallVelocity`] or
    /// [`RunawayKind::SpendVelocity`] and [`RunawayAction::Refuse`]; the
    /// refused call is not counted.
    pub fn check(&self, scope: &str, cost: Usd, now: Duration) -> Result<(), RunawayDetected> {
        let rule = self.rule;
        self.scopes
            .lock()
            .update(scope, now, VelocityLog::default, |log| {
                log.check(rule, cost, now)?;
                log.record(rule, cost, now);
                Ok(())
            })
            .map_err(|kind| RunawayDetected::new(scope, kind, RunawayAction::Refuse))
    }

    fn with_rule(rule: VelocityRule) -> Self {
        VelocityLimit {
            rule,
            scopes: Mutex::new(ScopeTable::new(DEFAULT_MAX_SCOPES)),
        }
    }
}

impl fmt::Debug for VelocityLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VelocityLimit")
            .field("max_calls", &self.rule.max_calls)
            .field("max_spend", &self.rule.max_spend)
            .field("per", &self.rule.per)
            .field("scopes", &*self.scopes.lock())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Barrier;

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn at(millis: u64) -> Duration {
        Duration::from_secs(1_700_000_000) + Duration::from_millis(millis)
    }

    #[test]
    fn a_burst_is_stopped_at_exactly_the_call_after_the_limit() {
        for max in [1, 2, 30, 1_000] {
            let limit = VelocityLimit::calls(max, MINUTE).unwrap();
            for n in 0..max {
                let when = at(u64::from(n) * 10);
                assert!(limit.check("agent=a", Usd::ZERO, when).is_ok(), "call {n}");
            }
            let refusal = limit.check("agent=a", Usd::ZERO, at(59_000)).unwrap_err();
            assert_eq!(
                refusal.kind,
                RunawayKind::CallVelocity {
                    limit: max,
                    per: MINUTE
                }
            );
            assert!(limit.check("agent=b", Usd::ZERO, at(59_000)).is_ok());
        }
    }

    #[test]
    fn calls_leave_the_window_one_by_one() {
        let limit = VelocityLimit::calls(3, MINUTE).unwrap();
        for second in [0, 10, 20] {
            limit
                .check("agent=a", Usd::ZERO, at(second * 1_000))
                .unwrap();
        }
        assert!(limit.check("agent=a", Usd::ZERO, at(59_999)).is_err());
        assert!(limit.check("agent=a", Usd::ZERO, at(60_000)).is_ok());
        assert!(limit.check("agent=a", Usd::ZERO, at(60_001)).is_err());
        assert!(limit.check("agent=a", Usd::ZERO, at(70_000)).is_ok());
    }

    #[test]
    fn spend_is_summed_in_integer_nano_dollars() {
        let limit = VelocityLimit::spend(Usd::from_nanos(1_000), MINUTE).unwrap();
        for _ in 0..3 {
            limit.check("key=k", Usd::from_nanos(333), at(0)).unwrap();
        }
        assert!(limit.check("key=k", Usd::from_nanos(1), at(1)).is_ok());
        let refusal = limit.check("key=k", Usd::from_nanos(1), at(2)).unwrap_err();
        assert_eq!(
            refusal.kind,
            RunawayKind::SpendVelocity {
                spent: Usd::from_nanos(1_000),
                requested: Usd::from_nanos(1),
                limit: Usd::from_nanos(1_000),
                per: MINUTE,
            }
        );
        // A call too expensive for the whole window is refused even alone.
        assert!(limit
            .check("key=other", Usd::from_nanos(1_001), at(0))
            .is_err());
        assert!(limit.check("key=k", Usd::MAX, at(0)).is_err());
    }

    #[test]
    fn calls_and_spend_share_one_window() {
        let limit = VelocityLimit::calls(2, MINUTE)
            .unwrap()
            .and_spend(Usd::from_cents(10))
            .unwrap();
        limit.check("a", Usd::from_cents(4), at(0)).unwrap();
        assert!(matches!(
            limit
                .check("a", Usd::from_cents(7), at(1))
                .unwrap_err()
                .kind,
            RunawayKind::SpendVelocity { .. }
        ));
        limit.check("a", Usd::from_cents(6), at(2)).unwrap();
        assert!(matches!(
            limit.check("a", Usd::ZERO, at(3)).unwrap_err().kind,
            RunawayKind::CallVelocity { .. }
        ));
    }

    #[test]
    fn a_log_stays_small_however_many_calls_it_counts() {
        let limit = VelocityLimit::spend(Usd::MAX, MINUTE).unwrap();
        for millis in (0..600_000).step_by(7) {
            limit
                .check("agent=a", Usd::from_nanos(1), at(millis))
                .unwrap();
            let mut scopes = limit.scopes.lock();
            let log = scopes.get_mut("agent=a").unwrap();
            assert!(log.slices.len() <= WINDOW_SLICES as usize + 2);
        }
        // About 8,571 calls a minute, every one still counted.
        let mut scopes = limit.scopes.lock();
        let log = scopes.get_mut("agent=a").unwrap();
        log.forget_before(at(600_000));
        assert!((8_500..=8_700).contains(&log.calls), "{}", log.calls);
        assert_eq!(log.spend.nanos(), log.calls);
    }

    #[test]
    fn merged_calls_leave_late_never_early() {
        let limit = VelocityLimit::calls(2, MINUTE).unwrap();
        // 400 ms apart: inside one slice (60 s / 64 = 937.5 ms).
        limit.check("a", Usd::ZERO, at(0)).unwrap();
        limit.check("a", Usd::ZERO, at(400)).unwrap();
        assert!(limit.check("a", Usd::ZERO, at(60_000)).is_err());
        assert!(limit.check("a", Usd::ZERO, at(60_400)).is_ok());
    }

    #[test]
    fn threads_racing_on_one_scope_never_pass_more_than_the_limit() {
        const THREADS: usize = 8;
        const LIMIT: u32 = 200;
        const ROUNDS: usize = 25;
        let limit = VelocityLimit::calls(LIMIT, MINUTE).unwrap();
        let passed: Vec<AtomicU32> = (0..ROUNDS).map(|_| AtomicU32::new(0)).collect();
        let start = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    // Each round races on a fresh scope from a common start.
                    for (round, passed) in passed.iter().enumerate() {
                        start.wait();
                        let agent = format!("agent={round}");
                        for _ in 0..LIMIT {
                            if limit.check(&agent, Usd::ZERO, at(0)).is_ok() {
                                passed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                });
            }
        });
        for passed in &passed {
            assert_eq!(passed.load(Ordering::Relaxed), LIMIT);
        }
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        assert_eq!(
            VelocityLimit::calls(0, MINUTE).unwrap_err(),
            RunawayConfigError::ZeroCalls
        );
        assert_eq!(
            VelocityLimit::spend(Usd::ZERO, MINUTE).unwrap_err(),
            RunawayConfigError::ZeroSpend
        );
        assert_eq!(
            VelocityLimit::calls(1, Duration::ZERO).unwrap_err(),
            RunawayConfigError::ZeroDuration {
                what: "velocity window"
            }
        );
        assert_eq!(
            VelocityLimit::calls(1, MINUTE)
                .unwrap()
                .and_spend(Usd::ZERO)
                .unwrap_err(),
            RunawayConfigError::ZeroSpend
        );
        assert_eq!(
            VelocityLimit::calls(1, MINUTE)
                .unwrap()
                .with_max_scopes(0)
                .unwrap_err(),
            RunawayConfigError::ZeroScopes
        );
    }
}
