//! Why a disagreement between the two lists is not a bug: an override that
//! resolves it, or an entry of `pricing/checked.json` saying which list is
//! right.
//!
//! ```json
//! {"checked": [{
//!   "second": ["deepseek/deepseek-flash", "deepseek/deepseek-v4-*"],
//!   "rates": ["input", "output", "cache_read"],
//!   "spendguard": "higher",
//!   "right": "litellm",
//!   "source": "https://api-docs.deepseek.com/quick_start/pricing",
//!   "checked": "2026-12-01",
//!   "why": "genai-prices still applies DeepSeek's off-peak discount..."
//! }]}
//! ```
//!
//! `second` names genai-prices models as `provider/id`; a trailing `*`
//! matches any id that starts with what comes before it. `litellm`
//! (optional) narrows to listed ids, `rates` (optional) to kinds, `tiers`
//! (optional) to service tiers. `spendguard` is the direction the entry
//! covers: an entry written for over-charges never excuses an under-count.
//! `right` is `litellm`, `genai-prices`, `neither` or `unverified`; an
//! unverified entry may only cover spendguard billing more.

use serde::Deserialize;

use crate::prices::cross_check::compare::{kind_name, Disagreement};
use crate::prices::error::PriceError;
use crate::prices::litellm::field_name::{FieldName, RateField};
use crate::prices::overrides::Overrides;

/// The checked disagreements shipped in `pricing/checked.json`.
pub(crate) const BUNDLED_CHECKED: &str = include_str!("../../../pricing/checked.json");

/// One checked family of disagreements.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Checked {
    second: Vec<String>,
    #[serde(default)]
    litellm: Vec<String>,
    #[serde(default)]
    rates: Vec<String>,
    #[serde(default)]
    tiers: Vec<String>,
    spendguard: Direction,
    right: Right,
    source: String,
    checked: String,
    why: String,
}

/// Which way the entry covers: spendguard billing more, or less.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Direction {
    Higher,
    Lower,
}

/// Which list the check found right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Right {
    Litellm,
    GenaiPrices,
    Neither,
    /// Not checked against the provider: allowed only where spendguard
    /// bills more, which can over-count but never under-count.
    Unverified,
}

#[derive(Deserialize)]
struct CheckedFile {
    checked: Vec<Checked>,
}

/// What accounts for one disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Explanation {
    /// Override number `n` (1-based) of `pricing/overrides.json` sets this rate.
    Override(usize),
    /// Entry number `n` (1-based) of `pricing/checked.json` covers it.
    Checked(usize),
    /// Nothing does.
    Unexplained,
}

/// Reads a checked file.
///
/// # Errors
/// [`PriceError::MalformedJson`] when it is not the right shape;
/// [`PriceError::InvalidEntry`] naming the entry with no `second`, a source
/// that is not an https link, a bad date or no reason.
pub(crate) fn parse_checked(json: &str) -> Result<Vec<Checked>, PriceError> {
    let file: CheckedFile = serde_json::from_str(json)
        .map_err(|error| PriceError::malformed("checked file", &error))?;
    for (position, entry) in file.checked.iter().enumerate() {
        let fail = |reason: &str| {
            Err(PriceError::InvalidEntry {
                model: format!("checked #{}", position + 1),
                reason: reason.to_owned(),
            })
        };
        if entry.second.is_empty() {
            return fail("it names no genai-prices models");
        }
        if !entry.source.starts_with("https://") {
            return fail("its source must be an https:// link");
        }
        if !crate::clock::is_iso_date(&entry.checked) {
            return fail("its checked date must be written YYYY-MM-DD");
        }
        if entry.why.trim().is_empty() {
            return fail("it must say why");
        }
        if entry.right == Right::Unverified && entry.spendguard == Direction::Lower {
            return fail("an unverified entry cannot excuse spendguard billing less: check the provider's page and add an override");
        }
    }
    Ok(file.checked)
}

impl Checked {
    fn covers(&self, disagreement: &Disagreement) -> bool {
        let direction = if disagreement.ours_is_lower() {
            Direction::Lower
        } else {
            Direction::Higher
        };
        self.spendguard == direction
            && self
                .second
                .iter()
                .any(|pattern| matches(pattern, &disagreement.second))
            && (self.litellm.is_empty()
                || self
                    .litellm
                    .iter()
                    .any(|pattern| matches(pattern, &disagreement.listed_id)))
            && (self.rates.is_empty()
                || self
                    .rates
                    .iter()
                    .any(|rate| rate == kind_name(disagreement.kind)))
            && (self.tiers.is_empty()
                || self
                    .tiers
                    .iter()
                    .any(|tier| *tier == disagreement.tier.to_string()))
    }

