use std::error::Error;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Url};
use serde_json::{json, Value};

use super::route::route;
use super::*;
use crate::budget::BudgetExceeded;
use crate::client::CallReceipt;
use crate::money::Usd;

fn url(path: &str) -> Url {
    Url::parse(&format!("http://provider.test{path}")).unwrap()
}

fn post(path: &str, body: &Value) -> reqwest::Request {
    let mut request = reqwest::Request::new(Method::POST, url(path));
    let headers = request.headers_mut();
    headers.insert("authorization", "Bearer sk-secret".parse().unwrap());
    headers.insert("x-route", "blue".parse().unwrap());
    headers.insert("content-length", "999".parse().unwrap());
    *request.body_mut() = Some(body.to_string().into());
    request
}

fn chat() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
}

fn answer(status: u16, content_type: &str, body: String) -> reqwest::Response {
    let response = http::Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header("x-request-id", "req-1")
        .body(body)
        .unwrap();
    reqwest::Response::from(response)
}

fn chat_answer() -> reqwest::Response {
    let body = json!({
        "id": "c1", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
    });
    answer(200, "application/json", body.to_string())
}

/// A transport that records what it was sent and answers `response`.
fn transport(
    sent: &Arc<Mutex<Vec<reqwest::Request>>>,
    response: reqwest::Response,
) -> impl FnOnce(reqwest::Request) -> std::future::Ready<Result<reqwest::Response, BoxError>> {
    let sent = Arc::clone(sent);
    move |request| {
        sent.lock().unwrap().push(request);
        std::future::ready(Ok(response))
    }
}

fn sent_body(request: &reqwest::Request) -> Value {
    serde_json::from_slice(request.body().unwrap().as_bytes().unwrap()).unwrap()
}

fn dollars(amount: f64) -> TaskBudget {
    TaskBudget::new(Usd::from_dollars(amount).unwrap())
}

