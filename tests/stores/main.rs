//! Stores shared between processes: a FileStore across processes and a SIGKILL, and a real Redis server.
//!
//! One test binary for the area (tests/<area>/main.rs), so the crate is
//! linked once for all of them.

#[path = "../support/mod.rs"]
mod support;

mod bound_under_shared_limits;
mod dead_worker_leases;
#[cfg(feature = "redis")]
mod redis_cluster;
#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "redis")]
mod redis_tls;
#[cfg(feature = "client")]
mod shared_caps_across_processes;
mod spend_survives_a_kill;
#[cfg(feature = "redis")]
mod windows;
