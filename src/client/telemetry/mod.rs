//! What operators see of each guarded call: with feature `tracing`, one
//! span after the OpenTelemetry GenAI semantic conventions (`span`); with
//! feature `metrics`, counters and gauges through the `metrics` facade
//! (`meters`). Both read how the call ended from `outcome`.
//!
//! The engine drives [`CallTelemetry`] for every front end, so each call is
//! observed once, in one place. Without either feature it is empty and
//! every hook compiles to nothing.

#[cfg(feature = "metrics")]
mod meters;
#[cfg(any(feature = "tracing", feature = "metrics"))]
mod outcome;
#[cfg(feature = "tracing")]
mod span;

use std::future::Future;

use crate::budget::TaskBudget;
use crate::client::error::ClientError;
use crate::client::provider::Provider;
use crate::client::receipt::CallReceipt;
use crate::money::Usd;
use crate::tags::Tags;

#[cfg(feature = "metrics")]
pub use meters::{describe_metrics, record_limits, MetricTags, DEFAULT_MAX_TAG_VALUES};
#[cfg(any(feature = "tracing", feature = "metrics"))]
use outcome::Outcome;

/// One call's span and metrics, from its start until it settles: a
/// stream's until the stream ends.
pub(crate) struct CallTelemetry {
    #[cfg(any(feature = "tracing", feature = "metrics"))]
    budget: TaskBudget,
    #[cfg(feature = "tracing")]
    span: span::CallSpan,
    #[cfg(feature = "metrics")]
    meters: meters::CallMeters,
}

impl CallTelemetry {
    /// A call to `provider` for `model` (if the request names it) in
    /// `budget`, tagged `tags` (read only when metrics carry tags).
    #[cfg_attr(
        not(all(feature = "tracing", feature = "metrics")),
        allow(unused_variables)
    )]
    pub(crate) fn start(
        provider: Provider,
        budget: &TaskBudget,
        model: Option<&str>,
        tags: impl FnOnce() -> Tags,
    ) -> CallTelemetry {
        CallTelemetry {
            #[cfg(any(feature = "tracing", feature = "metrics"))]
            budget: budget.clone(),
            #[cfg(feature = "tracing")]
            span: span::CallSpan::start(provider, budget, model),
            #[cfg(feature = "metrics")]
            meters: meters::CallMeters::start(provider, tags),
        }
    }

    /// A call made outside the engine, in unit tests.
    #[cfg(all(test, feature = "client"))]
    pub(crate) fn unobserved(provider: Provider) -> CallTelemetry {
        CallTelemetry::start(provider, &TaskBudget::new(Usd::ZERO), None, Tags::new)
    }

    /// A handle on the call's span, to run the call's future in.
    pub(crate) fn scope(&self) -> Scope {
        Scope {
            #[cfg(feature = "tracing")]
            span: self.span.span().clone(),
        }
    }

    /// Enters the call's span until the guard is dropped, for work done
    /// outside the call's future (a stream settling as it ends).
    #[cfg(all(feature = "client", feature = "tracing"))]
    pub(crate) fn enter(&self) -> impl Sized + '_ {
        self.span.enter()
    }

    /// Nothing to enter without feature `tracing`.
    #[cfg(all(feature = "client", not(feature = "tracing")))]
    pub(crate) fn enter(&self) -> impl Sized + '_ {
        Unentered
    }

    /// The call holds its reservations for `model`, `reserved` of them in
    /// its task budget, and is about to be sent with an output limit of
    /// `max_output_tokens`.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn admitted(&mut self, model: &str, max_output_tokens: u64, reserved: Usd) {
        #[cfg(feature = "tracing")]
        self.span.admitted(model, max_output_tokens, reserved);
        #[cfg(feature = "metrics")]
        self.meters.admitted(model);
    }

    /// The call ended without a receipt: refused before it was sent, or
    /// failed (billed what `error` says).
    #[cfg_attr(
        not(any(feature = "tracing", feature = "metrics")),
        allow(unused_variables)
    )]
    pub(crate) fn failed(&mut self, error: &ClientError) {
        #[cfg(any(feature = "tracing", feature = "metrics"))]
        {
            let outcome = Outcome::failed(error, &self.budget);
            self.ended(None, Some(error), outcome);
        }
    }

    /// The call settled with `receipt`; `error` is how a stream ended
    /// badly, if it did.
    #[cfg_attr(
        not(any(feature = "tracing", feature = "metrics")),
        allow(unused_variables)
    )]
    pub(crate) fn settled(&mut self, receipt: &CallReceipt, error: Option<&ClientError>) {
        #[cfg(any(feature = "tracing", feature = "metrics"))]
        {
            let outcome = Outcome::settled(error, &self.budget);
            self.ended(Some(receipt), error, outcome);
        }
    }

    #[cfg(any(feature = "tracing", feature = "metrics"))]
    fn ended(
        &mut self,
        receipt: Option<&CallReceipt>,
        error: Option<&ClientError>,
        outcome: Outcome,
    ) {
        #[cfg(feature = "tracing")]
        self.span.ended(receipt, error, outcome);
        #[cfg(feature = "metrics")]
        self.meters.ended(receipt, error, outcome);
    }
}

/// Where a call's future runs: inside its span, with feature `tracing`.
pub(crate) struct Scope {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl Scope {
    /// Runs `future` inside the call's span.
    #[cfg(feature = "tracing")]
    pub(crate) fn instrument<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        tracing::Instrument::instrument(future, self.span)
    }

    /// Runs `future` (there is no span without feature `tracing`).
    #[cfg(not(feature = "tracing"))]
    pub(crate) fn instrument<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        future
    }
}

/// What [`CallTelemetry::enter`] returns without a span to enter.
#[cfg(all(feature = "client", not(feature = "tracing")))]
struct Unentered;
