//! A stream that runs longer than its hold's lease: while the worker reads
//! it, a timer beside the bytes renews the lease, so the hold is never
//! taken for a dead worker's; once the worker is gone (its runtime dropped
//! with the stream unsettled, as a killed process leaves it), the lease
//! runs out and the hold is orphaned, billed at its worst case.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use spendguard::clock::{Clock, SystemClock};
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::store::{MemoryStore, SpendStore};
use spendguard::{ApiKey, GuardedClient, Provider, TaskBudget, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::{Behaviour, MockConfig};

/// Far shorter than the streams, which take well over a second.
const LEASE: Duration = Duration::from_millis(300);
const CHUNK_DELAY: Duration = Duration::from_millis(100);

fn request() -> Value {
    json!({
        "model": "gpt-4o",
        "max_tokens": 400,
        "messages": [{"role": "user", "content": "Write a long answer, slowly."}],
    })
}

fn task_budget() -> TaskBudget {
    TaskBudget::builder("long-stream")
        .max_cost(Usd::from_cents(1_000))
        .build()
        .unwrap()
}

/// A client of the mock at `base_url` whose shared limit lives in `store`.
fn guarded(base_url: &str, store: &Arc<dyn SpendStore>) -> GuardedClient {
    let guard = SpendGuard::builder()
        .shared_store(Arc::clone(store))
        .limit(SharedLimit::global(Usd::from_cents(1_000), Window::Day))
        .lease(LEASE)
        .build()
        .unwrap();
    GuardedClient::builder(Provider::OpenAiChat)
        .base_url(base_url)
        .api_key(ApiKey::new(TEST_KEY))
        .guard(guard)
        .build()
        .unwrap()
}

fn now() -> Duration {
    SystemClock.now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_keeps_its_lease_and_a_dead_workers_runs_out() {
    let mock = start_mock(MockConfig {
        reply_tokens: 60,
        stream_chunks: 15,
        ..MockConfig::default()
    })
    .await;
    let store: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());

    // A live worker reads a stream of 15 chunks 100 ms apart: five leases.
    mock.push(Behaviour::SlowStream {
        chunk_delay: CHUNK_DELAY,
    });
    let client = guarded(&mock.base_url(), &store);
    let budget = task_budget();
    let mut stream = client.stream(&budget, &request()).await.unwrap();
    let started = Instant::now();
    let mut checked_past_the_lease = 0;
    while let Some(event) = stream.next().await {
        event.unwrap();
        if started.elapsed() > 2 * LEASE {
            let orphans = store.orphans(now()).await.unwrap();
            assert!(
                orphans.is_empty(),
                "a live stream's hold ran out: {orphans:?}"
            );
            checked_past_the_lease += 1;
        }
    }
    assert!(checked_past_the_lease > 0, "the stream outlasted its lease");
    let receipt = stream.receipt().expect("settled").clone();
    assert!(store.orphans(now()).await.unwrap().is_empty());

    // A worker that dies mid-stream: its runtime goes, with the stream
    // unsettled and nothing left to renew it.
    mock.push(Behaviour::SlowStream {
        chunk_delay: CHUNK_DELAY,
    });
    let worst = {
        let base_url = mock.base_url();
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let worst = runtime.block_on(async move {
                let client = guarded(&base_url, &store);
                let budget = task_budget();
                let mut stream = client.stream(&budget, &request()).await.unwrap();
                stream.next().await.unwrap().unwrap();
                let worst = budget.snapshot().in_flight;
                std::mem::forget(stream);
                worst
            });
            drop(runtime);
            worst
        })
        .join()
        .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let orphans = loop {
        let orphans = store.orphans(now()).await.unwrap();
        if !orphans.is_empty() || Instant::now() > deadline {
            break orphans;
        }
        tokio::time::sleep(LEASE / 3).await;
    };
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    assert_eq!(orphans[0].amount, worst, "billed at its worst case");
    assert!(receipt.cost < worst);
}
