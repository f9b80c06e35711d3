//! Runaway detection: the patterns that turn an agent's bill from dollars
//! into hundreds of dollars overnight, caught before the call is sent.
//!
//! - [`LoopDetector`]: the same request (same model and body, by
//!   [`RequestFingerprint`]) repeated within a window: a retry loop.
//! - [`VelocityLimit`]: too many calls, or too many dollars of worst-case
//!   cost, in a sliding window: a burst.
//! - [`CircuitBreaker`]: consecutive 402, 429 or 5xx responses: a storm
//!   that retrying only feeds. The scope waits out a cool-down, then one
//!   probe call tests the provider.
//! - [`Pauses`]: scopes that refuse every call until an instant.
//!
//! [`RunawayPolicy`] runs them all for the scopes a call belongs to, under
//! one lock, and carries out each detector's [`RunawayAction`]: refuse the
//! call, pause the scope, or ask the guard to trip its kill switch. Every
//! component takes the time as an argument (a duration since the Unix
//! epoch, as [`Clock::now`](crate::clock::Clock::now) gives it), so tests
//! never sleep, and is safe to share between threads.
//!
//! ```
//! use std::time::Duration;
//! use serde_json::json;
//! use spendguard::clock::{Clock, FakeClock};
//! use spendguard::guard::runaway::{RequestFingerprint, RunawayAction, RunawayPolicy};
//! use spendguard::Usd;
//!
//! let policy = RunawayPolicy::builder()
//!     .loops(3, Duration::from_secs(60), RunawayAction::Refuse)
//!     .build()?;
//! let clock = FakeClock::at_unix(Duration::from_secs(1_700_000_000));
//! let body = json!({"messages": [{"role": "user", "content": "The tool timed out. Try again."}]});
//! let retry = RequestFingerprint::of("gpt-4o", &body);
//!
//! let mut sent = 0;
//! while policy.check(&["agent=fixer"], retry, Usd::from_cents(1), clock.now()).is_ok() {
//!     sent += 1;
//!     clock.advance(Duration::from_secs(2));
//! }
//! assert_eq!(sent, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod breaker;
mod config_error;
mod detected;
mod fingerprint;
mod loops;
mod pauses;
mod policy;
mod scope_table;
mod velocity;

pub use breaker::CircuitBreaker;
pub use config_error::RunawayConfigError;
pub use detected::{RunawayAction, RunawayDetected, RunawayKind};
pub use fingerprint::RequestFingerprint;
pub use loops::LoopDetector;
pub use pauses::Pauses;
pub use policy::{RunawayPolicy, RunawayPolicyBuilder};
pub use scope_table::DEFAULT_MAX_SCOPES;
pub use velocity::VelocityLimit;
