//! How model names find prices in the bundled table, and how bad price
//! files are refused.

use spendguard::money::PricePerToken;
use spendguard::prices::litellm;
use spendguard::prices::{ModelMode, ModelPrice, PriceError, Rates, Resolution};
use spendguard::usage::ServiceTier;
use spendguard::{PriceTable, Usage, Usd};

fn removed(prefix: &str) -> Resolution {
    Resolution::ProviderPrefixRemoved {
        prefix: prefix.into(),
    }
}

fn added(prefix: &str) -> Resolution {
    Resolution::ProviderPrefixAdded {
        prefix: prefix.into(),
    }
}

fn snapshot(suffix: &str) -> Resolution {
    Resolution::SnapshotToBase {
        suffix: suffix.into(),
    }
}

fn alias(name: &str) -> Resolution {
    Resolution::Alias { alias: name.into() }
}

#[test]
fn names_resolve_to_the_most_specific_listed_id() {
    let table = PriceTable::bundled();
    let cases: Vec<(&str, &str, Vec<Resolution>)> = vec![
        // Listed ids, as written.
        ("gpt-4o", "gpt-4o", vec![Resolution::Exact]),
        (
            "gpt-4o-2024-08-06",
            "gpt-4o-2024-08-06",
            vec![Resolution::Exact],
        ),
        (
            "claude-sonnet-4-5-20250929",
            "claude-sonnet-4-5-20250929",
            vec![Resolution::Exact],
        ),
        (
            "gemini/gemini-2.5-pro",
            "gemini/gemini-2.5-pro",
            vec![Resolution::Exact],
        ),
        ("azure/gpt-4o", "azure/gpt-4o", vec![Resolution::Exact]),
        (
            "vertex_ai/claude-sonnet-4-5@20250929",
            "vertex_ai/claude-sonnet-4-5@20250929",
            vec![Resolution::Exact],
        ),
        // Bedrock ids, plain and regional, as the list has them.
        (
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            vec![Resolution::Exact],
        ),
        (
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            vec![Resolution::Exact],
        ),
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            vec![Resolution::Exact],
        ),
        (
            "bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            vec![removed("bedrock/")],
        ),
        (
            "bedrock/converse/us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            vec![removed("bedrock/converse/")],
        ),
        // Case.
        ("GPT-4o", "gpt-4o", vec![Resolution::CaseFolded]),
        // Provider prefixes removed, when the entry is sold by that provider.
        ("openai/gpt-4o", "gpt-4o", vec![removed("openai/")]),
        (
            "anthropic/claude-sonnet-4-5",
            "claude-sonnet-4-5",
            vec![removed("anthropic/")],
        ),
        (
            "vertex_ai/gemini-2.5-pro",
            "gemini-2.5-pro",
            vec![removed("vertex_ai/")],
        ),
        (
            "OpenAI/GPT-4o",
            "gpt-4o",
            vec![removed("OpenAI/"), Resolution::CaseFolded],
        ),
        // The Gemini API's resource names.
        (
            "models/gemini-2.5-pro",
            "gemini/gemini-2.5-pro",
            vec![removed("models/"), added("gemini/")],
        ),
        // Model makers' prefixes added to bare names.
        ("grok-4.7", "xai/grok-4.7", vec![added("xai/")]),
        (
            "mistral-large-latest",
            "mistral/mistral-large-latest",
            vec![added("mistral/")],
        ),
        // Unlisted snapshots priced as the base id.
        ("gpt-4o-2099-01-01", "gpt-4o", vec![snapshot("-2099-01-01")]),
        (
            "claude-sonnet-4-5-20991231",
            "claude-sonnet-4-5",
            vec![snapshot("-20991231")],
        ),
        (
            "vertex_ai/claude-sonnet-4-5@20991231",
            "vertex_ai/claude-sonnet-4-5",
            vec![snapshot("@20991231")],
        ),
        (
            "openai/gpt-4o-2099-01-01",
            "gpt-4o",
            vec![removed("openai/"), snapshot("-2099-01-01")],
        ),
        (
            "grok-4.7-latest",
            "xai/grok-4.7",
            vec![added("xai/"), snapshot("-latest")],
        ),
        // LiteLLM's own aliases.
        (
            "claude-sonnet-latest",
            "claude-sonnet-5-5",
            vec![alias("claude-sonnet-latest")],
        ),
    ];
    for (asked, listed, steps) in cases {
        let found = table
            .resolve(asked)
            .unwrap_or_else(|error| panic!("{asked}: {error}"));
        assert_eq!(found.listed_id(), listed, "{asked}");
        assert_eq!(found.steps(), steps.as_slice(), "{asked}");
        assert_eq!(found.is_exact(), steps == [Resolution::Exact], "{asked}");
    }
}

