//! The stream meter: a streamed (server-sent events) call read from any
//! byte stream, metered as it arrives, cut off mid-way when it must be, and
//! never settled as free. Every front end's stream is this one; the rules
//! are on [`GuardedStream`](crate::client::GuardedStream), where users read
//! them.
//!
//! - `sse`: the event-stream decoder, fed the body in network-sized pieces;
//! - `events`: what each provider's events say (output text, usage, the
//!   last event);
//! - `lenient`: the shapes `events` deserializes from an event's JSON,
//!   keeping only what the meter reads;
//! - `meter`: the running count (output counted lazily, usage reported so
//!   far) and the cut-off tests;
//! - `account`: each event read into the meter, and how the call is
//!   settled when the stream ends;
//! - `idle`: the idle timeout, which ends a stream whose bytes stop coming;
//! - `lease`: the timer renewing the shared hold's lease while the stream
//!   is alive;
//! - here: [`Metered`], the [`Stream`] of events over the bytes;
//! - `pass_through`: the same meter passing the provider's bytes on, event
//!   by event, for front ends that hand their caller an HTTP body.

mod account;
mod events;
#[cfg(test)]
mod events_tests;
mod idle;
mod lease;
mod lenient;
mod meter;
#[cfg(feature = "exchange")]
mod pass_through;
mod sse;
#[cfg(test)]
mod sse_tests;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use serde_json::Value;

use crate::client::engine::OpenCall;
use crate::client::error::ClientError;
use crate::client::receipt::CallReceipt;
use crate::money::Usd;
use crate::tokens::TokenCounter;
use account::{CallState, Ending, Step, StreamAccount};
use idle::IdleTimer;
pub(crate) use idle::DEFAULT_IDLE_TIMEOUT;
use lease::LeaseKeeper;
use meter::Meter;
#[cfg(feature = "exchange")]
pub(crate) use pass_through::MeteredBytes;
use sse::SseDecoder;

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

/// A streamed call's events, read from the byte stream `S` and accounted
/// against its call; see the module documentation.
pub(crate) struct Metered<S> {
    /// `None` once reading has stopped: dropping it closes the connection.
    body: Option<S>,
    decoder: SseDecoder,
    account: StreamAccount,
    /// The item to yield before anything else: the error that ends a
    /// stream cut off after its last event, or a whole JSON answer.
    queued: Option<Result<StreamEvent, ClientError>>,
    /// The shared settlement under way, finished before the last item.
    settling: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Ends the stream when no bytes come for too long.
    idle: IdleTimer,
    /// Renews the shared hold's lease until the stream ends.
    lease: LeaseKeeper,
}

impl<S, E> Metered<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: fmt::Display,
{
    /// A stream over `body`, accounted against `call`, its output counted
    /// with `counter`, ended after [`DEFAULT_IDLE_TIMEOUT`] without bytes.
    pub(crate) fn new(call: OpenCall, counter: TokenCounter, body: S) -> Self {
        let reservation = &call.call.reservation;
        let lease = LeaseKeeper::start(call.hold().and_then(crate::guard::SharedHold::renewer));
        let meter = Meter::new(
            counter,
            &call.call.model,
            reservation.max_output_tokens(),
            reservation.choices(),
        );
        Metered {
            body: Some(body),
            decoder: SseDecoder::new(),
            account: StreamAccount {
                provider: call.provider,
                meter,
                state: CallState::Open(call),
                events: 0,
            },
            queued: None,
            settling: None,
            idle: IdleTimer::new(Some(DEFAULT_IDLE_TIMEOUT)),
            lease,
        }
    }

    /// The stream, ended after `idle` without bytes (never, for `None`).
    pub(crate) fn with_idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.idle = IdleTimer::new(idle);
        self
    }

    /// A stream request answered with a whole JSON body, already settled:
    /// the body is the stream's one event.
    pub(crate) fn whole(
        provider: crate::client::provider::Provider,
        counter: TokenCounter,
        body: Value,
        receipt: CallReceipt,
    ) -> Self {
        let meter = Meter::new(counter, &receipt.model, 0, 1);
        Metered {
            body: None,
            decoder: SseDecoder::new(),
            account: StreamAccount {
                provider,
                meter,
                state: CallState::Settled(receipt),
                events: 1,
            },
            queued: Some(Ok(StreamEvent {
                event: None,
                data: body,
            })),
            settling: None,
            idle: IdleTimer::new(None),
            lease: LeaseKeeper::none(),
        }
    }
}

