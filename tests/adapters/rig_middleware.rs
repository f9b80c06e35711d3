//! rig agents (OpenAI and Anthropic providers at the mock) sending through
//! `GuardMiddleware`, carried by `rig_reqwest::ReqwestMiddlewareClient`:
//! several turns with a tool call, billed what the mock bills; refusals,
//! shared caps, halts, the loop detector and the ledger as for a
//! `GuardedClient`; and the middleware under a plain reqwest-middleware
//! client for streams (cut off, broken) and requests the guard cannot read.

use crate::support;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use rig_agent::core::completion::CompletionRequest;
use rig_agent::core::http_client::Error as RigHttpError;
use rig_agent::core::providers::anthropic::AnthropicConfig;
use rig_agent::core::providers::openai::OpenAIConfig;
use rig_agent::core::tool::PortableTool;
use rig_agent::core::ProviderError;
use rig_agent::{Agent, AgentBuilder};
use rig_reqwest::ReqwestMiddlewareClient;
use serde_json::{json, Value};
use spendguard::client::exchange::{ExchangeError, HttpGuard, Unguardable};
use spendguard::client::middleware::{exchange_error, GuardMiddleware};
use spendguard::client::{CallReceipt, CutOffReason};
use spendguard::guard::runaway::{RunawayAction, RunawayPolicy};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::halt::Halt;
use spendguard::ledger::{Decision, MemorySink};
use spendguard::tags::{TagKind, Tags};
use spendguard::{BudgetExceeded, ClientError, TaskBudget, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::{Api, Behaviour, MockConfig, MockProvider};
use support::step::budget;

/// The tool the agents call: how far a service's deploy has got.
struct DeployStatus;

#[derive(serde::Deserialize)]
struct DeployArgs {
    service: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the deploy tool cannot fail")]
struct NeverFails;

impl PortableTool for DeployStatus {
    const NAME: &'static str = "deploy_status";
    type Args = DeployArgs;
    type Output = String;
    type Error = NeverFails;

    fn description(&self) -> String {
        "How far a service's deploy has got.".into()
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"service": {"type": "string"}},
            "required": ["service"],
        })
    }

    async fn call(&self, args: DeployArgs) -> Result<String, NeverFails> {
        Ok(format!("{} is still rolling out", args.service))
    }
}

/// A reqwest-middleware client whose every request goes through `http_guard`.
fn guarded(http_guard: HttpGuard) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(GuardMiddleware::new(http_guard))
        .build()
}

/// A rig agent on OpenAI's Chat Completions at the mock, with the tool.
fn openai_agent(mock: &MockProvider, http: ClientWithMiddleware) -> Agent {
    let openai = OpenAIConfig::new(TEST_KEY)
        .with_base_url(format!("{}/v1", mock.base_url()))
        .connect(ReqwestMiddlewareClient::from(http));
    AgentBuilder::new(openai.chat("gpt-4o"))
        .preamble("You watch deploys.")
        .max_tokens(300)
        .tool(DeployStatus)
        .build()
}

/// A rig agent on Anthropic's Messages at the mock, with the tool.
fn anthropic_agent(mock: &MockProvider, http: ClientWithMiddleware) -> Agent {
    let anthropic = AnthropicConfig::new(TEST_KEY)
        .with_base_url(mock.base_url())
        .connect(ReqwestMiddlewareClient::from(http));
    AgentBuilder::new(anthropic.completion("claude-sonnet-4-5"))
        .preamble("You watch deploys.")
        .max_tokens(300)
        .tool(DeployStatus)
        .build()
}

/// Scripts one agent turn that calls the tool, then one that answers.
fn script_tool_turn(mock: &MockProvider) {
    mock.push(Behaviour::tool_call(
        "deploy_status",
        json!({"service": "billing"}),
    ));
    mock.push(Behaviour::Answer);
}

/// The first error of `T` in `error`'s source chain, itself included.
fn find<'e, T: Error + 'static>(error: &'e (dyn Error + 'static)) -> Option<&'e T> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

/// The guard's error in a reqwest-middleware error, typed.
fn exchange(error: &reqwest_middleware::Error) -> &ExchangeError {
    exchange_error(error).unwrap_or_else(|| panic!("not the guard's error: {error}"))
}

/// The decisions `sink` holds, in order.
fn decisions(sink: &MemorySink) -> Vec<Decision> {
    sink.records()
        .iter()
        .map(|record| record.decision)
        .collect()
}

