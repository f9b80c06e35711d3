//! [`SpendGuard`]: limits that scale past one task and one process.
//!
//! A [`TaskBudget`](crate::TaskBudget) guards one task. A `SpendGuard`
//! guards everything that shares it: dollar caps per API key, agent,
//! customer, project or task, or on everything, each over a UTC day, a UTC
//! month, a rolling period or all time ([`SharedLimit`]), kept in a
//! [`SpendStore`] that may be this process's memory, a file shared by the
//! processes of a host, or Redis shared by a fleet. It also holds the kill
//! switch ([`KillSwitch`], and a store-wide [`Halt`]) and threshold alerts.
//!
//! Each call reserves its worst case against every limit that applies to
//! its [`Tags`], all or none, and settles its actual cost afterwards;
//! [`GuardedClient`](crate::GuardedClient) does both when built with
//! [`guard`](crate::client::GuardedClientBuilder::guard).
//!
//! ```
//! use spendguard::guard::{SharedLimit, SpendGuard, Window};
//! use spendguard::tags::{TagKind, Tags};
//! use spendguard::Usd;
//! use spendguard::guard::GuardError;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = SpendGuard::builder()
//!     .limit(SharedLimit::each(TagKind::Agent, Usd::from_cents(100), Window::Day))
//!     .build()?;
//! let tags = Tags::new().agent("heartbeat");
//!
//! let call = guard.reserve(&tags, Usd::from_cents(60)).await?;
//! call.settle(Usd::from_cents(55)).await?;
//! let refused = guard.reserve(&tags, Usd::from_cents(60)).await.unwrap_err();
//! assert!(refused.to_string().starts_with("agent heartbeat on "));
//! // Other agents have their own cap.
//! guard.reserve(&Tags::new().agent("researcher"), Usd::from_cents(60)).await?.release().await?;
//! # Ok(())
//! # }
//! ```

mod counter_key;
mod degrade;
mod error;
mod hold;
mod lease_terms;
mod limit;
pub mod runaway;
mod window;

use std::sync::Arc;
use std::time::Duration;

pub use counter_key::CounterKey;
pub use degrade::{Degrade, Degraded};
pub use error::{GuardConfigError, GuardError};
#[cfg(feature = "client")]
pub(crate) use hold::LeaseRenewer;
pub use hold::SharedHold;
pub use lease_terms::DEFAULT_LEASE;
pub use limit::{LimitTarget, SharedLimit};
pub use window::{Window, ROLLING_SLOTS};

use crate::budget::alert::{Alert, AlertRule};
use crate::budget::{Amount, BudgetExceeded, LimitKind};
use crate::clock::{Clock, SystemClock};
use crate::halt::{Halt, KillSwitch};
use crate::money::Usd;
use crate::store::{Claim, Lease, MemoryStore, Reserved, SpendStore, StoreError, WindowUsage};
use crate::tags::{TagKind, Tags};
use lease_terms::LeaseTerms;
use runaway::{RequestFingerprint, RunawayAction, RunawayPolicy};

/// Shared limits, their store, the kill switch and alerts. Cheap to clone;
/// clones share everything.
#[derive(Debug, Clone)]
pub struct SpendGuard {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn SpendStore>,
    clock: Arc<dyn Clock>,
    limits: Vec<SharedLimit>,
    alerts: AlertRule,
    kill_switch: KillSwitch,
    degrade: Option<Degrade>,
    runaway: Option<Runaway>,
    lease: LeaseTerms,
}

/// Runaway detection and the tags whose values are its scopes.
#[derive(Debug, Clone)]
struct Runaway {
    policy: RunawayPolicy,
    scopes: Vec<TagKind>,
}

/// The tags runaway detection watches unless told otherwise: a loop or a
/// burst is an agent's or a task's, not a whole key's or customer's, whose
/// callers may well send the same request independently.
pub const DEFAULT_RUNAWAY_SCOPES: [TagKind; 2] = [TagKind::Agent, TagKind::Task];

/// Builds a [`SpendGuard`]; start with [`SpendGuard::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct SpendGuardBuilder {
    store: Option<Arc<dyn SpendStore>>,
    clock: Arc<dyn Clock>,
    limits: Vec<SharedLimit>,
    alerts: AlertRule,
    kill_switch: KillSwitch,
    degrade: Option<Degrade>,
    runaway: Option<Runaway>,
    lease: LeaseTerms,
}

