//! The report as one JSON document, for scripts. Amounts are exact
//! nano-dollars (`*_nanos`) beside a rounded dollar string; times are
//! RFC 3339 UTC.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::figures::dollars;
use crate::cli::report::breakdown::Breakdown;
use crate::cli::report::{climb_sentence, pattern_sentence, rollup, Report};
use crate::clock::UtcDateTime;
use crate::ledger::Decision;

/// The report.
pub(crate) fn to_json(report: &Report) -> Value {
    let aggregate = &report.aggregate;
    let findings = &report.findings;
    let decisions: serde_json::Map<String, Value> = Decision::ALL
        .iter()
        .map(|&d| (d.as_str().to_owned(), json!(aggregate.calls_with(d))))
        .collect();
    json!({
        "files": report.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "malformed_lines": report.skipped.count,
        "first": aggregate.first.map(rfc3339),
        "last": aggregate.last.map(rfc3339),
        "total": {
            "cost_nanos": aggregate.total.cost.nanos(),
            "cost": dollars(aggregate.total.cost),
            "calls": aggregate.total.calls,
            "tokens": aggregate.total.tokens,
            "decisions": decisions,
        },
        "by_model": breakdown(&aggregate.by_model),
        "by_agent": breakdown(&aggregate.by_agent),
        "by_key": breakdown(&aggregate.by_key),
        "by_customer": breakdown(&aggregate.by_customer),
        "median_hour_cost_nanos": findings.median_hour.nanos(),
        "hours": aggregate.hours.iter().map(|(&hour, spend)| json!({
            "start": rfc3339(Duration::from_secs(hour * 3_600)),
            "cost_nanos": spend.cost.nanos(),
            "calls": spend.calls,
        })).collect::<Vec<_>>(),
        "spikes": findings.spikes.iter().map(|spike| json!({
            "start": rfc3339(Duration::from_secs(spike.hour * 3_600)),
            "cost_nanos": spike.cost.nanos(),
            "times_median": spike.times_median,
            "top_agent": spike.top_agent.as_ref().map(|(name, cost)| json!({"name": name, "cost_nanos": cost.nanos()})),
            "top_model": spike.top_model.as_ref().map(|(name, cost)| json!({"name": name, "cost_nanos": cost.nanos()})),
            "after_deploy": findings.deploy_before(spike).map(|deploy| json!({"label": deploy.label, "at": rfc3339(deploy.at)})),
        })).collect::<Vec<_>>(),
        "deploys": findings.deploys.iter().map(|deploy| json!({
            "label": deploy.label,
            "at": rfc3339(deploy.at),
        })).collect::<Vec<_>>(),
        "context_growth": findings.climbs.iter().map(|climb| json!({
            "agent": climb.agent,
            "from_day": rfc3339(Duration::from_secs(climb.start_day * 86_400)),
            "to_day": rfc3339(Duration::from_secs(climb.end_day * 86_400)),
            "from_tokens_per_call": climb.from,
            "to_tokens_per_call": climb.to,
            "tokens_per_call_per_day": climb.per_day(),
            "summary": climb_sentence(climb),
        })).collect::<Vec<_>>(),
        "rollup": report.by.map(|period| json!({
            "period": format!("{period:?}").to_lowercase(),
            "rows": rollup::rows(&aggregate.hours, period).iter().map(|row| json!({
                "label": row.label,
                "start": rfc3339(Duration::from_secs(row.start_hour * 3_600)),
                "cost_nanos": row.cost.nanos(),
                "calls": row.calls,
            })).collect::<Vec<_>>(),
        })),
        "patterns": findings.patterns.iter().map(|pattern| json!({
            "agent": pattern.agent,
            "period_secs": pattern.period_secs,
            "times": pattern.times,
            "cost_nanos": pattern.cost.nanos(),
            "summary": pattern_sentence(pattern),
        })).collect::<Vec<_>>(),
        "incidents": aggregate.incidents_by_count().iter().map(|incident| json!({
            "decision": incident.decision.as_str(),
            "agent": incident.agent,
            "limit": incident.limit,
            "reason": incident.reason,
            "count": incident.count,
            "cost_nanos": incident.cost.nanos(),
            "first": rfc3339(incident.first),
            "last": rfc3339(incident.last),
        })).collect::<Vec<_>>(),
        "ungrouped_incidents": aggregate.ungrouped_incidents,
        "price_drift": aggregate.drift.by_difference().iter().map(|(model, drift)| json!({
            "model": model,
            "calls": drift.calls,
            "table_cost_nanos": drift.table.nanos(),
            "provider_cost_nanos": drift.provider.nanos(),
        })).collect::<Vec<_>>(),
    })
}

fn breakdown(breakdown: &Breakdown) -> Vec<Value> {
    breakdown
        .by_cost()
        .into_iter()
        .map(|(name, totals)| {
            json!({
                "name": name,
                "cost_nanos": totals.cost.nanos(),
                "calls": totals.calls,
                "tokens": totals.tokens,
            })
        })
        .collect()
}

fn rfc3339(at: Duration) -> String {
    UtcDateTime::from_unix(at).to_string()
}
