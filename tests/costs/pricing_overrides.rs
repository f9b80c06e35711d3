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
    assert!(overrides.len() >= 5, "{}", overrides.len());
    for correction in overrides.iter() {
        assert!(correction.source().starts_with("https://"));
        for model in correction.models() {
            assert_ne!(plain.get(model), bundled.get(model), "{model} is unchanged");
        }
    }
}

#[test]
fn pricing_readme_lists_every_override_with_its_source_and_date() {
    let readme = include_str!("../../pricing/README.md");
    for (position, correction) in Overrides::bundled().iter().enumerate() {
        let entry = position + 1;
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| {entry} |")))
            .unwrap_or_else(|| panic!("pricing/README.md has no row for override #{entry}"));
        assert!(row.contains(correction.source()), "#{entry}: {row}");
        assert!(row.contains(correction.checked()), "#{entry}: {row}");
        for model in correction.models() {
            assert!(
                row.contains(&format!("`{model}`")),
                "#{entry} lacks {model}: {row}"
            );
        }
    }
}

#[test]
fn unconfirmed_overrides_only_ever_raise_a_price() {
    // An override not yet checked on the provider's page takes the higher
    // of the two lists; it must never make spendguard bill less.
    let unconfirmed: Vec<_> = Overrides::bundled()
        .iter()
        .filter(|correction| correction.why().starts_with("Unconfirmed"))
        .cloned()
        .collect();
    assert!(!unconfirmed.is_empty());
    for correction in &unconfirmed {
        for model in correction.models() {
            let (before, after) = (litellm_only(model), corrected(model));
            let mut raised = false;
            for prompt in [1_000, 100_001, 200_001, 524_289] {
                for tier in [ServiceTier::Standard, ServiceTier::Batch] {
                    for usage in [
                        Usage::new(prompt, 1_000),
                        Usage {
                            cache_read_tokens: prompt,
                            cache_write_tokens: 1_000,
                            cache_write_1h_tokens: 1_000,
                            input_audio_tokens: 1_000,
                            ..Usage::default()
                        },
                    ] {
                        let usage = usage.with_service_tier(tier);
                        let (was, now) = (before.cost(&usage), after.cost(&usage));
                        assert!(now >= was, "{model} at {prompt} tokens, {tier}");
                        raised |= now > was;
                    }
                }
            }
            assert!(raised, "{model}: the override raises nothing");
        }
    }
}

#[test]
fn sonnet_4_5_bills_every_token_of_a_prompt_above_200k_at_the_long_context_rates() {
    // https://platform.claude.com/docs/en/about-claude/pricing — long
    // context: $6 input, $22.50 output per 1M above 200K prompt tokens,
    // cache rates scaled alike; batch halves both bands.
    for model in ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929"] {
        let price = corrected(model);
        // At the edge, 200,000 prompt tokens: 200,000 × $3/M + 1,000 × $15/M
        // = $0.60 + $0.015.
        let at_edge = Usage::new(200_000, 1_000);
        assert_eq!(
            price.cost(&at_edge),
            Usd::from_nanos(615_000_000),
            "{model}"
        );
        // One token more: 200,001 × $6/M + 1,000 × $22.50/M
        // = $1.200006 + $0.0225 (LiteLLM alone: $0.600003 + $0.015).
        let above = Usage::new(200_001, 1_000);
        assert_eq!(
            price.cost(&above),
            Usd::from_nanos(1_222_506_000),
            "{model}"
        );
        assert_eq!(
            litellm_only(model).cost(&above),
            Usd::from_nanos(615_003_000)
        );
        // Cache tokens count towards the 200K and are billed at the scaled
        // rates: 1,000 × $6 + 150,000 × $0.60 + 50,000 × $7.50
        // + 10,000 × $12 + 2,000 × $22.50 (per 1M)
        // = $0.006 + $0.09 + $0.375 + $0.12 + $0.045.
        let cached = Usage {
            input_tokens: 1_000,
            cache_read_tokens: 150_000,
            cache_write_tokens: 50_000,
            cache_write_1h_tokens: 10_000,
            output_tokens: 2_000,
            ..Usage::default()
        };
        assert_eq!(price.cost(&cached), Usd::from_nanos(636_000_000), "{model}");
        // Batch above the edge: 300,000 × $3/M + 10,000 × $11.25/M
        // = $0.90 + $0.1125.
        let batch = Usage::new(300_000, 10_000).with_service_tier(ServiceTier::Batch);
        assert_eq!(
            price.cost(&batch),
            Usd::from_nanos(1_012_500_000),
            "{model}"
        );
        // A reservation for a long prompt uses the band too:
        // 250,000 × $6/M + 4,000 × $22.50/M = $1.50 + $0.09.
        assert_eq!(
            price.worst_case(250_000, 4_000, ServiceTier::Standard, None),
            Usd::from_nanos(1_590_000_000)
        );
    }
}

