//! What a stream has used so far: the output counted as it arrives, and the
//! usage the provider reports along the way.

use serde_json::Value;

use crate::tokens::{StreamedText, TokenBound, TokenCount, TokenCounter};
use crate::usage::{without_field, AnthropicStreamUsage, Usage, UsageError, UsageReport};

/// How far past its granted limit the counted output may run before the
/// provider is taken to be ignoring the limit: a quarter of the limit, and
/// at least [`MIN_SLACK_TOKENS`]. Output is counted with OpenAI's encodings,
/// which can count a little more than another model's tokenizer did; the
/// slack keeps that from cutting off a stream the provider did stop in time.
const SLACK_PERCENT: u64 = 25;
/// The smallest slack, for small limits.
const MIN_SLACK_TOKENS: u64 = 32;
/// The budget is checked again each time the output may have grown by this
/// many tokens.
const BUDGET_CHECK_EVERY_TOKENS: u64 = 256;

/// The running account of one stream.
#[derive(Debug)]
pub(super) struct Meter {
    text: StreamedText,
    /// Raw output tokens of one choice past which the provider is ignoring
    /// its limit.
    cut_off_above: u64,
    /// The answers (choices, candidates) the request asked for.
    choices: u64,
    /// Output tokens the reservation holds: the granted limit for each
    /// choice.
    reserved_output: u64,
    /// The latest usage report (OpenAI, Gemini). Each is cumulative, so the
    /// latest replaces the others.
    report: Option<Result<UsageReport, UsageError>>,
    /// Anthropic's reports, merged across `message_start` and `message_delta`.
    anthropic: Option<AnthropicStreamUsage>,
    /// A service tier Anthropic named that the table cannot price.
    anthropic_unpriced_tier: Option<String>,
    /// The most output tokens any report has given.
    reported_output: u64,
    /// The most input tokens any report has given.
    reported_input: u64,
    /// The most output text any one event has carried: what the next event
    /// is expected to bring at most.
    largest_event: TokenBound,
    /// The provider's final event has arrived.
    finished: bool,
    /// The last error the provider sent as an event.
    provider_error: Option<String>,
    next_budget_check: u64,
}

/// How far ahead a usage is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ahead {
    /// What has been read.
    Now,
    /// What has been read and one more event as large as the largest so far.
    NextEvent,
}

impl Meter {
    /// A meter for `model`'s output under an output limit of `granted` for
    /// each of `choices` answers.
    pub(super) fn new(counter: TokenCounter, model: &str, granted: u64, choices: u64) -> Self {
        let slack = (granted * SLACK_PERCENT / 100).max(MIN_SLACK_TOKENS);
        let choices = choices.max(1);
        Meter {
            text: StreamedText::new(counter, model),
            cut_off_above: granted.saturating_add(slack),
            choices,
            reserved_output: granted.saturating_mul(choices),
            report: None,
            anthropic: None,
            anthropic_unpriced_tier: None,
            reported_output: 0,
            reported_input: 0,
            largest_event: TokenBound::ZERO,
            finished: false,
            provider_error: None,
            next_budget_check: 0,
        }
    }

    /// Output text of part `part` of answer `choice` (within it, a content
    /// block, a tool call).
    pub(super) fn output(&mut self, choice: u64, part: u64, text: &str) {
        self.text.push(choice, part, text);
    }

    /// Bytes of output text received so far.
    pub(super) fn received_bytes(&self) -> u64 {
        self.text.received_bytes()
    }

    /// One event has been read, which began when `received_before` bytes of
    /// output had been received.
    pub(super) fn event_read(&mut self, received_before: u64) {
        let carried = TokenBound::of_bytes(self.received_bytes().saturating_sub(received_before));
        self.largest_event = self.largest_event.max(carried);
    }

    /// A cumulative usage report, or one that could not be read.
    pub(super) fn report(&mut self, report: Result<UsageReport, UsageError>) {
        if let Ok(report) = &report {
            self.reported_output = self
                .reported_output
                .max(report.usage.billed_output_tokens());
            self.reported_input = self.reported_input.max(report.usage.prompt_tokens());
        }
        self.report = Some(report);
    }

