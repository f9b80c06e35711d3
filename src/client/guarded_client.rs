//! [`GuardedClient`] and its builder: the HTTP front end of the
//! guarded-call engine.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::budget::TaskBudget;
use crate::client::engine::stream::DEFAULT_IDLE_TIMEOUT;
#[cfg(test)]
use crate::client::engine::{self, PreparedCall};
use crate::client::engine::{Attempt, Engine, EngineSettings, JsonAnswer, Request};
use crate::client::{ApiKey, CallReceipt, ClientError, DriftTolerance, Provider};
use crate::guard::SpendGuard;
use crate::ledger::LedgerSink;
use crate::prices::PriceTable;
use crate::tokens::TokenCounter;

/// The Anthropic API version sent when none is configured.
const ANTHROPIC_VERSION: &str = "2023-06-01";
/// How long a call may take, headers and body, when no timeout is configured.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// An HTTP client for one provider whose every call passes a budget check.
///
/// Cheap to clone; clones share the connection pool and price table.
///
/// ```no_run
/// use serde_json::json;
/// use spendguard::client::{ApiKey, GuardedClient, Provider};
/// use spendguard::{TaskBudget, Usd};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = GuardedClient::builder(Provider::OpenAiChat)
///     .api_key(ApiKey::from_env("OPENAI_API_KEY").ok_or("OPENAI_API_KEY is not set")?)
///     .build()?;
/// let budget = TaskBudget::new(Usd::from_dollars(2.00)?);
/// let answer = client
///     .send(&budget, &json!({
///         "model": "gpt-4o-mini",
///         "messages": [{"role": "user", "content": "One word for 'loop'?"}],
///     }))
///     .await?;
/// println!("{} — {}", answer.body["choices"][0]["message"]["content"], answer.receipt);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct GuardedClient {
    pub(super) http: reqwest::Client,
    pub(super) provider: Provider,
    pub(super) base_url: String,
    /// Headers added to each request: `None` when the HTTP client was built
    /// here and already sends them by default (no copy per call).
    pub(super) per_request_headers: Option<HeaderMap>,
    pub(super) api_key: Option<ApiKey>,
    /// How long a call may take before its answer starts (a whole answer,
    /// for a call that is not streamed); `None` when the HTTP client was
    /// given, whose own timeout applies.
    pub(super) timeout: Option<Duration>,
    /// How long a stream may go without bytes; `None` for never.
    pub(super) idle_timeout: Option<Duration>,
    /// Prices, prompt counts, shared limits, ledger and the key label: the
    /// guarded-call engine every call runs through.
    pub(super) engine: Engine,
    /// Its requests ask for Anthropic's 1M-token window: one of its headers
    /// is `anthropic-beta: context-1m-…`.
    pub(super) long_context: bool,
}

/// A provider's answer to a guarded call.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GuardedResponse {
    /// The response body, exactly as the provider sent it.
    pub body: Value,
    /// What the call cost.
    pub receipt: CallReceipt,
}

/// A client configuration that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigError {
    /// A header name or value that HTTP does not allow.
    #[error("header `{name}` cannot be sent: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// The HTTP client could not be built (for example, TLS setup failed).
    #[error("the HTTP client could not be built: {0}")]
    Http(String),
    /// A timeout of zero would end every call at once.
    #[error("the {which} cannot be zero; leave it at its default, or turn the idle timeout off with `None`")]
    ZeroTimeout {
        /// Which timeout: `timeout` or `idle timeout`.
        which: &'static str,
    },
}

/// Builds a [`GuardedClient`]; start with [`GuardedClient::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct GuardedClientBuilder {
    provider: Provider,
    base_url: String,
    api_key: Option<ApiKey>,
    api_key_header: Option<String>,
    headers: Vec<(String, String)>,
    engine: EngineSettings,
    timeout: Duration,
    idle_timeout: Option<Duration>,
    http: Option<reqwest::Client>,
}

impl GuardedClientBuilder {
    /// The provider's base URL (default: its public API; for
    /// [`Provider::OpenAiCompatible`], the URL up to and including the
    /// version, e.g. `https://openrouter.ai/api/v1`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The API key, sent in the provider's usual header.
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// Sends the key in this header, as is, instead of the provider's usual
    /// one (Azure OpenAI: `api-key`).
    pub fn api_key_header(mut self, name: impl Into<String>) -> Self {
        self.api_key_header = Some(name.into());
        self
    }

    /// An extra header on every request (a gateway route, an API version).
    ///
    /// `anthropic-beta: context-1m-2025-08-07` (Anthropic's 1M-token
    /// context window) also lets a prompt past the model's listed window
    /// through, when the price table prices it at a long-context rate.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The price table calls are priced by (default: the bundled one).
    pub fn prices(mut self, prices: Arc<PriceTable>) -> Self {
        self.engine.prices = Some(prices);
        self
    }

