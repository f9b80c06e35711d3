//! genai's client inside `SpendGuard::step`, pointed at the mock: the
//! step counts the request body it is given, genai sends with the granted
//! output ceiling, and the call is settled from genai's usage, converted.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use genai::adapter::AdapterKind;
use genai::chat::{ChatOptions, ChatRequest, ChatResponse};
use genai::resolver::{AuthData, Endpoint};
use genai::{ModelIden, ServiceTarget};
use serde_json::{json, Value};
use spendguard::client::{GuardedGrant, GuardedStepError, StepFailure};
use spendguard::guard::runaway::{RunawayAction, RunawayKind, RunawayPolicy};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::ledger::{Decision, MemorySink};
use spendguard::tags::{TagKind, Tags};
use spendguard::usage::UsageError;
use spendguard::{ApiKey, ClientError, GuardedClient, Provider, TaskBudget, Usage, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::{Behaviour, MockConfig, MockProvider};
use support::step::budget;

/// What a genai step fails with: genai's error (with the status it
/// carries) or a usage report that could not be read.
#[derive(Debug, thiserror::Error)]
enum GenaiStepError {
    #[error(transparent)]
    Call(#[from] genai::Error),
    #[error(transparent)]
    Usage(#[from] UsageError),
}

impl StepFailure for GenaiStepError {
    fn http_status(&self) -> Option<u16> {
        match self {
            GenaiStepError::Call(error) => error.http_status(),
            GenaiStepError::Usage(_) => None,
        }
    }
}

/// The Chat Completions body genai sends for `prompt` to `gpt-4o`, which
/// the step counts.
fn body(prompt: &str) -> Value {
    json!({
        "model": "gpt-4o",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": prompt}],
    })
}

/// Asks genai's OpenAI adapter, at the mock, what the grant allows.
async fn ask(
    mock: &MockProvider,
    grant: GuardedGrant,
    prompt: &str,
) -> Result<(ChatResponse, Usage), GenaiStepError> {
    let target = ServiceTarget {
        endpoint: Endpoint::from_owned(format!("{}/v1/", mock.base_url())),
        auth: AuthData::from_single(TEST_KEY),
        model: ModelIden::new(AdapterKind::OpenAI, grant.model),
    };
    let ceiling = u32::try_from(grant.max_output_tokens).unwrap_or(u32::MAX);
    let options = ChatOptions::default().with_max_tokens(ceiling);
    let response = genai::Client::new()?
        .exec_chat(target, ChatRequest::from_user(prompt), Some(&options))
        .await?;
    let usage = Usage::try_from(&response.usage)?;
    Ok((response, usage))
}

/// One genai step under `guard` and `budget`.
async fn step(
    guard: &SpendGuard,
    budget: &TaskBudget,
    mock: &MockProvider,
    prompt: &str,
) -> Result<(ChatResponse, spendguard::client::CallReceipt), GuardedStepError<GenaiStepError>> {
    let body = body(prompt);
    guard
        .step(budget, Provider::OpenAiChat)
        .key_label("prod-1")
        .body(&body)
        .run(|grant| ask(mock, grant, prompt))
        .await
}

#[tokio::test]
async fn genai_steps_are_billed_what_the_provider_bills() {
    let mock = start_mock(MockConfig::default()).await;
    let guard = SpendGuard::builder().build().unwrap();
    let budget = budget();
    for turn in 1..=3 {
        let (response, receipt) = step(&guard, &budget, &mock, &format!("Turn {turn}: go on."))
            .await
            .unwrap();
        assert!(response
            .first_text()
            .is_some_and(|text| text.contains("word")));
        assert!(receipt.is_reported());
    }
    mock.idle().await;
    assert_eq!(mock.requests(), 3);
    let sent = mock.received_requests();
    assert!(
        sent.iter()
            .all(|request| request.max_output_tokens == Some(300)),
        "genai sent the granted ceiling"
    );
    assert_eq!(
        budget.snapshot().spent,
        mock.billed(),
        "the budget's record is the bill"
    );
}

#[tokio::test]
async fn a_refused_genai_step_never_reaches_the_provider() {
    let mock = start_mock(MockConfig::default()).await;
    let guard = SpendGuard::builder().build().unwrap();
    let budget = TaskBudget::new(Usd::from_nanos(1_000));
    let refused = step(&guard, &budget, &mock, "Too dear.").await.unwrap_err();
    assert!(
        matches!(refused, GuardedStepError::Refused(ClientError::Budget(_))),
        "{refused}"
    );
    assert_eq!(mock.requests(), 0);
    assert_eq!(budget.snapshot().spent, Usd::ZERO);
}

#[tokio::test]
async fn a_genai_step_and_a_guarded_client_share_the_guards_caps_and_its_halt() {
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
    let (mut by_client, mut by_genai) = (0, 0);
    let refusal = loop {
        if (by_client + by_genai) % 2 == 0 {
            match client.send(&budget, &body("Same question.")).await {
                Ok(_) => by_client += 1,
                Err(error) => break error,
            }
        } else {
            match step(&guard, &budget, &mock, "Same question.").await {
                Ok(_) => by_genai += 1,
                Err(GuardedStepError::Refused(error)) => break error,
                Err(other) => panic!("{other}"),
            }
        }
    };
    assert!(matches!(refusal, ClientError::Budget(_)), "{refusal}");
    assert!(by_client >= 1 && by_genai >= 1, "both sent calls");
    mock.idle().await;
    assert_eq!(
        mock.requests(),
        by_client + by_genai,
        "the refused call was not sent"
    );
    let status = guard.status(&Tags::new().key("prod-1")).await.unwrap();
    assert_eq!(status[0].usage.spent, mock.billed(), "one counter for both");
    assert!(mock.billed() <= cap);

    // A halt stops both at their next call.
    let unlimited = SpendGuard::builder().build().unwrap();
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .guard(unlimited.clone())
        .build()
        .unwrap();
    let before = mock.requests();
    unlimited.kill_switch().trip("oncall", "runaway bill");
    assert!(matches!(
        client.send(&budget, &body("Halted?")).await,
        Err(ClientError::Halted(_))
    ));
    assert!(matches!(
        step(&unlimited, &budget, &mock, "Halted?").await,
        Err(GuardedStepError::Refused(ClientError::Halted(_)))
    ));
    assert_eq!(mock.requests(), before, "neither was sent");
}

#[tokio::test]
async fn a_genai_step_asking_the_same_thing_again_and_again_is_stopped() {
    let mock = start_mock(MockConfig::default()).await;
    let policy = RunawayPolicy::builder()
        .loops(3, Duration::from_secs(60), RunawayAction::Refuse)
        .build()
        .unwrap();
    let guard = SpendGuard::builder().runaway(policy).build().unwrap();
    let budget = budget();
    step(&guard, &budget, &mock, "Again.").await.unwrap();
    step(&guard, &budget, &mock, "Again.").await.unwrap();
    let refused = step(&guard, &budget, &mock, "Again.").await.unwrap_err();
    let GuardedStepError::Refused(ClientError::Runaway(detected)) = &refused else {
        panic!("expected the loop detector, got {refused}");
    };
    assert!(matches!(
        detected.kind,
        RunawayKind::Loop { repeats: 3, .. }
    ));
    assert_eq!(mock.requests(), 2);
}

#[tokio::test]
async fn a_broken_genai_answer_is_billed_more_than_nothing_and_a_429_nothing() {
    let mock = start_mock(MockConfig::default()).await;
    mock.push(Behaviour::Disconnect { after_chunks: 2 });
    mock.push(Behaviour::status(429));
    let guard = SpendGuard::builder().build().unwrap();
    let budget = budget();
    let broken = step(&guard, &budget, &mock, "Cut off.").await.unwrap_err();
    let GuardedStepError::Step { error, billed } = broken else {
        panic!("expected the step's own error, got {broken}");
    };
    assert_eq!(error.http_status(), None, "{error}");
    assert!(billed > Usd::ZERO, "a broken answer may have been billed");
    let limited = step(&guard, &budget, &mock, "Rate limited.")
        .await
        .unwrap_err();
    let GuardedStepError::Step { error, billed } = limited else {
        panic!("expected the step's own error, got {limited}");
    };
    assert_eq!(error.http_status(), Some(429));
    assert_eq!(billed, Usd::ZERO);
    mock.idle().await;
    assert!(
        budget.snapshot().spent >= mock.billed(),
        "never under the bill"
    );
}

#[tokio::test]
async fn every_genai_step_decision_is_one_ledger_line() {
    let mock = start_mock(MockConfig::default()).await;
    mock.push(Behaviour::Answer);
    mock.push(Behaviour::status(500));
    let guard = SpendGuard::builder().build().unwrap();
    let sink = Arc::new(MemorySink::new());
    let budget = budget();
    let logged = |prompt: &'static str| {
        let body = body(prompt);
        let guard = &guard;
        let budget = &budget;
        let sink = Arc::clone(&sink);
        let mock = &mock;
        async move {
            guard
                .step(budget, Provider::OpenAiChat)
                .ledger(sink as _)
                .body(&body)
                .run(|grant| ask(mock, grant, prompt))
                .await
        }
    };
    logged("First.").await.unwrap();
    logged("Second.").await.unwrap_err();
    guard.kill_switch().trip("oncall", "stop");
    logged("Third.").await.unwrap_err();
    let decisions: Vec<Decision> = sink
        .records()
        .iter()
        .map(|record| record.decision)
        .collect();
    assert_eq!(
        decisions,
        [Decision::Allowed, Decision::Failed, Decision::Killed]
    );
    assert_eq!(sink.records()[0].cost, mock.billed());
}

#[tokio::test]
async fn a_genai_step_the_guard_cannot_read_is_refused_and_nothing_sent() {
    let mock = start_mock(MockConfig::default()).await;
    let guard = SpendGuard::builder().build().unwrap();
    let budget = budget();
    let not_json = guard
        .step(&budget, Provider::OpenAiChat)
        .body_bytes(b"model=gpt-4o")
        .run(|grant| ask(&mock, grant, "never"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            not_json,
            GuardedStepError::Refused(ClientError::InvalidRequest { .. })
        ),
        "{not_json}"
    );
    let mut unknown = body("never");
    unknown["model"] = json!("gpt-from-the-future");
    let unknown = guard
        .step(&budget, Provider::OpenAiChat)
        .body(&unknown)
        .run(|grant| ask(&mock, grant, "never"))
        .await
        .unwrap_err();
    assert!(matches!(unknown, GuardedStepError::Refused(_)), "{unknown}");
    assert_eq!(mock.requests(), 0);
}
