//! [`StepFailure`]: what a guarded step's error tells the guard, and
//! [`HttpFailure`], a ready-made error that carries an HTTP status.

use std::fmt;

use crate::client::error::ClientError;

/// An error a guarded step can fail with, and what it says about the call.
///
/// The HTTP status decides what a failed step is billed, as for a
/// [`GuardedClient`](crate::client::GuardedClient) call:
///
/// - **with a status** (the provider answered with an error: 400, 429,
///   5xx…): the provider did not bill it, so it is billed nothing, and the
///   status feeds runaway detection's circuit breaker (402, 429 and 5xx
///   count towards opening it);
/// - **without one** (a timeout, a broken connection, an answer that could
///   not be read): it may have been billed, so it is billed its worst case.
///
/// The default method says "no status"; implement it for your client's
/// error type, or return an [`HttpFailure`].
///
/// ```
/// use spendguard::client::StepFailure;
///
/// #[derive(Debug)]
/// struct MyError { status: Option<u16> }
///
/// impl std::fmt::Display for MyError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "my client failed")
///     }
/// }
///
/// impl StepFailure for MyError {
///     fn http_status(&self) -> Option<u16> {
///         self.status
///     }
/// }
/// assert_eq!(MyError { status: Some(429) }.http_status(), Some(429));
/// ```
pub trait StepFailure: fmt::Display {
    /// The HTTP status the provider failed the call with, if it answered.
    fn http_status(&self) -> Option<u16> {
        None
    }
}

/// A provider's error answer: an HTTP status and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the provider answered with HTTP {status}: {message}")]
#[non_exhaustive]
pub struct HttpFailure {
    /// The HTTP status.
    pub status: u16,
    /// The provider's message (keep API keys out of it: it reaches the
    /// ledger).
    pub message: String,
}

impl HttpFailure {
    /// A failure with `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        HttpFailure {
            status,
            message: message.into(),
        }
    }
}

impl StepFailure for HttpFailure {
    fn http_status(&self) -> Option<u16> {
        Some(self.status)
    }
}

impl StepFailure for ClientError {
    fn http_status(&self) -> Option<u16> {
        self.status()
    }
}

impl StepFailure for std::io::Error {}

/// A usage report the step could not read: the provider answered, so the
/// call may have been billed, and it is billed its worst case.
impl StepFailure for crate::usage::UsageError {}

/// genai's error, with the HTTP status the provider failed the call with
/// when it answered one (feature `genai`).
///
/// ```
/// use spendguard::client::StepFailure;
///
/// // An error raised before any answer has no status: billed its worst case.
/// let error = genai::Error::Internal("the connection was reset".into());
/// assert_eq!(error.http_status(), None);
/// ```
#[cfg(feature = "genai")]
impl StepFailure for genai::Error {
    fn http_status(&self) -> Option<u16> {
        self.status().map(|status| status.as_u16())
    }
}

impl StepFailure for Box<dyn std::error::Error + Send + Sync> {}
