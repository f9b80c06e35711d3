//! [`Usage`] from [rig]'s `completion::Usage` (feature `rig`).
//!
//! rig normalises every provider's report into one shape whose counters
//! include their parts, as OpenAI Responses' do: `input_tokens` holds the
//! cache reads, the cache writes and any prompt a hosted tool added;
//! `output_tokens` holds the reasoning. The conversion takes the parts out
//! by the rules of [`Usage::from_openai_responses`], and errors name that
//! format with rig's field names:
//!
//! - `cached_input_tokens` leaves `input_tokens` for `cache_read_tokens`,
//!   `cache_creation_input_tokens` for `cache_write_tokens`; hosted-tool
//!   prompt tokens stay input (they are billed at the input rate);
//! - `reasoning_tokens` leaves `output_tokens` for `reasoning_tokens`;
//! - an absent `input_tokens` or `output_tokens` is
//!   [`UsageError::MissingField`] (rig says `None` for a counter the
//!   provider did not send, and an unsent counter is not a zero), a part
//!   larger than its counter is [`UsageError::DetailExceedsParent`], and a
//!   `total_tokens` that is not their sum is [`UsageError::InconsistentTotal`].
//!
//! rig does not say how long a cache write lives, so every write is billed
//! at the five-minute rate, and it carries no service tier, so the usage is
//! at the standard tier.
//!
//! ```
//! use rig_core::completion::Usage as RigUsage;
//! use spendguard::Usage;
//!
//! let reported = RigUsage::new()
//!     .input_tokens(2_000)
//!     .cached_input_tokens(1_500)
//!     .output_tokens(300)
//!     .reasoning_tokens(200)
//!     .total_tokens(2_300);
//! let usage = Usage::try_from(&reported)?;
//! assert_eq!((usage.input_tokens, usage.cache_read_tokens), (500, 1_500));
//! assert_eq!((usage.output_tokens, usage.reasoning_tokens), (100, 200));
//! assert_eq!(usage.total_tokens(), 2_300);
//! # Ok::<(), spendguard::usage::UsageError>(())
//! ```
//!
//! [rig]: https://docs.rs/rig-core

use ::rig_core::completion::Usage as RigUsage;

use crate::usage::field_path::FieldPath;
use crate::usage::json::Count;
use crate::usage::{Usage, UsageError, UsageFormat};

/// The format rig's counters mirror, named in errors.
const FORMAT: UsageFormat = UsageFormat::OpenAiResponses;

/// rig's usage, by the rules of [`Usage::from_openai_responses`], at the
/// standard tier (feature `rig`).
impl TryFrom<&RigUsage> for Usage {
    type Error = UsageError;

    /// Normalises rig's usage: cache reads and writes leave `input_tokens`
    /// (hosted-tool prompt tokens stay input), reasoning leaves
    /// `output_tokens`; a counter rig did not get, a part above its
    /// counter or a total that is not their sum is a [`UsageError`].
    fn try_from(usage: &RigUsage) -> Result<Usage, UsageError> {
        let input = required("input_tokens", usage.input_tokens)?;
        let cached = optional("cached_input_tokens", usage.cached_input_tokens);
        let written = optional(
            "cache_creation_input_tokens",
            usage.cache_creation_input_tokens,
        );
        let hosted = optional("tool_use_prompt_tokens", usage.tool_use_prompt_tokens);
        let output = required("output_tokens", usage.output_tokens)?;
        let reasoning = optional("reasoning_tokens", usage.reasoning_tokens);

        // Every part must fit inside the input together, hosted-tool prompt
        // included, though that part stays at the input rate.
        input.without(&[&cached, &written, &hosted], FORMAT)?;
        let input_tokens = input.without(&[&cached, &written], FORMAT)?.tokens;
        let output_tokens = output.without(&[&reasoning], FORMAT)?.tokens;
        if let Some(total) = usage.total_tokens {
            count("total_tokens", total).check_total(&[&input, &output], FORMAT)?;
        }
        Ok(Usage {
            input_tokens,
            cache_read_tokens: cached.tokens,
            cache_write_tokens: written.tokens,
            output_tokens,
            reasoning_tokens: reasoning.tokens,
            ..Usage::default()
        })
    }
}

/// A rig counter at its path in rig's serialised usage.
fn count(field: &'static str, tokens: u64) -> Count {
    Count {
        path: FieldPath::usage(field),
        tokens,
    }
}

/// A counter the provider always reports: `None` is an error, not a zero.
fn required(field: &'static str, tokens: Option<u64>) -> Result<Count, UsageError> {
    tokens
        .map(|tokens| count(field, tokens))
        .ok_or_else(|| UsageError::MissingField {
            format: FORMAT,
            path: format!("usage.{field}"),
        })
}

/// A part that is zero when the provider did not report it.
fn optional(field: &'static str, tokens: Option<u64>) -> Count {
    count(field, tokens.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(input: u64, output: u64) -> RigUsage {
        RigUsage::new().input_tokens(input).output_tokens(output)
    }

    #[test]
    fn cache_reads_and_writes_leave_the_input_and_reasoning_the_output() {
        let usage = reported(1_000, 200)
            .cached_input_tokens(600)
            .cache_creation_input_tokens(100)
            .tool_use_prompt_tokens(50)
            .reasoning_tokens(150)
            .total_tokens(1_200);
        let normalised = Usage::try_from(&usage).unwrap();
        assert_eq!(
            normalised,
            Usage {
                input_tokens: 300,
                cache_read_tokens: 600,
                cache_write_tokens: 100,
                output_tokens: 50,
                reasoning_tokens: 150,
                ..Usage::default()
            }
        );
        assert_eq!(normalised.total_tokens(), 1_200);
    }

    #[test]
    fn a_counter_rig_did_not_get_is_an_error_not_a_zero() {
        let usage = RigUsage::new().output_tokens(5);
        assert_eq!(
            Usage::try_from(&usage),
            Err(UsageError::MissingField {
                format: FORMAT,
                path: "usage.input_tokens".into(),
            })
        );
        assert!(matches!(
            Usage::try_from(&RigUsage::new().input_tokens(5)),
            Err(UsageError::MissingField { path, .. }) if path == "usage.output_tokens"
        ));
    }

    #[test]
    fn parts_larger_than_their_counter_are_refused() {
        let cached = reported(100, 10)
            .cached_input_tokens(80)
            .cache_creation_input_tokens(30);
        assert!(matches!(
            Usage::try_from(&cached),
            Err(UsageError::DetailExceedsParent { parent, detail_tokens: 110, .. })
                if parent == "usage.input_tokens"
        ));
        let hosted = reported(100, 10)
            .cached_input_tokens(80)
            .tool_use_prompt_tokens(30);
        assert!(matches!(
            Usage::try_from(&hosted),
            Err(UsageError::DetailExceedsParent { .. })
        ));
        let reasoning = reported(100, 10).reasoning_tokens(11);
        assert!(matches!(
            Usage::try_from(&reasoning),
            Err(UsageError::DetailExceedsParent { parent, .. }) if parent == "usage.output_tokens"
        ));
    }

    #[test]
    fn a_total_that_is_not_the_sum_is_refused() {
        let usage = reported(100, 10).total_tokens(111);
        assert!(matches!(
            Usage::try_from(&usage),
            Err(UsageError::InconsistentTotal {
                reported: 111,
                sum: 110,
                ..
            })
        ));
        let huge = reported(u64::MAX, u64::MAX).total_tokens(u64::MAX);
        assert!(matches!(
            Usage::try_from(&huge),
            Err(UsageError::InconsistentTotal { .. })
        ));
    }
}
