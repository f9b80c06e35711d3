//! [`TokenBound`]: at least as many tokens as a text holds, known from its
//! length alone.

use serde_json::Value;

use super::chat_input::ChatInput;
use super::count::{RawCount, TokenCount};
use super::counter::TokenCounter;
use super::measure::Measure;
use super::message::{Message, REPLY_PRIMER_TOKENS};
use super::request::read_body;
use super::shape::RequestShapeError;
use super::tokenizer::Tokenizer;
use super::tool::{raw_count_of_tools, Tool};

/// An upper bound on the tokens of some text, known without tokenizing it.
///
/// Every token of a byte-level BPE encoding (o200k_base, cl100k_base: the
/// encodings spendguard counts with) stands for at least one byte of UTF-8,
/// so text of `n` bytes is at most `n` tokens, whatever it says: ASCII,
/// accents, CJK or emoji. Models whose tokenizer is not public are counted
/// with o200k_base and their family's margin added, rounded up; the margin
/// only grows with the count, so the bound with the same margin added is at
/// least that count too.
///
/// Tokenizing costs far more than measuring, so a caller that only needs to
/// know that text stays under a limit asks the bound first and tokenizes
/// only when the bound no longer proves it. A whole prompt's bound
/// ([`TokenBound::of_chat`]) adds the same message, tool and reply
/// framing a count adds, each text taken at its length: every sum of
/// framing and text stays at least the count.
///
/// ```
/// use spendguard::tokens::{count_text, TokenBound, TokenCounter};
///
/// let text = "Ünïcödé, 東京 and 🦀 cost more bytes than tokens.";
/// let bound = TokenBound::of_text(text);
/// assert_eq!(bound.raw(), text.len() as u64);
/// for model in ["gpt-4o", "gpt-4", "claude-sonnet-4-5", "gemini-2.5-pro"] {
///     let counted = count_text(model, text).tokens;
///     assert!(bound.billable(&TokenCounter::new(), model) >= counted);
/// }
/// // Far under a 4,096-token limit: no need to tokenize.
/// assert!(bound.proves_at_most(&TokenCounter::new(), "gpt-4o", 4_096));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenBound {
    bytes: u64,
}

impl TokenBound {
    /// The bound of no text.
    pub const ZERO: TokenBound = TokenBound { bytes: 0 };

    /// The bound of `text`.
    pub const fn of_text(text: &str) -> Self {
        TokenBound {
            bytes: text.len() as u64,
        }
    }

    /// At least what `counter` counts for `model` with
    /// [`count_chat`](TokenCounter::count_chat), found without tokenizing
    /// (nothing is loaded): the same framing, each text taken at its length
    /// in bytes.
    ///
    /// ```
    /// use spendguard::tokens::{Message, TokenBound, TokenCounter};
    ///
    /// let counter = TokenCounter::new();
    /// let messages = [Message::system("Be terse."), Message::user("Wie spät ist es? 🕰️")];
    /// for model in ["gpt-4o", "gpt-4", "claude-sonnet-4-5", "gemini-2.5-pro"] {
    ///     let bound = TokenBound::of_chat(&counter, model, &messages, &[]);
    ///     let counted = counter.count_chat(model, &messages, &[]);
    ///     assert!(bound.billable(&counter, model) >= counted.tokens);
    /// }
    /// ```
    pub fn of_chat(
        counter: &TokenCounter,
        model: &str,
        messages: &[Message],
        tools: &[Tool],
    ) -> TokenBound {
        let (_, raw) = raw_bound(counter, model, messages, tools);
        TokenBound::of_bytes(raw.tokens)
    }

    /// [`of_chat`](Self::of_chat) for a request body, read as
    /// [`TokenCounter::count_request`] reads it.
    ///
    /// # Errors
    /// As [`TokenCounter::count_request`].
    pub fn of_request(
        counter: &TokenCounter,
        model: &str,
        body: &Value,
    ) -> Result<TokenBound, RequestShapeError> {
        let input = read_body(body)?;
        Ok(TokenBound::of_chat(
            counter,
            model,
            &input.messages,
            &input.tools,
        ))
    }

