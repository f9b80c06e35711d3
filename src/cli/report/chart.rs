//! Spend over time as a bar chart in the terminal: one row per hour, or per
//! few hours when the ledger spans days, spikes marked.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::cli::figures::{dollars, hour_label};
use crate::cli::report::breakdown::Hour;
use crate::cli::report::deploys::Deploy;
use crate::cli::report::patterns::Spike;
use crate::money::Usd;

/// The most rows a chart has; longer ledgers get wider rows.
const MAX_ROWS: u64 = 72;
/// Hours per row, the first that keeps the chart within [`MAX_ROWS`].
const ROW_HOURS: [u64; 9] = [1, 2, 3, 4, 6, 12, 24, 48, 168];
/// Width of the longest bar, in terminal cells.
const BAR_CELLS: u64 = 40;
/// Eighths of a cell, from one eighth to a full block.
const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// One row: `hours` hours from `start` (hours since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) start: u64,
    pub(crate) cost: Usd,
    pub(crate) spike: bool,
}

/// How many hours a row covers for a ledger spanning `span` hours.
pub(crate) fn hours_per_row(span: u64) -> u64 {
    ROW_HOURS
        .iter()
        .copied()
        .find(|&per_row| span.div_ceil(per_row) <= MAX_ROWS)
        .unwrap_or_else(|| span.div_ceil(MAX_ROWS))
}

/// The rows from the first hour with a record to the last, empty hours
/// included, so a quiet night shows as a gap.
pub(crate) fn rows(hours: &BTreeMap<u64, Hour>, spikes: &[Spike]) -> (u64, Vec<Row>) {
    let (Some((&first, _)), Some((&last, _))) = (hours.first_key_value(), hours.last_key_value())
    else {
        return (1, Vec::new());
    };
    let per_row = hours_per_row(last - first + 1);
    let first = first - first % per_row;
    let rows = (first..=last)
        .step_by(per_row as usize)
        .map(|start| Row {
            start,
            cost: hours
                .range(start..start + per_row)
                .map(|(_, h)| h.cost)
                .sum(),
            spike: spikes
                .iter()
                .any(|s| (start..start + per_row).contains(&s.hour)),
        })
        .collect();
    (per_row, rows)
}

/// Writes the chart, one line per row, spikes and deploys marked.
pub(crate) fn write(
    out: &mut dyn Write,
    per_row: u64,
    rows: &[Row],
    spikes: &[Spike],
    deploys: &[Deploy],
) -> io::Result<()> {
    let max = rows.iter().map(|row| row.cost).max().unwrap_or(Usd::ZERO);
    for row in rows {
        let bar = bar(row.cost, max);
        write!(
            out,
            "  {}  {bar:<width$}  {:>10}",
            hour_label(row.start),
            dollars(row.cost),
            width = BAR_CELLS as usize
        )?;
        if row.spike {
            let spike = spikes
                .iter()
                .filter(|s| (row.start..row.start + per_row).contains(&s.hour))
                .max_by_key(|s| s.times_median);
            if let Some(spike) = spike {
                write!(out, "  ◀ spike: {}× the median hour", spike.times_median)?;
            }
        }
        let row_secs = row.start * 3_600..(row.start + per_row) * 3_600;
        for deploy in deploys
            .iter()
            .filter(|d| row_secs.contains(&d.at.as_secs()))
        {
            write!(out, "  ◆ deploy {}", deploy.label)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// A bar `cost / max` of [`BAR_CELLS`] long, in eighths of a cell; any
/// spend at all shows at least an eighth.
pub(crate) fn bar(cost: Usd, max: Usd) -> String {
    if max.is_zero() || cost.is_zero() {
        return String::new();
    }
    let eighths = (u128::from(cost.nanos()) * u128::from(BAR_CELLS * 8) / u128::from(max.nanos()))
        .max(1) as usize;
    let mut bar = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        bar.push(EIGHTHS[eighths % 8 - 1]);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional_in_eighths() {
        let max = Usd::from_cents(400);
        assert_eq!(bar(max, max).chars().count(), 40);
        assert_eq!(bar(Usd::from_cents(200), max), "█".repeat(20));
        assert_eq!(bar(Usd::from_cents(5), max), "▌");
        assert_eq!(bar(Usd::from_nanos(1), max), "▏");
        assert_eq!(bar(Usd::ZERO, max), "");
    }

    #[test]
    fn long_ledgers_get_wider_rows() {
        assert_eq!(hours_per_row(24), 1);
        assert_eq!(hours_per_row(72), 1);
        assert_eq!(hours_per_row(73), 2);
        assert_eq!(hours_per_row(24 * 30), 12);
        assert_eq!(hours_per_row(24 * 365), 168);
        assert_eq!(hours_per_row(24 * 365 * 5), 609);
    }

    #[test]
    fn empty_hours_are_rows_and_rows_sum_their_hours() {
        let mut hours = BTreeMap::new();
        for (hour, cents) in [(10, 1), (13, 2), (100, 4)] {
            hours.insert(hour, Hour::costing(Usd::from_cents(cents)));
        }
        let (per_row, rows) = rows(&hours, &[]);
        assert_eq!(per_row, 2);
        assert_eq!(rows.len(), 46);
        assert_eq!(rows[0].start, 10);
        assert_eq!(rows[1].cost, Usd::from_cents(2), "hours 12 and 13");
        assert_eq!(rows[2].cost, Usd::ZERO);
        assert_eq!(rows.iter().map(|r| r.cost).sum::<Usd>(), Usd::from_cents(7));
    }
}