    /// An Anthropic `message_start` or `message_delta` event.
    pub(super) fn anthropic_usage(&mut self, event: &Value) {
        let merged = self.anthropic.get_or_insert_with(AnthropicStreamUsage::new);
        let observed = match merged.observe(event) {
            // A rejected event leaves the accumulator as it was, so it can
            // be read again without the tier, which is kept by name.
            Err(UsageError::UnknownServiceTier { path, name, .. }) => {
                self.anthropic_unpriced_tier = Some(name);
                merged.observe(&without_field(event, &path))
            }
            other => other,
        };
        match observed {
            Ok(()) => {
                if let Some(usage) = merged.usage_so_far() {
                    self.reported_output = self.reported_output.max(usage.billed_output_tokens());
                    self.reported_input = self.reported_input.max(usage.prompt_tokens());
                }
            }
            Err(error) => self.report = Some(Err(error)),
        }
    }

    /// The provider's final event arrived.
    pub(super) fn finish(&mut self) {
        self.finished = true;
    }

    /// `true` once the provider's final event has arrived.
    pub(super) const fn is_finished(&self) -> bool {
        self.finished
    }

    /// An error the provider sent inside the stream.
    pub(super) fn provider_error(&mut self, message: &str) {
        self.provider_error = Some(message.to_owned());
    }

    /// The provider's own error message, if it sent one.
    pub(super) fn provider_error_message(&self) -> Option<&str> {
        self.provider_error.as_deref()
    }

    /// `Some(tokens)` once the output of one choice, as counted, or of all
    /// of them, as reported, has run past the granted limit and its slack
    /// (for each choice): the provider is ignoring the limit. Text is
    /// tokenized only when its byte count says it could be.
    pub(super) fn past_output_limit(&mut self) -> Option<u64> {
        if self.reported_output > self.cut_off_above.saturating_mul(self.choices) {
            return Some(self.reported_output);
        }
        if self.text.upper_bound_per_choice() <= self.cut_off_above {
            return None;
        }
        let counted = self.text.raw_tokens_per_choice();
        (counted > self.cut_off_above).then_some(counted)
    }

    /// `true` when the output may have grown by
    /// [`BUDGET_CHECK_EVERY_TOKENS`] since the budget was last checked (and
    /// on the first call). Measured in bytes received, or tokens reported,
    /// which only go up and are never fewer than the tokens they hold.
    pub(super) fn budget_check_due(&mut self) -> bool {
        let progress = self.text.received_bytes().max(self.reported_output);
        if progress < self.next_budget_check {
            return false;
        }
        self.next_budget_check = progress.saturating_add(BUDGET_CHECK_EVERY_TOKENS);
        true
    }

    /// `true` when the usage after one more event may pass what the
    /// reservation holds for the call (`prompt` and the granted output of
    /// every choice), so the budget must be asked before every event; while
    /// it is `false` the reservation covers the stream.
    pub(super) fn may_outgrow_reservation(&self, prompt: TokenCount) -> bool {
        let next = self.largest_event.raw();
        let counted = self
            .text
            .billable(self.text.upper_bound().saturating_add(next));
        let reported = self
            .reported_output
            .saturating_add(self.text.billable(next));
        self.reported_input > prompt.tokens || counted.max(reported) > self.reserved_output
    }

    /// At least the usage so far (and, `ahead`, after the next event),
    /// without tokenizing: the output at its upper bound.
    pub(super) fn usage_bound(&self, prompt: TokenCount, ahead: Ahead) -> Usage {
        let raw = self.text.upper_bound().saturating_add(self.ahead(ahead));
        let usage = self.usage_with_output(prompt, self.text.billable(raw));
        self.with_reported_ahead(usage, ahead)
    }

    /// The usage so far (and, `ahead`, after the next event) by the guard's
    /// own count: the provider's input counts if it reported any (else the
    /// prompt estimate), and the larger of the output counted and the output
    /// reported.
    pub(super) fn usage_counted(&mut self, prompt: TokenCount, ahead: Ahead) -> Usage {
        let output = match ahead {
            Ahead::Now => self.text.billable_tokens(),
            Ahead::NextEvent => {
                self.text.billable_tokens();
                let raw = self.text.upper_bound().saturating_add(self.ahead(ahead));
                self.text.billable(raw)
            }
        };
        let usage = self.usage_with_output(prompt, output);
        self.with_reported_ahead(usage, ahead)
    }

