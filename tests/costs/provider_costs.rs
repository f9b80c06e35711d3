//! What calls cost with the bundled prices, checked against the providers'
//! own published prices.
//!
//! Every expected number is worked out by hand from the per-million prices
//! in the comment above it, as exact nano-dollars (tokens × $/M × 1,000).
//! `Usage` buckets are disjoint: `input_tokens` excludes cached and
//! cache-written tokens, `output_tokens` excludes reasoning.

use serde_json::json;
use spendguard::prices::CacheWrite;
use spendguard::usage::{ServiceTier, UsageFormat, UsageReport};
use spendguard::{PriceTable, Usage, Usd};

/// The cost of `usage` for a model listed under exactly `model`.
fn cost(model: &str, usage: Usage) -> Usd {
    let found = PriceTable::bundled().resolve(model).unwrap();
    assert!(found.is_exact(), "{model} resolved as {found}");
    found.price().cost(&usage)
}

fn usage(input: u64, cached: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        cache_read_tokens: cached,
        output_tokens: output,
        ..Usage::default()
    }
}

// ---- OpenAI -------------------------------------------------------------
// Standard and Batch: https://developers.openai.com/api/docs/pricing
// Priority: https://openai.com/api-priority-processing/
// Flex is billed at Batch rates:
// https://developers.openai.com/api/docs/guides/flex-processing

#[test]
fn openai_gpt_4o_with_cached_input() {
    // $2.50 input, $1.25 cached, $10.00 output per 1M.
    // 10,000 × 2.50 + 2,000 × 1.25 + 1,000 × 10 = $0.025 + $0.0025 + $0.01 = $0.0375
    assert_eq!(
        cost("gpt-4o", usage(10_000, 2_000, 1_000)),
        Usd::from_nanos(37_500_000)
    );
}

#[test]
fn openai_gpt_4o_mini_batch() {
    // Batch: $0.075 input, $0.30 output per 1M (half of $0.15 / $0.60).
    // 1,000,000 × 0.075 + 200,000 × 0.30 = $0.075 + $0.06 = $0.135
    let call = usage(1_000_000, 0, 200_000).with_service_tier(ServiceTier::Batch);
    assert_eq!(cost("gpt-4o-mini", call), Usd::from_nanos(135_000_000));
}

#[test]
fn openai_gpt_4_1_priority() {
    // Priority: $3.50 input, $0.875 cached, $14.00 output per 1M.
    // 50,000 × 3.50 + 50,000 × 0.875 + 5,000 × 14 = $0.175 + $0.04375 + $0.07 = $0.28875
    let call = usage(50_000, 50_000, 5_000).with_service_tier(ServiceTier::Priority);
    assert_eq!(cost("gpt-4.1", call), Usd::from_nanos(288_750_000));
}

#[test]
fn openai_gpt_4_1_mini() {
    // $0.40 input, $1.60 output per 1M.
    // 100,000 × 0.40 + 10,000 × 1.60 = $0.04 + $0.016 = $0.056
    assert_eq!(
        cost("gpt-4.1-mini", usage(100_000, 0, 10_000)),
        Usd::from_nanos(56_000_000)
    );
}

#[test]
fn openai_gpt_5_flex_with_reasoning() {
    // Flex (= Batch rates): $0.625 input, $0.0625 cached, $5.00 output per 1M;
    // reasoning tokens are billed as output.
    // 200,000 × 0.625 + 100,000 × 0.0625 + (20,000 + 30,000) × 5
    // = $0.125 + $0.00625 + $0.25 = $0.38125
    let call = Usage {
        reasoning_tokens: 30_000,
        ..usage(200_000, 100_000, 20_000)
    }
    .with_service_tier(ServiceTier::Flex);
    assert_eq!(cost("gpt-5", call), Usd::from_nanos(381_250_000));
}

#[test]
fn openai_gpt_5_mini_priority_with_reasoning() {
    // Priority: $0.45 input, $0.045 cached, $3.60 output per 1M.
    // 10,000 × 0.45 + 90,000 × 0.045 + (2,000 + 8,000) × 3.60
    // = $0.0045 + $0.00405 + $0.036 = $0.04455
    let call = Usage {
        reasoning_tokens: 8_000,
        ..usage(10_000, 90_000, 2_000)
    }
    .with_service_tier(ServiceTier::Priority);
    assert_eq!(cost("gpt-5-mini", call), Usd::from_nanos(44_550_000));
}

