//! [`RequestFingerprint`]: a stable hash that says two requests are the same.

use std::fmt;

use serde_json::{Map, Value};

/// A stable 64-bit hash of one request: its model and its JSON body.
///
/// Two requests have the same fingerprint when they ask the same model the
/// same thing, whatever order the body's object keys were written in. The
/// hash is FNV-1a over a canonical encoding (keys sorted at every level,
/// every value tagged and length-prefixed), written out here so it is the
/// same in every process, on every platform and with every Rust version: a
/// ledger can store it and compare it later.
///
/// Top-level body fields that may change between retries of one request
/// without changing what the model is asked are left out; see
/// [`RequestFingerprint::IGNORED_FIELDS`].
///
/// The encoding, for anyone recomputing it elsewhere: `m`, then the model;
/// then the body, where a string is `s` and its text, text is its UTF-8
/// length as a little-endian u64 followed by its bytes, `null`, `false` and
/// `true` are `n`, `f` and `t`, a non-negative integer is `u` and a
/// little-endian u64, a negative one `i` and an i64, any other number `d`
/// and its IEEE-754 bits, an array `a`, its length and its items, and an
/// object `o`, its field count and each key (as text) and value in
/// byte-wise key order.
///
/// ```
/// use serde_json::json;
/// use spendguard::guard::runaway::RequestFingerprint;
///
/// let ask = |text: &str, user: &str| json!({
///     "messages": [{"role": "user", "content": text}],
///     "temperature": 0,
///     "user": user,
/// });
/// let first = RequestFingerprint::of("gpt-4o", &ask("Summarise the logs", "u-1"));
/// let retry = RequestFingerprint::of("gpt-4o", &ask("Summarise the logs", "u-2"));
/// let other = RequestFingerprint::of("gpt-4o", &ask("Summarise the diff", "u-1"));
/// assert_eq!(first, retry);
/// assert_ne!(first, other);
/// assert_eq!(first.to_string().len(), 16);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestFingerprint(u64);

impl RequestFingerprint {
    /// Top-level body fields the fingerprint leaves out. They tag the caller
    /// (`user`, `safety_identifier`, `metadata`), hint the provider's cache
    /// (`prompt_cache_key`) or choose how the answer is delivered (`stream`,
    /// `stream_options`); a retry loop may vary them, and none changes what
    /// the model is asked. Everything else counts, including `seed` and
    /// `temperature`: a caller that varies them is sampling on purpose.
    pub const IGNORED_FIELDS: [&'static str; 6] = [
        "metadata",
        "prompt_cache_key",
        "safety_identifier",
        "stream",
        "stream_options",
        "user",
    ];

    /// The fingerprint of a request for `model` with this `body`.
    pub fn of(model: &str, body: &Value) -> Self {
        let mut hash = Fnv1a::new();
        hash.tag(b'm');
        hash.text(model);
        match body {
            Value::Object(fields) => hash.object(fields, |key| {
                RequestFingerprint::IGNORED_FIELDS.contains(&key)
            }),
            other => hash.value(other),
        }
        RequestFingerprint(hash.finish())
    }

