//! What runaway detection adds to a guarded call, against what the call
//! already costs the guard, in one run.
//!
//! - `policy check+outcome`: [`RunawayPolicy::check`] with a loop detector,
//!   a call limit, a spend limit and a circuit breaker, then
//!   `record_outcome`, for a call in one scope and in four;
//! - `reserve+settle`: the same call's budget reservation and settlement
//!   (the baseline: spendguard's existing per-call work);
//! - `fingerprint`: [`RequestFingerprint::of`] a 2 KB and a 100 KB chat
//!   body, against `serde_json::to_vec` of the same body (the baseline: the
//!   client serializes every body it sends).
//!
//! After criterion's report, a fixed-size timed run prints each time and
//! the ratios.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use serde_json::{json, Value};
use spendguard::guard::runaway::{RequestFingerprint, RunawayAction, RunawayPolicy};
use spendguard::money::PricePerToken;
use spendguard::prices::{ModelPrice, Rates};
use spendguard::{CallPlan, TaskBudget, Usage, Usd};

const TIMED_CALLS: u32 = 500_000;
const TIMED_HASHES: u32 = 2_000;
/// Distinct requests cycled through; each recurs long after the loop
/// window has passed, so no check is refused.
const REQUESTS: usize = 4_096;
const ONE_SCOPE: [&str; 1] = ["agent=researcher"];
const FOUR_SCOPES: [&str; 4] = ["agent=researcher", "key=prod-1", "customer=acme", "global"];

struct Bench {
    policy: RunawayPolicy,
    requests: Vec<RequestFingerprint>,
    budget: TaskBudget,
    price: Arc<ModelPrice>,
}

impl Bench {
    fn new() -> Self {
        let policy = RunawayPolicy::builder()
            .loops(3, Duration::from_secs(1), RunawayAction::Refuse)
            .calls_per(u32::MAX, Duration::from_secs(60), RunawayAction::Refuse)
            .spend_per(Usd::MAX, Duration::from_secs(60), RunawayAction::Halt)
            .circuit_breaker(5, Duration::from_secs(30), RunawayAction::Refuse)
            .build()
            .unwrap();
        let per_m = |d| PricePerToken::per_million(d).unwrap();
        Bench {
            policy,
            requests: (0..REQUESTS)
                .map(|n| RequestFingerprint::of("gpt-4o", &chat(&format!("step {n}"), 1)))
                .collect(),
            budget: TaskBudget::new(Usd::from_dollars(1e9).unwrap()),
            price: Arc::new(ModelPrice::new(
                "gpt-4o-mini",
                Rates::new(per_m(0.15), per_m(0.60)),
            )),
        }
    }

    /// One call's runaway checks; `n` moves the clock 1 ms per call.
    fn runaway_call(&self, scopes: &[&str], n: u64) {
        let now = Duration::from_secs(1_700_000_000) + Duration::from_millis(n);
        let request = self.requests[n as usize % REQUESTS];
        let checked = self
            .policy
            .check(scopes, request, Usd::from_nanos(270_000), now);
        assert!(black_box(checked).is_ok());
        self.policy.record_outcome(scopes, None, now);
    }

    fn budget_call(&self) {
        let plan = CallPlan::new(&self.price, 1_000).with_max_output_tokens(500);
        let reservation = self.budget.reserve(black_box(plan)).unwrap();
        black_box(reservation.settle(&Usage::new(1_000, 200)));
    }
}

/// A chat request whose messages hold about `kilobytes` KB of text.
fn chat(topic: &str, kilobytes: usize) -> Value {
    let paragraph = "The tool returned an error while reading the log file; retrying. ";
    let messages: Vec<Value> = (0..kilobytes * 1_024 / paragraph.len() / 4)
        .map(|n| {
            let role = if n % 2 == 0 { "user" } else { "assistant" };
            json!({"role": role, "content": paragraph.repeat(4)})
        })
        .chain([json!({"role": "user", "content": topic})])
        .collect();
    json!({"model": "gpt-4o", "messages": messages, "max_tokens": 1_024, "temperature": 0.2})
}

fn bench(c: &mut Criterion) {
    let bench = Bench::new();
    let mut per_call = c.benchmark_group("per_call");
    let mut n = 0u64;
    per_call.bench_function("policy check+outcome, 1 scope", |b| {
        b.iter(|| {
            n += 1;
            bench.runaway_call(&ONE_SCOPE, n);
        })
    });
    per_call.bench_function("policy check+outcome, 4 scopes", |b| {
        b.iter(|| {
            n += 1;
            bench.runaway_call(&FOUR_SCOPES, n);
        })
    });
    per_call.bench_function("reserve+settle", |b| b.iter(|| bench.budget_call()));
    per_call.finish();

    let mut hashing = c.benchmark_group("request_body");
    for kilobytes in [2, 100] {
        let body = chat("next", kilobytes);
        hashing.bench_function(format!("fingerprint {kilobytes} KB"), |b| {
            b.iter(|| RequestFingerprint::of("gpt-4o", black_box(&body)))
        });
        hashing.bench_function(format!("serde_json::to_vec {kilobytes} KB"), |b| {
            b.iter(|| serde_json::to_vec(black_box(&body)).unwrap())
        });
    }
    hashing.finish();
}

/// Best of five runs of `runs` calls of `f`, in nanoseconds per call.
fn best_ns(runs: u32, mut f: impl FnMut(u64)) -> f64 {
    let mut n = 0u64;
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..runs {
                n += 1;
                f(n);
            }
            start.elapsed().as_nanos() as f64 / f64::from(runs)
        })
        .fold(f64::INFINITY, f64::min)
}

fn print_ratios() {
    // A fresh policy, so the timed run starts its clock from an empty state.
    let bench = Bench::new();
    let budget = best_ns(TIMED_CALLS, |_| bench.budget_call());
    let offset = u64::from(TIMED_CALLS) * 10;
    let one = best_ns(TIMED_CALLS, |n| bench.runaway_call(&ONE_SCOPE, n));
    let four = best_ns(TIMED_CALLS, |n| {
        bench.runaway_call(&FOUR_SCOPES, offset + n)
    });
    println!("\nper call, {TIMED_CALLS} calls, best of 5:");
    println!("  reserve+settle                   {budget:>8.1} ns");
    println!(
        "  policy check+outcome, 1 scope    {one:>8.1} ns  ratio to reserve+settle {:.2}",
        one / budget
    );
    println!(
        "  policy check+outcome, 4 scopes   {four:>8.1} ns  ratio to reserve+settle {:.2}",
        four / budget
    );

    println!("\nrequest body, {TIMED_HASHES} runs, best of 5:");
    for kilobytes in [2, 100] {
        let body = chat("next", kilobytes);
        let size = serde_json::to_vec(&body).unwrap().len();
        let hash = best_ns(TIMED_HASHES, |_| {
            black_box(RequestFingerprint::of("gpt-4o", black_box(&body)));
        });
        let serialize = best_ns(TIMED_HASHES, |_| {
            black_box(serde_json::to_vec(black_box(&body)).unwrap());
        });
        println!(
            "  {size:>7} bytes: fingerprint {:>9.1} µs, to_vec {:>9.1} µs, ratio {:.2}",
            hash / 1_000.0,
            serialize / 1_000.0,
            hash / serialize
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios();
}
