//! [`Log`]: the file store's log as one process sees it: the open file,
//! its lock, how far this process has read it, and the counters replayed
//! from what it read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::store::counters::{Counters, Expiry};
use crate::store::file::record::{self, Record};
use crate::store::file::Durability;
use crate::store::StoreError;

/// How much of the log one read takes; a longer stretch is read in parts.
const READ_CHUNK: u64 = 1 << 20;

/// What a log needs to know from the store's options.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    pub(super) durability: Durability,
    pub(super) compact_at: u64,
}

/// Which file a path names: a compaction puts a new file at the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    device: u64,
    inode: u64,
}

impl Identity {
    fn of(meta: &fs::Metadata) -> Self {
        Identity {
            device: meta.dev(),
            inode: meta.ino(),
        }
    }
}

/// The log, as far as this process has read it.
#[derive(Debug)]
pub(super) struct Log {
    path: PathBuf,
    settings: Settings,
    file: File,
    identity: Identity,
    /// How many bytes of the file have been replayed into `counters`; always
    /// the end of a line.
    offset: u64,
    counters: Counters,
    /// The bytes of snapshot lines in the file: what a compaction would
    /// write again, so compacting waits until the log is twice that.
    snapshot_len: u64,
    /// After a compaction failed, the length at which to try again.
    retry_compaction_at: u64,
    /// Lines skipped since the store was opened.
    skipped: u64,
    /// Reused for reading.
    buffer: Vec<u8>,
}

impl Log {
    /// Opens (or creates) the log at `path` and replays it.
    pub(super) fn open(path: PathBuf, settings: Settings) -> Result<Log, StoreError> {
        let file = open_file(&path).map_err(|e| io_error(&path, e))?;
        let identity = file
            .metadata()
            .map(|meta| Identity::of(&meta))
            .map_err(|e| io_error(&path, e))?;
        if settings.durability == Durability::Synced {
            // A log just created must still be there after a power loss.
            sync_directory(&path).map_err(|e| io_error(&path, e))?;
        }
        let mut log = Log {
            path,
            settings,
            file,
            identity,
            offset: 0,
            counters: Counters::default(),
            snapshot_len: 0,
            retry_compaction_at: 0,
            skipped: 0,
            buffer: Vec::new(),
        };
        log.lock()?;
        Ok(log)
    }

    /// Lines skipped so far because they were torn, garbled or unknown.
    pub(super) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Takes the exclusive lock on the file at the path (following a
    /// compaction or removal by another process to the file now there) and
    /// reads what other processes appended since this one last read.
    pub(super) fn lock(&mut self) -> Result<Locked<'_>, StoreError> {
        loop {
            self.file.lock().map_err(|e| self.io(e))?;
            let replaced = self.replaced();
            if let Ok(false) = replaced {
                break;
            }
            // Not the log any more, or it cannot be told. Unlock first: if
            // what follows fails, this file stays open, and its lock would
            // block every process still holding it.
            let _ = self.file.unlock();
            match replaced {
                Ok(_) => self.reopen()?,
                Err(error) => return Err(self.io(error)),
            }
        }
        let mut locked = Locked { log: self };
        locked.catch_up()?;
        Ok(locked)
    }

    /// Whether the path no longer names the file this process has open.
    fn replaced(&self) -> io::Result<bool> {
        match fs::metadata(&self.path) {
            Ok(meta) => Ok(Identity::of(&meta) != self.identity),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(true),
            Err(error) => Err(error),
        }
    }

    /// Opens the file now at the path, to be replayed from its beginning.
    fn reopen(&mut self) -> Result<(), StoreError> {
        let file = open_file(&self.path).map_err(|e| self.io(e))?;
        self.identity = file
            .metadata()
            .map(|meta| Identity::of(&meta))
            .map_err(|e| self.io(e))?;
        self.file = file;
        self.forget_what_was_read();
        Ok(())
    }

    fn forget_what_was_read(&mut self) {
        self.offset = 0;
        self.counters = Counters::default();
        self.snapshot_len = 0;
        self.retry_compaction_at = 0;
    }

    fn io(&self, source: io::Error) -> StoreError {
        io_error(&self.path, source)
    }
}

/// The log while this process holds its lock; dropping it unlocks.
#[derive(Debug)]
pub(super) struct Locked<'log> {
    log: &'log mut Log,
}