impl SpendGuardBuilder {
    /// Where counters live (default: a new [`MemoryStore`]).
    pub fn store(mut self, store: impl SpendStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// A store shared with other guards or code.
    pub fn shared_store(mut self, store: Arc<dyn SpendStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Adds a limit. A call reserves against every limit that applies to
    /// its tags.
    pub fn limit(mut self, limit: SharedLimit) -> Self {
        self.limits.push(limit);
        self
    }

    /// The clock windows are measured by (tests use a fake one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Alert thresholds in percent of each limit (default 50 and 80);
    /// each fires once per window. An empty list turns alerts off.
    pub fn alert_at(mut self, percents: &[u8]) -> Self {
        self.alerts.percents = percents.to_vec();
        self
    }

    /// The callback alerts go to.
    pub fn on_alert(mut self, callback: impl Fn(&Alert) + Send + Sync + 'static) -> Self {
        self.alerts.callback = Some(Arc::new(callback));
        self
    }

    /// Shares a kill switch with other guards (default: a new one).
    pub fn kill_switch(mut self, switch: KillSwitch) -> Self {
        self.kill_switch = switch;
        self
    }

    /// Routes calls to cheaper models when a limit runs low (opt-in); see
    /// [`Degrade`].
    pub fn degrade(mut self, degrade: Degrade) -> Self {
        self.degrade = Some(degrade);
        self
    }

    /// Runaway detection before every reservation, per agent and per task
    /// ([`DEFAULT_RUNAWAY_SCOPES`]); see [`runaway`]. A detector whose
    /// action is [`Halt`](RunawayAction::Halt) trips this guard's kill switch.
    pub fn runaway(self, policy: RunawayPolicy) -> Self {
        self.runaway_per(policy, &DEFAULT_RUNAWAY_SCOPES)
    }

    /// Runaway detection with scopes of your choosing, e.g. per agent and
    /// per key: each tag of a call among `scopes` is watched separately.
    pub fn runaway_per(mut self, policy: RunawayPolicy, scopes: &[TagKind]) -> Self {
        self.runaway = Some(Runaway {
            policy,
            scopes: scopes.to_vec(),
        });
        self
    }

    /// How long each hold is leased for (default [`DEFAULT_LEASE`], 15
    /// minutes): the longest a call may run between
    /// [`renew`](SharedHold::renew)s before its hold counts as orphaned,
    /// billed at its worst case. Make it your call deadline plus a margin;
    /// a dead worker's holds count as held for at most this long.
    pub fn lease(mut self, length: Duration) -> Self {
        self.lease.length = length;
        self
    }

    /// The label this guard's holds carry, shown by `spendguard status`
    /// beside an orphaned hold (default `host/pid`). Name a process or a
    /// key, never a secret.
    pub fn holder(mut self, label: impl Into<String>) -> Self {
        self.lease.holder = Arc::from(label.into());
        self
    }

    /// Checks the configuration and builds the guard.
    ///
    /// # Errors
    /// [`GuardConfigError`] for a rolling window under a second, an empty
    /// tag value, or an alert threshold outside 1–99%.
    pub fn build(mut self) -> Result<SpendGuard, GuardConfigError> {
        for limit in &self.limits {
            limit.validate()?;
        }
        self.alerts
            .normalise()
            .map_err(|percent| GuardConfigError::AlertThresholdOutOfRange { percent })?;
        if let Some(degrade) = &self.degrade {
            degrade.validate()?;
        }
        Ok(SpendGuard {
            inner: Arc::new(Inner {
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                clock: self.clock,
                limits: self.limits,
                alerts: self.alerts,
                kill_switch: self.kill_switch,
                degrade: self.degrade,
                runaway: self.runaway,
                lease: self.lease,
            }),
        })
    }
}

/// How much of one limit a subject has used, from [`SpendGuard::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitStatus {
    /// The limit.
    pub limit: SharedLimit,
    /// Who and which period, e.g. `agent researcher on 2026-11-25 (UTC)`.
    pub subject: String,
    /// Spent and held in the current window.
    pub usage: WindowUsage,
}

/// The runaway scope keys of a call: `agent=researcher`, `task=digest-42`.
fn runaway_keys(runaway: &Runaway, tags: &Tags) -> Vec<String> {
    runaway
        .scopes
        .iter()
        .filter_map(|kind| tags.get(*kind).map(|value| format!("{kind}={value}")))
        .collect()
}

impl SpendGuard {
    /// Starts configuring a guard: memory store, no limits, system clock,
    /// alerts at 50% and 80%.
    pub fn builder() -> SpendGuardBuilder {
        SpendGuardBuilder {
            store: None,
            clock: Arc::new(SystemClock),
            limits: Vec::new(),
            alerts: AlertRule::default(),
            kill_switch: KillSwitch::new(),
            degrade: None,
            runaway: None,
            lease: LeaseTerms::default(),
        }
    }

