//! What a provider says it charged for a call, read from the response's
//! `usage` object where the provider documents one:
//!
//! | Provider | Field | Unit |
//! |---|---|---|
//! | xAI | `usage.cost_in_usd_ticks` | 10^-10 USD, an integer ([cost tracking]) |
//! | OpenRouter | `usage.cost` | USD ("credits"), a number ([usage accounting]) |
//! | OpenRouter, own key | `usage.cost` + `usage.cost_details.upstream_inference_cost` when `usage.is_byok` is `true` | USD |
//! | Perplexity | `usage.cost.total_cost` | USD, a number ([Perplexity API]) |
//!
//! A figure is rounded up to the next nano-dollar, never down. A field that
//! is present but not a non-negative amount of US dollars is an error, not
//! a charge of zero.
//!
//! [cost tracking]: https://docs.x.ai/developers/cost-tracking
//! [usage accounting]: https://openrouter.ai/docs/use-cases/usage-accounting
//! [Perplexity API]: https://docs.perplexity.ai/api-reference/chat-completions-post

use std::fmt;

use serde_json::Value;

use crate::money::Usd;
use crate::usage::json::JsonObject;
use crate::usage::UsageError;

/// xAI's ticks in one nano-dollar (1 USD = 10^10 ticks).
const TICKS_PER_NANO: u64 = 10;

/// The provider's own charge reported in `usage`, if it reports one; the
/// higher figure when it reports two.
pub(super) fn provider_cost(usage: &JsonObject<'_>) -> Result<Option<Usd>, UsageError> {
    let ticks = usage
        .field("cost_in_usd_ticks")
        .map(|value| ticks(usage, value))
        .transpose()?;
    let dollars = match usage.field("cost") {
        None => None,
        Some(Value::Object(_)) => usage
            .optional_object("cost")?
            .map(|breakdown| perplexity_total(&breakdown))
            .transpose()?,
        Some(value) => Some(openrouter_cost(usage, value)?),
    };
    Ok(ticks.max(dollars))
}

/// xAI's integer ticks, in nano-dollars rounded up.
fn ticks(usage: &JsonObject<'_>, value: &Value) -> Result<Usd, UsageError> {
    let invalid = |problem| usage.invalid_cost("cost_in_usd_ticks", problem, value);
    let Value::Number(number) = value else {
        return Err(invalid(CostProblem::NotANumber));
    };
    match number.as_u64() {
        Some(ticks) => Ok(Usd::from_nanos(ticks.div_ceil(TICKS_PER_NANO))),
        None => Err(invalid(match number.as_f64() {
            Some(float) if float < 0.0 => CostProblem::Negative,
            Some(float) if float.fract() == 0.0 => CostProblem::TooLarge,
            _ => CostProblem::NotAnInteger,
        })),
    }
}

/// OpenRouter's `cost`, plus what the upstream provider charged the
/// caller's own key, which `cost` leaves out.
fn openrouter_cost(usage: &JsonObject<'_>, value: &Value) -> Result<Usd, UsageError> {
    let cost = dollars(usage, "cost", value)?;
    if usage.field("is_byok") != Some(&Value::Bool(true)) {
        return Ok(cost);
    }
    let Some(details) = usage.optional_object("cost_details")? else {
        return Ok(cost);
    };
    let upstream = match details.field("upstream_inference_cost") {
        Some(value) => dollars(&details, "upstream_inference_cost", value)?,
        None => Usd::ZERO,
    };
    Ok(cost.saturating_add(upstream))
}

/// Perplexity's `cost` breakdown: its `total_cost`, in US dollars.
fn perplexity_total(breakdown: &JsonObject<'_>) -> Result<Usd, UsageError> {
    if let Some(currency) = breakdown.field("currency") {
        if currency.as_str() != Some("USD") {
            return Err(breakdown.invalid_cost("currency", CostProblem::NotUsd, currency));
        }
    }
    match breakdown.field("total_cost") {
        Some(value) => dollars(breakdown, "total_cost", value),
        None => Err(breakdown.missing("total_cost")),
    }
}

/// A JSON number of dollars, rounded up to the nano-dollar.
fn dollars(object: &JsonObject<'_>, key: &'static str, value: &Value) -> Result<Usd, UsageError> {
    let invalid = |problem| object.invalid_cost(key, problem, value);
    let Some(float) = value.as_f64() else {
        return Err(invalid(CostProblem::NotANumber));
    };
    if float < 0.0 {
        return Err(invalid(CostProblem::Negative));
    }
    Usd::from_dollars_rounded_up(float).map_err(|_| invalid(CostProblem::TooLarge))
}

impl JsonObject<'_> {
    fn invalid_cost(&self, key: &'static str, problem: CostProblem, value: &Value) -> UsageError {
        UsageError::InvalidCost {
            format: self.format(),
            path: self.path_of(key).to_string(),
            problem,
            value: value.to_string(),
        }
    }
}

