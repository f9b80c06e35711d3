//! With feature `tracing`, every guarded call runs in one span after the
//! OpenTelemetry GenAI conventions: for `GuardedClient::send` and
//! `stream`, and for `SpendGuard::step`. Refusals and cut-offs are `WARN`
//! events inside it, a stream's span stays open until the stream ends, and
//! no key or prompt text is ever in it. The tower layer's and the
//! middleware's spans are checked in `tests/adapters/telemetry_spans.rs`.

use crate::support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use spendguard::client::HttpFailure;
use spendguard::guard::SpendGuard;
use spendguard::{ClientError, Provider, TaskBudget, Usage, Usd};
use support::guarded::{client_for, start_mock, TEST_KEY};
use support::mock_provider::{Behaviour, MockConfig};
use support::spans::Spans;
use tracing::Level;

const PROMPT: &str = "Summarise the quarterly incident report for the board.";

fn chat(model: &str) -> Value {
    json!({
        "model": model,
        "max_tokens": 400,
        "messages": [{"role": "user", "content": PROMPT}],
    })
}

fn budget(cents: u64) -> TaskBudget {
    TaskBudget::builder("spans")
        .max_cost(Usd::from_cents(cents))
        .build()
        .unwrap()
}

fn dollars(usd: Usd) -> String {
    format!("{:?}", usd.as_dollars_f64())
}

#[tokio::test]
async fn a_sent_call_is_one_span_with_the_gen_ai_attributes() {
    let spans = Spans::default();
    let _default = spans.install();
    let mock = start_mock(MockConfig {
        cached_percent: 50,
        reasoning_tokens: 20,
        ..MockConfig::default()
    })
    .await;
    let answer = client_for(Provider::OpenAiChat, &mock)
        .send(&budget(100), &chat("gpt-4o"))
        .await
        .unwrap();
    let span = spans.only();
    let usage = answer.receipt.usage;
    assert_eq!(span.name, "chat");
    for (field, value) in [
        ("otel.name", "chat gpt-4o".to_owned()),
        ("otel.kind", "client".to_owned()),
        ("gen_ai.operation.name", "chat".to_owned()),
        ("gen_ai.provider.name", "openai".to_owned()),
        ("gen_ai.request.model", "gpt-4o".to_owned()),
        ("gen_ai.request.max_tokens", "400".to_owned()),
        ("gen_ai.response.model", answer.receipt.model.clone()),
        (
            "gen_ai.usage.input_tokens",
            usage.prompt_tokens().to_string(),
        ),
        (
            "gen_ai.usage.output_tokens",
            usage.billed_output_tokens().to_string(),
        ),
        (
            "gen_ai.usage.cache_read.input_tokens",
            usage.cache_read_tokens.to_string(),
        ),
        ("gen_ai.usage.cache_creation.input_tokens", "0".to_owned()),
        ("gen_ai.usage.reasoning.output_tokens", "20".to_owned()),
        ("spendguard.budget", "spans".to_owned()),
        ("spendguard.cost_usd", dollars(answer.receipt.cost)),
        ("spendguard.reserved_usd", dollars(answer.receipt.reserved)),
        ("spendguard.cost_source", "reported".to_owned()),
        ("spendguard.decision", "allowed".to_owned()),
    ] {
        assert_eq!(
            span.field(field),
            Some(value.as_str()),
            "{field}: {span:#?}"
        );
    }
    assert!(usage.cache_read_tokens > 0 && usage.prompt_tokens() > usage.cache_read_tokens);
    assert_eq!(span.field("spendguard.limit"), None);
    assert!(span.events.is_empty(), "{:?}", span.events);
    assert!(span.closed);
    assert_no_secret_or_prompt(&span.all_text());
}

#[tokio::test]
async fn a_refusal_is_a_warn_event_in_its_span_naming_the_limit() {
    let spans = Spans::default();
    let _default = spans.install();
    let mock = start_mock(MockConfig::default()).await;
    let refused = client_for(Provider::Anthropic, &mock)
        .send(&budget(0), &chat("claude-sonnet-4-5"))
        .await
        .unwrap_err();
    assert!(matches!(refused, ClientError::Budget(_)), "{refused}");
    let span = spans.only();
    assert_eq!(span.field("otel.name"), Some("chat claude-sonnet-4-5"));
    assert_eq!(span.field("gen_ai.provider.name"), Some("anthropic"));
    assert_eq!(span.field("spendguard.decision"), Some("refused"));
    assert_eq!(span.field("spendguard.limit"), Some("cost"));
    assert_eq!(span.field("gen_ai.usage.input_tokens"), None, "never sent");
    let [event] = span.events.as_slice() else {
        panic!("one event: {:?}", span.events);
    };
    assert_eq!(event.level, Level::WARN);
    assert_eq!(event.message, refused.to_string());
    assert_eq!(event.fields["spendguard.limit"], "cost");
    assert_eq!(mock.requests(), 0);
}

