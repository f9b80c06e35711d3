//! Output text counted as a stream delivers it, piece by piece.

use super::bound::TokenBound;
use super::counter::TokenCounter;
use super::tokenizer::Tokenizer;

/// The tokens of a model's output, counted while it streams in, for each
/// answer (choice) apart and in all.
///
/// Tokenizing a chunk costs more than receiving and parsing it, and most
/// streams end with the provider's own usage report, which makes the count
/// unnecessary. So text is kept and tokenized only when its count is needed:
/// [`raw_tokens_per_choice`](Self::raw_tokens_per_choice) and
/// [`billable_tokens`](Self::billable_tokens) count whatever is pending, and
/// the upper bounds say, without tokenizing, how high the counts can be
/// ([`TokenBound`]: no token is shorter than one byte).
///
/// Every count is exact, however the provider chunked the text and whenever
/// it is asked for. A count takes in a part's text only up to its last
/// [`exact_cut`], a place where the tokenizer itself ends a piece; what
/// follows (the word still arriving) is counted with it each time but kept,
/// so a word is never split. Each piece of text before a cut is tokenized
/// once.
#[derive(Debug, Clone)]
pub(crate) struct StreamedText {
    tokenizer: Tokenizer,
    counter: TokenCounter,
    /// Each choice seen so far: its tokens counted, and the bound of its
    /// text not yet taken into that count.
    choices: Vec<Choice>,
    /// Each part's text after its last exact cut, one entry per part.
    pending: Vec<Pending>,
    /// The highest bound of any one choice.
    choice_bound: u64,
    /// Raw tokens taken into the count, all choices together.
    counted: u64,
    /// The bounds of every part's pending text, all choices together.
    pending_bound: u64,
    /// Bytes of text pushed in all.
    received: u64,
}

#[derive(Debug, Clone, Copy)]
struct Choice {
    id: u64,
    /// Tokens of its text before each part's last exact cut.
    counted: u64,
    /// The bounds of its parts' pending text.
    pending: u64,
}

impl Choice {
    fn bound(&self) -> u64 {
        self.counted.saturating_add(self.pending)
    }
}

#[derive(Debug, Clone)]
struct Pending {
    part: u64,
    /// Where its choice is in `choices`.
    choice: usize,
    /// The part's text after its last exact cut.
    text: String,
    /// At least the tokens of `text`: their exact count once counted, its
    /// bytes once more text arrives. (A word grown by a few bytes can
    /// tokenize into more tokens than it had plus those bytes, so a count
    /// is never carried over a change.)
    bound: u64,
    /// `bound` is the exact count of `text`.
    exact: bool,
}

/// The last byte index at which `text` can be cut and its two sides counted
/// apart for exactly the tokens of the whole: before an ASCII space that
/// follows a printable ASCII character, or 0 when there is none.
///
/// Both encodings (o200k_base, cl100k_base) split text into pieces with a
/// pattern before merging bytes into tokens, and tokens never cross a piece.
/// No piece holds a printable character followed by a space: pieces of
/// letters, digits and contractions end in a letter or digit, a run of
/// punctuation is followed in its piece only by line breaks (and `/` in
/// o200k_base), and a piece of whitespace holds only whitespace. So a piece
/// always ends there, the pattern starts the next piece at that space either
/// way, and its look-ahead (`\s+(?!\S)`) only looks right.
pub(crate) fn exact_cut(text: &str) -> usize {
    let bytes = text.as_bytes();
    (1..bytes.len())
        .rev()
        .find(|&at| bytes[at] == b' ' && bytes[at - 1].is_ascii_graphic())
        .unwrap_or(0)
}

impl StreamedText {
    /// Nothing counted yet, for `model`'s output, with `counter`'s margins.
    pub(crate) fn new(counter: TokenCounter, model: &str) -> Self {
        StreamedText {
            tokenizer: Tokenizer::for_model(model),
            counter,
            choices: Vec::new(),
            pending: Vec::new(),
            choice_bound: 0,
            counted: 0,
            pending_bound: 0,
            received: 0,
        }
    }