#[test]
fn names_that_match_nothing_fail_closed_with_suggestions() {
    let table = PriceTable::bundled();
    let cases = [
        ("gpt-4p", "gpt-4o"),
        ("claude-sonet-4-5", "claude-sonnet-4-5"),
        // A removed prefix must name the seller: Anthropic sells this, not OpenAI.
        ("openai/claude-sonnet-4-5", "claude-sonnet-4-5"),
        // Only DeepInfra sells a turbo gpt-oss-120b, under its own prefix.
        (
            "openai/gpt-oss-120b-turbo",
            "deepinfra/openai/gpt-oss-120b-Turbo",
        ),
    ];
    for (asked, close) in cases {
        match table.resolve(asked) {
            Err(PriceError::UnknownModel { model, suggestions }) => {
                assert_eq!(model, asked);
                assert!(suggestions.len() <= 3, "{suggestions:?}");
                assert!(
                    suggestions.iter().any(|s| s == close),
                    "{asked}: {suggestions:?} should include {close}"
                );
            }
            other => panic!("{asked} should be unknown, got {other:?}"),
        }
    }
    let error = table.resolve("zzzz-nothing-like-it").unwrap_err();
    assert_eq!(
        error.to_string(),
        "no price for model \"zzzz-nothing-like-it\"; add one with PriceTable::insert or map the name with PriceTable::alias"
    );
}

#[test]
fn an_unlisted_bedrock_region_is_not_priced_as_another_region() {
    // Regional Bedrock prices differ (us. is 10% above global. for recent
    // Claude models), so an unlisted region is an error, not a guess.
    let table = PriceTable::bundled();
    let error = table
        .resolve("apac.anthropic.claude-sonnet-4-5-20250929-v1:0")
        .unwrap_err();
    let PriceError::UnknownModel { suggestions, .. } = error else {
        panic!("{error:?}");
    };
    assert!(!suggestions.is_empty());
}

#[test]
fn a_fallback_is_opt_in_and_reported() {
    let per_m = |d| PricePerToken::per_million(d).unwrap();
    let table = PriceTable::clone(&PriceTable::bundled()).with_fallback(ModelPrice::new(
        "worst-case",
        Rates::new(per_m(30.0), per_m(150.0)),
    ));
    let found = table.resolve("in-house-model").unwrap();
    assert_eq!(found.steps(), [Resolution::Fallback]);
    assert!(found.is_fallback());
    assert_eq!(found.listed_id(), "worst-case");
    // Listed names still find their own price.
    assert!(table.resolve("gpt-4o").unwrap().is_exact());
}

#[test]
fn inserted_prices_replace_listed_ones_and_aliases_map_names() {
    let per_m = |d| PricePerToken::per_million(d).unwrap();
    let mut table = PriceTable::clone(&PriceTable::bundled());
    let listed = table.len();
    let negotiated =
        ModelPrice::new("gpt-4o", Rates::new(per_m(2.0), per_m(8.0))).with_provider("openai");
    let replaced = table.insert(negotiated).expect("gpt-4o is listed");
    assert_eq!(replaced.standard().base().input, per_m(2.5));
    assert_eq!(table.len(), listed);
    table.alias("team-prod-4o", "gpt-4o").unwrap();
    let found = table.resolve("team-prod-4o").unwrap();
    assert_eq!(
        found.price().cost(&Usage::new(1_000_000, 0)),
        Usd::from_dollars(2.0).unwrap()
    );
    // The shared bundled table is untouched.
    assert_eq!(
        PriceTable::bundled()
            .get("gpt-4o")
            .unwrap()
            .standard()
            .base()
            .input,
        per_m(2.5)
    );
}

