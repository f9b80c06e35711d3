//! A tower layer that guards HTTP requests to the provider APIs: every
//! model call that passes through it is checked by the guarded-call engine
//! before it is sent, rewritten only where the guard must, and settled from
//! its response, a stream metered as it passes through (see
//! [`exchange`](crate::client::exchange), which it runs).
//!
//! [`HttpGuardLayer`] wraps any tower service over `reqwest::Request`
//! (`reqwest::Client` is one) in an [`HttpGuardService`], which is itself a
//! service over `reqwest::Request` and, with the `async-openai-layer`
//! feature, over async-openai's `HttpRequestFactory`, so it drops into
//! async-openai's own client (`Client::with_http_service`). A retry layer
//! above it (async-openai's `OpenAIRetryLayer`) calls it once per attempt,
//! so each attempt is checked and counted.
//!
//! - `layer`: [`HttpGuardLayer`];
//! - `service`: [`HttpGuardService`] over `reqwest::Request`;
//! - `async_openai`: the same over async-openai's request factory, and its
//!   errors as async-openai's;
//! - `future`: [`ResponseFuture`].

#[cfg(feature = "async-openai-layer")]
mod async_openai;
mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::HttpGuardLayer;
pub use service::HttpGuardService;
