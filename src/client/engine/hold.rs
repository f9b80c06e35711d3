//! Step 4 of a guarded call: the kill switch, runaway detection and every
//! shared limit, held all or none with the task's reservation.

use crate::client::engine::PreparedCall;
use crate::client::error::ClientError;
use crate::guard::runaway::RequestFingerprint;
use crate::guard::{SharedHold, SpendGuard};
use crate::tags::Tags;

/// Reserves `call`'s worst case against the shared limits too, if there
/// are any; `fingerprint` is taken only when runaway detection is on. A
/// refusal releases the task's reservation: all or none.
pub(crate) async fn shared(
    guard: Option<&SpendGuard>,
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
    match guard.reserve_request(tags, request, worst_case).await {
        Ok(hold) => Ok((call, Some(hold))),
        Err(refusal) => {
            call.reservation.release();
            Err(refusal.into())
        }
    }
}
