//! Integer money: [`Usd`] amounts in nano-dollars and [`PricePerToken`] rates in
//! femto-dollars.
//!
//! Every sum, comparison and limit in spendguard is integer arithmetic. Floats
//! appear only at the edges (a price file, a user typing `2.50`), and the
//! constructors that take them reject NaN, infinities, negatives and values
//! finer than the unit instead of rounding silently.
//!
//! ```
//! use spendguard::Usd;
//! use spendguard::money::PricePerToken;
//!
//! let limit = Usd::from_dollars(2.0)?;
//! assert_eq!(limit.nanos(), 2_000_000_000);
//! assert_eq!(limit.to_string(), "$2.00");
//!
//! // $0.0001 per million tokens is a tenth of a nano-dollar per token, and
//! // one token still never rounds down to $0.
//! let tiny = PricePerToken::per_million(0.0001)?;
//! assert_eq!(tiny.cost_of(1), Usd::from_nanos(1));
//! assert_eq!(tiny.cost_of(10), Usd::from_nanos(1));
//! # Ok::<(), spendguard::money::MoneyError>(())
//! ```

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// Nano-dollars in one dollar.
const NANOS_PER_DOLLAR: u64 = 1_000_000_000;
/// Femto-dollars in one nano-dollar.
const FEMTOS_PER_NANO: u128 = 1_000_000;
/// Decimal places of a nano-dollar.
const NANO_DIGITS: u32 = 9;
/// Decimal places of a femto-dollar.
const FEMTO_DIGITS: u32 = 15;
/// Largest amount accepted from a float: a billion dollars, far above any
/// budget and far below `u64::MAX` nano-dollars.
const MAX_DOLLARS: u64 = 1_000_000_000;

/// Why a float could not become money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The value was NaN or infinite.
    #[error("{what} must be a finite number, got {value}")]
    NotFinite {
        /// What the value was for ("dollars", "price per token", ...).
        what: &'static str,
        /// The value as given.
        value: String,
    },
    /// The value was below zero.
    #[error("{what} must not be negative, got {value}")]
    Negative {
        /// What the value was for.
        what: &'static str,
        /// The value as given.
        value: String,
    },
    /// The value has more decimal places than the unit can hold exactly.
    #[error(
        "{what} {value} is finer than the smallest unit (1e-{digits} dollars); round it first"
    )]
    TooPrecise {
        /// What the value was for.
        what: &'static str,
        /// The value as given.
        value: String,
        /// Decimal places the unit holds.
        digits: u32,
    },
    /// The value is larger than any amount spendguard accepts.
    #[error("{what} {value} is larger than the maximum of {max} dollars")]
    TooLarge {
        /// What the value was for.
        what: &'static str,
        /// The value as given.
        value: String,
        /// The maximum, in dollars.
        max: u64,
    },
}

/// An amount of US dollars, held as whole nano-dollars (10⁻⁹ USD).
///
/// A nano-dollar is far below a billing cent, so no provider charge is ever
/// lost to rounding; `u64` holds up to about 18 billion dollars.
///
/// ```
/// use spendguard::Usd;
///
/// let spent = Usd::from_dollars(0.25)? + Usd::from_cents(150);
/// assert_eq!(spent, Usd::from_dollars(1.75)?);
/// assert!(Usd::from_dollars(f64::NAN).is_err());
/// assert!(Usd::from_dollars(-1.0).is_err());
/// # Ok::<(), spendguard::money::MoneyError>(())
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Usd(u64);

impl Usd {
    /// No money.
    pub const ZERO: Usd = Usd(0);
    /// The largest representable amount; arithmetic saturates here.
    pub const MAX: Usd = Usd(u64::MAX);

    /// An amount of whole nano-dollars.
    pub const fn from_nanos(nanos: u64) -> Self {
        Usd(nanos)
    }

    /// An amount of whole cents.
    pub const fn from_cents(cents: u64) -> Self {
        Usd(cents.saturating_mul(NANOS_PER_DOLLAR / 100))
    }

