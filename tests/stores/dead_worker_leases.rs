//! A worker killed with reservations in flight: once its leases run out,
//! `spendguard status` lists its holds as orphaned (with their age and the
//! holder's label), and the next reservation sees them as billed at their
//! worst case, never as free. For a `FileStore` and a `RedisStore`.
//!
//! The worker is this test binary run again with `WORKER_STORE_VAR` set,
//! running only `worker_holds_then_sleeps`: it takes three holds under a
//! short lease, says so, and sleeps until it is killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spendguard::budget::Amount;
use spendguard::guard::{GuardError, SharedLimit, SpendGuard, Window};
use spendguard::store::{FileStore, SpendStore};
use spendguard::tags::Tags;
use spendguard::Usd;

/// `file:PATH` or `redis:PREFIX|URL`; the worker role is selected by this
/// being set.
const WORKER_STORE_VAR: &str = "SPENDGUARD_TEST_LEASE_STORE";
/// The worker's lease: short, so the test waits little for it to run out.
const LEASE: Duration = Duration::from_secs(2);
/// What each of the worker's three calls holds.
const WORST_CASE: Usd = Usd::from_cents(30);
/// The label the worker's holds carry.
const HOLDER: &str = "worker-7/dead";

fn guard_on(store: Arc<dyn SpendStore>, lease: Duration) -> SpendGuard {
    SpendGuard::builder()
        .shared_store(store)
        .limit(SharedLimit::global(Usd::from_cents(100), Window::Lifetime))
        .lease(lease)
        .holder(HOLDER)
        .build()
        .unwrap()
}

async fn open(spec: &str) -> Arc<dyn SpendStore> {
    if let Some(path) = spec.strip_prefix("file:") {
        return Arc::new(FileStore::open(path).unwrap());
    }
    #[cfg(feature = "redis")]
    if let Some(rest) = spec.strip_prefix("redis:") {
        let (prefix, url) = rest.split_once('|').unwrap();
        let store = spendguard::store::RedisStore::builder(url)
            .key_prefix(prefix)
            .connect()
            .await
            .unwrap();
        return Arc::new(store);
    }
    panic!("no store for {spec}")
}

/// Starts the worker on `spec` and waits until it holds its reservations.
fn start_worker(spec: &str) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "dead_worker_leases::worker_holds_then_sleeps",
            "--nocapture",
        ])
        .env(WORKER_STORE_VAR, spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the worker starts");
    let stdout = child.stdout.take().unwrap();
    let held = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line == "held 3");
    assert!(held, "the worker never took its holds");
    child
}

/// Kills the worker, then checks what a live process sees of its holds.
async fn a_dead_workers_holds_are_billed(spec: &str) {
    let mut worker = start_worker(spec);
    worker.kill().unwrap();
    worker.wait().unwrap();

    let store = open(spec).await;
    let guard = guard_on(Arc::clone(&store), Duration::from_secs(60));
    // Held or billed, the dead worker's 90¢ counts: 20¢ more does not fit.
    let usage = guard.status(&Tags::new()).await.unwrap()[0].usage;
    assert_eq!(usage.committed(), Usd::from_cents(90), "{usage:?}");

    // Once the leases run out, the next reservation sweeps them: billed,
    // not held, and still not free.
    let deadline = Instant::now() + Duration::from_secs(30);
    let refused = loop {
        match guard.reserve(&Tags::new(), Usd::from_cents(20)).await {
            Err(GuardError::Exceeded(refused)) if refused.in_flight == Amount::Usd(Usd::ZERO) => {
                break refused
            }
            Err(GuardError::Exceeded(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("the dead worker's holds were not billed: {other:?}"),
        }
    };
    assert_eq!(refused.spent, Amount::Usd(Usd::from_cents(90)), "{refused}");
    let usage = guard.status(&Tags::new()).await.unwrap()[0].usage;
    assert_eq!((usage.spent, usage.held), (Usd::from_cents(90), Usd::ZERO));

    let orphans = store.orphans(guard_now()).await.unwrap();
    assert_eq!(orphans.len(), 3, "{orphans:?}");
    for orphan in &orphans {
        assert_eq!((&*orphan.holder, orphan.amount), (HOLDER, WORST_CASE));
        assert!(orphan.age(guard_now()) >= LEASE);
    }
}

fn guard_now() -> Duration {
    use spendguard::clock::{Clock, SystemClock};
    SystemClock.now()
}

#[cfg(unix)]
#[tokio::test]
async fn a_killed_workers_holds_in_a_file_store_are_billed_and_listed() {
    let dir = std::env::temp_dir().join(format!("spendguard-leases-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spend.log");
    let spec = format!("file:{}", path.display());
    a_dead_workers_holds_are_billed(&spec).await;
    #[cfg(feature = "cli")]
    status_lists_the_orphans(&["--store", path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_killed_workers_holds_in_redis_are_billed_and_listed() {
    use crate::support::redis_server::{unique_prefix, RedisServer};
    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("dead-worker");
    a_dead_workers_holds_are_billed(&format!("redis:{prefix}|{}", server.url())).await;
    #[cfg(feature = "cli")]
    status_lists_the_orphans(&["--redis", server.url(), "--prefix", &prefix]);
}

/// `spendguard status` on the store shows each orphan, its holder and age.
#[cfg(feature = "cli")]
fn status_lists_the_orphans(target: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_spendguard"))
        .arg("status")
        .args(target)
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{text}");
    let orphans: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("orphaned "))
        .collect();
    assert_eq!(orphans.len(), 3, "{text}");
    for line in orphans {
        assert!(
            line.starts_with("orphaned $0.30 in global|all: held by worker-7/dead since ")
                && line.ends_with("billed at its worst case"),
            "{line}"
        );
    }
    assert!(
        text.contains("spent $0.90 + $0.00 held of $1.00 (90%)"),
        "{text}"
    );
}

/// The worker: three holds under a short lease, then sleep until killed.
/// Returns at once unless run by a test above.
#[tokio::test]
async fn worker_holds_then_sleeps() {
    let Ok(spec) = std::env::var(WORKER_STORE_VAR) else {
        return;
    };
    let guard = guard_on(open(&spec).await, LEASE);
    let mut holds = Vec::new();
    for n in 1..=3 {
        holds.push(guard.reserve(&Tags::new(), WORST_CASE).await.unwrap());
        println!("held {n}");
    }
    // Bounded, in case the test dies before it kills this worker.
    tokio::time::sleep(Duration::from_secs(120)).await;
    drop(holds);
}
