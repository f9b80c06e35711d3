//! [`Measure`]: how the text of a prompt is measured, tokenized or bounded
//! by its length, so that one set of framing rules serves both.

use super::encoding::Encoding;

/// How each piece of a prompt's text is measured. Framing tokens are the
/// same either way; only the text's own share differs, and the bound's is
/// never smaller (see [`TokenBound`](super::TokenBound)), so every sum of
/// framing and text measured by bytes is at least the same sum tokenized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    /// Tokenized with the encoding: an exact count.
    Tokens(Encoding),
    /// Bounded by UTF-8 length, with the framing of the encoding the text
    /// would be counted with: nothing is loaded.
    Bytes(Encoding),
}

impl Measure {
    /// The tokens of `text`, or the bound on them.
    pub(crate) fn count(self, text: &str) -> u64 {
        match self {
            Measure::Tokens(encoding) => encoding.count(text),
            Measure::Bytes(_) => text.len() as u64,
        }
    }

    /// The encoding whose framing rules apply.
    pub(crate) const fn encoding(self) -> Encoding {
        match self {
            Measure::Tokens(encoding) | Measure::Bytes(encoding) => encoding,
        }
    }
}
