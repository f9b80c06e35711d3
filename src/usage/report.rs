//! [`UsageReport`]: everything a response says about what it cost.

use serde_json::Value;

use crate::money::Usd;
use crate::usage::json::JsonObject;
use crate::usage::provider_cost::provider_cost;
use crate::usage::{Usage, UsageError, UsageFormat};

/// A response's usage, and what else it says about its cost: a service
/// tier spendguard cannot price, and the provider's own charge.
///
/// Where [`Usage::from_response`] refuses a tier it does not know (OpenAI's
/// `scale`, a name added after this release), a report keeps the call: its
/// `usage` is read as if no tier were named and `unpriced_tier` holds the
/// name, so the call can be billed at the dearest price the model has
/// rather than not at all.
///
/// ```
/// use serde_json::json;
/// use spendguard::usage::UsageReport;
/// use spendguard::Usd;
/// use spendguard::usage::UsageFormat;
///
/// let body = json!({
///     "model": "grok-4.3",
///     "service_tier": "scale",
///     "usage": {
///         "prompt_tokens": 1_000,
///         "completion_tokens": 200,
///         "total_tokens": 1_500,
///         "completion_tokens_details": { "reasoning_tokens": 300 },
///         "cost_in_usd_ticks": 33_000_000
///     }
/// });
/// let report = UsageReport::from_response(UsageFormat::OpenAiChat, &body)?;
/// assert_eq!(report.usage.reasoning_tokens, 300);
/// assert_eq!(report.unpriced_tier.as_deref(), Some("scale"));
/// assert_eq!(report.provider_cost, Some(Usd::from_nanos(3_300_000)));
/// # Ok::<(), spendguard::usage::UsageError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UsageReport {
    /// The tokens the call used. When `unpriced_tier` is set, its
    /// `service_tier` is the standard tier, which is *not* what was billed.
    pub usage: Usage,
    /// The service tier the provider named, when spendguard cannot price
    /// it.
    pub unpriced_tier: Option<String>,
    /// What the provider says it charged, where it says so (see the table
    /// below); rounded up to the nano-dollar.
    ///
    /// | Provider | Field |
    /// |---|---|
    /// | xAI | `usage.cost_in_usd_ticks` (1 USD = 10^10 ticks) |
    /// | OpenRouter | `usage.cost`, plus `usage.cost_details.upstream_inference_cost` when `usage.is_byok` |
    /// | Perplexity | `usage.cost.total_cost` |
    pub provider_cost: Option<Usd>,
}

impl UsageReport {
    /// Reads the report of a whole response body (or a stream's final
    /// chunk) in `format`.
    ///
    /// # Errors
    /// Whatever [`Usage::from_response`] returns, except
    /// [`UsageError::UnknownServiceTier`]; and [`UsageError::InvalidCost`]
    /// when a cost field is present but not a non-negative amount of US
    /// dollars.
    pub fn from_response(format: UsageFormat, body: &Value) -> Result<UsageReport, UsageError> {
        let (usage, unpriced_tier) = match Usage::from_response(format, body) {
            Ok(usage) => (usage, None),
            Err(UsageError::UnknownServiceTier { path, name, .. }) => {
                // Read again without the tier, so each format's reader stays
                // the one place that knows its fields. Rare, so the copy is
                // cheap overall.
                let untiered = without_field(body, &path);
                (Usage::from_response(format, &untiered)?, Some(name))
            }
            Err(error) => return Err(error),
        };
        let provider_cost = match format {
            UsageFormat::OpenAiChat | UsageFormat::OpenAiResponses => {
                provider_cost(&JsonObject::root(format, body)?.usage("usage")?)?
            }
            _ => None,
        };
        Ok(UsageReport {
            usage,
            unpriced_tier,
            provider_cost,
        })
    }
}

impl From<Usage> for UsageReport {
    /// A usage with nothing else reported: a priced tier, no provider cost.
    fn from(usage: Usage) -> Self {
        UsageReport {
            usage,
            unpriced_tier: None,
            provider_cost: None,
        }
    }
}

/// A copy of `value` without the field at a dotted `path` of objects (the
/// path an [`UsageError::UnknownServiceTier`] names), to read it again as if
/// that tier had not been named.
pub(crate) fn without_field(value: &Value, path: &str) -> Value {
    let mut copy = value.clone();
    remove_at(&mut copy, path);
    copy
}

/// Removes the field at a dotted `path` of objects, if it is there.
fn remove_at(value: &mut Value, path: &str) {
    let (parents, key) = path.rsplit_once('.').unwrap_or(("", path));
    let mut object = value;
    for parent in parents.split('.').filter(|p| !p.is_empty()) {
        match object.get_mut(parent) {
            Some(inner) => object = inner,
            None => return,
        }
    }
    if let Some(fields) = object.as_object_mut() {
        fields.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::usage::ServiceTier;

    #[test]
    fn an_unknown_tier_is_kept_by_name_in_every_format() {
        let bodies = [
            (
                UsageFormat::OpenAiChat,
                json!({ "service_tier": "scale", "usage": { "prompt_tokens": 5, "completion_tokens": 2 } }),
            ),
            (
                UsageFormat::OpenAiResponses,
                json!({ "service_tier": "scale", "usage": { "input_tokens": 5, "output_tokens": 2 } }),
            ),
            (
                UsageFormat::AnthropicMessages,
                json!({ "usage": { "input_tokens": 5, "output_tokens": 2, "service_tier": "scale" } }),
            ),
            (
                UsageFormat::Gemini,
                json!({ "usageMetadata": { "promptTokenCount": 5, "candidatesTokenCount": 2, "trafficType": "scale" } }),
            ),
        ];
        for (format, body) in bodies {
            let report = UsageReport::from_response(format, &body).unwrap();
            assert_eq!(report.usage, Usage::new(5, 2), "{format}");
            assert_eq!(report.usage.service_tier, ServiceTier::Standard);
            assert_eq!(report.unpriced_tier.as_deref(), Some("scale"), "{format}");
        }
    }

    #[test]
    fn other_errors_stay_errors() {
        let body = json!({ "service_tier": "scale", "usage": { "prompt_tokens": -1, "completion_tokens": 2 } });
        assert!(matches!(
            UsageReport::from_response(UsageFormat::OpenAiChat, &body),
            Err(UsageError::InvalidCounter { .. })
        ));
        let cost = json!({ "usage": { "prompt_tokens": 1, "completion_tokens": 2, "cost": -0.5 } });
        assert!(matches!(
            UsageReport::from_response(UsageFormat::OpenAiChat, &cost),
            Err(UsageError::InvalidCost { .. })
        ));
    }

    #[test]
    fn a_known_tier_has_no_mark() {
        let body = json!({ "service_tier": "flex", "usage": { "prompt_tokens": 5, "completion_tokens": 2 } });
        let report = UsageReport::from_response(UsageFormat::OpenAiChat, &body).unwrap();
        assert_eq!(report.usage.service_tier, ServiceTier::Flex);
        assert_eq!((report.unpriced_tier, report.provider_cost), (None, None));
    }
}
