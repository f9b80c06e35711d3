//! OpenAI Responses, `POST /v1/responses`.
//!
//! A stream is named events (`event: …` then `data: {…}`, the data's `type`
//! repeating the name, with a rising `sequence_number`):
//! `response.created`, `response.in_progress`, a reasoning item if there is
//! reasoning, `response.output_item.added`, `response.content_part.added`,
//! one `response.output_text.delta` per piece of text, the matching `.done`
//! events, and last `response.completed` — or `response.incomplete` when
//! `max_output_tokens` stopped the answer — whose `response.usage` is the
//! usage. There is no `[DONE]`.

use std::borrow::Cow;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::dialect::{output_cap, sse_event, Dialect, Incoming, Refusal};
use super::openai_chat::{bearer_token, openai_error};
use super::reply::{Reply, Report};
use super::transmission::Frame;
use super::Api;

/// The Responses dialect.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenAiResponses;

impl Dialect for OpenAiResponses {
    fn api(&self) -> Api {
        Api::OpenAiResponses
    }

    fn credential(&self, incoming: &Incoming) -> Result<String, Refusal> {
        bearer_token(incoming)
    }

    /// The chat the request amounts to: `instructions` as a system message,
    /// then the `input` text or items, with function calls and their outputs
    /// as Chat Completions writes them.
    fn prompt<'body>(&self, body: &'body Value) -> Result<Cow<'body, Value>, Refusal> {
        let mut messages = Vec::new();
        if let Some(instructions) = body.get("instructions").and_then(Value::as_str) {
            messages.push(json!({"role": "system", "content": instructions}));
        }
        match body.get("input") {
            Some(Value::String(text)) => messages.push(json!({"role": "user", "content": text})),
            Some(Value::Array(items)) => messages.extend(items.iter().map(chat_message)),
            _ => return Err(Refusal::bad_request("Missing required parameter: 'input'.")),
        }
        let tools = body.get("tools").cloned().unwrap_or(Value::Null);
        Ok(Cow::Owned(json!({"messages": messages, "tools": tools})))
    }

    fn max_output_tokens(&self, body: &Value) -> Result<Option<u64>, Refusal> {
        output_cap(body, "/max_output_tokens")
    }

    fn answer(&self, reply: &Reply) -> Value {
        let mut output = Vec::new();
        if reply.reasoning_tokens > 0 {
            output.push(reasoning_item(reply));
        }
        output.push(message_item(reply, &reply.text(), final_status(reply)));
        response(reply, final_status(reply), output, true)
    }

    fn stream(&self, reply: &Reply, _body: &Value) -> Vec<Frame> {
        let mut events = Events::default();
        let mut frames = vec![
            events.opening(
                "response.created",
                json!({"response": response(reply, "in_progress", vec![], false)}),
            ),
            events.opening(
                "response.in_progress",
                json!({"response": response(reply, "in_progress", vec![], false)}),
            ),
        ];
        let mut output = Vec::new();
        if reply.reasoning_tokens > 0 {
            let item = reasoning_item(reply);
            frames.push(events.opening(
                "response.output_item.added",
                json!({"output_index": 0, "item": item}),
            ));
            frames.push(events.opening(
                "response.output_item.done",
                json!({"output_index": 0, "item": item}),
            ));
            output.push(item);
        }
        let index = output.len();
        let item_id = message_id(reply);
        let place = json!({"item_id": item_id, "output_index": index, "content_index": 0});
        let with_place = |fields: Value| merged(place.clone(), fields);
        frames.push(events.opening(
            "response.output_item.added",
            json!({"output_index": index, "item": message_item(reply, "", "in_progress")}),
        ));
        frames.push(events.opening(
            "response.content_part.added",
            with_place(json!({"part": {"type": "output_text", "text": "", "annotations": []}})),
        ));
        for piece in &reply.pieces {
            let delta = events.event(
                "response.output_text.delta",
                with_place(json!({"delta": piece.text, "logprobs": []})),
            );
            frames.push(Frame::chunk(delta, piece.tokens));
        }
        let text = reply.text();
        let item = message_item(reply, &text, final_status(reply));
        frames.push(events.closing(
            "response.output_text.done",
            with_place(json!({"text": text, "logprobs": []})),
        ));
        frames.push(events.closing(
            "response.content_part.done",
            with_place(json!({"part": {"type": "output_text", "text": text, "annotations": []}})),
        ));
        frames.push(events.closing(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        ));
        output.push(item);
        let last = if reply.capped {
            "response.incomplete"
        } else {
            "response.completed"
        };
        frames.push(events.closing(
            last,
            json!({"response": response(reply, final_status(reply), output, true)}),
        ));
        frames
    }

    fn error(&self, status: StatusCode, message: &str) -> Value {
        openai_error(status, message)
    }
}

