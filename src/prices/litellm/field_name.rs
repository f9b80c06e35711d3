//! The grammar of LiteLLM's rate field names.
//!
//! A rate field is a *kind* (`input_cost_per_token`,
//! `cache_read_input_token_cost`, ...), then an optional long-context *band*
//! (`_above_200k_tokens`), then an optional service *tier* (`_batches`,
//! `_flex`, `_priority`):
//! `cache_read_input_token_cost_above_272k_tokens_priority`. The grammar is
//! read generically, so a new threshold or a new combination needs no code.

use crate::money::PricePerToken;
use crate::prices::rates::Rates;
use crate::usage::ServiceTier;

/// What kind of token a rate field prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum RateKind {
    /// `input_cost_per_token`
    Input,
    /// `output_cost_per_token`
    Output,
    /// `cache_read_input_token_cost`
    CacheRead,
    /// `cache_creation_input_token_cost`: the default (five-minute) cache.
    CacheWrite,
    /// `cache_creation_input_token_cost_above_1hr`: Anthropic's one-hour
    /// cache. The `above_1hr` is a cache lifetime, not a prompt-size band.
    CacheWrite1h,
    /// `output_cost_per_reasoning_token`
    Reasoning,
    /// `input_cost_per_audio_token`
    InputAudio,
    /// `output_cost_per_audio_token`
    OutputAudio,
}

impl RateKind {
    /// Every kind, in the order fields are written.
    pub(crate) const ALL: [RateKind; 8] = [
        RateKind::Input,
        RateKind::Output,
        RateKind::CacheRead,
        RateKind::CacheWrite,
        RateKind::CacheWrite1h,
        RateKind::Reasoning,
        RateKind::InputAudio,
        RateKind::OutputAudio,
    ];

    /// LiteLLM's name for the kind, with no band or tier.
    pub(crate) const fn litellm_name(self) -> &'static str {
        match self {
            RateKind::Input => "input_cost_per_token",
            RateKind::Output => "output_cost_per_token",
            RateKind::CacheRead => "cache_read_input_token_cost",
            RateKind::CacheWrite => "cache_creation_input_token_cost",
            RateKind::CacheWrite1h => "cache_creation_input_token_cost_above_1hr",
            RateKind::Reasoning => "output_cost_per_reasoning_token",
            RateKind::InputAudio => "input_cost_per_audio_token",
            RateKind::OutputAudio => "output_cost_per_audio_token",
        }
    }

    /// Position in [`RateKind::ALL`].
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// The rate `rates` bills this kind at, fallbacks included (what
    /// `spendguard prices check` compares).
    #[cfg(feature = "cli")]
    pub(crate) fn billed_at(self, rates: &Rates) -> PricePerToken {
        match self {
            RateKind::Input => rates.input,
            RateKind::Output => rates.output,
            RateKind::CacheRead => rates.cache_read_rate(),
            RateKind::CacheWrite => rates.cache_write_rate(),
            RateKind::CacheWrite1h => rates.cache_write_1h_rate(),
            RateKind::Reasoning => rates.reasoning_rate(),
            RateKind::InputAudio => rates.input_audio_rate(),
            RateKind::OutputAudio => rates.output_audio_rate(),
        }
    }

    /// Writes `price` into the slot of `rates` this kind prices.
    pub(crate) fn set(self, rates: &mut Rates, price: PricePerToken) {
        match self {
            RateKind::Input => rates.input = price,
            RateKind::Output => rates.output = price,
            RateKind::CacheRead => rates.cache_read = Some(price),
            RateKind::CacheWrite => rates.cache_write = Some(price),
            RateKind::CacheWrite1h => rates.cache_write_1h = Some(price),
            RateKind::Reasoning => rates.reasoning = Some(price),
            RateKind::InputAudio => rates.input_audio = Some(price),
            RateKind::OutputAudio => rates.output_audio = Some(price),
        }
    }
}

