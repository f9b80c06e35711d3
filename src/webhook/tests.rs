use super::*;
use crate::budget::{AlertKind, Amount, LimitKind};
use crate::money::Usd;

fn alert(percent: u8) -> Alert {
    Alert {
        subject: "task report".into(),
        limit: LimitKind::Cost,
        percent,
        used: Amount::Usd(Usd::from_cents(161)),
        max: Amount::Usd(Usd::from_cents(200)),
        kind: AlertKind::Threshold,
    }
}

#[test]
fn urls_that_are_not_http_are_refused_without_being_quoted() {
    for (text, problem) in [
        ("", "is not an absolute URL (expected https://host/path)"),
        (
            "hooks.slack.com/services/s3cret",
            "is not an absolute URL (expected https://host/path)",
        ),
        ("ftp://hooks.example/s3cret", "must use http or https"),
        ("mailto:s3cret@example.com", "must use http or https"),
    ] {
        let error = WebhookUrl::parse(text).unwrap_err();
        assert_eq!(error, WebhookError::InvalidUrl { problem }, "{text:?}");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}

#[test]
fn a_url_shows_its_host_and_port_but_never_its_path_or_query() {
    let url = WebhookUrl::parse("http://127.0.0.1:9000/hook/s3cret?token=t0ken").unwrap();
    assert_eq!(url.to_string(), "http://127.0.0.1:9000/…");
    let debug = format!("{url:?}");
    assert!(
        !debug.contains("s3cret") && !debug.contains("t0ken"),
        "{debug}"
    );
}

#[test]
fn spawning_outside_a_runtime_is_a_typed_error() {
    let error = WebhookAlerts::builder("https://hooks.example/x")
        .spawn()
        .unwrap_err();
    assert_eq!(error, WebhookError::NoRuntime);
}

#[tokio::test]
async fn zero_capacity_or_zero_attempts_are_refused() {
    let url = "https://hooks.example/x";
    let error = WebhookAlerts::builder(url)
        .queue_capacity(0)
        .spawn()
        .unwrap_err();
    assert_eq!(error, WebhookError::ZeroQueueCapacity);
    let error = WebhookAlerts::builder(url).attempts(0).spawn().unwrap_err();
    assert_eq!(error, WebhookError::ZeroAttempts);
}

#[tokio::test]
async fn the_sinks_debug_output_hides_the_secret_path() {
    let alerts = WebhookAlerts::builder("https://hooks.slack.com/services/T0/B0/s3cret")
        .spawn()
        .unwrap();
    let debug = format!("{alerts:?}");
    assert!(debug.contains("hooks.slack.com"), "{debug}");
    assert!(!debug.contains("s3cret"), "{debug}");
}

#[test]
fn an_alert_becomes_slack_text_with_its_fields() {
    let message = message::slack_message(&alert(80));
    assert_eq!(
        message["text"],
        "spendguard: task report has used 80% of its cost limit: $1.61 of $2.00"
    );
    let fields = &message["attachments"][0]["fields"];
    let pairs: Vec<(&str, &str)> = fields
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["title"].as_str().unwrap(), f["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("Budget", "task report"),
            ("Limit", "cost limit"),
            ("Threshold", "80%"),
            ("Used", "$1.61"),
            ("Of", "$2.00"),
        ]
    );
    assert_eq!(message["attachments"][0]["color"], "danger");
    assert_eq!(
        message::slack_message(&alert(50))["attachments"][0]["color"],
        "warning"
    );
}

#[test]
fn an_overrun_becomes_slack_text_with_the_bill_and_the_reservation() {
    let overrun = crate::budget::Overrun::of(
        "task report",
        "gpt-4o",
        Usd::from_cents(2),
        Usd::from_cents(5),
    )
    .unwrap();
    let message = message::slack_message(&Alert::overrun(overrun));
    assert_eq!(
        message["text"],
        "spendguard: task report: a call to gpt-4o was billed $0.05, $0.03 more than the \
         $0.02 reserved for it (recorded in full)"
    );
    let fields: Vec<(&str, &str)> = message["attachments"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["title"].as_str().unwrap(), f["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("Budget", "task report"),
            ("Model", "gpt-4o"),
            ("Reserved", "$0.02"),
            ("Billed", "$0.05"),
            ("Over by", "$0.03"),
        ]
    );
    assert_eq!(message["attachments"][0]["color"], "danger");
}

#[tokio::test]
async fn alerts_after_close_are_dropped_and_counted() {
    let alerts = WebhookAlerts::builder("http://127.0.0.1:9/x")
        .spawn()
        .unwrap();
    alerts.close().await;
    alerts.notify(&alert(50));
    assert_eq!(alerts.stats().dropped, 1);
    assert_eq!(alerts.stats().delivered, 0);
}
