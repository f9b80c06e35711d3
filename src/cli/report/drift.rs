//! Price drift by model: calls whose provider-reported cost and price-table
//! cost disagreed beyond the client's tolerance, as the ledger marked them.

use std::collections::BTreeMap;

use crate::cli::report::breakdown::{MAX_NAMES, OTHER};
use crate::ledger::LedgerRecord;
use crate::money::Usd;

/// One model's drifted calls.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drift {
    pub(crate) calls: u64,
    /// What the price table said those calls cost.
    pub(crate) table: Usd,
    /// What the provider said it charged for them.
    pub(crate) provider: Usd,
}

/// Drifted calls by model name, at most [`MAX_NAMES`] names (the rest under
/// [`OTHER`]).
#[derive(Debug, Default)]
pub(crate) struct DriftByModel {
    models: BTreeMap<String, Drift>,
}

impl DriftByModel {
    /// Counts `record` if the ledger marked it as drifted.
    pub(crate) fn add(&mut self, record: &LedgerRecord) {
        let (true, Some(table), Some(provider)) =
            (record.price_drift, record.table_cost, record.provider_cost)
        else {
            return;
        };
        let name = if self.models.len() < MAX_NAMES || self.models.contains_key(&record.model) {
            record.model.as_str()
        } else {
            OTHER
        };
        let drift = self.models.entry(name.to_owned()).or_default();
        drift.calls += 1;
        drift.table += table;
        drift.provider += provider;
    }

    /// Every drifted model, the largest difference first.
    pub(crate) fn by_difference(&self) -> Vec<(&str, Drift)> {
        let mut models: Vec<(&str, Drift)> = self
            .models
            .iter()
            .map(|(name, drift)| (name.as_str(), *drift))
            .collect();
        let difference = |d: &Drift| {
            d.table
                .max(d.provider)
                .saturating_sub(d.table.min(d.provider))
        };
        models.sort_by(|a, b| difference(&b.1).cmp(&difference(&a.1)).then(a.0.cmp(b.0)));
        models
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::UtcDateTime;
    use crate::ledger::Decision;

    fn call(model: &str, table: u64, provider: u64, drift: bool) -> LedgerRecord {
        LedgerRecord::new(
            UtcDateTime::from_unix(Duration::ZERO),
            "xai",
            model,
            Decision::Allowed,
        )
        .with_provider_cost(Usd::from_nanos(provider), Usd::from_nanos(table), drift)
    }

    #[test]
    fn only_marked_calls_count_and_the_largest_difference_comes_first() {
        let mut drift = DriftByModel::default();
        drift.add(&call("grok-4.3", 100, 200, true));
        drift.add(&call("grok-4.3", 100, 300, true));
        drift.add(&call("grok-4.3", 100, 101, false));
        drift.add(&call("sonar", 1_000, 100, true));
        drift.add(&LedgerRecord::new(
            UtcDateTime::from_unix(Duration::ZERO),
            "openai",
            "gpt-4o",
            Decision::Allowed,
        ));
        let listed = drift.by_difference();
        assert_eq!(
            listed,
            [
                (
                    "sonar",
                    Drift {
                        calls: 1,
                        table: Usd::from_nanos(1_000),
                        provider: Usd::from_nanos(100)
                    }
                ),
                (
                    "grok-4.3",
                    Drift {
                        calls: 2,
                        table: Usd::from_nanos(200),
                        provider: Usd::from_nanos(500)
                    }
                ),
            ]
        );
    }
}
