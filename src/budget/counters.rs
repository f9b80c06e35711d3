//! [`Counters`]: where a budget keeps its tallies, behind one lock or, for a
//! budget limited only by dollars and calls, in atomics.
//!
//! A claim must be all or none. Under the lock, every limit is checked and
//! claimed in one step. Without it, each limited tally is claimed with a
//! compare-and-swap against its own limit (a claim that would pass the
//! limit is never written), and a claim refused by a later tally gives back
//! what the earlier ones took: the worst case charged first, refunded when
//! it does not fit. A refused claim therefore holds nothing once it returns;
//! while it is being refunded, a call racing it may see the calls limit one
//! call fuller than it will be, which can only refuse, never over-admit.
//! Token limits keep a budget on the lock: three limits claimed one by one
//! would widen that window for little gain.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::budget::exceeded::LimitKind;
use crate::budget::tally::{Refused, Tally};
use crate::budget::CallAmounts;

/// Every tally of one budget, in the form its limits call for.
#[derive(Debug)]
pub(crate) enum Counters {
    /// Behind one lock: any mix of limits.
    Locked(Mutex<Tallies>),
    /// In atomics: a dollar and a call limit at most; tokens counted as
    /// they settle, not limited.
    LockFree(LockFree),
}

/// The tallies of one budget at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tallies {
    pub(crate) cost: Tally,
    pub(crate) tokens: Tally,
    pub(crate) calls: Tally,
    pub(crate) abandoned: u64,
}

impl Tallies {
    /// Each tally beside the limit it meters.
    pub(crate) fn each(&self) -> [(LimitKind, Tally); 3] {
        [
            (LimitKind::Cost, self.cost),
            (LimitKind::Tokens, self.tokens),
            (LimitKind::Calls, self.calls),
        ]
    }

    fn tally_mut(&mut self, kind: LimitKind) -> &mut Tally {
        match kind {
            LimitKind::Tokens => &mut self.tokens,
            LimitKind::Calls => &mut self.calls,
            _ => &mut self.cost,
        }
    }
}

impl Counters {
    /// Counters for these limits: lock-free unless tokens are limited.
    pub(crate) fn new(cost: Option<u64>, tokens: Option<u64>, calls: Option<u64>) -> Counters {
        match tokens {
            None => Counters::LockFree(LockFree {
                cost: AtomicTally::new(cost),
                calls: AtomicTally::new(calls),
                tokens_settled: AtomicU64::new(0),
                abandoned: AtomicU64::new(0),
            }),
            Some(_) => Counters::Locked(Mutex::new(Tallies {
                cost: Tally::new(cost),
                tokens: Tally::new(tokens),
                calls: Tally::new(calls),
                abandoned: 0,
            })),
        }
    }

    /// `true` when reservations are made without the lock.
    #[cfg(test)]
    pub(crate) fn is_lock_free(&self) -> bool {
        matches!(self, Counters::LockFree(_))
    }

    /// Claims one call of `amounts` against every limit, or nothing; with
    /// `room`, only if that much more would still fit after it.
    pub(crate) fn claim(&self, amounts: CallAmounts, room: CallAmounts) -> Result<(), Refused> {
        match self {
            Counters::Locked(tallies) => {
                let mut tallies = tallies.lock();
                let checks = [
                    tallies.calls.check(LimitKind::Calls, 1),
                    tallies.tokens.check(
                        LimitKind::Tokens,
                        amounts.tokens.saturating_add(room.tokens),
                    ),
                    tallies.cost.check(
                        LimitKind::Cost,
                        amounts.cost.saturating_add(room.cost).nanos(),
                    ),
                ];
                if let Some(refused) = checks.into_iter().find_map(Result::err) {
                    return Err(refused);
                }
                tallies.calls.claim(1);
                tallies.tokens.claim(amounts.tokens);
                tallies.cost.claim(amounts.cost.nanos());
                Ok(())
            }
            Counters::LockFree(atomics) => atomics.claim(amounts, room),
        }
    }

    /// Gives a claim back unspent.
    pub(crate) fn release(&self, claim: CallAmounts) {
        match self {
            Counters::Locked(tallies) => {
                let mut tallies = tallies.lock();
                tallies.cost.unclaim(claim.cost.nanos());
                tallies.tokens.unclaim(claim.tokens);
                tallies.calls.unclaim(1);
            }
            Counters::LockFree(atomics) => {
                atomics.cost.unclaim(claim.cost.nanos());
                atomics.calls.unclaim(1);
            }
        }
    }

