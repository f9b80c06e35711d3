//! The full price of one model: rates per service tier, limits, and the two
//! questions a guard asks of it (what did this call cost, what could it cost).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::money::Usd;
use crate::prices::rates::{RateSchedule, Rates};
use crate::usage::{ServiceTier, Usage};

/// OpenAI's priority tier costs 1.7 to 2 times the standard price; when a
/// model lists no priority price, a priority call is charged at twice the
/// standard one rather than under-counted.
const PRIORITY_FALLBACK_MULTIPLIER: u64 = 2;

/// What kind of endpoint a model is sold for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModelMode {
    /// Chat completions and messages.
    #[default]
    Chat,
    /// OpenAI's Responses API only.
    Responses,
    /// Legacy text completions.
    Completion,
    /// Embeddings (input only).
    Embedding,
}

impl ModelMode {
    /// Reads LiteLLM's `mode` field; other modes are not token-priced calls.
    pub fn from_litellm(mode: &str) -> Option<Self> {
        match mode {
            "chat" => Some(ModelMode::Chat),
            "responses" => Some(ModelMode::Responses),
            "completion" => Some(ModelMode::Completion),
            "embedding" => Some(ModelMode::Embedding),
            _ => None,
        }
    }
}

impl fmt::Display for ModelMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelMode::Chat => "chat",
            ModelMode::Responses => "responses",
            ModelMode::Completion => "completion",
            ModelMode::Embedding => "embedding",
        })
    }
}

/// Which prompt cache a request writes to, if it asks for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheWrite {
    /// The default (five-minute) cache.
    Default,
    /// Anthropic's one-hour cache.
    OneHour,
}

/// The price of one model, at every service tier it is sold at.
///
/// ```
/// use spendguard::{Usage, Usd};
/// use spendguard::prices::{ModelPrice, Rates};
/// use spendguard::money::PricePerToken;
///
/// let per_m = |d| PricePerToken::per_million(d).unwrap();
/// // A self-hosted or negotiated price:
/// let price = ModelPrice::new("my-llama", Rates::new(per_m(0.20), per_m(0.60)))
///     .with_max_output_tokens(8_192);
/// assert_eq!(price.cost(&Usage::new(1_000_000, 0)), Usd::from_dollars(0.20)?);
/// assert_eq!(price.max_output_tokens(), Some(8_192));
/// # Ok::<(), spendguard::money::MoneyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPrice {
    model: String,
    provider: String,
    mode: ModelMode,
    max_input_tokens: Option<u64>,
    max_output_tokens: Option<u64>,
    standard: RateSchedule,
    batch: Option<RateSchedule>,
    flex: Option<RateSchedule>,
    priority: Option<RateSchedule>,
}

impl ModelPrice {
    /// A chat model with one price band at the standard tier.
    pub fn new(model: impl Into<String>, rates: Rates) -> Self {
        ModelPrice::with_schedule(model, RateSchedule::new(rates))
    }

    /// A chat model with a standard-tier schedule (possibly banded).
    pub fn with_schedule(model: impl Into<String>, standard: RateSchedule) -> Self {
        ModelPrice {
            model: model.into(),
            provider: String::new(),
            mode: ModelMode::Chat,
            max_input_tokens: None,
            max_output_tokens: None,
            standard,
            batch: None,
            flex: None,
            priority: None,
        }
    }