#[test]
fn the_path_names_the_api() {
    let post = Method::POST;
    let of = |path: &str| route(&post, &url(path), None).map(|r| r.provider);
    assert_eq!(of("/v1/chat/completions"), Ok(Provider::OpenAiChat));
    assert_eq!(of("/openai/v1/chat/completions/"), Ok(Provider::OpenAiChat));
    assert_eq!(of("/v1/responses"), Ok(Provider::OpenAiResponses));
    assert_eq!(of("/v1/messages"), Ok(Provider::Anthropic));
    let gemini = route(
        &post,
        &url("/v1beta/models/gemini-2.5-pro:generateContent"),
        None,
    )
    .unwrap();
    assert_eq!(gemini.provider, Provider::Gemini);
    let path = gemini.gemini.unwrap();
    assert_eq!(
        (path.model.as_str(), path.stream),
        ("gemini-2.5-pro", false)
    );
    assert_eq!(
        path.path_for("gemini-2.5-flash"),
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    for other in [
        "/v1/embeddings",
        "/v1/responses/r1/cancel",
        "/v1/messages/count_tokens",
    ] {
        assert_eq!(
            of(other),
            Err(Unguardable::UnknownPath { provider: None }),
            "{other}"
        );
    }
}

#[test]
fn a_configured_provider_takes_only_its_own_paths() {
    let post = Method::POST;
    let compatible = Some(Provider::OpenAiCompatible);
    let to = |path: &str, provider| route(&post, &url(path), provider).map(|r| r.provider);
    assert_eq!(
        to("/api/v1/chat/completions", compatible),
        Ok(Provider::OpenAiCompatible)
    );
    assert_eq!(
        to("/v1/messages", compatible),
        Err(Unguardable::UnknownPath {
            provider: compatible
        })
    );
    assert_eq!(
        to("/v1/chat/completions", Some(Provider::Anthropic)),
        Err(Unguardable::UnknownPath {
            provider: Some(Provider::Anthropic)
        })
    );
}

#[test]
fn other_methods_and_gemini_streams_without_sse_are_unguardable() {
    let get = route(&Method::GET, &url("/v1/chat/completions"), None);
    assert_eq!(
        get,
        Err(Unguardable::Method {
            method: "GET".into()
        })
    );
    assert!(get.unwrap_err().is_other_route());
    let path = "/v1beta/models/gemini-2.5-pro:streamGenerateContent";
    let no_sse = route(&Method::POST, &url(path), None);
    assert_eq!(no_sse, Err(Unguardable::GeminiStreamWithoutSse));
    assert!(!no_sse.unwrap_err().is_other_route());
    let sse = route(&Method::POST, &url(&format!("{path}?alt=sse")), None).unwrap();
    assert!(sse.gemini.unwrap().stream);
}

#[tokio::test]
async fn a_call_is_rewritten_only_where_the_guard_must_and_settled() {
    let budget = dollars(1.0);
    let guard = HttpGuard::builder(budget.clone()).build();
    let sent = Arc::default();
    let mut body = chat();
    body["temperature"] = json!(0.5);
    let response = guard
        .exchange(
            post("/v1/chat/completions", &body),
            transport(&sent, chat_answer()),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-1");
    let receipt = response.extensions().get::<CallReceipt>().cloned().unwrap();
    assert_eq!(budget.snapshot().spent, receipt.cost);
    assert!(receipt.cost > Usd::ZERO);
    let text = response.text().await.unwrap();
    assert!(text.contains("\"ok\""));

    let sent = sent.lock().unwrap();
    let request = &sent[0];
    assert_eq!(request.headers()["x-route"], "blue");
    assert!(request.headers().get("content-length").is_none());
    let wire = sent_body(request);
    assert_eq!(wire["temperature"], json!(0.5));
    assert!(wire["max_completion_tokens"].as_u64().is_some());
    assert_eq!(wire["messages"], body["messages"]);
}

#[tokio::test]
async fn a_refusal_sends_nothing_and_its_chain_reaches_the_limit() {
    let guard = HttpGuard::builder(dollars(0.000_001)).build();
    let sent = Arc::default();
    let error = guard
        .exchange(
            post("/v1/chat/completions", &chat()),
            transport(&sent, chat_answer()),
        )
        .await
        .unwrap_err();
    assert!(sent.lock().unwrap().is_empty());
    assert!(matches!(error, ExchangeError::Refused(_)));
    assert!(error.budget_exceeded().is_some());
    let boxed: BoxError = Box::new(error);
    let first: &(dyn Error + 'static) = &*boxed;
    let found = std::iter::successors(Some(first), |e| (*e).source())
        .find_map(|e| e.downcast_ref::<BudgetExceeded>());
    assert!(found.is_some());
    assert_eq!(boxed.to_string(), found.unwrap().to_string());
}

#[tokio::test]
async fn unreadable_bodies_and_unknown_routes_are_refused_unsent() {
    let guard = HttpGuard::builder(dollars(1.0)).build();
    let sent = Arc::default();
    let mut not_json = post("/v1/chat/completions", &chat());
    *not_json.body_mut() = Some("{not json".into());
    let cases = [
        (not_json, "not JSON"),
        (post("/v1/embeddings", &chat()), "the path is not"),
        (
            post(
                "/v1/chat/completions",
                &json!({"model": "no-such-model", "messages": []}),
            ),
            "no-such-model",
        ),
    ];
    for (request, says) in cases {
        let error = guard
            .exchange(request, transport(&sent, chat_answer()))
            .await
            .unwrap_err();
        assert!(error.to_string().contains(says), "{error}");
        let refused_unpriced = matches!(error, ExchangeError::Refused(ClientError::Price(_)));
        let unguardable = error.to_string().contains("nothing was sent");
        assert!(refused_unpriced || unguardable, "{error}");
    }
    assert!(sent.lock().unwrap().is_empty());
    assert_eq!(guard.budget().snapshot().calls, 0);
}

#[tokio::test]
async fn unknown_routes_pass_only_when_told_to() {
    let guard = HttpGuard::builder(dollars(1.0))
        .pass_unguarded(true)
        .build();
    let sent = Arc::default();
    let mut list = reqwest::Request::new(Method::GET, url("/v1/models"));
    list.headers_mut()
        .insert("x-route", "blue".parse().unwrap());
    let response = guard
        .exchange(
            list,
            transport(&sent, answer(200, "application/json", "{}".into())),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(sent.lock().unwrap().len(), 1);
    let mut not_json = post("/v1/chat/completions", &chat());
    *not_json.body_mut() = Some("{not json".into());
    let error = guard
        .exchange(not_json, transport(&sent, chat_answer()))
        .await
        .unwrap_err();
    assert!(matches!(error, ExchangeError::Unguardable { .. }));
    assert_eq!(sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_status_reaches_the_caller_unbilled() {
    let budget = dollars(1.0);
    let guard = HttpGuard::builder(budget.clone()).build();
    let sent = Arc::default();
    let refusal = answer(
        429,
        "application/json",
        "{\"error\":{\"message\":\"slow down\"}}".into(),
    );
    let response = guard
        .exchange(
            post("/v1/chat/completions", &chat()),
            transport(&sent, refusal),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.text().await.unwrap().contains("slow down"));
    let snapshot = budget.snapshot();
    assert_eq!((snapshot.spent, snapshot.calls), (Usd::ZERO, 1));
}

#[tokio::test]
async fn a_transport_failure_keeps_its_error_and_bills_the_worst_case() {
    let budget = dollars(1.0);
    let guard = HttpGuard::builder(budget.clone()).build();
    let error = guard
        .exchange(post("/v1/chat/completions", &chat()), |_| {
            std::future::ready(Err::<reqwest::Response, BoxError>("socket closed".into()))
        })
        .await
        .unwrap_err();
    let ExchangeError::Failed {
        error: failure,
        source,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(failure.billed() > Usd::ZERO);
    assert_eq!(budget.snapshot().spent, failure.billed());
    assert_eq!(source.as_ref().unwrap().to_string(), "socket closed");
}

#[tokio::test]
async fn a_stream_passes_the_providers_bytes_and_settles() {
    let budget = dollars(1.0);
    let guard = HttpGuard::builder(budget.clone()).build();
    let sent = Arc::default();
    let events = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n\
        data: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":1,\"total_tokens\":9}}\n\n\
        data: [DONE]\n\n";
    let mut body = chat();
    body["stream"] = json!(true);
    let response = guard
        .exchange(
            post("/v1/chat/completions", &body),
            transport(&sent, answer(200, "text/event-stream", events.into())),
        )
        .await
        .unwrap();
    assert_eq!(
        sent_body(&sent.lock().unwrap()[0])["stream_options"]["include_usage"],
        json!(true)
    );
    let mut bytes = response.bytes_stream();
    let mut passed = Vec::new();
    while let Some(piece) = bytes.next().await {
        passed.extend_from_slice(&piece.unwrap());
    }
    assert_eq!(String::from_utf8(passed).unwrap(), events);
    assert!(budget.snapshot().spent > Usd::ZERO);
}

#[tokio::test]
async fn gemini_reads_its_model_from_the_path_and_sends_none_in_the_body() {
    let guard = HttpGuard::builder(dollars(1.0)).build();
    let sent = Arc::default();
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let reply = json!({
        "candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
    });
    guard
        .exchange(
            post("/v1beta/models/gemini-2.5-flash:generateContent", &body),
            transport(&sent, answer(200, "application/json", reply.to_string())),
        )
        .await
        .unwrap();
    let wire = sent_body(&sent.lock().unwrap()[0]);
    assert!(wire.get("model").is_none());
    assert!(wire["generationConfig"]["maxOutputTokens"]
        .as_u64()
        .is_some());
}
