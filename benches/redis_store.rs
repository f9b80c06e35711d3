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
//!
//! Then the fleet load: 4 stores (4 connections, as 4 processes have) × 16
//! tasks, each reserving across 4 limits and settling, a fixed number of
//! times; it prints the throughput and the p50/p99 reservation latency
//! beside the same 64 tasks sending bare `PING`s.

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
    server: RedisServer,
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
            server,
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
    print_fleet(contenders.server.url());
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

/// Reservations per task in the fleet load.
const FLEET_CALLS: u64 = 200;

/// The latencies `call` reports (of the part it times) for 4 × 16 tasks
/// calling it `FLEET_CALLS` times each, sorted, and the wall time.
fn fleet_latencies<F, Fut>(runtime: &Runtime, call: F) -> (Vec<Duration>, Duration)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Duration> + Send,
{
    runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..64)
            .map(|task| {
                let call = call.clone();
                tokio::spawn(async move {
                    let mut took = Vec::with_capacity(FLEET_CALLS as usize);
                    for _ in 0..FLEET_CALLS {
                        took.push(call(task).await);
                    }
                    took
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all.sort_unstable();
        (all, start.elapsed())
    })
}

fn percentile(sorted: &[Duration], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)].as_secs_f64() * 1e6
}

fn print_fleet(url: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let (stores, pings) = runtime.block_on(async {
        let mut stores = Vec::new();
        let mut pings = Vec::new();
        for _ in 0..4 {
            let store = RedisStore::builder(url)
                .key_prefix("bench-fleet")
                .connect()
                .await
                .unwrap();
            stores.push(Arc::new(store));
            let client = redis::Client::open(format!("{url}?protocol=resp3")).unwrap();
            pings.push(ConnectionManager::new(client).await.unwrap());
        }
        (Arc::new(stores), Arc::new(pings))
    });
    let day = |name: &str| WindowRef::calendar(Arc::from(name), 20_782, Some(NOW));
    let claim = |window| Claim::new(window, RedisStore::MAX_LIMIT, Usd::from_nanos(2));
    let claims = Arc::new(vec![
        claim(day("global|day")),
        claim(day("key=prod|day")),
        claim(day("agent=researcher|day")),
        claim(WindowRef::calendar(Arc::from("customer=acme|all"), 0, None)),
    ]);
    let (ping_times, ping_wall) = fleet_latencies(&runtime, move |task| {
        let mut connection = pings[task % 4].clone();
        async move {
            let at = Instant::now();
            let pong: String = redis::cmd("PING")
                .query_async(&mut connection)
                .await
                .unwrap();
            let took = at.elapsed();
            black_box(pong);
            took
        }
    });
    let (reserve_times, reserve_wall) = fleet_latencies(&runtime, move |task| {
        let store = Arc::clone(&stores[task % 4]);
        let claims = Arc::clone(&claims);
        async move {
            let lease = lease();
            let at = Instant::now();
            let reserved = store.reserve(&claims, &lease, NOW).await.unwrap();
            let took = at.elapsed();
            let Reserved::Granted { ticket, .. } = reserved else {
                panic!("the bench's limit ran out");
            };
            let settlements: Vec<Settlement> = claims
                .iter()
                .map(|c| {
                    Settlement::new(
                        c.window.clone(),
                        c.amount,
                        Usd::from_nanos(1),
                        ticket,
                        lease.id,
                    )
                })
                .collect();
            black_box(store.settle(&settlements, NOW).await.unwrap());
            took
        }
    });
    let calls = (64 * FLEET_CALLS) as f64;
    println!("\nfleet load: 4 connections x 16 tasks x {FLEET_CALLS} calls, 4 limits each");
    println!("(latency of the PING, or of the reservation; throughput of whole calls):");
    for (name, times, wall) in [
        ("PING round trip", &ping_times, ping_wall),
        ("reserve (then settle)", &reserve_times, reserve_wall),
    ] {
        println!(
            "  {name:<26} {:>8.0} calls/s   p50 {:>7.1} µs   p99 {:>7.1} µs",
            calls / wall.as_secs_f64(),
            percentile(times, 50),
            percentile(times, 99)
        );
    }
    println!(
        "  ratio reserve / PING: p50 {:.2}, p99 {:.2}, throughput {:.2}",
        percentile(&reserve_times, 50) / percentile(&ping_times, 50),
        percentile(&reserve_times, 99) / percentile(&ping_times, 99),
        ping_wall.as_secs_f64() / reserve_wall.as_secs_f64()
    );
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
