//! The guarded HTTP exchange: a `reqwest::Request` to a provider API,
//! checked by the guarded-call engine before it is sent, sent through the
//! caller's own transport, and settled from its response. The tower layer
//! and the reqwest middleware are this, each over its own transport.
//!
//! [`HttpGuard`] holds what every exchange needs; an exchange runs, in
//! this order:
//!
//! 1. **route** (`route`): the provider API, from the configured provider
//!    or the path; another method or path is refused
//!    ([`Unguardable`]), or passed on unchecked only if the guard is told to
//!    ([`HttpGuardBuilder::pass_unguarded`]);
//! 2. **read** (`request`): the body as JSON (Gemini's model from the
//!    path), refused if it cannot be read;
//! 3. **the engine** plans and holds the call, exactly as for a
//!    [`GuardedClient`](crate::client::GuardedClient) call, and refuses it
//!    with nothing sent ([`ExchangeError::Refused`]);
//! 4. **rewrite** (`request`): the output ceiling, a stream's usage report,
//!    a cheaper model; every other header and field as it was;
//! 5. **send** through the caller's transport;
//! 6. **answer** (`response`): a status that is not a success settles as
//!    the unbilled failure it is (the circuit breaker hears it) and reaches
//!    the caller as the provider sent it; a JSON answer is read whole,
//!    settled from its usage (`usage_fields`: only they are parsed) and
//!    rebuilt with its status and headers (its
//!    [`CallReceipt`](crate::client::CallReceipt) in the extensions); an
//!    event stream passes through the stream meter, which cuts it off at an
//!    event boundary and never bills it $0.

mod error;
mod request;
mod response;
mod route;
mod usage_fields;

use std::future::Future;
use std::sync::Arc;

use crate::budget::TaskBudget;
use crate::client::drift::DriftTolerance;
use crate::client::engine::{asks_for_long_context, Engine, EngineSettings, Failure, Request};
use crate::client::error::ClientError;
use crate::client::http::error_chain;
use crate::client::provider::Provider;
use crate::clock::{Clock, SystemClock};
use crate::guard::SpendGuard;
use crate::ledger::LedgerSink;
use crate::prices::PriceTable;
use crate::tokens::TokenCounter;

pub(crate) use error::{BoxError, TransportError};
pub use error::{ExchangeError, Unguardable};
use response::HttpAnswer;

/// What a guarded HTTP exchange needs: the task budget its calls are
/// checked against, the engine's pieces (prices, prompt counter, shared
/// limits, ledger, key label) and which requests it guards. The tower
/// layer and the reqwest middleware are built from one.
///
/// Cheap to clone; clones share everything, the budget included.
///
/// ```
/// use spendguard::client::exchange::HttpGuard;
/// use spendguard::client::Provider;
/// use spendguard::{SpendGuard, TaskBudget, Usd};
///
/// let budget = TaskBudget::new(Usd::from_dollars(2.00)?);
/// let http_guard = HttpGuard::builder(budget)
///     .guard(SpendGuard::builder().build()?)
///     .provider(Provider::OpenAiChat)
///     .key_label("prod-1")
///     .build();
/// assert_eq!(http_guard.provider(), Some(Provider::OpenAiChat));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpGuard {
    inner: Arc<Config>,
}

#[derive(Debug)]
struct Config {
    budget: TaskBudget,
    engine: Engine,
    provider: Option<Provider>,
    pass_unguarded: bool,
}

/// Builds an [`HttpGuard`]; start with [`HttpGuard::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct HttpGuardBuilder {
    budget: TaskBudget,
    provider: Option<Provider>,
    engine: EngineSettings,
    pass_unguarded: bool,
}

impl HttpGuard {
    /// Starts configuring a guard whose calls are checked against `budget`.
    pub fn builder(budget: TaskBudget) -> HttpGuardBuilder {
        HttpGuardBuilder {
            budget,
            provider: None,
            engine: EngineSettings::default(),
            pass_unguarded: false,
        }
    }

    /// The task budget every call is checked against.
    pub fn budget(&self) -> &TaskBudget {
        &self.inner.budget
    }

