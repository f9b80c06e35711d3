//! [`GuardedStream`]: [`GuardedClient::stream`]'s answer, a streamed
//! (server-sent events) call metered by the engine's stream meter as it
//! arrives. The rules are on [`GuardedStream`], where users read them.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use futures_util::TryStreamExt;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde_json::Value;

use crate::budget::TaskBudget;
use crate::client::engine::stream::Metered;
use crate::client::engine::{Answer, Attempt, OpenCall, Request};
use crate::client::error::ClientError;
use crate::client::receipt::CallReceipt;
use crate::client::GuardedClient;
use crate::money::Usd;

pub use crate::client::engine::stream::StreamEvent;

#[cfg(test)]
use crate::client::provider::Provider;
#[cfg(test)]
use crate::client::receipt::CostSource;
#[cfg(test)]
use crate::client::{engine::PreparedCall, CutOffReason};

/// A response body as the network delivers it; errors are already
/// described (with any API key cut out).
pub(crate) type Body = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

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
/// shorter than a byte). A count is exact however the provider chunked the
/// text: it takes text in for good only up to a place where the tokenizer
/// itself ends a piece (before a space that follows a printable ASCII
/// character), and counts the word still arriving with the rest each time,
/// so a word is never counted in two halves. Hidden reasoning (OpenAI's
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
/// 1. **The provider ignores the output limit**: the output counted so far
///    for one answer (a request's `n` answers are each metered against
///    their own limit), or the output the provider itself reports for all of
///    them (Anthropic's cumulative `message_delta`, Gemini's cumulative
///    `usageMetadata`), whichever is larger, passes the granted `max_tokens`
///    (for each answer) by more than a quarter of it, and by more than 32
///    tokens. The slack absorbs the difference between the counting encoding
///    and the model's own tokenizer: a provider that honours its limit never
///    reaches it.
/// 2. **The budget can no longer cover the stream**: while the output (and
///    one more event as large as the largest so far) stays within the
///    reservation, the budget is asked each time the output may have grown
///    by 256 tokens (256 bytes of text, or 256 reported tokens) whether it
///    still covers this call at what it has used so far, counting every
///    other call as it stands
///    ([`Reservation::check_progress`](crate::budget::Reservation::check_progress));
///    this fails only if another call's bill ran over its own reservation.
///    Past the reservation it is asked before every event, for the spend so
///    far plus one more event as large as the largest so far (bounded by its
///    bytes), and the stream stops after the event when that does not fit;
///    an event that does not fit itself is billed but not yielded. README's
///    guarantees section states the bound this gives.
///
/// A stream that sends no bytes for the idle timeout
/// ([`GuardedClientBuilder::idle_timeout`](crate::client::GuardedClientBuilder::idle_timeout),
/// five minutes unless set) is given up too; it ends with
/// [`ClientError::StreamEndedEarly`], billed from its count.
///
/// # What it is billed
///
/// | How the stream ends | Billed | The stream's last item |
/// |---|---|---|
/// | The last event, with a readable usage report | the report ([`CostSource::Reported`](crate::client::CostSource::Reported)) | the last event |
/// | The last event, with no report (OpenAI Chat with `include_usage: false`, a server that sends none), an unreadable one, or one claiming 0 input tokens | the guard's count | the last event; the receipt says why it is estimated |
/// | The body ends before the last event, the connection breaks, or no bytes come for the idle timeout | the guard's count | [`ClientError::StreamEndedEarly`] |
/// | A `data:` line is not JSON: reading stops there, while the provider may still be generating | the prompt and the full output limit | [`ClientError::StreamEndedEarly`] |
/// | Cut off | the guard's count | [`ClientError::StreamCutOff`] |
/// | Dropped, or [`cancel`](GuardedStream::cancel)led, before the end | the guard's count | none: the caller stopped reading |
///
/// The guard's count is the prompt (the provider's own input counts if it
/// reported any before the stream stopped, else the prompt estimate) plus
/// the larger of the output counted and the output reported so far, marked
/// [`CostSource::Estimated`](crate::client::CostSource::Estimated). It is never $0.
///
/// A stream the caller stops reading is billed from this count rather than
/// at its worst case, unlike a dropped [`Reservation`](crate::budget::Reservation): the caller has read
/// the output and the guard has counted it. Output the provider generates
/// between the last chunk read and noticing the closed connection is not
/// seen.
///
/// A server that answers a stream request with a whole JSON body is settled
/// as [`GuardedClient::send`] settles it, and the body is the stream's one
/// event.
#[must_use = "a stream does nothing unless polled; dropped, it is settled from what it counted"]
pub struct GuardedStream {
    metered: Metered<Body>,
    /// An event read ahead (by `stream_with_retry`), yielded first.
    first: Option<StreamEvent>,
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
        self.stream_attempt(budget, body, 1).await
    }

    /// [`stream`](GuardedClient::stream) as attempt `attempt` (from 1) of one call.
    pub(crate) async fn stream_attempt(
        &self,
        budget: &TaskBudget,
        body: &Value,
        attempt: u32,
    ) -> Result<GuardedStream, ClientError> {
        let request = Request::Body {
            body,
            stream: true,
            long_context: self.long_context,
        };
        self.engine
            .attempt(
                self.provider,
                budget,
                request,
                Attempt::from_number(attempt),
                |outgoing| async move {
                    let response = self.post(&outgoing, true).await?;
                    if is_json(response.headers().get(CONTENT_TYPE)) {
                        return match response.bytes().await {
                            Ok(bytes) => Ok(StreamAnswer::Whole(self, bytes)),
                            Err(error) => Err(self.transport_failure(&error)),
                        };
                    }
                    let api_key = self.api_key.clone();
                    let body = response.bytes_stream().map_err(move |error| {
                        let detail = crate::client::http::error_chain(&error);
                        match &api_key {
                            Some(key) => key.redact(&detail),
                            None => detail,
                        }
                    });
                    Ok(StreamAnswer::Events(self, Box::pin(body)))
                },
            )
            .await
    }

    /// A stream over `body`, accounted against `call` alone.
    #[cfg(test)]
    pub(crate) fn guard_stream(&self, call: PreparedCall, body: Body) -> GuardedStream {
        GuardedStream {
            metered: Metered::new(
                OpenCall::unshared(self.provider, call),
                self.engine.counter,
                body,
            ),
            first: None,
        }
    }

    /// A stream request answered with a whole JSON `bytes`, accounted
    /// against `call` alone.
    #[cfg(test)]
    pub(crate) fn whole_answer(
        &self,
        call: PreparedCall,
        bytes: &[u8],
    ) -> Result<GuardedStream, ClientError> {
        use futures_util::FutureExt;
        let answer = StreamAnswer::Whole(self, Bytes::copy_from_slice(bytes));
        answer
            .settle(OpenCall::unshared(self.provider, call))
            .now_or_never()
            .expect("a call with no shared limits settles at once")
    }
}

