//! [`RunawayPolicy`]: every runaway detector a guard runs before a call.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::guard::runaway::breaker::{BreakerRule, Circuit, Health};
use crate::guard::runaway::loops::{LoopLog, LoopRule};
use crate::guard::runaway::pauses::Pause;
use crate::guard::runaway::scope_table::{Expiring, ScopeTable, DEFAULT_MAX_SCOPES};
use crate::guard::runaway::velocity::{VelocityLog, VelocityRule};
use crate::guard::runaway::{
    RequestFingerprint, RunawayAction, RunawayConfigError, RunawayDetected, RunawayKind,
};
use crate::money::Usd;

/// A detector's rule and what to do when it fires.
#[derive(Debug, Clone, Copy)]
struct Armed<R> {
    rule: R,
    action: RunawayAction,
}

/// Every configured detector.
#[derive(Debug, Clone, Default)]
struct Rules {
    loops: Option<Armed<LoopRule>>,
    velocity: Vec<Armed<VelocityRule>>,
    breaker: Option<Armed<BreakerRule>>,
}

/// Configures a [`RunawayPolicy`]; start with [`RunawayPolicy::builder`].
///
/// Each detector is optional and carries its own [`RunawayAction`]. Call
/// [`calls_per`](Self::calls_per) and [`spend_per`](Self::spend_per) as
/// often as needed (30 a minute *and* 300 an hour); calling
/// [`loops`](Self::loops) or [`circuit_breaker`](Self::circuit_breaker)
/// again replaces the earlier setting. A bad setting is reported by
/// [`build`](Self::build).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RunawayPolicyBuilder {
    rules: Rules,
    max_scopes: usize,
    error: Option<RunawayConfigError>,
}

impl RunawayPolicyBuilder {
    /// Refuses a scope's `repeats`-th identical request within `within`
    /// (see [`LoopDetector`](crate::guard::runaway::LoopDetector)).
    pub fn loops(mut self, repeats: u32, within: Duration, action: RunawayAction) -> Self {
        self.rules.loops = self.arm(LoopRule::new(repeats, within), action);
        self
    }

    /// Refuses a scope's calls beyond `max` per sliding `per`.
    pub fn calls_per(mut self, max: u32, per: Duration, action: RunawayAction) -> Self {
        let armed = self.arm(VelocityRule::calls(max, per), action);
        self.rules.velocity.extend(armed);
        self
    }

    /// Refuses a scope's calls once their worst-case costs would pass `max`
    /// per sliding `per`.
    pub fn spend_per(mut self, max: Usd, per: Duration, action: RunawayAction) -> Self {
        let armed = self.arm(VelocityRule::spend(max, per), action);
        self.rules.velocity.extend(armed);
        self
    }

    /// Holds a scope's calls for `cool_down` after `failures` 402, 429 or
    /// 5xx responses in a row, then lets one probe through (see
    /// [`CircuitBreaker`](crate::guard::runaway::CircuitBreaker)). `action`
    /// applies to each call refused while the circuit is open.
    pub fn circuit_breaker(
        mut self,
        failures: u32,
        cool_down: Duration,
        action: RunawayAction,
    ) -> Self {
        self.rules.breaker = self.arm(BreakerRule::new(failures, cool_down), action);
        self
    }

    /// Tracks at most `max` scopes (default
    /// [`DEFAULT_MAX_SCOPES`](crate::guard::runaway::DEFAULT_MAX_SCOPES)).
    /// When all are live, the scope seen least recently is forgotten first.
    pub fn max_scopes(mut self, max: usize) -> Self {
        if max == 0 {
            self.error.get_or_insert(RunawayConfigError::ZeroScopes);
        }
        self.max_scopes = max;
        self
    }

    /// The policy, ready to check calls.
    ///
    /// # Errors
    /// The first [`RunawayConfigError`] among the settings.
    pub fn build(self) -> Result<RunawayPolicy, RunawayConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        Ok(RunawayPolicy {
            shared: Arc::new(Shared {
                rules: self.rules,
                scopes: Mutex::new(ScopeTable::new(self.max_scopes)),
            }),
        })
    }

    /// Keeps the rule, or remembers the first error for `build`.
    fn arm<R>(
        &mut self,
        rule: Result<R, RunawayConfigError>,
        action: RunawayAction,
    ) -> Option<Armed<R>> {
        let checked = match action {
            RunawayAction::Pause(length) if length.is_zero() => {
                Err(RunawayConfigError::ZeroDuration { what: "pause" })
            }
            _ => rule,
        };
        match checked {
            Ok(rule) => Some(Armed { rule, action }),
            Err(error) => {
                self.error.get_or_insert(error);
                None
            }
        }
    }
}

