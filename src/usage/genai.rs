//! [`Usage`] from [genai]'s `chat::Usage` (feature `genai`).
//!
//! genai normalises every provider's report into the OpenAI Chat
//! Completions `usage` object, under the same field names: `prompt_tokens`
//! holds the cache reads (`cached_tokens`), the cache writes
//! (`cache_creation_tokens`, split by lifetime in `cache_creation_details`)
//! and the audio input; `completion_tokens` holds the reasoning and the
//! audio output. The conversion applies the rules of
//! [`Usage::from_openai_chat`], field paths in errors included, and takes
//! the cache writes out of the input too:
//!
//! - a missing `prompt_tokens` or `completion_tokens` is
//!   [`UsageError::MissingField`], a negative counter (genai's are `i32`)
//!   is [`UsageError::InvalidCounter`], never a zero;
//! - a part larger than its counter is [`UsageError::DetailExceedsParent`],
//!   a `total_tokens` that is not their sum is
//!   [`UsageError::InconsistentTotal`];
//! - one-hour cache writes (`ephemeral_1h_tokens`) are
//!   `cache_write_1h_tokens`, the rest of `cache_creation_tokens`
//!   five-minute writes.
//!
//! genai's usage carries no service tier, so the usage is at the standard
//! tier.
//!
//! ```
//! use genai::chat::{PromptTokensDetails, Usage as GenaiUsage};
//! use spendguard::Usage;
//!
//! let reported = GenaiUsage {
//!     prompt_tokens: Some(2_048),
//!     prompt_tokens_details: Some(PromptTokensDetails {
//!         cached_tokens: Some(1_800),
//!         cache_creation_tokens: Some(200),
//!         ..Default::default()
//!     }),
//!     completion_tokens: Some(503),
//!     completion_tokens_details: None,
//!     total_tokens: Some(2_551),
//! };
//! let usage = Usage::try_from(&reported)?;
//! assert_eq!((usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens), (48, 1_800, 200));
//! assert_eq!(usage.total_tokens(), 2_551);
//! # Ok::<(), spendguard::usage::UsageError>(())
//! ```
//!
//! [genai]: https://docs.rs/genai

use ::genai::chat::Usage as GenaiUsage;

use crate::usage::field_path::{FieldPath, ObjectPath};
use crate::usage::json::Count;
use crate::usage::openai::ChatCounts;
use crate::usage::{CounterProblem, Usage, UsageError, UsageFormat};

const FORMAT: UsageFormat = UsageFormat::OpenAiChat;

/// genai's usage, by the rules of [`Usage::from_openai_chat`] with its cache
/// writes taken out of the input, at the standard tier (feature `genai`).
impl TryFrom<&GenaiUsage> for Usage {
    type Error = UsageError;

    /// Normalises genai's usage: cache reads, cache writes (five-minute and
    /// one-hour) and audio leave `prompt_tokens`, reasoning and audio leave
    /// `completion_tokens`; a missing or negative counter, a part above its
    /// counter or a total that is not their sum is a [`UsageError`].
    fn try_from(usage: &GenaiUsage) -> Result<Usage, UsageError> {
        let prompt_details = usage.prompt_tokens_details.as_ref();
        let completion_details = usage.completion_tokens_details.as_ref();
        let usage_object = ObjectPath::ROOT.key("usage");
        let prompt_detail = |key: &'static str, tokens: Option<i32>| {
            count(usage_object.key("prompt_tokens_details").field(key), tokens)
        };
        let completion_detail = |key: &'static str, tokens: Option<i32>| {
            count(
                usage_object.key("completion_tokens_details").field(key),
                tokens,
            )
        };
        let prompt = required("prompt_tokens", usage.prompt_tokens)?;
        let written = prompt_detail(
            "cache_creation_tokens",
            prompt_details.and_then(|details| details.cache_creation_tokens),
        )?;
        let written_1h = count(
            FieldPath::usage("prompt_tokens_details.cache_creation_details.ephemeral_1h_tokens"),
            prompt_details
                .and_then(|details| details.cache_creation_details.as_ref())
                .and_then(|details| details.ephemeral_1h_tokens),
        )?;
        let cached = prompt_detail(
            "cached_tokens",
            prompt_details.and_then(|details| details.cached_tokens),
        )?;
        let counts = ChatCounts {
            // The writes leave the prompt first: the chat rules then see the
            // prompt an OpenAI report would have, reads and audio inside.
            prompt: prompt.without(&[&written], FORMAT)?,
            cached: Some(cached),
            cache_hit: None,
            cache_miss: None,
            input_audio: prompt_detail(
                "audio_tokens",
                prompt_details.and_then(|details| details.audio_tokens),
            )?,
            completion: required("completion_tokens", usage.completion_tokens)?,
            reasoning: completion_detail(
                "reasoning_tokens",
                completion_details.and_then(|details| details.reasoning_tokens),
            )?,
            output_audio: completion_detail(
                "audio_tokens",
                completion_details.and_then(|details| details.audio_tokens),
            )?,
            accepted: completion_detail(
                "accepted_prediction_tokens",
                completion_details.and_then(|details| details.accepted_prediction_tokens),
            )?,
            rejected: completion_detail(
                "rejected_prediction_tokens",
                completion_details.and_then(|details| details.rejected_prediction_tokens),
            )?,
            total: None,
        };
        let completion = counts.completion.clone();
        let mut normalised = counts.normalise()?;
        if let Some(total) = usage.total_tokens {
            required("total_tokens", Some(total))?.check_total(&[&prompt, &completion], FORMAT)?;
        }
        normalised.cache_write_tokens = written.without(&[&written_1h], FORMAT)?.tokens;
        normalised.cache_write_1h_tokens = written_1h.tokens;
        Ok(normalised)
    }
}

