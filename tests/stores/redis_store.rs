//! The Redis store keeps the memory store's promises across processes:
//! the same answers, all or none, never past a cap under a race, a halt
//! that stops the fleet, a clear refusal when Redis is gone, and a
//! connection that comes back by itself.
//!
//! Runs against `SPENDGUARD_REDIS_URL` if set, else a `redis-server` of its
//! own; without either, each test says so and passes.

use crate::support::redis_server;

use crate::windows::{all_time, day, rolling, NOW};
use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use redis_server::{free_port, unique_prefix, RedisServer};
use spendguard::clock::{FakeClock, UtcDateTime};
use spendguard::guard::GuardError;
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::halt::Halt;
use spendguard::store::{
    Claim, HaltFlag, Lease, MemoryStore, RedisStore, Reserved, Settled, Settlement, SpendStore,
    StoreError, WindowRef, WindowUsage,
};
use spendguard::tags::{TagKind, Tags};
use spendguard::Usd;

fn cents(c: u64) -> Usd {
    Usd::from_cents(c)
}

/// The lease of a scenario's hold of `amount`: its id is the amount, so a
/// settlement of what was held finds it.
fn lease_of(amount: Usd) -> Lease {
    Lease::new(
        amount.nanos(),
        Arc::from("test/1"),
        NOW,
        NOW + Duration::from_secs(86_400),
    )
}

fn lease_of_first(claims: &[Claim]) -> Lease {
    lease_of(claims.first().map_or(Usd::ZERO, |c| c.amount))
}

