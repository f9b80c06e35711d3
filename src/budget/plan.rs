//! [`CallPlan`]: what a call is about to consume, before it is sent.

use std::sync::Arc;

use crate::prices::{CacheWrite, ModelPrice};
use crate::usage::ServiceTier;

/// A call about to be made: the model's price, the prompt size and the
/// output it may produce. A budget prices its worst case and reserves it.
///
/// ```
/// use std::sync::Arc;
/// use spendguard::CallPlan;
/// use spendguard::usage::ServiceTier;
/// use spendguard::prices::{ModelPrice, Rates};
/// use spendguard::money::PricePerToken;
///
/// let per_m = |d| PricePerToken::per_million(d).unwrap();
/// let price = Arc::new(ModelPrice::new("gpt-4o-mini", Rates::new(per_m(0.15), per_m(0.60))));
/// let plan = CallPlan::new(&price, 1_200)
///     .with_max_output_tokens(500)
///     .with_service_tier(ServiceTier::Batch);
/// assert_eq!(plan.input_tokens(), 1_200);
/// assert_eq!(plan.requested_output_tokens(), Some(500));
/// ```
///
/// A plan co-owns the price (one reference-count increment), so the
/// [`Reservation`](crate::budget::Reservation) made from it can move into a spawned
/// task or a stream.
#[derive(Debug, Clone)]
pub struct CallPlan {
    price: Arc<ModelPrice>,
    input_tokens: u64,
    max_output_tokens: Option<u64>,
    service_tier: ServiceTier,
    cache_write: Option<CacheWrite>,
    choices: u64,
}

impl CallPlan {
    /// A call to the model priced by `price` with a prompt of `input_tokens`
    /// (an exact count or an estimate with its margin already added).
    pub fn new(price: &Arc<ModelPrice>, input_tokens: u64) -> Self {
        CallPlan {
            price: Arc::clone(price),
            input_tokens,
            max_output_tokens: None,
            service_tier: ServiceTier::Standard,
            cache_write: None,
            choices: 1,
        }
    }

    /// The request's own `max_tokens`, if it sets one. Without it the
    /// budget's per-call output ceiling applies.
    pub const fn with_max_output_tokens(mut self, tokens: u64) -> Self {
        self.max_output_tokens = Some(tokens);
        self
    }

    /// The service tier the request asks for.
    pub const fn with_service_tier(mut self, tier: ServiceTier) -> Self {
        self.service_tier = tier;
        self
    }

    /// The request writes its prompt to a cache (Anthropic `cache_control`),
    /// which can cost more than ordinary input.
    pub const fn with_cache_write(mut self, cache: CacheWrite) -> Self {
        self.cache_write = Some(cache);
        self
    }

    /// The request asks for `choices` answers (OpenAI's `n`, Gemini's
    /// `candidateCount`), each up to the output limit: the worst case is
    /// that many times the output. Zero is read as one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use spendguard::{CallPlan, TaskBudget, Usd};
    /// use spendguard::prices::{ModelPrice, Rates};
    /// use spendguard::money::PricePerToken;
    ///
    /// let per_m = |d| PricePerToken::per_million(d).unwrap();
    /// let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(1.0), per_m(1.0))));
    /// let budget = TaskBudget::new(Usd::from_dollars(1.0)?);
    /// let eight = budget.reserve(CallPlan::new(&price, 100).with_max_output_tokens(40).with_choices(8))?;
    /// assert_eq!(eight.max_output_tokens(), 40, "the limit sent applies to each answer");
    /// assert_eq!(eight.reserved_tokens(), 100 + 8 * 40);
    /// # eight.release();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn with_choices(mut self, choices: u64) -> Self {
        self.choices = if choices == 0 { 1 } else { choices };
        self
    }

    /// How many answers the request asks for.
    pub const fn choices(&self) -> u64 {
        self.choices
    }

    /// The model's price.
    pub fn price(&self) -> &Arc<ModelPrice> {
        &self.price
    }

    /// The prompt size.
    pub const fn input_tokens(&self) -> u64 {
        self.input_tokens
    }

    /// The request's own output limit, if any.
    pub const fn requested_output_tokens(&self) -> Option<u64> {
        self.max_output_tokens
    }

    /// The service tier asked for.
    pub const fn service_tier(&self) -> ServiceTier {
        self.service_tier
    }

    /// The prompt cache written to, if any.
    pub const fn cache_write(&self) -> Option<CacheWrite> {
        self.cache_write
    }

    pub(crate) fn into_price(self) -> Arc<ModelPrice> {
        self.price
    }
}

/// The per-call output ceiling: the `max_tokens` every call gets.
///
/// A call with no `max_tokens` could otherwise run to the model's own
/// maximum (128k tokens on some models): the ceiling bounds each call's worst
/// case. A request asking for more is clamped by default; set
/// [`OutputCeiling::refusing`] to refuse it instead.
///
/// ```
/// use spendguard::budget::OutputCeiling;
///
/// let ceiling = OutputCeiling::clamping(4_096);
/// assert_eq!(ceiling.apply(None, None), Ok(4_096));
/// assert_eq!(ceiling.apply(Some(100_000), None), Ok(4_096));
/// assert_eq!(ceiling.apply(Some(500), None), Ok(500));
/// // The model's own maximum is lower still:
/// assert_eq!(ceiling.apply(None, Some(1_024)), Ok(1_024));
/// assert_eq!(OutputCeiling::refusing(4_096).apply(Some(5_000), None), Err(5_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCeiling {
    max_tokens: u64,
    refuse_above: bool,
}

impl OutputCeiling {
    /// The ceiling when none is configured.
    pub const DEFAULT: OutputCeiling = OutputCeiling::clamping(4_096);

    /// Requests above `max_tokens` are lowered to it.
    pub const fn clamping(max_tokens: u64) -> Self {
        OutputCeiling {
            max_tokens,
            refuse_above: false,
        }
    }

    /// Requests above `max_tokens` are refused.
    pub const fn refusing(max_tokens: u64) -> Self {
        OutputCeiling {
            max_tokens,
            refuse_above: true,
        }
    }

    /// The ceiling in tokens.
    pub const fn max_tokens(&self) -> u64 {
        self.max_tokens
    }

    /// `true` if requests above the ceiling are refused rather than clamped.
    pub const fn refuses_above(&self) -> bool {
        self.refuse_above
    }

    /// The output limit a call gets, given what it asked for and the model's
    /// own maximum, or `Err(requested)` if it must be refused.
    pub fn apply(&self, requested: Option<u64>, model_max: Option<u64>) -> Result<u64, u64> {
        let granted = match requested {
            Some(asked) if asked > self.max_tokens && self.refuse_above => return Err(asked),
            Some(asked) => asked.min(self.max_tokens),
            None => self.max_tokens,
        };
        Ok(model_max.map_or(granted, |model_max| granted.min(model_max)))
    }
}

impl Default for OutputCeiling {
    fn default() -> Self {
        OutputCeiling::DEFAULT
    }
}
