//! Step 3 of a guarded call: the request's facts, the output ceiling, the
//! prompt count, and the task budget's reservation.
//!
//! The prompt is counted exactly only where the count decides something.
//! Its [`TokenBound`](crate::tokens::TokenBound) (the same framing, each
//! text at its length in bytes) is never below the exact count, so a call
//! whose bound fits the context window and reserves with as much room again
//! left in the task budget would pass with the exact count too: it is
//! reserved at the bound, with no tokenizer loaded, and counted exactly
//! afterwards only if something reads the count. The shared limits give
//! the bound the same rule in the store (step 4, `hold`); a limit that
//! would not hold as much again sends the call back here, to
//! [`count_exactly`]. A call near a limit, or one the bound cannot clear,
//! is counted exactly and decided by that count, as if the bound had never
//! been asked. So is every call of a guard whose runaway detection limits
//! spend, which weighs the worst case it is given.

use std::sync::Arc;

use serde_json::Value;

use crate::budget::{CallPlan, Reservation, TaskBudget};
use crate::client::engine::request::{self, RequestFacts};
use crate::client::engine::{context, Described, Engine, Request};
use crate::client::error::ClientError;
use crate::client::provider::Provider;
use crate::prices::{CacheWrite, Resolved};
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
    /// While the reservation holds the prompt's bound: what reserving the
    /// call again at its exact count takes.
    on_bound: Option<Terms>,
}

impl PreparedCall {
    /// Whether the reservation holds the prompt's bound, not its exact
    /// count: the shared limits may hold it only far from their limits.
    pub(crate) fn is_on_bound(&self) -> bool {
        self.on_bound.is_some()
    }
}

/// Everything a call's plan is made of but its prompt count.
#[derive(Debug, Clone, Copy)]
struct Terms {
    max_output_tokens: Option<u64>,
    choices: u64,
    service_tier: ServiceTier,
    cache_write: Option<CacheWrite>,
    /// Calibration's raise as the call was planned.
    raise: Raise,
    /// The request asks for Anthropic's 1M-token window.
    long_context: bool,
}

impl Terms {
    /// The plan for `prompt` (already raised).
    fn plan(&self, resolved: &Resolved, prompt: TokenCount) -> CallPlan {
        let plan = plan(resolved, prompt, self.max_output_tokens, self.service_tier)
            .with_choices(self.choices);
        match self.cache_write {
            Some(cache) => plan.with_cache_write(cache),
            None => plan,
        }
    }

