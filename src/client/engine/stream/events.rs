//! What each provider's stream events say about spend: the output text they
//! carry, the usage they report, and which event is the last.
//!
//! The table on `GuardedStream` summarises them; the readers below are
//! the full list.
//!
//! Audio itself (`response.audio.delta`, `delta.audio.data`) is base64, not
//! text: counting it as text would be wildly off, so only its transcript is
//! counted. Errors sent inside a stream (`error` events, an `error` object)
//! are remembered to explain why the stream ended.
//!
//! Each event is deserialized into a small struct of what the meter reads
//! (the [`lenient`](super::lenient) shapes), straight from its bytes or from
//! the `Value` the caller gets anyway; the rest is parsed and dropped. An
//! event is read whole before the meter sees any of it, so one that is not
//! JSON leaves the meter as it was. The events that carry usage (one or
//! two a stream, and Gemini's `usageMetadata`) are given to the usage
//! readers as a `Value`.

use std::borrow::Cow;

use serde::de::{Deserialize, MapAccess};
use serde_json::Value;

use crate::client::engine::stream::lenient::{
    Count, Fields, List, NotNull, NullOr, Object, Skip, Text,
};
use crate::client::engine::stream::meter::Meter;
use crate::client::provider::Provider;
use crate::usage::{UsageFormat, UsageReport};

/// One event's JSON: its bytes, or the `Value` already parsed from them.
#[derive(Debug, Clone, Copy)]
pub(super) enum EventJson<'a> {
    /// The `data:` bytes as the provider sent them: what the tower layer
    /// and the middleware pass on (the `exchange` feature).
    #[cfg_attr(not(feature = "exchange"), allow(dead_code))]
    Bytes(&'a [u8]),
    /// The same, parsed.
    Parsed(&'a Value),
}

impl<'a> EventJson<'a> {
    fn read<T: Deserialize<'a>>(self) -> Result<T, serde_json::Error> {
        match self {
            EventJson::Bytes(bytes) => serde_json::from_slice(bytes),
            EventJson::Parsed(value) => T::deserialize(value),
        }
    }

    /// The whole event, for a usage reader.
    fn whole(self) -> Result<Cow<'a, Value>, serde_json::Error> {
        match self {
            EventJson::Bytes(bytes) => serde_json::from_slice(bytes).map(Cow::Owned),
            EventJson::Parsed(value) => Ok(Cow::Borrowed(value)),
        }
    }
}

/// Takes one event into account; an error, with the meter untouched, if
/// the event is not JSON.
pub(super) fn read(
    provider: Provider,
    event: EventJson<'_>,
    meter: &mut Meter,
) -> Result<(), serde_json::Error> {
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

/// Reads the next value as `T` into `into`.
///
/// For a field whose presence counts (`Option<T>`), [`present`] instead:
/// `Option`'s own reading would take `null` for a missing field.
fn take<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    into: &mut T,
    map: &mut A,
) -> Result<(), A::Error> {
    *into = map.next_value()?;
    Ok(())
}

/// Reads the next value as `T` into `into`, present whatever it is.
fn present<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    into: &mut Option<T>,
    map: &mut A,
) -> Result<(), A::Error> {
    *into = Some(map.next_value()?);
    Ok(())
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<Skip>().map(|_| ())
}

/// Implements [`Fields`] for a shape whose fields are each read from one
/// key, with [`take`] or, for a field whose presence counts, [`present`];
/// every other key is skipped.
macro_rules! fields {
    ($shape:ident { $($key:literal => $read:ident $field:ident,)+ }) => {
        impl<'de> Fields<'de> for $shape<'de> {
            fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
                match key {
                    $($key => $read(&mut self.$field, map),)+
                    _ => skip(map),
                }
            }
        }
    };
}

/// OpenAI's and Gemini's mid-stream error: `"error": {"message": …}`,
/// anything but `null`.
#[derive(Debug, Default)]
struct ErrorObject<'de> {
    message: Text<'de>,
}

