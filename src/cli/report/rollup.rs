//! `--by day` and `--by week`: spend per UTC day or ISO week beside the
//! hourly chart, for the 7-day shape review.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use crate::cli::figures::{count, date_label, dollars};
use crate::cli::report::breakdown::Hour;
use crate::cli::report::chart::bar;
use crate::clock::{iso_weeks_since_epoch, UtcDateTime};
use crate::money::Usd;

/// The period a rollup sums over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Period {
    /// UTC calendar days.
    Day,
    /// ISO weeks, Monday to Sunday, UTC.
    Week,
}

/// One period's spend: `start` is its first hour (hours since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) label: String,
    pub(crate) start_hour: u64,
    pub(crate) cost: Usd,
    pub(crate) calls: u64,
}

impl Period {
    /// The period `hour` falls in, as a sortable number.
    fn of_hour(self, hour: u64) -> u64 {
        match self {
            Period::Day => hour / 24,
            Period::Week => iso_weeks_since_epoch(Duration::from_secs(hour * 3_600)),
        }
    }

    /// `2026-11-25` or `2026-W48`.
    fn label(self, hour: u64) -> String {
        match self {
            Period::Day => date_label(hour / 24),
            Period::Week => {
                let t = UtcDateTime::from_unix(Duration::from_secs(hour * 3_600));
                let (year, week) = t.iso_week();
                format!("{year:04}-W{week:02}")
            }
        }
    }

    /// `day (UTC)` or `ISO week (UTC)`.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Period::Day => "day (UTC)",
            Period::Week => "ISO week (UTC)",
        }
    }
}

/// The hours summed per period, periods without spend left out.
pub(crate) fn rows(hours: &BTreeMap<u64, Hour>, period: Period) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for (&hour, spend) in hours {
        match rows.last_mut() {
            Some(row) if period.of_hour(row.start_hour) == period.of_hour(hour) => {
                row.cost += spend.cost;
                row.calls += spend.calls;
            }
            _ => rows.push(Row {
                label: period.label(hour),
                start_hour: hour,
                cost: spend.cost,
                calls: spend.calls,
            }),
        }
    }
    rows
}

/// Writes the rollup as a table with bars.
pub(crate) fn write(out: &mut dyn Write, period: Period, rows: &[Row]) -> io::Result<()> {
    writeln!(out, "\nSpend per {}", period.title())?;
    let max = rows.iter().map(|row| row.cost).max().unwrap_or(Usd::ZERO);
    for row in rows {
        writeln!(
            out,
            "  {:<10}  {:<40}  {:>10}  {:>7} calls",
            row.label,
            bar(row.cost, max),
            dollars(row.cost),
            count(row.calls)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour_of(text: &str) -> u64 {
        UtcDateTime::parse(text).unwrap().unix().as_secs() / 3_600
    }

    #[test]
    fn hours_sum_into_days_and_iso_weeks() {
        let mut hours = BTreeMap::new();
        for (at, cents) in [
            ("2026-11-29T23:00:00Z", 1), // Sunday, week 48
            ("2026-11-30T00:00:00Z", 2), // Monday, week 49
            ("2026-11-30T05:00:00Z", 4),
            ("2026-12-06T23:00:00Z", 8), // Sunday, week 49
        ] {
            hours.insert(hour_of(at), Hour::costing(Usd::from_cents(cents)));
        }
        let days = rows(&hours, Period::Day);
        let labels: Vec<&str> = days.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["2026-11-29", "2026-11-30", "2026-12-06"]);
        assert_eq!(days[1].cost, Usd::from_cents(6));
        assert_eq!(days[1].calls, 2);

        let weeks = rows(&hours, Period::Week);
        let summed: Vec<(&str, Usd)> = weeks.iter().map(|r| (r.label.as_str(), r.cost)).collect();
        assert_eq!(
            summed,
            [
                ("2026-W48", Usd::from_cents(1)),
                ("2026-W49", Usd::from_cents(14))
            ]
        );
    }
}
