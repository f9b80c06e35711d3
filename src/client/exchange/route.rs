//! Which provider API a request is to, read from its method and path (or
//! the one configured): the guard's first decision, before the body is read.

use reqwest::{Method, Url};

use crate::client::exchange::error::Unguardable;
use crate::client::provider::Provider;

/// A model call the guard knows: the provider API it is to and, for
/// Gemini, the model and method its path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) provider: Provider,
    pub(crate) gemini: Option<GeminiPath>,
}

/// Gemini names the model in the path, not the body:
/// `{prefix}{model}:{method}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GeminiPath {
    /// The path up to the model, `…/models/`.
    prefix: String,
    pub(crate) model: String,
    /// `:streamGenerateContent` rather than `:generateContent`.
    pub(crate) stream: bool,
}

impl GeminiPath {
    /// The path asking for `model` instead (after a degrade).
    pub(crate) fn path_for(&self, model: &str) -> String {
        let method = if self.stream {
            "streamGenerateContent"
        } else {
            "generateContent"
        };
        format!("{}{model}:{method}", self.prefix)
    }
}

/// Reads the route of `method` and `url`, to the `configured` provider if
/// there is one, else to whichever the path names.
///
/// # Errors
/// [`Unguardable`]: not a `POST`, a path that is no known model call (or not
/// the configured provider's), or a Gemini stream not asked for as SSE.
pub(crate) fn route(
    method: &Method,
    url: &Url,
    configured: Option<Provider>,
) -> Result<Route, Unguardable> {
    if method != Method::POST {
        return Err(Unguardable::Method {
            method: method.as_str().to_owned(),
        });
    }
    let unknown = Unguardable::UnknownPath {
        provider: configured,
    };
    let path = url.path().trim_end_matches('/');
    let (named, gemini) = match gemini_path(path) {
        Some(gemini) => (Provider::Gemini, Some(gemini)),
        None if path.ends_with("/chat/completions") => (Provider::OpenAiChat, None),
        None if path.ends_with("/responses") => (Provider::OpenAiResponses, None),
        None if path.ends_with("/messages") => (Provider::Anthropic, None),
        None => return Err(unknown),
    };
    let provider = match (configured, named) {
        (None, named) => named,
        (Some(Provider::OpenAiCompatible), Provider::OpenAiChat) => Provider::OpenAiCompatible,
        (Some(configured), named) if configured == named => named,
        (Some(_), _) => return Err(unknown),
    };
    if gemini.as_ref().is_some_and(|g| g.stream) && !asks_for_sse(url) {
        return Err(Unguardable::GeminiStreamWithoutSse);
    }
    Ok(Route { provider, gemini })
}

/// `…/models/{model}:generateContent` or `:streamGenerateContent`.
fn gemini_path(path: &str) -> Option<GeminiPath> {
    let (rest, method) = path.rsplit_once(':')?;
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return None,
    };
    let at = rest.rfind("/models/")? + "/models/".len();
    let model = &rest[at..];
    if model.is_empty() || model.contains('/') {
        return None;
    }
    Some(GeminiPath {
        prefix: rest[..at].to_owned(),
        model: model.to_owned(),
        stream,
    })
}

fn asks_for_sse(url: &Url) -> bool {
    url.query_pairs()
        .any(|(key, value)| key == "alt" && value == "sse")
}
