//! `spendguard estimate`: the numbers it prints are the library's token
//! counts and worst cases, for each request shape.

use crate::support::cli;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli::spendguard;
use serde_json::json;
use spendguard::tokens::{Message, TokenCount, TokenCounter};
use spendguard::usage::ServiceTier;
use spendguard::PriceTable;

fn temp_file(name: &str, content: &str) -> PathBuf {
    let path = cli::temp_path("estimate", name);
    std::fs::write(&path, content).unwrap();
    path
}

fn estimate(model: &str, path: &Path, extra: &[&str]) -> Output {
    let path = path.to_str().expect("temporary paths are UTF-8");
    let mut args = vec!["estimate", "--model", model];
    args.extend_from_slice(extra);
    args.push(path);
    spendguard(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The lines the library's numbers give.
fn expected(model: &str, input: TokenCount, output: u64) -> (String, String) {
    let price = PriceTable::bundled().resolve(model).unwrap().into_price();
    let worst = price.worst_case(input.tokens, output, ServiceTier::Standard, None);
    (
        format!("input:       {input}\n"),
        format!("({worst} exactly, standard tier, no cache)\n"),
    )
}

fn check(
    model: &str,
    name: &str,
    content: &str,
    input: TokenCount,
    output: u64,
    extra: &[&str],
) -> String {
    let path = temp_file(name, content);
    let result = estimate(model, &path, extra);
    std::fs::remove_file(&path).unwrap();
    assert!(result.status.success(), "{}", text(&result.stderr));
    let out = text(&result.stdout);
    let (input_line, worst_line) = expected(model, input, output);
    assert!(out.contains(&input_line), "{out}");
    assert!(out.contains(&worst_line), "{out}");
    out
}

#[test]
fn plain_text_is_one_user_message_with_the_default_ceiling() {
    let prompt = "Summarise the attached report in three bullet points.\n";
    let counted = TokenCounter::new().count_chat("gpt-4o", &[Message::user(prompt)], &[]);
    let out = check("gpt-4o", "prompt.txt", prompt, counted, 4_096, &[]);
    assert!(out.contains(": plain text, one user message\n"));
    assert!(out.contains("output:      up to 4,096 tokens (the --max-output ceiling)\n"));
}

#[test]
fn each_request_shape_is_counted_as_the_library_counts_it() {
    let counter = TokenCounter::new();
    let chat = json!({"model": "gpt-4o", "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hello world"}]});
    let anthropic = json!({"model": "claude-sonnet-4-5", "system": "Be terse.", "max_tokens": 300, "messages": [{"role": "user", "content": [{"type": "text", "text": "hello world"}]}]});
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "hello world"}]}], "generationConfig": {"maxOutputTokens": 200}});
    for (model, body, output, shape) in [
        (
            "gpt-4o",
            &chat,
            4_096,
            "chat request body (OpenAI or Anthropic)",
        ),
        (
            "claude-sonnet-4-5",
            &anthropic,
            300,
            "chat request body (OpenAI or Anthropic)",
        ),
        ("gemini-2.5-pro", &gemini, 200, "Gemini request body"),
    ] {
        let counted = counter.count_request(model, body).unwrap();
        let out = check(model, "body.json", &body.to_string(), counted, output, &[]);
        assert!(out.contains(&format!(": {shape}\n")), "{out}");
    }
}

#[test]
fn a_responses_body_counts_as_its_chat_equivalent() {
    let responses = json!({"model": "gpt-4o", "instructions": "Be terse.", "input": "hello world", "max_output_tokens": 64});
    let chat = json!({"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hello world"}]});
    let counted = TokenCounter::new().count_request("gpt-4o", &chat).unwrap();
    let out = check(
        "gpt-4o",
        "responses.json",
        &responses.to_string(),
        counted,
        64,
        &[],
    );
    assert!(out.contains(": OpenAI Responses request body\n"));
    assert!(out.contains("output:      up to 64 tokens (the body's own limit)\n"));
}

#[test]
fn max_output_sets_the_ceiling_and_the_model_caps_it() {
    let prompt = "hello";
    let counted = TokenCounter::new().count_chat("gpt-4o", &[Message::user(prompt)], &[]);
    let out = check(
        "gpt-4o",
        "small.txt",
        prompt,
        counted,
        100,
        &["--max-output", "100"],
    );
    assert!(out.contains("output:      up to 100 tokens (the --max-output ceiling)\n"));
    // gpt-4o writes at most 16,384 tokens.
    let out = check(
        "gpt-4o",
        "big.txt",
        prompt,
        counted,
        16_384,
        &["--max-output", "1000000"],
    );
    assert!(out.contains("output:      up to 16,384 tokens (the model's maximum)\n"));
}

#[test]
fn text_that_looks_like_json_can_be_counted_as_text() {
    let prompt = "{ this is a prompt about braces }";
    let path = temp_file("braces.txt", prompt);
    let refused = estimate("gpt-4o", &path, &[]);
    assert_eq!(refused.status.code(), Some(1));
    let error = text(&refused.stderr);
    assert!(
        error.ends_with("pass --text to count it as a plain prompt\n"),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1);
    std::fs::remove_file(&path).unwrap();
    let counted = TokenCounter::new().count_chat("gpt-4o", &[Message::user(prompt)], &[]);
    check("gpt-4o", "braces2.txt", prompt, counted, 4_096, &["--text"]);
}

#[test]
fn bad_input_is_one_line_and_exit_1() {
    let body = temp_file("nothing.json", &json!({"model": "gpt-4o"}).to_string());
    let nothing = estimate("gpt-4o", &body, &[]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(text(&nothing.stderr).contains("there is nothing to count"));
    let unknown = estimate("gpt-4p", &body, &[]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).starts_with("error: no price for model \"gpt-4p\""));
    std::fs::remove_file(&body).unwrap();
    let missing = estimate("gpt-4o", &PathBuf::from("/nonexistent/prompt.txt"), &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(text(&missing.stderr).lines().count(), 1);
    let usage = spendguard(&["estimate", "prompt.txt"]);
    assert_eq!(usage.status.code(), Some(2), "--model is required");
}
