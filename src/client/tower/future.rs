//! [`ResponseFuture`]: the guarded exchange under way.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::client::exchange::ExchangeError;

/// The response of an [`HttpGuardService`](crate::client::tower::HttpGuardService)
/// call: the provider's response, or why the guard stopped it (`E`:
/// [`ExchangeError`], or async-openai's `OpenAIError` holding one).
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture<E = ExchangeError> {
    inner: Pin<Box<dyn Future<Output = Result<reqwest::Response, E>> + Send>>,
}

impl<E> ResponseFuture<E> {
    /// The exchange `inner`, boxed.
    pub(crate) fn new(
        inner: impl Future<Output = Result<reqwest::Response, E>> + Send + 'static,
    ) -> Self {
        ResponseFuture {
            inner: Box::pin(inner),
        }
    }
}

impl<E> Future for ResponseFuture<E> {
    type Output = Result<reqwest::Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<E> fmt::Debug for ResponseFuture<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
