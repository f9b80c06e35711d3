//! The stream meter with the provider's bytes coming out instead of parsed
//! events, for front ends that hand the caller an HTTP body (the tower
//! layer, the reqwest middleware).
//!
//! The same [`Metered`] reads and accounts every event; what is passed on
//! is the bytes each event took, once the meter has taken the event in. So
//! the caller's body ends at an event boundary: after the event that tipped
//! a cut-off, then one error, exactly where a [`GuardedStream`](crate::client::GuardedStream)
//! would end. Bytes after the last event of a finished stream (a trailing
//! blank line) are passed on too; those of an event that broke off are not.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

use crate::client::engine::stream::account::{Ending, Step};
use crate::client::engine::stream::{poll_body, push, Metered};
use crate::client::engine::OpenCall;
use crate::client::error::ClientError;
use crate::tokens::TokenCounter;

/// A streamed call's body, metered as it passes through; see the module
/// documentation.
pub(crate) struct MeteredBytes<S> {
    metered: Metered<S>,
    /// Pieces of the body received and not yet passed on, oldest first; the
    /// first starts at body offset `passed`.
    held: VecDeque<Bytes>,
    passed: u64,
    /// Received so far: where a finished stream's bytes end.
    received: u64,
    /// Bytes may be passed on up to this offset: the end of the last event
    /// the meter took in.
    released: u64,
    /// The error that ends the body, after the released bytes.
    ending: Option<ClientError>,
}

impl<S, E> MeteredBytes<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: fmt::Display,
{
    /// `body`, accounted against `call`, its output counted with `counter`.
    pub(crate) fn new(call: OpenCall, counter: TokenCounter, body: S) -> Self {
        MeteredBytes {
            metered: Metered::new(call, counter, body),
            held: VecDeque::new(),
            passed: 0,
            received: 0,
            released: 0,
            ending: None,
        }
    }

    /// The next released piece of the body, if any is waiting.
    fn next_released(&mut self) -> Option<Bytes> {
        while self.passed < self.released {
            let mut piece = self.held.pop_front()?;
            let wanted = usize::try_from(self.released - self.passed).unwrap_or(usize::MAX);
            if piece.len() > wanted {
                let rest = piece.split_off(wanted);
                self.held.push_front(rest);
            }
            self.passed += piece.len() as u64;
            if !piece.is_empty() {
                return Some(piece);
            }
        }
        None
    }

    /// Takes in the next decoded event, if there is one; `false` if more
    /// bytes are needed.
    fn read_event(&mut self) -> bool {
        let metered = &mut self.metered;
        let Some(event) = metered.decoder.next_event() else {
            return false;
        };
        let step = metered.account.pass(event.data);
        let end = metered.decoder.consumed();
        match step {
            Step::Yield(_) => self.released = end,
            Step::YieldThenStop(_, ending) => {
                self.released = end;
                self.ending = metered.stop(ending);
            }
            Step::Stop(ending) => {
                // `[DONE]` is passed on; an event that could not be read is not.
                if matches!(ending, Ending::Finished) {
                    self.released = end;
                }
                self.ending = metered.stop(ending);
            }
        }
        true
    }
}