    /// `Err` when `prompt` cannot fit `model`'s context window.
    fn window(
        &self,
        model: &str,
        resolved: &Resolved,
        prompt: TokenCount,
    ) -> Result<(), ClientError> {
        context::check(model, resolved.price(), prompt, self.long_context)
    }
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

/// `call`, reserved at its bound, reserved again at its exact count: the
/// bound's reservation is released, the prompt counted, and the call
/// checked and reserved as if it had been counted exactly from the start.
/// A call already counted is handed back as it is.
///
/// # Errors
/// [`ClientError`] for the context window or the task budget, exactly as
/// the exact count would have been refused at first; nothing is reserved.
pub(crate) fn count_exactly(
    budget: &TaskBudget,
    mut call: PreparedCall,
) -> Result<PreparedCall, ClientError> {
    let Some(terms) = call.on_bound.take() else {
        return Ok(call);
    };
    call.reservation.release();
    let estimated = call.prompt.estimated();
    terms.window(&call.model, &call.resolved, estimated)?;
    let prompt = PromptCount::counted(estimated, terms.raise);
    // The output limit written into the body depends on the request, the
    // budget's ceiling and the model, never on the prompt: it stands.
    let reservation = budget.reserve(terms.plan(&call.resolved, prompt.reserved()))?;
    Ok(PreparedCall {
        reservation,
        prompt,
        ..call
    })
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
    let terms = Terms {
        max_output_tokens,
        choices,
        service_tier,
        cache_write,
        raise: engine.calibration.raise_for(resolved.listed_id()),
        long_context,
    };
    let on_bound = if weighs_worst_case(engine, tags) {
        Err(input)
    } else {
        reserve_on_bound(engine, budget, &model, &resolved, &terms, input)
    };
    let (reservation, prompt, on_bound) = match on_bound {
        Ok((reservation, prompt)) => (reservation, prompt, Some(terms)),
        Err(input) => {
            let estimated = engine.counter.count_input(&model, &input, &engine.counts);
            terms.window(&model, &resolved, estimated)?;
            let prompt = PromptCount::counted(estimated, terms.raise);
            let reservation = budget.reserve(terms.plan(&resolved, prompt.reserved()))?;
            (reservation, prompt, None)
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
        on_bound,
    })
}

/// Reserves `input` at its bound when the window fits and the task budget
/// would still hold as much again. Hands `input` back when the exact count
/// has to decide.
fn reserve_on_bound(
    engine: &Engine,
    budget: &TaskBudget,
    model: &str,
    resolved: &Resolved,
    terms: &Terms,
    input: ChatInput,
) -> Result<(Reservation, PromptCount), ChatInput> {
    let bound = TokenBound::reserve_count(&engine.counter, model, &input);
    if terms.window(model, resolved, bound).is_err() {
        return Err(input);
    }
    let reserved = terms.raise.apply(bound);
    let Ok(reservation) = budget.reserve_far_from_limits(terms.plan(resolved, reserved)) else {
        return Err(input);
    };
    let prompt = PromptCount::deferred(
        reserved,
        terms.raise,
        model,
        input,
        engine.counter,
        Arc::clone(&engine.counts),
    );
    Ok((reservation, prompt))
}

/// `true` when the guard's runaway detection limits the spend of a scope
/// among `tags`: it weighs the worst case it is given, which must then be
/// the exact count's, so that a bound never makes a burst look faster than
/// it is.
fn weighs_worst_case(engine: &Engine, tags: &Tags) -> bool {
    engine
        .guard
        .as_ref()
        .is_some_and(|guard| guard.weighs_worst_case(tags))
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
        on_bound: None,
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
    fn only_a_spend_limit_on_runaways_makes_the_plan_count_exactly() {
        use crate::guard::runaway::{RunawayAction, RunawayPolicy};
        let minute = std::time::Duration::from_secs(60);
        let guarded = |policy: Option<RunawayPolicy>| {
            let limit = SharedLimit::global(Usd::from_dollars(100.0).unwrap(), Window::Day);
            let builder = SpendGuard::builder().limit(limit);
            let builder = match policy {
                Some(policy) => builder.runaway(policy),
                None => builder,
            };
            engine(Some(builder.build().unwrap()))
        };
        let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
        let spend = RunawayPolicy::builder()
            .loops(3, minute, RunawayAction::Refuse)
            .spend_per(
                Usd::from_dollars(5.0).unwrap(),
                minute,
                RunawayAction::Refuse,
            )
            .build()
            .unwrap();
        let call = prepare(&guarded(Some(spend)), &budget, &body(PROSE)).unwrap();
        assert!(call.prompt.is_counted());
        assert!(!call.is_on_bound());
        // Shared limits are held at the bound in the store (step 4); loops,
        // call rates and the breaker do not weigh the worst case.
        let others = RunawayPolicy::builder()
            .loops(3, minute, RunawayAction::Refuse)
            .calls_per(30, minute, RunawayAction::Refuse)
            .circuit_breaker(5, minute, RunawayAction::Refuse)
            .build()
            .unwrap();
        for engine in [guarded(None), guarded(Some(others))] {
            let call = prepare(&engine, &budget, &body(PROSE)).unwrap();
            assert!(!call.prompt.is_counted());
            assert!(call.is_on_bound());
        }
    }

    #[test]
    fn counting_exactly_reserves_what_the_exact_count_would_have() {
        let engine = engine(None);
        let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
        let body = body(&PROSE.repeat(20));
        let call = prepare(&engine, &budget, &body).unwrap();
        let bound_cost = call.reservation.reserved_cost();
        let wire_body = call.wire_body.clone();
        let call = count_exactly(&budget, call).unwrap();
        assert!(call.prompt.is_counted());
        assert!(!call.is_on_bound());
        let exact = exact_answer(
            &engine,
            &TaskBudget::new(Usd::from_dollars(10.0).unwrap()),
            &body,
        )
        .unwrap();
        assert_eq!(call.reservation.reserved_cost(), exact);
        assert!(exact < bound_cost);
        assert_eq!(call.wire_body, wire_body);
        // The bound's reservation was released, not kept beside it.
        assert_eq!(budget.snapshot().in_flight, exact);
        // A call counted already is handed back as it was.
        let call = count_exactly(&budget, call).unwrap();
        assert_eq!(call.reservation.reserved_cost(), exact);
        assert_eq!(budget.snapshot().in_flight, exact);
    }

    #[test]
    fn counting_exactly_is_refused_as_the_exact_count_was_and_holds_nothing() {
        let engine = engine(None);
        let body = body(&PROSE.repeat(20));
        let roomy = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
        let call = prepare(&engine, &roomy, &body).unwrap();
        // Another budget, too small even for the exact count, as a budget
        // raced down to it between the bound and the recount would be.
        let small = || {
            TaskBudget::builder("small")
                .max_cost(Usd::from_nanos(1))
                .build()
                .unwrap()
        };
        let budget = small();
        let refused = count_exactly(&budget, call).err().unwrap();
        let today = exact_answer(&engine, &small(), &body).unwrap_err();
        assert_eq!(refused.to_string(), today.to_string());
        assert_eq!(
            roomy.snapshot().in_flight,
            Usd::ZERO,
            "the bound was released"
        );
        assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
    }
}
