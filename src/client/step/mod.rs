//! [`SpendGuard::step`]: a guarded step, for a call made by any other
//! client (genai, rig without the middleware, a hand-written client, a
//! local server), with everything a [`GuardedClient`](crate::client::GuardedClient)
//! call gets: the task budget and the shared limits held all or none, the
//! kill switch, runaway detection, the circuit breaker and the ledger.

mod failure;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

pub use failure::{HttpFailure, StepFailure};

use crate::budget::TaskBudget;
use crate::client::drift::DriftTolerance;
use crate::client::engine::{Answer, Described, Engine, Failure, OpenCall, Outgoing, Request};
use crate::client::error::ClientError;
use crate::client::provider::Provider;
use crate::client::receipt::CallReceipt;
use crate::client::recorder::Ledger;
use crate::guard::runaway::RequestFingerprint;
use crate::guard::SpendGuard;
use crate::ledger::LedgerSink;
use crate::money::Usd;
use crate::prices::PriceTable;
use crate::tags::Tags;
use crate::tokens::{CountCache, TokenCounter};
use crate::usage::{Usage, UsageReport};

impl SpendGuard {
    /// Starts a guarded step under `budget` and this guard, for a call to
    /// `provider`'s API made by your own client; see [`GuardedStep`].
    ///
    /// ```
    /// use serde_json::json;
    /// use spendguard::client::{HttpFailure, Provider};
    /// use spendguard::{SpendGuard, TaskBudget, Usage, Usd};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let guard = SpendGuard::builder().build()?;
    /// let budget = TaskBudget::new(Usd::from_dollars(1.00)?);
    /// let request = json!({
    ///     "model": "gpt-4o-mini",
    ///     "messages": [{"role": "user", "content": "One word for 'loop'?"}],
    /// });
    /// let (answer, receipt) = guard
    ///     .step(&budget, Provider::OpenAiChat)
    ///     .body(&request)
    ///     .run(|grant| async move {
    ///         // Send `grant.body` (the output ceiling written in) with your
    ///         // client, or your own request with `grant.max_output_tokens`.
    ///         assert!(grant.max_output_tokens > 0);
    ///         Ok::<_, HttpFailure>(("cycle", Usage::new(14, 1)))
    ///     })
    ///     .await?;
    /// assert_eq!(answer, "cycle");
    /// assert!(receipt.is_reported());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn step<'a>(&'a self, budget: &'a TaskBudget, provider: Provider) -> GuardedStep<'a> {
        GuardedStep {
            guard: self,
            budget,
            provider,
            input: StepInput::Missing,
            prices: None,
            ledger: None,
            tags: Tags::new(),
        }
    }
}

/// A guarded step being configured; start with [`SpendGuard::step`], give
/// it the request ([`body`](Self::body), [`body_bytes`](Self::body_bytes)
/// or [`prompt_tokens`](Self::prompt_tokens)), then [`run`](Self::run) it.
///
/// The step runs only if its worst case fits the task budget and every
/// shared limit, the kill switch is not tripped and runaway detection lets
/// it through; a request the guard cannot read (not JSON, an unknown
/// model) is refused too. The step gets a [`GuardedGrant`] and returns the
/// provider's [`Usage`], from which the call is settled; usage reporting 0
/// input tokens for a prompt that was not empty is not believed, and the
/// guard's estimate is billed instead. A failed step is billed as its
/// [`StepFailure`] says; a step whose future is dropped before it ends
/// (cancelled, or a panic) is billed its worst case, as a dropped
/// [`Reservation`](crate::budget::Reservation) is.
#[derive(Debug)]
#[must_use = "a step does nothing until `run` is called"]
pub struct GuardedStep<'a> {
    guard: &'a SpendGuard,
    budget: &'a TaskBudget,
    provider: Provider,
    input: StepInput<'a>,
    prices: Option<Arc<PriceTable>>,
    ledger: Option<Ledger>,
    tags: Tags,
}

