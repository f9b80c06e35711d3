//! `spendguard report` run as a binary on fixture ledgers: the numbers, the
//! named heartbeat, the flagged overnight spike, the refused runaway, the
//! SVG, and bad input.
//!
//! `tests/fixtures/ledger_day.jsonl` is written by [`day_ledger`] below and
//! `docs/report.svg` is the report's chart of it, with a deploy marker
//! ([`DOCS_DEPLOY`]) before the spike; both are checked against what the
//! code produces now. After a deliberate change, regenerate them:
//!
//! ```text
//! SPENDGUARD_WRITE_FIXTURES=1 cargo test --features cli --test report_command
//! ```

use crate::support::cli;

use std::path::{Path, PathBuf};

use cli::{spendguard, stderr, stdout};
use serde_json::{json, Value};

const DAY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/ledger_day.jsonl"
);
const MALFORMED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/ledger_malformed.jsonl"
);
const DOCS_SVG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.svg");
/// The deploy `docs/report.svg` marks, twenty minutes before the spike.
const DOCS_DEPLOY: &str = "2026-11-25T01:40:00Z=v1.4.2";

/// Nano-dollars per cent.
const CENT: u64 = 10_000_000;

fn report_json(args: &[&str]) -> Value {
    let mut all = vec!["report", "--json"];
    all.extend_from_slice(args);
    let output = spendguard(&all);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn temp_path(name: &str) -> PathBuf {
    cli::temp_path("report", name)
}

/// A ledger line at `ts` (UTC, to the second).
#[allow(clippy::too_many_arguments)]
fn line(
    ts: &str,
    model: &str,
    tags: Value,
    tokens: (u64, u64),
    cost_nanos: u64,
    decision: &str,
    limit: Option<&str>,
    reason: Option<&str>,
) -> Value {
    let provider = if model.starts_with("claude") {
        "anthropic"
    } else {
        "openai"
    };
    let mut record = json!({
        "ts": ts,
        "provider": provider,
        "model": model,
        "tags": tags,
        "cost_nanos": cost_nanos,
        "cost_source": if cost_nanos > 0 { "reported" } else { "none" },
        "decision": decision,
        "limit": limit,
        "reason": reason,
        "request_hash": null,
    });
    if tokens != (0, 0) {
        record["tokens"] = json!({"input": tokens.0, "cached": 0, "cache_write": 0, "output": tokens.1, "reasoning": 0});
    }
    record
}

/// `2026-11-24T06:00:00Z` plus `secs`, as RFC 3339 with milliseconds.
fn at(secs: u64) -> String {
    // 2026-11-24T06:00:00Z is 1_795_500_000 seconds after the epoch.
    let t = 1_795_500_000 + secs;
    let (days, in_day) = (t / 86_400, t % 86_400);
    let day = if days == 20_781 { 24 } else { 25 };
    format!(
        "2026-11-{day}T{:02}:{:02}:{:02}.000Z",
        in_day / 3_600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// One day of a small team's ledger, 2026-11-24 06:00 to 2026-11-25 06:00:
///
/// - `heartbeat` fires every 30 minutes, a few seconds late each time, with
///   two calls (4 + 2.5 cents): 48 firings, $3.12;
/// - `researcher` makes 5 irregular calls an hour from 09:00 to 17:59 (5 to
///   12 cents each, $3.75 in all), one stream cut off at 15:12 (12 cents,
///   estimated) and one call failed at 16:40;
/// - overnight, `summarizer` makes 200 calls 15 s apart from 02:00 (15 cents
///   each: $30.00), is stopped as a runaway at 02:50 and refused 20 times by
///   its daily limit.
///
/// Total $36.99; the 02:00 hour costs $30.13, 231 times the median hour
/// ($0.13).
fn day_ledger() -> Vec<Value> {
    let mut lines = Vec::new();
    let heartbeat = json!({"key": "ops", "agent": "heartbeat", "task": "health-check"});
    for k in 0..48u64 {
        let start = k * 1_800 + (k * 7) % 11;
        lines.push((
            start,
            line(
                &at(start),
                "gpt-4o-mini",
                heartbeat.clone(),
                (2_000, 300),
                4 * CENT,
                "allowed",
                None,
                None,
            ),
        ));
        lines.push((
            start + 3,
            line(
                &at(start + 3),
                "gpt-4o-mini",
                heartbeat.clone(),
                (1_200, 150),
                25 * CENT / 10,
                "allowed",
                None,
                None,
            ),
        ));
    }
    let mut i = 0u64;
    for hour in 9..18u64 {
        for j in 0..5u64 {
            let minute = j * 12 + (hour * 7 + j * 5) % 9;
            let secs = (hour - 6) * 3_600 + minute * 60 + (hour + j) % 60;
            let tags = json!({"key": "prod-1", "agent": "researcher", "task": format!("t-{i}"), "customer": "acme"});
            lines.push((
                secs,
                line(
                    &at(secs),
                    "gpt-4o",
                    tags,
                    (8_000 + i * 100, 900),
                    (5 + i % 8) * CENT,
                    "allowed",
                    None,
                    None,
                ),
            ));
            i += 1;
        }
    }
    let researcher =
        json!({"key": "prod-1", "agent": "researcher", "task": "t-cut", "customer": "acme"});
    let cut = (15 - 6) * 3_600 + 12 * 60;
    let mut cut_off = line(
        &at(cut),
        "gpt-4o",
        researcher.clone(),
        (9_000, 4_096),
        12 * CENT,
        "cut_off",
        None,
        Some("stream cut off after 4,096 output tokens: its reservation ran out"),
    );
    cut_off["cost_source"] = json!("estimated");
    cut_off["estimate_reason"] = json!("the stream ended before the provider reported usage");
    lines.push((cut, cut_off));
    let failed = (16 - 6) * 3_600 + 40 * 60;
    lines.push((
        failed,
        line(
            &at(failed),
            "gpt-4o",
            researcher,
            (0, 0),
            0,
            "failed",
            None,
            Some("the provider answered 529 Overloaded; nothing was billed"),
        ),
    ));

    let summarizer = json!({"key": "batch-1", "agent": "summarizer", "task": "nightly-digest", "customer": "globex"});
    let night = 20 * 3_600; // 02:00 on the 25th
    for n in 0..200u64 {
        let secs = night + n * 15;
        lines.push((
            secs,
            line(
                &at(secs),
                "claude-sonnet-4-5",
                summarizer.clone(),
                (30_000, 4_000),
                15 * CENT,
                "allowed",
                None,
                None,
            ),
        ));
    }
    let stopped = night + 50 * 60;
    lines.push((stopped, line(&at(stopped), "claude-sonnet-4-5", summarizer.clone(), (0, 0), 0, "runaway",
        Some("runaway: the same request 200 times in 50 minutes"),
        Some("agent summarizer sent the same request 200 times in 50 minutes; stopped as a runaway loop"))));
    for n in 1..=20u64 {
        let secs = stopped + n * 15;
        lines.push((secs, line(&at(secs), "claude-sonnet-4-5", summarizer.clone(), (0, 0), 0, "refused",
            Some("agent summarizer: $30.00 per UTC day"),
            Some("agent summarizer has spent $30.00 of its $30.00 for today; the call could cost $0.69"))));
    }
    lines.sort_by_key(|(secs, _)| *secs);
    lines.into_iter().map(|(_, record)| record).collect()
}

fn day_ledger_text() -> String {
    day_ledger()
        .iter()
        .map(|record| format!("{}\n", keys_sorted(record)))
        .collect()
}

/// `value` with every object's keys in order, so the fixture is the same
/// whether or not a dependency turns on serde_json's `preserve_order`
/// (rig-core and genai do).
fn keys_sorted(value: &Value) -> Value {
    match value {
        Value::Object(fields) => {
            let mut sorted: Vec<(&String, &Value)> = fields.iter().collect();
            sorted.sort_by_key(|(key, _)| *key);
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(key, value)| (key.clone(), keys_sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(keys_sorted).collect()),
        other => other.clone(),
    }
}

/// Compares `path` with `expected`, or writes it when asked to.
fn check_committed(path: &str, expected: &str) {
    if std::env::var_os("SPENDGUARD_WRITE_FIXTURES").is_some() {
        std::fs::write(path, expected).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == expected,
        "{path} is not what the code produces; regenerate it with SPENDGUARD_WRITE_FIXTURES=1 (see the top of this file)"
    );
}

#[test]
fn the_committed_fixture_is_what_its_generator_writes() {
    check_committed(DAY, &day_ledger_text());
}

#[test]
fn totals_by_model_agent_key_and_customer() {
    let report = report_json(&[DAY]);
    let total = &report["total"];
    assert_eq!(total["cost_nanos"], 3_699 * CENT);
    assert_eq!(total["calls"], 96 + 45 + 2 + 200 + 1 + 20);
    assert_eq!(
        total["decisions"],
        json!({"allowed": 341, "refused": 20, "cut_off": 1, "killed": 0, "runaway": 1, "failed": 1})
    );
    let named = |dimension: &str| -> Vec<(String, u64, u64)> {
        report[dimension]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row["name"].as_str().unwrap().to_owned(),
                    row["cost_nanos"].as_u64().unwrap(),
                    row["calls"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        named("by_agent"),
        [
            ("summarizer".into(), 3_000 * CENT, 221),
            ("researcher".into(), 387 * CENT, 47),
            ("heartbeat".into(), 312 * CENT, 96),
        ]
    );
    assert_eq!(
        named("by_model"),
        [
            ("claude-sonnet-4-5".into(), 3_000 * CENT, 221),
            ("gpt-4o".into(), 387 * CENT, 47),
            ("gpt-4o-mini".into(), 312 * CENT, 96),
        ]
    );
    assert_eq!(named("by_key")[2], ("ops".into(), 312 * CENT, 96));
    assert_eq!(
        named("by_customer")[2],
        ("(untagged)".into(), 312 * CENT, 96)
    );
    assert_eq!(report["hours"].as_array().unwrap().len(), 24);
    assert_eq!(report["malformed_lines"], 0);
}

#[test]
fn the_heartbeat_is_named_and_nothing_else() {
    let report = report_json(&[DAY]);
    assert_eq!(
        report["patterns"],
        json!([{
            "agent": "heartbeat",
            "period_secs": 1_796, // the median gap, jitter included
            "times": 48,
            "cost_nanos": 312 * CENT,
            "summary": "agent `heartbeat` fires every 30 min (48 times, $3.12): a heartbeat or a forgotten cron",
        }])
    );
    let text = stdout(&spendguard(&["report", DAY]));
    assert!(text.contains(
        "\nPatterns\n  agent `heartbeat` fires every 30 min (48 times, $3.12): a heartbeat or a forgotten cron\n"
    ));
}

#[test]
fn the_overnight_hour_is_flagged_as_the_only_spike() {
    let report = report_json(&[DAY]);
    assert_eq!(report["median_hour_cost_nanos"], 13 * CENT);
    assert_eq!(
        report["spikes"],
        json!([{
            "start": "2026-11-25T02:00:00.000Z",
            "cost_nanos": 3_013 * CENT,
            "times_median": 231,
            "top_agent": {"name": "summarizer", "cost_nanos": 3_000 * CENT},
            "top_model": {"name": "claude-sonnet-4-5", "cost_nanos": 3_000 * CENT},
            "after_deploy": null,
        }])
    );
    let text = stdout(&spendguard(&["report", DAY]));
    let chart_row = text
        .lines()
        .find(|l| l.starts_with("  2026-11-25 02:00  "))
        .unwrap();
    assert!(
        chart_row.contains(&"█".repeat(40)),
        "the spike is the longest bar: {chart_row}"
    );
    assert!(
        chart_row.ends_with("$30.13  ◀ spike: 231× the median hour"),
        "{chart_row}"
    );
    assert_eq!(text.matches("◀ spike").count(), 1);
    assert!(text.contains(
        "  2026-11-25 02:00 UTC: $30.13, 231× the median; mostly agent `summarizer` ($30.00), model claude-sonnet-4-5 ($30.00)"
    ));
}

#[test]
fn the_runaway_refusals_and_cut_off_are_listed_with_their_reasons() {
    let report = report_json(&[DAY]);
    let incidents = report["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 4);
    assert_eq!(incidents[0]["decision"], "refused");
    assert_eq!(incidents[0]["count"], 20);
    assert_eq!(
        incidents[0]["limit"],
        "agent summarizer: $30.00 per UTC day"
    );
    assert_eq!(incidents[0]["first"], "2026-11-25T02:50:15.000Z");
    assert_eq!(incidents[0]["last"], "2026-11-25T02:55:00.000Z");
    let decisions: Vec<&str> = incidents
        .iter()
        .map(|i| i["decision"].as_str().unwrap())
        .collect();
    assert_eq!(
        decisions,
        ["refused", "runaway", "failed", "cut_off"],
        "by count, then latest first"
    );

    let text = stdout(&spendguard(&["report", DAY]));
    assert!(text.contains(
        "  20× refused for agent `summarizer`, 2026-11-25 02:50:15 to 2026-11-25 02:55:00\n      limit: agent summarizer: $30.00 per UTC day\n      reason: agent summarizer has spent $30.00 of its $30.00 for today; the call could cost $0.69\n"
    ), "{text}");
    assert!(
        text.contains("  1× cut off for agent `researcher`, 2026-11-24 15:12:00, $0.12 billed\n")
    );
}

#[test]
fn filters_narrow_the_report() {
    let night = report_json(&[
        "--since",
        "2026-11-25T00:00:00Z",
        "--until",
        "2026-11-25T02:30:00Z",
        DAY,
    ]);
    // Heartbeats at 00:00, 00:30, ..., 02:00 (5 firings) and the summarizer's
    // first 120 calls.
    assert_eq!(night["total"]["calls"], 10 + 120);
    assert_eq!(
        night["total"]["cost_nanos"],
        5 * 65 * CENT / 10 + 120 * 15 * CENT
    );
    let agent = report_json(&["--agent", "researcher", "--agent", "heartbeat", DAY]);
    assert_eq!(agent["total"]["cost_nanos"], (387 + 312) * CENT);
    assert_eq!(agent["spikes"], json!([]));
    let date = report_json(&["--since", "2026-11-25", DAY]);
    assert_eq!(date["first"], "2026-11-25T00:00:10.000Z");
    let none = spendguard(&["report", "--agent", "nobody", DAY]);
    assert_eq!(stdout(&none), "No records match the filters.\n");
}

#[test]
fn the_svg_parses_and_its_bars_are_the_hourly_totals() {
    let path = temp_path("chart.svg");
    let output = spendguard(&["report", "--json", "--svg", path.to_str().unwrap(), DAY]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();

    let document = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let bars: Vec<roxmltree::Node> = document
        .descendants()
        .filter(|node| node.has_tag_name("rect") && node.attribute("class") == Some("bar"))
        .collect();
    let hours = report["hours"].as_array().unwrap();
    assert_eq!(bars.len(), hours.len());
    let max = hours
        .iter()
        .map(|h| h["cost_nanos"].as_u64().unwrap())
        .max()
        .unwrap();
    let tenths = |text: &str| -> u64 {
        let (whole, tenth) = text.split_once('.').unwrap();
        whole.parse::<u64>().unwrap() * 10 + tenth.parse::<u64>().unwrap()
    };
    let bottom =
        tenths(bars[0].attribute("y").unwrap()) + tenths(bars[0].attribute("height").unwrap());
    for (bar, hour) in bars.iter().zip(hours) {
        let cost = hour["cost_nanos"].as_u64().unwrap();
        assert_eq!(bar.attribute("data-hour"), hour["start"].as_str());
        assert_eq!(
            bar.attribute("data-cost-nanos")
                .unwrap()
                .parse::<u64>()
                .unwrap(),
            cost
        );
        // 260 px of plot for the dearest hour, in tenths of a pixel.
        let height = tenths(bar.attribute("height").unwrap());
        assert_eq!(
            u128::from(height),
            u128::from(cost) * 2_600 / u128::from(max)
        );
        assert_eq!(
            tenths(bar.attribute("y").unwrap()) + height,
            bottom,
            "bars stand on one axis"
        );
    }
    let spike_bars: Vec<_> = bars
        .iter()
        .filter(|bar| bar.attribute("fill") == Some("#d62728"))
        .map(|bar| bar.attribute("data-hour").unwrap())
        .collect();
    assert_eq!(spike_bars, ["2026-11-25T02:00:00.000Z"]);
    let text: String = document
        .descendants()
        .filter_map(|node| node.text())
        .collect();
    assert!(text.contains("Pattern: agent `heartbeat` fires every 30 min"));
}

#[test]
fn docs_report_svg_is_the_chart_of_the_fixture() {
    let path = temp_path("docs.svg");
    let output = spendguard(&[
        "report",
        "--svg",
        path.to_str().unwrap(),
        DAY,
        "--mark",
        DOCS_DEPLOY,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(
        svg.contains("after deploy v1.4.2"),
        "the picture shows the deploy before the spike"
    );
    check_committed(DOCS_SVG, &svg);
}

#[test]
fn malformed_lines_are_reported_with_file_and_line_and_skipped() {
    let output = spendguard(&["report", MALFORMED]);
    assert!(output.status.success(), "a bad line is not fatal");
    let warnings = stderr(&output);
    let lines: Vec<&str> = warnings.lines().collect();
    assert_eq!(lines.len(), 3, "{warnings}");
    assert_eq!(
        lines[0],
        format!("warning: {MALFORMED}:2: EOF while parsing a string (column 104); line skipped")
    );
    assert_eq!(lines[1], format!("warning: {MALFORMED}:3: invalid type: string \"12\", expected u64 (column 113); line skipped"));
    assert!(
        lines[2].starts_with(&format!(
            "warning: {MALFORMED}:6: `2026-11-25T07:00:00+01:00` is not a UTC timestamp"
        )),
        "{warnings}"
    );
    assert!(
        lines[2].ends_with("only UTC (Z or +00:00) is accepted (column 33); line skipped"),
        "{warnings}"
    );
    let text = stdout(&output);
    assert!(
        text.contains("3 malformed lines skipped (see the warnings)"),
        "{text}"
    );
    let report = report_json(&[MALFORMED]);
    assert_eq!(report["malformed_lines"], 3);
    assert_eq!(
        report["total"]["calls"], 2,
        "the line with an unknown field counts"
    );
    assert_eq!(report["total"]["cost_nanos"], 300);
}

#[test]
fn a_missing_ledger_is_one_line_and_exit_1() {
    let output = spendguard(&["report", DAY, "/nonexistent/ledger.jsonl"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: cannot read /nonexistent/ledger.jsonl: No such file or directory (os error 2); check the path\n"
    );
    assert!(output.stdout.is_empty(), "no partial report");
}

#[test]
fn a_bad_time_is_one_line_and_exit_2() {
    let output = spendguard(&["report", "--since", "yesterday", DAY]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: invalid value 'yesterday' for '--since <TIME>': `yesterday` is not a UTC timestamp like 2026-11-25T06:30:00Z or 2026-11-25: the date must be YYYY-MM-DD\n"
    );
    let swapped = spendguard(&[
        "report",
        "--since",
        "2026-11-25",
        "--until",
        "2026-11-24",
        DAY,
    ]);
    assert_eq!(swapped.status.code(), Some(2));
    assert_eq!(stderr(&swapped).lines().count(), 1);
}

#[test]
fn an_unwritable_svg_is_a_runtime_error() {
    let output = spendguard(&["report", "--svg", "/nonexistent/dir/chart.svg", DAY]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).starts_with("error: cannot write /nonexistent/dir/chart.svg: "));
}

#[test]
fn ledgers_are_read_together_in_time_order() {
    // The fixture split in two files by agent: the same report.
    let records = day_ledger();
    let (heartbeat, rest): (Vec<&Value>, Vec<&Value>) = records
        .iter()
        .partition(|r| r["tags"]["agent"] == "heartbeat");
    let write = |name: &str, lines: &[&Value]| -> PathBuf {
        let path = temp_path(name);
        let text: String = lines.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(&path, text).unwrap();
        path
    };
    let (a, b) = (write("a.jsonl", &rest), write("b.jsonl", &heartbeat));
    let split = report_json(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    let whole = report_json(&[DAY]);
    for key in [
        "total",
        "by_agent",
        "hours",
        "spikes",
        "patterns",
        "incidents",
    ] {
        assert_eq!(split[key], whole[key], "{key}");
    }
    for path in [a, b] {
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn help_documents_the_exit_codes() {
    let help = stdout(&spendguard(&["report", "--help"]));
    assert!(help.contains("Exit status:\n  0  "), "{help}");
    assert!(help.contains("\n  1  runtime error"));
    assert!(help.contains("\n  2  usage error"));
    assert!(Path::new(DAY).exists());
}

#[test]
fn price_drift_is_listed_by_model() {
    let mut drifted = line(
        "2026-11-25T06:00:00Z",
        "xai/grok-4.3",
        json!({}),
        (12_000, 2_000),
        2 * CENT,
        "allowed",
        None,
        None,
    );
    drifted["provider_cost_nanos"] = json!(2 * CENT);
    drifted["table_cost_nanos"] = json!(CENT);
    drifted["price_drift"] = json!(true);
    let mut agreeing = drifted.clone();
    agreeing["ts"] = json!("2026-11-25T06:01:00Z");
    agreeing["price_drift"] = json!(false);
    let mut second = drifted.clone();
    second["ts"] = json!("2026-11-25T06:02:00Z");
    // An older line, written before provider costs were recorded.
    let older = line(
        "2026-11-25T06:03:00Z",
        "gpt-4o",
        json!({}),
        (100, 10),
        CENT,
        "allowed",
        None,
        None,
    );
    let path = temp_path("drift.jsonl");
    let text: String = [&drifted, &agreeing, &second, &older]
        .iter()
        .map(|r| format!("{r}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    let file = path.to_str().unwrap();

    let report = report_json(&[file]);
    assert_eq!(
        report["price_drift"],
        json!([{
            "model": "xai/grok-4.3",
            "calls": 2,
            "table_cost_nanos": 2 * CENT,
            "provider_cost_nanos": 4 * CENT,
        }])
    );
    assert_eq!(report["malformed_lines"], 0);
    let output = spendguard(&["report", file]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(
            "\nPrice drift (provider's cost against the price table)\n  \
             xai/grok-4.3: 2 call(s), table $0.02, provider $0.04\n"
        ),
        "{}",
        stdout(&output)
    );
    let plain = spendguard(&["report", DAY]);
    assert!(!stdout(&plain).contains("Price drift"));
    std::fs::remove_file(path).unwrap();
}
