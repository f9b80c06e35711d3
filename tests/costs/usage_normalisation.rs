//! Provider usage reports normalise into disjoint buckets that add up to the
//! provider's own total, and a report that cannot be read exactly is an error
//! naming the format and the field, never a silent zero.

use proptest::prelude::*;
use serde_json::{json, Value};
use spendguard::usage::{
    AnthropicStreamUsage, CounterProblem, ServiceTier, UsageError, UsageFormat,
};
use spendguard::Usage;

fn error(format: UsageFormat, body: Value) -> UsageError {
    match Usage::from_response(format, &body) {
        Ok(usage) => panic!("{format} accepted {body} as {usage:?}"),
        Err(err) => err,
    }
}

fn invalid_counter(format: UsageFormat, body: Value) -> (String, CounterProblem) {
    match error(format, body) {
        UsageError::InvalidCounter {
            format: reported,
            path,
            problem,
            ..
        } => {
            assert_eq!(reported, format);
            (path, problem)
        }
        other => panic!("expected an invalid counter, got {other:?}"),
    }
}

fn too_large() -> Value {
    serde_json::from_str("18446744073709551616").unwrap()
}

mod openai_chat {
    use super::*;

    const CHAT: UsageFormat = UsageFormat::OpenAiChat;

    #[test]
    fn a_response_without_usage_is_missing_usage() {
        for body in [json!({ "choices": [] }), json!({ "usage": null })] {
            assert_eq!(
                error(CHAT, body),
                UsageError::MissingUsage {
                    format: CHAT,
                    path: "usage".into()
                }
            );
        }
    }

    #[test]
    fn a_missing_required_counter_is_named() {
        assert_eq!(
            error(CHAT, json!({ "usage": { "prompt_tokens": 5 } })),
            UsageError::MissingField {
                format: CHAT,
                path: "usage.completion_tokens".into()
            }
        );
        assert_eq!(
            error(
                CHAT,
                json!({ "usage": { "prompt_tokens": null, "completion_tokens": 5 } })
            ),
            UsageError::MissingField {
                format: CHAT,
                path: "usage.prompt_tokens".into()
            }
        );
    }