/// The runaway detectors a guard runs before every call, sharing one
/// record per scope.
///
/// [`check`](Self::check) runs before a call with the scopes it belongs to
/// (`agent=researcher`, `key=prod-1`, ...); [`record_outcome`](Self::record_outcome)
/// runs after it. For each scope it checks, in order: a pause in effect,
/// the circuit breaker, the loop detector, then each velocity limit. A call
/// passes only if every scope passes, and only then is it counted, in every
/// scope at once under one lock: a refused call uses up nothing. When a
/// detector fires, its action comes back in the refusal; a `Pause` is also
/// recorded, so the scope's next calls are refused until it ends, and a
/// `Halt` is for the guard to carry out by tripping its kill switch.
///
/// Cloning is cheap and every clone shares the same state.
///
/// ```
/// use std::time::Duration;
/// use serde_json::json;
/// use spendguard::guard::runaway::{RequestFingerprint, RunawayAction, RunawayKind, RunawayPolicy};
/// use spendguard::Usd;
///
/// let minute = Duration::from_secs(60);
/// let policy = RunawayPolicy::builder()
///     .loops(3, minute, RunawayAction::Pause(Duration::from_secs(300)))
///     .calls_per(30, minute, RunawayAction::Refuse)
///     .spend_per(Usd::from_dollars(5.0)?, minute, RunawayAction::Halt)
///     .circuit_breaker(5, Duration::from_secs(30), RunawayAction::Refuse)
///     .build()?;
///
/// let scopes = ["agent=researcher", "key=prod-1"];
/// let body = json!({"messages": [{"role": "user", "content": "Retry the tool"}]});
/// let request = RequestFingerprint::of("gpt-4o", &body);
/// let worst_case = Usd::from_cents(2);
/// let mut now = Duration::from_secs(1_700_000_000);
///
/// for _ in 0..2 {
///     policy.check(&scopes, request, worst_case, now)?;
///     policy.record_outcome(&scopes, None, now);
///     now += Duration::from_secs(2);
/// }
/// let refusal = policy.check(&scopes, request, worst_case, now).unwrap_err();
/// assert_eq!(refusal.scope, "agent=researcher");
/// assert!(matches!(refusal.kind, RunawayKind::Loop { repeats: 3, .. }));
///
/// // The pause refuses any request from that scope for five minutes.
/// let other = RequestFingerprint::of("gpt-4o", &json!({"messages": []}));
/// let paused = policy.check(&scopes, other, worst_case, now).unwrap_err();
/// assert!(matches!(paused.kind, RunawayKind::Paused { .. }));
/// assert!(policy.check(&["agent=writer"], other, worst_case, now).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RunawayPolicy {
    shared: Arc<Shared>,
}

struct Shared {
    rules: Rules,
    scopes: Mutex<ScopeTable<ScopeRecord>>,
}

impl RunawayPolicy {
    /// A policy with no detectors yet.
    pub fn builder() -> RunawayPolicyBuilder {
        RunawayPolicyBuilder {
            rules: Rules::default(),
            max_scopes: DEFAULT_MAX_SCOPES,
            error: None,
        }
    }

    /// Lets a call through, counting it in every scope of `scope_keys`, or
    /// refuses it without counting it anywhere.
    ///
    /// `fingerprint` identifies the request for loop detection (a call
    /// without one is not checked for loops) and
    /// `worst_case` is its reserved cost for spend limits. A scope listed
    /// twice counts once.
    ///
    /// # Errors
    /// [`RunawayDetected`] for the scope and detector that refused; among
    /// several, a pause in effect is reported first, then an open circuit,
    /// a loop, and the velocity limits in the order they were configured.
    pub fn check(
        &self,
        scope_keys: &[&str],
        fingerprint: impl Into<Option<RequestFingerprint>>,
        worst_case: Usd,
        now: Duration,
    ) -> Result<(), RunawayDetected> {
        let call = Call {
            fingerprint: fingerprint.into(),
            worst_case,
            now,
        };
        let rules = &self.shared.rules;
        let mut scopes = self.shared.scopes.lock();
        let mut first: Option<(&str, Refusal)> = None;
        for scope in distinct(scope_keys) {
            let checked = match scopes.get_mut(scope) {
                Some(record) => record.check(rules, call),
                None => ScopeRecord::default().check(rules, call),
            };
            if let Err(refusal) = checked {
                if first
                    .as_ref()
                    .is_none_or(|(_, seen)| refusal.rank < seen.rank)
                {
                    first = Some((scope, refusal));
                }
            }
        }
        if let Some((scope, refusal)) = first {
            if let RunawayAction::Pause(length) = refusal.action {
                let until = now.saturating_add(length);
                let cause = refusal.kind.clone();
                scopes.update(scope, now, ScopeRecord::default, |record| {
                    Pause::extend(&mut record.pause, until, cause);
                });
            }
            return Err(RunawayDetected::new(scope, refusal.kind, refusal.action));
        }
        for scope in distinct(scope_keys) {
            scopes.update(scope, now, ScopeRecord::default, |record| {
                record.count(rules, call);
            });
        }
        Ok(())
    }

