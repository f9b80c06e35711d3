//! `examples/opentelemetry.rs`'s wiring: through `tracing-opentelemetry`,
//! a real call's span reaches an OpenTelemetry exporter named and
//! attributed after the GenAI conventions.

use crate::support;

use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::json;
use spendguard::{Provider, TaskBudget, Usd};
use support::guarded::{client_for, start_mock};
use support::mock_provider::MockConfig;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test(flavor = "current_thread")]
async fn a_real_calls_span_carries_the_gen_ai_attributes() {
    let exporter = InMemorySpanExporter::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("test")));
    let _default = tracing::subscriber::set_default(subscriber);
    // Another test's thread may have met the callsite first, with no
    // subscriber: work its interest out again with this one in the set.
    tracing::callsite::rebuild_interest_cache();

    let mock = start_mock(MockConfig {
        cached_percent: 25,
        ..MockConfig::default()
    })
    .await;
    let budget = TaskBudget::builder("otel")
        .max_cost(Usd::from_cents(50))
        .build()
        .unwrap();
    let answer = client_for(Provider::Anthropic, &mock)
        .send(
            &budget,
            &json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 300,
                "messages": [{"role": "user", "content": "Summarise the incident."}],
            }),
        )
        .await
        .unwrap();
    tracer_provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let span = spans
        .iter()
        .find(|span| span.name == "chat claude-sonnet-4-5")
        .unwrap_or_else(|| panic!("no span named after the conventions: {spans:#?}"));
    assert_eq!(span.span_kind, SpanKind::Client);
    let attribute = |key: &str| {
        span.attributes
            .iter()
            .rev()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.clone())
    };
    let usage = answer.receipt.usage;
    let int = |n: u64| Some(Value::I64(i64::try_from(n).unwrap()));
    assert_eq!(
        attribute("gen_ai.operation.name"),
        Some(Value::from("chat"))
    );
    assert_eq!(
        attribute("gen_ai.provider.name"),
        Some(Value::from("anthropic"))
    );
    assert_eq!(
        attribute("gen_ai.request.model"),
        Some(Value::from("claude-sonnet-4-5"))
    );
    assert_eq!(attribute("gen_ai.request.max_tokens"), int(300));
    assert_eq!(
        attribute("gen_ai.usage.input_tokens"),
        int(usage.prompt_tokens())
    );
    assert_eq!(
        attribute("gen_ai.usage.cache_read.input_tokens"),
        int(usage.cache_read_tokens)
    );
    assert!(usage.cache_read_tokens > 0);
    assert_eq!(
        attribute("gen_ai.usage.output_tokens"),
        int(usage.billed_output_tokens())
    );
    assert_eq!(
        attribute("spendguard.cost_usd"),
        Some(Value::F64(answer.receipt.cost.as_dollars_f64()))
    );
    assert_eq!(
        attribute("spendguard.decision"),
        Some(Value::from("allowed"))
    );
    assert_eq!(attribute("spendguard.budget"), Some(Value::from("otel")));
}