#[tokio::test]
async fn rig_agents_with_a_tool_are_billed_what_the_provider_bills() {
    let mock = start_mock(MockConfig::default()).await;
    let guard = SpendGuard::builder().build().unwrap();
    let budget = budget();
    let http = guarded(HttpGuard::builder(budget.clone()).guard(guard).build());
    let openai = openai_agent(&mock, http.clone());
    let anthropic = anthropic_agent(&mock, http);
    for agent in [&openai, &anthropic, &openai] {
        script_tool_turn(&mock);
        let answer = agent
            .prompt("Is billing deployed?")
            .max_turns(3)
            .await
            .unwrap();
        assert!(answer.output().contains("word"), "{}", answer.output());
    }
    mock.idle().await;
    let received = mock.received_requests();
    assert_eq!(received.len(), 6, "two turns for each of three prompts");
    let tool_results = received
        .iter()
        .filter(|request| request.body.to_string().contains("is still rolling out"))
        .count();
    assert_eq!(
        tool_results, 3,
        "each second turn carried the tool's result"
    );
    assert!(received
        .iter()
        .any(|request| request.api == Api::AnthropicMessages));
    assert_eq!(
        budget.snapshot().spent,
        mock.billed(),
        "the budget's record is the bill"
    );
    assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
}

#[tokio::test]
async fn a_refused_rig_call_never_reaches_the_provider_and_says_why() {
    let mock = start_mock(MockConfig::default()).await;
    let budget = TaskBudget::new(Usd::from_nanos(1_000));
    let http = guarded(HttpGuard::builder(budget.clone()).build());

    // rig-core's model call keeps the transport's error: the refusal is
    // typed, two downcasts away.
    let openai = OpenAIConfig::new(TEST_KEY)
        .with_base_url(format!("{}/v1", mock.base_url()))
        .connect(ReqwestMiddlewareClient::from(http.clone()));
    let refused = openai
        .chat("gpt-4o")
        .call(CompletionRequest::new("Is billing deployed?"))
        .await
        .unwrap_err();
    let ProviderError::Http(transport) = &refused else {
        panic!("expected the transport's error, got {refused:?}");
    };
    let RigHttpError::Instance(inner) = &**transport else {
        panic!("expected the middleware's error, got {transport:?}");
    };
    let inner = inner
        .downcast_ref::<reqwest_middleware::Error>()
        .expect("the middleware stack's error");
    let exceeded = exchange(inner)
        .budget_exceeded()
        .expect("the budget refused");
    assert!(exceeded.subject.starts_with("task "), "{exceeded}");
    assert!(
        find::<BudgetExceeded>(inner).is_some(),
        "and its source chain leads there"
    );

    // rig-agent relays a provider's error over its bus as a report: the
    // refusal arrives as its text.
    let agent = openai_agent(&mock, http);
    let refused = agent.prompt("Is billing deployed?").await.unwrap_err();
    assert!(
        refused.to_string().contains("would exceed its cost limit"),
        "{refused}"
    );
    assert_eq!(mock.requests(), 0);
    assert_eq!(budget.snapshot().spent, Usd::ZERO);
}

#[tokio::test]
async fn a_rig_agent_and_a_plain_client_share_caps_and_halt_together() {
    // One guard, one per-key monthly cap: a rig agent and a plain
    // reqwest-middleware client with their own budgets draw on it.
    let per_key = SharedLimit::each(TagKind::Key, Usd::from_cents(3), Window::Month);
    let cap = per_key.max();
    let guard = SpendGuard::builder().limit(per_key).build().unwrap();
    let mock = start_mock(MockConfig::default()).await;
    let on_key = |guard: &SpendGuard| {
        guarded(
            HttpGuard::builder(budget())
                .guard(guard.clone())
                .key_label("prod-1")
                .build(),
        )
    };
    let agent = openai_agent(&mock, on_key(&guard));
    let plain = on_key(&guard);
    let status_body = json!({
        "model": "gpt-4o",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "Status?"}],
    })
    .to_string();
    let chat = format!("{}/v1/chat/completions", mock.base_url());
    let (mut by_agent, mut by_plain) = (0, 0);
    let refusal = loop {
        if (by_agent + by_plain) % 2 == 0 {
            match agent.prompt("Is billing deployed?").await {
                Ok(_) => by_agent += 1,
                Err(error) => break error.to_string(),
            }
        } else {
            match post(&plain, chat.clone(), &status_body).await {
                Ok(response) => {
                    let receipt = response.extensions().get::<CallReceipt>().cloned();
                    assert!(receipt.is_some_and(|receipt| receipt.is_reported()));
                    response.bytes().await.unwrap();
                    by_plain += 1;
                }
                Err(error) => {
                    assert!(exchange(&error).budget_exceeded().is_some(), "{error}");
                    break error.to_string();
                }
            }
        }
    };
    assert!(refusal.contains("key prod-1 in "), "{refusal}");
    assert!(by_agent >= 1 && by_plain >= 1, "both sent calls");
    mock.idle().await;
    assert_eq!(
        mock.requests(),
        by_agent + by_plain,
        "the refused call was not sent"
    );
    let status = guard.status(&Tags::new().key("prod-1")).await.unwrap();
    assert_eq!(status[0].usage.spent, mock.billed(), "one counter for both");
    assert!(mock.billed() <= cap);

    // A halt stops both at their next call.
    let fresh = SpendGuard::builder().build().unwrap();
    let agent = anthropic_agent(&mock, on_key(&fresh));
    let plain = on_key(&fresh);
    let before = mock.requests();
    fresh.kill_switch().trip("oncall", "runaway bill");
    let halted = agent.prompt("Is billing deployed?").await.unwrap_err();
    assert!(halted.to_string().contains("halted by oncall"), "{halted}");
    let halted = post(&plain, chat, &status_body).await.unwrap_err();
    assert!(find::<Halt>(&halted).is_some(), "{halted}");
    assert_eq!(mock.requests(), before, "neither was sent");
}

