//! How error messages name the kind of a JSON value they did not expect.

use serde_json::Value;

/// The kind of `value`, with its article: `"a string"`, `"an array"`, `"null"`.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_has_a_name_with_its_article() {
        assert_eq!(json_kind(&json!(null)), "null");
        assert_eq!(json_kind(&json!(true)), "a boolean");
        assert_eq!(json_kind(&json!(1)), "a number");
        assert_eq!(json_kind(&json!("x")), "a string");
        assert_eq!(json_kind(&json!([])), "an array");
        assert_eq!(json_kind(&json!({})), "an object");
    }
}
