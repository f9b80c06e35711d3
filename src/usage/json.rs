//! Reading token counters out of a provider's JSON, with the rules every
//! format shares:
//!
//! - a counter is a JSON integer from 0 to `u64::MAX`; anything else
//!   (negative, fractional, a string, too large) is an error, never a zero;
//! - an optional counter or detail object that is absent or `null` is zero,
//!   which is how providers omit what did not happen;
//! - every error names the format and the path of the field.

use serde_json::{Map, Value};

use crate::json_kind::json_kind;
use crate::usage::field_path::{FieldPath, ObjectPath};
use crate::usage::{CounterProblem, ServiceTier, UsageError, UsageFormat};

/// A JSON object inside a provider response, with where it sits.
#[derive(Debug, Clone)]
pub(super) struct JsonObject<'a> {
    format: UsageFormat,
    /// Where it sits in the value the caller passed.
    path: ObjectPath,
    fields: &'a Map<String, Value>,
}

impl<'a> JsonObject<'a> {
    /// The whole value a caller passed in (a response body, a stream event).
    pub(super) fn root(format: UsageFormat, value: &'a Value) -> Result<Self, UsageError> {
        match value {
            Value::Object(fields) => Ok(JsonObject {
                format,
                path: ObjectPath::ROOT,
                fields,
            }),
            other => Err(UsageError::WrongType {
                format,
                path: "(the response body)".to_owned(),
                expected: "an object (one response body or stream event, not a list)",
                found: json_kind(other),
            }),
        }
    }

    /// Where this object sits.
    pub(super) const fn object_path(&self) -> ObjectPath {
        self.path
    }

    /// The format being read.
    pub(super) const fn format(&self) -> UsageFormat {
        self.format
    }

    /// Where `key` sits, for an error that names it.
    pub(super) const fn path_of(&self, key: &'static str) -> FieldPath {
        self.path.field(key)
    }

