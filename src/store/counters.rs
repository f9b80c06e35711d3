//! [`Counters`]: the bucket arithmetic every store shares. The memory store
//! keeps one behind a lock; the file store rebuilds one from its log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::money::Usd;
use crate::store::{
    Claim, CounterSummary, Lease, Orphan, Reserved, Settled, Settlement, WindowRef, WindowUsage,
};

/// Reservations between sweeps for expired counters.
const SWEEP_EVERY: u32 = 4_096;

/// Every counter's live buckets.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    counters: HashMap<Arc<str>, Buckets>,
    until_sweep: u32,
}

/// One counter's buckets, oldest first; few, because a window is one
/// bucket or a few dozen rolling slots.
#[derive(Debug, Default)]
struct Buckets {
    slots: Vec<Bucket>,
    /// The span and limit of the last granted claim, for status reports.
    limit: Option<Limit>,
}

/// The span and limit a granted claim on a counter was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    /// Buckets in the window.
    pub(crate) span: u32,
    /// The limit.
    pub(crate) max: Usd,
}

/// One bucket of one counter, as a snapshot of the counters keeps it (its
/// leases are saved beside it, as [`SavedLease`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SavedBucket {
    /// The counter.
    pub(crate) counter: Arc<str>,
    /// The bucket's number.
    pub(crate) number: u64,
    /// Its spend and holds.
    pub(crate) usage: WindowUsage,
    /// When it stops mattering.
    pub(crate) expires_at: Option<Duration>,
}

/// A hold under a lease in one bucket: live (its amount is part of the
/// bucket's `held`) or orphaned (billed: part of its `spent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeasedHold {
    /// The lease.
    pub(crate) lease: Lease,
    /// What it holds, or was billed, in this bucket.
    pub(crate) amount: Usd,
}

/// One leased hold of a snapshot, and the bucket it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SavedLease {
    /// The counter.
    pub(crate) counter: Arc<str>,
    /// The bucket's number.
    pub(crate) bucket: u64,
    /// Whether its lease ran out unsettled.
    pub(crate) orphaned: bool,
    /// The hold.
    pub(crate) hold: LeasedHold,
}

/// A lease that has run out in one bucket: what a sweep found, and what a
/// log records so that every process replaying it orphans the same hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expiry {
    /// The counter.
    pub(crate) counter: Arc<str>,
    /// The bucket.
    pub(crate) bucket: u64,
    /// The lease's id.
    pub(crate) lease: u64,
}

#[derive(Debug, Clone)]
struct Bucket {
    number: u64,
    usage: WindowUsage,
    expires_at: Option<Duration>,
    /// Live holds under a lease.
    leases: Vec<LeasedHold>,
    /// Holds whose lease ran out unsettled, for status reports and for a
    /// settlement that arrives after all.
    orphans: Vec<LeasedHold>,
}

impl Bucket {
    fn new(number: u64, usage: WindowUsage, expires_at: Option<Duration>) -> Self {
        Bucket {
            number,
            usage,
            expires_at,
            leases: Vec::new(),
            orphans: Vec::new(),
        }
    }

    /// Moves the hold under `lease` from held to spent, and to the orphans.
    fn orphan(&mut self, lease: u64) {
        let Some(at) = self.leases.iter().position(|h| h.lease.id == lease) else {
            return;
        };
        let hold = self.leases.swap_remove(at);
        self.usage.held = self.usage.held.saturating_sub(hold.amount);
        self.usage.spent = self.usage.spent.saturating_add(hold.amount);
        self.orphans.push(hold);
    }

    /// Settles one window's share of a call in this bucket.
    fn settle(&mut self, s: &Settlement) {
        let leased = s
            .lease
            .and_then(|id| self.leases.iter().position(|h| h.lease.id == id));
        if let Some(at) = leased {
            let hold = self.leases.swap_remove(at);
            self.usage.held = self.usage.held.saturating_sub(hold.amount);
            self.usage.spent = self.usage.spent.saturating_add(s.spent);
            return;
        }
        let orphaned = s
            .lease
            .and_then(|id| self.orphans.iter().position(|h| h.lease.id == id));
        if let Some(at) = orphaned {
            // Already billed at its worst case: only a cost above that is
            // added, and the hold is not dropped twice.
            let hold = self.orphans.swap_remove(at);
            let excess = s.spent.saturating_sub(hold.amount);
            self.usage.spent = self.usage.spent.saturating_add(excess);
            return;
        }
        // A hold recorded without a lease, by a version before leases.
        if s.lease.is_none() {
            self.usage.held = self.usage.held.saturating_sub(s.held);
            self.usage.spent = self.usage.spent.saturating_add(s.spent);
        }
    }
}

