//! Cross-checking the price table against a second, independently kept
//! list (pydantic's genai-prices): every rate both give is compared, and
//! every disagreement must be resolved by an override or checked by hand.
//! `spendguard prices check FILE` prints the result.

mod compare;
mod explained;
mod second_list;

pub(crate) use compare::{Comparison, Disagreement};
use explained::explain;
pub(crate) use explained::{parse_checked, Checked, Explanation, BUNDLED_CHECKED};
use second_list::SecondList;

use crate::prices::error::PriceError;
use crate::prices::overrides::Overrides;
use crate::prices::table::PriceTable;

/// Everything `spendguard prices check` reports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    /// The second list's name, version and retrieval date.
    pub(crate) second_version: String,
    pub(crate) comparison: Comparison,
    /// Each disagreement with what accounts for it, in listed-id order.
    pub(crate) explained: Vec<(Disagreement, Explanation)>,
    /// Checked entries (1-based) that cover no disagreement any more.
    pub(crate) stale: Vec<usize>,
}

impl Report {
    /// How many disagreements nothing accounts for.
    pub(crate) fn unexplained(&self) -> usize {
        self.explained
            .iter()
            .filter(|(_, why)| *why == Explanation::Unexplained)
            .count()
    }
}

/// Compares `table` with a second list and explains each disagreement from
/// `overrides` and `checked`.
///
/// # Errors
/// [`PriceError`] when the second list or the checked file cannot be read.
pub(crate) fn check(
    table: &PriceTable,
    second_list: &str,
    overrides: &Overrides,
    checked: &[Checked],
) -> Result<Report, PriceError> {
    let second = SecondList::parse(second_list)?;
    let mut comparison = compare::compare(table, &second);
    comparison
        .disagreements
        .sort_by(|a, b| (&a.listed_id, &a.second).cmp(&(&b.listed_id, &b.second)));
    let explained: Vec<(Disagreement, Explanation)> = comparison
        .disagreements
        .iter()
        .map(|found| (found.clone(), explain(found, overrides, checked)))
        .collect();
    let stale = (1..=checked.len())
        .filter(|entry| {
            !explained
                .iter()
                .any(|(_, why)| *why == Explanation::Checked(*entry))
        })
        .collect();
    Ok(Report {
        second_version: second.version,
        comparison,
        explained,
        stale,
    })
}