async fn store_on(server: &RedisServer, prefix: &str) -> RedisStore {
    RedisStore::builder(server.url())
        .key_prefix(prefix)
        .connect()
        .await
        .expect("the test server is reachable")
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// One step of a scenario, run against both stores.
enum Step {
    Reserve(Vec<Claim>),
    Settle(Vec<Settlement>),
    Usage(Vec<WindowRef>),
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Reserved(Reserved),
    Settled(Vec<Settled>),
    Usage(Vec<WindowUsage>),
}

async fn play(store: &dyn SpendStore, steps: &[Step]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for step in steps {
        outcomes.push(match step {
            Step::Reserve(claims) => Outcome::Reserved(
                match store.reserve(claims, &lease_of_first(claims), NOW).await {
                    // Tickets are each store's own business.
                    Ok(Reserved::Granted { usage, .. }) => Reserved::Granted { usage, ticket: 0 },
                    other => other.unwrap(),
                },
            ),
            Step::Settle(settlements) => {
                Outcome::Settled(store.settle(settlements, NOW).await.unwrap())
            }
            Step::Usage(windows) => Outcome::Usage(store.usage(windows).await.unwrap()),
        });
    }
    outcomes
}

#[tokio::test]
async fn answers_exactly_as_the_memory_store_does() {
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let redis = store_on(&server, &unique_prefix("same-answers")).await;
    let claim = |w: WindowRef, max: u64, amount: u64| Claim::new(w, cents(max), cents(amount));
    let settle = |w: WindowRef, held: u64, spent: u64| {
        Settlement::new(w, cents(held), cents(spent), 0, cents(held).nanos())
    };
    let steps = [
        // All or none: the second claim does not fit, so the first holds nothing.
        Step::Reserve(vec![
            claim(day("a|day", 7), 100, 60),
            claim(all_time("b|all"), 50, 60),
        ]),
        Step::Usage(vec![day("a|day", 7), all_time("b|all")]),
        Step::Reserve(vec![
            claim(day("a|day", 7), 100, 60),
            claim(all_time("b|all"), 100, 60),
        ]),
        // The refusal names the claim and its usage without this call.
        Step::Reserve(vec![
            claim(all_time("c|all"), 100, 1),
            claim(day("a|day", 7), 100, 41),
        ]),
        Step::Reserve(vec![claim(day("a|day", 7), 100, 40)]),
        // Settling moves the hold into spend and reports before and after.
        Step::Settle(vec![
            settle(day("a|day", 7), 60, 45),
            settle(all_time("b|all"), 60, 70),
        ]),
        Step::Settle(vec![settle(day("a|day", 7), 40, 40)]),
        Step::Usage(vec![day("a|day", 7), all_time("b|all")]),
        // Two claims on one counter: the second's usage includes the first's hold.
        Step::Reserve(vec![
            claim(all_time("d|all"), 100, 30),
            claim(all_time("d|all"), 100, 30),
        ]),
        // An amount far above its limit, even above 2^53, is refused, not wrapped.
        Step::Reserve(vec![Claim::new(all_time("e|all"), cents(100), Usd::MAX)]),
        // Spend above what was held still counts.
        Step::Reserve(vec![claim(all_time("f|all"), 100, 10)]),
        Step::Settle(vec![settle(all_time("f|all"), 10, 250)]),
        Step::Reserve(vec![claim(all_time("f|all"), 100, 1)]),
        // Settling a bucket never reserved changes nothing.
        Step::Settle(vec![settle(day("g|day", 3), 10, 10)]),
        Step::Usage(vec![day("g|day", 3)]),
        // A rolling window adds its slots; the oldest leaves as time moves on.
        Step::Reserve(vec![claim(rolling("r|roll", 10), 100, 30)]),
        Step::Reserve(vec![claim(rolling("r|roll", 11), 100, 30)]),
        Step::Reserve(vec![claim(rolling("r|roll", 12), 100, 30)]),
        // (31, not 30: the lease id is the amount, and a lease already
        // held is a reservation sent twice.)
        Step::Reserve(vec![claim(rolling("r|roll", 12), 100, 31)]),
        Step::Usage(vec![rolling("r|roll", 12), rolling("r|roll", 13)]),
        Step::Reserve(vec![claim(rolling("r|roll", 13), 100, 30)]),
        // A new day starts empty.
        Step::Reserve(vec![claim(day("a|day", 8), 100, 100)]),
        Step::Reserve(vec![]),
        // A claim far from its limit is granted only with as much again
        // to spare; one that fits but not twice over is near, holding
        // nothing; one that does not fit at all is refused, never near.
        Step::Reserve(vec![claim(all_time("h|all"), 100, 40).far_from_limit()]),
        Step::Reserve(vec![claim(all_time("h|all"), 100, 31).far_from_limit()]),
        Step::Reserve(vec![
            claim(all_time("h|all"), 100, 31).far_from_limit(),
            claim(all_time("i|all"), 10, 20).far_from_limit(),
        ]),
        Step::Reserve(vec![
            Claim::new(all_time("j|all"), cents(100), Usd::MAX).far_from_limit()
        ]),
        Step::Reserve(vec![claim(all_time("j|all"), 100, 50).far_from_limit()]),
        Step::Usage(vec![
            all_time("h|all"),
            all_time("i|all"),
            all_time("j|all"),
        ]),
    ];
    let memory = MemoryStore::new();
    let expected = play(&memory, &steps).await;
    let got = play(&redis, &steps).await;
    for (i, (got, expected)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, expected, "step {i}");
    }
    // The scenario shows what it claims to.
    assert_eq!(
        expected[0],
        Outcome::Reserved(Reserved::Refused {
            claim: 1,
            usage: WindowUsage::default()
        })
    );
    assert_eq!(
        expected[5],
        Outcome::Settled(vec![
            Settled::new(Usd::ZERO, cents(45)),
            Settled::new(Usd::ZERO, cents(70))
        ])
    );
    assert!(matches!(
        expected[18],
        Outcome::Reserved(Reserved::Refused { .. })
    ));
    assert!(matches!(
        expected[20],
        Outcome::Reserved(Reserved::Granted { .. })
    ));
    assert_eq!(
        expected[24],
        Outcome::Reserved(Reserved::NearLimit {
            claim: 0,
            usage: WindowUsage::new(Usd::ZERO, cents(40))
        })
    );
    assert!(matches!(
        expected[25],
        Outcome::Reserved(Reserved::Refused { claim: 1, .. })
    ));
    assert_eq!(
        expected[28],
        Outcome::Usage(vec![
            WindowUsage::new(Usd::ZERO, cents(40)),
            WindowUsage::default(),
            WindowUsage::new(Usd::ZERO, cents(50))
        ])
    );
}

