//! The delivery task: posts queued messages in order, retrying with
//! back-off, and counts what happened to each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::webhook::WebhookUrl;

/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// How one message is retried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) attempts: u32,
    pub(crate) first_wait: Duration,
    pub(crate) timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            first_wait: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (`attempt` ≥ 1).
    fn wait_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16);
        self.first_wait.saturating_mul(1 << doublings).min(MAX_WAIT)
    }
}

/// What happened to the alerts given to a [`WebhookAlerts`](crate::webhook::WebhookAlerts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookStats {
    /// Alerts the receiver accepted (a 2xx answer).
    pub delivered: u64,
    /// Attempts that were retried (network errors, timeouts, 429, 5xx).
    pub retries: u64,
    /// Alerts given up on: refused (another 4xx) or out of attempts.
    pub failed: u64,
    /// Alerts never queued: the queue was full or the sink closed.
    pub dropped: u64,
    /// Why the last failed attempt failed (a status or a network error,
    /// never the URL).
    pub last_failure: Option<String>,
}

/// The counts, shared by the task and every handle.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    delivered: AtomicU64,
    retries: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    last_failure: Mutex<Option<String>>,
}

impl Counts {
    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> WebhookStats {
        WebhookStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            last_failure: self.last_failure.lock().clone(),
        }
    }

    fn failed_attempt(&self, why: String) {
        *self.last_failure.lock() = Some(why);
    }
}

/// One attempt's outcome.
enum Attempt {
    Delivered,
    /// Worth another try.
    Retry(String),
    /// The receiver refused it for good.
    Refused(String),
}

/// Everything the task needs.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) http: reqwest::Client,
    pub(crate) url: WebhookUrl,
    pub(crate) retry: RetryPolicy,
    pub(crate) counts: Arc<Counts>,
}

impl Delivery {
    /// Posts every message until the queue is closed and empty.
    pub(crate) async fn run(self, mut queue: mpsc::Receiver<Value>) {
        while let Some(message) = queue.recv().await {
            self.deliver(&message).await;
        }
    }

    async fn deliver(&self, message: &Value) {
        for attempt in 1..=self.retry.attempts {
            match self.attempt(message).await {
                Attempt::Delivered => {
                    self.counts.delivered.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Attempt::Refused(why) => {
                    self.counts.failed_attempt(why);
                    break;
                }
                Attempt::Retry(why) => {
                    self.counts.failed_attempt(why);
                    if attempt == self.retry.attempts {
                        break;
                    }
                    self.counts.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.retry.wait_after(attempt)).await;
                }
            }
        }
        self.counts.failed.fetch_add(1, Ordering::Relaxed);
    }

    async fn attempt(&self, message: &Value) -> Attempt {
        let sent = self
            .http
            .post(self.url.as_url().clone())
            .timeout(self.retry.timeout)
            .json(message)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Attempt::Delivered,
            Ok(response) => {
                let status = response.status();
                let why = format!("the receiver answered {status}");
                if status.as_u16() == 429 || status.is_server_error() {
                    Attempt::Retry(why)
                } else {
                    Attempt::Refused(why)
                }
            }
            // `without_url`: the URL is the webhook's secret.
            Err(error) => Attempt::Retry(error.without_url().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_first_up_to_thirty_seconds() {
        let policy = RetryPolicy {
            attempts: 40,
            first_wait: Duration::from_millis(500),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(policy.wait_after(1), Duration::from_millis(500));
        assert_eq!(policy.wait_after(2), Duration::from_secs(1));
        assert_eq!(policy.wait_after(4), Duration::from_secs(4));
        assert_eq!(policy.wait_after(7), MAX_WAIT);
        assert_eq!(policy.wait_after(39), MAX_WAIT);
    }
}
