//! Estimates for models whose tokenizer spendguard does not have: which family
//! a model belongs to, and how much safety margin its estimate gets.

use std::fmt;

/// The largest safety margin accepted, in percent.
///
/// Tokenizers of current models disagree by tens of percent on the same text,
/// not by multiples; a larger margin is almost certainly a typo (`2500` for
/// `25`).
pub const MAX_MARGIN_PERCENT: u32 = 1_000;

/// A family of models whose tokens are estimated rather than counted.
///
/// Anthropic, Google and most open-weight models do not publish a tokenizer
/// that can run offline, so their input is counted with OpenAI's o200k_base
/// and a safety margin is added on top. Each family has its own margin because
/// each tokenizer strays from o200k_base by a different amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EstimatedFamily {
    /// Claude models (any id containing `claude`, including Bedrock's
    /// `anthropic.claude-…` and Vertex ids).
    Anthropic,
    /// Gemini models, and Gemma, which shares Gemini's tokenizer.
    Gemini,
    /// Everything else: Mistral, Llama, DeepSeek, Qwen, unknown ids.
    Other,
}

impl EstimatedFamily {
    /// The family of a model that has no OpenAI encoding, from its bare name.
    pub(crate) fn for_bare_name(name: &str) -> EstimatedFamily {
        if name.contains("claude") {
            EstimatedFamily::Anthropic
        } else if name.contains("gemini") || name.contains("gemma") {
            EstimatedFamily::Gemini
        } else {
            EstimatedFamily::Other
        }
    }

    /// The margin, in percent, added to this family's o200k_base count unless
    /// a [`TokenCounter`](super::TokenCounter) is told otherwise.
    ///
    /// - **Anthropic, 25%.** Claude models up to Opus 4.6 split English prose
    ///   into about as many tokens as o200k_base and code into somewhat more.
    ///   The tokenizer introduced with Claude Opus 4.7 produces, by
    ///   Anthropic's own figure, up to 35% more tokens than its predecessor
    ///   (independent measurements: 1.2 to 1.5 times as many on English and
    ///   code, about the same on CJK text and numbers). 25% covers the older
    ///   models with room; for Opus 4.7 and later it is a middle value, and
    ///   traffic that is mostly English or code can need 40–50%.
    /// - **Gemini, 15%.** Gemini's SentencePiece vocabulary (256k entries) is
    ///   even larger than o200k_base's, so its counts land close on English
    ///   and somewhat higher on code and markup.
    /// - **Other, 25%.** Llama 3 and recent Mistral models use tiktoken-style
    ///   vocabularies of 128k–131k entries, a little less efficient than
    ///   o200k_base; older 32k SentencePiece vocabularies (Mistral 7B,
    ///   Llama 2) need more, and an unknown model gets the cautious value.
    ///
    /// An estimate that comes out high only reserves budget that is returned
    /// when the call settles; one that comes out low lets a call through that
    /// the budget should have stopped. The defaults lean high for that reason.
    ///
    /// ```
    /// use spendguard::tokens::EstimatedFamily;
    ///
    /// assert_eq!(EstimatedFamily::Anthropic.default_margin_percent(), 25);
    /// assert_eq!(EstimatedFamily::Gemini.default_margin_percent(), 15);
    /// assert_eq!(EstimatedFamily::Other.default_margin_percent(), 25);
    /// ```
    pub const fn default_margin_percent(self) -> u32 {
        match self {
            EstimatedFamily::Anthropic => 25,
            EstimatedFamily::Gemini => 15,
            EstimatedFamily::Other => 25,
        }
    }
}

impl fmt::Display for EstimatedFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EstimatedFamily::Anthropic => "Anthropic",
            EstimatedFamily::Gemini => "Gemini",
            EstimatedFamily::Other => "other",
        })
    }
}

/// Why a safety margin was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MarginError {
    /// The margin is above [`MAX_MARGIN_PERCENT`].
    #[error(
        "a {percent}% safety margin for {family} models is above the maximum of {max}%; \
         tokenizers differ by tens of percent, so choose a margin between 0 and {max}"
    )]
    TooLarge {
        /// The family the margin was for.
        family: EstimatedFamily,
        /// The margin as given, in percent.
        percent: u32,
        /// The largest accepted margin, in percent.
        max: u32,
    },
}

/// `tokens` plus `percent` percent, rounded up so that a margin never
/// vanishes on a small count.
pub(crate) fn add_margin(tokens: u64, percent: u32) -> u64 {
    let scaled = u128::from(tokens) * (100 + u128::from(percent));
    u64::try_from(scaled.div_ceil(100)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_recognised_by_name() {
        let cases = [
            ("claude-sonnet-4-5-20250929", EstimatedFamily::Anthropic),
            (
                "us.anthropic.claude-3-5-haiku-20241022-v1",
                EstimatedFamily::Anthropic,
            ),
            ("gemini-2.5-flash", EstimatedFamily::Gemini),
            ("gemma-3-27b-it", EstimatedFamily::Gemini),
            ("mistral-large-latest", EstimatedFamily::Other),
            ("", EstimatedFamily::Other),
        ];
        for (name, family) in cases {
            assert_eq!(EstimatedFamily::for_bare_name(name), family, "{name}");
        }
    }

    #[test]
    fn margins_round_up() {
        assert_eq!(add_margin(0, 25), 0);
        assert_eq!(add_margin(1, 25), 2);
        assert_eq!(add_margin(4, 25), 5);
        assert_eq!(add_margin(100, 15), 115);
        assert_eq!(add_margin(101, 15), 117);
        assert_eq!(add_margin(7, 0), 7);
        assert_eq!(add_margin(u64::MAX, 1_000), u64::MAX);
    }

    #[test]
    fn margin_error_says_what_to_do() {
        let err = MarginError::TooLarge {
            family: EstimatedFamily::Anthropic,
            percent: 2_500,
            max: MAX_MARGIN_PERCENT,
        };
        assert_eq!(
            err.to_string(),
            "a 2500% safety margin for Anthropic models is above the maximum of 1000%; \
             tokenizers differ by tens of percent, so choose a margin between 0 and 1000"
        );
    }
}