    /// The hash as a number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RequestFingerprint {
    /// Sixteen lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// 64-bit FNV-1a over a self-delimiting encoding of JSON values.
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Fnv1a(Self::OFFSET_BASIS)
    }

    fn finish(&self) -> u64 {
        self.0
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(Self::PRIME);
        }
    }

    fn tag(&mut self, tag: u8) {
        self.bytes(&[tag]);
    }

    fn length(&mut self, length: usize) {
        // u64 little-endian, so 32- and 64-bit targets agree.
        self.bytes(&(length as u64).to_le_bytes());
    }

    fn text(&mut self, text: &str) {
        self.length(text.len());
        self.bytes(text.as_bytes());
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.tag(b'n'),
            Value::Bool(false) => self.tag(b'f'),
            Value::Bool(true) => self.tag(b't'),
            Value::Number(number) => {
                if let Some(unsigned) = number.as_u64() {
                    self.tag(b'u');
                    self.bytes(&unsigned.to_le_bytes());
                } else if let Some(signed) = number.as_i64() {
                    self.tag(b'i');
                    self.bytes(&signed.to_le_bytes());
                } else {
                    // Without serde_json's arbitrary_precision every other
                    // number is an f64; with it, its text is what is exact.
                    match number.as_f64() {
                        Some(float) => {
                            self.tag(b'd');
                            self.bytes(&float.to_bits().to_le_bytes());
                        }
                        None => {
                            self.tag(b'x');
                            self.text(&number.to_string());
                        }
                    }
                }
            }
            Value::String(text) => {
                self.tag(b's');
                self.text(text);
            }
            Value::Array(items) => {
                self.tag(b'a');
                self.length(items.len());
                items.iter().for_each(|item| self.value(item));
            }
            Value::Object(fields) => self.object(fields, |_| false),
        }
    }

    /// Hashes an object's fields in key order, leaving out those `skip`
    /// names. serde_json's map is already sorted unless a dependency turned
    /// on its `preserve_order` feature, so sorting allocates only then.
    fn object(&mut self, fields: &Map<String, Value>, skip: impl Fn(&str) -> bool) {
        self.tag(b'o');
        self.length(fields.keys().filter(|key| !skip(key)).count());
        if fields.keys().is_sorted() {
            for (key, value) in fields {
                self.field(key, value, &skip);
            }
        } else {
            let mut sorted: Vec<(&String, &Value)> = fields.iter().collect();
            sorted.sort_unstable_by_key(|(key, _)| *key);
            for (key, value) in sorted {
                self.field(key, value, &skip);
            }
        }
    }

    fn field(&mut self, key: &str, value: &Value, skip: impl Fn(&str) -> bool) {
        if !skip(key) {
            self.text(key);
            self.value(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chat(content: &str) -> Value {
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": content},
            ],
            "max_tokens": 256,
            "temperature": 0.2,
        })
    }

    #[test]
    fn the_hash_never_changes_between_builds() {
        // Pinned: the ledger stores fingerprints, so this value must only
        // change with a deliberate, documented format change.
        let fingerprint = RequestFingerprint::of("gpt-4o", &chat("Summarise the logs"));
        // A Python re-implementation of the documented encoding gives the same.
        assert_eq!(fingerprint.to_string(), "211a9aa4f9747fc0");
        assert_eq!(
            RequestFingerprint::of("", &Value::Null).to_string(),
            format!("{:016x}", {
                let mut hash = Fnv1a::new();
                hash.bytes(b"m\0\0\0\0\0\0\0\0n");
                hash.finish()
            })
        );
    }

    #[test]
    fn fnv1a_matches_its_reference_vectors() {
        let fnv = |input: &[u8]| {
            let mut hash = Fnv1a::new();
            hash.bytes(input);
            hash.finish()
        };
        assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn identical_bodies_match_and_any_change_to_the_ask_does_not() {
        let base = RequestFingerprint::of("gpt-4o", &chat("Summarise the logs"));
        assert_eq!(
            base,
            RequestFingerprint::of("gpt-4o", &chat("Summarise the logs"))
        );
        assert_ne!(
            base,
            RequestFingerprint::of("gpt-4o", &chat("Summarise the log"))
        );
        assert_ne!(
            base,
            RequestFingerprint::of("gpt-4o-mini", &chat("Summarise the logs"))
        );
        let mut hotter = chat("Summarise the logs");
        hotter["temperature"] = json!(0.3);
        assert_ne!(base, RequestFingerprint::of("gpt-4o", &hotter));
        let mut seeded = chat("Summarise the logs");
        seeded["seed"] = json!(7);
        assert_ne!(base, RequestFingerprint::of("gpt-4o", &seeded));
    }

    #[test]
    fn key_order_does_not_matter_at_any_depth() {
        let written = r#"{"b": 1, "a": {"y": [1, 2], "x": null}}"#;
        let reordered = r#"{"a": {"x": null, "y": [1, 2]}, "b": 1}"#;
        let parse = |text| serde_json::from_str::<Value>(text).unwrap();
        assert_eq!(
            RequestFingerprint::of("m", &parse(written)),
            RequestFingerprint::of("m", &parse(reordered))
        );
    }

    #[test]
    fn caller_tags_and_delivery_options_are_ignored_only_at_the_top() {
        let base = RequestFingerprint::of("gpt-4o", &chat("hi"));
        let mut tagged = chat("hi");
        tagged["user"] = json!("retry-2");
        tagged["metadata"] = json!({"attempt": 2});
        tagged["stream"] = json!(true);
        tagged["stream_options"] = json!({"include_usage": true});
        tagged["prompt_cache_key"] = json!("k");
        tagged["safety_identifier"] = json!("s");
        assert_eq!(base, RequestFingerprint::of("gpt-4o", &tagged));

        let mut nested = chat("hi");
        nested["messages"][1]["metadata"] = json!({"attempt": 2});
        assert_ne!(base, RequestFingerprint::of("gpt-4o", &nested));
    }

    #[test]
    fn the_encoding_keeps_boundaries_and_types_apart() {
        let of = |body: Value| RequestFingerprint::of("m", &body);
        assert_ne!(of(json!(["ab", "c"])), of(json!(["a", "bc"])));
        assert_ne!(of(json!({"a": "b"})), of(json!({"ab": ""})));
        assert_ne!(of(json!(1)), of(json!(1.0)));
        assert_ne!(of(json!(1)), of(json!("1")));
        assert_ne!(of(json!(-1)), of(json!(u64::MAX)));
        assert_ne!(of(json!([[]])), of(json!([])));
        assert_ne!(of(json!(null)), of(json!(false)));
        assert_ne!(
            RequestFingerprint::of("ab", &json!("c")),
            RequestFingerprint::of("a", &json!("bc"))
        );
    }
}
