//! [`PromptCount`]: a guarded call's prompt as its reservation holds it,
//! and the exact count, taken when the reservation was decided or later,
//! on first need.

use std::sync::{Arc, OnceLock};

use super::cache::CountCache;
use super::calibration::Raise;
use super::chat_input::ChatInput;
use super::count::TokenCount;
use super::counter::TokenCounter;

/// The prompt of one call: the count reserved and the exact count.
///
/// A call far from every limit is reserved at its [`TokenBound`](super::TokenBound),
/// which needs no tokenizer; its exact count is taken only when something
/// reads it (a settlement estimated from the guard's own counts, the
/// calibration of an estimated family, a stream's cut-off decision). A call
/// near a limit was counted exactly before it was reserved, and both counts
/// are the same.
#[derive(Debug)]
pub(crate) struct PromptCount {
    /// What the reservation holds, calibration's raise included.
    reserved: TokenCount,
    /// The exact count before calibration, once taken.
    exact: OnceLock<TokenCount>,
    /// What the exact count is taken from, while it has not been.
    deferred: Option<Deferred>,
    /// The calibration as it was when the call was reserved.
    raise: Raise,
}

/// What a deferred exact count reads.
#[derive(Debug)]
struct Deferred {
    model: String,
    input: ChatInput,
    counter: TokenCounter,
    cache: Arc<CountCache>,
}

impl PromptCount {
    /// A prompt counted exactly at `estimated` and reserved at it, raised.
    pub(crate) fn counted(estimated: TokenCount, raise: Raise) -> PromptCount {
        PromptCount {
            reserved: raise.apply(estimated),
            exact: OnceLock::from(estimated),
            deferred: None,
            raise,
        }
    }

    /// A prompt reserved at `bound` (already raised), whose exact count is
    /// taken from `input` when first read.
    pub(crate) fn deferred(
        bound: TokenCount,
        raise: Raise,
        model: &str,
        input: ChatInput,
        counter: TokenCounter,
        cache: Arc<CountCache>,
    ) -> PromptCount {
        PromptCount {
            reserved: bound,
            exact: OnceLock::new(),
            deferred: Some(Deferred {
                model: model.to_owned(),
                input,
                counter,
                cache,
            }),
            raise,
        }
    }

    /// The count the reservation holds: at least the calibrated exact count.
    pub(crate) const fn reserved(&self) -> TokenCount {
        self.reserved
    }

    /// The exact count before calibration (an estimate with its margin for a
    /// model whose tokenizer is not public), counted now if not yet.
    pub(crate) fn estimated(&self) -> TokenCount {
        *self.exact.get_or_init(|| match &self.deferred {
            Some(deferred) => {
                deferred
                    .counter
                    .count_input(&deferred.model, &deferred.input, &deferred.cache)
            }
            // Built counted: the cell was filled then.
            None => self.reserved,
        })
    }

    /// The exact count as calibration raised it when the call was reserved:
    /// the count an exact reservation would have held.
    pub(crate) fn calibrated(&self) -> TokenCount {
        self.raise.apply(self.estimated())
    }

    /// `true` once the exact count is known.
    #[cfg(test)]
    pub(crate) fn is_counted(&self) -> bool {
        self.exact.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Exactness, Message};

    fn input() -> ChatInput {
        ChatInput {
            messages: vec![Message::user("hello world")],
            tools: Vec::new(),
        }
    }

    #[test]
    fn a_deferred_count_is_taken_once_when_read() {
        let counter = TokenCounter::new();
        let bound = crate::tokens::TokenBound::reserve_count(&counter, "gpt-4o", &input());
        let prompt = PromptCount::deferred(
            bound,
            Raise::NONE,
            "gpt-4o",
            input(),
            counter,
            Arc::new(CountCache::new()),
        );
        assert!(!prompt.is_counted());
        assert_eq!(prompt.reserved(), bound);
        let exact = prompt.estimated();
        assert_eq!(exact.tokens, 9);
        assert_eq!(exact.exactness, Exactness::Exact);
        assert!(prompt.is_counted());
        assert!(bound.tokens >= exact.tokens);
        assert_eq!(prompt.calibrated(), exact);
    }

    #[test]
    fn a_counted_prompt_reserves_its_count() {
        let count = TokenCount {
            tokens: 40,
            exactness: Exactness::Exact,
        };
        let prompt = PromptCount::counted(count, Raise::NONE);
        assert!(prompt.is_counted());
        assert_eq!((prompt.reserved(), prompt.estimated()), (count, count));
    }
}
