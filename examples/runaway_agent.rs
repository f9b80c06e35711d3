//! The overnight retry loop, stopped at $2.00.
//!
//! An agent's tool keeps timing out and its model keeps deciding to retry:
//! the loop that once made 4,800 calls in a night and billed $498. Here it
//! runs against an in-process mock provider (no network, no API key) that
//! answers like OpenAI's Chat Completions API, under a $2.00 task budget.
//! Every call is priced before it is sent; the one that could cross $2.00 is
//! refused, and nothing is sent after it.
//!
//! Run it with `cargo run --example runaway_agent`.

use serde_json::{json, Value};
use spendguard::tokens::count_request;
use spendguard::{CallPlan, PriceTable, TaskBudget, Usage, Usd};

const MODEL: &str = "gpt-4o";
const OVERNIGHT_CALLS: u64 = 4_800;
/// What the mock model writes each time it decides to retry, in tokens.
const RETRY_REPLY_TOKENS: u64 = 150;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prices = PriceTable::bundled();
    let price = prices.resolve(MODEL)?.into_price();
    let budget = TaskBudget::builder("overnight-report")
        .max_cost(Usd::from_dollars(2.00)?)
        .on_alert(|alert| println!("  ALERT  {alert}"))
        .build()?;

    let request = agent_request();
    let prompt = count_request(MODEL, &request)?;
    println!("spendguard demo: the overnight retry loop, against an in-process mock provider");
    println!(
        "model {MODEL} (input {}, output {}), task budget $2.00, prompt {prompt}\n",
        price.standard().base().input,
        price.standard().base().output,
    );

    let mut calls = 0u64;
    let mut per_call = Usd::ZERO;
    let refusal = loop {
        let plan = CallPlan::new(&price, prompt.tokens);
        let reservation = match budget.reserve(plan) {
            Ok(reservation) => reservation,
            Err(refusal) => break refusal,
        };
        let mut body = request.clone();
        body["max_tokens"] = json!(reservation.max_output_tokens());
        let response = mock_provider(&body)?;
        let receipt = reservation.settle(&Usage::from_openai_chat(&response)?);
        calls += 1;
        per_call = receipt.cost;
        println!(
            "call {calls:>3}  tool fetch_report timed out, model retries   cost {}   spent {}",
            receipt.cost, receipt.spent
        );
    };

    let spent = budget.snapshot().spent;
    println!("\nREFUSED before sending call {}: {refusal}", calls + 1);
    println!(
        "\nstopped after {calls} calls with {spent} spent; nothing was sent after the refusal."
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

/// Answers like OpenAI's Chat Completions API: the model decides to retry,
/// and the usage block reports the prompt it read and the reply it wrote.
fn mock_provider(body: &Value) -> Result<Value, Box<dyn std::error::Error>> {
    let prompt_tokens = count_request(MODEL, body)?.tokens;
    Ok(json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "The tool timed out; retrying fetch_report."},
            "finish_reason": "tool_calls",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": RETRY_REPLY_TOKENS,
            "total_tokens": prompt_tokens + RETRY_REPLY_TOKENS,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "service_tier": "default",
    }))
}
