//! Part of step 3: a prompt that cannot fit its model's context window is
//! refused before it is sent, where the provider would refuse it anyway
//! (or, behind a gateway that truncates, bill for what it kept).

use crate::client::error::ClientError;
use crate::prices::ModelPrice;
use crate::tokens::{Exactness, TokenCount};

/// The context window Anthropic sells behind its 1M-context beta header.
pub(crate) const LONG_CONTEXT_WINDOW: u64 = 1_000_000;

/// The `anthropic-beta` feature that opens the 1M-token window.
#[cfg(feature = "client")]
const LONG_CONTEXT_BETA: &str = "context-1m-";

/// `true` when an `anthropic-beta` header value asks for the 1M-token
/// window (`context-1m-2025-08-07`, alone or in a comma-separated list).
#[cfg(feature = "client")]
pub(crate) fn asks_for_long_context(name: &str, value: &str) -> bool {
    name.eq_ignore_ascii_case("anthropic-beta")
        && value
            .split(',')
            .any(|feature| feature.trim().starts_with(LONG_CONTEXT_BETA))
}

/// `Err` when `prompt` cannot fit `model`'s window: the price table's
/// `max_input_tokens`, or the 1M-token window when the request asks for
/// it (`long_context`) and the table prices prompts past the listed window
/// at a long-context rate. An estimate is judged by its count before the
/// safety margin, so a prompt that may fit is never refused.
pub(crate) fn check(
    model: &str,
    price: &ModelPrice,
    prompt: TokenCount,
    long_context: bool,
) -> Result<(), ClientError> {
    let Some(listed) = price.max_input_tokens() else {
        return Ok(());
    };
    let priced_past_window = price
        .standard()
        .bands()
        .iter()
        .any(|&(threshold, _)| threshold <= listed);
    let window = if long_context && priced_past_window {
        listed.max(LONG_CONTEXT_WINDOW)
    } else {
        listed
    };
    let at_least = without_margin(prompt);
    if at_least <= window {
        return Ok(());
    }
    Err(ClientError::ContextWindow {
        model: model.to_owned(),
        window,
        prompt_tokens: at_least,
    })
}

/// The fewest tokens `prompt` can be: an estimate without its margin.
fn without_margin(prompt: TokenCount) -> u64 {
    match prompt.exactness {
        Exactness::Exact => prompt.tokens,
        Exactness::Estimate { margin_percent } => {
            let whole = u128::from(prompt.tokens) * 100 / (100 + u128::from(margin_percent));
            u64::try_from(whole).unwrap_or(u64::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::PricePerToken;
    use crate::prices::{RateSchedule, Rates};

    fn rates(dollars: f64) -> Rates {
        let per_m = PricePerToken::per_million(dollars).unwrap();
        Rates::new(per_m, per_m)
    }

    fn count(tokens: u64, margin_percent: Option<u32>) -> TokenCount {
        TokenCount {
            tokens,
            exactness: margin_percent.map_or(Exactness::Exact, |margin_percent| {
                Exactness::Estimate { margin_percent }
            }),
        }
    }

    #[test]
    fn a_prompt_past_the_window_is_refused_with_the_numbers() {
        let price = ModelPrice::new("m", rates(1.0)).with_max_input_tokens(1_000);
        assert!(check("m", &price, count(1_000, None), false).is_ok());
        let refused = check("m", &price, count(1_001, None), false).unwrap_err();
        assert!(
            matches!(
                &refused,
                ClientError::ContextWindow { model, window: 1_000, prompt_tokens: 1_001 } if model == "m"
            ),
            "{refused:?}"
        );
        assert!(check(
            "m",
            &ModelPrice::new("m", rates(1.0)),
            count(u64::MAX, None),
            false
        )
        .is_ok());
    }

    #[test]
    fn an_estimate_is_judged_without_its_margin() {
        let price = ModelPrice::new("m", rates(1.0)).with_max_input_tokens(1_000);
        assert!(check("m", &price, count(1_250, Some(25)), false).is_ok());
        assert!(check("m", &price, count(1_252, Some(25)), false).is_err());
        assert!(check("m", &price, count(u64::MAX, Some(u32::MAX)), false).is_err());
    }

    #[test]
    fn the_long_window_needs_the_header_and_a_long_context_rate() {
        let plain = ModelPrice::new("m", rates(1.0)).with_max_input_tokens(200_000);
        let banded = ModelPrice::with_schedule(
            "m",
            RateSchedule::new(rates(3.0)).with_band_above(200_000, rates(6.0)),
        )
        .with_max_input_tokens(200_000);
        let long = count(900_000, None);
        assert!(check("m", &banded, long, true).is_ok());
        assert!(check("m", &banded, long, false).is_err());
        assert!(check("m", &plain, long, true).is_err());
        assert!(check("m", &banded, count(1_000_001, None), true).is_err());
    }

    #[cfg(feature = "client")]
    #[test]
    fn the_beta_header_is_read_from_a_list() {
        assert!(asks_for_long_context(
            "anthropic-beta",
            "context-1m-2025-08-07"
        ));
        assert!(asks_for_long_context(
            "Anthropic-Beta",
            "prompt-caching-2024-07-31, context-1m-2025-08-07"
        ));
        assert!(!asks_for_long_context(
            "anthropic-beta",
            "prompt-caching-2024-07-31"
        ));
        assert!(!asks_for_long_context("x-beta", "context-1m-2025-08-07"));
    }
}
