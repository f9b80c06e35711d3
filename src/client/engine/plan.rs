//! Step 3 of a guarded call: the request's facts, the output ceiling, the
//! prompt count, and the task budget's reservation.
//!
//! The prompt is counted exactly only where the count decides something.
//! Its [`TokenBound`](crate::tokens::TokenBound) (the same framing, each
//! text at its length in bytes) is never below the exact count, so a call
//! whose bound fits the context window and reserves with as much room again
//! left in the task budget would pass with the exact count too: it is
//! reserved at the bound and sent, with no tokenizer loaded, and counted
//! exactly afterwards only if something reads the count. A call near a
//! limit, or one the bound cannot clear, is counted exactly first and
//! decided by that count, as if the bound had never been asked. Shared
//! limits and runaway detection are decided in the store, after this step,
//! so a call they apply to is always counted exactly.

use std::sync::Arc;

use serde_json::Value;

use crate::budget::{CallPlan, Reservation, TaskBudget};
use crate::client::engine::request::{self, RequestFacts};
use crate::client::engine::{context, Described, Engine, Request};
use crate::client::error::ClientError;
use crate::client::provider::Provider;
use crate::prices::Resolved;
use crate::tags::Tags;
use crate::tokens::{
    self, ChatInput, Exactness, InputCalibration, PromptCount, Raise, TokenBound, TokenCount,
};
use crate::usage::ServiceTier;

/// A call that passed its task budget's check and is about to be sent.
pub(crate) struct PreparedCall {
    pub(crate) reservation: Reservation,
    /// The model the request names.
    pub(crate) model: String,
    pub(crate) resolved: Resolved,
    /// The prompt count reserved (the bound, or the exact count), and the
    /// exact count: before calibration, which the settlement's report is
    /// compared with, and raised by it, which an estimated settlement bills.
    pub(crate) prompt: PromptCount,
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
    tags: &Tags,
    request: Request<'_>,
) -> Result<PreparedCall, ClientError> {
    match request {
        Request::Body {
            body,
            stream,
            long_context,
        } => prepare_body(engine, provider, budget, tags, body, stream, long_context),
        Request::Described(described) => prepare_described(engine, budget, described),
    }
}

fn prepare_body(
    engine: &Engine,
    provider: Provider,
    budget: &TaskBudget,
    tags: &Tags,
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
    let input = tokens::read_body(&request::countable_body(provider, body))?;
    let raise = engine.calibration.raise_for(resolved.listed_id());
    let plan_for = |prompt: TokenCount| {
        let plan = plan(&resolved, prompt, max_output_tokens, service_tier).with_choices(choices);
        match cache_write {
            Some(cache) => plan.with_cache_write(cache),
            None => plan,
        }
    };
    let window = |prompt| context::check(&model, resolved.price(), prompt, long_context);
    let on_bound = if decided_after_planning(engine, tags) {
        Err(input)
    } else {
        reserve_on_bound(engine, budget, &model, &window, input, raise, &plan_for)
    };
    let (reservation, prompt) = match on_bound {
        Ok(reserved) => reserved,
        Err(input) => {
            let estimated = engine.counter.count_input(&model, &input, &engine.counts);
            window(estimated)?;
            let prompt = PromptCount::counted(estimated, raise);
            (budget.reserve(plan_for(prompt.reserved()))?, prompt)
        }
    };
    let mut wire_body = request::wire_body(provider, body, reservation.max_output_tokens());
    if stream {
        request::ask_to_stream(provider, &mut wire_body, reports_usage);
    }
    Ok(PreparedCall {
        model,
        reservation,
        resolved,
        prompt,
        calibration: Arc::clone(&engine.calibration),
        wire_body,
        reports_usage,
    })
}

/// Reserves `input` at its bound when the window fits and the task budget
/// would still hold as much again (the caller has made sure no shared limit
/// or runaway detector applies). Hands `input` back when the exact count
/// has to decide.
fn reserve_on_bound(
    engine: &Engine,
    budget: &TaskBudget,
    model: &str,
    window: &dyn Fn(TokenCount) -> Result<(), ClientError>,
    input: ChatInput,
    raise: Raise,
    plan_for: &dyn Fn(TokenCount) -> CallPlan,
) -> Result<(Reservation, PromptCount), ChatInput> {
    let bound = TokenBound::reserve_count(&engine.counter, model, &input);
    if window(bound).is_err() {
        return Err(input);
    }
    let reserved = raise.apply(bound);
    let Ok(reservation) = budget.reserve_far_from_limits(plan_for(reserved)) else {
        return Err(input);
    };
    let prompt = PromptCount::deferred(
        reserved,
        raise,
        model,
        input,
        engine.counter,
        Arc::clone(&engine.counts),
    );
    Ok((reservation, prompt))
}