impl Buckets {
    fn window_usage(&self, window: &WindowRef) -> WindowUsage {
        self.slots.iter().filter(|b| window.covers(b.number)).fold(
            WindowUsage::default(),
            |sum, b| WindowUsage {
                spent: sum.spent.saturating_add(b.usage.spent),
                held: sum.held.saturating_add(b.usage.held),
            },
        )
    }

    /// The bucket `window` charges, made if need be; buckets older than the
    /// window are dropped first, as no window of this counter needs them.
    fn charged(&mut self, window: &WindowRef) -> &mut Bucket {
        let first = window.first_bucket();
        self.slots.retain(|b| b.number >= first);
        let at = match self
            .slots
            .binary_search_by_key(&window.bucket, |b| b.number)
        {
            Ok(at) => at,
            Err(at) => {
                self.slots.insert(
                    at,
                    Bucket::new(window.bucket, WindowUsage::default(), window.expires_at),
                );
                at
            }
        };
        &mut self.slots[at]
    }

    fn bucket_mut(&mut self, number: u64) -> Option<&mut Bucket> {
        self.slots.iter_mut().find(|b| b.number == number)
    }

    fn all_expired(&self, now: Duration) -> bool {
        self.slots
            .iter()
            .all(|b| b.expires_at.is_some_and(|at| at <= now))
    }
}

impl Counters {
    /// All-or-none: orphans the expired leases of the buckets charged,
    /// checks every claim, then holds every amount under `lease`.
    pub(crate) fn reserve(&mut self, claims: &[Claim], lease: &Lease, now: Duration) -> Reserved {
        let charged = claims.iter().map(|claim| &claim.window);
        for expiry in self.expired_in(charged, now) {
            self.orphan(&expiry);
        }
        if let Some(refused) = self.refusal(claims, now) {
            return refused;
        }
        let usage = claims
            .iter()
            .map(|claim| {
                self.remember_limit(&claim.window.counter, Limit::of(claim));
                self.hold(&claim.window, claim.amount, Some(lease))
            })
            .collect();
        Reserved::Granted { usage, ticket: 0 }
    }

