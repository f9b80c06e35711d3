//! Steps 6 and 7 of a guarded call: an admitted call, and every way it
//! ends. However it ends, the task's reservation and the shared hold are
//! settled or released together, the circuit breaker hears how the provider
//! answered, and the ledger gets the call's line.

use serde_json::Value;

use crate::budget::{Alert, Overrun, TaskBudget};
use crate::client::drift::DriftTolerance;
use crate::client::engine::{settle, Failure, Outgoing, PreparedCall};
use crate::client::error::ClientError;
use crate::client::provider::Provider;
use crate::client::receipt::CallReceipt;
#[cfg(feature = "client")]
use crate::client::receipt::CostSource;
use crate::client::recorder::CallRecorder;
use crate::client::telemetry::CallTelemetry;
use crate::guard::{Degraded, SharedHold, SpendGuard};
#[cfg(feature = "client")]
use crate::money::Usd;
use crate::tags::Tags;
#[cfg(feature = "client")]
use crate::usage::Usage;
use crate::usage::{UsageError, UsageReport};

/// A call reserved in its task budget and the shared limits, sent or about
/// to be. Dropped before it ends (a cancelled future), its reservation and
/// hold bill their worst case.
pub(crate) struct OpenCall {
    pub(super) provider: Provider,
    pub(super) call: PreparedCall,
    hold: Option<SharedHold>,
    /// Shared limits: their circuit breaker, and their halt, which stops a
    /// stream.
    pub(super) guard: Option<SpendGuard>,
    tags: Tags,
    degraded: Option<Degraded>,
    recorder: Option<CallRecorder>,
    /// How far the provider's own cost may differ from the table's.
    drift_tolerance: DriftTolerance,
    /// The call's span and metrics, once the engine observes it.
    telemetry: Option<CallTelemetry>,
}

impl OpenCall {
    /// The call `call`, held in the shared limits by `hold`, and what the
    /// transport is to send for it.
    pub(super) fn admitted(
        provider: Provider,
        mut call: PreparedCall,
        hold: Option<SharedHold>,
        guard: Option<SpendGuard>,
        tags: Tags,
        degraded: Option<Degraded>,
        drift_tolerance: DriftTolerance,
    ) -> (OpenCall, Outgoing) {
        let body = match std::mem::take(&mut call.wire_body) {
            Value::Null => None,
            body => Some(body),
        };
        let outgoing = Outgoing {
            model: call.model.clone(),
            max_output_tokens: call.reservation.max_output_tokens(),
            tags: tags.clone(),
            body,
        };
        let open = OpenCall {
            provider,
            call,
            hold,
            guard,
            tags,
            degraded,
            recorder: None,
            drift_tolerance,
            telemetry: None,
        };
        (open, outgoing)
    }

    /// A call reserved only in its task budget: no shared limits, no ledger.
    #[cfg(all(test, feature = "client"))]
    pub(crate) fn unshared(provider: Provider, call: PreparedCall) -> OpenCall {
        OpenCall {
            provider,
            call,
            hold: None,
            guard: None,
            tags: Tags::new(),
            degraded: None,
            recorder: None,
            drift_tolerance: DriftTolerance::DEFAULT,
            telemetry: Some(CallTelemetry::unobserved(provider)),
        }
    }

    /// The call, writing its ledger line with `recorder`.
    pub(super) fn recorded_by(mut self, recorder: Option<CallRecorder>) -> OpenCall {
        self.recorder = recorder;
        self
    }

    /// The call, observed by `telemetry` from now until it settles.
    pub(super) fn observed_by(mut self, mut telemetry: CallTelemetry) -> OpenCall {
        let reservation = &self.call.reservation;
        telemetry.admitted(
            &self.call.model,
            reservation.max_output_tokens(),
            reservation.reserved_cost(),
        );
        self.telemetry = Some(telemetry);
        self
    }

    /// The call's hold in the shared limits, if any (a stream renews its
    /// lease).
    #[cfg(feature = "client")]
    pub(crate) fn hold(&self) -> Option<&SharedHold> {
        self.hold.as_ref()
    }

    /// The provider the call is to.
    pub(crate) const fn provider(&self) -> Provider {
        self.provider
    }

    /// Ends a call whose send failed: nothing spent if nothing was billed
    /// (the attempt still counts toward the budget's call limit), billed at
    /// its worst case if it may have been.
    pub(crate) async fn fail(mut self, failure: Failure) -> ClientError {
        let error = match failure {
            Failure::Unbilled(error) => {
                self.call.reservation.settle_unbilled();
                error
            }
            Failure::Interrupted(detail) => {
                let billed = self.call.reservation.reserved_cost();
                // Dropped unsettled, a reservation bills its worst case.
                drop(self.call.reservation);
                ClientError::Interrupted {
                    provider: self.provider,
                    detail,
                    billed,
                }
            }
        };
        breaker(self.guard.as_ref(), &self.tags, Err(&error));
        settle_shared(self.hold, Err(&error)).await;
        if let Some(recorder) = &self.recorder {
            recorder.failed(&error);
        }
        if let Some(telemetry) = &mut self.telemetry {
            telemetry.failed(&error);
        }
        error
    }

