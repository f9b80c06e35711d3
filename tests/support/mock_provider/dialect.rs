//! What differs between provider APIs, behind one trait: how a request
//! authenticates, where it names its model and caps its output, and how an
//! answer, a stream and an error look on the wire.

use std::borrow::Cow;

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::reply::Reply;
use super::transmission::Frame;
use super::Api;

/// One request as it arrived.
#[derive(Debug)]
pub(super) struct Incoming {
    /// The query string's parameters, not percent-decoded.
    pub(super) query: Vec<(String, String)>,
    pub(super) headers: HeaderMap,
    /// The body as JSON, or as a JSON string if it was not JSON.
    pub(super) body: Value,
    /// Gemini names the model and the method in the path:
    /// `{model}:{method}`.
    pub(super) path_target: Option<(String, String)>,
}

impl Incoming {
    /// The value of header `name`, if sent as text.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The value of query parameter `name`, if present.
    pub(super) fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A request turned away, with the status and message the provider would
/// answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) status: StatusCode,
    pub(super) message: String,
}

impl Refusal {
    /// A refusal with `status`.
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
        }
    }

    /// A 400: the request is malformed.
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Refusal::new(StatusCode::BAD_REQUEST, message)
    }
}

/// One provider API's wire format.
pub(super) trait Dialect: Sync {
    /// Which API this is.
    fn api(&self) -> Api;

    /// The API key the request carries, or the refusal of a request without
    /// one.
    fn credential(&self, incoming: &Incoming) -> Result<String, Refusal>;

    /// The model the request asks for.
    fn model(&self, incoming: &Incoming) -> Result<String, Refusal> {
        incoming
            .body
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Refusal::bad_request("`model` is required and must be a string."))
    }

    /// Whether the request asks for a streamed answer.
    fn wants_stream(&self, incoming: &Incoming) -> Result<bool, Refusal> {
        Ok(incoming.body.get("stream").and_then(Value::as_bool) == Some(true))
    }

    /// The body `spendguard::tokens::count_request` counts as the prompt.
    fn prompt<'body>(&self, body: &'body Value) -> Result<Cow<'body, Value>, Refusal> {
        Ok(Cow::Borrowed(body))
    }

    /// How many answers the request asks for (OpenAI Chat's `n`); each is
    /// generated, sent and billed in full.
    fn choices(&self, _body: &Value) -> u64 {
        1
    }

    /// The request's cap on output tokens, reasoning included.
    fn max_output_tokens(&self, body: &Value) -> Result<Option<u64>, Refusal>;

    /// Whether usage reports count reasoning inside the output tokens
    /// rather than apart.
    fn reasoning_in_output(&self) -> bool {
        false
    }

    /// The complete JSON answer.
    fn answer(&self, reply: &Reply) -> Value;

    /// The events of a streamed answer; `body` is the request's.
    fn stream(&self, reply: &Reply, body: &Value) -> Vec<Frame>;

    /// The provider's error JSON for `status`.
    fn error(&self, status: StatusCode, message: &str) -> Value;
}

/// Reads the output cap at `pointer` (a JSON pointer) in `body`: absent or
/// `null` is no cap, anything but a non-negative integer is a 400.
pub(super) fn output_cap(body: &Value, pointer: &str) -> Result<Option<u64>, Refusal> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or_else(|| {
            Refusal::bad_request(format!(
                "`{}` must be a non-negative integer, got {value}.",
                pointer.trim_start_matches('/').replace('/', ".")
            ))
        }),
    }
}

/// An SSE event with only a `data:` line.
pub(super) fn sse_data(data: &Value) -> String {
    format!("data: {data}\n\n")
}

/// An SSE event with an `event:` line naming it.
pub(super) fn sse_event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}
