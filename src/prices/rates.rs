//! Per-token rates of one model at one service tier, with long-context bands.

use serde::{Deserialize, Serialize};

use crate::money::{PricePerToken, Usd};
use crate::usage::Usage;

/// What each kind of token costs in one price band.
///
/// Optional rates fall back to the rate a provider would otherwise charge:
/// cache reads and writes to the input rate, a one-hour cache write to the
/// five-minute one, reasoning and audio output to the output rate.
///
/// ```
/// use spendguard::{Usage, Usd};
/// use spendguard::prices::Rates;
/// use spendguard::money::PricePerToken;
///
/// let rates = Rates::new(PricePerToken::per_million(3.0)?, PricePerToken::per_million(15.0)?)
///     .with_cache_read(PricePerToken::per_million(0.30)?);
/// let usage = Usage { input_tokens: 1_000, cache_read_tokens: 10_000, output_tokens: 500, ..Usage::default() };
/// // 1k × $3/M + 10k × $0.30/M + 500 × $15/M = $0.003 + $0.003 + $0.0075
/// assert_eq!(rates.cost(&usage), Usd::from_dollars(0.0135)?);
/// # Ok::<(), spendguard::money::MoneyError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    /// Ordinary input.
    pub input: PricePerToken,
    /// Visible output.
    pub output: PricePerToken,
    /// Input read from a prompt cache.
    pub cache_read: Option<PricePerToken>,
    /// Input written to a prompt cache (default lifetime).
    pub cache_write: Option<PricePerToken>,
    /// Input written to a one-hour prompt cache.
    pub cache_write_1h: Option<PricePerToken>,
    /// Reasoning output, where a model bills it apart from visible output.
    pub reasoning: Option<PricePerToken>,
    /// Audio input.
    pub input_audio: Option<PricePerToken>,
    /// Audio output.
    pub output_audio: Option<PricePerToken>,
}

/// How one kind of token's rate is read from a [`Rates`].
type RateOf = fn(&Rates) -> PricePerToken;

impl Rates {
    /// Rates with only an input and an output price.
    pub const fn new(input: PricePerToken, output: PricePerToken) -> Self {
        Rates {
            input,
            output,
            cache_read: None,
            cache_write: None,
            cache_write_1h: None,
            reasoning: None,
            input_audio: None,
            output_audio: None,
        }
    }

    /// The same rates with a cache-read price.
    pub const fn with_cache_read(mut self, price: PricePerToken) -> Self {
        self.cache_read = Some(price);
        self
    }

    /// The same rates with a cache-write price (default lifetime).
    pub const fn with_cache_write(mut self, price: PricePerToken) -> Self {
        self.cache_write = Some(price);
        self
    }

    /// The same rates with a one-hour cache-write price.
    pub const fn with_cache_write_1h(mut self, price: PricePerToken) -> Self {
        self.cache_write_1h = Some(price);
        self
    }

    /// The same rates with a reasoning-output price.
    pub const fn with_reasoning(mut self, price: PricePerToken) -> Self {
        self.reasoning = Some(price);
        self
    }

    /// Effective cache-read rate.
    pub fn cache_read_rate(&self) -> PricePerToken {
        self.cache_read.unwrap_or(self.input)
    }

    /// Effective cache-write rate (default lifetime).
    pub fn cache_write_rate(&self) -> PricePerToken {
        self.cache_write.unwrap_or(self.input)
    }

    /// Effective one-hour cache-write rate.
    pub fn cache_write_1h_rate(&self) -> PricePerToken {
        self.cache_write_1h
            .unwrap_or_else(|| self.cache_write_rate())
    }

    /// Effective reasoning-output rate.
    pub fn reasoning_rate(&self) -> PricePerToken {
        self.reasoning.unwrap_or(self.output)
    }

    /// Effective audio-input rate.
    pub fn input_audio_rate(&self) -> PricePerToken {
        self.input_audio.unwrap_or(self.input)
    }

    /// Effective audio-output rate.
    pub fn output_audio_rate(&self) -> PricePerToken {
        self.output_audio.unwrap_or(self.output)
    }

    /// The dearest rate any output token can be billed at.
    pub fn max_output_rate(&self) -> PricePerToken {
        self.output
            .max(self.reasoning_rate())
            .max(self.output_audio_rate())
    }