    /// The bound of an input already read, as a count to reserve: the
    /// family's margin added for a model whose tokenizer is not public, and
    /// marked exact or estimated as its exact count will be (so that the
    /// calibration knows, without counting, whether it has anything to
    /// learn from the call).
    pub(crate) fn reserve_count(
        counter: &TokenCounter,
        model: &str,
        input: &ChatInput,
    ) -> TokenCount {
        let (tokenizer, raw) = raw_bound(counter, model, &input.messages, &input.tools);
        counter.finish(tokenizer, raw)
    }

    /// The bound of text `bytes` bytes long.
    pub const fn of_bytes(bytes: u64) -> Self {
        TokenBound { bytes }
    }

    /// This bound and `text`'s together.
    pub const fn plus_text(self, text: &str) -> Self {
        self.plus(TokenBound::of_text(text))
    }

    /// Two bounds together: a text counted in pieces counts at most the sum.
    pub const fn plus(self, other: TokenBound) -> Self {
        TokenBound {
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }

    /// At least the text's count in any byte-level BPE encoding, before any
    /// margin.
    pub const fn raw(self) -> u64 {
        self.bytes
    }

    /// At least what `counter` counts the text at for `model`: its
    /// encoding's count, plus the family's margin for a model whose
    /// tokenizer is not public.
    pub fn billable(self, counter: &TokenCounter, model: &str) -> u64 {
        self.billable_with(counter, Tokenizer::for_model(model))
    }

    /// `true` when the bound alone shows the text is at most `limit` tokens
    /// for `model`; `false` means only a count can tell.
    pub fn proves_at_most(self, counter: &TokenCounter, model: &str, limit: u64) -> bool {
        self.billable(counter, model) <= limit
    }

    /// [`billable`](Self::billable) for a model already resolved to how it
    /// is counted.
    pub(crate) fn billable_with(self, counter: &TokenCounter, tokenizer: Tokenizer) -> u64 {
        counter
            .finish(tokenizer, RawCount::exact(self.bytes))
            .tokens
    }
}

/// The raw bound of a chat, and how its model is counted. Whether it is
/// exact is decided by what the chat holds (images, tool calls, an
/// estimated family), never by how text is measured, so the flag is the
/// exact count's.
fn raw_bound(
    counter: &TokenCounter,
    model: &str,
    messages: &[Message],
    tools: &[Tool],
) -> (Tokenizer, RawCount) {
    let tokenizer = Tokenizer::for_model(model);
    let measure = Measure::Bytes(tokenizer.encoding());
    let mut raw = raw_count_of_tools(tools, tokenizer, measure);
    for message in messages {
        raw += message.raw_count(measure, counter.image_tokens());
    }
    raw += REPLY_PRIMER_TOKENS;
    (tokenizer, raw)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use serde_json::json;

    use super::*;
    use crate::tokens::{
        count_text, ChatInput, CountCache, EstimatedFamily, Message, Part, Tool, MAX_MARGIN_PERCENT,
    };

    const MODELS: [&str; 6] = [
        "gpt-4o",
        "gpt-4",
        "o3-mini",
        "claude-sonnet-4-5",
        "gemini-2.5-pro",
        "mistral-large-latest",
    ];

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-z ]{0,200}",
            "[\\u{0}-\\u{7f}]{0,200}",
            "[é東京🦀🧑‍🚀👍🏽\u{200d}\u{fe0f} a]{0,120}",
            proptest::collection::vec(any::<char>(), 0..80)
                .prop_map(|chars| chars.into_iter().collect()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn the_bound_never_counts_fewer_tokens_than_the_counter(text in text()) {
            let bound = TokenBound::of_text(&text);
            let counter = TokenCounter::new();
            for model in MODELS {
                let counted = count_text(model, &text).tokens;
                prop_assert!(bound.billable(&counter, model) >= counted, "{model}: {text:?}");
            }
        }

        #[test]
        fn pieces_bound_their_whole(a in text(), b in text()) {
            let whole = format!("{a}{b}");
            let pieces = TokenBound::of_text(&a).plus_text(&b);
            prop_assert_eq!(pieces, TokenBound::of_text(&whole));
            prop_assert!(pieces.raw() >= count_text("gpt-4o", &a).tokens
                + count_text("gpt-4o", &b).tokens);
        }
    }

