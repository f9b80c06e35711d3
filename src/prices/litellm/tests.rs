//! Unit tests of `prices::litellm`.

use super::*;

const UPSTREAM: &str = r#"{
    "sample_spec": {"max_input_tokens": "max input tokens, if the provider specifies it", "mode": "one of: chat"},
    "b-model": {"litellm_provider": "x", "mode": "chat", "input_cost_per_token": 2.0000000000000002e-07,
                "output_cost_per_token": 1e-06, "input_cost_per_token_batches": 1e-07,
                "input_cost_per_token_ultrafast": 9e-07, "max_output_tokens": 8192.0},
    "a-model": {"litellm_provider": "y", "mode": "embedding", "input_cost_per_token": 1e-08},
    "latest": {"alias_of": "b-model"},
    "latest-of-latest": {"alias_of": "latest"},
    "dangling": {"alias_of": "nowhere"},
    "tts": {"mode": "audio_speech", "input_cost_per_character": 1.5e-05}
}"#;

#[test]
fn bundling_keeps_what_spendguard_reads_one_model_per_line() {
    assert_eq!(
        bundle(UPSTREAM).unwrap(),
        "{\n\
         \x20 \"a-model\": {\"litellm_provider\": \"y\", \"mode\": \"embedding\", \"input_cost_per_token\": 1e-8},\n\
         \x20 \"b-model\": {\"litellm_provider\": \"x\", \"mode\": \"chat\", \"max_output_tokens\": 8192, \
         \"input_cost_per_token\": 2e-7, \"output_cost_per_token\": 1e-6, \"input_cost_per_token_batches\": 1e-7},\n\
         \x20 \"latest\": {\"alias_of\": \"b-model\"},\n\
         \x20 \"latest-of-latest\": {\"alias_of\": \"b-model\"}\n\
         }\n"
    );
}

#[test]
fn a_bundle_reads_back_to_the_same_prices() {
    let once = bundle(UPSTREAM).unwrap();
    assert_eq!(
        PriceFile::parse(&once).unwrap(),
        PriceFile::parse(UPSTREAM).unwrap()
    );
    assert_eq!(bundle(&once).unwrap(), once);
}

#[test]
fn not_json_is_located() {
    let error = PriceFile::parse("{\n  \"gpt-4o\": {\"mode\": \"chat\",, }\n}").unwrap_err();
    assert!(
        matches!(error, PriceError::MalformedJson { line: 2, .. }),
        "{error:?}"
    );
    assert!(matches!(
        PriceFile::parse("[1, 2]").unwrap_err(),
        PriceError::MalformedJson { .. }
    ));
}

proptest::proptest! {
    /// A price file that is not what LiteLLM writes is a typed error or a
    /// table, never a panic: flipped bytes, cut files, prices past every
    /// float, nesting deeper than the parser goes.
    #[test]
    fn any_price_file_reads_or_is_refused(
        file in crate::mutated::bytes(&[UPSTREAM.as_bytes(), TIERED.as_bytes()]),
    ) {
        if let Ok(text) = std::str::from_utf8(&file) {
            let _ = PriceFile::parse(text);
            let _ = bundle(text);
            let _ = crate::prices::PriceTable::from_litellm_json(text);
        }
    }
}

/// A model with long-context bands and a tiered schedule, for mutation.
const TIERED: &str = r#"{"t": {"litellm_provider": "vertex_ai", "mode": "chat",
    "max_input_tokens": 1048576, "max_output_tokens": 65535,
    "input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05,
    "input_cost_per_token_above_200k_tokens": 2.5e-06,
    "output_cost_per_token_above_200k_tokens": 1.5e-05,
    "cache_read_input_token_cost_above_200k_tokens_priority": 6.25e-07,
    "cache_creation_input_token_cost_above_1hr": 2e-06,
    "tiered_pricing": [{"range": [0, 128000], "input_cost_per_token": 1e-06},
                       {"range": [128000, 1000000], "input_cost_per_token": 2e-06}]}}"#;
