//! [`SharedLimit`]: a dollar cap on a target (everything, each agent, one
//! customer…) within a window (a UTC day, a month, a rolling hour, all time).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::guard::counter_key::{window_suffix, CounterKey};
use crate::guard::window::Window;
use crate::guard::GuardConfigError;
use crate::money::Usd;
use crate::store::WindowRef;
use crate::tags::{TagKind, Tags};

/// What a shared limit counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitTarget {
    /// Every call through the guard.
    Global,
    /// Each value of a tag separately: every agent gets its own cap.
    Each(TagKind),
    /// Calls carrying one tag value: just agent `researcher`.
    Tagged(TagKind, Arc<str>),
}

impl LimitTarget {
    /// The tag a call with tag value `value` is counted under: none for a
    /// global limit, the limit's own value for a one-value limit.
    fn tag_with<'v>(&'v self, value: &'v str) -> Option<(TagKind, &'v str)> {
        match self {
            LimitTarget::Global => None,
            LimitTarget::Each(kind) => Some((*kind, value)),
            LimitTarget::Tagged(kind, own) => Some((*kind, own)),
        }
    }
}

/// A dollar cap on a [`LimitTarget`] within a [`Window`], kept in the guard's
/// [`SpendStore`](crate::store::SpendStore) so that every task, and every
/// process sharing the store, counts against it.
///
/// ```
/// use std::time::Duration;
/// use spendguard::guard::{SharedLimit, Window};
/// use spendguard::tags::TagKind;
/// use spendguard::Usd;
///
/// let fleet = SharedLimit::global(Usd::from_dollars(200.0)?, Window::Month);
/// let per_key = SharedLimit::each(TagKind::Key, Usd::from_dollars(25.0)?, Window::Day);
/// let hot_agent = SharedLimit::tagged(
///     TagKind::Agent,
///     "heartbeat",
///     Usd::from_dollars(1.0)?,
///     Window::Rolling(Duration::from_secs(3600)),
/// );
/// assert_eq!(per_key.to_string(), "each key: $25.00 per UTC day");
/// assert_eq!(hot_agent.to_string(), "agent heartbeat: $1.00 per 1h (rolling)");
/// # let _ = fleet;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedLimit {
    target: LimitTarget,
    window: Window,
    max: Usd,
    /// `|day`, `|month`…: the window part of every counter name.
    suffix: Arc<str>,
    /// The whole counter name when it does not depend on the call (a
    /// global or one-value limit), made once rather than per call.
    fixed_counter: Option<Arc<str>>,
}

impl SharedLimit {
    /// A cap on everything through the guard.
    pub fn global(max: Usd, window: Window) -> Self {
        SharedLimit::new(LimitTarget::Global, max, window)
    }

    /// A separate cap for each value of `kind`: each key, each agent, each
    /// customer. A call without that tag is not counted by this limit.
    pub fn each(kind: TagKind, max: Usd, window: Window) -> Self {
        SharedLimit::new(LimitTarget::Each(kind), max, window)
    }

    /// A cap on calls whose `kind` tag is `value`.
    pub fn tagged(kind: TagKind, value: impl AsRef<str>, max: Usd, window: Window) -> Self {
        SharedLimit::new(
            LimitTarget::Tagged(kind, Arc::from(value.as_ref())),
            max,
            window,
        )
    }

    fn new(target: LimitTarget, max: Usd, window: Window) -> Self {
        let suffix: Arc<str> = window_suffix(window).into();
        let fixed_counter = match &target {
            LimitTarget::Each(_) => None,
            LimitTarget::Global | LimitTarget::Tagged(..) => {
                Some(CounterKey::name_of(target.tag_with(""), &suffix))
            }
        };
        SharedLimit {
            target,
            window,
            max,
            suffix,
            fixed_counter,
        }
    }

    /// What it counts.
    pub fn target(&self) -> &LimitTarget {
        &self.target
    }

    /// Over which period.
    pub const fn window(&self) -> Window {
        self.window
    }

    /// The cap.
    pub const fn max(&self) -> Usd {
        self.max
    }

