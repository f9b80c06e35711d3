//! One line of the file store's log: a record, and the checksum that tells
//! a whole line from a torn or garbled one.
//!
//! A line is `{crc} {payload}\n`, where `crc` is the CRC-32 of the payload
//! in 8 lowercase hex digits and the payload is words separated by single
//! spaces:
//!
//! - `lease-hold id since expires holder`, then for each claim `counter
//!   bucket span expires amount`: a granted reservation under a lease;
//! - `lease-settle`, then for each window `counter bucket span expires held
//!   spent lease`;
//! - `lease-renew id expires`, then for each window `counter bucket span
//!   expires`: a lease moved on;
//! - `lease-expire`, then for each hold `counter bucket lease`: holds whose
//!   lease ran out, billed at their worst case (written by the sweep that
//!   found them, so every process replaying the log bills the same ones);
//! - `hold` and `settle`, as `lease-hold` and `lease-settle` without the
//!   lease: what versions before leases wrote, still read;
//! - `bucket counter bucket expires spent held`: one bucket of a snapshot,
//!   as a compaction writes them; then `lease` or `orphan`, each `counter
//!   bucket id amount since expires holder`, for its live and orphaned
//!   leased holds;
//! - `limit counter span max`: the span and limit a counter's reservations
//!   are checked against, written with the first reservation that uses a
//!   new one and in every snapshot, so `spendguard status` can show how
//!   full a counter is. Versions before it skip these lines as unknown
//!   (they count in `skipped_records`) and lose nothing else.
//!
//! Amounts are nano-dollars; `expires` is nanoseconds since the Unix epoch,
//! or `-` for never. Counter names are percent-encoded (`%`, spaces and
//! control bytes), so no name can split a line or a word.

use std::sync::Arc;
use std::time::Duration;

use crate::money::Usd;
use crate::store::counters::{Counters, Expiry, LeasedHold, Limit, SavedBucket, SavedLease};
use crate::store::file::crc32::crc32;
use crate::store::{Claim, Lease, Settlement, WindowRef, WindowUsage};

/// Words per claim of a `hold` record.
const HOLD_WORDS: usize = 5;
/// Words per window of a `settle` record.
const SETTLE_WORDS: usize = 6;
/// Words before the claims of a `lease-hold` record.
const LEASE_WORDS: usize = 4;
/// Words per window of a `lease-settle` record.
const LEASE_SETTLE_WORDS: usize = 7;
/// Words per window of a `lease-renew` record.
const WINDOW_WORDS: usize = 4;
/// Words per hold of a `lease-expire` record.
const EXPIRE_WORDS: usize = 3;
/// The checksum's hex digits and the space after them.
const CRC_PREFIX: usize = 9;

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Record {
    /// A granted reservation: each amount held in its window, under a
    /// lease unless a version before leases wrote it.
    Hold(Vec<(WindowRef, Usd)>, Option<Lease>),
    /// Holds dropped and spend added.
    Settle(Vec<Settlement>),
    /// A lease's new expiry, in each window it holds.
    Renew(Vec<WindowRef>, Lease),
    /// Holds whose lease ran out, billed at their worst case.
    Expire(Vec<Expiry>),
    /// A bucket's whole state, from a snapshot.
    Bucket(SavedBucket),
    /// A leased hold of a snapshot's bucket.
    Lease(SavedLease),
    /// A counter's span and limit.
    Limit(Arc<str>, Limit),
}

impl Record {
    /// Replays the record.
    pub(super) fn apply(self, counters: &mut Counters) {
        match self {
            Record::Hold(holds, lease) => {
                for (window, amount) in &holds {
                    counters.hold(window, *amount, lease.as_ref());
                }
            }
            Record::Settle(settlements) => {
                counters.settle(&settlements);
            }
            Record::Renew(windows, lease) => {
                counters.renew(&windows, &lease);
            }
            Record::Expire(expired) => {
                for expiry in &expired {
                    counters.orphan(expiry);
                }
            }
            Record::Bucket(saved) => counters.restore(saved),
            Record::Lease(saved) => counters.restore_lease(saved),
            Record::Limit(counter, limit) => counters.remember_limit(&counter, limit),
        }
    }
}

