//! The loopback mock provider that the client tests, the demo and the
//! benchmark run against: every endpoint's wire format read back with
//! spendguard's own usage parsers, what it bills, and each scripted
//! behaviour.

use crate::support;

use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use spendguard::tokens::{count_request, count_text};
use spendguard::usage::{AnthropicStreamUsage, UsageError};
use spendguard::{PriceTable, Usage, Usd};

use support::mock_provider::{Api, Behaviour, MockConfig, MockProvider};

const KEY: &str = "sk-mock-key";
/// Long enough for any loopback exchange; reached only if one hangs.
const PATIENCE: Duration = Duration::from_secs(5);

async fn start(config: MockConfig) -> MockProvider {
    MockProvider::start(config)
        .await
        .expect("the mock provider binds a loopback port")
}

/// What `usage` costs at the bundled price of `model`.
fn cost(model: &str, usage: &Usage) -> Usd {
    PriceTable::bundled()
        .resolve(model)
        .expect("the model is in the bundled price list")
        .into_price()
        .cost(usage)
}

fn chat_request() -> Value {
    json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Summarise last night's incidents."}
        ],
    })
}

fn anthropic_request() -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Summarise last night's incidents."}],
    })
}

fn gemini_request() -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "You are terse."}]},
        "contents": [{"role": "user", "parts": [{"text": "Summarise last night's incidents."}]}],
    })
}

/// The prompt tokens the mock counts for `body`.
fn prompt_tokens(model: &str, body: &Value) -> u64 {
    count_request(model, body)
        .expect("the request is countable")
        .tokens
}

async fn post_openai(mock: &MockProvider, path: &str, body: &Value) -> Response {
    Client::new()
        .post(format!("{}{path}", mock.base_url()))
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .expect("the mock answers")
}

async fn post_anthropic(mock: &MockProvider, body: &Value) -> Response {
    Client::new()
        .post(format!("{}/v1/messages", mock.base_url()))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("the mock answers")
}

/// Posts to Gemini's `{model}:{call}`, `call` being the method and any
/// query string.
async fn post_gemini(mock: &MockProvider, model: &str, call: &str, body: &Value) -> Response {
    Client::new()
        .post(format!("{}/v1beta/models/{model}:{call}", mock.base_url()))
        .header("x-goog-api-key", KEY)
        .json(body)
        .send()
        .await
        .expect("the mock answers")
}

async fn json_body(response: Response) -> Value {
    response.json().await.expect("the body is JSON")
}

/// One server-sent event.
#[derive(Debug)]
struct Event {
    name: Option<String>,
    data: String,
}

impl Event {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("the event's data is JSON")
    }
}

/// The events of an SSE body, framed with LF or CRLF.
fn events(body: &str) -> Vec<Event> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = Event {
                name: None,
                data: String::new(),
            };
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event.name = Some(name.to_owned());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    event.data = data.to_owned();
                }
            }
            event
        })
        .collect()
}

async fn sse_body(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    response.text().await.expect("the stream ends cleanly")
}