#[tokio::test]
async fn a_streams_span_stays_open_until_the_stream_ends() {
    let spans = Spans::default();
    let _default = spans.install();
    let mock = start_mock(MockConfig::default()).await;
    let mut body = chat("gemini-2.5-flash");
    body = json!({
        "model": body["model"],
        "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
    });
    let mut stream = client_for(Provider::Gemini, &mock)
        .stream(&budget(100), &body)
        .await
        .unwrap();
    let open = spans.only();
    assert_eq!(open.name, "generate_content");
    assert_eq!(
        open.field("otel.name"),
        Some("generate_content gemini-2.5-flash")
    );
    assert_eq!(open.field("gen_ai.provider.name"), Some("gcp.gemini"));
    assert!(!open.closed, "the span is open while the stream is read");
    assert_eq!(open.field("spendguard.decision"), None);
    while let Some(event) = stream.next().await {
        event.unwrap();
    }
    let receipt = stream.receipt().unwrap().clone();
    let ended = spans.only();
    assert!(ended.closed, "the span closes as the stream settles");
    assert_eq!(ended.field("spendguard.decision"), Some("allowed"));
    assert_eq!(
        ended.field("spendguard.cost_usd"),
        Some(dollars(receipt.cost).as_str())
    );
    assert_eq!(
        ended.field("gen_ai.usage.output_tokens"),
        Some(receipt.usage.billed_output_tokens().to_string().as_str())
    );
    drop(stream);
    assert_no_secret_or_prompt(&ended.all_text());
}

#[tokio::test]
async fn a_cut_off_stream_is_a_warn_event_in_its_span() {
    let spans = Spans::default();
    let _default = spans.install();
    let mock = start_mock(MockConfig {
        reply_tokens: 2_000,
        stream_chunks: 200,
        ..MockConfig::default()
    })
    .await;
    mock.push(Behaviour::IgnoreMaxTokens {
        chunk_delay: Duration::from_millis(1),
    });
    let mut body = chat("gpt-4o");
    body["max_tokens"] = json!(200);
    let mut stream = client_for(Provider::OpenAiChat, &mock)
        .stream(&budget(100), &body)
        .await
        .unwrap();
    let mut error = None;
    while let Some(item) = stream.next().await {
        if let Err(cut_off) = item {
            error = Some(cut_off);
        }
    }
    let error = error.expect("the stream is cut off");
    let span = spans.only();
    assert_eq!(span.field("spendguard.decision"), Some("cut_off"));
    assert_eq!(span.field("spendguard.limit"), Some("output_limit"));
    let warnings: Vec<_> = span
        .events
        .iter()
        .filter(|event| event.target == "spendguard::call")
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", span.events);
    assert_eq!(warnings[0].level, Level::WARN);
    assert_eq!(warnings[0].message, error.to_string());
}

#[tokio::test]
async fn a_step_runs_in_a_span_and_its_overrun_is_a_warn_event_in_it() {
    let spans = Spans::default();
    let _default = spans.install();
    let guard = SpendGuard::builder().build().unwrap();
    let budget = budget(100);
    // A model no other test of this binary sends, so the prompt
    // calibration it learns here changes no other test.
    let (_, receipt) = guard
        .step(&budget, Provider::OpenAiChat)
        .prompt_tokens("gpt-4.1-mini", 1_000)
        .max_output_tokens(100)
        .run(|grant| async move {
            Ok::<_, HttpFailure>(((), Usage::new(3_000, grant.max_output_tokens)))
        })
        .await
        .unwrap();
    let span = spans.only();
    assert_eq!(span.field("otel.name"), Some("chat gpt-4.1-mini"));
    assert_eq!(span.field("gen_ai.request.max_tokens"), Some("100"));
    assert_eq!(span.field("gen_ai.usage.input_tokens"), Some("3000"));
    assert_eq!(span.field("spendguard.decision"), Some("allowed"));
    let overrun = span
        .events
        .iter()
        .find(|event| event.target == "spendguard::alert")
        .expect("the overrun is heard inside the span");
    assert_eq!(overrun.level, Level::WARN);
    assert!(receipt.overran.is_some());
    assert!(
        overrun.message.contains("more than the"),
        "{}",
        overrun.message
    );
}

#[tokio::test]
async fn a_halted_call_is_a_warn_event_in_its_span() {
    let spans = Spans::default();
    let _default = spans.install();
    let guard = SpendGuard::builder().build().unwrap();
    guard.halt("on-call", "runaway overnight").await.unwrap();
    let halted = guard
        .step(&budget(100), Provider::Anthropic)
        .prompt_tokens("claude-sonnet-4-5", 500)
        .run(|_| async { Ok::<_, HttpFailure>(((), Usage::new(500, 10))) })
        .await
        .unwrap_err();
    let span = spans.only();
    assert_eq!(span.field("spendguard.decision"), Some("killed"));
    assert_eq!(span.field("spendguard.limit"), Some("kill_switch"));
    let [event] = span.events.as_slice() else {
        panic!("one event: {:?}", span.events);
    };
    assert_eq!(event.level, Level::WARN);
    assert!(event.message.contains("runaway overnight"), "{halted}");
}

fn assert_no_secret_or_prompt(text: &str) {
    assert!(!text.contains(&TEST_KEY[3..11]), "the key leaked: {text}");
    assert!(
        !text.contains("quarterly incident"),
        "the prompt leaked: {text}"
    );
}
