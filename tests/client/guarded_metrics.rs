//! With feature `metrics`, the recorder's numbers after a mixed run
//! (calls allowed, one refused, one stream cut off) are the ledger's and
//! the budget's: spend, calls by decision, refusals by limit, tokens by
//! kind; no hold is left in flight; and a shared limit's window is read
//! into its gauges.

use crate::support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::json;
use spendguard::client::record_limits;
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::ledger::{Decision, MemorySink};
use spendguard::tags::Tags;
use spendguard::{ApiKey, ClientError, GuardedClient, Provider, TaskBudget, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::{Behaviour, MockConfig};

/// Each series' value, keyed by its name and sorted `label=value` pairs.
fn values(snapshotter: &Snapshotter) -> HashMap<(String, Vec<String>), f64> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (_, key) = key.into_parts();
            let mut labels: Vec<String> = key
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            labels.sort();
            #[allow(clippy::cast_precision_loss)]
            let value = match value {
                DebugValue::Counter(count) => count as f64,
                DebugValue::Gauge(gauge) => gauge.into_inner(),
                DebugValue::Histogram(_) => f64::NAN,
            };
            ((key.name().to_owned(), labels), value)
        })
        .collect()
}

/// The sum of every series named `name` whose labels include `having`.
fn sum(values: &HashMap<(String, Vec<String>), f64>, name: &str, having: &[&str]) -> f64 {
    values
        .iter()
        .filter(|((series, labels), _)| {
            series == name && having.iter().all(|want| labels.iter().any(|l| l == want))
        })
        .map(|(_, value)| value)
        .sum()
}

#[allow(clippy::cast_precision_loss)]
fn nanos(usd: Usd) -> f64 {
    usd.nanos() as f64
}

#[tokio::test(flavor = "current_thread")]
async fn the_recorders_numbers_are_the_ledgers_after_a_mixed_run() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let mock = start_mock(MockConfig {
        reply_tokens: 2_000,
        stream_chunks: 200,
        cached_percent: 30,
        ..MockConfig::default()
    })
    .await;
    let ledger = Arc::new(MemorySink::new());
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(
            Usd::from_dollars(50.0).unwrap(),
            Window::Lifetime,
        ))
        .build()
        .unwrap();
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .guard(guard.clone())
        .ledger(ledger.clone())
        .build()
        .unwrap();
    let budget = TaskBudget::builder("metrics")
        .max_cost(Usd::from_dollars(1.0).unwrap())
        .max_calls(4)
        .build()
        .unwrap();
    let body = json!({
        "model": "gpt-4o",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "Write the nightly summary."}],
    });

    client.send(&budget, &body).await.unwrap();
    client.send(&budget, &body).await.unwrap();
    mock.push(Behaviour::IgnoreMaxTokens {
        chunk_delay: Duration::from_millis(1),
    });
    let mut stream = client.stream(&budget, &body).await.unwrap();
    let mut cut_off = false;
    while let Some(item) = stream.next().await {
        cut_off |= matches!(item, Err(ClientError::StreamCutOff { .. }));
    }
    drop(stream);
    assert!(cut_off, "the stream is cut off");
    client.send(&budget, &body).await.unwrap();
    let refused = client.send(&budget, &body).await.unwrap_err();
    assert!(matches!(refused, ClientError::Budget(_)), "{refused}");
    record_limits(&guard, &Tags::new()).await.unwrap();

    let values = values(&snapshotter);
    let lines = ledger.records();
    assert_eq!(lines.len(), 5);
    let ledger_spend: u64 = lines.iter().map(|line| line.cost.nanos()).sum();
    assert_eq!(ledger_spend, budget.snapshot().spent.nanos());
    assert_eq!(
        sum(
            &values,
            "spendguard_spend_nanousd_total",
            &["provider=openai", "model=gpt-4o"]
        ),
        nanos(budget.snapshot().spent)
    );
    for decision in Decision::ALL {
        let in_ledger = lines
            .iter()
            .filter(|line| line.decision == decision)
            .count();
        let label = format!("decision={}", decision.as_str());
        assert_eq!(
            sum(&values, "spendguard_calls_total", &[&label]),
            in_ledger as f64,
            "{label}"
        );
    }
    assert_eq!(
        sum(&values, "spendguard_calls_total", &["decision=cut_off"]),
        1.0
    );
    assert_eq!(
        sum(&values, "spendguard_refusals_total", &["limit=calls"]),
        1.0
    );
    assert_eq!(sum(&values, "spendguard_refusals_total", &[]), 1.0);
    for (kind, in_ledger) in [
        (
            "input",
            lines.iter().map(|line| line.tokens.input).sum::<u64>(),
        ),
        (
            "cache_read",
            lines.iter().map(|line| line.tokens.cached).sum(),
        ),
        ("output", lines.iter().map(|line| line.tokens.output).sum()),
    ] {
        assert!(in_ledger > 0, "{kind}");
        let label = format!("kind={kind}");
        assert_eq!(
            sum(&values, "spendguard_tokens_total", &[&label]),
            in_ledger as f64,
            "{label}"
        );
    }
    assert_eq!(
        sum(&values, "spendguard_holds_in_flight", &["provider=openai"]),
        0.0,
        "every hold ended"
    );
    let limit = "limit=everything: $50.00 in all";
    assert_eq!(
        sum(&values, "spendguard_limit_spent_nanousd", &[limit]),
        nanos(budget.snapshot().spent)
    );
    assert_eq!(
        sum(&values, "spendguard_limit_remaining_nanousd", &[limit]),
        nanos(
            Usd::from_dollars(50.0)
                .unwrap()
                .saturating_sub(budget.snapshot().spent)
        )
    );
    let labels: Vec<&String> = values.keys().flat_map(|(_, labels)| labels).collect();
    assert!(
        labels
            .iter()
            .all(|label| !label.starts_with("task=") && !label.starts_with("agent=")),
        "no tag is a label unless chosen: {labels:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_hold_is_in_flight_while_its_stream_is_read() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let mock = start_mock(MockConfig::default()).await;
    let client = support::guarded::client_for(Provider::Anthropic, &mock);
    let budget = TaskBudget::new(Usd::from_dollars(1.0).unwrap());
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}],
    });
    let mut stream = client.stream(&budget, &body).await.unwrap();
    let holds = |snapshotter: &Snapshotter| {
        sum(
            &values(snapshotter),
            "spendguard_holds_in_flight",
            &["provider=anthropic"],
        )
    };
    assert_eq!(holds(&snapshotter), 1.0);
    while let Some(event) = stream.next().await {
        event.unwrap();
    }
    // A snapshot takes what it reads: the next one is the change since.
    assert_eq!(holds(&snapshotter), -1.0, "the hold ended with the stream");
}
