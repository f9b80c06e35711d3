//! A call under a shared limit is reserved at its prompt's cheap bound
//! while every limit would still hold as much again, and is decided by its
//! exact count near one, with the answers a guard that counts every call
//! exactly gives: in the memory store, a file store and Redis. Racing
//! tasks never cross the cap, and a request the guard cannot read is
//! refused as before, holding nothing.
//!
//! The Redis cases run against `SPENDGUARD_REDIS_URL` if set, else a
//! `redis-server` of their own; without either they say so and pass.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use spendguard::client::{GuardedStepError, HttpFailure};
use spendguard::guard::runaway::{RunawayAction, RunawayPolicy};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::store::{FileStore, MemoryStore, SpendStore};
use spendguard::tags::Tags;
use spendguard::{CallPlan, PriceTable, Provider, TaskBudget, Usage, Usd};

const MAX_OUTPUT: u64 = 100;

/// A page of history for `gpt-4o`, its bound well above its exact count.
fn body() -> Value {
    let prose = "The quarterly report is due on Friday; gather the figures. ";
    json!({
        "model": "gpt-4o",
        "max_tokens": MAX_OUTPUT,
        "messages": [{"role": "user", "content": prose.repeat(20)}]
    })
}

/// The prompt's exact count.
fn exact_tokens(body: &Value) -> u64 {
    spendguard::tokens::count_request("gpt-4o", body)
        .unwrap()
        .tokens
}

/// The call's worst case with its prompt counted exactly.
fn exact_worst_case(body: &Value) -> Usd {
    let resolved = PriceTable::bundled().resolve("gpt-4o").unwrap();
    let plan =
        CallPlan::new(resolved.price(), exact_tokens(body)).with_max_output_tokens(MAX_OUTPUT);
    let reservation = TaskBudget::new(Usd::from_dollars(10.0).unwrap())
        .reserve(plan)
        .unwrap();
    let cost = reservation.reserved_cost();
    reservation.release();
    cost
}

fn capped(store: Arc<dyn SpendStore>, cap: Usd) -> SpendGuard {
    SpendGuard::builder()
        .shared_store(store)
        .limit(SharedLimit::global(cap, Window::Lifetime))
        .build()
        .unwrap()
}

/// A guard that counts every call exactly first, as every guard with a
/// shared limit did before the bound: its runaway detection limits spend
/// (to more than any test spends), which weighs the exact worst case.
fn exact_first(cap: Usd) -> SpendGuard {
    let spend = RunawayPolicy::builder()
        .spend_per(Usd::MAX, Duration::from_secs(60), RunawayAction::Refuse)
        .build()
        .unwrap();
    SpendGuard::builder()
        .limit(SharedLimit::global(cap, Window::Lifetime))
        .runaway(spend)
        .build()
        .unwrap()
}

/// What one call does: what the shared limit held while it ran and what
/// it was billed, or its refusal. The provider reports the exact prompt
/// and every output token granted: the exact worst case.
async fn call(guard: &SpendGuard, body: &Value) -> Result<(Usd, Usd), String> {
    let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
    // (A body the guard cannot read is refused before the step runs.)
    let input = spendguard::tokens::count_request("gpt-4o", body).map_or(0, |c| c.tokens);
    let outcome = guard
        .step(&budget, Provider::OpenAiChat)
        .body(body)
        .run(|grant| async move {
            let usage = guard.status(&Tags::new()).await.unwrap()[0].usage;
            Ok::<_, HttpFailure>((usage.held, Usage::new(input, grant.max_output_tokens)))
        })
        .await;
    match outcome {
        Ok((held, receipt)) => Ok((held, receipt.cost)),
        Err(GuardedStepError::Refused(refused)) => Err(refused.to_string()),
        Err(other) => panic!("the step ran and failed: {other}"),
    }
}

/// Calls one after another until one is refused (at most `most`): what
/// each held, billed, or the refusal.
async fn calls_until_refused(
    guard: &SpendGuard,
    body: &Value,
    most: usize,
) -> Vec<Result<(Usd, Usd), String>> {
    let mut outcomes = Vec::new();
    for _ in 0..most {
        let outcome = call(guard, body).await;
        let refused = outcome.is_err();
        outcomes.push(outcome);
        if refused {
            break;
        }
    }
    outcomes
}

