//! Each adapter against the same client without it, on the loopback mock
//! provider, in one run: async-openai's typed chat call, whole and
//! streamed, through `HttpGuardLayer` and through async-openai's plain
//! `ReqwestService`; and a reqwest-middleware stack with and without
//! `GuardMiddleware`. After criterion's report, a fixed-size timed run of
//! alternating rounds prints each ratio (target ≤ 1.05×).

#[path = "../tests/support/mock_provider/mod.rs"]
mod mock_provider;

#[cfg(feature = "async-openai-layer")]
mod async_openai_layer {
    use std::time::{Duration, Instant};

    use async_openai::config::OpenAIConfig;
    use async_openai::middleware::ReqwestService;
    use async_openai::types::chat::{
        ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
        CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
    };
    use async_openai::Client;
    use criterion::Criterion;
    use futures_util::StreamExt;
    use spendguard::client::exchange::HttpGuard;
    use spendguard::client::tower::HttpGuardLayer;
    use spendguard::{TaskBudget, Usd};
    use tokio::runtime::Runtime;

    use crate::mock_provider::{MockConfig, MockProvider};

    const TIMED_CALLS: u32 = 300;

    struct Bench {
        runtime: Runtime,
        _mock: MockProvider,
        plain: Client<OpenAIConfig>,
        guarded: Client<OpenAIConfig>,
        request: CreateChatCompletionRequest,
        /// The same call as a raw `reqwest` request, sent plain or with
        /// `HttpGuard::execute`: the exchange without async-openai.
        raw: reqwest::Client,
        url: String,
        http_guard: HttpGuard,
    }

    impl Bench {
        fn new() -> Self {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            // 150 one-token words: a whole answer of about 1 KB, a stream of
            // 10 chunks.
            let mock = runtime
                .block_on(MockProvider::start(MockConfig {
                    reply_tokens: 150,
                    stream_chunks: 10,
                    ..MockConfig::default()
                }))
                .unwrap();
            let config = OpenAIConfig::new()
                .with_api_base(format!("{}/v1", mock.base_url()))
                .with_api_key("sk-bench");
            let plain = Client::with_config(config.clone())
                .with_http_service(ReqwestService::new(reqwest::Client::new()));
            // Never runs out during the bench.
            let budget = TaskBudget::new(Usd::from_dollars(1e9).unwrap());
            let http_guard = HttpGuard::builder(budget).build();
            let layer = HttpGuardLayer::new(http_guard.clone());
            let guarded = Client::with_config(config).with_http_service(
                tower::ServiceBuilder::new()
                    .layer(layer)
                    .service(reqwest::Client::new()),
            );
            let request = CreateChatCompletionRequestArgs::default()
                .model("gpt-4o-mini")
                .max_completion_tokens(400u32)
                .messages([
                    ChatCompletionRequestSystemMessageArgs::default()
                        .content("You answer in one paragraph.")
                        .build()
                        .unwrap()
                        .into(),
                    ChatCompletionRequestUserMessageArgs::default()
                        .content("Summarise yesterday's incidents for the on-call handover.")
                        .build()
                        .unwrap()
                        .into(),
                ])
                .build()
                .unwrap();
            Bench {
                url: format!("{}/v1/chat/completions", mock.base_url()),
                runtime,
                _mock: mock,
                plain,
                guarded,
                request,
                raw: reqwest::Client::new(),
                http_guard,
            }
        }

        fn chat(&self, client: &Client<OpenAIConfig>) -> usize {
            self.runtime.block_on(async {
                let answer = client.chat().create(self.request.clone()).await.unwrap();
                answer.choices.len()
            })
        }

        /// One raw call, `guarded` or not.
        fn raw(&self, guarded: bool) -> usize {
            self.runtime.block_on(async {
                let request = self
                    .raw
                    .post(&self.url)
                    .bearer_auth("sk-bench")
                    .json(&self.request)
                    .build()
                    .unwrap();
                let response = if guarded {
                    self.http_guard.execute(&self.raw, request).await.unwrap()
                } else {
                    self.raw.execute(request).await.unwrap()
                };
                response.bytes().await.unwrap().len()
            })
        }