#[test]
fn openai_gpt_5_4_long_context() {
    // $2.50 / $0.25 / $15.00 per 1M; prompts over 272K tokens pay 2× input and
    // 1.5× output on the whole call: $5.00 input, $0.50 cached, $22.50 output.
    // Prompt 250,000 + 50,000 cached = 300,000 tokens:
    // 250,000 × 5 + 50,000 × 0.50 + 10,000 × 22.50 = $1.25 + $0.025 + $0.225 = $1.50
    assert_eq!(
        cost("gpt-5.4", usage(250_000, 50_000, 10_000)),
        Usd::from_nanos(1_500_000_000)
    );
    // The same call just under the threshold pays the standard rates:
    // 222,000 × 2.50 + 50,000 × 0.25 + 10,000 × 15 = $0.555 + $0.0125 + $0.15
    assert_eq!(
        cost("gpt-5.4", usage(222_000, 50_000, 10_000)),
        Usd::from_nanos(717_500_000)
    );
}

#[test]
fn openai_gpt_5_5_priority() {
    // Priority: $12.50 input, $75.00 output per 1M.
    // 100,000 × 12.50 + 10,000 × 75 = $1.25 + $0.75 = $2.00
    let call = usage(100_000, 0, 10_000).with_service_tier(ServiceTier::Priority);
    assert_eq!(cost("gpt-5.5", call), Usd::from_nanos(2_000_000_000));
}

#[test]
fn openai_o3_reasoning_is_billed_as_output() {
    // $2.00 input, $8.00 output per 1M (reasoning tokens at the output rate).
    // 20,000 × 2 + (1,000 + 15,000) × 8 = $0.04 + $0.128 = $0.168
    let call = Usage {
        reasoning_tokens: 15_000,
        ..usage(20_000, 0, 1_000)
    };
    assert_eq!(cost("o3", call), Usd::from_nanos(168_000_000));
}

#[test]
fn openai_text_embedding_3_small() {
    // $0.02 per 1M input tokens.
    assert_eq!(
        cost("text-embedding-3-small", usage(1_000_000, 0, 0)),
        Usd::from_nanos(20_000_000)
    );
}

// ---- Anthropic ----------------------------------------------------------
// https://platform.claude.com/docs/en/about-claude/pricing (model pricing,
// batch processing, prompt caching: 5m write 1.25×, 1h write 2×, read 0.1×)
// and the model overview pages under https://platform.claude.com/docs/en/models/

#[test]
fn anthropic_sonnet_4_5_with_every_cache_bucket() {
    // $3 input, $3.75 5m write, $6 1h write, $0.30 read, $15 output per 1M.
    // 2,000 × 3 + 50,000 × 0.30 + 10,000 × 3.75 + 20,000 × 6 + 1,500 × 15
    // = $0.006 + $0.015 + $0.0375 + $0.12 + $0.0225 = $0.201
    let call = Usage {
        cache_write_tokens: 10_000,
        cache_write_1h_tokens: 20_000,
        ..usage(2_000, 50_000, 1_500)
    };
    assert_eq!(
        cost("claude-sonnet-4-5", call),
        Usd::from_nanos(201_000_000)
    );
}

#[test]
fn anthropic_sonnet_4_5_worst_case_with_a_one_hour_cache_write() {
    // Reserving a 10,000-token prompt written to the 1h cache ($6/M) with up
    // to 1,000 output tokens ($15/M): $0.06 + $0.015 = $0.075.
    let price = PriceTable::bundled()
        .resolve("claude-sonnet-4-5")
        .unwrap()
        .into_price();
    let reserve = price.worst_case(
        10_000,
        1_000,
        ServiceTier::Standard,
        Some(CacheWrite::OneHour),
    );
    assert_eq!(reserve, Usd::from_nanos(75_000_000));
}

#[test]
fn anthropic_opus_4_5_one_hour_cache_write() {
    // $5 input, $10 1h write, $25 output per 1M.
    // 1,000 × 5 + 100,000 × 10 + 2,000 × 25 = $0.005 + $1.00 + $0.05 = $1.055
    let call = Usage {
        cache_write_1h_tokens: 100_000,
        ..usage(1_000, 0, 2_000)
    };
    assert_eq!(
        cost("claude-opus-4-5", call),
        Usd::from_nanos(1_055_000_000)
    );
}

#[test]
fn anthropic_haiku_4_5_batch_with_cache_reads() {
    // Batch halves every rate: $0.50 input, $0.05 read, $2.50 output per 1M.
    // 1,000,000 × 0.50 + 1,000,000 × 0.05 + 100,000 × 2.50 = $0.50 + $0.05 + $0.25
    let call = usage(1_000_000, 1_000_000, 100_000).with_service_tier(ServiceTier::Batch);
    assert_eq!(cost("claude-haiku-4-5", call), Usd::from_nanos(800_000_000));
}

