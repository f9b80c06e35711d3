//! One metered resource (dollars, tokens or calls) of a budget: a lock-free
//! counter that never lets committed use cross its limit.

use std::sync::atomic::{AtomicU64, Ordering};

/// Committed use (settled plus in flight) and settled use of one resource.
///
/// `committed` is the only number a claim is checked against, and claims
/// change it with compare-and-swap, so however many threads race, every
/// successful claim saw room for itself: committed use stays within the
/// limit unless a settlement reports more than was claimed (the provider's
/// bill is the truth and is always recorded).
#[derive(Debug)]
pub(crate) struct Meter {
    limit: Option<u64>,
    committed: AtomicU64,
    settled: AtomicU64,
    /// Bit `i` set once alert threshold `i` has fired.
    alerts_fired: AtomicU64,
}

/// A claim that did not fit: what the meter held when it was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) limit: u64,
    pub(crate) committed: u64,
    pub(crate) settled: u64,
}

impl Meter {
    pub(crate) const fn new(limit: Option<u64>) -> Self {
        Meter {
            limit,
            committed: AtomicU64::new(0),
            settled: AtomicU64::new(0),
            alerts_fired: AtomicU64::new(0),
        }
    }

    pub(crate) const fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Adds `amount` to committed use if it fits under the limit.
    pub(crate) fn claim(&self, amount: u64) -> Result<(), Refused> {
        let Some(limit) = self.limit else {
            self.committed.fetch_add(amount, Ordering::AcqRel);
            return Ok(());
        };
        let mut current = self.committed.load(Ordering::Acquire);
        loop {
            let next = current.saturating_add(amount);
            if next > limit {
                return Err(Refused {
                    limit,
                    committed: current,
                    settled: self.settled.load(Ordering::Acquire),
                });
            }
            match self.committed.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    /// Gives back a claim that was never used.
    pub(crate) fn unclaim(&self, claimed: u64) {
        self.committed.fetch_sub(claimed, Ordering::AcqRel);
    }

    /// Turns a claim into settled use of `actual`, and returns settled use
    /// after it.
    pub(crate) fn settle(&self, claimed: u64, actual: u64) -> u64 {
        if actual >= claimed {
            self.committed.fetch_add(actual - claimed, Ordering::AcqRel);
        } else {
            self.committed.fetch_sub(claimed - actual, Ordering::AcqRel);
        }
        self.settled
            .fetch_add(actual, Ordering::AcqRel)
            .saturating_add(actual)
    }

    /// Settled use.
    pub(crate) fn settled(&self) -> u64 {
        self.settled.load(Ordering::Acquire)
    }

    /// Claimed but not yet settled.
    pub(crate) fn in_flight(&self) -> u64 {
        // Read settled first: a settlement between the two loads can only make
        // committed smaller, so this never underflows into a huge number.
        let settled = self.settled.load(Ordering::Acquire);
        self.committed
            .load(Ordering::Acquire)
            .saturating_sub(settled)
    }

    /// Marks alert threshold `index` as fired; `true` only for the first call.
    pub(crate) fn fire_alert_once(&self, index: usize) -> bool {
        let bit = 1u64 << index;
        self.alerts_fired.fetch_or(bit, Ordering::AcqRel) & bit == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_stop_at_the_limit() {
        let meter = Meter::new(Some(10));
        assert!(meter.claim(6).is_ok());
        assert_eq!(
            meter.claim(5),
            Err(Refused {
                limit: 10,
                committed: 6,
                settled: 0
            })
        );
        assert!(meter.claim(4).is_ok());
        assert_eq!(meter.in_flight(), 10);
    }

    #[test]
    fn settling_moves_in_flight_to_settled() {
        let meter = Meter::new(Some(100));
        meter.claim(40).unwrap();
        assert_eq!(meter.settle(40, 25), 25);
        assert_eq!(meter.in_flight(), 0);
        assert!(meter.claim(75).is_ok());
        meter.unclaim(75);
        assert_eq!(meter.in_flight(), 0);
    }

    #[test]
    fn a_bill_above_the_claim_is_recorded_in_full() {
        let meter = Meter::new(Some(100));
        meter.claim(10).unwrap();
        assert_eq!(meter.settle(10, 150), 150);
        assert!(meter.claim(1).is_err());
    }

    #[test]
    fn unlimited_meters_only_count() {
        let meter = Meter::new(None);
        assert!(meter.claim(u64::MAX / 2).is_ok());
        assert_eq!(meter.settle(u64::MAX / 2, 7), 7);
    }

    #[test]
    fn alerts_fire_once() {
        let meter = Meter::new(Some(1));
        assert!(meter.fire_alert_once(1));
        assert!(!meter.fire_alert_once(1));
        assert!(meter.fire_alert_once(0));
    }
}
