//! [`GuardedStream`]: a streamed (server-sent events) call that is metered
//! as it arrives, can be cut off mid-way, and is never recorded as free.
//! The rules are on [`GuardedStream`], where users read them.
//!
//! - `sse`: the event-stream decoder, fed the body in network-sized pieces;
//! - `events`: what each provider's events say (output text, usage, the
//!   last event);
//! - `meter`: the running account (output counted lazily, usage reported
//!   so far) and the cut-off tests;
//! - here: the [`Stream`], settlement and the caller-facing errors.

mod events;
mod meter;
mod sse;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use futures_util::TryStreamExt;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde_json::Value;

use crate::budget::{Reservation, TaskBudget};
use crate::client::error::{ClientError, CutOffReason};
use crate::client::provider::Provider;
use crate::client::receipt::{CallReceipt, CostSource};
use crate::client::recorder::CallRecorder;
use crate::client::response::Pricing;
use crate::client::{
    error_chain, response, settle_shared, DriftTolerance, GuardedClient, PreparedCall,
};
use crate::guard::{Degraded, SharedHold, SpendGuard};
use crate::money::Usd;
use crate::prices::Resolved;
use crate::tags::Tags;
use crate::tokens::TokenCount;
use crate::usage::{ServiceTier, Usage, UsageReport};
use meter::Meter;
use sse::SseDecoder;

/// A response body as the network delivers it; errors are already
/// described (with any API key cut out).
pub(crate) type Body = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// One event of a provider's stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamEvent {
    /// The SSE `event:` name, when the provider sends one (Anthropic and
    /// OpenAI Responses do; OpenAI Chat and Gemini do not).
    pub event: Option<String>,
    /// The event's `data:`, as the provider sent it.
    pub data: Value,
}