/// Numbers the events of one stream.
#[derive(Debug, Default)]
struct Events {
    sequence_number: u64,
}

impl Events {
    /// The SSE text of event `name` with `fields`, its `type` and its
    /// `sequence_number`.
    fn event(&mut self, name: &str, fields: Value) -> String {
        let data = json!({"type": name, "sequence_number": self.sequence_number});
        self.sequence_number += 1;
        sse_event(name, &merged(data, fields))
    }

    fn opening(&mut self, name: &str, fields: Value) -> Frame {
        Frame::opening(self.event(name, fields))
    }

    fn closing(&mut self, name: &str, fields: Value) -> Frame {
        Frame::closing(self.event(name, fields))
    }
}

/// The response object. Until it is `finished` its `usage` is null; then it
/// is the usage, or absent if the report is omitted.
fn response(reply: &Reply, status: &str, output: Vec<Value>, finished: bool) -> Value {
    let mut response = json!({
        "id": format!("resp_mock{}", reply.number),
        "object": "response",
        "created_at": reply.created,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "model": reply.model,
        "output": output,
        "service_tier": "default",
    });
    if !finished {
        response["usage"] = Value::Null;
        return response;
    }
    if reply.capped {
        response["incomplete_details"] = json!({"reason": "max_output_tokens"});
    }
    if reply.report != Report::Omitted {
        let input = reply.reported_prompt_tokens();
        let output = reply.output_tokens() + reply.reasoning_tokens;
        response["usage"] = json!({
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": reply.reported_cached_tokens()},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
            "total_tokens": input + output,
        });
    }
    response
}

/// `base` with the fields of `extra` added; both are objects.
fn merged(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

fn final_status(reply: &Reply) -> &'static str {
    if reply.capped {
        "incomplete"
    } else {
        "completed"
    }
}

fn message_id(reply: &Reply) -> String {
    format!("msg_mock{}", reply.number)
}

fn message_item(reply: &Reply, text: &str, status: &str) -> Value {
    let content = if status == "in_progress" {
        json!([])
    } else {
        json!([{"type": "output_text", "text": text, "annotations": [], "logprobs": []}])
    };
    json!({
        "id": message_id(reply),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    })
}

fn reasoning_item(reply: &Reply) -> Value {
    json!({"id": format!("rs_mock{}", reply.number), "type": "reasoning", "summary": []})
}

/// One `input` item as a Chat Completions message: messages lose their
/// `type`, function calls become assistant tool calls, function outputs
/// tool messages; anything else is left for the counter to refuse.
fn chat_message(item: &Value) -> Value {
    match item.get("type").and_then(Value::as_str) {
        Some("function_call") => json!({
            "role": "assistant",
            "tool_calls": [{"type": "function", "function": {
                "name": item.get("name").cloned().unwrap_or(Value::Null),
                "arguments": item.get("arguments").cloned().unwrap_or(Value::Null),
            }}],
        }),
        Some("function_call_output") => json!({
            "role": "tool",
            "content": item.get("output").cloned().unwrap_or(Value::Null),
        }),
        _ => {
            let mut message = item.clone();
            if let Some(message) = message.as_object_mut() {
                message.remove("type");
            }
            message
        }
    }
}
