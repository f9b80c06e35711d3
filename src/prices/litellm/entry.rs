//! One model's entry in LiteLLM's price file, read and checked.

use serde_json::Value;

use crate::money::{MoneyError, PricePerToken};
use crate::prices::error::PriceError;
use crate::prices::litellm::field_name::{FieldName, RateField, RateKind};
use crate::prices::litellm::rate_layers::RateLayers;
use crate::prices::model_price::{ModelMode, ModelPrice};
use crate::usage::ServiceTier;

/// Significant decimal digits a JSON number written from a double carries
/// reliably; digits past these are binary-to-decimal noise.
const SIGNIFICANT_DIGITS: usize = 15;

/// What one entry of the file is, for spendguard.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Listing {
    /// A token-priced model of a mode spendguard prices.
    Priced(Entry),
    /// Another name for a listed model (`"alias_of": "<id>"`).
    Alias(String),
    /// Anything else: other modes, per-second or per-image prices, notes.
    Skipped,
}

/// A token-priced model, as the file lists it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Entry {
    pub(crate) provider: String,
    pub(crate) mode: ModelMode,
    pub(crate) max_input_tokens: Option<u64>,
    pub(crate) max_output_tokens: Option<u64>,
    pub(crate) rates: RateLayers,
}

impl Entry {
    /// The price this entry bills by, listed under `model`.
    pub(crate) fn model_price(&self, model: &str) -> ModelPrice {
        let mut price = self
            .rates
            .model_price(model)
            .with_provider(self.provider.clone())
            .with_mode(self.mode);
        if let Some(tokens) = self.max_input_tokens {
            price = price.with_max_input_tokens(tokens);
        }
        if let Some(tokens) = self.max_output_tokens {
            price = price.with_max_output_tokens(tokens);
        }
        price
    }

    /// Sets one field by its LiteLLM name, as if the file had listed it:
    /// a rate, `max_input_tokens` or `max_output_tokens`.
    ///
    /// # Errors
    /// A reason, when the name is not a field spendguard reads or the value
    /// does not fit it.
    pub(crate) fn set_field(&mut self, name: &str, value: &Value) -> Result<(), FieldError> {
        match name {
            "max_input_tokens" => self.max_input_tokens = token_limit(value)?,
            "max_output_tokens" => self.max_output_tokens = token_limit(value)?,
            _ => match FieldName::parse(name) {
                FieldName::Rate(field) => self.rates.set(field, price(value)?),
                FieldName::OtherTier | FieldName::NotRead => {
                    return Err(FieldError::new("is not a field spendguard reads"))
                }
            },
        }
        Ok(())
    }
}

/// Why a field's value was refused; becomes [`PriceError::InvalidField`]
/// once the model and field are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) reason: String,
}

impl FieldError {
    fn new(reason: impl Into<String>) -> Self {
        FieldError {
            reason: reason.into(),
        }
    }

    /// The full error, naming where the value was found.
    pub(crate) fn at(self, model: &str, field: &str, value: &Value) -> PriceError {
        PriceError::InvalidField {
            model: model.to_owned(),
            field: field.to_owned(),
            value: value.to_string(),
            reason: self.reason,
        }
    }
}