impl<S> Metered<S> {
    /// The provider the stream is from.
    pub(crate) const fn provider(&self) -> crate::client::provider::Provider {
        self.account.provider
    }

    /// Whether bytes are still being read.
    pub(crate) const fn is_reading(&self) -> bool {
        self.body.is_some()
    }

    /// Events decoded so far.
    pub(crate) const fn events(&self) -> u64 {
        self.account.events
    }

    /// What the call cost, once it has been settled.
    pub(crate) fn receipt(&self) -> Option<&CallReceipt> {
        match &self.account.state {
            CallState::Settled(receipt) => Some(receipt),
            CallState::Open(_) => None,
        }
    }

    /// What the call has cost so far (see `GuardedStream::cost_so_far`).
    pub(crate) fn cost_so_far(&mut self) -> Usd {
        self.account.cost_so_far()
    }

    /// Stops reading, closes the connection and settles the call from
    /// what was counted so far; its receipt.
    pub(crate) fn cancel(&mut self) -> CallReceipt {
        self.body = None;
        self.lease.stop();
        let (receipt, _, hold) = self.account.close(Ending::Cancelled);
        self.settle_shared(receipt.cost, hold);
        receipt
    }

    /// `true` once the last item has been yielded.
    pub(crate) fn is_terminated(&self) -> bool {
        self.body.is_none() && self.queued.is_none() && self.settling.is_none()
    }

    /// Settles the call on `ending` and stops reading; the error the caller
    /// is to see last, if any. The shared hold's settlement starts here and
    /// is finished by the next poll, before the stream's last item.
    fn stop(&mut self, ending: Ending) -> Option<ClientError> {
        self.body = None;
        self.lease.stop();
        let (receipt, error, hold) = self.account.close(ending);
        self.settle_shared(receipt.cost, hold);
        error
    }

    fn settle_shared(&mut self, cost: Usd, hold: Option<crate::guard::SharedHold>) {
        if let Some(hold) = hold {
            self.settling = Some(Box::pin(async move {
                // A store that cannot record it leaves the worst case held.
                let _ = hold.settle(cost).await;
            }));
        }
    }
}

impl<S, E> Stream for Metered<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: fmt::Display,
{
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
            let ending = match poll_body(body, &mut this.idle, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(bytes)) => match push(&mut this.decoder, &bytes) {
                    Some(ending) => ending,
                    None => continue,
                },
                Poll::Ready(Err(Some(ending))) => ending,
                Poll::Ready(Err(None)) => this
                    .account
                    .end_of_body(this.decoder.has_partial_event(), "the body ended"),
            };
            this.queued = this.stop(ending).map(Err);
        }
    }
}

/// Feeds `bytes` to `decoder`; `Some` ending when the event being read has
/// grown past [`sse::MAX_EVENT_BYTES`], so a body that is no event stream
/// cannot take unbounded memory (it is billed from what was counted).
fn push(decoder: &mut SseDecoder, bytes: &[u8]) -> Option<Ending> {
    decoder.push(bytes);
    decoder.oversized().then(|| {
        Ending::Broken(format!(
            "an event grew past {} MiB without ending",
            sse::MAX_EVENT_BYTES >> 20
        ))
    })
}

/// The body's next piece, or why reading it ended: a broken connection or
/// the idle timeout (`Some`), or the body's end (`None`, for the account to
/// judge). Every stream front end reads its body through this.
fn poll_body<S, E>(
    body: &mut S,
    idle: &mut IdleTimer,
    cx: &mut Context<'_>,
) -> Poll<Result<Bytes, Option<Ending>>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: fmt::Display,
{
    match Pin::new(body).poll_next(cx) {
        Poll::Pending => match idle.poll_expired(cx) {
            Some(idle) => Poll::Ready(Err(Some(Ending::Broken(format!(
                "no bytes came for {}s, the idle timeout",
                idle.as_secs_f64()
            ))))),
            None => Poll::Pending,
        },
        Poll::Ready(Some(Ok(bytes))) => {
            idle.bytes_came();
            Poll::Ready(Ok(bytes))
        }
        Poll::Ready(Some(Err(detail))) => Poll::Ready(Err(Some(Ending::Broken(format!(
            "the connection failed: {detail}"
        ))))),
        Poll::Ready(None) => Poll::Ready(Err(None)),
    }
}

impl<S> Drop for Metered<S> {
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
