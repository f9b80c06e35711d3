//! [`Scripts`]: the Lua scripts the store runs, and their arguments.
//!
//! Lua numbers are doubles, exact only up to 2^53. Every limit the store
//! checks must be below that ([`RedisStore::MAX_LIMIT`], about $9 million
//! per window); the scripts keep every bucket at or below 2^53 by
//! saturating spend there, so every sum a claim is checked against is
//! exact, or else is above every limit and refused anyway.

use std::time::Duration;

use redis::{Script, ScriptInvocation};

use crate::money::Usd;
use crate::store::redis::keys::{KeyKind, Keys};
use crate::store::{Claim, Lease, RedisStore, Settlement, WindowRef};

const MAX_LIMIT: Usd = RedisStore::MAX_LIMIT;
const EXPIRY_MARGIN: Duration = RedisStore::EXPIRY_MARGIN;

/// Where a bucket's spend stops growing: above every limit, and still exact
/// in Lua.
const SATURATED: u64 = 1 << 53;

/// A limit above [`MAX_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LimitTooLarge(pub(super) Usd);

/// The scripts, each kept with its SHA-1 so a call is one `EVALSHA`.
#[derive(Debug)]
pub(super) struct Scripts {
    reserve: Script,
    settle: Script,
    usage: Script,
    renew: Script,
    sweep: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Scripts {
            reserve: Script::new(concat!(
                include_str!("buckets.lua"),
                include_str!("reserve.lua")
            )),
            settle: Script::new(concat!(
                include_str!("buckets.lua"),
                include_str!("settle.lua")
            )),
            usage: Script::new(concat!(
                include_str!("buckets.lua"),
                include_str!("usage.lua")
            )),
            renew: Script::new(concat!(
                include_str!("buckets.lua"),
                include_str!("renew.lua")
            )),
            sweep: Script::new(concat!(
                include_str!("buckets.lua"),
                include_str!("sweep.lua")
            )),
        }
    }

    /// Every script, to load them when connecting: the first calls then
    /// need no second round trip, and a server that refuses scripts says so
    /// at once.
    pub(super) fn all(&self) -> [&Script; 5] {
        [
            &self.reserve,
            &self.settle,
            &self.usage,
            &self.renew,
            &self.sweep,
        ]
    }

    /// Checks the halt key, sweeps each charged bucket of leases run out,
    /// then checks every claim; holds them all under `lease` if all fit.
    pub(super) fn reserve(
        &self,
        keys: &Keys,
        claims: &[Claim],
        lease: &Lease,
        now: Duration,
    ) -> Result<ScriptInvocation<'_>, LimitTooLarge> {
        let mut call = self.reserve.prepare_invoke();
        call.key(keys.halt());
        call.arg(lease.id)
            .arg(millis(lease.since))
            .arg(millis(lease.expires_at))
            .arg(&*lease.holder)
            .arg(millis(now));
        for claim in claims {
            if claim.max > MAX_LIMIT {
                return Err(LimitTooLarge(claim.max));
            }
            for key in keys.window(&claim.window) {
                call.key(key);
            }
            push_lease_keys(&mut call, keys, &claim.window);
            // An amount above the limit cannot fit however large it is;
            // one nano-dollar above the limit says so and stays exact. So
            // for the room asked to be left beside it.
            let above = claim.max.nanos() + 1;
            call.arg(Keys::span(&claim.window))
                .arg(claim.amount.nanos().min(above))
                .arg(claim.room.nanos().min(above))
                .arg(claim.max.nanos())
                .arg(ttl_millis(&claim.window, now));
        }
        Ok(call)
    }

    /// Drops each settlement's hold and adds its spend.
    pub(super) fn settle<'a>(
        &'a self,
        keys: &Keys,
        settlements: impl Iterator<Item = &'a Settlement>,
    ) -> ScriptInvocation<'a> {
        let mut call = self.settle.prepare_invoke();
        for settlement in settlements {
            for key in keys.window(&settlement.window) {
                call.key(key);
            }
            push_lease_keys(&mut call, keys, &settlement.window);
            // A settlement without a lease (only replayed from an old file
            // store) matches no lease here, so it changes nothing.
            call.arg(Keys::span(&settlement.window))
                .arg(settlement.held.nanos().min(SATURATED))
                .arg(settlement.spent.nanos().min(SATURATED))
                .arg(settlement.lease.unwrap_or(0));
        }
        call
    }

    /// Moves `lease`'s expiry on in each window's charged bucket.
    pub(super) fn renew(
        &self,
        keys: &Keys,
        windows: &[WindowRef],
        lease: &Lease,
        now: Duration,
    ) -> ScriptInvocation<'_> {
        let mut call = self.renew.prepare_invoke();
        for window in windows {
            call.key(keys.bucket(&window.counter, window.bucket));
            push_lease_keys(&mut call, keys, window);
        }
        call.arg(lease.id)
            .arg(millis(lease.expires_at))
            .arg(millis(now));
        call
    }

    /// Bills the holds in one bucket whose leases ran out by `now`, and
    /// lists its orphans.
    pub(super) fn sweep(
        &self,
        keys: &Keys,
        counter: &str,
        bucket: u64,
        now: Duration,
    ) -> ScriptInvocation<'_> {
        let mut call = self.sweep.prepare_invoke();
        call.key(keys.bucket(counter, bucket))
            .key(keys.key(KeyKind::Leases, counter, bucket))
            .key(keys.key(KeyKind::Orphans, counter, bucket))
            .arg(millis(now));
        call
    }

    /// Reads each window's usage.
    pub(super) fn usage(&self, keys: &Keys, windows: &[WindowRef]) -> ScriptInvocation<'_> {
        let mut call = self.usage.prepare_invoke();
        for window in windows {
            for key in keys.window(window) {
                call.key(key);
            }
            call.arg(Keys::span(window));
        }
        call
    }
}

