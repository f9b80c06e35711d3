//! OpenAI's byte-pair encodings, and which model uses which.

use std::fmt;

use tiktoken_rs::CoreBPE;

use super::model_id::bare_model_name;

/// One of OpenAI's tokenizers.
///
/// Each is loaded on first use and then shared by the whole process: the
/// o200k table is a few megabytes and takes a noticeable fraction of a second
/// to build, so it is never built twice.
///
/// ```
/// use spendguard::tokens::Encoding;
///
/// assert_eq!(Encoding::for_model("gpt-4o-2024-08-06"), Some(Encoding::O200kBase));
/// assert_eq!(Encoding::for_model("azure/gpt-4"), Some(Encoding::Cl100kBase));
/// assert_eq!(Encoding::for_model("claude-sonnet-4-5"), None);
/// assert_eq!(Encoding::O200kBase.count("hello world"), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// The tokenizer of GPT-4o and later: GPT-4.1, GPT-4.5, GPT-5, the o-series,
    /// gpt-oss and codex models. (gpt-oss's o200k_harmony only adds special
    /// tokens, so message text encodes the same.)
    O200kBase,
    /// The tokenizer of GPT-4 (not 4o), GPT-3.5 and the text-embedding models.
    Cl100kBase,
}

impl Encoding {
    /// The encoding an OpenAI model uses, or `None` when the model is not one
    /// of OpenAI's (its tokens can then only be estimated).
    ///
    /// Provider prefixes (`openai/`, `azure/`), dated snapshots
    /// (`gpt-4o-2024-08-06`) and fine-tunes (`ft:gpt-4o-mini:…`) are
    /// recognised. Azure deployments with custom names are not: pass the
    /// underlying model id.
    pub fn for_model(model: &str) -> Option<Encoding> {
        Self::for_bare_name(&bare_model_name(model))
    }

    /// As [`Encoding::for_model`], for a name already reduced by
    /// [`bare_model_name`].
    pub(crate) fn for_bare_name(name: &str) -> Option<Encoding> {
        // `o1` and friends are too short to match by prefix alone: `o1x` is
        // not an OpenAI model.
        let is_o_series = ["o1", "o3", "o4"].iter().any(|series| {
            name.strip_prefix(series)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        });
        let o200k_prefixes = [
            "gpt-4o",
            "gpt-4.1",
            "gpt-4.5",
            "gpt-5",
            "chatgpt-4o",
            "gpt-oss",
            "codex",
        ];
        if is_o_series || o200k_prefixes.iter().any(|p| name.starts_with(p)) {
            return Some(Encoding::O200kBase);
        }
        // `gpt-35-turbo` is Azure's spelling of `gpt-3.5-turbo`.
        let cl100k_prefixes = ["gpt-4-", "gpt-3.5", "gpt-35", "text-embedding-3-"];
        if name == "gpt-4"
            || name == "text-embedding-ada-002"
            || cl100k_prefixes.iter().any(|p| name.starts_with(p))
        {
            return Some(Encoding::Cl100kBase);
        }
        None
    }

    /// The number of tokens `text` encodes to.
    ///
    /// Special-token markers such as `<|endoftext|>` are counted as the plain
    /// text they are: OpenAI's API never lets message content produce special
    /// tokens, and reading them as text can only give more tokens, never fewer.
    pub fn count(self, text: &str) -> u64 {
        if text.is_empty() {
            return 0;
        }
        self.bpe().encode_ordinary(text).len() as u64
    }

    /// Builds this encoding's tables now rather than on its first count
    /// (o200k_base takes about a quarter of a second and 36 MB, cl100k_base
    /// a little less), for a process that prefers a predictable first call.
    /// Building twice builds once.
    ///
    /// ```
    /// use spendguard::tokens::Encoding;
    ///
    /// Encoding::O200kBase.warm();
    /// assert_eq!(Encoding::O200kBase.count("hello world"), 2);
    /// ```
    pub fn warm(self) {
        self.bpe();
    }

    /// The encoding's name as OpenAI's `tiktoken` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }

    /// The shared tokenizer, built on first use.
    fn bpe(self) -> &'static CoreBPE {
        match self {
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Encoding::{self, Cl100kBase, O200kBase};

    #[test]
    fn openai_models_map_to_their_encoding() {
        let o200k = [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4o-2024-08-06",
            "chatgpt-4o-latest",
            "gpt-4.1-nano",
            "gpt-4.5-preview",
            "gpt-5",
            "gpt-5.1-codex-max",
            "o1",
            "o1-preview",
            "o3-mini-2025-01-31",
            "o4-mini",
            "gpt-oss-120b",
            "codex-mini-latest",
            "openai/gpt-4o",
            "azure/gpt-4o",
            "ft:gpt-4o-mini-2024-07-18:acme::x1",
        ];
        for model in o200k {
            assert_eq!(Encoding::for_model(model), Some(O200kBase), "{model}");
        }
        let cl100k = [
            "gpt-4",
            "gpt-4-0613",
            "gpt-4-turbo",
            "gpt-4-32k",
            "gpt-3.5-turbo",
            "gpt-3.5-turbo-0125",
            "azure/gpt-35-turbo",
            "text-embedding-3-small",
            "text-embedding-3-large",
            "text-embedding-ada-002",
        ];
        for model in cl100k {
            assert_eq!(Encoding::for_model(model), Some(Cl100kBase), "{model}");
        }
        let others = [
            "claude-sonnet-4-5",
            "gemini-2.5-pro",
            "mistral-large-latest",
            "llama-3.1-70b",
            "o1x",
            "gpt-6",
            "",
        ];
        for model in others {
            assert_eq!(Encoding::for_model(model), None, "{model}");
        }
    }

    #[test]
    fn known_counts() {
        assert_eq!(O200kBase.count("hello world"), 2);
        assert_eq!(Cl100kBase.count("hello world"), 2);
        assert_eq!(O200kBase.count(""), 0);
    }

    #[test]
    fn special_token_markers_count_as_text() {
        // One token if it were read as the special token; seven as text.
        assert_eq!(O200kBase.count("<|endoftext|>"), 7);
    }

    #[test]
    fn the_two_encodings_split_text_differently() {
        // o200k_base has whole-word entries for many non-English words.
        assert_eq!(O200kBase.count("Здравствуйте"), 1);
        assert_eq!(Cl100kBase.count("Здравствуйте"), 6);
        assert_eq!(O200kBase.count("東京の天気は晴れです。"), 9);
        assert_eq!(Cl100kBase.count("東京の天気は晴れです。"), 12);
    }

    #[test]
    fn names() {
        assert_eq!(O200kBase.to_string(), "o200k_base");
        assert_eq!(Cl100kBase.name(), "cl100k_base");
    }
}
