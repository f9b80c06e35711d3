//! What the guard costs a process before and at its first call: resident
//! memory added and time taken, each variant in a fresh child process (this
//! bench runs itself again with `SPENDGUARD_FIRST_CALL` naming the variant),
//! so nothing one variant loaded is already there for the next.
//!
//! - `load: LiteLLM JSON loader`: today's loader,
//!   `PriceTable::from_litellm_json_with_overrides` on the bundled files;
//! - `load: bundled compact table`: `PriceTable::bundled()` and one
//!   `resolve`;
//! - `first call: exact count`: a guarded step the way every call was made
//!   before the bound: the table from JSON, the prompt counted exactly (a
//!   runaway spend limit, which weighs the worst case and so is always
//!   given the exact count's, forces it);
//! - `first call: bound`: the same step far from its limits, on the bundled
//!   table, reserved at its byte bound with no tokenizer loaded;
//! - `first call: bound, shared limit`: the same through a `SpendGuard`
//!   with a shared daily limit in its memory store, far from it (the fleet
//!   setup): held at the bound there too, with no tokenizer loaded.
//!
//! Then criterion times the same step once everything is loaded.
//!
//! ```text
//! cargo bench --no-default-features --bench first_call
//! ```

use std::future::Future;
use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use serde_json::{json, Value};
use spendguard::client::HttpFailure;
use spendguard::guard::runaway::{RunawayAction, RunawayPolicy};
use spendguard::guard::{SharedLimit, Window};
use spendguard::prices::Overrides;
use spendguard::{PriceTable, Provider, SpendGuard, TaskBudget, Usage, Usd};

const VARIANT: &str = "SPENDGUARD_FIRST_CALL";
const BUNDLED_JSON: &str = include_str!("../pricing/litellm_prices.json");
const ROUNDS: usize = 5;

const VARIANTS: [&str; 5] = [
    "load: LiteLLM JSON loader",
    "load: bundled compact table",
    "first call: exact count",
    "first call: bound",
    "first call: bound, shared limit",
];

/// A typical agent turn: a system prompt and a page of history.
fn request() -> Value {
    let history =
        "The deploy failed at step 3; the logs show a timeout talking to the cache. ".repeat(40);
    json!({
        "model": "gpt-4o",
        "max_tokens": 500,
        "messages": [
            {"role": "system", "content": "You are a careful site-reliability assistant."},
            {"role": "user", "content": history}
        ]
    })
}

/// Polls a future that never waits on anything outside it (the memory
/// store, a step that answers at once) to its end.
fn finish<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

fn step(guard: &SpendGuard, prices: Arc<PriceTable>, body: &Value) {
    let budget = TaskBudget::new(Usd::from_dollars(10.0).unwrap());
    let (_, receipt) = finish(
        guard
            .step(&budget, Provider::OpenAiChat)
            .body(body)
            .prices(prices)
            .run(|grant| async move {
                Ok::<_, HttpFailure>(((), Usage::new(700, grant.max_output_tokens / 2)))
            }),
    )
    .unwrap();
    black_box(receipt);
}

/// A guard with a $1 billion daily cap on everything, in its memory
/// store: far from it for every step criterion times.
fn shared_limit_guard() -> SpendGuard {
    let limit = SharedLimit::global(Usd::from_dollars(1e9).unwrap(), Window::Day);
    SpendGuard::builder().limit(limit).build().unwrap()
}

fn json_table() -> PriceTable {
    PriceTable::from_litellm_json_with_overrides(BUNDLED_JSON, &Overrides::bundled()).unwrap()
}

fn run_variant(name: &str) {
    let body = request();
    match name {
        "load: LiteLLM JSON loader" => {
            black_box(json_table().resolve("gpt-4o").unwrap());
        }
        "load: bundled compact table" => {
            black_box(PriceTable::bundled().resolve("gpt-4o").unwrap());
        }
        "first call: exact count" => {
            let spend = RunawayPolicy::builder()
                .spend_per(Usd::MAX, Duration::from_secs(60), RunawayAction::Refuse)
                .build()
                .unwrap();
            let guard = SpendGuard::builder().runaway(spend).build().unwrap();
            step(&guard, Arc::new(json_table()), &body);
        }
        "first call: bound" => {
            let guard = SpendGuard::builder().build().unwrap();
            step(&guard, PriceTable::bundled(), &body);
        }
        "first call: bound, shared limit" => {
            step(&shared_limit_guard(), PriceTable::bundled(), &body);
        }
        other => panic!("no variant {other:?}"),
    }
}

/// Resident memory now, in KiB, from `/proc/self/status`.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// In the child: runs the variant once and prints its memory and time.
fn child(name: &str) {
    let before = rss_kib();
    let start = Instant::now();
    run_variant(name);
    let micros = start.elapsed().as_secs_f64() * 1e6;
    let added = rss_kib().saturating_sub(before);
    println!("{added} {micros}");
}

/// In the parent: each variant in `ROUNDS` fresh processes, medians.
fn print_fresh_processes() {
    let exe = std::env::current_exe().unwrap();
    let mut medians = Vec::new();
    println!("\nfresh process per run, median of {ROUNDS}:");
    for name in VARIANTS {
        let mut runs: Vec<(f64, f64)> = (0..ROUNDS)
            .map(|_| {
                let out = Command::new(&exe).env(VARIANT, name).output().unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                let mut fields = text.split_whitespace();
                let kib: f64 = fields
                    .next()
                    .and_then(|f| f.parse().ok())
                    .unwrap_or(f64::NAN);
                let micros: f64 = fields
                    .next()
                    .and_then(|f| f.parse().ok())
                    .unwrap_or(f64::NAN);
                (kib, micros)
            })
            .collect();
        runs.sort_by(|a, b| a.1.total_cmp(&b.1));
        let micros = runs[ROUNDS / 2].1;
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let kib = runs[ROUNDS / 2].0;
        println!(
            "  {name:<30} {:>8.1} MB added {:>10.2} ms",
            kib / 1024.0,
            micros / 1000.0
        );
        medians.push((kib, micros));
    }
    let ratio = |after: usize, before: usize| {
        let (a, b) = (medians[after], medians[before]);
        (a.0 / b.0, a.1 / b.1)
    };
    let (memory, time) = ratio(1, 0);
    println!("  ratio compact / JSON loader: memory {memory:.3}, time {time:.4}");
    let (memory, time) = ratio(3, 2);
    println!("  ratio bound / exact first call: memory {memory:.3}, time {time:.4}");
    let (memory, time) = ratio(4, 2);
    println!(
        "  ratio bound under a shared limit / exact first call: memory {memory:.3}, time {time:.4}"
    );
}

fn steady(c: &mut Criterion) {
    let body = request();
    let guard = SpendGuard::builder().build().unwrap();
    let prices = PriceTable::bundled();
    c.bench_function("guarded step far from its limits, loaded", |b| {
        b.iter(|| step(&guard, Arc::clone(&prices), &body))
    });
    let shared = shared_limit_guard();
    c.bench_function("guarded step far from a shared limit, loaded", |b| {
        b.iter(|| step(&shared, Arc::clone(&prices), &body))
    });
}

criterion_group!(benches, steady);

fn main() {
    if let Ok(name) = std::env::var(VARIANT) {
        return child(&name);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_fresh_processes();
}
