//! OpenAI's usage reports, from Chat Completions and from Responses.
//!
//! Both APIs count *inclusively*: the prompt counter already contains the
//! cached (and, in Chat Completions, audio) tokens, and the output counter
//! already contains the reasoning (and audio) tokens. Normalising therefore
//! subtracts each detail from its parent, and a detail larger than its parent
//! is an error rather than a wrap to a huge count or a clamp to zero.
//!
//! Servers that copy Chat Completions read the same way, with two dialects:
//! xAI counts reasoning beside the output counter rather than inside it
//! (the reported total says which), and DeepSeek reports its cache hits in
//! fields of its own.

use serde_json::Value;

use crate::usage::field_path::FieldPath;
use crate::usage::json::{saturate, Count, JsonObject};
use crate::usage::{Usage, UsageError, UsageFormat};

impl Usage {
    /// Normalises an OpenAI Chat Completions response body (`chat.completion`,
    /// or the last `chat.completion.chunk` of a stream requested with
    /// `stream_options: {"include_usage": true}`).
    ///
    /// Rules, after the [API reference] for the `usage` object:
    ///
    /// | Reported | Normalised |
    /// |---|---|
    /// | `usage.prompt_tokens` (required) | `input_tokens` + `cache_read_tokens` + `input_audio_tokens` |
    /// | `usage.prompt_tokens_details.cached_tokens` | `cache_read_tokens` |
    /// | `usage.prompt_cache_hit_tokens` (DeepSeek) | `cache_read_tokens` |
    /// | `usage.prompt_cache_miss_tokens` (DeepSeek) | checked: hits + misses = `prompt_tokens` |
    /// | `usage.prompt_tokens_details.audio_tokens` | `input_audio_tokens` |
    /// | `usage.completion_tokens` (required) | `output_tokens` + `reasoning_tokens` + `output_audio_tokens` (xAI: without `reasoning_tokens`) |
    /// | `usage.completion_tokens_details.reasoning_tokens` | `reasoning_tokens` |
    /// | `usage.completion_tokens_details.audio_tokens` | `output_audio_tokens` |
    /// | `service_tier` (top level) | `service_tier` |
    ///
    /// - `cached_tokens` and `audio_tokens` are taken as disjoint parts of
    ///   `prompt_tokens` (the API reports no cached-audio count); together
    ///   they must not exceed it. Likewise `reasoning_tokens` and
    ///   `audio_tokens` must not exceed `completion_tokens`.
    /// - Predicted Outputs' `accepted_prediction_tokens` and
    ///   `rejected_prediction_tokens` are already inside `completion_tokens`
    ///   and billed as output ([Predicted Outputs]), so they stay in
    ///   `output_tokens`; they are still checked to be valid counters that
    ///   together fit inside `completion_tokens`.
    /// - Reasoning is counted inside `completion_tokens` by OpenAI and
    ///   beside it by xAI, whose `total_tokens` is `prompt_tokens +
    ///   completion_tokens + reasoning_tokens`. `usage.total_tokens` tells
    ///   the two apart: it must equal one of those sums, or the report is
    ///   [`UsageError::TotalFitsNeitherConvention`]. Without a total, the
    ///   reasoning is taken to be inside, as OpenAI documents.
    /// - DeepSeek reports its cache hits as `prompt_cache_hit_tokens`; when
    ///   `cached_tokens` is reported too, the two must agree
    ///   ([`UsageError::CacheCountsDisagree`]). `prompt_cache_miss_tokens`,
    ///   when present, must be the rest of `prompt_tokens`.
    /// - A missing or `null` `service_tier` is the standard tier (Azure and
    ///   compatible servers omit it); a name [`ServiceTier::from_provider_name`]
    ///   does not know (such as `"scale"`) is [`UsageError::UnknownServiceTier`];
    ///   [`UsageReport`](crate::usage::UsageReport) keeps such a call, to be
    ///   billed at the dearest price the model has.
    ///
    /// [API reference]: https://platform.openai.com/docs/api-reference/chat/object
    /// [Predicted Outputs]: https://platform.openai.com/docs/guides/predicted-outputs
    /// [`ServiceTier::from_provider_name`]: crate::usage::ServiceTier::from_provider_name
    ///
    /// ```
    /// use serde_json::json;
    /// use spendguard::Usage;
    /// use spendguard::usage::ServiceTier;
    ///
    /// let body = json!({
    ///     "object": "chat.completion",
    ///     "service_tier": "flex",
    ///     "usage": {
    ///         "prompt_tokens": 2006,
    ///         "completion_tokens": 300,
    ///         "total_tokens": 2306,
    ///         "prompt_tokens_details": { "cached_tokens": 1920, "audio_tokens": 0 },
    ///         "completion_tokens_details": { "reasoning_tokens": 128, "audio_tokens": 0 }
    ///     }
    /// });
    /// let usage = Usage::from_openai_chat(&body)?;
    /// assert_eq!(usage.input_tokens, 86);
    /// assert_eq!(usage.cache_read_tokens, 1920);
    /// assert_eq!(usage.output_tokens, 172);
    /// assert_eq!(usage.reasoning_tokens, 128);
    /// assert_eq!(usage.service_tier, ServiceTier::Flex);
    /// assert_eq!(usage.total_tokens(), 2306);
    /// # Ok::<(), spendguard::usage::UsageError>(())
    /// ```
    pub fn from_openai_chat(body: &Value) -> Result<Usage, UsageError> {
        let body = JsonObject::root(UsageFormat::OpenAiChat, body)?;
        let usage = body.usage("usage")?;
        let counts = ChatCounts {
            prompt: usage.required_count("prompt_tokens")?,
            cached: usage.optional_detail_count("prompt_tokens_details", "cached_tokens")?,
            cache_hit: usage.optional_count("prompt_cache_hit_tokens")?,
            cache_miss: usage.optional_count("prompt_cache_miss_tokens")?,
            input_audio: usage.detail_count("prompt_tokens_details", "audio_tokens")?,
            completion: usage.required_count("completion_tokens")?,
            reasoning: usage.detail_count("completion_tokens_details", "reasoning_tokens")?,
            output_audio: usage.detail_count("completion_tokens_details", "audio_tokens")?,
            accepted: usage
                .detail_count("completion_tokens_details", "accepted_prediction_tokens")?,
            rejected: usage
                .detail_count("completion_tokens_details", "rejected_prediction_tokens")?,
            total: usage.optional_count("total_tokens")?,
        };
        Ok(counts
            .normalise()?
            .with_service_tier(body.service_tier("service_tier")?.unwrap_or_default()))
    }

