//! [`Usage`] from [async-openai]'s chat types (feature `async-openai`).
//!
//! async-openai deserialises the `usage` object of a Chat Completions answer
//! into a [`CompletionUsage`]. These conversions apply exactly the rules of
//! [`Usage::from_openai_chat`], field paths in errors included:
//!
//! - `cached_tokens` and the prompt's `audio_tokens` come out of
//!   `prompt_tokens`, into `cache_read_tokens` and `input_audio_tokens`;
//! - `reasoning_tokens` and the completion's `audio_tokens` come out of
//!   `completion_tokens`, into `reasoning_tokens` and `output_audio_tokens`;
//! - a detail larger than its parent is [`UsageError::DetailExceedsParent`],
//!   a `total_tokens` that is not their sum is
//!   [`UsageError::InconsistentTotal`], never a wrapped or clamped count.
//!
//! A bare [`CompletionUsage`] carries no service tier, so it converts at the
//! standard tier; convert the whole [`CreateChatCompletionResponse`] (or the
//! last [`CreateChatCompletionStreamResponse`] chunk) to keep the tier the
//! provider reports.
//!
//! ```
//! use async_openai::types::chat::{CompletionUsage, PromptTokensDetails};
//! use spendguard::Usage;
//!
//! let reported = CompletionUsage {
//!     prompt_tokens: 2_006,
//!     completion_tokens: 300,
//!     total_tokens: 2_306,
//!     prompt_tokens_details: Some(PromptTokensDetails {
//!         cached_tokens: Some(1_920),
//!         ..Default::default()
//!     }),
//!     completion_tokens_details: None,
//! };
//! let usage = Usage::try_from(&reported)?;
//! assert_eq!((usage.input_tokens, usage.cache_read_tokens), (86, 1_920));
//! assert_eq!(usage.total_tokens(), 2_306);
//! # Ok::<(), spendguard::usage::UsageError>(())
//! ```
//!
//! [async-openai]: https://docs.rs/async-openai

use ::async_openai::types::chat::{
    CompletionUsage, CreateChatCompletionResponse, CreateChatCompletionStreamResponse,
    ServiceTier as OpenAiServiceTier,
};

use crate::usage::field_path::FieldPath;
use crate::usage::json::Count;
use crate::usage::openai::ChatCounts;
use crate::usage::{ServiceTier, Usage, UsageError, UsageFormat};

/// async-openai's `usage` object, by the rules of [`Usage::from_openai_chat`],
/// at the standard tier (feature `async-openai`).
impl TryFrom<&CompletionUsage> for Usage {
    type Error = UsageError;

    /// Normalises async-openai's `usage`, at the standard tier.
    fn try_from(usage: &CompletionUsage) -> Result<Usage, UsageError> {
        let prompt_details = usage.prompt_tokens_details.as_ref();
        let completion_details = usage.completion_tokens_details.as_ref();
        let counts = ChatCounts {
            prompt: count("prompt_tokens", Some(usage.prompt_tokens)),
            cached: prompt_details
                .and_then(|details| details.cached_tokens)
                .map(|tokens| count("prompt_tokens_details.cached_tokens", Some(tokens))),
            cache_hit: None,
            cache_miss: None,
            input_audio: count(
                "prompt_tokens_details.audio_tokens",
                prompt_details.and_then(|details| details.audio_tokens),
            ),
            completion: count("completion_tokens", Some(usage.completion_tokens)),
            reasoning: count(
                "completion_tokens_details.reasoning_tokens",
                completion_details.and_then(|details| details.reasoning_tokens),
            ),
            output_audio: count(
                "completion_tokens_details.audio_tokens",
                completion_details.and_then(|details| details.audio_tokens),
            ),
            accepted: count(
                "completion_tokens_details.accepted_prediction_tokens",
                completion_details.and_then(|details| details.accepted_prediction_tokens),
            ),
            rejected: count(
                "completion_tokens_details.rejected_prediction_tokens",
                completion_details.and_then(|details| details.rejected_prediction_tokens),
            ),
            total: Some(count("total_tokens", Some(usage.total_tokens))),
        };
        counts.normalise()
    }
}