    /// Converts a dollar amount typed as a float, exactly or not at all.
    ///
    /// The float is read as the shortest decimal that prints as it (what a
    /// person wrote: `0.1`, not `0.1000000000000000055…`). That decimal must
    /// fit in nano-dollars exactly.
    ///
    /// # Errors
    /// [`MoneyError`] for NaN, infinities, negatives, more than nine decimal
    /// places, or more than a billion dollars.
    pub fn from_dollars(dollars: f64) -> Result<Self, MoneyError> {
        let units = decimal_units(dollars, NANO_DIGITS, "dollars", Rounding::Exact)?;
        Usd::from_nano_units(units, dollars)
    }

    /// Converts a dollar amount a provider reported as a float, rounded up
    /// to the next nano-dollar: a charge read this way is never smaller than
    /// the one reported.
    ///
    /// ```
    /// use spendguard::Usd;
    ///
    /// assert_eq!(Usd::from_dollars_rounded_up(0.000_012_345_6)?, Usd::from_nanos(12_346));
    /// assert!(Usd::from_dollars_rounded_up(-0.01).is_err());
    /// # Ok::<(), spendguard::money::MoneyError>(())
    /// ```
    ///
    /// # Errors
    /// [`MoneyError`] for NaN, infinities, negatives, or more than a billion
    /// dollars.
    pub fn from_dollars_rounded_up(dollars: f64) -> Result<Self, MoneyError> {
        let units = decimal_units(dollars, NANO_DIGITS, "dollars", Rounding::Up)?;
        Usd::from_nano_units(units, dollars)
    }

    /// Checks a nano-dollar amount read from `dollars` against the largest
    /// accepted amount.
    fn from_nano_units(units: u128, dollars: f64) -> Result<Self, MoneyError> {
        u64::try_from(units)
            .ok()
            .filter(|&nanos| nanos <= MAX_DOLLARS * NANOS_PER_DOLLAR)
            .map(Usd)
            .ok_or_else(|| MoneyError::TooLarge {
                what: "dollars",
                value: dollars.to_string(),
                max: MAX_DOLLARS,
            })
    }

    /// Whole nano-dollars.
    pub const fn nanos(self) -> u64 {
        self.0
    }

    /// The amount as a float, for display and export only: never compute
    /// with it.
    pub fn as_dollars_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_DOLLAR as f64
    }

    /// Rounds a femto-dollar amount up to whole nano-dollars, saturating at
    /// [`Usd::MAX`]. Rounding up is the conservative direction: a charge is
    /// never smaller than what was spent, and never zero when anything was.
    pub fn from_femtos_ceil(femtos: u128) -> Self {
        // Every cost below about $18,000 fits in a u64 of femto-dollars, and
        // a u64 division by a constant is a multiply, where a u128 one is a
        // library call several times slower: this is on every call's path.
        if let Ok(small) = u64::try_from(femtos) {
            return Usd(small.div_ceil(FEMTOS_PER_NANO as u64));
        }
        let nanos = femtos.div_ceil(FEMTOS_PER_NANO);
        Usd(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// `self + other`, or `None` on overflow.
    pub const fn checked_add(self, other: Usd) -> Option<Usd> {
        match self.0.checked_add(other.0) {
            Some(n) => Some(Usd(n)),
            None => None,
        }
    }

    /// `self + other`, stopping at [`Usd::MAX`].
    pub const fn saturating_add(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0))
    }

    /// `self - other`, stopping at zero.
    pub const fn saturating_sub(self, other: Usd) -> Usd {
        Usd(self.0.saturating_sub(other.0))
    }

    /// `true` for exactly zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// What share of `whole` this amount is, in hundredths of a percent
    /// (basis points), rounded down; `whole == 0` counts as fully used.
    pub fn basis_points_of(self, whole: Usd) -> u64 {
        if whole.0 == 0 {
            return 10_000;
        }
        let bp = u128::from(self.0) * 10_000 / u128::from(whole.0);
        u64::try_from(bp).unwrap_or(u64::MAX)
    }
}

