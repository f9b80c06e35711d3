//! `spendguard prices`: looking a model's price up, and regenerating the
//! bundled table from a LiteLLM file.

use crate::support::cli;

use std::path::PathBuf;

use cli::spendguard;
use serde_json::{json, Map, Value};
use spendguard::PriceTable;

const BUNDLED: &str = include_str!("../../pricing/litellm_prices.json");

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn temp_path(name: &str) -> PathBuf {
    cli::temp_path("prices", name)
}

#[test]
fn a_lookup_shows_how_the_name_resolved_and_every_rate() {
    let output = spendguard(&["prices", "openai/gpt-4o-2099-01-01", "claude-sonnet-4-5"]);
    assert!(output.status.success());
    let out = text(&output.stdout);
    assert!(out.starts_with(
        "openai/gpt-4o-2099-01-01\n  priced as   gpt-4o (provider prefix \"openai/\" removed, snapshot \"-2099-01-01\" priced as the undated model)\n  sold by     openai (chat)\n  standard    input $2.50/1M tokens, cached $1.25/1M tokens, output $10.00/1M tokens\n"
    ), "{out}");
    assert!(out.contains("\n  limits      128,000 input tokens, 16,384 output tokens\n"));
    assert!(out.contains("\nclaude-sonnet-4-5\n  priced as   claude-sonnet-4-5 (exact)\n"));
    assert!(out.contains("cache write $3.75/1M tokens, 1 h cache write $6.00/1M tokens"));
    assert!(out.contains("  priority    not listed: billed at twice the standard rates\n"));
}

