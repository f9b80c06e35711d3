// The README, whose examples include the HTTP client, is the crate's
// documentation; without the `client` feature a shorter page stands in.
#![cfg_attr(feature = "client", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "client"),
    doc = "spendguard without its HTTP client: integer money, prices, usage, token \
           estimates and task budgets. See the README for the whole crate.\n\n\
           ```\n\
           use spendguard::{CallPlan, PriceTable, TaskBudget, Usage, Usd};\n\
           let price = PriceTable::bundled().resolve(\"gpt-4o\")?.into_price();\n\
           let budget = TaskBudget::new(Usd::from_dollars(1.0)?);\n\
           let call = budget.reserve(CallPlan::new(&price, 1_000))?;\n\
           call.settle(&Usage::new(1_000, 200));\n\
           # Ok::<(), Box<dyn std::error::Error>>(())\n\
           ```"
)]

pub mod budget;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "client")]
pub mod client;
pub mod clock;
pub mod guard;
pub mod halt;
mod json_kind;
pub mod ledger;
pub mod money;
pub mod prices;
pub mod store;
pub mod tags;
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
pub use guard::{GuardError, SharedLimit, SpendGuard, Window};
pub use halt::{Halt, KillSwitch};
pub use money::{MoneyError, PricePerToken, Usd};
pub use prices::{
    CacheWrite, ModelMode, ModelPrice, PriceError, PriceTable, RateSchedule, Rates, Resolution,
    Resolved,
};
pub use tags::{TagKind, Tags};
pub use tokens::{TokenCount, TokenCounter};
pub use usage::{
    AnthropicStreamUsage, CounterProblem, ServiceTier, Usage, UsageError, UsageFormat,
};
