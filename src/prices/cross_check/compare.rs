//! Pairs the second list's models with the table's listed ids and compares
//! every rate both give.

use std::fmt;

use crate::money::PricePerToken;
use crate::prices::cross_check::second_list::{key_of, ListedModel, SecondList};
use crate::prices::litellm::field_name::RateKind;
use crate::prices::model_price::ModelPrice;
use crate::prices::resolve::sold_by;
use crate::prices::table::PriceTable;
use crate::usage::ServiceTier;

/// Where genai-prices' providers are in LiteLLM's list: the key prefixes
/// LiteLLM files them under, and the `litellm_provider` values of bare keys.
/// A provider missing here has nothing to compare (its models are counted
/// as unpaired). `pricing/genai_prices_export.py` keeps only these.
pub(crate) const PROVIDERS: &[(&str, &[&str], &[&str])] = &[
    ("anthropic", &["anthropic/"], &["anthropic"]),
    (
        "openai",
        &["openai/"],
        &["openai", "text-completion-openai"],
    ),
    (
        "google",
        &["gemini/", "vertex_ai/"],
        &["gemini", "vertex_ai-language-models"],
    ),
    ("x-ai", &["xai/"], &["xai"]),
    ("deepseek", &["deepseek/"], &["deepseek"]),
    ("mistral", &["mistral/"], &["mistral"]),
    ("groq", &["groq/"], &["groq"]),
    ("together", &["together_ai/"], &["together_ai"]),
    ("fireworks", &["fireworks_ai/"], &["fireworks_ai"]),
    ("openrouter", &["openrouter/"], &["openrouter"]),
    ("aws", &["bedrock/"], &["bedrock", "bedrock_converse"]),
    ("azure", &["azure/"], &["azure"]),
    ("cohere", &["cohere/"], &["cohere", "cohere_chat"]),
    ("moonshotai", &["moonshot/"], &["moonshot"]),
    ("zai", &["zai/"], &["zai"]),
    ("minimax", &["minimax/"], &["minimax"]),
    ("cerebras", &["cerebras/"], &["cerebras"]),
    ("perplexity", &["perplexity/"], &["perplexity"]),
    ("novita", &["novita/"], &["novita"]),
    ("databricks", &["databricks/"], &["databricks"]),
    ("cloudflare", &["cloudflare/"], &["cloudflare"]),
    ("baseten", &["baseten/"], &["baseten"]),
    ("ovhcloud", &["ovhcloud/"], &["ovhcloud"]),
    ("voyageai", &["voyage/"], &["voyage"]),
    ("github-copilot", &["github_copilot/"], &["github_copilot"]),
];

/// Two rates within this many parts per thousand of the larger one agree:
/// pages and lists round ($1.875 is shown as $1.88).
const ROUNDING_PER_MILLE: u128 = 5;

/// One rate the two lists give differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Disagreement {
    /// The table's listed id.
    pub(crate) listed_id: String,
    /// genai-prices' `provider/id`.
    pub(crate) second: String,
    pub(crate) tier: ServiceTier,
    /// The long-context band (`prompt > threshold`), `None` below every band.
    pub(crate) band: Option<u64>,
    /// The hours of a time-of-day price of the second list, if it is one.
    pub(crate) window: Option<String>,
    pub(crate) kind: RateKind,
    /// What spendguard bills.
    pub(crate) ours: PricePerToken,
    /// What the second list says.
    pub(crate) theirs: PricePerToken,
}

impl Disagreement {
    /// `true` when spendguard bills less than the second list: a possible
    /// under-count, the error a guard must never make.
    pub(crate) fn ours_is_lower(&self) -> bool {
        self.ours < self.theirs
    }
}