/// A guarded streamed call: a [`Stream`] of the provider's events, from
/// [`GuardedClient::stream`].
///
/// Each `data:` line is parsed and yielded as a [`StreamEvent`] (OpenAI's
/// `data: [DONE]` ends the stream and is not yielded). The stream ends with
/// `None` after the provider's last event, or with one error when the guard
/// cut it off or it ended early; either way [`receipt`](GuardedStream::receipt)
/// then says what it cost. It owns a handle on its budget rather than
/// borrowing it, so it can be moved into a spawned task or returned from a
/// handler; the handle costs two reference-count increments per call.
///
/// # What is counted
///
/// The output text of each event is counted with the model's encoding
/// (o200k_base plus the family's margin for models whose tokenizer is not
/// public):
///
/// | API | Output text | Usage | Last event |
/// |---|---|---|---|
/// | OpenAI Chat, compatible | `choices[].delta`: `content`, `refusal`, `reasoning_content` / `reasoning`, `audio.transcript`, `tool_calls[].function` `name` and `arguments` | a non-null `usage` | `data: [DONE]` |
/// | OpenAI Responses | `delta` of `response.output_text.delta`, `.refusal.delta`, `.function_call_arguments.delta`, `.reasoning_text.delta`, `.reasoning_summary_text.delta` and other text deltas | `response.usage` of the last event | `response.completed`, `.incomplete`, `.failed` |
/// | Anthropic | `content_block_delta`: `text`, `partial_json`, `thinking` | `message_start`, then the cumulative `message_delta` | `message_stop` |
/// | Gemini | `candidates[].content.parts[]`: `text` (thoughts too), `functionCall`, `executableCode` | cumulative `usageMetadata` | a `finishReason`, or a blocked prompt |
///
/// Text is counted in batches, not chunk by chunk: until its count matters it
/// is only kept, and its byte length bounds its token count (no token is
/// shorter than a byte). Where a count splits a word the word is counted in
/// two pieces, which can only count more. Hidden reasoning (OpenAI's
/// reasoning tokens, thinking that Claude or Gemini stream only as a
/// summary) is not in the text; the provider's report, when it comes,
/// includes it.
///
/// # When a stream is cut off
///
/// The guard stops reading, drops the connection (which tells the provider
/// to stop generating) and settles, and the stream ends with
/// [`ClientError::StreamCutOff`] right after the event that tipped it:
///
/// 1. **The provider ignores the output limit**: the output counted so far,
///    or the output the provider itself reports (Anthropic's cumulative
///    `message_delta`, Gemini's cumulative `usageMetadata`), whichever is
///    larger, passes the granted `max_tokens` by more than a quarter of it,
///    and by more than 32 tokens. The slack absorbs the difference between
///    the counting encoding and the model's own tokenizer: a provider that
///    honours its limit never reaches it.
/// 2. **The budget can no longer cover the stream**: each time the output
///    may have grown by 256 tokens (256 bytes of text, or 256 reported
///    tokens), the budget is asked whether it still covers this call at what
///    it has used so far, counting every other call as it stands
///    ([`Reservation::check_progress`](crate::budget::Reservation::check_progress)).
///    While the stream stays within its reservation this fails only if
///    another call's bill ran over its own reservation and took the budget
///    past its dollar or token limit; the stream then stops before adding
///    more.
///
/// # What it is billed
///
/// | How the stream ends | Billed | The stream's last item |
/// |---|---|---|
/// | The last event, with a readable usage report | the report ([`CostSource::Reported`]) | the last event |
/// | The last event, with no report (OpenAI Chat with `include_usage: false`, a server that sends none), an unreadable one, or one claiming 0 input tokens | the guard's count | the last event; the receipt says why it is estimated |
/// | The body ends before the last event, or the connection breaks | the guard's count | [`ClientError::StreamEndedEarly`] |
/// | A `data:` line is not JSON: reading stops there, while the provider may still be generating | the prompt and the full output limit | [`ClientError::StreamEndedEarly`] |
/// | Cut off | the guard's count | [`ClientError::StreamCutOff`] |
/// | Dropped, or [`cancel`](GuardedStream::cancel)led, before the end | the guard's count | none: the caller stopped reading |
///
/// The guard's count is the prompt (the provider's own input counts if it
/// reported any before the stream stopped, else the prompt estimate) plus
/// the larger of the output counted and the output reported so far, marked
/// [`CostSource::Estimated`]. It is never $0.
///
/// A stream the caller stops reading is billed from this count rather than
/// at its worst case, unlike a dropped [`Reservation`]: the caller has read
/// the output and the guard has counted it. Output the provider generates
/// between the last chunk read and noticing the closed connection is not
/// seen.
///
/// A server that answers a stream request with a whole JSON body is settled
/// as [`GuardedClient::send`] settles it, and the body is the stream's one
/// event.
#[must_use = "a stream does nothing unless polled; dropped, it is settled from what it counted"]
pub struct GuardedStream {
    /// `None` once reading has stopped: dropping it closes the connection.
    body: Option<Body>,
    decoder: SseDecoder,
    account: StreamAccount,
    /// The item to yield before anything else: the error that ends a
    /// stream cut off after its last event, or a whole JSON answer.
    queued: Option<Result<StreamEvent, ClientError>>,
    /// The call's hold on the shared limits, until it is settled.
    shared: Option<SharedHold>,
    /// The shared settlement under way, finished before the last item.
    settling: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

/// Everything about the call but the bytes.
struct StreamAccount {
    provider: Provider,
    meter: Meter,
    state: CallState,
    reports_usage: bool,
    /// Events decoded so far.
    events: u64,
    /// Shared limits, whose halt stops the stream.
    spend_guard: Option<SpendGuard>,
    /// Set when the call was sent to a cheaper model.
    degraded: Option<Degraded>,
    /// Writes the call's ledger line when it settles.
    recorder: Option<CallRecorder>,
}

enum CallState {
    Open(OpenCall),
    // Boxed: a receipt is several times the size of an open call.
    Settled(Box<CallReceipt>),
}

struct OpenCall {
    reservation: Reservation,
    resolved: Resolved,
    prompt: TokenCount,
    drift_tolerance: DriftTolerance,
}

/// How a stream ended.
enum Ending {
    /// The provider's last event came, then the body ended (or `[DONE]`).
    Finished,
    /// Reading stopped before the provider's last event.
    Broken(String),
    /// Reading stopped at a garbled event while the provider may still be
    /// generating: nothing tells how much more it writes before it notices.
    Garbled(String),
    /// The guard stopped it.
    CutOff(CutOffReason),
    /// The caller stopped reading.
    Cancelled,
}

/// What one event leads to.
enum Step {
    Yield(StreamEvent),
    YieldThenStop(StreamEvent, Ending),
    Stop(Ending),
}

impl GuardedClient {
    /// Sends `body` under `budget` as a streamed call and returns the
    /// provider's events as they arrive; see [`GuardedStream`].
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use serde_json::json;
    /// use spendguard::client::{ApiKey, GuardedClient, Provider};
    /// use spendguard::{TaskBudget, Usd};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = GuardedClient::builder(Provider::Anthropic)
    ///     .api_key(ApiKey::from_env("ANTHROPIC_API_KEY").ok_or("ANTHROPIC_API_KEY is not set")?)
    ///     .build()?;
    /// let budget = TaskBudget::new(Usd::from_dollars(1.00)?);
    /// let mut stream = client
    ///     .stream(&budget, &json!({
    ///         "model": "claude-sonnet-4-5",
    ///         "max_tokens": 1024,
    ///         "messages": [{"role": "user", "content": "Write a haiku about budgets."}],
    ///     }))
    ///     .await?;
    /// while let Some(event) = stream.next().await {
    ///     let event = event?; // cut off, or ended early: already billed
    ///     if let Some(text) = event.data.pointer("/delta/text").and_then(|t| t.as_str()) {
    ///         print!("{text}");
    ///     }
    /// }
    /// println!("\n{}", stream.receipt().ok_or("not settled")?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`send`](GuardedClient::send) before the stream starts: refused
    /// by the budget, unpriceable or malformed request (nothing sent;
    /// `stream_options` must be an object), rejected or failed at the
    /// provider (nothing billed), or a failure once sent (billed at the
    /// worst case). Errors after it starts are the stream's last item.
    pub async fn stream(
        &self,
        budget: &TaskBudget,
        body: &Value,
    ) -> Result<GuardedStream, ClientError> {
        let tags = self.call_tags(budget);
        let recorder = self.recorder(&tags, body);
        match self.stream_guarded(budget, &tags, body).await {
            Ok(mut stream) => {
                match &stream.account.state {
                    CallState::Settled(receipt) => {
                        if let Some(recorder) = &recorder {
                            recorder.settled(receipt, None);
                        }
                    }
                    CallState::Open(_) => stream.account.recorder = recorder,
                }
                Ok(stream)
            }
            Err(error) => {
                if let Some(recorder) = &recorder {
                    recorder.failed(&error);
                }
                Err(error)
            }
        }
    }

