//! Fixtures shared by the integration tests.

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "client")]
pub mod guarded;
pub mod mock_provider;
#[cfg(feature = "redis")]
pub mod redis_server;
#[cfg(feature = "tracing")]
pub mod spans;
pub mod step;
#[cfg(feature = "tracing")]
pub mod tracing_events;
