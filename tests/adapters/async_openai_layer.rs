//! async-openai's own typed client with `HttpGuardLayer` as its HTTP
//! service, against the loopback mock provider: chat, chat streaming and
//! responses are billed as the mock billed them; refusals never reach the
//! mock; a shared `SpendGuard` caps and halts it together with a
//! `GuardedClient`; streams are cut off and never free; the ledger has one
//! line per decision; `OpenAIRetryLayer` above it is checked per attempt.

use crate::support;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::retry::OpenAIRetryLayer;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs,
};
use async_openai::types::responses::CreateResponseArgs;
use async_openai::Client;
use futures_util::StreamExt;
use serde_json::json;
use spendguard::client::exchange::{ExchangeError, HttpGuard};
use spendguard::client::tower::HttpGuardLayer;
use spendguard::guard::{SharedLimit, Window};
use spendguard::halt::Halt;
use spendguard::ledger::{Decision, MemorySink};
use spendguard::tags::TagKind;
use spendguard::{BudgetExceeded, ClientError, Provider, SpendGuard, TaskBudget, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::{Behaviour, MockConfig, MockProvider};

const MODEL: &str = "gpt-4o-mini";

/// async-openai's client for `mock`, its requests sent through `http_guard`.
fn openai(mock: &MockProvider, http_guard: HttpGuard) -> Client<OpenAIConfig> {
    let service = tower::ServiceBuilder::new()
        .layer(HttpGuardLayer::new(http_guard))
        .service(reqwest::Client::new());
    config_for(mock).with_http_service(service)
}

fn config_for(mock: &MockProvider) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("{}/v1", mock.base_url()))
            .with_api_key(TEST_KEY),
    )
}

fn chat(max_tokens: u32) -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model(MODEL)
        .max_completion_tokens(max_tokens)
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content("Summarise the incident report in three bullet points.")
            .build()
            .unwrap()
            .into()])
        .build()
        .unwrap()
}

fn dollars(amount: f64) -> TaskBudget {
    TaskBudget::new(Usd::from_dollars(amount).unwrap())
}

/// The first error of type `T` in `error`'s source chain, itself included.
fn find<'e, T: Error + 'static>(error: &'e (dyn Error + 'static)) -> Option<&'e T> {
    std::iter::successors(Some(error), |e| (*e).source()).find_map(|e| e.downcast_ref::<T>())
}

