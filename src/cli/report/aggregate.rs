//! The running totals of a report, added to one record at a time: overall,
//! per model, agent, key and customer, per hour, and the calls that were
//! not simply allowed. Memory is bounded by the number of distinct names
//! and hours, never by the number of records.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::cli::report::breakdown::{Breakdown, Hour, Slot, Totals, UNTAGGED};
use crate::cli::report::deploys::ReleasesSeen;
use crate::cli::report::drift::DriftByModel;
use crate::cli::report::growth::ContextByDay;
use crate::cli::report::patterns::Cadence;
use crate::ledger::{Decision, LedgerRecord};
use crate::money::Usd;

/// Distinct incident groups kept; later ones are only counted.
const MAX_INCIDENT_GROUPS: usize = 1_000;

/// Calls that were not simply allowed, grouped by decision, agent, limit
/// and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Incident {
    pub(crate) decision: Decision,
    pub(crate) agent: String,
    pub(crate) limit: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) count: u64,
    pub(crate) cost: Usd,
    pub(crate) first: Duration,
    pub(crate) last: Duration,
}

type IncidentKey = (Decision, String, Option<String>, Option<String>);

/// Everything a report needs, accumulated record by record.
#[derive(Debug, Default)]
pub(crate) struct Aggregate {
    pub(crate) total: Totals,
    /// Calls per decision, in [`Decision::ALL`] order.
    pub(crate) decisions: [u64; Decision::ALL.len()],
    pub(crate) first: Option<Duration>,
    pub(crate) last: Option<Duration>,
    pub(crate) by_model: Breakdown,
    pub(crate) by_agent: Breakdown,
    pub(crate) by_key: Breakdown,
    pub(crate) by_customer: Breakdown,
    /// By hours since the epoch.
    pub(crate) hours: BTreeMap<u64, Hour>,
    incident_index: HashMap<IncidentKey, usize>,
    pub(crate) incidents: Vec<Incident>,
    /// Incidents beyond [`MAX_INCIDENT_GROUPS`] groups: counted only.
    pub(crate) ungrouped_incidents: u64,
    pub(crate) cadence: Cadence,
    /// Calls the ledger marked with price drift, by model.
    pub(crate) drift: DriftByModel,
    /// The first call of each `release` tag.
    pub(crate) releases: ReleasesSeen,
    /// Prompt tokens per agent per day.
    pub(crate) context: ContextByDay,
}

impl Aggregate {
    /// Adds one record.
    pub(crate) fn add(&mut self, record: &LedgerRecord) {
        let at = record.ts.unix();
        self.first = Some(self.first.map_or(at, |first| first.min(at)));
        self.last = Some(self.last.map_or(at, |last| last.max(at)));
        self.total.add(record);
        let decision = Decision::ALL
            .iter()
            .position(|d| *d == record.decision)
            .unwrap_or_default();
        self.decisions[decision] += 1;

        let tags = &record.tags;
        let model = self.by_model.add(&record.model, record);
        let agent = self
            .by_agent
            .add(tags.agent.as_deref().unwrap_or(UNTAGGED), record);
        self.by_key
            .add(tags.key.as_deref().unwrap_or(UNTAGGED), record);
        self.by_customer
            .add(tags.customer.as_deref().unwrap_or(UNTAGGED), record);

        let hour = self.hours.entry(at.as_secs() / 3_600).or_default();
        hour.add(agent, model, record.cost);

        if tags.agent.is_some() && agent != Slot::OTHER {
            self.cadence.observe(agent, at);
            self.context.add(agent, record);
        }
        self.releases.add(record);
        if record.decision != Decision::Allowed {
            self.add_incident(record, at);
        }
        self.drift.add(record);
    }

    fn add_incident(&mut self, record: &LedgerRecord, at: Duration) {
        let key = (
            record.decision,
            record.tags.agent.clone().unwrap_or_else(|| UNTAGGED.into()),
            record.limit.clone(),
            record.reason.clone(),
        );
        let index = match self.incident_index.get(&key) {
            Some(&index) => index,
            None if self.incidents.len() < MAX_INCIDENT_GROUPS => {
                let (decision, agent, limit, reason) = key.clone();
                self.incidents.push(Incident {
                    decision,
                    agent,
                    limit,
                    reason,
                    count: 0,
                    cost: Usd::ZERO,
                    first: at,
                    last: at,
                });
                self.incident_index.insert(key, self.incidents.len() - 1);
                self.incidents.len() - 1
            }
            None => {
                self.ungrouped_incidents += 1;
                return;
            }
        };
        let incident = &mut self.incidents[index];
        incident.count += 1;
        incident.cost += record.cost;
        incident.first = incident.first.min(at);
        incident.last = incident.last.max(at);
    }

