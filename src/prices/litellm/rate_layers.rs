//! LiteLLM's rates of one model, field by field, and how a rate the file
//! leaves out is inherited.
//!
//! LiteLLM lists only the rates that differ, and its cost calculator fills
//! the rest in a fixed order. spendguard keeps that order so a file means the
//! same thing to both: the rate of `kind` in `band` at `tier` is the first of
//!
//! 1. the field for that kind, band and tier,
//! 2. the field for that kind and band at the standard tier,
//! 3. the field for that kind at that tier, below every band,
//! 4. the field for that kind at the standard tier, below every band,
//!
//! and a kind with none of these keeps the fallback [`Rates`] gives it
//! (cache reads and writes at the input rate, reasoning at the output rate).

use std::collections::BTreeMap;

use crate::money::PricePerToken;
use crate::prices::litellm::field_name::{RateField, RateKind};
use crate::prices::model_price::ModelPrice;
use crate::prices::rates::{RateSchedule, Rates};
use crate::usage::ServiceTier;

/// Service tiers in the order they are written.
pub(crate) const TIERS: [ServiceTier; 4] = [
    ServiceTier::Standard,
    ServiceTier::Batch,
    ServiceTier::Flex,
    ServiceTier::Priority,
];

/// Position of a tier in [`TIERS`]; `ServiceTier` has no order of its own.
const fn tier_index(tier: ServiceTier) -> usize {
    match tier {
        ServiceTier::Standard => 0,
        ServiceTier::Batch => 1,
        ServiceTier::Flex => 2,
        ServiceTier::Priority => 3,
    }
}

/// The rate fields one entry lists, by tier, then band (`None` below every
/// band), then kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RateLayers {
    tiers: [BTreeMap<Option<u64>, [Option<PricePerToken>; 8]>; 4],
}

impl RateLayers {
    /// Records one field, replacing any earlier value.
    pub(crate) fn set(&mut self, field: RateField, price: PricePerToken) {
        self.tiers[tier_index(field.tier)]
            .entry(field.band)
            .or_default()[field.kind.index()] = Some(price);
    }

    /// The field exactly as listed, if it is.
    pub(crate) fn get(&self, field: RateField) -> Option<PricePerToken> {
        self.tiers[tier_index(field.tier)]
            .get(&field.band)
            .and_then(|kinds| kinds[field.kind.index()])
    }

    /// `true` when the standard tier lists an input or output rate: what
    /// makes an entry token-priced.
    pub(crate) fn has_token_price(&self) -> bool {
        [RateKind::Input, RateKind::Output].iter().any(|&kind| {
            self.get(RateField {
                kind,
                band: None,
                tier: ServiceTier::Standard,
            })
            .is_some()
        })
    }

