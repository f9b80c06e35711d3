//! [`Fallback`]: the in-process allowance a fail-open store spends from
//! while Redis cannot be reached.

use std::time::Duration;

use parking_lot::Mutex;

use crate::money::Usd;
use crate::store::counters::Counters;
use crate::store::{Claim, Lease, Reserved, Settled, Settlement, WindowRef};

/// Counters kept in this process, where every window's limit is the
/// smaller of its own and `cap`.
#[derive(Debug)]
pub(super) struct Fallback {
    cap: Usd,
    counters: Mutex<Counters>,
}

/// The fallback's cap, not the limit itself, refused a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AllowanceUsedUp;

impl Fallback {
    pub(super) fn new(cap: Usd) -> Self {
        Fallback {
            cap,
            counters: Mutex::new(Counters::default()),
        }
    }

    pub(super) fn cap(&self) -> Usd {
        self.cap
    }

    /// Reserves locally. A refusal by a limit no larger than the cap is a
    /// real refusal; a refusal by the cap means the outage allowance is
    /// spent, except for a claim that asked for [`room`](Claim::room): it
    /// is only near the cap ([`Reserved::NearLimit`]), which decides
    /// nothing, and the claim asked again without room gets the real answer.
    pub(super) fn reserve(
        &self,
        claims: &[Claim],
        lease: &Lease,
        now: Duration,
        ticket: u64,
    ) -> Result<Reserved, AllowanceUsedUp> {
        let capped: Vec<Claim> = claims
            .iter()
            .map(|claim| Claim {
                max: claim.max.min(self.cap),
                ..claim.clone()
            })
            .collect();
        match self.counters.lock().reserve(&capped, lease, now) {
            Reserved::Granted { usage, .. } => Ok(Reserved::Granted { usage, ticket }),
            Reserved::Refused { claim, usage } if self.cap < claims[claim].max => {
                if claims[claim].room.is_zero() {
                    Err(AllowanceUsedUp)
                } else {
                    Ok(Reserved::NearLimit { claim, usage })
                }
            }
            refused => Ok(refused),
        }
    }

    pub(super) fn settle(&self, settlements: &[Settlement]) -> Vec<Settled> {
        self.counters.lock().settle(settlements)
    }

    /// Renews a lease held here.
    pub(super) fn renew(&self, windows: &[WindowRef], lease: &Lease, now: Duration) -> bool {
        let mut counters = self.counters.lock();
        for expiry in counters.expired_in(windows.iter(), now) {
            counters.orphan(&expiry);
        }
        counters.renew(windows, lease)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::WindowRef;

    const NOW: Duration = Duration::from_secs(1_000_000);

    fn lease() -> Lease {
        Lease::new(
            1,
            std::sync::Arc::from("test"),
            NOW,
            NOW + Duration::from_secs(60),
        )
    }

    fn claim(max: u64, amount: u64) -> Claim {
        Claim::new(
            WindowRef::calendar(Arc::from("k|day"), 0, None),
            Usd::from_cents(max),
            Usd::from_cents(amount),
        )
    }

    #[test]
    fn the_cap_binds_below_the_limit_and_says_so() {
        let fallback = Fallback::new(Usd::from_cents(50));
        assert!(matches!(
            fallback.reserve(&[claim(100, 40)], &lease(), NOW, 7),
            Ok(Reserved::Granted { ticket: 7, .. })
        ));
        assert_eq!(
            fallback.reserve(&[claim(100, 40)], &lease(), NOW, 7),
            Err(AllowanceUsedUp)
        );
    }

    #[test]
    fn a_claim_asking_for_room_is_only_near_the_cap() {
        let fallback = Fallback::new(Usd::from_cents(50));
        // Under the cap, but not twice over: near.
        assert!(matches!(
            fallback.reserve(&[claim(100, 30).far_from_limit()], &lease(), NOW, 7),
            Ok(Reserved::NearLimit { claim: 0, .. })
        ));
        // Over the cap even once: still near, never the allowance's end,
        // which only a claim without room can find.
        assert!(matches!(
            fallback.reserve(&[claim(100, 60).far_from_limit()], &lease(), NOW, 7),
            Ok(Reserved::NearLimit { claim: 0, .. })
        ));
        assert_eq!(
            fallback.reserve(&[claim(100, 60)], &lease(), NOW, 7),
            Err(AllowanceUsedUp)
        );
        assert!(matches!(
            fallback.reserve(&[claim(100, 30)], &lease(), NOW, 7),
            Ok(Reserved::Granted { ticket: 7, .. })
        ));
    }

    #[test]
    fn a_limit_below_the_cap_refuses_as_itself() {
        let fallback = Fallback::new(Usd::from_cents(500));
        assert!(matches!(
            fallback.reserve(&[claim(100, 140)], &lease(), NOW, 7),
            Ok(Reserved::Refused { claim: 0, .. })
        ));
    }
}
