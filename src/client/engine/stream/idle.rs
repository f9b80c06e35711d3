//! The idle (read) timeout: a stream whose bytes stop coming for too long
//! is ended, apart from any deadline on the call as a whole, so a healthy
//! stream runs as long as it keeps sending and a stalled one does not wait
//! for the deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// The idle timeout when none is configured: five minutes, long enough for
/// a reasoning model to think before its first token (some stream nothing
/// while they do), short enough that a stalled connection is given up long
/// before the call's ten-minute deadline.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Watches the time since the last bytes came.
///
/// Bytes only note the time; the timer itself is moved only when it fires
/// early, so a stream of many small chunks does not reset a timer for each.
pub(super) struct IdleTimer {
    limit: Option<Duration>,
    last_bytes: Option<Instant>,
    /// Armed on the first wait, inside the runtime that polls the stream.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl IdleTimer {
    /// A timer ending a stream after `limit` without bytes; `None` never does.
    pub(super) fn new(limit: Option<Duration>) -> Self {
        IdleTimer {
            limit,
            last_bytes: None,
            sleep: None,
        }
    }

    /// Bytes came.
    pub(super) fn bytes_came(&mut self) {
        if self.limit.is_some() {
            self.last_bytes = Some(Instant::now());
        }
    }

    /// While the stream waits for bytes: `Some(limit)` once `limit` has
    /// passed since the last bytes came (or since the wait began, before
    /// any); otherwise `None`, with `cx` woken when it may have.
    ///
    /// Outside a tokio runtime there is no timer to wait on, and the stream
    /// waits as long as its transport does.
    pub(super) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Option<Duration> {
        let limit = self.limit?;
        if self.sleep.is_none() {
            tokio::runtime::Handle::try_current().ok()?;
            let since = *self.last_bytes.get_or_insert_with(Instant::now);
            self.sleep = Some(Box::pin(tokio::time::sleep_until(since + limit)));
        }
        let sleep = self.sleep.as_mut()?;
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return None;
            }
            let deadline = self
                .last_bytes
                .map_or(sleep.deadline(), |last| last + limit);
            if deadline <= Instant::now() {
                return Some(limit);
            }
            sleep.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    fn poll(timer: &mut IdleTimer) -> Option<Duration> {
        timer.poll_expired(&mut Context::from_waker(Waker::noop()))
    }

    #[tokio::test(start_paused = true)]
    async fn it_fires_only_after_the_limit_without_bytes() {
        let mut timer = IdleTimer::new(Some(Duration::from_secs(10)));
        assert_eq!(poll(&mut timer), None);
        tokio::time::advance(Duration::from_secs(6)).await;
        timer.bytes_came();
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(poll(&mut timer), None, "bytes came 6 s ago");
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(poll(&mut timer), Some(Duration::from_secs(10)));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_limit_it_never_fires() {
        let mut timer = IdleTimer::new(None);
        timer.bytes_came();
        tokio::time::advance(Duration::from_secs(86_400)).await;
        assert_eq!(poll(&mut timer), None);
    }

    #[test]
    fn outside_a_runtime_it_waits_for_the_transport() {
        let mut timer = IdleTimer::new(Some(Duration::from_millis(1)));
        assert_eq!(poll(&mut timer), None);
    }
}
