//! spendguard: stop runaway LLM API spend inside the agent's own process.

pub mod money;
pub mod prices;
pub mod usage;

pub use money::{MoneyError, PricePerToken, Usd};
pub use prices::{
    CacheWrite, ModelMode, ModelPrice, PriceError, PriceTable, RateSchedule, Rates, Resolution,
    Resolved,
};
pub use usage::{ServiceTier, Usage};