    fn ahead(&self, ahead: Ahead) -> u64 {
        match ahead {
            Ahead::Now => 0,
            Ahead::NextEvent => self.largest_event.raw(),
        }
    }

    /// `usage`, with at least the reported output and, `ahead`, the next
    /// event's on top of it.
    fn with_reported_ahead(&self, mut usage: Usage, ahead: Ahead) -> Usage {
        let next = self.text.billable(self.ahead(ahead));
        let at_least = self.reported_output.saturating_add(next);
        let have = usage.billed_output_tokens();
        if at_least > have {
            usage.output_tokens = usage.output_tokens.saturating_add(at_least - have);
        }
        usage
    }

    fn usage_with_output(&self, prompt: TokenCount, counted_output: u64) -> Usage {
        let mut usage = match self.usage_reported_so_far() {
            Some(reported) if reported.prompt_tokens() > 0 => reported,
            _ => Usage::new(prompt.tokens, 0),
        };
        let output = counted_output.max(self.reported_output);
        let have = usage.billed_output_tokens();
        if output > have {
            usage.output_tokens = usage.output_tokens.saturating_add(output - have);
        }
        usage
    }

    /// The latest usage the provider reported, if it could be read.
    fn usage_reported_so_far(&self) -> Option<Usage> {
        match (&self.anthropic, &self.report) {
            (_, Some(Err(_))) | (None, None) => None,
            (Some(merged), None) => merged.usage_so_far(),
            (_, Some(Ok(report))) => Some(report.usage),
        }
    }