impl fmt::Display for Disagreement {
    /// `claude-x vs anthropic/claude-x: standard input above 200,000 prompt
    /// tokens: spendguard $3.00/1M tokens, genai-prices $6.00/1M tokens (spendguard lower)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vs {}: {} {}",
            self.listed_id,
            self.second,
            self.tier,
            kind_name(self.kind)
        )?;
        if let Some(threshold) = self.band {
            write!(f, " above {threshold} prompt tokens")?;
        }
        if let Some(hours) = &self.window {
            write!(f, " at {hours}")?;
        }
        write!(
            f,
            ": spendguard {}, genai-prices {} (spendguard {})",
            self.ours,
            self.theirs,
            if self.ours_is_lower() {
                "lower"
            } else {
                "higher"
            }
        )
    }
}

/// The short name of a kind, as `pricing/checked.json` writes it.
pub(crate) fn kind_name(kind: RateKind) -> &'static str {
    key_of(kind).trim_end_matches("_mtok")
}

/// What comparing the two lists found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Comparison {
    /// Second-list models with at least one listed id to compare.
    pub(crate) paired_models: usize,
    /// Second-list models with none.
    pub(crate) unpaired_models: usize,
    /// (listed id, second-list model) pairs compared.
    pub(crate) pairs: usize,
    pub(crate) disagreements: Vec<Disagreement>,
}

/// Compares every model both lists price, rate by rate.
pub(crate) fn compare(table: &PriceTable, second: &SecondList) -> Comparison {
    let mut comparison = Comparison::default();
    for model in &second.models {
        let listed = paired_ids(table, model);
        if listed.is_empty() {
            comparison.unpaired_models += 1;
            continue;
        }
        comparison.paired_models += 1;
        for price in listed {
            comparison.pairs += 1;
            compare_pair(price, model, &mut comparison.disagreements);
        }
    }
    comparison
}

/// The table's listed prices for a second-list model: each of its names
/// under each of LiteLLM's prefixes for its provider, and bare when the bare
/// entry is sold by that provider.
fn paired_ids<'a>(table: &'a PriceTable, model: &ListedModel) -> Vec<&'a ModelPrice> {
    let Some((_, prefixes, sellers)) = PROVIDERS.iter().find(|(id, ..)| *id == model.provider)
    else {
        return Vec::new();
    };
    let mut found: Vec<&ModelPrice> = Vec::new();
    for name in &model.names {
        let prefixed = prefixes
            .iter()
            .filter_map(|prefix| table.get(&format!("{prefix}{name}")));
        let bare = table
            .get(name)
            .filter(|price| sold_by(sellers, price.provider()));
        for price in prefixed.chain(bare) {
            if !found.iter().any(|seen| seen.model() == price.model()) {
                found.push(price);
            }
        }
    }
    found
}

/// Every rate of one pair: each tier the second list gives, at the base and
/// above every threshold either list has, then its time-of-day prices.
fn compare_pair(price: &ModelPrice, model: &ListedModel, found: &mut Vec<Disagreement>) {
    let second = format!("{}/{}", model.provider, model.id);
    let mut push = |tier, band, window: Option<&String>, kind, ours, theirs| {
        if !agree(ours, theirs) {
            found.push(Disagreement {
                listed_id: price.model().to_owned(),
                second: second.clone(),
                tier,
                band,
                window: window.cloned(),
                kind,
                ours,
                theirs,
            });
        }
    };
    for (tier, kinds) in &model.tiers {
        let schedule = price.schedule(*tier);
        let mut thresholds: Vec<u64> = schedule.bands().iter().map(|(t, _)| *t).collect();
        thresholds.extend(
            kinds
                .values()
                .flat_map(|banded| banded.above.iter().map(|(t, _)| *t)),
        );
        thresholds.sort_unstable();
        thresholds.dedup();
        let points = std::iter::once(None).chain(thresholds.into_iter().map(Some));
        for band in points {
            let prompt = band.map_or(0, |threshold| threshold + 1);
            let rates = schedule.band_for(prompt);
            for (kind, banded) in kinds {
                push(
                    *tier,
                    band,
                    None,
                    *kind,
                    kind.billed_at(rates),
                    banded.at(prompt),
                );
            }
        }
    }
    let base = price.standard().base();
    for (hours, kinds) in &model.time_of_day {
        for (kind, banded) in kinds {
            push(
                ServiceTier::Standard,
                None,
                Some(hours),
                *kind,
                kind.billed_at(base),
                banded.base,
            );
        }
    }
}

