//! Numbers as people read them: dollars rounded for a table, counts with
//! thousands separators, hours and periods in words.

use std::time::Duration;

use crate::clock::UtcDateTime;
use crate::money::Usd;

const NANOS_PER_CENT: u64 = 10_000_000;
const NANOS_PER_DOLLAR: u64 = 1_000_000_000;

/// Dollars for a table: cents from $1 up (`$1,234.57`), four decimals
/// below (`$0.065`, `$0.0001`), rounded half up; exact figures are in
/// `--json`.
pub(crate) fn dollars(amount: Usd) -> String {
    let nanos = amount.nanos();
    if nanos >= NANOS_PER_DOLLAR {
        let cents =
            nanos / NANOS_PER_CENT + u64::from(nanos % NANOS_PER_CENT >= NANOS_PER_CENT / 2);
        format!("${}.{:02}", count(cents / 100), cents % 100)
    } else {
        // Tenths of a thousandth of a cent: 1e5 nanos.
        let units = nanos / 100_000 + u64::from(nanos % 100_000 >= 50_000);
        if units == 0 && nanos > 0 {
            return "<$0.0001".to_owned();
        }
        if units >= 10_000 {
            return "$1.00".to_owned();
        }
        let digits = format!("{units:04}");
        let trimmed = digits.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &digits[..2]
        } else {
            trimmed
        };
        format!("$0.{shown}")
    }
}

/// A count with thousands separators: `1,000,000`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The hour that starts `hour` hours after the epoch: `2026-11-25 02:00`.
pub(crate) fn hour_label(hour: u64) -> String {
    let t = UtcDateTime::from_unix(Duration::from_secs(hour * 3_600));
    format!("{:04}-{:02}-{:02} {:02}:00", t.year, t.month, t.day, t.hour)
}

/// The UTC date `days` days after the epoch: `2026-11-25`.
pub(crate) fn date_label(days: u64) -> String {
    let t = UtcDateTime::from_unix(Duration::from_secs(days * 86_400));
    format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
}

/// An instant to the second: `2026-11-25 02:13:07`.
pub(crate) fn time_label(at: Duration) -> String {
    let t = UtcDateTime::from_unix(at);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// A period rounded to the minute: `30 min`, `2 h`, `1 h 30 min`.
pub(crate) fn period(secs: u64) -> String {
    let minutes = (secs + 30) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_round_half_up_to_what_a_table_needs() {
        let d = |nanos| dollars(Usd::from_nanos(nanos));
        assert_eq!(d(0), "$0.00");
        assert_eq!(d(1), "<$0.0001");
        assert_eq!(d(65_000_000), "$0.065");
        assert_eq!(d(100_000), "$0.0001");
        assert_eq!(d(999_960_000), "$1.00");
        assert_eq!(d(3_120_000_000), "$3.12");
        assert_eq!(d(1_234_565_000_000), "$1,234.57");
        assert_eq!(d(1_234_564_999_999), "$1,234.56");
    }

    #[test]
    fn counts_periods_and_hours_read_naturally() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(period(1_800), "30 min");
        assert_eq!(period(1_795), "30 min");
        assert_eq!(period(7_200), "2 h");
        assert_eq!(period(5_400), "1 h 30 min");
        assert_eq!(hour_label(498_774), "2026-11-25 06:00");
        assert_eq!(date_label(20_782), "2026-11-25");
        assert_eq!(
            time_label(Duration::from_millis(1_795_588_219_999)),
            "2026-11-25 06:30:19"
        );
    }
}
