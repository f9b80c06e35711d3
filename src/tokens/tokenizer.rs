//! How a model's tokens are counted: exactly, with its own encoding, or
//! estimated for its family.

use super::encoding::Encoding;
use super::estimate::EstimatedFamily;
use super::model_id::bare_model_name;

/// How a model's tokens are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tokenizer {
    /// With the model's own encoding: the count is exact.
    Exact(Encoding),
    /// With o200k_base plus the family's safety margin.
    Estimated(EstimatedFamily),
}

impl Tokenizer {
    /// How `model` is counted.
    pub(crate) fn for_model(model: &str) -> Tokenizer {
        let name = bare_model_name(model);
        match Encoding::for_bare_name(&name) {
            Some(encoding) => Tokenizer::Exact(encoding),
            None => Tokenizer::Estimated(EstimatedFamily::for_bare_name(&name)),
        }
    }

    /// The encoding text is run through: the model's own, or o200k_base,
    /// the closest stand-in for modern tokenizers with large vocabularies.
    pub(crate) fn encoding(self) -> Encoding {
        match self {
            Tokenizer::Exact(encoding) => encoding,
            Tokenizer::Estimated(_) => Encoding::O200kBase,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_resolve_to_a_way_of_counting() {
        assert_eq!(
            Tokenizer::for_model("openai/gpt-4o"),
            Tokenizer::Exact(Encoding::O200kBase)
        );
        assert_eq!(
            Tokenizer::for_model("claude-opus-4-1"),
            Tokenizer::Estimated(EstimatedFamily::Anthropic)
        );
        assert_eq!(
            Tokenizer::for_model("vertex_ai/gemini-2.5-pro"),
            Tokenizer::Estimated(EstimatedFamily::Gemini)
        );
        assert_eq!(
            Tokenizer::for_model("mistral/mistral-large-latest").encoding(),
            Encoding::O200kBase
        );
    }
}