    /// Calls with `decision`.
    pub(crate) fn calls_with(&self, decision: Decision) -> u64 {
        Decision::ALL
            .iter()
            .position(|d| *d == decision)
            .map_or(0, |i| self.decisions[i])
    }

    /// Incident groups, the most frequent first (then the latest first).
    pub(crate) fn incidents_by_count(&self) -> Vec<&Incident> {
        let mut incidents: Vec<&Incident> = self.incidents.iter().collect();
        incidents.sort_by(|a, b| b.count.cmp(&a.count).then(b.last.cmp(&a.last)));
        incidents
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::report::breakdown::{MAX_NAMES, OTHER};
    use crate::clock::UtcDateTime;
    use crate::ledger::{LedgerCostSource, LedgerTags};

    fn record(secs: u64, agent: &str, model: &str, cents: u64) -> LedgerRecord {
        LedgerRecord::new(
            UtcDateTime::from_unix(Duration::from_secs(secs)),
            "openai",
            model,
            Decision::Allowed,
        )
        .with_tags(LedgerTags::new().with_agent(agent))
        .with_cost(Usd::from_cents(cents), LedgerCostSource::Reported)
    }

    #[test]
    fn totals_add_up_by_every_dimension_and_hour() {
        let mut aggregate = Aggregate::default();
        aggregate.add(&record(3_600, "a", "m1", 10));
        aggregate.add(&record(3_700, "b", "m1", 30));
        aggregate.add(&record(7_300, "a", "m2", 5));
        assert_eq!(aggregate.total.cost, Usd::from_cents(45));
        let agents = aggregate.by_agent.by_cost();
        assert_eq!(
            agents[0],
            (
                "b",
                Totals {
                    cost: Usd::from_cents(30),
                    calls: 1,
                    tokens: 0
                }
            )
        );
        assert_eq!(agents[1].1.cost, Usd::from_cents(15));
        assert_eq!(aggregate.by_key.by_cost()[0].0, UNTAGGED);
        let first_hour = &aggregate.hours[&1];
        assert_eq!(
            (first_hour.cost, first_hour.calls),
            (Usd::from_cents(40), 2)
        );
        let (top, cost) = first_hour.top_agent().unwrap();
        assert_eq!(
            (aggregate.by_agent.name(top), cost),
            ("b", Usd::from_cents(30))
        );
        assert_eq!(aggregate.first, Some(Duration::from_secs(3_600)));
        assert_eq!(aggregate.last, Some(Duration::from_secs(7_300)));
    }

    #[test]
    fn names_beyond_the_cap_are_counted_as_other() {
        let mut breakdown = Breakdown::default();
        let one = record(0, "a", "m", 1);
        for n in 0..MAX_NAMES + 5 {
            breakdown.add(&n.to_string(), &one);
        }
        let rows = breakdown.by_cost();
        assert_eq!(rows.len(), MAX_NAMES + 1);
        assert_eq!(
            rows[MAX_NAMES],
            (
                OTHER,
                Totals {
                    cost: Usd::from_cents(5),
                    calls: 5,
                    tokens: 0
                }
            )
        );
        assert_eq!(
            breakdown.add("0", &one),
            Slot::at(0),
            "known names keep their slot"
        );
    }

    #[test]
    fn incidents_group_by_decision_agent_limit_and_reason() {
        let mut aggregate = Aggregate::default();
        let refused = |secs| {
            let mut r = record(secs, "a", "m", 0).with_limit("agent a: $5.00 per UTC day");
            r.decision = Decision::Refused;
            r
        };
        aggregate.add(&refused(10));
        aggregate.add(&refused(20));
        let mut cut = record(30, "a", "m", 7).with_reason("ran out");
        cut.decision = Decision::CutOff;
        aggregate.add(&cut);
        let incidents = aggregate.incidents_by_count();
        assert_eq!(incidents.len(), 2);
        assert_eq!(incidents[0].count, 2);
        assert_eq!(incidents[0].first, Duration::from_secs(10));
        assert_eq!(incidents[0].last, Duration::from_secs(20));
        assert_eq!(incidents[1].cost, Usd::from_cents(7));
        assert_eq!(aggregate.calls_with(Decision::Refused), 2);
        assert_eq!(aggregate.calls_with(Decision::Allowed), 0);
    }
}
