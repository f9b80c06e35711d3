//! [`HttpGuardLayer`]: wraps a service in an [`HttpGuardService`].

use tower_layer::Layer;

use crate::client::exchange::HttpGuard;
use crate::client::tower::HttpGuardService;

/// Guards every model call made through the service it wraps; see the
/// [module documentation](crate::client::tower).
///
/// ```
/// use spendguard::client::exchange::HttpGuard;
/// use spendguard::client::tower::HttpGuardLayer;
/// use spendguard::{TaskBudget, Usd};
/// use tower_layer::Layer;
///
/// let http_guard = HttpGuard::builder(TaskBudget::new(Usd::from_dollars(1.00)?)).build();
/// let guarded = HttpGuardLayer::new(http_guard).layer(reqwest::Client::new());
/// assert!(guarded.http_guard().budget().snapshot().calls == 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpGuardLayer {
    guard: HttpGuard,
}

impl HttpGuardLayer {
    /// A layer guarding calls with `guard` (its budget, shared limits,
    /// ledger and routes).
    pub const fn new(guard: HttpGuard) -> Self {
        HttpGuardLayer { guard }
    }
}

impl<S> Layer<S> for HttpGuardLayer {
    type Service = HttpGuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpGuardService::new(inner, self.guard.clone())
    }
}
