//! [`Degrade`]: route calls to a cheaper model when a shared limit runs low,
//! instead of failing them once it runs out.

use std::fmt;

use crate::guard::GuardConfigError;

/// Opt-in model routing: when any shared limit that applies to a call has
/// less than `below_percent` of its cap left, a call to a model with a
/// route is sent to the route's cheaper model instead, and its receipt says
/// so ([`Degraded`]).
///
/// ```
/// use std::sync::Arc;
/// use spendguard::clock::{FakeClock, UtcDateTime};
/// use spendguard::guard::{Degrade, SharedLimit, SpendGuard, Window};
/// use spendguard::tags::Tags;
/// use spendguard::Usd;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = FakeClock::at_unix(UtcDateTime::parse("2026-11-25T09:00:00Z")?.unix());
/// let guard = SpendGuard::builder()
///     .clock(Arc::new(clock))
///     .limit(SharedLimit::global(Usd::from_cents(100), Window::Day))
///     .degrade(Degrade::below_percent(25).route("gpt-5", "gpt-5-mini"))
///     .build()?;
/// let tags = Tags::new();
/// assert_eq!(guard.degrade(&tags, "gpt-5").await?, None);
///
/// guard.reserve(&tags, Usd::from_cents(80)).await?.settle(Usd::from_cents(80)).await?;
/// let degraded = guard.degrade(&tags, "gpt-5").await?.expect("under 25% left");
/// assert_eq!(
///     degraded.to_string(),
///     "sent to gpt-5-mini instead of gpt-5: everything on 2026-11-25 (UTC) has 20% of its $1.00 left"
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Degrade {
    below_percent: u8,
    routes: Vec<(String, String)>,
}

impl Degrade {
    /// Degrades when a limit has less than `percent` of its cap left.
    pub fn below_percent(percent: u8) -> Self {
        Degrade {
            below_percent: percent,
            routes: Vec::new(),
        }
    }

    /// Sends calls to `from` to `to` while degraded. The names are matched
    /// as the request body gives them.
    #[must_use]
    pub fn route(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.routes.push((from.into(), to.into()));
        self
    }

    pub(crate) const fn threshold_percent(&self) -> u8 {
        self.below_percent
    }

    /// The cheaper model for `model`, if it has a route.
    pub(crate) fn route_for(&self, model: &str) -> Option<&str> {
        self.routes
            .iter()
            .find(|(from, _)| from == model)
            .map(|(_, to)| to.as_str())
    }

    pub(crate) fn validate(&self) -> Result<(), GuardConfigError> {
        if !(1..=99).contains(&self.below_percent) {
            return Err(GuardConfigError::DegradeThresholdOutOfRange {
                percent: self.below_percent,
            });
        }
        if let Some((from, _)) = self.routes.iter().find(|(from, to)| from == to) {
            return Err(GuardConfigError::DegradeRouteToItself {
                model: from.clone(),
            });
        }
        Ok(())
    }
}

/// A call sent to a cheaper model because a shared limit ran low.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Degraded {
    /// The model the request asked for.
    pub from: String,
    /// The model it was sent to.
    pub to: String,
    /// Which limit ran low, and how low.
    pub reason: String,
}

impl fmt::Display for Degraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent to {} instead of {}: {}",
            self.to, self.from, self.reason
        )
    }
}
