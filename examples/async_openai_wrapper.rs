//! Guarding calls made with async-openai, offline.
//!
//! The request is async-openai's own `CreateChatCompletionRequest`. Its prompt
//! is counted from its JSON, each step runs under `TaskBudget::run` with the
//! `max_completion_tokens` the budget grants, and the answer's usage is
//! converted with `Usage::try_from(&response)`. The steps repeat until the
//! budget refuses one, before it runs.
//!
//! No network and no API key: the provider's answer is deserialised from a
//! JSON literal where `client.chat().create(request).await` would be.
//!
//! Run it with `cargo run --example async_openai_wrapper --features async-openai`.

use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs, CreateChatCompletionResponse,
};
use serde_json::json;
use spendguard::budget::StepError;
use spendguard::tokens::count_request;
use spendguard::usage::UsageError;
use spendguard::{CallPlan, PriceTable, TaskBudget, Usage, Usd};

const MODEL: &str = "gpt-5-mini";
/// Room for three steps' worst cases, but not four.
const TASK_BUDGET_DOLLARS: f64 = 0.0015;

/// Why a step failed after it was granted: it is then billed at its worst
/// case, since a call that failed after sending may still have been charged.
#[derive(Debug, thiserror::Error)]
enum StepFailure {
    #[error("the granted max_completion_tokens does not fit async-openai's u32")]
    GrantTooLarge,
    #[error("the answer is not a chat completion: {0}")]
    Answer(#[from] serde_json::Error),
    #[error(transparent)]
    Usage(#[from] UsageError),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let price = PriceTable::bundled().resolve(MODEL)?.into_price();
    let budget = TaskBudget::builder("triage-with-async-openai")
        .max_cost(Usd::from_dollars(TASK_BUDGET_DOLLARS)?)
        .build()?;

    let request = CreateChatCompletionRequestArgs::default()
        .model(MODEL)
        .max_completion_tokens(400u32)
        .messages([
            ChatCompletionRequestSystemMessageArgs::default()
                .content("You triage incident reports. Answer with a severity and one line.")
                .build()?
                .into(),
            ChatCompletionRequestUserMessageArgs::default()
                .content("The nightly export job has failed three times with a timeout.")
                .build()?
                .into(),
        ])
        .build()?;
    // The guard counts what will be sent: async-openai's request as JSON.
    let prompt = count_request(MODEL, &serde_json::to_value(&request)?)?;
    println!(
        "spendguard + async-openai: {MODEL}, prompt {prompt}, task budget ${TASK_BUDGET_DOLLARS}\n"
    );

    for step in 1.. {
        let mut plan = CallPlan::new(&price, prompt.tokens);
        if let Some(asked) = request.max_completion_tokens {
            plan = plan.with_max_output_tokens(u64::from(asked));
        }
        let outcome = budget
            .run(plan, |grant| {
                let mut request = request.clone();
                async move {
                    request.max_completion_tokens = Some(
                        u32::try_from(grant.max_output_tokens)
                            .map_err(|_| StepFailure::GrantTooLarge)?,
                    );
                    let response = answer_offline(&request, prompt.tokens)?;
                    let usage = Usage::try_from(&response)?;
                    Ok::<_, StepFailure>((response, usage))
                }
            })
            .await;
        match outcome {
            Ok((response, receipt)) => {
                let text = response.choices[0].message.content.as_deref().unwrap_or("");
                let usage = receipt.usage;
                println!(
                    "step {step}  {text:?}\n        input {} (cached {}), output {} (reasoning {})  \
                     cost {} of {} reserved  spent {}  left {}",
                    usage.prompt_tokens(),
                    usage.cache_read_tokens,
                    usage.billed_output_tokens(),
                    usage.reasoning_tokens,
                    receipt.cost,
                    receipt.reserved,
                    receipt.spent,
                    receipt.remaining.unwrap_or(Usd::ZERO),
                );
            }
            Err(StepError::Budget(refusal)) => {
                println!("\nREFUSED before step {step} ran: {refusal}");
                break;
            }
            Err(failed) => return Err(failed.into()),
        }
    }
    let snapshot = budget.snapshot();
    println!(
        "\n{} steps, {} spent of {}; nothing was sent for the refused step.",
        snapshot.calls,
        snapshot.spent,
        snapshot.max_cost.unwrap_or(Usd::ZERO),
    );
    Ok(())
}

/// OFFLINE STAND-IN for `client.chat().create(request).await`: the JSON an
/// OpenAI answer to `request` would carry, read into async-openai's type.
/// Its usage reports the prompt as counted, and 100 of the output tokens as
/// reasoning.
fn answer_offline(
    request: &CreateChatCompletionRequest,
    prompt_tokens: u64,
) -> Result<CreateChatCompletionResponse, serde_json::Error> {
    let completion_tokens = 164;
    serde_json::from_value(json!({
        "id": "chatcmpl-offline",
        "object": "chat.completion",
        "created": 1_767_225_600,
        "model": format!("{}-2025-08-07", request.model),
        "service_tier": "default",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "SEV-3: the export job times out; raise its timeout and alert on a fourth failure.",
                "refusal": null,
                "annotations": []
            },
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 100,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        }
    }))
}
