//! [`CallRecorder`]: one ledger line for each decision a client makes.

use std::fmt;
use std::sync::Arc;

use crate::client::{CallReceipt, ClientError, CostSource, CutOffReason, Provider};
use crate::clock::{Clock, SystemClock, UtcDateTime};
use crate::guard::runaway::{RequestFingerprint, RunawayDetected, RunawayKind};
use crate::guard::SpendGuard;
use crate::ledger::{
    Decision, LedgerCostSource, LedgerRecord, LedgerSink, LedgerTags, LedgerTokens,
};
use crate::tags::Tags;

/// A client's ledger and whether its lines carry request fingerprints.
#[derive(Clone)]
pub(crate) struct Ledger {
    pub(crate) sink: Arc<dyn LedgerSink>,
    pub(crate) request_hashes: bool,
}

/// A builder's ledger settings: the sink, and whether its lines carry
/// request fingerprints, which may be set in either order.
#[cfg(feature = "client")]
#[derive(Clone, Default)]
pub(crate) struct LedgerChoice {
    sink: Option<Arc<dyn LedgerSink>>,
    request_hashes: bool,
}

#[cfg(feature = "client")]
impl LedgerChoice {
    /// Writes the lines to `sink`.
    pub(crate) fn sink(&mut self, sink: Arc<dyn LedgerSink>) {
        self.sink = Some(sink);
    }

    /// Whether the lines carry request fingerprints.
    pub(crate) fn request_hashes(&mut self, on: bool) {
        self.request_hashes = on;
    }

    /// The ledger chosen, if a sink was given.
    pub(crate) fn chosen(self) -> Option<Ledger> {
        let request_hashes = self.request_hashes;
        self.sink.map(|sink| Ledger {
            sink,
            request_hashes,
        })
    }
}

#[cfg(feature = "client")]
impl fmt::Debug for LedgerChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedgerChoice")
            .field("sink", &self.sink.as_ref().map(|_| "LedgerSink"))
            .field("request_hashes", &self.request_hashes)
            .finish()
    }
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger")
            .field("request_hashes", &self.request_hashes)
            .finish_non_exhaustive()
    }
}

/// What one call's ledger line needs besides its outcome: who made it, to
/// which model, and (opt-in) which request.
#[derive(Clone)]
pub(crate) struct CallRecorder {
    sink: Arc<dyn LedgerSink>,
    provider: Provider,
    model: String,
    tags: Tags,
    request_hash: Option<String>,
    clock: Option<SpendGuard>,
}

impl CallRecorder {
    /// A recorder for a call to `model` with `tags` into `ledger`. The time
    /// comes from the guard's clock when there is one.
    pub(crate) fn new(
        ledger: &Ledger,
        provider: Provider,
        model: &str,
        body: &serde_json::Value,
        tags: Tags,
        guard: Option<&SpendGuard>,
    ) -> CallRecorder {
        CallRecorder {
            sink: Arc::clone(&ledger.sink),
            provider,
            model: model.to_owned(),
            tags,
            request_hash: ledger
                .request_hashes
                .then(|| RequestFingerprint::of(model, body).to_string()),
            clock: guard.cloned(),
        }
    }

    /// Records a call that was answered (or a stream that ended), from its
    /// receipt; `error` is how a stream ended badly, if it did.
    pub(crate) fn settled(&self, receipt: &CallReceipt, error: Option<&ClientError>) {
        let decision = settled_decision(error);
        let mut record = self
            .record(&receipt.model, decision)
            .with_tokens(LedgerTokens::from(&receipt.usage))
            .with_price_table(receipt.price_table.label());
        record = match &receipt.source {
            CostSource::Reported => record.with_cost(receipt.cost, LedgerCostSource::Reported),
            CostSource::Estimated { reason } => record.with_estimated_cost(receipt.cost, reason),
        };
        if let Some(provider) = receipt.provider_cost {
            record = record.with_provider_cost(
                provider,
                receipt.table_cost,
                receipt.price_drift.is_some(),
            );
        }
        if let Some(by) = receipt.overran {
            record = record.with_overrun(by);
        }
        if let Some(tier) = &receipt.unpriced_tier {
            record = record.with_unpriced_tier(tier.clone());
        }
        if let Some(degraded) = &receipt.degraded {
            record = record.with_reason(degraded.to_string());
        }
        if let Some(error) = error {
            record = record.with_reason(error.to_string());
        }
        self.sink.record(record);
    }

