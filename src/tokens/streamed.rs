//! Output text counted as a stream delivers it, piece by piece.

use super::count::RawCount;
use super::counter::TokenCounter;
use super::tokenizer::Tokenizer;

/// The tokens of a model's output, counted while it streams in.
///
/// Tokenizing a chunk costs more than receiving and parsing it, and most
/// streams end with the provider's own usage report, which makes the count
/// unnecessary. So text is kept and tokenized only when its count is needed:
/// [`raw_tokens`](Self::raw_tokens) and [`billable_tokens`](Self::billable_tokens)
/// count whatever is pending, and [`upper_bound`](Self::upper_bound) says,
/// without tokenizing, how high the count can be (no token of a byte-level
/// BPE encoding is shorter than one byte). Each piece of text is tokenized
/// once, in batches as large as the caller allows, which is also closer to
/// how the model tokenized it than counting each chunk alone.
#[derive(Debug, Clone)]
pub(crate) struct StreamedText {
    tokenizer: Tokenizer,
    counter: TokenCounter,
    /// Tokens of the text already tokenized, before any margin.
    counted: u64,
    /// Text not yet tokenized, all from part `part` of the output.
    pending: String,
    part: u64,
    /// Bytes of text pushed in all.
    received: u64,
}

impl StreamedText {
    /// Nothing counted yet, for `model`'s output, with `counter`'s margins.
    pub(crate) fn new(counter: TokenCounter, model: &str) -> Self {
        StreamedText {
            tokenizer: Tokenizer::for_model(model),
            counter,
            counted: 0,
            pending: String::new(),
            part: 0,
            received: 0,
        }
    }

    /// Adds `text` to part `part` of the output (a choice, a content block,
    /// a tool call's arguments). Parts are tokenized apart, so two parts
    /// never merge into one token.
    pub(crate) fn push(&mut self, part: u64, text: &str) {
        if part != self.part {
            self.count_pending();
            self.part = part;
        }
        self.pending.push_str(text);
        self.received = self.received.saturating_add(text.len() as u64);
    }

    /// Bytes of text pushed so far, counted or not: never goes down.
    pub(crate) fn received_bytes(&self) -> u64 {
        self.received
    }

    /// At least the raw count, without tokenizing anything.
    pub(crate) fn upper_bound(&self) -> u64 {
        self.counted.saturating_add(self.pending.len() as u64)
    }

    /// The tokens so far by the counting encoding, with no safety margin:
    /// the count to compare with an output limit.
    pub(crate) fn raw_tokens(&mut self) -> u64 {
        self.count_pending();
        self.counted
    }

    /// The tokens so far as a bill from the guard's own count would charge
    /// them: everything pending counted, and the model family's safety margin
    /// added for models whose tokenizer is not public.
    pub(crate) fn billable_tokens(&mut self) -> u64 {
        self.count_pending();
        self.counter
            .finish(self.tokenizer, RawCount::exact(self.counted))
            .tokens
    }

    /// [`billable_tokens`](Self::billable_tokens) for a raw count of `raw`.
    pub(crate) fn billable(&self, raw: u64) -> u64 {
        self.counter
            .finish(self.tokenizer, RawCount::exact(raw))
            .tokens
    }

    /// Tokenizes the pending text. A word cut in two by a count is counted
    /// as two pieces, which can only count more: counts are asked for
    /// rarely enough that this stays a token here and there.
    fn count_pending(&mut self) {
        let tokens = self.tokenizer.encoding().count(&self.pending);
        self.counted = self.counted.saturating_add(tokens);
        self.pending.clear();
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
            streamed.push(0, chunk);
        }
        assert!(streamed.upper_bound() >= whole);
        assert_eq!(streamed.billable_tokens(), whole);
    }

    #[test]
    fn nothing_is_tokenized_until_a_count_is_asked_for() {
        let mut streamed = StreamedText::new(TokenCounter::new(), "gpt-4o");
        streamed.push(0, "hello world");
        assert_eq!(streamed.counted, 0);
        assert_eq!(streamed.upper_bound(), 11);
        assert_eq!(streamed.raw_tokens(), 2);
        assert_eq!(streamed.upper_bound(), 2);
        streamed.push(0, " again");
        assert_eq!(streamed.upper_bound(), 8);
        assert_eq!(streamed.billable_tokens(), 3);
    }

    #[test]
    fn counting_mid_word_can_only_count_more() {
        let whole = count_text("gpt-4o", TEXT).tokens;
        let mut streamed = StreamedText::new(TokenCounter::new(), "gpt-4o");
        for (i, chunk) in chunks(TEXT, 3).into_iter().enumerate() {
            streamed.push(0, chunk);
            if i % 7 == 0 {
                assert!(streamed.raw_tokens() <= streamed.upper_bound());
            }
        }
        let counted = streamed.billable_tokens();
        assert!(counted >= whole, "{counted} < {whole}");
        assert!(
            counted <= whole + TEXT.len() as u64 / 21 + 1,
            "{counted} vs {whole}"
        );
    }

    #[test]
    fn parts_are_counted_apart() {
        let mut streamed = StreamedText::new(TokenCounter::new(), "gpt-4o");
        streamed.push(0, "hello");
        streamed.push(1, "world");
        assert_eq!(
            streamed.billable_tokens(),
            count_text("gpt-4o", "hello").tokens + count_text("gpt-4o", "world").tokens
        );
    }

    #[test]
    fn estimated_models_get_their_margin_once_on_the_total() {
        let mut streamed = StreamedText::new(TokenCounter::new(), "claude-sonnet-4-5");
        for chunk in chunks(TEXT, 4) {
            streamed.push(0, chunk);
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
}
