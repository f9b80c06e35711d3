//! With feature `tracing`, alerts are also `WARN` events on target
//! `spendguard::alert`, once per threshold per window, for task budgets and
//! shared limits alike.

use std::sync::Arc;

use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::money::PricePerToken;
use spendguard::prices::{ModelPrice, Rates};
use spendguard::tags::Tags;
use spendguard::{CallPlan, TaskBudget, Usage, Usd};
use tracing::Level;

use crate::support::tracing_events::Heard;

#[test]
fn a_task_budget_alert_is_a_warn_event_without_any_callback() {
    let alerts = Heard::on("spendguard::alert");
    let per_m = |d| PricePerToken::per_million(d).unwrap();
    let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(10.0), per_m(10.0))));
    let budget = TaskBudget::new(Usd::from_cents(100));
    tracing::subscriber::with_default(alerts.clone(), || {
        let call = budget
            .reserve(CallPlan::new(&price, 60_000).with_max_output_tokens(10))
            .unwrap();
        call.settle(&Usage::new(60_000, 0));
    });
    assert_eq!(
        alerts.events(),
        [(
            Level::WARN,
            format!(
                "task {} has used 50% of its cost limit: $0.60 of $1.00",
                budget.name()
            )
        )]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_shared_limit_alert_is_a_warn_event_once_per_threshold() {
    let alerts = Heard::on("spendguard::alert");
    let _default = tracing::subscriber::set_default(alerts.clone());
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(Usd::from_cents(100), Window::Lifetime))
        .build()
        .unwrap();
    for _ in 0..10 {
        let hold = guard
            .reserve(&Tags::new(), Usd::from_cents(10))
            .await
            .unwrap();
        hold.settle(Usd::from_cents(9)).await.unwrap();
    }
    let heard = alerts.events();
    assert_eq!(
        heard.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>(),
        [
            "everything over all time has used 50% of its cost limit: $0.54 of $1.00",
            "everything over all time has used 80% of its cost limit: $0.81 of $1.00",
        ]
    );
}