    /// Whether a [`spend_per`](RunawayPolicyBuilder::spend_per) limit is
    /// configured: the one detector that weighs each call's `worst_case`,
    /// so it must be given the worst case the call is decided by, never a
    /// looser upper bound.
    pub(crate) fn limits_spend(&self) -> bool {
        self.shared
            .rules
            .velocity
            .iter()
            .any(|armed| armed.rule.limits_spend())
    }

    /// Tells the circuit breaker how a call that [`check`](Self::check) let
    /// through ended: `None` for success, or the HTTP status of a failure.
    ///
    /// 2xx counts as success; 402, 429 and 5xx as failures; any other status
    /// (a 400 is the caller's own bug) leaves the circuit as it is.
    pub fn record_outcome(&self, scope_keys: &[&str], status: Option<u16>, now: Duration) {
        self.record_health(scope_keys, Health::of(status), now);
    }

    /// Tells the circuit breaker that a call the provider answered (200)
    /// broke before its answer was complete: a stream that disconnected or
    /// ended early. It counts as a failure, as the status it never sent
    /// would have.
    pub fn record_broken_answer(&self, scope_keys: &[&str], now: Duration) {
        self.record_health(scope_keys, Health::Failing, now);
    }

    fn record_health(&self, scope_keys: &[&str], health: Health, now: Duration) {
        let Some(breaker) = self.shared.rules.breaker else {
            return;
        };
        let mut scopes = self.shared.scopes.lock();
        for scope in distinct(scope_keys) {
            match health {
                Health::Answered => {
                    if let Some(record) = scopes.get_mut(scope) {
                        record.circuit.record(breaker.rule, health, now);
                    }
                }
                Health::Failing => scopes.update(scope, now, ScopeRecord::default, |record| {
                    record.circuit.record(breaker.rule, health, now);
                }),
                Health::Unknown => {}
            }
        }
    }

    /// Ends any pause of `scope` now, for a person who has dealt with its
    /// cause.
    pub fn resume(&self, scope: &str) {
        if let Some(record) = self.shared.scopes.lock().get_mut(scope) {
            record.pause = None;
        }
    }
}

impl fmt::Debug for RunawayPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules = &self.shared.rules;
        f.debug_struct("RunawayPolicy")
            .field("loops", &rules.loops)
            .field("velocity", &rules.velocity)
            .field("breaker", &rules.breaker)
            .field("scopes", &*self.shared.scopes.lock())
            .finish()
    }
}

/// Each key once, in order; a call has a handful, so a scan beats a set.
fn distinct<'a>(scope_keys: &'a [&'a str]) -> impl Iterator<Item = &'a str> + 'a {
    scope_keys
        .iter()
        .enumerate()
        .filter(|&(i, key)| !scope_keys[..i].contains(key))
        .map(|(_, key)| *key)
}

/// What a check needs to know about the call.
#[derive(Debug, Clone, Copy)]
struct Call {
    fingerprint: Option<RequestFingerprint>,
    worst_case: Usd,
    now: Duration,
}

/// A detector firing: lower ranks are reported first.
struct Refusal {
    rank: usize,
    kind: RunawayKind,
    action: RunawayAction,
}

/// Everything the policy remembers about one scope.
#[derive(Debug, Default)]
struct ScopeRecord {
    pause: Option<Pause>,
    circuit: Circuit,
    loops: LoopLog,
    /// One log per velocity rule, created when the scope's first call is
    /// counted.
    velocity: Vec<VelocityLog>,
}

