//! Reading what the guard needs from a request body, and writing back the
//! output limit it granted. Every other field passes through untouched.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use crate::client::error::ClientError;
use crate::client::provider::Provider;
use crate::prices::CacheWrite;
use crate::usage::ServiceTier;

/// The parts of a request body a guard reads before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestFacts {
    pub(crate) model: String,
    pub(crate) max_output_tokens: Option<u64>,
    /// How many answers the request asks for, each up to the output limit.
    pub(crate) choices: u64,
    pub(crate) service_tier: ServiceTier,
    pub(crate) cache_write: Option<CacheWrite>,
}

/// Reads the model, output limit, tier and prompt-cache writes of `body`.
pub(crate) fn read_facts(provider: Provider, body: &Value) -> Result<RequestFacts, ClientError> {
    let object = body
        .as_object()
        .ok_or_else(|| ClientError::InvalidRequest {
            field: "body",
            problem: format!(
                "must be a JSON object, not {}",
                crate::json_kind::json_kind(body)
            ),
        })?;
    let model = match object.get("model") {
        Some(Value::String(model)) if !model.trim().is_empty() => model.clone(),
        Some(other) => {
            return Err(ClientError::InvalidRequest {
                field: "model",
                problem: format!(
                    "must be a non-empty string, not {}",
                    crate::json_kind::json_kind(other)
                ),
            })
        }
        None => {
            return Err(ClientError::InvalidRequest {
                field: "model",
                problem: "is missing (for Gemini too: the guard reads it from the body and moves it into the URL)".into(),
            })
        }
    };
    Ok(RequestFacts {
        model,
        max_output_tokens: read_max_output(provider, object)?,
        choices: read_choices(provider, object)?,
        service_tier: read_service_tier(provider, object)?,
        cache_write: (provider == Provider::Anthropic)
            .then(|| anthropic_cache_write(body))
            .flatten(),
    })
}

/// The fields that may carry the output limit, in the order they are read.
const fn max_output_fields(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::OpenAiChat | Provider::OpenAiCompatible => {
            &["max_completion_tokens", "max_tokens"]
        }
        Provider::OpenAiResponses => &["max_output_tokens"],
        Provider::Anthropic => &["max_tokens"],
        Provider::Gemini => &["maxOutputTokens"],
    }
}

/// Where the output-limit fields live: Gemini nests them in `generationConfig`.
fn output_limit_holder(
    provider: Provider,
    object: &Map<String, Value>,
) -> Option<&Map<String, Value>> {
    match provider {
        Provider::Gemini => object.get("generationConfig").and_then(Value::as_object),
        _ => Some(object),
    }
}

fn read_max_output(
    provider: Provider,
    object: &Map<String, Value>,
) -> Result<Option<u64>, ClientError> {
    if let Some(config) = object
        .get("generationConfig")
        .filter(|_| provider == Provider::Gemini)
    {
        if !config.is_object() {
            return Err(ClientError::InvalidRequest {
                field: "generationConfig",
                problem: format!(
                    "must be an object, not {}",
                    crate::json_kind::json_kind(config)
                ),
            });
        }
    }
    let Some(holder) = output_limit_holder(provider, object) else {
        return Ok(None);
    };
    let mut smallest: Option<u64> = None;
    for &field in max_output_fields(provider) {
        match holder.get(field) {
            None | Some(Value::Null) => {}
            Some(value) => {
                let tokens = value.as_u64().ok_or_else(|| ClientError::InvalidRequest {
                    field: "max_tokens",
                    problem: format!(
                        "(`{field}`) must be a non-negative whole number, got {value}"
                    ),
                })?;
                smallest = Some(smallest.map_or(tokens, |s| s.min(tokens)));
            }
        }
    }
    Ok(smallest)
}

/// OpenAI Chat's `n` and Gemini's `generationConfig.candidateCount`: how
/// many answers to generate. The other APIs answer once.
fn read_choices(provider: Provider, object: &Map<String, Value>) -> Result<u64, ClientError> {
    let (holder, field) = match provider {
        Provider::OpenAiChat | Provider::OpenAiCompatible => (Some(object), "n"),
        Provider::Gemini => (output_limit_holder(provider, object), "candidateCount"),
        Provider::OpenAiResponses | Provider::Anthropic => return Ok(1),
    };
    match holder.and_then(|holder| holder.get(field)) {
        None | Some(Value::Null) => Ok(1),
        Some(value) => match value.as_u64() {
            Some(choices) if choices > 0 => Ok(choices),
            _ => Err(ClientError::InvalidRequest {
                field: "n",
                problem: format!(
                    "(`{field}`) must be a whole number of answers, 1 or more, got {value}"
                ),
            }),
        },
    }
}

