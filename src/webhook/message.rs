//! The Slack-compatible message an alert becomes: `text` for every chat
//! tool that reads incoming webhooks (Slack, Mattermost, Rocket.Chat,
//! Discord's `/slack` endpoint), and the alert's fields as an attachment.

use serde_json::{json, Value};

use crate::budget::Alert;

/// `{"text": "spendguard: task report has used 80% …", "attachments": [{…}]}`.
pub(crate) fn slack_message(alert: &Alert) -> Value {
    let field =
        |title: &str, value: String| json!({ "title": title, "value": value, "short": true });
    json!({
        "text": format!("spendguard: {alert}"),
        "attachments": [{
            "color": if alert.percent >= 80 { "danger" } else { "warning" },
            "fields": [
                field("Budget", alert.subject.clone()),
                field("Limit", alert.limit.to_string()),
                field("Threshold", format!("{}%", alert.percent)),
                field("Used", alert.used.to_string()),
                field("Of", alert.max.to_string()),
            ],
        }],
    })
}
