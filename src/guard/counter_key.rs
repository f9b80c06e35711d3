//! [`CounterKey`]: the name a shared limit's counter has in a store, made
//! and read back in this one place.
//!
//! A name is the tag the counter is for (or `global`) and its window,
//! joined by `|`: `global|day`, `agent=researcher|month`,
//! `key=prod|rolling=3600000ms`. Tag values are written as they are but for
//! `%`, `|` and control characters, which are percent-escaped so that no
//! value can pose as another counter's name.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::guard::Window;
use crate::tags::TagKind;

/// Which counter of which shared limit: a tag value (or everything) and a
/// window.
///
/// ```
/// use std::time::Duration;
/// use spendguard::guard::{CounterKey, Window};
/// use spendguard::tags::TagKind;
///
/// let key = CounterKey::tagged(TagKind::Agent, "night|shift", Window::Day);
/// assert_eq!(key.to_string(), "agent=night%7Cshift|day");
///
/// let read = CounterKey::parse("agent=night%7Cshift|day").unwrap();
/// assert_eq!(read, key);
/// assert_eq!(read.tag(), Some((TagKind::Agent, "night|shift")));
/// assert_eq!(
///     CounterKey::parse("global|rolling=3600000ms").unwrap().window(),
///     Window::Rolling(Duration::from_secs(3600))
/// );
/// assert_eq!(CounterKey::parse("not a counter"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CounterKey {
    tag: Option<(TagKind, String)>,
    window: Window,
}

impl CounterKey {
    /// The counter of a limit on everything.
    pub const fn global(window: Window) -> Self {
        CounterKey { tag: None, window }
    }

    /// The counter of calls tagged `kind` = `value`.
    pub fn tagged(kind: TagKind, value: impl Into<String>, window: Window) -> Self {
        CounterKey {
            tag: Some((kind, value.into())),
            window,
        }
    }

    /// Reads a name back; `None` for a name the guard does not make.
    pub fn parse(name: &str) -> Option<CounterKey> {
        let (subject, suffix) = name.rsplit_once('|')?;
        let window = window_of_suffix(suffix)?;
        if subject == "global" {
            return Some(CounterKey::global(window));
        }
        let (kind, value) = subject.split_once('=')?;
        let kind = TagKind::ALL.into_iter().find(|k| k.name() == kind)?;
        Some(CounterKey::tagged(kind, unescape(value)?, window))
    }

    /// The tag and value counted, or `None` for everything.
    pub fn tag(&self) -> Option<(TagKind, &str)> {
        self.tag
            .as_ref()
            .map(|(kind, value)| (*kind, value.as_str()))
    }

    /// The window counted over.
    pub const fn window(&self) -> Window {
        self.window
    }

    /// The name of the counter for `tag` whose window writes `suffix`
    /// ([`window_suffix`]): the hot path, which keeps the suffix and skips
    /// building a key.
    pub(crate) fn name_of(tag: Option<(TagKind, &str)>, suffix: &str) -> Arc<str> {
        let mut name = String::with_capacity(suffix.len() + 24);
        match tag {
            None => name.push_str("global"),
            Some((kind, value)) => {
                name.push_str(kind.name());
                name.push('=');
                escape_into(&mut name, value);
            }
        }
        name.push('|');
        name.push_str(suffix);
        Arc::from(name)
    }
}

impl fmt::Display for CounterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&CounterKey::name_of(
            self.tag(),
            &window_suffix(self.window),
        ))
    }
}

/// How a window ends a counter's name: `all`, `day`, `week`, `month`, or
/// `rolling=3600000ms`.
pub(crate) fn window_suffix(window: Window) -> String {
    match window {
        Window::Lifetime => "all".into(),
        Window::Day => "day".into(),
        Window::Week => "week".into(),
        Window::Month => "month".into(),
        Window::Rolling(period) => format!("rolling={}ms", period.as_millis()),
    }
}

fn window_of_suffix(suffix: &str) -> Option<Window> {
    match suffix {
        "all" => Some(Window::Lifetime),
        "day" => Some(Window::Day),
        "week" => Some(Window::Week),
        "month" => Some(Window::Month),
        rolling => {
            let millis = rolling.strip_prefix("rolling=")?.strip_suffix("ms")?;
            let millis: u64 = millis.parse().ok()?;
            (millis > 0).then(|| Window::Rolling(Duration::from_millis(millis)))
        }
    }
}

fn escape_into(name: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '%' => name.push_str("%25"),
            '|' => name.push_str("%7C"),
            c if c.is_control() => {
                let mut bytes = [0; 4];
                for byte in c.encode_utf8(&mut bytes).bytes() {
                    name.push_str(&format!("%{byte:02X}"));
                }
            }
            c => name.push(c),
        }
    }
}

/// Undoes [`escape_into`]; `None` for a malformed escape.
fn unescape(value: &str) -> Option<String> {
    if !value.contains('%') {
        return Some(value.to_owned());
    }
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOWS: [Window; 5] = [
        Window::Lifetime,
        Window::Day,
        Window::Week,
        Window::Month,
        Window::Rolling(Duration::from_secs(90)),
    ];

    #[test]
    fn every_key_reads_back_as_written() {
        let awkward = ["researcher", "a|b", "50%", "tab\there", "é🦀", "=", ""];
        for window in WINDOWS {
            let global = CounterKey::global(window);
            assert_eq!(CounterKey::parse(&global.to_string()), Some(global));
            for kind in TagKind::ALL {
                for value in awkward {
                    let key = CounterKey::tagged(kind, value, window);
                    assert_eq!(CounterKey::parse(&key.to_string()), Some(key), "{value:?}");
                }
            }
        }
    }

    #[test]
    fn no_value_can_pose_as_another_counter() {
        let sneaky = CounterKey::tagged(TagKind::Agent, "a|day", Window::Month);
        assert_eq!(sneaky.to_string(), "agent=a%7Cday|month");
        assert_eq!(
            CounterKey::parse(&sneaky.to_string()).unwrap().window(),
            Window::Month
        );
    }

    #[test]
    fn names_the_guard_does_not_make_are_not_keys() {
        for name in [
            "",
            "global",
            "global|fortnight",
            "global|rolling=0ms",
            "global|rolling=5s",
            "agent|day",
            "planet=mars|day",
            "agent=bad%ZZ|day",
            "agent=cut%7|day",
            "agent=%FF|day",
        ] {
            assert_eq!(CounterKey::parse(name), None, "{name}");
        }
    }
}
