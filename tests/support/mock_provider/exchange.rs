//! One request's way through the mock: recorded, scripted, checked,
//! answered in its provider's format, and billed.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use spendguard::prices::ModelPrice;
use spendguard::tokens::count_request;
use spendguard::PriceTable;

use super::anthropic::AnthropicMessages;
use super::dialect::{Dialect, Incoming, Refusal};
use super::gemini::Gemini;
use super::ledger::{Ledger, Meter, Visit};
use super::openai_chat::OpenAiChat;
use super::openai_responses::OpenAiResponses;
use super::reply::{Reply, Report, ToolCall};
use super::transmission::{Frame, Framing, Transmission};
use super::{Behaviour, MockConfig, ReceivedRequest};

/// The server's state, shared by every request.
#[derive(Debug)]
pub(super) struct Server {
    config: MockConfig,
    prices: Arc<PriceTable>,
    ledger: Arc<Ledger>,
}

impl Server {
    /// A server answering as `config` says and keeping its books in
    /// `ledger`.
    pub(super) fn new(config: MockConfig, ledger: Arc<Ledger>) -> Arc<Self> {
        Arc::new(Server {
            config,
            prices: PriceTable::bundled(),
            ledger,
        })
    }

    /// The routes of every provider API.
    pub(super) fn into_router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/chat/completions", post(openai_chat))
            .route("/v1/responses", post(openai_responses))
            .route("/v1/messages", post(anthropic_messages))
            .route("/v1beta/models/{target}", post(gemini))
            .with_state(self)
    }

    /// Records a request, takes its scripted behaviour and answers it.
    async fn exchange(
        &self,
        dialect: &'static dyn Dialect,
        path: String,
        incoming: Incoming,
    ) -> Response {
        let visit = Visit::begin(&self.ledger);
        let received = ReceivedRequest {
            api: dialect.api(),
            path,
            headers: incoming.headers.clone(),
            api_key: dialect.credential(&incoming).ok(),
            max_output_tokens: dialect.max_output_tokens(&incoming.body).ok().flatten(),
            stream: dialect.wants_stream(&incoming).unwrap_or(false),
            body: incoming.body.clone(),
        };
        let (number, behaviour) = self.ledger.receive(received);
        // Answered (and so billed) before the delay: a client that gives up
        // waiting does not stop the provider from generating.
        let response = self
            .answer(dialect, &incoming, number, &behaviour, visit)
            .unwrap_or_else(|refusal| error_response(dialect, refusal.status, &refusal.message));
        if let Behaviour::Delay(delay) = behaviour {
            tokio::time::sleep(delay).await;
        }
        response
    }

    /// The 200 answer, billed through a meter that takes over `visit`, or
    /// why there is none.
    fn answer(
        &self,
        dialect: &'static dyn Dialect,
        incoming: &Incoming,
        number: usize,
        behaviour: &Behaviour,
        visit: Visit,
    ) -> Result<Response, Refusal> {
        dialect.credential(incoming)?;
        if let Behaviour::Status {
            code,
            retry_after,
            body,
        } = behaviour
        {
            return Ok(scripted_error(
                dialect,
                *code,
                *retry_after,
                body.as_deref(),
            ));
        }
        if !incoming.body.is_object() {
            return Err(Refusal::bad_request(
                "The request body is not a JSON object.",
            ));
        }
        let stream = dialect.wants_stream(incoming)?;
        let (reply, price) = self.generate(dialect, incoming, number, behaviour)?;

        let reasoning_in_output = dialect.reasoning_in_output();
        let (frames, framing, billed_up_front, content_type) = if stream {
            (
                dialect.stream(&reply, &incoming.body),
                Framing::Sse,
                reply.usage(0, reasoning_in_output),
                "text/event-stream; charset=utf-8",
            )
        } else {
            let answer = dialect.answer(&reply).to_string();
            (
                Frame::json_pieces(&answer, self.config.stream_chunks),
                Framing::Json,
                reply.usage(reply.all_output_tokens(), reasoning_in_output),
                "application/json",
            )
        };
        let model = reply.model.clone();
        let meter = Meter::new(visit, dialect.api(), model, price, billed_up_front);
        let body = Transmission::new(frames, framing, behaviour, meter).into_body();
        Ok(Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, content_type)
            .header(CACHE_CONTROL, "no-cache")
            .body(body)
            .expect("a status and two valid headers make a response"))
    }

    /// The mock model's reply to a valid request, and the price of the
    /// model that answers.
    fn generate(
        &self,
        dialect: &dyn Dialect,
        incoming: &Incoming,
        number: usize,
        behaviour: &Behaviour,
    ) -> Result<(Reply, Arc<ModelPrice>), Refusal> {
        let requested = dialect.model(incoming)?;
        let model = self.config.model.clone().unwrap_or(requested);
        let price = self
            .prices
            .resolve(&model)
            .map_err(|_| {
                Refusal::new(
                    StatusCode::NOT_FOUND,
                    format!("The model `{model}` does not exist or you do not have access to it."),
                )
            })?
            .into_price();
        let prompt = dialect.prompt(&incoming.body)?;
        let prompt_tokens = count_request(&model, &prompt)
            .map_err(|error| Refusal::bad_request(error.to_string()))?
            .tokens;
        let prompt_tokens = match behaviour {
            Behaviour::InflateInput { percent } => prompt_tokens * percent / 100,
            _ => prompt_tokens,
        };
        let max_output_tokens = match behaviour {
            Behaviour::IgnoreMaxTokens { .. } => None,
            _ => dialect.max_output_tokens(&incoming.body)?,
        };
        let report = match behaviour {
            Behaviour::ZeroUsage => Report::ZeroPrompt,
            Behaviour::NoUsage => Report::Omitted,
            _ => Report::Complete,
        };
        let reply = Reply::generate(
            &self.config,
            number,
            model,
            prompt_tokens,
            max_output_tokens,
            report,
        )
        .times(dialect.choices(&incoming.body))
        .calling(match behaviour {
            Behaviour::ToolCall { name, arguments } => Some(ToolCall {
                name: name.clone(),
                arguments: arguments.clone(),
            }),
            _ => None,
        });
        Ok((reply, price))
    }
}

