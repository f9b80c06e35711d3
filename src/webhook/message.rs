//! The Slack-compatible message an alert becomes: `text` for every chat
//! tool that reads incoming webhooks (Slack, Mattermost, Rocket.Chat,
//! Discord's `/slack` endpoint), and the alert's fields as an attachment.

use serde_json::{json, Value};

use crate::budget::{Alert, AlertKind};

/// `{"text": "spendguard: task report has used 80% …", "attachments": [{…}]}`.
pub(crate) fn slack_message(alert: &Alert) -> Value {
    let field =
        |title: &str, value: String| json!({ "title": title, "value": value, "short": true });
    let (color, fields) = match &alert.kind {
        AlertKind::Overrun(overrun) => (
            "danger",
            vec![
                field("Budget", overrun.subject.clone()),
                field("Model", overrun.model.clone()),
                field("Reserved", overrun.reserved.to_string()),
                field("Billed", overrun.cost.to_string()),
                field("Over by", overrun.by().to_string()),
            ],
        ),
        AlertKind::Threshold => (
            if alert.percent >= 80 {
                "danger"
            } else {
                "warning"
            },
            vec![
                field("Budget", alert.subject.clone()),
                field("Limit", alert.limit.to_string()),
                field("Threshold", format!("{}%", alert.percent)),
                field("Used", alert.used.to_string()),
                field("Of", alert.max.to_string()),
            ],
        ),
    };
    json!({
        "text": format!("spendguard: {alert}"),
        "attachments": [{ "color": color, "fields": fields }],
    })
}