    /// The exact cost of `usage` at these rates, in femto-dollars.
    pub fn femtos(&self, usage: &Usage) -> u128 {
        let plain = self
            .input
            .femtos_for(usage.input_tokens)
            .saturating_add(self.output.femtos_for(usage.output_tokens));
        // Most calls have none of the other kinds: each is priced (its rate
        // looked up, a 128-bit product added) only when present.
        let others: [(u64, RateOf); 6] = [
            (usage.cache_read_tokens, Rates::cache_read_rate),
            (usage.cache_write_tokens, Rates::cache_write_rate),
            (usage.cache_write_1h_tokens, Rates::cache_write_1h_rate),
            (usage.input_audio_tokens, Rates::input_audio_rate),
            (usage.reasoning_tokens, Rates::reasoning_rate),
            (usage.output_audio_tokens, Rates::output_audio_rate),
        ];
        others
            .iter()
            .filter(|(tokens, _)| *tokens > 0)
            .map(|&(tokens, rate)| rate(self).femtos_for(tokens))
            .fold(plain, u128::saturating_add)
    }

    /// The cost of `usage` at these rates, rounded up once to the nano-dollar.
    pub fn cost(&self, usage: &Usage) -> Usd {
        Usd::from_femtos_ceil(self.femtos(usage))
    }

    /// Scales every rate by `numerator / denominator`, rounding up.
    pub(crate) fn scaled(&self, numerator: u64, denominator: u64) -> Rates {
        let scale = |p: PricePerToken| {
            let femtos = u128::from(p.femtos()) * u128::from(numerator);
            PricePerToken::from_femtos(
                u64::try_from(femtos.div_ceil(u128::from(denominator))).unwrap_or(u64::MAX),
            )
        };
        Rates {
            input: scale(self.input),
            output: scale(self.output),
            cache_read: self.cache_read.map(scale),
            cache_write: self.cache_write.map(scale),
            cache_write_1h: self.cache_write_1h.map(scale),
            reasoning: self.reasoning.map(scale),
            input_audio: self.input_audio.map(scale),
            output_audio: self.output_audio.map(scale),
        }
    }
}

/// Rates of one service tier: a base band plus long-context bands.
///
/// Some models charge more for every token of a call whose prompt is larger
/// than a threshold (Anthropic and Gemini above 200k tokens, OpenAI above
/// 272k). The band is chosen by the size of the whole prompt, cached tokens
/// included, and then applies to the whole call.
///
/// ```
/// use spendguard::prices::{Rates, RateSchedule};
/// use spendguard::money::PricePerToken;
///
/// let per_m = |d| PricePerToken::per_million(d).unwrap();
/// let schedule = RateSchedule::new(Rates::new(per_m(1.25), per_m(10.0)))
///     .with_band_above(200_000, Rates::new(per_m(2.50), per_m(15.0)));
/// assert_eq!(schedule.band_for(200_000).input, per_m(1.25));
/// assert_eq!(schedule.band_for(200_001).input, per_m(2.50));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateSchedule {
    base: Rates,
    /// `(threshold, rates)`, sorted by threshold: the rates apply when the
    /// prompt has more than `threshold` tokens.
    bands: Vec<(u64, Rates)>,
}

impl RateSchedule {
    /// A schedule with one band for every prompt size.
    pub const fn new(base: Rates) -> Self {
        RateSchedule {
            base,
            bands: Vec::new(),
        }
    }

    /// The same schedule with `rates` for prompts of more than `threshold`
    /// tokens. Adding a band for an existing threshold replaces it.
    pub fn with_band_above(mut self, threshold: u64, rates: Rates) -> Self {
        self.bands.retain(|&(t, _)| t != threshold);
        let at = self.bands.partition_point(|&(t, _)| t < threshold);
        self.bands.insert(at, (threshold, rates));
        self
    }

    /// The rates for prompts of any size up to the first threshold.
    pub const fn base(&self) -> &Rates {
        &self.base
    }

    /// Mutable access to the base rates, for overrides.
    pub fn base_mut(&mut self) -> &mut Rates {
        &mut self.base
    }

    /// The long-context bands, as `(threshold, rates)` sorted by threshold.
    pub fn bands(&self) -> &[(u64, Rates)] {
        &self.bands
    }

