//! A conversation whose token total is kept up to date message by message.

use serde_json::Value;

use super::count::{RawCount, TokenCount};
use super::counter::TokenCounter;
use super::measure::Measure;
use super::message::{Message, REPLY_PRIMER_TOKENS};
use super::request::read_message;
use super::shape::{FieldPath, RequestShapeError};
use super::tokenizer::Tokenizer;
use super::tool::{raw_count_of_tools, Tool};

/// A growing chat history that remembers each message's token count, so that
/// adding a message to a long history tokenizes only the new message.
///
/// An agent resends its whole history on every turn; counting it afresh each
/// time costs as much as the history is long. A `Conversation` keeps one
/// count per message and a running sum, and its [`total`](Conversation::total)
/// is always exactly what [`TokenCounter::count_chat`] would say for the same
/// messages and tools. Messages are counted, not stored: keep your own copy
/// of the text.
///
/// ```
/// use spendguard::tokens::{Conversation, Message, TokenCounter};
///
/// let history = [Message::system("You are terse."), Message::user("hello world")];
/// let mut conversation = Conversation::new("gpt-4o");
/// for message in &history {
///     conversation.push(message);
/// }
/// assert_eq!(
///     conversation.total(),
///     TokenCounter::new().count_chat("gpt-4o", &history, &[]),
/// );
///
/// // The agent rewrites its last turn: drop it and push the new one.
/// conversation.push(&Message::assistant("draft"));
/// conversation.pop();
/// assert_eq!(conversation.len(), 2);
/// assert_eq!(
///     conversation.total(),
///     TokenCounter::new().count_chat("gpt-4o", &history, &[]),
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    counter: TokenCounter,
    tokenizer: Tokenizer,
    tools: RawCount,
    /// Each message's count, framing included, before any margin.
    messages: Vec<RawCount>,
    /// Sum of `messages`' tokens; `u128` so that it never saturates and
    /// removing a message always undoes adding it.
    message_tokens: u128,
    /// How many of `messages` contain a fixed estimate.
    estimated_messages: usize,
}

impl Conversation {
    /// An empty conversation with `model`, counted by the default
    /// [`TokenCounter`].
    pub fn new(model: &str) -> Self {
        Conversation::with_counter(model, TokenCounter::new())
    }

    /// An empty conversation with `model`, counted by `counter` (to tune
    /// its estimate margins).
    pub fn with_counter(model: &str, counter: TokenCounter) -> Self {
        Conversation {
            counter,
            tokenizer: Tokenizer::for_model(model),
            tools: RawCount::ZERO,
            messages: Vec::new(),
            message_tokens: 0,
            estimated_messages: 0,
        }
    }

    /// The same conversation, sent with these tools declared (replacing any
    /// declared before).
    pub fn with_tools(mut self, tools: &[Tool]) -> Self {
        self.tools = raw_count_of_tools(
            tools,
            self.tokenizer,
            Measure::Tokens(self.tokenizer.encoding()),
        );
        self
    }

    /// Adds a message at the end, tokenizing only that message.
    pub fn push(&mut self, message: &Message) {
        let count = message.raw_count(
            Measure::Tokens(self.tokenizer.encoding()),
            self.counter.image_tokens(),
        );
        self.message_tokens += u128::from(count.tokens);
        self.estimated_messages += usize::from(!count.exact);
        self.messages.push(count);
    }

    /// Adds a message given as JSON, in any shape
    /// [`TokenCounter::count_request`] reads (an OpenAI or Anthropic message,
    /// or a Gemini content).
    ///
    /// # Errors
    /// [`RequestShapeError`] naming the field at fault, as
    /// `messages[<index it would have had>]…`; the conversation is then
    /// unchanged.
    pub fn push_json(&mut self, message: &Value) -> Result<(), RequestShapeError> {
        let messages = FieldPath::Root("messages");
        let message = read_message(message, &messages.index(self.messages.len()))?;
        self.push(&message);
        Ok(())
    }

    /// Removes the last message; `false` when there was none.
    pub fn pop(&mut self) -> bool {
        match self.messages.pop() {
            Some(count) => {
                self.forget(count);
                true
            }
            None => false,
        }
    }

    /// Keeps the first `len` messages and removes the rest; does nothing when
    /// there are no more than `len`.
    pub fn truncate(&mut self, len: usize) {
        while self.messages.len() > len {
            self.pop();
        }
    }

    /// The number of messages.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// `true` when no message has been added.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The input tokens of a request carrying this conversation: every
    /// message with its framing, the tools, and the tokens that prime the
    /// reply.
    pub fn total(&self) -> TokenCount {
        let mut raw = self.tools;
        raw += RawCount {
            tokens: u64::try_from(self.message_tokens).unwrap_or(u64::MAX),
            exact: self.estimated_messages == 0,
        };
        raw += REPLY_PRIMER_TOKENS;
        self.counter.finish(self.tokenizer, raw)
    }