/// The request a step is guarded by.
#[derive(Debug)]
enum StepInput<'a> {
    Missing,
    Body(&'a Value),
    Bytes(Result<Value, String>),
    Described(Described),
}

/// What a guarded step may use: pass it on to the provider call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GuardedGrant {
    /// The model to call: the one asked for, or the cheaper one the shared
    /// limits degraded it to ([`Degrade`](crate::guard::Degrade)).
    pub model: String,
    /// The output limit (`max_tokens`) to send the request with.
    pub max_output_tokens: u64,
    /// Who the call is for: the budget's tags and the step's key label.
    pub tags: Tags,
    /// For a step given its body: the body to send, as a
    /// [`GuardedClient`](crate::client::GuardedClient) would send it (the
    /// output limit written in, a degraded model swapped in).
    pub body: Option<Value>,
}

/// A guarded step that did not produce a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardedStepError<E> {
    /// The guard refused the step, or could not read its request: the step
    /// never ran and nothing was billed.
    #[error(transparent)]
    Refused(ClientError),
    /// The step ran and failed.
    #[error("the guarded step failed: {error}; it was billed {billed}")]
    Step {
        /// The step's own error.
        #[source]
        error: E,
        /// What it was billed: nothing if it failed with an HTTP status,
        /// else its worst case.
        billed: Usd,
    },
}

impl<'a> GuardedStep<'a> {
    /// The provider request body (JSON): its model, output limit and
    /// service tier are read, its prompt counted and, for runaway
    /// detection, fingerprinted.
    pub fn body(mut self, body: &'a Value) -> Self {
        self.input = StepInput::Body(body);
        self
    }

    /// The provider request body as bytes, as your client would send them;
    /// bytes that are not JSON refuse the step.
    pub fn body_bytes(mut self, bytes: &[u8]) -> Self {
        self.input =
            StepInput::Bytes(serde_json::from_slice(bytes).map_err(|error| error.to_string()));
        self
    }

    /// For a step without a body: the model and the prompt's size in
    /// tokens, counted by you. The output limit is the budget's ceiling
    /// unless [`max_output_tokens`](Self::max_output_tokens) asks for less.
    pub fn prompt_tokens(mut self, model: impl Into<String>, tokens: u64) -> Self {
        let max_output_tokens = match &self.input {
            StepInput::Described(described) => described.max_output_tokens,
            _ => None,
        };
        self.input = StepInput::Described(Described {
            model: model.into(),
            prompt_tokens: tokens,
            max_output_tokens,
            fingerprint: None,
        });
        self
    }

    /// For a step without a body: the output it asks for (a body says so
    /// itself).
    pub fn max_output_tokens(mut self, tokens: u64) -> Self {
        if let StepInput::Described(described) = &mut self.input {
            described.max_output_tokens = Some(tokens);
        }
        self
    }

    /// For a step without a body: its request's fingerprint, so that
    /// repeating it is caught as a loop (a body is fingerprinted itself).
    pub fn fingerprint(mut self, fingerprint: RequestFingerprint) -> Self {
        if let StepInput::Described(described) = &mut self.input {
            described.fingerprint = Some(fingerprint);
        }
        self
    }

    /// The price table the step is priced by (default: the bundled one).
    pub fn prices(mut self, prices: Arc<PriceTable>) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Writes the step's decision to `sink`: allowed (with tokens and
    /// cost), refused and by which limit, killed, runaway, or failed.
    pub fn ledger(mut self, sink: Arc<dyn LedgerSink>) -> Self {
        self.ledger = Some(Ledger {
            sink,
            request_hashes: false,
        });
        self
    }

    /// A label for the API key the step uses (never the key itself), which
    /// it carries as its [`TagKind::Key`](crate::tags::TagKind::Key) tag.
    pub fn key_label(mut self, label: impl AsRef<str>) -> Self {
        self.tags = std::mem::take(&mut self.tags).key(label);
        self
    }

