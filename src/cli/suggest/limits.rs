//! The arithmetic the guides give: a task budget at a multiple of the
//! median real task, a daily cap at a multiple of the busiest normal day.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::cli::report::patterns::{self, Spike};
use crate::cli::suggest::distribution::Distribution;
use crate::cli::suggest::tally::Tally;
use crate::money::Usd;

const NANOS_PER_CENT: u64 = 10_000_000;

/// A multiplier with two decimals: `2.5` is 250 hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Factor(pub(crate) u64);

impl Factor {
    /// `amount` times the factor, rounded up to a whole cent and never
    /// below one: a limit a person reads and pastes.
    pub(crate) fn apply(self, amount: Usd) -> Usd {
        let scaled = u128::from(amount.nanos()) * u128::from(self.0);
        let nanos = scaled.div_ceil(100);
        let cents = nanos.div_ceil(u128::from(NANOS_PER_CENT)).max(1);
        Usd::from_cents(u64::try_from(cents).unwrap_or(u64::MAX / NANOS_PER_CENT))
    }
}

impl fmt::Display for Factor {
    /// `2.5`, `3`, `1.25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, hundredths) = (self.0 / 100, self.0 % 100);
        match hundredths {
            0 => write!(f, "{whole}"),
            h if h % 10 == 0 => write!(f, "{whole}.{}", h / 10),
            h => write!(f, "{whole}.{h:02}"),
        }
    }
}

/// A per-task budget for one agent's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskLimit {
    /// `None` for tasks whose calls carry no agent.
    pub(crate) agent: Option<String>,
    pub(crate) tasks: Distribution,
    pub(crate) max_cost: Usd,
}

/// A daily cap for one agent or key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DailyCap {
    pub(crate) name: String,
    pub(crate) days: Distribution,
    /// The busiest normal day, days since the epoch.
    pub(crate) busiest_day: u64,
    pub(crate) cap: Usd,
}

/// Everything `suggest` found.
#[derive(Debug, Clone)]
pub(crate) struct Suggestions {
    pub(crate) task_factor: Factor,
    pub(crate) day_factor: Factor,
    pub(crate) spikes: Vec<Spike>,
    /// Tasks left out: stopped by the guard, or with a call in a spike.
    pub(crate) tasks_left_out: usize,
    pub(crate) tasks: Vec<TaskLimit>,
    pub(crate) agents: Vec<DailyCap>,
    pub(crate) keys: Vec<DailyCap>,
}

/// The limits `tally` suggests at these factors.
pub(crate) fn suggest(tally: &Tally, task_factor: Factor, day_factor: Factor) -> Suggestions {
    let aggregate = &tally.aggregate;
    let spikes = patterns::spikes(&aggregate.hours, &aggregate.by_agent, &aggregate.by_model);
    let spike_hours: BTreeSet<u64> = spikes.iter().map(|spike| spike.hour).collect();

    let mut by_agent: BTreeMap<Option<&str>, Vec<Usd>> = BTreeMap::new();
    let mut tasks_left_out = 0;
    for task in tally.tasks.values() {
        if task.stopped || task.hours.iter().any(|hour| spike_hours.contains(hour)) {
            tasks_left_out += 1;
            continue;
        }
        by_agent
            .entry(task.agent.as_deref())
            .or_default()
            .push(task.cost);
    }
    // Named agents first, in name order; tasks without an agent last.
    let mut tasks: Vec<TaskLimit> = by_agent
        .into_iter()
        .filter_map(|(agent, costs)| {
            let tasks = Distribution::of(costs)?;
            Some(TaskLimit {
                agent: agent.map(str::to_owned),
                max_cost: task_factor.apply(tasks.median),
                tasks,
            })
        })
        .collect();
    let without_agent = usize::from(tasks.first().is_some_and(|t| t.agent.is_none()));
    tasks.rotate_left(without_agent);

    Suggestions {
        task_factor,
        day_factor,
        tasks_left_out,
        tasks,
        agents: daily_caps(&tally.agent_hours, &spike_hours, day_factor),
        keys: daily_caps(&tally.key_hours, &spike_hours, day_factor),
        spikes,
    }
}

/// One cap per name: its spend per UTC day outside spike hours.
fn daily_caps(
    hours: &BTreeMap<String, BTreeMap<u64, Usd>>,
    spike_hours: &BTreeSet<u64>,
    factor: Factor,
) -> Vec<DailyCap> {
    hours
        .iter()
        .filter_map(|(name, spend)| {
            let mut days: BTreeMap<u64, Usd> = BTreeMap::new();
            for (hour, cost) in spend {
                if !spike_hours.contains(hour) {
                    *days.entry(hour / 24).or_default() += *cost;
                }
            }
            days.retain(|_, cost| !cost.is_zero());
            // The earliest of the busiest days, if several tie.
            let (&busiest_day, _) = days.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
            let days = Distribution::of(days.into_values().collect())?;
            Some(DailyCap {
                name: name.clone(),
                busiest_day,
                cap: factor.apply(days.max),
                days,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_round_up_to_the_cent() {
        assert_eq!(Factor(250).apply(Usd::from_cents(40)), Usd::from_cents(100));
        assert_eq!(
            Factor(150).apply(Usd::from_nanos(2_900_000_001)),
            Usd::from_cents(436)
        );
        assert_eq!(Factor(200).apply(Usd::from_nanos(1)), Usd::from_cents(1));
        assert_eq!(Factor(300).apply(Usd::ZERO), Usd::from_cents(1));
        assert_eq!(Factor(250).to_string(), "2.5");
        assert_eq!(Factor(300).to_string(), "3");
        assert_eq!(Factor(125).to_string(), "1.25");
    }
}
