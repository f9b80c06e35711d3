//! Metrics through the `metrics` facade, for whatever exporter the process
//! installs (Prometheus, OpenTelemetry, StatsD…): spend, calls, refusals
//! and tokens counted as each guarded call ends, the holds in flight, and
//! the shared limits' windows when asked ([`record_limits`]).
//!
//! Labels are bounded: provider, model (a price table's listed id),
//! decision, limit kind and token kind, all from short fixed lists or the
//! price table. Tags (agent, customer…) become labels only when chosen with
//! [`MetricTags`], each capped at a number of distinct values.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use metrics::{counter, gauge, Label, SharedString, Unit};
use parking_lot::{Mutex, RwLock};

use crate::client::error::ClientError;
use crate::client::provider::Provider;
use crate::client::receipt::CallReceipt;
use crate::client::telemetry::outcome::Outcome;
use crate::guard::{LimitTarget, SpendGuard};
use crate::money::Usd;
use crate::store::StoreError;
use crate::tags::{TagKind, Tags};

/// Spend, in nano-dollars (1e-9 USD), by provider and model.
const SPEND: &str = "spendguard_spend_nanousd_total";
/// Calls ended, by provider and decision.
const CALLS: &str = "spendguard_calls_total";
/// Calls stopped by a limit, by the kind of limit.
const REFUSALS: &str = "spendguard_refusals_total";
/// Tokens billed, by provider, model and kind.
const TOKENS: &str = "spendguard_tokens_total";
/// Calls holding a reservation now, by provider.
const HOLDS: &str = "spendguard_holds_in_flight";
/// A shared limit's settled spend in its current window, in nano-dollars.
const LIMIT_SPENT: &str = "spendguard_limit_spent_nanousd";
/// What a shared limit leaves for new reservations in its current window.
const LIMIT_REMAINING: &str = "spendguard_limit_remaining_nanousd";

/// Registers each metric's unit and description with the installed
/// recorder (an exporter's `HELP` lines). Call it once, after installing
/// the recorder; metrics are recorded whether or not it is called.
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(
        SPEND,
        "Spend in nano-dollars (1e-9 USD), by provider and model."
    );
    describe_counter!(
        CALLS,
        Unit::Count,
        "Guarded calls ended, by provider and decision."
    );
    describe_counter!(
        REFUSALS,
        Unit::Count,
        "Calls stopped by a limit, by the kind of limit."
    );
    describe_counter!(
        TOKENS,
        Unit::Count,
        "Tokens billed, by provider, model and kind."
    );
    describe_gauge!(
        HOLDS,
        Unit::Count,
        "Calls holding a reservation now, by provider."
    );
    describe_gauge!(
        LIMIT_SPENT,
        "A shared limit's settled spend in its current window, in nano-dollars."
    );
    describe_gauge!(
        LIMIT_REMAINING,
        "What a shared limit leaves for new reservations in its current window, in nano-dollars."
    );
}

/// Which call tags the metrics carry as labels, process-wide: none unless
/// chosen, so a customer or task id never multiplies the series by
/// default. Each chosen tag keeps at most [`max_values`](Self::max_values)
/// distinct values (100 unless set); later ones are counted under
/// `other`, and a call without the tag under `none`.
///
/// ```
/// use spendguard::client::MetricTags;
/// use spendguard::tags::TagKind;
///
/// MetricTags::new(&[TagKind::Agent]).max_values(20).install();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricTags {
    kinds: Vec<TagKind>,
    max_values: usize,
}

/// Distinct values each chosen tag keeps when none is set.
pub const DEFAULT_MAX_TAG_VALUES: usize = 100;

/// The chosen tags and the values seen of each, shared by every call.
struct TagLabels {
    kinds: Vec<TagKind>,
    max_values: usize,
    seen: Mutex<HashMap<TagKind, HashSet<Arc<str>>>>,
}

static TAG_LABELS: RwLock<Option<Arc<TagLabels>>> = parking_lot::const_rwlock(None);

impl MetricTags {
    /// Labels for the tags `kinds`, each capped at
    /// [`DEFAULT_MAX_TAG_VALUES`] values.
    pub fn new(kinds: &[TagKind]) -> Self {
        let mut kinds = kinds.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        MetricTags {
            kinds,
            max_values: DEFAULT_MAX_TAG_VALUES,
        }
    }

    /// At most `values` distinct values of each tag; the rest are `other`.
    pub fn max_values(mut self, values: usize) -> Self {
        self.max_values = values;
        self
    }

