//! Counting a request's input tokens before it is sent.

use serde_json::Value;

use super::cache::CountCache;
use super::chat_input::ChatInput;
use super::count::{Exactness, RawCount, TokenCount};
use super::estimate::{add_margin, EstimatedFamily, MarginError, MAX_MARGIN_PERCENT};
use super::measure::Measure;
use super::message::{Message, REPLY_PRIMER_TOKENS};
use super::request::read_body;
use super::shape::RequestShapeError;
use super::tokenizer::Tokenizer;
use super::tool::{raw_count_of_tools, Tool};

/// Tokens assumed for each image, unless a [`TokenCounter`] is told otherwise.
///
/// Providers bill images by their pixel size, which a request body does not
/// state. 1,600 covers one high-detail image on OpenAI models billed by 512-px
/// tiles (at most 1,445 on gpt-4o) or by 32-px patches at full rate (at most
/// 1,536 on gpt-4.1), on Claude (about 1,600 after its automatic downscaling)
/// and on Gemini up to six 258-token tiles. Models that multiply image tokens
/// to keep their per-token price low bill many more: up to about 2,500 on
/// gpt-4.1-mini, 3,800 on gpt-4.1-nano and 48,000 on gpt-4o-mini. Raise it
/// with [`TokenCounter::with_image_tokens`] when budgeting images for those.
pub const DEFAULT_IMAGE_TOKENS: u64 = 1_600;

/// Counts input tokens: exactly for OpenAI models, with a safety margin for
/// everyone else.
///
/// The default is what most callers want; build one with other margins or
/// image sizes once and share it (it is `Copy`).
///
/// ```
/// use serde_json::json;
/// use spendguard::tokens::{EstimatedFamily, Exactness, TokenCounter};
///
/// let counter = TokenCounter::new().with_margin_percent(EstimatedFamily::Anthropic, 40)?;
/// let body = json!({
///     "model": "claude-opus-4-7",
///     "system": "You are terse.",
///     "messages": [{"role": "user", "content": "hello world"}]
/// });
/// let count = counter.count_request("claude-opus-4-7", &body)?;
/// assert_eq!(count.exactness, Exactness::Estimate { margin_percent: 40 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCounter {
    anthropic_margin_percent: u32,
    gemini_margin_percent: u32,
    other_margin_percent: u32,
    image_tokens: u64,
}

impl TokenCounter {
    /// A counter with the default margins
    /// ([`EstimatedFamily::default_margin_percent`]) and
    /// [`DEFAULT_IMAGE_TOKENS`] per image.
    pub const fn new() -> Self {
        TokenCounter {
            anthropic_margin_percent: EstimatedFamily::Anthropic.default_margin_percent(),
            gemini_margin_percent: EstimatedFamily::Gemini.default_margin_percent(),
            other_margin_percent: EstimatedFamily::Other.default_margin_percent(),
            image_tokens: DEFAULT_IMAGE_TOKENS,
        }
    }

    /// The same counter with another safety margin, in percent, for one
    /// family's estimates.
    ///
    /// # Errors
    /// [`MarginError::TooLarge`] above [`MAX_MARGIN_PERCENT`].
    pub fn with_margin_percent(
        mut self,
        family: EstimatedFamily,
        percent: u32,
    ) -> Result<Self, MarginError> {
        if percent > MAX_MARGIN_PERCENT {
            return Err(MarginError::TooLarge {
                family,
                percent,
                max: MAX_MARGIN_PERCENT,
            });
        }
        *self.margin_slot(family) = percent;
        Ok(self)
    }

    /// The same counter with another number of tokens assumed per image.
    pub const fn with_image_tokens(mut self, tokens: u64) -> Self {
        self.image_tokens = tokens;
        self
    }

    /// Builds the tokenizer `model` is counted with now rather than on its
    /// first exact count: a guarded call far from its limits needs none, so
    /// the first call that does (one near a limit, an estimated settlement)
    /// would otherwise pay for it.
    ///
    /// ```
    /// use spendguard::tokens::TokenCounter;
    ///
    /// let counter = TokenCounter::new();
    /// counter.warm("gpt-4o"); // o200k_base
    /// counter.warm("gpt-4"); // cl100k_base
    /// assert_eq!(counter.count_text("gpt-4", "hello world").tokens, 2);
    /// ```
    pub fn warm(&self, model: &str) {
        Tokenizer::for_model(model).encoding().warm();
    }

