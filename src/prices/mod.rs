//! Model prices: per-token [`Rates`], long-context [`RateSchedule`]s, a
//! [`ModelPrice`] per model, and the [`PriceTable`] that finds them by name.
//!
//! The bundled table is LiteLLM's price list (see `pricing/README.md`) with
//! provider corrections from `pricing/overrides.json` applied. Names resolve
//! fail-closed: an unknown model is an error, never a price of $0.

mod addition;
mod compact;
// Only the `spendguard prices check` command compares lists.
#[cfg(feature = "cli")]
pub(crate) mod cross_check;
mod error;
pub mod litellm;
mod memo;
mod model_price;
mod overrides;
mod rates;
mod resale;
mod resolve;
mod table;
mod version;

pub use addition::Addition;
pub use error::PriceError;
pub use model_price::{CacheWrite, ModelMode, ModelPrice};
pub use overrides::{Override, Overrides};
pub use rates::{RateSchedule, Rates};
pub use resolve::{Resolution, Resolved};
pub use table::PriceTable;
pub use version::PriceTableVersion;