fn read_service_tier(
    provider: Provider,
    object: &Map<String, Value>,
) -> Result<ServiceTier, ClientError> {
    let asked = match provider {
        Provider::OpenAiChat | Provider::OpenAiResponses | Provider::OpenAiCompatible => {
            object.get("service_tier")
        }
        // Anthropic's `service_tier` ("auto", "standard_only") chooses between
        // standard and a pre-purchased priority capacity billed separately,
        // and Gemini sets no tier in the body: both bill at standard rates.
        Provider::Anthropic | Provider::Gemini => None,
    };
    match asked {
        None | Some(Value::Null) => Ok(ServiceTier::Standard),
        Some(Value::String(name)) => {
            ServiceTier::from_provider_name(name).ok_or_else(|| ClientError::InvalidRequest {
                field: "service_tier",
                problem: format!("names a tier the guard cannot price: {name:?}"),
            })
        }
        Some(other) => Err(ClientError::InvalidRequest {
            field: "service_tier",
            problem: format!(
                "must be a string, not {}",
                crate::json_kind::json_kind(other)
            ),
        }),
    }
}

/// The dearest prompt cache an Anthropic request writes, from any
/// `cache_control` block in it (`{"type": "ephemeral", "ttl": "1h"}`).
fn anthropic_cache_write(value: &Value) -> Option<CacheWrite> {
    match value {
        Value::Object(object) => {
            let here = object.get("cache_control").map(|control| {
                if control.get("ttl").and_then(Value::as_str) == Some("1h") {
                    CacheWrite::OneHour
                } else {
                    CacheWrite::Default
                }
            });
            object
                .values()
                .filter_map(anthropic_cache_write)
                .chain(here)
                .max_by_key(|cache| matches!(cache, CacheWrite::OneHour))
        }
        Value::Array(items) => items
            .iter()
            .filter_map(anthropic_cache_write)
            .max_by_key(|cache| matches!(cache, CacheWrite::OneHour)),
        _ => None,
    }
}

/// The body as it goes on the wire: the granted output limit written into
/// every output-limit field the request used (or the provider's main one),
/// and Gemini's `model` moved out of the body into the URL.
pub(crate) fn wire_body(provider: Provider, body: &Value, max_output_tokens: u64) -> Value {
    let mut body = body.clone();
    let Some(object) = body.as_object_mut() else {
        return body;
    };
    if provider == Provider::Gemini {
        object.remove("model");
    }
    let holder = match provider {
        Provider::Gemini => object
            .entry("generationConfig")
            .or_insert_with(|| json!({}))
            .as_object_mut(),
        _ => Some(object),
    };
    // `read_facts` has already refused a `generationConfig` that is not an object.
    let Some(holder) = holder else {
        return body;
    };
    let fields = max_output_fields(provider);
    let present: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|field| holder.get(*field).is_some_and(|v| !v.is_null()))
        .collect();
    let targets = if present.is_empty() {
        vec![injected_field(provider)]
    } else {
        present
    };
    for field in targets {
        holder.insert(field.to_owned(), json!(max_output_tokens));
    }
    body
}

/// Whether a streamed request will end with a usage report: `false` only
/// when an OpenAI Chat (or compatible) request turns it off with
/// `stream_options: {"include_usage": false}`.
///
/// # Errors
/// [`ClientError::InvalidRequest`] for a `stream_options` the guard cannot
/// add `include_usage` to.
pub(crate) fn stream_reports_usage(provider: Provider, body: &Value) -> Result<bool, ClientError> {
    if !matches!(provider, Provider::OpenAiChat | Provider::OpenAiCompatible) {
        return Ok(true);
    }
    let invalid = |problem: String| ClientError::InvalidRequest {
        field: "stream_options",
        problem,
    };
    match body.get("stream_options") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Object(options)) => match options.get("include_usage") {
            None | Some(Value::Null) | Some(Value::Bool(true)) => Ok(true),
            Some(Value::Bool(false)) => Ok(false),
            Some(other) => Err(invalid(format!(
                "has an `include_usage` that is not true or false but {}",
                crate::json_kind::json_kind(other)
            ))),
        },
        Some(other) => Err(invalid(format!(
            "must be an object, not {}",
            crate::json_kind::json_kind(other)
        ))),
    }
}

