//! [`FileStore`]: shared limits in a file, for the processes of one host.
//!
//! The file is an append-only log, one checksummed record per line (see
//! `record.rs` for the format). Every operation takes an exclusive lock on
//! the file, reads what other processes appended since this process last
//! read, decides, appends its own record in one `write`, and unlocks.

mod crc32;
mod log;
mod record;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::halt::Halt;
use crate::store::counters::Limit;
use crate::store::{
    Claim, CounterSummary, HaltFile, HaltFlag, Lease, Orphan, Reserved, Settled, Settlement,
    SpendStore, StoreError, WindowRef, WindowUsage,
};

use self::log::{Log, Settings};

/// The log size past which it is compacted by default: 8 MiB.
pub const DEFAULT_COMPACT_AT: u64 = 8 << 20;

/// Shared limits kept in a file: spend survives a restart, and every
/// process on the host that opens the same path shares the same caps.
///
/// - **Atomic across processes.** Each reservation, settlement, usage
///   query, halt and resume holds an exclusive lock on the file
///   ([`File::lock`](std::fs::File::lock), `flock(2)`) while it reads the
///   records other processes appended since it last looked, decides and
///   appends its own. Two processes racing for the last dollar cannot both
///   get it. The counters replayed so far stay in memory, so an operation
///   reads only the new lines: a few microseconds, not a replay.
/// - **Crash-safe.** A reservation or settlement is acknowledged only once
///   its record is written (see [`Durability`] for what that survives).
///   Each line carries a CRC-32 of its record; a torn or garbled line is
///   skipped and counted ([`skipped_records`](FileStore::skipped_records)),
///   never fatal, and the next record starts on a line of its own.
/// - **Bounded.** Past a size ([`DEFAULT_COMPACT_AT`] unless
///   [`compact_at`](FileStoreOptions::compact_at) says otherwise) the log is
///   replaced, under the lock, by a snapshot of the live counters: calls
///   still running stay held in it, and buckets whose window has ended are
///   dropped. Other processes notice the new file and replay it.
/// - **Halt.** The store's halt is a [`HaltFile`], by default the log's
///   path with `.halt` appended, checked under the lock by every
///   reservation. A halt file that exists but cannot be read halts too.
/// - **Reset.** Removing the file resets the counters: at its next
///   operation every process starts a new, empty log at the path.
///
/// Keep the file on a local file system: `flock` over a network file
/// system is only as good as that file system's locking. Every process
/// needs read and write access to the file and its directory (a compaction
/// creates the new file there, with the old one's permissions).
///
/// The file I/O runs inline in the `async` methods rather than on a
/// blocking pool: each operation is a handful of system calls on a local
/// file, shorter than a task switch, and this way the store needs no
/// particular runtime. The exception is waiting for the lock while another
/// process holds it, which is as long as that process's own operation (or a
/// compaction, a few milliseconds for a large log).
///
/// Unix only: it relies on `flock` and on a rename replacing a file other
/// processes have open.
///
/// ```
/// use std::time::Duration;
/// use spendguard::guard::{SharedLimit, SpendGuard, Window};
/// use spendguard::tags::Tags;
/// use spendguard::store::FileStore;
/// use spendguard::Usd;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("spendguard-doc-file-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("spend.log");
/// let store = FileStore::open(&path)?;
/// assert_eq!(store.halt_file().path(), dir.join("spend.log.halt"));
/// let guard = SpendGuard::builder()
///     .store(store)
///     .limit(SharedLimit::global(Usd::from_dollars(1.0)?, Window::Day))
///     .build()?;
/// let call = guard.reserve(&Tags::new(), Usd::from_cents(60)).await?;
/// call.settle(Usd::from_cents(45)).await?;
///
/// // Another process, or this one after a restart, sees the same spend.
/// let again = SpendGuard::builder()
///     .store(FileStore::open(&path)?)
///     .limit(SharedLimit::global(Usd::from_dollars(1.0)?, Window::Day))
///     .build()?;
/// assert_eq!(again.status(&Tags::new()).await?[0].usage.spent, Usd::from_cents(45));
/// assert!(again.reserve(&Tags::new(), Usd::from_cents(60)).await.is_err());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
pub struct FileStore {
    path: PathBuf,
    halt_file: HaltFile,
    durability: Durability,
    log: Mutex<Log>,
}

