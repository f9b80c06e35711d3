//! The reconciliation as JSON for scripts: exact nano-dollars and tokens,
//! days as RFC 3339 UTC midnights.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::report::reconcile::measured::Measured;
use crate::cli::report::reconcile::Reconciliation;
use crate::clock::UtcDateTime;

/// The reconciliation.
pub(crate) fn to_json(found: &Reconciliation) -> Value {
    let export = &found.export;
    let cost = export.format.is_cost();
    json!({
        "ledgers": found.ledgers.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "export": {
            "file": export.path.display().to_string(),
            "format": export.format.name(),
            "provider": export.format.provider(),
            "compares": if cost { "cost" } else { "tokens" },
            "by_model": export.by_model,
        },
        "tolerance": {
            "basis_points": found.tolerance.basis_points,
            "floor_nanos": found.tolerance.floor_usd.nanos(),
            "floor_tokens": found.tolerance.floor_tokens,
        },
        "days": found.days.iter().map(|&day| day_start(day)).collect::<Vec<_>>(),
        "ledger_calls": found.ledger_calls,
        "ledger_days_outside": found.ledger_days_outside,
        "disagreements": found.disagreements().count(),
        "rows": found.rows.iter().map(|row| json!({
            "day": day_start(row.day),
            "model": row.model,
            "ledger": side(&row.ledger, cost),
            "export": side(&row.export, cost),
            "agrees": row.agrees,
        })).collect::<Vec<_>>(),
    })
}

fn side(measured: &Measured, cost: bool) -> Value {
    if cost {
        json!({ "cost_nanos": measured.cost.nanos() })
    } else {
        json!({ "input_tokens": measured.input, "output_tokens": measured.output })
    }
}

fn day_start(day: u64) -> String {
    UtcDateTime::from_unix(Duration::from_secs(day * 86_400)).to_string()
}
