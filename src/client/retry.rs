//! [`RetryPolicy`], [`GuardedClient::send_with_retry`] and
//! [`GuardedClient::stream_with_retry`]: retries that ask the budget again
//! before every attempt.
//!
//! A retry loop is exactly how agents run up bills overnight, so a retry here
//! is never a shortcut around the budget: each attempt is a whole new
//! [`send`](GuardedClient::send), reserved (and possibly refused) like any
//! other call.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::budget::TaskBudget;
use crate::client::{ClientError, GuardedClient, GuardedResponse, GuardedStream};

/// How the wait before a retry is spread out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Jitter {
    /// Wait exactly the back-off.
    None,
    /// Wait a uniformly random time from zero up to the back-off ("full
    /// jitter"), so clients that failed together do not retry together.
    #[default]
    Full,
}

/// When and how often [`GuardedClient::send_with_retry`] tries again.
///
/// Attempt 1 is the first call. After failed attempt `n` the back-off is
/// `base_delay × 2^(n-1)`, capped at `max_delay`, and with [`Jitter::Full`]
/// the wait is drawn uniformly from zero up to it. A provider's
/// `Retry-After` is a floor: the wait is at least that long. A `Retry-After`
/// longer than `max_delay` ends the retries at once, with the provider's
/// error, rather than put the task to sleep for longer than you allowed.
///
/// ```
/// use std::time::Duration;
/// use spendguard::client::{Jitter, RetryPolicy};
///
/// let policy = RetryPolicy::new()
///     .with_max_attempts(5)
///     .with_base_delay(Duration::from_millis(200))
///     .with_max_delay(Duration::from_secs(10))
///     .with_jitter(Jitter::Full);
/// policy.validate()?;
/// assert_eq!(policy.backoff(1), Duration::from_millis(200));
/// assert_eq!(policy.backoff(3), Duration::from_millis(800));
/// assert_eq!(policy.backoff(20), Duration::from_secs(10));
/// # Ok::<(), spendguard::client::RetryPolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    jitter: Jitter,
}

/// A retry policy that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryPolicyError {
    /// Zero attempts would never send the call.
    #[error(
        "a retry policy needs at least 1 attempt (the first call is attempt 1); \
         use 1 for no retries"
    )]
    ZeroAttempts,
    /// The first back-off is already longer than the cap.
    #[error(
        "the retry base delay of {}s is longer than the maximum delay of {}s",
        base.as_secs_f64(),
        max.as_secs_f64()
    )]
    BaseAboveMax {
        /// The base delay as given.
        base: Duration,
        /// The maximum delay as given.
        max: Duration,
    },
}

impl RetryPolicy {
    /// The default policy: 4 attempts (3 retries), 500 ms base delay, 30 s
    /// maximum delay, full jitter.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(30),
        jitter: Jitter::Full,
    };

    /// [`RetryPolicy::DEFAULT`], to adjust with the `with_` methods.
    pub const fn new() -> Self {
        RetryPolicy::DEFAULT
    }

    /// The most attempts, the first call included (1 means no retries).
    /// Zero is refused by [`validate`](RetryPolicy::validate) rather than
    /// read as "no retries", since it more likely comes from a mistaken
    /// configuration.
    pub const fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The back-off after the first failed attempt; each later one doubles.
    pub const fn with_base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest wait before a retry, and the longest `Retry-After` that
    /// is honoured rather than given up on.
    pub const fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How the wait is spread out.
    pub const fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The most attempts, the first call included.
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The back-off after the first failed attempt.
    pub const fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The longest wait before a retry.
    pub const fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// How the wait is spread out.
    pub const fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// Checks that the policy can work.
    ///
    /// # Errors
    /// [`RetryPolicyError`] for zero attempts, or a base delay longer than
    /// the maximum delay.
    pub fn validate(&self) -> Result<(), RetryPolicyError> {
        if self.max_attempts == 0 {
            return Err(RetryPolicyError::ZeroAttempts);
        }
        if self.base_delay > self.max_delay {
            return Err(RetryPolicyError::BaseAboveMax {
                base: self.base_delay,
                max: self.max_delay,
            });
        }
        Ok(())
    }

    /// The back-off after failed attempt `attempt` (counting from 1), before
    /// jitter: `base_delay × 2^(attempt-1)`, capped at `max_delay`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1);
        2u32.checked_pow(doublings)
            .and_then(|factor| self.base_delay.checked_mul(factor))
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// How long to wait after failed attempt `attempt` whose error asked for
    /// `retry_after`, or `None` to give up because the provider asked for
    /// longer than `max_delay`.
    fn wait_after(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        random: &mut SplitMix64,
    ) -> Option<Duration> {
        if retry_after.is_some_and(|asked| asked > self.max_delay) {
            return None;
        }
        let backoff = self.backoff(attempt);
        let wait = match self.jitter {
            Jitter::None => backoff,
            Jitter::Full => random.up_to(backoff),
        };
        Some(retry_after.map_or(wait, |asked| wait.max(asked)))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::DEFAULT
    }
}

