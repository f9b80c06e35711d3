//! With feature `tracing`, a call through the tower layer or the reqwest
//! middleware runs in the same span as a `GuardedClient` call: named after
//! the GenAI conventions, with its usage and cost, and its refusal a
//! `WARN` event inside it. A streamed answer's span stays open until the
//! body is read to its end.

use crate::support;

use futures_util::StreamExt;
use serde_json::{json, Value};
use spendguard::client::exchange::HttpGuard;
use spendguard::client::middleware::GuardMiddleware;
use spendguard::client::tower::HttpGuardLayer;
use spendguard::client::CallReceipt;
use spendguard::{TaskBudget, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::MockConfig;
use support::spans::{CapturedSpan, Spans};
use tower::ServiceExt;
use tracing::Level;

fn body(stream: bool) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "max_tokens": 120,
        "stream": stream,
        "messages": [{"role": "user", "content": "Summarise the deploy log."}],
    })
}

fn post(url: &str, body: &Value) -> reqwest::Request {
    reqwest::Client::new()
        .post(url)
        .bearer_auth(TEST_KEY)
        .json(body)
        .build()
        .unwrap()
}

fn assert_settled_span(span: &CapturedSpan, receipt: &CallReceipt) {
    assert_eq!(span.name, "chat");
    assert_eq!(span.field("otel.name"), Some("chat gpt-4o-mini"));
    assert_eq!(span.field("gen_ai.provider.name"), Some("openai"));
    assert_eq!(span.field("gen_ai.request.max_tokens"), Some("120"));
    assert_eq!(
        span.field("gen_ai.usage.input_tokens"),
        Some(receipt.usage.prompt_tokens().to_string().as_str())
    );
    assert_eq!(
        span.field("spendguard.cost_usd"),
        Some(format!("{:?}", receipt.cost.as_dollars_f64()).as_str())
    );
    assert_eq!(span.field("spendguard.decision"), Some("allowed"));
    assert!(span.closed);
    assert!(!span.all_text().contains(&TEST_KEY[3..11]), "{span:?}");
    assert!(!span.all_text().contains("deploy log"), "{span:?}");
}

#[tokio::test]
async fn a_call_through_the_tower_layer_runs_in_one_span() {
    let spans = Spans::default();
    let _default = spans.install();
    let mock = start_mock(MockConfig::default()).await;
    let http_guard = HttpGuard::builder(TaskBudget::new(Usd::from_dollars(1.0).unwrap())).build();
    let service = tower::ServiceBuilder::new()
        .layer(HttpGuardLayer::new(http_guard))
        .service(reqwest::Client::new());
    let url = format!("{}/v1/chat/completions", mock.base_url());
    let response = service.oneshot(post(&url, &body(false))).await.unwrap();
    let receipt = response.extensions().get::<CallReceipt>().cloned().unwrap();
    response.bytes().await.unwrap();
    assert_settled_span(&spans.only(), &receipt);
}

#[tokio::test]
async fn a_stream_through_the_middleware_keeps_its_span_open_until_it_ends() {
    let spans = Spans::default();
    let _default = spans.install();
    let mock = start_mock(MockConfig::default()).await;
    let budget = TaskBudget::new(Usd::from_dollars(1.0).unwrap());
    let http_guard = HttpGuard::builder(budget.clone()).build();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(GuardMiddleware::new(http_guard))
        .build();
    let url = format!("{}/v1/chat/completions", mock.base_url());
    let response = client
        .post(&url)
        .bearer_auth(TEST_KEY)
        .json(&body(true))
        .send()
        .await
        .unwrap();
    assert!(!spans.only().closed, "open while the body is read");
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        chunk.unwrap();
    }
    drop(body);
    let span = spans.only();
    assert!(span.closed, "closed once the stream settled");
    assert_eq!(span.field("spendguard.decision"), Some("allowed"));
    assert_eq!(
        span.field("spendguard.cost_usd"),
        Some(format!("{:?}", budget.snapshot().spent.as_dollars_f64()).as_str())
    );
}

#[tokio::test]
async fn a_refusal_through_the_middleware_is_a_warn_event_in_its_span() {
    let spans = Spans::default();
    let _default = spans.install();
    let mock = start_mock(MockConfig::default()).await;
    let http_guard = HttpGuard::builder(TaskBudget::new(Usd::ZERO)).build();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(GuardMiddleware::new(http_guard))
        .build();
    let url = format!("{}/v1/chat/completions", mock.base_url());
    let refused = client
        .post(&url)
        .bearer_auth(TEST_KEY)
        .json(&body(false))
        .send()
        .await
        .unwrap_err();
    let span = spans.only();
    assert_eq!(span.field("spendguard.decision"), Some("refused"));
    assert_eq!(span.field("spendguard.limit"), Some("cost"));
    let [event] = span.events.as_slice() else {
        panic!("one event: {:?}", span.events);
    };
    assert_eq!(event.level, Level::WARN);
    assert!(
        event.message.contains("would exceed its cost limit"),
        "{}",
        event.message
    );
    let exchange = spendguard::client::middleware::exchange_error(&refused).unwrap();
    assert!(
        exchange.to_string().contains(&event.message),
        "{exchange} / {}",
        event.message
    );
    assert_eq!(mock.requests(), 0);
}
