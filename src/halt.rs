//! [`Halt`] and [`KillSwitch`]: one call stops all spend.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, SystemClock, UtcDateTime};

/// Who stopped spending, why, and when. It is the error every refused call
/// carries while the halt lasts.
///
/// ```
/// use std::time::Duration;
/// use spendguard::halt::Halt;
///
/// let halt = Halt::at("ops@alice", "bill spike", Duration::from_secs(1_795_608_000));
/// assert_eq!(
///     halt.to_string(),
///     "spending was halted by ops@alice at 2026-11-25T12:00:00.000Z: bill spike \
///      (nothing was sent; calls go through again once the halt is lifted)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub struct Halt {
    /// Who or what tripped it: a person, a host, a runaway detector.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When, as the time since the Unix epoch.
    #[serde(with = "rfc3339")]
    pub at: Duration,
}

impl Halt {
    /// A halt by `by` for `reason`, now by the system clock.
    pub fn new(by: impl Into<String>, reason: impl Into<String>) -> Self {
        Halt::at(by, reason, SystemClock.now())
    }

    /// A halt at a given time.
    pub fn at(by: impl Into<String>, reason: impl Into<String>, at: Duration) -> Self {
        Halt {
            by: by.into(),
            reason: reason.into(),
            at,
        }
    }
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spending was halted by {} at {}: {} (nothing was sent; calls go through again once the halt is lifted)",
            self.by,
            UtcDateTime::from_unix(self.at),
            self.reason
        )
    }
}

/// `at` as an RFC 3339 string in JSON, so a halt file reads well.
mod rfc3339 {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::clock::UtcDateTime;

    pub(super) fn serialize<S: Serializer>(at: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&UtcDateTime::from_unix(*at))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        UtcDateTime::parse(&text)
            .map(|t| t.unix())
            .map_err(serde::de::Error::custom)
    }
}

/// An in-process kill switch: [`trip`](KillSwitch::trip) it and every
/// guarded call in this process is refused, and streams in flight stop at
/// their next chunk, until [`resume`](KillSwitch::resume). Clones share the
/// switch. Checking it is one atomic load.
///
/// To halt every process on a host or a fleet, halt the store instead
/// ([`SpendGuard::halt`](crate::guard::SpendGuard::halt)): a flag file or a
/// Redis key.
///
/// ```
/// use spendguard::halt::KillSwitch;
///
/// let switch = KillSwitch::new();
/// assert!(switch.check().is_ok());
/// switch.trip("ops@alice", "bill spike");
/// assert_eq!(switch.check().unwrap_err().by, "ops@alice");
/// assert!(switch.resume().is_some());
/// assert!(switch.check().is_ok());
/// ```
#[derive(Debug, Clone, Default)]
pub struct KillSwitch {
    state: Arc<SwitchState>,
}

#[derive(Debug, Default)]
struct SwitchState {
    tripped: AtomicBool,
    halt: Mutex<Option<Halt>>,
}

impl KillSwitch {
    /// A switch that is not tripped.
    pub fn new() -> Self {
        KillSwitch::default()
    }

    /// Halts all spend through this switch; returns the halt. Tripping a
    /// tripped switch keeps the first halt.
    pub fn trip(&self, by: impl Into<String>, reason: impl Into<String>) -> Halt {
        self.trip_with(Halt::new(by, reason))
    }

    /// Halts with a halt made elsewhere (its time from the guard's clock).
    pub fn trip_with(&self, halt: Halt) -> Halt {
        let mut current = self.state.halt.lock();
        let kept = current.get_or_insert(halt).clone();
        self.state.tripped.store(true, Ordering::Release);
        kept
    }

    /// Halts with `halt` in place of any halt in force: a store's halt is
    /// the latest one recorded, as in a halt file or a Redis key.
    pub(crate) fn replace_with(&self, halt: Halt) {
        *self.state.halt.lock() = Some(halt);
        self.state.tripped.store(true, Ordering::Release);
    }

    /// Lets calls through again; returns the halt lifted, if there was one.
    pub fn resume(&self) -> Option<Halt> {
        let mut current = self.state.halt.lock();
        self.state.tripped.store(false, Ordering::Release);
        current.take()
    }

    /// `Err` with the halt while tripped.
    ///
    /// # Errors
    /// The [`Halt`] that tripped the switch.
    pub fn check(&self) -> Result<(), Halt> {
        if !self.state.tripped.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.state.halt.lock().clone() {
            Some(halt) => Err(halt),
            None => Ok(()),
        }
    }

    /// Whether the switch is tripped.
    pub fn is_tripped(&self) -> bool {
        self.state.tripped.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_halt_round_trips_through_json() {
        let halt = Halt::at(
            "cron",
            "nightly cap",
            Duration::from_millis(1_795_608_000_250),
        );
        let json = serde_json::to_string(&halt).unwrap();
        assert_eq!(
            json,
            r#"{"by":"cron","reason":"nightly cap","at":"2026-11-25T12:00:00.250Z"}"#
        );
        assert_eq!(serde_json::from_str::<Halt>(&json).unwrap(), halt);
        assert!(serde_json::from_str::<Halt>(r#"{"by":"a","reason":"b","at":"noon"}"#).is_err());
    }

    #[test]
    fn the_first_trip_is_the_one_reported() {
        let switch = KillSwitch::new();
        let other = switch.clone();
        switch.trip("first", "a");
        other.trip("second", "b");
        assert_eq!(switch.check().unwrap_err().by, "first");
        assert_eq!(other.resume().map(|h| h.by), Some("first".into()));
        assert!(!switch.is_tripped());
    }
}
