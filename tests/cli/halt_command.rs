//! `spendguard halt`, `resume` and `status` run as a binary against the
//! stores the guards use: a halt from the command refuses a running
//! guard's very next call with its reason, `resume` lets calls through
//! again, and `status` shows what a guard spent, holds and may spend.
//!
//! The Redis test runs against `SPENDGUARD_REDIS_URL` if set, else a
//! `redis-server` of its own; without either, it says so and passes.

#[cfg(feature = "redis")]
use crate::support::redis_server;

use crate::support::cli;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli::{spendguard, stderr, stdout};
use serde_json::Value;
use spendguard::guard::GuardError;
use spendguard::guard::{SharedLimit, SpendGuard, Window};
use spendguard::store::{FileStore, MemoryStore, SpendStore};
use spendguard::tags::{TagKind, Tags};
use spendguard::Usd;

fn succeeded(output: &Output) -> String {
    assert!(output.status.success(), "stderr: {}", stderr(output));
    stdout(output)
}

/// A directory of its own under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "spendguard-halt-command-{}-{name}",
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

fn cents(c: u64) -> Usd {
    Usd::from_cents(c)
}

fn guard_on(store: impl SpendStore + 'static) -> SpendGuard {
    SpendGuard::builder()
        .store(store)
        .limit(SharedLimit::each(TagKind::Key, cents(5_000), Window::Day))
        .build()
        .unwrap()
}

fn prod() -> Tags {
    Tags::new().key("prod-1")
}

/// Panics unless a call may go through now; releases what it held.
async fn assert_allowed(guard: &SpendGuard) {
    let hold = guard.reserve(&prod(), cents(1)).await.unwrap();
    hold.release().await.unwrap();
}

/// The halt a refused call carries, or a panic naming what happened.
async fn refusal(guard: &SpendGuard) -> spendguard::halt::Halt {
    match guard.reserve(&prod(), cents(1)).await {
        Err(GuardError::Halted(halt)) => halt,
        other => panic!("expected a halt, got {other:?}"),
    }
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test]
async fn a_halt_flag_stops_the_next_call_and_resume_lifts_it() {
    let dir = TempDir::new("flag");
    let flag = dir.join("HALT");
    let guard = guard_on(MemoryStore::new().with_halt_file(&flag));
    assert_allowed(&guard).await;

    let first = spendguard(&[
        "halt",
        "--reason",
        "bill spike on the nightly job",
        "--by",
        "ops@alice",
        "--flag",
        path_arg(&flag),
    ]);
    let text = succeeded(&first);
    assert!(
        text.starts_with(&format!(
            "halted the halt file {}: by ops@alice at ",
            flag.display()
        )),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with(": bill spike on the nightly job"),
        "{text}"
    );
    let halt = refusal(&guard).await;
    assert_eq!(
        (halt.by.as_str(), halt.reason.as_str()),
        ("ops@alice", "bill spike on the nightly job")
    );

    // A second halt keeps the first, and says so.
    let second = spendguard(&["halt", "--reason", "me too", "--flag", path_arg(&flag)]);
    let text = succeeded(&second);
    assert!(text.contains("was already halted by ops@alice"), "{text}");
    assert!(text.contains("that halt stands"), "{text}");
    assert_eq!(
        refusal(&guard).await.reason,
        "bill spike on the nightly job"
    );

    let status = succeeded(&spendguard(&["status", "--flag", path_arg(&flag)]));
    assert!(status.starts_with("halted by ops@alice at "), "{status}");

    let resumed = succeeded(&spendguard(&["resume", "--flag", path_arg(&flag)]));
    assert!(
        resumed.starts_with(&format!(
            "resumed the halt file {}: lifted the halt by ops@alice",
            flag.display()
        )),
        "{resumed}"
    );
    assert_allowed(&guard).await;

    let again = succeeded(&spendguard(&["resume", "--flag", path_arg(&flag)]));
    assert_eq!(
        again,
        format!(
            "the halt file {} was not halted; nothing to lift\n",
            flag.display()
        )
    );
    assert_eq!(
        succeeded(&spendguard(&["status", "--flag", path_arg(&flag)])),
        "not halted\n"
    );
}

#[tokio::test]
async fn a_halt_through_the_store_option_halts_a_file_store_guard() {
    let dir = TempDir::new("store");
    let log = dir.join("spend.log");
    let guard = guard_on(FileStore::open(&log).unwrap());
    assert_allowed(&guard).await;

    succeeded(&spendguard(&[
        "halt",
        "--reason",
        "runaway loop",
        "--store",
        path_arg(&log),
    ]));
    assert!(FileStore::default_halt_path(&log).exists());
    let halt = refusal(&guard).await;
    assert_eq!(halt.reason, "runaway loop");
    assert!(
        halt.by.contains('@'),
        "the default author is user@host: {}",
        halt.by
    );

    succeeded(&spendguard(&["resume", "--store", path_arg(&log)]));
    assert_allowed(&guard).await;
}

