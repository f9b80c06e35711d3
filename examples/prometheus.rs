//! The overnight retry loop of `runaway_agent`, watched from Prometheus.
//!
//! `metrics-exporter-prometheus` serves `/metrics` on 127.0.0.1 while the
//! loop runs against a mock provider that this program starts on loopback
//! (no network, no API key). Every call is guarded by a $2.00 task budget
//! and a $5.00 daily cap shared by the whole process; spendguard's metrics
//! (feature `metrics`) go through the `metrics` facade to the exporter.
//!
//! Run it with `cargo run --example prometheus --features metrics`, and
//! scrape it while it waits at the end:
//!
//! ```text
//! curl -s http://127.0.0.1:9184/metrics | grep spendguard_
//! ```
//!
//! Options: `--listen ADDR` (default 127.0.0.1:9184, loopback only),
//! `--serve SECONDS` to keep serving after the loop (default 30).

#[path = "../tests/support/mock_provider/mod.rs"]
mod mock_provider;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use mock_provider::{MockConfig, MockProvider};
use serde_json::json;
use spendguard::client::{describe_metrics, record_limits, MetricTags};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::ledger::MemorySink;
use spendguard::tags::{TagKind, Tags};
use spendguard::{ApiKey, ClientError, GuardedClient, Provider, TaskBudget, Usd};

/// What the command line asked for.
struct Options {
    listen: SocketAddr,
    serve: Duration,
}

impl Options {
    fn from_args() -> Result<Options, String> {
        let mut options = Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 9184)),
            serve: Duration::from_secs(30),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let value = args.next().ok_or(format!("{arg} needs a value"))?;
            match arg.as_str() {
                "--listen" => {
                    options.listen = value
                        .parse()
                        .map_err(|_| format!("--listen takes ADDR:PORT, not {value:?}"))?;
                    if !options.listen.ip().is_loopback() {
                        return Err("--listen must be a loopback address".to_owned());
                    }
                }
                "--serve" => {
                    let seconds: u64 = value
                        .parse()
                        .map_err(|_| "--serve takes whole seconds, e.g. --serve 60".to_owned())?;
                    options.serve = Duration::from_secs(seconds);
                }
                other => return Err(format!("unknown option {other}; use --listen, --serve")),
            }
        }
        Ok(options)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::from_args()?;
    PrometheusBuilder::new()
        .with_http_listener(options.listen)
        .install()?;
    describe_metrics();
    // Agents are few and named by the code: safe as a label, capped anyway.
    MetricTags::new(&[TagKind::Agent]).max_values(20).install();

    let provider = MockProvider::start(MockConfig {
        reply_tokens: 150,
        ..MockConfig::default()
    })
    .await?;
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(Usd::from_dollars(5.00)?, Window::Day))
        .build()?;
    let ledger = Arc::new(MemorySink::new());
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(provider.base_url())
        .api_key(ApiKey::new("sk-demo-not-a-real-key"))
        .guard(guard.clone())
        .ledger(ledger.clone())
        .build()?;
    let tags = Tags::new().agent("report-writer");
    let budget = TaskBudget::builder("overnight-report")
        .max_cost(Usd::from_dollars(2.00)?)
        .tags(tags.clone())
        .build()?;

    println!("metrics on http://{}/metrics", options.listen);
    let request = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You assemble the nightly report. ".repeat(4_000)},
            {"role": "user", "content": "Fetch the latest sales figures and finish the report."},
        ],
    });
    let refusal = loop {
        match client.send(&budget, &request).await {
            Ok(answer) => println!("call: {}", answer.receipt),
            Err(refused @ ClientError::Budget(_)) => break refused,
            Err(other) => return Err(other.into()),
        }
        record_limits(&guard, &tags).await?;
    };
    record_limits(&guard, &tags).await?;
    println!("refused: {refusal}");
    println!(
        "the budget spent {} over {} calls; the ledger has {} lines",
        budget.snapshot().spent,
        budget.snapshot().calls,
        ledger.records().len()
    );
    println!(
        "serving /metrics for {}s more (--serve SECONDS to change)",
        options.serve.as_secs()
    );
    tokio::time::sleep(options.serve).await;
    Ok(())
}
