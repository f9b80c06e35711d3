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
