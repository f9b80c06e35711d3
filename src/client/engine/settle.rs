//! Step 6 of a guarded call: settling from the usage the provider reported
//! (priced by the table beside the provider's own figure, at the higher of
//! the two), or from the estimate when the report cannot be trusted.

use crate::budget::{Receipt, Reservation};
use crate::client::drift::{self, DriftTolerance, PriceDrift};
use crate::client::receipt::{CallReceipt, CostSource};
use crate::client::unpriced_tier;
use crate::money::Usd;
use crate::prices::{ModelPrice, Resolved};
use crate::tokens::{InputCalibration, PromptCount, TokenCount};
use crate::usage::{ServiceTier, Usage, UsageError, UsageReport};

/// Settles `reservation` from `report`, or from the estimate if the report
/// is missing, unreadable or implausible: a call the provider answered is
/// never recorded as free.
pub(crate) fn settle(
    reservation: Reservation,
    resolved: &Resolved,
    prompt: &PromptCount,
    report: Result<UsageReport, UsageError>,
    tolerance: DriftTolerance,
) -> CallReceipt {
    let granted_output = reservation.max_output_tokens();
    let tier = reservation.service_tier();
    let (usage, source, pricing) = match report {
        Ok(report) => match implausible(&report.usage, prompt) {
            None => {
                let pricing = Pricing::of(&report, reservation.price(), resolved, tolerance);
                (report.usage, CostSource::Reported, Some(pricing))
            }
            Some(reason) => {
                let output = match report.usage.billed_output_tokens() {
                    0 => granted_output,
                    reported => reported,
                };
                (
                    estimated_usage(prompt.calibrated(), output, tier),
                    CostSource::Estimated { reason },
                    None,
                )
            }
        },
        Err(error) => (
            estimated_usage(prompt.calibrated(), granted_output, tier),
            CostSource::Estimated {
                reason: format!("{error}; output billed at the granted maximum"),
            },
            None,
        ),
    };
    let floor = pricing.as_ref().map_or(Usd::ZERO, Pricing::floor);
    let receipt = reservation.settle_at_least(&usage, floor);
    let mut receipt = call_receipt(resolved, receipt, source);
    if let Some(pricing) = pricing {
        pricing.mark(&mut receipt);
    }
    receipt
}

/// Teaches `calibration` what the provider counted for a prompt estimated
/// at `prompt`'s estimate, when the receipt is priced from its report.
/// Only estimates teach, and a prompt reserved at its bound is marked as
/// its exact count will be, so no count is taken here for an exact one.
pub(crate) fn learn(
    calibration: &InputCalibration,
    resolved: &Resolved,
    prompt: &PromptCount,
    receipt: &CallReceipt,
) {
    if receipt.is_reported() && !prompt.reserved().is_exact() {
        calibration.learn(
            resolved.listed_id(),
            prompt.estimated(),
            receipt.usage.prompt_tokens(),
        );
    }
}

/// How a readable usage report is billed: the table's price (the dearest
/// the model has, for a tier the table cannot price) beside the provider's
/// own figure, settled at the higher of the two.
pub(crate) struct Pricing {
    table: Usd,
    provider: Option<Usd>,
    unpriced_tier: Option<String>,
    drift: Option<PriceDrift>,
}

impl Pricing {
    /// Prices `report` by `price`, and says so in tracing when the tier
    /// cannot be priced or the two figures drift apart.
    pub(crate) fn of(
        report: &UsageReport,
        price: &ModelPrice,
        resolved: &Resolved,
        tolerance: DriftTolerance,
    ) -> Pricing {
        let model = resolved.listed_id();
        let table = match &report.unpriced_tier {
            Some(tier) => {
                unpriced_tier::announce_once(model, tier);
                price.dearest_cost(&report.usage)
            }
            None => price.cost(&report.usage),
        };
        let drift = report
            .provider_cost
            .filter(|&provider| tolerance.drifts(table, provider))
            .map(|provider| PriceDrift {
                model: model.to_owned(),
                table,
                provider,
            });
        if let Some(drift) = &drift {
            drift::announce(drift);
        }
        Pricing {
            table,
            provider: report.provider_cost,
            unpriced_tier: report.unpriced_tier.clone(),
            drift,
        }
    }

    /// The least the call is settled at: the higher of the two figures.
    pub(crate) fn floor(&self) -> Usd {
        self.table.max(self.provider.unwrap_or(Usd::ZERO))
    }

    /// Writes how the call was priced into its receipt.
    pub(crate) fn mark(self, receipt: &mut CallReceipt) {
        receipt.table_cost = self.table;
        receipt.provider_cost = self.provider;
        receipt.unpriced_tier = self.unpriced_tier;
        receipt.price_drift = self.drift;
    }
}

/// Why a readable usage report still cannot be believed, if it cannot: 0
/// input tokens for a prompt that was not empty (some compatible servers
/// report zeros rather than nothing).
pub(crate) fn implausible(usage: &Usage, prompt: &PromptCount) -> Option<String> {
    (usage.prompt_tokens() == 0 && prompt.reserved().tokens > 0).then(|| {
        let prompt = prompt.calibrated();
        format!("the provider reported 0 input tokens for a prompt of {prompt}")
    })
}

/// A usage built from the guard's own counts, billed at the tier the call
/// asked for.
fn estimated_usage(prompt: TokenCount, output_tokens: u64, tier: ServiceTier) -> Usage {
    Usage::new(prompt.tokens, output_tokens).with_service_tier(tier)
}

/// The caller's receipt for a settled reservation, priced by the table
/// alone until [`Pricing::mark`] says otherwise.
pub(crate) fn call_receipt(
    resolved: &Resolved,
    receipt: Receipt,
    source: CostSource,
) -> CallReceipt {
    CallReceipt {
        model: resolved.listed_id().to_owned(),
        cost: receipt.cost,
        source,
        reserved: receipt.reserved,
        usage: receipt.usage,
        price_table: resolved.table_version().clone(),
        spent: receipt.spent,
        remaining: receipt.remaining,
        degraded: None,
        table_cost: receipt.cost,
        provider_cost: None,
        unpriced_tier: None,
        price_drift: None,
        overran: receipt.overran,
    }
}
