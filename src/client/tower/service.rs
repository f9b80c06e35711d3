//! [`HttpGuardService`]: a tower service over `reqwest::Request` whose
//! every model call runs the guarded exchange.

use std::task::{Context, Poll};

use tower_service::Service;

use crate::client::exchange::{BoxError, ExchangeError, HttpGuard};
use crate::client::tower::ResponseFuture;

/// A service that guards each request before `S` sends it; built by
/// [`HttpGuardLayer`](crate::client::tower::HttpGuardLayer).
///
/// Over `reqwest::Request` its error is [`ExchangeError`]: a refusal (with
/// nothing sent), or the transport's error inside
/// [`ExchangeError::Failed`] once the guard has settled the call.
///
/// ```no_run
/// use serde_json::json;
/// use spendguard::client::exchange::HttpGuard;
/// use spendguard::client::tower::HttpGuardService;
/// use spendguard::{TaskBudget, Usd};
/// use tower::ServiceExt;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let http_guard = HttpGuard::builder(TaskBudget::new(Usd::from_dollars(1.00)?)).build();
/// let service = HttpGuardService::new(reqwest::Client::new(), http_guard);
/// let request = reqwest::Client::new()
///     .post("https://api.anthropic.com/v1/messages")
///     .header("x-api-key", std::env::var("ANTHROPIC_API_KEY")?)
///     .header("anthropic-version", "2023-06-01")
///     .json(&json!({
///         "model": "claude-sonnet-4-5",
///         "max_tokens": 256,
///         "messages": [{"role": "user", "content": "One word for 'loop'?"}],
///     }))
///     .build()?;
/// let response = service.oneshot(request).await?;
/// println!("{}", response.text().await?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HttpGuardService<S> {
    pub(super) inner: S,
    pub(super) guard: HttpGuard,
}

impl<S> HttpGuardService<S> {
    /// `inner`, its model calls guarded by `guard`.
    pub const fn new(inner: S, guard: HttpGuard) -> Self {
        HttpGuardService { inner, guard }
    }

    /// The guard its calls go through.
    pub const fn http_guard(&self) -> &HttpGuard {
        &self.guard
    }

    /// The wrapped service.
    pub const fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The ready inner service, for one call, and a fresh clone left in its
    /// place (tower's way: the clone may not be ready yet).
    pub(super) fn take_ready(&mut self) -> S
    where
        S: Clone,
    {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}

impl<S> Service<reqwest::Request> for HttpGuardService<S>
where
    S: Service<reqwest::Request, Response = reqwest::Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = reqwest::Response;
    type Error = ExchangeError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|error| ExchangeError::Transport(error.into()))
    }

    fn call(&mut self, request: reqwest::Request) -> Self::Future {
        let mut inner = self.take_ready();
        let guard = self.guard.clone();
        ResponseFuture::new(async move {
            let send = |request| {
                let sent = inner.call(request);
                async move { sent.await.map_err(Into::<BoxError>::into) }
            };
            guard.exchange(request, send).await
        })
    }
}