/// One rate: a kind, in a band, at a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RateField {
    /// What it prices.
    pub(crate) kind: RateKind,
    /// `Some(n)`: applies to calls whose prompt has more than `n` tokens.
    pub(crate) band: Option<u64>,
    /// The service tier it applies to.
    pub(crate) tier: ServiceTier,
}

impl RateField {
    /// LiteLLM's name for this field, band before tier:
    /// `input_cost_per_token_above_200k_tokens_batches`.
    pub(crate) fn litellm_name(&self) -> String {
        let mut name = String::from(self.kind.litellm_name());
        if let Some(threshold) = self.band {
            if threshold % 1_000 == 0 {
                name.push_str(&format!("_above_{}k_tokens", threshold / 1_000));
            } else {
                name.push_str(&format!("_above_{threshold}_tokens"));
            }
        }
        match self.tier {
            ServiceTier::Standard => {}
            ServiceTier::Batch => name.push_str("_batches"),
            ServiceTier::Flex => name.push_str("_flex"),
            ServiceTier::Priority => name.push_str("_priority"),
        }
        name
    }
}

/// What spendguard makes of a field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldName {
    /// A rate spendguard bills with.
    Rate(RateField),
    /// A rate for a tier spendguard does not bill at (`_ultrafast`,
    /// `_balanced`, `_decisions`, `_fast`): read past, never used.
    OtherTier,
    /// Anything else: a limit, a flag, a per-image or per-second price, or a
    /// cache lifetime spendguard has no bucket for (`_above_12hr`).
    NotRead,
}

/// Kinds by name, longest first, so `..._above_1hr` is never read as the
/// five-minute cache-write kind followed by a band.
const KINDS_LONGEST_FIRST: [RateKind; 8] = [
    RateKind::CacheWrite1h,
    RateKind::CacheWrite,
    RateKind::CacheRead,
    RateKind::Reasoning,
    RateKind::InputAudio,
    RateKind::OutputAudio,
    RateKind::Output,
    RateKind::Input,
];

/// Tier suffixes of tiers spendguard does not bill at.
const OTHER_TIERS: [&str; 4] = ["ultrafast", "balanced", "decisions", "fast"];

impl FieldName {
    /// Reads a field name. Band and tier may come in either order
    /// (`_above_200k_tokens_priority` and `_priority_above_200k_tokens`).
    pub(crate) fn parse(name: &str) -> FieldName {
        let Some((kind, mut rest)) = KINDS_LONGEST_FIRST
            .iter()
            .find_map(|&kind| Some((kind, name.strip_prefix(kind.litellm_name())?)))
        else {
            return FieldName::NotRead;
        };
        let mut band = None;
        let mut tier = None;
        let mut other_tier = false;
        while !rest.is_empty() {
            if let Some((threshold, after)) = parse_band(rest) {
                if band.replace(threshold).is_some() {
                    return FieldName::NotRead;
                }
                rest = after;
                continue;
            }
            let Some(segment) = rest.strip_prefix('_') else {
                return FieldName::NotRead;
            };
            let (word, after) = segment.split_at(segment.find('_').unwrap_or(segment.len()));
            let parsed = match word {
                "batches" => ServiceTier::Batch,
                "flex" => ServiceTier::Flex,
                "priority" => ServiceTier::Priority,
                other if OTHER_TIERS.contains(&other) => {
                    other_tier = true;
                    ServiceTier::Standard
                }
                _ => return FieldName::NotRead,
            };
            if tier.replace(parsed).is_some() {
                return FieldName::NotRead;
            }
            rest = after;
        }
        if other_tier {
            return FieldName::OtherTier;
        }
        FieldName::Rate(RateField {
            kind,
            band,
            tier: tier.unwrap_or(ServiceTier::Standard),
        })
    }
}

