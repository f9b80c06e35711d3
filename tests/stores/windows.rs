//! The store windows the Redis tests reserve in, at one fixed instant.

use std::sync::Arc;
use std::time::Duration;

use spendguard::store::WindowRef;

/// 2026-11-25T12:00:00Z.
pub const NOW: Duration = Duration::from_secs(1_795_608_000);

/// A counter that never resets.
pub fn all_time(counter: &str) -> WindowRef {
    WindowRef::calendar(Arc::from(counter), 0, None)
}

/// `counter`'s day number `bucket`, kept until that day ends.
pub fn day(counter: &str, bucket: u64) -> WindowRef {
    WindowRef::calendar(
        Arc::from(counter),
        bucket,
        Some(Duration::from_secs((bucket + 1) * 86_400)),
    )
}

/// A rolling window of three slots, `bucket` the current one.
pub fn rolling(counter: &str, bucket: u64) -> WindowRef {
    WindowRef::rolling(Arc::from(counter), bucket, 3, NOW + Duration::from_secs(60))
}
