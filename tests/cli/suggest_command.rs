//! `spendguard suggest`: limits from a ledger whose medians and busiest
//! days are worked out by hand below, the printed code compiled here as it
//! is printed, and ledgers with nothing to suggest from.
//!
//! tests/fixtures/suggest/ledger.jsonl, three UTC days, one task per call
//! except where said:
//!
//! | day        | agent `digest`, key `prod-1`        | agent `batch`, key `prod-2` |
//! |------------|-------------------------------------|-----------------------------|
//! | 2026-11-23 | d1 $0.30 (09:00), d2 $0.40 (15:00)  | b1 $1.00 (02:00)            |
//! | 2026-11-24 | d3 $0.50, d4 $0.20, d5 $0.40        | b2: 12 calls of $1.00 at 03:00 |
//! | 2026-11-25 | d6 $0.60; d7 $0.10, then refused    | b3 $1.20 (02:00)            |
//!
//! Hours with spend: 0.10 0.20 0.30 0.40 0.40 0.50 0.60 1.00 1.20 12.00;
//! the median hour is $0.45, so 2026-11-24 03:00 ($12.00, 26×) is the one
//! spike. Left out of normal: that hour (so task b2) and task d7 (refused).
//!
//! - digest's real tasks: 0.20 0.30 0.40 0.40 0.50 0.60: median $0.40
//!   (halfway between the 3rd and 4th), p90 $0.60 (the 6th of 6), max
//!   $0.60; at 2.5× a budget of $1.00.
//! - batch's: 1.00 1.20: median $1.10, p90 and max $1.20; at 2.5× $2.75.
//! - digest's days: 0.70, 1.10, 0.70 (d7's allowed $0.10 counts): busiest
//!   $1.10 on 2026-11-24; at 1.5× $1.65. Key prod-1 is the same.
//! - batch's days without the spike hour: 1.00, 1.20: busiest $1.20 on
//!   2026-11-25; at 1.5× $1.80. Key prod-2 is the same.

use crate::support::cli;

use cli::{spendguard, stderr, stdout};
use serde_json::{json, Value};

const LEDGER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/suggest/ledger.jsonl"
);

/// The code `suggest` prints for the fixture, exactly as printed: if it
/// did not compile, neither would this test.
#[rustfmt::skip]
mod printed {
    // printed code begins
    use spendguard::budget::BudgetConfigError;
    use spendguard::guard::{GuardConfigError, SharedLimit, SpendGuard, Window};
    use spendguard::tags::{TagKind, Tags};
    use spendguard::{TaskBudget, Usd};

    /// One task's budget, agent `batch`: 2.5 × the median real task ($1.10 over 2 tasks).
    pub fn batch_task(task: &str) -> Result<TaskBudget, BudgetConfigError> {
        TaskBudget::builder(task)
            .tags(Tags::new().agent("batch"))
            .max_cost(Usd::from_cents(275))
            .alert_at(&[50, 80])
            .build()
    }

    /// One task's budget, agent `digest`: 2.5 × the median real task ($0.40 over 6 tasks).
    pub fn digest_task(task: &str) -> Result<TaskBudget, BudgetConfigError> {
        TaskBudget::builder(task)
            .tags(Tags::new().agent("digest"))
            .max_cost(Usd::from_cents(100))
            .alert_at(&[50, 80])
            .build()
    }

    /// Daily caps: 1.5 × the busiest normal UTC day of each agent and key.
    pub fn daily_caps() -> Result<SpendGuard, GuardConfigError> {
        SpendGuard::builder()
            .limit(SharedLimit::tagged(TagKind::Agent, "batch", Usd::from_cents(180), Window::Day))
            .limit(SharedLimit::tagged(TagKind::Agent, "digest", Usd::from_cents(165), Window::Day))
            // Any other agent: the largest cap above.
            .limit(SharedLimit::each(TagKind::Agent, Usd::from_cents(180), Window::Day))
            .limit(SharedLimit::tagged(TagKind::Key, "prod-1", Usd::from_cents(165), Window::Day))
            .limit(SharedLimit::tagged(TagKind::Key, "prod-2", Usd::from_cents(180), Window::Day))
            // Any other key: the largest cap above.
            .limit(SharedLimit::each(TagKind::Key, Usd::from_cents(180), Window::Day))
            .alert_at(&[50, 80])
            .build()
    }
    // printed code ends
}

/// The `printed` module's code as written above, without its indent and
/// with `pub` dropped as the command prints it.
fn printed_source() -> String {
    let source = include_str!("suggest_command.rs");
    let begin = source.find("// printed code begins\n").unwrap() + 23;
    let end = source.find("    // printed code ends").unwrap();
    source[begin..end]
        .lines()
        .map(|line| {
            line.strip_prefix("    ")
                .unwrap_or(line)
                .replacen("pub fn", "fn", 1)
        })
        .map(|line| line + "\n")
        .collect()
}

