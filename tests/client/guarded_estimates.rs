//! When the provider bills more than was reserved: input estimates that
//! learn from the providers' reports, overruns marked in the receipt, the
//! ledger and an alert, and prompts that cannot fit the model's context
//! window refused before they are sent.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use spendguard::client::HttpFailure;
use spendguard::ledger::{Decision, MemorySink};
use spendguard::{
    ApiKey, ClientError, GuardedClient, PriceTable, Provider, SpendGuard, TaskBudget, Usage, Usd,
};
use support::guarded::{client_for, start_mock, TEST_KEY};
use support::mock_provider::{Behaviour, MockConfig, MockProvider};

fn budget(dollars: f64) -> TaskBudget {
    TaskBudget::builder("estimates")
        .max_cost(Usd::from_dollars(dollars).unwrap())
        .build()
        .unwrap()
}

/// An Anthropic request whose output is used to the last token (the mock
/// answers 50), so that only its input can run past the reservation.
fn anthropic(model: &str) -> Value {
    let text = "Summarise the incident report, line by line, in plain words. ".repeat(40);
    json!({"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": text}]})
}

fn anthropic_client(mock: &MockProvider, sink: &Arc<MemorySink>) -> GuardedClient {
    GuardedClient::builder(Provider::Anthropic)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .ledger(Arc::clone(sink) as _)
        .build()
        .unwrap()
}

#[tokio::test]
async fn input_past_the_estimate_is_marked_overran_and_raises_the_next_reservation() {
    // This model is used by no other test of the binary: the calibration is
    // shared by the whole process.
    let model = "claude-haiku-4-5-20251001";
    let mock = start_mock(MockConfig::default()).await;
    let sink = Arc::new(MemorySink::new());
    let client = anthropic_client(&mock, &sink);
    // Near the calls' worst case, so each is counted exactly: far from its
    // limits a call is reserved at its byte bound, which no report overruns.
    let budget = budget(0.004);

    mock.push(Behaviour::InflateInput { percent: 160 });
    let first = client.send(&budget, &anthropic(model)).await.unwrap();
    mock.idle().await;
    assert_eq!(first.receipt.cost, mock.bills()[0].cost, "billed in full");
    let over = first.receipt.cost.saturating_sub(first.receipt.reserved);
    assert!(over > Usd::ZERO, "{}", first.receipt);
    assert_eq!(first.receipt.overran, Some(over));
    assert!(first.receipt.to_string().contains("over its reservation"));
    let line = &sink.records()[0];
    assert_eq!(line.overran, Some(over));
    assert!(serde_json::to_string(line)
        .unwrap()
        .contains("\"overran_nanos\""));

    // A clone shares what the first call taught: the same prompt is now
    // reserved at what the provider counts, and the next bill fits.
    mock.push(Behaviour::InflateInput { percent: 160 });
    let second = client
        .clone()
        .send(&budget, &anthropic(model))
        .await
        .unwrap();
    assert!(second.receipt.reserved > first.receipt.reserved);
    assert_eq!(second.receipt.overran, None, "{}", second.receipt);
    assert!(second.receipt.cost <= second.receipt.reserved);
    assert_eq!(sink.records()[1].overran, None);
}

#[tokio::test]
async fn a_step_and_a_client_learn_from_each_other() {
    let model = "claude-opus-4-5-20251101";
    let mock = start_mock(MockConfig::default()).await;
    let client = client_for(Provider::Anthropic, &mock);
    // Near the calls' worst case, so each is counted exactly.
    let budget = budget(0.03);
    let before = client.send(&budget, &anthropic(model)).await.unwrap();

    let guard = SpendGuard::builder().build().unwrap();
    let request = anthropic(model);
    let reported = before.receipt.usage.prompt_tokens() * 2;
    let (_, step) = guard
        .step(&budget, Provider::Anthropic)
        .body(&request)
        .run(|grant| async move {
            Ok::<_, HttpFailure>(((), Usage::new(reported, grant.max_output_tokens)))
        })
        .await
        .unwrap();
    assert!(step.overran.is_some(), "{step}");

    let after = client.send(&budget, &anthropic(model)).await.unwrap();
    assert!(
        after.receipt.reserved > before.receipt.reserved,
        "{} then {}",
        before.receipt,
        after.receipt
    );
}

