//! [`ClientError`]: every way a guarded call can end without a result.

use std::fmt;
use std::time::Duration;

use crate::budget::BudgetExceeded;
use crate::client::provider::Provider;
#[cfg(feature = "client")]
use crate::client::retry::RetryPolicyError;
use crate::clock::UtcDateTime;
use crate::guard::runaway::RunawayDetected;
use crate::guard::GuardError;
use crate::halt::Halt;
use crate::money::Usd;
use crate::prices::PriceError;
use crate::store::StoreError;
use crate::tokens::RequestShapeError;

/// A guarded call that did not produce a response.
///
/// Each variant says whether anything was billed: refusals and provider
/// rejections release the reservation (nothing was spent); a call that
/// failed after it was sent is billed at its worst case, because the
/// provider may have charged for it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A budget refused the call; nothing was sent.
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    /// The model has no price, so the call could not be guarded; nothing was sent.
    #[error(transparent)]
    Price(#[from] PriceError),
    /// The request body could not be counted; nothing was sent.
    #[error("the request body cannot be guarded: {0}")]
    RequestShape(#[from] RequestShapeError),
    /// A field the guard needs is missing or malformed; nothing was sent.
    #[error("the request body's `{field}` {problem}; nothing was sent")]
    InvalidRequest {
        /// The field, e.g. `model` or `max_tokens`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The prompt cannot fit the model's context window (the price table's
    /// `max_input_tokens`, or 1M tokens behind Anthropic's
    /// `anthropic-beta: context-1m-…` header for a model priced past its
    /// listed window); nothing was sent.
    #[error("the prompt is at least {prompt_tokens} tokens and cannot fit {model}'s context window of {window} tokens; nothing was sent")]
    ContextWindow {
        /// The model, as the request named it.
        model: String,
        /// The window, in input tokens.
        window: u64,
        /// The fewest tokens the prompt can be: the count, or an
        /// estimate without its safety margin.
        prompt_tokens: u64,
    },
    /// The provider refused the request (400, 401, 403, 404, 422 or another
    /// 4xx); nothing was billed.
    #[error("{provider} rejected the request with HTTP {status}: {message} (nothing was billed)")]
    Rejected {
        /// The API.
        provider: Provider,
        /// The HTTP status.
        status: u16,
        /// The provider's message, with any API key cut out.
        message: String,
    },
    /// The account is out of credit (402); nothing was billed.
    #[error("{provider} says the account is out of credit (HTTP 402): {message}")]
    PaymentRequired {
        /// The API.
        provider: Provider,
        /// The provider's message.
        message: String,
    },
    /// Rate-limited (429); nothing was billed.
    #[error("{provider} rate-limited the call (HTTP 429{}): {message}", retry_hint(*.retry_after))]
    RateLimited {
        /// The API.
        provider: Provider,
        /// How long the provider asked to wait, from `Retry-After`.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },
    /// The provider failed (5xx, or Anthropic's 529 "overloaded"); nothing
    /// was billed.
    #[error("{provider} failed with HTTP {status}{}: {message}", retry_hint(*.retry_after))]
    ProviderFailed {
        /// The API.
        provider: Provider,
        /// The HTTP status.
        status: u16,
        /// How long the provider asked to wait, if it said.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },
    /// The call failed after it was sent (timeout, dropped connection,
    /// unreadable body): it was billed at its worst case.
    #[error("the call to {provider} failed after it was sent ({detail}); it was billed at its worst case of {billed}")]
    Interrupted {
        /// The API.
        provider: Provider,
        /// What went wrong.
        detail: String,
        /// What it was billed.
        billed: Usd,
    },
    /// The guard cut a stream off and closed the connection: the provider
    /// kept writing past the output limit it was sent, or the budget could
    /// no longer cover the stream. It was billed for the prompt and the
    /// output received, and the events before this error are all there is.
    #[error("the stream from {provider} was cut off because {reason}; it was billed {billed} for the prompt and the output received")]
    StreamCutOff {
        /// The API.
        provider: Provider,
        /// Why it was cut off.
        reason: CutOffReason,
        /// What it was billed.
        billed: Usd,
    },
    /// A stream ended before the provider's final event: the connection
    /// broke, the body ended early, or a chunk could not be read. Its usage
    /// report never came, so it was billed from the guard's own count of
    /// the prompt and the output received, and the answer is incomplete.
    #[error("the stream from {provider} ended early ({detail}); it was billed {billed}, estimated by the guard (the receipt says how)")]
    StreamEndedEarly {
        /// The API.
        provider: Provider,
        /// What happened.
        detail: String,
        /// What it was billed.
        billed: Usd,
    },
    /// The request could not be sent at all (connection refused, DNS, TLS);
    /// nothing was billed.
    #[error("could not reach {provider}: {detail} (nothing was billed)")]
    Unreachable {
        /// The API.
        provider: Provider,
        /// What went wrong.
        detail: String,
    },
    /// The retry policy cannot work; nothing was sent.
    #[cfg(feature = "client")]
    #[error("the retry policy cannot be used: {0}; nothing was sent")]
    RetryPolicy(#[from] RetryPolicyError),
    /// Spending is halted by a kill switch; nothing was sent.
    #[error(transparent)]
    Halted(#[from] Halt),
    /// Runaway detection refused the call (a retry loop, a burst, a storm
    /// of provider failures); nothing was sent.
    #[error(transparent)]
    Runaway(#[from] RunawayDetected),
    /// The shared limits' store could not answer, so the call was refused
    /// (the guard fails closed); nothing was sent.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<GuardError> for ClientError {
    fn from(error: GuardError) -> Self {
        match error {
            GuardError::Exceeded(exceeded) => ClientError::Budget(exceeded),
            GuardError::Halted(halt) => ClientError::Halted(halt),
            GuardError::Runaway(detected) => ClientError::Runaway(detected),
            GuardError::Store(store) => ClientError::Store(store),
        }
    }
}

/// Why the guard cut a stream off.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CutOffReason {
    /// The provider kept writing past the output limit it was sent, by more
    /// than the counting slack (a quarter of the limit, at least 32 tokens).
    OutputLimitIgnored {
        /// The `max_tokens` the request was sent with.
        granted: u64,
        /// Output tokens counted, or reported, when it was cut off.
        counted: u64,
    },
    /// Counting this stream at what it had used so far, the budget would
    /// pass a limit: another call's bill ran over its reservation.
    Budget(BudgetExceeded),
    /// Spending was halted while the stream was running.
    Halted(Halt),
}

impl fmt::Display for CutOffReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CutOffReason::OutputLimitIgnored { granted, counted } => write!(
                f,
                "the provider kept writing past the output limit it was sent \
                 ({counted} tokens of output against a limit of {granted})"
            ),
            CutOffReason::Budget(exceeded) => write!(f, "{exceeded}"),
            CutOffReason::Halted(halt) => write!(
                f,
                "spending was halted by {} at {}: {}",
                halt.by,
                UtcDateTime::from_unix(halt.at),
                halt.reason
            ),
        }
    }
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |wait| {
        format!(", retry after {}s", wait.as_secs_f64())
    })
}

impl ClientError {
    /// The error for a provider that answered with HTTP `status` (not a
    /// success): nothing was billed.
    pub(crate) fn from_status(
        provider: Provider,
        status: u16,
        retry_after: Option<Duration>,
        message: String,
    ) -> ClientError {
        match status {
            402 => ClientError::PaymentRequired { provider, message },
            429 => ClientError::RateLimited {
                provider,
                retry_after,
                message,
            },
            500..=599 => ClientError::ProviderFailed {
                provider,
                status,
                retry_after,
                message,
            },
            _ => ClientError::Rejected {
                provider,
                status,
                message,
            },
        }
    }

    /// `true` for failures a later attempt may not meet: rate limits,
    /// provider outages and unreachable servers.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ClientError::RateLimited { .. }
                | ClientError::ProviderFailed { .. }
                | ClientError::Unreachable { .. }
        )
    }

    /// What the call was billed although it failed: the worst case of a
    /// call interrupted after sending, or what a broken or cut-off stream
    /// was counted at. Zero for everything refused or rejected.
    pub fn billed(&self) -> Usd {
        match self {
            ClientError::Interrupted { billed, .. }
            | ClientError::StreamCutOff { billed, .. }
            | ClientError::StreamEndedEarly { billed, .. } => *billed,
            _ => Usd::ZERO,
        }
    }

    /// The HTTP status the provider failed with, if it answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Rejected { status, .. } | ClientError::ProviderFailed { status, .. } => {
                Some(*status)
            }
            ClientError::PaymentRequired { .. } => Some(402),
            ClientError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// How long the provider asked the caller to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::RateLimited { retry_after, .. }
            | ClientError::ProviderFailed { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
