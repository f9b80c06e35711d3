//! `RedisStore::reserve` against the floor it cannot beat: one bare
//! `INCRBY` round trip to the same server over the same kind of connection
//! (redis-rs's `ConnectionManager`, RESP3), in one run.
//!
//! Variants:
//! - `INCRBY round trip`: the baseline;
//! - `reserve 1 claim`: one calendar window (the halt check, the sum, the
//!   hold and the expiry, in one script);
//! - `reserve 4 claims`: four calendar windows, all or none;
//! - `reserve 1 rolling claim`: one rolling hour (61 buckets summed);
//! - `reserve+settle 1 claim`: a whole call's cost to the store (two round
//!   trips).
//!
//! After criterion's report, interleaved timed rounds print each variant's
//! time per call and its ratio to the baseline. The target is
//! reserve ≤ 1.5× a bare round trip. The bench starts its own
//! `redis-server` on a free loopback port, and skips without one.

// The tests' fixture: the bench uses only the server it starts.
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use redis::aio::ConnectionManager;
use redis_server::RedisServer;
use spendguard::store::{Claim, Lease, RedisStore, Reserved, Settlement, SpendStore, WindowRef};
use spendguard::Usd;
use tokio::runtime::Runtime;

const ROUNDS: u32 = 20;
const CALLS_PER_ROUND: u64 = 1_000;
const NOW: Duration = Duration::from_secs(1_795_608_000);

struct Contenders {
    runtime: Runtime,
    baseline: ConnectionManager,
    store: RedisStore,
    one: Vec<Claim>,
    four: Vec<Claim>,
    rolling: Vec<Claim>,
    // Kept last, so the connections close before the server is killed.
    _server: RedisServer,
}

#[derive(Debug, Clone, Copy)]
enum Variant {
    Incrby,
    ReserveOne,
    ReserveFour,
    ReserveRolling,
    ReserveSettle,
}

const VARIANTS: [(&str, Variant); 5] = [
    ("INCRBY round trip", Variant::Incrby),
    ("reserve 1 claim", Variant::ReserveOne),
    ("reserve 4 claims", Variant::ReserveFour),
    ("reserve 1 rolling claim", Variant::ReserveRolling),
    ("reserve+settle 1 claim", Variant::ReserveSettle),
];

impl Contenders {
    fn new() -> Option<Contenders> {
        let server = RedisServer::own()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (baseline, store) = runtime.block_on(async {
            let client = redis::Client::open(format!("{}?protocol=resp3", server.url())).unwrap();
            let baseline = ConnectionManager::new(client).await.unwrap();
            let store = RedisStore::builder(server.url())
                .key_prefix("bench")
                .connect()
                .await
                .unwrap();
            (baseline, store)
        });
        let day = |name: &str| WindowRef::calendar(Arc::from(name), 20_782, Some(NOW));
        // Limits that never run out: each call holds one nano-dollar.
        let claim = |window| Claim::new(window, RedisStore::MAX_LIMIT, Usd::from_nanos(1));
        let rolling = WindowRef::rolling(Arc::from("agent=a|rolling=3600000ms"), 500_000, 61, NOW);
        Some(Contenders {
            runtime,
            baseline,
            one: vec![claim(day("key=prod|day"))],
            four: vec![
                claim(day("key=prod|day")),
                claim(day("agent=researcher|day")),
                claim(WindowRef::calendar(
                    Arc::from("global|month"),
                    682,
                    Some(NOW),
                )),
                claim(WindowRef::calendar(Arc::from("task=t1|all"), 0, None)),
            ],
            rolling: vec![claim(rolling)],
            store,
            _server: server,
        })
    }

    /// `calls` calls of `variant`, one after another, timed.
    fn run(&self, variant: Variant, calls: u64) -> Duration {
        self.runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..calls {
                match variant {
                    Variant::Incrby => self.incrby().await,
                    Variant::ReserveOne => self.reserve(&self.one).await,
                    Variant::ReserveFour => self.reserve(&self.four).await,
                    Variant::ReserveRolling => self.reserve(&self.rolling).await,
                    Variant::ReserveSettle => self.reserve_settle().await,
                }
            }
            start.elapsed()
        })
    }

    async fn incrby(&self) {
        let mut connection = self.baseline.clone();
        let n: i64 = redis::cmd("INCRBY")
            .arg("bench:baseline")
            .arg(1)
            .query_async(&mut connection)
            .await
            .unwrap();
        black_box(n);
    }

    async fn reserve(&self, claims: &[Claim]) {
        let reserved = self
            .store
            .reserve(black_box(claims), &lease(), NOW)
            .await
            .unwrap();
        assert!(matches!(reserved, Reserved::Granted { .. }));
    }

    async fn reserve_settle(&self) {
        let lease = lease();
        let Reserved::Granted { ticket, .. } =
            self.store.reserve(&self.one, &lease, NOW).await.unwrap()
        else {
            panic!("the bench's limit ran out");
        };
        let held = self.one[0].amount;
        let settlement = Settlement::new(self.one[0].window.clone(), held, held, ticket, lease.id);
        black_box(self.store.settle(&[settlement], NOW).await.unwrap());
    }
}

/// A fresh lease for one call, running out long after the bench.
fn lease() -> Lease {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Lease::new(
        id,
        Arc::from("bench"),
        NOW,
        NOW + Duration::from_secs(3_600),
    )
}

fn bench(c: &mut Criterion) {
    let Some(contenders) = Contenders::new() else {
        return;
    };
    let mut group = c.benchmark_group("redis_round_trip");
    for (name, variant) in VARIANTS {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| contenders.run(variant, iters))
        });
    }
    group.finish();
    print_ratios(&contenders);
}

/// Microseconds per call of each variant: the best of many short rounds,
/// each round running every variant in turn, so that a burst of load on
/// the machine slows all of them alike rather than one.
fn timed_us_per_call(contenders: &Contenders) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; VARIANTS.len()];
    for _ in 0..ROUNDS {
        for ((_, variant), best) in VARIANTS.iter().zip(&mut best) {
            let took = contenders.run(*variant, CALLS_PER_ROUND);
            *best = best.min(took.as_secs_f64() * 1e6 / CALLS_PER_ROUND as f64);
        }
    }
    best
}

fn print_ratios(contenders: &Contenders) {
    let times = timed_us_per_call(contenders);
    println!("\nloopback Redis, best of {ROUNDS} interleaved rounds of {CALLS_PER_ROUND} calls:");
    for ((name, _), us) in VARIANTS.iter().zip(&times) {
        println!("  {name:<26} {us:>7.1} µs/call");
    }
    for ((name, _), us) in VARIANTS.iter().zip(&times).skip(1) {
        println!("  ratio {name} / INCRBY round trip = {:.2}", us / times[0]);
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
