//! GuardedClient and guarded steps against the loopback mock provider: calls, streams, retries, shared limits, runaway detection and the ledger.
//!
//! One test binary for the area (tests/<area>/main.rs), so the crate is
//! linked once for all of them.

#[path = "../support/mod.rs"]
mod support;

mod guarded_client;
mod guarded_estimates;
mod guarded_ledger;
mod guarded_runaway;
mod guarded_shared_limits;
mod guarded_step;
mod guarded_streaming;
mod mock_provider;
mod retry;
mod stream_lease_renewal;
#[cfg(feature = "webhook")]
mod webhook_alerts;
