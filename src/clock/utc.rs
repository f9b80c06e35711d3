//! UTC calendar arithmetic: which day and month an instant falls in, and
//! RFC 3339 timestamps, without a date crate.
//!
//! Days and months are the windows of daily and monthly caps, and ledger
//! lines carry timestamps; both need only the proleptic Gregorian calendar
//! in UTC, which is a few lines of integer arithmetic (Howard Hinnant's
//! `days_from_civil` and its inverse).
//!
//! ```
//! use std::time::Duration;
//! use spendguard::clock::UtcDateTime;
//!
//! let t = UtcDateTime::from_unix(Duration::from_millis(1_764_045_019_123));
//! assert_eq!(t.to_string(), "2025-11-25T04:30:19.123Z");
//! assert_eq!((t.year, t.month, t.day), (2025, 11, 25));
//! assert_eq!(UtcDateTime::parse("2025-11-25T04:30:19.123Z")?.unix(), Duration::from_millis(1_764_045_019_123));
//! # Ok::<(), spendguard::clock::TimestampError>(())
//! ```

use std::fmt;
use std::time::Duration;

const SECS_PER_DAY: u64 = 86_400;

/// An instant broken into its UTC calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct UtcDateTime {
    /// The year, e.g. 2026.
    pub year: u32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
    /// Below one second.
    pub nanos: u32,
}

/// A timestamp that is not an RFC 3339 UTC time such as `2026-11-25T06:30:00Z`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a UTC timestamp like 2026-11-25T06:30:00Z or 2026-11-25: {problem}")]
#[non_exhaustive]
pub struct TimestampError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl UtcDateTime {
    /// The calendar fields of `since_epoch`.
    pub fn from_unix(since_epoch: Duration) -> Self {
        let secs = since_epoch.as_secs();
        let (year, month, day) = civil_from_days(secs / SECS_PER_DAY);
        let in_day = secs % SECS_PER_DAY;
        UtcDateTime {
            year,
            month,
            day,
            hour: (in_day / 3_600) as u32,
            minute: (in_day / 60 % 60) as u32,
            second: (in_day % 60) as u32,
            nanos: since_epoch.subsec_nanos(),
        }
    }

    /// Back to the duration since the Unix epoch.
    pub fn unix(&self) -> Duration {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * SECS_PER_DAY
            + u64::from(self.hour) * 3_600
            + u64::from(self.minute) * 60
            + u64::from(self.second);
        Duration::new(secs, self.nanos)
    }

    /// Reads `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (also with `+00:00`, or a
    /// space for `T`), or a bare date `YYYY-MM-DD` meaning its midnight.
    ///
    /// # Errors
    /// [`TimestampError`] naming what is wrong; other time zones are refused
    /// rather than guessed.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let fail = |problem| TimestampError {
            text: text.to_owned(),
            problem,
        };
        let b = text.as_bytes();
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(fail("the date must be YYYY-MM-DD"));
        }
        let year = digits(&b[0..4]).ok_or_else(|| fail("the year is not 4 digits"))?;
        let month = digits(&b[5..7]).ok_or_else(|| fail("the month is not 2 digits"))?;
        let day = digits(&b[8..10]).ok_or_else(|| fail("the day is not 2 digits"))?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(fail("no such date"));
        }
        if year < 1970 {
            return Err(fail("times before 1970 cannot be represented"));
        }
        let mut time = UtcDateTime {
            year,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
            nanos: 0,
        };
        let rest = &b[10..];
        if rest.is_empty() {
            return Ok(time);
        }
        if rest.len() < 9
            || !matches!(rest[0], b'T' | b't' | b' ')
            || rest[3] != b':'
            || rest[6] != b':'
        {
            return Err(fail("the time must be THH:MM:SS"));
        }
        time.hour = digits(&rest[1..3])
            .filter(|h| *h < 24)
            .ok_or_else(|| fail("bad hour"))?;
        time.minute = digits(&rest[4..6])
            .filter(|m| *m < 60)
            .ok_or_else(|| fail("bad minute"))?;
        time.second = digits(&rest[7..9])
            .filter(|s| *s < 60)
            .ok_or_else(|| fail("bad second"))?;
        let mut zone = &rest[9..];
        if let Some(fraction) = zone.strip_prefix(b".") {
            let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if len == 0 {
                return Err(fail("a '.' must be followed by digits"));
            }
            let mut nanos = 0u32;
            for (i, c) in fraction[..len].iter().enumerate().take(9) {
                nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
            }
            time.nanos = nanos;
            zone = &fraction[len..];
        }
        match zone {
            b"Z" | b"z" | b"+00:00" => Ok(time),
            [] => Err(fail("the time zone is missing; write Z for UTC")),
            _ => Err(fail("only UTC (Z or +00:00) is accepted")),
        }
    }

    /// Days since 1970-01-01 of this instant's date.
    pub fn days_since_epoch(&self) -> u64 {
        days_from_civil(self.year, self.month, self.day)
    }

    /// The ISO 8601 week this instant falls in, as `(week-year, week)`:
    /// weeks start on Monday, and week 1 is the one holding the year's
    /// first Thursday, so 2026-12-31 is in week 53 of 2026 and 2027-01-01
    /// too.
    ///
    /// ```
    /// use spendguard::clock::UtcDateTime;
    ///
    /// assert_eq!(UtcDateTime::parse("2026-12-02T10:00:00Z")?.iso_week(), (2026, 49));
    /// assert_eq!(UtcDateTime::parse("2027-01-01T00:00:00Z")?.iso_week(), (2026, 53));
    /// # Ok::<(), spendguard::clock::TimestampError>(())
    /// ```
    pub fn iso_week(&self) -> (u32, u32) {
        let thursday = iso_week_thursday(self.days_since_epoch());
        let year = UtcDateTime::from_unix(Duration::from_secs(thursday * SECS_PER_DAY)).year;
        let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
        (year, week as u32)
    }

    /// Months since January 1970 of this instant's month.
    pub fn months_since_epoch(&self) -> u64 {
        u64::from(self.year - 1970) * 12 + u64::from(self.month - 1)
    }
}

