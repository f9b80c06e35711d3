//! [`SharedHold`]: a call's reservation against the shared limits.

use std::fmt;
use std::time::Duration;

use crate::budget::alert::{Alert, AlertKind};
use crate::budget::{Amount, LimitKind};
use crate::guard::SpendGuard;
use crate::money::Usd;
use crate::store::{Lease, Settled, Settlement, StoreError, WindowRef};
use crate::tags::Tags;

/// A call's worst case, held in every shared limit that applies to it.
///
/// [`settle`](SharedHold::settle) it with what the call cost, or
/// [`release`](SharedHold::release) it if the call was never sent. Dropped
/// unsettled (a cancelled future, an early `?`), the call is billed at its
/// worst case: settled in the background when a tokio runtime is running,
/// or else left held, which counts against the limits just the same until
/// its lease runs out and then as spent. Either way no spend goes missing.
///
/// The hold is leased ([`SpendGuardBuilder::lease`](crate::guard::SpendGuardBuilder::lease),
/// 15 minutes by default): a guarded client's stream renews its own while
/// it is alive; any other call that may run longer calls
/// [`renew`](SharedHold::renew) before the lease runs out.
/// A hold whose lease ran out (its worker died) is billed at its worst
/// case and listed by `spendguard status` as orphaned.
#[must_use = "settle the hold with the call's cost, or release it; dropped, it bills the worst case"]
pub struct SharedHold {
    guard: SpendGuard,
    tags: Tags,
    /// Each applying limit's index and the window held in it.
    windows: Vec<(usize, WindowRef)>,
    held: Usd,
    ticket: u64,
    lease: Lease,
    open: bool,
}

impl SharedHold {
    pub(crate) fn new(
        guard: SpendGuard,
        tags: Tags,
        windows: Vec<(usize, WindowRef)>,
        held: Usd,
        ticket: u64,
        lease: Lease,
    ) -> Self {
        SharedHold {
            guard,
            tags,
            windows,
            held,
            ticket,
            lease,
            open: true,
        }
    }

    /// What is held: the call's worst case.
    pub const fn held(&self) -> Usd {
        self.held
    }

    /// The hold's lease: when it runs out unless renewed.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Extends the lease to a full lease length from now, so the hold of a
    /// call still running is not taken for a dead worker's. Returns `false`
    /// if the lease had already run out: the hold has been billed at its
    /// worst case (settling it still adds any cost above that).
    ///
    /// ```
    /// use std::time::Duration;
    /// use spendguard::guard::SpendGuard;
    /// use spendguard::tags::Tags;
    /// use spendguard::Usd;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let guard = SpendGuard::builder().lease(Duration::from_secs(120)).build()?;
    /// let mut call = guard.reserve(&Tags::new(), Usd::from_cents(60)).await?;
    /// assert!(call.renew().await?);
    /// call.settle(Usd::from_cents(45)).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`StoreError`] if the store could not record it; the old lease then
    /// stands.
    pub async fn renew(&mut self) -> Result<bool, StoreError> {
        let windows: Vec<WindowRef> = self.windows.iter().map(|(_, w)| w.clone()).collect();
        let (renewed, live) = renew(&self.guard, &windows, &self.lease).await?;
        self.lease = renewed;
        Ok(live)
    }

    /// What renewing this hold's lease needs, apart from the hold, for a
    /// timer beside the call to renew it (a stream's, while its bytes
    /// flow); `None` if no shared limit applied, so there is nothing to
    /// renew.
    #[cfg(feature = "client")]
    pub(crate) fn renewer(&self) -> Option<LeaseRenewer> {
        (!self.windows.is_empty()).then(|| LeaseRenewer {
            guard: self.guard.clone(),
            windows: self.windows.iter().map(|(_, w)| w.clone()).collect(),
            lease: self.lease.clone(),
        })
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
            .map(|(_, window)| {
                Settlement::new(window.clone(), self.held, cost, self.ticket, self.lease.id)
            })
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
                    kind: AlertKind::Threshold,
                });
            }
        }
    }
}

/// A hold's lease, renewed apart from the hold (see
/// [`SharedHold::renewer`]). The hold keeps its lease as it was taken; the
/// id, which is what settling it needs, never changes.
#[cfg(feature = "client")]
pub(crate) struct LeaseRenewer {
    guard: SpendGuard,
    windows: Vec<WindowRef>,
    lease: Lease,
}

#[cfg(feature = "client")]
impl LeaseRenewer {
    /// How long a lease runs: renew well within it.
    pub(crate) fn lease_length(&self) -> Duration {
        self.guard.lease_length()
    }

    /// As [`SharedHold::renew`].
    pub(crate) async fn renew(&mut self) -> Result<bool, StoreError> {
        let (renewed, live) = renew(&self.guard, &self.windows, &self.lease).await?;
        self.lease = renewed;
        Ok(live)
    }
}

/// Records `lease` renewed to a full length from now in each of
/// `windows`: the new lease, and whether the old one was still live.
async fn renew(
    guard: &SpendGuard,
    windows: &[WindowRef],
    lease: &Lease,
) -> Result<(Lease, bool), StoreError> {
    let now = guard.now();
    let renewed = lease.renewed(now.saturating_add(guard.lease_length()));
    if windows.is_empty() {
        return Ok((renewed, true));
    }
    let live = guard.store().renew(windows, &renewed, now).await?;
    Ok((renewed, live))
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
            .field("lease", &self.lease)
            .field("open", &self.open)
            .finish()
    }
}