#[tokio::test]
async fn a_day_rolls_over_at_utc_midnight_through_the_guard() {
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let clock = FakeClock::at_unix(UtcDateTime::parse("2026-11-25T23:59:00Z").unwrap().unix());
    let guard = SpendGuard::builder()
        .store(store_on(&server, &unique_prefix("day-roll")).await)
        .clock(Arc::new(clock.clone()))
        .limit(SharedLimit::each(TagKind::Agent, cents(100), Window::Day))
        .build()
        .unwrap();
    let tags = Tags::new().agent("nightly");
    guard
        .reserve(&tags, cents(80))
        .await
        .unwrap()
        .settle(cents(80))
        .await
        .unwrap();
    let refused = guard.reserve(&tags, cents(30)).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("agent nightly on 2026-11-25 (UTC)"),
        "{refused}"
    );
    clock.advance(Duration::from_secs(60));
    guard
        .reserve(&tags, cents(30))
        .await
        .unwrap()
        .settle(cents(30))
        .await
        .unwrap();
    let status = guard.status(&tags).await.unwrap();
    assert_eq!(status[0].usage, WindowUsage::new(cents(30), Usd::ZERO));
    assert_eq!(status[0].subject, "agent nightly on 2026-11-26 (UTC)");
}

#[tokio::test]
async fn buckets_expire_after_their_window_and_never_before() {
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("ttl");
    let store = store_on(&server, &prefix).await;
    // A clock decades from real time: expiries are relative to it.
    let now = Duration::from_secs(2_500_000_000);
    let day_left = Duration::from_secs(5 * 3_600);
    let today = WindowRef::calendar(Arc::from("k|day"), 1, Some(now + day_left));
    let rolling = WindowRef::rolling(
        Arc::from("k|roll"),
        40,
        61,
        now + Duration::from_secs(3_660),
    );
    let claims = [
        Claim::new(today, cents(100), cents(1)),
        Claim::new(rolling, cents(100), cents(1)),
        Claim::new(all_time("k|all"), cents(100), cents(1)),
    ];
    assert!(matches!(
        store
            .reserve(&claims, &lease_of_first(&claims), now)
            .await
            .unwrap(),
        Reserved::Granted { .. }
    ));
    let mut conn = raw(&server).await;
    let margin = RedisStore::EXPIRY_MARGIN.as_millis() as i64;
    let mut pttl =
        async |key: &str| -> i64 { conn.pttl(format!("{prefix}:c:{key}")).await.unwrap() };
    let day_ttl = pttl("k|day:1").await;
    let day_window = day_left.as_millis() as i64;
    assert!(
        day_ttl > day_window && day_ttl <= day_window + margin,
        "{day_ttl}"
    );
    let roll_ttl = pttl("k|roll:40").await;
    assert!(
        roll_ttl > 3_660_000 && roll_ttl <= 3_660_000 + margin,
        "{roll_ttl}"
    );
    assert_eq!(pttl("k|all:0").await, -1, "all-time counters never expire");
    // A host whose clock runs an hour ahead does not shorten the expiry.
    let ahead = [Claim::new(
        WindowRef::calendar(Arc::from("k|day"), 1, Some(now + day_left)),
        cents(100),
        cents(1),
    )];
    store
        .reserve(
            &ahead,
            &lease_of_first(&ahead),
            now + Duration::from_secs(3_600),
        )
        .await
        .unwrap();
    assert!(pttl("k|day:1").await > day_window);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_racing_tasks_never_pass_the_cap() {
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("race");
    // Four processes' worth of stores, sixteen tasks on each.
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Arc::new(store_on(&server, &prefix).await));
    }
    let cap = cents(100);
    let window = all_time("global|all");
    let racing: Vec<_> = (0..64)
        .map(|task| {
            let store = Arc::clone(&stores[task % 4]);
            let window = window.clone();
            tokio::spawn(async move {
                let mut granted = Usd::ZERO;
                for round in 0..5 {
                    let claim = Claim::new(window.clone(), cap, cents(3));
                    let lease = Lease::new(
                        (task as u64) << 32 | round,
                        Arc::from("race"),
                        NOW,
                        NOW + Duration::from_secs(60),
                    );
                    if let Reserved::Granted { usage, ticket } =
                        store.reserve(&[claim], &lease, NOW).await.unwrap()
                    {
                        assert!(usage[0].committed() <= cap, "{usage:?}");
                        granted += cents(3);
                        tokio::task::yield_now().await;
                        let settlement =
                            Settlement::new(window.clone(), cents(3), cents(3), ticket, lease.id);
                        store.settle(&[settlement], NOW).await.unwrap();
                    }
                }
                granted
            })
        })
        .collect();
    let watcher = {
        let store = Arc::clone(&stores[0]);
        let window = window.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                let usage = store.usage(std::slice::from_ref(&window)).await.unwrap();
                assert!(usage[0].committed() <= cap, "{usage:?}");
            }
        })
    };
    let mut total = Usd::ZERO;
    for task in racing {
        total += task.await.unwrap();
    }
    watcher.await.unwrap();
    // 33 calls of 3¢ fit under $1, and no more.
    assert_eq!(total, cents(99));
    let usage = stores[1].usage(&[window]).await.unwrap();
    assert_eq!(usage[0], WindowUsage::new(cents(99), Usd::ZERO));
}

