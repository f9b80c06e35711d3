//! The vocabulary between the guard and a store: which window of which
//! counter, and how much.

use std::sync::Arc;
use std::time::Duration;

use crate::halt::Halt;
use crate::money::Usd;

/// One window of one counter: the bucket a call is charged to, and how many
/// buckets, ending with it, the limit adds up.
///
/// A calendar window (a UTC day, a month, or all time) is one bucket. A
/// rolling window is `span` consecutive short buckets; the oldest may be
/// partly outside the period, which makes the sum a little high, never low.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct WindowRef {
    /// The counter, e.g. `agent=researcher|day`.
    pub counter: Arc<str>,
    /// The bucket charged: a day or month number, or a rolling slot.
    pub bucket: u64,
    /// How many buckets, ending with `bucket`, make the window (1 for
    /// calendar windows).
    pub span: u32,
    /// When this bucket stops mattering to any window (Unix time), so a
    /// store may forget it; `None` for all-time counters.
    pub expires_at: Option<Duration>,
}

impl WindowRef {
    /// A one-bucket window.
    pub fn calendar(counter: Arc<str>, bucket: u64, expires_at: Option<Duration>) -> Self {
        WindowRef {
            counter,
            bucket,
            span: 1,
            expires_at,
        }
    }

    /// A window of `span` buckets ending with `bucket`.
    pub fn rolling(counter: Arc<str>, bucket: u64, span: u32, expires_at: Duration) -> Self {
        WindowRef {
            counter,
            bucket,
            span: span.max(1),
            expires_at: Some(expires_at),
        }
    }

    /// The oldest bucket in the window.
    pub fn first_bucket(&self) -> u64 {
        self.bucket.saturating_sub(u64::from(self.span) - 1)
    }

    /// Whether `bucket` is one of this window's buckets.
    pub fn covers(&self, bucket: u64) -> bool {
        (self.first_bucket()..=self.bucket).contains(&bucket)
    }
}

/// A call's claim on one window: it fits if spent + held + `amount` stays
/// within `max`, and is granted if `room` would still fit beside it too.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claim {
    /// The window.
    pub window: WindowRef,
    /// The limit.
    pub max: Usd,
    /// The call's worst case.
    pub amount: Usd,
    /// What must still fit after the claim is held: it is granted only if
    /// spent + held + `amount` + `room` stays within `max`. Zero unless the
    /// claim asks for it ([`far_from_limit`](Claim::far_from_limit)).
    pub room: Usd,
}

impl Claim {
    /// Claims `amount` of `window`, limited to `max`.
    pub const fn new(window: WindowRef, max: Usd, amount: Usd) -> Self {
        Claim {
            window,
            max,
            amount,
            room: Usd::ZERO,
        }
    }

    /// This claim, granted only while as much again would still fit after
    /// it (spent + held + 2 × `amount` ≤ `max`): for an amount that is an
    /// upper bound of what the call needs, so that its excess is never
    /// what refuses another call. A claim that fits but not twice over is
    /// answered [`Reserved::NearLimit`], which decides nothing: the caller
    /// claims again with the amount it needs.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use spendguard::store::{Claim, Lease, MemoryStore, Reserved, SpendStore, WindowRef};
    /// use spendguard::Usd;
    /// # const NOW: Duration = Duration::from_secs(1_764_000_000);
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), spendguard::store::StoreError> {
    /// let store = MemoryStore::new();
    /// let today = WindowRef::calendar(Arc::from("key=prod|day"), 20_417, None);
    /// let lease = Lease::new(1, Arc::from("doc/1"), NOW, NOW + Duration::from_secs(900));
    /// // $0.60 fits under $1.00, but not twice over: nothing is held.
    /// let bound = Claim::new(today.clone(), Usd::from_cents(100), Usd::from_cents(60));
    /// let answer = store.reserve(&[bound.far_from_limit()], &lease, NOW).await?;
    /// assert!(matches!(answer, Reserved::NearLimit { claim: 0, .. }));
    /// // The $0.45 the call needs is granted as an ordinary claim.
    /// let exact = Claim::new(today, Usd::from_cents(100), Usd::from_cents(45));
    /// assert!(matches!(store.reserve(&[exact], &lease, NOW).await?, Reserved::Granted { .. }));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub const fn far_from_limit(mut self) -> Self {
        self.room = self.amount;
        self
    }
}

