//! The event readers against the `Value` readers they replaced, kept here
//! as the oracle: a corpus of events per flavour (the usual ones, and
//! escaped, missing, mistyped, null, repeated and extra fields), the same
//! mutated, and arbitrary JSON over the fields the readers look for. Each
//! is read by the oracle (from a parsed `Value`) and by the new readers
//! from the bytes and from the `Value`; the meters must end the same, and
//! an event that is not JSON must be refused with the same error.

use proptest::prelude::*;
use serde_json::Value;

use super::events::{read, EventJson};
use super::meter::Meter;
use crate::client::provider::Provider;
use crate::mutated;
use crate::tokens::TokenCounter;

/// The `Value` readers as they were before the borrowed ones.
mod oracle {
    use serde_json::Value;

    // The list is data both readers share; what is checked is the reading.
    use crate::client::engine::stream::events::RESPONSES_TEXT_DELTAS;
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
                        // Saturating as the new reader does: this overflowed on an
                        // index near `u64::MAX` (a panic in a debug build).
                        let slot = index_or(call, "index", position).saturating_add(3);
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
}

const PROVIDERS: [Provider; 4] = [
    Provider::OpenAiChat,
    Provider::OpenAiResponses,
    Provider::Anthropic,
    Provider::Gemini,
];

/// Events of every flavour, each read by every flavour's reader too.
const CORPUS: &[&str] = &[
    // OpenAI Chat and compatible servers.
    r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    r#"{"choices":[{"index":0,"delta":{"content":" Hello, w\u00f6rld \"quoted\" \ud83d\ude00 \n"}}]}"#,
    r#"{"choices":[{"index":1,"delta":{"content":"second choice"}},{"delta":{"content":"no index"}},"not an object",{"index":-1,"delta":{"content":"negative"}},{"index":1.0,"delta":{"content":"float"}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"reasoning_content":"think","content":null}},{"index":0,"delta":{"reasoning":"r","refusal":"no","content":"c"}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"content":"first","content":"last","refusal":"x","content":"really last"}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"cont\u0065nt":"escaped key"}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"content":42,"refusal":["a"],"reasoning":{"text":"x"}}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"audio":{"id":"a1","data":"UklGRiQAAABXQVZF","transcript":"spoken words"}}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"audio":"not an object","function_call":{"name":"get_weather","arguments":"{\"city\":"}}}]}"#,
    r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":""}},{"index":1,"function":{"arguments":"{\"q\": \"x\"}"}},{"function":{"arguments":"no index"}},{"index":0,"function":null},{"index":"2","function":{"name":7,"arguments":"typed index"}}]}}]}"#,
    r#"{"choices":[{"index":281474976710656,"delta":{"tool_calls":[{"index":18446744073709551615,"function":{"arguments":"huge"}}],"content":"big index"}}]}"#,
    r#"{"choices":{"index":0},"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#,
    r#"{"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":600,"total_tokens":612,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":5}},"service_tier":"default"}"#,
    r#"{"choices":[],"usage":{"prompt_tokens":"12","completion_tokens":3}}"#,
    r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3},"service_tier":"turbo"}"#,
    r#"{"choices":[],"usage":7}"#,
    r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
    r#"{"error":null}"#,
    r#"{"error":"a string"}"#,
    r#"{"error":{"message":null}}"#,
    // OpenAI Responses.
    r#"{"type":"response.created","response":{"id":"resp_1","status":"in_progress"}}"#,
    r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi \u4e16\u754c"}"#,
    r#"{"type":"response.output_text.delta","output_index":2,"content_index":null,"summary_index":3,"delta":"null content index"}"#,
    r#"{"type":"response.reasoning_summary_text.delta","output_index":1,"summary_index":2,"delta":"summary"}"#,
    r#"{"type":"response.function_call_arguments.delta","output_index":"1","delta":"{\"a\":1}"}"#,
    r#"{"type":"response.audio.delta","delta":"UklGRiQAAABXQVZF"}"#,
    r#"{"type":"response.audio.transcript.delta","delta":"said"}"#,
    r#"{"type":"response.refusal.delta","delta":null}"#,
    r#"{"type":"response.output_text.delta","delta":{"text":"object delta"}}"#,
    r#"{"type":"response.output_text.delta","type":"response.refusal.delta","delta":"repeated type"}"#,
    r#"{"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{"input_tokens":10,"output_tokens":20,"total_tokens":30,"input_tokens_details":{"cached_tokens":0},"output_tokens_details":{"reasoning_tokens":4}},"service_tier":"default"}}"#,
    r#"{"type":"response.incomplete","response":{"usage":{"input_tokens":10,"output_tokens":-1}}}"#,
    r#"{"type":"response.failed","response":{"error":{"code":"server_error","message":"it broke"},"usage":null}}"#,
    r#"{"type":"response.completed"}"#,
    r#"{"type":"error","code":"rate_limit","message":"slow down"}"#,
    r#"{"type":"error","message":null,"error":{"message":"shadowed"}}"#,
    r#"{"type":"error","error":{"message":"nested"}}"#,
    r#"{"type":"error","error":["message"]}"#,
    r#"{"type":7,"delta":"typed type"}"#,
    // Anthropic.
    r#"{"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5","usage":{"input_tokens":25,"cache_read_input_tokens":100,"output_tokens":1}}}"#,
    r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello \u00e9"}}"#,
    r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}"#,
    r#"{"type":"content_block_delta","index":2,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#,
    r#"{"type":"content_block_delta","index":2,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}"#,
    r#"{"type":"content_block_delta","index":3,"delta":{"text":5,"partial_json":"second","thinking":"third"}}"#,
    r#"{"type":"content_block_delta","index":3,"delta":{"thinking":"third","partial_json":"second","text":"first"}}"#,
    r#"{"type":"content_block_delta","index":"4","delta":{"text":"string index"}}"#,
    r#"{"type":"content_block_delta","delta":null}"#,
    r#"{"type":"content_block_delta","delta":"text"}"#,
    r#"{"type":"content_block_delta","index":0}"#,
    r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":30}}"#,
    r#"{"type":"message_delta","usage":{"output_tokens":"thirty"}}"#,
    r#"{"type":"message_start","message":{"usage":{"input_tokens":20,"output_tokens":1,"service_tier":"express"}}}"#,
    r#"{"type":"message_stop"}"#,
    r#"{"type":"ping"}"#,
    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    r#"{"type":"error","error":{"message":{"text":"not a string"}}}"#,
    // Gemini.
    r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Once upon"}]},"index":0}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2,"totalTokenCount":10},"modelVersion":"gemini-2.5-pro"}"#,
    r#"{"candidates":[{"content":{"parts":[{"text":"Let me think.","thought":true},{"functionCall":{"name":"get_weather","args":{"city":"Paris","n":1.50,"e":1e2}}},{"executableCode":{"language":"PYTHON","code":"print(1)"}},{"text":null,"functionCall":null},{"executableCode":{"code":"c"},"functionCall":{"name":"f"},"text":"t"},{"executableCode":{"code":"c"},"functionCall":{"name":"f"}},{"executableCode":{"code":7}}]},"finishReason":"STOP"}]}"#,
    r#"{"candidates":[{"content":{"parts":[{"functionCall":{"b":1,"a":2,"b":3}}]}},{"index":5,"content":{"parts":"not a list"}},{"content":null,"finishReason":null},{"finishReason":1}]}"#,
    r#"{"candidates":[],"usageMetadata":{"trafficType":"ON_DEMAND"}}"#,
    r#"{"usageMetadata":{"promptTokenCount":null}}"#,
    r#"{"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2,"trafficType":"ON_DEMAND_PRIORITY"}}"#,
    r#"{"usageMetadata":{"promptTokenCount":8,"trafficType":"SOMETHING_NEW"}}"#,
    r#"{"usageMetadata":["promptTokenCount"]}"#,
    r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#,
    r#"{"promptFeedback":{"blockReason":null}}"#,
    r#"{"promptFeedback":["blockReason"]}"#,
    r#"{"error":{"code":500,"message":"Internal","status":"INTERNAL"}}"#,
    // Any flavour.
    r#"{}"#,
    r#"[]"#,
    r#"null"#,
    r#""a string event""#,
    r#"3.25"#,
    r#"  {"choices":[{"delta":{"content":"padded"}}]}  "#,
];