    /// Takes a removed message's count out of the running sums.
    fn forget(&mut self, count: RawCount) {
        self.message_tokens -= u128::from(count.tokens);
        self.estimated_messages -= usize::from(!count.exact);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{EstimatedFamily, Part};
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn an_empty_conversation_is_the_reply_primer() {
        let conversation = Conversation::new("gpt-4o");
        assert!(conversation.is_empty());
        assert_eq!(conversation.total().tokens, 3);
        assert!(conversation.total().is_exact());
    }

    #[test]
    fn estimated_messages_stop_counting_once_removed() {
        let mut conversation = Conversation::new("gpt-4o");
        conversation.push(&Message::user("hi"));
        conversation.push(&Message::from_parts("user", vec![Part::Image]));
        assert!(!conversation.total().is_exact());
        assert!(conversation.pop());
        assert!(conversation.total().is_exact());
        conversation.truncate(0);
        assert!(!conversation.pop());
        assert_eq!(conversation.total().tokens, 3);
    }

    #[test]
    fn json_messages_count_like_typed_ones() {
        let mut from_json = Conversation::new("gpt-4o");
        from_json
            .push_json(&json!({"role": "user", "name": "ada", "content": "hello world"}))
            .unwrap();
        let mut typed = Conversation::new("gpt-4o");
        typed.push(&Message::user("hello world").with_name("ada"));
        assert_eq!(from_json.total(), typed.total());
    }

    #[test]
    fn a_bad_json_message_leaves_the_conversation_unchanged() {
        let mut conversation = Conversation::new("gpt-4o");
        conversation.push(&Message::user("hi"));
        let before = conversation.clone();
        assert_eq!(
            conversation.push_json(&json!({"role": "user", "content": 1})),
            Err(RequestShapeError::WrongType {
                field: "messages[1].content".into(),
                expected: "a string or an array of content parts",
                found: "a number",
            })
        );
        assert_eq!(conversation, before);
    }

    fn any_part() -> impl Strategy<Value = Part> {
        prop_oneof![
            6 => ".{0,60}".prop_map(Part::Text),
            1 => Just(Part::Image),
            1 => ("[a-z_]{1,12}", ".{0,30}")
                .prop_map(|(name, arguments)| Part::ToolCall { name, arguments }),
        ]
    }

    fn any_message() -> impl Strategy<Value = Message> {
        (
            prop_oneof![
                Just("system"),
                Just("user"),
                Just("assistant"),
                Just("tool")
            ],
            proptest::option::weighted(0.2, "[a-z_]{1,10}"),
            proptest::collection::vec(any_part(), 0..4),
        )
            .prop_map(|(role, name, parts)| {
                let message = Message::from_parts(role, parts);
                match name {
                    Some(name) => message.with_name(name),
                    None => message,
                }
            })
    }

    #[derive(Debug, Clone)]
    enum Edit {
        Push(Message),
        Pop,
        Truncate(usize),
    }

    fn any_edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            6 => any_message().prop_map(Edit::Push),
            2 => Just(Edit::Pop),
            1 => (0usize..8).prop_map(Edit::Truncate),
        ]
    }

    proptest! {
        /// However a conversation is edited, its total equals a full count of
        /// the messages it holds.
        #[test]
        fn total_always_equals_a_full_count(
            model in prop_oneof![
                Just("gpt-4o"), Just("gpt-4"), Just("claude-sonnet-4-5"),
                Just("gemini-2.5-flash"), Just("llama-3.3-70b")
            ],
            with_tool in any::<bool>(),
            edits in proptest::collection::vec(any_edit(), 0..24),
        ) {
            let counter = TokenCounter::new()
                .with_margin_percent(EstimatedFamily::Gemini, 17)
                .unwrap()
                .with_image_tokens(900);
            let tools = if with_tool {
                vec![Tool::new("search", "Search the web.", &json!({
                    "type": "object",
                    "properties": {"q": {"type": "string", "description": "Query."}}
                })).unwrap()]
            } else {
                Vec::new()
            };
            let mut conversation = Conversation::with_counter(model, counter).with_tools(&tools);
            let mut messages: Vec<Message> = Vec::new();
            for edit in edits {
                match edit {
                    Edit::Push(message) => {
                        conversation.push(&message);
                        messages.push(message);
                    }
                    Edit::Pop => {
                        prop_assert_eq!(conversation.pop(), messages.pop().is_some());
                    }
                    Edit::Truncate(len) => {
                        conversation.truncate(len);
                        messages.truncate(len);
                    }
                }
                prop_assert_eq!(conversation.len(), messages.len());
                prop_assert_eq!(conversation.total(), counter.count_chat(model, &messages, &tools));
            }
        }
    }
}