    /// Every listed field with its price, tier by tier, band by band.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (RateField, PricePerToken)> + '_ {
        TIERS.iter().flat_map(move |&tier| {
            self.tiers[tier_index(tier)]
                .iter()
                .flat_map(move |(&band, kinds)| {
                    RateKind::ALL.iter().filter_map(move |&kind| {
                        kinds[kind.index()].map(|price| (RateField { kind, band, tier }, price))
                    })
                })
        })
    }

    /// The price a model built from these fields bills by.
    pub(crate) fn model_price(&self, model: &str) -> ModelPrice {
        let standard = self.schedule(ServiceTier::Standard);
        TIERS[1..]
            .iter()
            .filter(|&&tier| !self.tiers[tier_index(tier)].is_empty())
            .fold(
                ModelPrice::with_schedule(model, standard),
                |price, &tier| price.with_tier(tier, self.schedule(tier)),
            )
    }

    /// The schedule of `tier`: its base rates and one band for every
    /// threshold listed at that tier or at the standard tier.
    fn schedule(&self, tier: ServiceTier) -> RateSchedule {
        let standard = &self.tiers[tier_index(ServiceTier::Standard)];
        let own = &self.tiers[tier_index(tier)];
        let thresholds = standard.keys().chain(own.keys()).filter_map(|band| *band);
        thresholds.fold(
            RateSchedule::new(self.rates(tier, None)),
            |schedule, threshold| {
                schedule.with_band_above(threshold, self.rates(tier, Some(threshold)))
            },
        )
    }

    /// The rates of `band` at `tier`, each inherited as the module explains.
    fn rates(&self, tier: ServiceTier, band: Option<u64>) -> Rates {
        let mut rates = Rates::default();
        for kind in RateKind::ALL {
            let field = |band, tier| self.get(RateField { kind, band, tier });
            let inherited = field(band, tier)
                .or_else(|| band.and_then(|_| field(band, ServiceTier::Standard)))
                .or_else(|| field(None, tier))
                .or_else(|| field(None, ServiceTier::Standard));
            if let Some(price) = inherited {
                kind.set(&mut rates, price);
            }
        }
        rates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_m(dollars: f64) -> PricePerToken {
        PricePerToken::per_million(dollars).unwrap()
    }

    fn field(kind: RateKind, band: Option<u64>, tier: ServiceTier) -> RateField {
        RateField { kind, band, tier }
    }

    /// Shaped like LiteLLM's gpt-5.5: bands at standard and batch, flex
    /// without a band of its own, priority without any band.
    fn layers() -> RateLayers {
        let mut layers = RateLayers::default();
        let std = ServiceTier::Standard;
        layers.set(field(RateKind::Input, None, std), per_m(5.0));
        layers.set(field(RateKind::Output, None, std), per_m(30.0));
        layers.set(field(RateKind::CacheRead, None, std), per_m(0.5));
        layers.set(field(RateKind::Input, Some(272_000), std), per_m(10.0));
        layers.set(field(RateKind::Output, Some(272_000), std), per_m(45.0));
        let batch = ServiceTier::Batch;
        layers.set(field(RateKind::Input, None, batch), per_m(2.5));
        layers.set(field(RateKind::Input, Some(272_000), batch), per_m(5.0));
        layers.set(
            field(RateKind::Input, None, ServiceTier::Priority),
            per_m(12.5),
        );
        layers
    }

    #[test]
    fn a_band_inherits_kinds_it_does_not_list_from_the_base() {
        let price = layers().model_price("m");
        let band = price.standard().band_for(300_000);
        assert_eq!(band.input, per_m(10.0));
        assert_eq!(band.cache_read, Some(per_m(0.5)));
    }

    #[test]
    fn a_tier_band_falls_back_to_the_standard_band_before_the_tier_base() {
        let price = layers().model_price("m");
        let batch = price.listed_schedule(ServiceTier::Batch).unwrap();
        assert_eq!(batch.band_for(300_000).input, per_m(5.0));
        // Batch lists no output rate at all: standard band, then standard base.
        assert_eq!(batch.band_for(300_000).output, per_m(45.0));
        assert_eq!(batch.base().output, per_m(30.0));
        let priority = price.listed_schedule(ServiceTier::Priority).unwrap();
        assert_eq!(priority.base().input, per_m(12.5));
        assert_eq!(priority.band_for(300_000).input, per_m(10.0));
    }

    #[test]
    fn unlisted_tiers_stay_unlisted() {
        let price = layers().model_price("m");
        assert!(price.listed_schedule(ServiceTier::Flex).is_none());
    }

    #[test]
    fn fields_come_back_in_writing_order() {
        let listed: Vec<String> = layers()
            .fields()
            .map(|(field, _)| field.litellm_name())
            .collect();
        assert_eq!(
            listed,
            [
                "input_cost_per_token",
                "output_cost_per_token",
                "cache_read_input_token_cost",
                "input_cost_per_token_above_272k_tokens",
                "output_cost_per_token_above_272k_tokens",
                "input_cost_per_token_batches",
                "input_cost_per_token_above_272k_tokens_batches",
                "input_cost_per_token_priority",
            ]
        );
    }
}