impl Locked<'_> {
    /// The counters, up to date with every process's records.
    pub(super) fn counters(&mut self) -> &mut Counters {
        &mut self.log.counters
    }

    /// Appends one whole line in one `write` (the file is opened with
    /// `O_APPEND`), and with [`Durability::Synced`] waits for the disk.
    ///
    /// On `Ok` the caller applies the record to [`counters`](Self::counters).
    /// On an error the offset stays before the line: a part written is read
    /// back by the next lock as a torn line and skipped, and a whole line
    /// whose sync failed is read back and replayed like any other process's
    /// record, so the counters never disagree with the file.
    pub(super) fn append(&mut self, line: &[u8]) -> Result<(), StoreError> {
        let log = &mut *self.log;
        log.file.write_all(line).map_err(|e| log.io(e))?;
        if log.settings.durability == Durability::Synced {
            log.file.sync_data().map_err(|e| log.io(e))?;
        }
        log.offset += line.len() as u64;
        Ok(())
    }

    /// Records that the holds in `expired` ran out unsettled, then bills
    /// them at their worst case: written first, so that every process
    /// replaying the log bills the same holds.
    pub(super) fn bill_expired(&mut self, expired: &[Expiry]) -> Result<(), StoreError> {
        if expired.is_empty() {
            return Ok(());
        }
        self.append(&record::expire_line(expired))?;
        for expiry in expired {
            self.log.counters.orphan(expiry);
        }
        Ok(())
    }

    /// Compacts the log if it has grown past the threshold. A compaction
    /// that fails loses nothing (the log is left as it was) and is tried
    /// again once the log has grown by another threshold.
    pub(super) fn compact_if_due(&mut self, now: Duration) {
        let log = &mut *self.log;
        let due_at = log
            .settings
            .compact_at
            .max(log.snapshot_len.saturating_mul(2))
            .max(log.retry_compaction_at);
        if log.offset < due_at {
            return;
        }
        if self.compact(now).is_err() {
            let log = &mut *self.log;
            log.retry_compaction_at = log.offset.saturating_add(log.settings.compact_at);
        }
    }

    /// Writes the live counters, expired buckets dropped, to a file beside
    /// the log and renames it over the log. Holds in flight are in it as
    /// held. Other processes see the path name a new file and replay it.
    fn compact(&mut self, now: Duration) -> io::Result<()> {
        let log = &mut *self.log;
        log.counters.forget_expired(now);
        let mut snapshot = Vec::new();
        for saved in log.counters.saved() {
            record::push_bucket_line(&mut snapshot, &saved);
        }
        // After every bucket, which each one needs to be restored into.
        for saved in log.counters.saved_leases() {
            record::push_lease_line(&mut snapshot, &saved);
        }
        for (counter, limit) in log.counters.limits() {
            record::push_limit_line(&mut snapshot, counter, limit);
        }
        let temp = compaction_path(&log.path);
        let file = match write_snapshot(log, &temp, &snapshot) {
            Ok(file) => file,
            Err(error) => {
                // Whatever is left of it is only a partial copy.
                let _ = fs::remove_file(&temp);
                return Err(error);
            }
        };
        // The new file is at the path and locked: it is the log now, and
        // dropping the old one releases the old lock.
        log.identity = Identity::of(&file.metadata()?);
        log.file = file;
        log.offset = snapshot.len() as u64;
        log.snapshot_len = log.offset;
        log.retry_compaction_at = 0;
        if log.settings.durability == Durability::Synced {
            sync_directory(&log.path)?;
        }
        Ok(())
    }

    /// Replays every whole line past the offset. A last line without its
    /// newline can only be a torn write (every writer holds the lock until
    /// its line is whole), so it is ended with a newline, which makes it a
    /// line every process skips, and the next record starts on a line of
    /// its own.
    fn catch_up(&mut self) -> Result<(), StoreError> {
        let log = &mut *self.log;
        let len = log.file.metadata().map_err(|e| log.io(e))?.len();
        if len < log.offset {
            // Shorter than what was read: not the log this process read.
            log.forget_what_was_read();
        }
        let mut pending = std::mem::take(&mut log.buffer);
        pending.clear();
        let mut at = log.offset;
        while at < len {
            let part = (len - at).min(READ_CHUNK);
            let start = pending.len();
            pending.resize(start + part as usize, 0);
            let read = log.file.read_exact_at(&mut pending[start..], at);
            if let Err(error) = read {
                log.buffer = pending;
                return Err(log.io(error));
            }
            at += part;
            let used = log.replay(&pending);
            pending.drain(..used);
        }
        let torn = pending.len() as u64;
        log.buffer = pending;
        if torn > 0 {
            log.file.write_all(b"\n").map_err(|e| log.io(e))?;
            log.offset += torn + 1;
            log.skipped += 1;
        }
        Ok(())
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // A failed unlock leaves the lock until the file is closed; a drop
        // has nowhere to report it, and flock(LOCK_UN) on an open file does
        // not fail in practice.
        let _ = self.log.file.unlock();
    }
}

impl Log {
    /// Replays the whole lines at the start of `bytes`; returns how many
    /// bytes they took.
    fn replay(&mut self, bytes: &[u8]) -> usize {
        let mut used = 0;
        while let Some(end) = bytes[used..].iter().position(|&b| b == b'\n') {
            let line = &bytes[used..used + end];
            match record::parse(line) {
                Some(record) => {
                    if matches!(record, Record::Bucket(_) | Record::Lease(_)) {
                        self.snapshot_len += line.len() as u64 + 1;
                    }
                    record.apply(&mut self.counters);
                }
                None => self.skipped += 1,
            }
            used += end + 1;
        }
        self.offset += used as u64;
        used
    }
}

/// Opens the log for reading and appending, creating it if need be.
fn open_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
}

/// `spend.log` → `spend.log.compacting`: where a snapshot is written before
/// it replaces the log. Only the lock holder writes it, so one name is
/// enough; one left by a crash is overwritten.
fn compaction_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".compacting");
    PathBuf::from(name)
}

/// Writes the snapshot to `temp`, locked and with the log's permissions, and
/// renames it over the log.
fn write_snapshot(log: &Log, temp: &Path, snapshot: &[u8]) -> io::Result<File> {
    match fs::remove_file(temp) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(true)
        .open(temp)?;
    file.lock()?;
    file.set_permissions(log.file.metadata()?.permissions())?;
    file.write_all(snapshot)?;
    if log.settings.durability == Durability::Synced {
        file.sync_data()?;
    }
    fs::rename(temp, &log.path)?;
    Ok(file)
}

/// Flushes the directory holding `path`, so a file created or renamed
/// there survives a power loss.
fn sync_directory(path: &Path) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)?.sync_all()
}

fn io_error(path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        source,
    }
}
