//! The guarded-call engine: one call's whole pipeline, written once, that
//! every front end drives ([`GuardedClient`](crate::client::GuardedClient)'s
//! `send`, `stream` and retries, and [`SpendGuard::step`](crate::guard::SpendGuard::step)).
//!
//! It knows nothing of HTTP. Its input is a provider flavour, a request (a
//! JSON body, or a call its caller describes) and a way to send; its output
//! is the provider's answer, whole or as a metered stream, and a receipt.
//! [`Engine::call`] runs, in this order:
//!
//! 1. **who**: the call's tags (the budget's, with the front end's key
//!    label) and the recorder of its ledger line;
//! 2. **degrade**: a cheaper model, when the shared limits run low;
//! 3. **plan** (`plan`): the request's facts, the output ceiling, the prompt
//!    count (its cheap bound, far from the task budget's limits), and the
//!    task budget's reservation;
//! 4. **hold** (`hold`): the kill switch, runaway detection and every shared
//!    limit, all or none with the task's reservation; a bound is held only
//!    far from every shared limit too, else the prompt is counted exactly
//!    and both are reserved again at the exact worst case;
//! 5. **send**: the front end's transport, given the [`Outgoing`] request;
//! 6. **settle** ([`Answer`]): from the usage the provider reported, or an
//!    estimate that says why (`settle`); a stream is settled as it ends
//!    (`stream`); a failure is released or billed at its worst case
//!    ([`Failure`]);
//! 7. **circuit breaker** and **shared limits** settled, and the **ledger**
//!    line written (`open_call`).
//!
//! The whole call runs in its telemetry (`client::telemetry`): one span
//! from step 1 until it settles, a stream's until the stream ends, and its
//! metrics as it is admitted and as it ends.

mod context;
mod hold;
mod open_call;
mod plan;
pub(crate) mod request;
#[cfg(feature = "client")]
mod settings;
mod settle;
#[cfg(feature = "client")]
pub(crate) mod stream;

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use crate::budget::TaskBudget;
use crate::client::drift::DriftTolerance;
use crate::client::error::ClientError;
use crate::client::provider::Provider;
use crate::client::recorder::{CallRecorder, Ledger};
use crate::client::telemetry::CallTelemetry;
use crate::guard::runaway::RequestFingerprint;
use crate::guard::{Degraded, SpendGuard};
use crate::prices::PriceTable;
use crate::tags::Tags;
use crate::tokens::{CountCache, InputCalibration, TokenCounter};

#[cfg(feature = "client")]
pub(crate) use context::asks_for_long_context;
pub(crate) use open_call::OpenCall;
#[cfg(all(test, feature = "client"))]
pub(crate) use plan::prepare;
pub(crate) use plan::PreparedCall;
#[cfg(feature = "client")]
pub(crate) use settings::EngineSettings;
#[cfg(feature = "client")]
pub(crate) use settle::implausible;

/// What a front end's calls share: prices, the prompt counter and its
/// cache, the shared limits, the ledger and the front end's own tags.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    pub(crate) prices: Arc<PriceTable>,
    pub(crate) counter: TokenCounter,
    /// Message counts shared by every clone, so a resent history is not
    /// tokenized again on each call.
    pub(crate) counts: Arc<CountCache>,
    /// How far providers' input counts ran past the estimates, per model:
    /// one for the whole process, so every front end learns from every
    /// settlement.
    pub(crate) calibration: Arc<InputCalibration>,
    /// Shared limits, kill switch and alerts, if any.
    pub(crate) guard: Option<SpendGuard>,
    /// Where each call's decision is written, if anywhere.
    pub(crate) ledger: Option<Ledger>,
    /// Tags every call carries (a key label).
    pub(crate) tags: Tags,
    /// How far the provider's own cost may differ from the table's.
    pub(crate) drift_tolerance: DriftTolerance,
}

/// The request a call is guarded by.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Request<'a> {
    /// A provider request body: its facts are read, its output limit
    /// written, its prompt counted and, for runaway detection, fingerprinted.
    Body {
        /// The body as its caller wrote it.
        body: &'a Value,
        /// The call is to be streamed.
        stream: bool,
        /// The request asks for Anthropic's 1M-token window (its
        /// `anthropic-beta: context-1m-…` header).
        long_context: bool,
    },
    /// A call its caller describes, with no body to read.
    Described(&'a Described),
}

impl<'a> Request<'a> {
    /// The model the request names, if it names one (a Gemini body names
    /// it in its URL).
    fn model(self) -> Option<&'a str> {
        match self {
            Request::Body { body, .. } => body.get("model").and_then(Value::as_str),
            Request::Described(described) => Some(&described.model),
        }
    }
}

/// A call described rather than given as a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Described {
    pub(crate) model: String,
    pub(crate) prompt_tokens: u64,
    pub(crate) max_output_tokens: Option<u64>,
    pub(crate) fingerprint: Option<RequestFingerprint>,
}

