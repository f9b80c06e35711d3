//! What each provider's stream events say about spend: the output text they
//! carry, the usage they report, and which event is the last.
//!
//! The table on `GuardedStream` summarises them; the functions below are
//! the full list.
//!
//! Audio itself (`response.audio.delta`, `delta.audio.data`) is base64, not
//! text: counting it as text would be wildly off, so only its transcript is
//! counted. Errors sent inside a stream (`error` events, an `error` object)
//! are remembered to explain why the stream ended.

use serde_json::Value;

use crate::client::engine::stream::meter::Meter;
use crate::client::provider::Provider;
use crate::usage::{UsageFormat, UsageReport};

/// Takes one event's JSON into account.
pub(super) fn read(provider: Provider, event: &Value, meter: &mut Meter) {
    match provider {
        Provider::OpenAiChat | Provider::OpenAiCompatible => read_chat(event, meter),
        Provider::OpenAiResponses => read_responses(event, meter),
        Provider::Anthropic => read_anthropic(event, meter),
        Provider::Gemini => read_gemini(event, meter),
    }
}

/// A part of the answer, counted apart from the others: `slot` within
/// choice or output item `index`.
fn part(index: u64, slot: u64) -> u64 {
    index.saturating_mul(1 << 16).saturating_add(slot)
}

fn index_or(value: &Value, field: &str, position: usize) -> u64 {
    value
        .get(field)
        .and_then(Value::as_u64)
        .unwrap_or(position as u64)
}

// One pass over each object rather than a lookup per field: this runs for
// every chunk, and a lookup in a JSON map compares strings key by key.
fn read_chat(event: &Value, meter: &mut Meter) {
    let Some(event_fields) = event.as_object() else {
        return;
    };
    let mut reports_usage = false;
    for (field, value) in event_fields {
        match field.as_str() {
            "choices" => {
                for (position, choice) in value.as_array().into_iter().flatten().enumerate() {
                    read_chat_choice(choice, position, meter);
                }
            }
            "usage" => reports_usage = !value.is_null(),
            "error" => read_error_object(value, meter),
            _ => {}
        }
    }
    if reports_usage {
        meter.report(UsageReport::from_response(UsageFormat::OpenAiChat, event));
    }
}

fn read_chat_choice(choice: &Value, position: usize, meter: &mut Meter) {
    let Some(choice) = choice.as_object() else {
        return;
    };
    let (mut index, mut delta) = (position as u64, None);
    for (field, value) in choice {
        match field.as_str() {
            "index" => index = value.as_u64().unwrap_or(index),
            "delta" => delta = value.as_object(),
            _ => {}
        }
    }
    for (field, value) in delta.into_iter().flatten() {
        read_chat_delta(field, value, index, meter);
    }
}

fn read_chat_delta(field: &str, value: &Value, index: u64, meter: &mut Meter) {
    match field {
        "content" | "refusal" | "reasoning_content" | "reasoning" => {
            if let Some(text) = value.as_str() {
                meter.output(index, part(index, 0), text);
            }
        }
        "audio" => {
            if let Some(text) = value.get("transcript").and_then(Value::as_str) {
                meter.output(index, part(index, 1), text);
            }
        }
        "function_call" => read_function(value, index, part(index, 2), meter),
        "tool_calls" => {
            for (position, call) in value.as_array().into_iter().flatten().enumerate() {
                if let Some(function) = call.get("function") {
                    let slot = 3 + index_or(call, "index", position);
                    read_function(function, index, part(index, slot), meter);
                }
            }
        }
        _ => {}
    }
}

fn read_function(function: &Value, choice: u64, part: u64, meter: &mut Meter) {
    for field in ["name", "arguments"] {
        if let Some(text) = function.get(field).and_then(Value::as_str) {
            meter.output(choice, part, text);
        }
    }
}

/// Responses events whose `delta` is text the model wrote.
const RESPONSES_TEXT_DELTAS: [&str; 9] = [
    "response.output_text.delta",
    "response.refusal.delta",
    "response.function_call_arguments.delta",
    "response.custom_tool_call_input.delta",
    "response.mcp_call_arguments.delta",
    "response.code_interpreter_call_code.delta",
    "response.reasoning_text.delta",
    "response.reasoning_summary_text.delta",
    "response.audio.transcript.delta",
];