/// `true` when a limit checked after this step applies to the call: a
/// shared limit of its tags, or runaway detection, which also weighs the
/// worst case.
fn decided_after_planning(engine: &Engine, tags: &Tags) -> bool {
    let Some(guard) = &engine.guard else {
        return false;
    };
    if guard.detects_runaways() {
        return true;
    }
    if guard.limits().is_empty() {
        return false;
    }
    guard
        .limits()
        .iter()
        .any(|limit| limit.applies_to(tags).is_some())
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
        prompt: PromptCount::counted(prompt, Raise::NONE),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::drift::DriftTolerance;
    use crate::guard::{SharedLimit, SpendGuard, Window};
    use crate::money::Usd;
    use crate::prices::PriceTable;
    use crate::tags::Tags;
    use crate::tokens::TokenCounter;

    fn engine(guard: Option<SpendGuard>) -> Engine {
        Engine::new(
            PriceTable::bundled(),
            TokenCounter::new(),
            guard,
            None,
            Tags::new(),
            DriftTolerance::default(),
        )
    }

    fn body(text: &str) -> Value {
        json!({
            "model": "gpt-4o",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": text}]
        })
    }

    fn prepare(
        engine: &Engine,
        budget: &TaskBudget,
        body: &Value,
    ) -> Result<PreparedCall, ClientError> {
        super::prepare(
            engine,
            Provider::OpenAiChat,
            budget,
            &budget.tags().or(&engine.tags),
            Request::Body {
                body,
                stream: false,
                long_context: false,
            },
        )
    }

    /// What the call reserves when counted exactly, as every call was
    /// before the bound: its worst case, or its refusal.
    fn exact_answer(
        engine: &Engine,
        budget: &TaskBudget,
        body: &Value,
    ) -> Result<Usd, ClientError> {
        let resolved = engine.prices.resolve("gpt-4o")?;
        let prompt = engine.counter.count_request("gpt-4o", body)?;
        let plan = CallPlan::new(resolved.price(), prompt.tokens).with_max_output_tokens(100);
        let reservation = budget.reserve(plan)?;
        let cost = reservation.reserved_cost();
        reservation.release();
        Ok(cost)
    }

    const PROSE: &str = "The quarterly report is due on Friday; gather the figures. ";

    #[test]
    fn a_call_far_from_its_limits_is_reserved_at_its_bound_uncounted() {
        let engine = engine(None);
        let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
        let body = body(&PROSE.repeat(20));
        let call = prepare(&engine, &budget, &body).unwrap();
        assert!(
            !call.prompt.is_counted(),
            "nothing asked for the exact count"
        );
        let exact = engine.counter.count_request("gpt-4o", &body).unwrap();
        assert!(call.prompt.reserved().tokens > exact.tokens);
        assert_eq!(call.prompt.estimated(), exact, "counted when read");
        assert!(
            call.reservation.reserved_cost()
                > exact_answer(
                    &engine,
                    &TaskBudget::new(Usd::from_dollars(10.0).unwrap()),
                    &body
                )
                .unwrap()
        );
    }

    #[test]
    fn a_call_near_its_limit_is_decided_by_the_exact_count() {
        let engine = engine(None);
        let body = body(&PROSE.repeat(20));
        let exact_cost = exact_answer(
            &engine,
            &TaskBudget::new(Usd::from_dollars(1.0).unwrap()),
            &body,
        )
        .unwrap();
        // Room for the exact worst case and a little more, not for the
        // bound's twice over; then too little even for the exact count.
        for limit in [
            exact_cost + Usd::from_nanos(1_000),
            exact_cost,
            exact_cost.saturating_sub(Usd::from_nanos(1)),
        ] {
            let named = || TaskBudget::builder("near").max_cost(limit).build().unwrap();
            let budget = named();
            let today = exact_answer(&engine, &named(), &body);
            match (prepare(&engine, &budget, &body), today) {
                (Ok(call), Ok(cost)) => {
                    assert!(call.prompt.is_counted());
                    assert_eq!(call.reservation.reserved_cost(), cost);
                }
                (Err(ours), Err(theirs)) => assert_eq!(ours.to_string(), theirs.to_string()),
                (ours, theirs) => panic!(
                    "at {limit}: {:?} against {theirs:?}",
                    ours.map(|c| c.prompt.reserved())
                ),
            }
        }
    }

    #[test]
    fn a_bound_past_the_window_is_decided_by_the_exact_count() {
        let engine = engine(None);
        let budget = TaskBudget::new(Usd::from_dollars(100.0).unwrap());
        // About 200,000 bytes, far past gpt-4o's 128k window as a bound,
        // well inside it counted.
        let call = prepare(&engine, &budget, &body(&PROSE.repeat(3_400))).unwrap();
        assert!(call.prompt.is_counted());
        assert!(call.prompt.reserved().tokens < 128_000);
    }

    #[test]
    fn shared_limits_and_runaway_detection_are_decided_by_the_exact_count() {
        let limit = SharedLimit::global(Usd::from_dollars(100.0).unwrap(), Window::Day);
        let guard = SpendGuard::builder().limit(limit).build().unwrap();
        let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
        let call = prepare(&engine(Some(guard)), &budget, &body(PROSE)).unwrap();
        assert!(call.prompt.is_counted());
        let guard = SpendGuard::builder().build().unwrap();
        let call = prepare(&engine(Some(guard)), &budget, &body(PROSE)).unwrap();
        assert!(
            !call.prompt.is_counted(),
            "a guard with no limit decides nothing here"
        );
    }
}
