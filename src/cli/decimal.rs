//! Decimal text read as whole units without floats: a provider's
//! `"123.78912"` cents or `0.06` dollars, a `--tolerance 2.5` percent.

/// Most significant digits read; more cannot be an amount anyone bills.
const MAX_DIGITS: usize = 38;
/// Exponents beyond this are not a plausible amount.
const MAX_EXPONENT: i32 = 400;

/// Why text is not a decimal amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecimalError {
    /// Not digits with an optional point and exponent.
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    /// A minus sign.
    #[error("`{0}` is negative")]
    Negative(String),
    /// More than the unit can hold.
    #[error("`{0}` is too large")]
    TooLarge(String),
}

/// Reads `text` (`12`, `0.06`, `1.5e-05`) in units of `10^-scale`: `scale`
/// 9 reads dollars as nano-dollars. Digits finer than the unit round up,
/// so an amount read this way is never smaller than the one written.
pub(crate) fn parse_units(text: &str, scale: u32) -> Result<u64, DecimalError> {
    let not_a_number = || DecimalError::NotANumber(text.to_owned());
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(DecimalError::Negative(text.to_owned()));
    }
    let unsigned = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => {
            let exponent: i32 = unsigned[at + 1..].parse().map_err(|_| not_a_number())?;
            if exponent.abs() > MAX_EXPONENT {
                return Err(not_a_number());
            }
            (&unsigned[..at], exponent)
        }
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(not_a_number());
    }
    let digits = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Ok(0);
    }
    if significant.len() > MAX_DIGITS {
        return Err(DecimalError::TooLarge(text.to_owned()));
    }
    let value: u128 = significant.parse().map_err(|_| not_a_number())?;
    // value × 10^shift units, where the written digits stand for
    // value × 10^(exponent - fraction digits) and a unit is 10^-scale.
    let shift = i64::from(exponent) - fraction.len() as i64 + i64::from(scale);
    let too_large = || DecimalError::TooLarge(text.to_owned());
    let units = if shift >= 0 {
        u32::try_from(shift)
            .ok()
            .and_then(|shift| 10u128.checked_pow(shift))
            .and_then(|scale| value.checked_mul(scale))
            .ok_or_else(too_large)?
    } else {
        match u32::try_from(-shift)
            .ok()
            .and_then(|s| 10u128.checked_pow(s))
        {
            Some(divisor) => value.div_ceil(divisor),
            // Finer than 10^-38 of a unit: something, so one unit.
            None => 1,
        }
    };
    u64::try_from(units).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_read_exactly_in_the_unit_asked_for() {
        assert_eq!(parse_units("0.06", 9), Ok(60_000_000));
        assert_eq!(parse_units("123.78912", 7), Ok(1_237_891_200));
        assert_eq!(parse_units("12", 2), Ok(1_200));
        assert_eq!(parse_units("2.5", 2), Ok(250));
        assert_eq!(parse_units(".5", 2), Ok(50));
        assert_eq!(parse_units("5.", 2), Ok(500));
        assert_eq!(parse_units("0", 9), Ok(0));
        assert_eq!(parse_units("000.000", 9), Ok(0));
    }

    #[test]
    fn exponents_move_the_point_and_finer_digits_round_up() {
        assert_eq!(parse_units("1.5e-05", 9), Ok(15_000));
        assert_eq!(parse_units("1E3", 0), Ok(1_000));
        assert_eq!(parse_units("2.5e+2", 0), Ok(250));
        assert_eq!(
            parse_units("0.0000000001", 9),
            Ok(1),
            "a tenth of a nano rounds up"
        );
        assert_eq!(parse_units("1.0000000001", 9), Ok(1_000_000_001));
        assert_eq!(parse_units("1e-300", 9), Ok(1));
        assert_eq!(parse_units("0e-300", 9), Ok(0));
    }

    #[test]
    fn what_is_not_an_amount_is_named() {
        for bad in [
            "", ".", "abc", "1.2.3", "1e", "e5", "1,5", "$1", "1e9999", "NaN",
        ] {
            assert!(
                matches!(parse_units(bad, 9), Err(DecimalError::NotANumber(_))),
                "{bad}"
            );
        }
        assert_eq!(
            parse_units("-0.5", 9),
            Err(DecimalError::Negative("-0.5".into()))
        );
        assert!(matches!(
            parse_units("20000000000", 9),
            Err(DecimalError::TooLarge(_))
        ));
        assert!(matches!(
            parse_units(&"9".repeat(39), 0),
            Err(DecimalError::TooLarge(_))
        ));
        assert_eq!(
            parse_units("abc", 9).unwrap_err().to_string(),
            "`abc` is not a decimal number"
        );
    }
}