    /// Ends a call answered with a whole JSON body, settled from the usage
    /// it reports; an answer that is not JSON bills the worst case.
    #[cfg(feature = "client")]
    pub(crate) async fn settle_json(
        self,
        bytes: &[u8],
    ) -> Result<(Value, CallReceipt), ClientError> {
        let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
            let detail = "the response body is not JSON".to_owned();
            return Err(self.fail(Failure::Interrupted(detail)).await);
        };
        let report = UsageReport::from_response(self.provider.usage_format(), &body);
        Ok((body, self.settle_report(report).await))
    }

    /// Ends an answered call, settled from `report` (or the estimate, when
    /// the report is unreadable or implausible).
    pub(crate) async fn settle_report(
        mut self,
        report: Result<UsageReport, UsageError>,
    ) -> CallReceipt {
        let call = self.call;
        // The guard hears of an overrun too: only then is the budget kept.
        let budget = self
            .guard
            .as_ref()
            .map(|_| call.reservation.budget().clone());
        let mut receipt = settle::settle(
            call.reservation,
            &call.resolved,
            &call.prompt,
            report,
            self.drift_tolerance,
        );
        settle::learn(&call.calibration, &call.resolved, &call.prompt, &receipt);
        receipt.degraded = self.degraded;
        if let Some(budget) = &budget {
            tell_overrun(self.guard.as_ref(), budget, &receipt);
        }
        breaker(self.guard.as_ref(), &self.tags, Ok(()));
        settle_shared(self.hold, Ok(receipt.cost)).await;
        if let Some(recorder) = &self.recorder {
            recorder.settled(&receipt, None);
        }
        if let Some(telemetry) = &mut self.telemetry {
            telemetry.settled(&receipt, None);
        }
        receipt
    }

    /// Settles a stream's call in place from `usage`, known from `source`,
    /// and priced beside the provider's `report` when the bill comes from it.
    #[cfg(feature = "client")]
    pub(crate) fn settle_stream(
        &mut self,
        usage: &Usage,
        source: CostSource,
        report: Option<UsageReport>,
    ) -> CallReceipt {
        let _in_span = self.telemetry.as_ref().map(CallTelemetry::enter);
        let call = &mut self.call;
        let pricing = report.map(|report| {
            let price = call.reservation.price();
            settle::Pricing::of(&report, price, &call.resolved, self.drift_tolerance)
        });
        let floor = pricing.as_ref().map_or(Usd::ZERO, settle::Pricing::floor);
        let settled = call.reservation.settle_in_place(usage, floor);
        let mut receipt = settle::call_receipt(&call.resolved, settled, source);
        if let Some(pricing) = pricing {
            pricing.mark(&mut receipt);
        }
        settle::learn(&call.calibration, &call.resolved, &call.prompt, &receipt);
        receipt.degraded = self.degraded.clone();
        tell_overrun(self.guard.as_ref(), call.reservation.budget(), &receipt);
        receipt
    }

    /// Tells the circuit breaker how a stream ended and writes its ledger
    /// line (`error` is how it ended badly, if it did), and hands over its
    /// shared hold, for the stream to settle at the receipt's cost.
    #[cfg(feature = "client")]
    pub(crate) fn stream_ended(
        &mut self,
        receipt: &CallReceipt,
        error: Option<&ClientError>,
    ) -> Option<SharedHold> {
        // Cut off or put down by the caller, it was answered all the same.
        let outcome = match error {
            Some(broken @ ClientError::StreamEndedEarly { .. }) => Err(broken),
            _ => Ok(()),
        };
        breaker(self.guard.as_ref(), &self.tags, outcome);
        if let Some(recorder) = &self.recorder {
            recorder.settled(receipt, error);
        }
        if let Some(telemetry) = &mut self.telemetry {
            telemetry.settled(receipt, error);
        }
        self.hold.take()
    }
}

/// Tells the shared limits' `on_alert` of a call billed past its
/// reservation; the task budget's callback and `tracing` heard it as it
/// was settled.
fn tell_overrun(guard: Option<&SpendGuard>, budget: &TaskBudget, receipt: &CallReceipt) {
    let Some(guard) = guard else {
        return;
    };
    let overrun = receipt.overran.and_then(|_| {
        Overrun::of(
            budget.subject(),
            &receipt.model,
            receipt.reserved,
            receipt.cost,
        )
    });
    if let Some(overrun) = overrun {
        guard.alerts().tell(&Alert::overrun(overrun));
    }
}

/// Tells runaway detection's circuit breaker how a sent call ended:
/// answered, failed with a status, or answered and then broken (a stream
/// that ended early). Other calls that never got a status are not counted.
fn breaker(guard: Option<&SpendGuard>, tags: &Tags, outcome: Result<(), &ClientError>) {
    let Some(guard) = guard else {
        return;
    };
    let status = match outcome {
        Ok(()) => None,
        Err(ClientError::StreamEndedEarly { .. }) => return guard.record_broken_answer(tags),
        Err(error) => match error.status() {
            Some(status) => Some(status),
            None => return,
        },
    };
    guard.record_outcome(tags, status);
}

/// Settles a call's shared hold from how the call ended: its cost, or
/// what a failure was billed (nothing, for a refused or rejected call).
///
/// A store that cannot record the settlement leaves the worst case held,
/// which the limits count just the same; the call's own result stands.
async fn settle_shared(hold: Option<SharedHold>, outcome: Result<crate::money::Usd, &ClientError>) {
    let Some(hold) = hold else {
        return;
    };
    let billed = match outcome {
        Ok(cost) => cost,
        Err(error) => error.billed(),
    };
    let _ = if billed.is_zero() && outcome.is_err() {
        hold.release().await
    } else {
        hold.settle(billed).await
    };
}
