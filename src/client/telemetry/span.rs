//! The call's `tracing` span, after the OpenTelemetry GenAI semantic
//! conventions: its name is the operation (`chat`, `generate_content`) and
//! `otel.name` is `"{operation} {model}"`, the name the conventions give an
//! inference span, which `tracing-opentelemetry` uses as the span's name.
//!
//! Fields are written only while some subscriber wants the span: a
//! disabled span costs one check of its callsite, and nothing is formatted.

use tracing::field::{display, Empty};
use tracing::Span;

use crate::budget::TaskBudget;
use crate::client::error::ClientError;
use crate::client::provider::Provider;
use crate::client::receipt::{CallReceipt, CostSource};
use crate::client::telemetry::outcome::Outcome;
use crate::money::Usd;

/// The target of the span and of the `WARN` events inside it.
pub(crate) const TARGET: &str = "spendguard::call";

/// One guarded call's span, open until the call settles (a stream's, until
/// the stream ends).
pub(crate) struct CallSpan {
    span: Span,
    operation: &'static str,
    /// `gen_ai.request.model` was written.
    named: bool,
}

/// The span of one operation: its name must be written where it is made.
macro_rules! call_span {
    ($operation:literal, $provider:expr, $budget:expr) => {
        tracing::info_span!(
            target: TARGET,
            $operation,
            otel.name = Empty,
            otel.kind = "client",
            gen_ai.operation.name = $operation,
            gen_ai.provider.name = $provider,
            gen_ai.request.model = Empty,
            gen_ai.request.max_tokens = Empty,
            gen_ai.response.model = Empty,
            gen_ai.usage.input_tokens = Empty,
            gen_ai.usage.output_tokens = Empty,
            gen_ai.usage.cache_read.input_tokens = Empty,
            gen_ai.usage.cache_creation.input_tokens = Empty,
            gen_ai.usage.reasoning.output_tokens = Empty,
            spendguard.budget = $budget,
            spendguard.reserved_usd = Empty,
            spendguard.cost_usd = Empty,
            spendguard.cost_source = Empty,
            spendguard.decision = Empty,
            spendguard.limit = Empty,
        )
    };
}

impl CallSpan {
    /// The span of a call to `provider` for `model` (when the request names
    /// it), in `budget`.
    pub(crate) fn start(provider: Provider, budget: &TaskBudget, model: Option<&str>) -> CallSpan {
        let system = provider_name(provider);
        let (span, operation) = match provider {
            Provider::Gemini => (
                call_span!("generate_content", system, budget.name()),
                "generate_content",
            ),
            _ => (call_span!("chat", system, budget.name()), "chat"),
        };
        let mut span = CallSpan {
            span,
            operation,
            named: false,
        };
        if let Some(model) = model {
            span.name(model);
        }
        span
    }

    /// Writes the requested model and the span's OpenTelemetry name.
    fn name(&mut self, model: &str) {
        self.named = true;
        if self.span.is_disabled() {
            return;
        }
        self.span.record("gen_ai.request.model", model);
        self.span.record(
            "otel.name",
            display(format_args!("{} {model}", self.operation)),
        );
    }

    /// The span itself.
    pub(crate) const fn span(&self) -> &Span {
        &self.span
    }

    /// Enters the span until the guard is dropped: for work done outside
    /// the call's future, such as a stream settling as it ends.
    #[cfg(feature = "client")]
    pub(crate) fn enter(&self) -> tracing::span::Entered<'_> {
        self.span.enter()
    }

    /// The call was admitted for `model` with `max_tokens` of output and
    /// `reserved` held.
    pub(crate) fn admitted(&mut self, model: &str, max_tokens: u64, reserved: Usd) {
        if !self.named {
            self.name(model);
        }
        if self.span.is_disabled() {
            return;
        }
        self.span
            .record("gen_ai.request.max_tokens", count(max_tokens));
        self.span
            .record("spendguard.reserved_usd", reserved.as_dollars_f64());
    }

    /// The call ended: settled with `receipt`, or not, and `error` if it
    /// ended badly. A refusal, halt, runaway or cut-off is a `WARN` event.
    pub(crate) fn ended(
        &self,
        receipt: Option<&CallReceipt>,
        error: Option<&ClientError>,
        outcome: Outcome,
    ) {
        if self.span.is_disabled() {
            return;
        }
        let span = &self.span;
        match receipt {
            Some(receipt) => record_receipt(span, receipt),
            None => {
                let billed = error.map_or(Usd::ZERO, ClientError::billed);
                span.record("spendguard.cost_usd", billed.as_dollars_f64());
                if !billed.is_zero() {
                    span.record("spendguard.cost_source", "estimated");
                }
            }
        }
        span.record("spendguard.decision", outcome.decision.as_str());
        if let Some(limit) = outcome.limit {
            span.record("spendguard.limit", limit);
        }
        if let (true, Some(error)) = (outcome.is_warning(), error) {
            let decision = outcome.decision.as_str();
            tracing::warn!(
                target: TARGET,
                parent: span,
                { spendguard.decision = decision, spendguard.limit = outcome.limit },
                "{error}"
            );
        }
    }
}

fn record_receipt(span: &Span, receipt: &CallReceipt) {
    let usage = &receipt.usage;
    span.record("gen_ai.response.model", receipt.model.as_str());
    // The conventions count cached input inside the input tokens.
    span.record("gen_ai.usage.input_tokens", count(usage.prompt_tokens()));
    span.record(
        "gen_ai.usage.output_tokens",
        count(usage.billed_output_tokens()),
    );
    span.record(
        "gen_ai.usage.cache_read.input_tokens",
        count(usage.cache_read_tokens),
    );
    span.record(
        "gen_ai.usage.cache_creation.input_tokens",
        count(
            usage
                .cache_write_tokens
                .saturating_add(usage.cache_write_1h_tokens),
        ),
    );
    span.record(
        "gen_ai.usage.reasoning.output_tokens",
        count(usage.reasoning_tokens),
    );
    span.record("spendguard.cost_usd", receipt.cost.as_dollars_f64());
    let source = match receipt.source {
        CostSource::Reported => "reported",
        CostSource::Estimated { .. } => "estimated",
    };
    span.record("spendguard.cost_source", source);
}

/// A token count as OpenTelemetry's integer attribute, a signed 64-bit one
/// (`tracing-opentelemetry` writes an unsigned field as text).
fn count(tokens: u64) -> i64 {
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

/// `gen_ai.provider.name`: the conventions' well-known value where there is
/// one; a server that only speaks OpenAI's API is `openai_compatible`.
const fn provider_name(provider: Provider) -> &'static str {
    match provider {
        Provider::OpenAiChat | Provider::OpenAiResponses => "openai",
        Provider::OpenAiCompatible => "openai_compatible",
        Provider::Anthropic => "anthropic",
        Provider::Gemini => "gcp.gemini",
    }
}
