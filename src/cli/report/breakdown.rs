//! The tallies a report is made of: spend, calls and tokens per name
//! (model, agent, key, customer) and per hour, in bounded memory.

use std::collections::HashMap;

use crate::ledger::LedgerRecord;
use crate::money::Usd;

/// Distinct names tracked per dimension; later names count as [`OTHER`].
pub(crate) const MAX_NAMES: usize = 10_000;
/// Agents and models tracked within one hour; the rest count as [`OTHER`].
const MAX_PER_HOUR: usize = 32;
/// The name shown for records without the tag.
pub(crate) const UNTAGGED: &str = "(untagged)";
/// The name shown for names beyond [`MAX_NAMES`].
pub(crate) const OTHER: &str = "(other)";

/// Spend, calls and tokens of a set of records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) cost: Usd,
    pub(crate) calls: u64,
    pub(crate) tokens: u64,
}

impl Totals {
    pub(crate) fn add(&mut self, record: &LedgerRecord) {
        self.cost += record.cost;
        self.calls += 1;
        self.tokens = self.tokens.saturating_add(record.tokens.total());
    }
}

/// A name's place in a [`Breakdown`]; [`Slot::OTHER`] for the overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Slot(u32);

impl Slot {
    pub(crate) const OTHER: Slot = Slot(u32::MAX);

    /// The slot of the `index`-th name.
    pub(crate) fn at(index: usize) -> Slot {
        u32::try_from(index).map_or(Slot::OTHER, Slot)
    }

    /// The name's index, or `None` for the overflow.
    pub(crate) fn index(self) -> Option<usize> {
        (self != Slot::OTHER).then_some(self.0 as usize)
    }
}

/// Totals per name along one dimension (model, agent, key, customer).
#[derive(Debug, Default)]
pub(crate) struct Breakdown {
    index: HashMap<String, Slot>,
    rows: Vec<(String, Totals)>,
    other: Totals,
}

impl Breakdown {
    /// Adds `record` under `name` and returns the name's slot.
    pub(crate) fn add(&mut self, name: &str, record: &LedgerRecord) -> Slot {
        let slot = match self.index.get(name) {
            Some(&slot) => slot,
            None if self.rows.len() < MAX_NAMES => {
                let slot = Slot::at(self.rows.len());
                self.index.insert(name.to_owned(), slot);
                self.rows.push((name.to_owned(), Totals::default()));
                slot
            }
            None => Slot::OTHER,
        };
        match self.rows.get_mut(slot.0 as usize) {
            Some((_, totals)) => totals.add(record),
            None => self.other.add(record),
        }
        slot
    }

    /// The name in `slot`.
    pub(crate) fn name(&self, slot: Slot) -> &str {
        self.rows
            .get(slot.0 as usize)
            .map_or(OTHER, |(name, _)| name.as_str())
    }

    /// The totals of `name`, if it has any.
    pub(crate) fn get(&self, name: &str) -> Option<Totals> {
        let slot = self.index.get(name)?;
        self.rows.get(slot.0 as usize).map(|(_, totals)| *totals)
    }

    /// Every name with its totals, the dearest first (then by name), with
    /// the overflow last if anything overflowed.
    pub(crate) fn by_cost(&self) -> Vec<(&str, Totals)> {
        let mut rows: Vec<(&str, Totals)> = self
            .rows
            .iter()
            .map(|(name, totals)| (name.as_str(), *totals))
            .collect();
        rows.sort_by(|a, b| b.1.cost.cmp(&a.1.cost).then_with(|| a.0.cmp(b.0)));
        if self.other.calls > 0 {
            rows.push((OTHER, self.other));
        }
        rows
    }
}

/// One hour's spend, and who spent it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hour {
    pub(crate) cost: Usd,
    pub(crate) calls: u64,
    agents: Vec<(Slot, Usd)>,
    models: Vec<(Slot, Usd)>,
}

impl Hour {
    /// Adds a call by `agent` to `model` costing `cost`.
    pub(crate) fn add(&mut self, agent: Slot, model: Slot, cost: Usd) {
        self.cost += cost;
        self.calls += 1;
        add_spender(&mut self.agents, agent, cost);
        add_spender(&mut self.models, model, cost);
    }

    /// The agent that spent most this hour, and how much.
    pub(crate) fn top_agent(&self) -> Option<(Slot, Usd)> {
        top(&self.agents)
    }

    /// The model that cost most this hour, and how much.
    pub(crate) fn top_model(&self) -> Option<(Slot, Usd)> {
        top(&self.models)
    }
}

#[cfg(test)]
impl Hour {
    /// An hour of one call costing `cost`, for tests of what reads hours.
    pub(crate) fn costing(cost: Usd) -> Hour {
        Hour {
            cost,
            calls: 1,
            ..Hour::default()
        }
    }
}

fn top(spenders: &[(Slot, Usd)]) -> Option<(Slot, Usd)> {
    spenders.iter().copied().max_by_key(|&(_, cost)| cost)
}

/// Adds `cost` to `slot` in a list of at most [`MAX_PER_HOUR`] spenders.
fn add_spender(spenders: &mut Vec<(Slot, Usd)>, slot: Slot, cost: Usd) {
    let slot = if spenders.len() >= MAX_PER_HOUR && !spenders.iter().any(|s| s.0 == slot) {
        Slot::OTHER
    } else {
        slot
    };
    match spenders.iter_mut().find(|s| s.0 == slot) {
        Some(entry) => entry.1 += cost,
        None => spenders.push((slot, cost)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_tracks_a_bounded_number_of_spenders() {
        let mut spenders = Vec::new();
        for n in 0..MAX_PER_HOUR as u32 + 3 {
            add_spender(&mut spenders, Slot(n), Usd::from_cents(1));
        }
        add_spender(&mut spenders, Slot(0), Usd::from_cents(9));
        assert_eq!(spenders.len(), MAX_PER_HOUR + 1);
        assert_eq!(top(&spenders), Some((Slot(0), Usd::from_cents(10))));
        assert!(spenders.contains(&(Slot::OTHER, Usd::from_cents(3))));
    }
}