/// The reply text of OpenAI chat chunks.
fn chat_text(events: &[Event]) -> String {
    events
        .iter()
        .filter(|event| event.data != "[DONE]")
        .filter_map(|event| {
            event.json()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn serves_only_loopback() {
    let mock = start(MockConfig::default()).await;
    assert!(mock.base_url().starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn openai_chat_reports_the_counted_prompt_and_bills_its_price() {
    let mock = start(MockConfig::default()).await;
    let mut request = chat_request();
    request["max_tokens"] = json!(100);

    let response = post_openai(&mock, "/v1/chat/completions", &request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;

    let expected = Usage::new(prompt_tokens("gpt-4o", &request), 50);
    assert_eq!(Usage::from_openai_chat(&body).unwrap(), expected);
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["service_tier"], "default");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(count_text("gpt-4o", text).tokens, 50);
    assert_eq!(count_text("gpt-4", text).tokens, 50, "in cl100k_base too");

    assert_eq!(mock.billed(), cost("gpt-4o", &expected));
    assert_eq!(mock.requests(), 1);
    assert_eq!(mock.received(), vec![request]);
    let received = &mock.received_requests()[0];
    assert_eq!(received.api, Api::OpenAiChat);
    assert_eq!(received.api_key.as_deref(), Some(KEY));
    assert_eq!(received.max_output_tokens, Some(100));
    assert!(!received.stream);
    assert_eq!(received.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn openai_chat_caps_reasoning_and_reply_at_max_completion_tokens() {
    let mock = start(MockConfig {
        reasoning_tokens: 8,
        ..MockConfig::default()
    })
    .await;
    let mut request = chat_request();
    request["max_completion_tokens"] = json!(20);

    let body = json_body(post_openai(&mock, "/v1/chat/completions", &request).await).await;

    let usage = Usage::from_openai_chat(&body).unwrap();
    assert_eq!((usage.output_tokens, usage.reasoning_tokens), (12, 8));
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(mock.billed(), cost("gpt-4o", &usage));
}

#[tokio::test]
async fn openai_chat_stream_sends_usage_only_when_asked() {
    let mock = start(MockConfig::default()).await;
    let mut request = chat_request();
    request["stream"] = json!(true);

    let plain = events(&sse_body(post_openai(&mock, "/v1/chat/completions", &request).await).await);
    assert_eq!(plain.last().unwrap().data, "[DONE]");
    assert_eq!(count_text("gpt-4o", &chat_text(&plain)).tokens, 50);
    assert_eq!(
        plain.len(),
        1 + 5 + 1 + 1,
        "role, five pieces, finish, [DONE]"
    );
    assert!(plain[..plain.len() - 1]
        .iter()
        .all(|event| event.json().get("usage").is_none()));

    request["stream_options"] = json!({"include_usage": true});
    let counted =
        events(&sse_body(post_openai(&mock, "/v1/chat/completions", &request).await).await);
    let (done, rest) = counted.split_last().unwrap();
    let (usage_chunk, chunks) = rest.split_last().unwrap();
    assert_eq!(done.data, "[DONE]");
    assert!(chunks.iter().all(|event| event.json()["usage"].is_null()));
    assert_eq!(usage_chunk.json()["choices"], json!([]));
    let usage = Usage::from_openai_chat(&usage_chunk.json()).unwrap();
    assert_eq!(usage, Usage::new(prompt_tokens("gpt-4o", &request), 50));

    mock.idle().await;
    assert_eq!(mock.billed().nanos(), 2 * cost("gpt-4o", &usage).nanos());
    assert!(mock
        .received_requests()
        .iter()
        .all(|request| request.stream));
}

#[tokio::test]
async fn openai_responses_json_and_stream() {
    let mock = start(MockConfig {
        reasoning_tokens: 30,
        ..MockConfig::default()
    })
    .await;
    let request = json!({
        "model": "gpt-4o",
        "instructions": "You are terse.",
        "input": "Summarise last night's incidents.",
        "max_output_tokens": 60,
    });
    let as_chat = json!({"messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Summarise last night's incidents."},
    ]});
    let expected = Usage {
        input_tokens: prompt_tokens("gpt-4o", &as_chat),
        output_tokens: 30,
        reasoning_tokens: 30,
        ..Usage::default()
    };

    let body = json_body(post_openai(&mock, "/v1/responses", &request).await).await;
    assert_eq!(Usage::from_openai_responses(&body).unwrap(), expected);
    assert_eq!(body["status"], "incomplete");
    assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(body["output"][0]["type"], "reasoning");
    assert_eq!(body["output"][1]["content"][0]["type"], "output_text");

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let stream = events(&sse_body(post_openai(&mock, "/v1/responses", &streamed).await).await);
    for (number, event) in stream.iter().enumerate() {
        let data = event.json();
        assert_eq!(event.name.as_deref(), data["type"].as_str());
        assert_eq!(data["sequence_number"], number);
    }
    assert_eq!(stream[0].name.as_deref(), Some("response.created"));
    assert!(stream[0].json()["response"]["usage"].is_null());
    let text: String = stream
        .iter()
        .filter(|event| event.name.as_deref() == Some("response.output_text.delta"))
        .map(|event| event.json()["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(count_text("gpt-4o", &text).tokens, 30);
    let last = stream.last().unwrap();
    assert_eq!(last.name.as_deref(), Some("response.incomplete"));
    assert_eq!(
        Usage::from_openai_responses(&last.json()["response"]).unwrap(),
        expected
    );

    mock.idle().await;
    assert_eq!(mock.billed().nanos(), 2 * cost("gpt-4o", &expected).nanos());
    assert_eq!(mock.received_requests()[0].max_output_tokens, Some(60));
}

#[tokio::test]
async fn anthropic_messages_json_and_stream_with_cache_reads() {
    let mock = start(MockConfig {
        cached_percent: 40,
        ..MockConfig::default()
    })
    .await;
    let request = anthropic_request();
    let prompt = prompt_tokens("claude-sonnet-4-5", &request);
    let cached = prompt * 40 / 100;
    let expected = Usage {
        input_tokens: prompt - cached,
        cache_read_tokens: cached,
        output_tokens: 50,
        ..Usage::default()
    };

    let body = json_body(post_anthropic(&mock, &request).await).await;
    assert_eq!(Usage::from_anthropic(&body).unwrap(), expected);
    assert_eq!(body["type"], "message");
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["cache_creation_input_tokens"], 0);

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let stream = events(&sse_body(post_anthropic(&mock, &streamed).await).await);
    let names: Vec<_> = stream
        .iter()
        .filter_map(|event| event.name.as_deref())
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(stream[0].json()["message"]["usage"]["output_tokens"], 1);
    let mut usage = AnthropicStreamUsage::new();
    for event in &stream {
        usage.observe(&event.json()).unwrap();
    }
    assert_eq!(usage.finish().unwrap(), expected);

    mock.idle().await;
    assert_eq!(
        mock.billed().nanos(),
        2 * cost("claude-sonnet-4-5", &expected).nanos()
    );
    assert_eq!(mock.received_requests()[1].max_output_tokens, Some(1024));
}

#[tokio::test]
async fn gemini_json_and_sse_stream_with_thoughts() {
    let mock = start(MockConfig {
        reasoning_tokens: 20,
        cached_percent: 50,
        ..MockConfig::default()
    })
    .await;
    let request = gemini_request();
    let prompt = prompt_tokens("gemini-2.5-flash", &request);
    let expected = Usage {
        input_tokens: prompt - prompt / 2,
        cache_read_tokens: prompt / 2,
        output_tokens: 50,
        reasoning_tokens: 20,
        ..Usage::default()
    };

    // The key may also come in the query string.
    let url = format!(
        "{}/v1beta/models/gemini-2.5-flash:generateContent?key={KEY}",
        mock.base_url()
    );
    let response = Client::new().post(url).json(&request).send().await.unwrap();
    let body = json_body(response).await;
    assert_eq!(Usage::from_gemini(&body).unwrap(), expected);
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");
    assert_eq!(body["usageMetadata"]["thoughtsTokenCount"], 20);

    let raw = sse_body(
        post_gemini(
            &mock,
            "gemini-2.5-flash",
            "streamGenerateContent?alt=sse",
            &request,
        )
        .await,
    )
    .await;
    assert!(raw.ends_with("\r\n\r\n"), "Gemini frames events with CRLF");
    let stream = events(&raw);
    assert_eq!(stream.len(), 5 + 1, "five pieces, then the finish");
    let candidates: Vec<_> = stream
        .iter()
        .map(|event| {
            event.json()["usageMetadata"]["candidatesTokenCount"]
                .as_u64()
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(
        candidates,
        [10, 20, 30, 40, 50, 50],
        "counts are cumulative"
    );
    let last = stream.last().unwrap().json();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(Usage::from_gemini(&last).unwrap(), expected);

    mock.idle().await;
    assert_eq!(
        mock.billed().nanos(),
        2 * cost("gemini-2.5-flash", &expected).nanos()
    );
    let received = mock.received_requests();
    assert_eq!(received[0].api_key.as_deref(), Some(KEY));
    assert!(received[1].stream);
}

#[tokio::test]
async fn gemini_caps_output_at_max_output_tokens() {
    let mock = start(MockConfig::default()).await;
    let mut request = gemini_request();
    request["generationConfig"] = json!({"maxOutputTokens": 7});

    let body =
        json_body(post_gemini(&mock, "gemini-2.5-flash", "generateContent", &request).await).await;
    assert_eq!(body["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(Usage::from_gemini(&body).unwrap().output_tokens, 7);
    assert_eq!(mock.received_requests()[0].max_output_tokens, Some(7));
}

#[tokio::test]
async fn requests_without_credentials_or_valid_bodies_are_refused_and_not_billed() {
    let mock = start(MockConfig::default()).await;
    let client = Client::new();
    let url = |path: &str| format!("{}{path}", mock.base_url());

    let response = client
        .post(url("/v1/chat/completions"))
        .json(&chat_request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(json_body(response).await["error"]["message"].is_string());

    let response = client
        .post(url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&anthropic_request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = json_body(response).await;
    assert_eq!(
        (body["type"].as_str(), body["error"]["type"].as_str()),
        (Some("error"), Some("authentication_error"))
    );

    let response = client
        .post(url("/v1/messages"))
        .header("x-api-key", KEY)
        .json(&anthropic_request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json_body(response).await["error"]["type"],
        "invalid_request_error"
    );

    let mut uncapped = anthropic_request();
    uncapped.as_object_mut().unwrap().remove("max_tokens");
    let response = post_anthropic(&mock, &uncapped).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let response = client
        .post(url("/v1beta/models/gemini-2.5-flash:generateContent"))
        .json(&gemini_request())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        json_body(response).await["error"]["status"],
        "PERMISSION_DENIED"
    );

    let mut unknown = chat_request();
    unknown["model"] = json!("gpt-nonexistent-9");
    let response = post_openai(&mock, "/v1/chat/completions", &unknown).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        json_body(response).await["error"]["code"],
        "model_not_found"
    );

    assert_eq!(mock.requests(), 6);
    assert_eq!(mock.billed(), Usd::ZERO);
    assert!(mock.bills().is_empty());
}

#[tokio::test]
async fn scripted_statuses_come_in_each_providers_error_shape() {
    let mock = start(MockConfig::default()).await;
    mock.push(Behaviour::Status {
        code: 429,
        retry_after: Some(Duration::from_millis(1_500)),
        body: None,
    });
    mock.push(Behaviour::status(529));
    mock.push(Behaviour::status(503));
    mock.push(Behaviour::Status {
        code: 500,
        retry_after: None,
        body: Some("upstream exploded".to_owned()),
    });

    let response = post_openai(&mock, "/v1/chat/completions", &chat_request()).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(
        json_body(response).await["error"]["code"],
        "rate_limit_exceeded"
    );

    let response = post_anthropic(&mock, &anthropic_request()).await;
    assert_eq!(response.status().as_u16(), 529);
    assert_eq!(
        json_body(response).await["error"]["type"],
        "overloaded_error"
    );

    let response = post_gemini(
        &mock,
        "gemini-2.5-flash",
        "generateContent",
        &gemini_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_body(response).await["error"]["status"], "UNAVAILABLE");

    let response = post_openai(
        &mock,
        "/v1/responses",
        &json!({"model": "gpt-4o", "input": "hi"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.text().await.unwrap(), "upstream exploded");

    assert_eq!(mock.billed(), Usd::ZERO);
    let response = post_openai(&mock, "/v1/chat/completions", &chat_request()).await;
    assert_eq!(response.status(), StatusCode::OK, "the script is used up");
}

#[tokio::test]
async fn truncated_stream_ends_cleanly_without_usage_and_bills_what_was_sent() {
    let mock = start(MockConfig::default()).await;
    mock.push(Behaviour::TruncateStream { after_chunks: 2 });
    let mut request = chat_request();
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});

    let stream =
        events(&sse_body(post_openai(&mock, "/v1/chat/completions", &request).await).await);
    assert_eq!(stream.len(), 1 + 2, "the role chunk and two pieces");
    assert!(stream.iter().all(|event| event.json()["usage"].is_null()));

    let sent = Usage::new(prompt_tokens("gpt-4o", &request), 20);
    assert_eq!(mock.bills()[0].usage, sent);
    assert_eq!(mock.billed(), cost("gpt-4o", &sent));
}

#[tokio::test]
async fn disconnect_aborts_the_body_mid_stream() {
    let mock = start(MockConfig::default()).await;
    mock.push(Behaviour::Disconnect { after_chunks: 3 });
    let mut streamed = anthropic_request();
    streamed["stream"] = json!(true);

    let mut response = post_anthropic(&mock, &streamed).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut received = String::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(bytes)) => received.push_str(std::str::from_utf8(&bytes).unwrap()),
            Ok(None) => panic!("the body ended cleanly after {received:?}"),
            Err(error) => break error,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    assert_eq!(received.matches("event: content_block_delta").count(), 3);
    assert!(!received.contains("message_delta"));

    tokio::time::timeout(PATIENCE, mock.idle()).await.unwrap();
    assert_eq!(mock.bills()[0].usage.output_tokens, 30);
}

#[tokio::test]
async fn a_non_streaming_answer_can_be_cut_and_garbled_too() {
    let mock = start(MockConfig::default()).await;
    mock.push(Behaviour::Disconnect { after_chunks: 2 });
    mock.push(Behaviour::TruncateStream { after_chunks: 2 });
    mock.push(Behaviour::MalformedChunk { after_chunks: 2 });
    for _ in 0..3 {
        let response = post_openai(&mock, "/v1/chat/completions", &chat_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.bytes().await;
        assert!(
            body.map_or(true, |bytes| serde_json::from_slice::<Value>(&bytes)
                .is_err())
        );
    }
    tokio::time::timeout(PATIENCE, mock.idle()).await.unwrap();
    let full = Usage::new(prompt_tokens("gpt-4o", &chat_request()), 50);
    assert_eq!(mock.billed().nanos(), 3 * cost("gpt-4o", &full).nanos());
}

#[tokio::test]
async fn a_malformed_chunk_is_garbage_between_good_ones() {
    let mock = start(MockConfig::default()).await;
    mock.push(Behaviour::MalformedChunk { after_chunks: 2 });
    let mut request = chat_request();
    request["stream"] = json!(true);

    let stream =
        events(&sse_body(post_openai(&mock, "/v1/chat/completions", &request).await).await);
    let (garbled, readable): (Vec<_>, Vec<_>) =
        stream.into_iter().enumerate().partition(|(_, event)| {
            event.data != "[DONE]" && serde_json::from_str::<Value>(&event.data).is_err()
        });
    let garbled: Vec<_> = garbled.into_iter().map(|(index, _)| index).collect();
    assert_eq!(garbled, [3], "after the role chunk and two pieces");
    let readable: Vec<_> = readable.into_iter().map(|(_, event)| event).collect();
    assert_eq!(count_text("gpt-4o", &chat_text(&readable)).tokens, 50);
    assert_eq!(readable.last().unwrap().data, "[DONE]");
    assert_eq!(mock.bills()[0].usage.output_tokens, 50);
}

#[tokio::test]
async fn zero_usage_reports_no_prompt_but_the_prompt_is_billed() {
    let mock = start(MockConfig::default()).await;
    mock.push(Behaviour::ZeroUsage);

    let body = json_body(post_openai(&mock, "/v1/chat/completions", &chat_request()).await).await;
    assert_eq!(Usage::from_openai_chat(&body).unwrap(), Usage::new(0, 50));
    let truth = Usage::new(prompt_tokens("gpt-4o", &chat_request()), 50);
    assert_eq!(mock.billed(), cost("gpt-4o", &truth));
}

#[tokio::test]
async fn no_usage_leaves_the_usage_out_but_bills_it() {
    let mock = start(MockConfig::default()).await;
    mock.push(Behaviour::NoUsage);

    let body = json_body(post_openai(&mock, "/v1/chat/completions", &chat_request()).await).await;
    assert!(body.get("usage").is_none());
    assert!(matches!(
        Usage::from_openai_chat(&body),
        Err(UsageError::MissingUsage { .. })
    ));
    let truth = Usage::new(prompt_tokens("gpt-4o", &chat_request()), 50);
    assert_eq!(mock.billed(), cost("gpt-4o", &truth));
}

#[tokio::test]
async fn a_delayed_answer_times_the_client_out_and_is_still_billed() {
    let mock = start(MockConfig::default()).await;
    mock.push(Behaviour::Delay(Duration::from_millis(400)));
    let client = Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();

    let error = client
        .post(format!("{}/v1/chat/completions", mock.base_url()))
        .bearer_auth(KEY)
        .json(&chat_request())
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");

    tokio::time::timeout(PATIENCE, mock.idle()).await.unwrap();
    assert_eq!(mock.requests(), 1);
    let full = Usage::new(prompt_tokens("gpt-4o", &chat_request()), 50);
    assert_eq!(mock.billed(), cost("gpt-4o", &full));
}

#[tokio::test]
async fn a_client_that_stops_reading_a_slow_stream_is_billed_for_what_was_sent() {
    let mock = start(MockConfig {
        stream_chunks: 10,
        ..MockConfig::default()
    })
    .await;
    mock.push(Behaviour::SlowStream {
        chunk_delay: Duration::from_millis(40),
    });
    let mut request = chat_request();
    request["stream"] = json!(true);

    let started = Instant::now();
    let mut response = post_openai(&mock, "/v1/chat/completions", &request).await;
    let mut received = String::new();
    while received.matches("\"content\":\" word").count() < 3 {
        let bytes = response.chunk().await.unwrap().expect("more of the stream");
        received.push_str(std::str::from_utf8(&bytes).unwrap());
    }
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "the pieces came slowly"
    );
    drop(response);

    tokio::time::timeout(PATIENCE, mock.idle()).await.unwrap();
    let billed = mock.bills()[0].usage.output_tokens;
    assert!(
        (15..50).contains(&billed),
        "billed {billed} of 50 output tokens"
    );
}

#[tokio::test]
async fn the_script_is_taken_in_order_then_answers_normally() {
    let mock = start(MockConfig::default()).await;
    mock.push(Behaviour::status(500));
    mock.push(Behaviour::Answer);
    mock.push(Behaviour::status(429));

    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            post_openai(&mock, "/v1/chat/completions", &chat_request())
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [500, 200, 429, 200]);
    assert_eq!(mock.bills().len(), 2);
}

#[tokio::test]
async fn the_reported_model_is_the_configured_one() {
    let mock = start(MockConfig {
        model: Some("gpt-4o-mini".to_owned()),
        ..MockConfig::default()
    })
    .await;

    let body = json_body(post_openai(&mock, "/v1/chat/completions", &chat_request()).await).await;
    assert_eq!(body["model"], "gpt-4o-mini");
    let usage = Usage::from_openai_chat(&body).unwrap();
    assert_eq!(mock.bills()[0].model, "gpt-4o-mini");
    assert_eq!(mock.billed(), cost("gpt-4o-mini", &usage));
}

#[tokio::test]
async fn dropping_the_mock_stops_the_server() {
    let mock = start(MockConfig::default()).await;
    let url = format!("{}/v1/chat/completions", mock.base_url());
    drop(mock);

    let deadline = Instant::now() + PATIENCE;
    loop {
        let sent = Client::new()
            .post(&url)
            .bearer_auth(KEY)
            .json(&chat_request())
            .send()
            .await;
        match sent {
            Err(error) if error.is_connect() => break,
            _ => assert!(Instant::now() < deadline, "still serving after the drop"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
