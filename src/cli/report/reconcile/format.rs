//! The provider exports `--reconcile` reads, and how a file is told to be
//! one of them.

use serde_json::Value;

/// A provider's usage or cost export, as its API returns it (one page, a
/// JSON array of pages, or pages one after another as `curl >>` appends
/// them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    /// OpenAI's Costs API, `GET /v1/organization/costs`: dollars per day.
    OpenaiCosts,
    /// OpenAI's completions Usage API,
    /// `GET /v1/organization/usage/completions`: tokens.
    OpenaiUsage,
    /// Anthropic's Admin API cost report,
    /// `GET /v1/organizations/cost_report`: dollars per day.
    AnthropicCost,
    /// Anthropic's Admin API messages usage report,
    /// `GET /v1/organizations/usage_report/messages`: tokens.
    AnthropicUsage,
}

impl ExportFormat {
    /// The name `--reconcile-format` takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ExportFormat::OpenaiCosts => "openai-costs",
            ExportFormat::OpenaiUsage => "openai-usage",
            ExportFormat::AnthropicCost => "anthropic-cost",
            ExportFormat::AnthropicUsage => "anthropic-usage",
        }
    }

    /// The export, as its provider names it.
    pub(crate) fn title(self) -> &'static str {
        match self {
            ExportFormat::OpenaiCosts => "OpenAI Costs API",
            ExportFormat::OpenaiUsage => "OpenAI Usage API (completions)",
            ExportFormat::AnthropicCost => "Anthropic cost report",
            ExportFormat::AnthropicUsage => "Anthropic messages usage report",
        }
    }

    /// The provider as the ledger names it.
    pub(crate) fn provider(self) -> &'static str {
        match self {
            ExportFormat::OpenaiCosts | ExportFormat::OpenaiUsage => "openai",
            ExportFormat::AnthropicCost | ExportFormat::AnthropicUsage => "anthropic",
        }
    }

    /// `true` for dollars, `false` for tokens.
    pub(crate) fn is_cost(self) -> bool {
        matches!(
            self,
            ExportFormat::OpenaiCosts | ExportFormat::AnthropicCost
        )
    }
}

/// The export `first` (the file's first JSON document) is, or what was
/// seen instead.
pub(crate) fn detect(first: &Value) -> Result<ExportFormat, String> {
    let page = match first {
        Value::Array(pages) => pages.first().ok_or("an empty JSON array")?,
        other => other,
    };
    let Some(buckets) = page.get("data").and_then(Value::as_array) else {
        return Err("no `data` array of time buckets".into());
    };
    let bucket = buckets.first().ok_or("an empty `data` array")?;
    let row = buckets.iter().find_map(|bucket| {
        bucket
            .get("results")
            .or_else(|| bucket.get("result"))
            .and_then(Value::as_array)
            .and_then(|rows| rows.first())
    });
    let Some(row) = row else {
        return Err("time buckets without result rows".into());
    };
    let has = |field: &str| row.get(field).is_some();
    if bucket.get("start_time").is_some() {
        match row.get("object").and_then(Value::as_str) {
            Some("organization.costs.result") => return Ok(ExportFormat::OpenaiCosts),
            Some("organization.usage.completions.result") => return Ok(ExportFormat::OpenaiUsage),
            Some(other) => return Err(format!("OpenAI result rows of `{other}`")),
            None if has("amount") => return Ok(ExportFormat::OpenaiCosts),
            None if has("input_tokens") => return Ok(ExportFormat::OpenaiUsage),
            None => {}
        }
    } else if bucket.get("starting_at").is_some() {
        if has("amount") {
            return Ok(ExportFormat::AnthropicCost);
        }
        if has("uncached_input_tokens") {
            return Ok(ExportFormat::AnthropicUsage);
        }
    }
    Err("time buckets of neither OpenAI's nor Anthropic's usage or cost export".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_export_is_told_by_its_buckets_and_rows() {
        let openai = |row: Value| json!({"object": "page", "data": [{"start_time": 0, "end_time": 86400, "results": [row]}]});
        assert_eq!(
            detect(&openai(json!({"object": "organization.costs.result"}))),
            Ok(ExportFormat::OpenaiCosts)
        );
        assert_eq!(
            detect(&openai(
                json!({"object": "organization.usage.completions.result"})
            )),
            Ok(ExportFormat::OpenaiUsage)
        );
        let anthropic = |row: Value| json!([{"data": [{"starting_at": "2026-11-23T00:00:00Z", "results": []}, {"starting_at": "2026-11-24T00:00:00Z", "results": [row]}]}]);
        assert_eq!(
            detect(&anthropic(json!({"amount": "12.5"}))),
            Ok(ExportFormat::AnthropicCost)
        );
        assert_eq!(
            detect(&anthropic(json!({"uncached_input_tokens": 5}))),
            Ok(ExportFormat::AnthropicUsage)
        );
    }

    #[test]
    fn what_is_not_an_export_says_what_it_is() {
        assert_eq!(
            detect(&json!({"rows": []})),
            Err("no `data` array of time buckets".into())
        );
        assert_eq!(
            detect(&json!({"data": [{"start_time": 0, "results": []}]})),
            Err("time buckets without result rows".into())
        );
        assert_eq!(
            detect(
                &json!({"data": [{"start_time": 0, "results": [{"object": "organization.usage.embeddings.result"}]}]})
            ),
            Err("OpenAI result rows of `organization.usage.embeddings.result`".into())
        );
    }
}
