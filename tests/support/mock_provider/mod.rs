//! A mock LLM provider on loopback: OpenAI Chat Completions and Responses,
//! Anthropic Messages and Gemini `generateContent`, each in its own wire
//! format, billed from spendguard's bundled price list.
//!
//! Integration tests reach it through `mod support;`; examples and benches
//! include this file directly with
//! `#[path = "../tests/support/mock_provider/mod.rs"] mod mock_provider;`.
//!
//! # Endpoints
//!
//! | Route | API | Credential |
//! |---|---|---|
//! | `POST /v1/chat/completions` | OpenAI Chat Completions | `Authorization: Bearer …` |
//! | `POST /v1/responses` | OpenAI Responses | `Authorization: Bearer …` |
//! | `POST /v1/messages` | Anthropic Messages | `x-api-key` and `anthropic-version` |
//! | `POST /v1beta/models/{model}:generateContent` | Gemini | `x-goog-api-key` or `?key=` |
//! | `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` | Gemini, streamed | the same |
//!
//! Any non-empty key is accepted. A missing one is refused as the provider
//! refuses it: 401 for OpenAI and Anthropic, 403 `PERMISSION_DENIED` for
//! Gemini, and 400 for a missing `anthropic-version`.
//!
//! # What the mock model answers
//!
//! - **Prompt tokens**: `spendguard::tokens::count_request` of the request
//!   for the answering model (exact for OpenAI models, the margin-padded
//!   estimate for the others: the mock is the provider, so its count is the
//!   truth). A Responses request is counted as the chat it amounts to:
//!   `instructions` as a system message, then the `input` items.
//!   [`MockConfig::cached_percent`] of them (rounded down) are reported as
//!   prompt-cache reads.
//! - **Reasoning tokens**: [`MockConfig::reasoning_tokens`], generated before
//!   the visible reply. Anthropic reports them inside `output_tokens`.
//! - **Visible output**: [`MockConfig::reply_tokens`] tokens of `" word"`,
//!   which is one token in every OpenAI encoding; or, for a
//!   [`Behaviour::ToolCall`], a call to a tool, billed as that reply.
//! - **Several answers**: a Chat request's `n` answers, each the same reply
//!   and each under the output cap, all billed; a stream interleaves them a
//!   chunk of each in turn (every one a chunk, for the stream behaviours).
//! - **The output cap** is the request's `max_completion_tokens` or
//!   `max_tokens` (Chat), `max_output_tokens` (Responses), `max_tokens`
//!   (Anthropic, where it is required) or `generationConfig.maxOutputTokens`
//!   (Gemini). Reasoning comes out of it first, then the visible reply; a
//!   capped answer says so (`length`, `incomplete`, `max_tokens`,
//!   `MAX_TOKENS`). Without a cap the configured lengths are answered.
//! - **The model** reported and billed is [`MockConfig::model`] if set,
//!   otherwise the requested one. A model the bundled price list cannot
//!   resolve is refused with 404.
//!
//! # What is billed
//!
//! Only a request answered 200 is billed, at the bundled price of the
//! answering model, for the true usage (not what a [`Behaviour`] makes the
//! answer report). Each bill is recorded once the body is finished with:
//!
//! - a JSON answer (streamed or not) bills everything it reports, even if it
//!   is cut off or the client goes away, as the provider generated it before
//!   sending;
//! - a stream bills the whole prompt and all reasoning as soon as it starts,
//!   plus the visible tokens of every text chunk handed to the connection.
//!   A stream that ends early ([`Behaviour::TruncateStream`],
//!   [`Behaviour::Disconnect`]) or stalls ([`Behaviour::Stall`]) bills the
//!   chunks sent before the end; a
//!   client that stops reading is billed for what was sent until the server
//!   notices the disconnect: at least what the client received, and at most
//!   the chunks the server could write before its next write failed;
//! - a request held by a [`Behaviour::Delay`] is answered before the delay,
//!   so a client that gives up waiting is billed all the same: in full for
//!   JSON, and for the prompt and reasoning (plus any chunks the server
//!   could still write) for a stream.
//!
//! A bill is recorded before the end of its body is sent, so once a client
//! has read a body to its end, its bill is in. After an aborted body or a
//! client that stopped reading, [`MockProvider::idle`] waits until every
//! bill is recorded.

// Each test binary and example that includes this module uses a different
// part of it.
#![allow(dead_code)]