impl Add for Usd {
    type Output = Usd;

    /// Saturating: money that overflows `u64` is more than any limit anyway.
    fn add(self, other: Usd) -> Usd {
        self.saturating_add(other)
    }
}

impl AddAssign for Usd {
    fn add_assign(&mut self, other: Usd) {
        *self = self.saturating_add(other);
    }
}

impl Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, Add::add)
    }
}

impl fmt::Display for Usd {
    /// Dollars with at least two decimals and as many more as the amount
    /// needs: `$2.00`, `$0.0125`, `$0.000000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / NANOS_PER_DOLLAR;
        let frac = self.0 % NANOS_PER_DOLLAR;
        let digits = format!("{frac:09}");
        let trimmed = digits.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &digits[..2]
        } else {
            trimmed
        };
        write!(f, "${whole}.{shown}")
    }
}

/// A price for one token, held as whole femto-dollars (10⁻¹⁵ USD).
///
/// Per-token prices are tiny and often fractional in nano-dollars (`$0.0375`
/// per million tokens is 37.5 nano-dollars a token), so rates keep six more
/// decimal places than [`Usd`] and costs round up to the nano-dollar only
/// once, after summing. A femto-dollar per token is also a nano-dollar per
/// million tokens, the unit pricing pages use.
///
/// ```
/// use spendguard::Usd;
/// use spendguard::money::PricePerToken;
///
/// let gpt_4o_input = PricePerToken::per_million(2.50)?;
/// assert_eq!(gpt_4o_input.cost_of(1_000_000), Usd::from_dollars(2.50)?);
/// assert_eq!(PricePerToken::from_dollars(2.5e-6)?, gpt_4o_input);
/// # Ok::<(), spendguard::money::MoneyError>(())
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct PricePerToken(u64);

impl PricePerToken {
    /// Free.
    pub const ZERO: PricePerToken = PricePerToken(0);

    /// A rate of whole femto-dollars per token.
    pub const fn from_femtos(femtos: u64) -> Self {
        PricePerToken(femtos)
    }

    /// Converts a price in dollars per token (LiteLLM's unit), exactly or not
    /// at all.
    ///
    /// # Errors
    /// [`MoneyError`] for NaN, infinities, negatives, more than fifteen
    /// decimal places, or more than a billion dollars per token.
    pub fn from_dollars(dollars_per_token: f64) -> Result<Self, MoneyError> {
        let units = decimal_units(
            dollars_per_token,
            FEMTO_DIGITS,
            "price per token",
            Rounding::Exact,
        )?;
        PricePerToken::from_femto_units(units, dollars_per_token)
    }

    /// Converts a price in dollars per token, rounding up to the next whole
    /// femto-dollar when it has more decimal places.
    ///
    /// For rates that have no exact decimal value, such as a price converted
    /// from another currency (8 CNY at 7 CNY to the dollar is
    /// $1.142857142857…). Rounding up never under-charges; use
    /// [`PricePerToken::from_dollars`] wherever the value should be exact.
    ///
    /// ```
    /// use spendguard::money::PricePerToken;
    ///
    /// let converted = PricePerToken::from_dollars_rounded_up(8.0 / 7.0 / 1e6)?;
    /// assert_eq!(converted.femtos(), 1_142_857_143);
    /// # Ok::<(), spendguard::money::MoneyError>(())
    /// ```
    ///
    /// # Errors
    /// [`MoneyError`] for NaN, infinities, negatives, or more than a billion
    /// dollars per token.
    pub fn from_dollars_rounded_up(dollars_per_token: f64) -> Result<Self, MoneyError> {
        let units = decimal_units(
            dollars_per_token,
            FEMTO_DIGITS,
            "price per token",
            Rounding::Up,
        )?;
        PricePerToken::from_femto_units(units, dollars_per_token)
    }