#[test]
fn anthropic_sonnet_5() {
    // $2 input, $2.50 5m write, $0.20 read, $10 output per 1M.
    // 10,000 × 2 + 10,000 × 2.50 + 80,000 × 0.20 + 5,000 × 10
    // = $0.02 + $0.025 + $0.016 + $0.05 = $0.111
    let call = Usage {
        cache_write_tokens: 10_000,
        ..usage(10_000, 80_000, 5_000)
    };
    assert_eq!(cost("claude-sonnet-5", call), Usd::from_nanos(111_000_000));
}

#[test]
fn anthropic_fable_5_1_cheap_cache_reads() {
    // $10 input, $0.25 read (0.025×), $50 output per 1M.
    // 5,000 × 10 + 500,000 × 0.25 + 10,000 × 50 = $0.05 + $0.125 + $0.50 = $0.675
    assert_eq!(
        cost("claude-fable-5-1", usage(5_000, 500_000, 10_000)),
        Usd::from_nanos(675_000_000)
    );
}

#[test]
fn anthropic_opus_5() {
    // $5 input, $10 1h write, $25 output per 1M.
    // 10,000 × 5 + 10,000 × 10 + 10,000 × 25 = $0.05 + $0.10 + $0.25 = $0.40
    let call = Usage {
        cache_write_1h_tokens: 10_000,
        ..usage(10_000, 0, 10_000)
    };
    assert_eq!(cost("claude-opus-5", call), Usd::from_nanos(400_000_000));
}

#[test]
fn anthropic_haiku_5_5_prices_long_prompts_higher() {
    // Prompts up to 100K tokens: $0.10 input, $0.01 read, $0.50 output per 1M.
    // Over 100K (input + cache reads + writes): $0.50, $0.05, $2.50, on every token.
    // Short: 50,000 × 0.10 + 10,000 × 0.50 = $0.005 + $0.005 = $0.01
    assert_eq!(
        cost("claude-haiku-5-5", usage(50_000, 0, 10_000)),
        Usd::from_nanos(10_000_000)
    );
    // Long, 150,000 + 50,000 cached = 200,000-token prompt:
    // 150,000 × 0.50 + 50,000 × 0.05 + 10,000 × 2.50 = $0.075 + $0.0025 + $0.025
    assert_eq!(
        cost("claude-haiku-5-5", usage(150_000, 50_000, 10_000)),
        Usd::from_nanos(102_500_000)
    );
}

// ---- Google Gemini ------------------------------------------------------
// https://ai.google.dev/gemini-api/docs/pricing (Standard, Batch and Flex at
// 50%, thinking tokens billed as output)

#[test]
fn gemini_2_5_pro_above_200k() {
    // <= 200K prompt: $1.25 input, $10 output; > 200K: $2.50 input, $15 output.
    // At 200,000: 200,000 × 1.25 + 10,000 × 10 = $0.25 + $0.10 = $0.35
    assert_eq!(
        cost("gemini/gemini-2.5-pro", usage(200_000, 0, 10_000)),
        Usd::from_nanos(350_000_000)
    );
    // At 250,000: 250,000 × 2.50 + 10,000 × 15 = $0.625 + $0.15 = $0.775
    assert_eq!(
        cost("gemini/gemini-2.5-pro", usage(250_000, 0, 10_000)),
        Usd::from_nanos(775_000_000)
    );
}

#[test]
fn gemini_2_5_flash_thinking_and_audio() {
    // $0.30 text input, $1.00 audio input, $2.50 output (thinking included) per 1M.
    // 10,000 × 0.30 + 10,000 × 1.00 + (1,000 + 4,000) × 2.50
    // = $0.003 + $0.01 + $0.0125 = $0.0255
    let call = Usage {
        input_audio_tokens: 10_000,
        reasoning_tokens: 4_000,
        ..usage(10_000, 0, 1_000)
    };
    assert_eq!(
        cost("gemini/gemini-2.5-flash", call),
        Usd::from_nanos(25_500_000)
    );
}

#[test]
fn gemini_2_5_flash_lite_batch() {
    // Batch: $0.05 input, $0.20 output per 1M (half of $0.10 / $0.40).
    // 1,000,000 × 0.05 + 1,000,000 × 0.20 = $0.25
    let call = usage(1_000_000, 0, 1_000_000).with_service_tier(ServiceTier::Batch);
    assert_eq!(
        cost("gemini/gemini-2.5-flash-lite", call),
        Usd::from_nanos(250_000_000)
    );
}

