//! The suggested limits as Rust to paste: a function per agent that
//! builds one task's budget, and one that builds the guard with the
//! daily caps.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::cli::suggest::limits::{DailyCap, Suggestions};
use crate::money::Usd;

/// The alerts every suggested limit carries.
pub(crate) const ALERTS: &str = "&[50, 80]";

/// The code, or `None` when there is nothing to suggest.
pub(crate) fn rust(found: &Suggestions) -> Option<String> {
    if found.tasks.is_empty() && found.agents.is_empty() && found.keys.is_empty() {
        return None;
    }
    let mut code = String::new();
    if !found.tasks.is_empty() {
        code.push_str("use spendguard::budget::BudgetConfigError;\n");
    }
    let caps = !found.agents.is_empty() || !found.keys.is_empty();
    if caps {
        code.push_str(
            "use spendguard::guard::{GuardConfigError, SharedLimit, SpendGuard, Window};\n",
        );
    }
    match (caps, found.tasks.iter().any(|t| t.agent.is_some())) {
        (true, true) => code.push_str("use spendguard::tags::{TagKind, Tags};\n"),
        (true, false) => code.push_str("use spendguard::tags::TagKind;\n"),
        (false, true) => code.push_str("use spendguard::tags::Tags;\n"),
        (false, false) => {}
    }
    if found.tasks.is_empty() {
        code.push_str("use spendguard::Usd;\n");
    } else {
        code.push_str("use spendguard::{TaskBudget, Usd};\n");
    }
    let mut names = BTreeSet::new();
    for task in &found.tasks {
        let (function, whose, tags) = match &task.agent {
            Some(agent) => (
                unique(&mut names, format!("{}_task", identifier(agent))),
                format!("agent `{agent}`"),
                format!("        .tags(Tags::new().agent({agent:?}))\n"),
            ),
            None => (
                unique(&mut names, "task_without_agent".into()),
                "calls without an agent".into(),
                String::new(),
            ),
        };
        let _ = write!(
            code,
            "\n/// One task's budget, {whose}: {} × the median real task ({} over {} tasks).\n\
             fn {function}(task: &str) -> Result<TaskBudget, BudgetConfigError> {{\n    \
             TaskBudget::builder(task)\n{tags}        \
             .max_cost({})\n        \
             .alert_at({ALERTS})\n        \
             .build()\n}}\n",
            found.task_factor,
            task.tasks.median,
            task.tasks.count,
            usd(task.max_cost),
        );
    }
    if caps {
        let _ = write!(
            code,
            "\n/// Daily caps: {} × the busiest normal UTC day of each agent and key.\n\
             fn daily_caps() -> Result<SpendGuard, GuardConfigError> {{\n    \
             SpendGuard::builder()\n",
            found.day_factor
        );
        write_caps(&mut code, "Agent", &found.agents);
        write_caps(&mut code, "Key", &found.keys);
        let _ = write!(code, "        .alert_at({ALERTS})\n        .build()\n}}\n");
    }
    Some(code)
}

/// One `tagged` cap per name, then an `each` cap at the largest of them
/// for names not seen yet.
fn write_caps(code: &mut String, kind: &str, caps: &[DailyCap]) {
    for cap in caps {
        let _ = writeln!(
            code,
            "        .limit(SharedLimit::tagged(TagKind::{kind}, {:?}, {}, Window::Day))",
            cap.name,
            usd(cap.cap)
        );
    }
    if let Some(largest) = caps.iter().map(|cap| cap.cap).max() {
        let _ = writeln!(
            code,
            "        // Any other {}: the largest cap above.",
            kind.to_ascii_lowercase()
        );
        let _ = writeln!(
            code,
            "        .limit(SharedLimit::each(TagKind::{kind}, {}, Window::Day))",
            usd(largest)
        );
    }
}

/// `Usd::from_cents(435)`: exact, and needs no `?`.
fn usd(amount: Usd) -> String {
    format!("Usd::from_cents({})", amount.nanos() / 10_000_000)
}

/// A snake-case Rust identifier from a name: `nightly-digest` is
/// `nightly_digest`, `2fa` is `agent_2fa`.
fn identifier(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() || trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        format!("agent_{trimmed}")
    } else {
        trimmed.to_owned()
    }
}

/// `name`, or `name_2`, `name_3`… when taken.
fn unique(taken: &mut BTreeSet<String>, name: String) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_identifiers_once_each() {
        assert_eq!(identifier("nightly-digest"), "nightly_digest");
        assert_eq!(identifier("2fa"), "agent_2fa");
        assert_eq!(identifier("Ünïcode"), "n_code");
        assert_eq!(identifier("--"), "agent_");
        let mut taken = BTreeSet::new();
        assert_eq!(unique(&mut taken, "a_task".into()), "a_task");
        assert_eq!(unique(&mut taken, "a_task".into()), "a_task_2");
    }
}
