//! The few shapes the meter reads from an event's JSON, deserialized
//! straight from its bytes (or from a `Value` the caller gets anyway),
//! keeping only what is read: strings are borrowed where the JSON has no
//! escapes, and everything else is parsed and dropped.
//!
//! Each shape reads a value of another type as missing, the way
//! `Value::get` and `Value::as_str` find nothing there, so no event is
//! refused for its shape. What is not JSON is refused exactly as a
//! `serde_json::Value` would refuse it: every value, kept or not, goes
//! through `deserialize_any` like a `Value` does, so strings (their UTF-8
//! and escapes), numbers and nesting depth are checked the same.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

/// Implements the visits of the listed kinds of JSON value, each read as
/// `$value`; an array's or an object's contents are checked and dropped
/// first. Each shape lists the kinds it has nothing to read in and writes
/// out the visits it reads.
macro_rules! read_as {
    (@bool $value:expr) => {
        fn visit_bool<E: Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@i64 $value:expr) => {
        fn visit_i64<E: Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@u64 $value:expr) => {
        fn visit_u64<E: Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@f64 $value:expr) => {
        fn visit_f64<E: Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@unit $value:expr) => {
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@str $value:expr) => {
        fn visit_str<E: Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
    (@seq $value:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<Skip>()?.is_some() {}
            Ok($value)
        }
    };
    (@map $value:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<Skip, Skip>()?.is_some() {}
            Ok($value)
        }
    };
    ($value:expr; $($kind:ident),+) => {
        $(read_as!(@$kind $value);)+
    };
}

/// Any JSON value, checked as a `Value` would be and dropped.
pub(super) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            read_as!(Skip; bool, i64, u64, f64, unit, str, seq, map);
        }
        deserializer.deserialize_any(SkipVisitor)
    }
}

/// A string, borrowed from the event where it has no escapes; `None` for
/// any other value (`Value::as_str`).
#[derive(Debug, Default)]
pub(super) struct Text<'de>(pub(super) Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            read_as!(Text(None); bool, i64, u64, f64, unit, seq, map);
            fn visit_borrowed_str<E: Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(text))))
            }
            fn visit_str<E: Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(text.to_owned()))))
            }
            fn visit_string<E: Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(text))))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

impl Text<'_> {
    /// The string, if the value was one.
    pub(super) fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A non-negative integer; `None` for any other value (`Value::as_u64`).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Count(pub(super) Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            read_as!(Count(None); bool, i64, f64, unit, str, seq, map);
            fn visit_u64<E: Error>(self, count: u64) -> Result<Count, E> {
                Ok(Count(Some(count)))
            }
        }
        deserializer.deserialize_any(CountVisitor)
    }
}

/// Whether a value is anything but `null` (`!Value::is_null`).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct NotNull(pub(super) bool);

impl<'de> Deserialize<'de> for NotNull {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NotNullVisitor;
        impl<'de> Visitor<'de> for NotNullVisitor {
            type Value = NotNull;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            read_as!(NotNull(true); bool, i64, u64, f64, str, seq, map);
            fn visit_unit<E: Error>(self) -> Result<NotNull, E> {
                Ok(NotNull(false))
            }
        }
        deserializer.deserialize_any(NotNullVisitor)
    }
}

/// The elements of an array, each read as `T`; none for any other value.
#[derive(Debug)]
pub(super) struct List<T>(pub(super) Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            read_as!(List::default(); bool, i64, u64, f64, unit, str, map);
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
                while let Some(element) = seq.next_element()? {
                    elements.push(element);
                }
                Ok(List(elements))
            }
        }
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

/// The fields of an object that a reader takes from it.
pub(super) trait Fields<'de>: Default {
    /// Takes field `key`'s value from `map`, or skips it with
    /// `map.next_value::<Skip>()`. A key the object repeats comes again:
    /// the last value replaces the earlier, as in a `Value`.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// Reads an object's [`Fields`], for [`Object`] and [`NullOr`].
struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Fields<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    read_as!(Object::default(); bool, i64, u64, f64, unit, str, seq);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<T>, A::Error> {
        let mut fields = T::default();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            // A JSON key is always a string.
            let key = key.0.unwrap_or_default();
            fields.field(&key, &mut map)?;
        }
        Ok(Object(fields))
    }
}

/// An object read for its [`Fields`]; any other value reads as an object
/// without them (`Value::get` finds nothing in it).
#[derive(Debug, Default)]
pub(super) struct Object<T>(pub(super) T);

impl<'de, T: Fields<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

/// An object read for its [`Fields`], or `None` for `null`; any other value
/// reads as an object without them.
#[derive(Debug, Default)]
pub(super) struct NullOr<T>(pub(super) Option<T>);

impl<'de, T: Fields<'de>> Deserialize<'de> for NullOr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NullOrVisitor<T>(PhantomData<T>);
        impl<'de, T: Fields<'de>> Visitor<'de> for NullOrVisitor<T> {
            type Value = NullOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: Error>(self) -> Result<NullOr<T>, E> {
                Ok(NullOr(None))
            }
            read_as!(NullOr(Some(T::default())); bool, i64, u64, f64, str, seq);
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NullOr<T>, A::Error> {
                let Object(fields) = ObjectVisitor(PhantomData).visit_map(map)?;
                Ok(NullOr(Some(fields)))
            }
        }
        deserializer.deserialize_any(NullOrVisitor(PhantomData))
    }
}