/// Asks for a stream: `"stream": true`, and for OpenAI Chat and compatible
/// servers `stream_options.include_usage`, unless `reports_usage` is false
/// (the request turned it off). Gemini streams by its URL alone.
pub(crate) fn ask_to_stream(provider: Provider, wire_body: &mut Value, reports_usage: bool) {
    let Some(object) = wire_body.as_object_mut() else {
        return;
    };
    if provider == Provider::Gemini {
        return;
    }
    object.insert("stream".to_owned(), Value::Bool(true));
    if reports_usage && matches!(provider, Provider::OpenAiChat | Provider::OpenAiCompatible) {
        let options = object.entry("stream_options").or_insert_with(|| json!({}));
        if !options.is_object() {
            *options = json!({});
        }
        if let Some(options) = options.as_object_mut() {
            options.insert("include_usage".to_owned(), Value::Bool(true));
        }
    }
}

/// The field a missing output limit is written to.
const fn injected_field(provider: Provider) -> &'static str {
    match provider {
        // o-series and newer OpenAI models reject `max_tokens`.
        Provider::OpenAiChat => "max_completion_tokens",
        Provider::OpenAiCompatible | Provider::Anthropic => "max_tokens",
        Provider::OpenAiResponses => "max_output_tokens",
        Provider::Gemini => "maxOutputTokens",
    }
}

