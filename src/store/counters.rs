//! [`Counters`]: the bucket arithmetic every store shares. The memory store
//! keeps one behind a lock; the file store rebuilds one from its log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::money::Usd;
use crate::store::{Claim, CounterSummary, Reserved, Settled, Settlement, WindowRef, WindowUsage};

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

/// One bucket of one counter, as a snapshot of the counters keeps it.
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

#[derive(Debug, Clone, Copy)]
struct Bucket {
    number: u64,
    usage: WindowUsage,
    expires_at: Option<Duration>,
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
    fn charged(&mut self, window: &WindowRef) -> &mut WindowUsage {
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
                    Bucket {
                        number: window.bucket,
                        usage: WindowUsage::default(),
                        expires_at: window.expires_at,
                    },
                );
                at
            }
        };
        &mut self.slots[at].usage
    }

    fn all_expired(&self, now: Duration) -> bool {
        self.slots
            .iter()
            .all(|b| b.expires_at.is_some_and(|at| at <= now))
    }
}

impl Counters {
    /// All-or-none: checks every claim, then holds every amount.
    pub(crate) fn reserve(&mut self, claims: &[Claim], now: Duration) -> Reserved {
        if let Some(refused) = self.refusal(claims, now) {
            return refused;
        }
        let usage = claims
            .iter()
            .map(|claim| {
                self.remember_limit(&claim.window.counter, Limit::of(claim));
                self.hold(&claim.window, claim.amount)
            })
            .collect();
        Reserved::Granted { usage, ticket: 0 }
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

    /// The [`Reserved::Refused`] of the first claim that does not fit, if
    /// any; holds nothing. A store that must record a grant before making
    /// it checks with this, records, then [`hold`](Counters::hold)s.
    pub(crate) fn refusal(&mut self, claims: &[Claim], now: Duration) -> Option<Reserved> {
        self.sweep_now_and_then(now);
        claims.iter().enumerate().find_map(|(index, claim)| {
            let usage = self
                .counters
                .get(&claim.window.counter)
                .map(|buckets| buckets.window_usage(&claim.window))
                .unwrap_or_default();
            (!fits(usage, claim.amount, claim.max)).then_some(Reserved::Refused {
                claim: index,
                usage,
            })
        })
    }

    /// Holds `amount` in `window` without a check: a reservation already
    /// granted, replayed from a log. Returns the window's usage after.
    pub(crate) fn hold(&mut self, window: &WindowRef, amount: Usd) -> WindowUsage {
        let buckets = self
            .counters
            .entry(Arc::clone(&window.counter))
            .or_default();
        let charged = buckets.charged(window);
        charged.held = charged.held.saturating_add(amount);
        buckets.window_usage(window)
    }

    /// Drops holds and adds spend. A bucket that has aged out of every
    /// window is not brought back: its spend no longer counts anywhere.
    pub(crate) fn settle(&mut self, settlements: &[Settlement]) -> Vec<Settled> {
        settlements
            .iter()
            .map(|s| {
                let Some(buckets) = self.counters.get_mut(&s.window.counter) else {
                    return Settled::new(Usd::ZERO, Usd::ZERO);
                };
                let before = buckets.window_usage(&s.window).spent;
                if let Some(bucket) = buckets
                    .slots
                    .iter_mut()
                    .find(|b| b.number == s.window.bucket)
                {
                    bucket.usage.held = bucket.usage.held.saturating_sub(s.held);
                    bucket.usage.spent = bucket.usage.spent.saturating_add(s.spent);
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

    /// Puts back a bucket from a snapshot, replacing one of the same number.
    pub(crate) fn restore(&mut self, saved: SavedBucket) {
        let buckets = self.counters.entry(saved.counter).or_default();
        let bucket = Bucket {
            number: saved.number,
            usage: saved.usage,
            expires_at: saved.expires_at,
        };
        match buckets
            .slots
            .binary_search_by_key(&saved.number, |b| b.number)
        {
            Ok(at) => buckets.slots[at] = bucket,
            Err(at) => buckets.slots.insert(at, bucket),
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
            counters.reserve(&[roomy.clone(), tight], NOW),
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
            counters.reserve(&[roomy], NOW),
            Reserved::Granted { .. }
        ));
    }

    #[test]
    fn settling_moves_the_hold_into_spend_and_reports_the_crossing() {
        let mut counters = Counters::default();
        let claim = Claim::new(day(1), cents(100), cents(60));
        counters.reserve(&[claim], NOW);
        let settled = counters.settle(&[Settlement::new(day(1), cents(60), cents(45), 0)]);
        assert_eq!(settled, [Settled::new(Usd::ZERO, cents(45))]);
        assert_eq!(
            counters.usage(&[day(1)]),
            [WindowUsage::new(cents(45), Usd::ZERO)]
        );
    }

    #[test]
    fn a_new_day_starts_empty_and_a_late_settlement_stays_in_its_own_day() {
        let mut counters = Counters::default();
        counters.reserve(&[Claim::new(day(1), cents(100), cents(90))], NOW);
        assert!(matches!(
            counters.reserve(&[Claim::new(day(2), cents(100), cents(90))], NOW),
            Reserved::Granted { .. }
        ));
        // Yesterday's bucket was dropped when today's was charged, so its
        // settlement changes nothing today.
        counters.settle(&[Settlement::new(day(1), cents(90), cents(90), 0)]);
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
            counters.reserve(&[Claim::new(slot(n), cents(100), cents(30))], NOW);
        }
        assert!(matches!(
            counters.reserve(&[Claim::new(slot(12), cents(100), cents(30))], NOW),
            Reserved::Refused { .. }
        ));
        // Slot 10 leaves the window at slot 13.
        assert!(matches!(
            counters.reserve(&[Claim::new(slot(13), cents(100), cents(30))], NOW),
            Reserved::Granted { .. }
        ));
    }

    #[test]
    fn an_amount_that_would_overflow_does_not_fit() {
        let mut counters = Counters::default();
        let window = WindowRef::calendar(Arc::from("k"), 0, None);
        counters.reserve(
            &[Claim::new(
                window.clone(),
                Usd::from_nanos(u64::MAX),
                Usd::from_nanos(u64::MAX - 1),
            )],
            NOW,
        );
        assert!(matches!(
            counters.reserve(
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
            counters.reserve(&[Claim::new(rolling(n), cents(100), cents(30))], NOW);
        }
        counters.settle(&[Settlement::new(rolling(11), cents(30), cents(20), 0)]);
        counters.reserve(&[Claim::new(day(1), cents(100), cents(5))], NOW);

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
            counters.reserve(
                &[Claim::new(window, cents(1), cents(1))],
                NOW - Duration::from_secs(1),
            );
        }
        counters.until_sweep = 0;
        counters.reserve(&[], NOW);
        assert_eq!(counters.len(), 0);
    }
}
