//! Every limit of a task budget refuses the call that would cross it, says
//! which limit it was, and leaves nothing reserved behind.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use spendguard::budget::{Amount, BudgetConfigError, LimitKind, OutputCeiling, StepError};
use spendguard::clock::FakeClock;
use spendguard::money::PricePerToken;
use spendguard::prices::{ModelPrice, Rates};
use spendguard::{CallPlan, TaskBudget, Usage, Usd};

/// $1 per million input tokens, $2 per million output tokens.
fn price() -> Arc<ModelPrice> {
    let per_m = |d| PricePerToken::per_million(d).unwrap();
    Arc::new(
        ModelPrice::new("m", Rates::new(per_m(1.0), per_m(2.0))).with_max_output_tokens(16_000),
    )
}

fn plan(input: u64, output: u64) -> CallPlan {
    CallPlan::new(&price(), input).with_max_output_tokens(output)
}

#[test]
fn the_overnight_retry_loop_stops_at_two_dollars() {
    // 4,800 retries of a 50k-token prompt: unguarded, about $250.
    let budget = TaskBudget::new(Usd::from_dollars(2.0).unwrap());
    let mut calls = 0;
    while let Ok(reservation) = budget.reserve(plan(50_000, 1_000)) {
        reservation.settle(&Usage::new(50_000, 200));
        calls += 1;
        assert!(calls < 4_800, "the budget never refused");
    }
    let snapshot = budget.snapshot();
    assert_eq!(calls, 39);
    assert!(snapshot.spent <= Usd::from_dollars(2.0).unwrap());
    assert_eq!(snapshot.in_flight, Usd::ZERO);
}

#[test]
fn cost_refusal_carries_the_numbers() {
    let budget = TaskBudget::builder("t")
        .max_cost(Usd::from_cents(10))
        .output_ceiling(OutputCeiling::clamping(10_000))
        .build()
        .unwrap();
    let held = budget.reserve(plan(20_000, 10_000)).unwrap(); // $0.04
    let refusal = budget.reserve(plan(60_000, 10_000)).unwrap_err(); // $0.08
    assert_eq!(refusal.limit, LimitKind::Cost);
    assert_eq!(refusal.subject, "task t");
    assert_eq!(refusal.max, Amount::Usd(Usd::from_cents(10)));
    assert_eq!(refusal.spent, Amount::Usd(Usd::ZERO));
    assert_eq!(refusal.in_flight, Amount::Usd(Usd::from_cents(4)));
    assert_eq!(refusal.requested, Amount::Usd(Usd::from_cents(8)));
    held.release();
    assert!(budget.reserve(plan(60_000, 10_000)).is_ok());
}

#[test]
fn call_limit_refuses_the_next_call_and_gives_back_refused_claims() {
    let budget = TaskBudget::builder("t")
        .max_calls(3)
        .max_cost(Usd::from_cents(1))
        .build()
        .unwrap();
    for _ in 0..3 {
        budget
            .reserve(plan(10, 10))
            .unwrap()
            .settle(&Usage::new(10, 10));
    }
    let refusal = budget.reserve(plan(10, 10)).unwrap_err();
    assert_eq!(refusal.limit, LimitKind::Calls);
    assert_eq!(
        refusal.to_string(),
        "task t reached its call limit of 3 calls: 3 calls settled and 0 calls in flight"
    );
    assert_eq!(budget.snapshot().calls, 3);
}

#[test]
fn a_refusal_by_a_later_limit_gives_back_the_earlier_claims() {
    let budget = TaskBudget::builder("t")
        .max_calls(2)
        .max_tokens(1_000_000)
        .max_cost(Usd::from_cents(1))
        .build()
        .unwrap();
    // Fits the call and token limits but not the cost limit.
    assert_eq!(
        budget.reserve(plan(20_000, 1_000)).unwrap_err().limit,
        LimitKind::Cost
    );
    let snapshot = budget.snapshot();
    assert_eq!(snapshot.calls_in_flight, 0);
    // Both calls are still available.
    let a = budget.reserve(plan(10, 10)).unwrap();
    let b = budget.reserve(plan(10, 10)).unwrap();
    assert_eq!(
        budget.reserve(plan(10, 10)).unwrap_err().limit,
        LimitKind::Calls
    );
    a.release();
    b.release();
}

