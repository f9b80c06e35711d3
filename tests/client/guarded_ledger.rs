//! GuardedClient writes one ledger line per decision: allowed calls with
//! their tokens and cost, refusals with the limit that refused, runaway
//! detections, halts, provider failures and streams cut off; and never an
//! API key, a prompt or an answer.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use spendguard::client::{DriftTolerance, GuardedClientBuilder};
use spendguard::guard::runaway::{RunawayAction, RunawayPolicy};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::ledger::{Decision, LedgerCostSource, MemorySink};
use spendguard::tags::{TagKind, Tags};
use spendguard::{ApiKey, GuardedClient, Provider, TaskBudget, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::{Behaviour, MockConfig, MockProvider};

const PROMPT: &str = "Summarise the confidential incident report for ACME.";

fn request(n: u32) -> Value {
    json!({
        "model": "gpt-4o",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": format!("{PROMPT} Part {n}.")}],
    })
}

fn client(mock: &MockProvider, guard: &SpendGuard, sink: &Arc<MemorySink>) -> GuardedClient {
    GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .key_label("prod-1")
        .guard(guard.clone())
        .ledger(Arc::clone(sink) as _)
        .ledger_request_hashes(true)
        .build()
        .unwrap()
}

/// A client of the mock that writes to `sink`, with no shared limits.
fn unguarded(mock: &MockProvider, sink: &Arc<MemorySink>) -> GuardedClientBuilder {
    GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .ledger(Arc::clone(sink) as _)
}

fn budget() -> TaskBudget {
    TaskBudget::builder("digest")
        .max_cost(Usd::from_cents(1_000))
        .tags(Tags::new().agent("writer").customer("acme"))
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_decision_is_one_line_with_its_numbers_and_no_secrets() {
    let mock = start_mock(MockConfig {
        reply_tokens: 400,
        stream_chunks: 40,
        ..MockConfig::default()
    })
    .await;
    let guard = SpendGuard::builder()
        .limit(SharedLimit::each(
            TagKind::Customer,
            Usd::from_cents(3),
            Window::Day,
        ))
        .runaway(
            RunawayPolicy::builder()
                .loops(2, Duration::from_secs(60), RunawayAction::Refuse)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let sink = Arc::new(MemorySink::new());
    let client = client(&mock, &guard, &sink);
    let budget = budget();

    // Allowed.
    let answer = client.send(&budget, &request(1)).await.unwrap();
    // A retry loop: the same request again.
    assert!(client.send(&budget, &request(1)).await.is_err());
    // A provider failure.
    mock.push(Behaviour::Status {
        code: 429,
        retry_after: None,
        body: None,
    });
    assert!(client.send(&budget, &request(2)).await.is_err());
    // A stream cut off by the kill switch.
    mock.push(Behaviour::SlowStream {
        chunk_delay: Duration::from_millis(20),
    });
    let mut stream = client.stream(&budget, &request(3)).await.unwrap();
    stream.next().await.unwrap().unwrap();
    guard.kill_switch().trip("ops@alice", "bill spike");
    while stream.next().await.is_some() {}
    // Killed: refused while halted.
    assert!(client.send(&budget, &request(4)).await.is_err());
    guard.resume().await.unwrap();
    // Refused by the customer's cap, at last.
    let mut n = 10;
    while client.send(&budget, &request(n)).await.is_ok() {
        n += 1;
    }

    let records = sink.records();
    let decisions: Vec<Decision> = records.iter().map(|r| r.decision).collect();
    assert_eq!(
        &decisions[..5],
        [
            Decision::Allowed,
            Decision::Runaway,
            Decision::Failed,
            Decision::Killed,
            Decision::Killed
        ]
    );
    assert_eq!(decisions.last(), Some(&Decision::Refused));

    let allowed = &records[0];
    assert_eq!(allowed.provider, "openai");
    assert_eq!(allowed.model, answer.receipt.model);
    assert_eq!(allowed.cost, answer.receipt.cost);
    assert_eq!(allowed.cost_source, LedgerCostSource::Reported);
    assert_eq!(allowed.tokens.input, answer.receipt.usage.input_tokens);
    assert_eq!(allowed.tokens.output, answer.receipt.usage.output_tokens);
    assert_eq!(allowed.tags.key.as_deref(), Some("prod-1"));
    assert_eq!(allowed.tags.agent.as_deref(), Some("writer"));
    assert_eq!(allowed.tags.task.as_deref(), Some("digest"));
    assert_eq!(allowed.tags.customer.as_deref(), Some("acme"));
    assert_eq!(allowed.request_hash.as_ref().map(String::len), Some(16));
    assert_eq!(
        records[1].request_hash, allowed.request_hash,
        "the loop's request"
    );

    assert_eq!(
        records[1].limit.as_deref(),
        Some("agent=writer: retry loop")
    );
    assert!(records[2].reason.as_deref().unwrap().contains("429"));
    let cut_off = &records[3];
    assert!(
        cut_off.cost > Usd::ZERO,
        "a cut-off stream bills what it read"
    );
    assert_eq!(cut_off.cost_source, LedgerCostSource::Estimated);
    assert!(cut_off.reason.as_deref().unwrap().contains("bill spike"));
    assert_eq!(records[4].limit.as_deref(), Some("kill switch (ops@alice)"));
    let refused = records.last().unwrap();
    assert!(
        refused
            .limit
            .as_deref()
            .unwrap()
            .starts_with("customer acme on "),
        "{refused:?}"
    );
    assert_eq!(
        (refused.cost, refused.cost_source),
        (Usd::ZERO, LedgerCostSource::None)
    );

    // The ledger adds up to what the task's budget recorded.
    let spent: Usd = records.iter().map(|r| r.cost).sum();
    assert_eq!(spent, budget.snapshot().spent);

    for record in &records {
        let line = serde_json::to_string(record).unwrap();
        assert!(
            !line.contains(TEST_KEY) && !line.contains(&TEST_KEY[3..11]),
            "{line}"
        );
        assert!(
            !line.contains("confidential"),
            "a prompt reached the ledger: {line}"
        );
    }
}

/// A 200 answer with exactly `body`, as a provider that reports its own
/// cost or an unusual tier would send it.
fn answer(body: Value) -> Behaviour {
    Behaviour::Status {
        code: 200,
        retry_after: None,
        body: Some(body.to_string()),
    }
}

/// gpt-4o at $2.50 / $10 per 1M: 1,000 in, 100 visible + 50 reasoning out
/// (xAI's way, beside the completion) is $0.0025 + $0.0015 = $0.004 by the
/// table; the provider says 100,000,000 ticks, $0.01.
fn reported_cost_body() -> Value {
    json!({
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Done." }, "finish_reason": "stop" }],
        "usage": {
            "prompt_tokens": 1_000, "completion_tokens": 100, "total_tokens": 1_150,
            "completion_tokens_details": { "reasoning_tokens": 50 },
            "cost_in_usd_ticks": 100_000_000
        }
    })
}

#[tokio::test]
async fn a_provider_cost_beyond_the_tolerance_is_settled_and_recorded_as_drift() {
    let mock = start_mock(MockConfig::default()).await;
    let sink = Arc::new(MemorySink::new());
    let client = client(&mock, &SpendGuard::builder().build().unwrap(), &sink);
    let budget = budget();
    mock.push(answer(reported_cost_body()));
    let receipt = client.send(&budget, &request(1)).await.unwrap().receipt;
    assert_eq!(receipt.table_cost, Usd::from_nanos(4_000_000));
    assert_eq!(receipt.provider_cost, Some(Usd::from_nanos(10_000_000)));
    assert_eq!(receipt.cost, Usd::from_nanos(10_000_000));
    assert_eq!(budget.snapshot().spent, Usd::from_nanos(10_000_000));

    let line = &sink.records()[0];
    assert_eq!(line.cost, Usd::from_nanos(10_000_000));
    assert_eq!(line.provider_cost, Some(Usd::from_nanos(10_000_000)));
    assert_eq!(line.table_cost, Some(Usd::from_nanos(4_000_000)));
    assert!(line.price_drift);
    assert_eq!(line.cost_source, LedgerCostSource::Reported);
}

#[tokio::test]
async fn the_drift_tolerance_is_the_clients_to_choose() {
    let mock = start_mock(MockConfig::default()).await;
    let sink = Arc::new(MemorySink::new());
    let client = unguarded(&mock, &sink)
        .price_drift_tolerance(DriftTolerance::percent(70))
        .build()
        .unwrap();
    mock.push(answer(reported_cost_body()));
    let receipt = client.send(&budget(), &request(1)).await.unwrap().receipt;
    // $0.006 apart is 60% of $0.01: within 70%, settled high all the same.
    assert_eq!(receipt.price_drift, None);
    assert_eq!(receipt.cost, Usd::from_nanos(10_000_000));
    let line = &sink.records()[0];
    assert_eq!(line.provider_cost, Some(Usd::from_nanos(10_000_000)));
    assert!(!line.price_drift);
}

#[tokio::test]
async fn an_unpriced_tier_is_billed_at_the_dearest_price_and_marked() {
    let mock = start_mock(MockConfig::default()).await;
    let sink = Arc::new(MemorySink::new());
    let client = client(&mock, &SpendGuard::builder().build().unwrap(), &sink);
    mock.push(answer(json!({
        "object": "chat.completion",
        "model": "gpt-4o",
        "service_tier": "scale",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Done." }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 1_000, "completion_tokens": 100, "total_tokens": 1_100 }
    })));
    let receipt = client.send(&budget(), &request(1)).await.unwrap().receipt;
    // gpt-4o's dearest tier is priority, $4.25 / $17 per 1M:
    // 1,000 × 4.25 + 100 × 17 = $0.00425 + $0.0017 = $0.00595
    assert_eq!(receipt.cost, Usd::from_nanos(5_950_000));
    assert_eq!(receipt.unpriced_tier.as_deref(), Some("scale"));
    assert!(receipt.is_reported());
    let line = &sink.records()[0];
    assert_eq!(line.unpriced_tier.as_deref(), Some("scale"));
    assert_eq!(line.cost, Usd::from_nanos(5_950_000));
    assert_eq!(line.decision, Decision::Allowed);
}

#[tokio::test]
async fn receipts_and_ledger_lines_name_the_price_table_that_priced_them() {
    use spendguard::prices::PriceTableVersion;
    use spendguard::PriceTable;

    let mock = start_mock(MockConfig::default()).await;
    let sink = Arc::new(MemorySink::new());
    let march = PriceTableVersion::new("negotiated prices, March", Some("2027-03-01")).unwrap();
    let prices = (*PriceTable::bundled()).clone().with_version(march.clone());
    let client = unguarded(&mock, &sink)
        .prices(Arc::new(prices))
        .build()
        .unwrap();
    let answer = client.send(&budget(), &request(1)).await.unwrap();
    assert_eq!(answer.receipt.price_table, march);
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].price_table.as_deref(),
        Some("negotiated prices, March")
    );

    // The bundled table names LiteLLM's release and the overrides' date.
    let bundled = unguarded(&mock, &sink).build().unwrap();
    let answer = bundled.send(&budget(), &request(2)).await.unwrap();
    assert!(
        answer
            .receipt
            .price_table
            .label()
            .starts_with("litellm 1.110.2"),
        "{}",
        answer.receipt.price_table
    );
    assert_eq!(
        sink.records()[1].price_table.as_deref(),
        Some(answer.receipt.price_table.label())
    );
}

/// With feature `tracing`, pricing speaks on target `spendguard::cost`:
/// drift on every call, a tier the table cannot price once per model and
/// tier.
#[cfg(feature = "tracing")]
#[tokio::test(flavor = "current_thread")]
async fn pricing_warns_of_drift_each_time_and_of_an_unpriced_tier_once() {
    let heard = crate::support::tracing_events::Heard::on("spendguard::cost");
    let _default = tracing::subscriber::set_default(heard.clone());
    let mock = start_mock(MockConfig::default()).await;
    let sink = Arc::new(MemorySink::new());
    let client = client(&mock, &SpendGuard::builder().build().unwrap(), &sink);
    let budget = budget();
    // A tier name of this test's own: the once-per-process note is global.
    let unpriced = json!({
        "object": "chat.completion",
        "model": "gpt-4o",
        "service_tier": "experimental",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Done." }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 1_000, "completion_tokens": 100, "total_tokens": 1_100 }
    });
    let bodies = [
        reported_cost_body(),
        reported_cost_body(),
        unpriced.clone(),
        unpriced,
    ];
    for (n, body) in (100..).zip(bodies) {
        mock.push(answer(body));
        client.send(&budget, &request(n)).await.unwrap();
    }
    let messages: Vec<String> = heard.events().into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        messages,
        [
            "price drift for gpt-4o: table $0.004, provider $0.01",
            "price drift for gpt-4o: table $0.004, provider $0.01",
            "gpt-4o answered at service tier \"experimental\", which the price table \
             cannot price; billed at the dearest price the model has",
        ]
    );
}
