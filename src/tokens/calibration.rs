//! [`InputCalibration`]: how far the providers' input counts have run past
//! the guard's own estimates, per model, so that an estimate that came out
//! short is raised before the next reservation.
//!
//! A model without an offline tokenizer is counted with o200k_base plus a
//! margin ([`EstimatedFamily`](super::EstimatedFamily)); a provider can
//! still report more (a new tokenizer, markup the margin did not foresee).
//! Each settlement's ratio of reported to estimated input is kept, and a
//! prompt is reserved at its estimate times the worst recent ratio, when
//! that is above one. Ratios are integers in thousandths; a reservation is
//! never lowered below the estimate.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::tokens::{Exactness, TokenCount};

/// How many settlements of one model are remembered: a short estimate
/// raises the next 32 reservations at least, and then decays away unless
/// it happens again.
pub(crate) const RECENT_SETTLEMENTS: usize = 32;

/// The largest ratio kept, in thousandths: a report four times its
/// estimate is more likely a wrong count than a tokenizer, and a raise
/// past it would refuse every call of the model.
pub(crate) const MAX_RATIO_MILLIS: u64 = 4_000;

/// How many models are remembered; past it, the model seen longest ago
/// makes room.
const MAX_MODELS: usize = 1_024;

/// One in thousandths: a report that matches its estimate.
const ONE: u64 = 1_000;

/// Recent ratios of reported to estimated input, per model, shared by
/// every guarded client and step of the process.
#[derive(Debug, Default)]
pub(crate) struct InputCalibration {
    models: Mutex<Models>,
}

#[derive(Debug, Default)]
struct Models {
    by_model: HashMap<String, Recent>,
    /// Bumped on each settlement: which model was seen longest ago.
    clock: u64,
}

/// One model's last [`RECENT_SETTLEMENTS`] ratios, in thousandths.
#[derive(Debug)]
struct Recent {
    ratios: [u64; RECENT_SETTLEMENTS],
    next: usize,
    seen: u64,
}

impl InputCalibration {
    /// The calibration every front end of the process shares: a guarded
    /// client and its clones, and every [`SpendGuard::step`](crate::guard::SpendGuard::step).
    pub(crate) fn shared() -> Arc<InputCalibration> {
        static SHARED: OnceLock<Arc<InputCalibration>> = OnceLock::new();
        Arc::clone(SHARED.get_or_init(Arc::default))
    }

    /// Learns from one settlement of `model`: the provider reported
    /// `reported` input tokens for a prompt estimated at `estimated`.
    /// Exact counts teach nothing (a difference there is framing the
    /// provider added, not a tokenizer).
    pub(crate) fn learn(&self, model: &str, estimated: TokenCount, reported: u64) {
        if estimated.is_exact() || estimated.tokens == 0 {
            return;
        }
        let ratio = ratio_millis(reported, estimated.tokens);
        let mut models = self.models.lock();
        models.clock += 1;
        let seen = models.clock;
        if !models.by_model.contains_key(model) && models.by_model.len() >= MAX_MODELS {
            models.forget_oldest();
        }
        let recent = models
            .by_model
            .entry(model.to_owned())
            .or_insert_with(Recent::new);
        recent.ratios[recent.next] = ratio;
        recent.next = (recent.next + 1) % RECENT_SETTLEMENTS;
        recent.seen = seen;
    }

    /// The count to reserve for `count`, a prompt of `model`: raised by the
    /// worst recent ratio when an estimate has run short, else unchanged.
    #[cfg(test)]
    pub(crate) fn adjust(&self, model: &str, count: TokenCount) -> TokenCount {
        self.raise_for(model).apply(count)
    }

    /// How `model`'s estimates are raised now, to apply to a count taken
    /// later exactly as [`adjust`](Self::adjust) would have applied it now.
    pub(crate) fn raise_for(&self, model: &str) -> Raise {
        let worst = self
            .models
            .lock()
            .by_model
            .get(model)
            .map_or(ONE, Recent::worst);
        Raise { worst }
    }
}

/// A model's calibration at one moment: the worst recent ratio of reported
/// to estimated input, in thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Raise {
    worst: u64,
}

impl Raise {
    /// No raise: what a model never settled gets.
    pub(crate) const NONE: Raise = Raise { worst: ONE };

