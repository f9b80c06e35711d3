//! What a call actually consumed, normalised across providers.
//!
//! Providers disagree on what their counters include: OpenAI's
//! `prompt_tokens` already contains the cached tokens, Anthropic reports
//! cache reads and writes *on top of* `input_tokens`, and Gemini reports
//! thinking tokens *beside* `candidatesTokenCount`. [`Usage`] removes the
//! ambiguity by splitting every call into disjoint buckets, each billed at its
//! own rate, so no token can be charged twice or forgotten.
//!
//! Each provider's report is normalised by its own constructor:
//! [`Usage::from_openai_chat`], [`Usage::from_openai_responses`],
//! [`Usage::from_anthropic`] (and [`AnthropicStreamUsage`] for streams) and
//! [`Usage::from_gemini`], or [`Usage::from_response`] given a
//! [`UsageFormat`]. They take the whole response body, and reject a report
//! they cannot read exactly with a [`UsageError`] rather than count it as
//! zero.
//!
//! A [`UsageReport`] reads the same body for settling a call: the usage, a
//! service tier spendguard cannot price (kept by name rather than refused),
//! and the provider's own charge where it reports one (xAI, OpenRouter,
//! Perplexity).
//!
//! With the `async-openai` feature, async-openai's `CompletionUsage`,
//! `CreateChatCompletionResponse` and `CreateChatCompletionStreamResponse`
//! convert with `Usage::try_from(&…)`, by the same rules as
//! [`Usage::from_openai_chat`]. With the `rig` feature, rig-core's
//! `completion::Usage` converts the same way, by the rules of
//! [`Usage::from_openai_responses`]; with `genai`, genai's `chat::Usage`, by
//! those of [`Usage::from_openai_chat`] (its cache writes taken out of the
//! input too).
//!
//! ```
//! use spendguard::Usage;
//!
//! let usage = Usage {
//!     input_tokens: 800,
//!     cache_read_tokens: 200,
//!     output_tokens: 50,
//!     reasoning_tokens: 150,
//!     ..Usage::default()
//! };
//! assert_eq!(usage.prompt_tokens(), 1_000);
//! assert_eq!(usage.billed_output_tokens(), 200);
//! assert_eq!(usage.total_tokens(), 1_200);
//! ```

mod anthropic;
#[cfg(feature = "async-openai")]
mod async_openai;
mod error;
mod field_path;
mod format;
mod gemini;
#[cfg(feature = "genai")]
mod genai;
mod json;
mod openai;
mod provider_cost;
mod report;
#[cfg(feature = "rig")]
mod rig;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use anthropic::AnthropicStreamUsage;
pub use error::{CounterProblem, UsageError};
pub use format::UsageFormat;
pub use provider_cost::CostProblem;
// The stream meter reads a final event without its tier too.
#[cfg(feature = "client")]
pub(crate) use report::without_field;
pub use report::UsageReport;

/// Token counts of one call, in disjoint buckets.
///
/// Every field counts tokens that appear in no other field: add them up and
/// you have everything the provider billed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Text (and image) input billed at the ordinary input rate: neither read
    /// from nor written to a prompt cache.
    pub input_tokens: u64,
    /// Input read from a prompt cache, billed at the cache-read rate.
    pub cache_read_tokens: u64,
    /// Input written to a prompt cache with the default lifetime (Anthropic's
    /// 5 minutes), billed at the cache-write rate.
    pub cache_write_tokens: u64,
    /// Input written to a one-hour prompt cache (Anthropic), billed at the
    /// one-hour cache-write rate.
    pub cache_write_1h_tokens: u64,
    /// Audio input, billed at the audio input rate where the model has one.
    pub input_audio_tokens: u64,
    /// Visible output, *excluding* reasoning and audio.
    pub output_tokens: u64,
    /// Hidden reasoning ("thinking") output, billed as output unless the model
    /// has a reasoning rate of its own.
    pub reasoning_tokens: u64,
    /// Audio output, billed at the audio output rate where the model has one.
    pub output_audio_tokens: u64,
    /// The service tier the provider says it used.
    pub service_tier: ServiceTier,
}

impl Usage {
    /// A call with only plain input and output.
    pub const fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Usage {
            input_tokens,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            cache_write_1h_tokens: 0,
            input_audio_tokens: 0,
            output_tokens,
            reasoning_tokens: 0,
            output_audio_tokens: 0,
            service_tier: ServiceTier::Standard,
        }
    }

    /// The same usage, billed at another service tier.
    pub const fn with_service_tier(mut self, service_tier: ServiceTier) -> Self {
        self.service_tier = service_tier;
        self
    }

    /// Everything the model read: the size of the context, which decides
    /// long-context price tiers.
    pub const fn prompt_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
            .saturating_add(self.cache_write_1h_tokens)
            .saturating_add(self.input_audio_tokens)
    }

    /// Everything the model wrote, reasoning included: what providers bill as
    /// output.
    pub const fn billed_output_tokens(&self) -> u64 {
        self.output_tokens
            .saturating_add(self.reasoning_tokens)
            .saturating_add(self.output_audio_tokens)
    }

    /// Every token of the call.
    pub const fn total_tokens(&self) -> u64 {
        self.prompt_tokens()
            .saturating_add(self.billed_output_tokens())
    }
}

/// The processing tier a call was billed at.
///
/// OpenAI sells the same model at several speeds (`flex` is cheaper and
/// slower, `priority` dearer and faster); every provider sells batch jobs at
/// a discount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServiceTier {
    /// The ordinary on-demand price (OpenAI's `default` and `auto`).
    #[default]
    Standard,
    /// Asynchronous batch jobs.
    Batch,
    /// OpenAI's flex processing: slower, cheaper.
    Flex,
    /// OpenAI's priority processing: faster, dearer.
    Priority,
}

impl ServiceTier {
    /// Reads the `service_tier` a provider reports (`"default"`, `"auto"`,
    /// `"standard"`, `"flex"`, `"priority"`, `"batch"`).
    ///
    /// Unknown names are `None`, so the caller can decide rather than bill a
    /// new tier silently at the standard price.
    pub fn from_provider_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "default" | "auto" | "standard" | "standard_only" | "on_demand" => {
                Some(ServiceTier::Standard)
            }
            "flex" => Some(ServiceTier::Flex),
            "priority" => Some(ServiceTier::Priority),
            "batch" | "batches" => Some(ServiceTier::Batch),
            _ => None,
        }
    }
}

impl fmt::Display for ServiceTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Batch => "batch",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        })
    }
}

#[cfg(test)]
mod tests;
