//! [`NameMemo`]: the answers of recent name lookups, in a fixed number of
//! slots, so that a name asked for again skips the binary search of the
//! compact table.
//!
//! The memo is direct-mapped: a name's hash picks its one slot, and a new
//! name takes the slot over. Its size is fixed when it is made
//! ([`SLOTS`] slots, names up to [`LONGEST_NAME`] bytes; longer names are
//! looked up every time), so a stream of made-up model names costs at most
//! that, however long it runs. The hash is keyed per process, so the names
//! that share a slot cannot be chosen from outside.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use parking_lot::Mutex;

/// How many names the memo holds at most.
pub(crate) const SLOTS: usize = 512;

/// The longest name (in bytes) the memo keeps.
pub(crate) const LONGEST_NAME: usize = 128;

/// One slot: the name it holds, if any, and that name's answer.
type Slot<V> = Mutex<Option<(Box<str>, V)>>;

/// A bounded memo from names to lookup answers (see the module docs).
#[derive(Debug)]
pub(crate) struct NameMemo<V> {
    hasher: RandomState,
    slots: Box<[Slot<V>]>,
}

impl<V: Copy> NameMemo<V> {
    /// An empty memo of [`SLOTS`] slots.
    pub(crate) fn new() -> Self {
        NameMemo {
            hasher: RandomState::new(),
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// The answer for `name`: the memo's if it has one, otherwise `look_up`'s,
    /// which it then keeps (in place of whatever shared its slot).
    pub(crate) fn get_or_look_up(&self, name: &str, look_up: impl FnOnce(&str) -> V) -> V {
        if name.len() > LONGEST_NAME {
            return look_up(name);
        }
        let slot = &self.slots[self.slot_of(name)];
        if let Some((kept, answer)) = &*slot.lock() {
            if **kept == *name {
                return *answer;
            }
        }
        let answer = look_up(name);
        *slot.lock() = Some((name.into(), answer));
        answer
    }

    fn slot_of(&self, name: &str) -> usize {
        // The remainder is below `SLOTS`, so the cast keeps it whole.
        (self.hasher.hash_one(name) % SLOTS as u64) as usize
    }

    /// How many names the memo holds now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.lock().is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_name_asked_for_again_is_answered_from_the_memo() {
        let memo = NameMemo::new();
        let calls = Cell::new(0);
        let look_up = |name: &str| {
            calls.set(calls.get() + 1);
            name.len()
        };
        assert_eq!(memo.get_or_look_up("gpt-4o", look_up), 6);
        assert_eq!(memo.get_or_look_up("gpt-4o", look_up), 6);
        assert_eq!(calls.get(), 1);
        assert_eq!(memo.get_or_look_up("o3", look_up), 2);
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn a_stream_of_new_names_never_grows_it_past_its_slots() {
        let memo = NameMemo::new();
        for n in 0..SLOTS * 8 {
            let name = format!("made-up-model-{n}");
            assert_eq!(memo.get_or_look_up(&name, |name| name.len()), name.len());
        }
        assert!(memo.len() <= SLOTS, "{} names kept", memo.len());
        // Every answer is still the lookup's, whatever it displaced.
        for n in 0..SLOTS * 8 {
            let name = format!("made-up-model-{n}");
            assert_eq!(memo.get_or_look_up(&name, |name| name.len()), name.len());
        }
    }

    #[test]
    fn long_names_are_looked_up_every_time_and_not_kept() {
        let memo = NameMemo::new();
        let long = "x".repeat(LONGEST_NAME + 1);
        let calls = Cell::new(0);
        for _ in 0..3 {
            memo.get_or_look_up(&long, |_| calls.set(calls.get() + 1));
        }
        assert_eq!((calls.get(), memo.len()), (3, 0));
        let longest = "x".repeat(LONGEST_NAME);
        memo.get_or_look_up(&longest, |_| ());
        assert_eq!(memo.len(), 1);
    }
}