/// The line recording that `claims` were granted under `lease`.
pub(super) fn hold_line(claims: &[Claim], lease: &Lease) -> Vec<u8> {
    line(|out| {
        out.extend_from_slice(b"lease-hold");
        push_number(out, lease.id);
        push_expiry(out, Some(lease.since));
        push_expiry(out, Some(lease.expires_at));
        push_counter(out, &lease.holder);
        for claim in claims {
            push_window(out, &claim.window);
            push_number(out, claim.amount.nanos());
        }
    })
}

/// The line recording `settlements`; a settlement of a hold recorded
/// without a lease says `-` for its lease.
pub(super) fn settle_line(settlements: &[Settlement]) -> Vec<u8> {
    line(|out| {
        out.extend_from_slice(b"lease-settle");
        for s in settlements {
            push_window(out, &s.window);
            push_number(out, s.held.nanos());
            push_number(out, s.spent.nanos());
            match s.lease {
                Some(lease) => push_number(out, lease),
                None => out.extend_from_slice(b" -"),
            }
        }
    })
}

/// The line recording that `lease` now runs out at its `expires_at`.
pub(super) fn renew_line(windows: &[WindowRef], lease: &Lease) -> Vec<u8> {
    line(|out| {
        out.extend_from_slice(b"lease-renew");
        push_number(out, lease.id);
        push_expiry(out, Some(lease.expires_at));
        for window in windows {
            push_window(out, window);
        }
    })
}

/// The line recording that the holds in `expired` were billed.
pub(super) fn expire_line(expired: &[Expiry]) -> Vec<u8> {
    line(|out| {
        out.extend_from_slice(b"lease-expire");
        for expiry in expired {
            push_counter(out, &expiry.counter);
            push_number(out, expiry.bucket);
            push_number(out, expiry.lease);
        }
    })
}

/// Appends the snapshot line of one leased hold to `out`.
pub(super) fn push_lease_line(out: &mut Vec<u8>, saved: &SavedLease) {
    out.extend(line(|out| {
        out.extend_from_slice(if saved.orphaned { b"orphan" } else { b"lease" });
        push_counter(out, &saved.counter);
        push_number(out, saved.bucket);
        push_number(out, saved.hold.lease.id);
        push_number(out, saved.hold.amount.nanos());
        push_expiry(out, Some(saved.hold.lease.since));
        push_expiry(out, Some(saved.hold.lease.expires_at));
        push_counter(out, &saved.hold.lease.holder);
    }));
}

/// Appends the snapshot line of one bucket to `out`.
pub(super) fn push_bucket_line(out: &mut Vec<u8>, saved: &SavedBucket) {
    out.extend(line(|out| {
        out.extend_from_slice(b"bucket");
        push_counter(out, &saved.counter);
        push_number(out, saved.number);
        push_expiry(out, saved.expires_at);
        push_number(out, saved.usage.spent.nanos());
        push_number(out, saved.usage.held.nanos());
    }));
}

/// Appends the line recording `counter`'s span and limit to `out`.
pub(super) fn push_limit_line(out: &mut Vec<u8>, counter: &str, limit: Limit) {
    out.extend(line(|out| {
        out.extend_from_slice(b"limit");
        push_counter(out, counter);
        push_number(out, u64::from(limit.span));
        push_number(out, limit.max.nanos());
    }));
}

/// A checksummed line around the payload `write` appends.
fn line(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"00000000 ");
    write(&mut out);
    let crc = crc32(&out[CRC_PREFIX..]);
    for (i, slot) in out[..8].iter_mut().enumerate() {
        let nibble = (crc >> (28 - 4 * i)) & 0xF;
        *slot = HEX[nibble as usize];
    }
    out.push(b'\n');
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_window(out: &mut Vec<u8>, window: &WindowRef) {
    push_counter(out, &window.counter);
    push_number(out, window.bucket);
    push_number(out, u64::from(window.span));
    push_expiry(out, window.expires_at);
}

/// ` name`, with `%`, spaces, control bytes and DEL as `%XX`.
fn push_counter(out: &mut Vec<u8>, name: &str) {
    out.push(b' ');
    for &byte in name.as_bytes() {
        if byte <= b' ' || byte == b'%' || byte == 0x7F {
            out.extend_from_slice(&[
                b'%',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xF)],
            ]);
        } else {
            out.push(byte);
        }
    }
}

