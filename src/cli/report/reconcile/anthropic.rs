//! Anthropic's Admin API usage and cost reports, as their pages are
//! written.
//!
//! Read on 2026-12-02 from Anthropic's API reference,
//! <https://platform.claude.com/docs/en/api/admin/cost_report> and
//! <https://platform.claude.com/docs/en/api/admin/usage_report/retrieve_messages>:
//! a page has `data`, time buckets with RFC 3339 `starting_at` and
//! `ending_at` and `results`. A cost row's `amount` is "in lowest currency
//! units (e.g. cents) as a decimal string" (`"123.45"` in `USD` is $1.23),
//! with `model` when grouped by description; a messages usage row has
//! `uncached_input_tokens`, `cache_read_input_tokens`, `cache_creation`
//! (`ephemeral_5m_input_tokens`, `ephemeral_1h_input_tokens`),
//! `output_tokens` and, grouped by `model`, the model.

use std::time::Duration;

use serde::Deserialize;

use crate::cli::decimal::parse_units;
use crate::cli::report::reconcile::export::Bucket;
use crate::cli::report::reconcile::measured::Measured;
use crate::clock::UtcDateTime;
use crate::money::Usd;

/// Decimal places of a nano-dollar in a cent.
const NANO_DIGITS_OF_A_CENT: u32 = 7;

#[derive(Deserialize)]
struct Page<R> {
    data: Vec<PageBucket<R>>,
}

#[derive(Deserialize)]
struct PageBucket<R> {
    starting_at: Timestamp,
    ending_at: Timestamp,
    results: Vec<R>,
}

/// An RFC 3339 time, in whole seconds since the epoch.
#[derive(Deserialize)]
#[serde(try_from = "String")]
struct Timestamp(Duration);

impl TryFrom<String> for Timestamp {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        UtcDateTime::parse(&text)
            .map(|at| Timestamp(at.unix()))
            .map_err(|error| error.to_string())
    }
}

/// A cost row: `amount` in cents as a decimal string, of `currency`.
#[derive(Deserialize)]
#[serde(try_from = "RawCostRow")]
struct CostRow {
    amount: Usd,
    model: Option<String>,
}

#[derive(Deserialize)]
struct RawCostRow {
    amount: String,
    currency: String,
    #[serde(default)]
    model: Option<String>,
}

impl TryFrom<RawCostRow> for CostRow {
    type Error = String;

    fn try_from(raw: RawCostRow) -> Result<Self, String> {
        if !raw.currency.eq_ignore_ascii_case("usd") {
            return Err(format!(
                "currency is `{}`; spendguard compares US dollars only",
                raw.currency
            ));
        }
        let nanos = parse_units(&raw.amount, NANO_DIGITS_OF_A_CENT)
            .map_err(|error| format!("amount (cents) {error}"))?;
        Ok(CostRow {
            amount: Usd::from_nanos(nanos),
            model: raw.model,
        })
    }
}

#[derive(Deserialize)]
struct UsageRow {
    uncached_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_creation: CacheCreation,
    output_tokens: u64,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize, Default)]
struct CacheCreation {
    #[serde(default)]
    ephemeral_5m_input_tokens: u64,
    #[serde(default)]
    ephemeral_1h_input_tokens: u64,
}

/// The buckets of a cost report.
pub(crate) fn cost(text: &str) -> Result<Vec<Bucket>, serde_json::Error> {
    let pages: Vec<Page<CostRow>> = super::export::pages(text)?;
    Ok(buckets(pages, |row| {
        (row.model, Measured::cost(row.amount))
    }))
}

/// The buckets of a messages usage report.
pub(crate) fn usage(text: &str) -> Result<Vec<Bucket>, serde_json::Error> {
    let pages: Vec<Page<UsageRow>> = super::export::pages(text)?;
    Ok(buckets(pages, |row| {
        let input = row
            .uncached_input_tokens
            .saturating_add(row.cache_read_input_tokens)
            .saturating_add(row.cache_creation.ephemeral_5m_input_tokens)
            .saturating_add(row.cache_creation.ephemeral_1h_input_tokens);
        (row.model, Measured::tokens(input, row.output_tokens))
    }))
}

fn buckets<R>(pages: Vec<Page<R>>, row: impl Fn(R) -> (Option<String>, Measured)) -> Vec<Bucket> {
    pages
        .into_iter()
        .flat_map(|page| page.data)
        .map(|bucket| Bucket {
            start: bucket.starting_at.0.as_secs(),
            end: bucket.ending_at.0.as_secs(),
            rows: bucket.results.into_iter().map(&row).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_amounts_are_cents_as_decimal_text() {
        let page = r#"{"data": [{"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z",
            "results": [{"currency": "USD", "amount": "123.78912", "model": "claude-sonnet-4-20250514", "cost_type": "tokens"}]}],
            "has_more": false, "next_page": null}"#;
        let buckets = cost(page).unwrap();
        assert_eq!(buckets[0].end - buckets[0].start, 86_400);
        assert_eq!(
            buckets[0].rows,
            [(
                Some("claude-sonnet-4-20250514".into()),
                Measured::cost(Usd::from_nanos(1_237_891_200))
            )]
        );
        let euro = page.replace("\"USD\"", "\"EUR\"");
        let error = cost(&euro).unwrap_err().to_string();
        assert!(
            error.contains("currency is `EUR`; spendguard compares US dollars only"),
            "{error}"
        );
        let bad = page.replace("123.78912", "12,5");
        let error = cost(&bad).unwrap_err().to_string();
        assert!(
            error.contains("amount (cents) `12,5` is not a decimal number"),
            "{error}"
        );
    }

    #[test]
    fn usage_input_counts_fresh_cached_and_cache_writes() {
        let page = r#"{"data": [{"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z",
            "results": [{"uncached_input_tokens": 100, "cache_creation": {"ephemeral_1h_input_tokens": 20, "ephemeral_5m_input_tokens": 30},
                         "cache_read_input_tokens": 400, "output_tokens": 50, "server_tool_use": {"web_search_requests": 1}, "model": null}]}]}"#;
        let buckets = usage(page).unwrap();
        assert_eq!(buckets[0].rows, [(None, Measured::tokens(550, 50))]);
        let bad_time = page.replace("2025-08-01T00:00:00Z", "yesterday");
        assert!(usage(&bad_time).is_err());
    }
}
