//! Provider corrections laid over LiteLLM's prices.
//!
//! LiteLLM's list is the starting data; the provider's own pricing page is
//! the truth. When the two disagree, `pricing/overrides.json` records the
//! provider's number with where it was read and when:
//!
//! ```json
//! {
//!   "overrides": [
//!     {
//!       "models": ["gpt-5.4", "gpt-5.4-2026-03-05"],
//!       "set": {"cache_read_input_token_cost_flex": 1.25e-07},
//!       "source": "https://developers.openai.com/api/docs/pricing",
//!       "checked": "2026-11-25",
//!       "why": "LiteLLM rounds the flex cached-input price to $0.13/M; OpenAI lists $0.125/M."
//!     }
//!   ]
//! }
//! ```
//!
//! `set` uses LiteLLM's field names and is applied as if LiteLLM's file had
//! listed those fields, so the same inheritance rules hold. Every model an
//! override names must be in the price list: a stale correction fails
//! loudly instead of silently doing nothing.
//!
//! The file's `additions` list models the price list lacks (see
//! [`Addition`]); they are added before the overrides are applied.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock::is_iso_date;
use crate::prices::addition::Addition;
use crate::prices::error::PriceError;
use crate::prices::litellm::{Entry, PriceFile};

/// The corrections shipped in `pricing/overrides.json`.
const BUNDLED_OVERRIDES: &str = include_str!("../../pricing/overrides.json");

/// A set of provider corrections to LiteLLM's prices.
///
/// ```
/// use spendguard::prices::Overrides;
/// use spendguard::PriceTable;
///
/// let upstream = r#"{"claude-x": {"litellm_provider": "anthropic", "mode": "chat",
///     "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05}}"#;
/// let corrections = Overrides::from_json(r#"{"overrides": [{
///     "models": ["claude-x"],
///     "set": {"cache_creation_input_token_cost_above_1hr": 6e-06},
///     "source": "https://platform.claude.com/docs/en/about-claude/pricing",
///     "checked": "2026-11-25",
///     "why": "Anthropic bills one-hour cache writes at twice the input price."
/// }]}"#)?;
/// let table = PriceTable::from_litellm_json_with_overrides(upstream, &corrections)?;
/// let price = table.resolve("claude-x")?.into_price();
/// assert_eq!(price.standard().base().cache_write_1h_rate().per_million_f64(), 6.0);
/// # Ok::<(), spendguard::prices::PriceError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Overrides {
    entries: Vec<Override>,
    additions: Vec<Addition>,
}

/// One correction: fields to set on some listed models, and its evidence.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    models: Vec<String>,
    set: Map<String, Value>,
    source: String,
    checked: String,
    why: String,
}

impl Override {
    /// The listed ids it corrects.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    /// The fields it sets, in LiteLLM's names, with their values.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.set
    }

    /// The provider's page the numbers come from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// When the page was read, `YYYY-MM-DD`.
    pub fn checked(&self) -> &str {
        &self.checked
    }

    /// What LiteLLM has and why the provider's number differs.
    pub fn why(&self) -> &str {
        &self.why
    }

    /// Sets this override's fields on one entry.
    fn apply_to(&self, model: &str, entry: &mut Entry, position: usize) -> Result<(), PriceError> {
        for (name, value) in &self.set {
            entry.set_field(name, value).map_err(|error| {
                self.invalid(
                    position,
                    format!(
                        "field \"{name}\" {}, got {value} (for \"{model}\")",
                        error.reason
                    ),
                )
            })?;
        }
        Ok(())
    }

    fn invalid(&self, position: usize, reason: String) -> PriceError {
        PriceError::InvalidOverride {
            entry: position + 1,
            models: self.models.join(", "),
            reason,
        }
    }

    /// Checks everything that does not need the price list.
    fn check(&self, position: usize) -> Result<(), PriceError> {
        let fail = |reason: &str| Err(self.invalid(position, reason.to_owned()));
        if self.models.is_empty() {
            return fail("it names no models");
        }
        if self.set.is_empty() {
            return fail("it sets no fields");
        }
        if !self.source.starts_with("https://") {
            return fail("its source must be an https:// link to the provider's page");
        }
        if !is_iso_date(&self.checked) {
            return fail("its checked date must be written YYYY-MM-DD");
        }
        if self.why.trim().is_empty() {
            return fail("it must say why");
        }
        // Setting the fields on a blank entry checks names and values.
        let mut scratch = Entry::default();
        self.apply_to(&self.models[0], &mut scratch, position)
    }
}

/// The file's shape: `{"overrides": [...]}`, plus anything else at the top
/// level (a note for readers) ignored.
#[derive(Deserialize)]
struct OverridesFile {
    overrides: Vec<Override>,
    #[serde(default)]
    additions: Vec<Addition>,
}

