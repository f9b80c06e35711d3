//! With feature `tracing`, alerts are also `WARN` events on target
//! `spendguard::alert`, once per threshold per window, for task budgets and
//! shared limits alike.

use std::sync::{Arc, Mutex};

use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::money::PricePerToken;
use spendguard::prices::{ModelPrice, Rates};
use spendguard::tags::Tags;
use spendguard::{CallPlan, TaskBudget, Usage, Usd};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Keeps the message of every event on `spendguard::alert`.
#[derive(Clone, Default)]
struct Alerts(Arc<Mutex<Vec<(Level, String)>>>);

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Alerts {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "spendguard::alert"
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), message));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_task_budget_alert_is_a_warn_event_without_any_callback() {
    let alerts = Alerts::default();
    let per_m = |d| PricePerToken::per_million(d).unwrap();
    let price = Arc::new(ModelPrice::new("m", Rates::new(per_m(10.0), per_m(10.0))));
    tracing::subscriber::with_default(alerts.clone(), || {
        let budget = TaskBudget::new(Usd::from_cents(100));
        let call = budget
            .reserve(CallPlan::new(&price, 60_000).with_max_output_tokens(10))
            .unwrap();
        call.settle(&Usage::new(60_000, 0));
    });
    assert_eq!(
        *alerts.0.lock().unwrap(),
        [(
            Level::WARN,
            "task task has used 50% of its cost limit: $0.60 of $1.00".to_owned()
        )]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_shared_limit_alert_is_a_warn_event_once_per_threshold() {
    let alerts = Alerts::default();
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
    let heard = alerts.0.lock().unwrap().clone();
    assert_eq!(
        heard.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>(),
        [
            "everything over all time has used 50% of its cost limit: $0.54 of $1.00",
            "everything over all time has used 80% of its cost limit: $0.81 of $1.00",
        ]
    );
}
