//! A decoder for server-sent events (`text/event-stream`), fed the body in
//! whatever pieces the network delivers.
//!
//! It follows the [WHATWG event-stream rules] for the fields LLM APIs use:
//! lines end in `\n`, `\r\n` or `\r`, even when the two bytes of a `\r\n` come
//! in different chunks; a line starting with `:` is a comment (keep-alives);
//! `event:` names the event; `data:` lines are joined with `\n`; one space
//! after the colon is dropped; a blank line dispatches the event, and an
//! event without `data` is not dispatched. `id:` and `retry:` matter only to
//! a browser reconnecting, and are skipped. An event left unfinished when the
//! body ends is not dispatched; [`SseDecoder::has_partial_event`] says
//! whether there was one.
//!
//! A hand-written decoder rather than the `eventsource-stream` crate: the
//! rules above fit in a page, and owning the buffer lets each event's data be
//! lent out and parsed in place, where the crate's events own their data as
//! a `String` (a copy and an allocation per event) and it brings `nom` 7,
//! which nothing else here uses. Lines are found with `memchr`, as that
//! crate's maintained fork does.
//!
//! [WHATWG event-stream rules]: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

/// One dispatched event, borrowed from the decoder until the next call.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SseEvent<'a> {
    /// The `event:` field, if the event had one.
    pub(crate) event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub(crate) data: &'a [u8],
}

/// Turns body bytes into events; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    /// Bytes received and not yet read, from `read` on.
    buf: Vec<u8>,
    read: usize,
    /// Bytes from `read` on already searched for a line end, in vain: a
    /// long line arriving in small pieces is searched once, not once per
    /// piece.
    scanned: usize,
    /// Bytes dropped from the front of `buf` so far: with `read`, where the
    /// body has been read up to (see [`SseDecoder::consumed`]).
    #[cfg(feature = "exchange")]
    dropped: u64,
    /// The last line ended in `\r` at the very end of the bytes so far: a
    /// `\n` at the start of the next chunk completes it.
    after_cr: bool,
    /// Whether the start of the body has been checked for a byte-order mark.
    started: bool,
    event: Option<String>,
    data: Vec<u8>,
    has_data: bool,
    /// `data` was lent out by the last call and is cleared on the next.
    lent: bool,
}

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// The most one event may take, its unfinished line and its data together,
/// before the body is given up as no event stream the guard can read: far
/// above any provider's event, and a bound on the memory a body can take.
pub(crate) const MAX_EVENT_BYTES: usize = 16 << 20;

impl SseDecoder {
    /// A decoder at the start of a body.
    pub(crate) fn new() -> Self {
        SseDecoder::default()
    }

