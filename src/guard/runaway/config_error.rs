//! [`RunawayConfigError`]: runaway settings that cannot work.

/// A runaway detector configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunawayConfigError {
    /// A loop needs at least two identical calls.
    #[error("a retry loop needs at least 2 identical calls to detect, got {repeats}")]
    TooFewRepeats {
        /// The repeat count as given.
        repeats: u32,
    },
    /// More repeats than the loop detector remembers calls.
    #[error(
        "loop detection remembers the last {max} calls of a scope, so repeats must be at \
         most {max}, got {repeats}"
    )]
    TooManyRepeats {
        /// The repeat count as given.
        repeats: u32,
        /// The most the detector supports.
        max: u32,
    },
    /// A window, cool-down or pause of zero length.
    #[error("the {what} must be longer than zero")]
    ZeroDuration {
        /// Which setting: "loop window", "velocity window", "cool-down" or "pause".
        what: &'static str,
    },
    /// A velocity limit of zero calls would refuse every call.
    #[error(
        "a limit of 0 calls per window would refuse every call; allow at least 1, or trip \
         the kill switch to stop all calls"
    )]
    ZeroCalls,
    /// A velocity limit of zero dollars would refuse every call.
    #[error(
        "a spend limit of $0 per window would refuse every call; allow more than $0, or \
         trip the kill switch to stop all calls"
    )]
    ZeroSpend,
    /// A circuit breaker that opens after zero failures would never close.
    #[error("a circuit breaker needs at least 1 failure in a row to open")]
    ZeroFailures,
    /// A detector that may track no scope cannot detect anything.
    #[error("a detector must track at least 1 scope")]
    ZeroScopes,
}