    /// Normalises an OpenAI Responses response body (`object: "response"`).
    /// For a stream, pass the `response` of the `response.completed` (or
    /// `response.incomplete`) event.
    ///
    /// Rules, after the [API reference] for the `usage` object:
    ///
    /// | Reported | Normalised |
    /// |---|---|
    /// | `usage.input_tokens` (required) | `input_tokens` + `cache_read_tokens` |
    /// | `usage.input_tokens_details.cached_tokens` | `cache_read_tokens` |
    /// | `usage.output_tokens` (required) | `output_tokens` + `reasoning_tokens` |
    /// | `usage.output_tokens_details.reasoning_tokens` | `reasoning_tokens` |
    /// | `service_tier` (top level) | `service_tier` |
    ///
    /// - `cached_tokens` must not exceed `input_tokens`, nor
    ///   `reasoning_tokens` `output_tokens`.
    /// - `usage.total_tokens`, when present, must equal `input_tokens +
    ///   output_tokens`, or (xAI's way of counting, as in
    ///   [`Usage::from_openai_chat`]) `input_tokens + output_tokens +
    ///   reasoning_tokens`, when the reasoning is beside the output.
    /// - The service tier follows the same rules as
    ///   [`Usage::from_openai_chat`].
    ///
    /// [API reference]: https://platform.openai.com/docs/api-reference/responses/object
    ///
    /// ```
    /// use serde_json::json;
    /// use spendguard::Usage;
    ///
    /// let body = json!({
    ///     "object": "response",
    ///     "status": "completed",
    ///     "service_tier": "default",
    ///     "usage": {
    ///         "input_tokens": 75,
    ///         "input_tokens_details": { "cached_tokens": 0 },
    ///         "output_tokens": 1186,
    ///         "output_tokens_details": { "reasoning_tokens": 1024 },
    ///         "total_tokens": 1261
    ///     }
    /// });
    /// let usage = Usage::from_openai_responses(&body)?;
    /// assert_eq!((usage.output_tokens, usage.reasoning_tokens), (162, 1024));
    /// assert_eq!(usage.total_tokens(), 1261);
    /// # Ok::<(), spendguard::usage::UsageError>(())
    /// ```
    pub fn from_openai_responses(body: &Value) -> Result<Usage, UsageError> {
        let body = JsonObject::root(UsageFormat::OpenAiResponses, body)?;
        let format = body.format();
        let usage = body.usage("usage")?;

        let input = usage.required_count("input_tokens")?;
        let cached = usage.detail_count("input_tokens_details", "cached_tokens")?;
        let output = usage.required_count("output_tokens")?;
        let reasoning = usage.detail_count("output_tokens_details", "reasoning_tokens")?;

        let input_tokens = input.without(&[&cached], format)?.tokens;
        let total = usage.optional_count("total_tokens")?;
        let output_tokens =
            match reasoning_place(&input, &output, &reasoning, total.as_ref(), format)? {
                Reasoning::Inside => output.without(&[&reasoning], format)?.tokens,
                Reasoning::Beside => output.tokens,
            };

        Ok(Usage {
            input_tokens,
            cache_read_tokens: cached.tokens,
            output_tokens,
            reasoning_tokens: reasoning.tokens,
            service_tier: body.service_tier("service_tier")?.unwrap_or_default(),
            ..Usage::default()
        })
    }
}

