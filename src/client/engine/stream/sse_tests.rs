//! Property tests of the SSE decoder over arbitrary and mutated bodies:
//! never a panic, the same events however the body is split, and a long
//! line in small pieces searched once.

use proptest::prelude::*;

use super::sse::SseDecoder;
use crate::mutated;

const BODY: &str = "\u{feff}event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n\
    : keep-alive\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\
    data: second line\nid: 7\nretry: 100\n\ndata: [DONE]\n\n";

/// One decoded event: its name, if it had one, and its data.
type Event = (Option<String>, Vec<u8>);

/// Every event of `body` fed in pieces cut at `cuts`, and whether an event
/// was left unfinished.
fn decode(body: &[u8], cuts: &[usize]) -> (Vec<Event>, bool) {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (body.len() + 1)).collect();
    cuts.sort_unstable();
    let mut from = 0;
    for to in cuts.into_iter().chain([body.len()]) {
        decoder.push(&body[from..to]);
        from = to;
        while let Some(event) = decoder.next_event() {
            events.push((event.event, event.data.to_vec()));
        }
    }
    (events, decoder.has_partial_event())
}

proptest! {
    #[test]
    fn any_body_decodes_the_same_however_it_is_split(
        body in mutated::bytes(&[BODY.as_bytes()]),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = decode(&body, &[]);
        prop_assert_eq!(decode(&body, &cuts), whole);
    }
}

#[test]
fn a_long_line_in_one_byte_pieces_is_searched_once() {
    // Searching the whole unfinished line on every push took time
    // quadratic in its length: minutes for this one.
    let mut decoder = SseDecoder::new();
    decoder.push(b"data: ");
    let long = vec![b'x'; 1 << 20];
    for byte in long.chunks(1) {
        decoder.push(byte);
        assert!(decoder.next_event().is_none());
    }
    decoder.push(b"\n\n");
    assert_eq!(
        decoder.next_event().map(|event| event.data.len()),
        Some(1 << 20)
    );
}
