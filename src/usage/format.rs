//! Which provider API a response body comes from, so a generic client can
//! normalise its usage without knowing the provider.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::usage::{Usage, UsageError};

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

impl Usage {
    /// Normalises the usage of a whole response body in `format`.
    ///
    /// The same as calling [`Usage::from_openai_chat`],
    /// [`Usage::from_openai_responses`], [`Usage::from_anthropic`] or
    /// [`Usage::from_gemini`]; see those for each format's rules.
    ///
    /// ```
    /// use serde_json::json;
    /// use spendguard::Usage;
    /// use spendguard::usage::UsageFormat;
    ///
    /// let body = json!({
    ///     "usageMetadata": { "promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15 }
    /// });
    /// let usage = Usage::from_response(UsageFormat::Gemini, &body)?;
    /// assert_eq!(usage, Usage::new(10, 5));
    /// # Ok::<(), spendguard::usage::UsageError>(())
    /// ```
    pub fn from_response(format: UsageFormat, body: &Value) -> Result<Usage, UsageError> {
        match format {
            UsageFormat::OpenAiChat => Usage::from_openai_chat(body),
            UsageFormat::OpenAiResponses => Usage::from_openai_responses(body),
            UsageFormat::AnthropicMessages => Usage::from_anthropic(body),
            UsageFormat::Gemini => Usage::from_gemini(body),
        }
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
