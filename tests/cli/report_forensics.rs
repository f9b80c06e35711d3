//! `spendguard report`'s forensics: deploy markers (from `release` tags,
//! `--deploys FILE` and `--mark`) on the chart and attributed to the spike
//! after them, the slow climb of an agent whose prompts grow day by day,
//! and `--by day` / `--by week` rollups; and bad deploy input.

use crate::support::cli;

use std::path::PathBuf;

use cli::{spendguard, stderr, stdout};
use serde_json::{json, Value};

const CENT: u64 = 10_000_000;

fn call(ts: String, agent: &str, release: Option<&str>, input: u64, cost_nanos: u64) -> Value {
    let mut tags = json!({ "agent": agent });
    if let Some(release) = release {
        tags["release"] = json!(release);
    }
    json!({
        "ts": ts,
        "provider": "openai",
        "model": "gpt-4o-mini",
        "tags": tags,
        "tokens": {"input": input, "cached": 0, "cache_write": 0, "output": 100, "reasoning": 0},
        "cost_nanos": cost_nanos,
        "cost_source": "reported",
        "decision": "allowed",
        "request_hash": null,
    })
}

/// Seven days from Monday 2026-11-23:
/// - `digest` runs 6 times a day at 3 cents, its prompt growing from 2,000
///   tokens per call on Monday by 1,000 a day;
/// - `worker` on release v1 makes one 2-cent call an hour; on Friday at
///   09:20 release v2 ships and its 10:00 hour makes 60 calls: the spike.
fn week_ledger(name: &str) -> PathBuf {
    let mut lines = Vec::new();
    for day in 0..7u64 {
        for k in 0..6u64 {
            let secs = day * 86_400 + k * 4 * 3_600 + 60;
            lines.push((
                secs,
                call(ts(secs), "digest", None, 2_000 + day * 1_000, 3 * CENT),
            ));
        }
        for hour in 0..24u64 {
            let secs = day * 86_400 + hour * 3_600 + 1_800;
            let friday_after_deploy = day == 4 && hour >= 10;
            let release = if day > 4 || friday_after_deploy {
                "v2"
            } else {
                "v1"
            };
            let calls = if day == 4 && hour == 10 { 60 } else { 1 };
            for c in 0..calls {
                let secs = secs + c * 20;
                lines.push((secs, call(ts(secs), "worker", Some(release), 500, 2 * CENT)));
            }
        }
    }
    lines.sort_by_key(|(secs, _)| *secs);
    let path = cli::temp_path("report", &format!("{name}.jsonl"));
    let text: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// Monday 2026-11-23T00:00:00Z plus `secs`.
fn ts(secs: u64) -> String {
    let day = 23 + secs / 86_400;
    let (month, day) = if day > 30 { (12, day - 30) } else { (11, day) };
    let in_day = secs % 86_400;
    format!(
        "2026-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        in_day / 3_600,
        in_day / 60 % 60,
        in_day % 60
    )
}

fn report(args: &[&str]) -> String {
    let output = spendguard(args);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn a_spike_is_tied_to_the_release_that_shipped_before_it() {
    let ledger = week_ledger("spike");
    let text = report(&["report", ledger.to_str().unwrap()]);
    assert!(
        text.contains("2026-11-27 10:00 UTC: $1.20"),
        "the spike hour: {text}"
    );
    assert!(
        text.contains("; after deploy v2 (2026-11-27 10:30:00)"),
        "attributed to v2's first call: {text}"
    );
    assert!(text.contains("◆ deploy v2"), "marked on the chart: {text}");

    let svg = cli::temp_path("report", "week.svg");
    report(&[
        "report",
        ledger.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(
        svg.contains(r#"class="deploy" data-deploy="2026-11-27T10:30:00.000Z""#),
        "the SVG marks the deploy too"
    );
    assert!(
        svg.contains("after deploy v2"),
        "and names it under the spike"
    );
}

#[test]
fn given_deploys_mark_the_chart_and_win_over_later_first_calls() {
    let ledger = week_ledger("deploys");
    let deploys = cli::temp_path("report", "deploys.txt");
    std::fs::write(
        &deploys,
        "# production deploys\n2026-11-27T09:20:00Z v2 (rollout)\n",
    )
    .unwrap();
    let json: Value = serde_json::from_str(&report(&[
        "report",
        "--json",
        ledger.to_str().unwrap(),
        "--deploys",
        deploys.to_str().unwrap(),
        "--mark",
        "2026-11-25T12:00:00Z=config change",
    ]))
    .unwrap();
    let labels: Vec<&str> = json["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["v1", "config change", "v2 (rollout)", "v2"]);
    let spike = &json["spikes"][0];
    assert_eq!(spike["after_deploy"]["label"], "v2");
    assert_eq!(spike["after_deploy"]["at"], "2026-11-27T10:30:00.000Z");
}

#[test]
fn an_agent_whose_prompts_grow_day_by_day_is_named_with_its_start_and_rate() {
    let ledger = week_ledger("growth");
    let text = report(&["report", ledger.to_str().unwrap()]);
    assert!(
        text.contains(
            "agent `digest`: prompt tokens per call climbing from 2,000 on 2026-11-23 \
             to 8,000 on 2026-11-29 (+1,000 a day)"
        ),
        "{text}"
    );
    assert!(!text.contains("agent `worker`: prompt tokens"), "{text}");
    let json: Value =
        serde_json::from_str(&report(&["report", "--json", ledger.to_str().unwrap()])).unwrap();
    let growth = &json["context_growth"][0];
    assert_eq!(growth["agent"], "digest");
    assert_eq!(growth["tokens_per_call_per_day"], 1_000);
}

#[test]
fn spend_rolls_up_by_day_and_by_iso_week() {
    let ledger = week_ledger("rollup");
    let text = report(&["report", ledger.to_str().unwrap(), "--by", "day"]);
    assert!(text.contains("Spend per day (UTC)"), "{text}");
    // A quiet day: 24 worker calls and 6 digest calls.
    assert!(text.contains("2026-11-23"), "{text}");
    let json: Value = serde_json::from_str(&report(&[
        "report",
        "--json",
        ledger.to_str().unwrap(),
        "--by",
        "week",
    ]))
    .unwrap();
    let rows = json["rollup"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "Monday to Sunday is one ISO week");
    assert_eq!(rows[0]["label"], "2026-W48");
    assert_eq!(rows[0]["cost_nanos"], json["total"]["cost_nanos"]);
    assert_eq!(json["rollup"]["period"], "week");
}

#[test]
fn bad_deploy_input_names_the_problem() {
    let ledger = week_ledger("bad");
    let deploys = cli::temp_path("report", "bad-deploys.txt");
    std::fs::write(&deploys, "2026-11-27T09:20:00Z v2\nlast tuesday v1\n").unwrap();
    let output = spendguard(&[
        "report",
        ledger.to_str().unwrap(),
        "--deploys",
        deploys.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("bad-deploys.txt, line 2: "),
        "{}",
        stderr(&output)
    );

    let output = spendguard(&["report", ledger.to_str().unwrap(), "--mark", "v2"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("is not TIME=LABEL"),
        "{}",
        stderr(&output)
    );

    let output = spendguard(&["report", ledger.to_str().unwrap(), "--by", "fortnight"]);
    assert!(!output.status.success());
}
