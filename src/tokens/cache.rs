//! [`CountCache`]: message counts remembered across requests, so a client
//! that resends a growing history tokenizes only what is new.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use parking_lot::Mutex;

use super::count::RawCount;
use super::encoding::Encoding;
use super::measure::Measure;
use super::message::Message;

/// Entries kept when none is configured: the messages of a few long agent
/// conversations.
const DEFAULT_CAPACITY: usize = 16_384;

/// Token counts of messages already seen, shared by every request counted
/// through it.
///
/// An agent resends its whole history with every call: counting a
/// 100k-token history from scratch takes milliseconds, counting the one new
/// message takes microseconds. Each message is remembered by a 64-bit hash
/// of its role, name and content together with the encoding and image
/// estimate it was counted with, so a count is only reused for the same
/// message counted the same way. When the cache is full it starts afresh,
/// which costs one full count and bounds its memory.
///
/// ```
/// use serde_json::json;
/// use spendguard::tokens::{CountCache, TokenCounter};
///
/// let counter = TokenCounter::new();
/// let cache = CountCache::new();
/// let mut body = json!({"messages": [{"role": "user", "content": "Plan the migration."}]});
/// let first = counter.count_request_cached("gpt-4o", &body, &cache)?;
/// assert_eq!(first, counter.count_request("gpt-4o", &body)?);
///
/// body["messages"].as_array_mut().unwrap().push(json!({"role": "assistant", "content": "Step one."}));
/// let second = counter.count_request_cached("gpt-4o", &body, &cache)?;
/// assert_eq!(second, counter.count_request("gpt-4o", &body)?);
/// assert_eq!(cache.len(), 2, "only the new message was counted");
/// # Ok::<(), spendguard::tokens::RequestShapeError>(())
/// ```
#[derive(Debug)]
pub struct CountCache {
    entries: Mutex<HashMap<Key, RawCount>>,
    capacity: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    encoding: Encoding,
    image_tokens: u64,
    message: u64,
}

impl CountCache {
    /// A cache of up to 16,384 messages.
    pub fn new() -> Self {
        CountCache::with_capacity(DEFAULT_CAPACITY)
    }

    /// A cache of up to `capacity` messages (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        CountCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Messages remembered now.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// `true` when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The summed raw counts of `messages`, counting only those not seen
    /// before. The lock is never held while tokenizing.
    pub(crate) fn raw_count(
        &self,
        messages: &[Message],
        encoding: Encoding,
        image_tokens: u64,
    ) -> RawCount {
        let keys: Vec<Key> = messages
            .iter()
            .map(|message| Key {
                encoding,
                image_tokens,
                message: hash_of(message),
            })
            .collect();
        let known: Vec<Option<RawCount>> = {
            let entries = self.entries.lock();
            keys.iter().map(|key| entries.get(key).copied()).collect()
        };
        let mut total = RawCount::ZERO;
        let mut fresh = Vec::new();
        for ((message, key), known) in messages.iter().zip(&keys).zip(known) {
            let count = known.unwrap_or_else(|| {
                let count = message.raw_count(Measure::Tokens(encoding), image_tokens);
                fresh.push((*key, count));
                count
            });
            total += count;
        }
        if !fresh.is_empty() {
            let mut entries = self.entries.lock();
            if entries.len() + fresh.len() > self.capacity {
                entries.clear();
            }
            entries.extend(fresh.into_iter().take(self.capacity));
        }
        total
    }
}

impl Default for CountCache {
    fn default() -> Self {
        CountCache::new()
    }
}

fn hash_of(message: &Message) -> u64 {
    let mut hasher = DefaultHasher::new();
    message.hash(&mut hasher);
    hasher.finish()
}