    /// Makes this the process's choice, for every guarded call from now on;
    /// `MetricTags::new(&[])` puts back the default of no tag labels.
    pub fn install(self) {
        let labels = (!self.kinds.is_empty()).then(|| {
            Arc::new(TagLabels {
                kinds: self.kinds,
                max_values: self.max_values,
                seen: Mutex::new(HashMap::new()),
            })
        });
        *TAG_LABELS.write() = labels;
    }
}

impl TagLabels {
    /// The label value for `kind` on a call tagged `tags`: its value while
    /// under the cap, `other` past it, `none` without one.
    fn value(&self, kind: TagKind, tags: &Tags) -> String {
        let Some(value) = tags.get(kind) else {
            return "none".to_owned();
        };
        let mut seen = self.seen.lock();
        let values = seen.entry(kind).or_default();
        if values.contains(value) {
            return value.to_owned();
        }
        if values.len() < self.max_values {
            values.insert(Arc::from(value));
            return value.to_owned();
        }
        "other".to_owned()
    }
}

/// The labels of the chosen tags for a call tagged `tags`; none (and no
/// allocation) by default.
fn tag_labels(tags: impl FnOnce() -> Tags) -> Vec<Label> {
    let Some(labels) = TAG_LABELS.read().clone() else {
        return Vec::new();
    };
    let tags = tags();
    labels
        .kinds
        .iter()
        .map(|&kind| Label::new(kind.name(), labels.value(kind, &tags)))
        .collect()
}

/// The label of a chosen tag `kind` on `tags`, if `kind` is chosen.
fn tag_label(kind: TagKind, tags: &Tags) -> Option<String> {
    let labels = TAG_LABELS.read().clone()?;
    labels
        .kinds
        .contains(&kind)
        .then(|| labels.value(kind, tags))
}

/// Sets each shared limit's gauges for the windows `tags` falls in now:
/// `spendguard_limit_spent_nanousd` (settled spend) and
/// `spendguard_limit_remaining_nanousd` (the limit less what is spent and
/// held), labelled `limit` with the limit as it prints (`each agent: $5.00
/// per UTC day`). A per-value limit ([`SharedLimit::each`](crate::guard::SharedLimit::each))
/// also carries its tag's value, and is recorded only when that tag is
/// chosen in [`MetricTags`]: one customer's window is not every customer's.
///
/// It reads the store, so call it on a timer or before a scrape, not per
/// call.
///
/// ```
/// use spendguard::client::record_limits;
/// use spendguard::guard::{SharedLimit, SpendGuard, Window};
/// use spendguard::tags::Tags;
/// use spendguard::Usd;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let guard = SpendGuard::builder()
///     .limit(SharedLimit::global(Usd::from_dollars(50.0)?, Window::Day))
///     .build()?;
/// record_limits(&guard, &Tags::new()).await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`StoreError`] when the store cannot answer; no gauge is changed then.
pub async fn record_limits(guard: &SpendGuard, tags: &Tags) -> Result<(), StoreError> {
    for status in guard.status(tags).await? {
        let mut labels = vec![Label::new("limit", status.limit.to_string())];
        if let LimitTarget::Each(kind) = status.limit.target() {
            let Some(value) = tag_label(*kind, tags) else {
                continue;
            };
            labels.push(Label::new(kind.name(), value));
        }
        let remaining = status.limit.max().saturating_sub(status.usage.committed());
        gauge!(LIMIT_SPENT, labels.clone()).set(nanos(status.usage.spent));
        gauge!(LIMIT_REMAINING, labels).set(nanos(remaining));
    }
    Ok(())
}

/// Nano-dollars as a gauge's value: exact below 2^53 (about $9 million).
#[allow(clippy::cast_precision_loss)]
fn nanos(usd: Usd) -> f64 {
    usd.nanos() as f64
}

/// One call's metrics, recorded as it is admitted and as it ends.
pub(crate) struct CallMeters {
    provider: &'static str,
    /// The chosen tags' labels; empty by default.
    tags: Vec<Label>,
    /// The model admitted, for spend billed without a receipt.
    model: Option<SharedString>,
    in_flight: bool,
}

impl CallMeters {
    /// The metrics of a call to `provider` tagged `tags` (read only when
    /// tags are chosen).
    pub(crate) fn start(provider: Provider, tags: impl FnOnce() -> Tags) -> CallMeters {
        CallMeters {
            provider: provider.billing_name(),
            tags: tag_labels(tags),
            model: None,
            in_flight: false,
        }
    }