    async fn stream_guarded(
        &self,
        budget: &TaskBudget,
        tags: &Tags,
        body: &Value,
    ) -> Result<GuardedStream, ClientError> {
        let (body, degraded) = self.degrade(tags, body).await?;
        let call = self.prepare(budget, &body, true)?;
        let (call, hold) = self.hold_shared(tags, &body, call).await?;
        let opened = self.open_stream(call).await;
        self.record_outcome(tags, opened.as_ref().map(|_| ()));
        match opened {
            Ok(mut stream) => {
                stream.account.degraded = degraded;
                Ok(stream.share(hold, self.guard.clone()).await)
            }
            Err(error) => {
                settle_shared(hold, Err(&error)).await;
                Err(error)
            }
        }
    }

    async fn open_stream(&self, call: PreparedCall) -> Result<GuardedStream, ClientError> {
        let accept = HeaderValue::from_static("text/event-stream");
        let (call, response) = self.dispatch(call, Some(accept)).await?;
        if is_json(response.headers().get(CONTENT_TYPE)) {
            return match response.bytes().await {
                Ok(bytes) => self.whole_answer(call, &bytes),
                Err(error) => Err(self.transport_failure(call.reservation, &error)),
            };
        }
        let api_key = self.api_key.clone();
        let body = response.bytes_stream().map_err(move |error| {
            let detail = error_chain(&error);
            match &api_key {
                Some(key) => key.redact(&detail),
                None => detail,
            }
        });
        Ok(self.guard_stream(call, Box::pin(body)))
    }

