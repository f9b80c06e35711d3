//! Unit tests of `usage`.

use super::*;

#[test]
fn buckets_add_up_without_overlap() {
    let usage = Usage {
        input_tokens: 1,
        cache_read_tokens: 2,
        cache_write_tokens: 4,
        cache_write_1h_tokens: 8,
        input_audio_tokens: 16,
        output_tokens: 32,
        reasoning_tokens: 64,
        output_audio_tokens: 128,
        service_tier: ServiceTier::Standard,
    };
    assert_eq!(usage.prompt_tokens(), 31);
    assert_eq!(usage.billed_output_tokens(), 224);
    assert_eq!(usage.total_tokens(), 255);
}

#[test]
fn counts_saturate_instead_of_wrapping() {
    let usage = Usage::new(u64::MAX, u64::MAX);
    assert_eq!(usage.total_tokens(), u64::MAX);
}

#[test]
fn provider_tier_names() {
    assert_eq!(
        ServiceTier::from_provider_name("default"),
        Some(ServiceTier::Standard)
    );
    assert_eq!(
        ServiceTier::from_provider_name("FLEX"),
        Some(ServiceTier::Flex)
    );
    assert_eq!(ServiceTier::from_provider_name("scale"), None);
}

/// Every usage reader, over arbitrary and mutated responses: a usage or a
/// typed error, never a panic.
mod outside_bytes {
    use proptest::prelude::*;
    use serde_json::Value;

    use crate::mutated;
    use crate::usage::{AnthropicStreamUsage, Usage, UsageFormat, UsageReport};

    const SAMPLES: &[&str] = &[
        r#"{"id":"c","choices":[{"index":0,"message":{"content":"hi"}}],"service_tier":"default","usage":{"prompt_tokens":120,"completion_tokens":40,"total_tokens":160,"cost":0.0012,"cost_in_usd_ticks":12000000,"prompt_tokens_details":{"cached_tokens":100,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":10,"audio_tokens":0}}}"#,
        r#"{"object":"response","service_tier":"flex","usage":{"input_tokens":120,"input_tokens_details":{"cached_tokens":20},"output_tokens":40,"output_tokens_details":{"reasoning_tokens":10},"total_tokens":160}}"#,
        r#"{"type":"message","usage":{"input_tokens":25,"cache_creation_input_tokens":10,"cache_read_input_tokens":5,"cache_creation":{"ephemeral_5m_input_tokens":5,"ephemeral_1h_input_tokens":5},"output_tokens":15,"service_tier":"standard"}}"#,
        r#"{"modelVersion":"gemini-2.5-pro","usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":20,"thoughtsTokenCount":5,"cachedContentTokenCount":50,"toolUsePromptTokenCount":3,"totalTokenCount":128,"promptTokensDetails":[{"modality":"AUDIO","tokenCount":7}]}}"#,
        r#"{"type":"message_start","message":{"usage":{"input_tokens":25,"cache_read_input_tokens":3,"output_tokens":1}}}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}"#,
    ];

    const FORMATS: [UsageFormat; 4] = [
        UsageFormat::OpenAiChat,
        UsageFormat::OpenAiResponses,
        UsageFormat::AnthropicMessages,
        UsageFormat::Gemini,
    ];

    proptest! {
        #[test]
        fn every_reader_answers_a_usage_or_an_error(body in mutated::json(SAMPLES)) {
            for format in FORMATS {
                let _ = UsageReport::from_response(format, &body);
                let _ = Usage::from_response(format, &body);
            }
        }

        #[test]
        fn the_anthropic_stream_reader_answers_a_usage_or_an_error(
            events in proptest::collection::vec(mutated::json(SAMPLES), 0..6)
        ) {
            let mut stream = AnthropicStreamUsage::new();
            for event in &events {
                let _ = stream.observe(event);
            }
            let _ = stream.finish();
        }
    }

    #[test]
    fn numbers_past_every_integer_are_errors() {
        let body: Value = serde_json::from_str(
            r#"{"usage":{"prompt_tokens":18446744073709551616,"completion_tokens":-1,"input_tokens":1e300,"output_tokens":-5},"usageMetadata":{"promptTokenCount":1e300}}"#,
        )
        .unwrap();
        for format in FORMATS {
            assert!(Usage::from_response(format, &body).is_err(), "{format}");
        }
    }
}