    /// The safety margin, in percent, this counter adds for `family`.
    pub const fn margin_percent(&self, family: EstimatedFamily) -> u32 {
        match family {
            EstimatedFamily::Anthropic => self.anthropic_margin_percent,
            EstimatedFamily::Gemini => self.gemini_margin_percent,
            EstimatedFamily::Other => self.other_margin_percent,
        }
    }

    /// Tokens assumed per image.
    pub const fn image_tokens(&self) -> u64 {
        self.image_tokens
    }

    /// The tokens of a bare piece of text, with no message framing: an
    /// embeddings input, a completion prompt, a document to be quoted.
    ///
    /// Empty text is zero tokens.
    pub fn count_text(&self, model: &str, text: &str) -> TokenCount {
        let tokenizer = Tokenizer::for_model(model);
        self.finish(tokenizer, RawCount::exact(tokenizer.encoding().count(text)))
    }

    /// The input tokens of a chat request built in code: messages framed as
    /// OpenAI frames them, the tools' schemas, and the tokens that prime the
    /// reply.
    ///
    /// Models other than OpenAI's get the same framing over o200k_base
    /// counts, their tools counted as full JSON text (plus the hidden
    /// 346-token tool-use system prompt for Claude), and their family's
    /// margin on the total.
    pub fn count_chat(&self, model: &str, messages: &[Message], tools: &[Tool]) -> TokenCount {
        self.count_chat_with(model, messages, tools, None)
    }

    /// [`count_chat`](TokenCounter::count_chat), taking message counts
    /// from `cache` where it has them.
    fn count_chat_with(
        &self,
        model: &str,
        messages: &[Message],
        tools: &[Tool],
        cache: Option<&CountCache>,
    ) -> TokenCount {
        let tokenizer = Tokenizer::for_model(model);
        let encoding = tokenizer.encoding();
        let mut raw = raw_count_of_tools(tools, tokenizer, Measure::Tokens(encoding));
        match cache {
            Some(cache) => raw += cache.raw_count(messages, encoding, self.image_tokens),
            None => {
                for message in messages {
                    raw += message.raw_count(Measure::Tokens(encoding), self.image_tokens);
                }
            }
        }
        raw += REPLY_PRIMER_TOKENS;
        self.finish(tokenizer, raw)
    }

    /// The exact count of an input already read, message counts taken
    /// from `cache` where it has them.
    pub(crate) fn count_input(
        &self,
        model: &str,
        input: &ChatInput,
        cache: &CountCache,
    ) -> TokenCount {
        self.count_chat_with(model, &input.messages, &input.tools, Some(cache))
    }

    /// The input tokens of a request body, as it will be sent.
    ///
    /// Reads OpenAI Chat Completions (`messages`, `tools`, legacy
    /// `functions`), Anthropic Messages (`system`, `messages`, `tools`) and
    /// Gemini `generateContent` (`systemInstruction`, `contents`, `tools`)
    /// bodies, and counts them as [`TokenCounter::count_chat`] does. Other
    /// fields (`model`, `max_tokens`, `temperature`, ...) are ignored.
    ///
    /// Text parts, tool calls, tool results, thinking blocks and images are
    /// counted; audio, files and documents are refused rather than guessed.
    ///
    /// # Errors
    /// [`RequestShapeError`] naming the field at fault when the body is not
    /// in one of these shapes: `messages` that is not an array, content of
    /// the wrong type, a tool without a name, an audio part.
    pub fn count_request(
        &self,
        model: &str,
        body: &Value,
    ) -> Result<TokenCount, RequestShapeError> {
        let input = read_body(body)?;
        Ok(self.count_chat(model, &input.messages, &input.tools))
    }