impl ScopeRecord {
    /// The first detector that refuses the call; changes nothing but
    /// forgetting what has left its window.
    fn check(&mut self, rules: &Rules, call: Call) -> Result<(), Refusal> {
        let refuse = |rank, action| move |kind| Refusal { rank, kind, action };
        if let Some(pause) = &self.pause {
            pause
                .check(call.now)
                .map_err(refuse(0, RunawayAction::Refuse))?;
        }
        if let Some(breaker) = rules.breaker {
            self.circuit
                .check(breaker.rule, call.now)
                .map_err(refuse(1, breaker.action))?;
        }
        if let (Some(loops), Some(fingerprint)) = (rules.loops, call.fingerprint) {
            self.loops
                .check(loops.rule, fingerprint, call.now)
                .map_err(refuse(2, loops.action))?;
        }
        for (i, velocity) in rules.velocity.iter().enumerate() {
            let checked = match self.velocity.get_mut(i) {
                Some(log) => log.check(velocity.rule, call.worst_case, call.now),
                None => VelocityLog::default().check(velocity.rule, call.worst_case, call.now),
            };
            checked.map_err(refuse(3 + i, velocity.action))?;
        }
        Ok(())
    }

    /// Counts a call every scope let through.
    fn count(&mut self, rules: &Rules, call: Call) {
        if let Some(breaker) = rules.breaker {
            self.circuit.admit(breaker.rule, call.now);
        }
        if let (Some(loops), Some(fingerprint)) = (rules.loops, call.fingerprint) {
            self.loops.record(loops.rule, fingerprint, call.now);
        }
        if self.velocity.len() < rules.velocity.len() {
            self.velocity
                .resize_with(rules.velocity.len(), VelocityLog::default);
        }
        for (log, velocity) in self.velocity.iter_mut().zip(&rules.velocity) {
            log.record(velocity.rule, call.worst_case, call.now);
        }
    }
}