/// A finished call's account for one window: drop `held`, add `spent`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settlement {
    /// The window the call was held in.
    pub window: WindowRef,
    /// What the call held there.
    pub held: Usd,
    /// What it really cost (zero for a call never sent).
    pub spent: Usd,
    /// The ticket the store gave the reservation, handed back unchanged.
    pub ticket: u64,
    /// The id of the [`Lease`](super::Lease) the reservation was held
    /// under; `None` only for a hold recorded by a version before leases,
    /// replayed from a file store's log.
    pub lease: Option<u64>,
}

impl Settlement {
    /// Drops the hold under lease `lease` from `window` and adds `spent`,
    /// for a reservation granted with `ticket` that held `held` there. If
    /// the lease ran out first, the hold was billed at its worst case
    /// already, and only a cost above that is added.
    pub const fn new(window: WindowRef, held: Usd, spent: Usd, ticket: u64, lease: u64) -> Self {
        Settlement {
            window,
            held,
            spent,
            ticket,
            lease: Some(lease),
        }
    }
}

/// A window's spend and holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WindowUsage {
    /// Settled spend.
    pub spent: Usd,
    /// Held by calls still running.
    pub held: Usd,
}

impl WindowUsage {
    /// Spent and held.
    pub const fn new(spent: Usd, held: Usd) -> Self {
        WindowUsage { spent, held }
    }

    /// Spent plus held: what a new claim must fit beside.
    pub fn committed(&self) -> Usd {
        self.spent.saturating_add(self.held)
    }
}

/// What [`SpendStore::reserve`](super::SpendStore::reserve) decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reserved {
    /// Every claim fit and is held; each window's usage after the hold, in
    /// claim order.
    Granted {
        /// Usage after the hold.
        usage: Vec<WindowUsage>,
        /// Opaque to the guard, and handed back in each [`Settlement`] of
        /// this reservation: a store that can hold in more than one place
        /// (Redis, and its local fallback) uses it to settle in the same one.
        ticket: u64,
    },
    /// Claim number `claim` did not fit; nothing was held.
    Refused {
        /// Index into the claims.
        claim: usize,
        /// That window's usage, without this call.
        usage: WindowUsage,
    },
    /// Every claim fits, but claim number `claim` would not leave the
    /// [`room`](Claim::room) it asked for; nothing was held. This decides
    /// nothing about the call: claimed again without the room, it may well
    /// be granted. A store answers [`Refused`](Reserved::Refused) instead
    /// when any claim does not fit even without its room.
    NearLimit {
        /// Index into the claims.
        claim: usize,
        /// That window's usage, without this call.
        usage: WindowUsage,
    },
    /// The store is halted; nothing was held.
    Halted(Halt),
}

/// A window's settled spend before and after one settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settled {
    /// Spent before.
    pub before: Usd,
    /// Spent after.
    pub after: Usd,
}

impl Settled {
    /// Spend went from `before` to `after`.
    pub const fn new(before: Usd, after: Usd) -> Self {
        Settled { before, after }
    }
}

/// One live counter, as [`SpendStore::counters`](super::SpendStore::counters)
/// lists it: enough to find its current window and ask its
/// [`usage`](super::SpendStore::usage).
///
/// ```
/// use std::sync::Arc;
/// use spendguard::store::CounterSummary;
/// use spendguard::Usd;
///
/// let summary = CounterSummary::new(Arc::from("key=prod|day"), 20_417, 1, Some(Usd::from_cents(5_000)));
/// assert_eq!(summary.window().bucket, 20_417);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CounterSummary {
    /// The counter, e.g. `agent=researcher|day`.
    pub counter: Arc<str>,
    /// Its newest bucket.
    pub newest_bucket: u64,
    /// How many buckets its window adds up, as its last reservation said
    /// (1 when the store has not seen one since it was compacted by an
    /// older version).
    pub span: u32,
    /// The limit its last granted reservation was checked against, if the
    /// store has seen one.
    pub max: Option<Usd>,
}

impl CounterSummary {
    /// A counter whose newest bucket is `newest_bucket`.
    pub fn new(counter: Arc<str>, newest_bucket: u64, span: u32, max: Option<Usd>) -> Self {
        CounterSummary {
            counter,
            newest_bucket,
            span: span.max(1),
            max,
        }
    }

    /// The window ending with the newest bucket (no expiry: for reading
    /// its usage, not for charging it).
    pub fn window(&self) -> WindowRef {
        WindowRef {
            counter: Arc::clone(&self.counter),
            bucket: self.newest_bucket,
            span: self.span,
            expires_at: None,
        }
    }
}
