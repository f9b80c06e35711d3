//! `SpendGuard::step` with a hand-written client against the loopback mock:
//! the step is settled from the usage it returns (the mock's bill), shares
//! its guard's caps with a GuardedClient, is stopped by the loop detector,
//! feeds the circuit breaker from its errors' statuses, and writes one
//! ledger line per decision. The step without HTTP (halts, bad input,
//! dropped steps) is tested in `tests/budget/guarded_step.rs`.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use spendguard::client::{GuardedGrant, GuardedStepError, HttpFailure};
use spendguard::guard::runaway::{RunawayAction, RunawayKind, RunawayPolicy};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::ledger::{Decision, MemorySink};
use spendguard::tags::{TagKind, Tags};
use spendguard::{ApiKey, ClientError, GuardedClient, Provider, Usage, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::{Behaviour, MockConfig, MockProvider};
use support::step::{budget, request};

const MINUTE: Duration = Duration::from_secs(60);

/// A hand-written client: posts the grant's body to the mock and reads the
/// usage from its answer, failing with the status the mock answered with.
async fn call_mock(
    mock: &MockProvider,
    grant: GuardedGrant,
) -> Result<(Value, Usage), HttpFailure> {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", mock.base_url()))
        .bearer_auth(TEST_KEY)
        .json(&grant.body.expect("a step given a body is granted one"))
        .send()
        .await
        .map_err(|error| HttpFailure::new(599, error.to_string()))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    if status >= 400 {
        return Err(HttpFailure::new(status, text));
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    let usage = Usage::from_openai_chat(&body).unwrap();
    Ok((body, usage))
}

#[tokio::test]
async fn a_step_is_granted_its_ceiling_and_settled_from_its_usage() {
    let mock = start_mock(MockConfig::default()).await;
    let guard = SpendGuard::builder().build().unwrap();
    let budget = budget();
    let (answer, receipt) = guard
        .step(&budget, Provider::OpenAiChat)
        .body(&request(1))
        .run(|grant| async {
            assert_eq!(grant.model, "gpt-4o");
            assert_eq!(grant.max_output_tokens, 300);
            assert_eq!(grant.tags.get(TagKind::Agent), Some("researcher"));
            call_mock(&mock, grant).await
        })
        .await
        .unwrap();
    assert!(answer["choices"].is_array());
    assert!(receipt.is_reported());
    mock.idle().await;
    assert_eq!(mock.requests(), 1);
    assert_eq!(
        receipt.cost,
        mock.billed(),
        "the receipt is the provider's bill"
    );
    assert_eq!(budget.snapshot().spent, mock.billed());
}

#[tokio::test]
async fn a_step_shares_its_guards_caps_with_a_guarded_client() {
    // The month's cap on one API key, used by a client and by steps.
    let per_key = SharedLimit::each(TagKind::Key, Usd::from_cents(3), Window::Month);
    let cap = per_key.max();
    let guard = SpendGuard::builder().limit(per_key).build().unwrap();
    let mock = start_mock(MockConfig::default()).await;
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .key_label("prod-1")
        .guard(guard.clone())
        .build()
        .unwrap();
    let budget = budget();
    let (mut by_client, mut by_step) = (0, 0);
    let refusal = loop {
        if (by_client + by_step) % 2 == 0 {
            match client.send(&budget, &request(0)).await {
                Ok(_) => by_client += 1,
                Err(error) => break error,
            }
        } else {
            let step = guard
                .step(&budget, Provider::OpenAiChat)
                .key_label("prod-1")
                .body(&request(0))
                .run(|grant| call_mock(&mock, grant))
                .await;
            match step {
                Ok(_) => by_step += 1,
                Err(GuardedStepError::Refused(error)) => break error,
                Err(other) => panic!("{other}"),
            }
        }
    };
    let ClientError::Budget(exceeded) = refusal else {
        panic!("expected the key's cap to refuse, got {refusal}");
    };
    assert!(exceeded.subject.starts_with("key prod-1 in "), "{exceeded}");
    assert!(by_client >= 1 && by_step >= 1, "both sent calls");
    mock.idle().await;
    assert_eq!(
        mock.requests(),
        by_client + by_step,
        "the refused call was not sent"
    );
    let status = guard.status(&Tags::new().key("prod-1")).await.unwrap();
    assert_eq!(status[0].usage.spent, mock.billed(), "one counter for both");
    assert!(mock.billed() <= cap);
}

#[tokio::test]
async fn a_step_repeating_its_request_is_caught_by_the_loop_detector() {
    let mock = start_mock(MockConfig::default()).await;
    let policy = RunawayPolicy::builder()
        .loops(3, MINUTE, RunawayAction::Refuse)
        .build()
        .unwrap();
    let guard = SpendGuard::builder().runaway(policy).build().unwrap();
    let budget = budget();
    let step = || {
        guard
            .step(&budget, Provider::OpenAiChat)
            .body_bytes(request(1).to_string().as_bytes())
            .run(|grant| call_mock(&mock, grant))
    };
    step().await.unwrap();
    step().await.unwrap();
    let refused = step().await.unwrap_err();
    let GuardedStepError::Refused(ClientError::Runaway(detected)) = &refused else {
        panic!("expected runaway detection, got {refused}");
    };
    assert!(matches!(
        detected.kind,
        RunawayKind::Loop { repeats: 3, .. }
    ));
    assert_eq!(mock.requests(), 2, "the third copy was not sent");
    // A step without a body is fingerprinted from the request it names.
    let fingerprint = spendguard::guard::runaway::RequestFingerprint::of("gpt-4o", &request(2));
    let described = || {
        guard
            .step(&budget, Provider::OpenAiChat)
            .prompt_tokens("gpt-4o", 20)
            .fingerprint(fingerprint)
            .run(|_| async { Ok::<_, HttpFailure>(((), Usage::new(20, 5))) })
    };
    described().await.unwrap();
    described().await.unwrap();
    assert!(matches!(
        described().await.unwrap_err(),
        GuardedStepError::Refused(ClientError::Runaway(_))
    ));
}

#[tokio::test]
async fn a_429_from_the_step_feeds_the_circuit_breaker_and_bills_nothing() {
    let mock = start_mock(MockConfig::default()).await;
    for _ in 0..10 {
        mock.push(Behaviour::status(429));
    }
    let policy = RunawayPolicy::builder()
        .circuit_breaker(3, MINUTE, RunawayAction::Refuse)
        .build()
        .unwrap();
    let guard = SpendGuard::builder().runaway(policy).build().unwrap();
    let budget = budget();
    for attempt in 0..3 {
        let failed = guard
            .step(&budget, Provider::OpenAiChat)
            .body(&request(attempt))
            .run(|grant| call_mock(&mock, grant))
            .await
            .unwrap_err();
        let GuardedStepError::Step { error, billed } = failed else {
            panic!("expected the step's own error, got {failed}");
        };
        assert_eq!(error.status, 429);
        assert_eq!(billed, Usd::ZERO, "a refused call is not billed");
    }
    let refused = guard
        .step(&budget, Provider::OpenAiChat)
        .body(&request(3))
        .run(|grant| call_mock(&mock, grant))
        .await
        .unwrap_err();
    let GuardedStepError::Refused(ClientError::Runaway(detected)) = refused else {
        panic!("expected an open circuit, got {refused}");
    };
    assert!(matches!(
        detected.kind,
        RunawayKind::CircuitOpen { failures: 3, .. }
    ));
    assert_eq!(mock.requests(), 3, "the open circuit sent nothing");
    assert_eq!(budget.snapshot().spent, Usd::ZERO);
    assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
}

#[tokio::test]
async fn every_step_decision_is_one_ledger_line() {
    let mock = start_mock(MockConfig::default()).await;
    mock.push(Behaviour::Answer);
    mock.push(Behaviour::status(500));
    let guard = SpendGuard::builder()
        .limit(SharedLimit::each(
            TagKind::Agent,
            Usd::from_cents(1_000),
            Window::Day,
        ))
        .build()
        .unwrap();
    let sink = Arc::new(MemorySink::new());
    let budget = budget();
    let requests: Vec<Value> = (1..=3).map(request).collect();
    let step = |n: usize| {
        guard
            .step(&budget, Provider::OpenAiChat)
            .ledger(Arc::clone(&sink) as _)
            .body(&requests[n - 1])
    };
    step(1).run(|grant| call_mock(&mock, grant)).await.unwrap();
    step(2)
        .run(|grant| call_mock(&mock, grant))
        .await
        .unwrap_err();
    guard.kill_switch().trip("oncall", "stop");
    step(3)
        .run(|grant| call_mock(&mock, grant))
        .await
        .unwrap_err();
    let records = sink.records();
    let decisions: Vec<Decision> = records.iter().map(|record| record.decision).collect();
    assert_eq!(
        decisions,
        [Decision::Allowed, Decision::Failed, Decision::Killed]
    );
    assert_eq!(records[0].cost, mock.billed());
    assert_eq!(records[0].tags.agent.as_deref(), Some("researcher"));
    assert!(records.iter().all(|record| record.model == "gpt-4o"));
}
