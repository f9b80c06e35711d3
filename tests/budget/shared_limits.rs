//! SpendGuard's shared limits over the in-memory store, with a fake clock:
//! UTC days and months roll over by themselves, rolling windows slide,
//! alerts fire once per window, reservations are all or none, a hard cap is
//! never crossed by racing tasks, and a tripped kill switch refuses the very
//! next reservation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spendguard::budget::{Amount, LimitKind};
use spendguard::clock::{FakeClock, UtcDateTime};
use spendguard::guard::GuardError;
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::halt::Halt;
use spendguard::store::{MemoryStore, SpendStore};
use spendguard::tags::{TagKind, Tags};
use spendguard::Usd;

fn at(text: &str) -> FakeClock {
    FakeClock::at_unix(UtcDateTime::parse(text).unwrap().unix())
}

fn cents(c: u64) -> Usd {
    Usd::from_cents(c)
}

fn guard(clock: &FakeClock, limits: Vec<SharedLimit>) -> SpendGuard {
    limits
        .into_iter()
        .fold(
            SpendGuard::builder().clock(Arc::new(clock.clone())),
            |b, l| b.limit(l),
        )
        .build()
        .unwrap()
}

async fn spend(guard: &SpendGuard, tags: &Tags, cost: Usd) -> Result<(), GuardError> {
    guard.reserve(tags, cost).await?.settle(cost).await?;
    Ok(())
}

#[tokio::test]
async fn a_daily_cap_resets_at_utc_midnight() {
    let clock = at("2026-11-25T23:58:00Z");
    let guard = guard(
        &clock,
        vec![SharedLimit::each(TagKind::Key, cents(100), Window::Day)],
    );
    let key = Tags::new().key("prod");
    spend(&guard, &key, cents(90)).await.unwrap();
    let refused = spend(&guard, &key, cents(20)).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "key prod on 2026-11-25 (UTC) would exceed its cost limit of $1.00: \
         $0.90 is spent and $0.00 is in flight, and this call needs up to $0.20"
    );
    clock.advance(Duration::from_secs(119));
    assert!(
        spend(&guard, &key, cents(20)).await.is_err(),
        "23:59:59 is still the same day"
    );
    clock.advance(Duration::from_secs(1));
    spend(&guard, &key, cents(20)).await.unwrap();
    let status = guard.status(&key).await.unwrap();
    assert_eq!(status[0].subject, "key prod on 2026-11-26 (UTC)");
    assert_eq!(status[0].usage.spent, cents(20));
}

#[tokio::test]
async fn a_monthly_cap_resets_on_the_first_of_the_month_in_utc() {
    let clock = at("2028-02-29T23:00:00Z");
    let guard = guard(&clock, vec![SharedLimit::global(cents(500), Window::Month)]);
    let anyone = Tags::new();
    spend(&guard, &anyone, cents(500)).await.unwrap();
    assert!(spend(&guard, &anyone, Usd::from_nanos(1)).await.is_err());
    clock.advance(Duration::from_secs(3_599));
    assert!(spend(&guard, &anyone, Usd::from_nanos(1)).await.is_err());
    clock.advance(Duration::from_secs(1));
    spend(&guard, &anyone, cents(500)).await.unwrap();
}

#[tokio::test]
async fn a_weekly_allowance_is_fresh_each_monday_at_utc_midnight() {
    // Sunday evening: the agent has used its week.
    let clock = at("2026-12-06T23:00:00Z");
    let guard = guard(
        &clock,
        vec![SharedLimit::each(TagKind::Agent, cents(700), Window::Week)],
    );
    let agent = Tags::new().agent("weekly");
    spend(&guard, &agent, cents(700)).await.unwrap();
    let refused = spend(&guard, &agent, cents(1)).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("agent weekly in 2026-W49 (UTC) would exceed"),
        "{refused}"
    );
    clock.advance(Duration::from_secs(3_599));
    assert!(spend(&guard, &agent, Usd::from_nanos(1)).await.is_err());
    clock.advance(Duration::from_secs(1));
    spend(&guard, &agent, cents(700)).await.unwrap();
    let status = guard.status(&agent).await.unwrap();
    assert_eq!(status[0].subject, "agent weekly in 2026-W50 (UTC)");
}

