//! Runaway detection through GuardedClient against the loopback mock: a
//! retry loop, a call burst and a 429 storm are each stopped within the
//! configured number of calls, with nothing more sent; a detector set to
//! halt trips the kill switch.

use crate::support;

use std::time::Duration;

use serde_json::{json, Value};
use spendguard::guard::runaway::{RunawayAction, RunawayKind, RunawayPolicy};
use spendguard::guard::SpendGuard;
use spendguard::tags::{TagKind, Tags};
use spendguard::{ApiKey, ClientError, GuardedClient, Provider, TaskBudget, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::{Behaviour, MockConfig, MockProvider};

const MINUTE: Duration = Duration::from_secs(60);

fn request(attempt: usize) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": format!("Step {attempt}: fetch the report.")}],
    })
}

fn client(mock: &MockProvider, policy: RunawayPolicy) -> (GuardedClient, SpendGuard) {
    let guard = SpendGuard::builder().runaway(policy).build().unwrap();
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .guard(guard.clone())
        .build()
        .unwrap();
    (client, guard)
}

fn budget(agent: &str) -> TaskBudget {
    TaskBudget::builder("nightly")
        .max_cost(Usd::from_cents(1_000))
        .tags(Tags::new().agent(agent))
        .build()
        .unwrap()
}

