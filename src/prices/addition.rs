//! [`Addition`]: a model LiteLLM's list lacks, priced from the provider's
//! own page, in `pricing/overrides.json`'s `additions`.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock::is_iso_date;
use crate::prices::error::PriceError;
use crate::prices::litellm::{entry, PriceFile};

/// A model the price list does not have, written as a LiteLLM entry, with
/// its evidence:
///
/// ```json
/// {"model": "claude-fable-5-2",
///  "entry": {"litellm_provider": "anthropic", "mode": "chat",
///            "input_cost_per_token": 8e-06, "output_cost_per_token": 4e-05},
///  "source": "https://platform.claude.com/docs/en/about-claude/pricing",
///  "checked": "2026-12-01",
///  "why": "Released 2026-11-09; LiteLLM 1.110.2 does not list it."}
/// ```
///
/// An addition of a model the list already prices is refused: LiteLLM has
/// caught up, and the addition should go.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Addition {
    model: String,
    entry: Map<String, Value>,
    source: String,
    checked: String,
    why: String,
}

impl Addition {
    /// The id it is listed under.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Its fields, in LiteLLM's names and units.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.entry
    }

    /// The provider's page the prices come from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// When the page was read, `YYYY-MM-DD`.
    pub fn checked(&self) -> &str {
        &self.checked
    }

    /// Why it is added.
    pub fn why(&self) -> &str {
        &self.why
    }

    fn invalid(&self, position: usize, reason: impl Into<String>) -> PriceError {
        PriceError::InvalidAddition {
            entry: position + 1,
            model: self.model.clone(),
            reason: reason.into(),
        }
    }

    /// The entry as the price list would hold it.
    fn read(&self, position: usize) -> Result<entry::Entry, PriceError> {
        match entry::read(&self.model, &Value::Object(self.entry.clone())) {
            Ok(entry::Listing::Priced(entry)) => Ok(entry),
            Ok(_) => Err(self.invalid(
                position,
                "its entry must be a token-priced chat, responses, completion or embedding model",
            )),
            Err(error) => Err(self.invalid(position, error.to_string())),
        }
    }

    /// Checks everything that does not need the price list.
    pub(crate) fn check(&self, position: usize) -> Result<(), PriceError> {
        if !self.source.starts_with("https://") {
            return Err(self.invalid(
                position,
                "its source must be an https:// link to the provider's page",
            ));
        }
        if !is_iso_date(&self.checked) {
            return Err(self.invalid(position, "its checked date must be written YYYY-MM-DD"));
        }
        if self.why.trim().is_empty() {
            return Err(self.invalid(position, "it must say why"));
        }
        self.read(position).map(|_| ())
    }

    /// Adds the model to a parsed price file.
    pub(crate) fn apply(&self, position: usize, file: &mut PriceFile) -> Result<(), PriceError> {
        if file.entries.contains_key(&self.model) || file.aliases.contains_key(&self.model) {
            return Err(self.invalid(
                position,
                "the price list prices it now: check its prices and remove the addition",
            ));
        }
        let entry = self.read(position)?;
        file.entries.insert(self.model.clone(), entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::overrides::Overrides;

    const GOOD: &str = r#"{"overrides": [], "additions": [{"model": "new-model",
        "entry": {"litellm_provider": "x", "mode": "chat", "input_cost_per_token": 1e-06,
                  "output_cost_per_token": 2e-06},
        "source": "https://example.com/pricing", "checked": "2026-12-01", "why": "new"}]}"#;

    #[test]
    fn an_addition_adds_a_model_the_list_lacks() {
        let overrides = Overrides::from_json(GOOD).unwrap();
        let mut file = PriceFile::default();
        overrides.apply(&mut file).unwrap();
        let price = file.entries["new-model"].model_price("new-model");
        assert_eq!(price.standard().base().output.femtos(), 2_000_000_000);
        assert_eq!(overrides.latest_checked(), Some("2026-12-01"));
        assert_eq!(overrides.additions().next().unwrap().model(), "new-model");
    }

    #[test]
    fn an_addition_of_a_listed_model_fails_loudly() {
        let overrides = Overrides::from_json(GOOD).unwrap();
        let mut file =
            PriceFile::parse(r#"{"new-model": {"mode": "chat", "input_cost_per_token": 1e-06}}"#)
                .unwrap();
        let error = overrides.apply(&mut file).unwrap_err();
        assert_eq!(
            error.to_string(),
            "addition #1 (new-model) is invalid: the price list prices it now: check its prices and remove the addition"
        );
    }

    #[test]
    fn bad_additions_are_named() {
        for (from, to, expected) in [
            ("https://example.com", "example.com", "https://"),
            ("2026-12-01", "1 Dec", "YYYY-MM-DD"),
            ("\"new\"", "\" \"", "say why"),
            ("\"chat\"", "\"image_generation\"", "token-priced"),
            ("2e-06}", "-1}", "non-negative"),
        ] {
            let error = Overrides::from_json(&GOOD.replace(from, to)).unwrap_err();
            assert!(
                matches!(&error, PriceError::InvalidAddition { entry: 1, model, .. } if model == "new-model"),
                "{error:?}"
            );
            assert!(error.to_string().contains(expected), "{error}");
        }
    }
}
