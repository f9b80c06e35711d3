//! The guard's hot path against the alternatives, in one run.
//!
//! Each variant does what one guarded call costs its budget:
//! - `spendguard`: `reserve` (price the worst case, claim calls, tokens and
//!   dollars) then `settle` (price the reported usage, record it), on a
//!   dollar-limited budget: the lock-free path;
//! - `spendguard locked`: the same on a budget with a token limit too, which
//!   claims its limits together under the lock (the only path before);
//! - `llm-budget charge`: price the call with llm-budget's `ModelPrice::cost`
//!   and `AtomicBudget::charge` it (after the fact, no reservation);
//! - `llm-budget worst+refund`: the same guarantee as ours built from
//!   llm-budget's primitives: charge the worst case first, then give the
//!   unused part back with `grow_limit`;
//! - `Mutex<u64>`: a mutex-guarded counter checked and added to;
//! - `10 atomic adds` and `2 atomic adds`: the floor of each design, with
//!   nothing else done. One spendguard reserve+settle on a dollar budget
//!   makes ten atomic read-modify-writes (the plan's and the reservation's
//!   reference counts taken and dropped: four; the call and the dollars
//!   claimed: two; the dollars settled, their commitment moved, the call and
//!   the tokens settled: four); the emulation makes two.
//!
//! After criterion's report, a fixed-size timed run prints each variant's
//! time per call and spendguard's ratio to the others, single-threaded and
//! with 8 threads sharing one budget, and the cost of llm-budget's
//! user-facing `AgentBudget::charge_model` (async, with an audit log).

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use spendguard::money::PricePerToken;
use spendguard::prices::{ModelPrice, Rates};
use spendguard::{CallPlan, TaskBudget, Usage, Usd};

const THREADS: usize = 8;
const TIMED_CALLS: u64 = 2_000_000;

struct Contenders {
    budget: TaskBudget,
    locked: TaskBudget,
    price: Arc<ModelPrice>,
    llm_budget: llm_budget::budget::AtomicBudget,
    llm_price: llm_budget::ModelPrice,
    mutex: Mutex<u64>,
    /// As many counters as spendguard's call touches, each on its own.
    floor: [AtomicU64; 10],
}

/// One call's worst case and actual use, as in the spendguard variant.
const WORST: (u64, u64) = (1_000, 500);
const ACTUAL: (u64, u64) = (1_000, 200);

impl Contenders {
    fn new() -> Self {
        let per_m = |d| PricePerToken::per_million(d).unwrap();
        Contenders {
            // Large enough never to run out during the bench.
            budget: TaskBudget::new(Usd::from_dollars(1e9).unwrap()),
            locked: TaskBudget::builder("locked")
                .max_cost(Usd::from_dollars(1e9).unwrap())
                .max_tokens(u64::MAX)
                .build()
                .unwrap(),
            price: Arc::new(ModelPrice::new(
                "gpt-4o-mini",
                Rates::new(per_m(0.15), per_m(0.60)),
            )),
            llm_budget: llm_budget::budget::AtomicBudget::new(1e9).unwrap(),
            llm_price: llm_budget::ModelPrice {
                model: "gpt-4o-mini".into(),
                provider: "openai".into(),
                input_per_million: 0.15,
                output_per_million: 0.60,
                cache_read_per_million: None,
                cache_write_per_million: None,
                max_input_tokens: None,
            },
            mutex: Mutex::new(0),
            floor: Default::default(),
        }
    }

    fn spendguard_call(&self) {
        let plan = CallPlan::new(&self.price, WORST.0).with_max_output_tokens(WORST.1);
        let reservation = self.budget.reserve(black_box(plan)).unwrap();
        black_box(reservation.settle(&Usage::new(ACTUAL.0, ACTUAL.1)));
    }

    fn spendguard_locked_call(&self) {
        let plan = CallPlan::new(&self.price, WORST.0).with_max_output_tokens(WORST.1);
        let reservation = self.locked.reserve(black_box(plan)).unwrap();
        black_box(reservation.settle(&Usage::new(ACTUAL.0, ACTUAL.1)));
    }

    fn llm_budget_call(&self) {
        let cost = self
            .llm_price
            .cost(black_box(ACTUAL.0), black_box(ACTUAL.1));
        black_box(self.llm_budget.charge(cost).unwrap());
    }

