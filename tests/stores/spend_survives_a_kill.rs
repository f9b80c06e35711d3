//! Spend recorded in a `FileStore` survives the process being killed: a
//! child records spend as fast as it can and says so after every
//! acknowledged settlement; it is SIGKILLed mid-stride, and a fresh
//! `FileStore::open` of the same file shows every acknowledged settlement,
//! plus at most the one call that was in flight. Three children in a row
//! share the file, each starting where the killed one left it.
//!
//! The children are this test binary run again with `CHILD_STORE_VAR` set,
//! each running only `child_records_spend_until_killed`.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::store::{FileStore, WindowUsage};
use spendguard::tags::Tags;
use spendguard::Usd;

/// The store's path; the child role is selected by this being set.
const CHILD_STORE_VAR: &str = "SPENDGUARD_TEST_KILL_STORE";
/// The number of the child's first call.
const CHILD_FIRST_CALL_VAR: &str = "SPENDGUARD_TEST_KILL_FIRST_CALL";
/// What every call holds.
const WORST_CASE: Usd = Usd::from_nanos(1_000_000);
/// Acknowledgements to wait for before the kill.
const ACKS_BEFORE_KILL: u64 = 300;
/// Small, so that compactions happen (and may be killed) too.
const COMPACT_AT: u64 = 16 * 1024;

/// What call `n` costs: different for every call, so a lost or doubled
/// settlement shows.
fn cost(n: u64) -> Usd {
    Usd::from_nanos(1_000 + n)
}

fn guard_on(store: FileStore) -> SpendGuard {
    SpendGuard::builder()
        .store(store)
        .limit(SharedLimit::global(
            Usd::from_dollars(1_000_000.0).unwrap(),
            Window::Lifetime,
        ))
        .build()
        .unwrap()
}

fn usage_in(path: &std::path::Path) -> WindowUsage {
    let guard = guard_on(FileStore::open(path).expect("the store reopens"));
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(guard.status(&Tags::new()))
        .unwrap()[0]
        .usage
}

#[test]
fn every_acknowledged_settlement_survives_sigkill() {
    let dir = std::env::temp_dir().join(format!("spendguard-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spend.log");

    let mut before = WindowUsage::default();
    let mut next_call = 1;
    for round in 1..=3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "spend_survives_a_kill::child_records_spend_until_killed",
                "--nocapture",
            ])
            .env(CHILD_STORE_VAR, &path)
            .env(CHILD_FIRST_CALL_VAR, next_call.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the child process starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = Vec::new();
        let mut killed = false;
        // Every line already written is read, after the kill too: each one is
        // a settlement the store acknowledged.
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("settled ") {
                acked.push(n.parse::<u64>().unwrap());
            }
            if !killed && acked.len() as u64 >= ACKS_BEFORE_KILL {
                child.kill().unwrap();
                killed = true;
            }
        }
        let status = child.wait().unwrap();
        assert!(killed && !status.success(), "round {round}: {status}");
        let expected: Vec<u64> = (next_call..next_call + acked.len() as u64).collect();
        assert_eq!(
            acked, expected,
            "round {round}: calls acknowledged in order"
        );

        let in_flight = next_call + acked.len() as u64;
        let acked_spend: Usd = acked.iter().map(|&n| cost(n)).sum();
        let after = usage_in(&path);
        let spent = after.spent.nanos().checked_sub(before.spent.nanos());
        let held = after.held.nanos().checked_sub(before.held.nanos());
        let (spent, held) = (
            spent.expect("spend never goes down"),
            held.expect("no hold of a killed call is given back"),
        );
        let outcomes = [
            // Killed before the call in flight was held, or its hold torn.
            (acked_spend, Usd::ZERO),
            // Killed after its hold was written, before its settlement.
            (acked_spend, WORST_CASE),
            // Killed after its settlement was written, before it was said.
            (acked_spend + cost(in_flight), Usd::ZERO),
        ];
        assert!(
            outcomes.contains(&(Usd::from_nanos(spent), Usd::from_nanos(held))),
            "round {round}: {} calls acknowledged for {acked_spend}, the store shows \
             {} more spent and {} more held",
            acked.len(),
            Usd::from_nanos(spent),
            Usd::from_nanos(held)
        );
        before = after;
        next_call = in_flight + 1;
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The child: records call after call through a guard on the file store,
/// printing `settled N` once each settlement is acknowledged, until it is
/// killed. Returns at once unless run by the test above.
#[test]
fn child_records_spend_until_killed() {
    let (Ok(path), Ok(first)) = (
        std::env::var(CHILD_STORE_VAR),
        std::env::var(CHILD_FIRST_CALL_VAR),
    ) else {
        return;
    };
    let first: u64 = first.parse().unwrap();
    let store = FileStore::options()
        .compact_at(COMPACT_AT)
        .open(path)
        .unwrap();
    let guard = guard_on(store);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Bounded, in case the parent dies before it kills this child.
    for n in first..first + 10_000_000 {
        runtime.block_on(async {
            let hold = guard.reserve(&Tags::new(), WORST_CASE).await.unwrap();
            hold.settle(cost(n)).await.unwrap();
        });
        println!("settled {n}");
    }
}