#[test]
fn gemini_3_1_pro_above_200k() {
    // > 200K prompt: $4 input, $18 output per 1M (<= 200K: $2 / $12).
    // 300,000 × 4 + 5,000 × 18 = $1.20 + $0.09 = $1.29
    assert_eq!(
        cost("gemini/gemini-3.1-pro-preview", usage(300_000, 0, 5_000)),
        Usd::from_nanos(1_290_000_000)
    );
}

// ---- xAI ----------------------------------------------------------------
// https://docs.x.ai/developers/grok-4-7 and https://docs.x.ai/developers/models

#[test]
fn xai_grok_4_7_both_context_bands() {
    // Under 200K: $2.00 input, $0.50 cached, $6.00 output per 1M.
    // 100,000 × 2 + 50,000 × 0.50 + 10,000 × 6 = $0.20 + $0.025 + $0.06 = $0.285
    assert_eq!(
        cost("xai/grok-4.7", usage(100_000, 50_000, 10_000)),
        Usd::from_nanos(285_000_000)
    );
    // Long context: $4.00 input, $12.00 output per 1M.
    // 250,000 × 4 + 10,000 × 12 = $1.00 + $0.12 = $1.12
    assert_eq!(
        cost("xai/grok-4.7", usage(250_000, 0, 10_000)),
        Usd::from_nanos(1_120_000_000)
    );
}

// ---- DeepSeek -----------------------------------------------------------
// https://api-docs.deepseek.com/quick_start/pricing (peak rates; off-peak is
// half, which spendguard does not model, so it never under-counts)

#[test]
fn deepseek_flash_cache_hits_and_misses() {
    // Peak: $0.006 cache hit, $0.30 cache miss, $1.20 output per 1M.
    // 100,000 × 0.30 + 900,000 × 0.006 + 50,000 × 1.20 = $0.03 + $0.0054 + $0.06 = $0.0954
    assert_eq!(
        cost("deepseek/deepseek-flash", usage(100_000, 900_000, 50_000)),
        Usd::from_nanos(95_400_000)
    );
}

#[test]
fn deepseek_v4_pro() {
    // Peak: $0.044 cache hit, $1.32 cache miss, $3.96 output per 1M.
    // 100,000 × 1.32 + 100,000 × 0.044 + 10,000 × 3.96 = $0.132 + $0.0044 + $0.0396 = $0.176
    assert_eq!(
        cost("deepseek/deepseek-v4-pro", usage(100_000, 100_000, 10_000)),
        Usd::from_nanos(176_000_000)
    );
}

// ---- Amazon Bedrock (Claude at Anthropic's list prices) -----------------
// https://platform.claude.com/docs/en/about-claude/pricing (model pricing,
// long context pricing) for global cross-region inference profiles.

#[test]
fn bedrock_sonnet_4_5_long_context_with_cache_reads() {
    // Prompt over 200K tokens: $6 input, $0.60 read, $22.50 output per 1M.
    // 50,000 input + 200,000 cached = 250,000-token prompt:
    // 50,000 × 6 + 200,000 × 0.60 + 10,000 × 22.50 = $0.30 + $0.12 + $0.225 = $0.645
    assert_eq!(
        cost(
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            usage(50_000, 200_000, 10_000)
        ),
        Usd::from_nanos(645_000_000)
    );
}

#[test]
fn bedrock_haiku_4_5_five_minute_cache_write() {
    // $1 input, $1.25 5m write, $5 output per 1M.
    // 10,000 × 1 + 4,000 × 1.25 + 1,000 × 5 = $0.01 + $0.005 + $0.005 = $0.02
    let call = Usage {
        cache_write_tokens: 4_000,
        ..usage(10_000, 0, 1_000)
    };
    assert_eq!(
        cost("anthropic.claude-haiku-4-5-20251001-v1:0", call),
        Usd::from_nanos(20_000_000)
    );
}

// ---- Whole response bodies: usage, tier and the provider's own figure ----
// Read with `UsageReport` as the guarded client reads them, then priced.

fn report(body: serde_json::Value) -> UsageReport {
    UsageReport::from_response(UsageFormat::OpenAiChat, &body).unwrap()
}

