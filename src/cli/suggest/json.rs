//! The suggestions as JSON for scripts: exact nano-dollars.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::suggest::distribution::Distribution;
use crate::cli::suggest::limits::DailyCap;
use crate::cli::suggest::{code, Suggest};
use crate::clock::UtcDateTime;

/// The suggestions.
pub(crate) fn to_json(suggest: &Suggest) -> Value {
    let found = &suggest.found;
    json!({
        "calls": suggest.calls,
        "tasks": suggest.tasks,
        "task_factor": found.task_factor.to_string(),
        "day_factor": found.day_factor.to_string(),
        "alert_percents": [50, 80],
        "left_out": {
            "spike_hours": found.spikes.iter().map(|spike| json!({
                "start": at(spike.hour * 3_600),
                "cost_nanos": spike.cost.nanos(),
            })).collect::<Vec<_>>(),
            "stopped_calls": suggest.stopped_calls,
            "tasks": found.tasks_left_out,
        },
        "per_task": found.tasks.iter().map(|task| json!({
            "agent": task.agent,
            "tasks": distribution(&task.tasks),
            "max_cost_nanos": task.max_cost.nanos(),
        })).collect::<Vec<_>>(),
        "per_agent_day": found.agents.iter().map(cap).collect::<Vec<_>>(),
        "per_key_day": found.keys.iter().map(cap).collect::<Vec<_>>(),
        "code": code::rust(found),
    })
}

fn cap(cap: &DailyCap) -> Value {
    json!({
        "name": cap.name,
        "days": distribution(&cap.days),
        "busiest_day": at(cap.busiest_day * 86_400),
        "cap_nanos": cap.cap.nanos(),
    })
}

fn distribution(d: &Distribution) -> Value {
    json!({
        "count": d.count,
        "median_nanos": d.median.nanos(),
        "p90_nanos": d.p90.nanos(),
        "max_nanos": d.max.nanos(),
    })
}

fn at(secs: u64) -> String {
    UtcDateTime::from_unix(Duration::from_secs(secs)).to_string()
}
