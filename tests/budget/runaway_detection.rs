//! Runaway detection through the public API: a retry loop, a call burst and
//! a 429 storm are each stopped within the configured number of calls, on
//! an injected clock, by a policy configured as a guard would configure it.

use std::time::Duration;

use serde_json::{json, Value};
use spendguard::clock::{Clock, FakeClock};
use spendguard::guard::runaway::{
    RequestFingerprint, RunawayAction, RunawayConfigError, RunawayDetected, RunawayKind,
    RunawayPolicy,
};
use spendguard::Usd;

const MINUTE: Duration = Duration::from_secs(60);
const LOOP_REPEATS: u32 = 3;
const CALLS_PER_MINUTE: u32 = 30;
const FAILURES_TO_OPEN: u32 = 5;
const COOL_DOWN: Duration = Duration::from_secs(30);
const PAUSE: Duration = Duration::from_secs(300);

fn policy() -> RunawayPolicy {
    RunawayPolicy::builder()
        .loops(LOOP_REPEATS, MINUTE, RunawayAction::Pause(PAUSE))
        .calls_per(CALLS_PER_MINUTE, MINUTE, RunawayAction::Refuse)
        .spend_per(Usd::from_dollars(1.0).unwrap(), MINUTE, RunawayAction::Halt)
        .circuit_breaker(FAILURES_TO_OPEN, COOL_DOWN, RunawayAction::Refuse)
        .build()
        .unwrap()
}

fn clock() -> FakeClock {
    FakeClock::at_unix(Duration::from_secs(1_700_000_000))
}

fn ask(content: &str) -> Value {
    json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 500,
    })
}

fn fingerprint(content: &str) -> RequestFingerprint {
    RequestFingerprint::of("gpt-4o", &ask(content))
}

/// Runs an agent that sends `next(n)` every `every` until the policy
/// refuses, answering each sent call with `status`; returns how many calls
/// reached the provider and the refusal.
fn run_agent(
    policy: &RunawayPolicy,
    clock: &FakeClock,
    scopes: &[&str],
    every: Duration,
    status: Option<u16>,
    next: impl Fn(u32) -> RequestFingerprint,
) -> (u32, RunawayDetected) {
    for sent in 0..10_000 {
        let cost = Usd::from_cents(1);
        if let Err(refusal) = policy.check(scopes, next(sent), cost, clock.now()) {
            return (sent, refusal);
        }
        policy.record_outcome(scopes, status, clock.now());
        clock.advance(every);
    }
    panic!("the agent was never stopped");
}

#[test]
fn a_retry_loop_is_stopped_at_the_configured_repeat_and_paused() {
    let (policy, clock) = (policy(), clock());
    let scopes = ["agent=fixer", "key=prod-1"];
    let every = Duration::from_secs(2);
    let (sent, refusal) = run_agent(&policy, &clock, &scopes, every, None, |_| {
        fingerprint("The tool timed out. Try again.")
    });

    assert_eq!(sent, LOOP_REPEATS - 1);
    assert_eq!(refusal.scope, "agent=fixer");
    assert_eq!(
        refusal.kind,
        RunawayKind::Loop {
            fingerprint: fingerprint("The tool timed out. Try again."),
            repeats: LOOP_REPEATS,
            within: MINUTE,
        }
    );
    assert_eq!(refusal.action, RunawayAction::Pause(PAUSE));
    assert!(refusal.to_string().ends_with("a retry loop; paused for 5m"));

    // The pause holds for anything the looping agent sends, and only it.
    clock.advance(Duration::from_secs(120));
    let held = policy
        .check(
            &scopes,
            fingerprint("Something else"),
            Usd::ZERO,
            clock.now(),
        )
        .unwrap_err();
    assert!(matches!(held.kind, RunawayKind::Paused { .. }));
    assert!(policy
        .check(
            &["agent=writer", "key=prod-1"],
            fingerprint("x"),
            Usd::ZERO,
            clock.now()
        )
        .is_ok());
    clock.advance(PAUSE);
    assert!(policy
        .check(
            &scopes,
            fingerprint("Something else"),
            Usd::ZERO,
            clock.now()
        )
        .is_ok());
}

#[test]
fn varied_requests_are_not_a_loop_and_a_retry_is_allowed_again_once_the_window_slides() {
    let (policy, clock) = (policy(), clock());
    let scopes = ["agent=planner"];
    for step in 0..20 {
        let request = fingerprint(&format!("Plan step {step}"));
        assert!(policy
            .check(&scopes, request, Usd::ZERO, clock.now())
            .is_ok());
        clock.advance(Duration::from_secs(5));
    }

    let slow = RunawayPolicy::builder()
        .loops(LOOP_REPEATS, MINUTE, RunawayAction::Refuse)
        .build()
        .unwrap();
    let retry = fingerprint("again");
    let mut sent = 0;
    for _ in 0..100 {
        if slow.check(&scopes, retry, Usd::ZERO, clock.now()).is_ok() {
            sent += 1;
        }
        clock.advance(Duration::from_secs(2));
    }
    // 200 s of retries every 2 s: two per sliding minute get through.
    assert_eq!(sent, 8);
}

