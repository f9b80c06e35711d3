//! [`MemoryStore`]: counters in this process, the default store.

use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::halt::{Halt, KillSwitch};
use crate::store::counters::Counters;
use crate::store::{
    Claim, CounterSummary, HaltFile, HaltFlag, Lease, Orphan, Reserved, Settled, Settlement,
    SpendStore, StoreError, WindowRef, WindowUsage,
};

/// Shared limits for one process: every task and client holding the same
/// guard shares these counters. A reservation is one short lock and no I/O.
///
/// Its halt is in-process; [`with_halt_file`](MemoryStore::with_halt_file)
/// adds a [`HaltFile`] so that `spendguard halt --flag PATH` (or `touch
/// PATH`) from another terminal halts this process too, and a halt through
/// this store writes the file, halting the other processes watching it.
///
/// ```
/// use spendguard::store::MemoryStore;
///
/// let store = MemoryStore::new().with_halt_file("/run/spendguard/HALT");
/// # let _ = store;
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    counters: Mutex<Counters>,
    /// The in-process halt.
    switch: KillSwitch,
    halt_file: Option<HaltFile>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Also halts while a file exists at `path`.
    pub fn with_halt_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.halt_file = Some(HaltFile::new(path));
        self
    }

    fn current_halt(&self) -> Result<Option<Halt>, StoreError> {
        if let Err(halt) = self.switch.check() {
            return Ok(Some(halt));
        }
        match &self.halt_file {
            Some(file) => file.read(),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl SpendStore for MemoryStore {
    async fn reserve(
        &self,
        claims: &[Claim],
        lease: &Lease,
        now: Duration,
    ) -> Result<Reserved, StoreError> {
        if let Some(halt) = self.current_halt()? {
            return Ok(Reserved::Halted(halt));
        }
        Ok(self.counters.lock().reserve(claims, lease, now))
    }

    async fn renew(
        &self,
        windows: &[WindowRef],
        lease: &Lease,
        now: Duration,
    ) -> Result<bool, StoreError> {
        let mut counters = self.counters.lock();
        for expiry in counters.expired_in(windows.iter(), now) {
            counters.orphan(&expiry);
        }
        Ok(counters.renew(windows, lease))
    }

    async fn orphans(&self, now: Duration) -> Result<Vec<Orphan>, StoreError> {
        let mut counters = self.counters.lock();
        for expiry in counters.expired_everywhere(now) {
            counters.orphan(&expiry);
        }
        Ok(counters.orphans())
    }

    async fn settle(
        &self,
        settlements: &[Settlement],
        _now: Duration,
    ) -> Result<Vec<Settled>, StoreError> {
        Ok(self.counters.lock().settle(settlements))
    }

    async fn usage(&self, windows: &[WindowRef]) -> Result<Vec<WindowUsage>, StoreError> {
        Ok(self.counters.lock().usage(windows))
    }

    async fn counters(&self) -> Result<Vec<CounterSummary>, StoreError> {
        Ok(self.counters.lock().summaries())
    }
}

#[async_trait]
impl HaltFlag for MemoryStore {
    async fn halt(&self, halt: &Halt) -> Result<(), StoreError> {
        if let Some(file) = &self.halt_file {
            file.write(halt)?;
        }
        self.switch.replace_with(halt.clone());
        Ok(())
    }

    async fn resume(&self) -> Result<Option<Halt>, StoreError> {
        let mut lifted = self.switch.resume();
        if let Some(file) = &self.halt_file {
            lifted = file.remove()?.or(lifted);
        }
        Ok(lifted)
    }

    async fn halted(&self) -> Result<Option<Halt>, StoreError> {
        self.current_halt()
    }

    fn halted_now(&self) -> Option<Halt> {
        self.current_halt().unwrap_or_else(|error| {
            // A halt file that exists but cannot be read still halts.
            Some(Halt::new("unknown", error.to_string()))
        })
    }
}