#[tokio::test]
async fn a_halt_from_one_process_stops_the_next_call_of_another() {
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("halt");
    let ops = store_on(&server, &prefix).await;
    let worker = store_on(&server, &prefix).await;
    let claim = [Claim::new(all_time("k|all"), cents(100), cents(1))];
    assert!(matches!(
        worker
            .reserve(&claim, &lease_of_first(&claim), NOW)
            .await
            .unwrap(),
        Reserved::Granted { .. }
    ));
    assert_eq!(worker.halted_now(), None);

    let halt = Halt::at("ops@alice", "bill spike", NOW);
    ops.halt(&halt).await.unwrap();
    assert_eq!(
        worker
            .reserve(&claim, &lease_of_first(&claim), NOW)
            .await
            .unwrap(),
        Reserved::Halted(halt.clone())
    );
    // The halt was seen by that round trip, so streams stop without I/O.
    assert_eq!(worker.halted_now(), Some(halt.clone()));
    assert_eq!(worker.halted().await.unwrap(), Some(halt.clone()));

    assert_eq!(ops.resume().await.unwrap(), Some(halt));
    assert!(matches!(
        worker
            .reserve(&claim, &lease_of_first(&claim), NOW)
            .await
            .unwrap(),
        Reserved::Granted { .. }
    ));
    assert_eq!(worker.halted_now(), None);
    assert_eq!(ops.resume().await.unwrap(), None);

    // Anything at the key halts: a person in a hurry with redis-cli.
    let mut conn = raw(&server).await;
    let _: () = conn.set(format!("{prefix}:halt"), "now").await.unwrap();
    let Reserved::Halted(by_hand) = worker
        .reserve(&claim, &lease_of_first(&claim), NOW)
        .await
        .unwrap()
    else {
        panic!("a hand-set halt key did not halt");
    };
    assert_eq!(by_hand.by, "unknown");
    assert!(
        by_hand.reason.contains(&format!("{prefix}:halt")),
        "{}",
        by_hand.reason
    );
    ops.resume().await.unwrap();

    // Through the guard: `SpendGuard::halt` halts every guard on the prefix.
    let limit = SharedLimit::global(cents(100), Window::Day);
    let guard = |store| {
        SpendGuard::builder()
            .store(store)
            .limit(limit.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (guard(ops), guard(worker));
    a.halt("ops@bob", "runaway agent").await.unwrap();
    let refused = b.reserve(&Tags::new(), cents(1)).await.unwrap_err();
    assert!(
        matches!(refused, GuardError::Halted(ref h) if h.by == "ops@bob"),
        "{refused}"
    );
    b.resume().await.unwrap();
    b.reserve(&Tags::new(), cents(1))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_server_refuses_calls_with_a_clear_error() {
    let port = free_port();
    let url = format!("redis://ops:hunter2@127.0.0.1:{port}/0");
    let builder = RedisStore::builder(&url).timeout(Duration::from_millis(300));
    assert!(!format!("{builder:?}").contains("hunter2"));
    let error = builder.connect().await.unwrap_err();
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "the spend store at redis://127.0.0.1:{port}/0 is unreachable ("
        )),
        "{text}"
    );
    assert!(
        text.ends_with("calls are refused until it is back"),
        "{text}"
    );
    assert!(!text.contains("hunter2") && !format!("{error:?}").contains("hunter2"));

    // A store that was connected fails closed once its server is gone.
    let Some(mut server) = RedisServer::own() else {
        return;
    };
    let store = store_on(&server, &unique_prefix("closed")).await;
    server.stop();
    let claim = [Claim::new(all_time("k|all"), cents(100), cents(1))];
    let error = store
        .reserve(&claim, &lease_of_first(&claim), NOW)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains(server.url().trim_start_matches("redis://")),
        "{error}"
    );
}

