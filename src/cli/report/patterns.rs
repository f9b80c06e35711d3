//! What stands out in a ledger: agents that fire on a schedule (a
//! heartbeat, a forgotten cron) and hours that cost far more than usual.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cli::report::breakdown::{Breakdown, Hour, Slot};
use crate::money::Usd;

/// Calls of one agent less than this apart belong to one burst: one
/// firing of a schedule may make several calls.
pub(crate) const BURST_WINDOW: Duration = Duration::from_secs(30);
/// Gaps kept per agent (the latest ones), to bound memory.
const GAPS_KEPT: usize = 512;
/// A schedule needs at least this many gaps to be named.
const MIN_GAPS: usize = 6;
/// ... and at least this share of them (in percent) close to the median.
const REGULAR_PERCENT: usize = 80;
/// Schedules faster than this are not named.
const MIN_PERIOD_SECS: u64 = 60;
/// "Close to the median": within a tenth of it, or within this many
/// seconds when that is wider.
const TOLERANCE_FLOOR_SECS: u64 = 60;
/// An hour is a spike at this many times the median hour ...
pub(crate) const SPIKE_FACTOR: u64 = 5;
/// ... and if it cost at least this much.
pub(crate) const SPIKE_FLOOR: Usd = Usd::from_cents(100);

/// When each agent's calls came: bursts and the gaps between their starts.
#[derive(Debug, Default)]
pub(crate) struct Cadence {
    agents: Vec<AgentCadence>,
}

#[derive(Debug, Clone, Default)]
struct AgentCadence {
    bursts: u64,
    burst_start: Duration,
    last_call: Duration,
    /// Gaps between burst starts in whole seconds, a ring of the latest.
    gaps: Vec<u32>,
    next_gap: usize,
}

impl Cadence {
    /// Notes a call by `agent` at `at`. Calls are expected in time order;
    /// one a little out of order joins its burst, and an older one is
    /// ignored.
    pub(crate) fn observe(&mut self, agent: Slot, at: Duration) {
        let Some(index) = agent.index() else {
            return;
        };
        if self.agents.len() <= index {
            self.agents.resize_with(index + 1, AgentCadence::default);
        }
        let cadence = &mut self.agents[index];
        if cadence.bursts == 0 {
            cadence.bursts = 1;
            cadence.burst_start = at;
            cadence.last_call = at;
        } else if at <= cadence.last_call + BURST_WINDOW {
            cadence.last_call = cadence.last_call.max(at);
        } else {
            let gap = (at - cadence.burst_start).as_secs();
            cadence.push_gap(u32::try_from(gap).unwrap_or(u32::MAX));
            cadence.bursts += 1;
            cadence.burst_start = at;
            cadence.last_call = at;
        }
    }

    /// The agents that fire on a schedule, the most frequent first.
    pub(crate) fn patterns(&self, agents: &Breakdown) -> Vec<Pattern> {
        let mut found: Vec<Pattern> = self
            .agents
            .iter()
            .enumerate()
            .filter_map(|(index, cadence)| {
                let period = regular_period(&cadence.gaps)?;
                let slot = Slot::at(index);
                let name = agents.name(slot);
                Some(Pattern {
                    agent: name.to_owned(),
                    period_secs: period,
                    times: cadence.bursts,
                    cost: agents.get(name).map_or(Usd::ZERO, |t| t.cost),
                })
            })
            .collect();
        found.sort_by(|a, b| b.times.cmp(&a.times).then_with(|| a.agent.cmp(&b.agent)));
        found
    }
}

impl AgentCadence {
    fn push_gap(&mut self, gap: u32) {
        if self.gaps.len() < GAPS_KEPT {
            self.gaps.push(gap);
        } else {
            self.gaps[self.next_gap] = gap;
            self.next_gap = (self.next_gap + 1) % GAPS_KEPT;
        }
    }
}

/// The median gap, if enough gaps lie close enough to it.
fn regular_period(gaps: &[u32]) -> Option<u64> {
    if gaps.len() < MIN_GAPS {
        return None;
    }
    let mut sorted = gaps.to_vec();
    sorted.sort_unstable();
    let median = u64::from(sorted[sorted.len() / 2]);
    if median < MIN_PERIOD_SECS {
        return None;
    }
    let tolerance = (median / 10).max(TOLERANCE_FLOOR_SECS);
    let close = sorted
        .iter()
        .filter(|&&gap| u64::from(gap).abs_diff(median) <= tolerance)
        .count();
    (close * 100 >= sorted.len() * REGULAR_PERCENT).then_some(median)
}

/// An agent that fires on a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    pub(crate) agent: String,
    /// The median time between firings.
    pub(crate) period_secs: u64,
    /// How many times it fired (bursts of calls).
    pub(crate) times: u64,
    /// What the agent spent in all.
    pub(crate) cost: Usd,
}

/// An hour that cost far more than the median hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spike {
    /// Hours since the epoch.
    pub(crate) hour: u64,
    pub(crate) cost: Usd,
    /// How many times the median hour, rounded down.
    pub(crate) times_median: u64,
    /// The agent that spent most in it, and how much.
    pub(crate) top_agent: Option<(String, Usd)>,
    /// The model that cost most in it, and how much.
    pub(crate) top_model: Option<(String, Usd)>,
}

