//! The overnight retry loop, stopped at $2.00.
//!
//! An agent's tool keeps timing out and its model keeps deciding to retry:
//! the loop that once made 4,800 calls in a night and billed $498. Here it
//! runs against a mock provider that this program starts on 127.0.0.1 (no
//! network, no API key). It speaks OpenAI's Chat Completions API and bills
//! every request it answers. Every call goes through a [`GuardedClient`]
//! under a $2.00 task budget: it is priced before it is sent, and the call
//! that could cross $2.00 is refused without being sent.
//!
//! Run it with `cargo run --example runaway_agent`.

#[path = "../tests/support/mock_provider/mod.rs"]
mod mock_provider;

use mock_provider::{MockConfig, MockProvider};
use serde_json::{json, Value};
use spendguard::{ApiKey, ClientError, GuardedClient, Provider, TaskBudget, Usd};

const MODEL: &str = "gpt-4o";
const OVERNIGHT_CALLS: u64 = 4_800;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The mock model answers each call with a 150-token decision to retry.
    let provider = MockProvider::start(MockConfig {
        reply_tokens: 150,
        ..MockConfig::default()
    })
    .await?;
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(provider.base_url())
        .api_key(ApiKey::new("sk-demo-not-a-real-key"))
        .build()?;
    let budget = TaskBudget::builder("overnight-report")
        .max_cost(Usd::from_dollars(2.00)?)
        .on_alert(|alert| println!("  ALERT  {alert}"))
        .build()?;

    println!(
        "spendguard demo: the overnight retry loop, against a mock provider on {}",
        provider.base_url()
    );
    println!("model {MODEL}, task budget $2.00, every call guarded\n");

    let request = agent_request();
    let mut calls = 0u64;
    let mut per_call = Usd::ZERO;
    let refusal = loop {
        match client.send(&budget, &request).await {
            Ok(answer) => {
                calls += 1;
                per_call = answer.receipt.cost;
                println!(
                    "call {calls:>3}  tool fetch_report timed out, model retries   cost {}   spent {}",
                    answer.receipt.cost, answer.receipt.spent
                );
            }
            Err(ClientError::Budget(refusal)) => break refusal,
            Err(other) => return Err(other.into()),
        }
    };

    provider.idle().await;
    println!("\nREFUSED before sending call {}: {refusal}", calls + 1);
    println!(
        "\nthe provider received {} requests and billed {}; the budget recorded {}.",
        provider.requests(),
        provider.billed(),
        budget.snapshot().spent
    );
    println!(
        "unguarded, the same loop for {OVERNIGHT_CALLS} calls overnight would have billed {}.",
        Usd::from_nanos(per_call.nanos() * OVERNIGHT_CALLS)
    );
    Ok(())
}

/// The agent's step: a large briefing (the report it is assembling), the
/// tool it keeps calling, and the timeout it keeps getting back. A timestamp
/// at the top changes every run, so the provider's prompt cache never hits.
fn agent_request() -> Value {
    let briefing = "Quarterly revenue by region, churn by cohort, open incidents, \
                    and the notes from every account review this quarter. "
        .repeat(1_800);
    json!({
        "model": MODEL,
        "messages": [
            {"role": "system", "content": format!("Now: 2026-11-25T03:00:00Z. You assemble the nightly report.\n{briefing}")},
            {"role": "user", "content": "Fetch the latest sales figures and finish the report."},
            {"role": "assistant", "content": "Calling fetch_report."},
            {"role": "tool", "tool_call_id": "call_1", "content": "error: fetch_report timed out after 30s"},
        ],
        "tools": [{
            "type": "function",
            "function": {
                "name": "fetch_report",
                "description": "Fetch the latest sales figures",
                "parameters": {"type": "object", "properties": {"region": {"type": "string"}}},
            },
        }],
    })
}
