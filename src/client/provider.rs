//! [`Provider`]: the wire conventions of each API a guarded client speaks.

use std::fmt;

use crate::usage::UsageFormat;

/// An LLM API flavour: where requests go, how they authenticate, which
/// field carries the output limit, and how usage comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// OpenAI Chat Completions (`POST {base}/v1/chat/completions`).
    OpenAiChat,
    /// OpenAI Responses (`POST {base}/v1/responses`).
    OpenAiResponses,
    /// Any server that speaks Chat Completions: gateways, Azure OpenAI,
    /// OpenRouter, vLLM, llama.cpp. `POST {base}/chat/completions`, where
    /// the base URL already ends in the API version (`…/v1`, or an Azure
    /// deployment path); the output limit is sent as `max_tokens`, which
    /// such servers understand more widely than `max_completion_tokens`.
    OpenAiCompatible,
    /// Anthropic Messages (`POST {base}/v1/messages`).
    Anthropic,
    /// Gemini `generateContent` (`POST {base}/v1beta/models/{model}:generateContent`).
    Gemini,
}

impl Provider {
    /// Who bills the call, as ledgers name it: `openai`, `anthropic`,
    /// `gemini`, or `openai-compatible` for everything else that speaks
    /// OpenAI's API.
    pub const fn billing_name(self) -> &'static str {
        match self {
            Provider::OpenAiChat | Provider::OpenAiResponses => "openai",
            Provider::OpenAiCompatible => "openai-compatible",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gemini",
        }
    }

    /// The usual base URL of the provider's public API.
    pub const fn default_base_url(self) -> &'static str {
        match self {
            Provider::OpenAiChat | Provider::OpenAiResponses => "https://api.openai.com",
            Provider::OpenAiCompatible => "http://127.0.0.1:8000/v1",
            Provider::Anthropic => "https://api.anthropic.com",
            Provider::Gemini => "https://generativelanguage.googleapis.com",
        }
    }

    /// How the provider reports usage.
    pub const fn usage_format(self) -> UsageFormat {
        match self {
            Provider::OpenAiChat | Provider::OpenAiCompatible => UsageFormat::OpenAiChat,
            Provider::OpenAiResponses => UsageFormat::OpenAiResponses,
            Provider::Anthropic => UsageFormat::AnthropicMessages,
            Provider::Gemini => UsageFormat::Gemini,
        }
    }

    /// The URL of one call, for `model`, streamed or not.
    #[cfg(feature = "client")]
    pub(crate) fn endpoint(self, base_url: &str, model: &str, stream: bool) -> String {
        let base = base_url.trim_end_matches('/');
        match self {
            Provider::OpenAiChat => format!("{base}/v1/chat/completions"),
            Provider::OpenAiResponses => format!("{base}/v1/responses"),
            Provider::OpenAiCompatible => format!("{base}/chat/completions"),
            Provider::Anthropic => format!("{base}/v1/messages"),
            Provider::Gemini if stream => {
                format!("{base}/v1beta/models/{model}:streamGenerateContent?alt=sse")
            }
            Provider::Gemini => format!("{base}/v1beta/models/{model}:generateContent"),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::OpenAiChat => "OpenAI Chat Completions",
            Provider::OpenAiResponses => "OpenAI Responses",
            Provider::OpenAiCompatible => "OpenAI-compatible",
            Provider::Anthropic => "Anthropic Messages",
            Provider::Gemini => "Gemini",
        })
    }
}

#[cfg(all(test, feature = "client"))]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            Provider::OpenAiChat.endpoint("http://x/", "gpt-4o", false),
            "http://x/v1/chat/completions"
        );
        assert_eq!(
            Provider::OpenAiCompatible.endpoint("http://gw/openai/v1", "m", true),
            "http://gw/openai/v1/chat/completions"
        );
        assert_eq!(
            Provider::Gemini.endpoint("http://g", "gemini-2.5-pro", true),
            "http://g/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
    }
}