#[tokio::test]
async fn a_rolling_hour_slides() {
    let clock = at("2026-11-25T10:00:00Z");
    let hour = Window::Rolling(Duration::from_secs(3_600));
    let guard = guard(
        &clock,
        vec![SharedLimit::tagged(
            TagKind::Agent,
            "heartbeat",
            cents(100),
            hour,
        )],
    );
    let heartbeat = Tags::new().agent("heartbeat");
    // Every 15 minutes, $0.30: the fourth in one hour would make $1.20.
    for _ in 0..3 {
        spend(&guard, &heartbeat, cents(30)).await.unwrap();
        clock.advance(Duration::from_secs(15 * 60));
    }
    assert!(spend(&guard, &heartbeat, cents(30)).await.is_err());
    // The first call leaves the window an hour and a minute-slot later.
    clock.advance(Duration::from_secs(16 * 60));
    spend(&guard, &heartbeat, cents(30)).await.unwrap();
    // Another agent is not limited by it.
    spend(&guard, &Tags::new().agent("other"), cents(99))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lifetime_cap_never_resets() {
    let clock = at("2026-11-25T10:00:00Z");
    let guard = guard(
        &clock,
        vec![SharedLimit::each(
            TagKind::Customer,
            cents(50),
            Window::Lifetime,
        )],
    );
    let acme = Tags::new().customer("acme");
    spend(&guard, &acme, cents(50)).await.unwrap();
    clock.advance(Duration::from_secs(400 * 86_400));
    let refused = spend(&guard, &acme, cents(1)).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("customer acme over all time"),
        "{refused}"
    );
}

#[tokio::test]
async fn every_applying_limit_is_reserved_or_none_is() {
    let clock = at("2026-11-25T10:00:00Z");
    let guard = guard(
        &clock,
        vec![
            SharedLimit::global(cents(1_000), Window::Day),
            SharedLimit::each(TagKind::Agent, cents(100), Window::Day),
            SharedLimit::tagged(TagKind::Customer, "acme", cents(30), Window::Day),
        ],
    );
    let tags = Tags::new().agent("a").customer("acme");
    let GuardError::Exceeded(refused) = guard.reserve(&tags, cents(40)).await.unwrap_err() else {
        panic!("expected a limit refusal");
    };
    assert_eq!(refused.subject, "customer acme on 2026-11-25 (UTC)");
    assert_eq!(
        (refused.limit, refused.max),
        (LimitKind::Cost, Amount::Usd(cents(30)))
    );
    // The refused call held nothing in the limits that had room.
    for status in guard.status(&tags).await.unwrap() {
        assert_eq!(status.usage.committed(), Usd::ZERO, "{}", status.subject);
    }
    let hold = guard.reserve(&tags, cents(30)).await.unwrap();
    assert_eq!(hold.limits_held(), 3);
    let held: Vec<Usd> = guard
        .status(&tags)
        .await
        .unwrap()
        .iter()
        .map(|s| s.usage.held)
        .collect();
    assert_eq!(held, [cents(30); 3]);
    hold.release().await.unwrap();
    // A call with no tags meets only the global limit.
    assert_eq!(
        guard
            .reserve(&Tags::new(), cents(900))
            .await
            .unwrap()
            .limits_held(),
        1
    );
}

#[tokio::test]
async fn alerts_fire_once_per_threshold_per_window() {
    let clock = at("2026-11-25T10:00:00Z");
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    let guard = SpendGuard::builder()
        .clock(Arc::new(clock.clone()))
        .limit(SharedLimit::each(TagKind::Agent, cents(100), Window::Day))
        .on_alert(move |alert| sink.lock().unwrap().push(alert.to_string()))
        .build()
        .unwrap();
    let agent = Tags::new().agent("a");
    for _ in 0..9 {
        spend(&guard, &agent, cents(10)).await.unwrap();
    }
    assert_eq!(
        *heard.lock().unwrap(),
        [
            "agent a on 2026-11-25 (UTC) has used 50% of its cost limit: $0.50 of $1.00",
            "agent a on 2026-11-25 (UTC) has used 80% of its cost limit: $0.80 of $1.00",
        ]
    );
    clock.advance(Duration::from_secs(86_400));
    spend(&guard, &agent, cents(85)).await.unwrap();
    assert_eq!(
        heard.lock().unwrap().len(),
        4,
        "a new day fires each threshold again"
    );
    assert!(heard.lock().unwrap()[3].starts_with("agent a on 2026-11-26 (UTC) has used 80%"));
}

