//! A call billed past its reservation is an alert of kind `Overrun`, heard
//! by the task budget's `on_alert` and by its guard's.

use std::sync::{Arc, Mutex};

use spendguard::budget::{Alert, AlertKind};
use spendguard::client::HttpFailure;
use spendguard::guard::SpendGuard;
use spendguard::{Provider, TaskBudget, Usage, Usd};

fn heard() -> (
    Arc<Mutex<Vec<Alert>>>,
    impl Fn(&Alert) + Send + Sync + 'static,
) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    (heard, move |alert: &Alert| {
        sink.lock().unwrap().push(alert.clone())
    })
}

#[tokio::test]
async fn an_overrun_reaches_the_budgets_and_the_guards_callbacks() {
    let (by_budget, budget_callback) = heard();
    let (by_guard, guard_callback) = heard();
    let guard = SpendGuard::builder()
        .on_alert(guard_callback)
        .build()
        .unwrap();
    let budget = TaskBudget::builder("overrun")
        .max_cost(Usd::from_dollars(10.0).unwrap())
        .on_alert(budget_callback)
        .build()
        .unwrap();
    // A model no other test of this binary sends a body for: described
    // calls teach the prompt calibration nothing it would apply.
    let (_, receipt) = guard
        .step(&budget, Provider::OpenAiChat)
        .prompt_tokens("gpt-4.1-mini", 1_000)
        .max_output_tokens(100)
        .run(|grant| async move {
            Ok::<_, HttpFailure>(((), Usage::new(4_000, grant.max_output_tokens)))
        })
        .await
        .unwrap();
    let over = receipt.overran.expect("billed past its reservation");
    for heard in [by_budget, by_guard] {
        let heard = heard.lock().unwrap();
        let [alert] = heard.as_slice() else {
            panic!("one alert: {heard:?}");
        };
        let AlertKind::Overrun(overrun) = &alert.kind else {
            panic!("an overrun: {alert:?}");
        };
        assert_eq!(overrun.by(), over);
        assert_eq!(overrun.subject, "task overrun");
        assert_eq!(overrun.model, "gpt-4.1-mini");
        assert_eq!(
            (overrun.reserved, overrun.cost),
            (receipt.reserved, receipt.cost)
        );
        assert!(alert.percent > 100, "{alert:?}");
        assert!(alert.to_string().contains("recorded in full"), "{alert}");
    }
}

#[tokio::test]
async fn a_call_within_its_reservation_raises_no_overrun() {
    let (by_guard, guard_callback) = heard();
    let guard = SpendGuard::builder()
        .on_alert(guard_callback)
        .build()
        .unwrap();
    let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
    let (_, receipt) = guard
        .step(&budget, Provider::OpenAiChat)
        .prompt_tokens("gpt-4.1-mini", 1_000)
        .max_output_tokens(100)
        .run(|_| async move { Ok::<_, HttpFailure>(((), Usage::new(1_000, 100))) })
        .await
        .unwrap();
    assert_eq!(receipt.overran, None);
    assert!(by_guard.lock().unwrap().is_empty());
}