#[tokio::test]
async fn a_rig_agent_stuck_on_the_same_tool_call_is_stopped_by_the_loop_detector() {
    // The agent asks the same thing again and again, and every time the
    // model calls the same tool: the same first request each round.
    let mock = start_mock(MockConfig::default()).await;
    for _ in 0..10 {
        script_tool_turn(&mock);
    }
    let policy = RunawayPolicy::builder()
        .loops(3, Duration::from_secs(60), RunawayAction::Refuse)
        .build()
        .unwrap();
    let guard = SpendGuard::builder().runaway(policy).build().unwrap();
    let budget = budget();
    let sink = Arc::new(MemorySink::new());
    let http = HttpGuard::builder(budget.clone())
        .guard(guard)
        .ledger(Arc::clone(&sink) as _)
        .build();
    let agent = openai_agent(&mock, guarded(http));
    let mut rounds = 0;
    let stopped = loop {
        match agent.prompt("Is billing deployed yet?").max_turns(3).await {
            Ok(_) => rounds += 1,
            Err(error) => break error,
        }
        assert!(rounds < 10, "the loop was never stopped");
    };
    assert!(stopped.to_string().contains("same request"), "{stopped}");
    assert_eq!(rounds, 2);
    assert_eq!(decisions(&sink).last(), Some(&Decision::Runaway));
    mock.idle().await;
    assert_eq!(mock.requests(), 4, "the third round was not sent");
    assert_eq!(budget.snapshot().spent, mock.billed());
}

#[tokio::test]
async fn every_rig_call_decision_is_one_ledger_line() {
    let mock = start_mock(MockConfig::default()).await;
    script_tool_turn(&mock);
    mock.push(Behaviour::status(500));
    let guard = SpendGuard::builder().build().unwrap();
    let sink = Arc::new(MemorySink::new());
    let http = HttpGuard::builder(budget())
        .guard(guard.clone())
        .ledger(Arc::clone(&sink) as _)
        .build();
    let agent = openai_agent(&mock, guarded(http));
    agent
        .prompt("Is billing deployed?")
        .max_turns(3)
        .await
        .unwrap();
    agent.prompt("And payments?").await.unwrap_err();
    guard.kill_switch().trip("oncall", "stop");
    agent.prompt("And search?").await.unwrap_err();
    assert_eq!(
        decisions(&sink),
        [
            Decision::Allowed,
            Decision::Allowed,
            Decision::Failed,
            Decision::Killed
        ]
    );
    mock.idle().await;
    let logged: Usd = sink.records().iter().map(|record| record.cost).sum();
    assert_eq!(logged, mock.billed());
}

/// A plain request through the middleware, for the stream and bad-input
/// tests.
async fn post(
    client: &ClientWithMiddleware,
    url: String,
    body: &str,
) -> reqwest_middleware::Result<reqwest::Response> {
    client
        .post(url)
        .bearer_auth(TEST_KEY)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
}

