//! OpenAI Chat Completions, `POST /v1/chat/completions`, and the error and
//! credential conventions every OpenAI endpoint shares.
//!
//! A stream is `data: {chunk}` events: a first chunk with the assistant
//! role, one per piece of text in `choices[0].delta.content`, one with the
//! `finish_reason`, then — only when `stream_options.include_usage` is true
//! — a chunk with `choices: []` and the `usage`, and finally
//! `data: [DONE]`. With `include_usage`, every other chunk has
//! `"usage": null`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::dialect::{output_cap, sse_data, Dialect, Incoming, Refusal};
use super::reply::{Reply, Report};
use super::transmission::Frame;
use super::Api;

/// The Chat Completions dialect.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenAiChat;

impl Dialect for OpenAiChat {
    fn api(&self) -> Api {
        Api::OpenAiChat
    }

    fn credential(&self, incoming: &Incoming) -> Result<String, Refusal> {
        bearer_token(incoming)
    }

    fn choices(&self, body: &Value) -> u64 {
        body.get("n").and_then(Value::as_u64).unwrap_or(1)
    }

    fn max_output_tokens(&self, body: &Value) -> Result<Option<u64>, Refusal> {
        // `max_completion_tokens` replaced `max_tokens`, which reasoning
        // models refuse; either caps reasoning and visible output together.
        match output_cap(body, "/max_completion_tokens")? {
            Some(cap) => Ok(Some(cap)),
            None => output_cap(body, "/max_tokens"),
        }
    }

    fn answer(&self, reply: &Reply) -> Value {
        let mut answer = json!({
            "id": completion_id(reply),
            "object": "chat.completion",
            "created": reply.created,
            "model": reply.model,
            "choices": (0..reply.choices).map(|index| json!({
                "index": index,
                "message": {
                    "role": "assistant",
                    "content": reply.text(),
                    "refusal": null,
                    "annotations": [],
                },
                "logprobs": null,
                "finish_reason": finish_reason(reply),
            })).collect::<Vec<_>>(),
            "service_tier": "default",
            "system_fingerprint": "fp_mock",
        });
        if let Some(call) = &reply.tool_call {
            answer["choices"][0]["message"]["content"] = Value::Null;
            answer["choices"][0]["message"]["tool_calls"] = json!([{
                "id": reply.tool_call_id(),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments.to_string()},
            }]);
            answer["choices"][0]["finish_reason"] = json!("tool_calls");
        }
        if reply.report != Report::Omitted {
            answer["usage"] = usage(reply);
        }
        answer
    }

    fn stream(&self, reply: &Reply, body: &Value) -> Vec<Frame> {
        let include_usage = body.pointer("/stream_options/include_usage") == Some(&json!(true));
        let chunk = |choices: Value| {
            let mut chunk = json!({
                "id": completion_id(reply),
                "object": "chat.completion.chunk",
                "created": reply.created,
                "model": reply.model,
                "service_tier": "default",
                "system_fingerprint": "fp_mock",
                "choices": choices,
            });
            if include_usage {
                chunk["usage"] = Value::Null;
            }
            chunk
        };
        let choice = |index: u64, delta: Value, finish_reason: Value| json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]);
        let every_choice = 0..reply.choices;

        let mut frames: Vec<Frame> = every_choice
            .clone()
            .map(|index| {
                let delta = json!({"role": "assistant", "content": "", "refusal": null});
                Frame::opening(sse_data(&chunk(choice(index, delta, Value::Null))))
            })
            .collect();
        // Choices are interleaved, a piece of each in turn, as OpenAI sends them.
        for piece in &reply.pieces {
            frames.extend(every_choice.clone().map(|index| {
                let delta = choice(index, json!({"content": piece.text}), Value::Null);
                Frame::chunk(sse_data(&chunk(delta)), piece.tokens)
            }));
        }
        frames.extend(every_choice.map(|index| {
            let done = choice(index, json!({}), json!(finish_reason(reply)));
            Frame::closing(sse_data(&chunk(done)))
        }));
        if include_usage && reply.report != Report::Omitted {
            let mut last = chunk(json!([]));
            last["usage"] = usage(reply);
            frames.push(Frame::closing(sse_data(&last)));
        }
        frames.push(Frame::closing("data: [DONE]\n\n".to_owned()));
        frames
    }

    fn error(&self, status: StatusCode, message: &str) -> Value {
        openai_error(status, message)
    }
}

/// The API key of an `Authorization: Bearer …` header, as every OpenAI
/// endpoint requires.
pub(super) fn bearer_token(incoming: &Incoming) -> Result<String, Refusal> {
    incoming
        .header("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "You didn't provide an API key. You need to provide your API key in an \
                 Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        })
}

/// OpenAI's error JSON: `{"error": {"message", "type", "param", "code"}}`.
pub(super) fn openai_error(status: StatusCode, message: &str) -> Value {
    let (kind, code) = match status.as_u16() {
        401 => ("invalid_request_error", json!("invalid_api_key")),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("requests", json!("rate_limit_exceeded")),
        code if code >= 500 => ("server_error", Value::Null),
        _ => ("invalid_request_error", Value::Null),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// The `usage` object: counts that include their details.
fn usage(reply: &Reply) -> Value {
    let prompt = reply.reported_prompt_tokens();
    let completion = reply.all_output_tokens() + reply.reasoning_tokens;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": reply.reported_cached_tokens(), "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reply.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

fn completion_id(reply: &Reply) -> String {
    format!("chatcmpl-mock{}", reply.number)
}

fn finish_reason(reply: &Reply) -> &'static str {
    if reply.capped {
        "length"
    } else {
        "stop"
    }
}
