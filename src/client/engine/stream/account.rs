//! A stream's account: each decoded event read into the meter, the cut-off
//! tests, and the settlement of how the stream ended. Bytes never reach it,
//! so every front end's stream is accounted the same way.

use serde_json::Value;

use crate::client::engine::implausible;
use crate::client::engine::stream::events::{self, EventJson};
use crate::client::engine::stream::meter::{Ahead, Meter};
use crate::client::engine::stream::StreamEvent;
use crate::client::engine::OpenCall;
use crate::client::error::{ClientError, CutOffReason};
use crate::client::provider::Provider;
use crate::client::receipt::{CallReceipt, CostSource};
use crate::guard::{SharedHold, SpendGuard};
use crate::usage::{ServiceTier, Usage, UsageReport};

/// Everything about a streamed call but the bytes.
pub(super) struct StreamAccount {
    pub(super) provider: Provider,
    pub(super) meter: Meter,
    pub(super) state: CallState,
    /// Events decoded so far.
    pub(super) events: u64,
}

// One per stream, and the open call is the state it spends its life in:
// boxing either variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(super) enum CallState {
    Open(OpenCall),
    Settled(CallReceipt),
}

/// How a stream ended.
pub(super) enum Ending {
    /// The provider's last event came, then the body ended (or `[DONE]`).
    Finished,
    /// Reading stopped before the provider's last event.
    Broken(String),
    /// Reading stopped at a garbled event while the provider may still be
    /// generating: nothing tells how much more it writes before it notices.
    Garbled(String),
    /// The guard stopped it.
    CutOff(CutOffReason),
    /// The caller stopped reading.
    Cancelled,
}

/// Where a stream is cut off.
enum Cut {
    /// After the event just read: one more as large as the largest so far
    /// might not fit, or the guard stops it for another reason.
    AfterThis(CutOffReason),
    /// Before it: the event itself does not fit, and is not yielded.
    BeforeThis(CutOffReason),
}

/// What one event (`E`: what is yielded of it) leads to.
pub(super) enum Step<E> {
    Yield(E),
    YieldThenStop(E, Ending),
    Stop(Ending),
}

/// What an event read in full leads to, given where it cuts the stream off.
fn then<E>(event: E, cut: Option<Cut>) -> Step<E> {
    match cut {
        Some(Cut::AfterThis(reason)) => Step::YieldThenStop(event, Ending::CutOff(reason)),
        Some(Cut::BeforeThis(reason)) => Step::Stop(Ending::CutOff(reason)),
        None => Step::Yield(event),
    }
}

/// How a stream whose event is not JSON ends.
fn not_json(error: &serde_json::Error) -> Ending {
    Ending::Garbled(format!(
        "a `data:` line is not JSON ({error}); reading stopped there"
    ))
}

impl StreamAccount {
    /// Takes in one decoded event, parsed for the caller.
    pub(super) fn read(&mut self, name: Option<String>, data: &[u8]) -> Step<StreamEvent> {
        if let Some(done) = self.done(data) {
            return Step::Stop(done);
        }
        let data: Value = match serde_json::from_slice(data) {
            Ok(data) => data,
            Err(error) => return Step::Stop(not_json(&error)),
        };
        match self.take_in(EventJson::Parsed(&data)) {
            Ok(cut) => then(StreamEvent { event: name, data }, cut),
            Err(error) => Step::Stop(not_json(&error)),
        }
    }

    /// Takes in one decoded event whose bytes are passed on as they came:
    /// the meter reads them without building a `Value`.
    #[cfg(feature = "exchange")]
    pub(super) fn pass(&mut self, data: &[u8]) -> Step<()> {
        if let Some(done) = self.done(data) {
            return Step::Stop(done);
        }
        match self.take_in(EventJson::Bytes(data)) {
            Ok(cut) => then((), cut),
            Err(error) => Step::Stop(not_json(&error)),
        }
    }

