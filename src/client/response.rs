//! Reading a provider's error replies over HTTP: how long it asks to wait,
//! and its message.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

/// Longest provider error message quoted in a [`ClientError`](crate::client::ClientError).
const MAX_MESSAGE_CHARS: usize = 500;

/// How long a refusal asks the caller to wait: OpenAI's `retry-after-ms`,
/// or `Retry-After` in seconds or as an HTTP date (measured from `now`, the
/// time since the Unix epoch; a date already past asks for no wait).
pub(crate) fn retry_after(headers: &HeaderMap, now: Duration) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return finite_non_negative(ms / 1_000.0);
    }
    let value = header("retry-after")?;
    match value.parse::<f64>() {
        Ok(seconds) => finite_non_negative(seconds),
        Err(_) => {
            let date = httpdate::parse_http_date(value).ok()?;
            let at = date.duration_since(std::time::UNIX_EPOCH).ok()?;
            Some(at.saturating_sub(now).min(MAX_RETRY_AFTER))
        }
    }
}

/// The longest wait a provider can ask for; anything longer is read as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

fn finite_non_negative(seconds: f64) -> Option<Duration> {
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// The human message of a provider's error body: OpenAI's and Gemini's
/// `error.message`, Anthropic's `error.message`, a bare `message`, or the
/// start of the raw text.
pub(crate) fn error_message(text: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let message = parsed.as_ref().and_then(|body| {
        body.pointer("/error/message")
            .or_else(|| body.get("message"))
            .or_else(|| body.get("error"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let message = message.unwrap_or_else(|| text.trim().to_owned());
    if message.is_empty() {
        return "(no message)".to_owned();
    }
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// 2015-10-21T07:28:00Z.
    const OCT_21_2015: Duration = Duration::from_secs(1_445_412_480);

    #[test]
    fn retry_after_in_seconds_and_milliseconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            retry_after(&headers, OCT_21_2015),
            Some(Duration::from_secs(7))
        );
        headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(
            retry_after(&headers, OCT_21_2015),
            Some(Duration::from_millis(1_500))
        );
        let mut bad = HeaderMap::new();
        bad.insert("retry-after", HeaderValue::from_static("-3"));
        assert_eq!(retry_after(&bad, OCT_21_2015), None);
        bad.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&bad, OCT_21_2015), None);
        bad.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 32 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&bad, OCT_21_2015), None);
    }

    #[test]
    fn retry_after_as_an_http_date_counts_from_now() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        let ten_seconds_before = OCT_21_2015 - Duration::from_secs(10);
        assert_eq!(
            retry_after(&headers, ten_seconds_before),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after(&headers, OCT_21_2015 + Duration::from_secs(5)),
            Some(Duration::ZERO),
            "a date already past asks for no wait"
        );
        assert_eq!(
            retry_after(&headers, Duration::ZERO),
            Some(MAX_RETRY_AFTER),
            "a date years away is capped at a day"
        );
    }

    #[test]
    fn error_messages_from_every_shape() {
        assert_eq!(
            error_message(r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#),
            "Rate limit reached"
        );
        assert_eq!(
            error_message(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded"
        );
        assert_eq!(
            error_message("upstream connect error"),
            "upstream connect error"
        );
        assert_eq!(error_message(""), "(no message)");
        assert_eq!(
            error_message(&"x".repeat(600)).chars().count(),
            MAX_MESSAGE_CHARS + 1
        );
    }
}
