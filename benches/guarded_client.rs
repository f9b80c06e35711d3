//! A guarded call against the same call made with plain `reqwest`, to the
//! same loopback mock provider, in one run.
//!
//! The guard's work per call (count the prompt, price and reserve the worst
//! case, write the output limit, read the usage, settle) is compared with
//! the whole round trip it rides on. The response is about 1 KB. After
//! criterion's report, a fixed-size timed run prints the ratio.

#[path = "../tests/support/mock_provider/mod.rs"]
mod mock_provider;

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use mock_provider::{MockConfig, MockProvider};
use serde_json::{json, Value};
use spendguard::{ApiKey, GuardedClient, Provider, TaskBudget, Usd};
use tokio::runtime::Runtime;

const TIMED_CALLS: u32 = 2_000;

struct Bench {
    runtime: Runtime,
    _mock: MockProvider,
    url: String,
    raw: reqwest::Client,
    guarded: GuardedClient,
    budget: TaskBudget,
    body: Value,
}

impl Bench {
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
        let guarded = GuardedClient::builder(Provider::OpenAiChat)
            .base_url(mock.base_url())
            .api_key(ApiKey::new("sk-bench"))
            .build()
            .unwrap();
        Bench {
            url: format!("{}/v1/chat/completions", mock.base_url()),
            // The same per-request timeout GuardedClient sets, so both pay for it.
            raw: reqwest::Client::builder()
                .timeout(Duration::from_secs(600))
                .build()
                .unwrap(),
            guarded,
            // Never runs out during the bench.
            budget: TaskBudget::new(Usd::from_dollars(1e9).unwrap()),
            body: json!({
                "model": "gpt-4o-mini",
                "max_completion_tokens": 400,
                "messages": [
                    {"role": "system", "content": "You answer in one paragraph."},
                    {"role": "user", "content": "Summarise yesterday's incidents for the on-call handover."}
                ],
            }),
            _mock: mock,
            runtime,
        }
    }

    fn raw_call(&self) -> usize {
        self.runtime.block_on(async {
            let response = self
                .raw
                .post(&self.url)
                .bearer_auth("sk-bench")
                .json(&self.body)
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            body.to_string().len()
        })
    }

    fn guarded_call(&self) -> usize {
        self.runtime.block_on(async {
            let answer = self.guarded.send(&self.budget, &self.body).await.unwrap();
            answer.body.to_string().len()
        })
    }
}

fn bench(c: &mut Criterion) {
    let bench = Bench::new();
    let size = bench.raw_call();
    let mut group = c.benchmark_group(format!("one_call_{size}_byte_response"));
    group.bench_function("plain reqwest", |b| b.iter(|| bench.raw_call()));
    group.bench_function("GuardedClient", |b| b.iter(|| bench.guarded_call()));
    group.finish();
}

/// Alternating rounds, best of each, so drift on a shared machine hits both.
fn print_ratio() {
    let bench = Bench::new();
    let time = |call: &dyn Fn() -> usize| {
        let start = Instant::now();
        (0..TIMED_CALLS).for_each(|_| {
            call();
        });
        start.elapsed() / TIMED_CALLS
    };
    let (mut raw, mut guarded) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        raw = raw.min(time(&|| bench.raw_call()));
        guarded = guarded.min(time(&|| bench.guarded_call()));
    }
    println!(
        "\nresponse of {} bytes, {TIMED_CALLS} calls, best of 5: plain reqwest {raw:?}/call, \
         GuardedClient {guarded:?}/call, ratio guarded / raw = {:.3}",
        bench.raw_call(),
        guarded.as_secs_f64() / raw.as_secs_f64()
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratio();
}
