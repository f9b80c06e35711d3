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
