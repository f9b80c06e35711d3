//! Context growth, the "slow climb": an agent whose prompt tokens per call
//! rise steadily across days. More tokens per call, not more calls, is the
//! sign of a context (a history, a memory file, a retrieved corpus) that
//! is never trimmed; its bill grows while its call count stays flat.

use std::collections::BTreeMap;

use crate::cli::report::breakdown::{Breakdown, Slot};
use crate::ledger::LedgerRecord;

/// Agents followed; later ones are not.
const MAX_AGENTS: usize = 1_000;
/// Days kept per agent, the newest.
const MAX_DAYS: usize = 400;
/// Calls a day needs for its average to count.
const MIN_CALLS_PER_DAY: u64 = 3;
/// Days a climb spans at least.
const MIN_DAYS: usize = 3;
/// How much a climb grows at least, first day to last, in percent.
const MIN_GROWTH_PERCENT: u64 = 50;
/// How far one day may dip below the day before and still be climbing.
const DIP_PERCENT: u64 = 5;

/// One agent's prompt tokens and calls on one UTC day.
#[derive(Debug, Clone, Copy, Default)]
struct Day {
    calls: u64,
    prompt_tokens: u64,
}

/// Prompt tokens per agent per UTC day, in bounded memory.
#[derive(Debug, Default)]
pub(crate) struct ContextByDay {
    agents: Vec<BTreeMap<u64, Day>>,
}

/// A climb: from `from` prompt tokens per call on `start_day` to `to` on
/// `end_day` (days since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Climb {
    pub(crate) agent: String,
    pub(crate) start_day: u64,
    pub(crate) end_day: u64,
    pub(crate) from: u64,
    pub(crate) to: u64,
}

impl Climb {
    /// Prompt tokens per call added per calendar day, rounded down.
    pub(crate) fn per_day(&self) -> u64 {
        (self.to - self.from) / (self.end_day - self.start_day).max(1)
    }
}

impl ContextByDay {
    /// Adds a call of `agent` with the prompt `record` reports.
    pub(crate) fn add(&mut self, agent: Slot, record: &LedgerRecord) {
        let tokens = &record.tokens;
        let prompt = tokens
            .input
            .saturating_add(tokens.cached)
            .saturating_add(tokens.cache_write);
        let Some(index) = agent.index().filter(|&i| i < MAX_AGENTS) else {
            return;
        };
        if prompt == 0 {
            return; // refused before sending: no prompt was billed
        }
        if self.agents.len() <= index {
            self.agents.resize_with(index + 1, BTreeMap::new);
        }
        let days = &mut self.agents[index];
        let day = days.entry(record.ts.unix().as_secs() / 86_400).or_default();
        day.calls += 1;
        day.prompt_tokens = day.prompt_tokens.saturating_add(prompt);
        if days.len() > MAX_DAYS {
            days.pop_first();
        }
    }

    /// Each agent's steepest climb, if it has one; the steepest first.
    pub(crate) fn climbs(&self, agents: &Breakdown) -> Vec<Climb> {
        let mut climbs: Vec<Climb> = self
            .agents
            .iter()
            .enumerate()
            .filter_map(|(index, days)| {
                let (start_day, end_day, from, to) = steepest_climb(days)?;
                Some(Climb {
                    agent: agents.name(Slot::at(index)).to_owned(),
                    start_day,
                    end_day,
                    from,
                    to,
                })
            })
            .collect();
        climbs.sort_by(|a, b| {
            b.per_day()
                .cmp(&a.per_day())
                .then_with(|| a.agent.cmp(&b.agent))
        });
        climbs
    }
}

/// The climbing run of days with the largest growth that meets the
/// thresholds: `(start day, end day, from, to)`.
fn steepest_climb(days: &BTreeMap<u64, Day>) -> Option<(u64, u64, u64, u64)> {
    let averages: Vec<(u64, u64)> = days
        .iter()
        .filter(|(_, day)| day.calls >= MIN_CALLS_PER_DAY)
        .map(|(&day, totals)| (day, totals.prompt_tokens / totals.calls))
        .collect();
    let mut best: Option<(u64, u64, u64, u64)> = None;
    let mut start = 0;
    for end in 0..averages.len() {
        let continues = end > 0
            && u128::from(averages[end].1) * 100
                >= u128::from(averages[end - 1].1) * u128::from(100 - DIP_PERCENT);
        if !continues {
            start = end;
        }
        let (first, last) = (averages[start], averages[end]);
        let grown =
            u128::from(last.1) * 100 >= u128::from(first.1) * u128::from(100 + MIN_GROWTH_PERCENT);
        if end + 1 - start >= MIN_DAYS && grown && last.1 > first.1 {
            let growth =
                |run: &(u64, u64, u64, u64)| u128::from(run.3) * 1_000 / u128::from(run.2.max(1));
            let candidate = (first.0, last.0, first.1, last.1);
            if best.as_ref().is_none_or(|b| growth(&candidate) > growth(b)) {
                best = Some(candidate);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(averages: &[(u64, u64, u64)]) -> BTreeMap<u64, Day> {
        averages
            .iter()
            .map(|&(day, calls, per_call)| {
                (
                    day,
                    Day {
                        calls,
                        prompt_tokens: calls * per_call,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_steady_rise_in_tokens_per_call_is_a_climb() {
        let rising = days(&[
            (10, 20, 2_000),
            (11, 20, 2_600),
            (12, 21, 2_550),
            (13, 19, 3_400),
            (14, 20, 4_100),
        ]);
        assert_eq!(steepest_climb(&rising), Some((10, 14, 2_000, 4_100)));
    }

    #[test]
    fn more_calls_with_the_same_prompts_is_not_a_climb() {
        let busier = days(&[
            (10, 10, 2_000),
            (11, 40, 2_000),
            (12, 90, 2_050),
            (13, 200, 2_000),
        ]);
        assert_eq!(steepest_climb(&busier), None);
    }

    #[test]
    fn a_reset_breaks_the_climb_and_short_or_small_rises_are_not_named() {
        let reset = days(&[(1, 5, 1_000), (2, 5, 1_400), (3, 5, 500), (4, 5, 700)]);
        assert_eq!(steepest_climb(&reset), None, "two-day rises only");
        let small = days(&[(1, 5, 1_000), (2, 5, 1_100), (3, 5, 1_200), (4, 5, 1_400)]);
        assert_eq!(steepest_climb(&small), None, "40% is not enough");
        let quiet = days(&[(1, 2, 1_000), (2, 2, 2_000), (3, 2, 4_000)]);
        assert_eq!(steepest_climb(&quiet), None, "too few calls a day to judge");
    }

    #[test]
    fn the_rate_is_per_calendar_day_across_quiet_days() {
        let climb = Climb {
            agent: "a".into(),
            start_day: 10,
            end_day: 14,
            from: 2_000,
            to: 4_100,
        };
        assert_eq!(climb.per_day(), 525);
    }
}