mod anthropic;
mod dialect;
mod exchange;
mod gemini;
mod ledger;
mod openai_chat;
mod openai_responses;
mod reply;
mod transmission;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::Value;
use spendguard::{Usage, Usd};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use exchange::Server;
use ledger::Ledger;

/// The provider API a request was addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// `POST /v1/chat/completions`.
    OpenAiChat,
    /// `POST /v1/responses`.
    OpenAiResponses,
    /// `POST /v1/messages`.
    AnthropicMessages,
    /// `POST /v1beta/models/{model}:generateContent` and
    /// `:streamGenerateContent`.
    Gemini,
}

/// How the mock model answers every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockConfig {
    /// Visible output tokens of an answer the request does not cap lower.
    pub reply_tokens: u64,
    /// How many chunks a streamed reply's text is sent in (fewer if the reply
    /// has fewer tokens), and how many pieces a JSON answer is written in.
    pub stream_chunks: usize,
    /// The share of prompt tokens, in percent, reported as prompt-cache
    /// reads.
    pub cached_percent: u8,
    /// Hidden reasoning tokens of every answer.
    pub reasoning_tokens: u64,
    /// The model that answers, reported and billed whatever the request asks
    /// for; `None` answers as the requested model.
    pub model: Option<String>,
}

impl Default for MockConfig {
    /// 50 visible tokens in 5 chunks, no cache hits, no reasoning, answered
    /// as the requested model.
    fn default() -> Self {
        MockConfig {
            reply_tokens: 50,
            stream_chunks: 5,
            cached_percent: 0,
            reasoning_tokens: 0,
            model: None,
        }
    }
}

/// What the mock does with one request, scripted with
/// [`MockProvider::push`].
///
/// Behaviours are taken one per request, in order, by every request that
/// reaches an endpoint (refused ones included); when none are queued the
/// request gets [`Behaviour::Answer`]. A chunk, for the stream behaviours, is
/// one SSE event that carries reply text (the opening events before it,
/// such as Anthropic's `message_start`, are always sent), or one of the
/// [`MockConfig::stream_chunks`] pieces of a JSON answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// A normal answer.
    Answer,
    /// An error status with the provider's error JSON (or `body`, verbatim),
    /// and a `Retry-After` header in whole seconds, rounded up, if given.
    /// Sent after the credentials are checked; never billed.
    Status {
        /// The HTTP status, such as 429, 500, or Anthropic's 529.
        code: u16,
        /// The `Retry-After` to send.
        retry_after: Option<Duration>,
        /// A body to send instead of the provider's error JSON.
        body: Option<String>,
    },
    /// Sends `after_chunks` chunks, then ends the body cleanly: no usage, no
    /// final event, no `[DONE]`.
    TruncateStream {
        /// Chunks sent before the end.
        after_chunks: usize,
    },
    /// Sends `after_chunks` chunks, then aborts the connection mid-body, so
    /// the client reads an error rather than an end.
    Disconnect {
        /// Chunks sent before the connection is dropped.
        after_chunks: usize,
    },
    /// Sends `after_chunks` chunks, then sends nothing more and holds the
    /// connection open until the client goes away: a stalled stream.
    Stall {
        /// Chunks sent before the stall.
        after_chunks: usize,
    },
    /// Sends `after_chunks` chunks, then a garbled copy of the next event
    /// (its `data:` JSON cut in half), then the rest of the answer. In a JSON
    /// answer the garbage is a few control characters.
    MalformedChunk {
        /// Chunks sent before the garbage.
        after_chunks: usize,
    },
    /// A normal answer that reports 0 prompt tokens (and 0 cached).
    ZeroUsage,
    /// Waits this long before sending anything, headers included. The
    /// answer is generated, and billed, before the wait.
    Delay(Duration),
    /// Waits this long before every part of the body after the first.
    SlowStream {
        /// The pause between two parts.
        chunk_delay: Duration,
    },
    /// A normal answer without any usage report: no `usage` or
    /// `usageMetadata` object, no usage chunk or field in a stream.
    NoUsage,
    /// An answer that ignores the request's output cap and runs to the
    /// configured length, as a misbehaving provider or gateway might, at a
    /// model's pace: this long between two parts of the body.
    IgnoreMaxTokens {
        /// The pause between two parts.
        chunk_delay: Duration,
    },
    /// A normal answer whose prompt counts, reports and bills this many
    /// percent of the tokens spendguard counts for it, as a provider with
    /// a tokenizer less efficient than the estimate's does.
    InflateInput {
        /// Reported prompt tokens, in percent of the counted ones.
        percent: u64,
    },
    /// A JSON answer (Chat Completions or Messages) that calls the tool
    /// `name` with `arguments` instead of replying in text: a `tool_calls`
    /// message with `finish_reason: "tool_calls"`, or a `tool_use` block
    /// with `stop_reason: "tool_use"`. Its usage, and its bill, are those of
    /// a normal answer: the call's arguments are the reply the model wrote.
    /// Elsewhere (a stream, Responses, Gemini) a normal answer.
    ToolCall {
        /// The tool's name.
        name: String,
        /// Its arguments, as the JSON object the model wrote.
        arguments: Value,
    },
}

