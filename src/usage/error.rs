//! Why a provider's usage report could not be turned into a [`Usage`].
//!
//! [`Usage`]: crate::usage::Usage

use std::fmt;

use crate::usage::{CostProblem, UsageFormat};

/// Why a provider's usage report could not be normalised.
///
/// Every variant names the [`UsageFormat`] that was being read and the path
/// of the offending JSON field (`usage.prompt_tokens_details.cached_tokens`,
/// `usageMetadata.promptTokensDetails[1].tokenCount`), so the report can be
/// found in a log and the provider, proxy or caller that produced it fixed.
/// Nothing is ever read as a silent zero: a zero that was not reported would
/// be spend that was never recorded.
///
/// ```
/// use serde_json::json;
/// use spendguard::Usage;
/// use spendguard::usage::UsageError;
///
/// let body = json!({ "usage": { "prompt_tokens": 10, "completion_tokens": "12" } });
/// let err = Usage::from_openai_chat(&body).unwrap_err();
/// assert!(matches!(err, UsageError::InvalidCounter { .. }));
/// assert!(err.to_string().contains("usage.completion_tokens"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The response has no usage object where the format puts one (absent or
    /// `null`).
    #[error(
        "{format} response has no usage at `{path}`: the call may have failed, \
         or a streamed response was read from a chunk before the last one"
    )]
    MissingUsage {
        /// The format being read.
        format: UsageFormat,
        /// Where the usage object should have been.
        path: String,
    },
    /// A field the format always reports is absent or `null`.
    #[error("{format} response has no `{path}`, which is needed to count the call's tokens")]
    MissingField {
        /// The format being read.
        format: UsageFormat,
        /// The missing field.
        path: String,
    },
    /// A token counter is not a whole number between 0 and `u64::MAX`.
    #[error(
        "{format} token counter `{path}` {problem} (got {value}); \
         a token count must be a whole number from 0 to {max}",
        max = u64::MAX
    )]
    InvalidCounter {
        /// The format being read.
        format: UsageFormat,
        /// The counter.
        path: String,
        /// What is wrong with it.
        problem: CounterProblem,
        /// The value as the provider sent it, in JSON.
        value: String,
    },
    /// A cost the provider reported (xAI's `cost_in_usd_ticks`,
    /// OpenRouter's `cost`, Perplexity's `cost.total_cost`) is not a
    /// non-negative amount of US dollars.
    #[error(
        "{format} reported cost `{path}` {problem} (got {value}); \
         a reported cost must be a non-negative amount of US dollars"
    )]
    InvalidCost {
        /// The format being read.
        format: UsageFormat,
        /// The field.
        path: String,
        /// What is wrong with it.
        problem: CostProblem,
        /// The value as the provider sent it, in JSON.
        value: String,
    },
    /// A field that must be an object, array or string is something else.
    #[error("{format} field `{path}` should be {expected}, but is {found}")]
    WrongType {
        /// The format being read.
        format: UsageFormat,
        /// The field.
        path: String,
        /// What the field should be ("an object", "a string", ...).
        expected: &'static str,
        /// What it is ("a number", "an array", ...).
        found: &'static str,
    },
    /// A breakdown counts more tokens than the counter it breaks down, such
    /// as `cached_tokens` above `prompt_tokens`.
    #[error(
        "{format} usage is inconsistent: `{detail}` ({detail_tokens}) is more than \
         `{parent}` ({parent_tokens}), which it is part of"
    )]
    DetailExceedsParent {
        /// The format being read.
        format: UsageFormat,
        /// The detail counter, or several joined with ` + `.
        detail: String,
        /// The tokens the detail counts (saturating at `u64::MAX`).
        detail_tokens: u64,
        /// The counter that should contain it.
        parent: String,
        /// The tokens that counter reports.
        parent_tokens: u64,
    },
    /// A reported total is not the sum of the counters it totals.
    #[error(
        "{format} usage does not add up: `{total}` is {reported}, \
         but `{parts}` is {sum}"
    )]
    InconsistentTotal {
        /// The format being read.
        format: UsageFormat,
        /// The total counter.
        total: String,
        /// What the total says.
        reported: u64,
        /// The counters that should add up to it, joined with ` + `.
        parts: String,
        /// What they add up to (saturating at `u64::MAX`).
        sum: u64,
    },
    /// A Chat Completions or Responses total that fits neither way of
    /// counting reasoning: inside the output counter (OpenAI) or beside it
    /// (xAI).
    #[error(
        "{format} usage does not add up: `{total}` is {reported}, but `{parts}` is {inside} \
         (reasoning counted inside the output, as OpenAI does) and with `{reasoning}` it is \
         {beside} (reasoning beside the output, as xAI does)"
    )]
    TotalFitsNeitherConvention {
        /// The format being read.
        format: UsageFormat,
        /// The total counter.
        total: String,
        /// What the total says.
        reported: u64,
        /// The prompt and output counters, joined with ` + `.
        parts: String,
        /// What they add up to (saturating at `u64::MAX`).
        inside: u64,
        /// The reasoning counter.
        reasoning: String,
        /// What they add up to with the reasoning (saturating at `u64::MAX`).
        beside: u64,
    },
    /// OpenAI's `cached_tokens` and DeepSeek's `prompt_cache_hit_tokens`,
    /// which count the same cache hits, disagree.
    #[error(
        "{format} usage is inconsistent: `{cached}` is {cached_tokens} but `{hit}` is \
         {hit_tokens}, and both count the prompt's cache hits"
    )]
    CacheCountsDisagree {
        /// The format being read.
        format: UsageFormat,
        /// OpenAI's counter.
        cached: String,
        /// What it says.
        cached_tokens: u64,
        /// DeepSeek's counter.
        hit: String,
        /// What it says.
        hit_tokens: u64,
    },
    /// The provider reported a service tier spendguard cannot price.
    #[error(
        "{format} reported service tier {name:?} at `{path}`, which spendguard cannot price; \
         record the call with an explicit tier rather than guessing the standard price"
    )]
    UnknownServiceTier {
        /// The format being read.
        format: UsageFormat,
        /// Where the tier was reported.
        path: String,
        /// The tier name as reported.
        name: String,
    },
    /// A cumulative streaming counter went down between two events.
    #[error(
        "{format} stream counter `{path}` went down from {before} to {after}; \
         streamed counts are cumulative, so the events are out of order or from two streams"
    )]
    CounterDecreased {
        /// The format being read.
        format: UsageFormat,
        /// The counter.
        path: String,
        /// The count seen earlier in the stream.
        before: u64,
        /// The smaller count seen later.
        after: u64,
    },
    /// A streaming event arrived where the stream's order does not allow it.
    #[error("{format} stream sent a `{event}` event {problem}; feed one stream's events in order")]
    UnexpectedEvent {
        /// The format being read.
        format: UsageFormat,
        /// The event type.
        event: String,
        /// Why it cannot be accepted here.
        problem: &'static str,
    },
}

/// What is wrong with a token counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CounterProblem {
    /// Below zero.
    Negative,
    /// A number with a fractional part, or written as a decimal (`12.0`).
    NotAnInteger,
    /// A whole number larger than `u64::MAX`.
    TooLarge,
    /// A string, boolean, array or object.
    NotANumber,
}

impl fmt::Display for CounterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CounterProblem::Negative => "is negative",
            CounterProblem::NotAnInteger => "is not an integer",
            CounterProblem::TooLarge => "is larger than u64::MAX",
            CounterProblem::NotANumber => "is not a number",
        })
    }
}