#[tokio::test]
async fn status_shows_what_a_file_store_guard_spent_holds_and_may_spend() {
    let dir = TempDir::new("status");
    let log = dir.join("spend.log");
    let guard = guard_on(FileStore::open(&log).unwrap());
    let call = guard.reserve(&prod(), cents(1_300)).await.unwrap();
    call.settle(cents(1_230)).await.unwrap();
    let _running = guard.reserve(&prod(), cents(40)).await.unwrap();

    let text = succeeded(&spendguard(&["status", "--store", path_arg(&log)]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "not halted");
    assert!(
        lines[1].starts_with("key=prod-1|day  per UTC day "),
        "{text}"
    );
    assert!(
        lines[1].ends_with("  spent $12.30 + $0.40 held of $50.00 (25%)"),
        "{text}"
    );

    let json: Value = serde_json::from_str(&succeeded(&spendguard(&[
        "status",
        "--json",
        "--store",
        path_arg(&log),
    ])))
    .unwrap();
    assert_eq!(json["halt"], Value::Null);
    assert_eq!(json["ended_counters"], 0);
    let counter = &json["counters"][0];
    assert_eq!(counter["counter"], "key=prod-1|day");
    assert_eq!(counter["spent_nanos"], 12_300_000_000u64);
    assert_eq!(counter["held_nanos"], 400_000_000u64);
    assert_eq!(counter["max_nanos"], 50_000_000_000u64);
    assert_eq!(counter["percent_used"], 25);
    assert_eq!(counter["span"], 1);
    assert_eq!(json["counters"].as_array().unwrap().len(), 1);

    succeeded(&spendguard(&[
        "halt",
        "--reason",
        "audit",
        "--by",
        "ops@bob",
        "--store",
        path_arg(&log),
    ]));
    let json: Value = serde_json::from_str(&succeeded(&spendguard(&[
        "status",
        "--json",
        "--store",
        path_arg(&log),
    ])))
    .unwrap();
    assert_eq!(json["halt"]["by"], "ops@bob");
    assert_eq!(json["halt"]["reason"], "audit");
    assert!(json["halt"]["at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn no_target_or_two_targets_is_a_usage_error() {
    let dir = TempDir::new("usage");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let none = spendguard(&["halt", "--reason", "x"]);
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
    assert!(stderr(&none).contains("--flag"), "{}", stderr(&none));

    let two = spendguard(&["status", "--flag", path_arg(&a), "--store", path_arg(&b)]);
    assert_eq!(two.status.code(), Some(2));
    assert!(
        stderr(&two).contains("cannot be used with"),
        "{}",
        stderr(&two)
    );

    let no_reason = spendguard(&["halt", "--flag", path_arg(&a)]);
    assert_eq!(no_reason.status.code(), Some(2));
    let empty_reason = spendguard(&["halt", "--reason", "", "--flag", path_arg(&a)]);
    assert_eq!(empty_reason.status.code(), Some(2));
    let prefix_alone = spendguard(&[
        "halt",
        "--reason",
        "x",
        "--flag",
        path_arg(&a),
        "--prefix",
        "p",
    ]);
    assert_eq!(
        prefix_alone.status.code(),
        Some(2),
        "{}",
        stderr(&prefix_alone)
    );
    assert!(!a.exists(), "a usage error halts nothing");
}

#[test]
fn a_store_that_does_not_exist_or_cannot_be_read_is_a_runtime_error() {
    let dir = TempDir::new("missing");
    let missing = dir.join("nope.log");
    let output = spendguard(&["status", "--store", path_arg(&missing)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with(&format!("error: cannot read {}", missing.display())),
        "{}",
        stderr(&output)
    );
    assert!(!missing.exists(), "status must not create a store");

    // A directory is no log: opening it for writing fails.
    let output = spendguard(&["halt", "--reason", "x", "--store", path_arg(&dir.0)]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).starts_with("error: the spend store file"),
        "{}",
        stderr(&output)
    );

    let flag_dir = dir.join("no-such-dir").join("HALT");
    let output = spendguard(&["halt", "--reason", "x", "--flag", path_arg(&flag_dir)]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

#[cfg(not(feature = "redis"))]
#[test]
fn redis_without_the_feature_says_how_to_rebuild() {
    let output = spendguard(&["status", "--redis", "redis://127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output).lines().count(), 1);
    assert!(
        stderr(&output).contains("--features cli,redis"),
        "{}",
        stderr(&output)
    );
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_halt_through_redis_halts_a_redis_store_guard_and_status_reads_its_counters() {
    use redis_server::{unique_prefix, RedisServer};
    use spendguard::store::RedisStore;

    let Some(server) = RedisServer::shared_or_own() else {
        return;
    };
    let prefix = unique_prefix("halt-command");
    let store = RedisStore::builder(server.url())
        .key_prefix(&prefix)
        .connect()
        .await
        .unwrap();
    let guard = guard_on(store);
    let call = guard.reserve(&prod(), cents(1_000)).await.unwrap();
    call.settle(cents(500)).await.unwrap();

    let target = ["--redis", server.url(), "--prefix", &prefix];
    let halt: Vec<&str> = ["halt", "--reason", "fleet stop", "--by", "ops@carol"]
        .into_iter()
        .chain(target)
        .collect();
    let text = succeeded(&spendguard(&halt));
    assert!(
        text.starts_with(&format!("halted Redis prefix {prefix}: by ops@carol")),
        "{text}"
    );
    assert_eq!(refusal(&guard).await.reason, "fleet stop");

    let status: Vec<&str> = ["status"].into_iter().chain(target).collect();
    let text = succeeded(&spendguard(&status));
    assert!(text.starts_with("halted by ops@carol at "), "{text}");
    assert!(
        text.contains("spent $5.00 + $0.00 held of $50.00 (10%)"),
        "{text}"
    );

    let resume: Vec<&str> = ["resume"].into_iter().chain(target).collect();
    succeeded(&spendguard(&resume));
    assert_allowed(&guard).await;
}
