//! The file store's log on disk: replay, torn and garbled lines,
//! compaction, handles sharing one file, halts and bad input.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use super::*;
use crate::money::Usd;

/// 2026-11-25T12:00:00Z.
const NOW: Duration = Duration::from_secs(1_795_608_000);
const DAY: u64 = 86_400;

/// A fresh, empty directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "spendguard-file-store-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Today's bucket of `counter`, a one-day window.
fn today(counter: &str) -> WindowRef {
    let day = NOW.as_secs() / DAY;
    WindowRef::calendar(
        Arc::from(counter),
        day,
        Some(Duration::from_secs((day + 1) * DAY)),
    )
}

fn all_time(counter: &str) -> WindowRef {
    WindowRef::calendar(Arc::from(counter), 0, None)
}

fn cents(c: u64) -> Usd {
    Usd::from_cents(c)
}

/// A claim of `amount` cents on `window` under a $1.00 cap.
fn claim(window: &WindowRef, amount: u64) -> Claim {
    Claim::new(window.clone(), cents(100), cents(amount))
}

/// The lease of a test's hold of `amount`: its id is the amount, so a
/// test's settlement of what it held finds the hold.
fn lease_of(amount: Usd) -> Lease {
    Lease::new(
        amount.nanos(),
        Arc::from("test/1"),
        NOW,
        NOW + Duration::from_secs(DAY),
    )
}

async fn reserve(store: &FileStore, claims: &[Claim]) -> Reserved {
    let amount = claims.first().map_or(Usd::ZERO, |c| c.amount);
    store.reserve(claims, &lease_of(amount), NOW).await.unwrap()
}

async fn settle(store: &FileStore, window: &WindowRef, held: u64, spent: u64) -> Settled {
    store
        .settle(
            &[Settlement::new(
                window.clone(),
                cents(held),
                cents(spent),
                0,
                cents(held).nanos(),
            )],
            NOW,
        )
        .await
        .unwrap()[0]
}

async fn usage(store: &FileStore, window: &WindowRef) -> WindowUsage {
    store.usage(std::slice::from_ref(window)).await.unwrap()[0]
}

fn granted(reserved: &Reserved) -> bool {
    matches!(reserved, Reserved::Granted { .. })
}

fn append_raw(path: &Path, bytes: &[u8]) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[tokio::test]
async fn a_reopened_store_sees_every_hold_and_settlement() {
    for durability in [Durability::Written, Durability::Synced] {
        let dir = TempDir::new(&format!("reopen-{durability:?}"));
        let path = dir.join("spend.log");
        let (global, agent) = (today("global|day"), today("agent=night shift|day"));
        {
            let store = FileStore::options()
                .durability(durability)
                .open(&path)
                .unwrap();
            assert!(granted(
                &reserve(&store, &[claim(&global, 30), claim(&agent, 30)]).await
            ));
            settle(&store, &global, 30, 25).await;
            settle(&store, &agent, 30, 25).await;
            assert!(granted(&reserve(&store, &[claim(&global, 40)]).await));
        }
        let store = FileStore::open(&path).unwrap();
        assert_eq!(
            usage(&store, &global).await,
            WindowUsage::new(cents(25), cents(40))
        );
        assert_eq!(
            usage(&store, &agent).await,
            WindowUsage::new(cents(25), Usd::ZERO)
        );
        assert_eq!(store.skipped_records(), 0);
        // The cap still counts what the first handle held.
        assert!(!granted(&reserve(&store, &[claim(&global, 40)]).await));
    }
}

#[tokio::test]
async fn a_torn_last_line_is_skipped_and_the_next_record_gets_a_line_of_its_own() {
    let dir = TempDir::new("torn");
    let path = dir.join("spend.log");
    let window = today("global|day");
    {
        let store = FileStore::open(&path).unwrap();
        reserve(&store, &[claim(&window, 30)]).await;
        settle(&store, &window, 30, 30).await;
    }
    // A writer killed in the middle of its line.
    let line = record::hold_line(&[claim(&window, 10)], &lease_of(cents(10)));
    append_raw(&path, &line[..line.len() / 2]);

    let store = FileStore::open(&path).unwrap();
    assert_eq!(store.skipped_records(), 1);
    assert_eq!(
        usage(&store, &window).await,
        WindowUsage::new(cents(30), Usd::ZERO)
    );
    assert!(granted(&reserve(&store, &[claim(&window, 20)]).await));
    drop(store);

    let store = FileStore::open(&path).unwrap();
    assert_eq!(store.skipped_records(), 1);
    assert_eq!(
        usage(&store, &window).await,
        WindowUsage::new(cents(30), cents(20))
    );
    // hold + limit, settle, the torn line, hold: the limit was not new.
    let text = std::fs::read(&path).unwrap();
    assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 5);
}