#[test]
fn an_unknown_model_is_one_line_with_suggestions_and_exit_1() {
    let output = spendguard(&["prices", "gpt-4o", "gpt-4p"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: no price for model \"gpt-4p\" (close listed ids: \"gpt-4o\", \"gpt-4\", \"gpt-4.1\"); check the spelling, or price it yourself with PriceTable::insert\n"
    );
    assert!(text(&output.stdout).starts_with("gpt-4o\n  priced as   gpt-4o (exact)\n"));
}

#[test]
fn no_model_is_a_usage_error() {
    let output = spendguard(&["prices"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("<MODEL>"));
}

/// The bundled table as a LiteLLM file, changed by `edit`.
fn upstream(name: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> PathBuf {
    let mut entries: Map<String, Value> = serde_json::from_str(BUNDLED).unwrap();
    edit(&mut entries);
    let path = temp_path(name);
    std::fs::write(&path, serde_json::to_string(&entries).unwrap()).unwrap();
    path
}

fn bundled_copy(name: &str) -> PathBuf {
    let path = temp_path(name);
    std::fs::write(&path, BUNDLED).unwrap();
    path
}

#[test]
fn update_rewrites_the_table_and_says_what_changed() {
    let newer = upstream("newer.json", |entries| {
        entries["gpt-4o"]["input_cost_per_token"] = json!(3e-06);
        entries.remove("gpt-4o-mini");
        entries.insert(
            "my-new-model".into(),
            json!({"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "supports_vision": true}),
        );
        entries.insert(
            "dall-e-9".into(),
            json!({"mode": "image_generation", "output_cost_per_image": 0.04}),
        );
    });
    let out = bundled_copy("update-out.json");
    let output = spendguard(&[
        "prices",
        "update",
        newer.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    assert!(
        report.contains("\nadded: 1\n  + my-new-model: in $1.00/1M tokens / out $2.00/1M tokens\n"),
        "{report}"
    );
    assert!(
        report.contains("\nremoved: 1\n  - gpt-4o-mini\n"),
        "{report}"
    );
    assert!(report.contains(
        "\nchanged: 1\n  ~ gpt-4o: in $2.50/1M tokens / out $10.00/1M tokens -> in $3.00/1M tokens / out $10.00/1M tokens\n"
    ), "{report}");
    assert!(report.ends_with("bytes)\n") && report.contains(&format!("wrote {}", out.display())));

    let written = std::fs::read_to_string(&out).unwrap();
    let table = PriceTable::from_litellm_json(&written).unwrap();
    assert!(table.get("my-new-model").is_some());
    assert!(table.get("dall-e-9").is_none(), "image models are not kept");
    assert!(table.get("gpt-4o-mini").is_none());
    for path in [newer, out] {
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn updating_from_the_bundled_data_changes_nothing() {
    let same = upstream("same.json", |_| {});
    let out = bundled_copy("same-out.json");
    let output = spendguard(&[
        "prices",
        "update",
        same.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("\nadded: 0\nremoved: 0\nchanged: 0\n"));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        BUNDLED,
        "the bundled file is already in the written form"
    );
    for path in [same, out] {
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn a_dry_run_writes_nothing() {
    let newer = upstream("dry.json", |entries| {
        entries.remove("gpt-4o-mini");
    });
    let out = temp_path("dry-out.json");
    let output = spendguard(&[
        "prices",
        "update",
        "--dry-run",
        newer.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    assert!(
        report.contains("removed: 1"),
        "compared with the bundled table when --out does not exist: {report}"
    );
    assert!(report.ends_with("left as it was\n"));
    assert!(!out.exists());
    std::fs::remove_file(newer).unwrap();
}

#[test]
fn an_override_that_no_longer_applies_stops_the_update() {
    let without = upstream("stale.json", |entries| {
        entries.remove("gpt-5-codex");
    });
    let out = bundled_copy("stale-out.json");
    let output = spendguard(&[
        "prices",
        "update",
        without.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let error = text(&output.stderr);
    assert!(
        error.starts_with(
            "error: pricing/overrides.json no longer applies to the new data: override #1"
        ),
        "{error}"
    );
    assert!(error.ends_with("nothing written: fix or drop that override first\n"));
    assert_eq!(error.lines().count(), 1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), BUNDLED);
    for path in [without, out] {
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn a_malformed_entry_is_named_with_its_field() {
    let broken = upstream("broken.json", |entries| {
        entries["gpt-4o"]["input_cost_per_token"] = json!("cheap");
    });
    let output = spendguard(&[
        "prices",
        "update",
        broken.to_str().unwrap(),
        "--out",
        "/nonexistent/out.json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let error = text(&output.stderr);
    assert!(
        error.starts_with(&format!(
            "error: {}: model \"gpt-4o\": field \"input_cost_per_token\"",
            broken.display()
        )),
        "{error}"
    );
    std::fs::remove_file(broken).unwrap();
    let missing = spendguard(&["prices", "update", "/nonexistent/prices.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        text(&missing.stderr),
        "error: cannot read /nonexistent/prices.json: No such file or directory (os error 2); check the path\n"
    );
}

const SECOND_LIST: &str = include_str!("../../pricing/genai_prices.json");

/// The vendored genai-prices snapshot with one model's line changed.
fn second_list_with(name: &str, from: &str, to: &str) -> PathBuf {
    let edited = SECOND_LIST.replacen(from, to, 1);
    assert!(edited != SECOND_LIST, "{from} is not in the snapshot");
    let path = temp_path(name);
    std::fs::write(&path, edited).unwrap();
    path
}

#[test]
fn every_disagreement_with_the_vendored_second_list_is_explained() {
    // CI runs this: a new unexplained disagreement fails it.
    let output = spendguard(&["prices", "check", "pricing/genai_prices.json"]);
    let out = text(&output.stdout);
    assert!(output.status.success(), "{out}{}", text(&output.stderr));
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(
            "litellm 1.110.2 (retrieved 2026-11-25) + overrides checked 2026-12-01 against \
             genai-prices 0.2.3 (retrieved 2026-12-01)"
        )
    );
    assert!(lines.next().unwrap().starts_with("compared "));
    assert!(
        lines.next().unwrap().ends_with(" checked, 0 unexplained"),
        "{out}"
    );
    // DeepSeek's cancelled night discount is listed, with its reason.
    assert!(out.contains(
        "] deepseek-chat vs deepseek/deepseek-chat: standard output at 00:30-16:30 UTC: \
         spendguard $0.42/1M tokens, genai-prices $1.10/1M tokens (spendguard lower)"
    ));
    assert!(!out.contains("UNEXPLAINED") && !out.contains("[stale]"));
}

#[test]
fn a_new_disagreement_fails_the_check_and_is_printed() {
    let changed = second_list_with(
        "gpt-4o-dearer.json",
        r#""id": "gpt-4o", "names": ["gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20"], "rates": {"input_mtok": 2.5,"#,
        r#""id": "gpt-4o", "names": ["gpt-4o"], "rates": {"input_mtok": 5,"#,
    );
    let output = spendguard(&["prices", "check", changed.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let out = text(&output.stdout);
    assert!(
        out.contains(
            "  [UNEXPLAINED] gpt-4o vs openai/gpt-4o: standard input: spendguard $2.50/1M tokens, \
         genai-prices $5.00/1M tokens (spendguard lower)\n"
        ),
        "{out}"
    );
    assert!(out.contains(" checked, 1 unexplained\n"), "{out}");
    assert_eq!(
        text(&output.stderr),
        "error: 1 price disagreements are unexplained and 0 checked entries cover nothing any more; \
         resolve each with an override in pricing/overrides.json or an entry in pricing/checked.json \
         (see pricing/README.md)\n"
    );
}

#[test]
fn a_checked_entry_that_covers_nothing_fails_the_check() {
    let mut checked: Value =
        serde_json::from_str(include_str!("../../pricing/checked.json")).unwrap();
    checked["checked"].as_array_mut().unwrap().push(json!({
        "second": ["openai/gpt-4o"], "spendguard": "higher", "right": "litellm",
        "source": "https://developers.openai.com/api/docs/pricing", "checked": "2026-12-01",
        "why": "a test entry"
    }));
    let path = temp_path("checked-stale.json");
    std::fs::write(&path, checked.to_string()).unwrap();
    let output = spendguard(&[
        "prices",
        "check",
        "pricing/genai_prices.json",
        "--checked",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let entries = checked["checked"].as_array().unwrap().len();
    assert!(text(&output.stdout).ends_with(&format!(
        "  [stale] {} entry #{entries} covers no disagreement any more: remove it\n",
        path.display()
    )));
}

#[test]
fn a_second_list_that_cannot_be_read_is_named() {
    let broken = second_list_with("broken.json", r#""input_mtok": 2.5"#, r#""input_mtok": -1"#);
    let output = spendguard(&["prices", "check", broken.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let error = text(&output.stderr);
    assert!(
        error.starts_with(&format!("error: {}: model \"", broken.display())),
        "{error}"
    );
    assert!(error.contains("field \"input_mtok\""), "{error}");
    let missing = spendguard(&["prices", "check", "no/such/file.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).starts_with("error: cannot read no/such/file.json"));
}