/// An async-openai chat answer's usage, at the service tier it reports
/// (feature `async-openai`).
impl TryFrom<&CreateChatCompletionResponse> for Usage {
    type Error = UsageError;

    /// Normalises a whole answer's `usage`, at the tier it reports.
    fn try_from(response: &CreateChatCompletionResponse) -> Result<Usage, UsageError> {
        with_tier(response.usage.as_ref(), response.service_tier.as_ref())
    }
}

/// The usage of an async-openai stream's last chunk, at the service tier it
/// reports (feature `async-openai`).
impl TryFrom<&CreateChatCompletionStreamResponse> for Usage {
    type Error = UsageError;

    /// Normalises the last chunk of a stream requested with
    /// `stream_options: {"include_usage": true}`; earlier chunks have no
    /// usage and are [`UsageError::MissingUsage`].
    fn try_from(chunk: &CreateChatCompletionStreamResponse) -> Result<Usage, UsageError> {
        with_tier(chunk.usage.as_ref(), chunk.service_tier.as_ref())
    }
}

/// A counter async-openai reports (as a `u32`, or an absent detail), at its
/// path in the JSON it came from.
fn count(path: &'static str, tokens: Option<u32>) -> Count {
    Count {
        path: FieldPath::usage(path),
        tokens: tokens.map_or(0, u64::from),
    }
}

fn with_tier(
    usage: Option<&CompletionUsage>,
    tier: Option<&OpenAiServiceTier>,
) -> Result<Usage, UsageError> {
    let format = UsageFormat::OpenAiChat;
    let usage = usage.ok_or_else(|| UsageError::MissingUsage {
        format,
        path: "usage".to_owned(),
    })?;
    let usage = Usage::try_from(usage)?;
    let Some(tier) = tier else {
        return Ok(usage);
    };
    // Read by its wire name, so a tier added to async-openai later is either
    // known by name or refused, never priced as standard by accident.
    let name = match serde_json::to_value(tier) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{tier:?}"),
    };
    match ServiceTier::from_provider_name(&name) {
        Some(tier) => Ok(usage.with_service_tier(tier)),
        None => Err(UsageError::UnknownServiceTier {
            format,
            path: "service_tier".to_owned(),
            name,
        }),
    }
}

#[cfg(test)]
mod tests {
    use ::async_openai::types::chat::{CompletionTokensDetails, PromptTokensDetails};

    use super::*;

    fn usage(prompt: u32, completion: u32) -> CompletionUsage {
        CompletionUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            prompt_tokens_details: None,
            completion_tokens_details: None,
        }
    }

    #[test]
    fn details_leave_their_parents_and_fill_their_own_buckets() {
        let reported = CompletionUsage {
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(600),
                audio_tokens: Some(100),
                ..Default::default()
            }),
            completion_tokens_details: Some(CompletionTokensDetails {
                reasoning_tokens: Some(150),
                audio_tokens: Some(20),
                accepted_prediction_tokens: Some(5),
                rejected_prediction_tokens: Some(5),
                ..Default::default()
            }),
            ..usage(1_000, 200)
        };
        let normalised = Usage::try_from(&reported).unwrap();
        assert_eq!(
            normalised,
            Usage {
                input_tokens: 300,
                cache_read_tokens: 600,
                input_audio_tokens: 100,
                output_tokens: 30,
                reasoning_tokens: 150,
                output_audio_tokens: 20,
                ..Usage::default()
            }
        );
        assert_eq!(normalised.total_tokens(), 1_200);
    }

    #[test]
    fn a_detail_above_its_parent_names_both_fields() {
        let reported = CompletionUsage {
            completion_tokens_details: Some(CompletionTokensDetails {
                reasoning_tokens: Some(u32::MAX),
                ..Default::default()
            }),
            ..usage(10, 20)
        };
        assert_eq!(
            Usage::try_from(&reported),
            Err(UsageError::DetailExceedsParent {
                format: UsageFormat::OpenAiChat,
                detail: "usage.completion_tokens_details.reasoning_tokens \
                         + usage.completion_tokens_details.audio_tokens"
                    .into(),
                detail_tokens: u64::from(u32::MAX),
                parent: "usage.completion_tokens".into(),
                parent_tokens: 20,
            })
        );
    }
}
