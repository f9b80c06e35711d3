//! What shared limits cost per call in the in-memory store: a reservation
//! and settlement across 4 scopes (everything, the key, the agent, the
//! customer) against the same across 1 scope, in one run. Target: 4 scopes
//! within 3x of 1 scope.
//!
//! The memory store never waits, so each future completes on its first
//! poll: the bench polls it once with a no-op waker, measuring the guard
//! and store, not an executor.

use std::future::Future;
use std::hint::black_box;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::tags::{TagKind, Tags};
use spendguard::Usd;

const TIMED_CALLS: u32 = 1_000_000;

fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut context = Context::from_waker(Waker::noop());
    match std::pin::pin!(future).poll(&mut context) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("the memory store never waits"),
    }
}

fn guard(limits: &[SharedLimit]) -> SpendGuard {
    limits
        .iter()
        .fold(SpendGuard::builder(), |b, l| b.limit(l.clone()))
        .build()
        .unwrap()
}

fn scopes(n: usize) -> SpendGuard {
    let max = Usd::from_dollars(1e9).unwrap();
    let all = [
        SharedLimit::global(max, Window::Day),
        SharedLimit::each(TagKind::Key, max, Window::Day),
        SharedLimit::each(TagKind::Agent, max, Window::Month),
        SharedLimit::each(
            TagKind::Customer,
            max,
            Window::Rolling(Duration::from_secs(3_600)),
        ),
    ];
    guard(&all[..n])
}

fn call(guard: &SpendGuard, tags: &Tags) {
    let hold = ready(guard.reserve(tags, Usd::from_nanos(900_000))).unwrap();
    ready(hold.settle(black_box(Usd::from_nanos(420_000)))).unwrap();
}

fn tags() -> Tags {
    Tags::new()
        .key("prod-1")
        .agent("researcher")
        .customer("acme")
        .task("t-42")
}

fn bench(c: &mut Criterion) {
    let tags = tags();
    let mut group = c.benchmark_group("shared limits, memory store: reserve + settle");
    for n in [1, 4] {
        let guard = scopes(n);
        group.bench_function(format!("{n} scope(s)"), |b| b.iter(|| call(&guard, &tags)));
    }
    group.finish();
}

fn timed_ns_per_call(guard: &SpendGuard, tags: &Tags) -> f64 {
    for _ in 0..TIMED_CALLS / 10 {
        call(guard, tags);
    }
    let start = Instant::now();
    for _ in 0..TIMED_CALLS {
        call(guard, tags);
    }
    start.elapsed().as_nanos() as f64 / f64::from(TIMED_CALLS)
}

fn print_ratio() {
    let tags = tags();
    let (one, four) = (scopes(1), scopes(4));
    // Best of 5 alternating runs, so a noisy moment hurts both alike.
    let (mut best_one, mut best_four) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        best_one = best_one.min(timed_ns_per_call(&one, &tags));
        best_four = best_four.min(timed_ns_per_call(&four, &tags));
    }
    println!(
        "\nshared limits, memory store: 1 scope {best_one:.0} ns, 4 scopes {best_four:.0} ns \
         per reserve+settle: ratio {:.2} (target <= 3.00)",
        best_four / best_one
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratio();
}
