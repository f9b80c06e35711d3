//! `examples/prometheus.rs`'s wiring, scraped: `metrics-exporter-prometheus`
//! serves `/metrics` on loopback while a runaway loop runs into its task
//! budget, and the scraped numbers are the budget's and the ledger's.

use crate::support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::json;
use spendguard::client::{describe_metrics, record_limits};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::ledger::{Decision, MemorySink};
use spendguard::tags::Tags;
use spendguard::{ApiKey, ClientError, GuardedClient, Provider, TaskBudget, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::MockConfig;

/// A loopback address nothing listens on now.
fn free_loopback() -> SocketAddr {
    let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    probe.local_addr().unwrap()
}

/// The sum of the samples of `name` whose labels contain every one of
/// `having` (`decision="allowed"`), read from Prometheus's text format.
fn scraped(text: &str, name: &str, having: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let metric = series.split('{').next()?;
            (metric == name && having.iter().all(|want| series.contains(want)))
                .then(|| value.parse::<f64>().unwrap())
        })
        .sum()
}

#[allow(clippy::cast_precision_loss)]
fn nanos(usd: Usd) -> f64 {
    usd.nanos() as f64
}

#[tokio::test(flavor = "current_thread")]
async fn the_scraped_metrics_are_the_budgets_and_the_ledgers() {
    let address = free_loopback();
    let (recorder, exporter) = PrometheusBuilder::new()
        .with_http_listener(address)
        .build()
        .unwrap();
    tokio::spawn(exporter);
    let _local = metrics::set_default_local_recorder(&recorder);
    describe_metrics();

    let mock = start_mock(MockConfig {
        reply_tokens: 150,
        ..MockConfig::default()
    })
    .await;
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(
            Usd::from_dollars(5.0).unwrap(),
            Window::Day,
        ))
        .build()
        .unwrap();
    let ledger = Arc::new(MemorySink::new());
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(TEST_KEY))
        .guard(guard.clone())
        .ledger(ledger.clone())
        .build()
        .unwrap();
    let budget = TaskBudget::builder("runaway")
        .max_cost(Usd::from_cents(5))
        .build()
        .unwrap();
    let request = json!({
        "model": "gpt-4o",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "Retry the report. ".repeat(400)}],
    });
    let refusal = loop {
        match client.send(&budget, &request).await {
            Ok(_) => {}
            Err(refused @ ClientError::Budget(_)) => break refused,
            Err(other) => panic!("{other}"),
        }
    };
    record_limits(&guard, &Tags::new()).await.unwrap();

    let text = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let spent = budget.snapshot().spent;
    let lines = ledger.records();
    let allowed = lines
        .iter()
        .filter(|line| line.decision == Decision::Allowed)
        .count();
    assert!(allowed >= 2, "{refusal}");
    assert_eq!(spent, mock.billed());
    assert_eq!(
        lines.iter().map(|line| line.cost.nanos()).sum::<u64>(),
        spent.nanos()
    );
    assert_eq!(
        scraped(
            &text,
            "spendguard_spend_nanousd_total",
            &["model=\"gpt-4o\""]
        ),
        nanos(spent),
        "{text}"
    );
    assert_eq!(
        scraped(&text, "spendguard_calls_total", &["decision=\"allowed\""]),
        allowed as f64
    );
    assert_eq!(
        scraped(&text, "spendguard_calls_total", &["decision=\"refused\""]),
        1.0
    );
    assert_eq!(
        scraped(&text, "spendguard_refusals_total", &["limit=\"cost\""]),
        1.0
    );
    assert_eq!(scraped(&text, "spendguard_holds_in_flight", &[]), 0.0);
    assert_eq!(
        scraped(&text, "spendguard_limit_spent_nanousd", &[]),
        nanos(spent)
    );
    assert!(
        text.contains("# HELP spendguard_spend_nanousd_total"),
        "described: {text}"
    );
    assert!(!text.contains(&TEST_KEY[3..11]), "{text}");
}
