//! [`ChatInput`]: what a request body asks the model to read, whichever
//! provider's shape it came in.

use super::message::Message;
use super::tool::Tool;

/// What a request body asks the model to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChatInput {
    /// The messages, any top-level system prompt first.
    pub(crate) messages: Vec<Message>,
    /// The declared tools.
    pub(crate) tools: Vec<Tool>,
}