/// The guard's error inside async-openai's.
fn exchange_error(error: &OpenAIError) -> &ExchangeError {
    match error {
        OpenAIError::Boxed(boxed) => boxed.downcast_ref().expect("the guard's error"),
        other => panic!("expected the guard's error, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_chat_is_billed_as_the_mock_billed_it() {
    let mock = start_mock(MockConfig::default()).await;
    let budget = dollars(1.0);
    let client = openai(&mock, HttpGuard::builder(budget.clone()).build());
    let answer = client.chat().create(chat(300)).await.unwrap();
    assert!(answer.choices[0].message.content.is_some());
    assert!(budget.snapshot().spent > Usd::ZERO);
    assert_eq!(budget.snapshot().spent, mock.billed());
    assert_eq!(mock.received_requests()[0].max_output_tokens, Some(300));
}

#[tokio::test]
async fn chat_streaming_passes_through_metered_and_billed_as_the_mock_billed_it() {
    let mock = start_mock(MockConfig::default()).await;
    let budget = dollars(1.0);
    let client = openai(&mock, HttpGuard::builder(budget.clone()).build());
    let mut stream = client.chat().create_stream(chat(300)).await.unwrap();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        for choice in chunk.unwrap().choices {
            text.push_str(choice.delta.content.as_deref().unwrap_or_default());
        }
    }
    drop(stream);
    mock.idle().await;
    assert!(text.contains("word"), "{text}");
    let sent = &mock.received()[0];
    assert_eq!(sent["stream_options"]["include_usage"], json!(true));
    assert!(mock.billed() > Usd::ZERO);
    assert_eq!(budget.snapshot().spent, mock.billed());
}

#[tokio::test]
async fn responses_are_billed_as_the_mock_billed_them() {
    let mock = start_mock(MockConfig::default()).await;
    let budget = dollars(1.0);
    let client = openai(&mock, HttpGuard::builder(budget.clone()).build());
    let request = CreateResponseArgs::default()
        .model(MODEL)
        .input("Name three rivers.")
        .build()
        .unwrap();
    client.responses().create(request).await.unwrap();
    assert!(mock.billed() > Usd::ZERO);
    assert_eq!(budget.snapshot().spent, mock.billed());
    // The guard wrote the output ceiling the budget granted.
    assert!(mock.received_requests()[0].max_output_tokens.is_some());
}

#[tokio::test]
async fn a_refused_call_never_reaches_the_mock_and_names_the_limit() {
    let mock = start_mock(MockConfig::default()).await;
    let client = openai(&mock, HttpGuard::builder(dollars(0.000_01)).build());
    let error = client.chat().create(chat(4_000)).await.unwrap_err();
    assert_eq!(mock.requests(), 0);
    let exceeded = find::<BudgetExceeded>(&error).expect("BudgetExceeded in the chain");
    assert_eq!(error.to_string(), exceeded.to_string());
    assert!(exchange_error(&error).budget_exceeded().is_some());
}

#[tokio::test]
async fn a_layered_client_and_a_guarded_client_share_one_guards_cap_and_halt() {
    let mock = start_mock(MockConfig::default()).await;
    let cap = Usd::from_dollars(0.001).unwrap();
    let guard = SpendGuard::builder()
        .limit(SharedLimit::each(TagKind::Key, cap, Window::Day))
        .build()
        .unwrap();
    let budget = dollars(1.0);
    let layered = openai(
        &mock,
        HttpGuard::builder(budget.clone())
            .guard(guard.clone())
            .key_label("prod-1")
            .build(),
    );
    let guarded = spendguard::GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(spendguard::ApiKey::new(TEST_KEY))
        .guard(guard.clone())
        .key_label("prod-1")
        .build()
        .unwrap();
    let body = serde_json::to_value(chat(300)).unwrap();
    let (mut layered_refused, mut guarded_refused) = (false, false);
    for _ in 0..40 {
        match layered.chat().create(chat(300)).await {
            Ok(_) => {}
            Err(error) => layered_refused = find::<BudgetExceeded>(&error).is_some(),
        }
        match guarded.send(&budget, &body).await {
            Ok(_) => {}
            Err(error) => guarded_refused = matches!(error, ClientError::Budget(_)),
        }
        if layered_refused && guarded_refused {
            break;
        }
    }
    assert!(layered_refused && guarded_refused);
    assert!(mock.billed() <= cap, "{} > {cap}", mock.billed());
    assert_eq!(budget.snapshot().spent, mock.billed());

    let open = SpendGuard::builder().build().unwrap();
    let budget = dollars(1.0);
    let layered = openai(
        &mock,
        HttpGuard::builder(budget.clone())
            .guard(open.clone())
            .build(),
    );
    let guarded = spendguard::GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(spendguard::ApiKey::new(TEST_KEY))
        .guard(open.clone())
        .build()
        .unwrap();
    layered.chat().create(chat(100)).await.unwrap();
    open.kill_switch().trip("ops@alice", "bill spike");
    let before = mock.requests();
    let error = layered.chat().create(chat(100)).await.unwrap_err();
    assert_eq!(
        find::<Halt>(&error).map(|h| h.by.as_str()),
        Some("ops@alice")
    );
    let error = guarded.send(&budget, &body).await.unwrap_err();
    assert!(matches!(error, ClientError::Halted(_)), "{error}");
    assert_eq!(mock.requests(), before);
}

#[tokio::test]
async fn a_stream_that_ignores_max_tokens_is_cut_off() {
    let mock = start_mock(MockConfig {
        reply_tokens: 2_000,
        stream_chunks: 100,
        ..MockConfig::default()
    })
    .await;
    mock.push(Behaviour::IgnoreMaxTokens {
        chunk_delay: Duration::from_millis(1),
    });
    let budget = dollars(1.0);
    let sink = Arc::new(MemorySink::new());
    let http_guard = HttpGuard::builder(budget.clone())
        .ledger(sink.clone())
        .build();
    let client = openai(&mock, http_guard);
    let mut stream = client.chat().create_stream(chat(40)).await.unwrap();
    let (mut events, mut ended_with_error) = (0, false);
    while let Some(item) = stream.next().await {
        match item {
            Ok(_) => events += 1,
            Err(_) => {
                ended_with_error = true;
                break;
            }
        }
    }
    assert!(ended_with_error);
    assert!(events < 100, "{events} events passed");
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].decision, Decision::CutOff);
    assert!(budget.snapshot().spent > Usd::ZERO);
}