/// Which attempt of one logical call a call is. Only the `client`
/// feature's retries make more than one.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The call itself.
    First,
    /// A retry of it, after a failure nothing was billed for.
    Retry,
}

impl Attempt {
    /// Attempt number `number`, counting from 1.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) const fn from_number(number: u32) -> Attempt {
        if number <= 1 {
            Attempt::First
        } else {
            Attempt::Retry
        }
    }
}

/// What the transport sends: the model (after any degrade), the output
/// limit granted, the call's tags and, for a body, the body to send.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) model: String,
    pub(crate) max_output_tokens: u64,
    pub(crate) tags: Tags,
    /// The body with the output limit written in (and a stream asked for);
    /// `None` for a described call.
    pub(crate) body: Option<Value>,
}

/// How a send failed, which decides what it is billed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The request never reached the provider, or the provider refused or
    /// failed it with a status: nothing is billed; the error says which.
    Unbilled(ClientError),
    /// It failed once it may have reached the provider (a timeout, a broken
    /// connection, an unreadable answer): billed at its worst case.
    Interrupted(String),
}

/// What a transport got back, and how it settles its call.
pub(crate) trait Answer: Sized {
    /// What the caller receives.
    type Guarded;

    /// Settles `call` from this answer (or hands `call` to a stream that
    /// settles as it ends).
    fn settle(
        self,
        call: OpenCall,
    ) -> impl Future<Output = Result<Self::Guarded, ClientError>> + Send;
}

/// A whole answer's body: JSON with a usage report, settled from it.
#[cfg(feature = "client")]
pub(crate) struct JsonAnswer<B>(pub(crate) B);

#[cfg(feature = "client")]
impl<B: AsRef<[u8]> + Send> Answer for JsonAnswer<B> {
    type Guarded = (Value, crate::client::receipt::CallReceipt);

    async fn settle(self, call: OpenCall) -> Result<Self::Guarded, ClientError> {
        call.settle_json(self.0.as_ref()).await
    }
}

impl Engine {
    /// An engine with a prompt-count cache of its own, the process's input
    /// calibration, and the listed context windows.
    pub(crate) fn new(
        prices: Arc<PriceTable>,
        counter: TokenCounter,
        guard: Option<SpendGuard>,
        ledger: Option<Ledger>,
        tags: Tags,
        drift_tolerance: DriftTolerance,
    ) -> Engine {
        Engine {
            prices,
            counter,
            counts: Arc::new(CountCache::new()),
            calibration: InputCalibration::shared(),
            guard,
            ledger,
            tags,
            drift_tolerance,
        }
    }

    /// One guarded call, steps 1 to 7 of the module documentation.
    ///
    /// # Errors
    /// [`ClientError`]: refused or unreadable before sending (nothing
    /// sent), or the send's [`Failure`], released or billed.
    pub(crate) async fn call<A, F, Fut>(
        &self,
        provider: Provider,
        budget: &TaskBudget,
        request: Request<'_>,
        send: F,
    ) -> Result<A::Guarded, ClientError>
    where
        A: Answer,
        F: FnOnce(Outgoing) -> Fut,
        Fut: Future<Output = Result<A, Failure>>,
    {
        self.attempt(provider, budget, request, Attempt::First, send)
            .await
    }

    /// [`call`](Self::call) as attempt `attempt` of one logical call: a
    /// retry is reserved, counted and sent like any call, but the loop
    /// detector has already seen the call it repeats.
    pub(crate) async fn attempt<A, F, Fut>(
        &self,
        provider: Provider,
        budget: &TaskBudget,
        request: Request<'_>,
        attempt: Attempt,
        send: F,
    ) -> Result<A::Guarded, ClientError>
    where
        A: Answer,
        F: FnOnce(Outgoing) -> Fut,
        Fut: Future<Output = Result<A, Failure>>,
    {
        let mut telemetry = CallTelemetry::start(provider, budget, request.model(), || {
            budget.tags().or(&self.tags)
        });
        let scope = telemetry.scope();
        scope
            .instrument(async move {
                let (call, outgoing) = match self.admit(provider, budget, request, attempt).await {
                    Ok(admitted) => admitted,
                    Err(error) => {
                        telemetry.failed(&error);
                        return Err(error);
                    }
                };
                let call = call.observed_by(telemetry);
                match send(outgoing).await {
                    Ok(answer) => answer.settle(call).await,
                    Err(failure) => Err(call.fail(failure).await),
                }
            })
            .await
    }

