//! [`Window`]: the period a shared limit counts over, and how it rolls over.

use std::fmt;
use std::time::Duration;

use crate::clock::{
    iso_week_start, iso_weeks_since_epoch, month_start, HumanDuration, UtcDateTime,
};

const DAY: u64 = 86_400;

/// How many slots a rolling window is cut into. The oldest slot may lie
/// partly outside the period, so a rolling sum over-counts by at most one
/// slot (1/60 of the period), and never under-counts.
pub const ROLLING_SLOTS: u32 = 60;

/// The period a shared limit counts over. Windows roll over by themselves
/// as the guard's clock moves; calendar windows are UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Window {
    /// Everything ever spent: the limit never resets. With a task tag this
    /// is a task's lifetime across processes.
    Lifetime,
    /// The last `Duration`, sliding.
    Rolling(Duration),
    /// The current UTC calendar day.
    Day,
    /// The current ISO week (Monday 00:00 UTC to the next Monday): a fresh
    /// allowance each week, like a virtual card rotated every Monday.
    Week,
    /// The current UTC calendar month.
    Month,
}

/// Where in a window an instant falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) bucket: u64,
    pub(crate) span: u32,
    pub(crate) expires_at: Option<Duration>,
}

impl Window {
    /// The bucket `now` falls in, and when it stops mattering.
    pub(crate) fn slot(&self, now: Duration) -> Slot {
        let secs = now.as_secs();
        match *self {
            Window::Lifetime => Slot {
                bucket: 0,
                span: 1,
                expires_at: None,
            },
            Window::Day => {
                let day = secs / DAY;
                Slot {
                    bucket: day,
                    span: 1,
                    expires_at: Some(Duration::from_secs((day + 1) * DAY)),
                }
            }
            Window::Week => {
                let week = iso_weeks_since_epoch(now);
                Slot {
                    bucket: week,
                    span: 1,
                    expires_at: Some(iso_week_start(week + 1)),
                }
            }
            Window::Month => {
                let month = UtcDateTime::from_unix(now).months_since_epoch();
                Slot {
                    bucket: month,
                    span: 1,
                    expires_at: Some(month_start(month + 1)),
                }
            }
            Window::Rolling(period) => {
                let slot_len = rolling_slot_len(period);
                let bucket =
                    u64::try_from(now.as_nanos() / slot_len.as_nanos()).unwrap_or(u64::MAX);
                // The window is the slot `now` is in plus the 60 before it.
                let span = ROLLING_SLOTS + 1;
                let end = Duration::from_nanos(
                    u64::try_from((u128::from(bucket) + 1) * slot_len.as_nanos())
                        .unwrap_or(u64::MAX),
                );
                Slot {
                    bucket,
                    span,
                    expires_at: Some(end.saturating_add(period)),
                }
            }
        }
    }

    /// The period this window is at `now`, for people: `2026-11-25 (UTC)`,
    /// `2026-W48 (UTC)`, `2026-11 (UTC)`, `the last 1h`, `all time`.
    pub(crate) fn describe_at(&self, now: Duration) -> String {
        let t = UtcDateTime::from_unix(now);
        match self {
            Window::Lifetime => "all time".into(),
            Window::Day => format!("{:04}-{:02}-{:02} (UTC)", t.year, t.month, t.day),
            Window::Week => {
                let (year, week) = t.iso_week();
                format!("{year:04}-W{week:02} (UTC)")
            }
            Window::Month => format!("{:04}-{:02} (UTC)", t.year, t.month),
            Window::Rolling(period) => format!("the last {}", HumanDuration(*period)),
        }
    }
}

fn rolling_slot_len(period: Duration) -> Duration {
    (period / ROLLING_SLOTS).max(Duration::from_millis(1))
}

impl fmt::Display for Window {
    /// `per UTC day`, `per ISO week`, `per UTC month`, `per 1h (rolling)`, `in all`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Lifetime => f.write_str("in all"),
            Window::Day => f.write_str("per UTC day"),
            Window::Week => f.write_str("per ISO week"),
            Window::Month => f.write_str("per UTC month"),
            Window::Rolling(period) => write!(f, "per {} (rolling)", HumanDuration(*period)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::UtcDateTime;

    fn at(text: &str) -> Duration {
        UtcDateTime::parse(text).unwrap().unix()
    }

    #[test]
    fn a_day_rolls_over_at_utc_midnight() {
        let before = Window::Day.slot(at("2026-11-25T23:59:59.999Z"));
        let after = Window::Day.slot(at("2026-11-26T00:00:00Z"));
        assert_eq!(after.bucket, before.bucket + 1);
        assert_eq!(before.expires_at, Some(at("2026-11-26")));
    }

    #[test]
    fn a_month_rolls_over_on_the_first_including_after_february() {
        let feb = Window::Month.slot(at("2028-02-29T23:59:59Z"));
        let mar = Window::Month.slot(at("2028-03-01T00:00:00Z"));
        assert_eq!(mar.bucket, feb.bucket + 1);
        assert_eq!(feb.expires_at, Some(at("2028-03-01")));
        let dec = Window::Month.slot(at("2026-12-31T12:00:00Z"));
        assert_eq!(dec.expires_at, Some(at("2027-01-01")));
    }

    #[test]
    fn a_week_runs_monday_to_monday_utc_across_the_new_year() {
        let sunday = Window::Week.slot(at("2027-01-03T23:59:59.999Z"));
        let monday = Window::Week.slot(at("2027-01-04T00:00:00Z"));
        assert_eq!(monday.bucket, sunday.bucket + 1);
        assert_eq!(sunday.expires_at, Some(at("2027-01-04")));
        // 2026-12-28 (a Monday) starts the week that holds New Year's Day.
        let new_year = Window::Week.slot(at("2027-01-01T12:00:00Z"));
        assert_eq!(new_year.bucket, Window::Week.slot(at("2026-12-28")).bucket);
        assert_eq!(
            Window::Week.describe_at(at("2027-01-01T12:00:00Z")),
            "2026-W53 (UTC)"
        );
        assert_eq!(Window::Week.describe_at(at("2026-01-01")), "2026-W01 (UTC)");
    }

    #[test]
    fn the_first_week_of_the_epoch_starts_at_the_epoch() {
        let first = Window::Week.slot(Duration::ZERO);
        assert_eq!(first.bucket, 0);
        assert_eq!(first.expires_at, Some(at("1970-01-05")));
    }

    #[test]
    fn a_rolling_hour_is_sixty_one_minute_slots() {
        let slot = Window::Rolling(Duration::from_secs(3_600)).slot(at("2026-11-25T10:30:30Z"));
        assert_eq!(slot.span, 61);
        assert_eq!(slot.expires_at, Some(at("2026-11-25T11:31:00Z")));
    }

    #[test]
    fn windows_describe_themselves() {
        let now = at("2026-11-25T10:30:30Z");
        assert_eq!(Window::Day.describe_at(now), "2026-11-25 (UTC)");
        assert_eq!(Window::Week.describe_at(now), "2026-W48 (UTC)");
        assert_eq!(Window::Month.describe_at(now), "2026-11 (UTC)");
        assert_eq!(
            Window::Rolling(Duration::from_secs(5_400)).describe_at(now),
            "the last 1h30m"
        );
        assert_eq!(
            Window::Rolling(Duration::from_secs(60)).to_string(),
            "per 1m (rolling)"
        );
    }
}