#[test]
fn token_limit_counts_prompt_and_output_ceiling() {
    let budget = TaskBudget::builder("t").max_tokens(10_000).build().unwrap();
    let refusal = budget.reserve(plan(9_000, 2_000)).unwrap_err();
    assert_eq!(refusal.limit, LimitKind::Tokens);
    assert_eq!(refusal.requested, Amount::Tokens(11_000));
    let ok = budget.reserve(plan(8_000, 2_000)).unwrap();
    ok.settle(&Usage::new(8_000, 500));
    assert_eq!(budget.snapshot().tokens, 8_500);
}

#[test]
fn time_limit_uses_the_injected_clock() {
    let clock = FakeClock::at_unix(Duration::from_secs(1_000));
    let budget = TaskBudget::builder("t")
        .max_duration(Duration::from_secs(60))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    assert!(budget.reserve(plan(1, 1)).is_ok());
    clock.advance(Duration::from_secs(60));
    let refusal = budget.reserve(plan(1, 1)).unwrap_err();
    assert_eq!(refusal.limit, LimitKind::Duration);
    assert_eq!(refusal.spent, Amount::Time(Duration::from_secs(60)));
}

#[test]
fn requests_without_max_tokens_get_the_ceiling_and_large_ones_are_clamped() {
    let budget = TaskBudget::builder("t")
        .output_ceiling(OutputCeiling::clamping(1_000))
        .build()
        .unwrap();
    assert_eq!(
        budget
            .reserve(CallPlan::new(&price(), 10))
            .unwrap()
            .max_output_tokens(),
        1_000
    );
    assert_eq!(
        budget
            .reserve(plan(10, 50_000))
            .unwrap()
            .max_output_tokens(),
        1_000
    );
    assert_eq!(
        budget.reserve(plan(10, 300)).unwrap().max_output_tokens(),
        300
    );
}

#[test]
fn the_models_own_maximum_caps_the_ceiling() {
    let budget = TaskBudget::builder("t")
        .output_ceiling(OutputCeiling::clamping(100_000))
        .build()
        .unwrap();
    // The model lists at most 16,000 output tokens.
    assert_eq!(
        budget
            .reserve(CallPlan::new(&price(), 10))
            .unwrap()
            .max_output_tokens(),
        16_000
    );
}

#[test]
fn a_refusing_ceiling_refuses_and_says_how_to_fix_it() {
    let budget = TaskBudget::builder("t")
        .output_ceiling(OutputCeiling::refusing(1_000))
        .build()
        .unwrap();
    let refusal = budget.reserve(plan(10, 1_001)).unwrap_err();
    assert_eq!(refusal.limit, LimitKind::OutputCeiling);
    assert!(refusal.to_string().contains("lower max_tokens"));
    assert!(budget.reserve(plan(10, 1_000)).is_ok());
}

#[test]
fn usage_above_the_reservation_is_recorded_in_full() {
    let budget = TaskBudget::new(Usd::from_cents(1));
    // Reserved 1,000 in + 100 out = $0.0012; the provider reports far more.
    let receipt = budget
        .reserve(plan(1_000, 100))
        .unwrap()
        .settle(&Usage::new(20_000, 100));
    assert_eq!(receipt.cost, Usd::from_dollars(0.0202).unwrap());
    assert_eq!(receipt.spent, receipt.cost);
    assert_eq!(receipt.remaining, Some(Usd::ZERO));
    assert!(budget.reserve(plan(1, 1)).is_err());
}

#[test]
fn alerts_fire_once_per_threshold() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let budget = TaskBudget::builder("t")
        .max_cost(Usd::from_dollars(1.0).unwrap())
        .max_calls(100)
        .alert_at(&[50, 80])
        .on_alert(move |alert| sink.lock().unwrap().push((alert.limit, alert.percent)))
        .build()
        .unwrap();
    // Nine calls of $0.10 each: past 50% and 80%, with more calls after each.
    for _ in 0..9 {
        budget
            .reserve(plan(100_000, 1))
            .unwrap()
            .settle(&Usage::new(100_000, 0));
    }
    assert_eq!(
        *heard.lock().unwrap(),
        [(LimitKind::Cost, 50), (LimitKind::Cost, 80)]
    );
}

#[test]
fn a_failed_step_is_billed_at_its_worst_case() {
    let budget = TaskBudget::new(Usd::from_dollars(1.0).unwrap());
    let result = budget.run_blocking(plan(1_000, 1_000), |_| Err::<((), Usage), _>("timeout"));
    assert!(matches!(result, Err(StepError::Step("timeout"))));
    let snapshot = budget.snapshot();
    assert_eq!(snapshot.spent, Usd::from_dollars(0.003).unwrap());
    assert_eq!(snapshot.abandoned, 1);
}

