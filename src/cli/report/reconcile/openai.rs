//! OpenAI's organization Costs and Usage APIs, as their pages are written.
//!
//! Read on 2026-12-02 from OpenAI's API reference:
//! <https://developers.openai.com/api/reference/resources/organization/subresources/audit_logs/methods/get_costs>
//! and `…/usage/methods/completions`
//! (<https://platform.openai.com/docs/api-reference/usage>): a page has
//! `data`, time buckets with `start_time` and `end_time` in Unix seconds
//! and `results` (some examples write `result`). A cost row has
//! `amount.value` (a JSON number of `amount.currency`, `usd`) and, grouped
//! by `line_item`, a line item; a completions usage row has
//! `input_tokens` (cached included), `input_cached_tokens`,
//! `output_tokens` and, grouped by `model`, the model.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::cli::decimal::parse_units;
use crate::cli::report::reconcile::export::Bucket;
use crate::cli::report::reconcile::measured::Measured;
use crate::money::Usd;

/// Decimal places of a nano-dollar.
const NANO_DIGITS: u32 = 9;

#[derive(Deserialize)]
struct Page<R> {
    data: Vec<PageBucket<R>>,
}

#[derive(Deserialize)]
struct PageBucket<R> {
    start_time: u64,
    end_time: u64,
    #[serde(alias = "result")]
    results: Vec<R>,
}

#[derive(Deserialize)]
struct CostRow {
    amount: Dollars,
    #[serde(default)]
    line_item: Option<String>,
}

/// `amount`: `{"value": 0.06, "currency": "usd"}`, the value read from its
/// decimal text.
#[derive(Deserialize)]
#[serde(try_from = "RawAmount")]
struct Dollars(Usd);

#[derive(Deserialize)]
struct RawAmount {
    value: Box<RawValue>,
    currency: String,
}

impl TryFrom<RawAmount> for Dollars {
    type Error = String;

    fn try_from(raw: RawAmount) -> Result<Self, String> {
        if !raw.currency.eq_ignore_ascii_case("usd") {
            return Err(format!(
                "amount.currency is `{}`; spendguard compares US dollars only",
                raw.currency
            ));
        }
        parse_units(raw.value.get(), NANO_DIGITS)
            .map(|nanos| Dollars(Usd::from_nanos(nanos)))
            .map_err(|error| format!("amount.value {error}"))
    }
}

#[derive(Deserialize)]
struct UsageRow {
    input_tokens: u64,
    output_tokens: u64,
    #[serde(default)]
    model: Option<String>,
}

/// The model a cost line item is for: OpenAI writes line items as the
/// model, a comma and what was billed (`gpt-4o-2024-08-06, input`).
fn line_item_model(item: &str) -> &str {
    item.split(',').next().unwrap_or(item).trim()
}

/// The buckets of a Costs API export.
pub(crate) fn costs(text: &str) -> Result<Vec<Bucket>, serde_json::Error> {
    let pages: Vec<Page<CostRow>> = super::export::pages(text)?;
    Ok(buckets(pages, |row| {
        let model = row.line_item.as_deref().map(line_item_model);
        (model.map(str::to_owned), Measured::cost(row.amount.0))
    }))
}

/// The buckets of a completions Usage API export.
pub(crate) fn usage(text: &str) -> Result<Vec<Bucket>, serde_json::Error> {
    let pages: Vec<Page<UsageRow>> = super::export::pages(text)?;
    Ok(buckets(pages, |row| {
        (
            row.model,
            Measured::tokens(row.input_tokens, row.output_tokens),
        )
    }))
}

fn buckets<R>(pages: Vec<Page<R>>, row: impl Fn(R) -> (Option<String>, Measured)) -> Vec<Bucket> {
    pages
        .into_iter()
        .flat_map(|page| page.data)
        .map(|bucket| Bucket {
            start: bucket.start_time,
            end: bucket.end_time,
            rows: bucket.results.into_iter().map(&row).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cost_page_reads_its_amounts_exactly() {
        let page = r#"{"object": "page", "data": [{"object": "bucket", "start_time": 1730419200, "end_time": 1730505600,
            "results": [{"object": "organization.costs.result", "amount": {"value": 0.06, "currency": "usd"}, "line_item": null, "project_id": null},
                        {"object": "organization.costs.result", "amount": {"value": 1.2345678901e-3, "currency": "usd"}, "line_item": "gpt-4o-2024-08-06, input"}]}],
            "has_more": false, "next_page": null}"#;
        let buckets = costs(page).unwrap();
        assert_eq!(buckets[0].start, 1_730_419_200);
        assert_eq!(
            buckets[0].rows,
            [
                (None, Measured::cost(Usd::from_nanos(60_000_000))),
                (
                    Some("gpt-4o-2024-08-06".into()),
                    Measured::cost(Usd::from_nanos(1_234_568))
                ),
            ]
        );
    }

    #[test]
    fn a_foreign_currency_or_a_bad_amount_names_the_field_and_line() {
        let euro = "{\"data\": [{\"start_time\": 0, \"end_time\": 86400, \"results\": [\n{\"amount\": {\"value\": 1, \"currency\": \"eur\"}}]}]}";
        let error = costs(euro).unwrap_err();
        assert_eq!(error.line(), 2);
        assert!(
            error.to_string().contains("amount.currency is `eur`"),
            "{error}"
        );
        let negative = r#"{"data": [{"start_time": 0, "end_time": 86400, "results": [{"amount": {"value": -1.5, "currency": "usd"}}]}]}"#;
        assert!(costs(negative)
            .unwrap_err()
            .to_string()
            .contains("amount.value `-1.5` is negative"));
    }

    #[test]
    fn usage_rows_keep_tokens_and_model() {
        let page = r#"{"data": [{"start_time": 0, "end_time": 86400, "result": [{"object": "organization.usage.completions.result",
            "input_tokens": 1000, "output_tokens": 500, "input_cached_tokens": 800, "num_model_requests": 5, "model": "gpt-4o-mini-2024-07-18"}]}]}"#;
        let buckets = usage(page).unwrap();
        assert_eq!(
            buckets[0].rows,
            [(
                Some("gpt-4o-mini-2024-07-18".into()),
                Measured::tokens(1_000, 500)
            )]
        );
    }
}