    /// Turns a claim into `actual` spend (`abandoned` when its reservation
    /// was dropped unsettled), and returns the tallies just after.
    pub(crate) fn settle(
        &self,
        claim: CallAmounts,
        actual: CallAmounts,
        abandoned: bool,
    ) -> Tallies {
        match self {
            Counters::Locked(tallies) => {
                let mut tallies = tallies.lock();
                tallies.abandoned += u64::from(abandoned);
                tallies.cost.settle(claim.cost.nanos(), actual.cost.nanos());
                tallies.tokens.settle(claim.tokens, actual.tokens);
                tallies.calls.settle(1, 1);
                *tallies
            }
            Counters::LockFree(atomics) => {
                if abandoned {
                    atomics.abandoned.fetch_add(1, Ordering::Relaxed);
                }
                atomics.cost.settle(claim.cost.nanos(), actual.cost.nanos());
                atomics.calls.settle(1, 1);
                add_saturating(&atomics.tokens_settled, actual.tokens);
                atomics.load()
            }
        }
    }

    /// `true` the first time alert `index` of `kind`'s limit is fired.
    pub(crate) fn fire_alert_once(&self, kind: LimitKind, index: usize) -> bool {
        match self {
            Counters::Locked(tallies) => tallies.lock().tally_mut(kind).fire_alert_once(index),
            Counters::LockFree(atomics) => atomics.alerts(kind).fire_once(index),
        }
    }

    /// The tallies now.
    pub(crate) fn load(&self) -> Tallies {
        match self {
            Counters::Locked(tallies) => *tallies.lock(),
            Counters::LockFree(atomics) => atomics.load(),
        }
    }
}

/// The tallies of a budget limited by dollars and calls at most. Tokens
/// have no limit here, so only what settles is counted: nothing reports
/// tokens in flight.
#[derive(Debug)]
pub(crate) struct LockFree {
    cost: AtomicTally,
    calls: AtomicTally,
    tokens_settled: AtomicU64,
    abandoned: AtomicU64,
}

impl LockFree {
    /// Claims calls, then dollars; dollars refused give the call back.
    fn claim(&self, amounts: CallAmounts, room: CallAmounts) -> Result<(), Refused> {
        self.calls.claim(LimitKind::Calls, 1, 0)?;
        let cost = self
            .cost
            .claim(LimitKind::Cost, amounts.cost.nanos(), room.cost.nanos());
        if let Err(refused) = cost {
            self.calls.unclaim(1);
            return Err(refused);
        }
        Ok(())
    }

    /// The alerts fired of `kind`'s limit; a budget without a token limit
    /// fires no token alerts, so the dollars' stand in harmlessly.
    fn alerts(&self, kind: LimitKind) -> &AlertsFired {
        match kind {
            LimitKind::Calls => &self.calls.alerts_fired,
            _ => &self.cost.alerts_fired,
        }
    }

    fn load(&self) -> Tallies {
        Tallies {
            cost: self.cost.load(),
            tokens: Tally {
                settled: self.tokens_settled.load(Ordering::Acquire),
                ..Tally::new(None)
            },
            calls: self.calls.load(),
            abandoned: self.abandoned.load(Ordering::Relaxed),
        }
    }
}

/// One metered resource in atomics. `committed` (settled plus in flight) is
/// what a claim is checked against, so one compare-and-swap checks and
/// claims; `settled` is kept beside it for reports, and what is in flight
/// is the difference.
#[derive(Debug)]
struct AtomicTally {
    limit: Option<u64>,
    committed: AtomicU64,
    settled: AtomicU64,
    alerts_fired: AlertsFired,
    /// The broken variant the property tests must catch: the check and the
    /// claim as a load and a later store, which lets racing claims overwrite
    /// each other.
    #[cfg(test)]
    racy: bool,
}

impl AtomicTally {
    const fn new(limit: Option<u64>) -> Self {
        AtomicTally {
            limit,
            committed: AtomicU64::new(0),
            settled: AtomicU64::new(0),
            alerts_fired: AlertsFired(AtomicU32::new(0)),
            #[cfg(test)]
            racy: false,
        }
    }

