//! What a front end's builder sets on the engine it builds: the price
//! table, the token counter, the shared guard, the ledger, the tags and the
//! drift tolerance. `GuardedClientBuilder` and `HttpGuardBuilder` each keep
//! one, so the two lists cannot drift apart.

use std::sync::Arc;

use crate::client::drift::DriftTolerance;
use crate::client::engine::Engine;
use crate::client::recorder::LedgerChoice;
use crate::guard::SpendGuard;
use crate::prices::PriceTable;
use crate::tags::Tags;
use crate::tokens::TokenCounter;

/// A builder's engine settings; unset, the bundled prices, no guard, no
/// ledger, no tags and the default drift tolerance.
#[derive(Debug, Clone, Default)]
pub(crate) struct EngineSettings {
    pub(crate) prices: Option<Arc<PriceTable>>,
    pub(crate) counter: TokenCounter,
    pub(crate) guard: Option<SpendGuard>,
    pub(crate) tags: Tags,
    pub(crate) ledger: LedgerChoice,
    pub(crate) drift_tolerance: DriftTolerance,
}

impl EngineSettings {
    /// The engine these settings describe.
    pub(crate) fn build(self) -> Engine {
        Engine::new(
            self.prices.unwrap_or_else(PriceTable::bundled),
            self.counter,
            self.guard,
            self.ledger.chosen(),
            self.tags,
            self.drift_tolerance,
        )
    }
}