    /// A stream over `body`, accounted against `call`.
    pub(crate) fn guard_stream(&self, call: PreparedCall, body: Body) -> GuardedStream {
        let meter = Meter::new(
            self.counter,
            &call.model,
            call.reservation.max_output_tokens(),
        );
        GuardedStream {
            body: Some(body),
            decoder: SseDecoder::new(),
            account: StreamAccount {
                provider: self.provider,
                meter,
                state: CallState::Open(OpenCall {
                    reservation: call.reservation,
                    resolved: call.resolved,
                    prompt: call.prompt,
                    drift_tolerance: self.drift_tolerance,
                }),
                reports_usage: call.reports_usage,
                events: 0,
                spend_guard: None,
                degraded: None,
                recorder: None,
            },
            queued: None,
            shared: None,
            settling: None,
        }
    }

    /// A stream request answered with a whole JSON body: settled as `send`
    /// settles it, and yielded as the stream's only event.
    fn whole_answer(&self, call: PreparedCall, bytes: &[u8]) -> Result<GuardedStream, ClientError> {
        let model = call.model.clone();
        let reports_usage = call.reports_usage;
        let (body, receipt) = self.settle_json(call, bytes)?;
        let meter = Meter::new(self.counter, &model, 0);
        Ok(GuardedStream {
            body: None,
            decoder: SseDecoder::new(),
            account: StreamAccount {
                provider: self.provider,
                meter,
                state: CallState::Settled(Box::new(receipt)),
                reports_usage,
                events: 1,
                spend_guard: None,
                degraded: None,
                recorder: None,
            },
            queued: Some(Ok(StreamEvent {
                event: None,
                data: body,
            })),
            shared: None,
            settling: None,
        })
    }
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

impl GuardedStream {
    /// What the call cost, once it has been settled: after the stream's
    /// last item, or after a cut-off.
    pub fn receipt(&self) -> Option<&CallReceipt> {
        match &self.account.state {
            CallState::Settled(receipt) => Some(receipt),
            CallState::Open(_) => None,
        }
    }

    /// What the call has cost so far: the receipt's cost once settled,
    /// before that the prompt plus the output counted so far, priced.
    ///
    /// It counts any output not yet counted, so it costs a tokenizer pass
    /// over the text since the last count (hence `&mut`); each piece of
    /// text is tokenized only once however often this is called.
    pub fn cost_so_far(&mut self) -> Usd {
        match &self.account.state {
            CallState::Settled(receipt) => receipt.cost,
            CallState::Open(call) => call
                .reservation
                .price()
                .cost(&self.account.meter.usage_counted(call.prompt)),
        }
    }

    /// Stops reading, closes the connection and settles the call from what
    /// was counted so far (see the module documentation); returns its
    /// receipt. A stream that has already ended just returns its receipt.
    /// Dropping the stream does the same, without the receipt.
    pub fn cancel(mut self) -> CallReceipt {
        self.body = None;
        self.account.close(Ending::Cancelled).0
    }

    /// Settles the call on `ending` and stops reading; the error the caller
    /// is to see last, if any. The shared hold's settlement starts here and
    /// is finished by the next poll, before the stream's last item.
    fn stop(&mut self, ending: Ending) -> Option<ClientError> {
        self.body = None;
        let (receipt, error) = self.account.close(ending);
        if let Some(hold) = self.shared.take() {
            self.settling = Some(Box::pin(async move {
                // A store that cannot record it leaves the worst case held.
                let _ = hold.settle(receipt.cost).await;
            }));
        }
        error
    }

    /// Gives the stream its hold on the shared limits, settling it at once
    /// if the call is already settled (a whole JSON answer).
    async fn share(mut self, hold: Option<SharedHold>, spend_guard: Option<SpendGuard>) -> Self {
        self.account.spend_guard = spend_guard;
        match &mut self.account.state {
            CallState::Settled(receipt) => {
                receipt.degraded = self.account.degraded.clone();
                settle_shared(hold, Ok(receipt.cost)).await;
            }
            CallState::Open(_) => self.shared = hold,
        }
        self
    }
}

impl Stream for GuardedStream {
    type Item = Result<StreamEvent, ClientError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(settling) = this.settling.as_mut() {
                if settling.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.settling = None;
            }
            if let Some(item) = this.queued.take() {
                return Poll::Ready(Some(item));
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            if let Some(event) = this.decoder.next_event() {
                match this.account.read(event.event, event.data) {
                    Step::Yield(event) => return Poll::Ready(Some(Ok(event))),
                    Step::YieldThenStop(event, ending) => {
                        this.queued = this.stop(ending).map(Err);
                        return Poll::Ready(Some(Ok(event)));
                    }
                    Step::Stop(ending) => this.queued = this.stop(ending).map(Err),
                }
                continue;
            }
            let ending = match body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => {
                    this.decoder.push(&bytes);
                    continue;
                }
                Poll::Ready(Some(Err(detail))) => {
                    Ending::Broken(format!("the connection failed: {detail}"))
                }
                Poll::Ready(None) => this
                    .account
                    .end_of_body(this.decoder.has_partial_event(), "the body ended"),
            };
            this.queued = this.stop(ending).map(Err);
        }
    }
}

