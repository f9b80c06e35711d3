//! Adding one message to a 100k-token conversation: `Conversation` (which
//! tokenizes only the new message) against counting the whole history again.
//!
//! Run with `cargo bench --bench token_counting`. After criterion's report the
//! bench prints the median of each side from its own timing loop and their
//! ratio, and how long the first o200k_base load took.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use serde_json::json;
use spendguard::tokens::{count_text, Conversation, CountCache, Message, TokenCounter};

const MODEL: &str = "gpt-4o";
/// Messages in the history; at about 100 tokens each, 100k tokens in all.
const HISTORY_MESSAGES: usize = 1_000;

/// Words to build varied text from (prose, code, logs, JSON, accents, CJK),
/// so that tokenization does the work it does on a real agent's history.
const VOCABULARY: &str = "the budget agent calls model with a prompt of tokens and then reads \
    tool output before deciding what to do next fn main() { } let x = 42; error: retrying \
    request timed out after 30s Paris weather JSON \"key\": value, résumé naïve 東京 données \
    über #include <stdio.h>";

/// Deterministic text of `words` words.
fn text(seed: usize, words: usize) -> String {
    let vocabulary: Vec<&str> = VOCABULARY.split_whitespace().collect();
    let mut state = seed as u64 ^ 0x9E37_79B9_7F4A_7C15;
    let mut out = String::new();
    for _ in 0..words {
        // xorshift: cheap, deterministic, good enough to vary the words.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(vocabulary[(state % vocabulary.len() as u64) as usize]);
        out.push(' ');
    }
    out
}

fn history() -> Vec<Message> {
    (0..HISTORY_MESSAGES)
        .map(|i| match i % 2 {
            0 => Message::user(text(i, 70)),
            _ => Message::assistant(text(i, 70)),
        })
        .collect()
}

/// A conversation holding `messages`.
fn conversation_of(messages: &[Message]) -> Conversation {
    let mut conversation = Conversation::new(MODEL);
    for message in messages {
        conversation.push(message);
    }
    conversation
}

fn add_one_message(c: &mut Criterion) {
    let messages = history();
    let next = Message::user(text(usize::MAX, 70));
    let mut with_next = messages.clone();
    with_next.push(next.clone());
    let mut conversation = conversation_of(&messages);
    let counter = TokenCounter::new();

    let mut group = c.benchmark_group("add one message to a 100k-token history");
    group.bench_function("Conversation::push + total", |b| {
        b.iter(|| {
            conversation.push(black_box(&next));
            let total = conversation.total();
            conversation.pop();
            total
        })
    });
    group.bench_function("count_chat over every message", |b| {
        b.iter(|| counter.count_chat(MODEL, black_box(&with_next), &[]))
    });
    group.finish();
}

criterion_group!(benches, add_one_message);

/// The median time of one call of `f`, over `rounds` rounds of `calls` calls.
fn median_per_call(rounds: usize, calls: u32, mut f: impl FnMut()) -> Duration {
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed() / calls
        })
        .collect();
    samples.sort();
    samples[rounds / 2]
}

fn main() {
    // First, before anything else touches the tokenizer: the one-time load.
    let start = Instant::now();
    black_box(count_text(MODEL, "warm up"));
    let o200k_load = start.elapsed();
    let start = Instant::now();
    black_box(count_text("gpt-4", "warm up"));
    let cl100k_load = start.elapsed();

    benches();

    let messages = history();
    let next = Message::user(text(usize::MAX, 70));
    let mut with_next = messages.clone();
    with_next.push(next.clone());
    let counter = TokenCounter::new();
    let mut conversation = conversation_of(&messages);
    let full_total = counter.count_chat(MODEL, &with_next, &[]);

    let incremental = median_per_call(21, 200, || {
        conversation.push(black_box(&next));
        black_box(conversation.total());
        conversation.pop();
    });
    let full = median_per_call(11, 3, || {
        black_box(counter.count_chat(MODEL, black_box(&with_next), &[]));
    });
    println!();
    println!("history: {} messages, {full_total}", with_next.len());
    println!("first o200k_base load: {o200k_load:?}; first cl100k_base load: {cl100k_load:?}");
    println!("median add one message + total: {incremental:?}");
    println!("median full recount:             {full:?}");
    println!(
        "incremental is {:.0}x faster",
        full.as_secs_f64() / incremental.as_secs_f64()
    );

    // What GuardedClient does with a request body: the same history as JSON,
    // its last message new on every call, counted through a warm CountCache.
    let mut body = json!({
        "messages": with_next
            .iter()
            .enumerate()
            .map(|(i, _)| json!({"role": "user", "content": text(i, 70)}))
            .collect::<Vec<_>>()
    });
    let cache = CountCache::new();
    let last = with_next.len() - 1;
    counter.count_request_cached(MODEL, &body, &cache).unwrap();
    let mut round = 0usize;
    let cached = median_per_call(11, 20, || {
        round += 1;
        body["messages"][last]["content"] = json!(text(round, 70));
        black_box(counter.count_request_cached(MODEL, &body, &cache).unwrap());
    });
    let uncached = median_per_call(11, 3, || {
        black_box(counter.count_request(MODEL, black_box(&body)).unwrap());
    });
    println!("median request body, cached history:   {cached:?}");
    println!("median request body, counted in full: {uncached:?}");
    println!(
        "a body whose history was seen before is counted {:.0}x faster",
        uncached.as_secs_f64() / cached.as_secs_f64()
    );

    Criterion::default().configure_from_args().final_summary();
}