    /// The same guard for another task: its calls are checked against
    /// `budget`, everything else (prices, prompt-count cache, shared
    /// limits, ledger, routes) shared with this one.
    ///
    /// ```
    /// use spendguard::client::exchange::HttpGuard;
    /// use spendguard::{TaskBudget, Usd};
    ///
    /// let shared = HttpGuard::builder(TaskBudget::new(Usd::from_dollars(5.00)?)).build();
    /// let nightly = shared.with_budget(TaskBudget::builder("nightly").max_calls(20).build()?);
    /// assert_eq!(nightly.budget().name(), "nightly");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_budget(&self, budget: TaskBudget) -> HttpGuard {
        let config = &*self.inner;
        HttpGuard {
            inner: Arc::new(Config {
                budget,
                engine: config.engine.clone(),
                provider: config.provider,
                pass_unguarded: config.pass_unguarded,
            }),
        }
    }

    /// The provider configured, if one was (else each request's path says).
    pub fn provider(&self) -> Option<Provider> {
        self.inner.provider
    }

    /// Sends `request` with `client`, guarded: `reqwest::Client::execute`
    /// checked before it sends and settled from the response. The tower
    /// layer and the reqwest middleware do the same over their own stacks.
    ///
    /// ```no_run
    /// use serde_json::json;
    /// use spendguard::client::exchange::HttpGuard;
    /// use spendguard::{TaskBudget, Usd};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let http_guard = HttpGuard::builder(TaskBudget::new(Usd::from_dollars(1.00)?)).build();
    /// let client = reqwest::Client::new();
    /// let request = client
    ///     .post("https://api.openai.com/v1/chat/completions")
    ///     .bearer_auth(std::env::var("OPENAI_API_KEY")?)
    ///     .json(&json!({
    ///         "model": "gpt-4o-mini",
    ///         "messages": [{"role": "user", "content": "One word for 'loop'?"}],
    ///     }))
    ///     .build()?;
    /// let response = http_guard.execute(&client, request).await?;
    /// println!("{}", response.text().await?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ExchangeError`]: unguardable or refused (nothing sent), or failed
    /// in transport or unreadable once sent (the error says what was billed).
    pub async fn execute(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, ExchangeError> {
        self.exchange(request, |request| client.execute(request))
            .await
    }

    /// One guarded exchange, steps 1 to 6 of the module documentation:
    /// `request` checked, rewritten and handed to `send`, and the response
    /// settled.
    ///
    /// # Errors
    /// [`ExchangeError`]: unguardable or refused (nothing sent), or failed
    /// in transport or unreadable once sent (the error says what was billed).
    pub(crate) async fn exchange<F, Fut, E>(
        &self,
        request: reqwest::Request,
        send: F,
    ) -> Result<reqwest::Response, ExchangeError>
    where
        F: FnOnce(reqwest::Request) -> Fut,
        Fut: Future<Output = Result<reqwest::Response, E>>,
        E: TransportError,
    {
        let config = &*self.inner;
        let unguardable = |reason: Unguardable| ExchangeError::Unguardable {
            method: request.method().as_str().to_owned(),
            path: request.url().path().to_owned(),
            reason,
        };
        let route = match route::route(request.method(), request.url(), config.provider) {
            Ok(route) => route,
            Err(reason) if reason.is_other_route() && config.pass_unguarded => {
                return send(request)
                    .await
                    .map_err(|error| ExchangeError::Transport(error.into()));
            }
            Err(reason) => return Err(unguardable(reason)),
        };
        let (body, stream) = request::read_body(&request, &route).map_err(unguardable)?;
        let key = request::api_key(&request);
        let provider = route.provider;
        let (mut sent, mut transport, mut answered) = (false, None, None);
        let (sent_flag, transport_slot, answered_slot) = (&mut sent, &mut transport, &mut answered);
        let key = &key;
        let counter = config.engine.counter;
        // Anthropic's 1M-token window is opted into per request, by header.
        let long_context = request
            .headers()
            .get_all("anthropic-beta")
            .iter()
            .any(|value| {
                value
                    .to_str()
                    .is_ok_and(|value| asks_for_long_context("anthropic-beta", value))
            });
        let result = config
            .engine
            .call(
                provider,
                &config.budget,
                Request::Body {
                    body: &body,
                    stream,
                    long_context,
                },
                move |outgoing| {
                    let request = request::rewrite(request, &route, &outgoing);
                    *sent_flag = true;
                    async move {
                        match send(request).await {
                            Err(error) => {
                                Err(transport_failure(provider, error, key, transport_slot))
                            }
                            Ok(response) if !response.status().is_success() => {
                                let error = provider_failure(provider, &response);
                                *answered_slot = Some(response);
                                Err(Failure::Unbilled(error))
                            }
                            Ok(response) => {
                                HttpAnswer::read(response, stream, counter, key.as_ref()).await
                            }
                        }
                    }
                },
            )
            .await;
        if let Some(response) = answered {
            return Ok(response);
        }
        match result {
            Ok(response) => Ok(response),
            Err(error) if sent => Err(ExchangeError::Failed {
                error,
                source: transport,
            }),
            Err(error) => Err(ExchangeError::Refused(error)),
        }
    }
}

