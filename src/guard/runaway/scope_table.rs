//! [`ScopeTable`]: per-scope detector state with a bounded number of scopes.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// How many scopes a detector tracks unless told otherwise.
pub const DEFAULT_MAX_SCOPES: usize = 10_000;

/// Detector state that can tell when it no longer affects any decision.
pub(crate) trait Expiring {
    /// `true` when forgetting this state would change no answer at `now`.
    fn is_idle(&self, now: Duration) -> bool;
}

/// State per scope key, for at most `max` scopes.
///
/// A new scope that finds the table full first clears every idle one;
/// only if all are live does it evict the scope used least recently,
/// which forgets that scope's recent history (a scope that keeps calling
/// is never the one evicted while quieter live scopes remain).
pub(crate) struct ScopeTable<S> {
    entries: HashMap<Box<str>, Tracked<S>>,
    max: usize,
    /// Counts updates, to order scopes by use whatever the clock's grain.
    uses: u64,
}

struct Tracked<S> {
    last_used: u64,
    state: S,
}

impl<S: Expiring> ScopeTable<S> {
    /// An empty table for at most `max` scopes (at least one).
    pub(crate) fn new(max: usize) -> Self {
        ScopeTable {
            entries: HashMap::new(),
            max: max.max(1),
            uses: 0,
        }
    }

    /// The state of `scope`, if it has any, without creating it.
    pub(crate) fn get_mut(&mut self, scope: &str) -> Option<&mut S> {
        self.entries
            .get_mut(scope)
            .map(|tracked| &mut tracked.state)
    }

    /// Runs `f` on the state of `scope`, creating it with `make` on first
    /// sight (the only time the key is copied), and marks it most recently
    /// used; `now` tells which scopes are idle if room must be made.
    pub(crate) fn update<R>(
        &mut self,
        scope: &str,
        now: Duration,
        make: impl FnOnce() -> S,
        f: impl FnOnce(&mut S) -> R,
    ) -> R {
        self.uses += 1;
        if let Some(tracked) = self.entries.get_mut(scope) {
            tracked.last_used = self.uses;
            return f(&mut tracked.state);
        }
        self.make_room(now);
        let mut state = make();
        let result = f(&mut state);
        self.entries.insert(
            scope.into(),
            Tracked {
                last_used: self.uses,
                state,
            },
        );
        result
    }

    /// Forgets `scope`.
    pub(crate) fn remove(&mut self, scope: &str) {
        self.entries.remove(scope);
    }

    /// How many scopes the table holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn make_room(&mut self, now: Duration) {
        if self.entries.len() < self.max {
            return;
        }
        self.entries
            .retain(|_, tracked| !tracked.state.is_idle(now));
        while self.entries.len() >= self.max {
            let stalest = self
                .entries
                .iter()
                .min_by_key(|(_, tracked)| tracked.last_used)
                .map(|(scope, _)| scope.clone());
            match stalest {
                Some(scope) => self.entries.remove(&scope),
                None => break,
            };
        }
    }
}

impl<S> fmt::Debug for ScopeTable<S> {
    /// The counts only: a table may hold thousands of scopes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeTable")
            .field("scopes", &self.entries.len())
            .field("max", &self.max)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live until a given instant.
    struct LiveUntil(Duration);

    impl Expiring for LiveUntil {
        fn is_idle(&self, now: Duration) -> bool {
            self.0 <= now
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn many_distinct_scopes_never_grow_the_table_past_its_bound() {
        let mut table = ScopeTable::new(100);
        for n in 0..100_000u64 {
            let scope = format!("customer={n}");
            table.update(&scope, secs(n), || LiveUntil(secs(u64::MAX)), |_| ());
            assert!(table.len() <= 100);
        }
        assert_eq!(table.len(), 100);
    }

    #[test]
    fn idle_scopes_go_first_then_the_least_recently_seen() {
        let mut table = ScopeTable::new(3);
        table.update("idle", secs(1), || LiveUntil(secs(2)), |_| ());
        table.update("old", secs(2), || LiveUntil(secs(100)), |_| ());
        table.update("busy", secs(3), || LiveUntil(secs(100)), |_| ());
        table.update("new", secs(10), || LiveUntil(secs(100)), |_| ());
        assert!(table.get_mut("idle").is_none());
        assert!(table.get_mut("old").is_some());

        table.update("busy", secs(11), || LiveUntil(secs(100)), |_| ());
        table.update("newer", secs(12), || LiveUntil(secs(100)), |_| ());
        assert!(table.get_mut("old").is_none());
        for kept in ["busy", "new", "newer"] {
            assert!(table.get_mut(kept).is_some(), "{kept} was evicted");
        }
    }

    #[test]
    fn update_creates_once_and_get_never_creates() {
        let mut table = ScopeTable::new(10);
        assert!(table.get_mut("a").is_none());
        assert_eq!(table.len(), 0);
        let made = table.update("a", secs(1), || LiveUntil(secs(5)), |state| state.0);
        assert_eq!(made, secs(5));
        let kept = table.update("a", secs(2), || LiveUntil(secs(9)), |state| state.0);
        assert_eq!(kept, secs(5));
        table.remove("a");
        assert_eq!(table.len(), 0);
    }
}