#[test]
fn a_refused_step_never_runs() {
    let budget = TaskBudget::new(Usd::ZERO);
    let result = budget.run_blocking(plan(1, 1), |_| -> Result<((), Usage), ()> {
        panic!("the step ran despite the refusal")
    });
    assert!(matches!(result, Err(StepError::Budget(_))));
}

#[tokio::test]
async fn a_cancelled_step_is_billed_not_lost() {
    let budget = TaskBudget::new(Usd::from_dollars(1.0).unwrap());
    let step = budget.run(plan(1_000, 1_000), |_| async {
        std::future::pending::<Result<((), Usage), ()>>().await
    });
    let timed_out = tokio::time::timeout(Duration::from_millis(10), step).await;
    assert!(timed_out.is_err());
    assert_eq!(budget.snapshot().spent, Usd::from_dollars(0.003).unwrap());
    assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
}

#[test]
fn bad_configuration_is_refused_at_build() {
    assert_eq!(
        TaskBudget::builder("t").alert_at(&[0]).build().unwrap_err(),
        BudgetConfigError::AlertThresholdOutOfRange { percent: 0 }
    );
    assert_eq!(
        TaskBudget::builder("t")
            .alert_at(&[100])
            .build()
            .unwrap_err(),
        BudgetConfigError::AlertThresholdOutOfRange { percent: 100 }
    );
    assert_eq!(
        TaskBudget::builder(" ").build().unwrap_err(),
        BudgetConfigError::EmptyName
    );
    assert_eq!(
        TaskBudget::builder("t")
            .output_ceiling(OutputCeiling::clamping(0))
            .build()
            .unwrap_err(),
        BudgetConfigError::ZeroOutputCeiling
    );
    let nan_limit = Usd::from_dollars(f64::NAN).unwrap_err();
    assert_eq!(
        nan_limit.to_string(),
        "dollars must be a finite number, got NaN"
    );
}

#[test]
fn a_running_call_is_checked_at_what_it_has_used_not_its_worst_case() {
    let budget = TaskBudget::builder("t")
        .max_cost(Usd::from_cents(10))
        .output_ceiling(OutputCeiling::clamping(10_000))
        .build()
        .unwrap();
    let stream = budget.reserve(plan(10_000, 10_000)).unwrap(); // $0.03, 20k tokens
    let other = budget.reserve(plan(10_000, 5_000)).unwrap(); // $0.02, 15k tokens
    assert!(stream.check_progress(&Usage::new(10_000, 10_000)).is_ok());

    // The other call's prompt was far larger than its estimate: its $0.09
    // is recorded in full, past the $0.02 it held.
    other.settle(&Usage::new(40_000, 25_000));
    assert_eq!(budget.snapshot().spent, Usd::from_cents(9));
    assert!(stream.check_progress(&Usage::new(10_000, 0)).is_ok());
    let refusal = stream
        .check_progress(&Usage::new(10_000, 1_000))
        .unwrap_err();
    assert_eq!(refusal.limit, LimitKind::Cost);
    assert_eq!(refusal.spent, Amount::Usd(Usd::from_cents(9)));
    assert_eq!(refusal.in_flight, Amount::Usd(Usd::ZERO));
    assert_eq!(refusal.requested, Amount::Usd(Usd::from_nanos(12_000_000)));
    stream.release();
}

#[test]
fn a_running_call_is_checked_against_the_token_limit_too() {
    let budget = TaskBudget::builder("t")
        .max_tokens(30_000)
        .output_ceiling(OutputCeiling::clamping(10_000))
        .build()
        .unwrap();
    let stream = budget.reserve(plan(10_000, 10_000)).unwrap();
    let other = budget.reserve(plan(1_000, 1_000)).unwrap();
    other.settle(&Usage::new(15_000, 1_000));
    assert!(stream.check_progress(&Usage::new(10_000, 4_000)).is_ok());
    let refusal = stream
        .check_progress(&Usage::new(10_000, 4_001))
        .unwrap_err();
    assert_eq!(refusal.limit, LimitKind::Tokens);
    assert_eq!(refusal.requested, Amount::Tokens(14_001));
    stream.release();
}