#[test]
fn a_call_burst_is_stopped_at_exactly_the_call_after_the_limit() {
    let (policy, clock) = (policy(), clock());
    let scopes = ["agent=crawler"];
    let every = Duration::from_millis(100);
    let (sent, refusal) = run_agent(&policy, &clock, &scopes, every, None, |n| {
        fingerprint(&format!("Summarise page {n}"))
    });

    assert_eq!(sent, CALLS_PER_MINUTE);
    assert_eq!(
        refusal.kind,
        RunawayKind::CallVelocity {
            limit: CALLS_PER_MINUTE,
            per: MINUTE,
        }
    );
    assert_eq!(refusal.action, RunawayAction::Refuse);
    // Another agent has its own window.
    assert!(policy
        .check(&["agent=writer"], fingerprint("x"), Usd::ZERO, clock.now())
        .is_ok());
}

#[test]
fn spend_velocity_counts_worst_cases_in_integer_money_and_halts() {
    let (policy, clock) = (policy(), clock());
    let scopes = ["customer=acme"];
    let worst_case = Usd::from_cents(40);
    for n in 0..2 {
        let request = fingerprint(&format!("Long report {n}"));
        policy
            .check(&scopes, request, worst_case, clock.now())
            .unwrap();
    }
    let refusal = policy
        .check(
            &scopes,
            fingerprint("Long report 2"),
            worst_case,
            clock.now(),
        )
        .unwrap_err();
    assert_eq!(
        refusal.kind,
        RunawayKind::SpendVelocity {
            spent: Usd::from_cents(80),
            requested: Usd::from_cents(40),
            limit: Usd::from_dollars(1.0).unwrap(),
            per: MINUTE,
        }
    );
    assert_eq!(refusal.action, RunawayAction::Halt);
    // Exactly the $0.20 left still fits.
    let rest = Usd::from_cents(20);
    assert!(policy
        .check(&scopes, fingerprint("Short note"), rest, clock.now())
        .is_ok());
}

#[test]
fn a_429_storm_opens_the_breaker_then_one_probe_decides() {
    let (policy, clock) = (policy(), clock());
    let scopes = ["key=prod-1"];
    let every = Duration::from_secs(1);
    let (sent, refusal) = run_agent(&policy, &clock, &scopes, every, Some(429), |n| {
        fingerprint(&format!("Classify ticket {n}"))
    });

    assert_eq!(sent, FAILURES_TO_OPEN);
    let opened_until = clock.now() - every + COOL_DOWN;
    assert_eq!(
        refusal.kind,
        RunawayKind::CircuitOpen {
            failures: FAILURES_TO_OPEN,
            until: opened_until,
        }
    );

    // After the cool-down exactly one probe goes through; it fails again.
    clock.set(opened_until);
    let probe = fingerprint("probe 1");
    policy
        .check(&scopes, probe, Usd::ZERO, clock.now())
        .unwrap();
    for n in 0..5 {
        let waiting = fingerprint(&format!("waiting {n}"));
        assert!(policy
            .check(&scopes, waiting, Usd::ZERO, clock.now())
            .is_err());
    }
    policy.record_outcome(&scopes, Some(429), clock.now());

    // Re-opened for another cool-down; the next probe succeeds and closes it.
    clock.advance(COOL_DOWN - Duration::from_secs(1));
    assert!(policy
        .check(&scopes, fingerprint("too soon"), Usd::ZERO, clock.now())
        .is_err());
    clock.advance(Duration::from_secs(1));
    policy
        .check(&scopes, fingerprint("probe 2"), Usd::ZERO, clock.now())
        .unwrap();
    policy.record_outcome(&scopes, None, clock.now());
    for n in 0..5 {
        let request = fingerprint(&format!("after {n}"));
        assert!(policy
            .check(&scopes, request, Usd::ZERO, clock.now())
            .is_ok());
    }
}

#[test]
fn a_success_between_failures_resets_the_storm_count() {
    let (policy, clock) = (policy(), clock());
    let scopes = ["key=prod-1"];
    for round in 0..3 {
        for n in 0..FAILURES_TO_OPEN - 1 {
            let request = fingerprint(&format!("{round}-{n}"));
            policy
                .check(&scopes, request, Usd::ZERO, clock.now())
                .unwrap();
            policy.record_outcome(&scopes, Some(503), clock.now());
            clock.advance(Duration::from_secs(3));
        }
        let request = fingerprint(&format!("{round}-ok"));
        policy
            .check(&scopes, request, Usd::ZERO, clock.now())
            .unwrap();
        policy.record_outcome(&scopes, None, clock.now());
    }
}

#[test]
fn bad_configuration_is_a_typed_error() {
    let error = RunawayPolicy::builder()
        .calls_per(0, MINUTE, RunawayAction::Refuse)
        .build()
        .unwrap_err();
    assert_eq!(error, RunawayConfigError::ZeroCalls);
    assert_eq!(
        error.to_string(),
        "a limit of 0 calls per window would refuse every call; allow at least 1, or trip \
         the kill switch to stop all calls"
    );
    let error = RunawayPolicy::builder()
        .loops(LOOP_REPEATS, MINUTE, RunawayAction::Pause(Duration::ZERO))
        .build()
        .unwrap_err();
    assert_eq!(error, RunawayConfigError::ZeroDuration { what: "pause" });
}
