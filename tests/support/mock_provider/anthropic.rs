//! Anthropic Messages, `POST /v1/messages`.
//!
//! A request needs `x-api-key` (401 `authentication_error` without it) and
//! `anthropic-version` (400 `invalid_request_error` without it), and
//! `max_tokens` is required. A stream is named events: `message_start`
//! (the message with its input and cache counts and `output_tokens: 1`),
//! `content_block_start`, `ping`, one `content_block_delta` per piece of
//! text, `content_block_stop`, `message_delta` (the `stop_reason` and the
//! cumulative `usage.output_tokens`) and `message_stop`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::dialect::{output_cap, sse_event, Dialect, Incoming, Refusal};
use super::reply::{Reply, Report};
use super::transmission::Frame;
use super::Api;

/// The Messages dialect.
#[derive(Debug, Clone, Copy)]
pub(super) struct AnthropicMessages;

impl Dialect for AnthropicMessages {
    fn api(&self) -> Api {
        Api::AnthropicMessages
    }

    fn credential(&self, incoming: &Incoming) -> Result<String, Refusal> {
        let key = incoming
            .header("x-api-key")
            .filter(|key| !key.trim().is_empty())
            .ok_or_else(|| {
                Refusal::new(StatusCode::UNAUTHORIZED, "x-api-key header is required")
            })?;
        if incoming.header("anthropic-version").is_none() {
            return Err(Refusal::bad_request(
                "anthropic-version: header is required",
            ));
        }
        Ok(key.to_owned())
    }

    fn max_output_tokens(&self, body: &Value) -> Result<Option<u64>, Refusal> {
        match output_cap(body, "/max_tokens")? {
            Some(cap) => Ok(Some(cap)),
            None => Err(Refusal::bad_request("max_tokens: Field required")),
        }
    }

    /// Extended thinking is billed as output and reported inside
    /// `output_tokens`.
    fn reasoning_in_output(&self) -> bool {
        true
    }

    fn answer(&self, reply: &Reply) -> Value {
        let mut answer = match &reply.tool_call {
            Some(call) => {
                let block = json!({"type": "tool_use", "id": reply.tool_call_id(), "name": call.name, "input": call.arguments});
                let mut answer = message(reply, json!([block]));
                answer["stop_reason"] = json!("tool_use");
                answer
            }
            None => {
                let mut answer = message(reply, json!([{"type": "text", "text": reply.text()}]));
                answer["stop_reason"] = json!(stop_reason(reply));
                answer
            }
        };
        if reply.report != Report::Omitted {
            answer["usage"] = usage(reply, reply.output_tokens() + reply.reasoning_tokens);
        }
        answer
    }

    fn stream(&self, reply: &Reply, _body: &Value) -> Vec<Frame> {
        let mut start = message(reply, json!([]));
        if reply.report != Report::Omitted {
            start["usage"] = usage(reply, 1);
        }
        let content_block = json!({"index": 0, "content_block": {"type": "text", "text": ""}});
        let mut frames = vec![
            Frame::opening(event("message_start", json!({"message": start}))),
            Frame::opening(event("content_block_start", content_block)),
            Frame::opening(event("ping", json!({}))),
        ];
        frames.extend(reply.pieces.iter().map(|piece| {
            let delta = json!({"index": 0, "delta": {"type": "text_delta", "text": piece.text}});
            Frame::chunk(event("content_block_delta", delta), piece.tokens)
        }));
        frames.push(Frame::closing(event(
            "content_block_stop",
            json!({"index": 0}),
        )));
        let mut delta =
            json!({"delta": {"stop_reason": stop_reason(reply), "stop_sequence": null}});
        if reply.report != Report::Omitted {
            delta["usage"] =
                json!({"output_tokens": reply.output_tokens() + reply.reasoning_tokens});
        }
        frames.push(Frame::closing(event("message_delta", delta)));
        frames.push(Frame::closing(event("message_stop", json!({}))));
        frames
    }

    fn error(&self, status: StatusCode, message: &str) -> Value {
        let kind = match status.as_u16() {
            401 => "authentication_error",
            402 => "billing_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            504 => "timeout_error",
            529 => "overloaded_error",
            code if code >= 500 => "api_error",
            _ => "invalid_request_error",
        };
        json!({
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": "req_mock",
        })
    }
}

/// The message object without `usage`, its stop reason still null.
fn message(reply: &Reply, content: Value) -> Value {
    json!({
        "id": format!("msg_mock{}", reply.number),
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": content,
        "stop_reason": null,
        "stop_sequence": null,
    })
}

/// The `usage` object with `output_tokens` so far; the input counters
/// exclude one another.
fn usage(reply: &Reply, output_tokens: u64) -> Value {
    let cached = reply.reported_cached_tokens();
    json!({
        "input_tokens": reply.reported_prompt_tokens() - cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    })
}

fn stop_reason(reply: &Reply) -> &'static str {
    if reply.capped {
        "max_tokens"
    } else {
        "end_turn"
    }
}

/// The SSE text of event `name`, whose data's `type` repeats the name.
fn event(name: &str, fields: Value) -> String {
    let mut data = json!({"type": name});
    if let (Some(data), Value::Object(fields)) = (data.as_object_mut(), fields) {
        data.extend(fields);
    }
    sse_event(name, &data)
}
