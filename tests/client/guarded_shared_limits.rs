//! GuardedClient with shared limits, against the loopback mock provider:
//! per-key caps hold across task budgets, the shared counters record exactly
//! what the provider billed, refused and halted calls are never sent, and
//! tripping the kill switch stops a stream in flight.

use crate::support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use spendguard::client::CutOffReason;
use spendguard::guard::{Degrade, SharedLimit, SpendGuard, Window};
use spendguard::tags::{TagKind, Tags};
use spendguard::{ClientError, GuardedClient, Provider, TaskBudget, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::{Behaviour, MockConfig, MockProvider};

fn request() -> Value {
    json!({
        "model": "gpt-4o",
        "max_tokens": 400,
        "messages": [{"role": "user", "content": "Summarise the incident report in three bullet points."}],
    })
}

fn client(mock: &MockProvider, guard: &SpendGuard) -> GuardedClient {
    GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(spendguard::ApiKey::new(TEST_KEY))
        .key_label("prod-1")
        .guard(guard.clone())
        .build()
        .unwrap()
}

fn task(name: &str, agent: &str) -> TaskBudget {
    TaskBudget::builder(name)
        .max_cost(Usd::from_cents(1_000))
        .tags(Tags::new().agent(agent))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_per_key_daily_cap_holds_across_task_budgets() {
    let mock = start_mock(MockConfig::default()).await;
    let cap = Usd::from_cents(3);
    let guard = SpendGuard::builder()
        .limit(SharedLimit::each(TagKind::Key, cap, Window::Day))
        .build()
        .unwrap();
    let client = client(&mock, &guard);
    let (first, second) = (task("first", "a"), task("second", "b"));
    let mut sent = 0;
    let refusal = loop {
        let budget = if sent % 2 == 0 { &first } else { &second };
        match client.send(budget, &request()).await {
            Ok(_) => sent += 1,
            Err(error) => break error,
        }
    };
    let ClientError::Budget(exceeded) = refusal else {
        panic!("expected the key's cap to refuse, got {refusal}");
    };
    assert!(exceeded.subject.starts_with("key prod-1 on "), "{exceeded}");
    mock.idle().await;
    assert!(sent >= 2, "both budgets sent calls");
    assert_eq!(mock.requests(), sent, "the refused call was not sent");
    assert!(mock.billed() <= cap);
    let status = guard.status(&Tags::new().key("prod-1")).await.unwrap();
    assert_eq!(
        status[0].usage.spent,
        mock.billed(),
        "the key's counter is the provider's bill"
    );
    assert_eq!(status[0].usage.held, Usd::ZERO);
    assert_eq!(
        first.snapshot().spent + second.snapshot().spent,
        mock.billed(),
        "each task's own budget recorded its share"
    );
}

#[tokio::test]
async fn a_provider_failure_releases_the_shared_hold() {
    let mock = start_mock(MockConfig::default()).await;
    mock.push(Behaviour::Status {
        code: 429,
        retry_after: None,
        body: None,
    });
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(Usd::from_cents(100), Window::Day))
        .build()
        .unwrap();
    let client = client(&mock, &guard);
    let error = client.send(&task("t", "a"), &request()).await.unwrap_err();
    assert!(matches!(error, ClientError::RateLimited { .. }), "{error}");
    let status = guard.status(&Tags::new()).await.unwrap();
    assert_eq!(status[0].usage.committed(), Usd::ZERO);
}

#[tokio::test]
async fn a_limit_on_the_tasks_agent_applies_to_its_calls_only() {
    let mock = start_mock(MockConfig::default()).await;
    let guard = SpendGuard::builder()
        .limit(SharedLimit::tagged(
            TagKind::Agent,
            "cron",
            Usd::from_nanos(1),
            Window::Day,
        ))
        .build()
        .unwrap();
    let client = client(&mock, &guard);
    assert!(matches!(
        client.send(&task("nightly", "cron"), &request()).await,
        Err(ClientError::Budget(_))
    ));
    client
        .send(&task("chat", "assistant"), &request())
        .await
        .unwrap();
    assert_eq!(mock.requests(), 1);
}

#[tokio::test]
async fn a_halted_guard_sends_nothing_and_says_who_halted_it() {
    let mock = start_mock(MockConfig::default()).await;
    let guard = SpendGuard::builder().build().unwrap();
    let client = client(&mock, &guard);
    let budget = task("t", "a");
    client.send(&budget, &request()).await.unwrap();
    guard.kill_switch().trip("ops@alice", "bill spike");
    let error = client.send(&budget, &request()).await.unwrap_err();
    let ClientError::Halted(halt) = &error else {
        panic!("expected a halt, got {error}");
    };
    assert_eq!(halt.by, "ops@alice");
    assert!(error.to_string().contains("bill spike"));
    assert!(client.stream(&budget, &request()).await.is_err());
    assert_eq!(mock.requests(), 1);
    assert_eq!(
        budget.snapshot().in_flight,
        Usd::ZERO,
        "the refused call's reservation was released"
    );
    guard.resume().await.unwrap();
    client.send(&budget, &request()).await.unwrap();
}

#[tokio::test]
async fn tripping_the_kill_switch_stops_a_stream_in_flight() {
    let mock = start_mock(MockConfig {
        reply_tokens: 400,
        stream_chunks: 40,
        ..MockConfig::default()
    })
    .await;
    mock.push(Behaviour::SlowStream {
        chunk_delay: Duration::from_millis(30),
    });
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(Usd::from_cents(100), Window::Day))
        .build()
        .unwrap();
    let client = client(&mock, &guard);
    let budget = task("t", "a");
    let mut stream = client.stream(&budget, &request()).await.unwrap();
    for _ in 0..3 {
        stream.next().await.unwrap().unwrap();
    }
    guard.kill_switch().trip("ops@alice", "stop everything");
    let mut ending = None;
    let mut after_trip = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(_) => after_trip += 1,
            Err(error) => ending = Some(error),
        }
    }
    assert!(after_trip <= 1, "{after_trip} events after the trip");
    let Some(ClientError::StreamCutOff {
        reason: CutOffReason::Halted(halt),
        billed,
        ..
    }) = ending
    else {
        panic!("expected a cut-off for the halt, got {ending:?}");
    };
    assert_eq!(halt.reason, "stop everything");
    let receipt = stream.receipt().unwrap();
    assert_eq!(receipt.cost, billed);
    assert!(
        billed < receipt.reserved,
        "billed what was read, not the worst case"
    );
    let status = guard.status(&Tags::new()).await.unwrap();
    assert_eq!(
        status[0].usage.spent, billed,
        "the shared counter was settled before the stream ended"
    );
    assert_eq!(status[0].usage.held, Usd::ZERO);
}

