//! Model prices: per-token [`Rates`], long-context [`RateSchedule`]s and a
//! [`ModelPrice`] per model.

mod model_price;
mod rates;

pub use model_price::{CacheWrite, ModelMode, ModelPrice};
pub use rates::{RateSchedule, Rates};
