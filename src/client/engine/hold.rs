//! Step 4 of a guarded call: the kill switch, runaway detection and every
//! shared limit, held all or none with the task's reservation.
//!
//! A call the plan reserved at its prompt's bound is held at the bound in
//! the shared limits too, as long as each would still hold as much again
//! (the store decides that in the same round trip). When one would not, the
//! bound decides nothing: the task's reservation is released, the prompt
//! counted exactly, and the call reserved and held at its exact worst case,
//! which gives the answer it would have had with no bound. The kill switch
//! and runaway detection are checked once, before either hold, so a call
//! is seen by each detector once.

use crate::budget::TaskBudget;
use crate::client::engine::{plan, PreparedCall};
use crate::client::error::ClientError;
use crate::guard::runaway::RequestFingerprint;
use crate::guard::{SharedHold, SpendGuard};
use crate::tags::Tags;

/// Reserves `call`'s worst case against the shared limits too, if there
/// are any; `fingerprint` is taken only when runaway detection is on. A
/// refusal releases the task's reservation: all or none.
pub(crate) async fn shared(
    guard: Option<&SpendGuard>,
    budget: &TaskBudget,
    tags: &Tags,
    fingerprint: impl FnOnce(&str) -> Option<RequestFingerprint>,
    call: PreparedCall,
) -> Result<(PreparedCall, Option<SharedHold>), ClientError> {
    let Some(guard) = guard else {
        return Ok((call, None));
    };
    let request = if guard.detects_runaways() {
        fingerprint(&call.model)
    } else {
        None
    };
    let worst_case = call.reservation.reserved_cost();
    if let Err(refusal) = guard.admit(tags, request, worst_case) {
        call.reservation.release();
        return Err(refusal.into());
    }
    let call = if call.is_on_bound() {
        match guard.hold_far_from_limits(tags, worst_case).await {
            Ok(Some(hold)) => return Ok((call, Some(hold))),
            Ok(None) => plan::count_exactly(budget, call)?,
            Err(refusal) => {
                call.reservation.release();
                return Err(refusal.into());
            }
        }
    } else {
        call
    };
    match guard.hold(tags, call.reservation.reserved_cost()).await {
        Ok(hold) => Ok((call, Some(hold))),
        Err(refusal) => {
            call.reservation.release();
            Err(refusal.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::*;
    use crate::budget::CallPlan;
    use crate::client::drift::DriftTolerance;
    use crate::client::engine::{Engine, Request};
    use crate::client::provider::Provider;
    use crate::guard::runaway::{RunawayAction, RunawayKind, RunawayPolicy};
    use crate::guard::{SharedLimit, SpendGuardBuilder, Window};
    use crate::money::Usd;
    use crate::prices::PriceTable;
    use crate::store::{FileStore, MemoryStore, SpendStore};
    use crate::tokens::TokenCounter;

    const MINUTE: Duration = Duration::from_secs(60);

    fn body() -> Value {
        let prose = "The quarterly report is due on Friday; gather the figures. ";
        json!({
            "model": "gpt-4o",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": prose.repeat(20)}]
        })
    }

    /// The call's worst case with its prompt counted exactly, as every
    /// call under a shared limit was reserved before the bound.
    fn exact_worst_case(body: &Value) -> Usd {
        let resolved = PriceTable::bundled().resolve("gpt-4o").unwrap();
        let prompt = TokenCounter::new().count_request("gpt-4o", body).unwrap();
        let plan = CallPlan::new(resolved.price(), prompt.tokens).with_max_output_tokens(100);
        let reservation = TaskBudget::new(Usd::from_dollars(10.0).unwrap())
            .reserve(plan)
            .unwrap();
        let cost = reservation.reserved_cost();
        reservation.release();
        cost
    }

    /// The memory store, and a file store in a fresh file.
    fn stores(name: &str) -> Vec<Arc<dyn SpendStore>> {
        let path = std::env::temp_dir().join(format!(
            "spendguard-engine-hold-{}-{name}.log",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        vec![
            Arc::new(MemoryStore::new()),
            Arc::new(FileStore::open(&path).unwrap()),
        ]
    }

    fn capped(store: &Arc<dyn SpendStore>, cap: Usd) -> SpendGuardBuilder {
        SpendGuard::builder()
            .shared_store(Arc::clone(store))
            .limit(SharedLimit::global(cap, Window::Day))
    }

    /// Steps 3 and 4 of a call of `body` through `guard`.
    async fn admit(
        guard: &SpendGuard,
        budget: &TaskBudget,
        body: &Value,
    ) -> Result<(PreparedCall, Option<SharedHold>), ClientError> {
        let engine = Engine::new(
            PriceTable::bundled(),
            TokenCounter::new(),
            Some(guard.clone()),
            None,
            Tags::new(),
            DriftTolerance::default(),
        );
        let tags = budget.tags().or(&engine.tags);
        let request = Request::Body {
            body,
            stream: false,
            long_context: false,
        };
        let call = plan::prepare(&engine, Provider::OpenAiChat, budget, &tags, request)?;
        let fingerprint = |model: &str| Some(RequestFingerprint::of(model, body));
        shared(Some(guard), budget, &tags, fingerprint, call).await
    }

    /// What the call holds, released again; or its refusal.
    async fn answer(guard: &SpendGuard, body: &Value) -> Result<(bool, Usd), String> {
        let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
        let (call, hold) = admit(guard, &budget, body)
            .await
            .map_err(|e| e.to_string())?;
        let hold = hold.unwrap();
        assert_eq!(hold.held(), call.reservation.reserved_cost());
        let answer = (call.prompt.is_counted(), hold.held());
        hold.release().await.unwrap();
        call.reservation.release();
        Ok(answer)
    }

    #[tokio::test]
    async fn a_call_far_from_every_shared_limit_is_held_at_its_bound_uncounted() {
        let body = body();
        for store in stores("far") {
            let guard = capped(&store, Usd::from_dollars(100.0).unwrap())
                .build()
                .unwrap();
            let (counted, held) = answer(&guard, &body).await.unwrap();
            assert!(!counted, "no tokenizer was asked ({store:?})");
            assert!(held > exact_worst_case(&body), "held at the bound");
        }
    }

    #[tokio::test]
    async fn a_call_near_a_shared_limit_is_decided_by_its_exact_count_as_before() {
        let body = body();
        let exact = exact_worst_case(&body);
        let far = capped(&stores("bound").remove(0), Usd::MAX)
            .build()
            .unwrap();
        let (_, bound) = answer(&far, &body).await.unwrap();
        for store in stores("near") {
            for cap in [
                // The bound fits, but not twice over.
                bound.saturating_add(exact),
                exact.saturating_add(Usd::from_nanos(1_000)),
                exact,
                exact.saturating_sub(Usd::from_nanos(1)),
            ] {
                let guard = capped(&store, cap).build().unwrap();
                // Before the bound: a guard whose runaway detection limits
                // spend, which still counts every call exactly first.
                let spend = RunawayPolicy::builder()
                    .spend_per(Usd::MAX, MINUTE, RunawayAction::Refuse)
                    .build()
                    .unwrap();
                let fresh: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
                let today = capped(&fresh, cap).runaway(spend).build().unwrap();
                let ours = answer(&guard, &body).await;
                assert_eq!(ours, answer(&today, &body).await, "at {cap}");
                if let Ok((counted, held)) = ours {
                    assert!(counted);
                    assert_eq!(held, exact);
                }
                // Nothing of the bound was left held.
                assert_eq!(
                    guard.status(&Tags::new()).await.unwrap()[0].usage.held,
                    Usd::ZERO
                );
            }
        }
    }

    #[tokio::test]
    async fn a_recounted_call_is_held_once_and_the_bound_released() {
        let body = body();
        let exact = exact_worst_case(&body);
        let store: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
        let guard = capped(&store, exact.saturating_add(Usd::from_nanos(1_000)))
            .build()
            .unwrap();
        let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
        let (call, hold) = admit(&guard, &budget, &body).await.unwrap();
        assert_eq!(budget.snapshot().in_flight, exact);
        let usage = guard.status(&Tags::new()).await.unwrap()[0].usage;
        assert_eq!((usage.spent, usage.held), (Usd::ZERO, exact));
        hold.unwrap().release().await.unwrap();
        call.reservation.release();
        assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
    }

    #[tokio::test]
    async fn the_loop_detector_sees_a_recounted_call_once() {
        let body = body();
        let exact = exact_worst_case(&body);
        let store: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
        let loops = RunawayPolicy::builder()
            .loops(2, MINUTE, RunawayAction::Refuse)
            .build()
            .unwrap();
        // Room for the exact count three times, not for the bound twice
        // over: the first call falls back to the exact count.
        let guard = capped(&store, Usd::from_nanos(exact.nanos() * 3))
            .runaway(loops)
            .build()
            .unwrap();
        let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
        let (call, hold) = admit(&guard, &budget, &body).await.unwrap();
        assert!(call.prompt.is_counted());
        hold.unwrap().release().await.unwrap();
        call.reservation.release();
        let Err(ClientError::Runaway(detected)) = admit(&guard, &budget, &body).await else {
            panic!("the second identical call is the loop");
        };
        assert!(matches!(
            detected.kind,
            RunawayKind::Loop { repeats: 2, .. }
        ));
        assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
    }

    #[tokio::test]
    async fn a_spend_rate_is_weighed_at_the_exact_count_never_the_bound() {
        let body = body();
        let exact = exact_worst_case(&body);
        let store: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
        // Two and a half exact calls a minute: two pass, the third is the
        // burst. Weighed at the bound, the second would already be refused.
        let rate = Usd::from_nanos(exact.nanos() * 5 / 2);
        let spend = RunawayPolicy::builder()
            .spend_per(rate, MINUTE, RunawayAction::Refuse)
            .build()
            .unwrap();
        let guard = capped(&store, Usd::from_dollars(100.0).unwrap())
            .runaway(spend)
            .build()
            .unwrap();
        let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
        for _ in 0..2 {
            let (call, hold) = admit(&guard, &budget, &body).await.unwrap();
            assert!(call.prompt.is_counted());
            let hold = hold.unwrap();
            assert_eq!(hold.held(), exact);
            hold.release().await.unwrap();
            call.reservation.release();
        }
        let Err(ClientError::Runaway(detected)) = admit(&guard, &budget, &body).await else {
            panic!("the third call is over the rate");
        };
        assert!(matches!(detected.kind, RunawayKind::SpendVelocity { .. }));
    }

    #[tokio::test]
    async fn a_halt_refuses_a_call_on_its_bound_and_holds_nothing() {
        let body = body();
        for store in stores("halt") {
            let guard = capped(&store, Usd::from_dollars(100.0).unwrap())
                .build()
                .unwrap();
            let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
            guard.halt("oncall", "runaway spend").await.unwrap();
            let refused = admit(&guard, &budget, &body).await.err().unwrap();
            assert!(matches!(refused, ClientError::Halted(_)), "{refused}");
            guard.resume().await.unwrap();
            guard.kill_switch().trip("oncall", "again");
            let refused = admit(&guard, &budget, &body).await.err().unwrap();
            assert!(matches!(refused, ClientError::Halted(_)), "{refused}");
            assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
            let usage = guard.status(&Tags::new()).await.unwrap()[0].usage;
            assert_eq!((usage.spent, usage.held), (Usd::ZERO, Usd::ZERO));
        }
    }
}
