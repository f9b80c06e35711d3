//! A rig agent with a tool, every model call guarded by `GuardMiddleware`.
//!
//! The agent (rig-agent, OpenAI's Chat Completions through rig-core's
//! provider client) watches a deploy: it calls its `deploy_status` tool,
//! reads the answer and replies, prompt after prompt. rig sends through a
//! reqwest-middleware client carried by `rig_reqwest::ReqwestMiddlewareClient`,
//! and the guard's middleware sits in that stack: each request is checked
//! against a $0.01 task budget and a shared daily cap before it is sent,
//! given its output ceiling, settled from the provider's usage and written
//! to the ledger. The call that could cross the budget is refused without
//! being sent.
//!
//! rig talks to a mock provider that this program starts on 127.0.0.1 (no
//! network, no API key); it bills every request it answers.
//!
//! Run it with `cargo run --example rig_agent --features rig,reqwest-middleware`.

#[path = "../tests/support/mock_provider/mod.rs"]
mod mock_provider;

use std::sync::Arc;

use mock_provider::{Behaviour, MockConfig, MockProvider};
use reqwest_middleware::ClientBuilder;
use rig_agent::core::providers::openai::OpenAIConfig;
use rig_agent::core::tool::PortableTool;
use rig_agent::AgentBuilder;
use rig_reqwest::ReqwestMiddlewareClient;
use serde_json::{json, Value};
use spendguard::client::exchange::HttpGuard;
use spendguard::client::middleware::GuardMiddleware;
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::ledger::MemorySink;
use spendguard::tags::{TagKind, Tags};
use spendguard::{TaskBudget, Usd};

/// The agent's tool: how far a service's deploy has got.
struct DeployStatus;

#[derive(serde::Deserialize)]
struct DeployArgs {
    service: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the deploy tool cannot fail")]
struct NeverFails;

impl PortableTool for DeployStatus {
    const NAME: &'static str = "deploy_status";
    type Args = DeployArgs;
    type Output = String;
    type Error = NeverFails;

    fn description(&self) -> String {
        "How far a service's deploy has got.".into()
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"service": {"type": "string"}},
            "required": ["service"],
        })
    }

    async fn call(&self, args: DeployArgs) -> Result<String, NeverFails> {
        Ok(format!("{} is still rolling out", args.service))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mock = MockProvider::start(MockConfig::default()).await?;
    let guard = SpendGuard::builder()
        .limit(SharedLimit::each(
            TagKind::Agent,
            Usd::from_cents(100),
            Window::Day,
        ))
        .build()?;
    let budget = TaskBudget::builder("deploy-watch")
        .max_cost(Usd::from_cents(1))
        .tags(Tags::new().agent("deploy-watcher"))
        .build()?;
    let ledger = Arc::new(MemorySink::new());
    let http_guard = HttpGuard::builder(budget.clone())
        .guard(guard)
        .ledger(Arc::clone(&ledger) as _)
        .build();
    let http = ClientBuilder::new(reqwest::Client::new())
        .with(GuardMiddleware::new(http_guard))
        .build();

    let openai = OpenAIConfig::new("sk-offline-demo")
        .with_base_url(format!("{}/v1", mock.base_url()))
        .connect(ReqwestMiddlewareClient::from(http));
    let agent = AgentBuilder::new(openai.chat("gpt-4o"))
        .preamble("You watch deploys. Check with your tool before you answer.")
        .max_tokens(400)
        .tool(DeployStatus)
        .build();

    for round in 1.. {
        // The mock model calls the tool, then answers from its result.
        mock.push(Behaviour::tool_call(
            "deploy_status",
            json!({"service": "billing"}),
        ));
        mock.push(Behaviour::Answer);
        let prompt = format!("Round {round}: is billing deployed?");
        match agent.prompt(prompt).max_turns(3).await {
            Ok(_) => println!(
                "round {round}: answered; the task has spent {}",
                budget.snapshot().spent
            ),
            Err(refused) => {
                println!("round {round}: stopped, the call was never sent: {refused}");
                break;
            }
        }
    }
    mock.idle().await;
    println!(
        "the provider billed {} for {} calls; the budget recorded {}; the ledger has {} lines",
        mock.billed(),
        mock.requests(),
        budget.snapshot().spent,
        ledger.records().len(),
    );
    Ok(())
}