impl GuardedClient {
    /// [`send`](GuardedClient::send), tried again after failures that a later
    /// attempt may not meet (rate limits, provider outages, an unreachable
    /// server: [`ClientError::is_retryable`]), never past the budget.
    ///
    /// - Every attempt is a fresh `send`: its worst case is reserved again
    ///   before it goes out, so a budget spent by other calls, or out of
    ///   time, stops the retries at once with [`ClientError::Budget`], and
    ///   that attempt is never sent.
    /// - Failed attempts that reached the provider were refused or failed
    ///   there, so they released their reservations: the retries cost
    ///   nothing but time.
    /// - Any other error (a 400, a refusal, a call interrupted after it was
    ///   sent and billed) is returned at once.
    /// - The wait follows `policy` (see [`RetryPolicy`]). A `Retry-After`
    ///   longer than the policy's `max_delay` returns the provider's error
    ///   at once instead of sleeping. So does a wait that would run past the
    ///   budget's time limit, as [`ClientError::Budget`].
    /// - After `max_attempts`, the last error is returned.
    /// - The attempts are one call to the loop detector: only the first is
    ///   fingerprinted, so a rate-limit storm ends with the provider's
    ///   error, not a loop. The budget's call limit, velocity limits and the
    ///   circuit breaker count every attempt.
    ///
    /// The waits sleep on tokio's timer, so this must run inside a tokio
    /// runtime with time enabled (as `reqwest` already requires). Dropping
    /// the future during a wait holds no budget: nothing is reserved then.
    ///
    /// ```no_run
    /// use serde_json::json;
    /// use spendguard::client::{ApiKey, GuardedClient, Provider, RetryPolicy};
    /// use spendguard::{TaskBudget, Usd};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = GuardedClient::builder(Provider::Anthropic)
    ///     .api_key(ApiKey::from_env("ANTHROPIC_API_KEY").ok_or("ANTHROPIC_API_KEY is not set")?)
    ///     .build()?;
    /// let budget = TaskBudget::new(Usd::from_dollars(1.00)?);
    /// let body = json!({
    ///     "model": "claude-sonnet-4-5",
    ///     "max_tokens": 512,
    ///     "messages": [{"role": "user", "content": "Name one prime above 100."}],
    /// });
    /// // Up to 4 attempts through 429s and 529s, each checked against the budget.
    /// let answer = client.send_with_retry(&budget, &body, &RetryPolicy::default()).await?;
    /// println!("{}", answer.receipt);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ClientError::RetryPolicy`] for a policy that cannot work (nothing
    /// sent); otherwise the error of the attempt that ended the retries, as
    /// described above.
    pub async fn send_with_retry(
        &self,
        budget: &TaskBudget,
        body: &Value,
        policy: &RetryPolicy,
    ) -> Result<GuardedResponse, ClientError> {
        let attempt = |attempt| self.send_attempt(budget, body, attempt);
        retrying(budget, policy, ClientError::is_retryable, attempt).await
    }

    /// [`stream`](GuardedClient::stream), tried again as
    /// [`send_with_retry`](GuardedClient::send_with_retry) tries, but only
    /// until the first event arrives: once an event has been read, the
    /// answer has begun and is never asked for again.
    ///
    /// Before the first event, a stream that breaks or stalls (its
    /// [`ClientError::StreamEndedEarly`], billed from what was counted) is
    /// retried too. The first event is read before this returns and is the
    /// stream's first item.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use serde_json::json;
    /// use spendguard::client::{ApiKey, GuardedClient, Provider, RetryPolicy};
    /// use spendguard::{TaskBudget, Usd};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = GuardedClient::builder(Provider::OpenAiChat)
    ///     .api_key(ApiKey::from_env("OPENAI_API_KEY").ok_or("OPENAI_API_KEY is not set")?)
    ///     .build()?;
    /// let budget = TaskBudget::new(Usd::from_dollars(1.00)?);
    /// let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});
    /// let mut stream = client.stream_with_retry(&budget, &body, &RetryPolicy::default()).await?;
    /// while let Some(event) = stream.next().await {
    ///     println!("{:?}", event?.data);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`send_with_retry`](GuardedClient::send_with_retry); errors after
    /// the first event are the stream's last item.
    pub async fn stream_with_retry(
        &self,
        budget: &TaskBudget,
        body: &Value,
        policy: &RetryPolicy,
    ) -> Result<GuardedStream, ClientError> {
        let attempt = |attempt| async move {
            let stream = self.stream_attempt(budget, body, attempt).await?;
            stream.first_event().await
        };
        let before_first_event = |error: &ClientError| {
            error.is_retryable() || matches!(error, ClientError::StreamEndedEarly { .. })
        };
        retrying(budget, policy, before_first_event, attempt).await
    }
}

