//! Gemini, `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse`.
//!
//! The key comes in `x-goog-api-key` or the `key` query parameter; without
//! one the answer is 403 `PERMISSION_DENIED`, as Google answers. A stream is
//! `data: {…}` events separated by CRLF (`\r\n\r\n`), each a whole
//! `GenerateContentResponse` with one piece of text and the cumulative
//! `usageMetadata` so far; the last carries the `finishReason` and the
//! complete counts. There is no `[DONE]`. Counters that are zero are left
//! out, as proto3's JSON mapping does, except `promptTokenCount` and
//! `totalTokenCount`. Without `alt=sse` the mock refuses to stream (Google
//! would send a JSON array).

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::dialect::{output_cap, Dialect, Incoming, Refusal};
use super::reply::{Reply, Report};
use super::transmission::Frame;
use super::Api;

/// The Gemini dialect.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gemini;

impl Dialect for Gemini {
    fn api(&self) -> Api {
        Api::Gemini
    }

    fn credential(&self, incoming: &Incoming) -> Result<String, Refusal> {
        incoming
            .header("x-goog-api-key")
            .or_else(|| incoming.query_param("key"))
            .filter(|key| !key.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                Refusal::new(
                    StatusCode::FORBIDDEN,
                    "Method doesn't allow unregistered callers (callers without established \
                     identity). Please use API Key or other form of API consumer identity to \
                     call this API.",
                )
            })
    }

    fn model(&self, incoming: &Incoming) -> Result<String, Refusal> {
        match &incoming.path_target {
            Some((model, _)) if !model.is_empty() => Ok(model.clone()),
            _ => Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "The model is missing from the path.",
            )),
        }
    }

    fn wants_stream(&self, incoming: &Incoming) -> Result<bool, Refusal> {
        let method = incoming
            .path_target
            .as_ref()
            .map(|(_, method)| method.as_str());
        match method {
            Some("generateContent") => Ok(false),
            Some("streamGenerateContent") if incoming.query_param("alt") == Some("sse") => Ok(true),
            Some("streamGenerateContent") => Err(Refusal::bad_request(
                "The mock provider streams Gemini answers only as SSE: add `alt=sse`.",
            )),
            _ => Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "Method not found: use `:generateContent` or `:streamGenerateContent`.",
            )),
        }
    }

    fn max_output_tokens(&self, body: &Value) -> Result<Option<u64>, Refusal> {
        output_cap(body, "/generationConfig/maxOutputTokens")
    }

    fn answer(&self, reply: &Reply) -> Value {
        response(
            reply,
            &reply.text(),
            Some(finish_reason(reply)),
            reply.output_tokens(),
        )
    }

    fn stream(&self, reply: &Reply, _body: &Value) -> Vec<Frame> {
        let mut sent = 0;
        let mut frames: Vec<Frame> = reply
            .pieces
            .iter()
            .map(|piece| {
                sent += piece.tokens;
                Frame::chunk(sse(&response(reply, &piece.text, None, sent)), piece.tokens)
            })
            .collect();
        let last = response(reply, "", Some(finish_reason(reply)), sent);
        frames.push(Frame::closing(sse(&last)));
        frames
    }

    fn error(&self, status: StatusCode, message: &str) -> Value {
        let name = match status.as_u16() {
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            code if code >= 500 => "INTERNAL",
            _ => "INVALID_ARGUMENT",
        };
        json!({"error": {"code": status.as_u16(), "message": message, "status": name}})
    }
}

/// A `GenerateContentResponse` with `text`, and the usage with
/// `candidates_tokens` of the reply generated.
fn response(
    reply: &Reply,
    text: &str,
    finish_reason: Option<&str>,
    candidates_tokens: u64,
) -> Value {
    let mut candidate = json!({
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    });
    if let Some(finish_reason) = finish_reason {
        candidate["finishReason"] = json!(finish_reason);
    }
    let mut response = json!({
        "candidates": [candidate],
        "modelVersion": reply.model,
        "responseId": format!("mock{}", reply.number),
    });
    if reply.report != Report::Omitted {
        response["usageMetadata"] = usage_metadata(reply, candidates_tokens);
    }
    response
}

/// `usageMetadata`: the prompt includes the cached tokens, thoughts are
/// reported beside the candidates.
fn usage_metadata(reply: &Reply, candidates_tokens: u64) -> Value {
    let prompt = reply.reported_prompt_tokens();
    let mut metadata = Map::new();
    metadata.insert("promptTokenCount".into(), json!(prompt));
    let optional = [
        ("candidatesTokenCount", candidates_tokens),
        ("cachedContentTokenCount", reply.reported_cached_tokens()),
        ("thoughtsTokenCount", reply.reasoning_tokens),
    ];
    for (name, count) in optional {
        if count > 0 {
            metadata.insert(name.into(), json!(count));
        }
    }
    let total = prompt + candidates_tokens + reply.reasoning_tokens;
    metadata.insert("totalTokenCount".into(), json!(total));
    Value::Object(metadata)
}

fn finish_reason(reply: &Reply) -> &'static str {
    if reply.capped {
        "MAX_TOKENS"
    } else {
        "STOP"
    }
}

/// An SSE event as Google frames it: `data:` and a CRLF blank line.
fn sse(data: &Value) -> String {
    format!("data: {data}\r\n\r\n")
}
