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
/// ([`TokenBound`]: no token is shorter than one byte). Each piece of text is
/// tokenized once, in batches as large as the caller allows, which is also
/// closer to how the model tokenized it than counting each chunk alone.
#[derive(Debug, Clone)]
pub(crate) struct StreamedText {
    tokenizer: Tokenizer,
    counter: TokenCounter,
    /// Each choice seen so far: its tokens counted, and the bound of its
    /// text not yet tokenized.
    choices: Vec<Choice>,
    /// Text not yet tokenized, one entry per part that has some.
    pending: Vec<Pending>,
    /// The highest bound of any one choice.
    choice_bound: u64,
    /// Raw tokens counted, all choices together.
    counted: u64,
    /// Bytes of text not yet tokenized, all choices together.
    pending_bytes: u64,
    /// Bytes of text pushed in all.
    received: u64,
}

#[derive(Debug, Clone, Copy)]
struct Choice {
    id: u64,
    counted: u64,
    pending: TokenBound,
}

impl Choice {
    fn bound(&self) -> u64 {
        TokenBound::of_bytes(self.counted).plus(self.pending).raw()
    }
}

#[derive(Debug, Clone)]
struct Pending {
    part: u64,
    /// Where its choice is in `choices`.
    choice: usize,
    text: String,
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
            pending_bytes: 0,
            received: 0,
        }
    }

    /// Adds `text` to part `part` of answer `choice` (within it, a content
    /// block, a tool call's arguments). Parts are tokenized apart, so two
    /// parts never merge into one token.
    pub(crate) fn push(&mut self, choice: u64, part: u64, text: &str) {
        let bytes = text.len() as u64;
        self.received = self.received.saturating_add(bytes);
        self.pending_bytes = self.pending_bytes.saturating_add(bytes);
        let slot = match self.pending.iter().rposition(|p| p.part == part) {
            Some(at) => {
                self.pending[at].text.push_str(text);
                self.pending[at].choice
            }
            None => {
                let slot = self.choice_slot(choice);
                self.pending.push(Pending {
                    part,
                    choice: slot,
                    text: text.to_owned(),
                });
                slot
            }
        };
        let choice = &mut self.choices[slot];
        choice.pending = choice.pending.plus_text(text);
        self.choice_bound = self.choice_bound.max(choice.bound());
    }

    fn choice_slot(&mut self, id: u64) -> usize {
        match self.choices.iter().position(|choice| choice.id == id) {
            Some(slot) => slot,
            None => {
                self.choices.push(Choice {
                    id,
                    counted: 0,
                    pending: TokenBound::ZERO,
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
        self.counted.saturating_add(self.pending_bytes)
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
        self.billable(self.counted)
    }

    /// [`billable_tokens`](Self::billable_tokens) for a raw count of `raw`.
    pub(crate) fn billable(&self, raw: u64) -> u64 {
        TokenBound::of_bytes(raw).billable_with(&self.counter, self.tokenizer)
    }

    /// Tokenizes the pending text. A word cut in two by a count is counted
    /// as two pieces, which can only count more: counts are asked for
    /// rarely enough that this stays a token here and there.
    fn count_pending(&mut self) {
        if self.pending_bytes == 0 {
            return;
        }
        let encoding = self.tokenizer.encoding();
        for pending in self.pending.drain(..) {
            let tokens = encoding.count(&pending.text);
            let choice = &mut self.choices[pending.choice];
            choice.counted = choice.counted.saturating_add(tokens);
            self.counted = self.counted.saturating_add(tokens);
        }
        self.choice_bound = 0;
        for choice in &mut self.choices {
            choice.pending = TokenBound::ZERO;
            self.choice_bound = self.choice_bound.max(choice.counted);
        }
        self.pending_bytes = 0;
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
        streamed.push(0, 0, " again");
        assert_eq!(streamed.upper_bound(), 8);
        assert_eq!(streamed.billable_tokens(), 3);
    }

    #[test]
    fn counting_mid_word_can_only_count_more() {
        let whole = count_text("gpt-4o", TEXT).tokens;
        let mut streamed = StreamedText::new(TokenCounter::new(), "gpt-4o");
        for (i, chunk) in chunks(TEXT, 3).into_iter().enumerate() {
            streamed.push(0, 0, chunk);
            if i % 7 == 0 {
                assert!(streamed.raw_tokens_per_choice() <= streamed.upper_bound());
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
        assert_eq!(streamed.upper_bound_per_choice(), 27 + 10);
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
}
