//! [`GuardedClient`]: HTTP calls to OpenAI, Anthropic, Gemini and any
//! OpenAI-compatible server, each checked against a budget before it is sent.
//!
//! Every call:
//! 1. gets an output ceiling (`max_tokens` injected, or clamped);
//! 2. has its prompt counted from the request body;
//! 3. reserves its worst case, or fails with [`ClientError::Budget`] with
//!    nothing sent;
//! 4. is sent, and settled from the usage the response reports. The
//!    response comes back with a [`CallReceipt`].
//!
//! [`GuardedClient::stream`] does the same for a streamed call, counting
//! the output as it arrives and cutting the stream off if the provider
//! ignores its output limit; see [`GuardedStream`].
//!
//! Request bodies are your own JSON; fields the guard does not read pass
//! through untouched.
//!
//! [`GuardedClient::send_with_retry`] retries rate limits and outages under a
//! [`RetryPolicy`], each attempt checked against the budget like any call.
//!
//! [`SpendGuard::step`](crate::guard::SpendGuard::step) guards a call made by
//! any other client the same way ([`GuardedStep`]); it needs no `client`
//! feature.
//!
//! With the `reqwest-middleware` feature, [`middleware::GuardMiddleware`]
//! guards every request of a reqwest-middleware stack (rig's included) the
//! same way, over the guarded HTTP exchange.
//!
//! Both are front ends of one engine (`engine/`), which runs a guarded
//! call's pipeline in the order it is written: plan, hold, send, settle,
//! circuit breaker, ledger.

#[cfg(feature = "client")]
mod api_key;
mod drift;
mod engine;
mod error;
#[cfg(feature = "exchange")]
pub mod exchange;
#[cfg(feature = "client")]
mod guarded_client;
#[cfg(feature = "client")]
mod http;
#[cfg(feature = "reqwest-middleware")]
pub mod middleware;
mod provider;
mod receipt;
mod recorder;
#[cfg(feature = "client")]
mod response;
#[cfg(feature = "client")]
mod retry;
mod step;
#[cfg(feature = "client")]
mod stream;
mod telemetry;
#[cfg(feature = "tower")]
pub mod tower;
mod unpriced_tier;

#[cfg(feature = "client")]
pub use api_key::ApiKey;
pub use drift::{DriftTolerance, PriceDrift};
pub use error::{ClientError, CutOffReason};
#[cfg(feature = "client")]
pub use guarded_client::{ClientConfigError, GuardedClient, GuardedClientBuilder, GuardedResponse};
pub use provider::Provider;
pub use receipt::{CallReceipt, CostSource};
#[cfg(feature = "client")]
pub use retry::{Jitter, RetryPolicy, RetryPolicyError};
pub use step::{GuardedGrant, GuardedStep, GuardedStepError, HttpFailure, StepFailure};
#[cfg(feature = "client")]
pub use stream::{GuardedStream, StreamEvent};
#[cfg(feature = "metrics")]
pub use telemetry::{describe_metrics, record_limits, MetricTags, DEFAULT_MAX_TAG_VALUES};
