//! The response side of an exchange: a successful answer read whole and
//! settled from its usage (only the usage fields parsed: the caller gets
//! the bytes), or passed on as a metered byte stream, and rebuilt as the
//! `reqwest::Response` the caller gets, with the provider's status,
//! headers and URL.

use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::CONTENT_TYPE;
use reqwest::{ResponseBuilderExt, Url};

use crate::client::engine::stream::MeteredBytes;
use crate::client::engine::{Answer, Failure, OpenCall};
use crate::client::error::ClientError;
use crate::client::exchange::error::ExchangeError;
use crate::client::exchange::usage_fields;
use crate::client::http::error_chain;
use crate::client::receipt::CallReceipt;
use crate::client::ApiKey;
use crate::tokens::TokenCounter;
use crate::usage::UsageReport;

/// A response body as it arrives, its errors described with any key cut out.
type Body = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// A successful answer, read as far as its kind needs before it is settled.
pub(crate) struct HttpAnswer {
    head: Head,
    body: AnswerBody,
}

enum AnswerBody {
    /// A whole JSON answer, read to its end.
    Whole(Bytes),
    /// An event stream, to be metered as it passes through.
    Events(Body, TokenCounter),
}

/// The answer's status, headers, version, extensions and URL.
struct Head {
    parts: http::response::Parts,
    url: Url,
}

impl HttpAnswer {
    /// Reads a successful `response` to a request that asked for a stream
    /// (`stream`) or not: a stream's answer that is not JSON is metered as
    /// events, everything else read whole.
    ///
    /// # Errors
    /// [`Failure::Interrupted`] when a whole body breaks off while read.
    pub(crate) async fn read(
        response: reqwest::Response,
        stream: bool,
        counter: TokenCounter,
        key: Option<&ApiKey>,
    ) -> Result<HttpAnswer, Failure> {
        let events = stream && !is_json(&response);
        let url = response.url().clone();
        let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
        let head = Head { parts, url };
        let body = reqwest::Response::from(http::Response::new(body));
        let redact = |error: reqwest::Error| {
            let detail = error_chain(&error);
            key.map_or_else(|| detail.clone(), |key| key.redact(&detail))
        };
        if events {
            let key = key.cloned();
            let stream = body.bytes_stream().map_err(move |error| {
                let detail = error_chain(&error);
                key.as_ref()
                    .map_or_else(|| detail.clone(), |key| key.redact(&detail))
            });
            let body = AnswerBody::Events(Box::pin(stream), counter);
            return Ok(HttpAnswer { head, body });
        }
        match body.bytes().await {
            Ok(bytes) => Ok(HttpAnswer {
                head,
                body: AnswerBody::Whole(bytes),
            }),
            Err(error) => Err(Failure::Interrupted(redact(error))),
        }
    }
}

impl Answer for HttpAnswer {
    type Guarded = reqwest::Response;

    async fn settle(self, call: OpenCall) -> Result<reqwest::Response, ClientError> {
        match self.body {
            AnswerBody::Whole(bytes) => {
                let Ok(fields) = usage_fields::read(&bytes) else {
                    let detail = "the response body is not JSON".to_owned();
                    return Err(call.fail(Failure::Interrupted(detail)).await);
                };
                let format = call.provider().usage_format();
                let report = UsageReport::from_response(format, &fields);
                let receipt = call.settle_report(report).await;
                Ok(self.head.response(bytes.into(), Some(receipt)))
            }
            AnswerBody::Events(body, counter) => {
                let metered = MeteredBytes::new(call, counter, body).map_err(ExchangeError::Stream);
                let body = reqwest::Body::wrap_stream(metered.boxed());
                Ok(self.head.response(body, None))
            }
        }
    }
}

impl Head {
    /// The provider's response with `body`, carrying the call's `receipt`
    /// in its extensions when it is already settled.
    fn response(self, body: reqwest::Body, receipt: Option<CallReceipt>) -> reqwest::Response {
        let Head { parts, url } = self;
        // The URL rides in an extension only reqwest's builder can write;
        // a builder given nothing else cannot fail.
        let mut response = http::Response::builder()
            .url(url)
            .body(())
            .unwrap_or_default()
            .map(|()| body);
        *response.status_mut() = parts.status;
        *response.version_mut() = parts.version;
        *response.headers_mut() = parts.headers;
        response.extensions_mut().extend(parts.extensions);
        if let Some(receipt) = receipt {
            response.extensions_mut().insert(receipt);
        }
        reqwest::Response::from(response)
    }
}

fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}
