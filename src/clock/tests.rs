//! Unit tests of `clock`.

use super::*;

#[test]
fn system_clock_is_after_2020() {
    assert!(SystemClock.now() > Duration::from_secs(1_577_836_800));
}

#[test]
fn fake_clock_clones_share_time() {
    let clock = FakeClock::default();
    let other = clock.clone();
    clock.advance(Duration::from_secs(5));
    assert_eq!(other.now(), Duration::from_secs(5));
    other.set(Duration::from_secs(1));
    assert_eq!(clock.now(), Duration::from_secs(1));
}