/// Reads the entry listed under `model`.
///
/// Entries are kept when their `mode` is chat, responses, completion or
/// embedding and they list an input or output price per token (directly or
/// in `tiered_pricing`); every other entry is [`Listing::Skipped`], not an
/// error, because the file prices images, audio and search too.
///
/// # Errors
/// [`PriceError::InvalidEntry`] when the entry is not an object,
/// [`PriceError::InvalidField`] when a field spendguard reads has a value it
/// cannot use.
pub(crate) fn read(model: &str, value: &Value) -> Result<Listing, PriceError> {
    let Some(fields) = value.as_object() else {
        return Err(PriceError::InvalidEntry {
            model: model.to_owned(),
            reason: format!("the entry must be an object of fields, got {value}"),
        });
    };
    if let Some(target) = fields.get("alias_of") {
        return match target.as_str() {
            Some(target) => Ok(Listing::Alias(target.to_owned())),
            None => Err(FieldError::new("must be the listed id of another model")
                .at(model, "alias_of", target)),
        };
    }
    let mode = match fields.get("mode") {
        None => return Ok(Listing::Skipped),
        Some(Value::String(mode)) => match ModelMode::from_litellm(mode) {
            Some(mode) => mode,
            None => return Ok(Listing::Skipped),
        },
        Some(other) => return Err(FieldError::new("must be a string").at(model, "mode", other)),
    };
    let mut entry = Entry {
        mode,
        ..Entry::default()
    };
    for (name, value) in fields {
        let at = |error: FieldError| error.at(model, name, value);
        match name.as_str() {
            "litellm_provider" => {
                entry.provider = value
                    .as_str()
                    .ok_or_else(|| at(FieldError::new("must be a string")))?
                    .to_owned();
            }
            "max_input_tokens" | "max_output_tokens" | "tiered_pricing" => {}
            _ => {
                if let FieldName::Rate(field) = FieldName::parse(name) {
                    if !value.is_null() {
                        entry.rates.set(field, price(value).map_err(at)?);
                    }
                }
            }
        }
    }
    if let Some(tiers) = fields.get("tiered_pricing") {
        read_tiered_pricing(&mut entry.rates, tiers)
            .map_err(|error| error.at(model, "tiered_pricing", tiers))?;
    }
    if !entry.rates.has_token_price() {
        return Ok(Listing::Skipped);
    }
    for name in ["max_input_tokens", "max_output_tokens"] {
        if let Some(value) = fields.get(name) {
            entry
                .set_field(name, value)
                .map_err(|error| error.at(model, name, value))?;
        }
    }
    Ok(Listing::Priced(entry))
}

/// A per-token price in dollars.
///
/// Read exactly when it is a decimal of at most 15 significant digits, the
/// precision a double carries. A longer number is a rendering artefact:
/// LiteLLM's file is written by Python, which prints the double nearest a
/// computed rate. Two kinds exist, and each is read for what it means:
///
/// - float noise, `0.2 / 1e6` printed `2.0000000000000002e-07`: read at 15
///   significant digits, it is an exact decimal (`2e-07`);
/// - a repeating fraction, `8 / 7 / 1e6` (a price converted from yuan):
///   no exact decimal exists, so it is rounded *up* to the next
///   femto-dollar (an error under 10⁻¹⁵ dollars a token, never in the
///   customer's favour).
///
/// A short decimal finer than a femto-dollar (`1e-16`) is a typo, refused.
fn price(value: &Value) -> Result<PricePerToken, FieldError> {
    let Some(dollars) = value.as_f64() else {
        return Err(FieldError::new("must be a non-negative number"));
    };
    let read = match PricePerToken::from_dollars(dollars) {
        Err(MoneyError::TooPrecise { .. }) if significant_digits(dollars) > SIGNIFICANT_DIGITS => {
            let rounded = format!("{:.*e}", SIGNIFICANT_DIGITS - 1, dollars);
            rounded
                .parse()
                .ok()
                .and_then(|rounded| PricePerToken::from_dollars(rounded).ok())
                .map_or_else(|| PricePerToken::from_dollars_rounded_up(dollars), Ok)
        }
        other => other,
    };
    read.map_err(|error| {
        FieldError::new(match error {
            MoneyError::Negative { .. } | MoneyError::NotFinite { .. } => {
                "must be a non-negative number".to_owned()
            }
            MoneyError::TooPrecise { .. } => {
                "must be a whole number of femto-dollars (1e-15) per token".to_owned()
            }
            other => format!("is out of range ({other})"),
        })
    })
}

/// Significant digits of the shortest decimal that reads back as `value`.
fn significant_digits(value: f64) -> usize {
    let scientific = format!("{value:e}");
    let mantissa = scientific.split('e').next().unwrap_or_default();
    mantissa.bytes().filter(u8::is_ascii_digit).count()
}

/// A token limit: a whole number, written as an integer, a float or a
/// string of digits (the file has all three); `null` means unknown.
fn token_limit(value: &Value) -> Result<Option<u64>, FieldError> {
    let refuse = || FieldError::new("must be a whole, non-negative number of tokens");
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => match (number.as_u64(), number.as_f64()) {
            (Some(tokens), _) => Ok(Some(tokens)),
            (None, Some(float)) if float >= 0.0 && float.fract() == 0.0 && float <= 1e15 => {
                // Checked whole and below 2^53 just above, so the cast is exact.
                Ok(Some(float as u64))
            }
            _ => Err(refuse()),
        },
        Value::String(text) => text.trim().parse().map(Some).map_err(|_| refuse()),
        _ => Err(refuse()),
    }
}

