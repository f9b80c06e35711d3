//! Injected time, so limits that depend on it are tested without sleeping.
//!
//! ```
//! use std::time::Duration;
//! use spendguard::clock::{Clock, FakeClock};
//!
//! let clock = FakeClock::at_unix(Duration::from_secs(1_700_000_000));
//! clock.advance(Duration::from_secs(90));
//! assert_eq!(clock.now(), Duration::from_secs(1_700_000_090));
//! ```

mod human_duration;
mod utc;

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) use human_duration::HumanDuration;
pub use utc::{iso_week_start, iso_weeks_since_epoch, month_start, TimestampError, UtcDateTime};

/// A source of the current time, as the duration since the Unix epoch (UTC).
pub trait Clock: Send + Sync + Debug {
    /// The current time since 1970-01-01T00:00:00Z.
    fn now(&self) -> Duration;
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        // A clock set before 1970 is a broken machine; reading it as the epoch
        // only makes time limits trip later, and every other limit still holds.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    nanos: Arc<AtomicU64>,
}

impl FakeClock {
    /// A clock reading `since_epoch`.
    pub fn at_unix(since_epoch: Duration) -> Self {
        let clock = FakeClock::default();
        clock.set(since_epoch);
        clock
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the clock to `since_epoch`, backwards if need be.
    pub fn set(&self, since_epoch: Duration) {
        let nanos = u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(nanos, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// `YYYY-MM-DD`, digits where digits go: the form of a "checked" date in
/// the price files.
pub(crate) fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes
            .iter()
            .enumerate()
            .all(|(position, byte)| match position {
                4 | 7 => *byte == b'-',
                _ => byte.is_ascii_digit(),
            })
}

#[cfg(test)]
mod tests;