#[tokio::test]
async fn counters_keep_their_limit_across_a_reopen_and_a_compaction() {
    let dir = TempDir::new("summaries");
    let path = dir.join("spend.log");
    let (day, all) = (today("key=prod|day"), all_time("task=t|all"));
    let expected = [
        CounterSummary::new(Arc::clone(&day.counter), day.bucket, 1, Some(cents(100))),
        CounterSummary::new(Arc::clone(&all.counter), 0, 1, Some(cents(100))),
    ];
    {
        let store = FileStore::open(&path).unwrap();
        assert!(store.counters().await.unwrap().is_empty());
        assert!(granted(
            &reserve(&store, &[claim(&day, 30), claim(&all, 5)]).await
        ));
        assert_eq!(store.counters().await.unwrap(), expected);
    }
    let reopened = FileStore::open(&path).unwrap();
    assert_eq!(reopened.counters().await.unwrap(), expected);
    assert_eq!(reopened.skipped_records(), 0);

    let compactor = FileStore::options().compact_at(1).open(&path).unwrap();
    settle(&compactor, &day, 30, 20).await;
    let after = FileStore::open(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(" limit key=prod|day 1 1000000000\n"),
        "{text}"
    );
    assert_eq!(after.counters().await.unwrap(), expected);
}

#[tokio::test]
async fn a_garbage_line_in_the_middle_is_skipped_and_the_rest_replayed() {
    let dir = TempDir::new("garbage");
    let path = dir.join("spend.log");
    let window = today("global|day");
    let store = FileStore::open(&path).unwrap();
    reserve(&store, &[claim(&window, 30)]).await;
    append_raw(&path, b"\x00\x01 not a record, but a line all the same\n");
    settle(&store, &window, 30, 20).await;
    assert_eq!(store.skipped_records(), 1);
    reserve(&store, &[claim(&window, 10)]).await;

    let reopened = FileStore::open(&path).unwrap();
    assert_eq!(reopened.skipped_records(), 1);
    assert_eq!(
        usage(&reopened, &window).await,
        WindowUsage::new(cents(20), cents(10))
    );
}

#[tokio::test]
async fn a_line_that_fails_its_checksum_is_skipped() {
    let dir = TempDir::new("checksum");
    let path = dir.join("spend.log");
    let window = today("global|day");
    {
        let store = FileStore::open(&path).unwrap();
        reserve(&store, &[claim(&window, 30)]).await;
        settle(&store, &window, 30, 20).await;
    }
    // Someone "fixes" the settlement by hand: 20 cents becomes 10.
    let text = std::fs::read_to_string(&path).unwrap();
    let forged = text.replacen(" 200000000 300000000\n", " 100000000 300000000\n", 1);
    assert_ne!(forged, text);
    std::fs::write(&path, forged).unwrap();

    let store = FileStore::open(&path).unwrap();
    assert_eq!(store.skipped_records(), 1);
    // The hold stands: without the settlement, the worst case still counts.
    assert_eq!(
        usage(&store, &window).await,
        WindowUsage::new(Usd::ZERO, cents(30))
    );
}

#[tokio::test]
async fn a_hold_survives_a_compaction_by_another_handle_and_settles_into_it() {
    let dir = TempDir::new("compaction");
    let path = dir.join("spend.log");
    let window = today("global|day");
    let holder = FileStore::open(&path).unwrap();
    let compactor = FileStore::options().compact_at(1).open(&path).unwrap();
    let before = std::fs::metadata(&path).unwrap().ino();

    assert!(granted(&reserve(&holder, &[claim(&window, 50)]).await));
    for _ in 0..5 {
        assert!(granted(&reserve(&compactor, &[claim(&window, 5)]).await));
        settle(&compactor, &window, 5, 4).await;
    }
    assert_ne!(std::fs::metadata(&path).unwrap().ino(), before);
    // The log now starts with a snapshot of the one bucket.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.lines().next().unwrap().contains(" bucket global|day "),
        "{text}"
    );

    // The holder's file was replaced under it; it settles into the new one.
    assert_eq!(
        settle(&holder, &window, 50, 45).await,
        Settled::new(cents(20), cents(65))
    );
    let fresh = FileStore::open(&path).unwrap();
    assert_eq!(
        usage(&fresh, &window).await,
        WindowUsage::new(cents(65), Usd::ZERO)
    );
    assert_eq!(fresh.skipped_records(), 0);
    assert!(!path.with_extension("log.compacting").exists());
}