    /// The provider's final report: `None` if it sent none, an error if it
    /// sent one that cannot be read (or, for Anthropic, an incomplete one).
    pub(super) fn final_report(&self) -> Option<Result<UsageReport, UsageError>> {
        match (&self.anthropic, &self.report) {
            (_, Some(report)) => Some(report.clone()),
            (Some(merged), None) => Some(merged.clone().finish().map(|usage| UsageReport {
                usage,
                unpriced_tier: self.anthropic_unpriced_tier.clone(),
                provider_cost: None,
            })),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::tokens::Exactness;

    fn prompt(tokens: u64) -> TokenCount {
        TokenCount {
            tokens,
            exactness: Exactness::Exact,
        }
    }

    /// `n` tokens of " a", each its own token.
    fn words(meter: &mut Meter, n: usize) {
        for _ in 0..n {
            meter.output(0, 0, " a");
        }
    }

    #[test]
    fn the_cut_off_waits_for_the_slack_and_an_exact_count() {
        let mut meter = Meter::new(TokenCounter::new(), "gpt-4o", 200, 1);
        // 400 bytes, far past the 250 tokens allowed, but only 200 tokens.
        words(&mut meter, 200);
        assert_eq!(meter.past_output_limit(), None);
        words(&mut meter, 60);
        assert!(
            matches!(meter.past_output_limit(), Some(n) if n > 250 && n <= 260),
            "{:?}",
            meter.past_output_limit()
        );
    }

    #[test]
    fn small_limits_get_the_minimum_slack() {
        let mut meter = Meter::new(TokenCounter::new(), "gpt-4o", 10, 1);
        words(&mut meter, 42);
        assert_eq!(meter.past_output_limit(), None);
        words(&mut meter, 1);
        assert_eq!(meter.past_output_limit(), Some(43));
    }

    #[test]
    fn a_report_past_the_limit_cuts_off_without_counting() {
        let mut meter = Meter::new(TokenCounter::new(), "gemini-2.5-pro", 1_000, 1);
        meter.report(Ok(UsageReport::from(Usage::new(10, 1_251))));
        assert_eq!(meter.past_output_limit(), Some(1_251));
    }

    #[test]
    fn usage_so_far_prefers_reported_input_and_the_larger_output() {
        let mut meter = Meter::new(TokenCounter::new(), "claude-sonnet-4-5", 1_000, 1);
        assert_eq!(
            meter.usage_counted(prompt(500), Ahead::Now),
            Usage::new(500, 0)
        );
        meter.anthropic_usage(&json!({"type": "message_start", "message": {"usage": {
            "input_tokens": 20, "cache_read_input_tokens": 400, "output_tokens": 1}}}));
        meter.output(0, 0, "hello world, and more words than one");
        let usage = meter.usage_counted(prompt(500), Ahead::Now);
        assert_eq!((usage.input_tokens, usage.cache_read_tokens), (20, 400));
        // 8 o200k tokens plus Claude's 25% margin.
        assert_eq!(usage.output_tokens, 10);
        meter.anthropic_usage(&json!({"type": "message_delta", "usage": {"output_tokens": 30}}));
        assert_eq!(
            meter.usage_counted(prompt(500), Ahead::Now).output_tokens,
            30
        );
        assert_eq!(
            meter.final_report(),
            Some(Ok(UsageReport::from(Usage {
                input_tokens: 20,
                cache_read_tokens: 400,
                output_tokens: 30,
                ..Usage::default()
            })))
        );
    }

    #[test]
    fn an_anthropic_stream_at_an_unpriced_tier_is_kept_by_name() {
        let mut meter = Meter::new(TokenCounter::new(), "claude-sonnet-4-5", 1_000, 1);
        meter.anthropic_usage(&json!({"type": "message_start", "message": {"usage": {
            "input_tokens": 20, "output_tokens": 1, "service_tier": "express"}}}));
        meter.anthropic_usage(&json!({"type": "message_delta", "usage": {"output_tokens": 30}}));
        let report = meter.final_report().unwrap().unwrap();
        assert_eq!(report.usage, Usage::new(20, 30));
        assert_eq!(report.unpriced_tier.as_deref(), Some("express"));
    }

    #[test]
    fn the_bound_is_never_below_the_count() {
        let mut meter = Meter::new(TokenCounter::new(), "gpt-4o", 1_000, 1);
        meter.output(0, 0, "the quick brown fox");
        let bound = meter.usage_bound(prompt(5), Ahead::Now);
        let counted = meter.usage_counted(prompt(5), Ahead::Now);
        assert!(bound.output_tokens >= counted.output_tokens);
        assert_eq!(counted, Usage::new(5, 4));
    }

    #[test]
    fn each_choice_has_its_own_limit_and_the_report_all_of_them() {
        let mut meter = Meter::new(TokenCounter::new(), "gpt-4o", 40, 3);
        for _ in 0..27 {
            for choice in 0..3 {
                meter.output(choice, choice << 16, " word");
            }
        }
        assert_eq!(meter.past_output_limit(), None);
        assert_eq!(meter.usage_counted(prompt(5), Ahead::Now).output_tokens, 81);
        meter.report(Ok(UsageReport::from(Usage::new(5, 3 * 72))));
        assert_eq!(meter.past_output_limit(), None);
        meter.report(Ok(UsageReport::from(Usage::new(5, 3 * 72 + 1))));
        assert_eq!(meter.past_output_limit(), Some(217));
    }

    #[test]
    fn the_next_event_is_bounded_by_the_largest_so_far() {
        let mut meter = Meter::new(TokenCounter::new(), "gpt-4o", 100, 1);
        for text in [" a", " word word", " b"] {
            let before = meter.received_bytes();
            meter.output(0, 0, text);
            meter.event_read(before);
        }
        assert_eq!(meter.usage_bound(prompt(5), Ahead::Now).output_tokens, 14);
        assert_eq!(
            meter.usage_bound(prompt(5), Ahead::NextEvent).output_tokens,
            24
        );
        assert_eq!(meter.usage_counted(prompt(5), Ahead::Now).output_tokens, 4);
        assert_eq!(
            meter
                .usage_counted(prompt(5), Ahead::NextEvent)
                .output_tokens,
            14
        );
        assert!(!meter.may_outgrow_reservation(prompt(5)));
        meter.output(0, 0, &" word".repeat(18));
        assert!(meter.may_outgrow_reservation(prompt(5)));
    }

    #[test]
    fn budget_checks_come_every_so_many_tokens_of_output() {
        let mut meter = Meter::new(TokenCounter::new(), "gpt-4o", 4_096, 1);
        assert!(meter.budget_check_due());
        assert!(!meter.budget_check_due());
        meter.output(0, 0, &"x".repeat(255));
        assert!(!meter.budget_check_due());
        meter.output(0, 0, "x");
        assert!(meter.budget_check_due());
        // Counting the text shrinks its bound, not the progress.
        meter.usage_counted(prompt(0), Ahead::Now);
        meter.output(0, 0, &"x".repeat(256));
        assert!(meter.budget_check_due());
    }
}
