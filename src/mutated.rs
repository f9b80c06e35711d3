//! Outside bytes for the property tests of every reader of them: arbitrary
//! bytes and JSON, and valid samples mutated the ways real corruption and
//! hostile servers mutate them (flipped bytes, cuts, splices, numbers too
//! large for any integer, nesting deeper than any parser's limit).

use proptest::prelude::*;
use serde_json::Value;

/// Bytes no reader should trust: arbitrary, or one of `samples` mutated.
pub(crate) fn bytes(samples: &[&[u8]]) -> impl Strategy<Value = Vec<u8>> {
    let samples: Vec<Vec<u8>> = samples.iter().map(|s| s.to_vec()).collect();
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..256),
        4 => mutated(samples),
    ]
}

/// JSON values no reader should trust: arbitrary, or a sample mutated (a
/// mutation that is no longer JSON arrives as the string of its bytes).
pub(crate) fn json(samples: &[&str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => arbitrary_json(),
        3 => bytes(&samples.iter().map(|s| s.as_bytes()).collect::<Vec<_>>()).prop_map(|bytes| {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }),
    ]
}

/// One of `samples` with one to four mutations applied in turn.
fn mutated(samples: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let count = samples.len();
    (0..count, proptest::collection::vec(mutation(), 1..5)).prop_map(move |(index, mutations)| {
        let mut bytes = samples[index].clone();
        for mutation in mutations {
            mutation.apply(&mut bytes);
        }
        bytes
    })
}

/// One change to a byte string; positions are taken modulo its length.
#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        bits: u8,
    },
    Truncate {
        at: usize,
    },
    Splice {
        at: usize,
        cut: usize,
        insert: Vec<u8>,
    },
    Duplicate {
        at: usize,
        len: usize,
    },
    HugeNumber {
        at: usize,
        digits: usize,
        negative: bool,
    },
    Nest {
        depth: usize,
        open: u8,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let splice_bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..16),
        proptest::sample::select(vec![
            b"null".to_vec(),
            b"-1".to_vec(),
            b"1e400".to_vec(),
            b"18446744073709551616".to_vec(),
            b"\"\\ud800\"".to_vec(),
            b"{}".to_vec(),
            b"[]".to_vec(),
            b"\n".to_vec(),
            b"\r\n\r\n".to_vec(),
            b"data: ".to_vec(),
            b"%".to_vec(),
        ]),
    ];
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 0..8usize, splice_bytes).prop_map(|(at, cut, insert)| Mutation::Splice {
            at,
            cut,
            insert
        }),
        (any::<usize>(), 1..64usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        (any::<usize>(), 20..400usize, any::<bool>()).prop_map(|(at, digits, negative)| {
            Mutation::HugeNumber {
                at,
                digits,
                negative,
            }
        }),
        (1..2_000usize, proptest::sample::select(vec![b'[', b'{']))
            .prop_map(|(depth, open)| Mutation::Nest { depth, open }),
    ]
}

impl Mutation {
    fn apply(self, bytes: &mut Vec<u8>) {
        let at = |n: usize, len: usize| if len == 0 { 0 } else { n % (len + 1) };
        match self {
            Mutation::Flip { at: n, bits } => {
                if !bytes.is_empty() {
                    let i = n % bytes.len();
                    bytes[i] ^= bits;
                }
            }
            Mutation::Truncate { at: n } => bytes.truncate(at(n, bytes.len())),
            Mutation::Splice { at: n, cut, insert } => {
                let start = at(n, bytes.len());
                let end = (start + cut).min(bytes.len());
                bytes.splice(start..end, insert);
            }
            Mutation::Duplicate { at: n, len } => {
                let start = at(n, bytes.len());
                let end = (start + len).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Mutation::HugeNumber {
                at: n,
                digits,
                negative,
            } => {
                // Replaces the digit run at or after `at` (or inserts one).
                let start = at(n, bytes.len());
                let from = bytes[start..]
                    .iter()
                    .position(u8::is_ascii_digit)
                    .map_or(start, |i| start + i);
                let end = bytes[from..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map_or(bytes.len(), |i| from + i);
                let mut number = if negative { b"-".to_vec() } else { Vec::new() };
                number.extend(std::iter::repeat_n(b'9', digits));
                bytes.splice(from..end, number);
            }
            Mutation::Nest { depth, open } => {
                let close = if open == b'[' { b']' } else { b'}' };
                let mut nested = vec![open; depth];
                if open == b'{' {
                    nested = b"{\"a\":".repeat(depth);
                }
                nested.append(bytes);
                nested.extend(std::iter::repeat_n(close, depth));
                *bytes = nested;
            }
        }
    }
}

/// Arbitrary JSON, a few levels deep, with numbers of every size.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number,
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("usage".to_owned()),
                    Just("input_tokens".to_owned()),
                    Just("prompt_tokens".to_owned()),
                    Just("usageMetadata".to_owned()),
                    "[a-z_]{1,12}"
                ],
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}
