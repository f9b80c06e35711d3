//! The counters of one budget: use of each metered resource (dollars,
//! tokens, calls) against its limit.
//!
//! A budget keeps them behind one lock, or in atomics when it is limited
//! by dollars and calls alone (see [`super::counters`]); either way a
//! reservation claims every limit or none.

use crate::budget::exceeded::LimitKind;

/// Settled and in-flight use of one resource, and its limit.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tally {
    pub(crate) limit: Option<u64>,
    pub(crate) settled: u64,
    pub(crate) in_flight: u64,
    /// Bit `i` set once alert threshold `i` has fired.
    pub(crate) alerts_fired: u32,
}

/// A claim that did not fit: the tally as it was when refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) limit: LimitKind,
    pub(crate) max: u64,
    pub(crate) settled: u64,
    pub(crate) in_flight: u64,
    pub(crate) requested: u64,
}

impl Tally {
    pub(crate) const fn new(limit: Option<u64>) -> Self {
        Tally {
            limit,
            settled: 0,
            in_flight: 0,
            alerts_fired: 0,
        }
    }

    /// Settled plus in flight: what a new claim is checked against.
    pub(crate) const fn committed(&self) -> u64 {
        self.settled.saturating_add(self.in_flight)
    }

    /// `Ok` if `amount` more fits under the limit.
    pub(crate) fn check(&self, kind: LimitKind, amount: u64) -> Result<(), Refused> {
        match self.limit {
            Some(max) if self.committed().saturating_add(amount) > max => Err(Refused {
                limit: kind,
                max,
                settled: self.settled,
                in_flight: self.in_flight,
                requested: amount,
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn claim(&mut self, amount: u64) {
        self.in_flight = self.in_flight.saturating_add(amount);
    }

    pub(crate) fn unclaim(&mut self, claimed: u64) {
        self.in_flight = self.in_flight.saturating_sub(claimed);
    }

    /// Turns a claim into settled use of `actual`, which may exceed the claim:
    /// the provider's bill is the truth and is always recorded.
    pub(crate) fn settle(&mut self, claimed: u64, actual: u64) {
        self.unclaim(claimed);
        self.settled = self.settled.saturating_add(actual);
    }

    /// Marks alert threshold `index` fired; `true` only the first time.
    pub(crate) fn fire_alert_once(&mut self, index: usize) -> bool {
        let bit = 1u32 << index;
        let first = self.alerts_fired & bit == 0;
        self.alerts_fired |= bit;
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_stop_at_the_limit() {
        let mut tally = Tally::new(Some(10));
        assert!(tally.check(LimitKind::Cost, 6).is_ok());
        tally.claim(6);
        let refused = tally.check(LimitKind::Cost, 5).unwrap_err();
        assert_eq!((refused.in_flight, refused.requested), (6, 5));
        assert!(tally.check(LimitKind::Cost, 4).is_ok());
    }

    #[test]
    fn settling_moves_in_flight_to_settled_even_above_the_claim() {
        let mut tally = Tally::new(Some(100));
        tally.claim(40);
        tally.settle(40, 25);
        assert_eq!((tally.settled, tally.in_flight), (25, 0));
        tally.claim(10);
        tally.settle(10, 150);
        assert_eq!(tally.committed(), 175);
        assert!(tally.check(LimitKind::Cost, 1).is_err());
    }

    #[test]
    fn unlimited_tallies_never_refuse() {
        let mut tally = Tally::new(None);
        tally.claim(u64::MAX);
        assert!(tally.check(LimitKind::Tokens, u64::MAX).is_ok());
    }

    #[test]
    fn alerts_fire_once() {
        let mut tally = Tally::new(Some(1));
        assert!(tally.fire_alert_once(31));
        assert!(!tally.fire_alert_once(31));
        assert!(tally.fire_alert_once(0));
    }
}