    /// [`count_request`](TokenCounter::count_request), tokenizing only the
    /// messages `cache` has not seen: the same result, in microseconds for
    /// a long history that grows by a message per call.
    ///
    /// # Errors
    /// As [`count_request`](TokenCounter::count_request).
    pub fn count_request_cached(
        &self,
        model: &str,
        body: &Value,
        cache: &CountCache,
    ) -> Result<TokenCount, RequestShapeError> {
        let input = read_body(body)?;
        Ok(self.count_chat_with(model, &input.messages, &input.tools, Some(cache)))
    }

    /// Turns a raw count into what the caller sees: the margin added for an
    /// estimated model, the exactness stated.
    pub(crate) fn finish(&self, tokenizer: Tokenizer, raw: RawCount) -> TokenCount {
        match tokenizer {
            Tokenizer::Exact(_) => TokenCount {
                tokens: raw.tokens,
                exactness: if raw.exact {
                    Exactness::Exact
                } else {
                    Exactness::Estimate { margin_percent: 0 }
                },
            },
            Tokenizer::Estimated(family) => {
                let margin_percent = self.margin_percent(family);
                TokenCount {
                    tokens: add_margin(raw.tokens, margin_percent),
                    exactness: Exactness::Estimate { margin_percent },
                }
            }
        }
    }

    /// Where the margin for `family` is kept.
    fn margin_slot(&mut self, family: EstimatedFamily) -> &mut u32 {
        match family {
            EstimatedFamily::Anthropic => &mut self.anthropic_margin_percent,
            EstimatedFamily::Gemini => &mut self.gemini_margin_percent,
            EstimatedFamily::Other => &mut self.other_margin_percent,
        }
    }
}

impl Default for TokenCounter {
    fn default() -> Self {
        TokenCounter::new()
    }
}

/// The tokens of a bare piece of text with the default [`TokenCounter`].
///
/// ```
/// use spendguard::tokens::count_text;
///
/// assert_eq!(count_text("gpt-4o", "hello world").tokens, 2);
/// assert_eq!(count_text("gpt-4o", "").tokens, 0);
/// ```
pub fn count_text(model: &str, text: &str) -> TokenCount {
    TokenCounter::new().count_text(model, text)
}

