//! [`PriceTableVersion`]: which price data priced a call, and how old it is.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, UtcDateTime};

/// The LiteLLM release the bundled table was generated from, and the day it
/// was downloaded (see `pricing/README.md`; a test keeps the two in step).
pub(crate) const BUNDLED_LITELLM_VERSION: &str = "1.110.2";
/// The day the bundled LiteLLM release was downloaded, `YYYY-MM-DD`.
pub(crate) const BUNDLED_LITELLM_RETRIEVED: &str = "2026-11-25";

/// The name and date of the data a [`PriceTable`](crate::PriceTable) holds:
/// what a receipt or a ledger line records as "priced by".
///
/// Cloning is one reference-count increment, so every call can carry it.
///
/// ```
/// use std::time::Duration;
/// use spendguard::clock::{FakeClock, UtcDateTime};
/// use spendguard::prices::PriceTableVersion;
/// use spendguard::PriceTable;
///
/// let bundled = PriceTable::bundled();
/// let version = bundled.version();
/// assert!(version.to_string().starts_with("litellm 1.110.2 (retrieved 2026-11-25)"));
///
/// let a_year_later = FakeClock::at_unix(UtcDateTime::parse("2027-11-26")?.unix());
/// assert!(version.is_older_than(Duration::from_secs(180 * 86_400), &a_year_later));
///
/// let mine = PriceTableVersion::new("our negotiated prices, March", Some("2027-03-01"))?;
/// assert_eq!(mine.to_string(), "our negotiated prices, March");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PriceTableVersion {
    label: Arc<str>,
    /// Midnight UTC of the day the data was retrieved, since the epoch.
    retrieved: Option<Duration>,
}

impl PriceTableVersion {
    /// A table's version: a label of your choice and, if known, the day its
    /// prices were read (`YYYY-MM-DD`, or a full UTC timestamp).
    ///
    /// # Errors
    /// [`TimestampError`](crate::clock::TimestampError) when `retrieved` is
    /// not a UTC date.
    pub fn new(
        label: impl Into<String>,
        retrieved: Option<&str>,
    ) -> Result<Self, crate::clock::TimestampError> {
        let retrieved = retrieved
            .map(|text| UtcDateTime::parse(text).map(|at| at.unix()))
            .transpose()?;
        Ok(PriceTableVersion {
            label: label.into().into(),
            retrieved,
        })
    }

    /// The version of a table whose origin the caller did not name.
    pub fn custom() -> Self {
        PriceTableVersion {
            label: "custom".into(),
            retrieved: None,
        }
    }

    /// The version of the bundled table: the LiteLLM release and its
    /// download date, and the newest `checked` date of the overrides.
    pub(crate) fn bundled(overrides_checked: Option<&str>) -> Self {
        let mut label =
            format!("litellm {BUNDLED_LITELLM_VERSION} (retrieved {BUNDLED_LITELLM_RETRIEVED})");
        if let Some(checked) = overrides_checked {
            label.push_str(&format!(" + overrides checked {checked}"));
        }
        PriceTableVersion {
            label: label.into(),
            retrieved: UtcDateTime::parse(BUNDLED_LITELLM_RETRIEVED)
                .ok()
                .map(|at| at.unix()),
        }
    }

    /// The label, as [`Display`](fmt::Display) prints it.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// When the prices were retrieved, if known.
    pub fn retrieved(&self) -> Option<UtcDateTime> {
        self.retrieved.map(UtcDateTime::from_unix)
    }

    /// How long before `clock`'s now the prices were retrieved; `None` when
    /// the date is unknown or in the future.
    pub fn age(&self, clock: &dyn Clock) -> Option<Duration> {
        clock.now().checked_sub(self.retrieved?)
    }

    /// `true` when the prices were retrieved more than `age` before now.
    /// A table with no retrieval date is never called old: there is nothing
    /// to measure.
    pub fn is_older_than(&self, age: Duration, clock: &dyn Clock) -> bool {
        self.age(clock).is_some_and(|actual| actual > age)
    }
}

impl Default for PriceTableVersion {
    /// [`PriceTableVersion::custom`].
    fn default() -> Self {
        PriceTableVersion::custom()
    }
}

impl fmt::Display for PriceTableVersion {
    /// The label: `litellm 1.110.2 (retrieved 2026-11-25) + overrides checked 2026-12-01`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;

    const DAY: u64 = 86_400;

    fn at(date: &str) -> FakeClock {
        FakeClock::at_unix(UtcDateTime::parse(date).unwrap().unix())
    }

    #[test]
    fn the_bundled_version_names_release_download_and_overrides() {
        let version = PriceTableVersion::bundled(Some("2026-12-01"));
        assert_eq!(
            version.to_string(),
            "litellm 1.110.2 (retrieved 2026-11-25) + overrides checked 2026-12-01"
        );
        assert_eq!(
            version.retrieved().unwrap().to_string(),
            "2026-11-25T00:00:00.000Z"
        );
    }

    #[test]
    fn age_is_measured_from_the_retrieval_day() {
        let version = PriceTableVersion::new("mine", Some("2026-11-25")).unwrap();
        let clock = at("2026-12-25");
        assert_eq!(version.age(&clock), Some(Duration::from_secs(30 * DAY)));
        assert!(version.is_older_than(Duration::from_secs(29 * DAY), &clock));
        assert!(!version.is_older_than(Duration::from_secs(30 * DAY), &clock));
    }

    #[test]
    fn an_unknown_or_future_date_is_never_old() {
        let clock = at("2030-01-01");
        assert!(!PriceTableVersion::custom().is_older_than(Duration::ZERO, &clock));
        let future = PriceTableVersion::new("mine", Some("2031-01-01")).unwrap();
        assert_eq!(future.age(&clock), None);
    }

    #[test]
    fn a_bad_date_is_refused() {
        assert!(PriceTableVersion::new("mine", Some("25/11/2026")).is_err());
    }
}