/// The median spend of the hours that had any.
pub(crate) fn median_hour(hours: &BTreeMap<u64, Hour>) -> Usd {
    let mut costs: Vec<Usd> = hours
        .values()
        .map(|hour| hour.cost)
        .filter(|cost| !cost.is_zero())
        .collect();
    if costs.is_empty() {
        return Usd::ZERO;
    }
    costs.sort_unstable();
    let mid = costs.len() / 2;
    if costs.len() % 2 == 1 {
        costs[mid]
    } else {
        let (low, high) = (costs[mid - 1].nanos(), costs[mid].nanos());
        Usd::from_nanos(low / 2 + high / 2 + (low % 2 + high % 2) / 2)
    }
}

/// The hours that cost at least [`SPIKE_FACTOR`] times the median hour and
/// at least [`SPIKE_FLOOR`], in time order.
pub(crate) fn spikes(
    hours: &BTreeMap<u64, Hour>,
    agents: &Breakdown,
    models: &Breakdown,
) -> Vec<Spike> {
    let median = median_hour(hours);
    if median.is_zero() {
        return Vec::new();
    }
    let threshold = Usd::from_nanos(median.nanos().saturating_mul(SPIKE_FACTOR)).max(SPIKE_FLOOR);
    hours
        .iter()
        .filter(|(_, hour)| hour.cost >= threshold)
        .map(|(&index, hour)| Spike {
            hour: index,
            cost: hour.cost,
            times_median: hour.cost.nanos() / median.nanos(),
            top_agent: hour
                .top_agent()
                .map(|(slot, cost)| (agents.name(slot).to_owned(), cost)),
            top_model: hour
                .top_model()
                .map(|(slot, cost)| (models.name(slot).to_owned(), cost)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observe_all(times: &[u64]) -> AgentCadence {
        let mut cadence = Cadence::default();
        for &t in times {
            cadence.observe(Slot::at(0), Duration::from_secs(t));
        }
        cadence.agents.remove(0)
    }

    #[test]
    fn bursts_are_counted_once_and_gaps_run_start_to_start() {
        // Firings at 0, 1800, 3600; each a burst of calls 10 s apart.
        let cadence = observe_all(&[0, 10, 20, 1_800, 1_810, 3_600, 3_605]);
        assert_eq!(cadence.bursts, 3);
        assert_eq!(cadence.gaps, [1_800, 1_800]);
    }

    #[test]
    fn a_late_call_joins_its_burst_and_an_old_one_is_ignored() {
        let cadence = observe_all(&[1_000, 1_020, 1_005, 10, 2_800]);
        assert_eq!(cadence.bursts, 2);
        assert_eq!(cadence.gaps, [1_800]);
    }

    #[test]
    fn a_schedule_is_named_when_most_gaps_are_near_the_median() {
        let jittered = [1_790, 1_800, 1_810, 1_805, 1_795, 1_800, 1_800, 1_802];
        assert_eq!(regular_period(&jittered), Some(1_800));
        // Two of ten far off: still 80%.
        let mut mostly = [1_800; 10];
        mostly[3] = 7_000;
        mostly[7] = 100;
        assert_eq!(regular_period(&mostly), Some(1_800));
        mostly[5] = 5_000;
        assert_eq!(regular_period(&mostly), None, "70% is not a schedule");
        assert_eq!(regular_period(&[1_800; 5]), None, "too few gaps");
        assert_eq!(regular_period(&[45; 20]), None, "faster than a minute");
        let irregular = [100, 400, 900, 2_000, 3_000, 5_000, 9_000, 20_000];
        assert_eq!(regular_period(&irregular), None);
    }

    #[test]
    fn only_the_latest_gaps_are_kept() {
        let mut cadence = AgentCadence::default();
        for gap in 0..GAPS_KEPT as u32 + 2 {
            cadence.push_gap(gap);
        }
        assert_eq!(cadence.gaps.len(), GAPS_KEPT);
        assert_eq!(cadence.gaps[..2], [GAPS_KEPT as u32, GAPS_KEPT as u32 + 1]);
    }

    fn hours(cents: &[u64]) -> BTreeMap<u64, Hour> {
        cents
            .iter()
            .enumerate()
            .map(|(i, &c)| (i as u64, Hour::costing(Usd::from_cents(c))))
            .collect()
    }

    #[test]
    fn the_median_hour_skips_hours_without_spend() {
        assert_eq!(median_hour(&hours(&[0, 10, 30, 20])), Usd::from_cents(20));
        assert_eq!(median_hour(&hours(&[10, 20, 0])), Usd::from_cents(15));
        assert_eq!(median_hour(&hours(&[])), Usd::ZERO);
        assert_eq!(
            median_hour(&hours(&[0, 0])),
            Usd::ZERO,
            "hours that spent nothing have no median"
        );
    }

    #[test]
    fn a_spike_is_five_times_the_median_and_above_the_floor() {
        let none = Breakdown::default();
        let found = spikes(&hours(&[20, 20, 20, 100, 99]), &none, &none);
        assert_eq!(found.iter().map(|s| s.hour).collect::<Vec<_>>(), [3]);
        assert_eq!(found[0].times_median, 5);
        // Fifty times the median, but under a dollar: noise, not a spike.
        assert!(spikes(&hours(&[1, 1, 1, 50]), &none, &none).is_empty());
    }
}
