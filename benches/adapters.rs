//! Each adapter against the same client without it, on the loopback mock
//! provider, in one run: async-openai's typed chat call, whole and
//! streamed, through `HttpGuardLayer` and through async-openai's plain
//! `ReqwestService`. After criterion's report, a fixed-size timed run of
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
}
