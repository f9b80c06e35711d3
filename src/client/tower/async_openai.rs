//! [`HttpGuardService`] as async-openai's HTTP service: its requests come as
//! a replayable `HttpRequestFactory`, built once per attempt, and its errors
//! go back as `OpenAIError`.

use std::task::{Context, Poll};

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use tower_service::Service;

use crate::client::exchange::{BoxError, ExchangeError};
use crate::client::tower::{HttpGuardService, ResponseFuture};

/// async-openai keeps a middleware's error boxed: `OpenAIError::Boxed`
/// holds the [`ExchangeError`], whose source chain reaches the refusal.
impl From<ExchangeError> for OpenAIError {
    fn from(error: ExchangeError) -> Self {
        OpenAIError::Boxed(Box::new(error))
    }
}

impl<S> Service<HttpRequestFactory> for HttpGuardService<S>
where
    S: Service<reqwest::Request, Response = reqwest::Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = ResponseFuture<OpenAIError>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<reqwest::Request>::poll_ready(self, cx).map_err(OpenAIError::from)
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let mut guarded = HttpGuardService::new(self.take_ready(), self.guard.clone());
        ResponseFuture::new(async move {
            let request = factory.build().await?;
            Ok(guarded.call(request).await?)
        })
    }
}