    /// Claims `amount`, unless that and `room` more would pass the limit.
    fn claim(&self, kind: LimitKind, amount: u64, room: u64) -> Result<(), Refused> {
        let Some(max) = self.limit else {
            self.add_unlimited(amount);
            return Ok(());
        };
        #[cfg(test)]
        if self.racy {
            return self.claim_racily(kind, amount, max);
        }
        let mut committed = self.committed.load(Ordering::Acquire);
        loop {
            let claimed = committed.saturating_add(amount);
            if claimed.saturating_add(room) > max {
                return Err(self.refused(kind, max, committed, amount));
            }
            match self.committed.compare_exchange_weak(
                committed,
                claimed,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => committed = now,
            }
        }
    }

    #[cfg(test)]
    fn claim_racily(&self, kind: LimitKind, amount: u64, max: u64) -> Result<(), Refused> {
        let committed = self.committed.load(Ordering::Acquire);
        let claimed = committed.saturating_add(amount);
        if claimed > max {
            return Err(self.refused(kind, max, committed, amount));
        }
        std::thread::yield_now();
        self.committed.store(claimed, Ordering::Release);
        Ok(())
    }

    fn refused(&self, kind: LimitKind, max: u64, committed: u64, amount: u64) -> Refused {
        let settled = self.settled.load(Ordering::Acquire).min(committed);
        Refused {
            limit: kind,
            max,
            settled,
            in_flight: committed - settled,
            requested: amount,
        }
    }

    /// Claims `amount` with no limit to check.
    fn add_unlimited(&self, amount: u64) {
        add_saturating(&self.committed, amount);
    }

    fn unclaim(&self, claimed: u64) {
        self.update_committed(|committed| committed.saturating_sub(claimed));
    }

    /// Replaces a claim with what was used, which may be more: the spend
    /// happened and is recorded whatever the limit.
    fn settle(&self, claimed: u64, actual: u64) {
        // Settled first: a report read in between sees less in flight,
        // never more spent than was committed.
        add_saturating(&self.settled, actual);
        if claimed != actual {
            self.update_committed(|committed| {
                committed.saturating_sub(claimed).saturating_add(actual)
            });
        }
    }

    fn update_committed(&self, change: impl Fn(u64) -> u64) {
        let _ = self
            .committed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |committed| {
                Some(change(committed))
            });
    }

    fn load(&self) -> Tally {
        let committed = self.committed.load(Ordering::Acquire);
        let settled = self.settled.load(Ordering::Acquire);
        Tally {
            limit: self.limit,
            settled,
            in_flight: committed.saturating_sub(settled),
            alerts_fired: self.alerts_fired.0.load(Ordering::Acquire),
        }
    }
}

/// Which alerts of one limit have fired, one bit each.
#[derive(Debug)]
struct AlertsFired(AtomicU32);

impl AlertsFired {
    /// `true` only for the first caller to fire alert `index`.
    fn fire_once(&self, index: usize) -> bool {
        let bit = 1u32 << index;
        self.0.fetch_or(bit, Ordering::AcqRel) & bit == 0
    }
}

/// Adds to a counter, stopping at `u64::MAX` as the locked tallies do.
fn add_saturating(counter: &AtomicU64, amount: u64) {
    let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
        Some(now.saturating_add(amount))
    });
}

