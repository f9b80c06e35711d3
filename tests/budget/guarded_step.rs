//! `SpendGuard::step` without any HTTP (it needs no `client` feature): a
//! halt stops the step before it runs, a request the guard cannot read never
//! runs it, a dropped step bills its worst case, and a failure without an
//! HTTP status its worst case too. The step against the loopback mock
//! provider is tested in `tests/client/guarded_step.rs`.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use spendguard::client::{GuardedGrant, GuardedStepError, HttpFailure};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::money::PricePerToken;
use spendguard::prices::{ModelPrice, PriceTable, Rates};
use spendguard::{ClientError, Provider, Usage, Usd};
use support::step::{budget, request};

#[tokio::test]
async fn a_halt_stops_the_step_before_it_runs() {
    let guard = SpendGuard::builder().build().unwrap();
    guard.kill_switch().trip("oncall", "runaway spend");
    let budget = budget();
    let ran = AtomicUsize::new(0);
    let refused = guard
        .step(&budget, Provider::OpenAiChat)
        .body(&request(1))
        .run(|_| async {
            ran.fetch_add(1, Ordering::Relaxed);
            Ok::<_, HttpFailure>(((), Usage::new(10, 10)))
        })
        .await
        .unwrap_err();
    assert!(
        matches!(refused, GuardedStepError::Refused(ClientError::Halted(_))),
        "{refused}"
    );
    assert_eq!(ran.load(Ordering::Relaxed), 0, "the step never ran");
    assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
    assert_eq!(budget.snapshot().spent, Usd::ZERO);
}

#[tokio::test]
async fn a_request_the_guard_cannot_read_never_runs_the_step() {
    let guard = SpendGuard::builder().build().unwrap();
    let budget = budget();
    let ran = AtomicUsize::new(0);
    let step = || {
        |_: GuardedGrant| async {
            ran.fetch_add(1, Ordering::Relaxed);
            Ok::<_, HttpFailure>(((), Usage::new(10, 10)))
        }
    };
    let not_json = guard
        .step(&budget, Provider::OpenAiChat)
        .body_bytes(b"{\"model\": \"gpt-4o\", \"messa")
        .run(step())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &not_json,
            GuardedStepError::Refused(ClientError::InvalidRequest { field: "body", .. })
        ),
        "{not_json}"
    );
    assert!(not_json.to_string().contains("is not JSON"), "{not_json}");
    let unknown = guard
        .step(&budget, Provider::OpenAiChat)
        .body(&json!({"model": "no-such-model-9000", "messages": []}))
        .run(step())
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, GuardedStepError::Refused(ClientError::Price(_))),
        "{unknown}"
    );
    let unknown_described = guard
        .step(&budget, Provider::OpenAiChat)
        .prompt_tokens("no-such-model-9000", 10)
        .run(step())
        .await
        .unwrap_err();
    assert!(matches!(
        unknown_described,
        GuardedStepError::Refused(ClientError::Price(_))
    ));
    let nothing = guard
        .step(&budget, Provider::OpenAiChat)
        .run(step())
        .await
        .unwrap_err();
    assert!(nothing.to_string().contains("was not given"), "{nothing}");
    assert_eq!(ran.load(Ordering::Relaxed), 0);
    assert_eq!(budget.snapshot().spent, Usd::ZERO);
    assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
}

/// $1 per million input tokens and $4 per million output tokens.
fn prices() -> Arc<PriceTable> {
    let per_m = |d| PricePerToken::per_million(d).unwrap();
    let mut prices = PriceTable::new();
    prices.insert(ModelPrice::new("m", Rates::new(per_m(1.0), per_m(4.0))));
    Arc::new(prices)
}

/// 1,000 prompt tokens and 500 output tokens at [`prices`].
const WORST_CASE: Usd = Usd::from_nanos(1_000 * 1_000 + 500 * 4_000);

#[tokio::test]
async fn a_dropped_step_bills_its_worst_case() {
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(Usd::from_cents(100), Window::Day))
        .build()
        .unwrap();
    let budget = budget();
    let started = AtomicUsize::new(0);
    let step = guard
        .step(&budget, Provider::OpenAiChat)
        .prices(prices())
        .prompt_tokens("m", 1_000)
        .max_output_tokens(500)
        .run(|_| async {
            started.fetch_add(1, Ordering::Relaxed);
            std::future::pending::<Result<((), Usage), HttpFailure>>().await
        });
    assert!(tokio::time::timeout(Duration::from_millis(20), step)
        .await
        .is_err());
    assert_eq!(started.load(Ordering::Relaxed), 1, "the step was running");
    assert_eq!(budget.snapshot().spent, WORST_CASE);
    assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
}

#[tokio::test]
async fn a_step_failing_without_a_status_bills_its_worst_case_and_one_with_usage_its_usage() {
    let guard = SpendGuard::builder().build().unwrap();
    let budget = budget();
    let failed = guard
        .step(&budget, Provider::OpenAiChat)
        .prices(prices())
        .prompt_tokens("m", 1_000)
        .max_output_tokens(500)
        .run(|_| async {
            Err::<((), Usage), _>(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out",
            ))
        })
        .await
        .unwrap_err();
    let GuardedStepError::Step { billed, .. } = failed else {
        panic!("{failed}");
    };
    assert_eq!(billed, WORST_CASE);
    let (_, receipt) = guard
        .step(&budget, Provider::OpenAiChat)
        .prices(prices())
        .prompt_tokens("m", 1_000)
        .max_output_tokens(500)
        .run(|grant| async move {
            assert_eq!(grant.max_output_tokens, 500);
            assert_eq!(grant.body, None);
            Ok::<_, HttpFailure>(((), Usage::new(1_000, 20)))
        })
        .await
        .unwrap();
    assert_eq!(receipt.cost, Usd::from_nanos(1_000 * 1_000 + 20 * 4_000));
    assert_eq!(budget.snapshot().spent, WORST_CASE + receipt.cost);
}