#[tokio::test]
async fn a_finished_stream_settles_the_shared_counter_with_its_report() {
    let mock = start_mock(MockConfig::default()).await;
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(Usd::from_cents(100), Window::Day))
        .build()
        .unwrap();
    let client = client(&mock, &guard);
    let mut stream = client.stream(&task("t", "a"), &request()).await.unwrap();
    while let Some(item) = stream.next().await {
        item.unwrap();
    }
    mock.idle().await;
    let status = guard.status(&Tags::new()).await.unwrap();
    assert_eq!(status[0].usage.spent, mock.billed());
    assert_eq!(status[0].usage.held, Usd::ZERO);
}

#[tokio::test]
async fn a_cancelled_stream_settles_the_shared_counter_at_what_it_counted() {
    let mock = start_mock(MockConfig {
        reply_tokens: 400,
        stream_chunks: 40,
        ..MockConfig::default()
    })
    .await;
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(Usd::from_cents(100), Window::Day))
        .build()
        .unwrap();
    let client = client(&mock, &guard);
    let mut stream = client.stream(&task("t", "a"), &request()).await.unwrap();
    for _ in 0..3 {
        stream.next().await.unwrap().unwrap();
    }
    let receipt = stream.cancel();
    assert!(receipt.cost < receipt.reserved);
    // The shared settlement runs on the runtime once the stream is gone.
    let settled = loop {
        let status = guard.status(&Tags::new()).await.unwrap();
        if status[0].usage.held == Usd::ZERO {
            break status[0].usage.spent;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(
        settled, receipt.cost,
        "what was counted, not the worst case"
    );
}

#[tokio::test]
async fn a_low_limit_degrades_calls_to_the_cheaper_model_and_the_receipt_says_so() {
    let mock = start_mock(MockConfig::default()).await;
    let guard = SpendGuard::builder()
        .limit(SharedLimit::each(
            TagKind::Key,
            Usd::from_cents(2),
            Window::Day,
        ))
        .degrade(Degrade::below_percent(50).route("gpt-4o", "gpt-4o-mini"))
        .build()
        .unwrap();
    let client = client(&mock, &guard);
    let budget = task("t", "a");
    let mut models = Vec::new();
    while let Ok(answer) = client.send(&budget, &request()).await {
        models.push((
            answer.receipt.model.clone(),
            answer.receipt.degraded.is_some(),
        ));
        if models.len() > 100 {
            break;
        }
    }
    let first_degraded = models
        .iter()
        .position(|(_, d)| *d)
        .expect("some call was degraded");
    assert!(
        first_degraded > 0,
        "the first calls went to the model asked for"
    );
    assert!(models[..first_degraded].iter().all(|(m, _)| m == "gpt-4o"));
    assert!(models[first_degraded..]
        .iter()
        .all(|(m, d)| m == "gpt-4o-mini" && *d));
    let sent: Vec<String> = mock
        .received()
        .iter()
        .map(|body| body["model"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        sent[first_degraded], "gpt-4o-mini",
        "the cheaper model went on the wire"
    );
    mock.idle().await;
    assert!(mock.billed() <= Usd::from_cents(2));
}

#[tokio::test]
async fn a_degrade_route_must_be_sane() {
    let to_itself = SpendGuard::builder()
        .degrade(Degrade::below_percent(20).route("gpt-4o", "gpt-4o"))
        .build();
    assert!(to_itself
        .unwrap_err()
        .to_string()
        .contains("points to itself"));
    let zero = SpendGuard::builder()
        .degrade(Degrade::below_percent(0))
        .build();
    assert!(zero.unwrap_err().to_string().contains("between 1% and 99%"));
}
