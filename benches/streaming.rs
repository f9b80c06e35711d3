//! What guarding a stream costs: `GuardedClient::stream` (parse, count,
//! check, settle) against the same stream read without a guard (the same
//! HTTP client, a line splitter and `serde_json`), from a server on loopback
//! that answers at once, so the client's own work is all that is timed.
//!
//! Run with `cargo bench --bench streaming`. After criterion's report the
//! bench prints each side's median from its own timing loop and the ratio,
//! for a short answer (600 tokens of a 4,096-token limit: text is only
//! buffered, never tokenized) and a long one (3,500 tokens: counted in
//! batches as it nears the limit).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use futures_util::StreamExt;
use serde_json::{json, Value};
use spendguard::client::{GuardedClient, Provider};
use spendguard::money::PricePerToken;
use spendguard::prices::{ModelPrice, Rates};
use spendguard::{PriceTable, TaskBudget, Usd};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// Words to build varied answers from, so that counting does the work it
/// does on real text.
const VOCABULARY: &str = "the budget agent calls model with a prompt of tokens and then reads \
    tool output before deciding what to do next fn main() { } let x = 42; error: retrying \
    request timed out after 30s Paris weather JSON \"key\": value, résumé naïve 東京 données";

/// An OpenAI Chat stream of `tokens` one-word chunks, its usage chunk and
/// `[DONE]`, as the HTTP response a provider sends.
fn response(tokens: usize) -> Vec<u8> {
    let words: Vec<&str> = VOCABULARY.split_whitespace().collect();
    let chunk = |delta: Value| {
        json!({"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion.chunk",
            "created": 1741569952, "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_44709d6fcb",
            "service_tier": "default",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}],
            "usage": null})
    };
    let mut body = String::new();
    for i in 0..tokens {
        let delta = json!({"content": format!(" {}", words[i * 7 % words.len()])});
        body.push_str(&format!("data: {}\n\n", chunk(delta)));
    }
    let usage = json!({"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion.chunk",
        "created": 1741569952, "model": "gpt-4o-2024-08-06", "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": tokens, "total_tokens": tokens + 12}});
    body.push_str(&format!("data: {usage}\n\ndata: [DONE]\n\n"));
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    response
}

/// Serves `response` to every request on a loopback port, keeping
/// connections alive; returns the base URL.
async fn serve(response: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let response = Arc::new(response);
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let response = Arc::clone(&response);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut piece = [0u8; 16 * 1024];
                loop {
                    // One request: headers, then `content-length` bytes of body.
                    let request_len = loop {
                        if let Some(end) = find(&buffer, b"\r\n\r\n") {
                            let headers = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                            let body_len: usize = headers
                                .lines()
                                .find_map(|line| line.strip_prefix("content-length:"))
                                .map_or(0, |n| n.trim().parse().unwrap());
                            if buffer.len() >= end + 4 + body_len {
                                break end + 4 + body_len;
                            }
                        }
                        match socket.read(&mut piece).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&piece[..n]),
                        }
                    };
                    buffer.drain(..request_len);
                    if socket.write_all(&response).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{address}/v1")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn request() -> Value {
    json!({"model": "gpt-4o", "max_tokens": 4_096,
        "messages": [{"role": "user", "content": "Write at length."}]})
}

/// The same stream without a guard: POST, split the body into lines,
/// parse each `data:` line. Returns the number of events.
async fn unguarded(http: &reqwest::Client, url: &str) -> usize {
    let mut body = request();
    body["stream"] = json!(true);
    let response = http.post(url).json(&body).send().await.unwrap();
    let mut bytes = response.bytes_stream();
    let mut line = Vec::new();
    let mut events = 0;
    while let Some(piece) = bytes.next().await {
        for &byte in piece.unwrap().iter() {
            if byte != b'\n' {
                line.push(byte);
                continue;
            }
            if let Some(data) = line.strip_prefix(b"data: ") {
                if data != b"[DONE]" {
                    let event: Value = serde_json::from_slice(data).unwrap();
                    black_box(&event);
                    events += 1;
                }
            }
            line.clear();
        }
    }
    events
}

/// The guarded stream, read to its end. Returns the number of events.
async fn guarded(client: &GuardedClient, budget: &TaskBudget) -> usize {
    let mut stream = client.stream(budget, &request()).await.unwrap();
    let mut events = 0;
    while let Some(event) = stream.next().await {
        black_box(event.unwrap());
        events += 1;
    }
    assert!(stream.receipt().unwrap().is_reported());
    events
}

/// A scenario: a server, both clients and a budget that never runs out.
struct Scenario {
    name: &'static str,
    runtime: Runtime,
    base_url: String,
    http: reqwest::Client,
    client: GuardedClient,
    budget: TaskBudget,
}

impl Scenario {
    fn new(name: &'static str, tokens: usize) -> Scenario {
        let runtime = Runtime::new().unwrap();
        let base_url = runtime.block_on(serve(response(tokens)));
        let per_m = |d| PricePerToken::per_million(d).unwrap();
        let mut prices = PriceTable::new();
        prices.insert(ModelPrice::new(
            "gpt-4o",
            Rates::new(per_m(2.5), per_m(10.0)),
        ));
        // One HTTP client for both sides, so only the guard's work differs.
        let http = reqwest::Client::new();
        let client = GuardedClient::builder(Provider::OpenAiCompatible)
            .base_url(&base_url)
            .prices(Arc::new(prices))
            .http_client(http.clone())
            .build()
            .unwrap();
        let budget = TaskBudget::builder("bench")
            .max_cost(Usd::from_dollars(1_000_000.0).unwrap())
            .build()
            .unwrap();
        Scenario {
            name,
            runtime,
            base_url,
            http,
            client,
            budget,
        }
    }

    fn unguarded(&self) -> usize {
        let url = format!("{}/chat/completions", self.base_url);
        self.runtime.block_on(unguarded(&self.http, &url))
    }

    fn guarded(&self) -> usize {
        self.runtime.block_on(guarded(&self.client, &self.budget))
    }
}

fn scenarios() -> [Scenario; 3] {
    [
        Scenario::new("1-token answer", 1),
        Scenario::new("600-token answer", 600),
        Scenario::new("3,500-token answer", 3_500),
    ]
}

fn read_a_stream(c: &mut Criterion) {
    for scenario in scenarios() {
        let mut group = c.benchmark_group(format!("read a {}", scenario.name));
        group.bench_function("unguarded", |b| b.iter(|| scenario.unguarded()));
        group.bench_function("GuardedClient::stream", |b| b.iter(|| scenario.guarded()));
        group.finish();
    }
}

criterion_group!(benches, read_a_stream);

/// Medians of `a` and `b` over `rounds` rounds, alternating so that both
/// see the same machine.
fn medians(rounds: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (Duration, Duration) {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    let (mut first, mut second): (Vec<_>, Vec<_>) =
        (0..rounds).map(|_| (time(&mut a), time(&mut b))).unzip();
    first.sort();
    second.sort();
    (first[rounds / 2], second[rounds / 2])
}

fn main() {
    benches();

    println!();
    for scenario in scenarios() {
        assert_eq!(scenario.unguarded(), scenario.guarded());
        let (unguarded, guarded) = medians(
            61,
            || {
                black_box(scenario.unguarded());
            },
            || {
                black_box(scenario.guarded());
            },
        );
        println!(
            "{}: unguarded {unguarded:?}, guarded {guarded:?}: the guard adds {:+.1}%",
            scenario.name,
            (guarded.as_secs_f64() / unguarded.as_secs_f64() - 1.0) * 100.0
        );
    }

    Criterion::default().configure_from_args().final_summary();
}
