//! [`GuardedClient`]'s transport: posting the engine's outgoing request
//! with `reqwest`, and reading a failed send as the engine's [`Failure`].

use reqwest::header::HeaderValue;

use crate::client::engine::{Failure, Outgoing};
use crate::client::error::ClientError;
use crate::client::response;
use crate::client::GuardedClient;
use crate::clock::{Clock, SystemClock};

impl GuardedClient {
    /// Posts `outgoing` (as a stream request with `stream`). A successful
    /// response comes back to be read; anything else is a [`Failure`].
    pub(crate) async fn post(
        &self,
        outgoing: &Outgoing,
        stream: bool,
    ) -> Result<reqwest::Response, Failure> {
        let url = self
            .provider
            .endpoint(&self.base_url, &outgoing.model, stream);
        let mut request = self.http.post(url);
        if let Some(body) = &outgoing.body {
            request = request.json(body);
        }
        if let Some(headers) = &self.per_request_headers {
            request = request.headers(headers.clone());
        }
        if stream {
            let accept = HeaderValue::from_static("text/event-stream");
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        let sent = match (self.timeout, stream) {
            // A stream's deadline covers its wait for the answer to start;
            // the idle timeout watches the body.
            (Some(timeout), true) => match tokio::time::timeout(timeout, request.send()).await {
                Ok(sent) => sent,
                Err(_) => {
                    return Err(Failure::Interrupted(format!(
                        "no answer came within the {}s timeout",
                        timeout.as_secs_f64()
                    )))
                }
            },
            (Some(timeout), false) => request.timeout(timeout).send().await,
            (None, _) => request.send().await,
        };
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Err(self.transport_failure(&error)),
        };
        if !response.status().is_success() {
            return Err(Failure::Unbilled(self.provider_failure(response).await));
        }
        Ok(response)
    }

    /// `text` with the API key cut out, for errors that quote the provider.
    fn redact(&self, text: &str) -> String {
        self.api_key
            .as_ref()
            .map_or_else(|| text.to_owned(), |key| key.redact(text))
    }

    /// A request that failed in transport: unbilled if it never left this
    /// machine, billed at its worst case if it may have reached the provider.
    pub(crate) fn transport_failure(&self, error: &reqwest::Error) -> Failure {
        let detail = self.redact(&error_chain(error));
        if error.is_connect() || error.is_builder() {
            return Failure::Unbilled(ClientError::Unreachable {
                provider: self.provider,
                detail,
            });
        }
        Failure::Interrupted(detail)
    }

    /// A non-success status as a typed error (providers do not bill refused
    /// or failed calls).
    async fn provider_failure(&self, response: reqwest::Response) -> ClientError {
        let status = response.status().as_u16();
        let retry_after = response::retry_after(response.headers(), SystemClock.now());
        let text = response.text().await.unwrap_or_default();
        let message = self.redact(&response::error_message(&text));
        ClientError::from_status(self.provider, status, retry_after, message)
    }
}

/// An error and its causes on one line, e.g. `error sending request: connection closed`.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