    /// Counts the event; how the stream ends if it is `[DONE]`.
    fn done(&mut self, data: &[u8]) -> Option<Ending> {
        self.events += 1;
        if data.trim_ascii() != b"[DONE]" {
            return None;
        }
        if matches!(
            self.provider,
            Provider::OpenAiChat | Provider::OpenAiCompatible
        ) {
            self.meter.finish();
        }
        Some(self.end_of_body(false, "`data: [DONE]` came"))
    }

    /// Reads the event into the meter, then where it cuts the stream off.
    fn take_in(&mut self, event: EventJson<'_>) -> Result<Option<Cut>, serde_json::Error> {
        let before = self.meter.received_bytes();
        events::read(self.provider, event, &mut self.meter)?;
        self.meter.event_read(before);
        Ok(self.check())
    }

    /// A reason to cut the stream off now, if there is one.
    fn check(&mut self) -> Option<Cut> {
        let CallState::Open(open) = &self.state else {
            return None;
        };
        if let Some(halt) = open.guard.as_ref().and_then(SpendGuard::halted_now) {
            return Some(Cut::AfterThis(CutOffReason::Halted(halt)));
        }
        let call = &open.call;
        if let Some(counted) = self.meter.past_output_limit() {
            return Some(Cut::AfterThis(CutOffReason::OutputLimitIgnored {
                granted: call.reservation.max_output_tokens(),
                counted,
            }));
        }
        // While the reservation covers the next event too, only another
        // call's overrun can make the budget refuse: checking every so
        // often is enough. Past it, every event is checked before it is
        // yielded.
        if !self.meter.budget_check_due()
            && !self.meter.may_outgrow_reservation(call.prompt.reserved())
        {
            return None;
        }
        let fits = |usage: &Usage| call.reservation.check_progress(usage);
        // The bounds need no tokenizing; count exactly only if they fail.
        if fits(
            &self
                .meter
                .usage_bound(call.prompt.reserved(), Ahead::NextEvent),
        )
        .is_ok()
        {
            return None;
        }
        let Err(exceeded) = fits(
            &self
                .meter
                .usage_counted(call.prompt.calibrated(), Ahead::NextEvent),
        ) else {
            return None;
        };
        Some(
            match fits(
                &self
                    .meter
                    .usage_counted(call.prompt.calibrated(), Ahead::Now),
            ) {
                Err(exceeded) => Cut::BeforeThis(CutOffReason::Budget(exceeded)),
                Ok(()) => Cut::AfterThis(CutOffReason::Budget(exceeded)),
            },
        )
    }

    /// How a stream whose reading stopped (`what` happened) ended.
    pub(super) fn end_of_body(&self, partial_event: bool, what: &str) -> Ending {
        if self.meter.is_finished() {
            return Ending::Finished;
        }
        if let Some(message) = self.meter.provider_error_message() {
            return Ending::Broken(format!("{} sent an error: {message}", self.provider));
        }
        let detail = match (self.events, partial_event) {
            (0, true) => "the response is not an event stream".to_owned(),
            (_, true) => format!("{what} in the middle of an event"),
            _ => format!("{what} before {}", last_event(self.provider)),
        };
        Ending::Broken(detail)
    }

    /// What the call has cost so far: the receipt's cost once settled,
    /// before that the prompt plus the output counted so far, priced.
    pub(super) fn cost_so_far(&mut self) -> crate::money::Usd {
        match &self.state {
            CallState::Settled(receipt) => receipt.cost,
            CallState::Open(open) => open.call.reservation.price().cost(
                &self
                    .meter
                    .usage_counted(open.call.prompt.calibrated(), Ahead::Now),
            ),
        }
    }

