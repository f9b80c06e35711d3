//! [`SharedHold`]: a call's reservation against the shared limits.

use std::fmt;
use std::time::Duration;

use crate::budget::alert::Alert;
use crate::budget::{Amount, LimitKind};
use crate::guard::SpendGuard;
use crate::money::Usd;
use crate::store::{Settled, Settlement, StoreError, WindowRef};
use crate::tags::Tags;

/// A call's worst case, held in every shared limit that applies to it.
///
/// [`settle`](SharedHold::settle) it with what the call cost, or
/// [`release`](SharedHold::release) it if the call was never sent. Dropped
/// unsettled (a cancelled future, an early `?`), the call is billed at its
/// worst case: settled in the background when a tokio runtime is running,
/// or else left held, which counts against the limits just the same until
/// the window ends. Either way no spend goes missing.
#[must_use = "settle the hold with the call's cost, or release it; dropped, it bills the worst case"]
pub struct SharedHold {
    guard: SpendGuard,
    tags: Tags,
    /// Each applying limit's index and the window held in it.
    windows: Vec<(usize, WindowRef)>,
    held: Usd,
    ticket: u64,
    open: bool,
}

impl SharedHold {
    pub(crate) fn new(
        guard: SpendGuard,
        tags: Tags,
        windows: Vec<(usize, WindowRef)>,
        held: Usd,
        ticket: u64,
    ) -> Self {
        SharedHold {
            guard,
            tags,
            windows,
            held,
            ticket,
            open: true,
        }
    }

    /// What is held: the call's worst case.
    pub const fn held(&self) -> Usd {
        self.held
    }

    /// How many shared limits applied to the call.
    pub fn limits_held(&self) -> usize {
        self.windows.len()
    }

    /// Records the call's actual cost (even above what was held) and fires
    /// any alert threshold it crossed.
    ///
    /// # Errors
    /// [`StoreError`] if the store could not record it; the worst case then
    /// stays held, so the limits still count it.
    pub async fn settle(mut self, cost: Usd) -> Result<(), StoreError> {
        self.open = false;
        self.account(cost).await
    }

    /// Gives the hold back: the call was never sent, or the provider
    /// refused it without billing.
    ///
    /// # Errors
    /// [`StoreError`] if the store could not record it; the worst case then
    /// stays held until the window ends.
    pub async fn release(mut self) -> Result<(), StoreError> {
        self.open = false;
        self.account(Usd::ZERO).await
    }

    async fn account(&self, cost: Usd) -> Result<(), StoreError> {
        if self.windows.is_empty() {
            return Ok(());
        }
        let settlements = self.settlements(cost);
        let now = self.guard.now();
        let settled = self.guard.store().settle(&settlements, now).await?;
        self.fire_alerts(&settled, now);
        Ok(())
    }

    fn settlements(&self, cost: Usd) -> Vec<Settlement> {
        self.windows
            .iter()
            .map(|(_, window)| Settlement::new(window.clone(), self.held, cost, self.ticket))
            .collect()
    }

    fn fire_alerts(&self, settled: &[Settled], now: Duration) {
        let rule = self.guard.alerts();
        if !rule.listening() {
            return;
        }
        for ((index, _), s) in self.windows.iter().zip(settled) {
            let limit = self.guard.limit(*index);
            let max = limit.max().nanos();
            for percent in rule.newly_crossed(s.before.nanos(), s.after.nanos(), max) {
                let value = limit.applies_to(&self.tags).unwrap_or_default();
                rule.announce(&Alert {
                    subject: limit.subject_at(value, now),
                    limit: LimitKind::Cost,
                    percent,
                    used: Amount::Usd(s.after),
                    max: Amount::Usd(limit.max()),
                });
            }
        }
    }
}

impl Drop for SharedHold {
    fn drop(&mut self) {
        if !self.open || self.windows.is_empty() {
            return;
        }
        bill_worst_case_in_background(self);
    }
}

#[cfg(any(feature = "client", feature = "redis"))]
fn bill_worst_case_in_background(hold: &SharedHold) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let store = std::sync::Arc::clone(hold.guard.store());
        let settlements = hold.settlements(hold.held);
        let now = hold.guard.now();
        runtime.spawn(async move {
            // A failure leaves the worst case held, which counts the same.
            let _ = store.settle(&settlements, now).await;
        });
    }
}

#[cfg(not(any(feature = "client", feature = "redis")))]
fn bill_worst_case_in_background(_hold: &SharedHold) {
    // Without a runtime to settle on, the worst case stays held, which the
    // limits count until the window ends.
}

impl fmt::Debug for SharedHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedHold")
            .field("tags", &self.tags)
            .field("held", &self.held)
            .field("limits", &self.windows.len())
            .field("open", &self.open)
            .finish()
    }
}