/// Runs `attempt` (given its number, from 1) until it succeeds, fails in a way a retry cannot help,
/// or `policy` or `budget` allow no more: the loop behind every
/// `*_with_retry`.
async fn retrying<T, F, Fut>(
    budget: &TaskBudget,
    policy: &RetryPolicy,
    retryable: impl Fn(&ClientError) -> bool,
    mut attempt: F,
) -> Result<T, ClientError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    policy.validate()?;
    let mut random = SplitMix64::seeded();
    let mut number = 1;
    loop {
        let error = match attempt(number).await {
            Ok(answer) => return Ok(answer),
            Err(error) => error,
        };
        if !retryable(&error) || number >= policy.max_attempts {
            return Err(error);
        }
        let Some(wait) = policy.wait_after(number, error.retry_after(), &mut random) else {
            return Err(error);
        };
        budget.check_wait(wait)?;
        tokio::time::sleep(wait).await;
        number += 1;
    }
}

/// The random numbers behind full jitter: SplitMix64, seeded per
/// [`send_with_retry`](GuardedClient::send_with_retry) call.
///
/// Jitter only has to keep clients that failed together from retrying in
/// step; it need not be unpredictable or statistically strong. A dozen lines
/// do that, where `rand` would be a dependency of every build for one number
/// per retry.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    /// Seeded from the clock, the process id and a process-wide call counter,
    /// so calls made in the same instant, or by processes started together,
    /// still draw different waits.
    fn seeded() -> Self {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        // Only the low bits vary from one call to the next, so wrapping
        // loses nothing.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                since
                    .as_secs()
                    .wrapping_mul(1_000_000_000)
                    .wrapping_add(u64::from(since.subsec_nanos()))
            });
        let mut mixer = SplitMix64(
            nanos ^ u64::from(std::process::id()).rotate_left(32) ^ call.rotate_left(48),
        );
        SplitMix64(mixer.next_u64())
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::GOLDEN_GAMMA);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration drawn uniformly from zero to `max`, both included, to the
    /// nanosecond.
    fn up_to(&mut self, max: Duration) -> Duration {
        let span = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        // Scales a 64-bit draw onto 0..=span by multiplying and keeping the
        // high word: no modulo bias worth the name, and no loop.
        let scaled = (u128::from(self.next_u64()) * (u128::from(span) + 1)) >> 64;
        Duration::from_nanos(u64::try_from(scaled).unwrap_or(span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn policy(base_ms: u32, max_ms: u32, jitter: Jitter) -> RetryPolicy {
        RetryPolicy::new()
            .with_base_delay(MS * base_ms)
            .with_max_delay(MS * max_ms)
            .with_jitter(jitter)
    }

    #[test]
    fn the_default_is_four_attempts_half_a_second_doubling_to_thirty_with_full_jitter() {
        let policy = RetryPolicy::default();
        assert_eq!(policy, RetryPolicy::new());
        assert_eq!(policy.max_attempts(), 4);
        assert_eq!(policy.base_delay(), MS * 500);
        assert_eq!(policy.max_delay(), Duration::from_secs(30));
        assert_eq!(policy.jitter(), Jitter::Full);
        assert_eq!(policy.validate(), Ok(()));
    }

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let policy = policy(100, 1_000, Jitter::None);
        let schedule: Vec<Duration> = (1..=6).map(|attempt| policy.backoff(attempt)).collect();
        assert_eq!(
            schedule,
            [100, 200, 400, 800, 1_000, 1_000].map(|ms| MS * ms)
        );
        // Past the point where 2^(n-1) or the product overflows: the cap.
        assert_eq!(policy.backoff(33), MS * 1_000);
        assert_eq!(policy.backoff(u32::MAX), MS * 1_000);
        let huge = RetryPolicy::new()
            .with_base_delay(Duration::MAX)
            .with_max_delay(Duration::MAX);
        assert_eq!(huge.backoff(2), Duration::MAX);
    }

    #[test]
    fn without_jitter_the_wait_is_the_backoff() {
        let policy = policy(10, 50, Jitter::None);
        let mut random = SplitMix64(7);
        let waits: Vec<_> = (1..=4)
            .map(|attempt| policy.wait_after(attempt, None, &mut random))
            .collect();
        assert_eq!(waits, [10, 20, 40, 50].map(|ms| Some(MS * ms)));
    }

    #[test]
    fn full_jitter_stays_between_zero_and_the_capped_backoff_and_spreads() {
        let policy = policy(100, 1_000, Jitter::Full);
        let mut random = SplitMix64(42);
        for attempt in 1..=8 {
            let cap = policy.backoff(attempt);
            let waits: Vec<Duration> = (0..2_000)
                .map(|_| policy.wait_after(attempt, None, &mut random).unwrap())
                .collect();
            assert!(waits.iter().all(|wait| *wait <= cap), "attempt {attempt}");
            // Spread over the whole range, not bunched at one end.
            let low = waits.iter().filter(|wait| **wait < cap / 4).count();
            let high = waits.iter().filter(|wait| **wait > cap * 3 / 4).count();
            assert!(
                low > 300 && high > 300,
                "attempt {attempt}: {low} low, {high} high"
            );
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_waits() {
        let policy = policy(100, 1_000, Jitter::Full);
        let draw = |seed| {
            let mut random = SplitMix64(seed);
            (1..=5)
                .map(|attempt| policy.wait_after(attempt, None, &mut random))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn retry_after_is_a_floor_on_the_wait() {
        let policy = policy(10, 1_000, Jitter::Full);
        let mut random = SplitMix64(3);
        for _ in 0..1_000 {
            let wait = policy.wait_after(1, Some(MS * 300), &mut random).unwrap();
            assert!(wait >= MS * 300, "{wait:?}");
            assert!(
                wait <= MS * 300,
                "a 10 ms back-off cannot lengthen it: {wait:?}"
            );
        }
        // A longer back-off than the provider asked for still applies.
        let slow = self::policy(500, 1_000, Jitter::None);
        assert_eq!(
            slow.wait_after(2, Some(MS * 300), &mut random),
            Some(MS * 1_000)
        );
        // Retry-After: 0 means "now" to the provider, but the back-off still
        // spaces the attempts.
        assert_eq!(
            slow.wait_after(1, Some(Duration::ZERO), &mut random),
            Some(MS * 500)
        );
    }

    #[test]
    fn a_retry_after_longer_than_the_max_delay_gives_up() {
        let policy = policy(10, 1_000, Jitter::Full);
        let mut random = SplitMix64(3);
        assert_eq!(policy.wait_after(1, Some(MS * 1_001), &mut random), None);
        assert_eq!(
            policy.wait_after(1, Some(Duration::from_secs(3_600)), &mut random),
            None
        );
        // Exactly the maximum is still honoured.
        assert_eq!(
            policy.wait_after(1, Some(MS * 1_000), &mut random),
            Some(MS * 1_000)
        );
    }

    #[test]
    fn policies_that_cannot_work_are_refused() {
        assert_eq!(
            RetryPolicy::new().with_max_attempts(0).validate(),
            Err(RetryPolicyError::ZeroAttempts)
        );
        assert_eq!(RetryPolicy::new().with_max_attempts(1).validate(), Ok(()));
        let inverted = policy(2_000, 1_000, Jitter::Full);
        assert_eq!(
            inverted.validate(),
            Err(RetryPolicyError::BaseAboveMax {
                base: MS * 2_000,
                max: MS * 1_000
            })
        );
        assert_eq!(
            inverted.validate().unwrap_err().to_string(),
            "the retry base delay of 2s is longer than the maximum delay of 1s"
        );
        assert_eq!(policy(0, 0, Jitter::Full).validate(), Ok(()));
    }

    #[test]
    fn draws_cover_both_ends_of_the_range() {
        let mut random = SplitMix64(9);
        assert_eq!(random.up_to(Duration::ZERO), Duration::ZERO);
        let draws: Vec<Duration> = (0..10_000)
            .map(|_| random.up_to(Duration::from_nanos(3)))
            .collect();
        for nanos in 0..=3 {
            assert!(
                draws.contains(&Duration::from_nanos(nanos)),
                "{nanos} ns never drawn"
            );
        }
        assert!(random.up_to(Duration::MAX) <= Duration::MAX);
    }

    #[test]
    fn calls_in_the_same_instant_are_seeded_apart() {
        let seeds: Vec<u64> = (0..64).map(|_| SplitMix64::seeded().0).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len());
    }
}
