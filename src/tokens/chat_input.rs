//! [`ChatInput`]: what a request body asks the model to read, whichever
//! provider's shape it came in.

use serde_json::Value;

use super::message::Message;
use super::request::read_body;
use super::shape::RequestShapeError;
use super::tool::Tool;

/// What a request body asks the model to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChatInput {
    /// The messages, any top-level system prompt first.
    pub(crate) messages: Vec<Message>,
    /// The declared tools.
    pub(crate) tools: Vec<Tool>,
}

impl ChatInput {
    /// Reads a request body in OpenAI's, Anthropic's or Gemini's shape.
    pub(crate) fn read(body: &Value) -> Result<ChatInput, RequestShapeError> {
        read_body(body)
    }
}
