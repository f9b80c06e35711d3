//! pydantic's genai-prices, as vendored in `pricing/genai_prices.json`.
//!
//! The snapshot is written by `pricing/genai_prices_export.py` from the
//! package's wheel, one model per line, rates in dollars per million tokens:
//!
//! ```json
//! {"provider": "anthropic", "id": "claude-sonnet-4-5", "names": ["claude-sonnet-4-5"],
//!  "rates": {"input_mtok": {"base": 3, "above": [[200000, 6]]}, "output_mtok": 15},
//!  "tiers": {"batch": {"input_mtok": 1.5, "output_mtok": 7.5}},
//!  "time_of_day": [{"from": "01:00", "to": "04:00", "rates": {"input_mtok": 0.3}}]}
//! ```
//!
//! A rate is a number or `{"base": n, "above": [[threshold, n], ...]}`, where
//! a threshold applies to every token of a call whose prompt has more than
//! that many tokens, as LiteLLM's `_above_` bands do.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::money::PricePerToken;
use crate::prices::error::PriceError;
use crate::prices::litellm::field_name::RateKind;
use crate::usage::ServiceTier;

/// genai-prices' name for each kind spendguard compares.
const KEYS: [(&str, RateKind); 8] = [
    ("input_mtok", RateKind::Input),
    ("output_mtok", RateKind::Output),
    ("cache_read_mtok", RateKind::CacheRead),
    ("cache_write_mtok", RateKind::CacheWrite),
    ("cache_write_1h_mtok", RateKind::CacheWrite1h),
    ("output_reasoning_mtok", RateKind::Reasoning),
    ("input_audio_mtok", RateKind::InputAudio),
    ("output_audio_mtok", RateKind::OutputAudio),
];

/// genai-prices' name for a kind.
pub(crate) fn key_of(kind: RateKind) -> &'static str {
    KEYS.iter()
        .find(|(_, listed)| *listed == kind)
        .map_or("", |(key, _)| key)
}

/// The whole snapshot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SecondList {
    /// `genai-prices 0.2.3 (retrieved 2026-12-01)`.
    pub(crate) version: String,
    pub(crate) models: Vec<ListedModel>,
}

/// One model as genai-prices prices it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListedModel {
    /// genai-prices' provider id (`anthropic`, `x-ai`, `google`...).
    pub(crate) provider: String,
    /// genai-prices' model id.
    pub(crate) id: String,
    /// The id and every exact name its match rule lists.
    pub(crate) names: Vec<String>,
    /// Rates by service tier; the standard tier is always there.
    pub(crate) tiers: Vec<(ServiceTier, KindRates)>,
    /// Prices that apply only at some hours of the day, with the window.
    pub(crate) time_of_day: Vec<(String, KindRates)>,
}

/// The kinds one tier lists, each with its long-context bands.
pub(crate) type KindRates = BTreeMap<RateKind, Banded>;

/// A rate and the rates that replace it above prompt-size thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Banded {
    pub(crate) base: PricePerToken,
    /// `(threshold, rate)` sorted by threshold.
    pub(crate) above: Vec<(u64, PricePerToken)>,
}

impl Banded {
    /// The rate for a call whose prompt has `prompt_tokens` tokens.
    pub(crate) fn at(&self, prompt_tokens: u64) -> PricePerToken {
        self.above
            .iter()
            .rev()
            .find(|(threshold, _)| prompt_tokens > *threshold)
            .map_or(self.base, |(_, rate)| *rate)
    }
}

#[derive(Deserialize)]
struct File {
    about: About,
    models: Vec<RawModel>,
}