    /// How far a provider's own cost (xAI, OpenRouter, Perplexity report
    /// one) may differ from the price table's before the call is marked
    /// with a [`PriceDrift`](crate::client::PriceDrift) (default 5%). The
    /// call is settled at the higher of the two either way.
    pub fn price_drift_tolerance(mut self, tolerance: DriftTolerance) -> Self {
        self.engine.drift_tolerance = tolerance;
        self
    }

    /// The token counter prompts are counted with (to tune estimate margins).
    pub fn token_counter(mut self, counter: TokenCounter) -> Self {
        self.engine.counter = counter;
        self
    }

    /// How long a call may take (default ten minutes): a whole call, or a
    /// stream until its answer starts, after which the
    /// [`idle_timeout`](Self::idle_timeout) watches it, so a healthy stream
    /// runs as long as it keeps sending. A call that times out after it was
    /// sent is billed at its worst case. With
    /// [`http_client`](Self::http_client), that client's own timeout applies
    /// instead.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a stream may go without a byte before it is given up
    /// (default five minutes, long enough for a reasoning model that
    /// streams nothing while it thinks; `None` waits as long as the
    /// connection lasts). A stream given up ends with
    /// [`ClientError::StreamEndedEarly`] and is billed from what was
    /// counted. Keep-alive comments and pings count as bytes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use spendguard::client::{GuardedClient, Provider};
    ///
    /// let client = GuardedClient::builder(Provider::OpenAiChat)
    ///     .idle_timeout(Some(Duration::from_secs(30)))
    ///     .build()?;
    /// assert!(GuardedClient::builder(Provider::OpenAiChat)
    ///     .idle_timeout(Some(Duration::ZERO))
    ///     .build()
    ///     .is_err());
    /// # let _ = client;
    /// # Ok::<(), spendguard::client::ClientConfigError>(())
    /// ```
    pub fn idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Uses this `reqwest` client (its own timeout and proxy settings apply).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Shared limits, kill switch and alerts every call also goes through:
    /// each call reserves its worst case in the [`SpendGuard`] as well as
    /// in its [`TaskBudget`], tagged with the budget's
    /// [`tags`](TaskBudget::tags) and this client's [`key_label`](Self::key_label).
    pub fn guard(mut self, guard: SpendGuard) -> Self {
        self.engine.guard = Some(guard);
        self
    }

    /// Writes one ledger line per call: allowed (with tokens and cost),
    /// refused and by which limit, cut off, killed, runaway, or failed. See
    /// [`ledger`](crate::ledger). Keys, prompts and answers never enter it.
    pub fn ledger(mut self, sink: Arc<dyn LedgerSink>) -> Self {
        self.engine.ledger.sink(sink);
        self
    }

    /// Opt-in: each ledger line also carries the request's fingerprint (a
    /// 64-bit hash of the model and body, as loop detection sees it), so
    /// repeated requests can be found. The body itself never enters it.
    pub fn ledger_request_hashes(mut self, on: bool) -> Self {
        self.engine.ledger.request_hashes(on);
        self
    }