#[tokio::test]
async fn expired_buckets_are_forgotten_at_compaction() {
    let dir = TempDir::new("expiry");
    let path = dir.join("spend.log");
    let (yesterday, now) = (NOW - Duration::from_secs(DAY), today("new|day"));
    let old = WindowRef::calendar(
        Arc::from("old|day"),
        yesterday.as_secs() / DAY,
        Some(Duration::from_secs(NOW.as_secs() / DAY * DAY)),
    );
    let store = FileStore::open(&path).unwrap();
    let held_yesterday = store
        .reserve(&[claim(&old, 60)], &lease_of(cents(60)), yesterday)
        .await
        .unwrap();
    assert!(granted(&held_yesterday));
    assert!(granted(&reserve(&store, &[claim(&now, 10)]).await));
    drop(store);

    // A settlement compacts (a reservation would also sweep expired
    // counters from memory, which is not what is tested here).
    let store = FileStore::options().compact_at(1).open(&path).unwrap();
    settle(&store, &now, 10, 8).await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("old|day"), "{text}");
    assert!(text.contains("new|day"), "{text}");
    let fresh = FileStore::open(&path).unwrap();
    assert_eq!(usage(&fresh, &old).await, WindowUsage::default());
    assert_eq!(
        usage(&fresh, &now).await,
        WindowUsage::new(cents(8), Usd::ZERO)
    );
}

#[test]
fn handles_racing_from_threads_never_both_get_the_last_cent() {
    let dir = TempDir::new("race");
    let path = dir.join("spend.log");
    let one_cent = Claim::new(today("global|day"), Usd::from_cents(500), cents(1));
    let start = std::sync::Barrier::new(4);
    let grants: usize = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..4)
            .map(|_| {
                // A handle of its own, as a separate process has.
                let store = FileStore::open(&path).unwrap();
                let (one_cent, start) = (one_cent.clone(), &start);
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    start.wait();
                    let mut grants = 0;
                    while granted(
                        &runtime
                            .block_on(store.reserve(
                                std::slice::from_ref(&one_cent),
                                &lease_of(cents(1)),
                                NOW,
                            ))
                            .unwrap(),
                    ) {
                        grants += 1;
                    }
                    grants
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).sum()
    });
    // Five hundred 1-cent holds fit in $5, and not one more.
    assert_eq!(grants, 500);
}

#[tokio::test]
async fn a_halt_reaches_every_handle_and_an_unreadable_flag_halts_too() {
    let dir = TempDir::new("halt");
    let path = dir.join("spend.log");
    let window = today("global|day");
    let (ops, worker) = (
        FileStore::open(&path).unwrap(),
        FileStore::open(&path).unwrap(),
    );
    assert_eq!(worker.halt_file().path(), dir.join("spend.log.halt"));

    ops.halt(&Halt::at("ops@alice", "bill spike", NOW))
        .await
        .unwrap();
    assert!(matches!(
        reserve(&worker, &[claim(&window, 1)]).await,
        Reserved::Halted(halt) if halt.by == "ops@alice"
    ));
    assert_eq!(
        worker.halted_now().map(|h| h.reason),
        Some("bill spike".into())
    );
    assert_eq!(
        worker.resume().await.unwrap().map(|h| h.by),
        Some("ops@alice".into())
    );
    assert!(granted(&reserve(&worker, &[claim(&window, 1)]).await));

    // A flag that is there but cannot be read (here, a directory) halts.
    std::fs::create_dir(worker.halt_file().path()).unwrap();
    assert!(matches!(
        reserve(&worker, &[claim(&window, 1)]).await,
        Reserved::Halted(_)
    ));
    assert!(worker.halted().await.unwrap().is_some());
}

#[test]
fn the_halt_file_can_be_put_elsewhere() {
    let dir = TempDir::new("halt-elsewhere");
    let store = FileStore::options()
        .halt_file(dir.join("HALT"))
        .open(dir.join("spend.log"))
        .unwrap();
    assert_eq!(store.halt_file().path(), dir.join("HALT"));
    assert_eq!(store.path(), dir.join("spend.log"));
}