impl Behaviour {
    /// A call to the tool `name` with `arguments`; see [`Behaviour::ToolCall`].
    pub fn tool_call(name: &str, arguments: Value) -> Self {
        Behaviour::ToolCall {
            name: name.to_owned(),
            arguments,
        }
    }

    /// An error status with the provider's error JSON and no `Retry-After`.
    pub const fn status(code: u16) -> Self {
        Behaviour::Status {
            code,
            retry_after: None,
            body: None,
        }
    }
}

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// The API it was addressed to.
    pub api: Api,
    /// The path and query string.
    pub path: String,
    /// Every header sent.
    pub headers: HeaderMap,
    /// The API key from the provider's credential header (or Gemini's `key`
    /// query parameter), if one was sent.
    pub api_key: Option<String>,
    /// The value of the provider's output-cap field, if the body had a valid
    /// one.
    pub max_output_tokens: Option<u64>,
    /// Whether the request asked for a stream.
    pub stream: bool,
    /// The body as JSON; a body that is not JSON is kept as a JSON string.
    pub body: Value,
}

impl ReceivedRequest {
    /// The value of header `name`, if it was sent as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// What the mock charged for one answered request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill {
    /// The API that answered.
    pub api: Api,
    /// The model billed.
    pub model: String,
    /// The tokens billed, in spendguard's buckets.
    pub usage: Usage,
    /// Their price in the bundled price list.
    pub cost: Usd,
}

/// A running mock provider, serving on `127.0.0.1` until dropped.
#[derive(Debug)]
pub struct MockProvider {
    address: SocketAddr,
    ledger: Arc<Ledger>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl MockProvider {
    /// Binds a free port on `127.0.0.1` and serves on the current tokio
    /// runtime.
    ///
    /// # Errors
    /// The error from binding or reading the bound address.
    pub async fn start(config: MockConfig) -> io::Result<MockProvider> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let ledger = Arc::new(Ledger::new());
        let router = Server::new(config, Arc::clone(&ledger)).into_router();
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    // Dropping the sender stops the server as well as sending.
                    let _ = stop.await;
                })
                .await
        });
        Ok(MockProvider {
            address,
            ledger,
            shutdown: Some(shutdown),
        })
    }

    /// `http://127.0.0.1:{port}`, with no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Queues what the mock does with a later request.
    pub fn push(&self, behaviour: Behaviour) {
        self.ledger.push(behaviour);
    }

    /// How many requests reached an endpoint, refused ones included.
    pub fn requests(&self) -> usize {
        self.ledger.request_count()
    }

    /// The body of every request that reached an endpoint, in order.
    pub fn received(&self) -> Vec<Value> {
        self.ledger
            .received()
            .into_iter()
            .map(|request| request.body)
            .collect()
    }

    /// Every request that reached an endpoint, in order, with its headers.
    pub fn received_requests(&self) -> Vec<ReceivedRequest> {
        self.ledger.received()
    }

    /// The total billed so far.
    pub fn billed(&self) -> Usd {
        self.ledger.bills().iter().map(|bill| bill.cost).sum()
    }

    /// Every bill so far, in the order they were recorded.
    pub fn bills(&self) -> Vec<Bill> {
        self.ledger.bills()
    }

    /// Waits until no request is being answered, so every bill is recorded:
    /// after a client stops reading a stream, until the server has noticed.
    pub async fn idle(&self) {
        self.ledger.idle().await;
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // An error means the server has already stopped.
            let _ = shutdown.send(());
        }
    }
}