    /// Adds `text` to part `part` of answer `choice` (within it, a content
    /// block, a tool call's arguments). Parts are tokenized apart, so two
    /// parts never merge into one token.
    pub(crate) fn push(&mut self, choice: u64, part: u64, text: &str) {
        let bytes = text.len() as u64;
        self.received = self.received.saturating_add(bytes);
        let at = match self.pending.iter().rposition(|p| p.part == part) {
            Some(at) => at,
            None => {
                let slot = self.choice_slot(choice);
                self.pending.push(Pending {
                    part,
                    choice: slot,
                    text: String::new(),
                    bound: 0,
                    exact: true,
                });
                self.pending.len() - 1
            }
        };
        let pending = &mut self.pending[at];
        pending.text.push_str(text);
        let bound = TokenBound::of_text(&pending.text).raw();
        let was = std::mem::replace(&mut pending.bound, bound);
        pending.exact = pending.text.is_empty();
        let slot = pending.choice;
        self.rebound(slot, was, bound);
    }

    /// One part of choice `slot` whose pending text was bounded by `was`
    /// is now bounded by `now`.
    fn rebound(&mut self, slot: usize, was: u64, now: u64) {
        let change = |total: u64| total.saturating_sub(was).saturating_add(now);
        self.pending_bound = change(self.pending_bound);
        let choice = &mut self.choices[slot];
        choice.pending = change(choice.pending);
        self.choice_bound = self.choice_bound.max(choice.bound());
    }

    fn choice_slot(&mut self, id: u64) -> usize {
        match self.choices.iter().position(|choice| choice.id == id) {
            Some(slot) => slot,
            None => {
                self.choices.push(Choice {
                    id,
                    counted: 0,
                    pending: 0,
                });
                self.choices.len() - 1
            }
        }
    }

    /// Bytes of text pushed so far, counted or not: never goes down.
    pub(crate) fn received_bytes(&self) -> u64 {
        self.received
    }

    /// At least the raw count of the longest choice, without tokenizing.
    pub(crate) fn upper_bound_per_choice(&self) -> u64 {
        self.choice_bound
    }

    /// At least the raw count of all choices together, without tokenizing.
    pub(crate) fn upper_bound(&self) -> u64 {
        self.counted.saturating_add(self.pending_bound)
    }

    /// The tokens of the longest choice by the counting encoding, with no
    /// safety margin: the count to compare with an output limit, which
    /// applies to each choice.
    pub(crate) fn raw_tokens_per_choice(&mut self) -> u64 {
        self.count_pending();
        self.choice_bound
    }

    /// The tokens so far, all choices together, as a bill from the guard's
    /// own count would charge them: everything pending counted, and the
    /// model family's safety margin added for models whose tokenizer is not
    /// public.
    pub(crate) fn billable_tokens(&mut self) -> u64 {
        self.count_pending();
        self.billable(self.upper_bound())
    }

    /// [`billable_tokens`](Self::billable_tokens) for a raw count of `raw`.
    pub(crate) fn billable(&self, raw: u64) -> u64 {
        TokenBound::of_bytes(raw).billable_with(&self.counter, self.tokenizer)
    }

