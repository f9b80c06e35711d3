//! [`WebhookUrl`]: where alerts are posted, kept secret.

use std::fmt;

use crate::webhook::WebhookError;

/// A webhook URL. Chat webhooks carry their credential in the path (Slack's
/// `/services/T…/B…/token`), so `Debug` and `Display` show only the scheme
/// and host: `https://hooks.slack.com/…`.
///
/// ```
/// use spendguard::webhook::WebhookUrl;
///
/// let url = WebhookUrl::parse("https://hooks.slack.com/services/T0/B0/s3cret")?;
/// assert_eq!(url.to_string(), "https://hooks.slack.com/…");
/// assert!(!format!("{url:?}").contains("s3cret"));
/// # Ok::<(), spendguard::webhook::WebhookError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(reqwest::Url);

impl WebhookUrl {
    /// Reads an absolute `http` or `https` URL.
    ///
    /// # Errors
    /// [`WebhookError::InvalidUrl`], naming the problem without quoting the
    /// URL.
    pub fn parse(text: &str) -> Result<Self, WebhookError> {
        let url = reqwest::Url::parse(text.trim()).map_err(|_| WebhookError::InvalidUrl {
            problem: "is not an absolute URL (expected https://host/path)",
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookError::InvalidUrl {
                problem: "must use http or https",
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(WebhookError::InvalidUrl {
                problem: "has no host",
            });
        }
        Ok(WebhookUrl(url))
    }

    /// The URL to post to.
    pub(crate) fn as_url(&self) -> &reqwest::Url {
        &self.0
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}",
            self.0.scheme(),
            self.0.host_str().unwrap_or("")
        )?;
        if let Some(port) = self.0.port() {
            write!(f, ":{port}")?;
        }
        f.write_str("/…")
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({self})")
    }
}
