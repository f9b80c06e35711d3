//! [`ExchangeError`]: every way a guarded HTTP exchange ends without the
//! provider's response, and [`Unguardable`], the requests the guard cannot
//! read (refused, never passed on unchecked).

use std::error::Error;
use std::fmt;

use crate::budget::BudgetExceeded;
use crate::client::error::{ClientError, CutOffReason};
use crate::client::provider::Provider;

/// An error of any transport, boxed.
pub(crate) type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// A guarded HTTP request that did not get the provider's response.
///
/// Its [`source`](Error::source) is the refusal itself where there is one
/// ([`BudgetExceeded`], [`Halt`](crate::halt::Halt),
/// [`RunawayDetected`](crate::guard::runaway::RunawayDetected), the price
/// or request error), so a caller that only sees a boxed error (async-openai's
/// `OpenAIError::Boxed`, a tower `BoxError`) finds it by walking the chain;
/// [`budget_exceeded`](ExchangeError::budget_exceeded) and
/// [`client_error`](ExchangeError::client_error) read it directly.
///
/// ```
/// use spendguard::client::exchange::{ExchangeError, Unguardable};
///
/// let error = ExchangeError::Unguardable {
///     method: "POST".into(),
///     path: "/v1/embeddings".into(),
///     reason: Unguardable::UnknownPath { provider: None },
/// };
/// assert!(error.to_string().contains("nothing was sent"));
/// assert!(error.budget_exceeded().is_none());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The guard cannot read the request (another method, an unknown path,
    /// a body that is not JSON or is a stream); nothing was sent.
    Unguardable {
        /// The request's method.
        method: String,
        /// The request's path (never its query, which may hold a key).
        path: String,
        /// What the guard cannot read.
        reason: Unguardable,
    },
    /// The guard refused the call: a budget or shared limit, the kill
    /// switch, runaway detection, a model without a price, a field it needs
    /// missing or malformed. Nothing was sent.
    Refused(ClientError),
    /// The call failed once it was handed to the transport: it never left
    /// (nothing billed), or it may have reached the provider, or its answer
    /// could not be read (billed at its worst case). `error` says which and
    /// what was billed; `source` is the transport's own error, if it gave one.
    Failed {
        /// How the guard settled it.
        error: ClientError,
        /// The transport's error.
        source: Option<BoxError>,
    },
    /// A streamed answer ended with the guard's error after part of it was
    /// passed on: cut off, or broken ([`ClientError::StreamCutOff`],
    /// [`ClientError::StreamEndedEarly`]); the error says what it was billed.
    Stream(ClientError),
    /// A request passed on unchecked (the guard was told to pass requests
    /// it does not guard) failed in its transport; nothing was counted.
    PassedThrough(BoxError),
}

/// Why the guard cannot read a request; see [`ExchangeError::Unguardable`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unguardable {
    /// Only `POST` creates a model call; other methods are not guarded.
    #[error("the guard checks model calls, which are POST requests, and this is {method}")]
    Method {
        /// The method.
        method: String,
    },
    /// The path is not a model call the guard knows: Chat Completions,
    /// Responses, Anthropic Messages, Gemini `generateContent` (or, with a
    /// provider configured, not one of that provider's).
    #[error("the path is not {}", known_paths(*.provider))]
    UnknownPath {
        /// The provider configured, if one was.
        provider: Option<Provider>,
    },
    /// The request has no body to read.
    #[error("it has no body")]
    NoBody,
    /// The body is a stream, which cannot be read before it is sent.
    #[error("its body is a stream, which the guard cannot read before sending it")]
    StreamingBody,
    /// The body is not JSON.
    #[error("its body is not JSON ({detail})")]
    NotJson {
        /// What the JSON parser said.
        detail: String,
    },
    /// A Gemini stream asked for without `alt=sse` comes back as one JSON
    /// array that arrives piece by piece, which the guard cannot meter.
    #[error("Gemini's streamGenerateContent is metered as server-sent events: add `alt=sse` to the query")]
    GeminiStreamWithoutSse,
}