impl Overrides {
    /// The corrections bundled with spendguard (`pricing/overrides.json`),
    /// applied by [`PriceTable::bundled`](crate::PriceTable::bundled).
    pub fn bundled() -> Self {
        // The bundled file is checked by this crate's tests.
        Overrides::from_json(BUNDLED_OVERRIDES).expect("pricing/overrides.json is valid")
    }

    /// Reads an overrides file.
    ///
    /// # Errors
    /// [`PriceError::MalformedJson`] when it is not JSON of the right shape,
    /// [`PriceError::InvalidOverride`] naming the first entry that has no
    /// models, no fields, a field spendguard does not read, a bad value, a
    /// source that is not an https link, a date not written `YYYY-MM-DD`,
    /// or no reason.
    pub fn from_json(json: &str) -> Result<Self, PriceError> {
        let file: OverridesFile = serde_json::from_str(json)
            .map_err(|error| PriceError::malformed("overrides file", &error))?;
        for (position, entry) in file.overrides.iter().enumerate() {
            entry.check(position)?;
        }
        for (position, addition) in file.additions.iter().enumerate() {
            addition.check(position)?;
        }
        Ok(Overrides {
            entries: file.overrides,
            additions: file.additions,
        })
    }

    /// The corrections, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Override> {
        self.entries.iter()
    }

    /// The models added to the price list, in file order.
    pub fn additions(&self) -> impl Iterator<Item = &Addition> {
        self.additions.iter()
    }

    /// The newest `checked` date of any correction or addition, `YYYY-MM-DD`.
    pub fn latest_checked(&self) -> Option<&str> {
        // ISO dates sort as text.
        let overrides = self.entries.iter().map(Override::checked);
        overrides
            .chain(self.additions.iter().map(Addition::checked))
            .max()
    }

    /// How many corrections there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds every addition, then applies every correction, in file order.
    pub(crate) fn apply(&self, file: &mut PriceFile) -> Result<(), PriceError> {
        for (position, addition) in self.additions.iter().enumerate() {
            addition.apply(position, file)?;
        }
        for (position, correction) in self.entries.iter().enumerate() {
            for model in &correction.models {
                let Some(entry) = file.entries.get_mut(model) else {
                    return Err(correction.invalid(
                        position,
                        format!("\"{model}\" is not a priced model of the price list"),
                    ));
                };
                correction.apply_to(model, entry, position)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(fields: &str) -> String {
        format!(r#"{{"overrides": [{{{fields}}}]}}"#)
    }

    const GOOD: &str = r#""models": ["m"], "set": {"input_cost_per_token": 1e-06},
        "source": "https://example.com/pricing", "checked": "2026-11-25", "why": "because""#;

    #[test]
    fn the_bundled_overrides_are_valid() {
        assert!(!Overrides::bundled().is_empty());
    }

    #[test]
    fn a_good_entry_reads() {
        let overrides = Overrides::from_json(&one(GOOD)).unwrap();
        assert_eq!(overrides.len(), 1);
        let entry = overrides.iter().next().unwrap();
        assert_eq!(entry.models(), ["m"]);
        assert_eq!(entry.checked(), "2026-11-25");
    }

    #[test]
    fn bad_entries_are_named() {
        for (fields, expected) in [
            (GOOD.replace("[\"m\"]", "[]"), "names no models"),
            (
                GOOD.replace("{\"input_cost_per_token\": 1e-06}", "{}"),
                "sets no fields",
            ),
            (
                GOOD.replace("https://example.com/pricing", "example.com"),
                "https://",
            ),
            (GOOD.replace("2026-11-25", "25/11/2026"), "YYYY-MM-DD"),
            (GOOD.replace("\"because\"", "\" \""), "say why"),
            (
                GOOD.replace("input_cost_per_token", "supports_vision"),
                "not a field spendguard reads",
            ),
            (GOOD.replace("1e-06", "-1"), "non-negative"),
        ] {
            let error = Overrides::from_json(&one(&fields)).unwrap_err();
            let PriceError::InvalidOverride {
                entry,
                models,
                reason,
            } = &error
            else {
                panic!("{error:?}");
            };
            assert_eq!(*entry, 1);
            assert_eq!(models, if fields.contains("[]") { "" } else { "m" });
            assert!(
                reason.contains(expected),
                "{reason} should mention {expected}"
            );
        }
    }

    #[test]
    fn unknown_keys_and_broken_json_are_malformed() {
        let extra = one(&format!("{GOOD}, \"note\": \"x\""));
        assert!(matches!(
            Overrides::from_json(&extra),
            Err(PriceError::MalformedJson { .. })
        ));
        assert!(matches!(
            Overrides::from_json("{\"overrides\": [}"),
            Err(PriceError::MalformedJson { line: 1, .. })
        ));
    }

    #[test]
    fn overrides_of_unlisted_models_fail() {
        let overrides = Overrides::from_json(&one(GOOD)).unwrap();
        let mut file = PriceFile::default();
        let error = overrides.apply(&mut file).unwrap_err();
        assert!(
            error.to_string().contains("\"m\" is not a priced model"),
            "{error}"
        );
    }
}