    /// The call holds its reservation for `model`.
    pub(crate) fn admitted(&mut self, model: &str) {
        self.model = Some(shared(model));
        self.in_flight = true;
        gauge!(HOLDS, "provider" => self.provider).increment(1.0);
    }

    /// The call ended, settled with `receipt` or not; `error` if it ended
    /// badly.
    pub(crate) fn ended(
        &mut self,
        receipt: Option<&CallReceipt>,
        error: Option<&ClientError>,
        outcome: Outcome,
    ) {
        self.release();
        counter!(
            CALLS,
            self.labels([
                Label::new("provider", self.provider),
                Label::new("decision", outcome.decision.as_str()),
            ])
        )
        .increment(1);
        if let (Some(limit), false) = (outcome.limit, receipt.is_some()) {
            counter!(REFUSALS, self.labels([Label::new("limit", limit)])).increment(1);
        }
        let (model, cost) = match receipt {
            Some(receipt) => (Some(shared(&receipt.model)), receipt.cost),
            None => (
                self.model.clone(),
                error.map_or(Usd::ZERO, ClientError::billed),
            ),
        };
        let Some(model) = model else {
            return;
        };
        if !cost.is_zero() || receipt.is_some() {
            counter!(SPEND, self.model_labels(&model, None)).increment(cost.nanos());
        }
        if let Some(receipt) = receipt {
            self.tokens(&model, receipt);
        }
    }

    fn tokens(&self, model: &SharedString, receipt: &CallReceipt) {
        let usage = &receipt.usage;
        let kinds = [
            (
                "input",
                usage.input_tokens.saturating_add(usage.input_audio_tokens),
            ),
            ("cache_read", usage.cache_read_tokens),
            (
                "cache_creation",
                usage
                    .cache_write_tokens
                    .saturating_add(usage.cache_write_1h_tokens),
            ),
            (
                "output",
                usage
                    .output_tokens
                    .saturating_add(usage.output_audio_tokens),
            ),
            ("reasoning", usage.reasoning_tokens),
        ];
        for (kind, tokens) in kinds.into_iter().filter(|&(_, tokens)| tokens > 0) {
            counter!(TOKENS, self.model_labels(model, Some(kind))).increment(tokens);
        }
    }

    fn model_labels(&self, model: &SharedString, kind: Option<&'static str>) -> Vec<Label> {
        let mut labels = vec![
            Label::new("provider", self.provider),
            Label::new("model", model.clone()),
        ];
        labels.extend(kind.map(|kind| Label::new("kind", kind)));
        labels.extend(self.tags.iter().cloned());
        labels
    }

    fn labels<const N: usize>(&self, own: [Label; N]) -> Vec<Label> {
        let mut labels = Vec::from(own);
        labels.extend(self.tags.iter().cloned());
        labels
    }

    fn release(&mut self) {
        if std::mem::take(&mut self.in_flight) {
            gauge!(HOLDS, "provider" => self.provider).decrement(1.0);
        }
    }
}

/// A label value shared by every series of one call: cloned, not copied.
fn shared(value: &str) -> SharedString {
    SharedString::from(Arc::<str>::from(value))
}

impl Drop for CallMeters {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(max_values: usize) -> TagLabels {
        TagLabels {
            kinds: vec![TagKind::Customer],
            max_values,
            seen: Mutex::new(HashMap::new()),
        }
    }

    #[test]
    fn a_tag_keeps_its_first_values_up_to_the_cap_and_the_rest_are_other() {
        let labels = labels(2);
        let customer = |name: &str| Tags::new().customer(name);
        assert_eq!(labels.value(TagKind::Customer, &customer("acme")), "acme");
        assert_eq!(
            labels.value(TagKind::Customer, &customer("globex")),
            "globex"
        );
        assert_eq!(
            labels.value(TagKind::Customer, &customer("initech")),
            "other"
        );
        assert_eq!(labels.value(TagKind::Customer, &customer("acme")), "acme");
        assert_eq!(labels.value(TagKind::Customer, &Tags::new()), "none");
    }

    #[test]
    fn a_cap_of_zero_counts_every_value_as_other() {
        let labels = labels(0);
        assert_eq!(
            labels.value(TagKind::Customer, &Tags::new().customer("acme")),
            "other"
        );
    }

    #[test]
    fn chosen_tags_are_sorted_and_distinct() {
        let tags = MetricTags::new(&[TagKind::Task, TagKind::Agent, TagKind::Task]);
        assert_eq!(tags.kinds, [TagKind::Agent, TagKind::Task]);
        assert_eq!(tags.max_values, DEFAULT_MAX_TAG_VALUES);
    }
}