#[tokio::test]
async fn a_broken_stream_is_billed_more_than_nothing() {
    let mock = start_mock(MockConfig::default()).await;
    mock.push(Behaviour::Disconnect { after_chunks: 2 });
    let budget = dollars(1.0);
    let client = openai(&mock, HttpGuard::builder(budget.clone()).build());
    let mut stream = client.chat().create_stream(chat(300)).await.unwrap();
    let mut failed = false;
    while let Some(item) = stream.next().await {
        failed |= item.is_err();
    }
    assert!(failed);
    mock.idle().await;
    assert!(mock.billed() > Usd::ZERO);
    assert!(budget.snapshot().spent >= mock.billed());
}

#[tokio::test]
async fn the_ledger_holds_one_line_per_decision() {
    let mock = start_mock(MockConfig::default()).await;
    let sink = Arc::new(MemorySink::new());
    let guard = SpendGuard::builder().build().unwrap();
    let budget = TaskBudget::builder("ledgered")
        .max_cost(Usd::from_dollars(1.0).unwrap())
        .max_calls(2)
        .build()
        .unwrap();
    let http_guard = HttpGuard::builder(budget)
        .guard(guard.clone())
        .ledger(sink.clone())
        .build();
    let client = openai(&mock, http_guard);
    client.chat().create(chat(100)).await.unwrap();
    mock.push(Behaviour::status(500));
    client.chat().create(chat(100)).await.unwrap_err();
    client.chat().create(chat(100)).await.unwrap_err();
    let decisions: Vec<Decision> = sink.records().iter().map(|r| r.decision).collect();
    assert_eq!(
        decisions,
        [Decision::Allowed, Decision::Failed, Decision::Refused]
    );
    assert_eq!(mock.requests(), 2);
}

#[tokio::test]
async fn openai_retry_layer_above_the_guard_has_each_attempt_checked_and_counted() {
    let mock = start_mock(MockConfig::default()).await;
    for _ in 0..10 {
        mock.push(Behaviour::status(429));
    }
    let budget = TaskBudget::builder("storm")
        .max_cost(Usd::from_dollars(1.0).unwrap())
        .max_calls(3)
        .build()
        .unwrap();
    let service = tower::ServiceBuilder::new()
        .layer(OpenAIRetryLayer::new(8))
        .layer(HttpGuardLayer::new(
            HttpGuard::builder(budget.clone()).build(),
        ))
        .service(reqwest::Client::new());
    let client = config_for(&mock).with_http_service(service);
    let error = client.chat().create(chat(100)).await.unwrap_err();
    let exceeded = find::<BudgetExceeded>(&error).expect("the call limit refused it");
    assert!(exceeded.to_string().contains("call"), "{exceeded}");
    assert_eq!(mock.requests(), 3);
    let snapshot = budget.snapshot();
    assert_eq!((snapshot.calls, snapshot.spent), (3, Usd::ZERO));
}