#[tokio::test]
async fn failing_open_spends_at_most_the_fallback_per_window_while_redis_is_down() {
    let Some(mut server) = RedisServer::own() else {
        return;
    };
    let store = RedisStore::builder(server.url())
        .key_prefix(unique_prefix("open"))
        .timeout(Duration::from_millis(300))
        .fail_open(cents(10))
        .connect()
        .await
        .unwrap();
    let claim = |max, amount| [Claim::new(day("k|day", 1), cents(max), cents(amount))];
    let Reserved::Granted {
        ticket: in_redis, ..
    } = store
        .reserve(&claim(100, 50), &lease_of(cents(50)), NOW)
        .await
        .unwrap()
    else {
        panic!("refused while Redis is up");
    };
    server.stop();

    // During the outage: at most 10¢ of the $1 limit, held in this process.
    let Reserved::Granted { ticket, usage } = store
        .reserve(&claim(100, 6), &lease_of(cents(6)), NOW)
        .await
        .unwrap()
    else {
        panic!("the fallback refused");
    };
    assert_ne!(
        ticket, in_redis,
        "a fallback grant must settle in the fallback"
    );
    assert_eq!(usage, [WindowUsage::new(Usd::ZERO, cents(6))]);
    let used_up = store
        .reserve(&claim(100, 6), &lease_of(cents(6)), NOW)
        .await
        .unwrap_err();
    assert!(matches!(used_up, StoreError::Unreachable { .. }));
    assert!(
        used_up
            .to_string()
            .contains("the fail-open allowance of $0.10 per window in this process is used up"),
        "{used_up}"
    );
    // A limit below the allowance refuses as itself.
    assert!(matches!(
        store
            .reserve(&claim(5, 6), &lease_of(cents(6)), NOW)
            .await
            .unwrap(),
        Reserved::Refused { claim: 0, .. }
    ));
    // The fallback grant settles locally, without Redis.
    let settled = store
        .settle(
            &[Settlement::new(
                day("k|day", 1),
                cents(6),
                cents(4),
                ticket,
                cents(6).nanos(),
            )],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(settled, [Settled::new(Usd::ZERO, cents(4))]);
    assert!(matches!(
        store
            .reserve(&claim(100, 6), &lease_of(cents(6)), NOW)
            .await
            .unwrap(),
        Reserved::Granted { .. }
    ));
    // A grant held in Redis cannot settle until Redis is back.
    let stuck = Settlement::new(
        day("k|day", 1),
        cents(50),
        cents(50),
        in_redis,
        cents(50).nanos(),
    );
    assert!(store.settle(&[stuck], NOW).await.is_err());
    // Neither status nor a halt pretends to work.
    assert!(store.usage(&[day("k|day", 1)]).await.is_err());
    assert!(store.halt(&Halt::at("me", "test", NOW)).await.is_err());

    // Back up: Redis decides again (its data was lost with the restart).
    server.restart();
    assert!(matches!(
        store.reserve(&claim(100, 60), &lease_of(cents(60)), NOW).await.unwrap(),
        Reserved::Granted { ticket, .. } if ticket == in_redis
    ));
}

#[tokio::test]
async fn a_halt_seen_before_an_outage_still_refuses_on_the_fallback() {
    let Some(mut server) = RedisServer::own() else {
        return;
    };
    let store = RedisStore::builder(server.url())
        .key_prefix(unique_prefix("halt-outage"))
        .timeout(Duration::from_millis(300))
        .fail_open(cents(10))
        .connect()
        .await
        .unwrap();
    let halt = Halt::at("ops@alice", "bill spike", NOW);
    store.halt(&halt).await.unwrap();
    server.stop();
    let claim = [Claim::new(all_time("k|all"), cents(100), cents(1))];
    assert_eq!(
        store
            .reserve(&claim, &lease_of_first(&claim), NOW)
            .await
            .unwrap(),
        Reserved::Halted(halt)
    );
}

#[tokio::test]
async fn a_fail_open_store_starts_on_its_fallback_when_redis_is_down() {
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let store = RedisStore::builder(&url)
        .timeout(Duration::from_millis(300))
        .fail_open(cents(10))
        .connect()
        .await
        .unwrap();
    let claim = [Claim::new(all_time("k|all"), cents(100), cents(10))];
    assert!(matches!(
        store
            .reserve(&claim, &lease_of_first(&claim), NOW)
            .await
            .unwrap(),
        Reserved::Granted { .. }
    ));
    assert!(store
        .reserve(&claim, &lease_of_first(&claim), NOW)
        .await
        .is_err());
    // A wrong URL is still an error, fail-open or not.
    let error = RedisStore::builder("http://nope")
        .fail_open(cents(1))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Config(_)), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_reconnects_by_itself_after_a_server_restart() {
    let Some(mut server) = RedisServer::own() else {
        return;
    };
    let store = RedisStore::builder(server.url())
        .key_prefix(unique_prefix("reconnect"))
        .timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let claim = [Claim::new(all_time("k|all"), cents(100), cents(1))];
    assert!(matches!(
        store
            .reserve(&claim, &lease_of_first(&claim), NOW)
            .await
            .unwrap(),
        Reserved::Granted { .. }
    ));
    for _ in 0..2 {
        server.stop();
        for _ in 0..2 {
            assert!(store
                .reserve(&claim, &lease_of_first(&claim), NOW)
                .await
                .is_err());
            // Time for the background reconnection to fail too.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.restart();
        // The very first call after the restart goes through: no rebuild,
        // no lost call. The scripts are loaded again as needed.
        assert!(matches!(
            store
                .reserve(&claim, &lease_of_first(&claim), NOW)
                .await
                .unwrap(),
            Reserved::Granted { .. }
        ));
    }
    // A connection the server drops is replaced before the next call.
    let mut conn = raw(&server).await;
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query_async(&mut conn)
        .await
        .unwrap();
    // The server's push of the closed connection starts a new one in the
    // background; a moment later the next call finds it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_kill = store.reserve(&claim, &lease_of_first(&claim), NOW).await;
    assert!(
        matches!(after_kill, Ok(Reserved::Granted { .. })),
        "{after_kill:?}"
    );
}

#[tokio::test]
async fn a_counter_holding_something_else_is_corrupt_not_a_panic() {
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("corrupt");
    let store = store_on(&server, &prefix).await;
    let mut conn = raw(&server).await;
    let _: () = conn
        .hset(format!("{prefix}:c:bad|all:0"), "spent", "lots")
        .await
        .unwrap();
    let _: () = conn
        .set(format!("{prefix}:c:str|all:0"), "12")
        .await
        .unwrap();
    let _: () = conn
        .hset(format!("{prefix}:c:neg|all:0"), "held", "-5")
        .await
        .unwrap();
    let _: () = conn
        .hset(
            format!("{prefix}:c:huge|all:0"),
            "held",
            "18446744073709551615",
        )
        .await
        .unwrap();
    for counter in ["bad|all", "str|all", "neg|all", "huge|all"] {
        let claim = [
            Claim::new(all_time("fine|all"), cents(100), cents(1)),
            Claim::new(all_time(counter), cents(100), cents(1)),
        ];
        let error = store
            .reserve(&claim, &lease_of_first(&claim), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::Corrupt { .. }),
            "{counter}: {error}"
        );
        assert!(
            error
                .to_string()
                .contains(&format!("{prefix}:c:{counter}:0")),
            "{error}"
        );
        let settlement = [Settlement::new(all_time(counter), cents(1), cents(1), 0, 1)];
        assert!(matches!(
            store.settle(&settlement, NOW).await,
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            store.usage(&[all_time(counter)]).await,
            Err(StoreError::Corrupt { .. })
        ));
    }
    // Nothing was held on the good counter by the refused reservations.
    assert_eq!(
        store.usage(&[all_time("fine|all")]).await.unwrap(),
        [WindowUsage::default()]
    );
    let text = store
        .reserve(
            &[Claim::new(all_time("bad|all"), cents(1), cents(1))],
            &lease_of(cents(1)),
            NOW,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("field spent is \"lots\""), "{text}");
}

#[tokio::test]
async fn a_limit_lua_cannot_count_exactly_is_refused_up_front() {
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let store = store_on(&server, &unique_prefix("limit")).await;
    let claim = |max, amount| [Claim::new(all_time("k|all"), max, amount)];
    let max = RedisStore::MAX_LIMIT;
    let too_big = Usd::from_nanos(max.nanos() + 1);
    let error = store
        .reserve(&claim(too_big, cents(1)), &lease_of(cents(0)), NOW)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Config(_)), "{error}");
    // The largest limit is counted to the last nano-dollar.
    let granted = store
        .reserve(&claim(max, max), &lease_of(cents(0)), NOW)
        .await
        .unwrap();
    assert!(matches!(granted, Reserved::Granted { .. }), "{granted:?}");
    // (Each reservation under a lease of its own: one already held is a
    // reservation sent twice.)
    let refused = store
        .reserve(
            &claim(max, Usd::from_nanos(1)),
            &lease_of(Usd::from_nanos(1)),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        refused,
        Reserved::Refused {
            claim: 0,
            usage: WindowUsage::new(Usd::ZERO, max)
        }
    );
    // Spend far beyond the limit saturates at 2^53 and still refuses everything.
    let huge = Settlement::new(all_time("k|all"), max, Usd::MAX, 0, 0);
    store
        .settle(std::slice::from_ref(&huge), NOW)
        .await
        .unwrap();
    let settled = store.settle(&[huge], NOW).await.unwrap();
    assert_eq!(settled[0].after, Usd::from_nanos(1 << 53));
    let refused = store
        .reserve(&claim(max, Usd::ZERO), &lease_of(Usd::from_nanos(2)), NOW)
        .await
        .unwrap();
    assert!(matches!(refused, Reserved::Refused { .. }), "{refused:?}");
}

