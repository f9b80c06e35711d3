//! Which provider API a response body comes from.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The API a response body comes from; each reports usage its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum UsageFormat {
    /// OpenAI Chat Completions (`/v1/chat/completions`), and the many
    /// servers that copy it.
    #[serde(rename = "openai_chat")]
    OpenAiChat,
    /// OpenAI Responses (`/v1/responses`).
    #[serde(rename = "openai_responses")]
    OpenAiResponses,
    /// Anthropic Messages (`/v1/messages`), also served by Bedrock and Vertex.
    #[serde(rename = "anthropic_messages")]
    AnthropicMessages,
    /// Gemini `generateContent`, on the Gemini API or Vertex AI.
    #[serde(rename = "gemini")]
    Gemini,
}

impl fmt::Display for UsageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UsageFormat::OpenAiChat => "OpenAI Chat Completions",
            UsageFormat::OpenAiResponses => "OpenAI Responses",
            UsageFormat::AnthropicMessages => "Anthropic Messages",
            UsageFormat::Gemini => "Gemini generateContent",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_serialise_under_their_api_names() {
        let names: Vec<String> = [
            UsageFormat::OpenAiChat,
            UsageFormat::OpenAiResponses,
            UsageFormat::AnthropicMessages,
            UsageFormat::Gemini,
        ]
        .iter()
        .map(|f| serde_json::to_string(f).unwrap())
        .collect();
        assert_eq!(
            names,
            [
                "\"openai_chat\"",
                "\"openai_responses\"",
                "\"anthropic_messages\"",
                "\"gemini\""
            ]
        );
    }
}
