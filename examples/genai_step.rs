//! genai's client, every call guarded: a research loop under a $0.01 task
//! budget and a shared daily cap, run through `SpendGuard::step`.
//!
//! genai sends to a mock provider that this program starts on 127.0.0.1
//! (no network, no API key); it speaks OpenAI's Chat Completions API and
//! bills every request it answers. Each call is a guarded step: the step is
//! given the request body genai will send, so the guard counts its prompt,
//! reserves its worst case against the budget and the cap (all or none),
//! checks the kill switch and the loop detector, then grants the output
//! ceiling genai sends as `max_tokens`. The call is settled from genai's own
//! usage, converted with `Usage::try_from`. The call that could cross the
//! budget is refused without being sent.
//!
//! Run it with `cargo run --example genai_step --features genai`.

#[path = "../tests/support/mock_provider/mod.rs"]
mod mock_provider;

use genai::adapter::AdapterKind;
use genai::chat::{ChatOptions, ChatRequest, ChatResponse};
use genai::resolver::{AuthData, Endpoint};
use genai::{ModelIden, ServiceTarget};
use mock_provider::{MockConfig, MockProvider};
use serde_json::json;
use spendguard::client::{GuardedGrant, GuardedStepError, Provider, StepFailure};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::tags::{TagKind, Tags};
use spendguard::usage::UsageError;
use spendguard::{TaskBudget, Usage, Usd};

const MODEL: &str = "gpt-4o";

/// What a genai step fails with: genai's error, whose HTTP status tells the
/// guard the call was not billed, or a usage report it could not read.
#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Call(#[from] genai::Error),
    #[error(transparent)]
    Usage(#[from] UsageError),
}

impl StepFailure for StepError {
    fn http_status(&self) -> Option<u16> {
        match self {
            StepError::Call(error) => error.http_status(),
            StepError::Usage(_) => None,
        }
    }
}

/// genai's call, made with what the guard granted.
async fn ask(
    client: &genai::Client,
    base_url: &str,
    grant: GuardedGrant,
    prompt: &str,
) -> Result<(ChatResponse, Usage), StepError> {
    let target = ServiceTarget {
        endpoint: Endpoint::from_owned(format!("{base_url}/v1/")),
        auth: AuthData::from_single("sk-offline-demo"),
        model: ModelIden::new(AdapterKind::OpenAI, grant.model),
    };
    let ceiling = u32::try_from(grant.max_output_tokens).unwrap_or(u32::MAX);
    let options = ChatOptions::default().with_max_tokens(ceiling);
    let response = client
        .exec_chat(target, ChatRequest::from_user(prompt), Some(&options))
        .await?;
    let usage = Usage::try_from(&response.usage)?;
    Ok((response, usage))
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
    let budget = TaskBudget::builder("genai-research")
        .max_cost(Usd::from_cents(1))
        .tags(Tags::new().agent("researcher"))
        .build()?;
    let client = genai::Client::new()?;
    let base_url = mock.base_url();

    for turn in 1.. {
        let prompt = format!("Step {turn}: what should we read next?");
        // The body genai sends for this prompt, which the guard counts.
        let body = json!({
            "model": MODEL,
            "max_tokens": 500,
            "messages": [{"role": "user", "content": prompt}],
        });
        let step = guard
            .step(&budget, Provider::OpenAiChat)
            .body(&body)
            .run(|grant| ask(&client, &base_url, grant, &prompt))
            .await;
        match step {
            Ok((_, receipt)) => println!(
                "turn {turn}: {} for {} tokens; the task has {} left",
                receipt.cost,
                receipt.usage.total_tokens(),
                receipt.remaining.unwrap_or(Usd::ZERO),
            ),
            Err(GuardedStepError::Refused(refusal)) => {
                println!("turn {turn}: refused, never sent: {refusal}");
                break;
            }
            Err(failed) => return Err(failed.into()),
        }
    }
    mock.idle().await;
    println!(
        "the provider billed {} for {} calls; the budget recorded {}",
        mock.billed(),
        mock.requests(),
        budget.snapshot().spent,
    );
    Ok(())
}