#[tokio::test]
async fn a_renewed_lease_stays_live_and_a_late_settlement_of_an_orphan_adds_only_its_excess() {
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let store = store_on(&server, &unique_prefix("renew")).await;
    let window = all_time("k|all");
    let claim = [Claim::new(window.clone(), cents(100), cents(60))];
    let minute = Lease::new(5, Arc::from("slow/1"), NOW, NOW + Duration::from_secs(60));
    store.reserve(&claim, &minute, NOW).await.unwrap();
    let windows = [window.clone()];
    let later = |secs| NOW + Duration::from_secs(secs);
    let renewed = minute.renewed(later(120));
    assert!(store.renew(&windows, &renewed, later(59)).await.unwrap());
    // Not run out at 90 s, after the renewal: still held.
    assert!(store.orphans(later(90)).await.unwrap().is_empty());
    // Run out at 120 s: billed, and no longer renewable.
    let orphans = store.orphans(later(120)).await.unwrap();
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    assert_eq!(
        (&*orphans[0].holder, orphans[0].amount, orphans[0].since),
        ("slow/1", cents(60), NOW)
    );
    assert!(!store
        .renew(&windows, &renewed.renewed(later(999)), later(121))
        .await
        .unwrap());
    assert_eq!(
        store.usage(&windows).await.unwrap(),
        [WindowUsage::new(cents(60), Usd::ZERO)]
    );
    // The worker was alive after all: its cost above the worst case counts.
    let late = Settlement::new(window.clone(), cents(60), cents(75), 0, 5);
    store.settle(&[late], later(130)).await.unwrap();
    assert_eq!(
        store.usage(&windows).await.unwrap(),
        [WindowUsage::new(cents(75), Usd::ZERO)]
    );
}

