//! Budgets, shared limits, runaway detection, alerts and the ledger: the guard without a client.
//!
//! One test binary for the area (tests/<area>/main.rs), so the crate is
//! linked once for all of them.

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "tracing")]
mod alert_events;
mod budget_concurrency;
mod budget_limits;
mod guarded_step;
mod ledger_sink;
mod runaway_detection;
mod shared_limits;