/// The input tokens of a request body with the default [`TokenCounter`].
///
/// ```
/// use serde_json::json;
/// use spendguard::tokens::{count_request, Exactness};
///
/// let body = json!({
///     "model": "gpt-4o",
///     "messages": [{"role": "user", "content": "hello world"}],
///     "max_tokens": 100
/// });
/// let count = count_request("gpt-4o", &body)?;
/// // 3 framing + 1 for "user" + 2 for "hello world" + 3 priming the reply.
/// assert_eq!(count.tokens, 9);
/// assert_eq!(count.exactness, Exactness::Exact);
/// # Ok::<(), spendguard::tokens::RequestShapeError>(())
/// ```
///
/// # Errors
/// As [`TokenCounter::count_request`].
pub fn count_request(model: &str, body: &Value) -> Result<TokenCount, RequestShapeError> {
    TokenCounter::new().count_request(model, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenBound;
    use serde_json::json;

    /// The example conversation of OpenAI's cookbook "How to count tokens
    /// with tiktoken", with the prompt token counts its API reported.
    fn cookbook_messages() -> Value {
        json!([
            {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
            {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
            {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
            {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
            {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
            {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
        ])
    }

    #[test]
    fn the_cookbook_conversation_matches_the_api() {
        let body = json!({"messages": cookbook_messages()});
        for (model, tokens) in [
            ("gpt-3.5-turbo", 129),
            ("gpt-4-0613", 129),
            ("gpt-4", 129),
            ("gpt-4o", 124),
            ("gpt-4o-mini", 124),
        ] {
            let count = count_request(model, &body).unwrap();
            assert_eq!(count.tokens, tokens, "{model}");
            assert!(count.is_exact(), "{model}");
        }
    }

    #[test]
    fn the_cookbook_tool_example_matches_the_api() {
        let body = json!({
            "messages": [
                {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
                {"role": "user", "content": "What's the weather like in San Francisco?"}
            ],
            "tools": [{
                "type": "function",
                "function": {
                    "name": "get_current_weather",
                    "description": "Get the current weather in a given location",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                            "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]}
                        },
                        "required": ["location"]
                    }
                }
            }]
        });
        for (model, tokens) in [
            ("gpt-3.5-turbo", 105),
            ("gpt-4", 105),
            ("gpt-4o", 101),
            ("gpt-4o-mini", 101),
        ] {
            let count = count_request(model, &body).unwrap();
            assert_eq!(count.tokens, tokens, "{model}");
            assert!(count.is_exact(), "{model}");
        }
    }

    #[test]
    fn a_request_is_bounded_as_it_is_counted_and_refused_alike() {
        let counter = TokenCounter::new();
        let body = json!({"messages": cookbook_messages()});
        for model in ["gpt-4o", "gpt-4", "claude-sonnet-4-5", "gemini-2.5-pro"] {
            let bound = TokenBound::of_request(&counter, model, &body).unwrap();
            let count = counter.count_request(model, &body).unwrap();
            assert!(bound.billable(&counter, model) >= count.tokens, "{model}");
        }
        for bad in [
            json!([]),
            json!({"messages": {"role": "user"}}),
            json!({"model": "gpt-4o"}),
        ] {
            assert_eq!(
                TokenBound::of_request(&counter, "gpt-4o", &bad).unwrap_err(),
                counter.count_request("gpt-4o", &bad).unwrap_err()
            );
        }
    }

    #[test]
    fn an_empty_request_is_the_reply_primer() {
        let count = count_request("gpt-4o", &json!({"messages": []})).unwrap();
        assert_eq!(count.tokens, 3);
        assert!(count.is_exact());
    }

    #[test]
    fn estimates_add_the_family_margin_to_the_whole_request() {
        let body = json!({"messages": cookbook_messages()});
        let o200k = 124;
        for (model, margin) in [
            ("claude-sonnet-4-5", 25),
            ("gemini-2.5-pro", 15),
            ("mistral-large-latest", 25),
        ] {
            let count = count_request(model, &body).unwrap();
            assert_eq!(count.tokens, add_margin(o200k, margin), "{model}");
            assert_eq!(
                count.exactness,
                Exactness::Estimate {
                    margin_percent: margin
                }
            );
        }
    }

    #[test]
    fn margins_are_tunable_and_bounded() {
        let counter = TokenCounter::new()
            .with_margin_percent(EstimatedFamily::Gemini, 0)
            .unwrap();
        assert_eq!(counter.margin_percent(EstimatedFamily::Gemini), 0);
        assert_eq!(counter.margin_percent(EstimatedFamily::Anthropic), 25);
        assert_eq!(
            counter.count_text("gemini-2.5-pro", "hello world").tokens,
            2
        );
        assert!(counter
            .with_margin_percent(EstimatedFamily::Other, 1_000)
            .is_ok());
        assert_eq!(
            counter.with_margin_percent(EstimatedFamily::Other, 1_001),
            Err(MarginError::TooLarge {
                family: EstimatedFamily::Other,
                percent: 1_001,
                max: 1_000
            })
        );
    }

    #[test]
    fn images_are_a_tunable_fixed_estimate() {
        let body = json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
        ]}]});
        let default = count_request("gpt-4o", &body).unwrap();
        // 3 framing + 1 for "user" + the image + 3 priming the reply.
        assert_eq!(default.tokens, 7 + DEFAULT_IMAGE_TOKENS);
        assert_eq!(default.exactness, Exactness::Estimate { margin_percent: 0 });
        let mini = TokenCounter::new().with_image_tokens(48_169);
        assert_eq!(
            mini.count_request("gpt-4o-mini", &body).unwrap().tokens,
            7 + 48_169
        );
    }

    #[test]
    fn text_is_counted_without_framing() {
        assert_eq!(count_text("gpt-4o", "hello world").tokens, 2);
        assert!(count_text("text-embedding-3-small", "hello world").is_exact());
        assert_eq!(count_text("claude-haiku-4-5", "").tokens, 0);
    }
}