impl<S, E> Stream for MeteredBytes<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: fmt::Display,
{
    type Item = Result<Bytes, ClientError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(settling) = this.metered.settling.as_mut() {
                if settling.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.metered.settling = None;
            }
            if let Some(piece) = this.next_released() {
                return Poll::Ready(Some(Ok(piece)));
            }
            if let Some(error) = this.ending.take() {
                return Poll::Ready(Some(Err(error)));
            }
            if this.metered.body.is_none() {
                return Poll::Ready(None);
            }
            if this.read_event() {
                continue;
            }
            let metered = &mut this.metered;
            let Some(body) = metered.body.as_mut() else {
                continue;
            };
            let ending = match poll_body(body, &mut metered.idle, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(bytes)) => {
                    let oversized = push(&mut metered.decoder, &bytes);
                    this.received += bytes.len() as u64;
                    this.held.push_back(bytes);
                    match oversized {
                        Some(ending) => ending,
                        None => continue,
                    }
                }
                Poll::Ready(Err(Some(ending))) => ending,
                Poll::Ready(Err(None)) => {
                    let partial = metered.decoder.has_partial_event();
                    metered.account.end_of_body(partial, "the body ended")
                }
            };
            if matches!(ending, Ending::Finished) {
                this.released = this.received;
            }
            this.ending = this.metered.stop(ending);
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{stream, StreamExt};

    use super::*;
    use crate::budget::TaskBudget;
    use crate::client::engine::{prepare, Engine, Request};
    use crate::client::provider::Provider;
    use crate::money::Usd;

    fn open_call(budget: &TaskBudget, max_tokens: u64) -> OpenCall {
        let engine = Engine::new(
            crate::prices::PriceTable::bundled(),
            TokenCounter::new(),
            None,
            None,
            crate::tags::Tags::new(),
            crate::client::drift::DriftTolerance::DEFAULT,
        );
        let body = serde_json::json!({
            "model": "gpt-4o-mini",
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "hi"}],
        });
        let request = Request::Body {
            body: &body,
            stream: true,
            long_context: false,
        };
        let tags = budget.tags().or(&engine.tags);
        let call = prepare(&engine, Provider::OpenAiChat, budget, &tags, request).unwrap();
        OpenCall::unshared(Provider::OpenAiChat, call)
    }

    fn chunk(text: &str) -> String {
        format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n")
    }

    /// Everything the stream yields for `body` cut into `size`-byte pieces:
    /// the bytes passed on, and the error it ended with.
    async fn pass(call: OpenCall, body: &[u8], size: usize) -> (Vec<u8>, Option<ClientError>) {
        let pieces: Vec<Result<Bytes, String>> = body
            .chunks(size)
            .map(|piece| Ok(Bytes::copy_from_slice(piece)))
            .collect();
        let mut metered = MeteredBytes::new(call, TokenCounter::new(), stream::iter(pieces));
        let (mut out, mut error) = (Vec::new(), None);
        while let Some(item) = metered.next().await {
            match item {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(e) => error = Some(e),
            }
        }
        (out, error)
    }

    #[tokio::test]
    async fn a_finished_stream_passes_every_byte_whatever_the_pieces() {
        let usage = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":2,\"total_tokens\":10}}\n\n";
        let body = format!("{}{}{usage}data: [DONE]\n\n", chunk("a"), chunk("b"));
        for size in [1, 7, body.len()] {
            let budget = TaskBudget::new(Usd::from_dollars(1.0).unwrap());
            let (out, error) = pass(open_call(&budget, 100), body.as_bytes(), size).await;
            assert_eq!(String::from_utf8(out).unwrap(), body, "pieces of {size}");
            assert!(error.is_none(), "pieces of {size}: {error:?}");
            assert!(budget.snapshot().spent > Usd::ZERO);
        }
    }

    #[tokio::test]
    async fn a_cut_off_ends_at_the_event_that_tipped_it() {
        let word = "word ".repeat(20);
        let events: Vec<String> = (0..40).map(|_| chunk(&word)).collect();
        let body = events.concat();
        let budget = TaskBudget::new(Usd::from_dollars(1.0).unwrap());
        let (out, error) = pass(open_call(&budget, 10), body.as_bytes(), 13).await;
        let out = String::from_utf8(out).unwrap();
        assert!(
            matches!(error, Some(ClientError::StreamCutOff { .. })),
            "{error:?}"
        );
        assert!(out.len() < body.len());
        assert!(out.ends_with("\n\n") && body.starts_with(&out), "{out}");
    }

    #[tokio::test]
    async fn a_broken_stream_holds_back_the_broken_event_and_is_billed() {
        let body = format!("{}data: {{\"choi", chunk("hello there"));
        let budget = TaskBudget::new(Usd::from_dollars(1.0).unwrap());
        let (out, error) = pass(open_call(&budget, 100), body.as_bytes(), 5).await;
        assert_eq!(String::from_utf8(out).unwrap(), chunk("hello there"));
        let Some(ClientError::StreamEndedEarly { billed, .. }) = error else {
            panic!("{error:?}")
        };
        assert!(billed > Usd::ZERO);
        assert_eq!(budget.snapshot().spent, billed);
    }
}