/// The fleet load test: four stores (four connections, as four processes
/// have) × sixteen tasks, each reserving across four limits and settling a
/// cost of its own, a fixed number of times. Every limit's spend equals
/// the sum of the settlements to the nano-dollar, and no cap is crossed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_of_sixty_four_tasks_settles_to_the_nano_dollar_across_four_limits() {
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("fleet");
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Arc::new(store_on(&server, &prefix).await));
    }
    let limits = [
        (all_time("global|all"), cents(2_000)),
        (day("key=prod|day", 20_782), cents(1_500)),
        (rolling("agent=a|rolling", 500), cents(1_000)),
        (all_time("customer=acme|all"), cents(800)),
    ];
    const CALLS: u64 = 25;
    let tasks: Vec<_> = (0..64u64)
        .map(|task| {
            let store = Arc::clone(&stores[(task % 4) as usize]);
            let limits = limits.clone();
            tokio::spawn(async move {
                let mut settled = Usd::ZERO;
                for call in 0..CALLS {
                    let worst = Usd::from_nanos(5_000_000 + task * 1_000 + call);
                    let claims: Vec<Claim> = limits
                        .iter()
                        .map(|(w, max)| Claim::new(w.clone(), *max, worst))
                        .collect();
                    let lease = Lease::new(
                        task << 32 | call,
                        Arc::from("fleet"),
                        NOW,
                        NOW + Duration::from_secs(600),
                    );
                    let Reserved::Granted { usage, ticket } =
                        store.reserve(&claims, &lease, NOW).await.unwrap()
                    else {
                        continue;
                    };
                    for (u, (_, max)) in usage.iter().zip(&limits) {
                        assert!(u.committed() <= *max, "{u:?} over {max}");
                    }
                    // An odd cost of its own, below the worst case.
                    let cost = Usd::from_nanos(worst.nanos() - 1_234 - call * 7);
                    let settlements: Vec<Settlement> = limits
                        .iter()
                        .map(|(w, _)| Settlement::new(w.clone(), worst, cost, ticket, lease.id))
                        .collect();
                    store.settle(&settlements, NOW).await.unwrap();
                    settled += cost;
                }
                settled
            })
        })
        .collect();
    let mut total = Usd::ZERO;
    for task in tasks {
        total += task.await.unwrap();
    }
    let windows: Vec<WindowRef> = limits.iter().map(|(w, _)| w.clone()).collect();
    let usage = stores[0].usage(&windows).await.unwrap();
    for (u, (_, max)) in usage.iter().zip(&limits) {
        assert_eq!(*u, WindowUsage::new(total, Usd::ZERO));
        assert!(u.spent <= *max);
    }
    // The tightest cap ($8) was reached: some calls were refused.
    assert!(total > cents(790) && total <= cents(800), "{total}");
}