/// A loop detector that refuses the third identical request in a minute.
fn refuse_the_third_identical_request() -> RunawayPolicy {
    RunawayPolicy::builder()
        .loops(3, MINUTE, RunawayAction::Refuse)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_retry_loop_is_refused_at_its_third_identical_request() {
    let mock = start_mock(MockConfig::default()).await;
    let (client, _) = client(&mock, refuse_the_third_identical_request());
    let budget = budget("fixer");
    client.send(&budget, &request(1)).await.unwrap();
    client.send(&budget, &request(1)).await.unwrap();
    let refused = client.send(&budget, &request(1)).await.unwrap_err();
    let ClientError::Runaway(detected) = &refused else {
        panic!("expected runaway detection, got {refused}");
    };
    assert!(matches!(
        detected.kind,
        RunawayKind::Loop { repeats: 3, .. }
    ));
    assert!(refused.to_string().contains("a retry loop"), "{refused}");
    assert_eq!(mock.requests(), 2, "the third copy was not sent");
    assert_eq!(
        budget.snapshot().in_flight,
        Usd::ZERO,
        "its reservation was released"
    );
    // A different request still goes through.
    client.send(&budget, &request(2)).await.unwrap();
}

#[tokio::test]
async fn a_call_burst_is_stopped_after_its_limit_and_the_agent_is_paused() {
    let mock = start_mock(MockConfig::default()).await;
    let policy = RunawayPolicy::builder()
        .calls_per(5, MINUTE, RunawayAction::Pause(Duration::from_secs(300)))
        .build()
        .unwrap();
    let (client, _) = client(&mock, policy);
    let storm = budget("notifier");
    let mut sent = 0;
    let refusal = loop {
        match client.send(&storm, &request(sent)).await {
            Ok(_) => sent += 1,
            Err(error) => break error,
        }
    };
    assert_eq!(sent, 5);
    assert!(matches!(refusal, ClientError::Runaway(_)), "{refusal}");
    let paused = client.send(&storm, &request(99)).await.unwrap_err();
    let ClientError::Runaway(detected) = paused else {
        panic!("expected the pause");
    };
    assert!(matches!(detected.kind, RunawayKind::Paused { .. }));
    // Other agents are not paused.
    let other = TaskBudget::builder("chat")
        .max_cost(Usd::from_cents(1_000))
        .tags(Tags::new().agent("assistant"))
        .build()
        .unwrap();
    client.send(&other, &request(100)).await.unwrap();
    assert_eq!(mock.requests(), 6);
}

#[tokio::test]
async fn a_429_storm_opens_the_circuit_after_three_failures() {
    let mock = start_mock(MockConfig::default()).await;
    for _ in 0..10 {
        mock.push(Behaviour::Status {
            code: 429,
            retry_after: None,
            body: None,
        });
    }
    let policy = RunawayPolicy::builder()
        .circuit_breaker(3, MINUTE, RunawayAction::Refuse)
        .build()
        .unwrap();
    let (client, _) = client(&mock, policy);
    let budget = budget("poller");
    for attempt in 0..3 {
        let error = client.send(&budget, &request(attempt)).await.unwrap_err();
        assert!(matches!(error, ClientError::RateLimited { .. }), "{error}");
    }
    let refused = client.send(&budget, &request(3)).await.unwrap_err();
    let ClientError::Runaway(detected) = refused else {
        panic!("expected an open circuit, got {refused}");
    };
    assert!(matches!(
        detected.kind,
        RunawayKind::CircuitOpen { failures: 3, .. }
    ));
    assert_eq!(
        mock.requests(),
        3,
        "the fourth call never reached the provider"
    );
}

#[tokio::test]
async fn a_detector_set_to_halt_trips_the_kill_switch() {
    let mock = start_mock(MockConfig::default()).await;
    let policy = RunawayPolicy::builder()
        .loops(2, MINUTE, RunawayAction::Halt)
        .build()
        .unwrap();
    let (client, guard) = client(&mock, policy);
    let budget = budget("looper");
    client.send(&budget, &request(1)).await.unwrap();
    assert!(matches!(
        client.send(&budget, &request(1)).await,
        Err(ClientError::Runaway(_))
    ));
    let halted = client.send(&budget, &request(2)).await.unwrap_err();
    let ClientError::Halted(halt) = halted else {
        panic!("expected a halt, got {halted}");
    };
    assert_eq!(halt.by, "spendguard runaway detection");
    assert!(halt.reason.contains("retry loop"));
    assert!(guard.kill_switch().is_tripped());
    assert_eq!(mock.requests(), 1);
}

#[tokio::test]
async fn scopes_can_be_chosen_per_key() {
    let mock = start_mock(MockConfig::default()).await;
    let guard = SpendGuard::builder()
        .runaway_per(
            RunawayPolicy::builder()
                .calls_per(2, MINUTE, RunawayAction::Refuse)
                .build()
                .unwrap(),
            &[TagKind::Key],
        )
        .build()
        .unwrap();
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .key_label("shared-key")
        .guard(guard)
        .build()
        .unwrap();
    client.send(&budget("a"), &request(1)).await.unwrap();
    client.send(&budget("b"), &request(2)).await.unwrap();
    // Two agents, one key: the key's third call in a minute is refused.
    assert!(matches!(
        client.send(&budget("c"), &request(3)).await,
        Err(ClientError::Runaway(_))
    ));
}

#[tokio::test]
async fn unnamed_budgets_are_separate_tasks_to_the_loop_detector() {
    let mock = start_mock(MockConfig::default()).await;
    let (client, _) = client(&mock, refuse_the_third_identical_request());
    // Three independent tasks each send the same request once: no loop.
    for _ in 0..3 {
        let task = TaskBudget::new(Usd::from_cents(1_000));
        client.send(&task, &request(1)).await.unwrap();
    }
    // One task sending it three times is still a loop.
    let task = TaskBudget::new(Usd::from_cents(1_000));
    client.send(&task, &request(2)).await.unwrap();
    client.send(&task, &request(2)).await.unwrap();
    let refused = client.send(&task, &request(2)).await.unwrap_err();
    assert!(matches!(refused, ClientError::Runaway(_)), "{refused}");
    assert_eq!(mock.requests(), 5, "the loop's third call is not sent");
}

#[tokio::test]
async fn streams_answered_and_then_broken_open_the_circuit() {
    let mock = start_mock(MockConfig::default()).await;
    mock.push(Behaviour::Disconnect { after_chunks: 1 });
    mock.push(Behaviour::TruncateStream { after_chunks: 2 });
    mock.push(Behaviour::Disconnect { after_chunks: 0 });
    let policy = RunawayPolicy::builder()
        .circuit_breaker(3, MINUTE, RunawayAction::Refuse)
        .build()
        .unwrap();
    let (client, _) = client(&mock, policy);
    let budget = budget("streamer");
    for attempt in 0..3 {
        let mut stream = client.stream(&budget, &request(attempt)).await.unwrap();
        let mut ended = None;
        while let Some(item) = futures_util::StreamExt::next(&mut stream).await {
            if let Err(error) = item {
                ended = Some(error);
            }
        }
        assert!(
            matches!(ended, Some(ClientError::StreamEndedEarly { .. })),
            "{ended:?}"
        );
    }
    let refused = client.stream(&budget, &request(3)).await.unwrap_err();
    let ClientError::Runaway(detected) = refused else {
        panic!("expected an open circuit, got {refused}");
    };
    assert!(matches!(
        detected.kind,
        RunawayKind::CircuitOpen { failures: 3, .. }
    ));
    assert_eq!(mock.requests(), 3, "the fourth stream was never sent");
}

#[tokio::test]
async fn the_attempts_of_one_retried_call_are_one_call_to_the_loop_detector() {
    let mock = start_mock(MockConfig::default()).await;
    for _ in 0..4 {
        mock.push(Behaviour::status(429));
    }
    let (client, _) = client(&mock, refuse_the_third_identical_request());
    let budget = budget("poller");
    let quick = spendguard::client::RetryPolicy::new()
        .with_max_attempts(4)
        .with_base_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(5));
    let error = client
        .send_with_retry(&budget, &request(1), &quick)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::RateLimited { .. }),
        "the caller must see the rate limit, got {error}"
    );
    assert_eq!(mock.requests(), 4, "every attempt was sent");
    // The next logical calls are the second and third copies of it.
    client
        .send_with_retry(&budget, &request(1), &quick)
        .await
        .unwrap();
    let refused = client
        .send_with_retry(&budget, &request(1), &quick)
        .await
        .unwrap_err();
    assert!(matches!(refused, ClientError::Runaway(_)), "{refused}");
    assert_eq!(mock.requests(), 5);
}