fields!(ErrorObject {
    "message" => take message,
});

fn report_error(error: &NullOr<ErrorObject<'_>>, meter: &mut Meter) {
    if let NullOr(Some(error)) = error {
        meter.provider_error(error.message.as_str().unwrap_or("an `error` object"));
    }
}

#[derive(Debug, Default)]
struct ChatEvent<'de> {
    choices: List<Object<ChatChoice<'de>>>,
    usage: NotNull,
    error: NullOr<ErrorObject<'de>>,
}

fields!(ChatEvent {
    "choices" => take choices,
    "usage" => take usage,
    "error" => take error,
});

#[derive(Debug, Default)]
struct ChatChoice<'de> {
    index: Count,
    delta: Object<ChatDelta<'de>>,
}

fields!(ChatChoice {
    "index" => take index,
    "delta" => take delta,
});

/// What a chat delta field carries.
#[derive(Debug)]
enum DeltaField<'de> {
    /// `content`, `refusal`, `reasoning_content`, `reasoning`.
    Text(Text<'de>),
    /// `audio`: its transcript.
    Audio(Text<'de>),
    /// `function_call`.
    FunctionCall(Object<Function<'de>>),
    /// `tool_calls`.
    ToolCalls(List<Object<ToolCall<'de>>>),
}

/// The fields of a delta the meter reads, in the order they first came
/// (several of them share a part, and text is counted in the order it
/// comes), each holding the last value given, as a `Value` keeps them.
#[derive(Debug, Default)]
struct ChatDelta<'de> {
    fields: Vec<(&'static str, DeltaField<'de>)>,
}

impl<'de> Fields<'de> for ChatDelta<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let (name, field) = match key {
            "content" => ("content", DeltaField::Text(map.next_value()?)),
            "refusal" => ("refusal", DeltaField::Text(map.next_value()?)),
            "reasoning_content" => ("reasoning_content", DeltaField::Text(map.next_value()?)),
            "reasoning" => ("reasoning", DeltaField::Text(map.next_value()?)),
            "audio" => {
                let Object(Transcript { transcript }) = map.next_value()?;
                ("audio", DeltaField::Audio(transcript))
            }
            "function_call" => ("function_call", DeltaField::FunctionCall(map.next_value()?)),
            "tool_calls" => ("tool_calls", DeltaField::ToolCalls(map.next_value()?)),
            _ => return skip(map),
        };
        match self.fields.iter_mut().find(|(seen, _)| *seen == name) {
            Some((_, earlier)) => *earlier = field,
            None => self.fields.push((name, field)),
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Transcript<'de> {
    transcript: Text<'de>,
}

fields!(Transcript {
    "transcript" => take transcript,
});

#[derive(Debug, Default)]
struct Function<'de> {
    name: Text<'de>,
    arguments: Text<'de>,
}

fields!(Function {
    "name" => take name,
    "arguments" => take arguments,
});

#[derive(Debug, Default)]
struct ToolCall<'de> {
    index: Count,
    function: Object<Function<'de>>,
}

fields!(ToolCall {
    "index" => take index,
    "function" => take function,
});

fn read_chat(event: EventJson<'_>, meter: &mut Meter) -> Result<(), serde_json::Error> {
    let Object(chat) = event.read::<Object<ChatEvent>>()?;
    let whole = if chat.usage.0 {
        Some(event.whole()?)
    } else {
        None
    };
    for (position, Object(choice)) in chat.choices.0.iter().enumerate() {
        let index = choice.index.0.unwrap_or(position as u64);
        for (_, field) in &choice.delta.0.fields {
            read_chat_delta(field, index, meter);
        }
    }
    report_error(&chat.error, meter);
    if let Some(whole) = whole {
        meter.report(UsageReport::from_response(UsageFormat::OpenAiChat, &whole));
    }
    Ok(())
}