#[test]
fn resolution_reads_as_a_sentence() {
    let table = PriceTable::bundled();
    let found = table.resolve("openai/gpt-4o-2099-01-01").unwrap();
    assert_eq!(
        found.to_string(),
        "gpt-4o (provider prefix \"openai/\" removed, snapshot \"-2099-01-01\" priced as the undated model)"
    );
    assert_eq!(
        table.resolve("gpt-4o").unwrap().to_string(),
        "gpt-4o (exact)"
    );
}

#[test]
fn the_bundled_table_lists_thousands_of_token_priced_models() {
    let table = PriceTable::bundled();
    assert!(table.len() > 3_000, "{}", table.len());
    assert_eq!(table.iter().count(), table.len());
    assert!(table
        .iter()
        .all(|price| price.mode() != ModelMode::Chat || !price.provider().is_empty()));
    let embedding = table.resolve("text-embedding-3-small").unwrap();
    assert_eq!(embedding.price().mode(), ModelMode::Embedding);
}

#[test]
fn the_bundled_data_is_a_fixed_point_of_bundle() {
    let bundled = include_str!("../../pricing/litellm_prices.json");
    assert_eq!(litellm::bundle(bundled).unwrap(), bundled);
}

/// One entry in a minimal LiteLLM file.
fn file_with(entry: &str) -> String {
    format!(
        r#"{{"sample_spec": {{"mode": "see docs"}}, "gpt-4o": {{"mode": "chat", "litellm_provider": "openai", {entry}}}}}"#
    )
}

#[test]
fn malformed_files_are_refused_with_the_model_and_field_named() {
    let cases = [
        (
            r#""input_cost_per_token": "abc""#,
            r#"model "gpt-4o": field "input_cost_per_token" must be a non-negative number, got "abc""#,
        ),
        (
            r#""input_cost_per_token": -2.5e-06"#,
            r#"model "gpt-4o": field "input_cost_per_token" must be a non-negative number, got -2.5e-6"#,
        ),
        (
            r#""input_cost_per_token": "NaN""#,
            r#"model "gpt-4o": field "input_cost_per_token" must be a non-negative number, got "NaN""#,
        ),
        (
            r#""input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-16"#,
            r#"model "gpt-4o": field "output_cost_per_token" must be a whole number of femto-dollars (1e-15) per token, got 1e-16"#,
        ),
        (
            r#""input_cost_per_token": 2.5e-06, "cache_read_input_token_cost_priority": [1]"#,
            r#"model "gpt-4o": field "cache_read_input_token_cost_priority" must be a non-negative number, got [1]"#,
        ),
        (
            r#""input_cost_per_token": 2.5e-06, "max_output_tokens": "lots""#,
            r#"model "gpt-4o": field "max_output_tokens" must be a whole, non-negative number of tokens, got "lots""#,
        ),
        (
            r#""input_cost_per_token": 2.5e-06, "max_input_tokens": -1"#,
            r#"model "gpt-4o": field "max_input_tokens" must be a whole, non-negative number of tokens, got -1"#,
        ),
        (
            r#""input_cost_per_token": 2.5e-06, "litellm_provider": 7"#,
            r#"model "gpt-4o": field "litellm_provider" must be a string, got 7"#,
        ),
    ];
    for (entry, expected) in cases {
        let error = PriceTable::from_litellm_json(&file_with(entry)).unwrap_err();
        assert!(
            matches!(error, PriceError::InvalidField { .. }),
            "{error:?}"
        );
        assert_eq!(error.to_string(), expected);
    }
}