/// When an acknowledged record is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Each record has been handed to the kernel with `write(2)` before the
    /// operation returns: it survives the process crashing or being killed
    /// (even `SIGKILL`), and other processes see it at once; a power loss
    /// or a kernel crash may lose the last few seconds. Costs microseconds.
    #[default]
    Written,
    /// Also `fdatasync(2)` before returning: the record survives a power
    /// loss too. Costs a disk flush per reservation and per settlement
    /// (from tens of microseconds on a datacenter SSD to milliseconds on
    /// consumer disks).
    Synced,
}

/// How to open a [`FileStore`]; start with [`FileStore::options`].
///
/// ```
/// use spendguard::store::{Durability, FileStore};
///
/// let options = FileStore::options()
///     .halt_file("/run/spendguard/HALT")
///     .durability(Durability::Synced)
///     .compact_at(64 << 20);
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
#[must_use = "options do nothing until `open` is called"]
pub struct FileStoreOptions {
    halt_file: Option<PathBuf>,
    durability: Durability,
    compact_at: u64,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        FileStoreOptions {
            halt_file: None,
            durability: Durability::default(),
            compact_at: DEFAULT_COMPACT_AT,
        }
    }
}

impl FileStoreOptions {
    /// The halt flag's path (default: the log's path with `.halt`
    /// appended, `spend.log` → `spend.log.halt`).
    pub fn halt_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.halt_file = Some(path.into());
        self
    }

    /// When an acknowledged record is safe (default
    /// [`Durability::Written`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The log size in bytes past which it is compacted (default
    /// [`DEFAULT_COMPACT_AT`]). A log whose live counters alone are larger
    /// waits until it is twice their size.
    pub fn compact_at(mut self, bytes: u64) -> Self {
        self.compact_at = bytes;
        self
    }

    /// Opens the store at `path`, creating the file if it does not exist,
    /// and replays it.
    ///
    /// # Errors
    /// [`StoreError::Io`] naming the path if the file cannot be created,
    /// opened, locked or read: a missing directory, missing permissions.
    /// Lines that are not records are skipped, not errors.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        let path = path.as_ref().to_owned();
        let halt_path = self
            .halt_file
            .clone()
            .unwrap_or_else(|| FileStore::default_halt_path(&path));
        let log = Log::open(
            path.clone(),
            Settings {
                durability: self.durability,
                compact_at: self.compact_at,
            },
        )?;
        Ok(FileStore {
            path,
            halt_file: HaltFile::new(halt_path),
            durability: self.durability,
            log: Mutex::new(log),
        })
    }
}

impl FileStore {
    /// Opens the store at `path` with the default options: see
    /// [`FileStoreOptions::open`].
    ///
    /// # Errors
    /// [`StoreError::Io`] naming the path if the file cannot be created,
    /// opened, locked or read.
    pub fn open(path: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        FileStoreOptions::default().open(path)
    }

    /// Options for opening a store.
    pub fn options() -> FileStoreOptions {
        FileStoreOptions::default()
    }