/// A transport's `error` as the engine's failure (kept in `slot` for the
/// caller), its text with the request's key cut out.
fn transport_failure<E: TransportError>(
    provider: Provider,
    error: E,
    key: &Option<crate::client::ApiKey>,
    slot: &mut Option<BoxError>,
) -> Failure {
    let never_sent = error.never_sent();
    let error: BoxError = error.into();
    let chain = error_chain(&*error);
    let detail = key
        .as_ref()
        .map_or_else(|| chain.clone(), |key| key.redact(&chain));
    *slot = Some(error);
    if never_sent {
        Failure::Unbilled(ClientError::Unreachable { provider, detail })
    } else {
        Failure::Interrupted(detail)
    }
}

/// A status that is not a success, as the engine's unbilled failure; the
/// body is left for the caller, who gets the response as it came.
fn provider_failure(provider: Provider, response: &reqwest::Response) -> ClientError {
    let retry_after = crate::client::response::retry_after(response.headers(), SystemClock.now());
    let message = "the answer was passed on to the caller unread".to_owned();
    ClientError::from_status(provider, response.status().as_u16(), retry_after, message)
}

impl HttpGuardBuilder {
    /// Guards requests to this provider's API only; others are
    /// [`Unguardable::UnknownPath`]. Needed for an OpenAI-compatible server
    /// ([`Provider::OpenAiCompatible`]: its `…/chat/completions` is sent
    /// `max_tokens`); without it the path says which API a request is to.
    pub fn provider(mut self, provider: Provider) -> Self {
        self.provider = Some(provider);
        self
    }

    /// The price table calls are priced by (default: the bundled one).
    pub fn prices(mut self, prices: Arc<PriceTable>) -> Self {
        self.engine.prices = Some(prices);
        self
    }

    /// The token counter prompts are counted with.
    pub fn token_counter(mut self, counter: TokenCounter) -> Self {
        self.engine.counter = counter;
        self
    }

    /// Shared limits, kill switch, runaway detection and alerts every call
    /// also goes through, as for a [`GuardedClient`](crate::client::GuardedClient)
    /// given the same [`SpendGuard`].
    pub fn guard(mut self, guard: SpendGuard) -> Self {
        self.engine.guard = Some(guard);
        self
    }

    /// Writes one ledger line per call; see [`ledger`](crate::ledger).
    pub fn ledger(mut self, sink: Arc<dyn LedgerSink>) -> Self {
        self.engine.ledger.sink(sink);
        self
    }

    /// Opt-in: each ledger line also carries the request's fingerprint.
    pub fn ledger_request_hashes(mut self, on: bool) -> Self {
        self.engine.ledger.request_hashes(on);
        self
    }

    /// A label for the API key the requests carry (never the key itself),
    /// which every call carries as its [`TagKind::Key`](crate::tags::TagKind::Key)
    /// tag, so per-key caps apply.
    pub fn key_label(mut self, label: impl AsRef<str>) -> Self {
        self.engine.tags = std::mem::take(&mut self.engine.tags).key(label);
        self
    }

    /// How far a provider's own cost may differ from the table's (default 5%).
    pub fn price_drift_tolerance(mut self, tolerance: DriftTolerance) -> Self {
        self.engine.drift_tolerance = tolerance;
        self
    }

    /// Opt-in: requests that are no model call the guard knows (another
    /// method, such as `GET /v1/models`, or another path, such as files or
    /// embeddings) are passed on unchecked and uncounted instead of refused.
    /// A model call whose body the guard cannot read is refused either way.
    pub fn pass_unguarded(mut self, on: bool) -> Self {
        self.pass_unguarded = on;
        self
    }

    /// Builds the guard.
    pub fn build(self) -> HttpGuard {
        let engine = self.engine.build();
        HttpGuard {
            inner: Arc::new(Config {
                budget: self.budget,
                engine,
                provider: self.provider,
                pass_unguarded: self.pass_unguarded,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