/// What is not JSON, or not quite.
const NOT_JSON: &[&str] = &[
    "",
    "not json",
    r#"{"choices":[{"delta":{"content":"cut"#,
    r#"{"choices":[],}"#,
    r#"{"choices":[]} trailing"#,
    r#"{"a":1e400}"#,
    r#"{"a":"\ud800"}"#,
    r#"{"a":"\x"}"#,
    "{\"a\":\"tab\there\"}",
    "{\"a\":\"\u{1}\"}",
    r#"{"a":tru}"#,
    r#"{"a":01}"#,
];

/// The meter after `events`, read by `reader`, or the first error.
fn meter_after(
    provider: Provider,
    events: &[Vec<u8>],
    reader: impl Fn(Provider, &[u8], &mut Meter) -> Result<(), String>,
) -> Result<String, String> {
    let mut meter = Meter::new(TokenCounter::new(), "gpt-4o", 64, 2);
    for event in events {
        let before = meter.received_bytes();
        reader(provider, event, &mut meter)?;
        meter.event_read(before);
        meter.past_output_limit();
    }
    Ok(format!("{meter:?}"))
}

fn by_oracle(provider: Provider, event: &[u8], meter: &mut Meter) -> Result<(), String> {
    let value: Value = serde_json::from_slice(event).map_err(|error| error.to_string())?;
    oracle::read(provider, &value, meter);
    Ok(())
}