/// Equal, or apart by no more than rounding.
fn agree(a: PricePerToken, b: PricePerToken) -> bool {
    let (a, b) = (u128::from(a.femtos()), u128::from(b.femtos()));
    a.abs_diff(b) * 1_000 <= a.max(b) * ROUNDING_PER_MILLE
}

#[cfg(test)]
mod tests {
    use super::*;

    const LITELLM: &str = r#"{
      "claude-x": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
                   "output_cost_per_token": 1.5e-05, "cache_creation_input_token_cost": 3.76e-06},
      "vertex_ai/claude-x": {"litellm_provider": "vertex_ai-anthropic_models", "mode": "chat",
                   "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
                   "input_cost_per_token_above_200k_tokens": 6e-06},
      "claude-y": {"litellm_provider": "bedrock", "mode": "chat", "input_cost_per_token": 1e-06,
                   "output_cost_per_token": 1e-06}
    }"#;

    fn second(models: &str) -> SecondList {
        SecondList::parse(&format!(
            r#"{{"about": {{"source": "genai-prices", "version": "0", "retrieved": "2026-12-01"}},
               "models": [{models}]}}"#
        ))
        .unwrap()
    }

    fn table() -> PriceTable {
        PriceTable::from_litellm_json(LITELLM).unwrap()
    }

    #[test]
    fn a_missing_band_is_a_lower_rate_above_the_threshold_only() {
        let list = second(
            r#"{"provider": "anthropic", "id": "claude-x", "names": ["claude-x"],
                "rates": {"input_mtok": {"base": 3, "above": [[200000, 6]]}, "output_mtok": 15,
                          "cache_write_mtok": 3.75}}"#,
        );
        let comparison = compare(&table(), &list);
        assert_eq!(comparison.pairs, 1);
        let [found] = &comparison.disagreements[..] else {
            panic!("{:?}", comparison.disagreements);
        };
        assert_eq!(
            found.to_string(),
            "claude-x vs anthropic/claude-x: standard input above 200000 prompt tokens: \
             spendguard $3.00/1M tokens, genai-prices $6.00/1M tokens (spendguard lower)"
        );
        assert!(found.ours_is_lower());
    }

    #[test]
    fn prefixed_keys_pair_and_bare_keys_must_be_sold_by_the_provider() {
        let list = second(
            r#"{"provider": "google", "id": "claude-x", "names": ["claude-x"],
                "rates": {"input_mtok": {"base": 3, "above": [[200000, 6]]}}},
               {"provider": "anthropic", "id": "claude-y", "names": ["claude-y"],
                "rates": {"input_mtok": 1}},
               {"provider": "somewhere", "id": "claude-x", "names": ["claude-x"],
                "rates": {"input_mtok": 1}}"#,
        );
        let comparison = compare(&table(), &list);
        assert_eq!(
            (comparison.paired_models, comparison.unpaired_models),
            (1, 2)
        );
        assert!(comparison.disagreements.is_empty());
    }

    #[test]
    fn time_of_day_prices_are_compared_to_the_standard_base() {
        let list = second(
            r#"{"provider": "anthropic", "id": "claude-x", "names": ["claude-x"],
                "rates": {"input_mtok": 3},
                "time_of_day": [{"from": "16:30", "to": "00:30", "rates": {"input_mtok": 1.5}}]}"#,
        );
        let found = &compare(&table(), &list).disagreements;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].window.as_deref(), Some("16:30-00:30 UTC"));
        assert!(!found[0].ours_is_lower());
    }

    #[test]
    fn rounding_is_agreement() {
        let per_m = |d| PricePerToken::per_million(d).unwrap();
        assert!(agree(per_m(1.875), per_m(1.88)));
        assert!(!agree(per_m(0.125), per_m(0.13)));
    }
}