    /// The value at `key`, or `None` when absent or `null`.
    pub(super) fn field(&self, key: &'static str) -> Option<&'a Value> {
        self.fields.get(key).filter(|value| !value.is_null())
    }

    /// The usage object at `key`: absent or `null` is [`UsageError::MissingUsage`].
    pub(super) fn usage(&self, key: &'static str) -> Result<Self, UsageError> {
        self.optional_object(key)?
            .ok_or_else(|| UsageError::MissingUsage {
                format: self.format,
                path: self.path_of(key).to_string(),
            })
    }

    /// The object at `key`, or `None` when absent or `null`.
    pub(super) fn optional_object(&self, key: &'static str) -> Result<Option<Self>, UsageError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(fields)) => Ok(Some(JsonObject {
                format: self.format,
                path: self.path.key(key),
                fields,
            })),
            Some(other) => Err(self.wrong_type(key, "an object", other)),
        }
    }

    /// The counter at `key`, which must be present.
    pub(super) fn required_count(&self, key: &'static str) -> Result<Count, UsageError> {
        self.optional_count(key)?.ok_or_else(|| self.missing(key))
    }

    /// The error for a required field `key` that is absent or `null`.
    pub(super) fn missing(&self, key: &'static str) -> UsageError {
        UsageError::MissingField {
            format: self.format,
            path: self.path_of(key).to_string(),
        }
    }

    /// The counter at `key`, zero when absent or `null`.
    pub(super) fn count_or_zero(&self, key: &'static str) -> Result<Count, UsageError> {
        Ok(self.optional_count(key)?.unwrap_or_else(|| Count {
            path: self.path_of(key),
            tokens: 0,
        }))
    }

    /// The counter at `key` inside the detail object at `object`: zero when
    /// either is absent or `null`.
    pub(super) fn detail_count(
        &self,
        object: &'static str,
        key: &'static str,
    ) -> Result<Count, UsageError> {
        match self.optional_object(object)? {
            Some(details) => details.count_or_zero(key),
            None => Ok(Count {
                path: self.path.key(object).field(key),
                tokens: 0,
            }),
        }
    }

    /// The counter at `key` inside the detail object at `object`, or `None`
    /// when either is absent or `null`.
    pub(super) fn optional_detail_count(
        &self,
        object: &'static str,
        key: &'static str,
    ) -> Result<Option<Count>, UsageError> {
        match self.optional_object(object)? {
            Some(details) => details.optional_count(key),
            None => Ok(None),
        }
    }

    /// The service tier named at `key` (see [`ServiceTier::from_provider_name`]),
    /// or `None` when absent or `null`; an unknown name is an error.
    pub(super) fn service_tier(
        &self,
        key: &'static str,
    ) -> Result<Option<ServiceTier>, UsageError> {
        self.optional_str(key)?
            .map(|name| {
                ServiceTier::from_provider_name(name).ok_or_else(|| {
                    UsageError::UnknownServiceTier {
                        format: self.format,
                        path: self.path_of(key).to_string(),
                        name: name.to_owned(),
                    }
                })
            })
            .transpose()
    }

    /// The counter at `key`, or `None` when absent or `null`.
    pub(super) fn optional_count(&self, key: &'static str) -> Result<Option<Count>, UsageError> {
        let value = match self.fields.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(value) => value,
        };
        let tokens = token_count(value).map_err(|problem| UsageError::InvalidCounter {
            format: self.format,
            path: self.path_of(key).to_string(),
            problem,
            value: value.to_string(),
        })?;
        Ok(Some(Count {
            path: self.path_of(key),
            tokens,
        }))
    }

    /// The string at `key`, or `None` when absent or `null`.
    pub(super) fn optional_str(&self, key: &'static str) -> Result<Option<&'a str>, UsageError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    /// The objects in the array at `key`; none when the array is absent or
    /// `null`.
    pub(super) fn objects_in_array(&self, key: &'static str) -> Result<Vec<Self>, UsageError> {
        let items = match self.fields.get(key) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(self.wrong_type(key, "an array", other)),
        };
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let path = self.path.item(key, index);
                match item {
                    Value::Object(fields) => Ok(JsonObject {
                        format: self.format,
                        path,
                        fields,
                    }),
                    other => Err(UsageError::WrongType {
                        format: self.format,
                        path: path.to_string(),
                        expected: "an object",
                        found: json_kind(other),
                    }),
                }
            })
            .collect()
    }

    fn wrong_type(&self, key: &'static str, expected: &'static str, found: &Value) -> UsageError {
        UsageError::WrongType {
            format: self.format,
            path: self.path_of(key).to_string(),
            expected,
            found: json_kind(found),
        }
    }
}

/// A token count read from the provider, with the field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Count {
    /// Where the count came from, for error messages.
    pub(super) path: FieldPath,
    /// The count.
    pub(super) tokens: u64,
}

impl Count {
    /// The tokens of `self` that are in none of `parts`, which must all be
    /// part of it: a breakdown larger than its total is an error.
    pub(super) fn without(
        &self,
        parts: &[&Count],
        format: UsageFormat,
    ) -> Result<Count, UsageError> {
        let taken: u128 = parts.iter().map(|part| u128::from(part.tokens)).sum();
        // `taken` is at most `self.tokens` once the subtraction succeeds, so
        // the remainder fits in a u64.
        u128::from(self.tokens)
            .checked_sub(taken)
            .map(|left| Count {
                path: FieldPath::Difference(
                    Box::new(self.path.clone()),
                    parts.iter().map(|part| part.path.clone()).collect(),
                ),
                tokens: saturate(left),
            })
            .ok_or_else(|| UsageError::DetailExceedsParent {
                format,
                detail: join_paths(parts),
                detail_tokens: saturate(taken),
                parent: self.path.to_string(),
                parent_tokens: self.tokens,
            })
    }