    pub(crate) fn validate(&self) -> Result<(), GuardConfigError> {
        if let Window::Rolling(period) = self.window {
            if period < Duration::from_secs(1) {
                return Err(GuardConfigError::RollingWindowTooShort { period });
            }
        }
        if let LimitTarget::Tagged(_, value) = &self.target {
            if value.is_empty() {
                return Err(GuardConfigError::EmptyTagValue {
                    limit: self.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The tag value this limit counts a call under, or `None` if it does
    /// not apply to the call (`""` for a global limit).
    pub(crate) fn applies_to<'t>(&self, tags: &'t Tags) -> Option<&'t str> {
        match &self.target {
            LimitTarget::Global => Some(""),
            LimitTarget::Each(kind) => tags.get(*kind),
            LimitTarget::Tagged(kind, value) => tags.get(*kind).filter(|v| *v == &**value),
        }
    }

    /// The window of the counter a call with tag value `value` is charged
    /// to at `now`, e.g. `agent=researcher|day`, bucket 20417.
    pub(crate) fn window_at(&self, value: &str, now: Duration) -> WindowRef {
        let slot = self.window.slot(now);
        let counter = match &self.fixed_counter {
            Some(fixed) => Arc::clone(fixed),
            None => CounterKey::name_of(self.target.tag_with(value), &self.suffix),
        };
        WindowRef {
            counter,
            bucket: slot.bucket,
            span: slot.span,
            expires_at: slot.expires_at,
        }
    }

    /// Who this limit counts for a call with tag value `value`, for people:
    /// `agent researcher`, `everything`.
    pub(crate) fn subject(&self, value: &str) -> String {
        match &self.target {
            LimitTarget::Global => "everything".into(),
            LimitTarget::Each(kind) | LimitTarget::Tagged(kind, _) => format!("{kind} {value}"),
        }
    }

    /// The subject and period as alerts and refusals name them, e.g.
    /// `agent researcher on 2026-11-25 (UTC)`.
    pub(crate) fn subject_at(&self, value: &str, now: Duration) -> String {
        let period = self.window.describe_at(now);
        let joiner = match self.window {
            Window::Day => "on",
            Window::Week | Window::Month | Window::Rolling(_) => "in",
            Window::Lifetime => "over",
        };
        format!("{} {joiner} {period}", self.subject(value))
    }
}

impl fmt::Display for SharedLimit {
    /// `each agent: $5.00 per UTC day`, `everything: $200.00 per UTC month`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            LimitTarget::Global => f.write_str("everything")?,
            LimitTarget::Each(kind) => write!(f, "each {kind}")?,
            LimitTarget::Tagged(kind, value) => write!(f, "{kind} {value}")?,
        }
        write!(f, ": {} {}", self.max, self.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_secs(1_795_608_000);

    #[test]
    fn counters_are_named_by_target_value_and_window() {
        let tags = Tags::new().agent("a|b").key("prod");
        let limit = SharedLimit::each(TagKind::Agent, Usd::from_cents(500), Window::Day);
        let value = limit.applies_to(&tags).unwrap();
        assert_eq!(&*limit.window_at(value, NOW).counter, "agent=a%7Cb|day");
        let global = SharedLimit::global(Usd::from_cents(500), Window::Month);
        assert_eq!(&*global.window_at("", NOW).counter, "global|month");
    }

    #[test]
    fn a_limit_applies_only_to_calls_carrying_its_tag() {
        let limit = SharedLimit::tagged(TagKind::Customer, "acme", Usd::from_cents(1), Window::Day);
        assert_eq!(
            limit.applies_to(&Tags::new().customer("acme")),
            Some("acme")
        );
        assert_eq!(limit.applies_to(&Tags::new().customer("globex")), None);
        assert_eq!(limit.applies_to(&Tags::new()), None);
        let each = SharedLimit::each(TagKind::Key, Usd::from_cents(1), Window::Day);
        assert_eq!(each.applies_to(&Tags::new().agent("a")), None);
    }

    #[test]
    fn subjects_read_as_phrases() {
        let limit = SharedLimit::each(TagKind::Agent, Usd::from_cents(500), Window::Day);
        assert_eq!(
            limit.subject_at("researcher", NOW),
            "agent researcher on 2026-11-25 (UTC)"
        );
        let all = SharedLimit::global(Usd::from_cents(500), Window::Lifetime);
        assert_eq!(all.subject_at("", NOW), "everything over all time");
    }

    #[test]
    fn bad_limits_are_refused() {
        let short = SharedLimit::global(
            Usd::from_cents(1),
            Window::Rolling(Duration::from_millis(10)),
        );
        assert!(matches!(
            short.validate(),
            Err(GuardConfigError::RollingWindowTooShort { .. })
        ));
        let empty = SharedLimit::tagged(TagKind::Agent, "", Usd::from_cents(1), Window::Day);
        assert!(matches!(
            empty.validate(),
            Err(GuardConfigError::EmptyTagValue { .. })
        ));
    }
}
