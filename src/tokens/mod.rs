//! Input token counts before a call is sent: exact for OpenAI models,
//! estimates with a stated safety margin for everyone else.
//!
//! A budget can only refuse a call before it is made if it knows what the
//! call will cost, and the input side of that cost is a token count. For
//! OpenAI models spendguard counts exactly what the API will report as prompt
//! tokens: the model's own encoding (o200k_base or cl100k_base) and the
//! message and tool framing of OpenAI's cookbook "How to count tokens with
//! tiktoken". Claude, Gemini and open-weight models have no tokenizer that
//! runs offline, so their requests are counted with o200k_base and a margin is
//! added on top; the result says so.
//!
//! ```
//! use serde_json::json;
//! use spendguard::tokens::{count_request, Exactness};
//!
//! let body = json!({
//!     "model": "gpt-4o",
//!     "messages": [
//!         {"role": "system", "content": "You are terse."},
//!         {"role": "user", "content": "hello world"}
//!     ]
//! });
//! let count = count_request("gpt-4o", &body)?;
//! assert_eq!(count.tokens, 17);
//! assert_eq!(count.exactness, Exactness::Exact);
//!
//! let claude = count_request("anthropic/claude-sonnet-4-5", &body)?;
//! assert_eq!(claude.tokens, 22); // 17 plus 25%, rounded up
//! assert_eq!(claude.exactness, Exactness::Estimate { margin_percent: 25 });
//! # Ok::<(), spendguard::tokens::RequestShapeError>(())
//! ```
//!
//! - [`count_request`] and [`TokenCounter::count_request`] read OpenAI,
//!   Anthropic and Gemini request bodies; [`TokenCounter::count_chat`] takes
//!   [`Message`]s and [`Tool`]s built in code; [`count_text`] counts bare text.
//! - [`Conversation`] keeps a running total for an agent's growing history,
//!   tokenizing each message once.
//! - [`TokenBound`] bounds a text's count from above by its length, for a
//!   caller that tokenizes only when the bound no longer settles a question;
//!   [`TokenBound::of_chat`] and [`TokenBound::of_request`] bound
//!   a whole prompt, framing included, without loading a tokenizer.
//! - [`TokenCounter`] holds the tunable parts: one safety margin per
//!   [`EstimatedFamily`] and the tokens assumed per image.
//!
//! Tokenizer tables are loaded once per process, on first use, and a guarded
//! call far from its limits uses none: it is reserved at its
//! [`TokenBound`], and counted exactly only when that count decides
//! something. [`TokenCounter::warm`] (or [`Encoding::warm`]) loads one up
//! front, for a predictable first exact count.

mod bound;
mod cache;
mod calibration;
mod chat_input;
mod conversation;
mod count;
mod counter;
mod encoding;
mod estimate;
mod gemini;
mod measure;
mod message;
mod model_id;
mod prompt_count;
mod request;
// Read by the guarded-call engine and the `estimate` command.
mod responses;
mod shape;
// Only the guarded client streams.
#[cfg(feature = "client")]
mod streamed;
mod tokenizer;
mod tool;

pub use bound::TokenBound;
pub use cache::CountCache;
pub(crate) use calibration::{InputCalibration, Raise};
pub(crate) use chat_input::ChatInput;
pub use conversation::Conversation;
pub use count::{Exactness, TokenCount};
pub use counter::{count_request, count_text, TokenCounter, DEFAULT_IMAGE_TOKENS};
pub use encoding::Encoding;
pub use estimate::{EstimatedFamily, MarginError, MAX_MARGIN_PERCENT};
pub use message::{Message, Part};
pub(crate) use prompt_count::PromptCount;
pub(crate) use request::read_body;
pub(crate) use responses::responses_as_chat;
pub use shape::RequestShapeError;
#[cfg(feature = "client")]
pub(crate) use streamed::StreamedText;
pub use tool::Tool;