impl Expiring for ScopeRecord {
    fn is_idle(&self, now: Duration) -> bool {
        self.pause.is_idle(now)
            && self.circuit.is_idle(now)
            && self.loops.is_idle(now)
            && self.velocity.iter().all(|log| log.is_idle(now))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Barrier;

    use serde_json::json;

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn at(secs: u64) -> Duration {
        Duration::from_secs(1_700_000_000 + secs)
    }

    fn request(content: &str) -> RequestFingerprint {
        RequestFingerprint::of("gpt-4o", &json!({"messages": [{"content": content}]}))
    }

    #[test]
    fn a_call_refused_in_one_scope_is_counted_in_none() {
        let policy = RunawayPolicy::builder()
            .calls_per(2, MINUTE, RunawayAction::Refuse)
            .build()
            .unwrap();
        let both = ["agent=a", "key=k"];
        policy
            .check(&["key=k"], request("1"), Usd::ZERO, at(0))
            .unwrap();
        policy.check(&both, request("2"), Usd::ZERO, at(0)).unwrap();
        // key=k is full; agent=a has room but must not count the refusal.
        let refusal = policy
            .check(&both, request("3"), Usd::ZERO, at(0))
            .unwrap_err();
        assert_eq!(refusal.scope, "key=k");
        policy
            .check(&["agent=a"], request("4"), Usd::ZERO, at(0))
            .unwrap();
        assert!(policy
            .check(&["agent=a"], request("5"), Usd::ZERO, at(0))
            .is_err());
    }

    #[test]
    fn a_scope_listed_twice_counts_once() {
        let policy = RunawayPolicy::builder()
            .calls_per(2, MINUTE, RunawayAction::Refuse)
            .build()
            .unwrap();
        let twice = ["agent=a", "agent=a"];
        policy
            .check(&twice, request("1"), Usd::ZERO, at(0))
            .unwrap();
        policy
            .check(&twice, request("2"), Usd::ZERO, at(0))
            .unwrap();
        assert!(policy
            .check(&twice, request("3"), Usd::ZERO, at(0))
            .is_err());
    }

    #[test]
    fn the_most_telling_refusal_is_reported_across_scopes() {
        let policy = RunawayPolicy::builder()
            .loops(2, MINUTE, RunawayAction::Halt)
            .calls_per(1, MINUTE, RunawayAction::Refuse)
            .build()
            .unwrap();
        let retry = request("again");
        policy
            .check(&["key=k"], request("x"), Usd::ZERO, at(0))
            .unwrap();
        policy.check(&["agent=b"], retry, Usd::ZERO, at(1)).unwrap();
        // key=k would refuse on velocity, agent=b on the loop: the loop
        // comes first whatever the order of the keys.
        let refusal = policy
            .check(&["key=k", "agent=b"], retry, Usd::ZERO, at(2))
            .unwrap_err();
        assert_eq!(refusal.scope, "agent=b");
        assert_eq!(refusal.action, RunawayAction::Halt);
    }

    #[test]
    fn a_pause_action_refuses_everything_in_the_scope_until_it_ends() {
        let five_minutes = Duration::from_secs(300);
        let policy = RunawayPolicy::builder()
            .calls_per(2, MINUTE, RunawayAction::Pause(five_minutes))
            .build()
            .unwrap();
        policy
            .check(&["agent=a"], request("1"), Usd::ZERO, at(0))
            .unwrap();
        policy
            .check(&["agent=a"], request("2"), Usd::ZERO, at(0))
            .unwrap();
        let fired = policy
            .check(&["agent=a"], request("3"), Usd::ZERO, at(0))
            .unwrap_err();
        assert_eq!(fired.action, RunawayAction::Pause(five_minutes));

        // Long after the burst's window, the pause still holds.
        let held = policy
            .check(&["agent=a"], request("4"), Usd::ZERO, at(299))
            .unwrap_err();
        assert_eq!(
            held.kind,
            RunawayKind::Paused {
                until: at(300),
                cause: Box::new(RunawayKind::CallVelocity {
                    limit: 2,
                    per: MINUTE
                })
            }
        );
        assert_eq!(held.action, RunawayAction::Refuse);
        assert!(policy
            .check(&["agent=b"], request("4"), Usd::ZERO, at(1))
            .is_ok());
        assert!(policy
            .check(&["agent=a"], request("4"), Usd::ZERO, at(300))
            .is_ok());
    }

    #[test]
    fn resume_lifts_a_pause() {
        let policy = RunawayPolicy::builder()
            .loops(2, MINUTE, RunawayAction::Pause(Duration::from_secs(3_600)))
            .build()
            .unwrap();
        policy
            .check(&["agent=a"], request("x"), Usd::ZERO, at(0))
            .unwrap();
        assert!(policy
            .check(&["agent=a"], request("x"), Usd::ZERO, at(1))
            .is_err());
        assert!(policy
            .check(&["agent=a"], request("y"), Usd::ZERO, at(2))
            .is_err());
        policy.resume("agent=a");
        assert!(policy
            .check(&["agent=a"], request("y"), Usd::ZERO, at(3))
            .is_ok());
    }

    #[test]
    fn outcomes_drive_the_breaker_in_every_scope_of_the_call() {
        let policy = RunawayPolicy::builder()
            .circuit_breaker(2, Duration::from_secs(30), RunawayAction::Refuse)
            .build()
            .unwrap();
        let scopes = ["agent=a", "key=k"];
        for _ in 0..2 {
            policy
                .check(&scopes, request("x"), Usd::ZERO, at(0))
                .unwrap();
            policy.record_outcome(&scopes, Some(429), at(0));
        }
        assert!(policy
            .check(&["key=k"], request("y"), Usd::ZERO, at(1))
            .is_err());
        assert!(policy
            .check(&["agent=a"], request("y"), Usd::ZERO, at(1))
            .is_err());
        policy
            .check(&scopes, request("probe"), Usd::ZERO, at(30))
            .unwrap();
        policy.record_outcome(&scopes, Some(200), at(31));
        assert!(policy
            .check(&scopes, request("z"), Usd::ZERO, at(31))
            .is_ok());
        policy.record_outcome(&scopes, Some(400), at(31));
        policy.record_outcome(&scopes, Some(503), at(31));
        assert!(policy
            .check(&scopes, request("z"), Usd::ZERO, at(31))
            .is_ok());
    }

    #[test]
    fn a_refused_call_does_not_take_the_probe() {
        let policy = RunawayPolicy::builder()
            .circuit_breaker(1, Duration::from_secs(30), RunawayAction::Refuse)
            .loops(2, Duration::from_secs(3_600), RunawayAction::Refuse)
            .build()
            .unwrap();
        policy
            .check(&["key=k"], request("x"), Usd::ZERO, at(0))
            .unwrap();
        policy.record_outcome(&["key=k"], Some(429), at(0));
        policy
            .check(&["agent=a"], request("y"), Usd::ZERO, at(0))
            .unwrap();
        // After the cool-down, agent=a's loop refuses the would-be probe...
        let refusal = policy
            .check(&["key=k", "agent=a"], request("y"), Usd::ZERO, at(30))
            .unwrap_err();
        assert_eq!(refusal.scope, "agent=a");
        // ...so the next call is the probe, and the one after it waits.
        policy
            .check(&["key=k", "agent=b"], request("z"), Usd::ZERO, at(30))
            .unwrap();
        let waiting = policy.check(&["key=k"], request("w"), Usd::ZERO, at(30));
        assert!(matches!(
            waiting.unwrap_err().kind,
            RunawayKind::CircuitOpen { until, .. } if until == at(60)
        ));
    }

    #[test]
    fn threads_racing_through_the_policy_never_pass_more_than_the_limit() {
        const THREADS: usize = 8;
        const LIMIT: u32 = 100;
        const ROUNDS: usize = 25;
        let passed: Vec<AtomicU32> = (0..ROUNDS).map(|_| AtomicU32::new(0)).collect();
        let start = Barrier::new(THREADS);
        let policy = RunawayPolicy::builder()
            .calls_per(LIMIT, MINUTE, RunawayAction::Refuse)
            // Room for 150 calls of 2 nano-dollars: the call limit binds.
            .spend_per(Usd::from_nanos(300), MINUTE, RunawayAction::Refuse)
            .build()
            .unwrap();
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let (policy, passed, start) = (policy.clone(), &passed, &start);
                scope.spawn(move || {
                    for (round, passed) in passed.iter().enumerate() {
                        start.wait();
                        let global = format!("global-{round}");
                        let agent = format!("agent={round}-{}", thread % 2);
                        for n in 0..LIMIT {
                            let call = request(&format!("{thread}-{n}"));
                            let scopes = [global.as_str(), agent.as_str()];
                            if policy
                                .check(&scopes, call, Usd::from_nanos(2), at(0))
                                .is_ok()
                            {
                                passed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                });
            }
        });
        for passed in &passed {
            assert_eq!(passed.load(Ordering::Relaxed), LIMIT);
        }
    }

    #[test]
    fn memory_stays_bounded_and_a_busy_scope_keeps_its_count() {
        const CALLS: u32 = 20_000;
        let policy = RunawayPolicy::builder()
            .loops(3, MINUTE, RunawayAction::Refuse)
            .calls_per(CALLS, Duration::from_secs(3_600), RunawayAction::Refuse)
            .max_scopes(50)
            .build()
            .unwrap();
        let call = |n: u32| {
            let customer = format!("customer={n}");
            let when = at(u64::from(n) / 100);
            policy.check(
                &[&customer, "global"],
                request(&n.to_string()),
                Usd::ZERO,
                when,
            )
        };
        for n in 0..CALLS {
            call(n).unwrap();
            assert!(policy.shared.scopes.lock().len() <= 50);
        }
        // Every customer scope is still live, yet "global", seen on every
        // call, was never the one evicted: it still holds all 20,000.
        assert_eq!(call(CALLS).unwrap_err().scope, "global");
    }

    #[test]
    fn bad_settings_are_typed_errors_from_build() {
        let zero_pause = RunawayAction::Pause(Duration::ZERO);
        let cases = [
            (
                RunawayPolicy::builder().loops(1, MINUTE, RunawayAction::Refuse),
                RunawayConfigError::TooFewRepeats { repeats: 1 },
            ),
            (
                RunawayPolicy::builder().calls_per(0, MINUTE, RunawayAction::Halt),
                RunawayConfigError::ZeroCalls,
            ),
            (
                RunawayPolicy::builder().spend_per(
                    Usd::from_cents(1),
                    Duration::ZERO,
                    RunawayAction::Halt,
                ),
                RunawayConfigError::ZeroDuration {
                    what: "velocity window",
                },
            ),
            (
                RunawayPolicy::builder().circuit_breaker(3, MINUTE, zero_pause),
                RunawayConfigError::ZeroDuration { what: "pause" },
            ),
            (
                RunawayPolicy::builder()
                    .max_scopes(0)
                    .calls_per(0, MINUTE, RunawayAction::Halt),
                RunawayConfigError::ZeroScopes,
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(builder.build().unwrap_err(), expected);
        }
    }
}