/// The counters of one Chat Completions usage report, however they were read
/// (from JSON, or from a client library's structs), so that every reader
/// applies the same rules.
pub(super) struct ChatCounts {
    /// `usage.prompt_tokens`.
    pub(super) prompt: Count,
    /// `usage.prompt_tokens_details.cached_tokens`, if reported.
    pub(super) cached: Option<Count>,
    /// DeepSeek's `usage.prompt_cache_hit_tokens`, if reported.
    pub(super) cache_hit: Option<Count>,
    /// DeepSeek's `usage.prompt_cache_miss_tokens`, if reported.
    pub(super) cache_miss: Option<Count>,
    /// `usage.prompt_tokens_details.audio_tokens`.
    pub(super) input_audio: Count,
    /// `usage.completion_tokens`.
    pub(super) completion: Count,
    /// `usage.completion_tokens_details.reasoning_tokens`.
    pub(super) reasoning: Count,
    /// `usage.completion_tokens_details.audio_tokens`.
    pub(super) output_audio: Count,
    /// `usage.completion_tokens_details.accepted_prediction_tokens`.
    pub(super) accepted: Count,
    /// `usage.completion_tokens_details.rejected_prediction_tokens`.
    pub(super) rejected: Count,
    /// `usage.total_tokens`, if reported.
    pub(super) total: Option<Count>,
}

impl ChatCounts {
    /// The rules of [`Usage::from_openai_chat`], at the standard tier.
    pub(super) fn normalise(self) -> Result<Usage, UsageError> {
        let format = UsageFormat::OpenAiChat;
        let ChatCounts {
            prompt,
            cached,
            cache_hit,
            cache_miss,
            input_audio,
            completion,
            reasoning,
            output_audio,
            accepted,
            rejected,
            total,
        } = self;
        let cached = cache_hits(cached, cache_hit, format)?;
        let input_tokens = prompt.without(&[&cached, &input_audio], format)?.tokens;
        if let Some(miss) = cache_miss {
            prompt.check_total(&[&cached, &miss], format)?;
        }
        let output_tokens =
            match reasoning_place(&prompt, &completion, &reasoning, total.as_ref(), format)? {
                Reasoning::Inside => completion.without(&[&reasoning, &output_audio], format)?,
                Reasoning::Beside => completion.without(&[&output_audio], format)?,
            }
            .tokens;
        completion.without(&[&accepted, &rejected], format)?;
        Ok(Usage {
            input_tokens,
            cache_read_tokens: cached.tokens,
            input_audio_tokens: input_audio.tokens,
            output_tokens,
            reasoning_tokens: reasoning.tokens,
            output_audio_tokens: output_audio.tokens,
            ..Usage::default()
        })
    }
}

/// The prompt's cache hits, from OpenAI's `cached_tokens` or DeepSeek's
/// `prompt_cache_hit_tokens`, whichever is reported; two that disagree are
/// an error rather than a guess at which one the bill used.
fn cache_hits(
    cached: Option<Count>,
    hit: Option<Count>,
    format: UsageFormat,
) -> Result<Count, UsageError> {
    match (cached, hit) {
        (Some(cached), Some(hit)) if cached.tokens != hit.tokens => {
            Err(UsageError::CacheCountsDisagree {
                format,
                cached: cached.path.to_string(),
                cached_tokens: cached.tokens,
                hit: hit.path.to_string(),
                hit_tokens: hit.tokens,
            })
        }
        (Some(cached), _) => Ok(cached),
        (None, Some(hit)) => Ok(hit),
        (None, None) => Ok(Count {
            path: FieldPath::Named("usage.prompt_tokens_details.cached_tokens"),
            tokens: 0,
        }),
    }
}

