//! Reading the scripts' replies: every value is checked, so a reply the
//! store does not understand is an error, never a panic or a wrong count.

use redis::Value;

use std::sync::Arc;
use std::time::Duration;

use crate::money::Usd;
use crate::store::{Orphan, Settled, WindowUsage};

/// What the reserve script decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ReserveReply {
    /// Every claim is held; each window's usage after its hold.
    Granted(Vec<WindowUsage>),
    /// Claim `claim` did not fit.
    Refused { claim: usize, usage: WindowUsage },
    /// Every claim fits, but claim `claim` does not leave its room.
    NearLimit { claim: usize, usage: WindowUsage },
    /// The halt key holds this value.
    Halted(Vec<u8>),
}

/// A reply that does not say what the store expects: a bucket holding
/// something other than nano-dollars, or an answer of the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BadReply(pub(super) String);

pub(super) fn reserve(reply: &Value, claims: usize) -> Result<ReserveReply, BadReply> {
    let items = array(reply)?;
    corrupt_bucket(items)?;
    match items {
        [tag, rest @ ..] if text(tag) == Some("granted") => {
            let usage = pairs(rest, claims)?
                .map(|(spent, held)| WindowUsage::new(spent, held))
                .collect();
            Ok(ReserveReply::Granted(usage))
        }
        [tag, index, spent, held] if text(tag) == Some("refused") => {
            let claim = claim_index(index, claims, reply)?;
            Ok(ReserveReply::Refused {
                claim,
                usage: WindowUsage::new(nanos(spent)?, nanos(held)?),
            })
        }
        [tag, index, spent, held] if text(tag) == Some("near") => {
            let claim = claim_index(index, claims, reply)?;
            Ok(ReserveReply::NearLimit {
                claim,
                usage: WindowUsage::new(nanos(spent)?, nanos(held)?),
            })
        }
        [tag, halt] if text(tag) == Some("halted") => match halt {
            Value::BulkString(bytes) => Ok(ReserveReply::Halted(bytes.clone())),
            _ => Err(unexpected("a halt that is not a string", reply)),
        },
        _ => Err(unexpected("an unknown answer", reply)),
    }
}

/// The claim a refusal names, which must be one of the `claims`.
fn claim_index(index: &Value, claims: usize, reply: &Value) -> Result<usize, BadReply> {
    match index {
        Value::Int(i) => usize::try_from(*i).ok().filter(|&i| i < claims),
        _ => None,
    }
    .ok_or_else(|| unexpected("a refusal naming no claim", reply))
}

pub(super) fn settled(reply: &Value, settlements: usize) -> Result<Vec<Settled>, BadReply> {
    let items = array(reply)?;
    corrupt_bucket(items)?;
    Ok(pairs(items, settlements)?
        .map(|(before, after)| Settled::new(before, after))
        .collect())
}

pub(super) fn usage(reply: &Value, windows: usize) -> Result<Vec<WindowUsage>, BadReply> {
    let items = array(reply)?;
    corrupt_bucket(items)?;
    Ok(pairs(items, windows)?
        .map(|(spent, held)| WindowUsage::new(spent, held))
        .collect())
}

/// The renew script's answer: whether the lease was live everywhere.
pub(super) fn renewed(reply: &Value) -> Result<bool, BadReply> {
    match reply {
        Value::Int(1) => Ok(true),
        Value::Int(0) => Ok(false),
        _ => {
            corrupt_bucket(array(reply)?)?;
            Err(unexpected("a renewal that is neither 1 nor 0", reply))
        }
    }
}

/// The sweep script's answer: the orphan hash of `counter`'s `bucket`,
/// each field a lease id and each value `amount since expires holder`
/// (milliseconds).
pub(super) fn orphans(reply: &Value, counter: &str, bucket: u64) -> Result<Vec<Orphan>, BadReply> {
    let items = array(reply)?;
    corrupt_bucket(items)?;
    if items.len() % 2 != 0 {
        return Err(unexpected("an orphan list of odd length", reply));
    }
    items
        .chunks_exact(2)
        .map(|pair| {
            let bad = || unexpected("an orphan that is not `amount since expires holder`", reply);
            let lease = text(&pair[0])
                .and_then(|id| id.parse().ok())
                .ok_or_else(bad)?;
            let value = text(&pair[1]).ok_or_else(bad)?;
            let words: Vec<&str> = value.splitn(4, ' ').collect();
            let number = |at: usize| words.get(at).and_then(|w| w.parse::<u64>().ok());
            let (Some(amount), Some(since), Some(expired)) = (number(0), number(1), number(2))
            else {
                return Err(bad());
            };
            Ok(Orphan {
                counter: Arc::from(counter),
                bucket,
                lease,
                holder: Arc::from(words.get(3).copied().unwrap_or("")),
                amount: Usd::from_nanos(amount),
                since: Duration::from_millis(since),
                expired_at: Duration::from_millis(expired),
            })
        })
        .collect()
}

fn array(reply: &Value) -> Result<&[Value], BadReply> {
    match reply {
        Value::Array(items) => Ok(items),
        _ => Err(unexpected("not a list", reply)),
    }
}