    /// The same price, naming the provider that sells the model.
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = provider.into();
        self
    }

    /// The same price, for another kind of endpoint.
    pub const fn with_mode(mut self, mode: ModelMode) -> Self {
        self.mode = mode;
        self
    }

    /// The same price, with the model's context window.
    pub const fn with_max_input_tokens(mut self, tokens: u64) -> Self {
        self.max_input_tokens = Some(tokens);
        self
    }

    /// The same price, with the most output the model can produce per call.
    pub const fn with_max_output_tokens(mut self, tokens: u64) -> Self {
        self.max_output_tokens = Some(tokens);
        self
    }

    /// The same price, with its own schedule at `tier`.
    /// Setting [`ServiceTier::Standard`] replaces the standard schedule.
    pub fn with_tier(mut self, tier: ServiceTier, schedule: RateSchedule) -> Self {
        *self.schedule_mut(tier) = schedule;
        self
    }

    /// The model id this price is listed under.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The provider that sells it (LiteLLM's `litellm_provider`), or `""`.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The kind of endpoint.
    pub const fn mode(&self) -> ModelMode {
        self.mode
    }

    /// The model's context window, where known.
    pub const fn max_input_tokens(&self) -> Option<u64> {
        self.max_input_tokens
    }

    /// The most output one call can produce, where known.
    pub const fn max_output_tokens(&self) -> Option<u64> {
        self.max_output_tokens
    }

    /// The standard-tier schedule.
    pub const fn standard(&self) -> &RateSchedule {
        &self.standard
    }

    /// The schedule listed for `tier`, if the model has one of its own.
    pub fn listed_schedule(&self, tier: ServiceTier) -> Option<&RateSchedule> {
        match tier {
            ServiceTier::Standard => Some(&self.standard),
            ServiceTier::Batch => self.batch.as_ref(),
            ServiceTier::Flex => self.flex.as_ref(),
            ServiceTier::Priority => self.priority.as_ref(),
        }
    }

    /// The schedule a call at `tier` is billed by.
    ///
    /// A tier without a listed price is billed conservatively: batch and flex
    /// (always discounts) at the standard price, priority (always a premium)
    /// at twice the standard price.
    pub fn schedule(&self, tier: ServiceTier) -> std::borrow::Cow<'_, RateSchedule> {
        use std::borrow::Cow;
        match (tier, self.listed_schedule(tier)) {
            (_, Some(listed)) => Cow::Borrowed(listed),
            (ServiceTier::Priority, None) => {
                Cow::Owned(self.standard.scaled(PRIORITY_FALLBACK_MULTIPLIER, 1))
            }
            (_, None) => Cow::Borrowed(&self.standard),
        }
    }

    /// What `usage` cost, exact to the nano-dollar (rounded up once).
    pub fn cost(&self, usage: &Usage) -> Usd {
        self.priced_by(usage.service_tier, |schedule| schedule.cost(usage))
    }

    /// `price` run on the schedule a call at `tier` is billed by: a listed
    /// one borrowed as it is (every call's path), the fallback of
    /// [`schedule`](Self::schedule) otherwise.
    fn priced_by<R>(&self, tier: ServiceTier, price: impl FnOnce(&RateSchedule) -> R) -> R {
        match self.listed_schedule(tier) {
            Some(listed) => price(listed),
            None => price(&self.schedule(tier)),
        }
    }

    /// What `usage` would cost at the dearest tier the model is billed at
    /// (its listed tiers, and priority at its conservative fallback): for a
    /// call at a tier the table cannot price, never billed below what any
    /// known tier would charge.
    ///
    /// ```
    /// use spendguard::{Usage, Usd};
    /// use spendguard::usage::ServiceTier;
    /// use spendguard::prices::{ModelPrice, RateSchedule, Rates};
    /// use spendguard::money::PricePerToken;
    ///
    /// let per_m = |d| PricePerToken::per_million(d).unwrap();
    /// let price = ModelPrice::new("m", Rates::new(per_m(1.0), per_m(4.0)))
    ///     .with_tier(ServiceTier::Priority, RateSchedule::new(Rates::new(per_m(2.0), per_m(8.0))));
    /// assert_eq!(price.dearest_cost(&Usage::new(1_000_000, 0)), Usd::from_dollars(2.0)?);
    /// # Ok::<(), spendguard::money::MoneyError>(())
    /// ```
    pub fn dearest_cost(&self, usage: &Usage) -> Usd {
        [
            ServiceTier::Standard,
            ServiceTier::Batch,
            ServiceTier::Flex,
            ServiceTier::Priority,
        ]
        .into_iter()
        .map(|tier| self.schedule(tier).cost(usage))
        .max()
        .unwrap_or(Usd::MAX)
    }

    /// The most a call can cost: `input_tokens` of prompt (at the cache-write
    /// rate if the request writes to a cache) and `max_output_tokens` of
    /// output at the dearest output rate, in the band the prompt selects.
    ///
    /// ```
    /// use spendguard::Usd;
    /// use spendguard::usage::ServiceTier;
    /// use spendguard::prices::{CacheWrite, ModelPrice, Rates};
    /// use spendguard::money::PricePerToken;
    ///
    /// let per_m = |d| PricePerToken::per_million(d).unwrap();
    /// let sonnet = ModelPrice::new(
    ///     "claude-sonnet",
    ///     Rates::new(per_m(3.0), per_m(15.0)).with_cache_write(per_m(3.75)),
    /// );
    /// let plain = sonnet.worst_case(10_000, 1_000, ServiceTier::Standard, None);
    /// assert_eq!(plain, Usd::from_dollars(0.045)?);
    /// let caching = sonnet.worst_case(10_000, 1_000, ServiceTier::Standard, Some(CacheWrite::Default));
    /// assert_eq!(caching, Usd::from_dollars(0.0525)?);
    /// # Ok::<(), spendguard::money::MoneyError>(())
    /// ```
    pub fn worst_case(
        &self,
        input_tokens: u64,
        max_output_tokens: u64,
        tier: ServiceTier,
        cache_write: Option<CacheWrite>,
    ) -> Usd {
        self.priced_by(tier, |schedule| {
            let rates = schedule.band_for(input_tokens);
            let input_rate = match cache_write {
                None => rates.input,
                Some(CacheWrite::Default) => rates.input.max(rates.cache_write_rate()),
                Some(CacheWrite::OneHour) => rates.input.max(rates.cache_write_1h_rate()),
            };
            let femtos = input_rate
                .femtos_for(input_tokens)
                .saturating_add(rates.max_output_rate().femtos_for(max_output_tokens));
            Usd::from_femtos_ceil(femtos)
        })
    }

    /// Mutable access to the schedule of `tier`, creating it from the standard
    /// one if the model had none; for price overrides.
    pub fn schedule_mut(&mut self, tier: ServiceTier) -> &mut RateSchedule {
        let slot = match tier {
            ServiceTier::Standard => return &mut self.standard,
            ServiceTier::Batch => &mut self.batch,
            ServiceTier::Flex => &mut self.flex,
            ServiceTier::Priority => &mut self.priority,
        };
        slot.get_or_insert_with(|| self.standard.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::PricePerToken;

    fn per_m(dollars: f64) -> PricePerToken {
        PricePerToken::per_million(dollars).unwrap()
    }

    fn gpt5_like() -> ModelPrice {
        ModelPrice::new("gpt-5", Rates::new(per_m(1.25), per_m(10.0)))
            .with_tier(
                ServiceTier::Flex,
                RateSchedule::new(Rates::new(per_m(0.625), per_m(5.0))),
            )
            .with_max_output_tokens(128_000)
    }

    #[test]
    fn listed_tiers_use_their_own_price() {
        let usage = Usage::new(1_000_000, 1_000_000).with_service_tier(ServiceTier::Flex);
        assert_eq!(gpt5_like().cost(&usage), Usd::from_dollars(5.625).unwrap());
    }

    #[test]
    fn unlisted_discount_tiers_bill_at_standard() {
        let usage = Usage::new(1_000_000, 0).with_service_tier(ServiceTier::Batch);
        assert_eq!(gpt5_like().cost(&usage), Usd::from_dollars(1.25).unwrap());
    }

    #[test]
    fn unlisted_priority_bills_at_twice_standard_not_less() {
        let usage = Usage::new(1_000_000, 1_000_000).with_service_tier(ServiceTier::Priority);
        assert_eq!(gpt5_like().cost(&usage), Usd::from_dollars(22.5).unwrap());
    }

    #[test]
    fn worst_case_uses_the_band_of_the_prompt_and_the_dearest_output_rate() {
        let price = ModelPrice::with_schedule(
            "gemini-pro",
            RateSchedule::new(Rates::new(per_m(1.25), per_m(10.0)).with_reasoning(per_m(12.0)))
                .with_band_above(200_000, Rates::new(per_m(2.5), per_m(15.0))),
        );
        let small = price.worst_case(100_000, 1_000, ServiceTier::Standard, None);
        assert_eq!(small, Usd::from_dollars(0.125 + 0.012).unwrap());
        let large = price.worst_case(300_000, 1_000, ServiceTier::Standard, None);
        assert_eq!(large, Usd::from_dollars(0.75 + 0.015).unwrap());
    }

    #[test]
    fn worst_case_covers_one_hour_cache_writes() {
        let price = ModelPrice::new(
            "claude",
            Rates::new(per_m(3.0), per_m(15.0))
                .with_cache_write(per_m(3.75))
                .with_cache_write_1h(per_m(6.0)),
        );
        let cost = price.worst_case(
            1_000_000,
            0,
            ServiceTier::Standard,
            Some(CacheWrite::OneHour),
        );
        assert_eq!(cost, Usd::from_dollars(6.0).unwrap());
    }

    #[test]
    fn schedule_mut_creates_a_tier_from_standard() {
        let mut price = ModelPrice::new("m", Rates::new(per_m(1.0), per_m(2.0)));
        price.schedule_mut(ServiceTier::Batch).base_mut().input = per_m(0.5);
        assert_eq!(
            price
                .listed_schedule(ServiceTier::Batch)
                .unwrap()
                .base()
                .input,
            per_m(0.5)
        );
        assert_eq!(price.standard().base().input, per_m(1.0));
    }
}
