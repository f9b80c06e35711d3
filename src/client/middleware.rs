//! [`GuardMiddleware`]: the guarded HTTP exchange as a
//! [`reqwest_middleware::Middleware`] (feature `reqwest-middleware`), for
//! any reqwest-middleware stack and for rig, whose
//! `rig_reqwest::ReqwestMiddlewareClient` carries a
//! `ClientWithMiddleware` to every provider client rig builds.
//!
//! Each request the stack sends is one [exchange](crate::client::exchange):
//! checked against the task budget and the guard's shared limits (all or
//! none), the kill switch, runaway detection and the circuit breaker before
//! it is sent, written to the ledger, and settled from the provider's
//! answer; a streamed answer is metered as it passes through, cut off at
//! its ceiling and never billed $0. A whole answer carries its
//! [`CallReceipt`](crate::client::CallReceipt) in the response's
//! extensions. A refusal reaches the caller as
//! [`reqwest_middleware::Error::Middleware`] holding the
//! [`ExchangeError`], whose [`source`](std::error::Error::source) is the
//! refusal ([`BudgetExceeded`](crate::BudgetExceeded), the halt, the
//! runaway detection); nothing was sent.
//!
//! Put it last in the stack (`.with(retry).with(guard)`), nearest the
//! network, so that every attempt a retry middleware makes is checked and
//! counted.

use reqwest_middleware::{Middleware, Next};

use crate::client::exchange::{ExchangeError, HttpGuard, TransportError};

/// The guard as a reqwest middleware; see the [module](self).
///
/// ```
/// use reqwest_middleware::ClientBuilder;
/// use spendguard::client::exchange::HttpGuard;
/// use spendguard::client::middleware::GuardMiddleware;
/// use spendguard::guard::SpendGuard;
/// use spendguard::{TaskBudget, Usd};
///
/// let budget = TaskBudget::new(Usd::from_dollars(2.00)?);
/// let http_guard = HttpGuard::builder(budget)
///     .guard(SpendGuard::builder().build()?)
///     .key_label("prod-1")
///     .build();
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(GuardMiddleware::new(http_guard))
///     .build();
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GuardMiddleware {
    guard: HttpGuard,
}

impl GuardMiddleware {
    /// A middleware guarding every request with `guard`.
    pub const fn new(guard: HttpGuard) -> Self {
        GuardMiddleware { guard }
    }

    /// The guard it checks requests with (its budget, its provider).
    pub const fn http_guard(&self) -> &HttpGuard {
        &self.guard
    }
}

impl From<HttpGuard> for GuardMiddleware {
    fn from(guard: HttpGuard) -> Self {
        GuardMiddleware::new(guard)
    }
}

#[async_trait::async_trait]
impl Middleware for GuardMiddleware {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.guard
            .exchange(request, |request| next.run(request, extensions))
            .await
            .map_err(into_middleware_error)
    }
}

/// The guard's error inside a reqwest-middleware error, if the guard
/// refused or settled the request: the typed way to a refusal (its
/// [`budget_exceeded`](ExchangeError::budget_exceeded), its
/// [`client_error`](ExchangeError::client_error)) for a caller that holds
/// the stack's error. [`source`](std::error::Error::source) leads to the
/// refusal too, past the [`ExchangeError`] itself.
///
/// ```
/// use spendguard::client::exchange::{ExchangeError, Unguardable};
/// use spendguard::client::middleware::exchange_error;
///
/// let refused = reqwest_middleware::Error::middleware(ExchangeError::Unguardable {
///     method: "GET".into(),
///     path: "/v1/models".into(),
///     reason: Unguardable::Method { method: "GET".into() },
/// });
/// assert!(matches!(exchange_error(&refused), Some(ExchangeError::Unguardable { .. })));
/// ```
pub fn exchange_error(error: &reqwest_middleware::Error) -> Option<&ExchangeError> {
    match error {
        reqwest_middleware::Error::Middleware(error) => error.downcast_ref::<ExchangeError>(),
        reqwest_middleware::Error::Reqwest(_) => None,
    }
}

/// The exchange's error as the stack's: a request passed on unguarded
/// fails with the stack's own error, as if the guard were not there;
/// everything else is the [`ExchangeError`], whose chain leads to the
/// refusal.
fn into_middleware_error(error: ExchangeError) -> reqwest_middleware::Error {
    match error {
        ExchangeError::Transport(inner) => match inner.downcast::<reqwest_middleware::Error>() {
            Ok(inner) => *inner,
            Err(inner) => reqwest_middleware::Error::middleware(ExchangeError::Transport(inner)),
        },
        other => reqwest_middleware::Error::middleware(other),
    }
}

/// What the rest of the stack failed with: only reqwest's own connect and
/// build errors prove the request never left; an inner middleware's error
/// may come after a send, so it bills the call's worst case.
impl TransportError for reqwest_middleware::Error {
    fn never_sent(&self) -> bool {
        match self {
            reqwest_middleware::Error::Reqwest(error) => error.never_sent(),
            reqwest_middleware::Error::Middleware(_) => false,
        }
    }
}
