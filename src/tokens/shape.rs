//! Reading request bodies of the wrong shape: the error, and the small typed
//! readers that produce it with the path of the offending field.

use std::fmt;

use serde_json::{Map, Value};

use crate::json_kind::json_kind;

/// Why a request body could not be counted.
///
/// Every variant names the field at fault as a path into the body
/// (`messages[2].content[0].text`), so the mistake can be found without a
/// debugger. A body that cannot be counted is never counted as zero.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestShapeError {
    /// The body is not a JSON object.
    #[error("the request body should be a JSON object, but it is {found}")]
    NotAnObject {
        /// What the body is instead ("an array", "a string", ...).
        found: &'static str,
    },
    /// The body has nothing to count: no `messages` and no `contents`.
    #[error(
        "the request body has neither `messages` (OpenAI, Anthropic) nor `contents` (Gemini), \
         so there is nothing to count; for an embeddings `input`, use `count_text` on each input"
    )]
    NothingToCount,
    /// A required field is absent.
    #[error("the request body has no `{field}`; add it as the provider's API requires")]
    Missing {
        /// Path of the missing field.
        field: String,
    },
    /// A field holds the wrong kind of JSON value.
    #[error("`{field}` in the request body should be {expected}, but it is {found}")]
    WrongType {
        /// Path of the field.
        field: String,
        /// What the field should hold.
        expected: &'static str,
        /// What it holds instead.
        found: &'static str,
    },
    /// A content part whose tokens cannot be known before sending: audio,
    /// files, documents, or a part type spendguard does not know.
    #[error(
        "`{field}` is a `{kind}` part, whose tokens cannot be counted before sending; \
         remove it, or estimate it yourself and reserve for it separately"
    )]
    UncountablePart {
        /// Path of the part.
        field: String,
        /// The part's type as the body names it (`input_audio`, `document`,
        /// a MIME type, ...).
        kind: String,
    },
}

/// Where a field sits in a request body, built on the stack as the reader
/// descends and turned into text only when there is an error to report.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldPath<'a> {
    /// A top-level field.
    Root(&'a str),
    /// A named field of an object.
    Key(&'a FieldPath<'a>, &'a str),
    /// An element of an array.
    Index(&'a FieldPath<'a>, usize),
}

impl<'a> FieldPath<'a> {
    /// The field `key` of the object at this path.
    pub(crate) fn key(&'a self, key: &'a str) -> FieldPath<'a> {
        FieldPath::Key(self, key)
    }

    /// Element `index` of the array at this path.
    pub(crate) fn index(&'a self, index: usize) -> FieldPath<'a> {
        FieldPath::Index(self, index)
    }

    /// The error for a value of the wrong kind at this path.
    pub(crate) fn wrong_type(&self, expected: &'static str, found: &Value) -> RequestShapeError {
        RequestShapeError::WrongType {
            field: self.to_string(),
            expected,
            found: json_kind(found),
        }
    }

    /// The error for a required field missing at this path.
    pub(crate) fn missing(&self) -> RequestShapeError {
        RequestShapeError::Missing {
            field: self.to_string(),
        }
    }

    /// The error for a part at this path that cannot be counted.
    pub(crate) fn uncountable(&self, kind: &str) -> RequestShapeError {
        RequestShapeError::UncountablePart {
            field: self.to_string(),
            kind: kind.to_owned(),
        }
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::Root(name) => f.write_str(name),
            FieldPath::Key(parent, key) => write!(f, "{parent}.{key}"),
            FieldPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// `value` as an object, or the error naming `path`.
pub(crate) fn expect_object<'v>(
    value: &'v Value,
    path: &FieldPath<'_>,
    expected: &'static str,
) -> Result<&'v Map<String, Value>, RequestShapeError> {
    value
        .as_object()
        .ok_or_else(|| path.wrong_type(expected, value))
}

/// `value` as an array, or the error naming `path`.
pub(crate) fn expect_array<'v>(
    value: &'v Value,
    path: &FieldPath<'_>,
    expected: &'static str,
) -> Result<&'v [Value], RequestShapeError> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| path.wrong_type(expected, value))
}

/// The string field `key` of `object`, which must be present.
pub(crate) fn required_str<'v>(
    object: &'v Map<String, Value>,
    key: &str,
    path: &FieldPath<'_>,
) -> Result<&'v str, RequestShapeError> {
    optional_str(object, key, path)?.ok_or_else(|| path.key(key).missing())
}

/// The string field `key` of `object`; absent and `null` are both `None`.
pub(crate) fn optional_str<'v>(
    object: &'v Map<String, Value>,
    key: &str,
    path: &FieldPath<'_>,
) -> Result<Option<&'v str>, RequestShapeError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(path.key(key).wrong_type("a string", other)),
    }
}

/// The first of `keys` present in `object`: the REST APIs of Gemini accept
/// both `camelCase` and `snake_case` field names.
pub(crate) fn either_key<'v, 'k>(
    object: &'v Map<String, Value>,
    keys: [&'k str; 2],
) -> Option<(&'k str, &'v Value)> {
    keys.into_iter()
        .find_map(|key| object.get(key).map(|value| (key, value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_read_like_the_body() {
        let messages = FieldPath::Root("messages");
        let message = messages.index(2);
        let content = message.key("content");
        let part = content.index(0);
        assert_eq!(part.key("text").to_string(), "messages[2].content[0].text");
    }

    #[test]
    fn readers_name_the_field() {
        let body = json!({"role": 7});
        let object = body.as_object().unwrap();
        let path = FieldPath::Root("messages");
        let message = path.index(0);
        assert_eq!(
            required_str(object, "role", &message),
            Err(RequestShapeError::WrongType {
                field: "messages[0].role".into(),
                expected: "a string",
                found: "a number",
            })
        );
        assert_eq!(
            required_str(object, "name", &message),
            Err(RequestShapeError::Missing {
                field: "messages[0].name".into()
            })
        );
        assert_eq!(optional_str(object, "name", &message), Ok(None));
    }

    #[test]
    fn messages_are_sentences() {
        let err = FieldPath::Root("messages").wrong_type("an array of messages", &json!({}));
        assert_eq!(
            err.to_string(),
            "`messages` in the request body should be an array of messages, but it is an object"
        );
        let root = FieldPath::Root("tools");
        let err = root.index(1).key("name").missing();
        assert_eq!(
            err.to_string(),
            "the request body has no `tools[1].name`; add it as the provider's API requires"
        );
    }
}