/// The scripts' `{'corrupt', key, detail}`.
fn corrupt_bucket(items: &[Value]) -> Result<(), BadReply> {
    match items {
        [tag, key, detail] if text(tag) == Some("corrupt") => Err(BadReply(format!(
            "the key {} is not a spendguard bucket ({})",
            text(key).unwrap_or("?"),
            text(detail).unwrap_or("?")
        ))),
        _ => Ok(()),
    }
}

/// `count` pairs of amounts.
fn pairs(items: &[Value], count: usize) -> Result<impl Iterator<Item = (Usd, Usd)>, BadReply> {
    if items.len() != count * 2 {
        return Err(BadReply(format!(
            "the store answered with {} amounts where {} were expected",
            items.len(),
            count * 2
        )));
    }
    let amounts = items.iter().map(nanos).collect::<Result<Vec<_>, _>>()?;
    Ok((0..count).map(move |i| (amounts[2 * i], amounts[2 * i + 1])))
}

fn nanos(value: &Value) -> Result<Usd, BadReply> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => text(value).and_then(|digits| digits.parse::<u64>().ok()),
    }
    .map(Usd::from_nanos)
    .ok_or_else(|| unexpected("an amount that is not nano-dollars", value))
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

fn unexpected(what: &str, reply: &Value) -> BadReply {
    let mut shown = format!("{reply:?}");
    if shown.len() > 120 {
        let mut end = 120;
        while !shown.is_char_boundary(end) {
            end -= 1;
        }
        shown.truncate(end);
        shown.push('…');
    }
    BadReply(format!("the store answered with {what}: {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn a_grant_carries_each_windows_usage() {
        let reply = Value::Array(vec![bulk("granted"), Value::Int(5), bulk("7")]);
        assert_eq!(
            reserve(&reply, 1),
            Ok(ReserveReply::Granted(vec![WindowUsage::new(
                Usd::from_nanos(5),
                Usd::from_nanos(7)
            )]))
        );
        assert!(reserve(&reply, 2).is_err());
    }

    #[test]
    fn a_refusal_must_name_one_of_the_claims() {
        let refusal = |i| {
            Value::Array(vec![
                bulk("refused"),
                Value::Int(i),
                Value::Int(1),
                Value::Int(2),
            ])
        };
        assert_eq!(
            reserve(&refusal(1), 2),
            Ok(ReserveReply::Refused {
                claim: 1,
                usage: WindowUsage::new(Usd::from_nanos(1), Usd::from_nanos(2))
            })
        );
        assert!(reserve(&refusal(2), 2).is_err());
        assert!(reserve(&refusal(-1), 2).is_err());
    }

    #[test]
    fn a_claim_near_its_limit_is_told_from_a_refusal() {
        let near = |i| {
            Value::Array(vec![
                bulk("near"),
                Value::Int(i),
                Value::Int(3),
                Value::Int(4),
            ])
        };
        assert_eq!(
            reserve(&near(0), 1),
            Ok(ReserveReply::NearLimit {
                claim: 0,
                usage: WindowUsage::new(Usd::from_nanos(3), Usd::from_nanos(4))
            })
        );
        assert!(reserve(&near(1), 1).is_err());
    }

    #[test]
    fn a_corrupt_bucket_is_named() {
        let reply = Value::Array(vec![bulk("corrupt"), bulk("p:c:x:1"), bulk("WRONGTYPE")]);
        let BadReply(detail) = usage(&reply, 1).unwrap_err();
        assert_eq!(
            detail,
            "the key p:c:x:1 is not a spendguard bucket (WRONGTYPE)"
        );
    }

    #[test]
    fn amounts_beyond_u64_negative_or_not_digits_are_errors() {
        for bad in ["18446744073709551616", "-1", "1.5", ""] {
            let reply = Value::Array(vec![bulk(bad), bulk("0")]);
            assert!(settled(&reply, 1).is_err(), "{bad}");
        }
        let negative = Value::Array(vec![Value::Int(-1), Value::Int(0)]);
        assert!(settled(&negative, 1).is_err());
        assert!(settled(&Value::Okay, 0).is_err());
    }

    /// Replies of any shape, tagged like the scripts' and not.
    fn any_reply() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let word = prop_oneof![
            proptest::sample::select(vec!["granted", "refused", "halted", "corrupt", "0", "-1"])
                .prop_map(str::to_owned),
            "[0-9]{1,30}",
            ".{0,6}",
        ];
        let leaf = prop_oneof![
            Just(Value::Nil),
            Just(Value::Okay),
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Double),
            any::<bool>().prop_map(Value::Boolean),
            word.clone().prop_map(|w| Value::BulkString(w.into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::BulkString),
            word.prop_map(Value::SimpleString),
        ];
        leaf.prop_recursive(3, 48, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Set),
                proptest::collection::vec((inner.clone(), inner), 0..3).prop_map(Value::Map),
            ]
        })
    }

    proptest::proptest! {
        /// Every reply is read or is a `BadReply`, never a panic.
        #[test]
        fn any_reply_is_read_or_refused(reply in any_reply(), expected in 0usize..5) {
            let _ = reserve(&reply, expected);
            let _ = settled(&reply, expected);
            let _ = usage(&reply, expected);
        }
    }
}
