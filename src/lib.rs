//! Stop runaway LLM API spend inside the agent's own process: every call
//! is priced before it is sent, refused with [`BudgetExceeded`] if it could
//! cross a limit, and settled from the usage the provider reports.
//!
//! ```
//! use spendguard::{CallPlan, PriceTable, TaskBudget, Usage, Usd};
//!
//! let price = PriceTable::bundled().resolve("gpt-4o")?.into_price();
//! let budget = TaskBudget::builder("nightly-report")
//!     .max_cost(Usd::from_dollars(2.00)?)
//!     .build()?;
//!
//! // Preflight: refused here, with nothing sent, if the worst case could
//! // cross the limit. Send the request with `max_output_tokens()`.
//! let call = budget.reserve(CallPlan::new(&price, 1_200))?;
//! let receipt = call.settle(&Usage::new(1_200, 300)); // what the provider reported
//! assert_eq!(receipt.cost, Usd::from_dollars(0.006)?); // 1,200 × $2.50/M + 300 × $10/M
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where to go next:
//! - [`GuardedClient`] (feature `client`, on by default) does all of this for
//!   HTTP calls and streams to OpenAI, Anthropic, Gemini and OpenAI-compatible
//!   servers: prompt counting, the output ceiling, settlement and retries.
//! - [`SpendGuard`] adds caps shared by many tasks and processes (per key,
//!   agent or customer, per day or month), a kill switch and runaway
//!   detection; see [`guard`] and [`store`].
//! - [`prices`], [`usage`] and [`tokens`] are the parts a hand-rolled client
//!   needs: resolving a model's price, reading a response's usage, counting a
//!   prompt. [`ledger`] records every decision.
//!
//! The crate's `README.md` is the long tour: every feature with an example,
//! the guarantees and their exact bounds, and measured overheads. Its
//! glossary names each concept with one word.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod budget;
#[cfg(feature = "cli")]
pub mod cli;
pub mod client;
pub mod clock;
pub mod guard;
pub mod halt;
mod json_kind;
pub mod ledger;
pub mod money;
#[cfg(test)]
mod mutated;
pub mod prices;
pub mod store;
pub mod tags;
pub mod tokens;
pub mod usage;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use budget::{BudgetExceeded, CallPlan, TaskBudget};
#[cfg(feature = "client")]
pub use client::{ApiKey, GuardedClient};
pub use client::{ClientError, Provider};
pub use guard::SpendGuard;
pub use money::Usd;
pub use prices::PriceTable;
pub use tags::Tags;
pub use usage::Usage;

/// README's examples, compiled and run as doc tests.
#[cfg(all(doctest, feature = "client"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
