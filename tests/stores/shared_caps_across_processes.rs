//! Processes share one cap through a store: four processes call a mock
//! provider as fast as they can through `GuardedClient`s under one $1.00
//! daily cap kept in a `FileStore`, and again in a `RedisStore` (feature
//! `redis`), and the provider never bills more than $1.00 in all.
//!
//! The four processes are this test binary run again with
//! `CHILD_STORE_VAR` set, each running only `child_spends_until_refused`.

#![cfg(unix)]

use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::store::{FileStore, SpendStore};
use spendguard::tags::Tags;
use spendguard::tokens::TokenCounter;
use spendguard::{ApiKey, ClientError, GuardedClient, Provider, TaskBudget, Usd};
use support::guarded::TEST_KEY;
use support::mock_provider::{MockConfig, MockProvider};

/// The store the child uses, as a spec (`file:/path/to/store`); the child
/// role is selected by this variable being set.
const CHILD_STORE_VAR: &str = "SPENDGUARD_TEST_SHARED_CAP_STORE";
/// The mock provider's base URL, for the child.
const CHILD_PROVIDER_VAR: &str = "SPENDGUARD_TEST_SHARED_CAP_PROVIDER";
/// A directory where each child says it is ready, and waits for `go`, so
/// that all four start spending together.
const CHILD_GATE_VAR: &str = "SPENDGUARD_TEST_SHARED_CAP_GATE";
const PROCESSES: usize = 4;
const MODEL: &str = "gpt-4o";
/// The cap on every call's output; the mock answers with half of it, so a
/// settlement gives back about half of what the call held.
const MAX_TOKENS: u64 = 1_000;

fn daily_cap() -> SharedLimit {
    SharedLimit::global(Usd::from_dollars(1.0).unwrap(), Window::Day)
}