    /// The rates for a call whose prompt has `prompt_tokens` tokens.
    pub fn band_for(&self, prompt_tokens: u64) -> &Rates {
        self.bands
            .iter()
            .rev()
            .find(|&&(threshold, _)| prompt_tokens > threshold)
            .map_or(&self.base, |(_, rates)| rates)
    }

    /// The cost of `usage`, in the band its prompt size selects.
    pub fn cost(&self, usage: &Usage) -> Usd {
        self.band_for(usage.prompt_tokens()).cost(usage)
    }

    pub(crate) fn scaled(&self, numerator: u64, denominator: u64) -> RateSchedule {
        RateSchedule {
            base: self.base.scaled(numerator, denominator),
            bands: self
                .bands
                .iter()
                .map(|(t, r)| (*t, r.scaled(numerator, denominator)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_m(dollars: f64) -> PricePerToken {
        PricePerToken::per_million(dollars).unwrap()
    }

    #[test]
    fn missing_rates_fall_back_to_what_the_provider_would_charge() {
        let rates = Rates::new(per_m(2.0), per_m(8.0)).with_cache_write(per_m(2.5));
        assert_eq!(rates.cache_read_rate(), per_m(2.0));
        assert_eq!(rates.cache_write_1h_rate(), per_m(2.5));
        assert_eq!(rates.reasoning_rate(), per_m(8.0));
        assert_eq!(rates.max_output_rate(), per_m(8.0));
    }

    #[test]
    fn every_bucket_is_charged_once_at_its_own_rate() {
        let rates = Rates {
            input: per_m(1.0),
            output: per_m(2.0),
            cache_read: Some(per_m(3.0)),
            cache_write: Some(per_m(4.0)),
            cache_write_1h: Some(per_m(5.0)),
            reasoning: Some(per_m(6.0)),
            input_audio: Some(per_m(7.0)),
            output_audio: Some(per_m(8.0)),
        };
        let one_million_each = Usage {
            input_tokens: 1_000_000,
            cache_read_tokens: 1_000_000,
            cache_write_tokens: 1_000_000,
            cache_write_1h_tokens: 1_000_000,
            input_audio_tokens: 1_000_000,
            output_tokens: 1_000_000,
            reasoning_tokens: 1_000_000,
            output_audio_tokens: 1_000_000,
            ..Usage::default()
        };
        assert_eq!(
            rates.cost(&one_million_each),
            Usd::from_dollars(36.0).unwrap()
        );
    }

    #[test]
    fn rounding_happens_once_after_summing() {
        // 3 tokens at a third of a nano-dollar each is one nano-dollar, not three.
        let rates = Rates::new(PricePerToken::from_femtos(333_334), PricePerToken::ZERO);
        assert_eq!(rates.cost(&Usage::new(3, 0)), Usd::from_nanos(2));
        assert_eq!(rates.cost(&Usage::new(1, 0)), Usd::from_nanos(1));
    }

    #[test]
    fn bands_are_chosen_by_the_whole_prompt() {
        let schedule = RateSchedule::new(Rates::new(per_m(3.0), per_m(15.0)))
            .with_band_above(200_000, Rates::new(per_m(6.0), per_m(22.5)));
        let cached_heavy = Usage {
            input_tokens: 1_000,
            cache_read_tokens: 250_000,
            ..Usage::default()
        };
        assert_eq!(
            schedule.band_for(cached_heavy.prompt_tokens()).input,
            per_m(6.0)
        );
    }

    #[test]
    fn bands_stay_sorted_and_replace_duplicates() {
        let schedule = RateSchedule::new(Rates::new(per_m(1.0), per_m(1.0)))
            .with_band_above(272_000, Rates::new(per_m(3.0), per_m(3.0)))
            .with_band_above(128_000, Rates::new(per_m(2.0), per_m(2.0)))
            .with_band_above(128_000, Rates::new(per_m(2.5), per_m(2.5)));
        let thresholds: Vec<u64> = schedule.bands().iter().map(|(t, _)| *t).collect();
        assert_eq!(thresholds, [128_000, 272_000]);
        assert_eq!(schedule.band_for(130_000).input, per_m(2.5));
        assert_eq!(schedule.band_for(300_000).input, per_m(3.0));
    }

    #[test]
    fn scaling_rounds_up() {
        let doubled = Rates::new(PricePerToken::from_femtos(3), PricePerToken::ZERO).scaled(1, 2);
        assert_eq!(doubled.input, PricePerToken::from_femtos(2));
    }
}