/// Reads Alibaba-style `tiered_pricing`: a list of
/// `{"range": [from, to], <rate fields>}`, where a call whose prompt has
/// more than `from` tokens pays that tier's rates on every token.
///
/// The lowest tier becomes the standard base rates, each other tier a band
/// above its `from`. A tier that lists no cache rate charges cache tokens
/// at its own input rate, as LiteLLM does, not at the base tier's cache rate.
fn read_tiered_pricing(rates: &mut RateLayers, tiers: &Value) -> Result<(), FieldError> {
    let Some(tiers) = tiers.as_array() else {
        return Err(FieldError::new("must be a list of tiers"));
    };
    let mut read = Vec::with_capacity(tiers.len());
    for tier in tiers {
        let fields = tier
            .as_object()
            .ok_or_else(|| FieldError::new("must list objects"))?;
        let from = fields
            .get("range")
            .and_then(Value::as_array)
            .and_then(|range| range.first())
            .ok_or_else(|| FieldError::new("must give every tier a \"range\": [from, to]"))
            .and_then(token_limit)?
            .ok_or_else(|| FieldError::new("must give every tier a numeric range"))?;
        let mut kinds = Vec::new();
        for (name, value) in fields {
            if let FieldName::Rate(field) = FieldName::parse(name) {
                if field.band.is_some() || field.tier != ServiceTier::Standard {
                    return Err(FieldError::new(format!(
                        "must list plain rates in each tier, not \"{name}\""
                    )));
                }
                kinds.push((field.kind, price(value)?));
            }
        }
        read.push((from, kinds));
    }
    read.sort_by_key(|(from, _)| *from);
    for (position, (from, kinds)) in read.iter().enumerate() {
        let band = (position > 0).then_some(*from);
        let set = |rates: &mut RateLayers, kind, price| {
            rates.set(
                RateField {
                    kind,
                    band,
                    tier: ServiceTier::Standard,
                },
                price,
            );
        };
        for &(kind, price) in kinds {
            set(rates, kind, price);
        }
        let own_input = kinds.iter().find(|(kind, _)| *kind == RateKind::Input);
        if let (Some(&(_, input)), Some(_)) = (own_input, band) {
            for cache in [RateKind::CacheRead, RateKind::CacheWrite] {
                if !kinds.iter().any(|(kind, _)| *kind == cache) {
                    set(rates, cache, input);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn per_m(dollars: f64) -> PricePerToken {
        PricePerToken::per_million(dollars).unwrap()
    }

    fn priced(value: Value) -> ModelPrice {
        match read("m", &value).unwrap() {
            Listing::Priced(entry) => entry.model_price("m"),
            other => panic!("expected a priced entry, got {other:?}"),
        }
    }

    #[test]
    fn float_noise_past_fifteen_digits_is_dropped() {
        assert_eq!(price(&json!(2.0000000000000002e-07)).unwrap(), per_m(0.2));
        assert_eq!(price(&json!(9.499999999999999e-07)).unwrap(), per_m(0.95));
        assert_eq!(price(&json!(3)).unwrap(), per_m(3_000_000.0));
    }

    #[test]
    fn repeating_fractions_round_up_to_the_next_femto_dollar() {
        assert_eq!(
            price(&json!(3.3333333333333335e-07)).unwrap().femtos(),
            333_333_334
        );
        assert_eq!(
            price(&json!(1.1428571428571428e-06)).unwrap().femtos(),
            1_142_857_143
        );
    }

    #[test]
    fn short_decimals_finer_than_a_femto_dollar_are_refused() {
        for typo in [json!(1e-16), json!(1.5e-16), json!(2.0000001e-14)] {
            let error = price(&typo).unwrap_err();
            assert!(error.reason.contains("femto"), "{error:?}");
        }
    }

    #[test]
    fn bad_prices_are_refused() {
        for bad in [
            json!("abc"),
            json!(-1e-6),
            json!(true),
            json!([1]),
            json!("3e-6"),
        ] {
            assert!(price(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_limits_come_in_three_spellings() {
        assert_eq!(token_limit(&json!(128000)).unwrap(), Some(128_000));
        assert_eq!(token_limit(&json!(128000.0)).unwrap(), Some(128_000));
        assert_eq!(token_limit(&json!("8192")).unwrap(), Some(8_192));
        assert_eq!(token_limit(&json!(null)).unwrap(), None);
        for bad in [json!(1.5), json!(-1), json!("lots"), json!(true)] {
            assert!(token_limit(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_modes_and_unpriced_entries_are_skipped() {
        for value in [
            json!({"mode": "image_generation", "input_cost_per_token": 1e-6}),
            json!({"mode": "chat", "input_cost_per_second": 1e-4}),
            json!({"input_cost_per_token": 1e-6}),
            json!({"rules": []}),
        ] {
            assert_eq!(read("m", &value).unwrap(), Listing::Skipped, "{value}");
        }
    }

    #[test]
    fn aliases_name_their_target() {
        assert_eq!(
            read("claude-latest", &json!({"alias_of": "claude-x"})).unwrap(),
            Listing::Alias("claude-x".into())
        );
        assert!(read("a", &json!({"alias_of": 3})).is_err());
    }

    #[test]
    fn an_entry_reads_every_kind_band_and_tier() {
        let price = priced(json!({
            "litellm_provider": "anthropic",
            "mode": "chat",
            "max_input_tokens": 1000000,
            "max_output_tokens": "64000",
            "input_cost_per_token": 3e-6,
            "output_cost_per_token": 1.5e-5,
            "cache_creation_input_token_cost": 3.75e-6,
            "cache_creation_input_token_cost_above_1hr": 6e-6,
            "input_cost_per_token_above_200k_tokens": 6e-6,
            "input_cost_per_token_batches": 1.5e-6,
            "input_cost_per_token_ultrafast": 9e-6,
            "supports_vision": true
        }));
        assert_eq!(price.provider(), "anthropic");
        assert_eq!(price.max_input_tokens(), Some(1_000_000));
        assert_eq!(price.max_output_tokens(), Some(64_000));
        assert_eq!(price.standard().base().cache_write_1h, Some(per_m(6.0)));
        assert_eq!(price.standard().band_for(200_001).input, per_m(6.0));
        assert_eq!(
            price
                .listed_schedule(ServiceTier::Batch)
                .unwrap()
                .base()
                .input,
            per_m(1.5)
        );
        assert!(price.listed_schedule(ServiceTier::Priority).is_none());
    }

    #[test]
    fn tiered_pricing_becomes_bands() {
        let price = priced(json!({
            "mode": "chat",
            "output_cost_per_token": 9e-6,
            "tiered_pricing": [
                {"range": [32000.0, 128000.0], "input_cost_per_token": 5e-7, "output_cost_per_token": 2.5e-6},
                {"range": [0, 32000.0], "input_cost_per_token": 3e-7, "cache_read_input_token_cost": 8e-8},
                {"range": [128000, 256000], "input_cost_per_token": 8e-7}
            ]
        }));
        let schedule = price.standard();
        assert_eq!(schedule.base().input, per_m(0.3));
        assert_eq!(schedule.base().output, per_m(9.0));
        assert_eq!(schedule.band_for(32_000).input, per_m(0.3));
        assert_eq!(schedule.band_for(32_001).input, per_m(0.5));
        assert_eq!(schedule.band_for(32_001).cache_read, Some(per_m(0.5)));
        assert_eq!(schedule.band_for(200_000).output, per_m(9.0));
        assert_eq!(schedule.band_for(900_000).input, per_m(0.8));
    }

    #[test]
    fn malformed_tiers_name_the_field() {
        let error = read(
            "qwen",
            &json!({"mode": "chat", "tiered_pricing": [{"input_cost_per_token": 1e-6}]}),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("model \"qwen\": field \"tiered_pricing\""),
            "{error}"
        );
    }

    #[test]
    fn invalid_fields_name_model_field_and_value() {
        let error = read(
            "gpt-4o",
            &json!({"mode": "chat", "input_cost_per_token": "abc"}),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "model \"gpt-4o\": field \"input_cost_per_token\" must be a non-negative number, got \"abc\""
        );
    }

    #[test]
    fn set_field_refuses_fields_spendguard_does_not_read() {
        let mut entry = Entry::default();
        assert!(entry.set_field("supports_vision", &json!(true)).is_err());
        assert!(entry
            .set_field("input_cost_per_token_ultrafast", &json!(1e-6))
            .is_err());
        entry.set_field("max_output_tokens", &json!(8192)).unwrap();
        assert_eq!(entry.max_output_tokens, Some(8_192));
    }
}
