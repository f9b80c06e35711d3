//! The provider corrections in `pricing/overrides.json` reach the bundled
//! table: each test checks the provider's published number, and that
//! LiteLLM's data alone does not have it (so the override still matters).

use spendguard::money::PricePerToken;
use spendguard::prices::Overrides;
use spendguard::prices::{CacheWrite, ModelPrice, PriceError};
use spendguard::usage::ServiceTier;
use spendguard::{PriceTable, Usage, Usd};

const BUNDLED: &str = include_str!("../../pricing/litellm_prices.json");

fn per_m(dollars: f64) -> PricePerToken {
    PricePerToken::per_million(dollars).unwrap()
}

fn corrected(model: &str) -> std::sync::Arc<ModelPrice> {
    let table = PriceTable::bundled();
    let found = table.resolve(model).unwrap();
    assert!(found.is_exact(), "{model} should be listed as written");
    found.into_price()
}

fn litellm_only(model: &str) -> ModelPrice {
    let table = PriceTable::from_litellm_json(BUNDLED).unwrap();
    (**table.get(model).unwrap()).clone()
}

#[test]
fn codex_models_bill_priority_at_openais_published_rate() {
    // https://openai.com/api-priority-processing/ — GPT-5 codex and GPT-5.1
    // codex: $2.50 input, $0.25 cached input, $20.00 output per 1M.
    for model in ["gpt-5-codex", "gpt-5.1-codex"] {
        let price = corrected(model);
        let priority = price.listed_schedule(ServiceTier::Priority).unwrap().base();
        assert_eq!(priority.input, per_m(2.50), "{model}");
        assert_eq!(priority.cache_read, Some(per_m(0.25)), "{model}");
        assert_eq!(priority.output, per_m(20.0), "{model}");
        assert!(litellm_only(model)
            .listed_schedule(ServiceTier::Priority)
            .is_none());
        // 100k input, 20k cached, 10k output at priority:
        // 100_000 × $2.50/M + 20_000 × $0.25/M + 10_000 × $20/M
        // = $0.25 + $0.005 + $0.20 = $0.455
        let usage = Usage {
            input_tokens: 100_000,
            cache_read_tokens: 20_000,
            output_tokens: 10_000,
            ..Usage::default()
        }
        .with_service_tier(ServiceTier::Priority);
        assert_eq!(price.cost(&usage), Usd::from_nanos(455_000_000), "{model}");
    }
}

#[test]
fn bedrock_apac_haiku_4_5_one_hour_cache_writes_are_twice_the_regional_input() {
    // https://platform.claude.com/docs/en/about-claude/pricing — one-hour
    // cache write = 2 × base input; APAC regional base is $1.10/M, so $2.20/M.
    let model = "apac.anthropic.claude-haiku-4-5-20251001-v1:0";
    let base = *corrected(model).standard().base();
    assert_eq!(base.input, per_m(1.10));
    assert_eq!(base.cache_write_1h, Some(per_m(2.20)));
    assert_eq!(litellm_only(model).standard().base().cache_write_1h, None);
    // 1M one-hour write tokens: $2.20 (LiteLLM alone: the $1.375 5m rate).
    let usage = Usage {
        cache_write_1h_tokens: 1_000_000,
        ..Usage::default()
    };
    assert_eq!(
        corrected(model).cost(&usage),
        Usd::from_nanos(2_200_000_000)
    );
    assert_eq!(
        litellm_only(model).cost(&usage),
        Usd::from_nanos(1_375_000_000)
    );
}