#[test]
fn an_entry_that_is_not_an_object_is_named() {
    let error = PriceTable::from_litellm_json(r#"{"gpt-4o": 3}"#).unwrap_err();
    assert_eq!(
        error.to_string(),
        "model \"gpt-4o\": the entry must be an object of fields, got 3"
    );
}

#[test]
fn not_json_is_refused_with_line_and_column() {
    let broken = "{\n  \"gpt-4o\": {\"mode\": \"chat\"\n  \"input_cost_per_token\": 1e-6}\n}";
    let error = PriceTable::from_litellm_json(broken).unwrap_err();
    let PriceError::MalformedJson { line, column, .. } = error else {
        panic!("{error:?}");
    };
    assert_eq!((line, column), (3, 3));
    assert!(PriceTable::from_litellm_json("").is_err());
    assert!(matches!(
        PriceTable::from_litellm_json("[]"),
        Err(PriceError::MalformedJson { .. })
    ));
}

#[test]
fn odd_but_valid_values_are_read() {
    let table = PriceTable::from_litellm_json(&file_with(
        r#""input_cost_per_token": 2.5e-06, "output_cost_per_token": 1.0000000000000001e-05,
           "max_input_tokens": 128000.0, "max_output_tokens": "16384""#,
    ))
    .unwrap();
    let price = table.get("gpt-4o").unwrap();
    assert_eq!(price.max_input_tokens(), Some(128_000));
    assert_eq!(price.max_output_tokens(), Some(16_384));
    assert_eq!(
        price.standard().base().output,
        PricePerToken::per_million(10.0).unwrap()
    );
    assert!(price.listed_schedule(ServiceTier::Batch).is_none());
}

#[test]
fn entries_of_other_modes_are_skipped_not_refused() {
    let table = PriceTable::from_litellm_json(
        r#"{
            "dall-e-3": {"mode": "image_generation", "output_cost_per_image": 0.04},
            "whisper-1": {"mode": "audio_transcription", "input_cost_per_second": 0.0001},
            "tts-1": {"mode": "audio_speech", "input_cost_per_character": "not read either"},
            "gpt-4o": {"mode": "chat", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05}
        }"#,
    )
    .unwrap();
    assert_eq!(table.len(), 1);
    assert!(matches!(
        table.resolve("dall-e-3"),
        Err(PriceError::UnknownModel { .. })
    ));
}

/// The vendored lists of real model ids (`pricing/coverage_ids.json`), by
/// provider, with LiteLLM's prefix for that provider.
const COVERAGE_IDS: &str = include_str!("../../pricing/coverage_ids.json");
const LITELLM_PREFIXES: [(&str, &str); 10] = [
    ("openai", "openai/"),
    ("anthropic", "anthropic/"),
    ("gemini", "gemini/"),
    ("xai", "xai/"),
    ("deepseek", "deepseek/"),
    ("mistral", "mistral/"),
    ("groq", "groq/"),
    ("together", "together_ai/"),
    ("fireworks", "fireworks_ai/"),
    ("openrouter", "openrouter/"),
];

/// How many of `ids` resolve, and the ones that do not.
fn resolving(table: &PriceTable, ids: &[String], prefix: &str) -> (usize, Vec<String>) {
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !table.can_price(&format!("{prefix}{id}")))
        .cloned()
        .collect();
    (ids.len() - missing.len(), missing)
}

