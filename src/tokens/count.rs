//! A token count, and how far it can be trusted.

use std::fmt;
use std::ops::AddAssign;

/// How many input tokens a request will be billed for, and whether that number
/// is exact.
///
/// ```
/// use spendguard::tokens::{count_text, Exactness};
///
/// let openai = count_text("gpt-4o", "hello world");
/// assert_eq!(openai.tokens, 2);
/// assert_eq!(openai.exactness, Exactness::Exact);
///
/// // Claude's tokenizer is not public: o200k_base's 2 tokens plus 25%,
/// // rounded up.
/// let claude = count_text("claude-sonnet-4-5", "hello world");
/// assert_eq!(claude.tokens, 3);
/// assert_eq!(claude.exactness, Exactness::Estimate { margin_percent: 25 });
/// assert_eq!(claude.to_string(), "~3 tokens (estimate, margin 25%)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenCount {
    /// The number of tokens, any safety margin already included.
    pub tokens: u64,
    /// Whether `tokens` is what the provider will bill.
    pub exactness: Exactness,
}

impl TokenCount {
    /// `true` when the count is what the provider will bill.
    pub const fn is_exact(&self) -> bool {
        matches!(self.exactness, Exactness::Exact)
    }
}

impl fmt::Display for TokenCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.exactness {
            Exactness::Exact => write!(f, "{} tokens", self.tokens),
            Exactness::Estimate { margin_percent } => write!(
                f,
                "~{} tokens (estimate, margin {margin_percent}%)",
                self.tokens
            ),
        }
    }
}

/// Whether a [`TokenCount`] is exact or an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exactness {
    /// Counted with the model's own tokenizer and OpenAI's published message
    /// framing: the number the provider reports as prompt tokens.
    Exact,
    /// Not exact, for one of two reasons.
    ///
    /// - The model's tokenizer is not available (Claude, Gemini, open-weight
    ///   models): the text was counted with o200k_base and `margin_percent`
    ///   percent was added on top.
    /// - The model's tokenizer was used, but part of the request has no
    ///   published counting rule (an image, a tool call in the history, a
    ///   nested tool schema) and was counted by a fixed rule that leans high.
    ///   `margin_percent` is then 0.
    Estimate {
        /// The safety margin included in the count, in percent.
        margin_percent: u32,
    },
}

/// A count before any safety margin: what the tokenizer and framing rules
/// produced, and whether every piece was counted by a published rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawCount {
    /// Tokens counted so far.
    pub(crate) tokens: u64,
    /// `false` once any piece was counted by a fixed estimate.
    pub(crate) exact: bool,
}

impl RawCount {
    /// Nothing counted yet.
    pub(crate) const ZERO: RawCount = RawCount::exact(0);

    /// Tokens counted by a published rule.
    pub(crate) const fn exact(tokens: u64) -> Self {
        RawCount {
            tokens,
            exact: true,
        }
    }

    /// Tokens counted by a fixed estimate.
    pub(crate) const fn estimated(tokens: u64) -> Self {
        RawCount {
            tokens,
            exact: false,
        }
    }
}

impl AddAssign for RawCount {
    /// Saturating: a count that overflows `u64` is over every budget anyway.
    fn add_assign(&mut self, other: RawCount) {
        self.tokens = self.tokens.saturating_add(other.tokens);
        self.exact = self.exact && other.exact;
    }
}

impl AddAssign<u64> for RawCount {
    /// Adds tokens counted by a published rule.
    fn add_assign(&mut self, tokens: u64) {
        *self += RawCount::exact(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_estimated_piece_makes_the_whole_an_estimate() {
        let mut count = RawCount::ZERO;
        count += 5;
        assert_eq!(count, RawCount::exact(5));
        count += RawCount::estimated(10);
        count += 1;
        assert_eq!(count, RawCount::estimated(16));
    }

    #[test]
    fn sums_saturate() {
        let mut count = RawCount::exact(u64::MAX);
        count += 1;
        assert_eq!(count.tokens, u64::MAX);
    }

    #[test]
    fn display() {
        let exact = TokenCount {
            tokens: 12,
            exactness: Exactness::Exact,
        };
        assert_eq!(exact.to_string(), "12 tokens");
        assert!(exact.is_exact());
        let image = TokenCount {
            tokens: 1_612,
            exactness: Exactness::Estimate { margin_percent: 0 },
        };
        assert_eq!(image.to_string(), "~1612 tokens (estimate, margin 0%)");
        assert!(!image.is_exact());
    }
}