fn read_chat_delta(field: &DeltaField<'_>, index: u64, meter: &mut Meter) {
    match field {
        DeltaField::Text(text) => {
            if let Some(text) = text.as_str() {
                meter.output(index, part(index, 0), text);
            }
        }
        DeltaField::Audio(transcript) => {
            if let Some(text) = transcript.as_str() {
                meter.output(index, part(index, 1), text);
            }
        }
        DeltaField::FunctionCall(Object(function)) => {
            read_function(function, index, part(index, 2), meter);
        }
        DeltaField::ToolCalls(List(calls)) => {
            for (position, Object(call)) in calls.iter().enumerate() {
                let slot = call.index.0.unwrap_or(position as u64).saturating_add(3);
                read_function(&call.function.0, index, part(index, slot), meter);
            }
        }
    }
}

fn read_function(function: &Function<'_>, choice: u64, part: u64, meter: &mut Meter) {
    for text in [&function.name, &function.arguments] {
        if let Some(text) = text.as_str() {
            meter.output(choice, part, text);
        }
    }
}

/// Responses events whose `delta` is text the model wrote.
pub(super) const RESPONSES_TEXT_DELTAS: [&str; 9] = [
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

#[derive(Debug, Default)]
struct ResponsesEvent<'de> {
    kind: Text<'de>,
    delta: Text<'de>,
    output_index: Count,
    /// `content_index`, when the event has one, else `summary_index`.
    content_index: Option<Count>,
    summary_index: Option<Count>,
    /// `message`, when the event has one, else `error.message`.
    message: Option<Text<'de>>,
    error: Object<ErrorObject<'de>>,
}

fields!(ResponsesEvent {
    "type" => take kind,
    "delta" => take delta,
    "output_index" => take output_index,
    "content_index" => present content_index,
    "summary_index" => present summary_index,
    "message" => present message,
    "error" => take error,
});

fn read_responses(event: EventJson<'_>, meter: &mut Meter) -> Result<(), serde_json::Error> {
    let Object(read) = event.read::<Object<ResponsesEvent>>()?;
    let Some(kind) = read.kind.as_str() else {
        return Ok(());
    };
    match kind {
        "response.completed" | "response.incomplete" | "response.failed" => {
            let whole = event.whole()?;
            let response = whole.get("response").unwrap_or(&Value::Null);
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
            let message = match &read.message {
                Some(message) => message.as_str(),
                None => read.error.0.message.as_str(),
            };
            meter.provider_error(message.unwrap_or("an `error` event"));
        }
        _ if RESPONSES_TEXT_DELTAS.contains(&kind) => {
            if let Some(text) = read.delta.as_str() {
                let item = read.output_index.0.unwrap_or(0);
                let within = read
                    .content_index
                    .or(read.summary_index)
                    .and_then(|index| index.0)
                    .unwrap_or(0);
                // One answer, whatever its output items: its limit covers them all.
                meter.output(0, part(item, within), text);
            }
        }
        _ => {}
    }
    Ok(())
}

#[derive(Debug, Default)]
struct AnthropicEvent<'de> {
    kind: Text<'de>,
    index: Count,
    /// `None` when the event has no `delta`.
    delta: Option<Object<AnthropicDelta<'de>>>,
    error: Object<ErrorObject<'de>>,
}

fields!(AnthropicEvent {
    "type" => take kind,
    "index" => take index,
    "delta" => present delta,
    "error" => take error,
});

#[derive(Debug, Default)]
struct AnthropicDelta<'de> {
    text: Text<'de>,
    partial_json: Text<'de>,
    thinking: Text<'de>,
}

fields!(AnthropicDelta {
    "text" => take text,
    "partial_json" => take partial_json,
    "thinking" => take thinking,
});