#[test]
fn xai_grok_4_3_reasoning_is_billed_beside_the_completion() {
    // https://docs.x.ai/developers/models: $1.25 input, $0.20 cached,
    // $2.50 output (reasoning too) per 1M. xAI's total counts the reasoning
    // beside `completion_tokens`: 12,000 + 500 + 1,500 = 14,000.
    // 4,000 × 1.25 + 8,000 × 0.20 + (500 + 1,500) × 2.50
    //   = $0.005 + $0.0016 + $0.005 = $0.0116
    // xAI's own figure: 116,000,000 ticks / 10^10 = $0.0116.
    let call = report(json!({
        "object": "chat.completion",
        "model": "grok-4.3",
        "usage": {
            "prompt_tokens": 12_000,
            "completion_tokens": 500,
            "total_tokens": 14_000,
            "prompt_tokens_details": { "cached_tokens": 8_000, "text_tokens": 12_000, "audio_tokens": 0, "image_tokens": 0 },
            "completion_tokens_details": { "reasoning_tokens": 1_500, "audio_tokens": 0 },
            "num_sources_used": 0,
            "cost_in_usd_ticks": 116_000_000
        }
    }));
    assert_eq!(
        call.usage,
        Usage {
            reasoning_tokens: 1_500,
            ..usage(4_000, 8_000, 500)
        }
    );
    assert_eq!(
        cost("xai/grok-4.3", call.usage),
        Usd::from_nanos(11_600_000)
    );
    assert_eq!(call.provider_cost, Some(Usd::from_nanos(11_600_000)));
}

#[test]
fn deepseek_v4_flash_cache_hits_from_its_own_fields() {
    // https://api-docs.deepseek.com/quick_start/pricing: $0.006 cache hit,
    // $0.30 cache miss, $1.20 output per 1M.
    // 900,000 × 0.006 + 100,000 × 0.30 + (20,000 + 30,000) × 1.20
    //   = $0.0054 + $0.03 + $0.06 = $0.0954
    // (as all fresh input it would have been 1,000,000 × 0.30 + $0.06 = $0.36)
    let call = report(json!({
        "object": "chat.completion",
        "model": "deepseek-v4-flash",
        "usage": {
            "prompt_tokens": 1_000_000,
            "completion_tokens": 50_000,
            "total_tokens": 1_050_000,
            "completion_tokens_details": { "reasoning_tokens": 30_000 },
            "prompt_cache_hit_tokens": 900_000,
            "prompt_cache_miss_tokens": 100_000
        }
    }));
    assert_eq!(
        call.usage,
        Usage {
            reasoning_tokens: 30_000,
            ..usage(100_000, 900_000, 20_000)
        }
    );
    assert_eq!(
        cost("deepseek/deepseek-v4-flash", call.usage),
        Usd::from_nanos(95_400_000)
    );
}

#[test]
fn openai_scale_tier_is_billed_at_the_dearest_price_the_model_has() {
    // https://developers.openai.com/api/docs/pricing: gpt-4.1 standard $2 /
    // $8, batch $1 / $4, priority $3.50 / $14 per 1M. Scale Tier
    // has no per-token price in the table, so the dearest, priority:
    // 10,000 × 3.50 + 1,000 × 14 = $0.035 + $0.014 = $0.049
    let call = report(json!({
        "object": "chat.completion",
        "model": "gpt-4.1-2025-04-14",
        "service_tier": "scale",
        "usage": { "prompt_tokens": 10_000, "completion_tokens": 1_000, "total_tokens": 11_000 }
    }));
    assert_eq!(call.unpriced_tier.as_deref(), Some("scale"));
    let price = PriceTable::bundled().resolve("gpt-4.1").unwrap();
    assert_eq!(
        price.price().dearest_cost(&call.usage),
        Usd::from_nanos(49_000_000)
    );
    assert_eq!(price.price().cost(&call.usage), Usd::from_nanos(28_000_000));
}

#[test]
fn openrouter_and_perplexity_report_dollars() {
    // OpenRouter: `usage.cost` in dollars ("credits"),
    // https://openrouter.ai/docs/use-cases/usage-accounting; with the
    // caller's own key the upstream charge comes on top: $0.00012 + $0.0024.
    let own_key = report(json!({ "usage": {
        "prompt_tokens": 194, "completion_tokens": 2, "total_tokens": 196,
        "cost": 0.00012, "is_byok": true,
        "cost_details": { "upstream_inference_cost": 0.0024 }
    }}));
    assert_eq!(own_key.provider_cost, Some(Usd::from_nanos(2_520_000)));
    // Perplexity: `usage.cost.total_cost`, request fee included,
    // https://docs.perplexity.ai/api-reference/chat-completions-post
    let sonar = report(json!({ "usage": {
        "prompt_tokens": 8, "completion_tokens": 312, "total_tokens": 320,
        "search_context_size": "low",
        "cost": { "input_tokens_cost": 0.000008, "output_tokens_cost": 0.000312,
                  "request_cost": 0.005, "total_cost": 0.00532, "currency": "USD" }
    }}));
    assert_eq!(sonar.provider_cost, Some(Usd::from_nanos(5_320_000)));
}
