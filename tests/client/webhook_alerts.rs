//! WebhookAlerts against a loopback receiver: a budget's alerts arrive as
//! Slack-compatible messages, busy receivers are retried, refusing and dead
//! ones are counted, and a full queue drops alerts instead of blocking the
//! call that raised them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use spendguard::money::PricePerToken;
use spendguard::prices::{ModelPrice, Rates};
use spendguard::webhook::WebhookAlerts;
use spendguard::{CallPlan, TaskBudget, Usage, Usd};

/// What the receiver heard, and the statuses it answers in turn (200 once
/// they run out).
#[derive(Clone, Default)]
struct Receiver {
    heard: Arc<Mutex<Vec<Value>>>,
    answers: Arc<Mutex<VecDeque<StatusCode>>>,
}

async fn hear(State(receiver): State<Receiver>, body: Bytes) -> StatusCode {
    let message: Value = serde_json::from_slice(&body).expect("the sink posts JSON");
    let status = receiver
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(StatusCode::OK);
    if status.is_success() {
        receiver.heard.lock().unwrap().push(message);
    }
    status
}

/// A receiver on loopback answering `answers` first; its URL carries a
/// secret path, as Slack's do.
async fn receiver(answers: &[StatusCode]) -> (Receiver, String) {
    let receiver = Receiver::default();
    receiver
        .answers
        .lock()
        .unwrap()
        .extend(answers.iter().copied());
    let app = Router::new()
        .route("/services/T0/B0/s3cret", post(hear))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/services/T0/B0/s3cret",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (receiver, url)
}

/// A loopback URL nothing listens on.
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// A $2.00 budget that settles $1.61 in one call: 50% and 80% alerts.
fn spend_over_two_thresholds(alerts: &WebhookAlerts) {
    let per_m = |d| PricePerToken::per_million(d).unwrap();
    let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(10.0), per_m(10.0))));
    let budget = TaskBudget::builder("report")
        .max_cost(Usd::from_cents(200))
        .on_alert(alerts.callback())
        .build()
        .unwrap();
    let call = budget
        .reserve(CallPlan::new(&price, 160_000).with_max_output_tokens(1_000))
        .unwrap();
    call.settle(&Usage::new(160_000, 1_000));
}

#[tokio::test]
async fn a_budgets_alerts_arrive_as_slack_messages_in_order() {
    let (receiver, url) = receiver(&[]).await;
    let alerts = WebhookAlerts::builder(url).spawn().unwrap();
    spend_over_two_thresholds(&alerts);
    alerts.close().await;

    let heard = receiver.heard.lock().unwrap().clone();
    let texts: Vec<&str> = heard.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        [
            "spendguard: task report has used 50% of its cost limit: $1.61 of $2.00",
            "spendguard: task report has used 80% of its cost limit: $1.61 of $2.00",
        ]
    );
    assert_eq!(heard[1]["attachments"][0]["fields"][2]["value"], "80%");
    let stats = alerts.stats();
    assert_eq!((stats.delivered, stats.failed, stats.dropped), (2, 0, 0));
}

#[tokio::test]
async fn a_busy_receiver_is_retried_until_it_accepts() {
    let busy = [
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::TOO_MANY_REQUESTS,
    ];
    let (receiver, url) = receiver(&busy).await;
    let alerts = WebhookAlerts::builder(url)
        .backoff(Duration::from_millis(5))
        .spawn()
        .unwrap();
    alerts.notify(&first_alert());
    alerts.close().await;

    assert_eq!(receiver.heard.lock().unwrap().len(), 1);
    let stats = alerts.stats();
    assert_eq!((stats.delivered, stats.retries, stats.failed), (1, 2, 0));
    assert_eq!(
        stats.last_failure.as_deref(),
        Some("the receiver answered 429 Too Many Requests")
    );
}

#[tokio::test]
async fn a_refusing_receiver_is_not_retried() {
    let (receiver, url) = receiver(&[StatusCode::NOT_FOUND]).await;
    let alerts = WebhookAlerts::builder(url)
        .backoff(Duration::from_millis(5))
        .spawn()
        .unwrap();
    alerts.notify(&first_alert());
    alerts.close().await;

    assert!(receiver.heard.lock().unwrap().is_empty());
    let stats = alerts.stats();
    assert_eq!((stats.delivered, stats.retries, stats.failed), (0, 0, 1));
}

#[tokio::test]
async fn a_receiver_that_is_down_uses_its_attempts_and_never_leaks_the_url() {
    let alerts = WebhookAlerts::builder(dead_url().await)
        .attempts(3)
        .backoff(Duration::from_millis(5))
        .spawn()
        .unwrap();
    alerts.notify(&first_alert());
    alerts.close().await;

    let stats = alerts.stats();
    assert_eq!((stats.delivered, stats.retries, stats.failed), (0, 2, 1));
    let why = stats.last_failure.unwrap();
    assert!(
        !why.contains("127.0.0.1") && !why.contains("/hook"),
        "{why}"
    );
}

#[tokio::test]
async fn a_full_queue_drops_alerts_instead_of_blocking_the_settlement() {
    // A receiver that never answers: the first alert is in flight, one
    // waits in the queue, and the rest are dropped while spending goes on.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let _hold_open = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let alerts = WebhookAlerts::builder(url)
        .queue_capacity(1)
        .timeout(Duration::from_secs(60))
        .spawn()
        .unwrap();
    for _ in 0..3 {
        spend_over_two_thresholds(&alerts); // six alerts, each settle returns at once
        tokio::task::yield_now().await;
    }
    let stats = alerts.stats();
    assert_eq!(stats.delivered, 0);
    assert_eq!(stats.dropped, 6 - 2, "one in flight, one queued: {stats:?}");
}

fn first_alert() -> spendguard::budget::Alert {
    let heard = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&heard);
    let per_m = |d| PricePerToken::per_million(d).unwrap();
    let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(10.0), per_m(10.0))));
    let budget = TaskBudget::builder("report")
        .max_cost(Usd::from_cents(200))
        .alert_at(&[50])
        .on_alert(move |alert| *sink.lock().unwrap() = Some(alert.clone()))
        .build()
        .unwrap();
    budget
        .reserve(CallPlan::new(&price, 100_000))
        .unwrap()
        .settle(&Usage::new(100_000, 0));
    let alert = heard.lock().unwrap().take();
    alert.expect("a 50% alert")
}
