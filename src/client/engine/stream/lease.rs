//! Keeping a streamed call's shared hold leased while the stream is alive:
//! a timer beside the bytes renews the lease every third of its length, so
//! a stream longer than the lease is never taken for a dead worker's, and
//! stops when the stream ends or is dropped.
//!
//! A renewal that fails (the store unreachable) leaves the old lease
//! standing and is tried again at the next tick; the stream goes on. If
//! the old lease runs out meanwhile, the store bills the hold at its worst
//! case, and settling the stream adds any cost above that: more is
//! counted, never less, so a failed renewal cannot leak spend. A renewal
//! that finds the lease already run out stops renewing, for the same
//! reason. The renewals never wait on the bytes, nor the bytes on them.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::guard::LeaseRenewer;

/// The shortest time between two renewals, for a lease shorter than three
/// milliseconds.
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// The renewing timer of one stream's lease; dropped, it stops.
pub(super) struct LeaseKeeper {
    task: Option<JoinHandle<()>>,
}

impl LeaseKeeper {
    /// Starts renewing with `renewer`, on the tokio runtime this runs in.
    /// Without a hold to renew or outside a runtime, it does nothing, and
    /// the lease runs its length.
    pub(super) fn start(renewer: Option<LeaseRenewer>) -> Self {
        let task = match (renewer, tokio::runtime::Handle::try_current()) {
            (Some(renewer), Ok(runtime)) => Some(runtime.spawn(keep(renewer))),
            _ => None,
        };
        LeaseKeeper { task }
    }

    /// A keeper that renews nothing.
    pub(super) const fn none() -> Self {
        LeaseKeeper { task: None }
    }

    /// Stops renewing: the stream has ended and its hold is being settled.
    pub(super) fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Renews every third of the lease until the lease is found run out (or
/// the task is aborted).
async fn keep(mut renewer: LeaseRenewer) {
    let period = (renewer.lease_length() / 3).max(MIN_PERIOD);
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match renewer.renew().await {
            Ok(true) | Err(_) => {}
            Ok(false) => return,
        }
    }
}
