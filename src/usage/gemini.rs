//! Gemini's usage reports, from `generateContent` on the Gemini API and on
//! Vertex AI.
//!
//! Gemini mixes both conventions: `promptTokenCount` *includes* the cached
//! tokens, while thinking (`thoughtsTokenCount`) and tool results fed back to
//! the model (`toolUsePromptTokenCount`) are reported *beside* the prompt and
//! candidates counts. Its JSON follows the proto3 mapping, which leaves out
//! counters that are zero, so every counter but `promptTokenCount` may be
//! absent.

use serde_json::Value;

use crate::usage::field_path::FieldPath;
use crate::usage::json::{Count, JsonObject};
use crate::usage::{CounterProblem, ServiceTier, Usage, UsageError, UsageFormat};

const FORMAT: UsageFormat = UsageFormat::Gemini;

impl Usage {
    /// Normalises a Gemini `generateContent` response body (Gemini API or
    /// Vertex AI).
    ///
    /// For `streamGenerateContent`, pass the **last** chunk: each chunk's
    /// `usageMetadata` is cumulative, so earlier chunks under-count (and may
    /// lack the candidates count altogether).
    ///
    /// Rules, after the [`UsageMetadata` reference] and the [thinking
    /// pricing] ("response pricing is the sum of output tokens and thinking
    /// tokens"):
    ///
    /// | Reported (in `usageMetadata`) | Normalised |
    /// |---|---|
    /// | `promptTokenCount` (required) | `input_tokens` + `cache_read_tokens` + `input_audio_tokens` |
    /// | `cachedContentTokenCount` | `cache_read_tokens` |
    /// | `promptTokensDetails` `AUDIO`, minus `cacheTokensDetails` `AUDIO` | `input_audio_tokens` |
    /// | `toolUsePromptTokenCount` | `input_tokens` |
    /// | `candidatesTokenCount` | `output_tokens` + `output_audio_tokens` |
    /// | `candidatesTokensDetails` `AUDIO` | `output_audio_tokens` |
    /// | `thoughtsTokenCount` | `reasoning_tokens` |
    /// | `trafficType` (Vertex AI) | `service_tier` |
    ///
    /// - Counters other than `promptTokenCount`, and the `tokenCount` of a
    ///   modality entry, are zero when absent: the proto3 JSON mapping omits
    ///   zeros (a blocked prompt has no `candidatesTokenCount`).
    /// - Cached audio is billed as a cache read; only the fresh audio is
    ///   `input_audio_tokens`. Cached tokens must not exceed the prompt, the
    ///   audio in each must not exceed it, and the fresh audio must fit in the
    ///   fresh prompt. Audio in the candidates must not exceed them.
    /// - Tool-use prompt tokens are input billed at the input rate, so they
    ///   join `input_tokens` whatever their modality.
    /// - `totalTokenCount`, when present, must equal `promptTokenCount +
    ///   candidatesTokenCount + thoughtsTokenCount + toolUsePromptTokenCount`,
    ///   the sum the reference gives for it.
    /// - The Gemini API reports its service tier only in the
    ///   `x-gemini-service-tier` response header ([priority inference]): read
    ///   it with [`ServiceTier::from_provider_name`] and apply it with
    ///   [`Usage::with_service_tier`]. Vertex AI reports `trafficType`:
    ///   `ON_DEMAND_PRIORITY` is priority, `ON_DEMAND_FLEX` is flex, and
    ///   `ON_DEMAND`, `TRAFFIC_TYPE_UNSPECIFIED` or an absent field is
    ///   standard. `PROVISIONED_THROUGHPUT` is prepaid capacity; it is
    ///   charged at the standard price, which over-counts rather than
    ///   under-counts. Any other traffic type is
    ///   [`UsageError::UnknownServiceTier`].
    ///
    /// [`UsageMetadata` reference]: https://ai.google.dev/api/generate-content#UsageMetadata
    /// [thinking pricing]: https://ai.google.dev/gemini-api/docs/thinking#pricing
    /// [priority inference]: https://ai.google.dev/gemini-api/docs/priority-inference
    ///
    /// ```
    /// use serde_json::json;
    /// use spendguard::Usage;
    ///
    /// let body = json!({
    ///     "candidates": [{ "content": { "role": "model", "parts": [{ "text": "..." }] }, "finishReason": "STOP" }],
    ///     "usageMetadata": {
    ///         "promptTokenCount": 15,
    ///         "candidatesTokenCount": 359,
    ///         "thoughtsTokenCount": 661,
    ///         "totalTokenCount": 1035
    ///     }
    /// });
    /// let usage = Usage::from_gemini(&body)?;
    /// assert_eq!((usage.output_tokens, usage.reasoning_tokens), (359, 661));
    /// assert_eq!(usage.billed_output_tokens(), 1020);
    /// assert_eq!(usage.total_tokens(), 1035);
    /// # Ok::<(), spendguard::usage::UsageError>(())
    /// ```
    pub fn from_gemini(body: &Value) -> Result<Usage, UsageError> {
        let body = JsonObject::root(FORMAT, body)?;
        let metadata = body.usage("usageMetadata")?;

        let prompt = metadata.required_count("promptTokenCount")?;
        let cached = metadata.count_or_zero("cachedContentTokenCount")?;
        let tool_use_prompt = metadata.count_or_zero("toolUsePromptTokenCount")?;
        let candidates = metadata.count_or_zero("candidatesTokenCount")?;
        let thoughts = metadata.count_or_zero("thoughtsTokenCount")?;
        let prompt_audio = audio_tokens(&metadata, "promptTokensDetails")?;
        let cached_audio = audio_tokens(&metadata, "cacheTokensDetails")?;
        let output_audio = audio_tokens(&metadata, "candidatesTokensDetails")?;

        prompt.without(&[&prompt_audio], FORMAT)?;
        cached.without(&[&cached_audio], FORMAT)?;
        let fresh_prompt = prompt.without(&[&cached], FORMAT)?;
        let fresh_audio = prompt_audio.without(&[&cached_audio], FORMAT)?;
        let fresh_text = fresh_prompt.without(&[&fresh_audio], FORMAT)?;
        let output_tokens = candidates.without(&[&output_audio], FORMAT)?.tokens;
        if let Some(total) = metadata.optional_count("totalTokenCount")? {
            total.check_total(&[&prompt, &candidates, &thoughts, &tool_use_prompt], FORMAT)?;
        }

        Ok(Usage {
            // Saturates only for garbage no total was there to catch, and
            // then over-counts rather than wraps.
            input_tokens: fresh_text.tokens.saturating_add(tool_use_prompt.tokens),
            cache_read_tokens: cached.tokens,
            input_audio_tokens: fresh_audio.tokens,
            output_tokens,
            reasoning_tokens: thoughts.tokens,
            output_audio_tokens: output_audio.tokens,
            service_tier: traffic_tier(&metadata)?,
            ..Usage::default()
        })
    }
}

