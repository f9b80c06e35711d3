//! Why a price could not be found or a price file could not be read.

use std::fmt;

/// Everything that can go wrong loading prices or looking one up.
///
/// Each variant carries what a person needs to fix the problem: the model
/// name, the field, the value as written, the line of a broken file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PriceError {
    /// No listed id matched the name, and the table has no fallback price.
    ///
    /// spendguard never prices an unknown model at $0: add a price with
    /// [`PriceTable::insert`](crate::PriceTable::insert), map the name with
    /// [`PriceTable::alias`](crate::PriceTable::alias), or opt in to
    /// [`PriceTable::with_fallback`](crate::PriceTable::with_fallback).
    #[error(
        "no price for model \"{model}\"{}; add one with PriceTable::insert or map the name with PriceTable::alias",
        Suggestions(suggestions)
    )]
    UnknownModel {
        /// The name as it was asked for.
        model: String,
        /// Up to three listed ids that look close, best first.
        suggestions: Vec<String>,
    },
    /// The text is not valid JSON, or not shaped like a price file.
    #[error("{file} is not valid at line {line}, column {column}: {message}")]
    MalformedJson {
        /// Which file it was ("price file", "overrides file").
        file: &'static str,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// One model's entry is not an object of fields.
    #[error("model \"{model}\": {reason}")]
    InvalidEntry {
        /// The model id the entry is listed under.
        model: String,
        /// What is wrong with it.
        reason: String,
    },
    /// One field of one model has a value spendguard cannot use.
    #[error("model \"{model}\": field \"{field}\" {reason}, got {value}")]
    InvalidField {
        /// The model id the entry is listed under.
        model: String,
        /// The field name, as written in the file.
        field: String,
        /// The value, as JSON.
        value: String,
        /// What the value must be.
        reason: String,
    },
    /// An entry of the overrides file cannot be applied.
    #[error("override #{entry} ({models}) is invalid: {reason}")]
    InvalidOverride {
        /// 1-based position of the entry in the overrides file.
        entry: usize,
        /// The model ids the entry names, comma-separated.
        models: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An entry of the overrides file's `additions` cannot be applied.
    #[error("addition #{entry} ({model}) is invalid: {reason}")]
    InvalidAddition {
        /// 1-based position of the entry in `additions`.
        entry: usize,
        /// The model id it adds.
        model: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Formats suggestions as ` (close listed ids: "a", "b")`, or nothing.
struct Suggestions<'a>(&'a [String]);

impl fmt::Display for Suggestions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((first, rest)) = self.0.split_first() else {
            return Ok(());
        };
        write!(f, " (close listed ids: \"{first}\"")?;
        for suggestion in rest {
            write!(f, ", \"{suggestion}\"")?;
        }
        f.write_str(")")
    }
}

impl PriceError {
    /// A JSON syntax or shape error from `serde_json`, located in `file`.
    pub(crate) fn malformed(file: &'static str, error: &serde_json::Error) -> Self {
        PriceError::MalformedJson {
            file,
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_model_names_the_suggestions() {
        let error = PriceError::UnknownModel {
            model: "gpt-4p".into(),
            suggestions: vec!["gpt-4o".into(), "gpt-4".into()],
        };
        assert_eq!(
            error.to_string(),
            "no price for model \"gpt-4p\" (close listed ids: \"gpt-4o\", \"gpt-4\"); \
             add one with PriceTable::insert or map the name with PriceTable::alias"
        );
    }

    #[test]
    fn unknown_model_without_suggestions_reads_as_one_sentence() {
        let error = PriceError::UnknownModel {
            model: "zzz".into(),
            suggestions: vec![],
        };
        assert_eq!(
            error.to_string(),
            "no price for model \"zzz\"; add one with PriceTable::insert or map the name with PriceTable::alias"
        );
    }

    #[test]
    fn invalid_field_reads_like_the_brief() {
        let error = PriceError::InvalidField {
            model: "gpt-4o".into(),
            field: "input_cost_per_token".into(),
            value: "\"abc\"".into(),
            reason: "must be a non-negative number".into(),
        };
        assert_eq!(
            error.to_string(),
            "model \"gpt-4o\": field \"input_cost_per_token\" must be a non-negative number, got \"abc\""
        );
    }
}
