//! What `suggest` keeps of each record: the report's totals (for its spike
//! detection), each task's cost, and each agent's and key's spend per hour.
//! Memory grows with the number of tasks and of agent and key hours, not
//! with the number of calls.

use std::collections::{BTreeMap, HashMap};

use crate::cli::report::aggregate::Aggregate;
use crate::ledger::{Decision, LedgerRecord};
use crate::money::Usd;

/// One task's calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct Task {
    /// The agent of its first call.
    pub(crate) agent: Option<String>,
    pub(crate) cost: Usd,
    /// `true` once the guard refused, cut off, killed or caught one of its
    /// calls as a runaway: not a task that ran its natural course.
    pub(crate) stopped: bool,
    /// Hours since the epoch its calls fell in, each once.
    pub(crate) hours: Vec<u64>,
}

/// Everything `suggest` needs, accumulated record by record.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) aggregate: Aggregate,
    /// By task tag.
    pub(crate) tasks: HashMap<String, Task>,
    /// Spend of normal calls by agent, then hour since the epoch.
    pub(crate) agent_hours: BTreeMap<String, BTreeMap<u64, Usd>>,
    /// The same by key label.
    pub(crate) key_hours: BTreeMap<String, BTreeMap<u64, Usd>>,
    /// Calls without a task tag: they count for days, not for tasks.
    pub(crate) calls_without_task: u64,
    /// Calls the guard stopped (refused, cut off, killed, runaway).
    pub(crate) stopped_calls: u64,
}

/// `true` for the decisions that stop a call or a task.
pub(crate) fn is_stop(decision: Decision) -> bool {
    matches!(
        decision,
        Decision::Refused | Decision::CutOff | Decision::Killed | Decision::Runaway
    )
}

impl Tally {
    /// Adds one record.
    pub(crate) fn add(&mut self, record: &LedgerRecord) {
        self.aggregate.add(record);
        let hour = record.ts.unix().as_secs() / 3_600;
        let stop = is_stop(record.decision);
        self.stopped_calls += u64::from(stop);
        let tags = &record.tags;
        match &tags.task {
            Some(id) => {
                let task = self.tasks.entry(id.clone()).or_insert_with(|| Task {
                    agent: tags.agent.clone(),
                    ..Task::default()
                });
                task.cost += record.cost;
                task.stopped |= stop;
                if !task.hours.contains(&hour) {
                    task.hours.push(hour);
                }
            }
            None => self.calls_without_task += 1,
        }
        if stop {
            return;
        }
        for (name, hours) in [
            (&tags.agent, &mut self.agent_hours),
            (&tags.key, &mut self.key_hours),
        ] {
            if let Some(name) = name {
                *hours
                    .entry(name.clone())
                    .or_default()
                    .entry(hour)
                    .or_default() += record.cost;
            }
        }
    }
}