    fn llm_budget_preflight_call(&self) {
        let worst = self.llm_price.cost(black_box(WORST.0), black_box(WORST.1));
        black_box(self.llm_budget.charge(worst).unwrap());
        let actual = self
            .llm_price
            .cost(black_box(ACTUAL.0), black_box(ACTUAL.1));
        black_box(self.llm_budget.grow_limit(worst - actual));
    }

    fn mutex_call(&self) {
        let cost = black_box(270_000u64);
        let mut spent = self.mutex.lock().unwrap();
        assert!(*spent + cost <= u64::MAX / 2);
        *spent += cost;
    }

    /// `N` atomic read-modify-writes and nothing else.
    fn atomic_adds<const N: usize>(&self) {
        for counter in &self.floor[..N] {
            counter.fetch_add(black_box(1), Ordering::AcqRel);
        }
    }
}

type Variant = (&'static str, fn(&Contenders));

const VARIANTS: [Variant; 7] = [
    ("spendguard reserve+settle", Contenders::spendguard_call),
    ("spendguard locked", Contenders::spendguard_locked_call),
    ("llm-budget charge", Contenders::llm_budget_call),
    (
        "llm-budget worst+refund",
        Contenders::llm_budget_preflight_call,
    ),
    ("Mutex<u64>", Contenders::mutex_call),
    ("10 atomic adds", Contenders::atomic_adds::<10>),
    ("2 atomic adds", Contenders::atomic_adds::<2>),
];

fn run_threads(contenders: &Contenders, call: fn(&Contenders), calls: u64) -> Duration {
    let per_thread = calls / THREADS as u64;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| (0..per_thread).for_each(|_| call(contenders)));
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let contenders = Contenders::new();
    let mut single = c.benchmark_group("one_call_single_thread");
    for (name, call) in VARIANTS {
        single.bench_function(name, |b| b.iter(|| call(&contenders)));
    }
    single.finish();

    let mut threaded = c.benchmark_group("one_call_8_threads");
    for (name, call) in VARIANTS {
        threaded.bench_function(name, |b| {
            b.iter_custom(|iters| run_threads(&contenders, call, iters.max(THREADS as u64)))
        });
    }
    threaded.finish();
}

/// Best of five fixed-size runs, in nanoseconds per call.
fn timed_ns_per_call(contenders: &Contenders, call: fn(&Contenders), threads: bool) -> f64 {
    (0..5)
        .map(|_| {
            let elapsed = if threads {
                run_threads(contenders, call, TIMED_CALLS)
            } else {
                let start = Instant::now();
                (0..TIMED_CALLS).for_each(|_| call(contenders));
                start.elapsed()
            };
            elapsed.as_nanos() as f64 / TIMED_CALLS as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn print_ratios() {
    let contenders = Contenders::new();
    for (label, threads) in [("single thread", false), ("8 threads", true)] {
        let times: Vec<f64> = VARIANTS
            .iter()
            .map(|(_, call)| timed_ns_per_call(&contenders, *call, threads))
            .collect();
        println!("\n{label}, {TIMED_CALLS} calls, best of 5:");
        for ((name, _), ns) in VARIANTS.iter().zip(&times) {
            println!("  {name:<28} {ns:>8.1} ns/call");
        }
        for ((name, _), ns) in VARIANTS.iter().zip(&times).skip(1) {
            println!("  ratio spendguard / {name} = {:.2}", times[0] / ns);
        }
    }
    print_user_level_ratio(&contenders);
}

/// llm-budget's user-facing charge keeps every record in an in-memory audit
/// log, so it is timed over fewer calls to keep the bench's memory bounded.
fn print_user_level_ratio(contenders: &Contenders) {
    const CALLS: u64 = 200_000;
    let agent =
        llm_budget::AgentBudget::new("bench", 1e9, llm_budget::ModelTier::Standard, 0.0).unwrap();
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let start = Instant::now();
    for _ in 0..CALLS {
        let charge =
            agent.charge_model("gpt-4o-mini", ACTUAL.0 as u32, ACTUAL.1 as u32, None, None);
        // Uncontended, it completes on its first poll.
        let polled = std::pin::pin!(charge).poll(&mut context);
        assert!(matches!(polled, std::task::Poll::Ready(Ok(_))));
    }
    let theirs = start.elapsed().as_nanos() as f64 / CALLS as f64;
    let ours = timed_ns_per_call(contenders, Contenders::spendguard_call, false);
    println!(
        "\nllm-budget AgentBudget::charge_model: {theirs:.1} ns/call; \
         ratio spendguard / charge_model = {:.2}",
        ours / theirs
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios();
}
