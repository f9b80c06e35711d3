//! What the telemetry adds to a guarded call, against the same call in the
//! same run: a `SpendGuard::step` (a described call, no HTTP) with
//! - no subscriber and no recorder (the features' cost when nobody listens),
//! - a subscriber that wants spendguard's spans (the span made, its fields
//!   recorded, nothing exported),
//! - a metrics recorder (`metrics-util`'s debugging registry).
//!
//! After criterion's report, a fixed-size timed run prints each variant's
//! time per call and its ratio to the first.

use std::future::Future;
use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use spendguard::client::HttpFailure;
use spendguard::guard::SpendGuard;
use spendguard::{Provider, TaskBudget, Usage, Usd};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const TIMED_CALLS: u32 = 50_000;

/// A layer that wants spendguard's spans and does nothing with them.
struct Listening;

impl<S: tracing::Subscriber> Layer<S> for Listening {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target().starts_with("spendguard")
    }
}

/// One guarded step, polled once: with a memory store it never waits.
fn step(guard: &SpendGuard, budget: &TaskBudget) {
    let run = guard
        .step(budget, Provider::OpenAiChat)
        .prompt_tokens("gpt-4o", 1_000)
        .max_output_tokens(200)
        .run(|_| async { Ok::<_, HttpFailure>(((), Usage::new(1_000, 150))) });
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    let polled = std::pin::pin!(run).poll(&mut context);
    assert!(matches!(polled, std::task::Poll::Ready(Ok(_))));
}

fn fixtures() -> (SpendGuard, TaskBudget) {
    let guard = SpendGuard::builder().build().unwrap();
    let budget = TaskBudget::new(Usd::from_dollars(1_000_000.0).unwrap());
    (guard, budget)
}

fn bench(c: &mut Criterion) {
    let (guard, budget) = fixtures();
    c.bench_function("step, nobody listening", |b| {
        b.iter(|| step(black_box(&guard), &budget));
    });
    let subscriber = tracing_subscriber::registry().with(Listening);
    tracing::subscriber::with_default(subscriber, || {
        c.bench_function("step, span wanted", |b| {
            b.iter(|| step(black_box(&guard), &budget));
        });
    });
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        c.bench_function("step, metrics recorded", |b| {
            b.iter(|| step(black_box(&guard), &budget));
        });
    });
}

fn ns_per_call(guard: &SpendGuard, budget: &TaskBudget) -> f64 {
    let start = Instant::now();
    for _ in 0..TIMED_CALLS {
        step(black_box(guard), budget);
    }
    start.elapsed().as_nanos() as f64 / f64::from(TIMED_CALLS)
}

fn print_ratios() {
    let (guard, budget) = fixtures();
    ns_per_call(&guard, &budget);
    let quiet = ns_per_call(&guard, &budget);
    let subscriber = tracing_subscriber::registry().with(Listening);
    let traced = tracing::subscriber::with_default(subscriber, || ns_per_call(&guard, &budget));
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let metered = metrics::with_local_recorder(&recorder, || ns_per_call(&guard, &budget));
    println!("\nstep, nobody listening: {quiet:.0} ns/call");
    println!(
        "step, span wanted:      {traced:.0} ns/call; ratio {:.2}",
        traced / quiet
    );
    println!(
        "step, metrics recorded: {metered:.0} ns/call; ratio {:.2}",
        metered / quiet
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios();
}