    /// Settles the call on `ending` if it is still open. Returns its
    /// receipt, the error the caller is to see last, if any, and the shared
    /// hold to settle at the receipt's cost.
    pub(super) fn close(
        &mut self,
        ending: Ending,
    ) -> (CallReceipt, Option<ClientError>, Option<SharedHold>) {
        let open = match &mut self.state {
            CallState::Settled(receipt) => return (receipt.clone(), None, None),
            CallState::Open(open) => open,
        };
        let (usage, source, report) = account(&mut self.meter, open, &ending);
        let receipt = open.settle_stream(&usage, source, report);
        let billed = receipt.cost;
        let provider = self.provider;
        let error = match ending {
            Ending::Finished | Ending::Cancelled => None,
            Ending::Broken(detail) | Ending::Garbled(detail) => {
                Some(ClientError::StreamEndedEarly {
                    provider,
                    detail,
                    billed,
                })
            }
            Ending::CutOff(reason) => Some(ClientError::StreamCutOff {
                provider,
                reason,
                billed,
            }),
        };
        let hold = open.stream_ended(&receipt, error.as_ref());
        self.state = CallState::Settled(receipt.clone());
        (receipt, error, hold)
    }
}

/// What the call is billed for, how that is known, and the provider's
/// report when the bill comes from it.
fn account(
    meter: &mut Meter,
    open: &OpenCall,
    ending: &Ending,
) -> (Usage, CostSource, Option<UsageReport>) {
    const COUNTED: &str = "billed from the guard's count of the prompt and the output received";
    let call = &open.call;
    let reason = match ending {
        Ending::Finished => match meter.final_report() {
            Some(Ok(report)) => match implausible(&report.usage, &call.prompt) {
                None => return (report.usage, CostSource::Reported, Some(report)),
                Some(reason) => format!("{reason}; {COUNTED}"),
            },
            Some(Err(error)) => format!("{error}; {COUNTED}"),
            None if call.reports_usage => {
                format!("the stream carried no usage report; {COUNTED}")
            }
            None => format!(
                "the request turned off `stream_options.include_usage`, so the stream \
                 carried no usage report; {COUNTED}"
            ),
        },
        Ending::Broken(detail) => format!("the stream ended early ({detail}); {COUNTED}"),
        Ending::Garbled(detail) => {
            // The connection was still open: the provider goes on generating
            // until it notices it is gone, so bill the output it was allowed.
            let mut usage = at_planned_tier(
                meter.usage_counted(call.prompt.calibrated(), Ahead::Now),
                open,
            );
            let granted = call.reservation.max_output_tokens();
            let counted = usage.billed_output_tokens();
            usage.output_tokens = usage
                .output_tokens
                .saturating_add(granted.saturating_sub(counted));
            let reason = format!(
                "the stream ended early ({detail}) while the provider may still be generating; \
                 billed the prompt and the full output limit"
            );
            return (usage, CostSource::Estimated { reason }, None);
        }
        Ending::CutOff(reason) => format!("cut off because {reason}; {COUNTED}"),
        Ending::Cancelled => format!("the caller stopped reading the stream; {COUNTED}"),
    };
    (
        at_planned_tier(
            meter.usage_counted(call.prompt.calibrated(), Ahead::Now),
            open,
        ),
        CostSource::Estimated { reason },
        None,
    )
}

/// Counted usage at the tier the call asked for, unless the provider
/// already reported another one.
fn at_planned_tier(usage: Usage, open: &OpenCall) -> Usage {
    if usage.service_tier == ServiceTier::Standard {
        usage.with_service_tier(open.call.reservation.service_tier())
    } else {
        usage
    }
}

/// The event that ends a complete stream, as the error messages name it.
const fn last_event(provider: Provider) -> &'static str {
    match provider {
        Provider::OpenAiChat | Provider::OpenAiCompatible => "`data: [DONE]`",
        Provider::OpenAiResponses => "`response.completed`",
        Provider::Anthropic => "`message_stop`",
        Provider::Gemini => "a chunk with a `finishReason`",
    }
}
