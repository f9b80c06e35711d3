//! [`SpendStore`]: where shared limits keep their counters, so that limits
//! hold across tasks, processes and machines.
//!
//! A store knows nothing about agents, keys or calendars. It keeps, for each
//! counter (a limit's scope, such as `agent=researcher|day`), a sequence of
//! time buckets, each holding what is **spent** (settled) and what is
//! **held** (reserved by calls still running). The guard asks it two things:
//!
//! - [`reserve`](SpendStore::reserve): for every claim, is the window's
//!   spent + held + this call's worst case within the limit? If all are,
//!   hold the amount in every counter; if any is not, change nothing. All
//!   or none, atomically, even with many processes racing.
//! - [`settle`](SpendStore::settle): a call finished; drop its hold and add
//!   what it really cost.
//!
//! Every hold is taken under a [`Lease`]; one that runs out unsettled (its
//! worker died) is billed at its worst case and listed as an [`Orphan`].
//!
//! Three implementations share this trait: [`MemoryStore`] (the default,
//! one process), `FileStore` (one host, several processes; Unix) and
//! `RedisStore` (a fleet, feature `redis`).
//!
//! ```
//! use std::sync::Arc;
//! use spendguard::store::{Claim, Lease, MemoryStore, Reserved, SpendStore, WindowRef};
//! use spendguard::Usd;
//! # const NOW: std::time::Duration = std::time::Duration::from_secs(1_764_000_000);
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), spendguard::store::StoreError> {
//! let store = MemoryStore::new();
//! let today = WindowRef::calendar(Arc::from("key=prod|day"), 20_417, None);
//! let claim = Claim::new(today, Usd::from_cents(100), Usd::from_cents(60));
//! let lease = |id| Lease::new(id, Arc::from("doc/1"), NOW, NOW + std::time::Duration::from_secs(900));
//! assert!(matches!(store.reserve(&[claim.clone()], &lease(1), NOW).await?, Reserved::Granted { .. }));
//! // A second $0.60 call would cross the $1.00 cap while the first is running.
//! assert!(matches!(store.reserve(&[claim], &lease(2), NOW).await?, Reserved::Refused { claim: 0, .. }));
//! # Ok(())
//! # }
//! ```

mod counters;
mod error;
#[cfg(unix)]
mod file;
mod halt_file;
mod lease;
mod memory;
mod protocol;
#[cfg(feature = "redis")]
mod redis;

use std::time::Duration;

use async_trait::async_trait;

pub use error::StoreError;
#[cfg(unix)]
pub use file::{Durability, FileStore, FileStoreOptions, DEFAULT_COMPACT_AT};
pub use halt_file::HaltFile;
pub use lease::{Lease, Orphan};
pub use memory::MemoryStore;
pub use protocol::{Claim, CounterSummary, Reserved, Settled, Settlement, WindowRef, WindowUsage};
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisStoreBuilder};

use crate::halt::Halt;

/// Counters for shared limits. Every store also keeps the halt flag
/// ([`HaltFlag`]), so that a reservation can check it in the same atomic
/// step as the counters.
///
/// Implementations must make [`reserve`](SpendStore::reserve) atomic across
/// all its claims and across every process sharing the store: two racing
/// reservations can never both pass a check that only one fits. An
/// acknowledged reservation or settlement must not be lost.
#[async_trait]
pub trait SpendStore: HaltFlag {
    /// Checks every claim against its window and, if all fit, holds each
    /// claim's amount under `lease`; otherwise changes nothing and says
    /// which claim did not fit. A claim asking for [`room`](Claim::room)
    /// is granted only if its amount and its room both fit; when every
    /// amount fits but a room does not, the answer is
    /// [`Reserved::NearLimit`] (a claim whose amount does not fit is
    /// [`Reserved::Refused`] first). A halted store refuses with
    /// [`Reserved::Halted`]. `now` is the guard's clock, so a store may
    /// forget buckets whose [`expires_at`](WindowRef::expires_at) has
    /// passed.
    ///
    /// First, every hold in a bucket a claim charges whose lease has run
    /// out by `now` is billed at its worst case (moved from held to spent)
    /// and kept as an [`Orphan`]: the check then sees it as spent, never as
    /// free.
    async fn reserve(
        &self,
        claims: &[Claim],
        lease: &Lease,
        now: Duration,
    ) -> Result<Reserved, StoreError>;

    /// Moves the expiry of the live hold under `lease.id` in each window to
    /// `lease.expires_at`: a worker whose call runs long calls this before
    /// its lease runs out. Returns whether the hold was still live in every
    /// window; `false` means its lease had run out (or it was settled) and
    /// it is billed at its worst case.
    async fn renew(
        &self,
        windows: &[WindowRef],
        lease: &Lease,
        now: Duration,
    ) -> Result<bool, StoreError>;

    /// Bills every hold whose lease has run out by `now`, in every counter,
    /// and lists every orphaned hold the store still keeps (until its
    /// bucket expires), by counter: what `spendguard status` shows.
    async fn orphans(&self, now: Duration) -> Result<Vec<Orphan>, StoreError>;

    /// Releases holds and records spend; returns each window's spend before
    /// and after, in order, so a crossing of an alert threshold is seen by
    /// exactly one settlement.
    async fn settle(
        &self,
        settlements: &[Settlement],
        now: Duration,
    ) -> Result<Vec<Settled>, StoreError>;

    /// What each window has spent and holds now.
    async fn usage(&self, windows: &[WindowRef]) -> Result<Vec<WindowUsage>, StoreError>;

    /// Every counter that still has a bucket, sorted by name: what
    /// `spendguard status` lists. Buckets past their expiry may still be
    /// listed until the store forgets them.
    async fn counters(&self) -> Result<Vec<CounterSummary>, StoreError>;
}

/// The halt flag of everything that shares a store: one call stops all
/// spend through it, in every process, until it is lifted.
#[async_trait]
pub trait HaltFlag: Send + Sync + std::fmt::Debug {
    /// Halts all spend through this store until [`resume`](HaltFlag::resume).
    async fn halt(&self, halt: &Halt) -> Result<(), StoreError>;

    /// Lifts a halt; returns the halt that was lifted, if any.
    async fn resume(&self) -> Result<Option<Halt>, StoreError>;

    /// The current halt, asking the store itself.
    async fn halted(&self) -> Result<Option<Halt>, StoreError>;

    /// The halt as last seen, without waiting on I/O beyond a local check:
    /// a stream calls this for every chunk to stop when the store is halted.
    fn halted_now(&self) -> Option<Halt>;
}