#[tokio::test]
async fn a_plain_call_past_its_output_limit_is_billed_in_full_marked_and_then_refused() {
    let mock = start_mock(MockConfig {
        reply_tokens: 2_000,
        ..MockConfig::default()
    })
    .await;
    mock.push(Behaviour::IgnoreMaxTokens {
        chunk_delay: Duration::ZERO,
    });
    let sink = Arc::new(MemorySink::new());
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .ledger(Arc::clone(&sink) as _)
        .build()
        .unwrap();
    let cap = Usd::from_dollars(0.0002).unwrap();
    let budget = TaskBudget::builder("capped").max_cost(cap).build().unwrap();
    let request = json!({
        "model": "gpt-4o-mini",
        "max_tokens": 20,
        "messages": [{"role": "user", "content": "Write one line."}],
    });

    #[cfg(feature = "tracing")]
    let alerts = support::tracing_events::Heard::on("spendguard::alert");
    #[cfg(feature = "tracing")]
    let listening = tracing::subscriber::set_default(alerts.clone());
    let answer = client.send(&budget, &request).await.unwrap();
    #[cfg(feature = "tracing")]
    drop(listening);
    mock.idle().await;

    let receipt = answer.receipt;
    assert_eq!(receipt.cost, mock.billed(), "the true bill, in full");
    assert_eq!(receipt.usage.output_tokens, 2_000);
    let over = receipt.cost.saturating_sub(receipt.reserved);
    assert_eq!(receipt.overran, Some(over));
    assert!(budget.snapshot().spent > cap);
    // The README's bound: past the cap by no more than the overrun.
    assert!(budget.snapshot().spent <= cap + over);
    assert_eq!(sink.records()[0].overran, Some(over));
    #[cfg(feature = "tracing")]
    {
        let heard = alerts.events();
        let overruns: Vec<_> = heard
            .iter()
            .filter(|(_, message)| message.contains("reserved for it"))
            .collect();
        assert_eq!(overruns.len(), 1, "{heard:?}");
        assert!(overruns[0]
            .1
            .starts_with("task capped: a call to gpt-4o-mini was billed"));
    }

    let refused = client.send(&budget, &request).await.unwrap_err();
    assert!(matches!(refused, ClientError::Budget(_)), "{refused:?}");
    assert_eq!(mock.requests(), 1);
}

#[tokio::test]
async fn a_prompt_past_the_context_window_is_refused_before_sending() {
    let mock = start_mock(MockConfig::default()).await;
    let sink = Arc::new(MemorySink::new());
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .ledger(Arc::clone(&sink) as _)
        .build()
        .unwrap();
    // " word" is one token: 9,000 of them cannot fit gpt-4's 8,192.
    let request = json!({
        "model": "gpt-4",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": " word".repeat(9_000)}],
    });
    let refused = client.send(&budget(10.0), &request).await.unwrap_err();
    match &refused {
        ClientError::ContextWindow {
            model,
            window,
            prompt_tokens,
        } => {
            assert_eq!((model.as_str(), *window), ("gpt-4", 8_192));
            assert!(*prompt_tokens > 9_000, "{prompt_tokens}");
        }
        other => panic!("{other:?}"),
    }
    assert!(refused
        .to_string()
        .contains("context window of 8192 tokens"));
    assert_eq!(mock.requests(), 0, "nothing was sent");
    let line = &sink.records()[0];
    assert_eq!(line.decision, Decision::Refused);
    assert_eq!(
        line.limit.as_deref(),
        Some("gpt-4: context window of 8192 tokens")
    );

    let fits = json!({
        "model": "gpt-4",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": " word".repeat(8_000)}],
    });
    assert!(client.send(&budget(10.0), &fits).await.is_ok());
}

/// A price table whose Claude Sonnet 4.5 has a 1,000-token window and a
/// long-context rate (twice the input price) past it.
fn small_window_prices() -> Arc<PriceTable> {
    let json = r#"{"claude-sonnet-4-5": {"litellm_provider": "anthropic", "mode": "chat",
        "max_input_tokens": 1000, "max_output_tokens": 64000,
        "input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5,
        "input_cost_per_token_above_1k_tokens": 6e-6,
        "output_cost_per_token_above_1k_tokens": 2.25e-5}}"#;
    Arc::new(PriceTable::from_litellm_json(json).unwrap())
}

#[tokio::test]
async fn the_1m_context_header_opens_the_window_at_the_long_context_rate() {
    let mock = start_mock(MockConfig::default()).await;
    let builder = || {
        GuardedClient::builder(Provider::Anthropic)
            .base_url(mock.base_url())
            .api_key(ApiKey::new(TEST_KEY))
            .prices(small_window_prices())
    };
    let request = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": " word".repeat(1_500)}],
    });

    let plain = builder().build().unwrap();
    let refused = plain.send(&budget(1.0), &request).await.unwrap_err();
    assert!(
        matches!(refused, ClientError::ContextWindow { window: 1_000, .. }),
        "{refused:?}"
    );
    assert_eq!(mock.requests(), 0);

    let long = builder()
        .header("anthropic-beta", "context-1m-2025-08-07")
        .build()
        .unwrap();
    let answer = long.send(&budget(1.0), &request).await.unwrap();
    assert_eq!(
        mock.received_requests()[0].header("anthropic-beta"),
        Some("context-1m-2025-08-07")
    );
    // Reserved at the long-context rates: the prompt at $6 per 1M, the
    // output at $22.50 per 1M.
    let prompt = answer.receipt.usage.prompt_tokens();
    assert!(prompt > 1_000);
    let at_long_rates = |input: u64| Usd::from_nanos(input * 6_000 + 50 * 22_500);
    assert!(
        answer.receipt.reserved >= at_long_rates(1_000),
        "{}",
        answer.receipt
    );
    assert_eq!(answer.receipt.cost, at_long_rates(prompt));
}
