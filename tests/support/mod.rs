//! Fixtures shared by the integration tests.

#[cfg(feature = "client")]
pub mod guarded;
pub mod mock_provider;
#[cfg(feature = "redis")]
pub mod redis_server;