    /// A label for this client's API key (`prod-1`, `team-a`; never the key
    /// itself), which its calls carry as their [`TagKind::Key`](crate::tags::TagKind::Key)
    /// tag, so per-key caps apply.
    pub fn key_label(mut self, label: impl AsRef<str>) -> Self {
        self.engine.tags = std::mem::take(&mut self.engine.tags).key(label);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ClientConfigError`] for a header HTTP cannot carry or an HTTP
    /// client that cannot be set up.
    pub fn build(self) -> Result<GuardedClient, ClientConfigError> {
        if self.timeout.is_zero() {
            return Err(ClientConfigError::ZeroTimeout { which: "timeout" });
        }
        if self.idle_timeout.is_some_and(|idle| idle.is_zero()) {
            return Err(ClientConfigError::ZeroTimeout {
                which: "idle timeout",
            });
        }
        let long_context = self
            .headers
            .iter()
            .any(|(name, value)| crate::client::engine::asks_for_long_context(name, value));
        let mut headers = HeaderMap::new();
        let mut insert = |name: &str, value: &str, sensitive: bool| {
            let invalid = |reason: String| ClientConfigError::InvalidHeader {
                name: name.to_owned(),
                reason,
            };
            let header_name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            let mut header_value = HeaderValue::from_str(value).map_err(|_| {
                invalid("its value has characters HTTP headers cannot carry".into())
            })?;
            header_value.set_sensitive(sensitive);
            headers.insert(header_name, header_value);
            Ok::<(), ClientConfigError>(())
        };
        if self.provider == Provider::Anthropic {
            insert("anthropic-version", ANTHROPIC_VERSION, false)?;
        }
        for (name, value) in &self.headers {
            insert(name, value, false)?;
        }
        if let Some(key) = &self.api_key {
            match (&self.api_key_header, self.provider) {
                (Some(custom), _) => insert(custom, key.expose(), true)?,
                (None, Provider::Anthropic) => insert("x-api-key", key.expose(), true)?,
                (None, Provider::Gemini) => insert("x-goog-api-key", key.expose(), true)?,
                (None, _) => insert("authorization", &format!("Bearer {}", key.expose()), true)?,
            }
        }
        // The deadline is set per request, not on the HTTP client, where it
        // would cover a stream's whole body and cut off a healthy stream.
        let (http, per_request_headers, timeout) = match self.http {
            Some(http) => (http, Some(headers), None),
            None => (
                reqwest::Client::builder()
                    .default_headers(headers)
                    .build()
                    .map_err(|e| ClientConfigError::Http(e.to_string()))?,
                None,
                Some(self.timeout),
            ),
        };
        Ok(GuardedClient {
            http,
            provider: self.provider,
            base_url: self.base_url,
            per_request_headers,
            api_key: self.api_key,
            timeout,
            idle_timeout: self.idle_timeout,
            engine: self.engine.build(),
            long_context,
        })
    }
}

impl GuardedClient {
    /// Starts configuring a client for `provider`.
    pub fn builder(provider: Provider) -> GuardedClientBuilder {
        GuardedClientBuilder {
            provider,
            base_url: provider.default_base_url().to_owned(),
            api_key: None,
            api_key_header: None,
            headers: Vec::new(),
            engine: EngineSettings::default(),
            timeout: DEFAULT_TIMEOUT,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            http: None,
        }
    }

    /// The provider this client speaks to.
    pub const fn provider(&self) -> Provider {
        self.provider
    }

    /// Sends `body` under `budget` and returns the provider's answer with
    /// its receipt.
    ///
    /// # Errors
    /// [`ClientError`]: refused by the budget, unpriceable or malformed
    /// request (nothing sent), rejected or failed at the provider (nothing
    /// billed), or interrupted after sending (billed at the worst case).
    pub async fn send(
        &self,
        budget: &TaskBudget,
        body: &Value,
    ) -> Result<GuardedResponse, ClientError> {
        self.send_attempt(budget, body, 1).await
    }

    /// [`send`](GuardedClient::send) as attempt `attempt` (from 1) of one call.
    pub(crate) async fn send_attempt(
        &self,
        budget: &TaskBudget,
        body: &Value,
        attempt: u32,
    ) -> Result<GuardedResponse, ClientError> {
        let request = Request::Body {
            body,
            stream: false,
            long_context: self.long_context,
        };
        let (body, receipt) = self
            .engine
            .attempt(
                self.provider,
                budget,
                request,
                Attempt::from_number(attempt),
                |outgoing| async move {
                    let response = self.post(&outgoing, false).await?;
                    match response.bytes().await {
                        Ok(bytes) => Ok(JsonAnswer(bytes)),
                        Err(error) => Err(self.transport_failure(&error)),
                    }
                },
            )
            .await?;
        Ok(GuardedResponse { body, receipt })
    }

    /// [`send`](GuardedClient::send) with typed request and response
    /// structs; fields your types do not name are not kept.
    ///
    /// # Errors
    /// As [`send`](GuardedClient::send), plus [`ClientError::InvalidRequest`]
    /// if the request does not serialise to a JSON object. A response that
    /// does not fit `Resp` is [`ClientError::Interrupted`]: it was settled
    /// from its usage first, so its cost is already counted.
    pub async fn send_typed<Req, Resp>(
        &self,
        budget: &TaskBudget,
        request: &Req,
    ) -> Result<(Resp, CallReceipt), ClientError>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
    {
        let body = serde_json::to_value(request).map_err(|e| ClientError::InvalidRequest {
            field: "body",
            problem: format!("could not be serialised: {e}"),
        })?;
        let answer = self.send(budget, &body).await?;
        match serde_json::from_value(answer.body) {
            Ok(typed) => Ok((typed, answer.receipt)),
            Err(e) => Err(ClientError::Interrupted {
                provider: self.provider,
                detail: format!("the response does not fit the requested type: {e}"),
                billed: answer.receipt.cost,
            }),
        }
    }

    /// Checks `body` against `budget` alone and reserves its worst case;
    /// with `stream`, the request asks for a stream.
    #[cfg(test)]
    pub(crate) fn prepare(
        &self,
        budget: &TaskBudget,
        body: &Value,
        stream: bool,
    ) -> Result<PreparedCall, ClientError> {
        engine::prepare(
            &self.engine,
            self.provider,
            budget,
            &budget.tags().or(&self.engine.tags),
            Request::Body {
                body,
                stream,
                long_context: self.long_context,
            },
        )
    }
}