    /// Checks a femto-dollar amount against the largest accepted price.
    fn from_femto_units(units: u128, dollars_per_token: f64) -> Result<Self, MoneyError> {
        u64::try_from(units)
            .ok()
            .filter(|&f| u128::from(f) <= u128::from(MAX_DOLLARS) * 10u128.pow(FEMTO_DIGITS))
            .map(PricePerToken)
            .ok_or_else(|| MoneyError::TooLarge {
                what: "price per token",
                value: dollars_per_token.to_string(),
                max: MAX_DOLLARS,
            })
    }

    /// Converts a price in dollars per million tokens (the unit pricing pages
    /// use), exactly or not at all.
    ///
    /// # Errors
    /// As [`PricePerToken::from_dollars`], with nine decimal places allowed.
    pub fn per_million(dollars_per_million: f64) -> Result<Self, MoneyError> {
        // femto-dollars per token == nano-dollars per million tokens.
        let units = decimal_units(
            dollars_per_million,
            NANO_DIGITS,
            "price per million tokens",
            Rounding::Exact,
        )?;
        u64::try_from(units)
            .map(PricePerToken)
            .map_err(|_| MoneyError::TooLarge {
                what: "price per million tokens",
                value: dollars_per_million.to_string(),
                max: MAX_DOLLARS,
            })
    }

    /// Whole femto-dollars per token.
    pub const fn femtos(self) -> u64 {
        self.0
    }

    /// The exact cost of `tokens` tokens, in femto-dollars.
    pub const fn femtos_for(self, tokens: u64) -> u128 {
        self.0 as u128 * tokens as u128
    }

    /// The cost of `tokens` tokens, rounded up to the nano-dollar.
    pub fn cost_of(self, tokens: u64) -> Usd {
        Usd::from_femtos_ceil(self.femtos_for(tokens))
    }

    /// The rate in dollars per million tokens, for display only.
    pub fn per_million_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_DOLLAR as f64
    }
}

impl fmt::Display for PricePerToken {
    /// Dollars per million tokens, the way pricing pages show them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/1M tokens", Usd::from_nanos(self.0))
    }
}

/// What [`decimal_units`] does with digits finer than the unit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rounding {
    /// Refuse the value.
    Exact,
    /// Round up to the next whole unit.
    Up,
}