/// A client that resends a reservation whose reply it lost (the cluster
/// client does, as a primary fails) gets the same grant, held once.
#[tokio::test]
async fn a_reservation_sent_twice_is_held_once() {
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let store = store_on(&server, &unique_prefix("twice")).await;
    let claims = [
        Claim::new(day("k|day", 4), cents(100), cents(30)),
        Claim::new(all_time("g|all"), cents(100), cents(30)),
    ];
    let lease = lease_of(cents(30));
    let first = store.reserve(&claims, &lease, NOW).await.unwrap();
    let again = store.reserve(&claims, &lease, NOW).await.unwrap();
    assert_eq!(first, again);
    let held = WindowUsage::new(Usd::ZERO, cents(30));
    assert_eq!(
        store
            .usage(&[day("k|day", 4), all_time("g|all")])
            .await
            .unwrap(),
        [held, held]
    );
    // Settled once, it is gone: nothing stays held.
    let settle = |w| Settlement::new(w, cents(30), cents(20), 0, lease.id);
    store
        .settle(&[settle(day("k|day", 4)), settle(all_time("g|all"))], NOW)
        .await
        .unwrap();
    let spent = WindowUsage::new(cents(20), Usd::ZERO);
    assert_eq!(
        store
            .usage(&[day("k|day", 4), all_time("g|all")])
            .await
            .unwrap(),
        [spent, spent]
    );
}
