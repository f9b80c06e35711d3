//! What a call costs: the price table and its overrides, provider usage, token counts.
//!
//! One test binary for the area (tests/<area>/main.rs), so the crate is
//! linked once for all of them.

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "async-openai")]
mod async_openai_usage;
mod price_table;
mod pricing_overrides;
mod provider_costs;
mod token_estimates;
mod usage_normalisation;
