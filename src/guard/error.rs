//! [`GuardError`] and [`GuardConfigError`].

use std::time::Duration;

use crate::budget::BudgetExceeded;
use crate::guard::runaway::RunawayDetected;
use crate::halt::Halt;
use crate::store::StoreError;

/// A call the guard refused; nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// A shared limit would be crossed; it names the scope, the window and
    /// the numbers.
    #[error(transparent)]
    Exceeded(#[from] BudgetExceeded),
    /// Spending is halted by a kill switch.
    #[error(transparent)]
    Halted(#[from] Halt),
    /// A runaway detector refused the call (and may have paused its scope
    /// or tripped the kill switch, as configured).
    #[error(transparent)]
    Runaway(#[from] RunawayDetected),
    /// The store could not answer, and the guard fails closed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A guard configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardConfigError {
    /// A rolling window shorter than a second.
    #[error("a rolling window of {period:?} is too short to count over; use at least 1s")]
    RollingWindowTooShort {
        /// The period as given.
        period: Duration,
    },
    /// A limit on a tag value that is empty, which no call can carry.
    #[error("the limit `{limit}` names an empty tag value, which no call carries")]
    EmptyTagValue {
        /// The limit.
        limit: String,
    },
    /// A degrade threshold outside 1–99 percent.
    #[error("the degrade threshold {percent}% must be between 1% and 99% of a limit left")]
    DegradeThresholdOutOfRange {
        /// The threshold as given.
        percent: u8,
    },
    /// A degrade route from a model to itself.
    #[error("the degrade route for {model} points to itself; route it to a cheaper model")]
    DegradeRouteToItself {
        /// The model.
        model: String,
    },
    /// An alert threshold outside 1–99 percent.
    #[error(
        "alert threshold {percent}% must be between 1% and 99% (the 100% mark is the limit itself)"
    )]
    AlertThresholdOutOfRange {
        /// The threshold as given.
        percent: u8,
    },
}
