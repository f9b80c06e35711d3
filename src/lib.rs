#![doc = include_str!("../README.md")]

pub mod budget;
#[cfg(feature = "client")]
pub mod client;
pub mod clock;
mod json_kind;
pub mod money;
pub mod prices;
pub mod tokens;
pub mod usage;

pub use budget::{
    Alert, AlertCallback, Amount, BudgetConfigError, BudgetExceeded, BudgetSnapshot, CallPlan,
    LimitKind, OutputCeiling, Receipt, Reservation, StepError, StepGrant, TaskBudget,
    TaskBudgetBuilder,
};
#[cfg(feature = "client")]
pub use client::{
    ApiKey, CallReceipt, ClientError, CostSource, CutOffReason, GuardedClient, GuardedResponse,
    GuardedStream, Provider, RetryPolicy, StreamEvent,
};
pub use money::{MoneyError, PricePerToken, Usd};
pub use prices::{
    CacheWrite, ModelMode, ModelPrice, PriceError, PriceTable, RateSchedule, Rates, Resolution,
    Resolved,
};
pub use tokens::{TokenCount, TokenCounter};
pub use usage::{
    AnthropicStreamUsage, CounterProblem, ServiceTier, Usage, UsageError, UsageFormat,
};