/// The lease set and orphan hash of the bucket `window` charges.
fn push_lease_keys(call: &mut ScriptInvocation<'_>, keys: &Keys, window: &WindowRef) {
    call.key(keys.key(KeyKind::Leases, &window.counter, window.bucket))
        .key(keys.key(KeyKind::Orphans, &window.counter, window.bucket));
}

/// Milliseconds since the Unix epoch by the guard's clock, as the scripts
/// compare leases: exact in Lua for the next 280,000 years.
pub(super) fn millis(at: Duration) -> u64 {
    u64::try_from(at.as_millis()).unwrap_or(u64::MAX)
}

/// How long the charged bucket must live, by the guard's clock: until its
/// window ends, plus [`RedisStore::EXPIRY_MARGIN`]; -1 for an all-time counter, which
/// never expires. Relative, so a fake clock far from real time works.
fn ttl_millis(window: &WindowRef, now: Duration) -> i64 {
    match window.expires_at {
        None => -1,
        Some(at) => {
            let left = at.saturating_sub(now).saturating_add(EXPIRY_MARGIN);
            // Rounded up: a bucket may live a millisecond long, never short.
            let millis = left.as_nanos().div_ceil(1_000_000);
            i64::try_from(millis).unwrap_or(i64::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const NOW: Duration = Duration::from_secs(1_000_000);

    #[test]
    fn a_bucket_lives_until_its_window_ends_and_a_margin_more() {
        let day = WindowRef::calendar(
            Arc::from("d"),
            0,
            Some(NOW + Duration::from_nanos(1_500_001)),
        );
        assert_eq!(
            ttl_millis(&day, NOW),
            2 + i64::try_from(EXPIRY_MARGIN.as_millis()).unwrap()
        );
        let ended = WindowRef::calendar(Arc::from("d"), 0, Some(NOW - Duration::from_secs(5)));
        assert_eq!(
            ttl_millis(&ended, NOW),
            i64::try_from(EXPIRY_MARGIN.as_millis()).unwrap()
        );
        assert_eq!(
            ttl_millis(&WindowRef::calendar(Arc::from("a"), 0, None), NOW),
            -1
        );
    }

    #[test]
    fn limits_above_two_to_the_fifty_third_are_refused() {
        let scripts = Scripts::new();
        let keys = Keys::new("p", false);
        let window = WindowRef::calendar(Arc::from("c"), 0, None);
        let too_big = Usd::from_nanos(MAX_LIMIT.nanos() + 1);
        let claims = [Claim::new(window.clone(), too_big, Usd::from_cents(1))];
        let lease = Lease::new(1, Arc::from("t"), NOW, NOW);
        assert_eq!(
            scripts.reserve(&keys, &claims, &lease, NOW).err(),
            Some(LimitTooLarge(too_big))
        );
        let claims = [Claim::new(window, MAX_LIMIT, Usd::MAX)];
        assert!(scripts.reserve(&keys, &claims, &lease, NOW).is_ok());
    }
}