    /// Counts each part's text that changed since it was last counted:
    /// up to its last exact cut for good, the rest for now. Afterwards every
    /// bound is an exact count.
    fn count_pending(&mut self) {
        let encoding = self.tokenizer.encoding();
        let mut counted_any = false;
        for at in 0..self.pending.len() {
            let pending = &mut self.pending[at];
            if pending.exact {
                continue;
            }
            counted_any = true;
            let cut = exact_cut(&pending.text);
            let before_cut = encoding.count(&pending.text[..cut]);
            pending.text.drain(..cut);
            let after_cut = encoding.count(&pending.text);
            let was = std::mem::replace(&mut pending.bound, after_cut);
            pending.exact = true;
            let slot = pending.choice;
            self.counted = self.counted.saturating_add(before_cut);
            let choice = &mut self.choices[slot];
            choice.counted = choice.counted.saturating_add(before_cut);
            self.rebound(slot, was, after_cut);
        }
        // Bounds only fell: the highest is found again.
        if counted_any {
            self.choice_bound = self.choices.iter().map(Choice::bound).max().unwrap_or(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::count_text;

    const TEXT: &str = "The budget agent calls the model, reads the tool's output \
        and decides what to do next: retry, or stop. Ünïcödé and 東京 too.";

    /// Chunks the way a provider streams them: a few characters each.
    fn chunks(text: &str, size: usize) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = size.min(rest.len());
            while !rest.is_char_boundary(cut) {
                cut += 1;
            }
            let (head, tail) = rest.split_at(cut);
            out.push(head);
            rest = tail;
        }
        out
    }

    #[test]
    fn text_counted_once_at_the_end_matches_counting_it_whole() {
        let whole = count_text("gpt-4o", TEXT).tokens;
        let mut streamed = StreamedText::new(TokenCounter::new(), "gpt-4o");
        for chunk in chunks(TEXT, 3) {
            streamed.push(0, 0, chunk);
        }
        assert!(streamed.upper_bound() >= whole);
        assert_eq!(streamed.billable_tokens(), whole);
    }

    #[test]
    fn nothing_is_tokenized_until_a_count_is_asked_for() {
        let mut streamed = StreamedText::new(TokenCounter::new(), "gpt-4o");
        streamed.push(0, 0, "hello world");
        assert_eq!(streamed.counted, 0);
        assert_eq!(streamed.upper_bound_per_choice(), 11);
        assert_eq!(streamed.upper_bound(), 11);
        assert_eq!(streamed.raw_tokens_per_choice(), 2);
        assert_eq!(streamed.upper_bound(), 2);
        // "hello" is counted for good; " world", the word that may still be
        // arriving, is bounded by its bytes again once it grows.
        streamed.push(0, 0, " again");
        assert_eq!(streamed.upper_bound(), 1 + 12);
        assert_eq!(streamed.billable_tokens(), 3);
    }

    #[test]
    fn counting_mid_word_counts_exactly() {
        let whole = count_text("gpt-4o", TEXT).tokens;
        let mut streamed = StreamedText::new(TokenCounter::new(), "gpt-4o");
        let mut so_far = String::new();
        for (i, chunk) in chunks(TEXT, 3).into_iter().enumerate() {
            streamed.push(0, 0, chunk);
            so_far.push_str(chunk);
            if i % 7 == 0 {
                let exact = count_text("gpt-4o", &so_far).tokens;
                assert!(streamed.upper_bound() >= exact);
                assert_eq!(streamed.raw_tokens_per_choice(), exact, "{so_far:?}");
            }
        }
        assert_eq!(streamed.billable_tokens(), whole);
    }

    #[test]
    fn a_cut_falls_only_before_a_space_after_a_printable_ascii_character() {
        assert_eq!(exact_cut("hello world"), 5);
        assert_eq!(exact_cut("one two three"), 7);
        assert_eq!(exact_cut("end. Next"), 4);
        assert_eq!(exact_cut("x  y"), 1, "before the first of two spaces");
        assert_eq!(exact_cut(" leading"), 0);
        assert_eq!(exact_cut("no\tcut\nhere"), 0);
        assert_eq!(
            exact_cut("東京 tokyo"),
            0,
            "not after a multi-byte character"
        );
        assert_eq!(exact_cut("a\u{a0}b"), 0, "not before a no-break space");
        assert_eq!(exact_cut(""), 0);
    }

    #[test]
    fn parts_are_counted_apart() {
        let mut streamed = StreamedText::new(TokenCounter::new(), "gpt-4o");
        streamed.push(0, 0, "hello");
        streamed.push(0, 1, "world");
        assert_eq!(
            streamed.billable_tokens(),
            count_text("gpt-4o", "hello").tokens + count_text("gpt-4o", "world").tokens
        );
    }

    #[test]
    fn each_choice_is_counted_apart_and_all_together() {
        let mut streamed = StreamedText::new(TokenCounter::new(), "gpt-4o");
        for _ in 0..27 {
            for choice in 0..3 {
                streamed.push(choice, choice << 16, " word");
            }
        }
        assert_eq!(streamed.upper_bound_per_choice(), 27 * 5);
        assert_eq!(streamed.upper_bound(), 3 * 27 * 5);
        assert_eq!(streamed.raw_tokens_per_choice(), 27);
        assert_eq!(streamed.billable_tokens(), 81);
        streamed.push(1, 1 << 16, " word word");
        // 26 words counted for good, and the last with the new text by bytes.
        assert_eq!(streamed.upper_bound_per_choice(), 26 + 15);
        assert_eq!(streamed.raw_tokens_per_choice(), 29);
    }

    #[test]
    fn estimated_models_get_their_margin_once_on_the_total() {
        let mut streamed = StreamedText::new(TokenCounter::new(), "claude-sonnet-4-5");
        for chunk in chunks(TEXT, 4) {
            streamed.push(0, 0, chunk);
        }
        let raw = count_text("gpt-4o", TEXT).tokens;
        // 25% on the whole, rounded up once, not once per chunk.
        assert_eq!(streamed.billable_tokens(), (raw * 125).div_ceil(100));
        assert_eq!(streamed.billable(raw), (raw * 125).div_ceil(100));
        assert_eq!(
            count_text("claude-sonnet-4-5", TEXT).tokens,
            (raw * 125).div_ceil(100)
        );
    }

    mod exactness {
        use proptest::prelude::*;

        use super::*;
        use crate::tokens::Encoding;

        /// Text rich in what the two encodings' patterns treat differently:
        /// runs of spaces and line breaks, punctuation, digits, contractions,
        /// upper and lower case, multi-byte letters, emoji, combining marks
        /// and spaces that are not ASCII.
        fn text() -> impl Strategy<Value = String> {
            let atom = prop_oneof![
                Just(" "),
                Just("  "),
                Just("\n"),
                Just("\r\n"),
                Just("\t"),
                Just(" \n "),
                Just("a"),
                Just("word"),
                Just("Word"),
                Just("WORD"),
                Just("'s"),
                Just("'LL"),
                Just("1"),
                Just("2024"),
                Just("."),
                Just(", "),
                Just("/"),
                Just("//"),
                Just("{}"),
                Just("\""),
                Just("é"),
                Just("e\u{301}"),
                Just("東京"),
                Just("😀"),
                Just("👍🏽"),
                Just("\u{a0}"),
                Just("\u{3000}"),
                Just("\u{200b}"),
                Just("ﬁ"),
                Just("١٢٣"),
            ];
            proptest::collection::vec(atom, 0..60).prop_map(|atoms| atoms.concat())
        }

        /// Cuts `text` into chunks at the given fractions of its length, each
        /// moved to the next character boundary.
        fn chunked(text: &str, cuts: &[u8]) -> Vec<String> {
            let mut at: Vec<usize> = cuts
                .iter()
                .map(|&c| {
                    let mut i = text.len() * usize::from(c) / 255;
                    while !text.is_char_boundary(i) {
                        i += 1;
                    }
                    i
                })
                .collect();
            at.push(0);
            at.push(text.len());
            at.sort_unstable();
            at.windows(2).map(|w| text[w[0]..w[1]].to_owned()).collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(192))]

            /// However the text is chunked and whenever a count is asked
            /// for, the count is the text's own count, for both encodings,
            /// and the bound before it is never below it.
            #[test]
            fn every_count_is_exact(
                text in text(),
                cuts in proptest::collection::vec(any::<u8>(), 0..24),
                asks in proptest::collection::vec(any::<bool>(), 24),
            ) {
                for (model, encoding) in [("gpt-4o", Encoding::O200kBase), ("gpt-4", Encoding::Cl100kBase)] {
                    let mut streamed = StreamedText::new(TokenCounter::new(), model);
                    let mut so_far = String::new();
                    for (chunk, ask) in chunked(&text, &cuts).iter().zip(asks.iter().cycle()) {
                        streamed.push(0, 0, chunk);
                        so_far.push_str(chunk);
                        if *ask {
                            let exact = encoding.count(&so_far);
                            prop_assert!(streamed.upper_bound() >= exact);
                            prop_assert_eq!(streamed.raw_tokens_per_choice(), exact, "{:?}", so_far);
                        }
                    }
                    prop_assert!(streamed.upper_bound() >= encoding.count(&text));
                    prop_assert_eq!(streamed.billable_tokens(), encoding.count(&text));
                }
            }
        }
    }
}