/// The store a spec names: `file:/path/to/store`, or (feature `redis`)
/// `redis:PREFIX@redis://host:port/db`.
async fn open_store(spec: &str) -> Arc<dyn SpendStore> {
    match spec.split_once(':') {
        Some(("file", path)) => Arc::new(FileStore::open(path).expect("the file store opens")),
        #[cfg(feature = "redis")]
        Some(("redis", rest)) => {
            let (prefix, url) = rest.split_once('@').expect("redis:PREFIX@URL");
            let store = spendguard::store::RedisStore::builder(url)
                .key_prefix(prefix)
                .connect()
                .await
                .expect("the Redis store connects");
            Arc::new(store)
        }
        _ => panic!("no store for the spec {spec:?}; expected file:/path or redis:PREFIX@URL"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_never_spend_past_one_shared_daily_cap_in_a_file_store() {
    let dir = std::env::temp_dir().join(format!("spendguard-shared-cap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = format!("file:{}", dir.join("spend.log").display());
    four_processes_under_one_cap(&spec, &dir).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_never_spend_past_one_shared_daily_cap_in_redis() {
    let Some(server) = support::redis_server::RedisServer::shared_or_own() else {
        return;
    };
    let gate = std::env::temp_dir().join(format!(
        "spendguard-shared-cap-redis-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&gate);
    std::fs::create_dir_all(&gate).unwrap();
    let prefix = support::redis_server::unique_prefix("four-processes");
    let spec = format!("redis:{prefix}@{}", server.url());
    four_processes_under_one_cap(&spec, &gate).await;
    std::fs::remove_dir_all(&gate).unwrap();
}

/// Runs four children spending through the store `spec` names, with `dir`
/// as their start gate, and checks what the provider billed.
async fn four_processes_under_one_cap(spec: &str, dir: &Path) {
    let mock = MockProvider::start(MockConfig {
        reply_tokens: MAX_TOKENS / 2,
        ..MockConfig::default()
    })
    .await
    .expect("the mock provider starts");

    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            let child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "shared_caps_across_processes::child_spends_until_refused",
                    "--nocapture",
                ])
                .env(CHILD_STORE_VAR, spec)
                .env(CHILD_PROVIDER_VAR, mock.base_url())
                .env(CHILD_GATE_VAR, dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the child process starts");
            tokio::task::spawn_blocking(move || child.wait_with_output())
        })
        .collect();
    open_gate(dir).await;
    let mut calls_per_child = Vec::new();
    for child in children {
        let Output {
            status,
            stdout,
            stderr,
        } = child.await.unwrap().unwrap();
        let stdout = String::from_utf8_lossy(&stdout);
        assert!(
            status.success(),
            "a child failed: {stdout}\n{}",
            String::from_utf8_lossy(&stderr)
        );
        let calls: usize = stdout
            .lines()
            .find_map(|line| line.strip_prefix("calls made: "))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("the child did not say how many calls it made: {stdout}"));
        calls_per_child.push(calls);
    }
    mock.idle().await;

    let billed = mock.billed();
    let calls: usize = calls_per_child.iter().sum();
    assert_eq!(mock.bills().len(), calls);
    assert!(
        billed <= Usd::from_dollars(1.0).unwrap(),
        "billed {billed} under a $1.00 cap ({calls_per_child:?} calls)"
    );
    assert!(
        billed >= Usd::from_dollars(0.90).unwrap(),
        "billed only {billed} ({calls_per_child:?} calls)"
    );
    // Every process took part, and the store kept exactly what was billed.
    assert!(
        calls_per_child.iter().all(|&n| n > 0),
        "{calls_per_child:?}"
    );
    let guard = SpendGuard::builder()
        .shared_store(open_store(spec).await)
        .limit(daily_cap())
        .build()
        .unwrap();
    let usage = guard.status(&Tags::new()).await.unwrap()[0].usage;
    assert_eq!((usage.spent, usage.held), (billed, Usd::ZERO));
}

/// Waits until every child is ready (a child that fails before is seen
/// when its output is read), then lets them all go at once.
async fn open_gate(dir: &Path) {
    let ready = || {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|entry| {
                let name = entry.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("ready-")
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while ready() < PROCESSES && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::fs::write(dir.join("go"), b"").unwrap();
}

/// Says this child is ready, and waits for the others.
async fn pass_gate(dir: &Path) {
    std::fs::write(dir.join(format!("ready-{}", std::process::id())), b"").unwrap();
    while !dir.join("go").exists() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One of the four processes: a `GuardedClient` whose calls also reserve
/// their worst case under the shared cap, calling the mock provider until
/// the cap refuses. Returns at once unless run by the test above.
#[tokio::test]
async fn child_spends_until_refused() {
    let (Ok(spec), Ok(provider), Ok(gate)) = (
        std::env::var(CHILD_STORE_VAR),
        std::env::var(CHILD_PROVIDER_VAR),
        std::env::var(CHILD_GATE_VAR),
    ) else {
        return;
    };
    let guard = SpendGuard::builder()
        .shared_store(open_store(&spec).await)
        .limit(daily_cap())
        .build()
        .unwrap();
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(provider)
        .api_key(ApiKey::new(TEST_KEY))
        .guard(guard)
        .build()
        .unwrap();
    // The task's own budget is roomy: only the shared cap stops it.
    let task = TaskBudget::new(Usd::from_dollars(100.0).unwrap());
    let request = json!({
        "model": MODEL,
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": "Tell me a long story about the sea."}],
    });
    // The tokenizer loads on the first exact count: loaded before the
    // gate, so no child starts a second late while the others spend.
    TokenCounter::new().warm(MODEL);
    pass_gate(Path::new(&gate)).await;

    let mut calls = 0;
    let refusal = loop {
        match client.send(&task, &request).await {
            Ok(_) => calls += 1,
            Err(error) => break error,
        }
    };
    let ClientError::Budget(exceeded) = refusal else {
        panic!("expected the shared cap to refuse, got {refusal}");
    };
    assert!(exceeded.subject.starts_with("everything on "), "{exceeded}");
    println!("calls made: {calls}");
}