/// The broken variant of the lock-free counters, for the tests that must
/// catch it.
#[cfg(test)]
pub(crate) fn racy(cost: Option<u64>, calls: Option<u64>) -> Counters {
    let racy = |limit| AtomicTally {
        racy: true,
        ..AtomicTally::new(limit)
    };
    Counters::LockFree(LockFree {
        cost: racy(cost),
        calls: racy(calls),
        tokens_settled: AtomicU64::new(0),
        abandoned: AtomicU64::new(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amounts(cost: u64, tokens: u64) -> CallAmounts {
        CallAmounts {
            cost: crate::money::Usd::from_nanos(cost),
            tokens,
        }
    }

    #[test]
    fn token_limits_keep_the_lock() {
        assert!(Counters::new(Some(10), None, None).is_lock_free());
        assert!(Counters::new(Some(10), None, Some(3)).is_lock_free());
        assert!(Counters::new(None, None, None).is_lock_free());
        assert!(!Counters::new(Some(10), Some(100), None).is_lock_free());
    }

    #[test]
    fn both_kinds_claim_settle_and_refuse_alike() {
        for counters in [
            Counters::new(Some(100), None, Some(2)),
            Counters::new(Some(100), Some(u64::MAX), Some(2)),
        ] {
            counters.claim(amounts(60, 7), NO_ROOM).unwrap();
            let refused = counters.claim(amounts(50, 1), NO_ROOM).unwrap_err();
            assert_eq!(
                (refused.limit, refused.in_flight, refused.requested),
                (LimitKind::Cost, 60, 50)
            );
            let after = counters.settle(amounts(60, 7), amounts(20, 5), false);
            assert_eq!((after.cost.settled, after.cost.in_flight), (20, 0));
            assert_eq!((after.tokens.settled, after.calls.settled), (5, 1));
            counters.claim(amounts(10, 1), NO_ROOM).unwrap();
            let refused = counters.claim(amounts(10, 1), NO_ROOM).unwrap_err();
            assert_eq!(refused.limit, LimitKind::Calls);
            assert_eq!(
                counters.load().cost.in_flight,
                10,
                "the refusal gave back all"
            );
            counters.release(amounts(10, 1));
            let now = counters.load();
            assert_eq!((now.cost.in_flight, now.calls.in_flight), (0, 0));
            let abandoned = counters.settle(amounts(0, 0), amounts(0, 0), true);
            assert_eq!(abandoned.abandoned, 1);
            assert!(counters.fire_alert_once(LimitKind::Cost, 3));
            assert!(!counters.fire_alert_once(LimitKind::Cost, 3));
        }
    }

    const NO_ROOM: CallAmounts = CallAmounts {
        cost: crate::money::Usd::ZERO,
        tokens: 0,
    };

    #[test]
    fn a_claim_asked_to_leave_room_is_refused_without_it() {
        for counters in [
            Counters::new(Some(100), None, None),
            Counters::new(Some(100), Some(1_000), None),
        ] {
            assert!(counters.claim(amounts(40, 1), amounts(61, 1)).is_err());
            assert_eq!(counters.load().cost.in_flight, 0);
            counters.claim(amounts(40, 1), amounts(60, 1)).unwrap();
            assert_eq!(counters.load().cost.in_flight, 40);
        }
    }

    #[test]
    fn overruns_are_recorded_past_the_limit() {
        let counters = Counters::new(Some(100), None, None);
        counters.claim(amounts(90, 0), NO_ROOM).unwrap();
        let after = counters.settle(amounts(90, 0), amounts(150, 0), false);
        assert_eq!(after.cost.committed(), 150);
        assert!(counters.claim(amounts(1, 0), NO_ROOM).is_err());
    }
}

/// Many threads racing on one budget: the lock-free and the locked path
/// never let settled spend pass the limit, and the broken variant does.
#[cfg(test)]
mod races {
    use std::sync::Arc;

    use crate::budget::{racy_budget, CallPlan, TaskBudget};
    use crate::money::{PricePerToken, Usd};
    use crate::prices::{ModelPrice, Rates};
    use crate::usage::Usage;

    const THREADS: usize = 8;
    const CALLS_PER_THREAD: usize = 200;

    fn price() -> Arc<ModelPrice> {
        let per_m = |dollars| PricePerToken::per_million(dollars).unwrap();
        Arc::new(ModelPrice::new("racer", Rates::new(per_m(1.0), per_m(2.0))))
    }

    /// Races every thread's reserve-then-settle-at-the-worst-case and says
    /// whether settled spend ended above the limit.
    fn overspends(budget: &TaskBudget, limit: Usd) -> bool {
        let price = price();
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for _ in 0..CALLS_PER_THREAD {
                        let plan = CallPlan::new(&price, 1_000).with_max_output_tokens(500);
                        if let Ok(reservation) = budget.reserve(plan) {
                            reservation.settle(&Usage::new(1_000, 500));
                        }
                    }
                });
            }
        });
        budget.snapshot().spent > limit
    }

    /// Room for 20 of the 1,600 calls: most are refused, at the limit.
    fn limit() -> Usd {
        Usd::from_dollars(0.04).unwrap()
    }

    #[test]
    fn neither_path_lets_racing_calls_overspend() {
        for _ in 0..5 {
            let lock_free = TaskBudget::new(limit());
            assert!(lock_free.state.counters.is_lock_free());
            assert!(!overspends(&lock_free, limit()));
            let locked = TaskBudget::builder("locked")
                .max_cost(limit())
                .max_tokens(u64::MAX)
                .build()
                .unwrap();
            assert!(!locked.state.counters.is_lock_free());
            assert!(!overspends(&locked, limit()));
        }
    }

    #[test]
    fn the_race_catches_a_load_then_store_claim() {
        let caught = (0..20).any(|_| overspends(&racy_budget(limit()), limit()));
        assert!(
            caught,
            "a claim that is not a compare-and-swap overspent in no round"
        );
    }
}