#[test]
fn a_store_in_a_missing_directory_is_an_io_error_naming_the_path() {
    let dir = TempDir::new("missing");
    let path = dir.join("no-such-dir").join("spend.log");
    let error = FileStore::open(&path).unwrap_err();
    assert!(matches!(&error, StoreError::Io { path: p, .. } if *p == path));
    assert!(
        error.to_string().contains("no-such-dir/spend.log"),
        "{error}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_store_is_skipped_line_by_line() {
    let dir = TempDir::new("not-a-store");
    let path = dir.join("spend.log");
    // Deterministic noise, newlines included, ending mid-line.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect();
    let lines = noise.iter().filter(|&&b| b == b'\n').count() as u64;
    assert_ne!(noise.last(), Some(&b'\n'));
    std::fs::write(&path, &noise).unwrap();

    let window = today("global|day");
    let store = FileStore::open(&path).unwrap();
    assert_eq!(store.skipped_records(), lines + 1);
    assert_eq!(usage(&store, &window).await, WindowUsage::default());
    assert!(granted(&reserve(&store, &[claim(&window, 10)]).await));
    let reopened = FileStore::open(&path).unwrap();
    assert_eq!(
        usage(&reopened, &window).await,
        WindowUsage::new(Usd::ZERO, cents(10))
    );
}

#[tokio::test]
async fn a_removed_log_starts_over_for_every_handle() {
    let dir = TempDir::new("removed");
    let path = dir.join("spend.log");
    let window = today("global|day");
    let store = FileStore::open(&path).unwrap();
    reserve(&store, &[claim(&window, 30)]).await;
    std::fs::remove_file(&path).unwrap();
    assert_eq!(usage(&store, &window).await, WindowUsage::default());
    assert!(path.exists());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// A log of arbitrary or mutated lines opens: whole lines it cannot
    /// read are skipped and counted, never a panic.
    #[test]
    fn any_log_replays_or_skips_its_lines(
        log in crate::mutated::bytes(&[log_sample().as_slice()]),
    ) {
        let dir = TempDir::new("mutated");
        let path = dir.join("spend.log");
        std::fs::write(&path, &log).unwrap();
        if let Ok(store) = FileStore::open(&path) {
            let lines = log.iter().filter(|&&b| b == b'\n').count() as u64;
            // A last line without its newline is a torn write, skipped too.
            proptest::prop_assert!(store.skipped_records() <= lines + 1);
        }
    }
}

/// A log with a line of every kind.
fn log_sample() -> Vec<u8> {
    let (window, global) = (today("agent=a|day"), all_time("global|all"));
    let lease = lease_of(cents(30));
    let mut log = record::hold_line(&[claim(&window, 30), claim(&global, 30)], &lease);
    log.extend(record::settle_line(&[Settlement::new(
        window,
        cents(30),
        cents(25),
        0,
        lease.id,
    )]));
    record::push_limit_line(
        &mut log,
        "agent=a|day",
        Limit {
            span: 1,
            max: cents(100),
        },
    );
    log
}

#[tokio::test]
async fn a_lease_run_out_is_billed_once_for_every_handle_and_survives_compaction() {
    let dir = TempDir::new("lease");
    let path = dir.join("spend.log");
    let window = all_time("global|all");
    let dead = Lease::new(
        9,
        Arc::from("dead host/77"),
        NOW,
        NOW + Duration::from_secs(60),
    );
    let worker = FileStore::open(&path).unwrap();
    worker
        .reserve(&[claim(&window, 60)], &dead, NOW)
        .await
        .unwrap();
    drop(worker);

    // Another process, a minute and a second later: the hold is billed.
    let later = NOW + Duration::from_secs(61);
    let other = FileStore::options().compact_at(1).open(&path).unwrap();
    let refused = other
        .reserve(&[claim(&window, 50)], &lease_of(cents(50)), later)
        .await
        .unwrap();
    assert_eq!(
        refused,
        Reserved::Refused {
            claim: 0,
            usage: WindowUsage::new(cents(60), Usd::ZERO)
        }
    );
    // A third handle replays the sweep from the log rather than redoing it
    // by its own clock, and the orphan survives the compaction.
    settle(&other, &window, 0, 0).await;
    let third = FileStore::open(&path).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("orphan "));
    assert_eq!(
        usage(&third, &window).await,
        WindowUsage::new(cents(60), Usd::ZERO)
    );
    let orphans = third.orphans(NOW).await.unwrap();
    assert_eq!(orphans.len(), 1);
    assert_eq!(&*orphans[0].holder, "dead host/77");
    assert_eq!(orphans[0].age(later), Duration::from_secs(61));
}