#[test]
fn coverage_of_the_providers_own_model_lists_does_not_drop() {
    // (provider, ids resolving as the provider's API names them, ids
    // resolving with LiteLLM's prefix): measured 2026-12-01, see
    // pricing/README.md. Raise these when coverage improves.
    let pinned: [(&str, usize, usize); 10] = [
        ("openai", 64, 64),
        ("anthropic", 19, 19),
        ("gemini", 13, 13),
        ("xai", 14, 14),
        ("deepseek", 4, 4),
        ("mistral", 11, 11),
        ("groq", 0, 4),
        ("together", 0, 29),
        ("fireworks", 0, 46),
        ("openrouter", 233, 174),
    ];
    let file: serde_json::Value = serde_json::from_str(COVERAGE_IDS).unwrap();
    let table = PriceTable::bundled();
    for ((provider, bare_pinned, prefixed_pinned), (listed, prefix)) in
        pinned.iter().zip(LITELLM_PREFIXES)
    {
        assert_eq!(provider, &listed);
        let ids: Vec<String> =
            serde_json::from_value(file["providers"][provider]["ids"].clone()).unwrap();
        let (bare, missing) = resolving(&table, &ids, "");
        let (prefixed, _) = resolving(&table, &ids, prefix);
        println!(
            "{provider}: {} ids, {bare} resolve bare ({:.0}%), {prefixed} with {prefix} ({:.0}%); unresolved bare: {missing:?}",
            ids.len(),
            100.0 * bare as f64 / ids.len() as f64,
            100.0 * prefixed as f64 / ids.len() as f64,
        );
        assert!(bare >= *bare_pinned, "{provider}: {bare} < {bare_pinned}");
        assert!(
            prefixed >= *prefixed_pinned,
            "{provider}: {prefixed} < {prefixed_pinned}"
        );
    }
}

#[test]
fn closed_weight_models_resold_by_openrouter_price_as_the_makers() {
    let table = PriceTable::bundled();
    let resold = Resolution::Resold {
        gateway: "openrouter/".into(),
    };
    let found = table
        .resolve("openrouter/anthropic/claude-sonnet-4.5:beta")
        .unwrap();
    assert_eq!(found.listed_id(), "claude-sonnet-4-5");
    assert_eq!(
        found.steps(),
        [
            resold.clone(),
            Resolution::VariantRemoved {
                suffix: ":beta".into()
            },
            Resolution::VersionDotsAsDashes,
            removed("anthropic/"),
        ]
    );
    // OpenRouter's own name, as its API takes it.
    assert_eq!(
        table
            .resolve("anthropic/claude-haiku-4.5")
            .unwrap()
            .listed_id(),
        "claude-haiku-4-5"
    );
    let grok = table.resolve("x-ai/grok-4.3").unwrap();
    assert_eq!(grok.listed_id(), "xai/grok-4.3");
    assert_eq!(grok.steps(), [removed("x-ai/"), added("xai/")]);
    assert_eq!(
        table
            .resolve("openrouter/google/gemini-2.5-pro")
            .unwrap()
            .listed_id(),
        "gemini/gemini-2.5-pro"
    );
    assert_eq!(
        table.resolve("openrouter/openai/gpt-5.4").unwrap().to_string(),
        "gpt-5.4 (resold by \"openrouter/\" at the maker's price, provider prefix \"openai/\" removed)"
    );
}

#[test]
fn open_weight_models_and_other_variants_on_a_gateway_stay_unknown() {
    let table = PriceTable::bundled();
    for name in [
        "openrouter/openai/gpt-oss-120b",
        "openrouter/meta-llama/llama-3.3-70b-instruct",
        "openrouter/google/gemma-3-27b-it",
        "openrouter/anthropic/claude-sonnet-4.5:batch",
        "openrouter/x-ai/grok-4.3:free",
    ] {
        assert!(
            matches!(table.resolve(name), Err(PriceError::UnknownModel { .. })),
            "{name}"
        );
    }
}

