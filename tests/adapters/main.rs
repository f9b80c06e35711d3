//! The adapters that guard the clients agents already use (the tower layer
//! under async-openai, the reqwest middleware under rig, genai through
//! `SpendGuard::step`), against the loopback mock provider, which bills
//! every request.
//!
//! One test binary for the area (tests/<area>/main.rs); each adapter's
//! module is gated by its feature.

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "async-openai-layer")]
mod async_openai_layer;
#[cfg(feature = "genai")]
mod genai_step;
#[cfg(all(feature = "rig", feature = "reqwest-middleware"))]
mod rig_middleware;
#[cfg(all(feature = "tracing", feature = "tower", feature = "reqwest-middleware"))]
mod telemetry_spans;
#[cfg(feature = "tower")]
mod tower_stack;
