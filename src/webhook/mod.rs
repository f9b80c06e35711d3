//! [`WebhookAlerts`]: every alert POSTed to a chat webhook as a
//! Slack-compatible message, from a background task, never on the call path.
//!
//! An alert is queued with a non-blocking `try_send` on a bounded queue; a
//! tokio task posts the queue in order, retrying a receiver that is down or
//! busy with exponential back-off. When the queue is full the alert is
//! dropped and counted ([`WebhookStats::dropped`]), so a dead receiver can
//! never slow a reservation or grow memory.
//!
//! - `url`: the webhook URL, which is a secret (Slack's carries its token),
//!   so it is shown only as its scheme and host;
//! - `message`: the Slack-compatible JSON an alert becomes;
//! - `delivery`: the background task, its retries and its counts.

mod delivery;
mod message;
mod url;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::budget::Alert;
pub use delivery::WebhookStats;
use delivery::{Counts, Delivery, RetryPolicy};
pub use url::WebhookUrl;

/// Alerts queued when none is given: enough for a burst of thresholds
/// across many budgets, small enough to be nothing in memory.
pub const DEFAULT_QUEUE_CAPACITY: usize = 256;

/// Alerts posted to a webhook URL; see the module documentation.
///
/// ```no_run
/// use spendguard::webhook::WebhookAlerts;
/// use spendguard::{TaskBudget, Usd};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let alerts = WebhookAlerts::builder("https://hooks.slack.com/services/T000/B000/XXXX")
///     .spawn()?;
/// let budget = TaskBudget::builder("nightly-report")
///     .max_cost(Usd::from_dollars(5.0)?)
///     .on_alert(alerts.callback()) // 50% and 80%, posted in the background
///     .build()?;
/// // … the agent runs …
/// # let _ = budget;
/// alerts.close().await; // deliver what is queued before the process exits
/// println!("{:?}", alerts.stats());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct WebhookAlerts {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    url: WebhookUrl,
    /// Taken by [`WebhookAlerts::close`]: once it is gone, the task drains
    /// the queue and ends.
    queue: Mutex<Option<mpsc::Sender<serde_json::Value>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    counts: Arc<Counts>,
}

impl WebhookAlerts {
    /// Starts configuring alerts to `url` (checked by
    /// [`spawn`](WebhookAlertsBuilder::spawn)).
    pub fn builder(url: impl Into<String>) -> WebhookAlertsBuilder {
        WebhookAlertsBuilder {
            url: url.into(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            retry: RetryPolicy::default(),
            http: None,
        }
    }

    /// Queues `alert` for posting; returns at once. A full queue (or a
    /// closed sink) drops it and counts it in [`WebhookStats::dropped`].
    pub fn notify(&self, alert: &Alert) {
        let queue = self.shared.queue.lock();
        let sent = queue
            .as_ref()
            .is_some_and(|queue| queue.try_send(message::slack_message(alert)).is_ok());
        if !sent {
            self.shared.counts.dropped();
        }
    }

    /// [`notify`](WebhookAlerts::notify) as a callback for
    /// `TaskBudgetBuilder::on_alert` and `SpendGuardBuilder::on_alert`.
    pub fn callback(&self) -> impl Fn(&Alert) + Send + Sync + 'static {
        let alerts = self.clone();
        move |alert| alerts.notify(alert)
    }

    /// Alerts delivered, retried, failed and dropped so far.
    pub fn stats(&self) -> WebhookStats {
        self.shared.counts.snapshot()
    }

    /// Where alerts go, shown without its secret path.
    pub fn url(&self) -> &WebhookUrl {
        &self.shared.url
    }

    /// Stops taking alerts and waits until every queued one is delivered or
    /// has used its retries. Later alerts are dropped. Wrap it in
    /// `tokio::time::timeout` to bound the wait on a receiver that is down.
    pub async fn close(&self) {
        drop(self.shared.queue.lock().take());
        let task = self.shared.task.lock().take();
        if let Some(task) = task {
            // A panicking task has nothing left to deliver; its counts stand.
            let _ = task.await;
        }
    }
}

/// Configures [`WebhookAlerts`].
#[derive(Debug, Clone)]
pub struct WebhookAlertsBuilder {
    url: String,
    queue_capacity: usize,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
}

impl WebhookAlertsBuilder {
    /// How many alerts may wait for delivery (default
    /// [`DEFAULT_QUEUE_CAPACITY`]); beyond it they are dropped and counted.
    pub fn queue_capacity(mut self, alerts: usize) -> Self {
        self.queue_capacity = alerts;
        self
    }

    /// How many times one alert is posted before it counts as failed
    /// (default 5). Only a network error, a timeout, 429 and 5xx are
    /// retried; any other status fails at once.
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.retry.attempts = attempts;
        self
    }

    /// The wait before the first retry (default 500 ms), doubled for each
    /// later one up to 30 s.
    pub fn backoff(mut self, first_wait: Duration) -> Self {
        self.retry.first_wait = first_wait;
        self
    }

    /// How long one post may take (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.retry.timeout = timeout;
        self
    }

    /// Posts through `client` (a proxy, custom roots) instead of a default one.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Checks the settings and starts the delivery task on the current
    /// tokio runtime.
    ///
    /// # Errors
    /// [`WebhookError`]: a URL that is not `http`/`https`, a zero queue or
    /// attempt count, or no tokio runtime to run on.
    pub fn spawn(self) -> Result<WebhookAlerts, WebhookError> {
        let url = WebhookUrl::parse(&self.url)?;
        if self.queue_capacity == 0 {
            return Err(WebhookError::ZeroQueueCapacity);
        }
        if self.retry.attempts == 0 {
            return Err(WebhookError::ZeroAttempts);
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WebhookError::NoRuntime)?;
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .build()
                .map_err(|error| WebhookError::HttpClient(error.without_url().to_string()))?,
        };
        let (sender, receiver) = mpsc::channel(self.queue_capacity);
        let counts = Arc::new(Counts::default());
        let delivery = Delivery {
            http,
            url: url.clone(),
            retry: self.retry,
            counts: Arc::clone(&counts),
        };
        let task = runtime.spawn(delivery.run(receiver));
        Ok(WebhookAlerts {
            shared: Arc::new(Shared {
                url,
                queue: Mutex::new(Some(sender)),
                task: Mutex::new(Some(task)),
                counts,
            }),
        })
    }
}

/// Why webhook alerts could not be set up. The URL itself is never quoted:
/// it is a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The URL is not an absolute `http` or `https` URL.
    #[error("the webhook URL {problem}")]
    InvalidUrl {
        /// What is wrong with it, without quoting it.
        problem: &'static str,
    },
    /// A queue of zero alerts would drop every one.
    #[error("the webhook queue capacity must be at least 1")]
    ZeroQueueCapacity,
    /// Zero attempts would never post.
    #[error("webhook attempts must be at least 1")]
    ZeroAttempts,
    /// `spawn` was called outside a tokio runtime.
    #[error("webhook alerts need a tokio runtime: call spawn() from inside one")]
    NoRuntime,
    /// The default HTTP client could not be built.
    #[error("the webhook's HTTP client could not be built: {0}")]
    HttpClient(String),
}

#[cfg(test)]
mod tests;
