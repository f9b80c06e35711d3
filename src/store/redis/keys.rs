//! [`Keys`]: the names of a store's keys in Redis.

use std::fmt::Write as _;

use crate::store::WindowRef;

/// Key names under one prefix: `{prefix}:halt` for the halt, and
/// `{prefix}:c:{counter}:{bucket}` for each bucket of each counter. The
/// bucket number comes last and is all digits, so a counter name holding
/// `:` cannot make two keys collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Keys {
    prefix: String,
    halt: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
            halt: format!("{prefix}:halt"),
        }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(super) fn halt(&self) -> &str {
        &self.halt
    }

    /// The keys of every bucket in `window`, oldest first: the last is the
    /// bucket the window charges.
    pub(super) fn window<'a>(&'a self, window: &'a WindowRef) -> impl Iterator<Item = String> + 'a {
        let counter = &*window.counter;
        (window.first_bucket()..=window.bucket).map(move |bucket| self.bucket(counter, bucket))
    }

    /// How many buckets `window` spans, as the scripts count them.
    pub(super) fn span(window: &WindowRef) -> u64 {
        window.bucket - window.first_bucket() + 1
    }

    /// A `SCAN MATCH` pattern for every bucket key under the prefix.
    pub(super) fn bucket_pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.prefix.len() + 4);
        for c in self.prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push_str(":c:*");
        pattern
    }

    /// The counter and bucket number of a bucket key, or `None` for a key
    /// that is not one.
    pub(super) fn parse_bucket<'k>(&self, key: &'k str) -> Option<(&'k str, u64)> {
        let rest = key
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(":c:")?;
        let (counter, bucket) = rest.rsplit_once(':')?;
        if bucket.is_empty() || !bucket.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((counter, bucket.parse().ok()?))
    }

    /// The key of one bucket of one counter.
    pub(super) fn bucket(&self, counter: &str, bucket: u64) -> String {
        let mut key = String::with_capacity(self.prefix.len() + counter.len() + 24);
        key.push_str(&self.prefix);
        key.push_str(":c:");
        key.push_str(counter);
        key.push(':');
        // Writing to a String cannot fail.
        let _ = write!(key, "{bucket}");
        key
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_window_names_its_buckets_oldest_first() {
        let keys = Keys::new("fleet");
        let window = WindowRef::rolling(
            Arc::from("agent=a|rolling=60000ms"),
            10,
            3,
            std::time::Duration::ZERO,
        );
        assert_eq!(
            keys.window(&window).collect::<Vec<_>>(),
            [
                "fleet:c:agent=a|rolling=60000ms:8",
                "fleet:c:agent=a|rolling=60000ms:9",
                "fleet:c:agent=a|rolling=60000ms:10",
            ]
        );
        assert_eq!(Keys::span(&window), 3);
        assert_eq!(keys.halt(), "fleet:halt");
    }

    #[test]
    fn bucket_keys_read_back_and_the_scan_pattern_escapes_the_prefix() {
        let keys = Keys::new("a*[b]");
        let key = keys.bucket("agent=x:y|day", 20_417);
        assert_eq!(keys.parse_bucket(&key), Some(("agent=x:y|day", 20_417)));
        assert_eq!(keys.parse_bucket("a*[b]:halt"), None);
        assert_eq!(keys.parse_bucket("a*[b]:c:k:1x"), None);
        assert_eq!(keys.bucket_pattern(), "a\\*\\[b\\]:c:*");
    }

    #[test]
    fn early_buckets_have_shorter_windows() {
        let window = WindowRef::rolling(Arc::from("c"), 1, 61, std::time::Duration::ZERO);
        assert_eq!(Keys::new("p").window(&window).count(), 2);
        assert_eq!(Keys::span(&window), 2);
    }
}