#[test]
fn bedrock_opus_4_1_one_hour_cache_writes_cost_thirty_dollars_a_million() {
    // https://platform.claude.com/docs/en/about-claude/pricing — Claude Opus
    // 4.1: $15 input, $18.75 5m write, $30 1h write per 1M.
    for model in [
        "anthropic.claude-opus-4-1-20250805-v1:0",
        "us.anthropic.claude-opus-4-1-20250805-v1:0",
        "eu.anthropic.claude-opus-4-1-20250805-v1:0",
    ] {
        let price = corrected(model);
        assert_eq!(
            price.standard().base().cache_write_1h,
            Some(per_m(30.0)),
            "{model}"
        );
        assert_eq!(
            price.standard().base().cache_write,
            Some(per_m(18.75)),
            "{model}"
        );
        assert_eq!(litellm_only(model).standard().base().cache_write_1h, None);
        // Worst case of a 10k-token prompt written to the one-hour cache with
        // 1k output: 10_000 × $30/M + 1_000 × $75/M = $0.30 + $0.075.
        assert_eq!(
            price.worst_case(
                10_000,
                1_000,
                ServiceTier::Standard,
                Some(CacheWrite::OneHour)
            ),
            Usd::from_nanos(375_000_000),
            "{model}"
        );
    }
}

#[test]
fn bedrock_sonnet_4_one_hour_cache_writes_cost_six_dollars_a_million() {
    // https://platform.claude.com/docs/en/about-claude/pricing — Claude
    // Sonnet 4: $3 input, $3.75 5m write, $6 1h write per 1M.
    for model in [
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        "eu.anthropic.claude-sonnet-4-20250514-v1:0",
        "apac.anthropic.claude-sonnet-4-20250514-v1:0",
        "global.anthropic.claude-sonnet-4-20250514-v1:0",
    ] {
        assert_eq!(
            corrected(model).standard().base().cache_write_1h,
            Some(per_m(6.0)),
            "{model}"
        );
        assert_eq!(litellm_only(model).standard().base().cache_write_1h, None);
    }
}

#[test]
fn deepseek_cache_writes_are_billed_as_cache_miss_input_not_free() {
    // https://api-docs.deepseek.com/quick_start/pricing — peak prices per 1M:
    // deepseek-v4-pro cache miss $1.32; deepseek-flash cache miss $0.30.
    let cases = [
        ("deepseek-v4-pro", 1.32),
        ("deepseek/deepseek-v4-pro", 1.32),
        ("deepseek-flash", 0.30),
        ("deepseek/deepseek-flash", 0.30),
        ("deepseek-v4-flash", 0.30),
        ("deepseek/deepseek-v4-flash", 0.30),
        ("deepseek-v4-flash-vision-exp", 0.30),
        ("deepseek/deepseek-v4-flash-vision-exp", 0.30),
    ];
    for (model, miss) in cases {
        let price = corrected(model);
        assert_eq!(
            price.standard().base().cache_write,
            Some(per_m(miss)),
            "{model}"
        );
        assert_eq!(
            litellm_only(model).standard().base().cache_write,
            Some(PricePerToken::ZERO),
            "{model}"
        );
    }
}

#[test]
fn every_override_names_listed_models_and_changes_them() {
    let overrides = Overrides::bundled();
    let plain = PriceTable::from_litellm_json(BUNDLED).unwrap();
    let bundled = PriceTable::bundled();
    assert!((5..=10).contains(&overrides.len()), "{}", overrides.len());
    for correction in overrides.iter() {
        assert!(correction.source().starts_with("https://"));
        for model in correction.models() {
            assert_ne!(plain.get(model), bundled.get(model), "{model} is unchanged");
        }
    }
}

#[test]
fn an_override_of_a_model_the_file_does_not_price_fails_loudly() {
    let overrides = Overrides::from_json(
        r#"{"overrides": [{"models": ["gpt-4o", "gpt-9-imaginary"],
            "set": {"input_cost_per_token": 2e-06},
            "source": "https://example.com", "checked": "2026-11-25", "why": "test"}]}"#,
    )
    .unwrap();
    let error = PriceTable::from_litellm_json_with_overrides(BUNDLED, &overrides).unwrap_err();
    assert!(matches!(
        error,
        PriceError::InvalidOverride { entry: 1, .. }
    ));
    assert_eq!(
        error.to_string(),
        "override #1 (gpt-4o, gpt-9-imaginary) is invalid: \"gpt-9-imaginary\" is not a priced model of the price list"
    );
}
