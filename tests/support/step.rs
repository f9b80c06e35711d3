//! The request and the task budget the guarded-step tests share.

// Test binaries that include `support` without running steps use none of
// this.
#![allow(dead_code)]

use serde_json::{json, Value};
use spendguard::tags::Tags;
use spendguard::{TaskBudget, Usd};

/// An OpenAI Chat request for `gpt-4o`, different for each `n`, asking for
/// 300 output tokens.
pub fn request(n: usize) -> Value {
    json!({
        "model": "gpt-4o",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": format!("Step {n}: summarise the incident report.")}],
    })
}

/// A $10 task budget for the agent `researcher`.
pub fn budget() -> TaskBudget {
    TaskBudget::builder("nightly")
        .max_cost(Usd::from_cents(1_000))
        .tags(Tags::new().agent("researcher"))
        .build()
        .unwrap()
}