    /// Runs `step` if the guard allows it, and settles the call from the
    /// usage it returns; see [`GuardedStep`].
    ///
    /// # Errors
    /// [`GuardedStepError::Refused`] when the guard refuses the step or
    /// cannot read its request (the step never runs);
    /// [`GuardedStepError::Step`] when the step fails.
    pub async fn run<T, E, F, Fut>(self, step: F) -> Result<(T, CallReceipt), GuardedStepError<E>>
    where
        F: FnOnce(GuardedGrant) -> Fut,
        Fut: Future<Output = Result<(T, Usage), E>>,
        T: Send,
        E: StepFailure + Send,
    {
        let mut engine = Engine::new(
            self.prices.unwrap_or_else(PriceTable::bundled),
            TokenCounter::new(),
            Some(self.guard.clone()),
            self.ledger,
            self.tags,
            DriftTolerance::DEFAULT,
        );
        // Steps are built per call: one cache for all of them.
        engine.counts = step_counts();
        let request = match &self.input {
            StepInput::Body(body) => Request::Body {
                body,
                stream: false,
                long_context: false,
            },
            StepInput::Bytes(Ok(body)) => Request::Body {
                body,
                stream: false,
                long_context: false,
            },
            StepInput::Bytes(Err(problem)) => {
                return Err(GuardedStepError::Refused(ClientError::InvalidRequest {
                    field: "body",
                    problem: format!("is not JSON ({problem})"),
                }))
            }
            StepInput::Described(described) => Request::Described(described),
            StepInput::Missing => {
                return Err(GuardedStepError::Refused(ClientError::InvalidRequest {
                    field: "body",
                    problem: "was not given: pass the step its request body, or its model \
                              and prompt token count"
                        .into(),
                }))
            }
        };
        let ran = engine
            .call(self.provider, self.budget, request, |outgoing| async move {
                Ok(StepAnswer(step(grant(outgoing)).await))
            })
            .await;
        match ran {
            Ok(Ok(done)) => Ok(done),
            Ok(Err((error, billed))) => Err(GuardedStepError::Step { error, billed }),
            Err(refused) => Err(GuardedStepError::Refused(refused)),
        }
    }
}

/// The message counts every step in the process shares, so an agent that
/// resends its growing history step after step tokenizes only what is new
/// (a step is built for one call, so it cannot keep a cache of its own).
fn step_counts() -> Arc<CountCache> {
    static COUNTS: OnceLock<Arc<CountCache>> = OnceLock::new();
    Arc::clone(COUNTS.get_or_init(|| Arc::new(CountCache::new())))
}

fn grant(outgoing: Outgoing) -> GuardedGrant {
    GuardedGrant {
        model: outgoing.model,
        max_output_tokens: outgoing.max_output_tokens,
        tags: outgoing.tags,
        body: outgoing.body,
    }
}

/// What a step returned.
struct StepAnswer<T, E>(Result<(T, Usage), E>);

impl<T: Send, E: StepFailure + Send> Answer for StepAnswer<T, E> {
    type Guarded = Result<(T, CallReceipt), (E, Usd)>;

    async fn settle(self, call: OpenCall) -> Result<Self::Guarded, ClientError> {
        match self.0 {
            Ok((value, usage)) => {
                let receipt = call.settle_report(Ok(UsageReport::from(usage))).await;
                Ok(Ok((value, receipt)))
            }
            Err(error) => {
                let failure = match error.http_status() {
                    // A status below 400 answered the call: it may be billed.
                    Some(status) if status >= 400 => Failure::Unbilled(ClientError::from_status(
                        call.provider(),
                        status,
                        None,
                        error.to_string(),
                    )),
                    _ => Failure::Interrupted(error.to_string()),
                };
                let billed = call.fail(failure).await.billed();
                Ok(Err((error, billed)))
            }
        }
    }
}
