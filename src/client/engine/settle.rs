//! Step 6 of a guarded call: settling from the usage the provider reported,
//! or from the estimate when the report cannot be trusted.

use crate::budget::{Receipt, Reservation};
use crate::client::receipt::{CallReceipt, CostSource};
use crate::prices::Resolved;
use crate::tokens::TokenCount;
use crate::usage::{ServiceTier, Usage, UsageError};

/// Settles `reservation` from `report`, or from the estimate if the report
/// is missing, unreadable or implausible: a call the provider answered is
/// never recorded as free.
pub(crate) fn settle(
    reservation: Reservation,
    resolved: &Resolved,
    prompt: TokenCount,
    report: Result<Usage, UsageError>,
) -> CallReceipt {
    let granted_output = reservation.max_output_tokens();
    let tier = reservation.service_tier();
    let (usage, source) = match report {
        Ok(usage) => match implausible(&usage, prompt) {
            None => (usage, CostSource::Reported),
            Some(reason) => {
                let output = match usage.billed_output_tokens() {
                    0 => granted_output,
                    reported => reported,
                };
                (
                    estimated_usage(prompt, output, tier),
                    CostSource::Estimated { reason },
                )
            }
        },
        Err(error) => (
            estimated_usage(prompt, granted_output, tier),
            CostSource::Estimated {
                reason: format!("{error}; output billed at the granted maximum"),
            },
        ),
    };
    let receipt = reservation.settle(&usage);
    call_receipt(resolved, receipt, source)
}

/// Why a readable usage report still cannot be believed, if it cannot: 0
/// input tokens for a prompt that was not empty (some compatible servers
/// report zeros rather than nothing).
pub(crate) fn implausible(usage: &Usage, prompt: TokenCount) -> Option<String> {
    (usage.prompt_tokens() == 0 && prompt.tokens > 0)
        .then(|| format!("the provider reported 0 input tokens for a prompt of {prompt}"))
}

/// A usage built from the guard's own counts, billed at the tier the call
/// asked for.
fn estimated_usage(prompt: TokenCount, output_tokens: u64, tier: ServiceTier) -> Usage {
    Usage::new(prompt.tokens, output_tokens).with_service_tier(tier)
}

/// The caller's receipt for a settled reservation.
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
        spent: receipt.spent,
        remaining: receipt.remaining,
        degraded: None,
    }
}
