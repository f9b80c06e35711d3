//! Step 4 of a guarded call: the kill switch, runaway detection and every
//! shared limit, held all or none with the task's reservation.
//!
//! A call the plan reserved at its prompt's bound is held at the bound in
//! the shared limits too, as long as each would still hold as much again
//! (the store decides that in the same round trip). When one would not, the
//! bound decides nothing: the task's reservation is released, the prompt
//! counted exactly, and the call reserved and held at its exact worst case,
//! which gives the answer it would have had with no bound. The kill switch
//! and runaway detection are checked once, before either hold, so a call
//! is seen by each detector once.

use crate::budget::TaskBudget;
use crate::client::engine::{plan, PreparedCall};
use crate::client::error::ClientError;
use crate::guard::runaway::RequestFingerprint;
use crate::guard::{SharedHold, SpendGuard};
use crate::tags::Tags;

/// Reserves `call`'s worst case against the shared limits too, if there
/// are any; `fingerprint` is taken only when runaway detection is on. A
/// refusal releases the task's reservation: all or none.
pub(crate) async fn shared(
    guard: Option<&SpendGuard>,
    budget: &TaskBudget,
    tags: &Tags,
    fingerprint: impl FnOnce(&str) -> Option<RequestFingerprint>,
    call: PreparedCall,
) -> Result<(PreparedCall, Option<SharedHold>), ClientError> {
    let Some(guard) = guard else {
        return Ok((call, None));
    };
    let request = if guard.detects_runaways() {
        fingerprint(&call.model)
    } else {
        None
    };
    let worst_case = call.reservation.reserved_cost();
    if let Err(refusal) = guard.admit(tags, request, worst_case) {
        call.reservation.release();
        return Err(refusal.into());
    }
    let call = if call.is_on_bound() {
        match guard.hold_far_from_limits(tags, worst_case).await {
            Ok(Some(hold)) => return Ok((call, Some(hold))),
            Ok(None) => plan::count_exactly(budget, call)?,
            Err(refusal) => {
                call.reservation.release();
                return Err(refusal.into());
            }
        }
    } else {
        call
    };
    match guard.hold(tags, call.reservation.reserved_cost()).await {
        Ok(hold) => Ok((call, Some(hold))),
        Err(refusal) => {
            call.reservation.release();
            Err(refusal.into())
        }
    }
}
