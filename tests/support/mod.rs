//! Fixtures shared by the integration tests.

pub mod guarded;
pub mod mock_provider;