/// Spent and held under the limit now.
async fn usage(guard: &SpendGuard) -> (Usd, Usd) {
    let usage = guard.status(&Tags::new()).await.unwrap()[0].usage;
    (usage.spent, usage.held)
}

async fn far_from_the_limit_the_bound_is_held(store: Arc<dyn SpendStore>) {
    let body = body();
    let exact = exact_worst_case(&body);
    let guard = capped(store, Usd::from_dollars(100.0).unwrap());
    let (held, billed) = call(&guard, &body).await.unwrap();
    assert!(held > exact, "held {held} at the bound, above {exact}");
    assert_eq!(billed, exact);
    assert_eq!(usage(&guard).await, (exact, Usd::ZERO));
}

async fn near_the_limit_the_exact_count_decides_as_before(store: Arc<dyn SpendStore>) {
    let body = body();
    let exact = exact_worst_case(&body);
    // Three and a half exact calls: the bound never fits twice over, so
    // each call is held at its exact count, and the fourth is refused.
    let cap = Usd::from_nanos(exact.nanos() * 7 / 2);
    let ours = calls_until_refused(&capped(store, cap), &body, 10).await;
    let before = calls_until_refused(&exact_first(cap), &body, 10).await;
    assert_eq!(ours, before);
    assert_eq!(ours.len(), 4);
    assert!(ours[..3].iter().all(|o| o == &Ok((exact, exact))));
    assert!(ours[3].is_err(), "{ours:?}");
}

async fn a_cap_is_used_up_as_far_as_before(store: Arc<dyn SpendStore>) {
    let body = body();
    let exact = exact_worst_case(&body);
    // The first calls are far from the cap and held at the bound, the last
    // near it and held at the exact count; as many pass as before, and the
    // same one is refused the same way.
    let cap = Usd::from_nanos(exact.nanos() * 10 + exact.nanos() / 2);
    let guard = capped(store, cap);
    let ours = calls_until_refused(&guard, &body, 20).await;
    let before = calls_until_refused(&exact_first(cap), &body, 20).await;
    let decided = |outcomes: &[Result<(Usd, Usd), String>]| -> Vec<Result<Usd, String>> {
        outcomes
            .iter()
            .map(|o| o.clone().map(|(_, billed)| billed))
            .collect()
    };
    assert_eq!(decided(&ours), decided(&before));
    assert_eq!(ours.len(), 11);
    assert!(ours[0].as_ref().unwrap().0 > exact, "the first call is far");
    assert_eq!(ours[9].as_ref().unwrap().0, exact, "the last is near");
    assert_eq!(
        usage(&guard).await,
        (Usd::from_nanos(exact.nanos() * 10), Usd::ZERO)
    );
}

async fn racing_tasks_never_cross_the_cap(store: Arc<dyn SpendStore>) {
    let body = body();
    let exact = exact_worst_case(&body);
    let cap = Usd::from_nanos(exact.nanos() * 12);
    let guard = capped(store, cap);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (guard, body) = (guard.clone(), body.clone());
            tokio::spawn(async move {
                let outcome = call(&guard, &body).await;
                let (spent, held) = usage(&guard).await;
                assert!(
                    spent.saturating_add(held) <= cap,
                    "{spent} + {held} past {cap}"
                );
                outcome
            })
        })
        .collect();
    let mut passed = 0;
    for task in tasks {
        if let Ok((held, billed)) = task.await.unwrap() {
            assert!(held <= cap);
            assert_eq!(billed, exact);
            passed += 1;
        }
    }
    assert!((1..=12).contains(&passed), "{passed} passed");
    assert_eq!(
        usage(&guard).await,
        (Usd::from_nanos(exact.nanos() * passed), Usd::ZERO)
    );
}

