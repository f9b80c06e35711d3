//! Threshold alerts: a callback when settled use first crosses a share of a
//! limit. Alerts are for people; the limit itself is for machines.

use std::fmt;
use std::sync::Arc;

use crate::budget::exceeded::{Amount, LimitKind};
use crate::budget::overrun::Overrun;

/// Thresholds used when none are configured: half, and four fifths.
pub const DEFAULT_ALERT_PERCENTS: [u8; 2] = [50, 80];

/// Something a person should hear about a budget: settled use of a limit
/// crossed one of its alert thresholds ([`AlertKind::Threshold`]), or a
/// call was billed past what was reserved for it ([`AlertKind::Overrun`]).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use spendguard::{CallPlan, TaskBudget, Usage, Usd};
/// use spendguard::prices::{ModelPrice, Rates};
/// use spendguard::money::PricePerToken;
///
/// let per_m = |d| PricePerToken::per_million(d).unwrap();
/// let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(10.0), per_m(10.0))));
/// let heard = Arc::new(Mutex::new(Vec::new()));
/// let sink = heard.clone();
/// let budget = TaskBudget::builder("report")
///     .max_cost(Usd::from_cents(200))
///     .on_alert(move |alert| sink.lock().unwrap().push(alert.to_string()))
///     .build()?;
///
/// let call = budget.reserve(CallPlan::new(&price, 160_000).with_max_output_tokens(1_000))?;
/// call.settle(&Usage::new(160_000, 1_000));
/// assert_eq!(
///     *heard.lock().unwrap(),
///     [
///         "task report has used 50% of its cost limit: $1.61 of $2.00",
///         "task report has used 80% of its cost limit: $1.61 of $2.00",
///     ]
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Alert {
    /// The budget, e.g. `task report`.
    pub subject: String,
    /// Which limit (the cost limit, for an overrun).
    pub limit: LimitKind,
    /// The threshold crossed, in percent of the limit; for an overrun, the
    /// bill in percent of the reservation (at most 255).
    pub percent: u8,
    /// Settled use when it was crossed; for an overrun, the call's bill.
    pub used: Amount,
    /// The limit; for an overrun, what was reserved for the call.
    pub max: Amount,
    /// What the alert is about.
    pub kind: AlertKind,
}

/// What an [`Alert`] is about.
///
/// An overrun reaches `on_alert` like a threshold, so a webhook or a pager
/// hears both:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use spendguard::budget::AlertKind;
/// use spendguard::money::PricePerToken;
/// use spendguard::prices::{ModelPrice, Rates};
/// use spendguard::{CallPlan, TaskBudget, Usage, Usd};
///
/// let per_m = |d| PricePerToken::per_million(d).unwrap();
/// let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(1.0), per_m(1.0))));
/// let heard = Arc::new(Mutex::new(Vec::new()));
/// let sink = heard.clone();
/// let budget = TaskBudget::builder("triage")
///     .max_cost(Usd::from_dollars(1.0)?)
///     .on_alert(move |alert| sink.lock().unwrap().push(alert.clone()))
///     .build()?;
/// let call = budget.reserve(CallPlan::new(&price, 1_000).with_max_output_tokens(1_000))?;
/// call.settle(&Usage::new(3_000, 1_000)); // the provider counted 3,000 input tokens
///
/// let heard = heard.lock().unwrap();
/// assert!(matches!(&heard[0].kind, AlertKind::Overrun(overrun) if overrun.by() == Usd::from_dollars(0.002)?));
/// assert_eq!(heard[0].percent, 200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertKind {
    /// Settled use of `limit` crossed `percent` of it.
    Threshold,
    /// One call was billed past its reservation (recorded in full).
    Overrun(Overrun),
}

impl Alert {
    /// The alert for an overrun: its bill as `used`, its reservation as
    /// `max`.
    pub(crate) fn overrun(overrun: Overrun) -> Alert {
        let reserved = overrun.reserved.nanos();
        let percent = if reserved == 0 {
            u8::MAX
        } else {
            let share = u128::from(overrun.cost.nanos()) * 100 / u128::from(reserved);
            u8::try_from(share).unwrap_or(u8::MAX)
        };
        Alert {
            subject: overrun.subject.clone(),
            limit: LimitKind::Cost,
            percent,
            used: Amount::Usd(overrun.cost),
            max: Amount::Usd(overrun.reserved),
            kind: AlertKind::Overrun(overrun),
        }
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            AlertKind::Overrun(overrun) => write!(f, "{overrun}"),
            AlertKind::Threshold => write!(
                f,
                "{} has used {}% of its {}: {} of {}",
                self.subject, self.percent, self.limit, self.used, self.max
            ),
        }
    }
}

/// A user callback for alerts; it runs on the thread that settled the call,
/// so it should be quick (send on a channel, log, bump a metric).
pub type AlertCallback = Arc<dyn Fn(&Alert) + Send + Sync>;