        fn stream(&self, client: &Client<OpenAIConfig>) -> usize {
            self.runtime.block_on(async {
                let mut stream = client
                    .chat()
                    .create_stream(self.request.clone())
                    .await
                    .unwrap();
                let mut chunks = 0;
                while let Some(chunk) = stream.next().await {
                    chunk.unwrap();
                    chunks += 1;
                }
                chunks
            })
        }
    }

    pub fn bench(c: &mut Criterion) {
        let bench = Bench::new();
        let mut group = c.benchmark_group("async_openai_chat");
        group.bench_function("plain", |b| b.iter(|| bench.chat(&bench.plain)));
        group.bench_function("HttpGuardLayer", |b| b.iter(|| bench.chat(&bench.guarded)));
        group.finish();
        let mut group = c.benchmark_group("async_openai_chat_stream");
        group.bench_function("plain", |b| b.iter(|| bench.stream(&bench.plain)));
        group.bench_function("HttpGuardLayer", |b| {
            b.iter(|| bench.stream(&bench.guarded))
        });
        group.finish();
    }

    /// Alternating rounds, best of each, so drift on a shared machine hits
    /// both.
    pub fn print_ratios() {
        let bench = Bench::new();
        let time = |call: &dyn Fn() -> usize| {
            let start = Instant::now();
            (0..TIMED_CALLS).for_each(|_| {
                call();
            });
            start.elapsed() / TIMED_CALLS
        };
        type Call = fn(&Bench, &Client<OpenAIConfig>) -> usize;
        for (name, call) in [
            ("chat", Bench::chat as Call),
            ("chat stream", Bench::stream),
        ] {
            let (mut plain, mut guarded) = (Duration::MAX, Duration::MAX);
            for _ in 0..5 {
                plain = plain.min(time(&|| call(&bench, &bench.plain)));
                guarded = guarded.min(time(&|| call(&bench, &bench.guarded)));
            }
            println!(
                "async-openai {name}, {TIMED_CALLS} calls, best of 5: plain {plain:?}/call, \
                 HttpGuardLayer {guarded:?}/call, ratio guarded / plain = {:.3}",
                guarded.as_secs_f64() / plain.as_secs_f64()
            );
        }
        let (mut plain, mut guarded) = (Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            plain = plain.min(time(&|| bench.raw(false)));
            guarded = guarded.min(time(&|| bench.raw(true)));
        }
        println!(
            "reqwest chat, {TIMED_CALLS} calls, best of 5: plain {plain:?}/call, \
             HttpGuard::execute {guarded:?}/call, ratio guarded / plain = {:.3}",
            guarded.as_secs_f64() / plain.as_secs_f64()
        );
    }
}

/// reqwest-middleware: a `ClientWithMiddleware` with `GuardMiddleware` in
/// its stack against the same stack without it. The guard's work per call
/// (route, read the body, count the prompt, price and reserve the worst
/// case, write the output limit, read the usage, settle, rebuild the
/// response) is compared with the whole round trip it rides on; the
/// response is about 1 KB.
#[cfg(feature = "reqwest-middleware")]
mod reqwest_middleware_stack {
    use std::time::{Duration, Instant};

    use crate::mock_provider::{MockConfig, MockProvider};
    use criterion::Criterion;
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

    pub fn bench(c: &mut Criterion) {
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
    pub fn print_ratio() {
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
}

fn main() {
    // Each adapter's group is built with its feature.
    #[cfg(feature = "async-openai-layer")]
    {
        let mut criterion = criterion::Criterion::default().configure_from_args();
        async_openai_layer::bench(&mut criterion);
        criterion.final_summary();
        println!();
        async_openai_layer::print_ratios();
    }
    #[cfg(feature = "reqwest-middleware")]
    {
        let mut criterion = criterion::Criterion::default().configure_from_args();
        reqwest_middleware_stack::bench(&mut criterion);
        criterion.final_summary();
        reqwest_middleware_stack::print_ratio();
    }
}