async fn openai_chat(
    State(server): State<Arc<Server>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (path, incoming) = incoming("/v1/chat/completions", query, headers, &body, None);
    server.exchange(&OpenAiChat, path, incoming).await
}

async fn openai_responses(
    State(server): State<Arc<Server>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (path, incoming) = incoming("/v1/responses", query, headers, &body, None);
    server.exchange(&OpenAiResponses, path, incoming).await
}

async fn anthropic_messages(
    State(server): State<Arc<Server>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (path, incoming) = incoming("/v1/messages", query, headers, &body, None);
    server.exchange(&AnthropicMessages, path, incoming).await
}

async fn gemini(
    State(server): State<Arc<Server>>,
    Path(target): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = format!("/v1beta/models/{target}");
    let (model, method) = target.split_once(':').unwrap_or((&target, ""));
    let path_target = Some((model.to_owned(), method.to_owned()));
    let (path, incoming) = incoming(&route, query, headers, &body, path_target);
    server.exchange(&Gemini, path, incoming).await
}

/// The path with its query string, and the request as the dialects read
/// it.
fn incoming(
    route: &str,
    query: Option<String>,
    headers: HeaderMap,
    body: &[u8],
    path_target: Option<(String, String)>,
) -> (String, Incoming) {
    let path = match &query {
        Some(query) => format!("{route}?{query}"),
        None => route.to_owned(),
    };
    let query = query
        .iter()
        .flat_map(|query| query.split('&'))
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect();
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let incoming = Incoming {
        query,
        headers,
        body,
        path_target,
    };
    (path, incoming)
}

/// The provider's error JSON with `status`.
fn error_response(dialect: &dyn Dialect, status: StatusCode, message: &str) -> Response {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(dialect.error(status, message).to_string()))
        .expect("a status and a valid header make a response")
}

/// The error a [`Behaviour::Status`] scripts.
fn scripted_error(
    dialect: &dyn Dialect,
    code: u16,
    retry_after: Option<std::time::Duration>,
    body: Option<&str>,
) -> Response {
    let status = StatusCode::from_u16(code).expect("a scripted status is between 100 and 999");
    let mut response = match body {
        Some(body) => Response::builder()
            .status(status)
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .expect("a status and a valid header make a response"),
        None => {
            // 529 is Anthropic's own status and has no standard reason.
            let message = status.canonical_reason().unwrap_or("Overloaded");
            error_response(dialect, status, message)
        }
    };
    if let Some(retry_after) = retry_after {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        response.headers_mut().insert(RETRY_AFTER, seconds.into());
    }
    response
}
