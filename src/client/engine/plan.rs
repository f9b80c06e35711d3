//! Step 3 of a guarded call: the request's facts, the output ceiling, the
//! prompt count, and the task budget's reservation.

use std::sync::Arc;

use serde_json::Value;

use crate::budget::{CallPlan, Reservation, TaskBudget};
use crate::client::engine::request::{self, RequestFacts};
use crate::client::engine::{context, Described, Engine, Request};
use crate::client::error::ClientError;
use crate::client::provider::Provider;
use crate::prices::Resolved;
use crate::tokens::{Exactness, InputCalibration, TokenCount};
use crate::usage::ServiceTier;

/// A call that passed its task budget's check and is about to be sent.
pub(crate) struct PreparedCall {
    pub(crate) reservation: Reservation,
    /// The model the request names.
    pub(crate) model: String,
    pub(crate) resolved: Resolved,
    /// The prompt count reserved: the estimate, raised by the calibration
    /// when the provider's counts have run past it.
    pub(crate) prompt: TokenCount,
    /// The prompt count before calibration, which the settlement's report
    /// is compared with.
    pub(crate) estimated: TokenCount,
    pub(crate) calibration: Arc<InputCalibration>,
    /// The body to send, output limit written in; `Value::Null` for a
    /// described call, which has no body.
    pub(crate) wire_body: Value,
    /// A streamed call will end with a usage report (it was not turned off).
    /// Only streams read it, and only the `client` feature streams.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) reports_usage: bool,
}

/// Reads `request`, prices and counts it, and reserves its worst case in
/// `budget`.
pub(crate) fn prepare(
    engine: &Engine,
    provider: Provider,
    budget: &TaskBudget,
    request: Request<'_>,
) -> Result<PreparedCall, ClientError> {
    match request {
        Request::Body {
            body,
            stream,
            long_context,
        } => prepare_body(engine, provider, budget, body, stream, long_context),
        Request::Described(described) => prepare_described(engine, budget, described),
    }
}

fn prepare_body(
    engine: &Engine,
    provider: Provider,
    budget: &TaskBudget,
    body: &Value,
    stream: bool,
    long_context: bool,
) -> Result<PreparedCall, ClientError> {
    let RequestFacts {
        model,
        max_output_tokens,
        choices,
        service_tier,
        cache_write,
    } = request::read_facts(provider, body)?;
    if !stream && body.get("stream") == Some(&Value::Bool(true)) {
        // The answer would be an event stream `send` cannot read, and a
        // call it cannot read is billed at its worst case.
        return Err(ClientError::InvalidRequest {
            field: "stream",
            problem: "is true: send streamed calls with `GuardedClient::stream`, which \
                      accounts for them as they arrive"
                .into(),
        });
    }
    let reports_usage = !stream || request::stream_reports_usage(provider, body)?;
    let resolved = engine.prices.resolve(&model)?;
    let estimated = engine.counter.count_request_cached(
        &model,
        &request::countable_body(provider, body),
        &engine.counts,
    )?;
    context::check(&model, resolved.price(), estimated, long_context)?;
    let prompt = engine.calibration.adjust(resolved.listed_id(), estimated);
    let mut plan = plan(&resolved, prompt, max_output_tokens, service_tier).with_choices(choices);
    if let Some(cache) = cache_write {
        plan = plan.with_cache_write(cache);
    }
    let reservation = budget.reserve(plan)?;
    let mut wire_body = request::wire_body(provider, body, reservation.max_output_tokens());
    if stream {
        request::ask_to_stream(provider, &mut wire_body, reports_usage);
    }
    Ok(PreparedCall {
        model,
        reservation,
        resolved,
        prompt,
        estimated,
        calibration: Arc::clone(&engine.calibration),
        wire_body,
        reports_usage,
    })
}

fn prepare_described(
    engine: &Engine,
    budget: &TaskBudget,
    described: &Described,
) -> Result<PreparedCall, ClientError> {
    let resolved = engine.prices.resolve(&described.model)?;
    let prompt = TokenCount {
        tokens: described.prompt_tokens,
        exactness: Exactness::Exact,
    };
    context::check(&described.model, resolved.price(), prompt, false)?;
    let plan = plan(
        &resolved,
        prompt,
        described.max_output_tokens,
        ServiceTier::Standard,
    );
    Ok(PreparedCall {
        model: described.model.clone(),
        reservation: budget.reserve(plan)?,
        resolved,
        prompt,
        estimated: prompt,
        calibration: Arc::clone(&engine.calibration),
        wire_body: Value::Null,
        reports_usage: true,
    })
}

/// The plan for a call at `tier` asking for `max_output_tokens`, if it asks.
fn plan(
    resolved: &Resolved,
    prompt: TokenCount,
    max_output_tokens: Option<u64>,
    tier: ServiceTier,
) -> CallPlan {
    let plan = CallPlan::new(resolved.price(), prompt.tokens).with_service_tier(tier);
    match max_output_tokens {
        Some(tokens) => plan.with_max_output_tokens(tokens),
        None => plan,
    }
}