/// A counter genai always fills in: `None` is an error, not a zero.
fn required(field: &'static str, tokens: Option<i32>) -> Result<Count, UsageError> {
    match tokens {
        Some(_) => count(FieldPath::usage(field), tokens),
        None => Err(UsageError::MissingField {
            format: FORMAT,
            path: format!("usage.{field}"),
        }),
    }
}

/// A counter at its path in the `usage` object: absent is zero (genai reads
/// a reported 0 as `None`), negative an error.
fn count(path: FieldPath, tokens: Option<i32>) -> Result<Count, UsageError> {
    match u64::try_from(tokens.unwrap_or(0)) {
        Ok(tokens) => Ok(Count { path, tokens }),
        Err(_) => Err(UsageError::InvalidCounter {
            format: FORMAT,
            path: path.to_string(),
            problem: CounterProblem::Negative,
            value: tokens.unwrap_or(0).to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use ::genai::chat::{CacheCreationDetails, CompletionTokensDetails, PromptTokensDetails};

    use super::*;

    fn reported(prompt: i32, completion: i32) -> GenaiUsage {
        GenaiUsage {
            prompt_tokens: Some(prompt),
            prompt_tokens_details: None,
            completion_tokens: Some(completion),
            completion_tokens_details: None,
            total_tokens: Some(prompt + completion),
        }
    }

    #[test]
    fn every_part_leaves_its_counter_for_its_own_bucket() {
        let usage = GenaiUsage {
            prompt_tokens_details: Some(PromptTokensDetails {
                cache_creation_tokens: Some(150),
                cache_creation_details: Some(CacheCreationDetails {
                    ephemeral_5m_tokens: Some(100),
                    ephemeral_1h_tokens: Some(50),
                }),
                cached_tokens: Some(600),
                audio_tokens: Some(100),
            }),
            completion_tokens_details: Some(CompletionTokensDetails {
                reasoning_tokens: Some(150),
                audio_tokens: Some(20),
                ..Default::default()
            }),
            ..reported(1_000, 200)
        };
        let normalised = Usage::try_from(&usage).unwrap();
        assert_eq!(
            normalised,
            Usage {
                input_tokens: 150,
                cache_read_tokens: 600,
                cache_write_tokens: 100,
                cache_write_1h_tokens: 50,
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
    fn a_missing_or_negative_counter_is_an_error_not_a_zero() {
        let missing = GenaiUsage {
            prompt_tokens: None,
            ..reported(10, 5)
        };
        assert_eq!(
            Usage::try_from(&missing),
            Err(UsageError::MissingField {
                format: FORMAT,
                path: "usage.prompt_tokens".into(),
            })
        );
        let negative = GenaiUsage {
            completion_tokens: Some(-3),
            ..reported(10, 5)
        };
        assert!(matches!(
            Usage::try_from(&negative),
            Err(UsageError::InvalidCounter { path, problem: CounterProblem::Negative, .. })
                if path == "usage.completion_tokens"
        ));
        assert!(Usage::try_from(&GenaiUsage::default()).is_err());
    }

    #[test]
    fn parts_larger_than_their_counter_and_wrong_totals_are_refused() {
        let writes = GenaiUsage {
            prompt_tokens_details: Some(PromptTokensDetails {
                cache_creation_tokens: Some(60),
                cached_tokens: Some(50),
                ..Default::default()
            }),
            ..reported(100, 5)
        };
        assert!(matches!(
            Usage::try_from(&writes),
            Err(UsageError::DetailExceedsParent { .. })
        ));
        let hour = GenaiUsage {
            prompt_tokens_details: Some(PromptTokensDetails {
                cache_creation_tokens: Some(10),
                cache_creation_details: Some(CacheCreationDetails {
                    ephemeral_5m_tokens: None,
                    ephemeral_1h_tokens: Some(11),
                }),
                ..Default::default()
            }),
            ..reported(100, 5)
        };
        assert!(matches!(
            Usage::try_from(&hour),
            Err(UsageError::DetailExceedsParent { .. })
        ));
        let total = GenaiUsage {
            total_tokens: Some(106),
            ..reported(100, 5)
        };
        assert!(matches!(
            Usage::try_from(&total),
            Err(UsageError::InconsistentTotal {
                reported: 106,
                sum: 105,
                ..
            })
        ));
    }
}
