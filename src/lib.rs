//! spendguard: stop runaway LLM API spend inside the agent's own process.

pub mod money;
pub mod usage;

pub use money::{MoneyError, PricePerToken, Usd};
pub use usage::{ServiceTier, Usage};