    /// Records a call that ended without a receipt: refused before it was
    /// sent, or failed at the provider or on the way.
    pub(crate) fn failed(&self, error: &ClientError) {
        let limit = match error {
            ClientError::Budget(exceeded) => Some(format!(
                "{}: {} of {}",
                exceeded.subject, exceeded.limit, exceeded.max
            )),
            ClientError::Halted(halt) => Some(format!("kill switch ({})", halt.by)),
            ClientError::Runaway(detected) => Some(runaway_limit(detected)),
            ClientError::ContextWindow { model, window, .. } => {
                Some(format!("{model}: context window of {window} tokens"))
            }
            _ => None,
        };
        let mut record = self
            .record(&self.model, failed_decision(error))
            .with_reason(error.to_string());
        if let Some(limit) = limit {
            record = record.with_limit(limit);
        }
        let billed = error.billed();
        if !billed.is_zero() {
            record = record.with_estimated_cost(
                billed,
                "billed at the guard's worst case: the call may have been charged",
            );
        }
        self.sink.record(record);
    }

    fn record(&self, model: &str, decision: Decision) -> LedgerRecord {
        let now = self
            .clock
            .as_ref()
            .map_or_else(|| SystemClock.now(), SpendGuard::now);
        let mut record = LedgerRecord::new(
            UtcDateTime::from_unix(now),
            self.provider.billing_name(),
            model,
            decision,
        )
        .with_tags(LedgerTags::from(&self.tags));
        if let Some(hash) = &self.request_hash {
            record = record.with_request_hash(hash.clone());
        }
        record
    }
}

/// The decision of a call that was answered (or a stream that ended);
/// `error` is how a stream ended badly, if it did.
pub(crate) fn settled_decision(error: Option<&ClientError>) -> Decision {
    match error {
        None => Decision::Allowed,
        Some(ClientError::StreamCutOff {
            reason: CutOffReason::Halted(_),
            ..
        }) => Decision::Killed,
        Some(ClientError::StreamCutOff { .. }) => Decision::CutOff,
        Some(_) => Decision::Failed,
    }
}

/// The decision of a call that ended without a receipt: refused before it
/// was sent, or failed at the provider or on the way.
pub(crate) fn failed_decision(error: &ClientError) -> Decision {
    match error {
        ClientError::Budget(_) | ClientError::ContextWindow { .. } => Decision::Refused,
        ClientError::Halted(_) => Decision::Killed,
        ClientError::Runaway(_) => Decision::Runaway,
        _ => Decision::Failed,
    }
}

/// The runaway detector that refused, as the ledger's `limit`:
/// `agent=researcher: retry loop`.
fn runaway_limit(detected: &RunawayDetected) -> String {
    let detector = match &detected.kind {
        RunawayKind::Loop { .. } => "retry loop",
        RunawayKind::CallVelocity { .. } => "call velocity",
        RunawayKind::SpendVelocity { .. } => "spend velocity",
        RunawayKind::CircuitOpen { .. } => "circuit breaker",
        RunawayKind::Paused { .. } => "paused",
    };
    format!("{}: {detector}", detected.scope)
}

#[cfg(all(test, feature = "client"))]
mod tests {
    use super::*;
    use crate::ledger::MemorySink;

    #[test]
    fn request_hashes_may_be_asked_for_before_the_sink_is_given() {
        let mut choice = LedgerChoice::default();
        assert!(choice.clone().chosen().is_none(), "no sink, no ledger");
        choice.request_hashes(true);
        choice.sink(Arc::new(MemorySink::new()));
        assert!(choice.chosen().is_some_and(|ledger| ledger.request_hashes));
    }
}