    #[test]
    fn counters_that_are_not_token_counts_are_rejected() {
        let cases = [
            (json!(-3), CounterProblem::Negative),
            (json!(2.5), CounterProblem::NotAnInteger),
            (json!("7"), CounterProblem::NotANumber),
            (too_large(), CounterProblem::TooLarge),
        ];
        for (value, problem) in cases {
            let body = json!({ "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 10,
                "prompt_tokens_details": { "cached_tokens": value }
            }});
            assert_eq!(
                invalid_counter(CHAT, body),
                (
                    "usage.prompt_tokens_details.cached_tokens".to_owned(),
                    problem
                )
            );
        }
    }

    #[test]
    fn a_detail_object_of_the_wrong_type_is_rejected() {
        let body = json!({ "usage": {
            "prompt_tokens": 10, "completion_tokens": 10, "completion_tokens_details": 4
        }});
        assert_eq!(
            error(CHAT, body),
            UsageError::WrongType {
                format: CHAT,
                path: "usage.completion_tokens_details".into(),
                expected: "an object",
                found: "a number",
            }
        );
        assert!(matches!(
            error(CHAT, json!([{ "usage": {} }])),
            UsageError::WrongType { .. }
        ));
    }

    #[test]
    fn details_larger_than_their_parent_are_rejected() {
        let cached = json!({ "usage": {
            "prompt_tokens": 100, "completion_tokens": 10,
            "prompt_tokens_details": { "cached_tokens": 101 }
        }});
        assert_eq!(
            error(CHAT, cached),
            UsageError::DetailExceedsParent {
                format: CHAT,
                detail: "usage.prompt_tokens_details.cached_tokens + usage.prompt_tokens_details.audio_tokens".into(),
                detail_tokens: 101,
                parent: "usage.prompt_tokens".into(),
                parent_tokens: 100,
            }
        );
        let reasoning = json!({ "usage": {
            "prompt_tokens": 100, "completion_tokens": 10,
            "completion_tokens_details": { "reasoning_tokens": 8, "audio_tokens": 3 }
        }});
        assert!(matches!(
            error(CHAT, reasoning),
            UsageError::DetailExceedsParent {
                parent_tokens: 10,
                detail_tokens: 11,
                ..
            }
        ));
        let predictions = json!({ "usage": {
            "prompt_tokens": 100, "completion_tokens": 10,
            "completion_tokens_details": { "accepted_prediction_tokens": 8, "rejected_prediction_tokens": 3 }
        }});
        assert!(matches!(
            error(CHAT, predictions),
            UsageError::DetailExceedsParent { .. }
        ));
    }

    #[test]
    fn an_unknown_tier_is_an_error_not_the_standard_price() {
        for tier in [json!("scale"), json!("")] {
            let body = json!({ "service_tier": tier, "usage": { "prompt_tokens": 1, "completion_tokens": 1 } });
            assert!(matches!(
                error(CHAT, body),
                UsageError::UnknownServiceTier { .. }
            ));
        }
        let body =
            json!({ "service_tier": 1, "usage": { "prompt_tokens": 1, "completion_tokens": 1 } });
        assert!(matches!(error(CHAT, body), UsageError::WrongType { .. }));
    }

    #[test]
    fn a_total_that_does_not_add_up_is_rejected() {
        let body =
            json!({ "usage": { "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 16 } });
        assert_eq!(
            error(CHAT, body),
            UsageError::InconsistentTotal {
                format: CHAT,
                total: "usage.total_tokens".into(),
                reported: 16,
                parts: "usage.prompt_tokens + usage.completion_tokens".into(),
                sum: 15,
            }
        );
    }
}

/// Servers that copy Chat Completions with their own dialect: xAI counts
/// reasoning beside `completion_tokens`, DeepSeek reports cache hits in
/// fields of its own.
mod compatible_dialects {
    use super::*;

    const CHAT: UsageFormat = UsageFormat::OpenAiChat;

    #[test]
    fn xai_and_openai_read_the_same_call_alike() {
        // 600 reasoning and 100 visible tokens, counted both ways.
        let openai = json!({ "usage": {
            "prompt_tokens": 50, "completion_tokens": 700, "total_tokens": 750,
            "completion_tokens_details": { "reasoning_tokens": 600 }
        }});
        let xai = json!({ "usage": {
            "prompt_tokens": 50, "completion_tokens": 100, "total_tokens": 750,
            "completion_tokens_details": { "reasoning_tokens": 600 }
        }});
        let expected = Usage {
            input_tokens: 50,
            output_tokens: 100,
            reasoning_tokens: 600,
            ..Usage::default()
        };
        assert_eq!(Usage::from_openai_chat(&openai).unwrap(), expected);
        assert_eq!(Usage::from_openai_chat(&xai).unwrap(), expected);
    }

    #[test]
    fn a_total_that_adds_up_under_neither_convention_is_rejected() {
        let body = json!({ "usage": {
            "prompt_tokens": 50, "completion_tokens": 100, "total_tokens": 700,
            "completion_tokens_details": { "reasoning_tokens": 600 }
        }});
        let err = error(CHAT, body);
        assert!(
            matches!(
                err,
                UsageError::TotalFitsNeitherConvention {
                    reported: 700,
                    inside: 150,
                    beside: 750,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "OpenAI Chat Completions usage does not add up: `usage.total_tokens` is 700, but \
             `usage.prompt_tokens + usage.completion_tokens` is 150 (reasoning counted inside the \
             output, as OpenAI does) and with `usage.completion_tokens_details.reasoning_tokens` it \
             is 750 (reasoning beside the output, as xAI does)"
        );
    }

    #[test]
    fn xai_reasoning_beside_still_needs_audio_inside() {
        let body = json!({ "usage": {
            "prompt_tokens": 5, "completion_tokens": 10, "total_tokens": 25,
            "completion_tokens_details": { "reasoning_tokens": 10, "audio_tokens": 11 }
        }});
        assert!(matches!(
            error(CHAT, body),
            UsageError::DetailExceedsParent {
                parent_tokens: 10,
                detail_tokens: 11,
                ..
            }
        ));
    }

    #[test]
    fn deepseek_hits_alone_are_cache_reads() {
        let body = json!({ "usage": {
            "prompt_tokens": 100, "completion_tokens": 1,
            "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 36
        }});
        let usage = Usage::from_response(CHAT, &body).unwrap();
        assert_eq!((usage.input_tokens, usage.cache_read_tokens), (36, 64));
    }

    #[test]
    fn deepseek_and_openai_counts_that_disagree_name_both_numbers() {
        let body = json!({ "usage": {
            "prompt_tokens": 100, "completion_tokens": 1,
            "prompt_tokens_details": { "cached_tokens": 60 },
            "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 36
        }});
        let err = error(CHAT, body);
        assert_eq!(
            err.to_string(),
            "OpenAI Chat Completions usage is inconsistent: `usage.prompt_tokens_details.cached_tokens` \
             is 60 but `usage.prompt_cache_hit_tokens` is 64, and both count the prompt's cache hits"
        );
    }

    #[test]
    fn provider_costs_that_are_not_dollars_are_errors_not_zero() {
        use spendguard::usage::{CostProblem, UsageReport};
        let report = |usage: Value| {
            let mut body = json!({ "usage": { "prompt_tokens": 1, "completion_tokens": 1 } });
            for (key, value) in usage.as_object().unwrap() {
                body["usage"][key] = value.clone();
            }
            UsageReport::from_response(CHAT, &body)
        };
        for (usage, expected) in [
            (json!({ "cost": -0.000_1 }), CostProblem::Negative),
            (json!({ "cost": "NaN" }), CostProblem::NotANumber),
            (json!({ "cost": "0.01" }), CostProblem::NotANumber),
            (
                json!({ "cost_in_usd_ticks": -37_756_000 }),
                CostProblem::Negative,
            ),
            (
                json!({ "cost_in_usd_ticks": 3.5 }),
                CostProblem::NotAnInteger,
            ),
            (
                json!({ "cost": { "total_cost": 0.1, "currency": "EUR" } }),
                CostProblem::NotUsd,
            ),
        ] {
            match report(usage.clone()) {
                Err(UsageError::InvalidCost { problem, .. }) => {
                    assert_eq!(problem, expected, "{usage}")
                }
                other => panic!("{usage} gave {other:?}"),
            }
        }
        let err = report(json!({ "cost": -0.5 })).unwrap_err();
        assert_eq!(
            err.to_string(),
            "OpenAI Chat Completions reported cost `usage.cost` is negative (got -0.5); \
             a reported cost must be a non-negative amount of US dollars"
        );
    }

    #[test]
    fn bad_deepseek_counters_are_errors_not_zero() {
        for (hit, miss, problem) in [
            (json!(-1), json!(101), CounterProblem::Negative),
            (json!("64"), json!(36), CounterProblem::NotANumber),
            (json!(64), json!(36.5), CounterProblem::NotAnInteger),
            (too_large(), json!(0), CounterProblem::TooLarge),
        ] {
            let body = json!({ "usage": {
                "prompt_tokens": 100, "completion_tokens": 1,
                "prompt_cache_hit_tokens": hit, "prompt_cache_miss_tokens": miss
            }});
            assert_eq!(invalid_counter(CHAT, body).1, problem);
        }
        let hits_above_prompt = json!({ "usage": {
            "prompt_tokens": 10, "completion_tokens": 1, "prompt_cache_hit_tokens": 11
        }});
        assert!(matches!(
            error(CHAT, hits_above_prompt),
            UsageError::DetailExceedsParent {
                detail_tokens: 11,
                parent_tokens: 10,
                ..
            }
        ));
        let misses_off = json!({ "usage": {
            "prompt_tokens": 10, "completion_tokens": 1,
            "prompt_cache_hit_tokens": 4, "prompt_cache_miss_tokens": 5
        }});
        assert!(matches!(
            error(CHAT, misses_off),
            UsageError::InconsistentTotal {
                reported: 10,
                sum: 9,
                ..
            }
        ));
    }
}

mod openai_responses {
    use super::*;

    const RESPONSES: UsageFormat = UsageFormat::OpenAiResponses;

    #[test]
    fn garbage_is_rejected_with_its_path() {
        assert!(matches!(
            error(RESPONSES, json!({ "status": "failed", "usage": null })),
            UsageError::MissingUsage { .. }
        ));
        assert_eq!(
            error(RESPONSES, json!({ "usage": { "output_tokens": 1 } })),
            UsageError::MissingField {
                format: RESPONSES,
                path: "usage.input_tokens".into()
            }
        );
        assert_eq!(
            invalid_counter(
                RESPONSES,
                json!({ "usage": { "input_tokens": 1, "output_tokens": -1 } })
            ),
            ("usage.output_tokens".to_owned(), CounterProblem::Negative)
        );
        assert_eq!(
            invalid_counter(
                RESPONSES,
                json!({ "usage": { "input_tokens": 1.5, "output_tokens": 1 } })
            ),
            (
                "usage.input_tokens".to_owned(),
                CounterProblem::NotAnInteger
            )
        );
        assert_eq!(
            invalid_counter(
                RESPONSES,
                json!({ "usage": { "input_tokens": "1", "output_tokens": 1 } })
            ),
            ("usage.input_tokens".to_owned(), CounterProblem::NotANumber)
        );
        assert_eq!(
            invalid_counter(
                RESPONSES,
                json!({ "usage": { "input_tokens": too_large(), "output_tokens": 1 } })
            ),
            ("usage.input_tokens".to_owned(), CounterProblem::TooLarge)
        );
        assert!(matches!(
            error(RESPONSES, json!({ "usage": "none" })),
            UsageError::WrongType { .. }
        ));
        assert!(matches!(
            error(
                RESPONSES,
                json!({ "usage": {
                    "input_tokens": 10, "output_tokens": 10,
                    "output_tokens_details": { "reasoning_tokens": 11 }
                }})
            ),
            UsageError::DetailExceedsParent { .. }
        ));
        assert!(matches!(
            error(
                RESPONSES,
                json!({ "service_tier": "turbo", "usage": { "input_tokens": 1, "output_tokens": 1 } })
            ),
            UsageError::UnknownServiceTier { .. }
        ));
        assert!(matches!(
            error(
                RESPONSES,
                json!({ "usage": { "input_tokens": 1, "output_tokens": 1, "total_tokens": 3 } })
            ),
            UsageError::InconsistentTotal { .. }
        ));
    }
}

mod anthropic {
    use super::*;

    const ANTHROPIC: UsageFormat = UsageFormat::AnthropicMessages;

    #[test]
    fn garbage_is_rejected_with_its_path() {
        assert!(matches!(
            error(ANTHROPIC, json!({ "type": "message" })),
            UsageError::MissingUsage { .. }
        ));
        assert_eq!(
            error(ANTHROPIC, json!({ "usage": { "input_tokens": 1 } })),
            UsageError::MissingField {
                format: ANTHROPIC,
                path: "usage.output_tokens".into()
            }
        );
        let cases = [
            (json!(-1), CounterProblem::Negative),
            (json!(0.5), CounterProblem::NotAnInteger),
            (json!("12"), CounterProblem::NotANumber),
            (too_large(), CounterProblem::TooLarge),
        ];
        for (value, problem) in cases {
            let body = json!({ "usage": {
                "input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": value
            }});
            assert_eq!(
                invalid_counter(ANTHROPIC, body),
                ("usage.cache_read_input_tokens".to_owned(), problem)
            );
        }
        assert!(matches!(
            error(
                ANTHROPIC,
                json!({ "usage": { "input_tokens": 1, "output_tokens": 1, "cache_creation": [] } })
            ),
            UsageError::WrongType { .. }
        ));
        assert!(matches!(
            error(
                ANTHROPIC,
                json!({ "usage": { "input_tokens": 1, "output_tokens": 1, "service_tier": "express" } })
            ),
            UsageError::UnknownServiceTier { .. }
        ));
    }

    #[test]
    fn a_cache_breakdown_that_does_not_match_its_total_is_rejected() {
        let body = json!({ "usage": {
            "input_tokens": 1, "output_tokens": 1,
            "cache_creation_input_tokens": 100,
            "cache_creation": { "ephemeral_5m_input_tokens": 80, "ephemeral_1h_input_tokens": 30 }
        }});
        assert_eq!(
            error(ANTHROPIC, body),
            UsageError::InconsistentTotal {
                format: ANTHROPIC,
                total: "usage.cache_creation_input_tokens".into(),
                reported: 100,
                parts: "usage.cache_creation.ephemeral_5m_input_tokens + usage.cache_creation.ephemeral_1h_input_tokens".into(),
                sum: 110,
            }
        );
        let no_total = json!({ "usage": {
            "input_tokens": 1, "output_tokens": 1,
            "cache_creation": { "ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 30 }
        }});
        assert!(matches!(
            error(ANTHROPIC, no_total),
            UsageError::InconsistentTotal {
                reported: 0,
                sum: 30,
                ..
            }
        ));
    }

    fn start(usage: Value) -> Value {
        json!({ "type": "message_start", "message": { "type": "message", "usage": usage } })
    }

    fn delta(usage: Value) -> Value {
        json!({ "type": "message_delta", "delta": { "stop_reason": "end_turn" }, "usage": usage })
    }

    #[test]
    fn stream_garbage_is_rejected() {
        let mut stream = AnthropicStreamUsage::new();
        assert_eq!(
            stream.observe(&delta(json!({ "output_tokens": 5 }))),
            Err(UsageError::UnexpectedEvent {
                format: ANTHROPIC,
                event: "message_delta".into(),
                problem: "before `message_start`",
            })
        );
        assert!(matches!(
            stream.observe(&json!({ "message": {} })),
            Err(UsageError::MissingField { .. })
        ));
        assert!(matches!(
            stream.observe(&start(json!({ "output_tokens": 1 }))),
            Err(UsageError::MissingField { .. })
        ));
        stream
            .observe(&start(json!({ "input_tokens": 10, "output_tokens": 1 })))
            .unwrap();
        assert!(matches!(
            stream.observe(&start(json!({ "input_tokens": 10, "output_tokens": 1 }))),
            Err(UsageError::UnexpectedEvent { .. })
        ));
        assert!(matches!(
            stream.observe(&json!({ "type": "message_delta", "usage": null })),
            Err(UsageError::MissingUsage { .. })
        ));
        assert!(matches!(
            stream.observe(&delta(json!({ "output_tokens": "5" }))),
            Err(UsageError::InvalidCounter { .. })
        ));
        assert_eq!(
            stream.observe(&delta(json!({ "input_tokens": 9, "output_tokens": 5 }))),
            Err(UsageError::CounterDecreased {
                format: ANTHROPIC,
                path: "usage.input_tokens".into(),
                before: 10,
                after: 9,
            })
        );
        assert!(matches!(
            AnthropicStreamUsage::new().finish(),
            Err(UsageError::MissingUsage { .. })
        ));
    }
}

mod gemini {
    use super::*;

    const GEMINI: UsageFormat = UsageFormat::Gemini;

    #[test]
    fn garbage_is_rejected_with_its_path() {
        assert_eq!(
            error(GEMINI, json!({ "candidates": [] })),
            UsageError::MissingUsage {
                format: GEMINI,
                path: "usageMetadata".into()
            }
        );
        assert!(matches!(
            error(
                GEMINI,
                json!({ "usageMetadata": { "candidatesTokenCount": 3 } })
            ),
            UsageError::MissingField { .. }
        ));
        let cases = [
            (json!(-4), CounterProblem::Negative),
            (json!(4.2), CounterProblem::NotAnInteger),
            (json!("4"), CounterProblem::NotANumber),
            (too_large(), CounterProblem::TooLarge),
        ];
        for (value, problem) in cases {
            let body = json!({ "usageMetadata": {
                "promptTokenCount": 10,
                "promptTokensDetails": [{ "modality": "TEXT", "tokenCount": 5 }, { "modality": "AUDIO", "tokenCount": value }]
            }});
            assert_eq!(
                invalid_counter(GEMINI, body),
                (
                    "usageMetadata.promptTokensDetails[1].tokenCount".to_owned(),
                    problem
                )
            );
        }
        assert_eq!(
            error(
                GEMINI,
                json!({ "usageMetadata": { "promptTokenCount": 10, "cacheTokensDetails": [7] } })
            ),
            UsageError::WrongType {
                format: GEMINI,
                path: "usageMetadata.cacheTokensDetails[0]".into(),
                expected: "an object",
                found: "a number",
            }
        );
        assert!(matches!(
            error(
                GEMINI,
                json!({ "usageMetadata": { "promptTokenCount": 10, "trafficType": "SPOT" } })
            ),
            UsageError::UnknownServiceTier { .. }
        ));
    }

    #[test]
    fn details_larger_than_their_parent_are_rejected() {
        let parent = |body: Value| match error(GEMINI, body) {
            UsageError::DetailExceedsParent { parent, .. } => parent,
            other => panic!("expected a detail above its parent, got {other:?}"),
        };
        assert_eq!(
            parent(
                json!({ "usageMetadata": { "promptTokenCount": 10, "cachedContentTokenCount": 11 } })
            ),
            "usageMetadata.promptTokenCount"
        );
        assert_eq!(
            parent(json!({ "usageMetadata": {
                "promptTokenCount": 10, "cachedContentTokenCount": 2,
                "cacheTokensDetails": [{ "modality": "AUDIO", "tokenCount": 3 }]
            }})),
            "usageMetadata.cachedContentTokenCount"
        );
        // All the audio was fresh, but more of the prompt came from the cache
        // than the prompt had text.
        assert_eq!(
            parent(json!({ "usageMetadata": {
                "promptTokenCount": 10, "cachedContentTokenCount": 6,
                "promptTokensDetails": [{ "modality": "AUDIO", "tokenCount": 5 }]
            }})),
            "usageMetadata.promptTokenCount - usageMetadata.cachedContentTokenCount"
        );
        assert_eq!(
            parent(json!({ "usageMetadata": {
                "promptTokenCount": 10, "candidatesTokenCount": 3,
                "candidatesTokensDetails": [{ "modality": "AUDIO", "tokenCount": 4 }]
            }})),
            "usageMetadata.candidatesTokenCount"
        );
    }

    /// The reference defines the total as prompt + candidates + thoughts +
    /// tool-use prompt: a total that leaves out thoughts is not accepted.
    #[test]
    fn a_total_that_does_not_add_up_is_rejected() {
        let body = json!({ "usageMetadata": {
            "promptTokenCount": 20, "candidatesTokenCount": 198, "thoughtsTokenCount": 405, "totalTokenCount": 218
        }});
        assert_eq!(
            error(GEMINI, body),
            UsageError::InconsistentTotal {
                format: GEMINI,
                total: "usageMetadata.totalTokenCount".into(),
                reported: 218,
                parts: "usageMetadata.promptTokenCount + usageMetadata.candidatesTokenCount + usageMetadata.thoughtsTokenCount + usageMetadata.toolUsePromptTokenCount".into(),
                sum: 623,
            }
        );
    }

    #[test]
    fn a_stream_passed_as_a_whole_array_is_rejected() {
        let err = error(
            GEMINI,
            json!([{ "usageMetadata": { "promptTokenCount": 1 } }]),
        );
        assert!(err.to_string().contains("not a list"), "{err}");
    }
}

#[test]
fn error_messages_name_the_format_and_the_field() {
    let err = error(
        UsageFormat::OpenAiChat,
        json!({ "usage": { "prompt_tokens": 10, "completion_tokens": -2 } }),
    );
    assert_eq!(
        err.to_string(),
        "OpenAI Chat Completions token counter `usage.completion_tokens` is negative (got -2); \
         a token count must be a whole number from 0 to 18446744073709551615"
    );
}

/// Bounded so that any sum of parts fits in a u64 and the provider's totals
/// are well defined.
const MAX_PART: u64 = u64::MAX / 16;

fn part() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), 0..10_000u64, 0..=MAX_PART]
}

fn tier() -> impl Strategy<Value = (Option<&'static str>, ServiceTier)> {
    prop_oneof![
        Just((None, ServiceTier::Standard)),
        Just((Some("default"), ServiceTier::Standard)),
        Just((Some("flex"), ServiceTier::Flex)),
        Just((Some("priority"), ServiceTier::Priority)),
    ]
}

/// Sets `key` to `value`, or leaves it out when zero and `omit` says so:
/// providers leave out counters of what did not happen.
fn put(object: &mut Value, key: &str, value: u64, omit: bool) {
    if !(omit && value == 0) {
        object[key] = json!(value);
    }
}

proptest! {
    #[test]
    fn openai_chat_buckets_partition_the_reported_counts(
        text in part(), cached in part(), audio_in in part(),
        visible in part(), reasoning in part(), audio_out in part(),
        (tier_name, tier) in tier(), with_total in any::<bool>(),
    ) {
        let prompt = text + cached + audio_in;
        let completion = visible + reasoning + audio_out;
        let mut body = json!({ "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "prompt_tokens_details": { "cached_tokens": cached, "audio_tokens": audio_in },
            "completion_tokens_details": { "reasoning_tokens": reasoning, "audio_tokens": audio_out }
        }});
        if with_total {
            body["usage"]["total_tokens"] = json!(prompt + completion);
        }
        if let Some(name) = tier_name {
            body["service_tier"] = json!(name);
        }
        let usage = Usage::from_openai_chat(&body).unwrap();
        prop_assert_eq!(usage, Usage {
            input_tokens: text,
            cache_read_tokens: cached,
            input_audio_tokens: audio_in,
            output_tokens: visible,
            reasoning_tokens: reasoning,
            output_audio_tokens: audio_out,
            service_tier: tier,
            ..Usage::default()
        });
        prop_assert_eq!(usage.prompt_tokens(), prompt);
        prop_assert_eq!(usage.billed_output_tokens(), completion);
        prop_assert_eq!(usage.total_tokens(), prompt + completion);
    }

    #[test]
    fn openai_responses_buckets_partition_the_reported_counts(
        fresh in part(), cached in part(), visible in part(), reasoning in part(),
        (tier_name, tier) in tier(),
    ) {
        let input = fresh + cached;
        let output = visible + reasoning;
        let mut body = json!({ "usage": {
            "input_tokens": input,
            "input_tokens_details": { "cached_tokens": cached },
            "output_tokens": output,
            "output_tokens_details": { "reasoning_tokens": reasoning },
            "total_tokens": input + output
        }});
        if let Some(name) = tier_name {
            body["service_tier"] = json!(name);
        }
        let usage = Usage::from_openai_responses(&body).unwrap();
        prop_assert_eq!(usage, Usage {
            input_tokens: fresh,
            cache_read_tokens: cached,
            output_tokens: visible,
            reasoning_tokens: reasoning,
            service_tier: tier,
            ..Usage::default()
        });
        prop_assert_eq!(usage.total_tokens(), input + output);
    }

    #[test]
    fn anthropic_buckets_are_the_reported_counts(
        input in part(), cache_read in part(), five_minute in part(), one_hour in part(),
        output in part(), with_breakdown in any::<bool>(), omit_zeros in any::<bool>(),
    ) {
        let one_hour = if with_breakdown { one_hour } else { 0 };
        let mut usage = json!({ "input_tokens": input, "output_tokens": output });
        put(&mut usage, "cache_read_input_tokens", cache_read, omit_zeros);
        put(&mut usage, "cache_creation_input_tokens", five_minute + one_hour, omit_zeros);
        if with_breakdown {
            usage["cache_creation"] = json!({
                "ephemeral_5m_input_tokens": five_minute,
                "ephemeral_1h_input_tokens": one_hour
            });
        }
        let body = json!({ "type": "message", "usage": usage });
        let normalised = Usage::from_anthropic(&body).unwrap();
        prop_assert_eq!(normalised, Usage {
            input_tokens: input,
            cache_read_tokens: cache_read,
            cache_write_tokens: five_minute,
            cache_write_1h_tokens: one_hour,
            output_tokens: output,
            ..Usage::default()
        });
        // Anthropic's total input is input + cache writes + cache reads.
        prop_assert_eq!(normalised.prompt_tokens(), input + cache_read + five_minute + one_hour);
        prop_assert_eq!(normalised.total_tokens(), input + cache_read + five_minute + one_hour + output);
    }

    #[test]
    fn an_anthropic_stream_ends_where_the_whole_response_would(
        input in part(), cache_read in part(), cache_write in part(),
        first_output in 0..5u64, increments in prop::collection::vec(0..1_000u64, 1..6),
    ) {
        let start_usage = json!({
            "input_tokens": input,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_write,
            "output_tokens": first_output,
            "service_tier": "priority"
        });
        let mut stream = AnthropicStreamUsage::new();
        stream.observe(&json!({ "type": "message_start", "message": { "usage": start_usage } })).unwrap();
        let mut output = first_output;
        for increment in increments {
            output += increment;
            stream.observe(&json!({
                "type": "content_block_delta", "index": 0,
                "delta": { "type": "text_delta", "text": "…" }
            })).unwrap();
            stream.observe(&json!({
                "type": "message_delta", "delta": { "stop_reason": null },
                "usage": { "output_tokens": output }
            })).unwrap();
        }
        let whole = json!({ "usage": {
            "input_tokens": input,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_write,
            "output_tokens": output,
            "service_tier": "priority"
        }});
        prop_assert_eq!(stream.finish().unwrap(), Usage::from_anthropic(&whole).unwrap());
    }

    #[test]
    fn gemini_buckets_partition_the_reported_counts(
        fresh_text in part(), fresh_audio in part(), cached_text in part(), cached_audio in part(),
        tool_use in part(), text_out in part(), audio_out in part(), thoughts in part(),
        omit_zeros in any::<bool>(),
    ) {
        let prompt = fresh_text + fresh_audio + cached_text + cached_audio;
        let cached = cached_text + cached_audio;
        let candidates = text_out + audio_out;
        let total = prompt + candidates + thoughts + tool_use;
        let mut metadata = json!({
            "promptTokenCount": prompt,
            "totalTokenCount": total,
            "promptTokensDetails": [
                { "modality": "TEXT", "tokenCount": fresh_text + cached_text },
                { "modality": "AUDIO", "tokenCount": fresh_audio + cached_audio }
            ],
            "cacheTokensDetails": [
                { "modality": "TEXT", "tokenCount": cached_text },
                { "modality": "AUDIO", "tokenCount": cached_audio }
            ],
            "candidatesTokensDetails": [
                { "modality": "TEXT", "tokenCount": text_out },
                { "modality": "AUDIO", "tokenCount": audio_out }
            ]
        });
        put(&mut metadata, "cachedContentTokenCount", cached, omit_zeros);
        put(&mut metadata, "candidatesTokenCount", candidates, omit_zeros);
        put(&mut metadata, "thoughtsTokenCount", thoughts, omit_zeros);
        put(&mut metadata, "toolUsePromptTokenCount", tool_use, omit_zeros);
        let usage = Usage::from_gemini(&json!({ "usageMetadata": metadata })).unwrap();
        prop_assert_eq!(usage, Usage {
            input_tokens: fresh_text + tool_use,
            cache_read_tokens: cached,
            input_audio_tokens: fresh_audio,
            output_tokens: text_out,
            reasoning_tokens: thoughts,
            output_audio_tokens: audio_out,
            ..Usage::default()
        });
        prop_assert_eq!(usage.total_tokens(), total);
    }

    /// Whatever a counter holds, it is either read exactly or rejected.
    #[test]
    fn a_counter_is_read_exactly_or_rejected(value in prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".*".prop_map(|s| json!(s)),
    ]) {
        let body = json!({ "usage": { "input_tokens": value.clone(), "output_tokens": 0 } });
        match Usage::from_anthropic(&body) {
            Ok(usage) => prop_assert_eq!(Some(usage.input_tokens), value.as_u64()),
            Err(UsageError::InvalidCounter { .. }) => prop_assert!(value.as_u64().is_none()),
            Err(other) => prop_assert!(value.is_null(), "unexpected {:?}", other),
        }
    }
}

