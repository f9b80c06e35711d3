//! async-openai's chat usage converts into the same `Usage` as the JSON it
//! was read from, keeps the service tier the answer reports, and a report
//! that does not add up is a `UsageError` naming the field, never a count.
#![cfg(feature = "async-openai")]

use async_openai::types::chat::{
    CompletionTokensDetails, CompletionUsage, CreateChatCompletionResponse,
    CreateChatCompletionStreamResponse, PromptTokensDetails,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use spendguard::usage::{ServiceTier, UsageError, UsageFormat};
use spendguard::Usage;

/// An answer shaped like the API reference's `chat.completion` example.
fn answer(service_tier: Value, usage: Value) -> CreateChatCompletionResponse {
    serde_json::from_value(json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1_741_569_952,
        "model": "gpt-4.1-2025-04-14",
        "service_tier": service_tier,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!", "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": usage
    }))
    .expect("an answer async-openai reads")
}

fn chunk(usage: Value) -> CreateChatCompletionStreamResponse {
    serde_json::from_value(json!({
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1_694_268_190,
        "model": "gpt-4o-mini",
        "choices": [],
        "usage": usage
    }))
    .expect("a chunk async-openai reads")
}

fn plain(prompt: u32, completion: u32, total: u32) -> CompletionUsage {
    CompletionUsage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        prompt_tokens_details: None,
        completion_tokens_details: None,
    }
}

#[test]
fn a_full_answer_fills_every_bucket_and_keeps_its_tier() {
    let response = answer(
        json!("flex"),
        json!({
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 6},
            "completion_tokens_details": {
                "reasoning_tokens": 128,
                "audio_tokens": 2,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        }),
    );
    let usage = Usage::try_from(&response).unwrap();
    assert_eq!(
        usage,
        Usage {
            input_tokens: 80,
            cache_read_tokens: 1920,
            input_audio_tokens: 6,
            output_tokens: 170,
            reasoning_tokens: 128,
            output_audio_tokens: 2,
            service_tier: ServiceTier::Flex,
            ..Usage::default()
        }
    );
    assert_eq!(usage.total_tokens(), 2306);
    // The bare usage object has no tier: standard.
    let bare = Usage::try_from(response.usage.as_ref().unwrap()).unwrap();
    assert_eq!(bare, usage.with_service_tier(ServiceTier::Standard));
}

#[test]
fn default_and_auto_tiers_are_standard_and_an_absent_tier_too() {
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
    for tier in [json!("default"), json!("auto"), Value::Null] {
        let converted = Usage::try_from(&answer(tier.clone(), usage.clone())).unwrap();
        assert_eq!(converted, Usage::new(10, 5), "{tier}");
    }
    let priority = Usage::try_from(&answer(json!("priority"), usage)).unwrap();
    assert_eq!(priority.service_tier, ServiceTier::Priority);
}

#[test]
fn a_tier_spendguard_cannot_price_is_refused_not_billed_as_standard() {
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
    for name in ["scale", "fast"] {
        assert_eq!(
            Usage::try_from(&answer(json!(name), usage.clone())),
            Err(UsageError::UnknownServiceTier {
                format: UsageFormat::OpenAiChat,
                path: "service_tier".into(),
                name: name.into(),
            })
        );
    }
}

#[test]
fn an_answer_or_chunk_without_usage_is_missing_usage() {
    let missing = Err(UsageError::MissingUsage {
        format: UsageFormat::OpenAiChat,
        path: "usage".into(),
    });
    assert_eq!(Usage::try_from(&answer(Value::Null, Value::Null)), missing);
    assert_eq!(Usage::try_from(&chunk(Value::Null)), missing);
}