    /// The leases run out by `now` in the buckets `windows` charge: what a
    /// reservation or a renewal sweeps first. Changes nothing.
    pub(crate) fn expired_in<'w>(
        &self,
        windows: impl Iterator<Item = &'w WindowRef>,
        now: Duration,
    ) -> Vec<Expiry> {
        let mut expired = Vec::new();
        for window in windows {
            let Some(buckets) = self.counters.get(&window.counter) else {
                continue;
            };
            let charged = buckets.slots.iter().find(|b| b.number == window.bucket);
            for hold in charged.into_iter().flat_map(|b| &b.leases) {
                if hold.lease.expired_at(now) {
                    expired.push(Expiry {
                        counter: Arc::clone(&window.counter),
                        bucket: window.bucket,
                        lease: hold.lease.id,
                    });
                }
            }
        }
        expired.dedup();
        expired
    }

    /// Every lease run out by `now`, in every bucket: what `spendguard
    /// status` sweeps. Changes nothing.
    pub(crate) fn expired_everywhere(&self, now: Duration) -> Vec<Expiry> {
        self.counters
            .iter()
            .flat_map(|(counter, buckets)| {
                buckets.slots.iter().flat_map(move |b| {
                    b.leases
                        .iter()
                        .filter(move |h| h.lease.expired_at(now))
                        .map(move |h| Expiry {
                            counter: Arc::clone(counter),
                            bucket: b.number,
                            lease: h.lease.id,
                        })
                })
            })
            .collect()
    }

    /// Bills an expired lease's hold at its worst case.
    pub(crate) fn orphan(&mut self, expiry: &Expiry) {
        if let Some(bucket) = self
            .counters
            .get_mut(&expiry.counter)
            .and_then(|buckets| buckets.bucket_mut(expiry.bucket))
        {
            bucket.orphan(expiry.lease);
        }
    }

    /// Every orphaned hold, by counter and bucket.
    pub(crate) fn orphans(&self) -> Vec<Orphan> {
        let mut orphans: Vec<Orphan> = self
            .counters
            .iter()
            .flat_map(|(counter, buckets)| {
                buckets.slots.iter().flat_map(move |b| {
                    b.orphans.iter().map(move |h| Orphan {
                        counter: Arc::clone(counter),
                        bucket: b.number,
                        lease: h.lease.id,
                        holder: Arc::clone(&h.lease.holder),
                        amount: h.amount,
                        since: h.lease.since,
                        expired_at: h.lease.expires_at,
                    })
                })
            })
            .collect();
        orphans.sort_unstable_by(|a, b| {
            (&a.counter, a.bucket, a.since).cmp(&(&b.counter, b.bucket, b.since))
        });
        orphans
    }

    /// Moves the live lease `lease`'s expiry to its new one in each
    /// window's charged bucket; whether it was live in all of them. Sweep
    /// the windows first ([`expired_in`](Counters::expired_in)), so a lease
    /// that has run out is not brought back.
    pub(crate) fn renew(&mut self, windows: &[WindowRef], lease: &Lease) -> bool {
        let mut everywhere = true;
        for window in windows {
            let hold = self
                .counters
                .get_mut(&window.counter)
                .and_then(|buckets| buckets.bucket_mut(window.bucket))
                .and_then(|b| b.leases.iter_mut().find(|h| h.lease.id == lease.id));
            match hold {
                Some(hold) => hold.lease.expires_at = lease.expires_at,
                None => everywhere = false,
            }
        }
        everywhere
    }

    /// Whether `claim`'s span and limit differ from those its counter
    /// last granted: a store that records limits records this one.
    pub(crate) fn is_new_limit(&self, claim: &Claim) -> bool {
        self.counters
            .get(&claim.window.counter)
            .and_then(|buckets| buckets.limit)
            != Some(Limit::of(claim))
    }

    /// Remembers the span and limit of a granted claim on `counter`.
    pub(crate) fn remember_limit(&mut self, counter: &Arc<str>, limit: Limit) {
        self.counters.entry(Arc::clone(counter)).or_default().limit = Some(limit);
    }

    /// Every counter's remembered limit, for a snapshot.
    pub(crate) fn limits(&self) -> impl Iterator<Item = (&Arc<str>, Limit)> + '_ {
        self.counters
            .iter()
            .filter_map(|(counter, buckets)| Some((counter, buckets.limit?)))
    }

    /// Every counter with a bucket, by name.
    pub(crate) fn summaries(&self) -> Vec<CounterSummary> {
        let mut summaries: Vec<CounterSummary> = self
            .counters
            .iter()
            .filter_map(|(counter, buckets)| {
                let newest = buckets.slots.last()?;
                Some(CounterSummary::new(
                    Arc::clone(counter),
                    newest.number,
                    buckets.limit.map_or(1, |limit| limit.span),
                    buckets.limit.map(|limit| limit.max),
                ))
            })
            .collect();
        summaries.sort_unstable_by(|a, b| a.counter.cmp(&b.counter));
        summaries
    }

    /// The [`Reserved::Refused`] of the first claim that does not fit, or
    /// else the [`Reserved::NearLimit`] of the first that does not leave
    /// its room, if any; holds nothing. A store that must record a grant
    /// before making it checks with this, records, then
    /// [`hold`](Counters::hold)s.
    pub(crate) fn refusal(&mut self, claims: &[Claim], now: Duration) -> Option<Reserved> {
        self.sweep_now_and_then(now);
        let usage_of = |claim: &Claim| {
            self.counters
                .get(&claim.window.counter)
                .map(|buckets| buckets.window_usage(&claim.window))
                .unwrap_or_default()
        };
        let refused = claims.iter().enumerate().find_map(|(index, claim)| {
            let usage = usage_of(claim);
            (!fits(usage, claim.amount, claim.max)).then_some(Reserved::Refused {
                claim: index,
                usage,
            })
        });
        if refused.is_some() {
            return refused;
        }
        claims
            .iter()
            .enumerate()
            .filter(|(_, claim)| !claim.room.is_zero())
            .find_map(|(index, claim)| {
                let usage = usage_of(claim);
                let both = claim.amount.checked_add(claim.room);
                (!both.is_some_and(|both| fits(usage, both, claim.max))).then_some(
                    Reserved::NearLimit {
                        claim: index,
                        usage,
                    },
                )
            })
    }

    /// Holds `amount` in `window` without a check, under `lease` (none for
    /// a hold a version before leases recorded): a reservation already
    /// granted, replayed from a log. Returns the window's usage after.
    pub(crate) fn hold(
        &mut self,
        window: &WindowRef,
        amount: Usd,
        lease: Option<&Lease>,
    ) -> WindowUsage {
        let buckets = self
            .counters
            .entry(Arc::clone(&window.counter))
            .or_default();
        let charged = buckets.charged(window);
        charged.usage.held = charged.usage.held.saturating_add(amount);
        if let Some(lease) = lease {
            charged.leases.push(LeasedHold {
                lease: lease.clone(),
                amount,
            });
        }
        buckets.window_usage(window)
    }

    /// Drops holds and adds spend. A hold whose lease ran out was billed at
    /// its worst case already: only a cost above it is added. A bucket that
    /// has aged out of every window is not brought back: its spend no
    /// longer counts anywhere.
    pub(crate) fn settle(&mut self, settlements: &[Settlement]) -> Vec<Settled> {
        settlements
            .iter()
            .map(|s| {
                let Some(buckets) = self.counters.get_mut(&s.window.counter) else {
                    return Settled::new(Usd::ZERO, Usd::ZERO);
                };
                let before = buckets.window_usage(&s.window).spent;
                if let Some(bucket) = buckets.bucket_mut(s.window.bucket) {
                    bucket.settle(s);
                }
                Settled::new(before, buckets.window_usage(&s.window).spent)
            })
            .collect()
    }

    /// Each window's usage now.
    pub(crate) fn usage(&self, windows: &[WindowRef]) -> Vec<WindowUsage> {
        windows
            .iter()
            .map(|w| {
                self.counters
                    .get(&w.counter)
                    .map(|b| b.window_usage(w))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Every bucket, for a snapshot.
    pub(crate) fn saved(&self) -> impl Iterator<Item = SavedBucket> + '_ {
        self.counters.iter().flat_map(|(counter, buckets)| {
            buckets.slots.iter().map(|b| SavedBucket {
                counter: Arc::clone(counter),
                number: b.number,
                usage: b.usage,
                expires_at: b.expires_at,
            })
        })
    }

    /// Every leased hold, live and orphaned, for a snapshot.
    pub(crate) fn saved_leases(&self) -> impl Iterator<Item = SavedLease> + '_ {
        self.counters.iter().flat_map(|(counter, buckets)| {
            buckets.slots.iter().flat_map(move |b| {
                let live = b.leases.iter().map(|h| (false, h));
                let orphaned = b.orphans.iter().map(|h| (true, h));
                live.chain(orphaned)
                    .map(move |(orphaned, hold)| SavedLease {
                        counter: Arc::clone(counter),
                        bucket: b.number,
                        orphaned,
                        hold: hold.clone(),
                    })
            })
        })
    }

    /// Puts back a bucket from a snapshot, replacing one of the same number.
    pub(crate) fn restore(&mut self, saved: SavedBucket) {
        let buckets = self.counters.entry(saved.counter).or_default();
        let bucket = Bucket::new(saved.number, saved.usage, saved.expires_at);
        match buckets
            .slots
            .binary_search_by_key(&saved.number, |b| b.number)
        {
            Ok(at) => buckets.slots[at] = bucket,
            Err(at) => buckets.slots.insert(at, bucket),
        }
    }

    /// Puts back a leased hold from a snapshot, in its bucket (restored
    /// before it); its amount is already in the bucket's usage.
    pub(crate) fn restore_lease(&mut self, saved: SavedLease) {
        let Some(bucket) = self
            .counters
            .get_mut(&saved.counter)
            .and_then(|buckets| buckets.bucket_mut(saved.bucket))
        else {
            return;
        };
        if saved.orphaned {
            bucket.orphans.push(saved.hold);
        } else {
            bucket.leases.push(saved.hold);
        }
    }

    /// Drops every bucket that has expired by `now`, and counters left with
    /// none: what a snapshot need not keep.
    pub(crate) fn forget_expired(&mut self, now: Duration) {
        self.counters.retain(|_, buckets| {
            buckets
                .slots
                .retain(|b| b.expires_at.is_none_or(|at| at > now));
            !buckets.slots.is_empty()
        });
    }

    /// Forgets counters whose buckets have all expired, so one counter per
    /// task or customer does not grow memory without end.
    fn sweep_now_and_then(&mut self, now: Duration) {
        if self.until_sweep > 0 {
            self.until_sweep -= 1;
            return;
        }
        self.until_sweep = SWEEP_EVERY;
        self.counters.retain(|_, buckets| !buckets.all_expired(now));
    }

    /// How many counters are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.counters.len()
    }
}

