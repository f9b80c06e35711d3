//! [`ApiKey`]: a provider credential that never shows itself.

use std::fmt;

/// A provider API key. It is sent in a header marked sensitive and nowhere
/// else: its `Debug` output is redacted, it has no `Display`, and errors
/// that quote a provider's message have the key cut out.
///
/// ```
/// use spendguard::client::ApiKey;
///
/// let key = ApiKey::new("sk-live-abc123");
/// assert_eq!(format!("{key:?}"), "ApiKey(redacted)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// Reads a key from an environment variable, if it is set and not empty.
    pub fn from_env(variable: &str) -> Option<Self> {
        std::env::var(variable)
            .ok()
            .filter(|key| !key.trim().is_empty())
            .map(ApiKey)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key (and of any long run of it a
    /// provider might echo, such as a prefix) replaced by `[redacted]`.
    pub(crate) fn redact(&self, text: &str) -> String {
        const SHORTEST_ECHO: usize = 8;
        let key = self.0.as_str();
        if key.is_empty() {
            return text.to_owned();
        }
        if key.len() < SHORTEST_ECHO {
            return text.replace(key, "[redacted]");
        }
        let mut out = text.replace(key, "[redacted]");
        // Providers echo a key's first characters ("Incorrect API key provided:
        // sk-live-abc1***"): cut any 8-character window of the key that appears.
        let windows: Vec<&str> = key
            .char_indices()
            .filter_map(|(at, _)| key.get(at..at + SHORTEST_ECHO))
            .collect();
        for window in windows {
            if out.contains(window) {
                out = out.replace(window, "[redacted]");
            }
        }
        out
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::new("sk-proj-0123456789abcdef");
        assert!(!format!("{key:?}").contains("0123"));
    }

    #[test]
    fn echoed_keys_and_key_prefixes_are_cut_from_messages() {
        let key = ApiKey::new("sk-proj-0123456789abcdef");
        let message =
            "Incorrect API key provided: sk-proj-0123****cdef. Key sk-proj-0123456789abcdef.";
        let redacted = key.redact(message);
        assert!(!redacted.contains("0123456789"));
        assert!(!redacted.contains("sk-proj-0123"));
        assert!(redacted.starts_with("Incorrect API key provided: "));
    }

    #[test]
    fn short_keys_are_still_redacted() {
        assert_eq!(
            ApiKey::new("abc").redact("key abc used"),
            "key [redacted] used"
        );
        assert_eq!(ApiKey::new("").redact("no key"), "no key");
    }
}
