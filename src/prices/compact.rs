//! The bundled price table in the compact form it ships in
//! (`pricing/litellm_compact.txt`), read where it lies: loading it parses
//! nothing, and each price is decoded the first time it is asked for.
//!
//! The file is made from `pricing/litellm_prices.json` and
//! `pricing/overrides.json` by the ordinary loader
//! ([`PriceTable::from_litellm_json_with_overrides`](super::PriceTable::from_litellm_json_with_overrides)),
//! and a test checks that it still says what the JSON says; run it with
//! `SPENDGUARD_WRITE_COMPACT_PRICES=1` to write it anew after an update.
//!
//! Its first line is a header: the overrides' newest checked date and the
//! byte lengths of the three sections that follow, in this order:
//! - names: `name TAB kind TAB position TAB offset TAB length`, sorted by
//!   name, one for every listed id (`L`) and alias (`A`), with where the
//!   price it names lies in the prices section;
//! - folded names: `lower-cased name TAB name`, sorted, for the
//!   case-insensitive step;
//! - prices: one [`ModelPrice`] as JSON a line (its `null` fields left
//!   out), in position order.
//!
//! Sorted lines are found by binary search in the text itself, so a lookup
//! touches a few lines and loading touches none; the answers for recent
//! names are kept in a bounded [`NameMemo`], so a name asked for again costs
//! one hash and no search.

#[cfg(test)]
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use crate::prices::memo::NameMemo;
use crate::prices::model_price::ModelPrice;

/// The bundled table, compact.
const BUNDLED: &str = include_str!("../../pricing/litellm_compact.txt");

/// What the header's first field says.
const MAGIC: &str = "spendguard-compact-prices-v1";

/// A name's entry: a listed id or an alias, and the price it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameEntry<'a> {
    /// The name as written.
    pub(crate) name: &'a str,
    /// `true` for an alias.
    pub(crate) alias: bool,
    /// The price's position in the table.
    pub(crate) position: usize,
    offset: usize,
    length: usize,
}

/// The bundled table's text, cut into its sections, the prices decoded so
/// far and the memo of recent lookups (both shared by every clone of the
/// table).
#[derive(Debug, Clone)]
pub(crate) struct CompactTable {
    /// The overrides' newest checked date, as the header gives it.
    checked: Option<&'static str>,
    names: &'static str,
    folded: &'static str,
    prices: &'static str,
    decoded: Arc<[OnceLock<Arc<ModelPrice>>]>,
    found: Arc<NameMemo<Option<NameEntry<'static>>>>,
}

impl CompactTable {
    /// The bundled table.
    pub(crate) fn bundled() -> CompactTable {
        // The file is checked against the JSON by this crate's tests.
        CompactTable::read(BUNDLED).expect("pricing/litellm_compact.txt is well formed")
    }

    /// Cuts `text` into its sections; `None` when the header does not
    /// describe it.
    fn read(text: &'static str) -> Option<CompactTable> {
        let (header, body) = text.split_once('\n')?;
        let mut fields = header.split('\t');
        if fields.next()? != MAGIC {
            return None;
        }
        let checked = Some(fields.next()?).filter(|date| !date.is_empty());
        let mut length = || fields.next()?.parse::<usize>().ok();
        let (names_len, folded_len, prices_len, count) =
            (length()?, length()?, length()?, length()?);
        let names = body.get(..names_len)?;
        let folded = body.get(names_len..names_len + folded_len)?;
        let prices = body.get(names_len + folded_len..names_len + folded_len + prices_len)?;
        Some(CompactTable {
            checked,
            names,
            folded,
            prices,
            decoded: (0..count).map(|_| OnceLock::new()).collect(),
            found: Arc::new(NameMemo::new()),
        })
    }