    /// Checks the kill switch, runaway detection (all but loops, which need
    /// the request: see [`reserve_request`](SpendGuard::reserve_request))
    /// and the store's halt, then reserves `worst_case` against every limit
    /// that applies to `tags`, all or none.
    ///
    /// # Errors
    /// [`GuardError::Halted`] while halted, [`GuardError::Runaway`] from a
    /// runaway detector, [`GuardError::Exceeded`] naming the first limit
    /// that would be crossed, [`GuardError::Store`] when the store cannot
    /// answer. Nothing is held on error.
    pub async fn reserve(&self, tags: &Tags, worst_case: Usd) -> Result<SharedHold, GuardError> {
        self.reserve_request(tags, None, worst_case).await
    }

    /// [`reserve`](SpendGuard::reserve) for a request whose fingerprint is
    /// known, so that repeating it is caught as a loop.
    ///
    /// # Errors
    /// As [`reserve`](SpendGuard::reserve).
    pub async fn reserve_request(
        &self,
        tags: &Tags,
        request: Option<RequestFingerprint>,
        worst_case: Usd,
    ) -> Result<SharedHold, GuardError> {
        self.admit(tags, request, worst_case)?;
        self.hold(tags, worst_case).await
    }

    /// The checks before the store: the kill switch, then runaway
    /// detection, which counts the call if it lets it through. Run once
    /// per call, before [`hold`](Self::hold) or
    /// [`hold_far_from_limits`](Self::hold_far_from_limits).
    pub(crate) fn admit(
        &self,
        tags: &Tags,
        request: Option<RequestFingerprint>,
        worst_case: Usd,
    ) -> Result<(), GuardError> {
        self.inner.kill_switch.check()?;
        self.check_runaway(tags, request, worst_case, self.inner.clock.now())
    }

    /// Checks the store's halt and holds `worst_case` in every limit that
    /// applies to `tags`, all or none, for a call [`admit`](Self::admit)
    /// let through.
    pub(crate) async fn hold(
        &self,
        tags: &Tags,
        worst_case: Usd,
    ) -> Result<SharedHold, GuardError> {
        let now = self.inner.clock.now();
        let (limits, claims) = self.claims(tags, worst_case, now);
        let lease = self.inner.lease.lease_at(now);
        match self.inner.store.reserve(&claims, &lease, now).await? {
            Reserved::Granted { ticket, .. } => {
                Ok(self.held(tags, limits, claims, worst_case, ticket, lease))
            }
            // Only a claim asking for room can be near; from a store that
            // says so anyway, the conservative answer is a refusal.
            Reserved::Refused { claim, usage } | Reserved::NearLimit { claim, usage } => {
                Err(self.exceeded(tags, limits[claim], usage, worst_case, now))
            }
            Reserved::Halted(halt) => Err(GuardError::Halted(halt)),
        }
    }

    /// [`hold`](Self::hold) for an `upper_bound` of the call's worst case
    /// (its prompt at its [`TokenBound`](crate::tokens::TokenBound)): held
    /// only while as much again would still fit in every limit
    /// ([`Claim::far_from_limit`]), decided by the store in the same round
    /// trip. `Ok(None)` when it would not, or does not fit at all: nothing
    /// is held, recorded or announced, and the caller holds the exact worst
    /// case instead, which decides. A halt is the answer either way.
    pub(crate) async fn hold_far_from_limits(
        &self,
        tags: &Tags,
        upper_bound: Usd,
    ) -> Result<Option<SharedHold>, GuardError> {
        let now = self.inner.clock.now();
        let (limits, claims) = self.claims(tags, upper_bound, now);
        let claims: Vec<Claim> = claims.into_iter().map(Claim::far_from_limit).collect();
        let lease = self.inner.lease.lease_at(now);
        match self.inner.store.reserve(&claims, &lease, now).await? {
            Reserved::Granted { ticket, .. } => Ok(Some(self.held(
                tags,
                limits,
                claims,
                upper_bound,
                ticket,
                lease,
            ))),
            Reserved::Refused { .. } | Reserved::NearLimit { .. } => Ok(None),
            Reserved::Halted(halt) => Err(GuardError::Halted(halt)),
        }
    }

