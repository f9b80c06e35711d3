//! Guarded calls as OpenTelemetry spans, after the GenAI semantic
//! conventions, through `tracing-opentelemetry`.
//!
//! Two calls go to a mock provider that this program starts on loopback (no
//! network, no API key): one is answered, the next is refused by its task
//! budget before it is sent. Each runs in one span (`chat gpt-4o`) with the
//! `gen_ai.*` attributes and spendguard's own `spendguard.*` ones; the
//! refusal is a `WARN` event inside its span. The spans are kept by the
//! SDK's in-memory exporter and printed; in production the same layer feeds
//! an OTLP exporter instead.
//!
//! Run it with `cargo run --example opentelemetry --features tracing`.

#[path = "../tests/support/mock_provider/mod.rs"]
mod mock_provider;

use mock_provider::{MockConfig, MockProvider};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::json;
use spendguard::{ApiKey, GuardedClient, Provider, TaskBudget, Usd};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Layer, SubscriberExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = InMemorySpanExporter::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    // spendguard's spans only, not those of the HTTP stack under it.
    let spendguard_only = Targets::new().with_target("spendguard", Level::TRACE);
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(tracer_provider.tracer("spendguard"))
            .with_filter(spendguard_only),
    );
    tracing::subscriber::set_global_default(subscriber)?;

    let provider = MockProvider::start(MockConfig {
        cached_percent: 40,
        ..MockConfig::default()
    })
    .await?;
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(provider.base_url())
        .api_key(ApiKey::new("sk-demo-not-a-real-key"))
        .build()?;
    let budget = TaskBudget::builder("triage")
        .max_cost(Usd::from_cents(2))
        .build()?;
    let request = json!({
        "model": "gpt-4o",
        "max_tokens": 800,
        "messages": [{"role": "user", "content": "Summarise the incident. ".repeat(500)}],
    });
    let answer = client.send(&budget, &request).await?;
    println!("answered: {}", answer.receipt);
    let refused = client.send(&budget, &request).await.unwrap_err();
    println!("refused: {refused}\n");

    tracer_provider.force_flush()?;
    for span in exporter.get_finished_spans()? {
        println!("span {:?} ({:?})", span.name, span.span_kind);
        for attribute in &span.attributes {
            println!("  {} = {}", attribute.key, attribute.value);
        }
        for event in span.events.iter() {
            println!("  event {:?}", event.name);
        }
    }
    Ok(())
}