    /// The overrides' newest checked date.
    pub(crate) fn checked(&self) -> Option<&'static str> {
        self.checked
    }

    /// How many prices are listed.
    pub(crate) fn len(&self) -> usize {
        self.decoded.len()
    }

    /// The entry of exactly `name`.
    pub(crate) fn name(&self, name: &str) -> Option<NameEntry<'static>> {
        find_line(self.names, name).and_then(name_entry)
    }

    /// The entry of `name` as written or, failing that, compared
    /// case-insensitively; remembered for the next time it is asked for.
    pub(crate) fn entry(&self, name: &str) -> Option<NameEntry<'static>> {
        self.found
            .get_or_look_up(name, |name| self.entry_unremembered(name))
    }

    /// [`CompactTable::entry`], found by searching the text.
    fn entry_unremembered(&self, name: &str) -> Option<NameEntry<'static>> {
        self.name(name)
            .or_else(|| self.name(self.folded(&name.to_ascii_lowercase())?))
    }

    /// The spelling the table lists for `lower`, a lower-cased name.
    pub(crate) fn folded(&self, lower: &str) -> Option<&'static str> {
        find_line(self.folded, lower)?.split('\t').nth(1)
    }

    /// Every lower-cased name and the spelling it stands for.
    pub(crate) fn folded_names(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.folded.lines().filter_map(|line| line.split_once('\t'))
    }

    /// Every name's entry, in name order.
    pub(crate) fn names(&self) -> impl Iterator<Item = NameEntry<'static>> + '_ {
        self.names.lines().filter_map(name_entry)
    }

    /// The price `entry` names, decoded on first use.
    pub(crate) fn price(&self, entry: NameEntry<'_>) -> &Arc<ModelPrice> {
        self.decoded[entry.position].get_or_init(|| {
            let line = &self.prices[entry.offset..entry.offset + entry.length];
            // Every line is decoded by this crate's tests.
            Arc::new(serde_json::from_str(line).expect("a compact price line is a ModelPrice"))
        })
    }

    /// Every listed price, in position order.
    pub(crate) fn prices(&self) -> impl Iterator<Item = &Arc<ModelPrice>> + '_ {
        let mut listed: Vec<NameEntry<'static>> = self.names().filter(|e| !e.alias).collect();
        listed.sort_by_key(|entry| entry.position);
        listed.into_iter().map(|entry| self.price(entry))
    }
}

