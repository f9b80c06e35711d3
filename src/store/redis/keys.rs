//! [`Keys`]: the names of a store's keys in Redis.

use std::fmt::Write as _;

use crate::store::WindowRef;

/// Key names under one prefix: `{prefix}:halt` for the halt, and for each
/// bucket of each counter `{prefix}:c:{counter}:{bucket}` (the bucket's
/// hash), `{prefix}:l:…` (its lease set) and `{prefix}:o:…` (its orphaned
/// holds). The bucket number comes last and is all digits, so a counter
/// name holding `:` cannot make two keys collide.
///
/// On Redis Cluster the prefix is written as a hash tag, `{spendguard}:c:…`,
/// so that every key of a reservation, whatever its counters, is in one
/// hash slot and one script can touch them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Keys {
    prefix: String,
    /// The prefix as it starts every key: itself, or as a hash tag.
    base: String,
    halt: String,
}

/// What a key under the prefix holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    /// A bucket's hash of spent and held.
    Bucket,
    /// A bucket's lease set.
    Leases,
    /// A bucket's orphaned holds.
    Orphans,
}

impl KeyKind {
    fn marker(self) -> &'static str {
        match self {
            KeyKind::Bucket => ":c:",
            KeyKind::Leases => ":l:",
            KeyKind::Orphans => ":o:",
        }
    }
}

impl Keys {
    /// Keys under `prefix`; as one hash tag if `cluster`.
    pub(super) fn new(prefix: &str, cluster: bool) -> Self {
        let base = if cluster {
            format!("{{{prefix}}}")
        } else {
            prefix.to_owned()
        };
        Keys {
            prefix: prefix.to_owned(),
            halt: format!("{base}:halt"),
            base,
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

    /// A `SCAN MATCH` pattern for every key of `kind` under the prefix.
    pub(super) fn pattern(&self, kind: KeyKind) -> String {
        let mut pattern = String::with_capacity(self.base.len() + 4);
        for c in self.base.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push_str(kind.marker());
        pattern.push('*');
        pattern
    }

    /// The counter and bucket number of a key of `kind`, or `None` for a
    /// key that is not one.
    pub(super) fn parse<'k>(&self, kind: KeyKind, key: &'k str) -> Option<(&'k str, u64)> {
        let rest = key
            .strip_prefix(self.base.as_str())?
            .strip_prefix(kind.marker())?;
        let (counter, bucket) = rest.rsplit_once(':')?;
        if bucket.is_empty() || !bucket.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((counter, bucket.parse().ok()?))
    }

    /// The key of one bucket of one counter.
    pub(super) fn bucket(&self, counter: &str, bucket: u64) -> String {
        self.key(KeyKind::Bucket, counter, bucket)
    }

    /// The key of `kind` for one bucket of one counter.
    pub(super) fn key(&self, kind: KeyKind, counter: &str, bucket: u64) -> String {
        let mut key = String::with_capacity(self.base.len() + counter.len() + 24);
        key.push_str(&self.base);
        key.push_str(kind.marker());
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
        let keys = Keys::new("fleet", false);
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
        let keys = Keys::new("a*[b]", false);
        let key = keys.bucket("agent=x:y|day", 20_417);
        assert_eq!(
            keys.parse(KeyKind::Bucket, &key),
            Some(("agent=x:y|day", 20_417))
        );
        assert_eq!(keys.parse(KeyKind::Bucket, "a*[b]:halt"), None);
        assert_eq!(keys.parse(KeyKind::Bucket, "a*[b]:c:k:1x"), None);
        assert_eq!(keys.pattern(KeyKind::Bucket), "a\\*\\[b\\]:c:*");
        let leases = keys.key(KeyKind::Leases, "agent=x:y|day", 3);
        assert_eq!(leases, "a*[b]:l:agent=x:y|day:3");
        assert_eq!(keys.parse(KeyKind::Bucket, &leases), None);
        assert_eq!(
            keys.parse(KeyKind::Leases, &leases),
            Some(("agent=x:y|day", 3))
        );
    }

    #[test]
    fn on_a_cluster_every_key_carries_the_prefix_as_its_hash_tag() {
        let keys = Keys::new("fleet", true);
        assert_eq!(keys.halt(), "{fleet}:halt");
        let key = keys.bucket("agent={x}|day", 9);
        assert_eq!(key, "{fleet}:c:agent={x}|day:9");
        assert_eq!(
            keys.parse(KeyKind::Bucket, &key),
            Some(("agent={x}|day", 9))
        );
        assert_eq!(keys.pattern(KeyKind::Orphans), "{fleet}:o:*");
        assert_eq!(keys.prefix(), "fleet");
    }

    #[test]
    fn early_buckets_have_shorter_windows() {
        let window = WindowRef::rolling(Arc::from("c"), 1, 61, std::time::Duration::ZERO);
        assert_eq!(Keys::new("p", false).window(&window).count(), 2);
        assert_eq!(Keys::span(&window), 2);
    }
}
