//! The ledger's totals beside the export's, day by day and model by
//! model, and which pairs are too far apart.

use std::collections::{BTreeMap, BTreeSet};

use crate::cli::report::reconcile::measured::Measured;
use crate::money::Usd;

/// Totals by (day since the epoch, comparable model or `None`).
pub(crate) type Totals = BTreeMap<(u64, Option<String>), Measured>;

/// How far apart the two sides may be and still agree: a share of the
/// larger side, or a floor, whichever is wider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tolerance {
    /// Hundredths of a percent of the larger side.
    pub(crate) basis_points: u64,
    /// The least difference in dollars that counts.
    pub(crate) floor_usd: Usd,
    /// The least difference in tokens that counts.
    pub(crate) floor_tokens: u64,
}

impl Tolerance {
    /// `true` when `a` and `b` are within the share or the floor.
    fn allows(&self, a: u64, b: u64, floor: u64) -> bool {
        let share = u128::from(a.max(b)) * u128::from(self.basis_points) / 10_000;
        u128::from(a.abs_diff(b)) <= share.max(u128::from(floor))
    }

    /// `true` when the two sides agree on what `cost` says they measure.
    fn agrees(&self, ledger: &Measured, export: &Measured, cost: bool) -> bool {
        if cost {
            self.allows(
                ledger.cost.nanos(),
                export.cost.nanos(),
                self.floor_usd.nanos(),
            )
        } else {
            self.allows(ledger.input, export.input, self.floor_tokens)
                && self.allows(ledger.output, export.output, self.floor_tokens)
        }
    }
}

/// One day (and model) on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) day: u64,
    /// `None` when days are compared as a whole.
    pub(crate) model: Option<String>,
    pub(crate) ledger: Measured,
    pub(crate) export: Measured,
    pub(crate) agrees: bool,
}

/// Every (day, model) either side has on `days`, in day then model order.
pub(crate) fn rows(
    ledger: &Totals,
    export: &Totals,
    days: &BTreeSet<u64>,
    tolerance: &Tolerance,
    cost: bool,
) -> Vec<Row> {
    let keys: BTreeSet<&(u64, Option<String>)> = ledger
        .keys()
        .chain(export.keys())
        .filter(|(day, _)| days.contains(day))
        .collect();
    let mut rows: Vec<Row> = keys
        .into_iter()
        .map(|key| {
            let ledger = ledger.get(key).copied().unwrap_or_default();
            let export = export.get(key).copied().unwrap_or_default();
            Row {
                day: key.0,
                model: key.1.clone(),
                agrees: tolerance.agrees(&ledger, &export, cost),
                ledger,
                export,
            }
        })
        .collect();
    // A day the export covers with nothing on either side still agrees,
    // and is shown so that every compared day has a row.
    for &day in days {
        if !rows.iter().any(|row| row.day == day) {
            rows.push(Row {
                day,
                model: None,
                ledger: Measured::default(),
                export: Measured::default(),
                agrees: true,
            });
        }
    }
    rows.sort_by(|a, b| (a.day, &a.model).cmp(&(b.day, &b.model)));
    rows
}

/// `+12.5%`: how far `to` is from `from`, in tenths of a percent of `from`;
/// `None` when `from` is zero.
pub(crate) fn percent_change(from: u64, to: u64) -> Option<String> {
    if from == 0 {
        return None;
    }
    let tenths = u128::from(from.abs_diff(to)) * 1_000 / u128::from(from);
    let sign = if to >= from { '+' } else { '-' };
    Some(format!("{sign}{}.{}%", tenths / 10, tenths % 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOLERANCE: Tolerance = Tolerance {
        basis_points: 200,
        floor_usd: Usd::from_cents(5),
        floor_tokens: 1_000,
    };

    fn costs(rows: &[(u64, &str, u64)]) -> Totals {
        rows.iter()
            .map(|&(day, model, cents)| {
                (
                    (day, Some(model.to_owned())),
                    Measured::cost(Usd::from_cents(cents)),
                )
            })
            .collect()
    }

    #[test]
    fn a_difference_counts_past_both_the_share_and_the_floor() {
        // $100 against $101.90: 1.9%, within 2%.
        assert!(TOLERANCE.allows(10_000, 10_190, 5));
        assert!(!TOLERANCE.allows(10_000, 10_210, 5));
        // Four cents on a dime: 40%, but under the floor.
        assert!(TOLERANCE.allows(10, 14, 5));
        assert!(!TOLERANCE.allows(10, 16, 5));
        assert!(TOLERANCE.allows(0, 0, 0));
    }

    #[test]
    fn rows_cover_both_sides_on_the_days_compared() {
        let ledger = costs(&[(1, "a", 100), (1, "b", 50), (3, "a", 999)]);
        let export = costs(&[(1, "a", 100), (1, "c", 70), (2, "a", 40)]);
        let days = BTreeSet::from([1, 2, 4]);
        let rows = rows(&ledger, &export, &days, &TOLERANCE, true);
        let summary: Vec<(u64, Option<&str>, bool)> = rows
            .iter()
            .map(|r| (r.day, r.model.as_deref(), r.agrees))
            .collect();
        assert_eq!(
            summary,
            [
                (1, Some("a"), true),
                (1, Some("b"), false),
                (1, Some("c"), false),
                (2, Some("a"), false),
                (4, None, true),
            ],
            "day 2's 40 cents are in the export only; day 3 is not in the export; day 4 is, with nothing on it"
        );
    }

    #[test]
    fn tokens_agree_only_when_input_and_output_both_do() {
        let ledger = Measured::tokens(100_000, 5_000);
        assert!(TOLERANCE.agrees(&ledger, &Measured::tokens(101_000, 5_500), false));
        assert!(!TOLERANCE.agrees(&ledger, &Measured::tokens(100_000, 7_000), false));
    }

    #[test]
    fn changes_read_as_signed_percent_of_the_ledger() {
        assert_eq!(percent_change(410, 560).as_deref(), Some("+36.5%"));
        assert_eq!(percent_change(1_000, 990).as_deref(), Some("-1.0%"));
        assert_eq!(percent_change(0, 5), None);
    }
}