fn suggest(args: &[&str]) -> String {
    let output = spendguard(args);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn limits_follow_the_medians_and_busiest_days_worked_by_hand() {
    let json: Value = serde_json::from_str(&suggest(&["suggest", LEDGER, "--json"])).unwrap();
    assert_eq!(json["calls"], 22);
    assert_eq!(json["tasks"], 10);
    assert_eq!(
        json["left_out"],
        json!({
            "spike_hours": [{"start": "2026-11-24T03:00:00.000Z", "cost_nanos": 12_000_000_000u64}],
            "stopped_calls": 1,
            "tasks": 2,
        })
    );
    let cent = 10_000_000u64;
    assert_eq!(
        json["per_task"],
        json!([
            {"agent": "batch", "tasks": {"count": 2, "median_nanos": 110 * cent, "p90_nanos": 120 * cent, "max_nanos": 120 * cent}, "max_cost_nanos": 275 * cent},
            {"agent": "digest", "tasks": {"count": 6, "median_nanos": 40 * cent, "p90_nanos": 60 * cent, "max_nanos": 60 * cent}, "max_cost_nanos": 100 * cent},
        ])
    );
    let digest = &json["per_agent_day"][1];
    assert_eq!(digest["name"], "digest");
    assert_eq!(
        digest["days"],
        json!({"count": 3, "median_nanos": 70 * cent, "p90_nanos": 110 * cent, "max_nanos": 110 * cent})
    );
    assert_eq!(digest["busiest_day"], "2026-11-24T00:00:00.000Z");
    assert_eq!(digest["cap_nanos"], 165 * cent);
    let prod_2 = &json["per_key_day"][1];
    assert_eq!(prod_2["name"], "prod-2");
    assert_eq!(prod_2["busiest_day"], "2026-11-25T00:00:00.000Z");
    assert_eq!(prod_2["cap_nanos"], 180 * cent);
}

#[test]
fn the_printed_code_is_the_code_compiled_here_and_it_builds() {
    let json: Value = serde_json::from_str(&suggest(&["suggest", LEDGER, "--json"])).unwrap();
    assert_eq!(json["code"].as_str().unwrap(), printed_source());
    let text = suggest(&["suggest", LEDGER]);
    assert!(
        text.contains("    .max_cost(Usd::from_cents(275))"),
        "the text shows the same code, indented: {text}"
    );
    assert!(printed::batch_task("b-9").is_ok());
    assert!(printed::digest_task("d-9").is_ok());
    assert!(printed::daily_caps().is_ok());
}

#[test]
fn the_text_shows_the_distribution_each_limit_came_from() {
    let text = suggest(&["suggest", LEDGER]);
    for line in [
        "Left out of normal: 1 spike hour(s): 2026-11-24 03:00 ($12.00)",
        "agent digest: 6 tasks, median $0.40, p90 $0.60, max $0.60 → max_cost $1.00",
        "agent batch: 2 days, median $1.10, p90 $1.20, busiest $1.20 on 2026-11-25 → cap $1.80 a day",
        "key prod-1: 3 days, median $0.70, p90 $1.10, busiest $1.10 on 2026-11-24 → cap $1.65 a day",
        "Alerts at 50% and 80% of each limit.",
    ] {
        assert!(text.contains(line), "{line}\n in {text}");
    }
}

#[test]
fn the_factors_are_flags() {
    let json: Value = serde_json::from_str(&suggest(&[
        "suggest",
        LEDGER,
        "--json",
        "--task-factor",
        "3",
        "--day-factor",
        "2",
    ]))
    .unwrap();
    // 3 × $0.40 and 2 × $1.10.
    assert_eq!(json["per_task"][1]["max_cost_nanos"], 1_200_000_000u64);
    assert_eq!(json["per_agent_day"][1]["cap_nanos"], 2_200_000_000u64);
    assert_eq!(json["task_factor"], "3");
    for bad in ["0.5", "11", "two", "-2"] {
        let output = spendguard(&["suggest", LEDGER, "--task-factor", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad}: {}", stderr(&output));
    }
}

#[test]
fn an_empty_or_missing_ledger_is_an_error_that_says_so() {
    let empty = cli::temp_path("suggest", "empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let output = spendguard(&["suggest", empty.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("has no records to suggest limits from"),
        "{}",
        stderr(&output)
    );
    let output = spendguard(&["suggest", "/nonexistent/ledger.jsonl"]);
    assert_eq!(output.status.code(), Some(1));

    // Only refusals: nothing normal to suggest from, and it says so.
    let refused = cli::temp_path("suggest", "refused.jsonl");
    std::fs::write(
        &refused,
        r#"{"ts":"2026-11-25T15:00:05.000Z","provider":"openai","model":"gpt-4o","tags":{"agent":"a","task":"t"},"cost_nanos":0,"cost_source":"none","decision":"refused"}"#,
    )
    .unwrap();
    let text = suggest(&["suggest", refused.to_str().unwrap()]);
    assert!(
        text.contains("Nothing to suggest: no normal spend in the ledger."),
        "{text}"
    );
}