impl Unguardable {
    /// Whether the request may be passed on unchecked when the guard is told
    /// to ([`HttpGuardBuilder::pass_unguarded`](crate::client::exchange::HttpGuardBuilder::pass_unguarded)):
    /// another method or path, which is no model call the guard knows. A
    /// model call it cannot read is refused either way.
    pub const fn is_other_route(&self) -> bool {
        matches!(
            self,
            Unguardable::Method { .. } | Unguardable::UnknownPath { .. }
        )
    }
}

fn known_paths(provider: Option<Provider>) -> &'static str {
    match provider {
        None => {
            "a model call the guard knows (`…/chat/completions`, `…/responses`, \
             `…/messages`, `…/models/{model}:generateContent` or \
             `:streamGenerateContent`)"
        }
        Some(Provider::OpenAiChat | Provider::OpenAiCompatible) => {
            "a Chat Completions call (`…/chat/completions`)"
        }
        Some(Provider::OpenAiResponses) => "an OpenAI Responses call (`…/responses`)",
        Some(Provider::Anthropic) => "an Anthropic Messages call (`…/messages`)",
        Some(Provider::Gemini) => {
            "a Gemini call (`…/models/{model}:generateContent` or `:streamGenerateContent`)"
        }
    }
}

impl ExchangeError {
    /// The guard's error, if it refused or settled the call.
    pub fn client_error(&self) -> Option<&ClientError> {
        match self {
            ExchangeError::Unguardable { .. } | ExchangeError::PassedThrough(_) => None,
            ExchangeError::Refused(error)
            | ExchangeError::Failed { error, .. }
            | ExchangeError::Stream(error) => Some(error),
        }
    }

    /// The limit that refused the call or cut its stream off, if one did.
    pub fn budget_exceeded(&self) -> Option<&BudgetExceeded> {
        match self.client_error()? {
            ClientError::Budget(exceeded)
            | ClientError::StreamCutOff {
                reason: CutOffReason::Budget(exceeded),
                ..
            } => Some(exceeded),
            _ => None,
        }
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Unguardable {
                method,
                path,
                reason,
            } => write!(
                f,
                "{method} {path} cannot be guarded: {reason}; nothing was sent"
            ),
            ExchangeError::PassedThrough(error) => {
                write!(f, "a request passed on unguarded failed: {error}")
            }
            ExchangeError::Refused(error)
            | ExchangeError::Failed { error, .. }
            | ExchangeError::Stream(error) => error.fmt(f),
        }
    }
}

impl Error for ExchangeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ExchangeError::Unguardable { reason, .. } => Some(reason),
            ExchangeError::PassedThrough(error) => Some(error.as_ref()),
            ExchangeError::Failed {
                source: Some(source),
                ..
            } => Some(source.as_ref()),
            ExchangeError::Refused(error)
            | ExchangeError::Failed { error, .. }
            | ExchangeError::Stream(error) => Some(cause(error)),
        }
    }
}

/// The refusal inside a guard's error, where the chain should lead: the
/// guard's errors show their cause's text in place of their own, so the
/// cause itself is the next link.
fn cause(error: &ClientError) -> &(dyn Error + 'static) {
    match error {
        ClientError::Budget(exceeded)
        | ClientError::StreamCutOff {
            reason: CutOffReason::Budget(exceeded),
            ..
        } => exceeded,
        ClientError::Halted(halt)
        | ClientError::StreamCutOff {
            reason: CutOffReason::Halted(halt),
            ..
        } => halt,
        ClientError::Runaway(detected) => detected,
        ClientError::Price(price) => price,
        ClientError::Store(store) => store,
        other => other,
    }
}

/// A transport's error, and whether the request never left this machine.
pub(crate) trait TransportError: Into<BoxError> {
    /// `true` when the request cannot have reached the provider (a refused
    /// connection, a request that could not be built): nothing is billed.
    /// Anything else may have been, and bills the call's worst case.
    fn never_sent(&self) -> bool;
}

impl TransportError for reqwest::Error {
    fn never_sent(&self) -> bool {
        self.is_connect() || self.is_builder()
    }
}

impl TransportError for BoxError {
    fn never_sent(&self) -> bool {
        self.downcast_ref::<reqwest::Error>()
            .is_some_and(TransportError::never_sent)
    }
}
