//! GuardedClient and guarded steps against the loopback mock provider: calls, streams, retries, shared limits, runaway detection and the ledger.
//!
//! One test binary for the area (tests/<area>/main.rs), so the crate is
//! linked once for all of them.

#[path = "../support/mod.rs"]
mod support;

mod guarded_client;
mod guarded_estimates;
mod guarded_ledger;
#[cfg(feature = "metrics")]
mod guarded_metrics;
mod guarded_runaway;
mod guarded_shared_limits;
#[cfg(feature = "tracing")]
mod guarded_spans;
mod guarded_step;
mod guarded_streaming;
mod mock_provider;
#[cfg(feature = "tracing")]
mod opentelemetry_export;
mod overrun_alerts;
#[cfg(feature = "metrics")]
mod prometheus_scrape;
mod retry;
mod stream_lease_renewal;
#[cfg(feature = "webhook")]
mod webhook_alerts;
