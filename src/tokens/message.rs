//! Chat messages, and what each one adds to a prompt.

use super::count::RawCount;
use super::measure::Measure;

/// Tokens that frame every message (`<|start|>`, the role separator,
/// `<|end|>`), per OpenAI's cookbook "How to count tokens with tiktoken".
pub(crate) const TOKENS_PER_MESSAGE: u64 = 3;
/// Extra token for a message that carries a `name`, per the same cookbook.
pub(crate) const TOKENS_PER_NAME: u64 = 1;
/// Tokens that prime the reply (`<|start|>assistant<|message|>`), added once
/// per request.
pub(crate) const REPLY_PRIMER_TOKENS: u64 = 3;
/// Tokens assumed around each tool call in the history, beyond its name and
/// arguments. OpenAI does not publish how a call is rendered; its chat format
/// wraps one in a recipient marker and channel tokens, which come to about
/// this many.
pub(crate) const TOOL_CALL_FRAMING_TOKENS: u64 = 8;

/// One message of a chat, for callers who build requests in code rather than
/// as JSON.
///
/// ```
/// use spendguard::tokens::{Message, Part, TokenCounter};
///
/// let messages = [
///     Message::system("You are terse."),
///     Message::user("hello world").with_name("ada"),
///     Message::from_parts("user", vec![Part::Text("What is this?".into()), Part::Image]),
/// ];
/// let count = TokenCounter::new().count_chat("gpt-4o", &messages, &[]);
/// assert!(count.tokens > 1_600);
/// assert!(!count.is_exact(), "the image is a fixed estimate");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Message {
    role: String,
    name: Option<String>,
    parts: Vec<Part>,
}

/// One piece of a message's content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Part {
    /// Text, counted with the model's tokenizer.
    Text(String),
    /// An image, counted as a fixed number of tokens (see
    /// [`TokenCounter::with_image_tokens`](super::TokenCounter::with_image_tokens)),
    /// which makes the count an estimate.
    Image,
    /// A tool call the model made earlier in the conversation: its name and
    /// its arguments as JSON text. Providers do not publish how a call is
    /// framed, so it makes the count an estimate.
    ToolCall {
        /// The tool's name.
        name: String,
        /// The arguments, as the JSON text the model produced.
        arguments: String,
    },
}

impl Message {
    /// A message with text content and any role (`developer`, `tool`, ...).
    pub fn new(role: impl Into<String>, text: impl Into<String>) -> Self {
        Message::from_parts(role, vec![Part::Text(text.into())])
    }

    /// A message made of several parts.
    pub fn from_parts(role: impl Into<String>, parts: Vec<Part>) -> Self {
        Message {
            role: role.into(),
            name: None,
            parts,
        }
    }

    /// A `system` message.
    pub fn system(text: impl Into<String>) -> Self {
        Message::new("system", text)
    }

    /// A `user` message.
    pub fn user(text: impl Into<String>) -> Self {
        Message::new("user", text)
    }

    /// An `assistant` message.
    pub fn assistant(text: impl Into<String>) -> Self {
        Message::new("assistant", text)
    }

    /// The same message with a participant `name`, which OpenAI frames with
    /// one extra token.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The tokens this message adds to a prompt, framing included, before
    /// any safety margin.
    pub(crate) fn raw_count(&self, measure: Measure, image_tokens: u64) -> RawCount {
        let mut count = RawCount::exact(TOKENS_PER_MESSAGE);
        count += measure.count(&self.role);
        if let Some(name) = &self.name {
            count += TOKENS_PER_NAME + measure.count(name);
        }
        for part in &self.parts {
            count += part.raw_count(measure, image_tokens);
        }
        count
    }
}

impl Part {
    /// The tokens this part adds, before any safety margin.
    fn raw_count(&self, measure: Measure, image_tokens: u64) -> RawCount {
        match self {
            Part::Text(text) => RawCount::exact(measure.count(text)),
            Part::Image => RawCount::estimated(image_tokens),
            Part::ToolCall { name, arguments } => RawCount::estimated(
                TOOL_CALL_FRAMING_TOKENS + measure.count(name) + measure.count(arguments),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Encoding;

    const O200K: Measure = Measure::Tokens(Encoding::O200kBase);

    #[test]
    fn a_message_is_framing_plus_role_plus_content() {
        // 3 framing + "user" (1) + "hello world" (2).
        assert_eq!(
            Message::user("hello world").raw_count(O200K, 0),
            RawCount::exact(6)
        );
        // An empty message still costs its framing.
        assert_eq!(Message::user("").raw_count(O200K, 0), RawCount::exact(4));
    }

    #[test]
    fn a_name_costs_one_token_plus_itself() {
        let named = Message::user("hello world").with_name("ada");
        let ada = O200K.count("ada");
        assert_eq!(named.raw_count(O200K, 0), RawCount::exact(6 + 1 + ada));
    }

    #[test]
    fn images_and_tool_calls_are_estimates() {
        let image = Message::from_parts("user", vec![Part::Image]);
        assert_eq!(
            image.raw_count(O200K, 1_000),
            RawCount::estimated(4 + 1_000)
        );
        let call = Message::from_parts(
            "assistant",
            vec![Part::ToolCall {
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
            }],
        );
        let expected = 3
            + O200K.count("assistant")
            + TOOL_CALL_FRAMING_TOKENS
            + O200K.count("get_weather")
            + O200K.count(r#"{"city":"Paris"}"#);
        assert_eq!(call.raw_count(O200K, 0), RawCount::estimated(expected));
    }
}
