//! `spendguard report --reconcile`: the ledger beside each provider's
//! documented usage and cost exports (tests/fixtures/reconcile/README.md
//! has the sums worked out and each format's source), one planted
//! disagreement per export; and exports that cannot be compared.

use crate::support::cli;

use cli::{spendguard, stderr, stdout};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reconcile");

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn reconcile(export: &str, extra: &[&str]) -> Value {
    let ledger = fixture("ledger.jsonl");
    let export = fixture(export);
    let mut args = vec!["report", &ledger, "--reconcile", &export, "--json"];
    args.extend_from_slice(extra);
    let output = spendguard(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

/// (day, model, agrees) of each row.
fn rows(json: &Value) -> Vec<(String, Option<String>, bool)> {
    json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["day"].as_str().unwrap()[..10].to_owned(),
                row["model"].as_str().map(str::to_owned),
                row["agrees"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn disagreeing(json: &Value) -> Vec<(String, Option<String>)> {
    rows(json)
        .into_iter()
        .filter(|(_, _, agrees)| !agrees)
        .map(|(day, model, _)| (day, model))
        .collect()
}

#[test]
fn openai_costs_disagree_on_the_planted_day_and_model_only() {
    let json = reconcile("openai_costs.json", &[]);
    assert_eq!(json["export"]["format"], "openai-costs");
    assert_eq!(json["export"]["compares"], "cost");
    // Three days, two models: snapshots and line items fold into the model.
    assert_eq!(rows(&json).len(), 6);
    assert_eq!(
        disagreeing(&json),
        [("2026-11-24".into(), Some("gpt-4o".into()))]
    );
    let planted = &json["rows"][2];
    assert_eq!(planted["ledger"]["cost_nanos"], 5_000_000_000u64);
    assert_eq!(planted["export"]["cost_nanos"], 6_500_000_000u64);
    // 2026-11-23: $5.04 against $5.00 is 0.8%, within 2%.
    assert_eq!(json["rows"][0]["export"]["cost_nanos"], 5_040_000_000u64);
    assert_eq!(json["ledger_days_outside"], 1, "2026-11-22 is not exported");
}

#[test]
fn the_text_names_the_disagreement_and_its_likely_cause() {
    let output = spendguard(&[
        "report",
        &fixture("ledger.jsonl"),
        "--reconcile",
        &fixture("openai_costs.json"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("(OpenAI Costs API)"), "{text}");
    assert!(
        text.contains("Tolerance: 2% of the larger side, or $0.05, whichever is more."),
        "{text}"
    );
    assert!(
        text.contains("3 day(s) from 2026-11-23 to 2026-11-25: 5 agree, 1 disagree."),
        "{text}"
    );
    assert!(text.contains("✗ 2026-11-24  gpt-4o"), "{text}");
    assert!(text.contains("+$1.50 (+30.0%)"), "{text}");
    assert!(
        text.contains(
            "2026-11-24 gpt-4o: the ledger has $5.00, the export $6.50; the provider billed more than the guard saw"
        ),
        "{text}"
    );
}

#[test]
fn openai_usage_without_models_compares_whole_days_in_tokens() {
    let json = reconcile("openai_usage.json", &[]);
    assert_eq!(json["export"]["format"], "openai-usage");
    assert_eq!(json["export"]["by_model"], false);
    assert_eq!(disagreeing(&json), [("2026-11-25".into(), None)]);
    let planted = &json["rows"][2];
    assert_eq!(
        planted["ledger"]["output_tokens"], 2_000,
        "reasoning included"
    );
    assert_eq!(planted["export"]["output_tokens"], 3_500);
    // 20,300 input tokens against 20,000 on 2026-11-24: within 1,000.
    assert!(json["rows"][1]["agrees"].as_bool().unwrap());
}

#[test]
fn anthropic_cost_cents_and_usage_tokens_each_show_their_planted_day() {
    let json = reconcile("anthropic_cost.json", &[]);
    assert_eq!(json["export"]["format"], "anthropic-cost");
    assert_eq!(
        disagreeing(&json),
        [("2026-11-25".into(), Some("claude-sonnet-4-5".into()))]
    );
    // "199.5" cents is $1.995: within $0.05 of the ledger's $2.00.
    assert_eq!(json["rows"][1]["export"]["cost_nanos"], 1_995_000_000u64);
    assert_eq!(json["rows"][2]["export"]["cost_nanos"], 2_600_000_000u64);

    let json = reconcile("anthropic_usage.json", &[]);
    assert_eq!(json["export"]["format"], "anthropic-usage");
    assert_eq!(
        disagreeing(&json),
        [("2026-11-25".into(), Some("claude-sonnet-4-5".into()))]
    );
    let planted = &json["rows"][2];
    assert_eq!(planted["ledger"]["input_tokens"], 16_000);
    assert_eq!(planted["export"]["input_tokens"], 24_000);
}

#[test]
fn the_tolerance_and_the_window_change_what_is_compared() {
    // At 50% the planted $1.50 on $6.50 (23%) agrees too.
    let json = reconcile("openai_costs.json", &["--tolerance", "50%"]);
    assert_eq!(json["disagreements"], 0);
    assert_eq!(json["tolerance"]["basis_points"], 5_000);
    // With no floor and no share, the 4 cents of 2026-11-23 disagree.
    let json = reconcile(
        "openai_costs.json",
        &["--tolerance", "0", "--tolerance-usd", "$0"],
    );
    assert_eq!(json["disagreements"], 4);
    // Only whole days inside --since/--until are compared.
    let json = reconcile(
        "openai_costs.json",
        &["--since", "2026-11-24T12:00:00Z", "--until", "2026-11-26"],
    );
    assert_eq!(
        json["days"],
        serde_json::json!(["2026-11-25T00:00:00.000Z"])
    );
    assert_eq!(json["disagreements"], 0);
}

#[test]
fn an_empty_ledger_disagrees_with_every_billed_day_and_says_so() {
    let empty = cli::temp_path("reconcile", "empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let args = [
        "report",
        empty.to_str().unwrap(),
        "--reconcile",
        &fixture("anthropic_cost.json"),
    ];
    let output = spendguard(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains(
            "The ledger has no anthropic calls here: every day the export bills disagrees."
        ),
        "{text}"
    );
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let json: Value = serde_json::from_str(&stdout(&spendguard(&json_args))).unwrap();
    assert_eq!(json["ledger_calls"], 0);
    assert_eq!(json["disagreements"], 3);

    let output = spendguard(&["report", &fixture("ledger.jsonl"), "--tolerance", "5"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "--tolerance needs --reconcile"
    );
}

fn fails_with(export_text: &str, name: &str, extra: &[&str]) -> String {
    let path = cli::temp_path("reconcile", name);
    std::fs::write(&path, export_text).unwrap();
    let ledger = fixture("ledger.jsonl");
    let mut args = vec!["report", &ledger, "--reconcile", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = spendguard(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(stdout(&output).is_empty());
    let message = stderr(&output);
    assert!(message.contains(name), "names the file: {message}");
    message
}

#[test]
fn a_malformed_export_names_its_line_and_problem() {
    let text = std::fs::read_to_string(fixture("openai_costs.json")).unwrap();
    let broken = text.replacen("\"currency\": \"usd\"", "\"currency\": \"eur\"", 1);
    let message = fails_with(&broken, "euro.json", &[]);
    assert!(
        message.contains("line 14, column 11: ") && message.contains("amount.currency is `eur`"),
        "{message}"
    );
    let truncated = &text[..text.len() / 2];
    let message = fails_with(truncated, "truncated.json", &[]);
    assert!(message.contains("EOF while parsing"), "{message}");
    let cents = std::fs::read_to_string(fixture("anthropic_cost.json"))
        .unwrap()
        .replacen("\"120.0\"", "\"1,20\"", 1);
    let message = fails_with(&cents, "comma.json", &[]);
    assert!(
        message.contains("amount (cents) `1,20` is not a decimal number"),
        "{message}"
    );
}

#[test]
fn an_unknown_or_wrongly_named_format_says_what_to_pass() {
    let message = fails_with(r#"{"rows": [1, 2]}"#, "unknown.json", &[]);
    assert!(
        message.contains("no `data` array of time buckets")
            && message.contains("pass --reconcile-format openai-costs, openai-usage, anthropic-cost or anthropic-usage"),
        "{message}"
    );
    let empty_buckets =
        r#"{"data": [{"start_time": 1795392000, "end_time": 1795478400, "results": []}]}"#;
    let message = fails_with(empty_buckets, "no-rows.json", &[]);
    assert!(
        message.contains("time buckets without result rows"),
        "{message}"
    );
    // Told the format, an export without rows is a day the provider billed
    // nothing: the ledger's $5.00 of gpt-4o and $0.20 of gpt-4o-mini on
    // 2026-11-23 both disagree.
    let path = cli::temp_path("reconcile", "told.json");
    std::fs::write(&path, empty_buckets).unwrap();
    let ledger = fixture("ledger.jsonl");
    let json: Value = serde_json::from_str(&stdout(&spendguard(&[
        "report",
        &ledger,
        "--reconcile",
        path.to_str().unwrap(),
        "--reconcile-format",
        "openai-costs",
        "--json",
    ])))
    .unwrap();
    assert_eq!(json["disagreements"], 2);

    let usage = std::fs::read_to_string(fixture("anthropic_usage.json")).unwrap();
    let message = fails_with(
        &usage,
        "wrong.json",
        &["--reconcile-format", "openai-costs"],
    );
    assert!(
        message.contains("missing field `amount`") && message.contains("(read as openai-costs)"),
        "{message}"
    );
    let message = fails_with(
        r#"{"data": []}"#,
        "empty.json",
        &["--reconcile-format", "anthropic-cost"],
    );
    assert!(message.contains("has no time buckets"), "{message}");
    let output = spendguard(&[
        "report",
        &ledger,
        "--reconcile",
        &fixture("openai_costs.json"),
        "--reconcile-format",
        "csv",
    ]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let output = spendguard(&[
        "report",
        &ledger,
        "--reconcile",
        &fixture("openai_costs.json"),
        "--agent",
        "researcher",
    ]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "the export covers every agent"
    );
}