impl FusedStream for GuardedStream {
    fn is_terminated(&self) -> bool {
        self.body.is_none() && self.queued.is_none() && self.settling.is_none()
    }
}

impl Drop for GuardedStream {
    fn drop(&mut self) {
        if matches!(self.account.state, CallState::Open(_)) {
            self.stop(Ending::Cancelled);
        }
        if let Some(settling) = self.settling.take() {
            // Without a runtime the hold is dropped unsettled, which bills
            // its worst case: more than was counted, never less.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(settling);
            }
        }
    }
}

impl fmt::Debug for GuardedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedStream")
            .field("provider", &self.account.provider)
            .field("reading", &self.body.is_some())
            .field("events", &self.account.events)
            .field("receipt", &self.receipt())
            .finish_non_exhaustive()
    }
}

impl StreamAccount {
    /// Takes in one decoded event.
    fn read(&mut self, name: Option<String>, data: &[u8]) -> Step {
        self.events += 1;
        if data.trim_ascii() == b"[DONE]" {
            if matches!(
                self.provider,
                Provider::OpenAiChat | Provider::OpenAiCompatible
            ) {
                self.meter.finish();
            }
            return Step::Stop(self.end_of_body(false, "`data: [DONE]` came"));
        }
        let data: Value = match serde_json::from_slice(data) {
            Ok(data) => data,
            Err(error) => {
                return Step::Stop(Ending::Garbled(format!(
                    "a `data:` line is not JSON ({error}); reading stopped there"
                )))
            }
        };
        events::read(self.provider, &data, &mut self.meter);
        let event = StreamEvent { event: name, data };
        match self.check() {
            Some(reason) => Step::YieldThenStop(event, Ending::CutOff(reason)),
            None => Step::Yield(event),
        }
    }

    /// A reason to cut the stream off now, if there is one.
    fn check(&mut self) -> Option<CutOffReason> {
        let CallState::Open(call) = &self.state else {
            return None;
        };
        if let Some(halt) = self.spend_guard.as_ref().and_then(SpendGuard::halted_now) {
            return Some(CutOffReason::Halted(halt));
        }
        if let Some(counted) = self.meter.past_output_limit() {
            return Some(CutOffReason::OutputLimitIgnored {
                granted: call.reservation.max_output_tokens(),
                counted,
            });
        }
        if self.meter.budget_check_due() {
            // The bound needs no tokenizing; count exactly only if it fails.
            let bound = self.meter.usage_bound(call.prompt);
            if call.reservation.check_progress(&bound).is_err() {
                let counted = self.meter.usage_counted(call.prompt);
                if let Err(exceeded) = call.reservation.check_progress(&counted) {
                    return Some(CutOffReason::Budget(exceeded));
                }
            }
        }
        None
    }

    /// How a stream whose reading stopped (`what` happened) ended.
    fn end_of_body(&self, partial_event: bool, what: &str) -> Ending {
        if self.meter.is_finished() {
            return Ending::Finished;
        }
        if let Some(message) = self.meter.provider_error_message() {
            return Ending::Broken(format!("{} sent an error: {message}", self.provider));
        }
        let detail = match (self.events, partial_event) {
            (0, true) => "the response is not an event stream".to_owned(),
            (_, true) => format!("{what} in the middle of an event"),
            _ => format!("{what} before {}", last_event(self.provider)),
        };
        Ending::Broken(detail)
    }