/// Reads `_above_<n>[k|m]_tokens` at the start of `rest`: the threshold in
/// tokens and what follows.
fn parse_band(rest: &str) -> Option<(u64, &str)> {
    let rest = rest.strip_prefix("_above_")?;
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let number: u64 = rest[..digits].parse().ok()?;
    let rest = &rest[digits..];
    let (scale, rest) = match rest.as_bytes().first() {
        Some(b'k') => (1_000, &rest[1..]),
        Some(b'm') => (1_000_000, &rest[1..]),
        _ => (1, rest),
    };
    let rest = rest.strip_prefix("_tokens")?;
    Some((number.checked_mul(scale)?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(kind: RateKind, band: Option<u64>, tier: ServiceTier) -> FieldName {
        FieldName::Rate(RateField { kind, band, tier })
    }

    #[test]
    fn plain_kinds() {
        for kind in RateKind::ALL {
            assert_eq!(
                FieldName::parse(kind.litellm_name()),
                rate(kind, None, ServiceTier::Standard),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn one_hour_cache_write_is_a_kind_not_a_band() {
        assert_eq!(
            FieldName::parse("cache_creation_input_token_cost_above_1hr"),
            rate(RateKind::CacheWrite1h, None, ServiceTier::Standard)
        );
        assert_eq!(
            FieldName::parse("cache_creation_input_token_cost_above_1hr_above_200k_tokens"),
            rate(RateKind::CacheWrite1h, Some(200_000), ServiceTier::Standard)
        );
    }

    #[test]
    fn bands_and_tiers_combine_in_either_order() {
        assert_eq!(
            FieldName::parse("cache_read_input_token_cost_above_272k_tokens_priority"),
            rate(RateKind::CacheRead, Some(272_000), ServiceTier::Priority)
        );
        assert_eq!(
            FieldName::parse("input_cost_per_token_priority_above_200k_tokens"),
            rate(RateKind::Input, Some(200_000), ServiceTier::Priority)
        );
        assert_eq!(
            FieldName::parse("output_cost_per_token_batches"),
            rate(RateKind::Output, None, ServiceTier::Batch)
        );
        assert_eq!(
            FieldName::parse("input_cost_per_token_above_128000_tokens_flex"),
            rate(RateKind::Input, Some(128_000), ServiceTier::Flex)
        );
        assert_eq!(
            FieldName::parse("input_cost_per_token_above_1m_tokens"),
            rate(RateKind::Input, Some(1_000_000), ServiceTier::Standard)
        );
    }

    #[test]
    fn tiers_spendguard_does_not_bill_are_recognised_and_skipped() {
        assert_eq!(
            FieldName::parse("input_cost_per_token_ultrafast"),
            FieldName::OtherTier
        );
        assert_eq!(
            FieldName::parse("cache_read_input_token_cost_above_272k_tokens_decisions"),
            FieldName::OtherTier
        );
        assert_eq!(
            FieldName::parse("output_cost_per_token_balanced"),
            FieldName::OtherTier
        );
    }

    #[test]
    fn other_fields_are_not_read() {
        for name in [
            "max_input_tokens",
            "input_cost_per_token_cache_hit",
            "cache_creation_input_token_cost_above_12hr",
            "cache_creation_input_token_cost_above_12hr_above_272k_tokens",
            "input_cost_per_audio_per_second",
            "input_cost_per_token_above_k_tokens",
            "input_cost_per_token_batches_batches",
            "input_cost_per_token_above_1k_tokens_above_2k_tokens",
            "cache_read_input_audio_token_cost",
            "output_cost_per_image_token",
        ] {
            assert_eq!(FieldName::parse(name), FieldName::NotRead, "{name}");
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in RateKind::ALL {
            for band in [None, Some(200_000), Some(128_500)] {
                for tier in [
                    ServiceTier::Standard,
                    ServiceTier::Batch,
                    ServiceTier::Flex,
                    ServiceTier::Priority,
                ] {
                    let field = RateField { kind, band, tier };
                    assert_eq!(
                        FieldName::parse(&field.litellm_name()),
                        FieldName::Rate(field)
                    );
                }
            }
        }
    }
}