#[test]
fn coverage_of_the_second_price_lists_names_does_not_drop() {
    // Every name genai-prices lists for the providers it shares with
    // LiteLLM, as the provider's API takes it and with LiteLLM's prefix for
    // that provider: measured 2026-12-01, see pricing/README.md.
    let prefixes: [(&str, &str); 25] = [
        ("anthropic", "anthropic/"),
        ("openai", "openai/"),
        ("google", "gemini/"),
        ("x-ai", "xai/"),
        ("deepseek", "deepseek/"),
        ("mistral", "mistral/"),
        ("groq", "groq/"),
        ("together", "together_ai/"),
        ("fireworks", "fireworks_ai/"),
        ("openrouter", "openrouter/"),
        ("aws", "bedrock/"),
        ("azure", "azure/"),
        ("cohere", "cohere/"),
        ("moonshotai", "moonshot/"),
        ("zai", "zai/"),
        ("minimax", "minimax/"),
        ("cerebras", "cerebras/"),
        ("perplexity", "perplexity/"),
        ("novita", "novita/"),
        ("databricks", "databricks/"),
        ("cloudflare", "cloudflare/"),
        ("baseten", "baseten/"),
        ("ovhcloud", "ovhcloud/"),
        ("voyageai", "voyage/"),
        ("github-copilot", "github_copilot/"),
    ];
    let snapshot: serde_json::Value =
        serde_json::from_str(include_str!("../../pricing/genai_prices.json")).unwrap();
    let table = PriceTable::bundled();
    let (mut names, mut bare, mut either) = (0, 0, 0);
    for model in snapshot["models"].as_array().unwrap() {
        let provider = model["provider"].as_str().unwrap();
        let (_, prefix) = prefixes
            .iter()
            .find(|(listed, _)| *listed == provider)
            .unwrap_or_else(|| panic!("{provider} has no LiteLLM prefix here"));
        for name in model["names"].as_array().unwrap() {
            let name = name.as_str().unwrap();
            names += 1;
            let as_is = table.can_price(name);
            bare += usize::from(as_is);
            either += usize::from(as_is || table.can_price(&format!("{prefix}{name}")));
        }
    }
    println!("genai-prices: {names} names, {bare} resolve as written, {either} as written or with LiteLLM's prefix");
    assert_eq!(names, 2_499, "the vendored snapshot changed: measure again");
    assert!(bare >= 676, "{bare}");
    assert!(either >= 1_000, "{either}");
}

#[test]
fn the_bundled_version_names_what_pricing_readme_says() {
    let readme = include_str!("../../pricing/README.md");
    let label = PriceTable::bundled().version().to_string();
    let (litellm, rest) = label
        .strip_prefix("litellm ")
        .and_then(|rest| rest.split_once(" (retrieved "))
        .unwrap_or_else(|| panic!("{label}"));
    let retrieved = &rest[..10];
    assert!(
        readme.contains(&format!("**litellm {litellm}**, retrieved **{retrieved}**")),
        "pricing/README.md should name litellm {litellm} retrieved {retrieved}"
    );
    let newest = spendguard::prices::Overrides::bundled()
        .latest_checked()
        .unwrap()
        .to_owned();
    assert!(
        label.ends_with(&format!(") + overrides checked {newest}")),
        "{label}"
    );
    let retrieved_at = PriceTable::bundled().version().retrieved().unwrap();
    assert_eq!(
        retrieved_at.to_string(),
        format!("{retrieved}T00:00:00.000Z")
    );
}

/// With feature `tracing`, an old table says so once, as a `WARN` event on
/// target `spendguard::prices`.
#[cfg(feature = "tracing")]
mod stale_warning {
    use std::time::Duration;

    use spendguard::clock::{FakeClock, UtcDateTime};
    use spendguard::PriceTable;
    use tracing::Level;

    use crate::support::tracing_events::Heard;

    #[test]
    fn an_old_table_is_a_warn_event_and_a_fresh_one_is_silent() {
        let warnings = Heard::on("spendguard::prices");
        let at = |date| FakeClock::at_unix(UtcDateTime::parse(date).unwrap().unix());
        let ninety_days = Duration::from_secs(90 * 86_400);
        let table = PriceTable::bundled();
        tracing::subscriber::with_default(warnings.clone(), || {
            assert!(!table.warn_if_older_than(ninety_days, &at("2026-12-01")));
            assert!(table.warn_if_older_than(ninety_days, &at("2027-03-05")));
        });
        let seen = warnings.events();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].0, Level::WARN);
        assert!(
            seen[0].1.starts_with("the price table (litellm 1.110.2"),
            "{}",
            seen[0].1
        );
        assert!(seen[0]
            .1
            .ends_with(") is 100 days old; prices may have changed since"));
    }
}