/// What is wrong with a cost a provider reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CostProblem {
    /// Below zero.
    Negative,
    /// A string, boolean, array or object where a number belongs.
    NotANumber,
    /// Ticks with a fractional part (ticks are whole).
    NotAnInteger,
    /// More than a billion dollars.
    TooLarge,
    /// In a currency other than US dollars.
    NotUsd,
}

impl fmt::Display for CostProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CostProblem::Negative => "is negative",
            CostProblem::NotANumber => "is not a number",
            CostProblem::NotAnInteger => "is not a whole number of ticks",
            CostProblem::TooLarge => "is more than a billion dollars",
            CostProblem::NotUsd => "is not US dollars",
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::usage::UsageFormat;

    fn cost(body: Value) -> Result<Option<Usd>, UsageError> {
        let root = JsonObject::root(UsageFormat::OpenAiChat, &body)?;
        provider_cost(&root.usage("usage")?)
    }

    fn problem(body: Value) -> (String, CostProblem) {
        match cost(body) {
            Err(UsageError::InvalidCost { path, problem, .. }) => (path, problem),
            other => panic!("expected an invalid cost, got {other:?}"),
        }
    }

    #[test]
    fn xai_ticks_round_up_to_the_nano_dollar() {
        let body = json!({ "usage": { "cost_in_usd_ticks": 37_756_001 } });
        assert_eq!(cost(body).unwrap(), Some(Usd::from_nanos(3_775_601)));
        let free = json!({ "usage": { "cost_in_usd_ticks": 0 } });
        assert_eq!(cost(free).unwrap(), Some(Usd::ZERO));
    }

    #[test]
    fn openrouter_dollars_and_own_key_upstream_cost() {
        let credits = json!({ "usage": { "cost": 0.000_123_456_7, "is_byok": false,
            "cost_details": { "upstream_inference_cost": 0.000_123_456_7 } } });
        assert_eq!(cost(credits).unwrap(), Some(Usd::from_nanos(123_457)));
        let own_key = json!({ "usage": { "cost": 0.000_05, "is_byok": true,
            "cost_details": { "upstream_inference_cost": 0.001 } } });
        assert_eq!(cost(own_key).unwrap(), Some(Usd::from_nanos(1_050_000)));
    }

    #[test]
    fn perplexity_total_cost() {
        let body = json!({ "usage": { "cost": {
            "input_cost": 0.000_01, "output_cost": 0.000_2, "request_cost": 0.005,
            "total_cost": 0.005_21, "currency": "USD"
        } } });
        assert_eq!(cost(body).unwrap(), Some(Usd::from_nanos(5_210_000)));
    }

    #[test]
    fn no_cost_field_is_no_figure() {
        assert_eq!(cost(json!({ "usage": { "cost": null } })).unwrap(), None);
        assert_eq!(cost(json!({ "usage": {} })).unwrap(), None);
    }

    #[test]
    fn two_figures_settle_at_the_higher() {
        let body = json!({ "usage": { "cost": 0.02, "cost_in_usd_ticks": 100_000_000 } });
        assert_eq!(cost(body).unwrap(), Some(Usd::from_cents(2)));
    }

    #[test]
    fn bad_costs_are_errors_not_zero() {
        let cases = [
            (
                json!({ "cost": -0.01 }),
                "usage.cost",
                CostProblem::Negative,
            ),
            (json!({ "cost": -1 }), "usage.cost", CostProblem::Negative),
            (
                json!({ "cost": "NaN" }),
                "usage.cost",
                CostProblem::NotANumber,
            ),
            (
                json!({ "cost": true }),
                "usage.cost",
                CostProblem::NotANumber,
            ),
            (json!({ "cost": 1e12 }), "usage.cost", CostProblem::TooLarge),
            (
                json!({ "cost_in_usd_ticks": -5 }),
                "usage.cost_in_usd_ticks",
                CostProblem::Negative,
            ),
            (
                json!({ "cost_in_usd_ticks": 1.5 }),
                "usage.cost_in_usd_ticks",
                CostProblem::NotAnInteger,
            ),
            (
                json!({ "cost_in_usd_ticks": "10" }),
                "usage.cost_in_usd_ticks",
                CostProblem::NotANumber,
            ),
            (
                json!({ "cost": { "total_cost": 1.0, "currency": "EUR" } }),
                "usage.cost.currency",
                CostProblem::NotUsd,
            ),
            (
                json!({ "cost": 0.1, "is_byok": true, "cost_details": { "upstream_inference_cost": -2 } }),
                "usage.cost_details.upstream_inference_cost",
                CostProblem::Negative,
            ),
        ];
        for (usage, path, expected) in cases {
            assert_eq!(
                problem(json!({ "usage": usage })),
                (path.to_owned(), expected),
                "{usage}"
            );
        }
        assert!(matches!(
            cost(json!({ "usage": { "cost": { "currency": "USD" } } })),
            Err(UsageError::MissingField { .. })
        ));
    }
}
