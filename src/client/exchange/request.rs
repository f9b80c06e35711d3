//! The request side of an exchange: its body read as the JSON the engine
//! guards, and the request rewritten where the guard must (the output
//! ceiling, a stream's usage report, a cheaper model), every other header
//! and field kept.

use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH};
use serde_json::Value;

use crate::client::engine::Outgoing;
use crate::client::exchange::error::Unguardable;
use crate::client::exchange::route::Route;
use crate::client::ApiKey;

/// The request's body as JSON, with Gemini's model (named in the path)
/// written in for the guard to read, and whether it asks for a stream.
///
/// # Errors
/// [`Unguardable`]: no body, a streaming body, or one that is not JSON.
pub(crate) fn read_body(
    request: &reqwest::Request,
    route: &Route,
) -> Result<(Value, bool), Unguardable> {
    let body = request.body().ok_or(Unguardable::NoBody)?;
    let bytes = body.as_bytes().ok_or(Unguardable::StreamingBody)?;
    let mut body: Value = serde_json::from_slice(bytes).map_err(|e| Unguardable::NotJson {
        detail: e.to_string(),
    })?;
    let stream = match &route.gemini {
        Some(gemini) => {
            if let Some(object) = body.as_object_mut() {
                object.insert("model".to_owned(), Value::String(gemini.model.clone()));
            }
            gemini.stream
        }
        None => body.get("stream") == Some(&Value::Bool(true)),
    };
    Ok((body, stream))
}

/// `request` (its body taken out) with the guarded body of `outgoing`,
/// and, for Gemini, the path of the model it was granted.
pub(crate) fn rewrite(
    mut request: reqwest::Request,
    route: &Route,
    outgoing: &Outgoing,
) -> reqwest::Request {
    if let Some(gemini) = route.gemini.as_ref().filter(|g| g.model != outgoing.model) {
        let path = gemini.path_for(&outgoing.model);
        request.url_mut().set_path(&path);
    }
    // The body changed length; the transport writes the new one.
    request.headers_mut().remove(CONTENT_LENGTH);
    let body = outgoing
        .body
        .as_ref()
        .map_or_else(Bytes::new, |body| Bytes::from(body.to_string()));
    *request.body_mut() = Some(body.into());
    request
}

/// The API key the request carries, to cut out of any error text quoted
/// from the transport: the provider's credential header, or Gemini's `key`
/// in the query.
pub(crate) fn api_key(request: &reqwest::Request) -> Option<ApiKey> {
    let headers = request.headers();
    let text = |value: &HeaderValue| value.to_str().ok().map(str::to_owned);
    let from_header = headers
        .get(AUTHORIZATION)
        .and_then(text)
        .map(|auth| {
            auth.strip_prefix("Bearer ")
                .map_or(auth.clone(), str::to_owned)
        })
        .or_else(|| {
            ["x-api-key", "x-goog-api-key", "api-key"]
                .iter()
                .find_map(|name| headers.get(*name).and_then(text))
        });
    from_header
        .or_else(|| {
            request
                .url()
                .query_pairs()
                .find(|(key, _)| key == "key")
                .map(|(_, key)| key.into_owned())
        })
        .filter(|key| !key.is_empty())
        .map(ApiKey::new)
}
