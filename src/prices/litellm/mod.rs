//! LiteLLM's price list (`model_prices_and_context_window.json`): reading it,
//! and filtering it down to the copy spendguard bundles.
//!
//! The file is one JSON object of entries keyed by model id. spendguard reads
//! the entries it can bill from and skips the rest (see [`bundle`] for which).
//! The bundled copy is in the same shape, so one reader serves both it and a
//! newer file downloaded by hand.

pub(crate) mod entry;
pub(crate) mod field_name;
mod rate_layers;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::prices::error::PriceError;

pub(crate) use entry::Entry;

/// The documentation entry at the top of LiteLLM's file.
const SAMPLE_SPEC: &str = "sample_spec";

/// The entries of a price file spendguard reads, by model id.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PriceFile {
    /// Token-priced models.
    pub(crate) entries: BTreeMap<String, Entry>,
    /// Other names for listed models, and the id each one names. Only
    /// aliases whose target is in `entries` are kept.
    pub(crate) aliases: BTreeMap<String, String>,
}

impl PriceFile {
    /// Reads a LiteLLM price file.
    ///
    /// # Errors
    /// [`PriceError::MalformedJson`] when the text is not a JSON object;
    /// [`PriceError::InvalidEntry`] or [`PriceError::InvalidField`] naming
    /// the first model whose entry cannot be read.
    pub(crate) fn parse(json: &str) -> Result<PriceFile, PriceError> {
        let listed: Map<String, Value> = serde_json::from_str(json)
            .map_err(|error| PriceError::malformed("price file", &error))?;
        let mut file = PriceFile::default();
        let mut aliases = BTreeMap::new();
        for (model, value) in &listed {
            if model == SAMPLE_SPEC {
                continue;
            }
            match entry::read(model, value)? {
                entry::Listing::Priced(entry) => {
                    file.entries.insert(model.clone(), entry);
                }
                entry::Listing::Alias(target) => {
                    aliases.insert(model.clone(), target);
                }
                entry::Listing::Skipped => {}
            }
        }
        for (alias, target) in &aliases {
            if let Some(listed) = follow(&aliases, target, &file.entries) {
                file.aliases.insert(alias.clone(), listed.to_owned());
            }
        }
        Ok(file)
    }

    /// The file in LiteLLM's shape, one model per line, sorted by id, with
    /// only the fields spendguard reads and every price written as the
    /// decimal it was read as.
    pub(crate) fn to_json(&self) -> String {
        let mut models: BTreeMap<&str, Vec<(String, Value)>> = BTreeMap::new();
        for (model, entry) in &self.entries {
            models.insert(model, entry_fields(entry));
        }
        for (alias, target) in &self.aliases {
            models.insert(alias, vec![("alias_of".into(), target.clone().into())]);
        }
        let lines: Vec<String> = models
            .iter()
            .map(|(model, fields)| format!("  {}: {}", Value::from(*model), object_line(fields)))
            .collect();
        format!("{{\n{}\n}}\n", lines.join(",\n"))
    }
}

/// Follows a chain of aliases from `target` to a priced entry, giving up on
/// a missing target or a cycle.
fn follow<'a>(
    aliases: &'a BTreeMap<String, String>,
    mut target: &'a str,
    entries: &BTreeMap<String, Entry>,
) -> Option<&'a str> {
    for _ in 0..=aliases.len() {
        if entries.contains_key(target) {
            return Some(target);
        }
        target = aliases.get(target)?;
    }
    None
}

/// One entry's fields in LiteLLM's names, in a fixed order.
fn entry_fields(entry: &Entry) -> Vec<(String, Value)> {
    let mut fields: Vec<(String, Value)> = Vec::new();
    if !entry.provider.is_empty() {
        fields.push(("litellm_provider".into(), entry.provider.clone().into()));
    }
    fields.push(("mode".into(), entry.mode.to_string().into()));
    if let Some(tokens) = entry.max_input_tokens {
        fields.push(("max_input_tokens".into(), tokens.into()));
    }
    if let Some(tokens) = entry.max_output_tokens {
        fields.push(("max_output_tokens".into(), tokens.into()));
    }
    for (field, price) in entry.rates.fields() {
        fields.push((field.litellm_name(), dollars_per_token(price.femtos())));
    }
    fields
}

/// A femto-dollar rate as dollars per token: the double nearest the exact
/// decimal, which prints as that decimal and reads back exactly.
fn dollars_per_token(femtos: u64) -> Value {
    // Dividing two integers exactly representable as doubles rounds once,
    // to the double nearest the quotient.
    let dollars = femtos as f64 / 1e15;
    serde_json::Number::from_f64(dollars).map_or(Value::Null, Value::Number)
}

/// Writes fields as a one-line JSON object, `{"name": value, ...}`, in the
/// order given.
fn object_line(fields: &[(String, Value)]) -> String {
    let mut line = String::from("{");
    for (position, (name, value)) in fields.iter().enumerate() {
        if position > 0 {
            line.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(line, "{}: {}", Value::from(name.as_str()), value);
    }
    line.push('}');
    line
}

/// Filters a LiteLLM price file down to what spendguard bundles, checking
/// every entry it keeps on the way.
///
/// Kept: every entry whose `mode` is `chat`, `responses`, `completion` or
/// `embedding` and that lists an input or output price per token (directly,
/// or in `tiered_pricing`, which is rewritten as long-context bands), with
/// only the fields spendguard reads; and every `alias_of` entry whose target
/// is kept. Dropped: other modes (images, audio, rerank, search...), entries
/// priced only per second, character or image, and the `sample_spec`
/// documentation entry.
///
/// The output is LiteLLM's own shape, one model per line and sorted by id so
/// a regenerated file diffs model by model, and reads back to the same
/// prices.
///
/// ```
/// let upstream = r#"{
///     "sample_spec": {"mode": "one of: chat, embedding, ..."},
///     "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 128000,
///                "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
///                "supports_vision": true},
///     "dall-e-3": {"mode": "image_generation", "output_cost_per_image": 0.04}
/// }"#;
/// let bundled = spendguard::prices::litellm::bundle(upstream)?;
/// assert_eq!(bundled, "{\n  \"gpt-4o\": {\"litellm_provider\": \"openai\", \"mode\": \"chat\", \
///     \"max_input_tokens\": 128000, \"input_cost_per_token\": 2.5e-6, \"output_cost_per_token\": 0.00001}\n}\n");
/// # Ok::<(), spendguard::prices::PriceError>(())
/// ```
///
/// # Errors
/// As [`PriceTable::from_litellm_json`](crate::PriceTable::from_litellm_json):
/// the first entry that cannot be read, named.
pub fn bundle(litellm_json: &str) -> Result<String, PriceError> {
    PriceFile::parse(litellm_json).map(|file| file.to_json())
}

#[cfg(test)]
mod tests;