fn from_bytes(provider: Provider, event: &[u8], meter: &mut Meter) -> Result<(), String> {
    read(provider, EventJson::Bytes(event), meter).map_err(|error| error.to_string())
}

fn from_value(provider: Provider, event: &[u8], meter: &mut Meter) -> Result<(), String> {
    let value: Value = serde_json::from_slice(event).map_err(|error| error.to_string())?;
    read(provider, EventJson::Parsed(&value), meter).map_err(|error| error.to_string())
}

/// `events` read the three ways end the same for every flavour.
fn assert_same(events: &[Vec<u8>]) -> Result<(), TestCaseError> {
    for provider in PROVIDERS {
        let expected = meter_after(provider, events, by_oracle);
        prop_assert_eq!(
            &meter_after(provider, events, from_bytes),
            &expected,
            "{} from bytes",
            provider
        );
        prop_assert_eq!(
            &meter_after(provider, events, from_value),
            &expected,
            "{} from a Value",
            provider
        );
    }
    Ok(())
}

fn corpus() -> Vec<Vec<u8>> {
    CORPUS
        .iter()
        .map(|event| event.as_bytes().to_vec())
        .collect()
}

#[test]
fn every_corpus_event_reads_as_the_oracle_reads_it() {
    for event in corpus() {
        assert_same(std::slice::from_ref(&event))
            .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&event)));
    }
    assert_same(&corpus()).unwrap();
}

#[test]
fn repeated_escaped_and_unicode_fields_are_read_as_a_value_reads_them() {
    let events: Vec<Vec<u8>> = [CORPUS[1], CORPUS[4], CORPUS[5]]
        .iter()
        .map(|event| event.as_bytes().to_vec())
        .collect();
    let meter = meter_after(Provider::OpenAiChat, &events, from_bytes).unwrap();
    let text = r#"text: " Hello, wörld \"quoted\" 😀 \nreally lastxescaped key""#;
    assert!(meter.contains(text), "{meter}");
}

#[test]
fn what_is_not_json_is_refused_with_the_oracle_s_error() {
    for text in NOT_JSON {
        let event = vec![text.as_bytes().to_vec()];
        for provider in PROVIDERS {
            let expected = meter_after(provider, &event, by_oracle);
            assert!(expected.is_err(), "{text}");
            assert_eq!(
                meter_after(provider, &event, from_bytes),
                expected,
                "{text}"
            );
        }
    }
    let mut deep = "[".repeat(200);
    deep.push_str(&"]".repeat(200));
    let event = vec![format!("{{\"ignored\":{deep}}}").into_bytes()];
    let expected = meter_after(Provider::OpenAiChat, &event, by_oracle);
    assert!(expected.is_err());
    assert_eq!(
        meter_after(Provider::OpenAiChat, &event, from_bytes),
        expected
    );
}

/// The keys and strings the readers look for, so arbitrary JSON hits them.
const WORDS: &[&str] = &[
    "choices",
    "index",
    "delta",
    "content",
    "refusal",
    "reasoning_content",
    "reasoning",
    "audio",
    "transcript",
    "function_call",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "usage",
    "error",
    "message",
    "type",
    "output_index",
    "content_index",
    "summary_index",
    "response",
    "text",
    "partial_json",
    "thinking",
    "candidates",
    "parts",
    "functionCall",
    "executableCode",
    "code",
    "finishReason",
    "promptFeedback",
    "blockReason",
    "usageMetadata",
    "promptTokenCount",
    "prompt_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "response.output_text.delta",
    "response.reasoning_summary_text.delta",
    "response.completed",
    "response.failed",
    "content_block_delta",
    "message_start",
    "message_delta",
    "message_stop",
    "STOP",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => "[a-z\"\\\\é東😀\n]{0,6}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0u64..4).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::from(1.5)),
        word().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((word(), inner), 0..5)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_events_over_the_fields_read_as_the_oracle_reads_them(
        events in proptest::collection::vec(json(), 1..5),
    ) {
        let events: Vec<Vec<u8>> = events.iter().map(|event| event.to_string().into_bytes()).collect();
        assert_same(&events)?;
    }

    #[test]
    fn mutated_events_read_as_the_oracle_reads_them(
        events in proptest::collection::vec(
            mutated::bytes(&CORPUS.iter().map(|event| event.as_bytes()).collect::<Vec<_>>()),
            1..4,
        ),
    ) {
        assert_same(&events)?;
    }
}