async fn bad_input_is_refused_as_before_and_holds_nothing(store: Arc<dyn SpendStore>) {
    let guard = capped(store, Usd::from_dollars(100.0).unwrap());
    for bad in [
        json!({"max_tokens": 10, "messages": []}),
        json!({"model": "gpt-4o", "messages": "hello"}),
        json!({"model": "no-such-model-9000", "messages": []}),
    ] {
        let ours = call(&guard, &bad).await.unwrap_err();
        let before = call(&exact_first(Usd::from_dollars(100.0).unwrap()), &bad)
            .await
            .unwrap_err();
        assert_eq!(ours, before);
    }
    // A body too long for the model's window as a bound, and as a count.
    let huge = "word ".repeat(140_000);
    let window = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": huge}]});
    let ours = call(&guard, &window).await.unwrap_err();
    assert!(ours.contains("context window"), "{ours}");
    assert_eq!(usage(&guard).await, (Usd::ZERO, Usd::ZERO));
}

#[tokio::test]
async fn a_bound_that_falls_back_leaves_no_trace() {
    use spendguard::ledger::{Decision, MemorySink};
    use std::sync::atomic::{AtomicUsize, Ordering};

    let body = body();
    let exact = exact_worst_case(&body);
    // The bound fits, but not twice over: every call falls back.
    let cap = Usd::from_nanos(exact.nanos() * 7 / 2);
    let alerts = Arc::new(AtomicUsize::new(0));
    let heard = Arc::clone(&alerts);
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(cap, Window::Lifetime))
        .alert_at(&[50])
        .on_alert(move |_| {
            heard.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let sink = Arc::new(MemorySink::new());
    let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
    let input = exact_tokens(&body);
    for _ in 0..2 {
        guard
            .step(&budget, Provider::OpenAiChat)
            .body(&body)
            .ledger(Arc::clone(&sink) as Arc<dyn spendguard::ledger::LedgerSink>)
            .run(|grant| async move {
                Ok::<_, HttpFailure>(((), Usage::new(input, grant.max_output_tokens)))
            })
            .await
            .unwrap();
    }
    // One line per call, each allowed; one alert, as spend passed 50% once.
    let decisions: Vec<Decision> = sink.records().iter().map(|r| r.decision).collect();
    assert_eq!(decisions, [Decision::Allowed, Decision::Allowed]);
    assert_eq!(alerts.load(Ordering::Relaxed), 1);
    let snapshot = budget.snapshot();
    assert_eq!(
        (snapshot.spent, snapshot.in_flight),
        (Usd::from_nanos(exact.nanos() * 2), Usd::ZERO)
    );
    assert_eq!(
        usage(&guard).await,
        (Usd::from_nanos(exact.nanos() * 2), Usd::ZERO)
    );
}

/// Every scenario on fresh stores made by `store`.
async fn every_scenario(store: impl Fn(&str) -> Arc<dyn SpendStore>) {
    far_from_the_limit_the_bound_is_held(store("far")).await;
    near_the_limit_the_exact_count_decides_as_before(store("near")).await;
    a_cap_is_used_up_as_far_as_before(store("used-up")).await;
    racing_tasks_never_cross_the_cap(store("racing")).await;
    bad_input_is_refused_as_before_and_holds_nothing(store("bad")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_the_memory_store() {
    every_scenario(|_| Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_a_file_store() {
    let dir = std::env::temp_dir().join(format!("spendguard-bound-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    every_scenario(|name| {
        let path = dir.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&path);
        Arc::new(FileStore::open(&path).unwrap())
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_redis() {
    use crate::support::redis_server::{unique_prefix, RedisServer};
    use spendguard::store::RedisStore;

    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let mut stores = Vec::new();
    for name in ["far", "near", "used-up", "racing", "bad"] {
        let store = RedisStore::builder(server.url())
            .key_prefix(unique_prefix(&format!("bound-{name}")))
            .connect()
            .await
            .expect("the test server is reachable");
        stores.push((name, Arc::new(store) as Arc<dyn SpendStore>));
    }
    every_scenario(|name| {
        let (_, store) = stores.iter().find(|(n, _)| *n == name).unwrap();
        Arc::clone(store)
    })
    .await;
}
