//! [`LeaseTerms`]: how long a guard's holds are leased for, and in whose
//! name.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::store::Lease;

/// How long a hold is leased unless the guard is told otherwise: the
/// guarded client's default call deadline (10 minutes) plus a 5-minute
/// margin for retries' waits and a slow settlement.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15 * 60);

/// The length of a guard's leases and the label they carry.
#[derive(Debug, Clone)]
pub(crate) struct LeaseTerms {
    pub(crate) length: Duration,
    pub(crate) holder: Arc<str>,
}

impl Default for LeaseTerms {
    fn default() -> Self {
        LeaseTerms {
            length: DEFAULT_LEASE,
            holder: Arc::from(default_holder()),
        }
    }
}

impl LeaseTerms {
    /// A new lease taken at `now`, under an id no other live hold has.
    pub(crate) fn lease_at(&self, now: Duration) -> Lease {
        Lease::new(
            fresh_id(),
            Arc::clone(&self.holder),
            now,
            now.saturating_add(self.length),
        )
    }
}

/// `host/pid`: who to look for when a hold is orphaned.
fn default_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}/{}", std::process::id())
}

/// A random id, never 0: hashed from a per-process random key, this
/// process's id and a counter, so ids do not repeat within a process and
/// collide across a fleet with odds of about 2^-64 per pair.
fn fresh_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static KEY: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let id = KEY
        .get_or_init(RandomState::new)
        .hash_one((std::process::id(), n));
    id.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_run_for_their_length_under_distinct_ids() {
        let terms = LeaseTerms::default();
        let now = Duration::from_secs(1_000);
        let first = terms.lease_at(now);
        let second = terms.lease_at(now);
        assert_ne!(first.id, second.id);
        assert_eq!(first.expires_at, now + DEFAULT_LEASE);
        assert!(first.holder.ends_with(&format!("/{}", std::process::id())));
    }
}