/// The `AUDIO` tokens of a `[{modality, tokenCount}]` breakdown.
fn audio_tokens(metadata: &JsonObject<'_>, key: &'static str) -> Result<Count, UsageError> {
    let path = FieldPath::Field {
        object: metadata.object_path(),
        key,
        suffix: "[modality=AUDIO].tokenCount",
    };
    let mut tokens: u128 = 0;
    for entry in metadata.objects_in_array(key)? {
        // MODALITY_UNSPECIFIED is the proto3 default and so may be absent.
        let modality = entry.optional_str("modality")?.unwrap_or_default();
        if modality.eq_ignore_ascii_case("AUDIO") {
            tokens += u128::from(entry.count_or_zero("tokenCount")?.tokens);
        }
    }
    let tokens = u64::try_from(tokens).map_err(|_| UsageError::InvalidCounter {
        format: FORMAT,
        path: path.to_string(),
        problem: CounterProblem::TooLarge,
        value: tokens.to_string(),
    })?;
    Ok(Count { path, tokens })
}

/// The tier Vertex AI reports as `trafficType`.
fn traffic_tier(metadata: &JsonObject<'_>) -> Result<ServiceTier, UsageError> {
    let Some(name) = metadata.optional_str("trafficType")? else {
        return Ok(ServiceTier::Standard);
    };
    match name.to_ascii_uppercase().as_str() {
        "ON_DEMAND" | "TRAFFIC_TYPE_UNSPECIFIED" | "PROVISIONED_THROUGHPUT" => {
            Ok(ServiceTier::Standard)
        }
        "ON_DEMAND_FLEX" => Ok(ServiceTier::Flex),
        "ON_DEMAND_PRIORITY" => Ok(ServiceTier::Priority),
        _ => Err(UsageError::UnknownServiceTier {
            format: FORMAT,
            path: metadata.path_of("trafficType").to_string(),
            name: name.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The shape of the text-generation quickstart's response.
    #[test]
    fn plain_text() {
        let body = json!({
            "candidates": [{
                "content": { "parts": [{ "text": "AI learns patterns from data." }], "role": "model" },
                "finishReason": "STOP",
                "avgLogprobs": -0.0869
            }],
            "usageMetadata": {
                "promptTokenCount": 8,
                "candidatesTokenCount": 12,
                "totalTokenCount": 20,
                "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 8 }],
                "candidatesTokensDetails": [{ "modality": "TEXT", "tokenCount": 12 }]
            },
            "modelVersion": "gemini-2.0-flash",
            "responseId": "mAitaKbOGP2cz7IPkeqd4AM"
        });
        let usage = Usage::from_gemini(&body).unwrap();
        assert_eq!(usage, Usage::new(8, 12));
        assert_eq!(usage.total_tokens(), 20);
    }

    /// A thinking model: thoughts are beside the candidates, not inside.
    #[test]
    fn thinking_is_reported_beside_candidates() {
        let body = json!({
            "candidates": [{ "content": { "parts": [{ "text": "..." }], "role": "model" }, "finishReason": "STOP", "index": 0 }],
            "usageMetadata": {
                "promptTokenCount": 55_021,
                "candidatesTokenCount": 923,
                "totalTokenCount": 56_729,
                "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 55_021 }],
                "thoughtsTokenCount": 785
            },
            "modelVersion": "gemini-2.5-pro"
        });
        let usage = Usage::from_gemini(&body).unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 55_021,
                output_tokens: 923,
                reasoning_tokens: 785,
                ..Usage::default()
            }
        );
        assert_eq!(usage.total_tokens(), 56_729);
    }

    /// An implicit cache hit: the cached tokens are inside the prompt count.
    #[test]
    fn cached_content_is_inside_the_prompt() {
        let body = json!({
            "usageMetadata": {
                "promptTokenCount": 12_345,
                "candidatesTokenCount": 250,
                "totalTokenCount": 12_595,
                "cachedContentTokenCount": 8_192,
                "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 12_345 }],
                "cacheTokensDetails": [{ "modality": "TEXT", "tokenCount": 8_192 }]
            },
            "modelVersion": "gemini-2.5-flash"
        });
        let usage = Usage::from_gemini(&body).unwrap();
        assert_eq!(
            (usage.input_tokens, usage.cache_read_tokens),
            (4_153, 8_192)
        );
        assert_eq!(usage.total_tokens(), 12_595);
    }

    /// Audio in the prompt, part of it from the cache.
    #[test]
    fn fresh_audio_is_audio_input_and_cached_audio_a_cache_read() {
        let body = json!({
            "usageMetadata": {
                "promptTokenCount": 1_300,
                "candidatesTokenCount": 40,
                "totalTokenCount": 1_340,
                "cachedContentTokenCount": 720,
                "promptTokensDetails": [
                    { "modality": "TEXT", "tokenCount": 500 },
                    { "modality": "AUDIO", "tokenCount": 800 }
                ],
                "cacheTokensDetails": [
                    { "modality": "AUDIO", "tokenCount": 320 },
                    { "modality": "TEXT", "tokenCount": 400 }
                ]
            }
        });
        let usage = Usage::from_gemini(&body).unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 100,
                cache_read_tokens: 720,
                input_audio_tokens: 480,
                output_tokens: 40,
                ..Usage::default()
            }
        );
        assert_eq!(usage.total_tokens(), 1_340);
    }

    /// A text-to-speech model answers in audio.
    #[test]
    fn audio_candidates_are_audio_output() {
        let body = json!({
            "candidates": [{ "content": { "parts": [{ "inlineData": { "mimeType": "audio/L16;codec=pcm;rate=24000", "data": "<bytes omitted>" } }], "role": "model" }, "finishReason": "STOP" }],
            "usageMetadata": {
                "promptTokenCount": 9,
                "candidatesTokenCount": 146,
                "totalTokenCount": 155,
                "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 9 }],
                "candidatesTokensDetails": [{ "modality": "AUDIO", "tokenCount": 146 }]
            },
            "modelVersion": "gemini-2.5-flash-preview-tts"
        });
        let usage = Usage::from_gemini(&body).unwrap();
        assert_eq!((usage.output_tokens, usage.output_audio_tokens), (0, 146));
        assert_eq!(usage.total_tokens(), 155);
    }

    /// Grounding with Google Search on Vertex AI, at priority.
    #[test]
    fn tool_use_prompt_is_input_and_traffic_type_is_the_tier() {
        let body = json!({
            "usageMetadata": {
                "promptTokenCount": 31,
                "candidatesTokenCount": 512,
                "toolUsePromptTokenCount": 1_096,
                "thoughtsTokenCount": 204,
                "totalTokenCount": 1_843,
                "trafficType": "ON_DEMAND_PRIORITY",
                "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 31 }],
                "toolUsePromptTokensDetails": [{ "modality": "TEXT", "tokenCount": 1_096 }]
            },
            "modelVersion": "gemini-2.5-flash",
            "createTime": "2025-09-01T10:00:00.000000Z",
            "responseId": "abc"
        });
        let usage = Usage::from_gemini(&body).unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 1_127,
                output_tokens: 512,
                reasoning_tokens: 204,
                service_tier: ServiceTier::Priority,
                ..Usage::default()
            }
        );
        assert_eq!(usage.total_tokens(), 1_843);
    }

    #[test]
    fn vertex_traffic_types() {
        let tier = |traffic: &str| {
            Usage::from_gemini(&json!({
                "usageMetadata": { "promptTokenCount": 1, "trafficType": traffic }
            }))
            .map(|usage| usage.service_tier)
        };
        assert_eq!(tier("ON_DEMAND"), Ok(ServiceTier::Standard));
        assert_eq!(tier("ON_DEMAND_FLEX"), Ok(ServiceTier::Flex));
        assert_eq!(tier("PROVISIONED_THROUGHPUT"), Ok(ServiceTier::Standard));
        assert!(matches!(
            tier("SPOT"),
            Err(UsageError::UnknownServiceTier { .. })
        ));
    }

    /// A prompt blocked by safety filters: no candidates, so no candidates
    /// count, and the prompt is still billed.
    #[test]
    fn blocked_prompt_omits_zero_counters() {
        let body = json!({
            "promptFeedback": { "blockReason": "SAFETY" },
            "usageMetadata": { "promptTokenCount": 8, "totalTokenCount": 8 },
            "modelVersion": "gemini-2.5-flash"
        });
        assert_eq!(Usage::from_gemini(&body).unwrap(), Usage::new(8, 0));
    }
}
