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
//!
//! The client also goes through a `SpendGuard` whose store watches a halt
//! file, and writes every decision to a ledger. To see the kill switch,
//! slow the loop down and halt it from a second terminal:
//!
//! ```text
//! cargo run --example runaway_agent -- --pace 2
//! cargo run --features cli --bin spendguard -- halt --flag /tmp/spendguard-demo.halt --reason "stop the loop"
//! ```
//!
//! The next call is refused with who halted it and why. Then read the
//! ledger: `cargo run --features cli --bin spendguard -- report /tmp/spendguard-demo.jsonl`.
//! Options: `--pace SECONDS` between calls (default 0), `--halt-file PATH`,
//! `--ledger PATH` (defaults in the system's temporary directory).

#[path = "../tests/support/mock_provider/mod.rs"]
mod mock_provider;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mock_provider::{MockConfig, MockProvider};
use serde_json::{json, Value};
use spendguard::guard::SpendGuard;
use spendguard::ledger::{JsonlSink, LedgerSink};
use spendguard::store::MemoryStore;
use spendguard::tags::Tags;
use spendguard::{ApiKey, ClientError, GuardedClient, Provider, TaskBudget, Usd};

const MODEL: &str = "gpt-4o";
const OVERNIGHT_CALLS: u64 = 4_800;

/// What the command line asked for.
struct Options {
    pace: Duration,
    halt_file: PathBuf,
    ledger: PathBuf,
}

impl Options {
    fn from_args() -> Result<Options, String> {
        let mut options = Options {
            pace: Duration::ZERO,
            halt_file: std::env::temp_dir().join("spendguard-demo.halt"),
            ledger: std::env::temp_dir().join("spendguard-demo.jsonl"),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--pace" => {
                    let seconds: f64 = value()?.parse().map_err(|_| {
                        "--pace takes a number of seconds, e.g. --pace 2".to_owned()
                    })?;
                    options.pace = Duration::try_from_secs_f64(seconds)
                        .map_err(|_| "--pace must be 0 or more seconds".to_owned())?;
                }
                "--halt-file" => options.halt_file = PathBuf::from(value()?),
                "--ledger" => options.ledger = PathBuf::from(value()?),
                other => {
                    return Err(format!(
                    "unknown option {other}; use --pace SECONDS, --halt-file PATH, --ledger PATH"
                ))
                }
            }
        }
        Ok(options)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::from_args()?;
    // Each run starts its own ledger, so its report is this run's.
    let _ = std::fs::remove_file(&options.ledger);
    let ledger = Arc::new(JsonlSink::open(&options.ledger)?);
    // The kill switch: creating this file halts the loop at its next call.
    let guard = SpendGuard::builder()
        .store(MemoryStore::new().with_halt_file(&options.halt_file))
        .build()?;

    // The mock model answers each call with a 150-token decision to retry.
    let provider = MockProvider::start(MockConfig {
        reply_tokens: 150,
        ..MockConfig::default()
    })
    .await?;
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(provider.base_url())
        .api_key(ApiKey::new("sk-demo-not-a-real-key"))
        .key_label("demo-key")
        .guard(guard)
        .ledger(ledger.clone())
        .build()?;
    let budget = TaskBudget::builder("overnight-report")
        .max_cost(Usd::from_dollars(2.00)?)
        .tags(Tags::new().agent("report-writer"))
        .on_alert(|alert| println!("  ALERT  {alert}"))
        .build()?;

    println!(
        "spendguard demo: the overnight retry loop, against a mock provider on {}",
        provider.base_url()
    );
    println!("model {MODEL}, task budget $2.00, every call guarded");
    println!(
        "kill switch: create {} (or run `spendguard halt --flag {0} --reason …`)\n",
        options.halt_file.display()
    );

    let request = agent_request();
    let mut calls = 0u64;
    let mut per_call = Usd::ZERO;
    let refusal = loop {
        if calls > 0 {
            tokio::time::sleep(options.pace).await;
        }
        match client.send(&budget, &request).await {
            Ok(answer) => {
                calls += 1;
                per_call = answer.receipt.cost;
                println!(
                    "call {calls:>3}  tool fetch_report timed out, model retries   cost {}   spent {}",
                    answer.receipt.cost, answer.receipt.spent
                );
            }
            Err(ClientError::Budget(refusal)) => break refusal.to_string(),
            Err(ClientError::Halted(halt)) => break halt.to_string(),
            Err(other) => return Err(other.into()),
        }
    };

    provider.idle().await;
    ledger.flush()?;
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
    println!(
        "every decision is in the ledger {}: `spendguard report {0}` reads it.",
        options.ledger.display()
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