    /// Checks that `self`, a total the provider reports, is exactly the sum
    /// of `parts`.
    pub(super) fn check_total(
        &self,
        parts: &[&Count],
        format: UsageFormat,
    ) -> Result<(), UsageError> {
        let sum: u128 = parts.iter().map(|part| u128::from(part.tokens)).sum();
        if sum == u128::from(self.tokens) {
            Ok(())
        } else {
            Err(UsageError::InconsistentTotal {
                format,
                total: self.path.to_string(),
                reported: self.tokens,
                parts: join_paths(parts),
                sum: saturate(sum),
            })
        }
    }
}

/// Reads one token counter.
fn token_count(value: &Value) -> Result<u64, CounterProblem> {
    let Value::Number(number) = value else {
        return Err(CounterProblem::NotANumber);
    };
    if let Some(tokens) = number.as_u64() {
        return Ok(tokens);
    }
    if number.as_i64().is_some() {
        return Err(CounterProblem::Negative);
    }
    // What remains was written as a decimal, or is an integer outside i64 and
    // u64, which serde_json keeps as a float.
    match number.as_f64() {
        Some(float) if float < 0.0 => Err(CounterProblem::Negative),
        Some(float) if float.fract() == 0.0 && float >= U64_LIMIT => Err(CounterProblem::TooLarge),
        _ => Err(CounterProblem::NotAnInteger),
    }
}

/// 2^64, the first float above `u64::MAX`.
const U64_LIMIT: f64 = 18_446_744_073_709_551_616.0;

/// `tokens`, or `u64::MAX` if it is more.
pub(super) fn saturate(tokens: u128) -> u64 {
    u64::try_from(tokens).unwrap_or(u64::MAX)
}

fn join_paths(parts: &[&Count]) -> String {
    parts
        .iter()
        .map(|part| part.path.to_string())
        .collect::<Vec<_>>()
        .join(" + ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problem(value: Value) -> CounterProblem {
        token_count(&value).unwrap_err()
    }

    #[test]
    fn counters_are_whole_non_negative_u64s() {
        assert_eq!(token_count(&json!(0)), Ok(0));
        assert_eq!(token_count(&json!(u64::MAX)), Ok(u64::MAX));
        assert_eq!(problem(json!(-1)), CounterProblem::Negative);
        assert_eq!(problem(json!(-1.5)), CounterProblem::Negative);
        assert_eq!(problem(json!(1.5)), CounterProblem::NotAnInteger);
        assert_eq!(problem(json!(12.0)), CounterProblem::NotAnInteger);
        assert_eq!(problem(json!("12")), CounterProblem::NotANumber);
        assert_eq!(problem(json!(true)), CounterProblem::NotANumber);
        assert_eq!(problem(json!([12])), CounterProblem::NotANumber);
        let too_large: Value = serde_json::from_str("18446744073709551616").unwrap();
        assert_eq!(problem(too_large), CounterProblem::TooLarge);
    }

    #[test]
    fn a_breakdown_larger_than_its_total_is_an_error_not_a_wrap() {
        let total = Count {
            path: FieldPath::Named("total"),
            tokens: 10,
        };
        let big = Count {
            path: FieldPath::Named("big"),
            tokens: u64::MAX,
        };
        let err = total
            .without(&[&big, &big], UsageFormat::Gemini)
            .unwrap_err();
        assert_eq!(
            err,
            UsageError::DetailExceedsParent {
                format: UsageFormat::Gemini,
                detail: "big + big".into(),
                detail_tokens: u64::MAX,
                parent: "total".into(),
                parent_tokens: 10,
            }
        );
    }

    #[test]
    fn totals_are_compared_without_saturating() {
        let total = Count {
            path: FieldPath::Named("total"),
            tokens: u64::MAX,
        };
        let max = Count {
            path: FieldPath::Named("a"),
            tokens: u64::MAX,
        };
        let one = Count {
            path: FieldPath::Named("b"),
            tokens: 1,
        };
        assert!(total
            .check_total(&[&max, &one], UsageFormat::OpenAiChat)
            .is_err());
        assert!(total.check_total(&[&max], UsageFormat::OpenAiChat).is_ok());
    }
}