    fn message() -> impl Strategy<Value = Message> {
        let part = prop_oneof![
            4 => text().prop_map(Part::Text),
            1 => Just(Part::Image),
            1 => (text(), text()).prop_map(|(name, arguments)| Part::ToolCall { name, arguments }),
        ];
        (
            prop_oneof![Just("user".to_owned()), Just("system".to_owned()), text()],
            proptest::option::of(text()),
            proptest::collection::vec(part, 0..4),
        )
            .prop_map(|(role, name, parts)| {
                let message = Message::from_parts(role, parts);
                match name {
                    Some(name) => message.with_name(name),
                    None => message,
                }
            })
    }

    /// A tool with parameters, enums and a nested schema, all of its text
    /// arbitrary.
    fn tool() -> impl Strategy<Value = Tool> {
        (text(), text(), text(), proptest::collection::vec(text(), 0..4), text()).prop_map(
            |(name, description, parameter, values, nested)| {
                let name = if name.is_empty() { "t".to_owned() } else { name };
                Tool::from_json(&json!({
                    "type": "function",
                    "function": {
                        "name": name,
                        "description": description,
                        "parameters": {"type": "object", "properties": {
                            parameter: {"type": "string", "description": nested.clone(), "enum": values},
                            "nested": {"type": "object", "properties": {"x": {"description": nested}}}
                        }}
                    }
                }))
                .unwrap()
            },
        )
    }

    fn counter() -> impl Strategy<Value = TokenCounter> {
        (
            0u32..=MAX_MARGIN_PERCENT,
            0u32..=MAX_MARGIN_PERCENT,
            0u32..=MAX_MARGIN_PERCENT,
            0u64..5_000,
        )
            .prop_map(|(anthropic, gemini, other, image_tokens)| {
                TokenCounter::new()
                    .with_margin_percent(EstimatedFamily::Anthropic, anthropic)
                    .and_then(|c| c.with_margin_percent(EstimatedFamily::Gemini, gemini))
                    .and_then(|c| c.with_margin_percent(EstimatedFamily::Other, other))
                    .unwrap()
                    .with_image_tokens(image_tokens)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Every encoding (o200k, cl100k), every framing (messages, names,
        /// images, tool calls, OpenAI's tool rule and the full-text rule of
        /// the estimated families, Claude's tool prompt) and every margin:
        /// the bound is never below the count, and is marked as it is.
        #[test]
        fn a_chat_bound_never_reserves_fewer_tokens_than_the_count(
            messages in proptest::collection::vec(message(), 0..4),
            tools in proptest::collection::vec(tool(), 0..2),
            counter in counter(),
        ) {
            for model in MODELS {
                let counted = counter.count_chat(model, &messages, &tools);
                let bound = TokenBound::of_chat(&counter, model, &messages, &tools);
                prop_assert!(bound.billable(&counter, model) >= counted.tokens, "{model}");
                let input = ChatInput { messages: messages.clone(), tools: tools.clone() };
                let reserved = TokenBound::reserve_count(&counter, model, &input);
                prop_assert!(reserved.tokens >= counted.tokens, "{model}");
                prop_assert_eq!(reserved.exactness, counted.exactness, "{}", model);
                prop_assert_eq!(counter.count_input(model, &input, &CountCache::new()), counted);
            }
        }
    }

    #[test]
    fn margins_are_added_to_the_bound_as_to_a_count() {
        let counter = TokenCounter::new();
        let bound = TokenBound::of_bytes(100);
        assert_eq!(bound.billable(&counter, "gpt-4o"), 100);
        assert_eq!(bound.billable(&counter, "claude-sonnet-4-5"), 125);
        assert_eq!(bound.billable(&counter, "gemini-2.5-pro"), 115);
        assert!(bound.proves_at_most(&counter, "claude-sonnet-4-5", 125));
        assert!(!bound.proves_at_most(&counter, "claude-sonnet-4-5", 124));
        assert_eq!(
            TokenBound::of_bytes(u64::MAX).plus_text("x").raw(),
            u64::MAX
        );
    }
}
