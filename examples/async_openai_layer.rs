//! async-openai's own client, guarded by one tower layer, offline.
//!
//! The agent keeps its async-openai code: typed requests, `chat().create`,
//! `create_stream`, async-openai's own retry layer. Only its HTTP service
//! changes: `HttpGuardLayer` sits under the retry layer, so every attempt
//! is priced before it is sent, refused with nothing sent once the $0.005
//! task budget could not cover it, and settled from the usage the mock
//! provider reports. The mock (started here on 127.0.0.1, no network, no
//! API key) speaks OpenAI's Chat Completions API and bills every request it
//! answers; the program ends by comparing its bill with the budget's record.
//!
//! Run it with `cargo run --example async_openai_layer --features async-openai-layer`.

#[path = "../tests/support/mock_provider/mod.rs"]
mod mock_provider;

use async_openai::config::OpenAIConfig;
use async_openai::middleware::retry::OpenAIRetryLayer;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs,
};
use async_openai::Client;
use futures_util::StreamExt;
use mock_provider::{MockConfig, MockProvider};
use spendguard::client::exchange::{ExchangeError, HttpGuard};
use spendguard::client::tower::HttpGuardLayer;
use spendguard::{TaskBudget, Usd};

const MODEL: &str = "gpt-4o";

/// Any error, as async-openai's `OpenAIError::Boxed` carries the guard's.
type Failure = Box<dyn std::error::Error + Send + Sync>;

fn question(turn: u32) -> Result<CreateChatCompletionRequest, Failure> {
    Ok(CreateChatCompletionRequestArgs::default()
        .model(MODEL)
        .max_completion_tokens(200u32)
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content(format!("Step {turn}: what should the agent try next?"))
            .build()?
            .into()])
        .build()?)
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let provider = MockProvider::start(MockConfig::default()).await?;
    let budget = TaskBudget::builder("async-openai-agent")
        .max_cost(Usd::from_dollars(0.005)?)
        .build()?;
    let http_guard = HttpGuard::builder(budget.clone()).key_label("demo").build();

    // async-openai's stack, with the guard under its retry layer.
    let service = tower::ServiceBuilder::new()
        .layer(OpenAIRetryLayer::default())
        .layer(HttpGuardLayer::new(http_guard))
        .service(reqwest::Client::new());
    let client = Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("{}/v1", provider.base_url()))
            .with_api_key("sk-offline-demo"),
    )
    .with_http_service(service);

    let mut stream = client.chat().create_stream(question(0)?).await?;
    let mut streamed = 0;
    while let Some(chunk) = stream.next().await {
        streamed += chunk?.choices.len();
    }
    println!("streamed answer: {streamed} chunks, metered as they passed");

    for turn in 1.. {
        match client.chat().create(question(turn)?).await {
            Ok(answer) => println!(
                "turn {turn}: {} tokens, {} spent so far",
                answer.usage.map_or(0, |usage| usage.total_tokens),
                budget.snapshot().spent
            ),
            Err(async_openai::error::OpenAIError::Boxed(error)) => {
                let refusal = error.downcast_ref::<ExchangeError>();
                let limit = refusal.and_then(ExchangeError::budget_exceeded);
                println!("turn {turn}: refused, nothing sent: {error}");
                if limit.is_some() {
                    break;
                }
                return Err(error);
            }
            Err(other) => return Err(other.into()),
        }
    }
    provider.idle().await;
    println!(
        "the provider billed {}; the budget recorded {}",
        provider.billed(),
        budget.snapshot().spent
    );
    Ok(())
}