/// What a stream request got back: an event stream, or a whole JSON body
/// from a server that does not stream.
enum StreamAnswer<'c> {
    Events(&'c GuardedClient, Body),
    Whole(&'c GuardedClient, Bytes),
}

impl Answer for StreamAnswer<'_> {
    type Guarded = GuardedStream;

    async fn settle(self, call: OpenCall) -> Result<GuardedStream, ClientError> {
        let metered = match self {
            StreamAnswer::Events(client, body) => Metered::new(call, client.engine.counter, body)
                .with_idle_timeout(client.idle_timeout),
            StreamAnswer::Whole(client, bytes) => {
                let provider = call.provider();
                let (body, receipt) = call.settle_json(&bytes).await?;
                Metered::whole(provider, client.engine.counter, body, receipt)
            }
        };
        Ok(GuardedStream {
            metered,
            first: None,
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
        self.metered.receipt()
    }

    /// What the call has cost so far: the receipt's cost once settled,
    /// before that the prompt plus the output counted so far, priced.
    ///
    /// It counts any output not yet counted, so it costs a tokenizer pass
    /// over the text since the last count (hence `&mut`); each piece of
    /// text is tokenized only once however often this is called.
    pub fn cost_so_far(&mut self) -> Usd {
        self.metered.cost_so_far()
    }

    /// Stops reading, closes the connection and settles the call from what
    /// was counted so far (see the module documentation); returns its
    /// receipt. A stream that has already ended just returns its receipt.
    /// Dropping the stream does the same, without the receipt.
    pub fn cancel(mut self) -> CallReceipt {
        self.metered.cancel()
    }
}

impl GuardedStream {
    /// Waits for the first event and keeps it to be yielded first; the
    /// error instead if the stream ended badly before it.
    pub(crate) async fn first_event(mut self) -> Result<GuardedStream, ClientError> {
        match futures_util::StreamExt::next(&mut self.metered).await {
            Some(Ok(event)) => self.first = Some(event),
            Some(Err(error)) => return Err(error),
            None => {}
        }
        Ok(self)
    }
}

impl Stream for GuardedStream {
    type Item = Result<StreamEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(event) = self.first.take() {
            return Poll::Ready(Some(Ok(event)));
        }
        Pin::new(&mut self.metered).poll_next(cx)
    }
}

impl FusedStream for GuardedStream {
    fn is_terminated(&self) -> bool {
        self.first.is_none() && self.metered.is_terminated()
    }
}

impl fmt::Debug for GuardedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedStream")
            .field("provider", &self.metered.provider())
            .field("reading", &self.metered.is_reading())
            .field("events", &self.metered.events())
            .field("receipt", &self.receipt())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