    /// The index of each limit that applies to `tags`, and its claim of
    /// `amount` on its window at `now`.
    fn claims(&self, tags: &Tags, amount: Usd, now: Duration) -> (Vec<usize>, Vec<Claim>) {
        let mut limits = Vec::with_capacity(self.inner.limits.len());
        let mut claims = Vec::with_capacity(self.inner.limits.len());
        for (index, limit) in self.inner.limits.iter().enumerate() {
            if let Some(value) = limit.applies_to(tags) {
                limits.push(index);
                claims.push(Claim::new(limit.window_at(value, now), limit.max(), amount));
            }
        }
        (limits, claims)
    }

    /// The hold of a granted reservation.
    fn held(
        &self,
        tags: &Tags,
        limits: Vec<usize>,
        claims: Vec<Claim>,
        amount: Usd,
        ticket: u64,
        lease: Lease,
    ) -> SharedHold {
        let windows = limits
            .into_iter()
            .zip(claims.into_iter().map(|c| c.window))
            .collect();
        SharedHold::new(self.clone(), tags.clone(), windows, amount, ticket, lease)
    }

    /// The refusal by limit number `index`, whose window holds `usage`.
    fn exceeded(
        &self,
        tags: &Tags,
        index: usize,
        usage: WindowUsage,
        requested: Usd,
        now: Duration,
    ) -> GuardError {
        let limit = &self.inner.limits[index];
        let value = limit.applies_to(tags).unwrap_or_default();
        GuardError::Exceeded(BudgetExceeded {
            subject: limit.subject_at(value, now),
            limit: LimitKind::Cost,
            max: Amount::Usd(limit.max()),
            spent: Amount::Usd(usage.spent),
            in_flight: Amount::Usd(usage.held),
            requested: Amount::Usd(requested),
        })
    }

    fn check_runaway(
        &self,
        tags: &Tags,
        request: Option<RequestFingerprint>,
        worst_case: Usd,
        now: Duration,
    ) -> Result<(), GuardError> {
        let Some(runaway) = &self.inner.runaway else {
            return Ok(());
        };
        let keys = runaway_keys(runaway, tags);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let Err(detected) = runaway.policy.check(&keys, request, worst_case, now) else {
            return Ok(());
        };
        if detected.action == RunawayAction::Halt {
            self.inner.kill_switch.trip_with(Halt::at(
                "spendguard runaway detection",
                detected.to_string(),
                now,
            ));
        }
        Err(GuardError::Runaway(detected))
    }

    /// Whether runaway detection is on, so a caller knows to fingerprint
    /// requests for [`reserve_request`](SpendGuard::reserve_request).
    pub fn detects_runaways(&self) -> bool {
        self.inner.runaway.is_some()
    }

    /// Whether runaway detection weighs the worst case of a call for
    /// `tags` (a [`spend_per`](runaway::RunawayPolicyBuilder::spend_per)
    /// limit, and a scope it watches among `tags`), so the worst case it is
    /// given must be the one the call is decided by.
    pub(crate) fn weighs_worst_case(&self, tags: &Tags) -> bool {
        self.inner.runaway.as_ref().is_some_and(|runaway| {
            runaway.policy.limits_spend()
                && runaway.scopes.iter().any(|kind| tags.get(*kind).is_some())
        })
    }

    /// Tells runaway detection's circuit breaker how a call for `tags`
    /// ended: `None` for an answer, or the HTTP status of a failure (402,
    /// 429 and 5xx count towards opening the circuit).
    pub fn record_outcome(&self, tags: &Tags, status: Option<u16>) {
        if let Some(runaway) = &self.inner.runaway {
            let keys = runaway_keys(runaway, tags);
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            runaway
                .policy
                .record_outcome(&keys, status, self.inner.clock.now());
        }
    }

