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

mod api_key;
mod drift;
mod error;
mod provider;
mod receipt;
mod recorder;
mod request;
mod response;
mod retry;
mod stream;
mod unpriced_tier;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub use api_key::ApiKey;
pub use drift::{DriftTolerance, PriceDrift};
pub use error::{ClientError, CutOffReason};
pub use provider::Provider;
pub use receipt::{CallReceipt, CostSource};
pub use retry::{Jitter, RetryPolicy, RetryPolicyError};
pub use stream::{GuardedStream, StreamEvent};

use crate::budget::{CallPlan, Reservation, TaskBudget};
use crate::clock::{Clock, SystemClock};
use crate::guard::runaway::RequestFingerprint;
use crate::guard::{Degraded, SharedHold, SpendGuard};
use crate::ledger::LedgerSink;
use crate::money::Usd;
use crate::prices::{PriceTable, Resolved};
use crate::tags::Tags;
use crate::tokens::{CountCache, TokenCount, TokenCounter};
use recorder::{CallRecorder, Ledger};
use request::RequestFacts;

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
    http: reqwest::Client,
    provider: Provider,
    base_url: String,
    /// Headers added to each request: `None` when the HTTP client was built
    /// here and already sends them by default (no copy per call).
    per_request_headers: Option<HeaderMap>,
    api_key: Option<ApiKey>,
    prices: Arc<PriceTable>,
    counter: TokenCounter,
    /// Message counts shared by every clone, so a resent history is not
    /// tokenized again on each call.
    counts: Arc<CountCache>,
    /// Shared limits, kill switch and alerts, if any.
    guard: Option<SpendGuard>,
    /// Where each call's decision is written, if anywhere.
    ledger: Option<Ledger>,
    /// Tags every call carries (the key label).
    tags: Tags,
    /// How far the provider's own cost may differ from the table's.
    drift_tolerance: DriftTolerance,
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
    prices: Option<Arc<PriceTable>>,
    counter: TokenCounter,
    timeout: Duration,
    http: Option<reqwest::Client>,
    guard: Option<SpendGuard>,
    tags: Tags,
    ledger: Option<Ledger>,
    drift_tolerance: DriftTolerance,
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
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The price table calls are priced by (default: the bundled one).
    pub fn prices(mut self, prices: Arc<PriceTable>) -> Self {
        self.prices = Some(prices);
        self
    }

    /// How far a provider's own cost (xAI, OpenRouter, Perplexity report
    /// one) may differ from the price table's before the call is marked
    /// with a [`PriceDrift`] (default 5%). The call is settled at the
    /// higher of the two either way.
    pub fn price_drift_tolerance(mut self, tolerance: DriftTolerance) -> Self {
        self.drift_tolerance = tolerance;
        self
    }

    /// The token counter prompts are counted with (to tune estimate margins).
    pub fn token_counter(mut self, counter: TokenCounter) -> Self {
        self.counter = counter;
        self
    }

    /// How long a whole call may take (default ten minutes). A call that
    /// times out after it was sent is billed at its worst case.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
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
        self.guard = Some(guard);
        self
    }

    /// Writes one ledger line per call: allowed (with tokens and cost),
    /// refused and by which limit, cut off, killed, runaway, or failed. See
    /// [`ledger`](crate::ledger). Keys, prompts and answers never enter it.
    pub fn ledger(mut self, sink: Arc<dyn LedgerSink>) -> Self {
        let request_hashes = self.ledger.as_ref().is_some_and(|l| l.request_hashes);
        self.ledger = Some(Ledger {
            sink,
            request_hashes,
        });
        self
    }

    /// Opt-in: each ledger line also carries the request's fingerprint (a
    /// 64-bit hash of the model and body, as loop detection sees it), so
    /// repeated requests can be found. The body itself never enters it.
    pub fn ledger_request_hashes(mut self, on: bool) -> Self {
        if let Some(ledger) = &mut self.ledger {
            ledger.request_hashes = on;
        }
        self
    }

    /// A label for this client's API key (`prod-1`, `team-a`; never the key
    /// itself), which its calls carry as their [`TagKind::Key`](crate::tags::TagKind::Key)
    /// tag, so per-key caps apply.
    pub fn key_label(mut self, label: impl AsRef<str>) -> Self {
        self.tags = std::mem::take(&mut self.tags).key(label);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ClientConfigError`] for a header HTTP cannot carry or an HTTP
    /// client that cannot be set up.
    pub fn build(self) -> Result<GuardedClient, ClientConfigError> {
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
        let (http, per_request_headers) = match self.http {
            Some(http) => (http, Some(headers)),
            None => (
                reqwest::Client::builder()
                    .timeout(self.timeout)
                    .default_headers(headers)
                    .build()
                    .map_err(|e| ClientConfigError::Http(e.to_string()))?,
                None,
            ),
        };
        Ok(GuardedClient {
            http,
            provider: self.provider,
            base_url: self.base_url,
            per_request_headers,
            api_key: self.api_key,
            prices: self.prices.unwrap_or_else(PriceTable::bundled),
            counter: self.counter,
            counts: Arc::new(CountCache::new()),
            guard: self.guard,
            tags: self.tags,
            ledger: self.ledger,
            drift_tolerance: self.drift_tolerance,
        })
    }
}

/// A call that passed its budget check and is about to be sent.
pub(crate) struct PreparedCall {
    pub(crate) reservation: Reservation,
    /// The model the request names.
    pub(crate) model: String,
    pub(crate) resolved: Resolved,
    pub(crate) prompt: TokenCount,
    pub(crate) url: String,
    pub(crate) wire_body: Value,
    /// A streamed call will end with a usage report (it was not turned off).
    pub(crate) reports_usage: bool,
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
            prices: None,
            counter: TokenCounter::new(),
            timeout: DEFAULT_TIMEOUT,
            http: None,
            guard: None,
            tags: Tags::new(),
            ledger: None,
            drift_tolerance: DriftTolerance::DEFAULT,
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
        let tags = self.call_tags(budget);
        let recorder = self.recorder(&tags, body);
        let outcome = self.send_guarded(budget, &tags, body).await;
        if let Some(recorder) = recorder {
            match &outcome {
                Ok(answer) => recorder.settled(&answer.receipt, None),
                Err(error) => recorder.failed(error),
            }
        }
        outcome
    }

    /// The tags a call under `budget` carries: the budget's, with this
    /// client's key label.
    pub(crate) fn call_tags(&self, budget: &TaskBudget) -> Tags {
        budget.tags().or(&self.tags)
    }

    /// What writes this call's ledger line, if the client keeps a ledger.
    pub(crate) fn recorder(&self, tags: &Tags, body: &Value) -> Option<CallRecorder> {
        let ledger = self.ledger.as_ref()?;
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Some(CallRecorder::new(
            ledger,
            self.provider,
            model,
            body,
            tags.clone(),
            self.guard.as_ref(),
        ))
    }

    async fn send_guarded(
        &self,
        budget: &TaskBudget,
        tags: &Tags,
        body: &Value,
    ) -> Result<GuardedResponse, ClientError> {
        let (body, degraded) = self.degrade(tags, body).await?;
        let call = self.prepare(budget, &body, false)?;
        let (call, hold) = self.hold_shared(tags, &body, call).await?;
        let mut outcome = self.send_prepared(call).await;
        self.record_outcome(tags, outcome.as_ref().map(|_| ()));
        settle_shared(hold, outcome.as_ref().map(|answer| answer.receipt.cost)).await;
        if let Ok(answer) = &mut outcome {
            answer.receipt.degraded = degraded;
        }
        outcome
    }

    /// Tells runaway detection how a sent call ended: answered, or failed
    /// with a status. Calls that never got a status are not counted.
    pub(crate) fn record_outcome(&self, tags: &Tags, outcome: Result<(), &ClientError>) {
        let Some(guard) = &self.guard else {
            return;
        };
        let status = match outcome {
            Ok(()) => None,
            Err(error) => match error.status() {
                Some(status) => Some(status),
                None => return,
            },
        };
        guard.record_outcome(tags, status);
    }

    /// The body to send: `body` itself, or, when the shared limits run low
    /// and degrade its model, a copy asking for the cheaper one.
    pub(crate) async fn degrade<'b>(
        &self,
        tags: &Tags,
        body: &'b Value,
    ) -> Result<(Cow<'b, Value>, Option<Degraded>), ClientError> {
        let Some(guard) = &self.guard else {
            return Ok((Cow::Borrowed(body), None));
        };
        let Some(model) = body.get("model").and_then(Value::as_str) else {
            return Ok((Cow::Borrowed(body), None));
        };
        match guard.degrade(tags, model).await? {
            Some(degraded) => {
                let mut cheaper = body.clone();
                cheaper["model"] = Value::String(degraded.to.clone());
                Ok((Cow::Owned(cheaper), Some(degraded)))
            }
            None => Ok((Cow::Borrowed(body), None)),
        }
    }

    async fn send_prepared(&self, call: PreparedCall) -> Result<GuardedResponse, ClientError> {
        let (call, response) = self.dispatch(call, None).await?;
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return Err(self.transport_failure(call.reservation, &error)),
        };
        let (body, receipt) = self.settle_json(call, &bytes)?;
        Ok(GuardedResponse { body, receipt })
    }

    /// Reserves the call's worst case against the shared limits too, if the
    /// client has any; a refusal releases the task's reservation.
    pub(crate) async fn hold_shared(
        &self,
        tags: &Tags,
        body: &Value,
        call: PreparedCall,
    ) -> Result<(PreparedCall, Option<SharedHold>), ClientError> {
        let Some(guard) = &self.guard else {
            return Ok((call, None));
        };
        let request = guard
            .detects_runaways()
            .then(|| RequestFingerprint::of(&call.model, body));
        let worst_case = call.reservation.reserved_cost();
        match guard.reserve_request(tags, request, worst_case).await {
            Ok(hold) => Ok((call, Some(hold))),
            Err(refusal) => {
                call.reservation.release();
                Err(refusal.into())
            }
        }
    }

    /// Reads a whole JSON answer and settles the call from its usage; an
    /// answer that is not JSON was still sent, so it bills the worst case.
    pub(crate) fn settle_json(
        &self,
        call: PreparedCall,
        bytes: &[u8],
    ) -> Result<(Value, CallReceipt), ClientError> {
        let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
            return Err(self.interrupted(call.reservation, "the response body is not JSON".into()));
        };
        let receipt = response::settle(
            self.provider,
            call.reservation,
            &call.resolved,
            call.prompt,
            &body,
            self.drift_tolerance,
        );
        Ok((body, receipt))
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

    /// Sends a prepared call. A successful response comes back with the
    /// call; a failure is a typed error, its reservation released or billed
    /// as the failure warrants.
    pub(crate) async fn dispatch(
        &self,
        call: PreparedCall,
        accept: Option<HeaderValue>,
    ) -> Result<(PreparedCall, reqwest::Response), ClientError> {
        let mut request = self.http.post(&call.url).json(&call.wire_body);
        if let Some(headers) = &self.per_request_headers {
            request = request.headers(headers.clone());
        }
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Err(self.transport_failure(call.reservation, &error)),
        };
        if !response.status().is_success() {
            return Err(self.provider_failure(call.reservation, response).await);
        }
        Ok((call, response))
    }

    /// Checks `body` against `budget` and reserves its worst case; with
    /// `stream`, the request asks for a stream.
    pub(crate) fn prepare(
        &self,
        budget: &TaskBudget,
        body: &Value,
        stream: bool,
    ) -> Result<PreparedCall, ClientError> {
        let RequestFacts {
            model,
            max_output_tokens,
            service_tier,
            cache_write,
        } = request::read_facts(self.provider, body)?;
        if !stream && body.get("stream") == Some(&Value::Bool(true)) {
            // The answer would be an event stream `send` cannot read, and a
            // call it cannot read is billed at its worst case.
            return Err(ClientError::InvalidRequest {
                field: "stream",
                problem: "is true: send streamed calls with `GuardedClient::stream`, which \
                          accounts for them as they arrive"
                    .into(),
            });
        }
        let reports_usage = !stream || request::stream_reports_usage(self.provider, body)?;
        let resolved = self.prices.resolve(&model)?;
        let prompt = self.counter.count_request_cached(
            &model,
            &request::countable_body(self.provider, body),
            &self.counts,
        )?;
        let mut plan =
            CallPlan::new(resolved.price(), prompt.tokens).with_service_tier(service_tier);
        if let Some(tokens) = max_output_tokens {
            plan = plan.with_max_output_tokens(tokens);
        }
        if let Some(cache) = cache_write {
            plan = plan.with_cache_write(cache);
        }
        let reservation = budget.reserve(plan)?;
        let mut wire_body =
            request::wire_body(self.provider, body, reservation.max_output_tokens());
        if stream {
            request::ask_to_stream(self.provider, &mut wire_body, reports_usage);
        }
        Ok(PreparedCall {
            url: self.provider.endpoint(&self.base_url, &model, stream),
            model,
            reservation,
            resolved,
            prompt,
            wire_body,
            reports_usage,
        })
    }

    /// `text` with the API key cut out, for errors that quote the provider.
    pub(crate) fn redact(&self, text: &str) -> String {
        self.api_key
            .as_ref()
            .map_or_else(|| text.to_owned(), |key| key.redact(text))
    }

    /// A request that failed in transport: released if it never left this
    /// machine, billed at its worst case if it may have reached the provider.
    pub(crate) fn transport_failure(
        &self,
        reservation: Reservation,
        error: &reqwest::Error,
    ) -> ClientError {
        let detail = self.redact(&error_chain(error));
        if error.is_connect() || error.is_builder() {
            reservation.release();
            return ClientError::Unreachable {
                provider: self.provider,
                detail,
            };
        }
        self.interrupted(reservation, detail)
    }

    pub(crate) fn interrupted(&self, reservation: Reservation, detail: String) -> ClientError {
        let billed = reservation.reserved_cost();
        drop(reservation);
        ClientError::Interrupted {
            provider: self.provider,
            detail,
            billed,
        }
    }

    /// A non-success status: the reservation is released (providers do not
    /// bill refused or failed calls) and the status becomes a typed error.
    pub(crate) async fn provider_failure(
        &self,
        reservation: Reservation,
        response: reqwest::Response,
    ) -> ClientError {
        reservation.release();
        let status = response.status().as_u16();
        let retry_after = response::retry_after(response.headers(), SystemClock.now());
        let text = response.text().await.unwrap_or_default();
        let message = self.redact(&response::error_message(&text));
        let provider = self.provider;
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
}

/// Settles a call's shared hold from how the call ended: its cost, or
/// what a failure was billed (nothing, for a refused or rejected call).
///
/// A store that cannot record the settlement leaves the worst case held,
/// which the limits count just the same; the call's own result stands.
pub(crate) async fn settle_shared(hold: Option<SharedHold>, outcome: Result<Usd, &ClientError>) {
    let Some(hold) = hold else {
        return;
    };
    let billed = match outcome {
        Ok(cost) => cost,
        Err(error) => error.billed(),
    };
    let _ = if billed.is_zero() && outcome.is_err() {
        hold.release().await
    } else {
        hold.settle(billed).await
    };
}

/// An error and its causes on one line, e.g. `error sending request: connection closed`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