/// Reads one line of the names section.
fn name_entry(line: &'static str) -> Option<NameEntry<'static>> {
    let mut fields = line.split('\t');
    let name = fields.next()?;
    let alias = match fields.next()? {
        "L" => false,
        "A" => true,
        _ => return None,
    };
    let mut number = || fields.next()?.parse::<usize>().ok();
    Some(NameEntry {
        name,
        alias,
        position: number()?,
        offset: number()?,
        length: number()?,
    })
}

/// The line of `section` (sorted lines, each ending in a newline) whose
/// first tab-separated field is `key`.
fn find_line(section: &'static str, key: &str) -> Option<&'static str> {
    let bytes = section.as_bytes();
    let (mut low, mut high) = (0, bytes.len());
    while low < high {
        let middle = low + (high - low) / 2;
        let start = bytes[low..middle]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(low, |at| low + at + 1);
        let end = bytes[start..high]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(high, |at| start + at);
        // Lines start after a newline and end before one, both ASCII, so
        // the cut is on character boundaries.
        let line = section.get(start..end)?;
        let line_key = line.split('\t').next().unwrap_or_default();
        match key.cmp(line_key) {
            std::cmp::Ordering::Equal => return Some(line),
            std::cmp::Ordering::Less => high = start,
            std::cmp::Ordering::Greater => low = end + 1,
        }
    }
    None
}

/// A table's compact form, as the bundled file holds it. `names` are the
/// table's (name, alias?, position) entries, `folded` its lower-cased
/// names with their spelling, `prices` its prices in position order.
///
/// # Errors
/// A sentence naming the name that cannot be written: a tab or newline in
/// it.
#[cfg(test)]
pub(crate) fn encode(
    checked: Option<&str>,
    names: &[(&str, bool, usize)],
    folded: &[(&str, &str)],
    prices: &[Arc<ModelPrice>],
) -> Result<String, String> {
    let mut price_lines = String::new();
    let mut spans = Vec::with_capacity(prices.len());
    for price in prices {
        let mut value = serde_json::to_value(&**price).map_err(|e| e.to_string())?;
        drop_nulls(&mut value);
        let line = value.to_string();
        spans.push((price_lines.len(), line.len()));
        price_lines.push_str(&line);
        price_lines.push('\n');
    }
    let unwritable = |name: &str| name.contains(['\t', '\n']) || name.is_empty();
    let mut names: Vec<_> = names.to_vec();
    names.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut name_lines = String::new();
    for (name, alias, position) in names {
        if unwritable(name) {
            return Err(format!(
                "the model name {name:?} cannot be written compactly"
            ));
        }
        let (offset, length) = spans[position];
        let kind = if alias { 'A' } else { 'L' };
        let _ = writeln!(name_lines, "{name}\t{kind}\t{position}\t{offset}\t{length}");
    }
    let mut folded: Vec<_> = folded.to_vec();
    folded.sort_unstable();
    let mut folded_lines = String::new();
    for (lower, name) in folded {
        if unwritable(lower) {
            return Err(format!(
                "the model name {lower:?} cannot be written compactly"
            ));
        }
        let _ = writeln!(folded_lines, "{lower}\t{name}");
    }
    Ok(format!(
        "{MAGIC}\t{}\t{}\t{}\t{}\t{}\n{name_lines}{folded_lines}{price_lines}",
        checked.unwrap_or_default(),
        name_lines.len(),
        folded_lines.len(),
        price_lines.len(),
        prices.len(),
    ))
}

/// Removes every `null` field: an absent optional field reads back as
/// `None` all the same, in a third less text.
#[cfg(test)]
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            fields.retain(|_, field| !field.is_null());
            fields.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_found_by_their_first_field() {
        let section = "alpha\t1\nbeta\t2\ngamma\t3\nzeta\t4\n";
        assert_eq!(find_line(section, "alpha"), Some("alpha\t1"));
        assert_eq!(find_line(section, "gamma"), Some("gamma\t3"));
        assert_eq!(find_line(section, "zeta"), Some("zeta\t4"));
        assert_eq!(find_line(section, "delta"), None);
        assert_eq!(find_line(section, "zz"), None);
        assert_eq!(find_line(section, ""), None);
        assert_eq!(find_line("", "alpha"), None);
        assert_eq!(find_line("ünï\tx\n東京\ty\n", "東京"), Some("東京\ty"));
    }

    #[test]
    fn a_header_that_does_not_describe_the_text_is_refused() {
        assert!(CompactTable::read("").is_none());
        assert!(CompactTable::read("other\t\t0\t0\t0\t0\n").is_none());
        assert!(
            CompactTable::read("spendguard-compact-prices-v1\t\t10\t0\t0\t0\nshort\n").is_none()
        );
        let empty = CompactTable::read("spendguard-compact-prices-v1\t\t0\t0\t0\t0\n").unwrap();
        assert_eq!((empty.len(), empty.checked()), (0, None));
    }

    #[test]
    fn remembered_answers_are_the_searched_ones() {
        let table = CompactTable::bundled();
        let listed: Vec<&str> = table.names().map(|entry| entry.name).collect();
        let mut asked: Vec<String> = Vec::new();
        for name in listed.iter().step_by(7) {
            asked.push((*name).to_owned());
            asked.push(name.to_ascii_uppercase());
            asked.push(format!("{name}-unlisted"));
        }
        asked.extend(["", "GPT-4o", "openai/gpt-4o", "no-such-model"].map(String::from));
        // Twice: the first time fills the memo, the second reads it.
        for _ in 0..2 {
            for name in &asked {
                assert_eq!(
                    table.entry(name),
                    table.entry_unremembered(name),
                    "{name:?}"
                );
            }
        }
        assert!(table
            .entry("GPT-4O")
            .is_some_and(|entry| entry.name == "gpt-4o"));
    }
}