    /// Tells runaway detection's circuit breaker that a call for `tags`
    /// was answered and then broke (a stream that disconnected or ended
    /// early): a failure, as a 5xx would have been.
    pub fn record_broken_answer(&self, tags: &Tags) {
        if let Some(runaway) = &self.inner.runaway {
            let keys = runaway_keys(runaway, tags);
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            runaway
                .policy
                .record_broken_answer(&keys, self.inner.clock.now());
        }
    }

    /// The in-process kill switch: tripping it refuses every call through
    /// this guard (and its clones) and stops streams in flight.
    pub fn kill_switch(&self) -> &KillSwitch {
        &self.inner.kill_switch
    }

    /// Halts every process sharing the store: a memory store halts this
    /// process; a file store writes its halt file (every process on the
    /// host); a Redis store sets its halt key (the fleet).
    ///
    /// # Errors
    /// [`StoreError`] if the halt could not be recorded.
    pub async fn halt(
        &self,
        by: impl Into<String>,
        reason: impl Into<String>,
    ) -> Result<Halt, StoreError> {
        let halt = Halt::at(by, reason, self.inner.clock.now());
        self.inner.store.halt(&halt).await?;
        Ok(halt)
    }

    /// Lifts both the in-process switch and the store's halt; returns the
    /// halt lifted, if any.
    ///
    /// # Errors
    /// [`StoreError`] if the store's halt could not be lifted.
    pub async fn resume(&self) -> Result<Option<Halt>, StoreError> {
        let local = self.inner.kill_switch.resume();
        Ok(self.inner.store.resume().await?.or(local))
    }

    /// The halt in force, if any, without waiting on the network: the
    /// in-process switch, then the store's halt as last seen.
    pub fn halted_now(&self) -> Option<Halt> {
        self.inner
            .kill_switch
            .check()
            .err()
            .or_else(|| self.inner.store.halted_now())
    }

    /// What each limit that applies to `tags` has used in its current window.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot answer.
    pub async fn status(&self, tags: &Tags) -> Result<Vec<LimitStatus>, StoreError> {
        let now = self.inner.clock.now();
        let applying: Vec<(&SharedLimit, &str)> = self
            .inner
            .limits
            .iter()
            .filter_map(|limit| limit.applies_to(tags).map(|value| (limit, value)))
            .collect();
        let windows: Vec<_> = applying
            .iter()
            .map(|(limit, value)| limit.window_at(value, now))
            .collect();
        let usage = self.inner.store.usage(&windows).await?;
        Ok(applying
            .into_iter()
            .zip(usage)
            .map(|((limit, value), usage)| LimitStatus {
                limit: limit.clone(),
                subject: limit.subject_at(value, now),
                usage,
            })
            .collect())
    }

    /// The cheaper model to send a call for `model` to, if the guard
    /// degrades, `model` has a route, and a limit that applies to `tags` has
    /// less than the threshold left (spent and held both count).
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot answer.
    pub async fn degrade(&self, tags: &Tags, model: &str) -> Result<Option<Degraded>, StoreError> {
        let Some(degrade) = &self.inner.degrade else {
            return Ok(None);
        };
        let Some(cheaper) = degrade.route_for(model) else {
            return Ok(None);
        };
        let threshold = u64::from(degrade.threshold_percent()) * 100;
        for status in self.status(tags).await? {
            let left = status.limit.max().saturating_sub(status.usage.committed());
            let left_bp = left.basis_points_of(status.limit.max());
            if left_bp < threshold {
                return Ok(Some(Degraded {
                    from: model.to_owned(),
                    to: cheaper.to_owned(),
                    reason: format!(
                        "{} has {}% of its {} left",
                        status.subject,
                        left_bp / 100,
                        status.limit.max()
                    ),
                }));
            }
        }
        Ok(None)
    }

    /// The limits, in the order they were added.
    pub fn limits(&self) -> &[SharedLimit] {
        &self.inner.limits
    }

    pub(crate) fn store(&self) -> &Arc<dyn SpendStore> {
        &self.inner.store
    }

    pub(crate) fn now(&self) -> Duration {
        self.inner.clock.now()
    }

    pub(crate) fn limit(&self, index: usize) -> &SharedLimit {
        &self.inner.limits[index]
    }

    pub(crate) fn lease_length(&self) -> Duration {
        self.inner.lease.length
    }

    pub(crate) fn alerts(&self) -> &AlertRule {
        &self.inner.alerts
    }
}