#[derive(Deserialize)]
struct About {
    source: String,
    version: String,
    retrieved: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    provider: String,
    id: String,
    names: Vec<String>,
    rates: BTreeMap<String, RawRate>,
    #[serde(default)]
    tiers: BTreeMap<String, BTreeMap<String, RawRate>>,
    #[serde(default)]
    time_of_day: Vec<RawWindow>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRate {
    Flat(f64),
    Banded { base: f64, above: Vec<(u64, f64)> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    from: String,
    to: String,
    rates: BTreeMap<String, RawRate>,
}

impl SecondList {
    /// Reads a snapshot.
    ///
    /// # Errors
    /// [`PriceError::MalformedJson`] when it is not a snapshot's shape,
    /// [`PriceError::InvalidField`] naming the model and rate that is not a
    /// price per million tokens spendguard can hold exactly.
    pub(crate) fn parse(json: &str) -> Result<SecondList, PriceError> {
        let file: File = serde_json::from_str(json)
            .map_err(|error| PriceError::malformed("second price list", &error))?;
        let models = file
            .models
            .into_iter()
            .map(RawModel::read)
            .collect::<Result<_, _>>()?;
        Ok(SecondList {
            version: format!(
                "{} {} (retrieved {})",
                file.about.source, file.about.version, file.about.retrieved
            ),
            models,
        })
    }
}

impl RawModel {
    fn read(self) -> Result<ListedModel, PriceError> {
        let label = format!("{}/{}", self.provider, self.id);
        let mut tiers = vec![(ServiceTier::Standard, kinds(&label, &self.rates)?)];
        for (name, rates) in &self.tiers {
            let tier = match name.as_str() {
                "batch" => ServiceTier::Batch,
                "flex" => ServiceTier::Flex,
                "priority" => ServiceTier::Priority,
                _ => {
                    return Err(invalid(
                        &label,
                        "tiers",
                        name,
                        "is not batch, flex or priority",
                    ))
                }
            };
            tiers.push((tier, kinds(&label, rates)?));
        }
        let time_of_day = self
            .time_of_day
            .iter()
            .map(|window| {
                let hours = format!("{}-{} UTC", window.from, window.to);
                kinds(&label, &window.rates).map(|rates| (hours, rates))
            })
            .collect::<Result<_, _>>()?;
        Ok(ListedModel {
            provider: self.provider,
            id: self.id,
            names: self.names,
            tiers,
            time_of_day,
        })
    }
}

fn kinds(model: &str, rates: &BTreeMap<String, RawRate>) -> Result<KindRates, PriceError> {
    let mut kinds = KindRates::new();
    for (key, rate) in rates {
        let Some((_, kind)) = KEYS.iter().find(|(listed, _)| listed == key) else {
            return Err(invalid(model, key, "", "is not a rate spendguard compares"));
        };
        let per_million = |dollars: f64| {
            PricePerToken::per_million(dollars)
                .map_err(|error| invalid(model, key, &dollars.to_string(), &error.to_string()))
        };
        let banded = match rate {
            RawRate::Flat(dollars) => Banded {
                base: per_million(*dollars)?,
                above: Vec::new(),
            },
            RawRate::Banded { base, above } => {
                let mut bands = above
                    .iter()
                    .map(|(threshold, dollars)| Ok((*threshold, per_million(*dollars)?)))
                    .collect::<Result<Vec<_>, PriceError>>()?;
                bands.sort_by_key(|(threshold, _)| *threshold);
                Banded {
                    base: per_million(*base)?,
                    above: bands,
                }
            }
        };
        kinds.insert(*kind, banded);
    }
    Ok(kinds)
}

fn invalid(model: &str, field: &str, value: &str, reason: &str) -> PriceError {
    PriceError::InvalidField {
        model: model.to_owned(),
        field: field.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_m(dollars: f64) -> PricePerToken {
        PricePerToken::per_million(dollars).unwrap()
    }

    const ONE: &str = r#"{"about": {"source": "genai-prices", "version": "0.2.3", "retrieved": "2026-12-01"},
      "models": [{"provider": "anthropic", "id": "claude-x", "names": ["claude-x", "claude-x-1"],
        "rates": {"input_mtok": {"base": 3, "above": [[200000, 6]]}, "output_mtok": 15},
        "tiers": {"batch": {"input_mtok": 1.5, "output_mtok": 7.5}},
        "time_of_day": [{"from": "01:00", "to": "04:00", "rates": {"input_mtok": 0.3}}]}]}"#;

    #[test]
    fn a_snapshot_reads_with_bands_tiers_and_windows() {
        let list = SecondList::parse(ONE).unwrap();
        assert_eq!(list.version, "genai-prices 0.2.3 (retrieved 2026-12-01)");
        let model = &list.models[0];
        let standard = &model.tiers[0].1;
        assert_eq!(standard[&RateKind::Input].at(200_000), per_m(3.0));
        assert_eq!(standard[&RateKind::Input].at(200_001), per_m(6.0));
        assert_eq!(model.tiers[1].0, ServiceTier::Batch);
        assert_eq!(model.time_of_day[0].0, "01:00-04:00 UTC");
    }

    #[test]
    fn unknown_rates_and_tiers_are_named() {
        let error =
            SecondList::parse(&ONE.replace("output_mtok\": 15", "web_kcount\": 15")).unwrap_err();
        assert!(error.to_string().contains("web_kcount"), "{error}");
        let error = SecondList::parse(&ONE.replace("\"batch\"", "\"fast\"")).unwrap_err();
        assert!(error.to_string().contains("fast"), "{error}");
        let error = SecondList::parse(&ONE.replace("15}", "-1}")).unwrap_err();
        assert!(error.to_string().contains("anthropic/claude-x"), "{error}");
    }

    #[test]
    fn the_vendored_snapshot_reads() {
        let list = SecondList::parse(include_str!("../../../pricing/genai_prices.json")).unwrap();
        assert!(list.models.len() > 1_000);
    }
}