fn read_responses(event: &Value, meter: &mut Meter) {
    let Some(kind) = event.get("type").and_then(Value::as_str) else {
        return;
    };
    match kind {
        "response.completed" | "response.incomplete" | "response.failed" => {
            let response = event.get("response").unwrap_or(&Value::Null);
            meter.report(UsageReport::from_response(
                UsageFormat::OpenAiResponses,
                response,
            ));
            if let Some(message) = response.pointer("/error/message").and_then(Value::as_str) {
                meter.provider_error(message);
            }
            meter.finish();
        }
        "error" => {
            let message = event
                .get("message")
                .or_else(|| event.pointer("/error/message"))
                .and_then(Value::as_str);
            meter.provider_error(message.unwrap_or("an `error` event"));
        }
        _ if RESPONSES_TEXT_DELTAS.contains(&kind) => {
            if let Some(text) = event.get("delta").and_then(Value::as_str) {
                let item = index_or(event, "output_index", 0);
                let within = event
                    .get("content_index")
                    .or_else(|| event.get("summary_index"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                // One answer, whatever its output items: its limit covers them all.
                meter.output(0, part(item, within), text);
            }
        }
        _ => {}
    }
}

fn read_anthropic(event: &Value, meter: &mut Meter) {
    let Some(kind) = event.get("type").and_then(Value::as_str) else {
        return;
    };
    match kind {
        "content_block_delta" => {
            let Some(delta) = event.get("delta") else {
                return;
            };
            let text = ["text", "partial_json", "thinking"]
                .iter()
                .find_map(|field| delta.get(*field).and_then(Value::as_str));
            if let Some(text) = text {
                meter.output(0, index_or(event, "index", 0), text);
            }
        }
        "message_start" | "message_delta" => meter.anthropic_usage(event),
        "message_stop" => meter.finish(),
        "error" => {
            let message = event.pointer("/error/message").and_then(Value::as_str);
            meter.provider_error(message.unwrap_or("an `error` event"));
        }
        _ => {}
    }
}

fn read_gemini(event: &Value, meter: &mut Meter) {
    if let Some(candidates) = event.get("candidates").and_then(Value::as_array) {
        for (position, candidate) in candidates.iter().enumerate() {
            let index = index_or(candidate, "index", position);
            let parts = candidate
                .pointer("/content/parts")
                .and_then(Value::as_array);
            for piece in parts.into_iter().flatten() {
                if let Some(text) = piece.get("text").and_then(Value::as_str) {
                    meter.output(index, part(index, 0), text);
                } else if let Some(call) = piece.get("functionCall") {
                    // Sent whole, as JSON: count its JSON text.
                    meter.output(index, part(index, 1), &call.to_string());
                } else if let Some(code) = piece
                    .pointer("/executableCode/code")
                    .and_then(Value::as_str)
                {
                    meter.output(index, part(index, 2), code);
                }
            }
            if candidate.get("finishReason").is_some_and(Value::is_string) {
                meter.finish();
            }
        }
    }
    if event.pointer("/promptFeedback/blockReason").is_some() {
        meter.finish();
    }
    // Vertex AI sends `usageMetadata` with only `trafficType` on every chunk
    // but the last: that is no usage report.
    if let Some(metadata) = event.get("usageMetadata") {
        if metadata.get("promptTokenCount").is_some() {
            meter.report(UsageReport::from_response(UsageFormat::Gemini, event));
        }
    }
    if let Some(error) = event.get("error") {
        read_error_object(error, meter);
    }
}

/// OpenAI's and Gemini's mid-stream errors: `"error": {"message": …}`.
fn read_error_object(error: &Value, meter: &mut Meter) {
    if !error.is_null() {
        let message = error.get("message").and_then(Value::as_str);
        meter.provider_error(message.unwrap_or("an `error` object"));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::engine::stream::meter::Ahead;
    use crate::tokens::{count_text, Exactness, TokenCount, TokenCounter};

    fn output_of(provider: Provider, events: &[Value]) -> u64 {
        let mut meter = Meter::new(TokenCounter::new(), "gpt-4o", 4_096, 1);
        for event in events {
            read(provider, event, &mut meter);
        }
        let prompt = TokenCount {
            tokens: 1,
            exactness: Exactness::Exact,
        };
        meter.usage_counted(prompt, Ahead::Now).output_tokens
    }

    fn tokens(text: &str) -> u64 {
        count_text("gpt-4o", text).tokens
    }

    #[test]
    fn responses_tool_arguments_and_reasoning_summaries_count_but_audio_does_not() {
        let output = output_of(
            Provider::OpenAiResponses,
            &[
                json!({"type": "response.reasoning_summary_text.delta", "output_index": 0,
                    "summary_index": 0, "delta": "Checking the weather."}),
                json!({"type": "response.function_call_arguments.delta", "output_index": 1,
                    "item_id": "fc_1", "delta": "{\"city\": \"Paris\"}"}),
                json!({"type": "response.audio.delta", "delta": "UklGRiQAAABXQVZFZm10IBAAAAABAAEA"}),
                json!({"type": "response.output_text.annotation.added", "annotation": {"text": "x"}}),
            ],
        );
        assert_eq!(
            output,
            tokens("Checking the weather.") + tokens("{\"city\": \"Paris\"}")
        );
    }

    #[test]
    fn gemini_function_calls_and_thoughts_count() {
        let call = json!({"name": "get_weather", "args": {"city": "Paris"}});
        let output = output_of(
            Provider::Gemini,
            &[
                json!({"candidates": [{"content": {"role": "model", "parts": [
                {"text": "Let me think.", "thought": true},
                {"functionCall": call}
            ]}, "index": 0}]}),
            ],
        );
        assert_eq!(output, tokens("Let me think.") + tokens(&call.to_string()));
    }

    #[test]
    fn anthropic_thinking_and_tool_input_count_but_signatures_do_not() {
        let output = output_of(
            Provider::Anthropic,
            &[
                json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": "Let me solve this step by step."}}),
                json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}),
                json!({"type": "content_block_delta", "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": "{\"location\": \"Paris\"}"}}),
            ],
        );
        assert_eq!(
            output,
            tokens("Let me solve this step by step.") + tokens("{\"location\": \"Paris\"}")
        );
    }
}