#[test]
fn xai_bills_its_long_context_rates_from_200k_prompt_tokens_inclusive() {
    // https://docs.x.ai/developers/models/grok-4.20-0309 — "≥ 200k prompt
    // tokens": $2.50 input, $5.00 output per 1M (below: $1.25 / $2.50);
    // batch 20% off.
    let price = corrected("xai/grok-4.20");
    // 199,999 × $1.25/M + 1,000 × $2.50/M = $0.24999875 + $0.0025.
    assert_eq!(
        price.cost(&Usage::new(199_999, 1_000)),
        Usd::from_nanos(252_498_750)
    );
    // 200,000 × $2.50/M + 1,000 × $5/M = $0.50 + $0.005 (LiteLLM alone:
    // $0.25 + $0.0025, its band starting one token later).
    let at_edge = Usage::new(200_000, 1_000);
    assert_eq!(price.cost(&at_edge), Usd::from_nanos(505_000_000));
    assert_eq!(
        litellm_only("xai/grok-4.20").cost(&at_edge),
        Usd::from_nanos(252_500_000)
    );
    // Batch at the edge: 200,000 × $2/M + 1,000 × $4/M = $0.40 + $0.004.
    let batch = at_edge.with_service_tier(ServiceTier::Batch);
    assert_eq!(price.cost(&batch), Usd::from_nanos(404_000_000));
    // Grok 4.7: 200,000 × $4/M + 1,000 × $12/M = $0.80 + $0.012.
    assert_eq!(
        corrected("xai/grok-4.7").cost(&at_edge),
        Usd::from_nanos(812_000_000)
    );
}

#[test]
fn gemini_4_argon_bills_its_december_price() {
    // https://ai.google.dev/gemini-api/docs/generate-content/latest-model —
    // $2 / $10 per 1M until 2026-11-30, $4 / $20 from 2026-12-01.
    for model in ["gemini/gemini-4-argon", "vertex_ai/gemini-4-argon"] {
        // 100,000 × $4/M + 10,000 × $20/M = $0.40 + $0.20.
        let usage = Usage::new(100_000, 10_000);
        assert_eq!(
            corrected(model).cost(&usage),
            Usd::from_nanos(600_000_000),
            "{model}"
        );
        assert_eq!(
            litellm_only(model).cost(&usage),
            Usd::from_nanos(300_000_000),
            "{model}"
        );
        // Batch at half: $0.20 + $0.10.
        let batch = usage.with_service_tier(ServiceTier::Batch);
        assert_eq!(
            corrected(model).cost(&batch),
            Usd::from_nanos(300_000_000),
            "{model}"
        );
    }
}

#[test]
fn bedrock_regional_ids_of_claude_5_bill_the_regional_premium() {
    // The bare id is an in-Region call: 10% above the global price, as
    // LiteLLM's own us. profile lists it. 1M input + 100k output of
    // Sonnet 5.5: $2.20 + 100,000 × $11/M = $2.20 + $1.10.
    let usage = Usage::new(1_000_000, 100_000);
    let model = "anthropic.claude-sonnet-5-5";
    assert_eq!(
        corrected(model).cost(&usage),
        Usd::from_nanos(3_300_000_000)
    );
    assert_eq!(
        corrected("us.anthropic.claude-sonnet-5-5").cost(&usage),
        corrected(model).cost(&usage)
    );
    assert_eq!(
        litellm_only(model).cost(&usage),
        Usd::from_nanos(3_000_000_000)
    );
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

#[test]
fn claude_fable_and_mythos_5_2_are_added_at_anthropics_price() {
    // https://platform.claude.com/docs/en/about-claude/pricing — $8 input,
    // $40 output, $0.20 cache reads, $10 / $16 cache writes per 1M; batch
    // halves each. LiteLLM 1.110.2 does not list either model.
    for model in ["claude-fable-5-2", "claude-mythos-5-2"] {
        assert!(PriceTable::from_litellm_json(BUNDLED)
            .unwrap()
            .get(model)
            .is_none());
        let price = corrected(model);
        // 100,000 × $8 + 200,000 × $0.20 + 10,000 × $10 + 5,000 × $16
        // + 20,000 × $40 (per 1M) = $0.80 + $0.04 + $0.10 + $0.08 + $0.80.
        let usage = Usage {
            input_tokens: 100_000,
            cache_read_tokens: 200_000,
            cache_write_tokens: 10_000,
            cache_write_1h_tokens: 5_000,
            output_tokens: 20_000,
            ..Usage::default()
        };
        assert_eq!(
            price.cost(&usage),
            Usd::from_nanos(1_820_000_000),
            "{model}"
        );
        let batch = usage.with_service_tier(ServiceTier::Batch);
        assert_eq!(price.cost(&batch), Usd::from_nanos(910_000_000), "{model}");
        assert_eq!(price.max_input_tokens(), Some(1_000_000));
    }
}

#[test]
fn pricing_readme_lists_every_addition_with_its_source_and_date() {
    let readme = include_str!("../../pricing/README.md");
    let additions: Vec<_> = Overrides::bundled().additions().cloned().collect();
    assert!(!additions.is_empty());
    for addition in &additions {
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{}` |", addition.model())))
            .unwrap_or_else(|| panic!("pricing/README.md has no row for {}", addition.model()));
        assert!(row.contains(addition.source()), "{row}");
        assert!(row.contains(addition.checked()), "{row}");
    }
}
