//! Configuring a [`TaskBudget`]: its limits, ceiling, alerts and clock.

use std::sync::Arc;
use std::time::Duration;

use crate::budget::alert::{Alert, AlertRule};
use crate::budget::plan::OutputCeiling;
use crate::budget::TaskBudget;
use crate::clock::{Clock, SystemClock};
use crate::money::Usd;
use crate::tags::Tags;

/// A budget configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetConfigError {
    /// An alert threshold outside 1–99 percent.
    #[error(
        "alert threshold {percent}% must be between 1% and 99% (the 100% mark is the limit itself)"
    )]
    AlertThresholdOutOfRange {
        /// The threshold as given.
        percent: u8,
    },
    /// More alert thresholds than a budget tracks.
    #[error("{count} alert thresholds given; a budget tracks at most 32")]
    TooManyAlertThresholds {
        /// How many were given.
        count: usize,
    },
    /// A per-call output ceiling of zero tokens would refuse every call.
    #[error("the per-call output ceiling must be at least 1 token")]
    ZeroOutputCeiling,
    /// The budget has no name to show in refusals.
    #[error("a budget needs a non-empty name so refusals can say which budget refused")]
    EmptyName,
}

/// Builds a [`TaskBudget`]; start with [`TaskBudget::builder`].
///
/// ```
/// use std::time::Duration;
/// use spendguard::{TaskBudget, Usd};
/// use spendguard::budget::OutputCeiling;
///
/// let budget = TaskBudget::builder("nightly-digest")
///     .max_cost(Usd::from_dollars(2.00)?)
///     .max_tokens(2_000_000)
///     .max_calls(200)
///     .max_duration(Duration::from_secs(15 * 60))
///     .output_ceiling(OutputCeiling::clamping(2_048))
///     .alert_at(&[50, 80, 95])
///     .on_alert(|alert| eprintln!("{alert}"))
///     .build()?;
/// assert_eq!(budget.name(), "nightly-digest");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct TaskBudgetBuilder {
    pub(crate) name: String,
    pub(crate) max_cost: Option<Usd>,
    pub(crate) max_tokens: Option<u64>,
    pub(crate) max_calls: Option<u64>,
    pub(crate) max_duration: Option<Duration>,
    pub(crate) ceiling: OutputCeiling,
    pub(crate) alerts: AlertRule,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) tags: Tags,
}

impl TaskBudgetBuilder {
    pub(crate) fn new(name: impl Into<String>) -> Self {
        TaskBudgetBuilder {
            name: name.into(),
            max_cost: None,
            max_tokens: None,
            max_calls: None,
            max_duration: None,
            ceiling: OutputCeiling::DEFAULT,
            alerts: AlertRule::default(),
            clock: Arc::new(SystemClock),
            tags: Tags::new(),
        }
    }

    /// Who the task works for: agent, customer, project, key label. Its
    /// calls carry these tags, so a [`SpendGuard`](crate::guard::SpendGuard)'s
    /// shared limits on them apply; the task tag defaults to the name.
    ///
    /// ```
    /// use spendguard::tags::{TagKind, Tags};
    /// use spendguard::TaskBudget;
    ///
    /// let budget = TaskBudget::builder("digest-42")
    ///     .tags(Tags::new().agent("digest").customer("acme"))
    ///     .build()?;
    /// assert_eq!(budget.tags().get(TagKind::Task), Some("digest-42"));
    /// assert_eq!(budget.tags().get(TagKind::Customer), Some("acme"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// The most the task may spend, reserved calls included.
    pub fn max_cost(mut self, limit: Usd) -> Self {
        self.max_cost = Some(limit);
        self
    }

    /// The most tokens (input and output, all kinds) the task may use.
    pub fn max_tokens(mut self, limit: u64) -> Self {
        self.max_tokens = Some(limit);
        self
    }

    /// The most calls the task may make: often the cheapest way to catch a
    /// loop.
    pub fn max_calls(mut self, limit: u64) -> Self {
        self.max_calls = Some(limit);
        self
    }

    /// How long after the budget is built it stops allowing calls.
    pub fn max_duration(mut self, limit: Duration) -> Self {
        self.max_duration = Some(limit);
        self
    }

    /// The per-call output ceiling (default: clamp to 4,096 tokens).
    pub fn output_ceiling(mut self, ceiling: OutputCeiling) -> Self {
        self.ceiling = ceiling;
        self
    }

    /// Alert thresholds in percent of each limit (default 50 and 80).
    /// An empty list turns alerts off.
    pub fn alert_at(mut self, percents: &[u8]) -> Self {
        self.alerts.percents = percents.to_vec();
        self
    }

    /// The callback alerts go to.
    pub fn on_alert(mut self, callback: impl Fn(&Alert) + Send + Sync + 'static) -> Self {
        self.alerts.callback = Some(Arc::new(callback));
        self
    }

    /// The clock the time limit is measured by (tests use a fake one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the budget; its time limit starts
    /// now.
    ///
    /// # Errors
    /// [`BudgetConfigError`] for an empty name, a zero output ceiling, or
    /// alert thresholds outside 1–99 or more than 32 of them.
    pub fn build(mut self) -> Result<TaskBudget, BudgetConfigError> {
        if self.name.trim().is_empty() {
            return Err(BudgetConfigError::EmptyName);
        }
        if self.ceiling.max_tokens() == 0 {
            return Err(BudgetConfigError::ZeroOutputCeiling);
        }
        self.alerts
            .normalise()
            .map_err(|percent| BudgetConfigError::AlertThresholdOutOfRange { percent })?;
        if self.alerts.percents.len() > 32 {
            return Err(BudgetConfigError::TooManyAlertThresholds {
                count: self.alerts.percents.len(),
            });
        }
        Ok(TaskBudget::from_builder(self))
    }
}
