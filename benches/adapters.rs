//! Each adapter against the same client without it, to the same loopback
//! mock provider, in one run.
//!
//! reqwest-middleware: a `ClientWithMiddleware` with `GuardMiddleware` in
//! its stack against the same stack without it. The guard's work per call
//! (route, read the body, count the prompt, price and reserve the worst
//! case, write the output limit, read the usage, settle, rebuild the
//! response) is compared with the whole round trip it rides on; the
//! response is about 1 KB. After criterion's report, a fixed-size timed
//! run prints the ratio.

#[path = "../tests/support/mock_provider/mod.rs"]
mod mock_provider;

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use mock_provider::{MockConfig, MockProvider};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{json, Value};
use spendguard::client::exchange::HttpGuard;
use spendguard::client::middleware::GuardMiddleware;
use spendguard::{TaskBudget, Usd};
use tokio::runtime::Runtime;

const TIMED_CALLS: u32 = 2_000;

/// A reqwest-middleware stack with and without the guard, at one mock.
struct MiddlewareBench {
    runtime: Runtime,
    _mock: MockProvider,
    url: String,
    plain: ClientWithMiddleware,
    guarded: ClientWithMiddleware,
    body: Vec<u8>,
}

impl MiddlewareBench {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // 150 one-token words make a response body of about 1 KB.
        let mock = runtime
            .block_on(MockProvider::start(MockConfig {
                reply_tokens: 150,
                ..MockConfig::default()
            }))
            .unwrap();
        // Never runs out during the bench.
        let budget = TaskBudget::new(Usd::from_dollars(1e9).unwrap());
        let body = json!({
            "model": "gpt-4o-mini",
            "max_completion_tokens": 400,
            "messages": [
                {"role": "system", "content": "You answer in one paragraph."},
                {"role": "user", "content": "Summarise yesterday's incidents for the on-call handover."}
            ],
        });
        MiddlewareBench {
            url: format!("{}/v1/chat/completions", mock.base_url()),
            plain: ClientBuilder::new(reqwest::Client::new()).build(),
            guarded: ClientBuilder::new(reqwest::Client::new())
                .with(GuardMiddleware::new(HttpGuard::builder(budget).build()))
                .build(),
            body: serde_json::to_vec(&body).unwrap(),
            _mock: mock,
            runtime,
        }
    }

    /// One call through `client`, its answer read as JSON.
    fn call(&self, client: &ClientWithMiddleware) -> usize {
        self.runtime.block_on(async {
            let response = client
                .post(&self.url)
                .bearer_auth("sk-bench")
                .header("content-type", "application/json")
                .body(self.body.clone())
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            body.to_string().len()
        })
    }
}

fn reqwest_middleware(c: &mut Criterion) {
    let bench = MiddlewareBench::new();
    let size = bench.call(&bench.plain);
    let mut group = c.benchmark_group(format!("reqwest_middleware_{size}_byte_response"));
    group.bench_function("without the guard", |b| b.iter(|| bench.call(&bench.plain)));
    group.bench_function("with GuardMiddleware", |b| {
        b.iter(|| bench.call(&bench.guarded))
    });
    group.finish();
}

/// Alternating rounds, best of each, so drift on a shared machine hits both.
fn print_reqwest_middleware_ratio() {
    let bench = MiddlewareBench::new();
    let time = |client: &ClientWithMiddleware| {
        let start = Instant::now();
        (0..TIMED_CALLS).for_each(|_| {
            bench.call(client);
        });
        start.elapsed() / TIMED_CALLS
    };
    let (mut plain, mut guarded) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        plain = plain.min(time(&bench.plain));
        guarded = guarded.min(time(&bench.guarded));
    }
    println!(
        "\nreqwest-middleware, {TIMED_CALLS} calls, best of 5: without the guard {plain:?}/call, \
         with GuardMiddleware {guarded:?}/call, ratio = {:.3}",
        guarded.as_secs_f64() / plain.as_secs_f64()
    );
}

criterion_group!(benches, reqwest_middleware);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_reqwest_middleware_ratio();
}