/// Thresholds and the callback they fire.
#[derive(Clone)]
pub(crate) struct AlertRule {
    /// Sorted, distinct, each in 1..=99.
    pub(crate) percents: Vec<u8>,
    pub(crate) callback: Option<AlertCallback>,
}

impl fmt::Debug for AlertRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertRule")
            .field("percents", &self.percents)
            .field("callback", &self.callback.as_ref().map(|_| "Fn(&Alert)"))
            .finish()
    }
}

impl Default for AlertRule {
    fn default() -> Self {
        AlertRule {
            percents: DEFAULT_ALERT_PERCENTS.to_vec(),
            callback: None,
        }
    }
}

impl AlertRule {
    /// Whether anyone hears alerts: a callback, or `tracing` when that
    /// feature is on.
    pub(crate) fn listening(&self) -> bool {
        self.callback.is_some() || cfg!(feature = "tracing")
    }

    /// Sends an alert to the callback and, with feature `tracing`, as a
    /// `WARN` event on target `spendguard::alert`.
    pub(crate) fn announce(&self, alert: &Alert) {
        #[cfg(feature = "tracing")]
        tracing::warn!(
            target: "spendguard::alert",
            subject = %alert.subject,
            limit = %alert.limit,
            percent = alert.percent,
            used = %alert.used,
            max = %alert.max,
            "{alert}"
        );
        self.tell(alert);
    }

    /// Announces `overrun`: with feature `tracing` a `WARN` event on target
    /// `spendguard::alert`, then an [`AlertKind::Overrun`] to the callback.
    pub(crate) fn announce_overrun(&self, overrun: &Overrun) {
        #[cfg(feature = "tracing")]
        tracing::warn!(
            target: "spendguard::alert",
            subject = %overrun.subject,
            model = %overrun.model,
            reserved = %overrun.reserved,
            cost = %overrun.cost,
            "{overrun}"
        );
        if self.callback.is_some() {
            self.tell(&Alert::overrun(overrun.clone()));
        }
    }

    /// Sends an alert to the callback only: for an alert already announced
    /// in `tracing` by the budget that raised it.
    pub(crate) fn tell(&self, alert: &Alert) {
        if let Some(callback) = &self.callback {
            callback(alert);
        }
    }

    /// Sorts and de-duplicates the thresholds; `Err` with the first one
    /// outside 1–99% (the 100% mark is the limit itself).
    pub(crate) fn normalise(&mut self) -> Result<(), u8> {
        if let Some(&percent) = self.percents.iter().find(|p| !(1..=99).contains(*p)) {
            return Err(percent);
        }
        self.percents.sort_unstable();
        self.percents.dedup();
        Ok(())
    }

    /// Thresholds that `before / max` was below and `after / max` reaches:
    /// those one settlement crossed.
    pub(crate) fn newly_crossed(
        &self,
        before: u64,
        after: u64,
        max: u64,
    ) -> impl Iterator<Item = u8> + '_ {
        let already = self.crossed(before, max).count();
        self.crossed(after, max)
            .skip(already)
            .map(|(_, percent)| percent)
    }

    /// Indices of thresholds at or below `used / max`.
    pub(crate) fn crossed(&self, used: u64, max: u64) -> impl Iterator<Item = (usize, u8)> + '_ {
        let basis_points = if max == 0 {
            10_000
        } else {
            u128::from(used) * 10_000 / u128::from(max)
        };
        self.percents
            .iter()
            .copied()
            .enumerate()
            .filter(move |&(_, percent)| basis_points >= u128::from(percent) * 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_cross_at_exactly_their_share() {
        let rule = AlertRule::default();
        assert_eq!(rule.crossed(49, 100).count(), 0);
        assert_eq!(rule.crossed(50, 100).collect::<Vec<_>>(), [(0, 50)]);
        assert_eq!(rule.crossed(100, 100).count(), 2);
        assert_eq!(rule.crossed(0, 0).count(), 2);
    }

    #[test]
    fn an_overrun_alert_carries_its_bill_as_a_share_of_the_reservation() {
        let cents = crate::money::Usd::from_cents;
        let alert = Alert::overrun(Overrun::of("task t", "m", cents(2), cents(3)).unwrap());
        assert_eq!(
            (alert.percent, alert.used, alert.max),
            (150, Amount::Usd(cents(3)), Amount::Usd(cents(2)))
        );
        assert_eq!(
            alert.to_string(),
            "task t: a call to m was billed $0.03, $0.01 more than the $0.02 reserved for it \
             (recorded in full)"
        );
        let huge =
            Alert::overrun(Overrun::of("task t", "m", crate::money::Usd::ZERO, cents(1)).unwrap());
        assert_eq!(huge.percent, u8::MAX);
    }

    #[test]
    fn debug_does_not_try_to_print_the_callback() {
        let rule = AlertRule {
            percents: vec![90],
            callback: Some(Arc::new(|_| {})),
        };
        assert!(format!("{rule:?}").contains("Fn(&Alert)"));
    }
}
