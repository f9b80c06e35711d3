//! [`Lease`] and [`Orphan`]: how long a hold counts as a live call, and
//! what a hold whose lease ran out unsettled becomes.
//!
//! Every reservation is held under a lease: the holder's label (who to
//! ask: `host/pid`), when it was taken, and when it runs out. A worker that
//! is still running renews it; one that dies cannot. Once the lease has
//! run out unsettled, the store treats the hold as billed at its worst
//! case: it moves from *held* to *spent*, because a call whose outcome is
//! unknown may have cost money, and it is listed as an [`Orphan`] for
//! `spendguard status`. It is never given back as if the call were free.

use std::sync::Arc;
use std::time::Duration;

use crate::money::Usd;

/// A reservation's lease, the same in every window it holds.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use spendguard::store::Lease;
///
/// let now = Duration::from_secs(1_764_000_000);
/// let lease = Lease::new(7, Arc::from("worker-3/4121"), now, now + Duration::from_secs(900));
/// assert!(!lease.expired_at(now));
/// assert!(lease.renewed(now + Duration::from_secs(1_200)).expires_at > lease.expires_at);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Lease {
    /// Names the hold in the store, so its settlement and renewals find
    /// it: unique among live holds (the guard draws it at random).
    pub id: u64,
    /// Who holds it, for `spendguard status`: a host and process, or a
    /// key's label; never a secret.
    pub holder: Arc<str>,
    /// When the hold was taken (Unix time, by the guard's clock).
    pub since: Duration,
    /// When the lease runs out unless renewed.
    pub expires_at: Duration,
}

impl Lease {
    /// A lease `id` held by `holder`, taken at `since`, running out at
    /// `expires_at`.
    pub fn new(id: u64, holder: Arc<str>, since: Duration, expires_at: Duration) -> Self {
        Lease {
            id,
            holder,
            since,
            expires_at,
        }
    }

    /// The same lease, running out at `expires_at` instead.
    #[must_use]
    pub fn renewed(&self, expires_at: Duration) -> Self {
        Lease {
            expires_at,
            ..self.clone()
        }
    }

    /// Whether it has run out by `now`.
    pub fn expired_at(&self, now: Duration) -> bool {
        self.expires_at <= now
    }
}

/// A hold whose lease ran out unsettled: billed at its worst case in one
/// bucket of one counter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Orphan {
    /// The counter, e.g. `agent=researcher|day`.
    pub counter: Arc<str>,
    /// The bucket it was held in.
    pub bucket: u64,
    /// The lease's id.
    pub lease: u64,
    /// Who held it.
    pub holder: Arc<str>,
    /// The worst case it was billed at.
    pub amount: Usd,
    /// When it was taken.
    pub since: Duration,
    /// When its lease ran out.
    pub expired_at: Duration,
}

impl Orphan {
    /// How long ago it was taken, at `now`.
    pub fn age(&self, now: Duration) -> Duration {
        now.saturating_sub(self.since)
    }
}
