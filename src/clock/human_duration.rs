//! [`HumanDuration`]: a duration in messages, as people write it.

use std::fmt;
use std::time::Duration;

/// A duration as people write it: `90s` is `1m30s`, `0.25s`, `2h`.
pub(crate) struct HumanDuration(pub(crate) Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let nanos = self.0.subsec_nanos();
        if nanos != 0 {
            let fraction = format!("{nanos:09}");
            return write!(f, "{secs}.{}s", fraction.trim_end_matches('0'));
        }
        if secs == 0 {
            return f.write_str("0s");
        }
        let (hours, minutes, seconds) = (secs / 3_600, secs / 60 % 60, secs % 60);
        for (amount, unit) in [(hours, "h"), (minutes, "m"), (seconds, "s")] {
            if amount != 0 {
                write!(f, "{amount}{unit}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_people_write_them() {
        let span = |d| HumanDuration(d).to_string();
        assert_eq!(span(Duration::from_secs(60)), "1m");
        assert_eq!(span(Duration::from_secs(90)), "1m30s");
        assert_eq!(span(Duration::from_secs(7_200)), "2h");
        assert_eq!(span(Duration::from_secs(3_605)), "1h5s");
        assert_eq!(span(Duration::from_millis(250)), "0.25s");
        assert_eq!(span(Duration::from_millis(61_500)), "61.5s");
        assert_eq!(span(Duration::ZERO), "0s");
    }
}
