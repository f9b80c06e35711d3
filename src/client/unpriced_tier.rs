//! A response at a service tier the price table cannot price: billed at the
//! dearest price the model has, and said once.

use std::collections::HashSet;
use std::sync::OnceLock;

use parking_lot::Mutex;

/// The model and tier pairs already warned about in this process.
static WARNED: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();

/// With feature `tracing`, a `WARN` event on target `spendguard::cost` the
/// first time this process meets `tier` for `model`; `true` that first time.
pub(crate) fn announce_once(model: &str, tier: &str) -> bool {
    let first = WARNED
        .get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .insert((model.to_owned(), tier.to_owned()));
    #[cfg(feature = "tracing")]
    if first {
        tracing::warn!(
            target: "spendguard::cost",
            model,
            tier,
            "{model} answered at service tier {tier:?}, which the price table cannot price; \
             billed at the dearest price the model has"
        );
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_and_tier_is_announced_once() {
        assert!(announce_once("unpriced-tier-test-model", "scale"));
        assert!(!announce_once("unpriced-tier-test-model", "scale"));
        assert!(announce_once("unpriced-tier-test-model", "turbo"));
        assert!(announce_once("unpriced-tier-test-model-2", "scale"));
    }
}