    /// `count` raised by the ratio when it is an estimate and the ratio is
    /// above one, else unchanged.
    pub(crate) fn apply(self, count: TokenCount) -> TokenCount {
        let Exactness::Estimate { margin_percent } = count.exactness else {
            return count;
        };
        let worst = self.worst;
        if worst <= ONE {
            return count;
        }
        let raised = |n: u64| {
            let millis = u128::from(n) * u128::from(worst);
            u64::try_from(millis.div_ceil(u128::from(ONE))).unwrap_or(u64::MAX)
        };
        let base = 100 + u64::from(margin_percent);
        TokenCount {
            tokens: raised(count.tokens),
            exactness: Exactness::Estimate {
                margin_percent: u32::try_from(raised(base) - 100).unwrap_or(u32::MAX),
            },
        }
    }
}

impl Models {
    fn forget_oldest(&mut self) {
        let oldest = self
            .by_model
            .iter()
            .min_by_key(|(_, recent)| recent.seen)
            .map(|(model, _)| model.clone());
        if let Some(model) = oldest {
            self.by_model.remove(&model);
        }
    }
}

impl Recent {
    fn new() -> Recent {
        Recent {
            ratios: [0; RECENT_SETTLEMENTS],
            next: 0,
            seen: 0,
        }
    }

    fn worst(&self) -> u64 {
        self.ratios.iter().copied().max().unwrap_or(ONE)
    }
}

/// `reported / estimated` in thousandths, rounded up, at most
/// [`MAX_RATIO_MILLIS`].
fn ratio_millis(reported: u64, estimated: u64) -> u64 {
    let millis = (u128::from(reported) * u128::from(ONE)).div_ceil(u128::from(estimated));
    u64::try_from(millis)
        .unwrap_or(u64::MAX)
        .min(MAX_RATIO_MILLIS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(tokens: u64) -> TokenCount {
        TokenCount {
            tokens,
            exactness: Exactness::Estimate { margin_percent: 25 },
        }
    }

    #[test]
    fn a_short_estimate_raises_the_next_reservations_by_its_ratio() {
        let calibration = InputCalibration::default();
        assert_eq!(calibration.adjust("m", estimate(1_597)), estimate(1_597));
        calibration.learn("m", estimate(1_597), 2_407);
        let raised = calibration.adjust("m", estimate(1_597));
        // 2,407 / 1,597 is 1.5072 (1.508 rounded up): 1,597 × 1.508 = 2,408.3.
        assert_eq!(raised.tokens, 2_409);
        assert!(raised.tokens >= 2_407);
        assert_eq!(raised.exactness, Exactness::Estimate { margin_percent: 89 });
        assert_eq!(calibration.adjust("other", estimate(100)), estimate(100));
    }

    #[test]
    fn a_generous_estimate_is_never_lowered() {
        let calibration = InputCalibration::default();
        calibration.learn("m", estimate(1_000), 700);
        assert_eq!(calibration.adjust("m", estimate(1_000)), estimate(1_000));
    }

    #[test]
    fn the_raise_decays_after_enough_settlements_that_fit() {
        let calibration = InputCalibration::default();
        calibration.learn("m", estimate(1_000), 2_000);
        for _ in 1..RECENT_SETTLEMENTS {
            calibration.learn("m", estimate(1_000), 900);
            assert_eq!(calibration.adjust("m", estimate(10)).tokens, 20);
        }
        calibration.learn("m", estimate(1_000), 900);
        assert_eq!(calibration.adjust("m", estimate(10)), estimate(10));
    }

    #[test]
    fn the_ratio_is_bounded_and_exact_counts_are_left_alone() {
        let calibration = InputCalibration::default();
        calibration.learn("m", estimate(1), u64::MAX);
        assert_eq!(calibration.adjust("m", estimate(u64::MAX)).tokens, u64::MAX);
        assert_eq!(calibration.adjust("m", estimate(100)).tokens, 400);
        let exact = TokenCount {
            tokens: 100,
            exactness: Exactness::Exact,
        };
        assert_eq!(calibration.adjust("m", exact), exact);
        calibration.learn("n", exact, 1_000);
        assert_eq!(calibration.adjust("n", estimate(100)), estimate(100));
    }

    #[test]
    fn models_past_the_bound_forget_the_one_seen_longest_ago() {
        let calibration = InputCalibration::default();
        for model in 0..=MAX_MODELS {
            calibration.learn(&model.to_string(), estimate(10), 20);
        }
        assert_eq!(calibration.models.lock().by_model.len(), MAX_MODELS);
        assert_eq!(calibration.adjust("0", estimate(10)), estimate(10));
        assert_eq!(calibration.adjust("1", estimate(10)).tokens, 20);
    }
}