    /// Appends the next piece of the body.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.read > 0 {
            #[cfg(feature = "exchange")]
            {
                self.dropped += self.read as u64;
            }
            // What is left is at most one unfinished line.
            self.buf.drain(..self.read);
            self.read = 0;
        }
        self.buf.extend_from_slice(bytes);
        if !self.started && self.buf.len() >= BYTE_ORDER_MARK.len() {
            self.started = true;
            if self.buf.starts_with(BYTE_ORDER_MARK) {
                self.read = BYTE_ORDER_MARK.len();
                self.scanned = 0;
            }
        }
    }

    /// The next complete event in the bytes pushed so far, if there is one.
    pub(crate) fn next_event(&mut self) -> Option<SseEvent<'_>> {
        if std::mem::take(&mut self.lent) {
            self.data.clear();
        }
        loop {
            let rest = &self.buf[self.read..];
            if self.after_cr && !rest.is_empty() {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    self.read += 1;
                    continue;
                }
            }
            let Some(found) = memchr::memchr2(b'\n', b'\r', &rest[self.scanned..]) else {
                self.scanned = rest.len();
                return None;
            };
            let (start, end) = (self.read, self.read + self.scanned + found);
            self.scanned = 0;
            self.read = end + 1;
            if self.buf[end] == b'\r' {
                match self.buf.get(self.read) {
                    Some(b'\n') => self.read += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if self.read_line(start, end) {
                self.has_data = false;
                self.lent = true;
                return Some(SseEvent {
                    event: self.event.take(),
                    data: &self.data,
                });
            }
        }
    }

    /// How many bytes of the body the events dispatched so far took, from
    /// its start up to the end of the last line read: a stream that passes
    /// the bytes on passes this many once the last event is accounted for.
    #[cfg(feature = "exchange")]
    pub(crate) fn consumed(&self) -> u64 {
        self.dropped + self.read as u64
    }

    /// `true` once the event being read has grown past [`MAX_EVENT_BYTES`]
    /// without ending.
    pub(crate) fn oversized(&self) -> bool {
        self.buf.len() - self.read + self.data.len() > MAX_EVENT_BYTES
    }

    /// `true` if bytes or lines were received after the last dispatched
    /// event: at the end of the body, an event that was cut off.
    pub(crate) fn has_partial_event(&self) -> bool {
        self.read < self.buf.len() || self.has_data || self.event.is_some()
    }

    /// Takes in one line; `true` if it completes an event with data.
    fn read_line(&mut self, start: usize, end: usize) -> bool {
        let line = &self.buf[start..end];
        if line.is_empty() {
            if !self.has_data {
                self.event = None;
            }
            return self.has_data;
        }
        if line[0] == b':' {
            return false;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event in `pieces`, fed one piece at a time, as
    /// `(event, data)` strings.
    fn decode(pieces: &[&[u8]]) -> (Vec<(Option<String>, String)>, bool) {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        for piece in pieces {
            decoder.push(piece);
            while let Some(event) = decoder.next_event() {
                events.push((event.event, String::from_utf8(event.data.to_vec()).unwrap()));
            }
        }
        (events, decoder.has_partial_event())
    }

    fn data(text: &str) -> (Option<String>, String) {
        (None, text.to_owned())
    }

    fn named(event: &str, text: &str) -> (Option<String>, String) {
        (Some(event.to_owned()), text.to_owned())
    }

    #[test]
    fn data_lines_and_blank_line_boundaries() {
        let (events, partial) =
            decode(&[b"data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n"]);
        assert_eq!(
            events,
            [data("{\"a\":1}"), data("{\"b\":2}"), data("[DONE]")]
        );
        assert!(!partial);
    }

    #[test]
    fn every_split_of_the_body_gives_the_same_events() {
        let body: &[u8] = b"event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n\
            : keep-alive\r\n\r\nevent: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n\
            data: {\"x\":\r\ndata: 1}\r\n\r\n";
        let expected = [
            named("message_start", "{\"type\":\"message_start\"}"),
            named("ping", "{\"type\": \"ping\"}"),
            data("{\"x\":\n1}"),
        ];
        for size in 1..body.len() {
            let pieces: Vec<&[u8]> = body.chunks(size).collect();
            let (events, partial) = decode(&pieces);
            assert_eq!(events, expected, "pieces of {size} bytes");
            assert!(!partial, "pieces of {size} bytes");
        }
        // And a split at every single position, in two pieces.
        for cut in 1..body.len() {
            let (events, _) = decode(&[&body[..cut], &body[cut..]]);
            assert_eq!(events, expected, "split at {cut}");
        }
    }

    #[test]
    fn bare_carriage_returns_end_lines() {
        let (events, _) = decode(&[b"event: a\rdata: 1\r\r", b"data: 2\r", b"\r"]);
        assert_eq!(events, [named("a", "1"), data("2")]);
    }

    #[test]
    fn comments_ids_retries_and_unknown_fields_are_skipped() {
        let (events, _) = decode(&[b": hello\nid: 7\nretry: 100\nfoo: bar\ndata:x\n\n"]);
        assert_eq!(events, [data("x")]);
    }

    #[test]
    fn only_one_space_after_the_colon_is_dropped() {
        let (events, _) = decode(&[b"data:  two\n\ndata\n\n"]);
        assert_eq!(events, [data(" two"), data("")]);
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_and_its_name_is_forgotten() {
        let (events, _) = decode(&[b"event: lonely\n\ndata: 1\n\n"]);
        assert_eq!(events, [data("1")]);
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_ignored_even_split() {
        let (events, _) = decode(&[b"\xEF", b"\xBB\xBFdata: 1\n\n"]);
        assert_eq!(events, [data("1")]);
    }

    #[cfg(feature = "exchange")]
    #[test]
    fn consumed_ends_at_each_event_across_pieces() {
        let body: &[u8] = b"data: 1\n\n: ping\n\ndata: 22\n\ndata: 3";
        let mut decoder = SseDecoder::new();
        let mut ends = Vec::new();
        for piece in body.chunks(4) {
            decoder.push(piece);
            while decoder.next_event().is_some() {
                ends.push(decoder.consumed());
            }
        }
        assert_eq!(ends, [9, 27]);
        assert_eq!(&body[..9], b"data: 1\n\n");
        assert_eq!(&body[..27], b"data: 1\n\n: ping\n\ndata: 22\n\n");
    }

    #[test]
    fn an_event_that_never_ends_is_oversized_once_past_the_bound() {
        let mut decoder = SseDecoder::new();
        decoder.push(b"data: ");
        let piece = vec![b'x'; 1 << 20];
        for _ in 0..15 {
            decoder.push(&piece);
            assert!(decoder.next_event().is_none());
        }
        assert!(
            !decoder.oversized(),
            "15 MiB of one line is within the bound"
        );
        decoder.push(&piece);
        decoder.push(&piece);
        assert!(decoder.next_event().is_none());
        assert!(decoder.oversized());
    }

    #[test]
    fn a_body_cut_mid_event_leaves_it_undispatched() {
        let (events, partial) = decode(&[b"data: {\"a\":1}\n\ndata: {\"b\""]);
        assert_eq!(events, [data("{\"a\":1}")]);
        assert!(partial);
        let (events, partial) = decode(&[b"data: {\"a\":1}\n\ndata: {\"b\":2}\n"]);
        assert_eq!(events, [data("{\"a\":1}")]);
        assert!(partial);
    }
}