    /// Steps 1 to 4: the call reserved everywhere, or refused with its
    /// ledger line written and nothing held.
    async fn admit(
        &self,
        provider: Provider,
        budget: &TaskBudget,
        request: Request<'_>,
        attempt: Attempt,
    ) -> Result<(OpenCall, Outgoing), ClientError> {
        let tags = budget.tags().or(&self.tags);
        let recorder = self.recorder(provider, &tags, request);
        match self
            .admit_for(provider, budget, tags, request, attempt)
            .await
        {
            Ok((call, outgoing)) => Ok((call.recorded_by(recorder), outgoing)),
            Err(error) => {
                if let Some(recorder) = &recorder {
                    recorder.failed(&error);
                }
                Err(error)
            }
        }
    }

    async fn admit_for(
        &self,
        provider: Provider,
        budget: &TaskBudget,
        tags: Tags,
        request: Request<'_>,
        attempt: Attempt,
    ) -> Result<(OpenCall, Outgoing), ClientError> {
        let (request, degraded) = self.degrade(&tags, request).await?;
        let call = plan::prepare(self, provider, budget, &tags, request.as_ref())?;
        // A retry is the call it repeats, not another copy of it: only the
        // first attempt is shown to the loop detector.
        let fingerprint = |model: &str| match attempt {
            Attempt::First => request.fingerprint(model),
            Attempt::Retry => None,
        };
        let (call, hold) =
            hold::shared(self.guard.as_ref(), budget, &tags, fingerprint, call).await?;
        Ok(OpenCall::admitted(
            provider,
            call,
            hold,
            self.guard.clone(),
            tags,
            degraded,
            self.drift_tolerance,
        ))
    }

    /// Step 2: the request to plan, itself or, when the shared limits run
    /// low and degrade its model, a copy asking for the cheaper one.
    async fn degrade<'r>(
        &self,
        tags: &Tags,
        request: Request<'r>,
    ) -> Result<(Planned<'r>, Option<Degraded>), ClientError> {
        let planned = Planned::from(request);
        let Some(guard) = &self.guard else {
            return Ok((planned, None));
        };
        let Some(model) = planned.model() else {
            return Ok((planned, None));
        };
        match guard.degrade(tags, model).await? {
            Some(degraded) => Ok((planned.with_model(&degraded.to), Some(degraded))),
            None => Ok((planned, None)),
        }
    }

    /// What writes this call's ledger line, if the front end keeps a ledger.
    fn recorder(
        &self,
        provider: Provider,
        tags: &Tags,
        request: Request<'_>,
    ) -> Option<CallRecorder> {
        let ledger = self.ledger.as_ref()?;
        let (model, body) = match request {
            Request::Body { body, .. } => (
                body.get("model")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                Cow::Borrowed(body),
            ),
            Request::Described(described) => (
                described.model.as_str(),
                Cow::Owned(Value::String(described.model.clone())),
            ),
        };
        Some(CallRecorder::new(
            ledger,
            provider,
            model,
            &body,
            tags.clone(),
            self.guard.as_ref(),
        ))
    }
}

/// The request as it is planned: after any degrade, a body may be a copy.
#[derive(Debug, Clone)]
enum Planned<'r> {
    Body {
        body: Cow<'r, Value>,
        stream: bool,
        long_context: bool,
    },
    Described(Cow<'r, Described>),
}

impl<'r> From<Request<'r>> for Planned<'r> {
    fn from(request: Request<'r>) -> Self {
        match request {
            Request::Body {
                body,
                stream,
                long_context,
            } => Planned::Body {
                body: Cow::Borrowed(body),
                stream,
                long_context,
            },
            Request::Described(described) => Planned::Described(Cow::Borrowed(described)),
        }
    }
}

impl Planned<'_> {
    /// The request, borrowed for planning.
    fn as_ref(&self) -> Request<'_> {
        match self {
            Planned::Body {
                body,
                stream,
                long_context,
            } => Request::Body {
                body,
                stream: *stream,
                long_context: *long_context,
            },
            Planned::Described(described) => Request::Described(described),
        }
    }

    fn model(&self) -> Option<&str> {
        match self {
            Planned::Body { body, .. } => body.get("model").and_then(Value::as_str),
            Planned::Described(described) => Some(&described.model),
        }
    }

    fn with_model(self, model: &str) -> Self {
        match self {
            Planned::Body {
                body,
                stream,
                long_context,
            } => {
                let mut cheaper = body.into_owned();
                cheaper["model"] = Value::String(model.to_owned());
                Planned::Body {
                    body: Cow::Owned(cheaper),
                    stream,
                    long_context,
                }
            }
            Planned::Described(described) => {
                let mut cheaper = described.into_owned();
                cheaper.model = model.to_owned();
                Planned::Described(Cow::Owned(cheaper))
            }
        }
    }

    /// The request's fingerprint for loop detection, if it has one.
    fn fingerprint(&self, model: &str) -> Option<RequestFingerprint> {
        match self {
            Planned::Body { body, .. } => Some(RequestFingerprint::of(model, body)),
            Planned::Described(described) => described.fingerprint,
        }
    }
}