    /// Which list is right, as the check found it.
    pub(crate) fn right(&self) -> &'static str {
        match self.right {
            Right::Litellm => "LiteLLM is right",
            Right::GenaiPrices => "genai-prices is right",
            Right::Neither => "neither is right",
            Right::Unverified => "unverified, spendguard bills more",
        }
    }
}

/// `pattern` with an optional trailing `*` matching any rest.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(start) => name.starts_with(start),
        None => pattern == name,
    }
}

/// What accounts for `disagreement`: first an override that sets exactly
/// that rate (kind, band and tier) of that listed id, then a checked entry.
pub(crate) fn explain(
    disagreement: &Disagreement,
    overrides: &Overrides,
    checked: &[Checked],
) -> Explanation {
    let rate = RateField {
        kind: disagreement.kind,
        band: disagreement.band,
        tier: disagreement.tier,
    };
    let overridden = overrides.iter().position(|correction| {
        correction.models().contains(&disagreement.listed_id)
            && correction
                .fields()
                .keys()
                .any(|field| FieldName::parse(field) == FieldName::Rate(rate))
    });
    if let Some(position) = overridden {
        return Explanation::Override(position + 1);
    }
    match checked.iter().position(|entry| entry.covers(disagreement)) {
        Some(position) => Explanation::Checked(position + 1),
        None => Explanation::Unexplained,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::PricePerToken;
    use crate::prices::litellm::field_name::RateKind;
    use crate::usage::ServiceTier;

    fn disagreement(ours: f64, theirs: f64) -> Disagreement {
        Disagreement {
            listed_id: "deepseek/deepseek-flash".into(),
            second: "deepseek/deepseek-flash".into(),
            tier: ServiceTier::Standard,
            band: None,
            window: None,
            kind: RateKind::Input,
            ours: PricePerToken::per_million(ours).unwrap(),
            theirs: PricePerToken::per_million(theirs).unwrap(),
        }
    }

    const ENTRY: &str = r#"{"checked": [{"second": ["deepseek/deepseek-*"], "rates": ["input"],
        "spendguard": "higher", "right": "litellm", "source": "https://api-docs.deepseek.com/",
        "checked": "2026-12-01", "why": "off-peak discount"}]}"#;

    #[test]
    fn an_entry_covers_its_family_rates_and_direction_only() {
        let checked = parse_checked(ENTRY).unwrap();
        let none = Overrides::from_json(r#"{"overrides": []}"#).unwrap();
        assert_eq!(
            explain(&disagreement(0.30, 0.15), &none, &checked),
            Explanation::Checked(1)
        );
        // The same family billed lower than the second list is not covered.
        assert_eq!(
            explain(&disagreement(0.15, 0.30), &none, &checked),
            Explanation::Unexplained
        );
        let mut output = disagreement(0.30, 0.15);
        output.kind = RateKind::Output;
        assert_eq!(explain(&output, &none, &checked), Explanation::Unexplained);
    }

    #[test]
    fn an_override_of_the_same_rate_resolves_it() {
        let overrides = Overrides::from_json(
            r#"{"overrides": [{"models": ["deepseek/deepseek-flash"],
                "set": {"input_cost_per_token": 3e-07}, "source": "https://api-docs.deepseek.com/",
                "checked": "2026-12-01", "why": "peak price"}]}"#,
        )
        .unwrap();
        assert_eq!(
            explain(&disagreement(0.15, 0.30), &overrides, &[]),
            Explanation::Override(1)
        );
        let mut batch = disagreement(0.15, 0.30);
        batch.tier = ServiceTier::Batch;
        assert_eq!(explain(&batch, &overrides, &[]), Explanation::Unexplained);
    }

    #[test]
    fn bad_entries_are_named() {
        for (from, to, expected) in [
            (
                "[\"deepseek/deepseek-*\"]",
                "[]",
                "names no genai-prices models",
            ),
            ("https://api-docs", "http://api-docs", "https://"),
            ("2026-12-01", "1 Dec", "YYYY-MM-DD"),
            ("off-peak discount", " ", "say why"),
            (
                "\"higher\", \"right\": \"litellm\"",
                "\"lower\", \"right\": \"unverified\"",
                "cannot excuse",
            ),
        ] {
            let error = parse_checked(&ENTRY.replace(from, to)).unwrap_err();
            assert!(error.to_string().contains(expected), "{error}");
            assert!(error.to_string().contains("checked #1"), "{error}");
        }
        assert!(matches!(
            parse_checked(&ENTRY.replace("\"higher\"", "\"sideways\"")),
            Err(PriceError::MalformedJson { .. })
        ));
    }

    #[test]
    fn the_bundled_file_reads() {
        assert!(parse_checked(BUNDLED_CHECKED).is_ok());
    }
}