    /// Settles the call on `ending` if it is still open. Returns its
    /// receipt, and the error the caller is to see last, if any.
    fn close(&mut self, ending: Ending) -> (CallReceipt, Option<ClientError>) {
        let call = match &mut self.state {
            CallState::Settled(receipt) => return ((**receipt).clone(), None),
            CallState::Open(call) => call,
        };
        let (usage, source, report) = account(&mut self.meter, call, &ending, self.reports_usage);
        let pricing = report.map(|report| {
            let price = call.reservation.price();
            Pricing::of(&report, price, &call.resolved, call.drift_tolerance)
        });
        let floor = pricing.as_ref().map_or(Usd::ZERO, Pricing::floor);
        let settled = call.reservation.settle_in_place(&usage, floor);
        let mut receipt = response::call_receipt(&call.resolved, settled, source);
        if let Some(pricing) = pricing {
            pricing.mark(&mut receipt);
        }
        receipt.degraded = self.degraded.clone();
        let provider = self.provider;
        let billed = receipt.cost;
        let error = match ending {
            Ending::Finished | Ending::Cancelled => None,
            Ending::Broken(detail) | Ending::Garbled(detail) => {
                Some(ClientError::StreamEndedEarly {
                    provider,
                    detail,
                    billed,
                })
            }
            Ending::CutOff(reason) => Some(ClientError::StreamCutOff {
                provider,
                reason,
                billed,
            }),
        };
        if let Some(recorder) = &self.recorder {
            recorder.settled(&receipt, error.as_ref());
        }
        self.state = CallState::Settled(Box::new(receipt.clone()));
        (receipt, error)
    }
}

/// What the call is billed for, how that is known, and the provider's
/// report when the bill comes from it.
fn account(
    meter: &mut Meter,
    call: &OpenCall,
    ending: &Ending,
    reports_usage: bool,
) -> (Usage, CostSource, Option<UsageReport>) {
    const COUNTED: &str = "billed from the guard's count of the prompt and the output received";
    let reason = match ending {
        Ending::Finished => match meter.final_report() {
            Some(Ok(report)) => match response::implausible(&report.usage, call.prompt) {
                None => return (report.usage, CostSource::Reported, Some(report)),
                Some(reason) => format!("{reason}; {COUNTED}"),
            },
            Some(Err(error)) => format!("{error}; {COUNTED}"),
            None if reports_usage => format!("the stream carried no usage report; {COUNTED}"),
            None => format!(
                "the request turned off `stream_options.include_usage`, so the stream \
                 carried no usage report; {COUNTED}"
            ),
        },
        Ending::Broken(detail) => format!("the stream ended early ({detail}); {COUNTED}"),
        Ending::Garbled(detail) => {
            // The connection was still open: the provider goes on generating
            // until it notices it is gone, so bill the output it was allowed.
            let mut usage = at_planned_tier(meter.usage_counted(call.prompt), call);
            let granted = call.reservation.max_output_tokens();
            let counted = usage.billed_output_tokens();
            usage.output_tokens = usage
                .output_tokens
                .saturating_add(granted.saturating_sub(counted));
            let reason = format!(
                "the stream ended early ({detail}) while the provider may still be generating; \
                 billed the prompt and the full output limit"
            );
            return (usage, CostSource::Estimated { reason }, None);
        }
        Ending::CutOff(reason) => format!("cut off because {reason}; {COUNTED}"),
        Ending::Cancelled => format!("the caller stopped reading the stream; {COUNTED}"),
    };
    (
        at_planned_tier(meter.usage_counted(call.prompt), call),
        CostSource::Estimated { reason },
        None,
    )
}

/// Counted usage at the tier the call asked for, unless the provider
/// already reported another one.
fn at_planned_tier(usage: Usage, call: &OpenCall) -> Usage {
    if usage.service_tier == ServiceTier::Standard {
        usage.with_service_tier(call.reservation.service_tier())
    } else {
        usage
    }
}

/// The event that ends a complete stream, as the error messages name it.
const fn last_event(provider: Provider) -> &'static str {
    match provider {
        Provider::OpenAiChat | Provider::OpenAiCompatible => "`data: [DONE]`",
        Provider::OpenAiResponses => "`response.completed`",
        Provider::Anthropic => "`message_stop`",
        Provider::Gemini => "a chunk with a `finishReason`",
    }
}

#[cfg(test)]
mod tests;