#[test]
fn the_last_chunk_of_a_stream_carries_the_usage() {
    let last = chunk(json!({"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}));
    assert_eq!(Usage::try_from(&last), Ok(Usage::new(9, 12)));
}

#[test]
fn cached_tokens_above_the_prompt_are_an_error() {
    let usage = CompletionUsage {
        prompt_tokens_details: Some(PromptTokensDetails {
            cached_tokens: Some(2_000),
            ..Default::default()
        }),
        ..plain(1_000, 10, 1_010)
    };
    assert_eq!(
        Usage::try_from(&usage),
        Err(UsageError::DetailExceedsParent {
            format: UsageFormat::OpenAiChat,
            detail: "usage.prompt_tokens_details.cached_tokens \
                     + usage.prompt_tokens_details.audio_tokens"
                .into(),
            detail_tokens: 2_000,
            parent: "usage.prompt_tokens".into(),
            parent_tokens: 1_000,
        })
    );
}

#[test]
fn predictions_larger_than_the_completion_are_an_error() {
    let usage = CompletionUsage {
        completion_tokens_details: Some(CompletionTokensDetails {
            accepted_prediction_tokens: Some(8),
            rejected_prediction_tokens: Some(8),
            ..Default::default()
        }),
        ..plain(10, 10, 20)
    };
    let error = Usage::try_from(&usage).unwrap_err();
    assert!(
        matches!(
            &error,
            UsageError::DetailExceedsParent {
                detail_tokens: 16,
                parent_tokens: 10,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("accepted_prediction_tokens"),
        "{error}"
    );
}

#[test]
fn a_total_that_does_not_add_up_is_an_error() {
    assert_eq!(
        Usage::try_from(&plain(10, 5, 14)),
        Err(UsageError::InconsistentTotal {
            format: UsageFormat::OpenAiChat,
            total: "usage.total_tokens".into(),
            reported: 14,
            parts: "usage.prompt_tokens + usage.completion_tokens".into(),
            sum: 15,
        })
    );
    // async-openai's counters are u32; the sum is checked without wrapping.
    assert!(Usage::try_from(&plain(u32::MAX, 1, 0)).is_err());
}

#[test]
fn counters_that_are_not_token_counts_never_reach_a_completion_usage() {
    for bad in [json!(-5), json!(1.5), json!("12"), json!(5_000_000_000u64)] {
        let usage = json!({"prompt_tokens": bad, "completion_tokens": 1, "total_tokens": 1});
        let read: Result<CompletionUsage, _> = serde_json::from_value(usage);
        assert!(read.is_err(), "async-openai read {bad} as a count");
    }
}

fn arbitrary_usage() -> impl Strategy<Value = CompletionUsage> {
    let detail = || proptest::option::of(0u32..3_000);
    (
        (0u32..5_000, 0u32..5_000, proptest::option::of(0u32..10_000)),
        proptest::option::of((detail(), detail())),
        proptest::option::of((detail(), detail(), detail(), detail())),
    )
        .prop_map(
            |((prompt, completion, total), prompt_details, completion_details)| CompletionUsage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                total_tokens: total.unwrap_or(prompt + completion),
                prompt_tokens_details: prompt_details.map(|(cached_tokens, audio_tokens)| {
                    PromptTokensDetails {
                        cached_tokens,
                        audio_tokens,
                        ..Default::default()
                    }
                }),
                completion_tokens_details: completion_details.map(
                    |(reasoning_tokens, audio_tokens, accepted, rejected)| {
                        CompletionTokensDetails {
                            reasoning_tokens,
                            audio_tokens,
                            accepted_prediction_tokens: accepted,
                            rejected_prediction_tokens: rejected,
                            ..Default::default()
                        }
                    },
                ),
            },
        )
}

proptest! {
    /// The typed conversion and the JSON reader agree on every report, good
    /// or bad: same buckets, or the same error.
    #[test]
    fn the_typed_conversion_agrees_with_the_json_reader(usage in arbitrary_usage()) {
        let body = json!({ "usage": serde_json::to_value(&usage).unwrap() });
        prop_assert_eq!(Usage::try_from(&usage), Usage::from_openai_chat(&body));
    }
}
