//! A whole JSON answer read for its usage alone: the top-level fields the
//! usage readers look at are kept, and everything else (the answer's text,
//! its choices, tool calls and logprobs) is checked as JSON and skipped,
//! never built. The caller gets the provider's bytes, not a parsed body, so
//! building the rest would be work thrown away.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The top-level fields [`UsageReport::from_response`](crate::usage::UsageReport::from_response)
/// reads, in every format: OpenAI's `usage` (its provider cost inside) and
/// `service_tier`, Anthropic's `usage`, Gemini's `usageMetadata`.
const USAGE_FIELDS: [&str; 3] = ["usage", "service_tier", "usageMetadata"];

/// `bytes` as the JSON value the usage readers see: an object with only
/// [`USAGE_FIELDS`], or, for a body that is no object, a value of the same
/// kind (which the readers refuse by its kind).
///
/// # Errors
/// The parser's error when `bytes` is not one JSON value.
pub(crate) fn read(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = UsageFields.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// The answer's top-level value, only its usage fields built.
struct UsageFields;

impl<'de> DeserializeSeed<'de> for UsageFields {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UsageFields {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(field) = map.next_key_seed(FieldName)? {
            match field {
                // A repeated field is read as its last value, as a parsed body keeps it.
                Some(name) => {
                    kept.insert(name.to_owned(), map.next_value()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Array(Vec::new()))
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::String(String::new()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// A top-level field's name: which of [`USAGE_FIELDS`] it is, if any,
/// compared where it lies in the body, without a copy.
struct FieldName;

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Option<&'static str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldName {
    type Value = Option<&'static str>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
        Ok(USAGE_FIELDS.into_iter().find(|field| *field == name))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::usage::{UsageFormat, UsageReport};

    /// What the usage readers make of `body` read whole and read for its
    /// usage fields: the same, error or report.
    fn read_both_ways(format: UsageFormat, body: &Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let fields = read(&bytes).unwrap();
        assert_eq!(
            UsageReport::from_response(format, &fields),
            UsageReport::from_response(format, body),
            "{body}"
        );
    }

    #[test]
    fn every_format_reads_the_same_usage_from_the_fields_kept() {
        let chat = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
            "service_tier": "flex",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi \"there\""},
                "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 4}, "cost": 0.000_12},
        });
        read_both_ways(UsageFormat::OpenAiChat, &chat);
        let responses = json!({
            "object": "response", "output": [{"type": "message", "content": []}],
            "service_tier": "default",
            "usage": {"input_tokens": 75, "output_tokens": 20, "total_tokens": 95,
                "output_tokens_details": {"reasoning_tokens": 10}},
        });
        read_both_ways(UsageFormat::OpenAiResponses, &responses);
        let anthropic = json!({
            "type": "message", "content": [{"type": "text", "text": "Hi"}],
            "usage": {"input_tokens": 20, "output_tokens": 5, "cache_read_input_tokens": 3,
                "service_tier": "standard"},
        });
        read_both_ways(UsageFormat::AnthropicMessages, &anthropic);
        let gemini = json!({
            "candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4,
                "totalTokenCount": 13, "trafficType": "ON_DEMAND"},
            "modelVersion": "gemini-2.5-pro",
        });
        read_both_ways(UsageFormat::Gemini, &gemini);
    }

    #[test]
    fn bad_usage_is_refused_the_same_way() {
        for body in [
            json!({"choices": []}),
            json!({"usage": {"prompt_tokens": -1, "completion_tokens": 3}}),
            json!({"usage": {"prompt_tokens": 1, "completion_tokens": 3}, "service_tier": "warp"}),
            json!({"usage": "lots"}),
            json!([{"usage": {"prompt_tokens": 1, "completion_tokens": 1}}]),
            json!("usage"),
            json!(42),
            json!(null),
        ] {
            read_both_ways(UsageFormat::OpenAiChat, &body);
        }
    }

    #[test]
    fn a_repeated_field_counts_at_its_last_value() {
        let bytes = br#"{"usage": {"prompt_tokens": 1, "completion_tokens": 1},
            "usage": {"prompt_tokens": 7, "completion_tokens": 2}}"#;
        let whole: Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(read(bytes).unwrap(), whole);
    }

    #[test]
    fn what_is_not_one_json_value_is_an_error() {
        for bytes in [
            &b"not json"[..],
            b"{\"usage\": {\"prompt_tokens\": 1}",
            b"{\"choices\": [1, 2,], \"usage\": {}}",
            b"{\"usage\": {}} trailing",
            b"\x01garbled\x01",
            b"",
        ] {
            assert!(read(bytes).is_err(), "{}", String::from_utf8_lossy(bytes));
            assert!(serde_json::from_slice::<Value>(bytes).is_err());
        }
    }
}