#[tokio::test]
async fn bad_configuration_is_a_typed_error() {
    let short = SpendGuard::builder()
        .limit(SharedLimit::global(
            cents(1),
            Window::Rolling(Duration::from_millis(500)),
        ))
        .build();
    assert!(short.unwrap_err().to_string().contains("too short"));
    let empty = SpendGuard::builder()
        .limit(SharedLimit::tagged(
            TagKind::Agent,
            "",
            cents(1),
            Window::Day,
        ))
        .build();
    assert!(empty.unwrap_err().to_string().contains("empty tag value"));
    let alert = SpendGuard::builder().alert_at(&[0, 50]).build();
    assert!(alert
        .unwrap_err()
        .to_string()
        .contains("between 1% and 99%"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_tasks_never_cross_a_hard_cap() {
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(cents(100), Window::Day))
        .limit(SharedLimit::each(TagKind::Agent, cents(60), Window::Day))
        .build()
        .unwrap();
    let settled = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let guard = guard.clone();
            let settled = Arc::clone(&settled);
            tokio::spawn(async move {
                let tags = Tags::new().agent(if i % 2 == 0 { "even" } else { "odd" });
                // Each call holds up to 3 cents and costs 1–3 cents.
                while let Ok(hold) = guard.reserve(&tags, cents(3)).await {
                    let cost = Usd::from_nanos(10_000_000 + (i % 3) * 10_000_000);
                    tokio::task::yield_now().await;
                    settled.fetch_add(cost.nanos(), Ordering::SeqCst);
                    hold.settle(cost).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let total = Usd::from_nanos(settled.load(Ordering::SeqCst));
    assert!(total <= cents(100), "spent {total}");
    assert!(total >= cents(97), "stopped early at {total}");
    for agent in ["even", "odd"] {
        let status = guard.status(&Tags::new().agent(agent)).await.unwrap();
        assert!(
            status[1].usage.spent <= cents(60),
            "{agent}: {}",
            status[1].usage.spent
        );
        assert_eq!(status[1].usage.held, Usd::ZERO);
    }
}

#[tokio::test]
async fn a_tripped_kill_switch_refuses_the_very_next_reservation() {
    let guard = SpendGuard::builder().build().unwrap();
    let tags = Tags::new();
    guard
        .reserve(&tags, cents(1))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    guard.kill_switch().trip("ops@alice", "bill spike");
    let GuardError::Halted(halt) = guard.reserve(&tags, cents(1)).await.unwrap_err() else {
        panic!("expected a halt");
    };
    assert_eq!(
        (halt.by.as_str(), halt.reason.as_str()),
        ("ops@alice", "bill spike")
    );
    assert!(
        guard.clone().reserve(&tags, cents(1)).await.is_err(),
        "clones share the switch"
    );
    assert_eq!(
        guard.resume().await.unwrap().map(|h| h.by),
        Some("ops@alice".into())
    );
    guard
        .reserve(&tags, cents(1))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_halt_file_halts_every_guard_watching_it() {
    let dir = std::env::temp_dir().join(format!("spendguard-halt-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flag = dir.join("HALT");
    let _ = std::fs::remove_file(&flag);
    let guard = SpendGuard::builder()
        .store(MemoryStore::new().with_halt_file(&flag))
        .build()
        .unwrap();
    let tags = Tags::new();
    guard
        .reserve(&tags, cents(1))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    // What `touch HALT` does from another terminal.
    std::fs::write(&flag, b"").unwrap();
    assert!(matches!(
        guard.reserve(&tags, cents(1)).await,
        Err(GuardError::Halted(_))
    ));
    assert!(guard.halted_now().is_some());
    guard.resume().await.unwrap();
    assert!(!flag.exists());
    // Halting through the guard writes the file with who and why.
    guard.halt("cron@host", "nightly cap").await.unwrap();
    let written: Halt = serde_json::from_slice(&std::fs::read(&flag).unwrap()).unwrap();
    assert_eq!(written.reason, "nightly cap");
    guard.resume().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_dropped_hold_bills_its_worst_case() {
    let guard = SpendGuard::builder()
        .limit(SharedLimit::global(cents(100), Window::Day))
        .build()
        .unwrap();
    drop(guard.reserve(&Tags::new(), cents(40)).await.unwrap());
    // The background settlement runs on this runtime.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let status = guard.status(&Tags::new()).await.unwrap();
    assert_eq!(status[0].usage.spent, cents(40));
    assert_eq!(status[0].usage.held, Usd::ZERO);
}

#[tokio::test]
async fn a_store_can_be_shared_by_guards_with_different_limits() {
    let store: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
    let strict = SpendGuard::builder()
        .shared_store(Arc::clone(&store))
        .limit(SharedLimit::each(TagKind::Key, cents(50), Window::Day))
        .build()
        .unwrap();
    let lenient = SpendGuard::builder()
        .shared_store(store)
        .limit(SharedLimit::each(TagKind::Key, cents(500), Window::Day))
        .build()
        .unwrap();
    let key = Tags::new().key("prod");
    spend(&lenient, &key, cents(45)).await.unwrap();
    // Both count the same key's day; the strict one refuses what the
    // lenient one spent beyond it.
    assert!(spend(&strict, &key, cents(10)).await.is_err());
    spend(&lenient, &key, cents(10)).await.unwrap();
}