/// ` nanos`, or ` -` for never. An expiry past the year 2554 is written
/// as then, which is never in practice.
fn push_expiry(out: &mut Vec<u8>, at: Option<Duration>) {
    match at {
        None => out.extend_from_slice(b" -"),
        Some(at) => push_number(out, u64::try_from(at.as_nanos()).unwrap_or(u64::MAX)),
    }
}

/// ` n` in decimal.
fn push_number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push(b' ');
    out.extend_from_slice(&digits[at..]);
}

/// The record on `line` (without its newline), or `None` if the line is
/// torn, garbled, fails its checksum or is not a record this version knows.
pub(super) fn parse(line: &[u8]) -> Option<Record> {
    let (crc, payload) = line.split_at_checked(CRC_PREFIX)?;
    if crc[8] != b' ' || parse_hex(&crc[..8])? != crc32(payload) {
        return None;
    }
    let mut words = payload.split(|&b| b == b' ');
    let kind = words.next()?;
    let words: Vec<&[u8]> = words.collect();
    match kind {
        b"lease-hold" => parse_leased_hold(&words),
        b"lease-settle" => parse_leased_settle(&words),
        b"lease-renew" => parse_renew(&words),
        b"lease-expire" => parse_expire(&words),
        b"hold" => parse_hold(&words),
        b"settle" => parse_settle(&words),
        b"bucket" => parse_bucket(&words),
        b"lease" => parse_lease(&words, false),
        b"orphan" => parse_lease(&words, true),
        b"limit" => parse_limit(&words),
        _ => None,
    }
}

fn parse_hold(words: &[&[u8]]) -> Option<Record> {
    Some(Record::Hold(parse_claims(words)?, None))
}

fn parse_claims(words: &[&[u8]]) -> Option<Vec<(WindowRef, Usd)>> {
    if words.is_empty() || !words.len().is_multiple_of(HOLD_WORDS) {
        return None;
    }
    words
        .chunks_exact(HOLD_WORDS)
        .map(|claim| Some((parse_window(&claim[..4])?, parse_usd(claim[4])?)))
        .collect()
}

fn parse_leased_hold(words: &[&[u8]]) -> Option<Record> {
    let (head, claims) = words.split_at_checked(LEASE_WORDS)?;
    let [id, since, expires, holder] = head else {
        return None;
    };
    let lease = Lease::new(
        parse_number(id)?,
        parse_counter(holder)?,
        parse_expiry(since)??,
        parse_expiry(expires)??,
    );
    Some(Record::Hold(parse_claims(claims)?, Some(lease)))
}

fn parse_leased_settle(words: &[&[u8]]) -> Option<Record> {
    if words.is_empty() || !words.len().is_multiple_of(LEASE_SETTLE_WORDS) {
        return None;
    }
    words
        .chunks_exact(LEASE_SETTLE_WORDS)
        .map(|s| {
            let lease = match s[6] {
                b"-" => None,
                id => Some(parse_number(id)?),
            };
            Some(Settlement {
                lease,
                ..Settlement::new(
                    parse_window(&s[..4])?,
                    parse_usd(s[4])?,
                    parse_usd(s[5])?,
                    0,
                    0,
                )
            })
        })
        .collect::<Option<Vec<_>>>()
        .map(Record::Settle)
}

fn parse_renew(words: &[&[u8]]) -> Option<Record> {
    let [id, expires, windows @ ..] = words else {
        return None;
    };
    if windows.is_empty() || !windows.len().is_multiple_of(WINDOW_WORDS) {
        return None;
    }
    let windows = windows
        .chunks_exact(WINDOW_WORDS)
        .map(parse_window)
        .collect::<Option<Vec<_>>>()?;
    let lease = Lease::new(
        parse_number(id)?,
        Arc::from(""),
        Duration::ZERO,
        parse_expiry(expires)??,
    );
    Some(Record::Renew(windows, lease))
}

