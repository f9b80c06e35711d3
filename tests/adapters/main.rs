//! The guard inside the clients agents already use, against the loopback
//! mock provider: genai through `SpendGuard::step`, rig and any
//! reqwest-middleware stack through `GuardMiddleware`.
//!
//! One test binary for the area (tests/<area>/main.rs); each adapter's
//! module is gated by the feature it needs.

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "genai")]
mod genai_step;