impl Limit {
    /// The span and limit `claim` is checked against.
    pub(crate) fn of(claim: &Claim) -> Self {
        Limit {
            span: claim.window.span,
            max: claim.max,
        }
    }
}

/// Whether `amount` fits beside `usage` under `max`; an amount that would
/// overflow does not fit.
fn fits(usage: WindowUsage, amount: Usd, max: Usd) -> bool {
    usage
        .spent
        .checked_add(usage.held)
        .and_then(|committed| committed.checked_add(amount))
        .is_some_and(|total| total <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_secs(1_000_000);

    fn day(bucket: u64) -> WindowRef {
        WindowRef::calendar(
            Arc::from("k|day"),
            bucket,
            Some(NOW + Duration::from_secs(86_400 * (bucket + 1))),
        )
    }

    fn cents(c: u64) -> Usd {
        Usd::from_cents(c)
    }

    /// Lease `id`, running out a day after `NOW`.
    fn lease(id: u64) -> Lease {
        Lease::new(
            id,
            Arc::from("test/1"),
            NOW,
            NOW + Duration::from_secs(86_400),
        )
    }

    impl Counters {
        fn reserve_as(&mut self, id: u64, claims: &[Claim], now: Duration) -> Reserved {
            self.reserve(claims, &lease(id), now)
        }
    }

    #[test]
    fn a_hold_whose_lease_ran_out_is_billed_at_its_worst_case_never_freed() {
        let mut counters = Counters::default();
        let window = WindowRef::calendar(Arc::from("k|all"), 0, None);
        let claim = |amount| Claim::new(window.clone(), cents(100), cents(amount));
        let minute = Lease::new(1, Arc::from("dead/7"), NOW, NOW + Duration::from_secs(60));
        counters.reserve(&[claim(60)], &minute, NOW);
        counters.reserve_as(2, &[claim(10)], NOW);
        // Before the lease runs out the dead worker's hold is held…
        assert_eq!(
            counters.usage(std::slice::from_ref(&window)),
            [WindowUsage::new(Usd::ZERO, cents(70))]
        );
        // …after, the next reservation sees it as spent, and $0.40 is not
        // there to be had.
        let later = NOW + Duration::from_secs(61);
        assert_eq!(
            counters.reserve_as(3, &[claim(40)], later),
            Reserved::Refused {
                claim: 0,
                usage: WindowUsage::new(cents(60), cents(10))
            }
        );
        let orphans = counters.orphans();
        assert_eq!(orphans.len(), 1);
        assert_eq!(
            (&*orphans[0].holder, orphans[0].amount, orphans[0].lease),
            ("dead/7", cents(60), 1)
        );
        // The live hold settles as usual; the orphan's late settlement adds
        // only what it cost above its worst case, and drops no other hold.
        counters.settle(&[Settlement::new(window.clone(), cents(10), cents(5), 0, 2)]);
        counters.settle(&[Settlement::new(window.clone(), cents(60), cents(70), 0, 1)]);
        assert_eq!(
            counters.usage(std::slice::from_ref(&window)),
            [WindowUsage::new(cents(75), Usd::ZERO)]
        );
    }

    #[test]
    fn a_renewed_lease_stays_live_and_one_run_out_cannot_be_renewed() {
        let mut counters = Counters::default();
        let window = WindowRef::calendar(Arc::from("k|all"), 0, None);
        let minute = Lease::new(1, Arc::from("w/1"), NOW, NOW + Duration::from_secs(60));
        counters.reserve(
            &[Claim::new(window.clone(), cents(100), cents(60))],
            &minute,
            NOW,
        );
        let windows = [window.clone()];
        let renewed = minute.renewed(NOW + Duration::from_secs(120));
        assert!(counters.renew(&windows, &renewed));
        assert!(counters
            .expired_in(windows.iter(), NOW + Duration::from_secs(90))
            .is_empty());
        let expired = counters.expired_in(windows.iter(), NOW + Duration::from_secs(120));
        assert_eq!(expired.len(), 1);
        counters.orphan(&expired[0]);
        assert!(!counters.renew(&windows, &renewed.renewed(NOW + Duration::from_secs(999))));
        assert_eq!(
            counters.usage(&windows),
            [WindowUsage::new(cents(60), Usd::ZERO)]
        );
    }

    #[test]
    fn a_hold_without_a_lease_from_an_old_log_settles_as_before() {
        let mut counters = Counters::default();
        let window = WindowRef::calendar(Arc::from("k|all"), 0, None);
        counters.hold(&window, cents(60), None);
        let mut old = Settlement::new(window.clone(), cents(60), cents(45), 0, 0);
        old.lease = None;
        counters.settle(&[old]);
        assert_eq!(
            counters.usage(std::slice::from_ref(&window)),
            [WindowUsage::new(cents(45), Usd::ZERO)]
        );
        assert!(counters
            .expired_everywhere(NOW + Duration::from_secs(1 << 40))
            .is_empty());
    }

    #[test]
    fn all_or_none_across_claims() {
        let mut counters = Counters::default();
        let roomy = Claim::new(
            WindowRef::calendar(Arc::from("a"), 0, None),
            cents(100),
            cents(60),
        );
        let tight = Claim::new(
            WindowRef::calendar(Arc::from("b"), 0, None),
            cents(50),
            cents(60),
        );
        assert_eq!(
            counters.reserve_as(1, &[roomy.clone(), tight], NOW),
            Reserved::Refused {
                claim: 1,
                usage: WindowUsage::default()
            }
        );
        // Nothing was held in the first counter.
        assert_eq!(
            counters.usage(std::slice::from_ref(&roomy.window)),
            [WindowUsage::default()]
        );
        assert!(matches!(
            counters.reserve_as(1, &[roomy], NOW),
            Reserved::Granted { .. }
        ));
    }

    #[test]
    fn a_claim_far_from_its_limit_needs_room_for_twice_its_amount() {
        let mut counters = Counters::default();
        let window = WindowRef::calendar(Arc::from("k|all"), 0, None);
        let claim = |amount| Claim::new(window.clone(), cents(100), cents(amount));
        counters.reserve_as(1, &[claim(20)], NOW);
        // 20 + 40 + 40 = 100: as much again still fits.
        assert!(matches!(
            counters.reserve_as(2, &[claim(40).far_from_limit()], NOW),
            Reserved::Granted { .. }
        ));
        // 60 + 30 fits, 60 + 30 + 30 does not: near, and nothing held.
        assert_eq!(
            counters.reserve_as(3, &[claim(30).far_from_limit()], NOW),
            Reserved::NearLimit {
                claim: 0,
                usage: WindowUsage::new(Usd::ZERO, cents(60))
            }
        );
        assert_eq!(
            counters.usage(std::slice::from_ref(&window)),
            [WindowUsage::new(Usd::ZERO, cents(60))]
        );
        // Asked without the room, the same amount is granted.
        assert!(matches!(
            counters.reserve_as(3, &[claim(30)], NOW),
            Reserved::Granted { .. }
        ));
    }

    #[test]
    fn a_claim_that_does_not_fit_at_all_is_refused_before_any_is_near() {
        let mut counters = Counters::default();
        let near = Claim::new(
            WindowRef::calendar(Arc::from("a"), 0, None),
            cents(100),
            cents(60),
        )
        .far_from_limit();
        let over = Claim::new(
            WindowRef::calendar(Arc::from("b"), 0, None),
            cents(50),
            cents(60),
        )
        .far_from_limit();
        assert_eq!(
            counters.reserve_as(1, &[near.clone(), over], NOW),
            Reserved::Refused {
                claim: 1,
                usage: WindowUsage::default()
            }
        );
        // Twice an amount that would overflow does not fit either.
        let huge = Claim::new(near.window, Usd::MAX, Usd::from_nanos(u64::MAX / 2 + 1));
        assert!(matches!(
            counters.reserve_as(1, &[huge.clone().far_from_limit()], NOW),
            Reserved::NearLimit { claim: 0, .. }
        ));
        assert!(matches!(
            counters.reserve_as(1, &[huge], NOW),
            Reserved::Granted { .. }
        ));
    }

    #[test]
    fn settling_moves_the_hold_into_spend_and_reports_the_crossing() {
        let mut counters = Counters::default();
        let claim = Claim::new(day(1), cents(100), cents(60));
        counters.reserve_as(1, &[claim], NOW);
        let settled = counters.settle(&[Settlement::new(day(1), cents(60), cents(45), 0, 1)]);
        assert_eq!(settled, [Settled::new(Usd::ZERO, cents(45))]);
        assert_eq!(
            counters.usage(&[day(1)]),
            [WindowUsage::new(cents(45), Usd::ZERO)]
        );
    }

    #[test]
    fn a_new_day_starts_empty_and_a_late_settlement_stays_in_its_own_day() {
        let mut counters = Counters::default();
        counters.reserve_as(1, &[Claim::new(day(1), cents(100), cents(90))], NOW);
        assert!(matches!(
            counters.reserve_as(1, &[Claim::new(day(2), cents(100), cents(90))], NOW),
            Reserved::Granted { .. }
        ));
        // Yesterday's bucket was dropped when today's was charged, so its
        // settlement changes nothing today.
        counters.settle(&[Settlement::new(day(1), cents(90), cents(90), 0, 1)]);
        assert_eq!(
            counters.usage(&[day(2)]),
            [WindowUsage::new(Usd::ZERO, cents(90))]
        );
    }

    #[test]
    fn a_rolling_window_adds_its_slots_and_forgets_older_ones() {
        let mut counters = Counters::default();
        let slot = |n| WindowRef::rolling(Arc::from("k|1h"), n, 3, NOW);
        for n in 10..13 {
            counters.reserve_as(1, &[Claim::new(slot(n), cents(100), cents(30))], NOW);
        }
        assert!(matches!(
            counters.reserve_as(1, &[Claim::new(slot(12), cents(100), cents(30))], NOW),
            Reserved::Refused { .. }
        ));
        // Slot 10 leaves the window at slot 13.
        assert!(matches!(
            counters.reserve_as(1, &[Claim::new(slot(13), cents(100), cents(30))], NOW),
            Reserved::Granted { .. }
        ));
    }

    #[test]
    fn an_amount_that_would_overflow_does_not_fit() {
        let mut counters = Counters::default();
        let window = WindowRef::calendar(Arc::from("k"), 0, None);
        counters.reserve_as(
            1,
            &[Claim::new(
                window.clone(),
                Usd::from_nanos(u64::MAX),
                Usd::from_nanos(u64::MAX - 1),
            )],
            NOW,
        );
        assert!(matches!(
            counters.reserve_as(
                1,
                &[Claim::new(
                    window,
                    Usd::from_nanos(u64::MAX),
                    Usd::from_nanos(2)
                )],
                NOW
            ),
            Reserved::Refused { .. }
        ));
    }

    #[test]
    fn a_snapshot_restores_every_bucket_but_the_expired_ones() {
        let mut counters = Counters::default();
        let rolling = |n| WindowRef::rolling(Arc::from("k|1h"), n, 3, NOW + Duration::from_secs(n));
        for n in [10, 11] {
            counters.reserve_as(1, &[Claim::new(rolling(n), cents(100), cents(30))], NOW);
        }
        counters.settle(&[Settlement::new(rolling(11), cents(30), cents(20), 0, 1)]);
        counters.reserve_as(1, &[Claim::new(day(1), cents(100), cents(5))], NOW);

        // Slot 10 expires at NOW + 10s: gone from a snapshot taken then.
        counters.forget_expired(NOW + Duration::from_secs(10));
        let mut restored = Counters::default();
        for saved in counters.saved() {
            restored.restore(saved);
        }
        assert_eq!(
            restored.usage(&[rolling(12), day(1)]),
            [
                WindowUsage::new(cents(20), Usd::ZERO),
                WindowUsage::new(Usd::ZERO, cents(5))
            ]
        );
        assert_eq!(restored.saved().count(), 2);
    }

    #[test]
    fn expired_counters_are_forgotten() {
        let mut counters = Counters::default();
        for task in 0..100 {
            let window = WindowRef::calendar(Arc::from(format!("task={task}|all")), 0, Some(NOW));
            counters.reserve_as(
                1,
                &[Claim::new(window, cents(1), cents(1))],
                NOW - Duration::from_secs(1),
            );
        }
        counters.until_sweep = 0;
        counters.reserve_as(1, &[], NOW);
        assert_eq!(counters.len(), 0);
    }
}