impl fmt::Display for UtcDateTime {
    /// RFC 3339 with milliseconds, e.g. `2026-11-25T06:30:19.123Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.nanos / 1_000_000
        )
    }
}

/// The first instant of the UTC month `months` after January 1970.
pub fn month_start(months_since_epoch: u64) -> Duration {
    let year = 1970 + (months_since_epoch / 12) as u32;
    let month = (months_since_epoch % 12) as u32 + 1;
    Duration::from_secs(days_from_civil(year, month, 1) * SECS_PER_DAY)
}

/// ISO weeks (Monday to Sunday) since the one holding 1970-01-01, a
/// Thursday: week 0 began on Monday 1969-12-29.
pub fn iso_weeks_since_epoch(since_epoch: Duration) -> u64 {
    (since_epoch.as_secs() / SECS_PER_DAY + 3) / 7
}

/// The first instant of ISO week `weeks` (counted as
/// [`iso_weeks_since_epoch`]); week 0 is clamped to the epoch.
pub fn iso_week_start(weeks: u64) -> Duration {
    Duration::from_secs((weeks * 7).saturating_sub(3) * SECS_PER_DAY)
}

/// The Thursday (in days since the epoch) of the ISO week holding `day`;
/// its calendar year is the week's year.
fn iso_week_thursday(day: u64) -> u64 {
    (day + 3) / 7 * 7
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date on or after it.
fn days_from_civil(year: u32, month: u32, day: u32) -> u64 {
    let y = u64::from(if month <= 2 { year - 1 } else { year });
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = u64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + u64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    // 719_468 days separate 0000-03-01 from 1970-01-01.
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: u64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400) as u32 + u32::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_day_for_four_centuries_round_trips() {
        let mut expected = (1970, 1, 1);
        for days in 0..146_097 {
            assert_eq!(civil_from_days(days), expected, "day {days}");
            assert_eq!(days_from_civil(expected.0, expected.1, expected.2), days);
            let (y, m, d) = expected;
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn leap_days_and_month_starts() {
        let leap = UtcDateTime::parse("2028-02-29T23:59:59.999Z").unwrap();
        let next = UtcDateTime::from_unix(leap.unix() + Duration::from_millis(1));
        assert_eq!(next.to_string(), "2028-03-01T00:00:00.000Z");
        assert_eq!(month_start(next.months_since_epoch()), next.unix());
        assert!(UtcDateTime::parse("2027-02-29").is_err());
        assert!(UtcDateTime::parse("2100-02-29").is_err());
        assert!(UtcDateTime::parse("2000-02-29").is_ok());
    }

    #[test]
    fn parses_the_forms_people_write() {
        let at = |s| UtcDateTime::parse(s).map(|t| t.unix());
        let noon = Ok(Duration::from_secs(1_795_608_000));
        assert_eq!(at("2026-11-25T12:00:00Z"), noon);
        assert_eq!(at("2026-11-25 12:00:00+00:00"), noon);
        assert_eq!(
            at("2026-11-25T12:00:00.5Z"),
            noon.map(|d| d + Duration::from_millis(500))
        );
        assert_eq!(at("2026-11-25"), Ok(Duration::from_secs(1_795_564_800)));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-11-31",
            "2026-11-25T24:00:00Z",
            "2026-11-25T12:00:00",
            "2026-11-25T12:00:00+01:00",
            "2026-11-25T12:00:00.Z",
            "2026-11-25T12:00Z",
            "1969-12-31T23:59:59Z",
            "0000-01-01",
        ] {
            let error = UtcDateTime::parse(bad).unwrap_err();
            assert_eq!(error.text, bad);
        }
    }
}