fn read_anthropic(event: EventJson<'_>, meter: &mut Meter) -> Result<(), serde_json::Error> {
    let Object(read) = event.read::<Object<AnthropicEvent>>()?;
    let Some(kind) = read.kind.as_str() else {
        return Ok(());
    };
    match kind {
        "content_block_delta" => {
            let Some(Object(delta)) = &read.delta else {
                return Ok(());
            };
            let text = [&delta.text, &delta.partial_json, &delta.thinking]
                .into_iter()
                .find_map(Text::as_str);
            if let Some(text) = text {
                meter.output(0, read.index.0.unwrap_or(0), text);
            }
        }
        "message_start" | "message_delta" => meter.anthropic_usage(&*event.whole()?),
        "message_stop" => meter.finish(),
        "error" => {
            let message = read.error.0.message.as_str();
            meter.provider_error(message.unwrap_or("an `error` event"));
        }
        _ => {}
    }
    Ok(())
}

#[derive(Debug, Default)]
struct GeminiEvent<'de> {
    candidates: List<Object<Candidate<'de>>>,
    prompt_feedback: Object<PromptFeedback>,
    /// Kept as a `Value` for the usage reader: it is all Gemini's reader
    /// reads of the event.
    usage_metadata: Option<Value>,
    error: NullOr<ErrorObject<'de>>,
}

fields!(GeminiEvent {
    "candidates" => take candidates,
    "promptFeedback" => take prompt_feedback,
    "usageMetadata" => present usage_metadata,
    "error" => take error,
});

#[derive(Debug, Default)]
struct PromptFeedback {
    blocked: bool,
}

impl<'de> Fields<'de> for PromptFeedback {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key == "blockReason" {
            self.blocked = true;
        }
        skip(map)
    }
}

#[derive(Debug, Default)]
struct Candidate<'de> {
    index: Count,
    content: Object<CandidateContent<'de>>,
    finish_reason: Text<'de>,
}

fields!(Candidate {
    "index" => take index,
    "content" => take content,
    "finishReason" => take finish_reason,
});

#[derive(Debug, Default)]
struct CandidateContent<'de> {
    parts: List<Object<Piece<'de>>>,
}

fields!(CandidateContent {
    "parts" => take parts,
});

#[derive(Debug, Default)]
struct Piece<'de> {
    text: Text<'de>,
    /// Kept whole: a function call is sent as JSON, and its JSON text counts.
    function_call: Option<Value>,
    executable_code: Object<ExecutableCode<'de>>,
}

fields!(Piece {
    "text" => take text,
    "functionCall" => present function_call,
    "executableCode" => take executable_code,
});

#[derive(Debug, Default)]
struct ExecutableCode<'de> {
    code: Text<'de>,
}

fields!(ExecutableCode {
    "code" => take code,
});

fn read_gemini(event: EventJson<'_>, meter: &mut Meter) -> Result<(), serde_json::Error> {
    let Object(read) = event.read::<Object<GeminiEvent>>()?;
    for (position, Object(candidate)) in read.candidates.0.iter().enumerate() {
        let index = candidate.index.0.unwrap_or(position as u64);
        for Object(piece) in &candidate.content.0.parts.0 {
            if let Some(text) = piece.text.as_str() {
                meter.output(index, part(index, 0), text);
            } else if let Some(call) = &piece.function_call {
                meter.output(index, part(index, 1), &call.to_string());
            } else if let Some(code) = piece.executable_code.0.code.as_str() {
                meter.output(index, part(index, 2), code);
            }
        }
        if candidate.finish_reason.as_str().is_some() {
            meter.finish();
        }
    }
    if read.prompt_feedback.0.blocked {
        meter.finish();
    }
    // Vertex AI sends `usageMetadata` with only `trafficType` on every chunk
    // but the last: that is no usage report.
    if let Some(metadata) = read.usage_metadata {
        if metadata.get("promptTokenCount").is_some() {
            let usage = Value::Object(
                [("usageMetadata".to_owned(), metadata)]
                    .into_iter()
                    .collect(),
            );
            meter.report(UsageReport::from_response(UsageFormat::Gemini, &usage));
        }
    }
    report_error(&read.error, meter);
    Ok(())
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
            read(provider, EventJson::Parsed(event), &mut meter).unwrap();
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