#[tokio::test]
async fn a_stream_whose_provider_ignores_max_tokens_is_cut_off_at_the_ceiling() {
    let mock = start_mock(MockConfig {
        reply_tokens: 2_000,
        stream_chunks: 200,
        ..MockConfig::default()
    })
    .await;
    mock.push(Behaviour::IgnoreMaxTokens {
        chunk_delay: Duration::from_millis(1),
    });
    let budget = budget();
    let client = guarded(HttpGuard::builder(budget.clone()).build());
    let body = json!({
        "model": "gpt-4o",
        "max_tokens": 100,
        "stream": true,
        "messages": [{"role": "user", "content": "Write at length."}],
    });
    let response = post(
        &client,
        format!("{}/v1/chat/completions", mock.base_url()),
        &body.to_string(),
    )
    .await
    .unwrap();
    assert!(response.status().is_success());
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    let ended = loop {
        match futures_util::StreamExt::next(&mut stream).await {
            Some(Ok(bytes)) => text.push_str(&String::from_utf8_lossy(&bytes)),
            Some(Err(error)) => break Some(error),
            None => break None,
        }
    };
    let error = ended.expect("the stream ends with the guard's error");
    let cut = find::<ExchangeError>(&error).expect("the guard's error is in the chain");
    let ExchangeError::Stream(ClientError::StreamCutOff { reason, .. }) = cut else {
        panic!("expected a cut-off, got {cut}");
    };
    assert!(
        matches!(
            reason,
            CutOffReason::OutputLimitIgnored { granted: 100, .. }
        ),
        "{reason}"
    );
    // Cut soon after the ceiling and its slack, at 10 tokens an event, long
    // before the 2,000-token answer was over.
    let words = text.matches(" word").count();
    assert!(words < 200, "{words} tokens passed a ceiling of 100");
    mock.idle().await;
    assert!(budget.snapshot().spent > Usd::ZERO);
    assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
}

#[tokio::test]
async fn a_broken_stream_is_billed_more_than_nothing() {
    let mock = start_mock(MockConfig::default()).await;
    mock.push(Behaviour::Disconnect { after_chunks: 2 });
    let budget = budget();
    let client = guarded(HttpGuard::builder(budget.clone()).build());
    let body = json!({
        "model": "gpt-4o",
        "max_tokens": 300,
        "stream": true,
        "messages": [{"role": "user", "content": "Stream, then break."}],
    });
    let response = post(
        &client,
        format!("{}/v1/chat/completions", mock.base_url()),
        &body.to_string(),
    )
    .await
    .unwrap();
    let read = response.bytes().await;
    assert!(read.is_err(), "the broken stream is an error, not an end");
    mock.idle().await;
    assert!(
        budget.snapshot().spent > Usd::ZERO,
        "a broken stream is never $0"
    );
    assert!(
        budget.snapshot().spent >= mock.billed(),
        "never under the bill"
    );
    assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
}

#[tokio::test]
async fn requests_the_guard_cannot_read_are_refused_and_nothing_sent() {
    let mock = start_mock(MockConfig::default()).await;
    let budget = budget();
    let client = guarded(HttpGuard::builder(budget.clone()).build());
    let chat = format!("{}/v1/chat/completions", mock.base_url());

    let not_json = post(&client, chat.clone(), "model=gpt-4o")
        .await
        .unwrap_err();
    let error = exchange(&not_json);
    assert!(
        matches!(
            error,
            ExchangeError::Unguardable {
                reason: Unguardable::NotJson { .. },
                ..
            }
        ),
        "{error}"
    );

    let unknown_model =
        json!({"model": "gpt-from-the-future", "messages": [{"role": "user", "content": "Hi"}]});
    let refused = post(&client, chat, &unknown_model.to_string())
        .await
        .unwrap_err();
    let error = exchange(&refused);
    assert!(matches!(error, ExchangeError::Refused(_)), "{error}");

    let unknown_path = post(&client, format!("{}/v1/embeddings", mock.base_url()), "{}")
        .await
        .unwrap_err();
    let error = exchange(&unknown_path);
    assert!(
        matches!(
            error,
            ExchangeError::Unguardable {
                reason: Unguardable::UnknownPath { .. },
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(mock.requests(), 0, "nothing reached the provider");
    assert_eq!(budget.snapshot().spent, Usd::ZERO);

    // Passing other paths on is explicit, and then the stack's own error
    // comes back as it was.
    let passing = guarded(
        HttpGuard::builder(budget.clone())
            .pass_unguarded(true)
            .build(),
    );
    let passed = post(&passing, format!("{}/v1/embeddings", mock.base_url()), "{}")
        .await
        .unwrap();
    assert_eq!(passed.status().as_u16(), 404, "the mock has no embeddings");
    assert_eq!(budget.snapshot().spent, Usd::ZERO, "nothing counted");
}