/// The body in a shape the token counter reads: Responses API bodies
/// (`instructions`, `input`) are rewritten as chat messages.
pub(crate) fn countable_body(provider: Provider, body: &Value) -> Cow<'_, Value> {
    if provider == Provider::OpenAiResponses {
        Cow::Owned(crate::tokens::responses_as_chat(body))
    } else {
        Cow::Borrowed(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_of_an_openai_request() {
        let body = json!({"model": "gpt-4o", "max_tokens": 900, "max_completion_tokens": 500, "service_tier": "flex"});
        let facts = read_facts(Provider::OpenAiChat, &body).unwrap();
        assert_eq!(facts.model, "gpt-4o");
        assert_eq!(facts.max_output_tokens, Some(500));
        assert_eq!(facts.service_tier, ServiceTier::Flex);
    }

    #[test]
    fn choices_are_read_where_each_api_asks_for_them() {
        let chat = json!({"model": "gpt-4o", "n": 8});
        assert_eq!(read_facts(Provider::OpenAiChat, &chat).unwrap().choices, 8);
        assert_eq!(
            read_facts(Provider::OpenAiCompatible, &chat)
                .unwrap()
                .choices,
            8
        );
        // Only Chat Completions has `n`.
        assert_eq!(read_facts(Provider::Anthropic, &chat).unwrap().choices, 1);
        let gemini = json!({"model": "gemini-2.5-pro", "generationConfig": {"candidateCount": 3}});
        assert_eq!(read_facts(Provider::Gemini, &gemini).unwrap().choices, 3);
        let plain = json!({"model": "gpt-4o", "n": null});
        assert_eq!(read_facts(Provider::OpenAiChat, &plain).unwrap().choices, 1);
        for bad in [json!(0), json!(-2), json!(1.5), json!("3")] {
            let err = read_facts(Provider::OpenAiChat, &json!({"model": "gpt-4o", "n": bad}))
                .unwrap_err();
            assert!(err.to_string().contains("`n`"), "{err}");
        }
        let err = read_facts(
            Provider::Gemini,
            &json!({"model": "gemini-2.5-pro", "generationConfig": {"candidateCount": 0}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("candidateCount"), "{err}");
    }

    #[test]
    fn gemini_limits_live_in_generation_config() {
        let body = json!({"model": "gemini-2.5-pro", "generationConfig": {"maxOutputTokens": 256}});
        assert_eq!(
            read_facts(Provider::Gemini, &body)
                .unwrap()
                .max_output_tokens,
            Some(256)
        );
        let wire = wire_body(Provider::Gemini, &body, 100);
        assert_eq!(wire, json!({"generationConfig": {"maxOutputTokens": 100}}));
    }

    #[test]
    fn missing_limits_are_injected_and_present_ones_clamped() {
        let body = json!({"model": "gpt-4o", "messages": [], "extra": {"kept": true}});
        let wire = wire_body(Provider::OpenAiChat, &body, 4_096);
        assert_eq!(wire["max_completion_tokens"], 4_096);
        assert_eq!(wire["extra"], json!({"kept": true}));
        let both = json!({"model": "m", "max_tokens": 9_000, "max_completion_tokens": 9_000});
        let wire = wire_body(Provider::OpenAiCompatible, &both, 1_000);
        assert_eq!(
            (
                wire["max_tokens"].as_u64(),
                wire["max_completion_tokens"].as_u64()
            ),
            (Some(1_000), Some(1_000))
        );
        let anthropic = wire_body(Provider::Anthropic, &json!({"model": "claude"}), 2_048);
        assert_eq!(anthropic["max_tokens"], 2_048);
    }

    #[test]
    fn bad_fields_are_named() {
        let err = read_facts(
            Provider::OpenAiChat,
            &json!({"model": "gpt-4o", "max_tokens": -1}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("max_tokens"), "{err}");
        let err = read_facts(Provider::Anthropic, &json!({"messages": []})).unwrap_err();
        assert!(err.to_string().contains("`model` is missing"), "{err}");
        let err = read_facts(
            Provider::OpenAiChat,
            &json!({"model": "gpt-4o", "service_tier": "turbo"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("turbo"), "{err}");
        let err = read_facts(Provider::OpenAiChat, &json!(["not", "an", "object"])).unwrap_err();
        assert!(err.to_string().contains("an array"), "{err}");
    }

    #[test]
    fn anthropic_cache_control_is_found_anywhere() {
        let body = json!({"model": "claude", "system": [
            {"type": "text", "text": "big", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "bigger", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ]});
        assert_eq!(
            read_facts(Provider::Anthropic, &body).unwrap().cache_write,
            Some(CacheWrite::OneHour)
        );
        let plain = json!({"model": "claude", "messages": []});
        assert_eq!(
            read_facts(Provider::Anthropic, &plain).unwrap().cache_write,
            None
        );
    }

    #[test]
    fn streams_are_asked_for_with_a_usage_report() {
        let body = json!({"model": "gpt-4o", "stream_options": {"include_obfuscation": false}});
        assert!(stream_reports_usage(Provider::OpenAiChat, &body).unwrap());
        let mut wire = body.clone();
        ask_to_stream(Provider::OpenAiChat, &mut wire, true);
        assert_eq!(
            wire,
            json!({"model": "gpt-4o", "stream": true,
                "stream_options": {"include_obfuscation": false, "include_usage": true}})
        );

        let off =
            json!({"model": "m", "stream": false, "stream_options": {"include_usage": false}});
        assert!(!stream_reports_usage(Provider::OpenAiCompatible, &off).unwrap());
        let mut wire = off.clone();
        ask_to_stream(Provider::OpenAiCompatible, &mut wire, false);
        assert_eq!(wire["stream"], true);
        assert_eq!(wire["stream_options"], json!({"include_usage": false}));

        for provider in [Provider::OpenAiResponses, Provider::Anthropic] {
            let mut wire = json!({"model": "m"});
            ask_to_stream(provider, &mut wire, true);
            assert_eq!(wire, json!({"model": "m", "stream": true}), "{provider}");
        }
        let mut gemini = json!({"contents": []});
        ask_to_stream(Provider::Gemini, &mut gemini, true);
        assert_eq!(gemini, json!({"contents": []}));
    }

    #[test]
    fn stream_options_that_cannot_be_added_to_are_refused() {
        let err = stream_reports_usage(
            Provider::OpenAiChat,
            &json!({"model": "m", "stream_options": "yes"}),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`stream_options` must be an object"),
            "{err}"
        );
        let err = stream_reports_usage(
            Provider::OpenAiChat,
            &json!({"model": "m", "stream_options": {"include_usage": "no"}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("include_usage"), "{err}");
        // Only Chat Completions reads it.
        assert!(stream_reports_usage(Provider::Anthropic, &json!({"stream_options": 1})).unwrap());
    }

    #[test]
    fn only_responses_bodies_are_rewritten() {
        let body = json!({"model": "gpt-4o", "input": "Hi"});
        let counted = countable_body(Provider::OpenAiResponses, &body);
        assert_eq!(counted["messages"][0]["content"], "Hi");
        assert!(matches!(
            countable_body(Provider::OpenAiChat, &body),
            Cow::Borrowed(_)
        ));
    }
}