/// Reads `value` as the shortest decimal that round-trips to it and returns
/// it in units of `10^-digits`; digits finer than the unit are refused or
/// rounded up, as `rounding` says.
fn decimal_units(
    value: f64,
    digits: u32,
    what: &'static str,
    rounding: Rounding,
) -> Result<u128, MoneyError> {
    let shown = || value.to_string();
    if !value.is_finite() {
        return Err(MoneyError::NotFinite {
            what,
            value: shown(),
        });
    }
    if value < 0.0 {
        return Err(MoneyError::Negative {
            what,
            value: shown(),
        });
    }
    let too_large = || MoneyError::TooLarge {
        what,
        value: shown(),
        max: MAX_DOLLARS,
    };
    // Above 2^70 the value cannot be a plausible price or budget, and
    // formatting it in plain notation would be hundreds of digits long.
    if value > 1e21 {
        return Err(too_large());
    }
    // `Display` for f64 prints the shortest plain-notation decimal that reads
    // back as the same float; negative zero prints as "-0".
    let text = format!("{}", value.abs());
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let mut frac_part = frac_part.trim_end_matches('0');
    let mut round_up = false;
    if frac_part.len() > digits as usize {
        if rounding == Rounding::Exact {
            return Err(MoneyError::TooPrecise {
                what,
                value: shown(),
                digits,
            });
        }
        // Trailing zeros are trimmed, so the dropped digits are not all zero.
        frac_part = &frac_part[..digits as usize];
        round_up = true;
    }
    let scale = 10u128.pow(digits);
    let int_units = int_part
        .parse::<u128>()
        .ok()
        .and_then(|i| i.checked_mul(scale))
        .ok_or_else(too_large)?;
    let frac_units = if frac_part.is_empty() {
        0
    } else {
        let padding = 10u128.pow(digits - frac_part.len() as u32);
        frac_part.parse::<u128>().map_err(|_| too_large())? * padding
    };
    int_units
        .checked_add(frac_units)
        .and_then(|units| units.checked_add(u128::from(round_up)))
        .ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dollars_convert_exactly() {
        assert_eq!(Usd::from_dollars(0.1).unwrap().nanos(), 100_000_000);
        assert_eq!(Usd::from_dollars(2.0).unwrap().nanos(), 2_000_000_000);
        assert_eq!(Usd::from_dollars(1e-9).unwrap().nanos(), 1);
        assert_eq!(Usd::from_dollars(0.0).unwrap(), Usd::ZERO);
        assert_eq!(Usd::from_dollars(-0.0).unwrap(), Usd::ZERO);
        assert_eq!(
            Usd::from_dollars(123.456789012).unwrap().nanos(),
            123_456_789_012
        );
    }

    #[test]
    fn bad_dollars_are_rejected_with_a_reason() {
        assert!(matches!(
            Usd::from_dollars(f64::NAN),
            Err(MoneyError::NotFinite { .. })
        ));
        assert!(matches!(
            Usd::from_dollars(f64::INFINITY),
            Err(MoneyError::NotFinite { .. })
        ));
        assert!(matches!(
            Usd::from_dollars(-0.01),
            Err(MoneyError::Negative { .. })
        ));
        assert!(matches!(
            Usd::from_dollars(1e-10),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Usd::from_dollars(2e9),
            Err(MoneyError::TooLarge { .. })
        ));
        assert!(matches!(
            Usd::from_dollars(f64::MAX),
            Err(MoneyError::TooLarge { .. })
        ));
        let msg = Usd::from_dollars(-3.0).unwrap_err().to_string();
        assert_eq!(msg, "dollars must not be negative, got -3");
    }

    #[test]
    fn rounding_up_only_touches_digits_finer_than_a_femto_dollar() {
        let up = PricePerToken::from_dollars_rounded_up;
        assert_eq!(
            up(2.5e-6).unwrap(),
            PricePerToken::from_dollars(2.5e-6).unwrap()
        );
        assert_eq!(up(1e-16).unwrap().femtos(), 1);
        assert_eq!(up(2.857142857142857e-7).unwrap().femtos(), 285_714_286);
        assert!(matches!(up(-1e-16), Err(MoneyError::Negative { .. })));
        assert!(matches!(up(f64::NAN), Err(MoneyError::NotFinite { .. })));
    }

    #[test]
    fn display_shows_cents_and_no_more_digits_than_needed() {
        assert_eq!(Usd::ZERO.to_string(), "$0.00");
        assert_eq!(Usd::from_cents(250).to_string(), "$2.50");
        assert_eq!(Usd::from_nanos(12_500_000).to_string(), "$0.0125");
        assert_eq!(Usd::from_nanos(1).to_string(), "$0.000000001");
        assert_eq!(Usd::from_nanos(498_123_000_000).to_string(), "$498.123");
    }

    #[test]
    fn token_prices_convert_exactly() {
        let p = PricePerToken::from_dollars(3.5e-8).unwrap();
        assert_eq!(p.femtos(), 35_000_000);
        assert_eq!(p, PricePerToken::per_million(0.035).unwrap());
        assert_eq!(
            PricePerToken::from_dollars(1.5e-5).unwrap().femtos(),
            15_000_000_000
        );
        assert!(PricePerToken::from_dollars(1e-16).is_err());
        assert!(PricePerToken::per_million(f64::NAN).is_err());
        assert_eq!(
            PricePerToken::per_million(3.0).unwrap().to_string(),
            "$3.00/1M tokens"
        );
    }

    #[test]
    fn a_single_token_never_costs_zero() {
        let cheapest = PricePerToken::from_femtos(1);
        assert_eq!(cheapest.cost_of(1), Usd::from_nanos(1));
        assert_eq!(PricePerToken::ZERO.cost_of(1_000_000), Usd::ZERO);
    }

    #[test]
    fn femtos_round_up_only_when_something_is_left() {
        assert_eq!(Usd::from_femtos_ceil(0), Usd::ZERO);
        assert_eq!(Usd::from_femtos_ceil(1_000_000), Usd::from_nanos(1));
        assert_eq!(Usd::from_femtos_ceil(1_000_001), Usd::from_nanos(2));
        assert_eq!(Usd::from_femtos_ceil(u128::MAX), Usd::MAX);
        // Both sides of the u64 fast path agree.
        let edge = u128::from(u64::MAX);
        assert_eq!(Usd::from_femtos_ceil(edge).nanos(), 18_446_744_073_710);
        assert_eq!(Usd::from_femtos_ceil(edge + 1).nanos(), 18_446_744_073_710);
        assert_eq!(
            Usd::from_femtos_ceil(edge + 1_000_000).nanos(),
            18_446_744_073_711
        );
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Usd::MAX + Usd::from_nanos(1), Usd::MAX);
        assert_eq!(Usd::ZERO.saturating_sub(Usd::from_nanos(1)), Usd::ZERO);
        assert_eq!(Usd::MAX.checked_add(Usd::from_nanos(1)), None);
        let total: Usd = [Usd::from_cents(1), Usd::from_cents(2)].into_iter().sum();
        assert_eq!(total, Usd::from_cents(3));
    }

    #[test]
    fn basis_points() {
        let limit = Usd::from_dollars(2.0).unwrap();
        assert_eq!(
            Usd::from_dollars(1.0).unwrap().basis_points_of(limit),
            5_000
        );
        assert_eq!(Usd::ZERO.basis_points_of(Usd::ZERO), 10_000);
    }

    /// `units * 10^-digits`, read back as a float through its exact decimal.
    fn exact_decimal(units: u128, digits: u32) -> f64 {
        let scale = 10u128.pow(digits);
        let width = digits as usize;
        format!("{}.{:0width$}", units / scale, units % scale)
            .parse()
            .unwrap()
    }

    proptest! {
        /// Any float is either taken exactly (it reads back as itself) or
        /// refused; nothing in between.
        #[test]
        fn any_float_is_accepted_exactly_or_rejected(value in proptest::num::f64::ANY) {
            match Usd::from_dollars(value) {
                Ok(usd) => {
                    prop_assert!(value.is_finite() && value >= 0.0);
                    prop_assert_eq!(exact_decimal(u128::from(usd.nanos()), NANO_DIGITS), value.abs());
                }
                Err(_) => {
                    let shown = value.to_string();
                    let too_precise = shown.split_once('.').is_some_and(|(_, f)| f.len() > 9);
                    prop_assert!(!(0.0..=1e9).contains(&value) || too_precise);
                }
            }
        }

        /// Decimals a person would type with up to nine places always work.
        #[test]
        fn typed_decimals_are_accepted(whole in 0u64..1_000_000, frac in 0u64..1_000_000_000) {
            let value: f64 = format!("{whole}.{frac:09}").parse().unwrap();
            let usd = Usd::from_dollars(value).unwrap();
            prop_assert_eq!(usd.nanos(), whole * NANOS_PER_DOLLAR + frac);
        }

        #[test]
        fn any_price_float_is_accepted_exactly_or_rejected(value in proptest::num::f64::ANY) {
            if let Ok(p) = PricePerToken::from_dollars(value) {
                prop_assert_eq!(exact_decimal(u128::from(p.femtos()), FEMTO_DIGITS), value.abs());
            }
        }
    }
}