fn parse_expire(words: &[&[u8]]) -> Option<Record> {
    if words.is_empty() || !words.len().is_multiple_of(EXPIRE_WORDS) {
        return None;
    }
    words
        .chunks_exact(EXPIRE_WORDS)
        .map(|e| {
            Some(Expiry {
                counter: parse_counter(e[0])?,
                bucket: parse_number(e[1])?,
                lease: parse_number(e[2])?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .map(Record::Expire)
}

fn parse_lease(words: &[&[u8]], orphaned: bool) -> Option<Record> {
    let [counter, bucket, id, amount, since, expires, holder] = words else {
        return None;
    };
    let lease = Lease::new(
        parse_number(id)?,
        parse_counter(holder)?,
        parse_expiry(since)??,
        parse_expiry(expires)??,
    );
    Some(Record::Lease(SavedLease {
        counter: parse_counter(counter)?,
        bucket: parse_number(bucket)?,
        orphaned,
        hold: LeasedHold {
            lease,
            amount: parse_usd(amount)?,
        },
    }))
}

fn parse_settle(words: &[&[u8]]) -> Option<Record> {
    if words.is_empty() || !words.len().is_multiple_of(SETTLE_WORDS) {
        return None;
    }
    words
        .chunks_exact(SETTLE_WORDS)
        .map(|s| {
            Some(Settlement {
                lease: None,
                ..Settlement::new(
                    parse_window(&s[..4])?,
                    parse_usd(s[4])?,
                    parse_usd(s[5])?,
                    0,
                    0,
                )
            })
        })
        .collect::<Option<Vec<_>>>()
        .map(Record::Settle)
}

fn parse_bucket(words: &[&[u8]]) -> Option<Record> {
    let [counter, number, expires, spent, held] = words else {
        return None;
    };
    Some(Record::Bucket(SavedBucket {
        counter: parse_counter(counter)?,
        number: parse_number(number)?,
        usage: WindowUsage::new(parse_usd(spent)?, parse_usd(held)?),
        expires_at: parse_expiry(expires)?,
    }))
}

fn parse_limit(words: &[&[u8]]) -> Option<Record> {
    let [counter, span, max] = words else {
        return None;
    };
    let limit = Limit {
        span: u32::try_from(parse_number(span)?).ok()?.max(1),
        max: parse_usd(max)?,
    };
    Some(Record::Limit(parse_counter(counter)?, limit))
}

/// `counter bucket span expires`.
fn parse_window(words: &[&[u8]]) -> Option<WindowRef> {
    let [counter, bucket, span, expires] = words else {
        return None;
    };
    Some(WindowRef {
        counter: parse_counter(counter)?,
        bucket: parse_number(bucket)?,
        span: u32::try_from(parse_number(span)?).ok()?.max(1),
        expires_at: parse_expiry(expires)?,
    })
}

fn parse_counter(word: &[u8]) -> Option<Arc<str>> {
    let mut name = Vec::with_capacity(word.len());
    let mut bytes = word.iter();
    while let Some(&byte) = bytes.next() {
        if byte == b'%' {
            let high = hex_digit(*bytes.next()?)?;
            let low = hex_digit(*bytes.next()?)?;
            name.push(high << 4 | low);
        } else {
            name.push(byte);
        }
    }
    String::from_utf8(name).ok().map(Arc::from)
}

/// `Some(None)` for `-`, `Some(Some(at))` for nanoseconds, `None` for
/// anything else.
fn parse_expiry(word: &[u8]) -> Option<Option<Duration>> {
    if word == b"-" {
        return Some(None);
    }
    parse_number(word).map(|nanos| Some(Duration::from_nanos(nanos)))
}

fn parse_usd(word: &[u8]) -> Option<Usd> {
    parse_number(word).map(Usd::from_nanos)
}

/// Plain decimal digits, at least one, no sign, no overflow.
fn parse_number(word: &[u8]) -> Option<u64> {
    if word.is_empty() {
        return None;
    }
    word.iter().try_fold(0u64, |n, &byte| {
        let digit = byte.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn parse_hex(word: &[u8]) -> Option<u32> {
    word.iter()
        .try_fold(0u32, |n, &byte| Some(n << 4 | u32::from(hex_digit(byte)?)))
}

/// A lowercase or uppercase hex digit's value.
fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(counter: &str) -> WindowRef {
        WindowRef::rolling(
            Arc::from(counter),
            29_926_800,
            61,
            Duration::from_secs(1_795_611_660),
        )
    }

    fn lease() -> Lease {
        Lease::new(
            u64::MAX,
            Arc::from("host a/41 %"),
            Duration::from_secs(1_795_000_000),
            Duration::from_secs(1_795_000_900),
        )
    }

    fn without_newline(mut line: Vec<u8>) -> Vec<u8> {
        assert_eq!(line.pop(), Some(b'\n'));
        line
    }

    #[test]
    fn records_read_back_as_written_even_with_awkward_counter_names() {
        let awkward = "agent=night shift%|day\n\u{7f}é";
        let claims = [
            Claim::new(window(awkward), Usd::from_cents(100), Usd::from_nanos(1)),
            Claim::new(
                WindowRef::calendar(Arc::from("global|all"), 0, None),
                Usd::from_cents(500),
                Usd::from_nanos(u64::MAX),
            ),
        ];
        let line = without_newline(hold_line(&claims, &lease()));
        assert!(!line.contains(&b'\n'));
        assert_eq!(
            parse(&line),
            Some(Record::Hold(
                claims
                    .iter()
                    .map(|c| (c.window.clone(), c.amount))
                    .collect(),
                Some(lease())
            ))
        );

        let mut unleased = Settlement::new(window("k"), Usd::from_cents(1), Usd::ZERO, 0, 0);
        unleased.lease = None;
        let settlements = [
            Settlement::new(
                window(awkward),
                Usd::from_cents(3),
                Usd::from_cents(2),
                0,
                9,
            ),
            unleased,
        ];
        let line = without_newline(settle_line(&settlements));
        assert_eq!(parse(&line), Some(Record::Settle(settlements.to_vec())));

        let windows = [window(awkward), window("k")];
        let line = without_newline(renew_line(&windows, &lease()));
        let renewed = Lease::new(u64::MAX, Arc::from(""), Duration::ZERO, lease().expires_at);
        assert_eq!(parse(&line), Some(Record::Renew(windows.to_vec(), renewed)));

        let expired = [Expiry {
            counter: Arc::from(awkward),
            bucket: 3,
            lease: 12,
        }];
        let line = without_newline(expire_line(&expired));
        assert_eq!(parse(&line), Some(Record::Expire(expired.to_vec())));

        for orphaned in [false, true] {
            let saved = SavedLease {
                counter: Arc::from(awkward),
                bucket: 7,
                orphaned,
                hold: LeasedHold {
                    lease: lease(),
                    amount: Usd::from_cents(5),
                },
            };
            let mut line = Vec::new();
            push_lease_line(&mut line, &saved);
            assert_eq!(parse(&without_newline(line)), Some(Record::Lease(saved)));
        }

        let saved = SavedBucket {
            counter: Arc::from(awkward),
            number: 7,
            usage: WindowUsage::new(Usd::from_cents(4), Usd::from_cents(5)),
            expires_at: None,
        };
        let mut line = Vec::new();
        push_bucket_line(&mut line, &saved);
        assert_eq!(parse(&without_newline(line)), Some(Record::Bucket(saved)));

        let limit = Limit {
            span: 61,
            max: Usd::from_cents(5_000),
        };
        let mut line = Vec::new();
        push_limit_line(&mut line, awkward, limit);
        assert_eq!(
            parse(&without_newline(line)),
            Some(Record::Limit(Arc::from(awkward), limit))
        );
    }

    #[test]
    fn records_of_versions_before_leases_still_read() {
        let hold = line_of(b"hold k 3 1 - 500");
        let window = WindowRef::calendar(Arc::from("k"), 3, None);
        assert_eq!(
            parse(&hold),
            Some(Record::Hold(
                vec![(window.clone(), Usd::from_nanos(500))],
                None
            ))
        );
        let settle = line_of(b"settle k 3 1 - 500 200");
        let Some(Record::Settle(settled)) = parse(&settle) else {
            panic!("an old settle line reads");
        };
        assert_eq!(settled[0].lease, None);
        assert_eq!(settled[0].spent, Usd::from_nanos(200));
    }

    #[test]
    fn a_changed_byte_fails_the_checksum() {
        let line = without_newline(settle_line(&[Settlement::new(
            window("k|day"),
            Usd::from_cents(30),
            Usd::from_cents(20),
            0,
            1,
        )]));
        assert!(parse(&line).is_some());
        let text = String::from_utf8(line).unwrap();
        let forged = text.replacen(" 200000000", " 100000000", 1);
        assert_ne!(forged, text);
        assert_eq!(parse(forged.as_bytes()), None);
    }

    #[test]
    fn torn_garbled_and_unknown_lines_are_not_records() {
        let line = without_newline(hold_line(
            &[Claim::new(
                window("k"),
                Usd::from_cents(1),
                Usd::from_cents(1),
            )],
            &lease(),
        ));
        for cut in 0..line.len() {
            assert_eq!(parse(&line[..cut]), None, "cut at {cut}");
        }
        let unknown = line_of(b"refund k 1");
        assert_eq!(parse(&unknown), None);
        let short = line_of(b"hold k 1 1 -");
        assert_eq!(parse(&short), None);
        let signed = line_of(b"bucket k +1 - 1 1");
        assert_eq!(parse(&signed), None);
        let overflow = line_of(b"bucket k 18446744073709551616 - 1 1");
        assert_eq!(parse(&overflow), None);
        let bad_escape = line_of(b"bucket k%4 1 - 1 1");
        assert_eq!(parse(&bad_escape), None);
        assert_eq!(parse(b"\xff\xfe garbage"), None);
        assert_eq!(parse(b""), None);
    }

    /// A correctly checksummed line around `payload`.
    fn line_of(payload: &[u8]) -> Vec<u8> {
        without_newline(line(|out| out.extend_from_slice(payload)))
    }

    /// Valid lines of every kind, for the property tests to mutate.
    fn samples() -> Vec<Vec<u8>> {
        let claims = [
            Claim::new(
                window("agent=a b|day"),
                Usd::from_cents(100),
                Usd::from_nanos(7),
            ),
            Claim::new(
                WindowRef::calendar(Arc::from("global|all"), 0, None),
                Usd::from_cents(500),
                Usd::from_nanos(u64::MAX),
            ),
        ];
        let lease = Lease::new(
            7,
            Arc::from("host/42"),
            Duration::from_secs(1_795_611_000),
            Duration::from_secs(1_795_611_900),
        );
        let settlements = [Settlement::new(
            window("g|day"),
            Usd::from_nanos(9),
            Usd::from_nanos(4),
            0,
            lease.id,
        )];
        let saved = SavedBucket {
            counter: Arc::from("g|day"),
            number: 29_926_800,
            usage: WindowUsage::new(Usd::from_nanos(3), Usd::from_nanos(5)),
            expires_at: Some(Duration::from_secs(1_795_611_660)),
        };
        let mut bucket = Vec::new();
        push_bucket_line(&mut bucket, &saved);
        let mut limit = Vec::new();
        push_limit_line(
            &mut limit,
            "g|day",
            Limit {
                span: 61,
                max: Usd::from_cents(100),
            },
        );
        let renew = renew_line(&[window("g|day")], &lease);
        vec![
            hold_line(&claims, &lease),
            settle_line(&settlements),
            renew,
            bucket,
            limit,
        ]
    }

    /// `line` (newline dropped) with its checksum made right again, so the
    /// payload's own parser is reached.
    fn with_checksum(line: &[u8]) -> Vec<u8> {
        let payload = line.get(CRC_PREFIX..).unwrap_or_default();
        let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
        let mut fixed = format!("{:08x} ", crc32(payload)).into_bytes();
        fixed.extend_from_slice(payload);
        fixed
    }

    proptest::proptest! {
        /// A record or nothing, never a panic; and a record replays into
        /// the counters without one, however large its numbers.
        #[test]
        fn any_line_is_a_record_or_skipped(
            line in crate::mutated::bytes(&samples().iter().map(Vec::as_slice).collect::<Vec<_>>()),
            expired_at in proptest::prelude::any::<u64>(),
        ) {
            let mut counters = Counters::default();
            for line in [line.clone(), with_checksum(&line)] {
                if let Some(record) = parse(line.strip_suffix(b"\n").unwrap_or(&line)) {
                    record.apply(&mut counters);
                }
            }
            let _ = counters.summaries();
            let _ = counters.saved().count();
            counters.forget_expired(Duration::from_nanos(expired_at));
        }
    }
}