/// Where a report counts its reasoning tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reasoning {
    /// Inside the output counter (OpenAI).
    Inside,
    /// Beside it, as a further part of the total (xAI).
    Beside,
}

/// Whether `reasoning` is part of `output` (OpenAI: total = prompt +
/// output) or beside it (xAI: total = prompt + output + reasoning), told
/// apart by the reported total. Without a total, OpenAI's reading; with one
/// that fits neither reading, an error.
fn reasoning_place(
    prompt: &Count,
    output: &Count,
    reasoning: &Count,
    total: Option<&Count>,
    format: UsageFormat,
) -> Result<Reasoning, UsageError> {
    let Some(total) = total else {
        return Ok(Reasoning::Inside);
    };
    let inside = u128::from(prompt.tokens) + u128::from(output.tokens);
    let beside = inside + u128::from(reasoning.tokens);
    match u128::from(total.tokens) {
        reported if reported == inside => Ok(Reasoning::Inside),
        reported if reported == beside => Ok(Reasoning::Beside),
        _ if reasoning.tokens == 0 => total
            .check_total(&[prompt, output], format)
            .map(|()| Reasoning::Inside),
        _ => Err(UsageError::TotalFitsNeitherConvention {
            format,
            total: total.path.to_string(),
            reported: total.tokens,
            parts: format!("{} + {}", prompt.path, output.path),
            inside: saturate(inside),
            reasoning: reasoning.path.to_string(),
            beside: saturate(beside),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::usage::ServiceTier;

    use super::*;

    /// The shape of the API reference's `chat.completion` example.
    #[test]
    fn plain_chat_completion() {
        let body = json!({
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "object": "chat.completion",
            "created": 1741569952,
            "model": "gpt-4.1-2025-04-14",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": "Hello! How can I assist you today?", "refusal": null, "annotations": [] },
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": 19,
                "completion_tokens": 10,
                "total_tokens": 29,
                "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0
                }
            },
            "service_tier": "default"
        });
        let usage = Usage::from_openai_chat(&body).unwrap();
        assert_eq!(usage, Usage::new(19, 10));
        assert_eq!(usage.total_tokens(), 29);
    }

    #[test]
    fn cached_prompt_and_reasoning_at_priority() {
        let body = json!({
            "object": "chat.completion",
            "model": "o4-mini-2025-04-16",
            "service_tier": "priority",
            "usage": {
                "prompt_tokens": 4_096,
                "completion_tokens": 1_500,
                "total_tokens": 5_596,
                "prompt_tokens_details": { "cached_tokens": 3_072, "audio_tokens": 0 },
                "completion_tokens_details": {
                    "reasoning_tokens": 1_280,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0
                }
            }
        });
        let usage = Usage::from_openai_chat(&body).unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 1_024,
                cache_read_tokens: 3_072,
                output_tokens: 220,
                reasoning_tokens: 1_280,
                service_tier: ServiceTier::Priority,
                ..Usage::default()
            }
        );
        assert_eq!(usage.total_tokens(), 5_596);
    }

    /// An audio-in, audio-out call to `gpt-4o-audio-preview`.
    #[test]
    fn audio_in_and_out() {
        let body = json!({
            "object": "chat.completion",
            "model": "gpt-4o-audio-preview-2025-06-03",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": null,
                    "audio": { "id": "audio_abc123", "expires_at": 1729018505, "data": "<bytes omitted>", "transcript": "Yes, golden retrievers are known to be quite friendly." }
                },
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": 96,
                "completion_tokens": 139,
                "total_tokens": 235,
                "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 80 },
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 113,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0
                }
            },
            "service_tier": "default"
        });
        let usage = Usage::from_openai_chat(&body).unwrap();
        assert_eq!((usage.input_tokens, usage.input_audio_tokens), (16, 80));
        assert_eq!((usage.output_tokens, usage.output_audio_tokens), (26, 113));
        assert_eq!(usage.total_tokens(), 235);
    }

    /// Rejected predictions are billed as output, so they stay in
    /// `output_tokens`.
    #[test]
    fn predicted_outputs_stay_in_output() {
        let body = json!({
            "object": "chat.completion",
            "model": "gpt-4.1-2025-04-14",
            "usage": {
                "prompt_tokens": 342,
                "completion_tokens": 412,
                "total_tokens": 754,
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "accepted_prediction_tokens": 312,
                    "rejected_prediction_tokens": 35
                }
            }
        });
        let usage = Usage::from_openai_chat(&body).unwrap();
        assert_eq!(usage, Usage::new(342, 412));
    }

    /// The last chunk of a stream with `include_usage`: no choices, the
    /// usage, and the tier.
    #[test]
    fn final_stream_chunk() {
        let chunk = json!({
            "id": "chatcmpl-123",
            "object": "chat.completion.chunk",
            "created": 1694268190,
            "model": "gpt-4o-mini",
            "system_fingerprint": "fp_44709d6fcb",
            "service_tier": "default",
            "choices": [],
            "usage": { "prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21 }
        });
        assert_eq!(Usage::from_openai_chat(&chunk).unwrap(), Usage::new(9, 12));
        let earlier = json!({ "object": "chat.completion.chunk", "choices": [], "usage": null });
        assert!(matches!(
            Usage::from_openai_chat(&earlier),
            Err(UsageError::MissingUsage { .. })
        ));
    }

    /// A `gpt-4.1` response from the Responses API with a warm prompt cache.
    #[test]
    fn responses_with_cached_input() {
        let body = json!({
            "id": "resp_0cd5d6b8310055d600696a1776b42c81a199fbb02248a8bfa0",
            "object": "response",
            "created_at": 1768560502,
            "status": "completed",
            "model": "gpt-4.1-2025-04-14",
            "output": [{
                "id": "msg_0cd5",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{ "type": "output_text", "annotations": [], "text": "- I provide clear answers." }]
            }],
            "prompt_cache_retention": "24h",
            "service_tier": "default",
            "usage": {
                "input_tokens": 12_033,
                "input_tokens_details": { "cached_tokens": 11_904 },
                "output_tokens": 44,
                "output_tokens_details": { "reasoning_tokens": 0 },
                "total_tokens": 12_077
            }
        });
        let usage = Usage::from_openai_responses(&body).unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 129,
                cache_read_tokens: 11_904,
                output_tokens: 44,
                ..Usage::default()
            }
        );
        assert_eq!(usage.total_tokens(), 12_077);
    }

    #[test]
    fn responses_reasoning_at_flex() {
        let body = json!({
            "object": "response",
            "status": "completed",
            "model": "o3-2025-04-16",
            "service_tier": "flex",
            "usage": {
                "input_tokens": 75,
                "input_tokens_details": { "cached_tokens": 0 },
                "output_tokens": 1_186,
                "output_tokens_details": { "reasoning_tokens": 1_024 },
                "total_tokens": 1_261
            }
        });
        let usage = Usage::from_openai_responses(&body).unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 75,
                output_tokens: 162,
                reasoning_tokens: 1_024,
                service_tier: ServiceTier::Flex,
                ..Usage::default()
            }
        );
        assert_eq!(usage.total_tokens(), 1_261);
    }

    /// xAI counts reasoning beside `completion_tokens`: its total is prompt
    /// + completion + reasoning.
    #[test]
    fn xai_reasoning_beside_the_completion() {
        let body = json!({
            "object": "chat.completion",
            "model": "grok-4.3",
            "usage": {
                "prompt_tokens": 663,
                "completion_tokens": 50,
                "total_tokens": 837,
                "prompt_tokens_details": { "cached_tokens": 654, "audio_tokens": 0, "text_tokens": 663 },
                "completion_tokens_details": { "reasoning_tokens": 124, "audio_tokens": 0 },
                "cost_in_usd_ticks": 0
            }
        });
        let usage = Usage::from_openai_chat(&body).unwrap();
        assert_eq!((usage.input_tokens, usage.cache_read_tokens), (9, 654));
        assert_eq!((usage.output_tokens, usage.reasoning_tokens), (50, 124));
        assert_eq!(usage.total_tokens(), 837);
    }

    /// Without a total the two readings cannot be told apart, and OpenAI's
    /// is the one its API documents.
    #[test]
    fn without_a_total_reasoning_is_inside_the_completion() {
        let body = json!({ "usage": {
            "prompt_tokens": 10, "completion_tokens": 50,
            "completion_tokens_details": { "reasoning_tokens": 20 }
        }});
        let usage = Usage::from_openai_chat(&body).unwrap();
        assert_eq!((usage.output_tokens, usage.reasoning_tokens), (30, 20));
    }

    #[test]
    fn a_total_that_fits_neither_reading_is_an_error() {
        let body = json!({ "usage": {
            "prompt_tokens": 10, "completion_tokens": 50, "total_tokens": 75,
            "completion_tokens_details": { "reasoning_tokens": 20 }
        }});
        assert_eq!(
            Usage::from_openai_chat(&body),
            Err(UsageError::TotalFitsNeitherConvention {
                format: UsageFormat::OpenAiChat,
                total: "usage.total_tokens".into(),
                reported: 75,
                parts: "usage.prompt_tokens + usage.completion_tokens".into(),
                inside: 60,
                reasoning: "usage.completion_tokens_details.reasoning_tokens".into(),
                beside: 80,
            })
        );
    }

    #[test]
    fn responses_reasoning_beside_the_output() {
        let body = json!({ "usage": {
            "input_tokens": 100, "output_tokens": 40, "total_tokens": 440,
            "output_tokens_details": { "reasoning_tokens": 300 }
        }});
        let usage = Usage::from_openai_responses(&body).unwrap();
        assert_eq!((usage.output_tokens, usage.reasoning_tokens), (40, 300));
        assert_eq!(usage.total_tokens(), 440);
    }

    /// DeepSeek reports its cache in `prompt_cache_hit_tokens` and
    /// `prompt_cache_miss_tokens`, which add up to `prompt_tokens`.
    #[test]
    fn deepseek_cache_hits_and_misses() {
        let body = json!({
            "object": "chat.completion",
            "model": "deepseek-v4-flash",
            "usage": {
                "prompt_tokens": 1_000,
                "completion_tokens": 48,
                "total_tokens": 1_048,
                "completion_tokens_details": { "reasoning_tokens": 38 },
                "prompt_cache_hit_tokens": 896,
                "prompt_cache_miss_tokens": 104
            }
        });
        let usage = Usage::from_openai_chat(&body).unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 104,
                cache_read_tokens: 896,
                output_tokens: 10,
                reasoning_tokens: 38,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn deepseek_and_openai_cache_counts_must_agree() {
        let agree = json!({ "usage": {
            "prompt_tokens": 10, "completion_tokens": 1,
            "prompt_tokens_details": { "cached_tokens": 4 },
            "prompt_cache_hit_tokens": 4, "prompt_cache_miss_tokens": 6
        }});
        assert_eq!(
            Usage::from_openai_chat(&agree).unwrap().cache_read_tokens,
            4
        );
        let disagree = json!({ "usage": {
            "prompt_tokens": 10, "completion_tokens": 1,
            "prompt_tokens_details": { "cached_tokens": 0 },
            "prompt_cache_hit_tokens": 4
        }});
        assert_eq!(
            Usage::from_openai_chat(&disagree),
            Err(UsageError::CacheCountsDisagree {
                format: UsageFormat::OpenAiChat,
                cached: "usage.prompt_tokens_details.cached_tokens".into(),
                cached_tokens: 0,
                hit: "usage.prompt_cache_hit_tokens".into(),
                hit_tokens: 4,
            })
        );
    }

    #[test]
    fn deepseek_hits_and_misses_must_add_up_to_the_prompt() {
        let body = json!({ "usage": {
            "prompt_tokens": 10, "completion_tokens": 1,
            "prompt_cache_hit_tokens": 4, "prompt_cache_miss_tokens": 7
        }});
        assert_eq!(
            Usage::from_openai_chat(&body),
            Err(UsageError::InconsistentTotal {
                format: UsageFormat::OpenAiChat,
                total: "usage.prompt_tokens".into(),
                reported: 10,
                parts: "usage.prompt_cache_hit_tokens + usage.prompt_cache_miss_tokens".into(),
                sum: 11,
            })
        );
    }

    #[test]
    fn a_tier_openai_sells_but_spendguard_cannot_price_is_an_error() {
        let body = json!({
            "service_tier": "scale",
            "usage": { "prompt_tokens": 1, "completion_tokens": 1 }
        });
        assert_eq!(
            Usage::from_openai_chat(&body),
            Err(UsageError::UnknownServiceTier {
                format: UsageFormat::OpenAiChat,
                path: "service_tier".into(),
                name: "scale".into(),
            })
        );
    }
}