    /// Where the halt flag of a store at `store` is unless the options name
    /// another: `spend.log` → `spend.log.halt`.
    pub fn default_halt_path(store: &Path) -> PathBuf {
        let mut name = store.as_os_str().to_owned();
        name.push(".halt");
        PathBuf::from(name)
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The halt flag: `spendguard halt --flag` with its path halts every
    /// process using this store.
    pub fn halt_file(&self) -> &HaltFile {
        &self.halt_file
    }

    /// How many lines this handle has skipped since it was opened because
    /// they were torn, garbled, failed their checksum or were not records.
    pub fn skipped_records(&self) -> u64 {
        self.log.lock().skipped()
    }

    /// The halt flag's halt. One that exists but cannot be read halts all
    /// the same: the store fails closed.
    fn current_halt(&self) -> Option<Halt> {
        self.halt_file.read().unwrap_or_else(|error| {
            Some(Halt::new(
                "unknown",
                format!("{error}; a halt file that cannot be read halts all the same"),
            ))
        })
    }
}

#[async_trait]
impl SpendStore for FileStore {
    async fn reserve(
        &self,
        claims: &[Claim],
        lease: &Lease,
        now: Duration,
    ) -> Result<Reserved, StoreError> {
        let mut log = self.log.lock();
        let mut locked = log.lock()?;
        if let Some(halt) = self.current_halt() {
            return Ok(Reserved::Halted(halt));
        }
        let expired = locked
            .counters()
            .expired_in(claims.iter().map(|c| &c.window), now);
        locked.bill_expired(&expired)?;
        if let Some(refused) = locked.counters().refusal(claims, now) {
            return Ok(refused);
        }
        if !claims.is_empty() {
            // The hold and any new limits in one write: a torn write loses
            // at most the limits, which only status reports read.
            let mut lines = record::hold_line(claims, lease);
            for claim in claims {
                if locked.counters().is_new_limit(claim) {
                    record::push_limit_line(&mut lines, &claim.window.counter, Limit::of(claim));
                }
            }
            locked.append(&lines)?;
        }
        let usage = claims
            .iter()
            .map(|claim| {
                let counters = locked.counters();
                counters.remember_limit(&claim.window.counter, Limit::of(claim));
                counters.hold(&claim.window, claim.amount, Some(lease))
            })
            .collect();
        locked.compact_if_due(now);
        Ok(Reserved::Granted { usage, ticket: 0 })
    }

    async fn settle(
        &self,
        settlements: &[Settlement],
        now: Duration,
    ) -> Result<Vec<Settled>, StoreError> {
        if settlements.is_empty() {
            return Ok(Vec::new());
        }
        let mut log = self.log.lock();
        let mut locked = log.lock()?;
        locked.append(&record::settle_line(settlements))?;
        let settled = locked.counters().settle(settlements);
        locked.compact_if_due(now);
        Ok(settled)
    }

    async fn renew(
        &self,
        windows: &[WindowRef],
        lease: &Lease,
        now: Duration,
    ) -> Result<bool, StoreError> {
        let mut log = self.log.lock();
        let mut locked = log.lock()?;
        let expired = locked.counters().expired_in(windows.iter(), now);
        locked.bill_expired(&expired)?;
        if !windows.is_empty() {
            locked.append(&record::renew_line(windows, lease))?;
        }
        Ok(locked.counters().renew(windows, lease))
    }

    async fn orphans(&self, now: Duration) -> Result<Vec<Orphan>, StoreError> {
        let mut log = self.log.lock();
        let mut locked = log.lock()?;
        let expired = locked.counters().expired_everywhere(now);
        locked.bill_expired(&expired)?;
        Ok(locked.counters().orphans())
    }

    async fn usage(&self, windows: &[WindowRef]) -> Result<Vec<WindowUsage>, StoreError> {
        let mut log = self.log.lock();
        let mut locked = log.lock()?;
        Ok(locked.counters().usage(windows))
    }

    async fn counters(&self) -> Result<Vec<CounterSummary>, StoreError> {
        let mut log = self.log.lock();
        let mut locked = log.lock()?;
        Ok(locked.counters().summaries())
    }
}

#[async_trait]
impl HaltFlag for FileStore {
    /// Writes the halt file, under the lock: once this returns, no
    /// reservation that has not yet been granted will be.
    async fn halt(&self, halt: &Halt) -> Result<(), StoreError> {
        let mut log = self.log.lock();
        let _locked = log.lock()?;
        self.halt_file.write(halt)
    }

    async fn resume(&self) -> Result<Option<Halt>, StoreError> {
        let mut log = self.log.lock();
        let _locked = log.lock()?;
        self.halt_file.remove()
    }

    async fn halted(&self) -> Result<Option<Halt>, StoreError> {
        Ok(self.current_halt())
    }

    /// One `open` of the halt file, and a read if it exists.
    fn halted_now(&self) -> Option<Halt> {
        self.current_halt()
    }
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .field("halt_file", &self.halt_file.path())
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}