proptest! {
    /// Whichever way a server counts reasoning, the buckets add up to its
    /// own total, and reasoning is never counted twice or dropped.
    #[test]
    fn reasoning_inside_or_beside_adds_up_to_the_reported_total(
        prompt in part(), visible in part(), reasoning in part(), beside in any::<bool>(),
    ) {
        let completion = if beside { visible } else { visible + reasoning };
        let body = json!({ "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + visible + reasoning,
            "completion_tokens_details": { "reasoning_tokens": reasoning }
        }});
        let usage = Usage::from_openai_chat(&body).unwrap();
        prop_assert_eq!((usage.output_tokens, usage.reasoning_tokens), (visible, reasoning));
        prop_assert_eq!(usage.total_tokens(), prompt + visible + reasoning);
    }

    /// DeepSeek's hits and misses partition the prompt, with or without
    /// OpenAI's `cached_tokens` beside them.
    #[test]
    fn deepseek_hits_and_misses_partition_the_prompt(
        hit in part(), miss in part(), output in part(), with_cached in any::<bool>(),
    ) {
        let mut body = json!({ "usage": {
            "prompt_tokens": hit + miss,
            "completion_tokens": output,
            "total_tokens": hit + miss + output,
            "prompt_cache_hit_tokens": hit,
            "prompt_cache_miss_tokens": miss
        }});
        if with_cached {
            body["usage"]["prompt_tokens_details"] = json!({ "cached_tokens": hit });
        }
        let usage = Usage::from_openai_chat(&body).unwrap();
        prop_assert_eq!((usage.input_tokens, usage.cache_read_tokens), (miss, hit));
        prop_assert_eq!(usage.total_tokens(), hit + miss + output);
    }
}
