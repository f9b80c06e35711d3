//! A provider's export read into totals per UTC day and model.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cli::error::CliError;
use crate::cli::figures::date_label;
use crate::cli::report::reconcile::format::{detect, ExportFormat};
use crate::cli::report::reconcile::measured::Measured;
use crate::cli::report::reconcile::model_name::comparable;
use crate::cli::report::reconcile::{anthropic, openai};

/// Seconds in a day.
const DAY: u64 = 86_400;

/// One time bucket of an export: its rows, each with the model it names.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// Seconds since the epoch.
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) rows: Vec<(Option<String>, Measured)>,
}

/// An export, summed per UTC day and model.
#[derive(Debug)]
pub(crate) struct Export {
    pub(crate) path: PathBuf,
    pub(crate) format: ExportFormat,
    /// Days since the epoch the export has a bucket on, rows or not: a day
    /// without rows is a day the provider billed nothing.
    pub(crate) days: BTreeSet<u64>,
    /// `true` when every row names its model; otherwise days are compared
    /// as a whole.
    pub(crate) by_model: bool,
    /// Totals by (day, comparable model); the model is `None` when not
    /// compared by model.
    pub(crate) totals: BTreeMap<(u64, Option<String>), Measured>,
}

/// Reads `text`, the contents of `path`, as `format` or the export it looks
/// like.
pub(crate) fn read(
    path: &Path,
    text: &str,
    format: Option<ExportFormat>,
) -> Result<Export, CliError> {
    let format = match format {
        Some(format) => format,
        None => {
            let first = first_document(text).map_err(|error| json_error(path, "JSON", &error))?;
            detect(&first).map_err(|seen| CliError::UnknownExport {
                path: path.to_owned(),
                seen,
            })?
        }
    };
    let buckets = match format {
        ExportFormat::OpenaiCosts => openai::costs(text),
        ExportFormat::OpenaiUsage => openai::usage(text),
        ExportFormat::AnthropicCost => anthropic::cost(text),
        ExportFormat::AnthropicUsage => anthropic::usage(text),
    }
    .map_err(|error| json_error(path, format.name(), &error))?;
    if buckets.is_empty() {
        return Err(CliError::EmptyExport {
            path: path.to_owned(),
        });
    }
    sum(path, format, buckets)
}

/// Sums the buckets per day and model.
fn sum(path: &Path, format: ExportFormat, buckets: Vec<Bucket>) -> Result<Export, CliError> {
    let by_model = buckets
        .iter()
        .flat_map(|bucket| &bucket.rows)
        .all(|(model, _)| model.is_some());
    let mut days = BTreeSet::new();
    let mut totals: BTreeMap<(u64, Option<String>), Measured> = BTreeMap::new();
    for (index, bucket) in buckets.into_iter().enumerate() {
        let day = bucket.start / DAY;
        if bucket.end <= bucket.start || (bucket.end - 1) / DAY != day {
            return Err(CliError::BucketSpansDays {
                path: path.to_owned(),
                index: index + 1,
                from: moment(bucket.start),
                to: moment(bucket.end),
            });
        }
        days.insert(day);
        for (model, measured) in bucket.rows {
            let model = if by_model {
                model.as_deref().map(comparable)
            } else {
                None
            };
            totals.entry((day, model)).or_default().add(measured);
        }
    }
    Ok(Export {
        path: path.to_owned(),
        format,
        days,
        by_model,
        totals,
    })
}

/// `2026-11-24 06:00:00 UTC`.
fn moment(secs: u64) -> String {
    let in_day = secs % DAY;
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        date_label(secs / DAY),
        in_day / 3_600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// The pages of an export: one JSON document, a JSON array of them, or
/// several one after another.
pub(crate) fn pages<P: DeserializeOwned>(text: &str) -> Result<Vec<P>, serde_json::Error> {
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text);
    }
    serde_json::Deserializer::from_str(text)
        .into_iter::<P>()
        .collect()
}

fn first_document(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()
        .unwrap_or_else(|| serde_json::from_str(text))
}

fn json_error(path: &Path, format: &'static str, error: &serde_json::Error) -> CliError {
    let text = error.to_string();
    // serde_json ends its message with " at line L column C"; the error
    // names both on its own.
    let problem = match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    };
    CliError::ExportJson {
        path: path.to_owned(),
        format,
        line: error.line(),
        column: error.column(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Usd;

    fn bucket(start: u64, end: u64, rows: Vec<(Option<&str>, u64)>) -> Bucket {
        Bucket {
            start,
            end,
            rows: rows
                .into_iter()
                .map(|(m, cents)| (m.map(str::to_owned), Measured::cost(Usd::from_cents(cents))))
                .collect(),
        }
    }

    #[test]
    fn hourly_buckets_sum_into_their_day_and_snapshots_into_their_model() {
        let export = sum(
            Path::new("x.json"),
            ExportFormat::OpenaiCosts,
            vec![
                bucket(DAY, DAY + 3_600, vec![(Some("gpt-4o-2024-08-06"), 1)]),
                bucket(DAY + 3_600, DAY + 7_200, vec![(Some("gpt-4o"), 2)]),
                bucket(2 * DAY, 3 * DAY, vec![]),
            ],
        )
        .unwrap();
        assert!(export.by_model);
        assert_eq!(export.days, BTreeSet::from([1, 2]));
        assert_eq!(
            export.totals[&(1, Some("gpt-4o".into()))].cost,
            Usd::from_cents(3)
        );
    }

    #[test]
    fn a_row_without_a_model_compares_whole_days() {
        let export = sum(
            Path::new("x.json"),
            ExportFormat::OpenaiCosts,
            vec![bucket(0, DAY, vec![(Some("gpt-4o"), 1), (None, 2)])],
        )
        .unwrap();
        assert!(!export.by_model);
        assert_eq!(export.totals[&(0, None)].cost, Usd::from_cents(3));
    }

    #[test]
    fn a_bucket_across_midnight_is_refused_with_its_times() {
        let error = sum(
            Path::new("x.json"),
            ExportFormat::OpenaiCosts,
            vec![bucket(DAY / 4, DAY + DAY / 4, vec![])],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "x.json, time bucket 1 (1970-01-01 06:00:00 UTC to 1970-01-02 06:00:00 UTC): a bucket must lie within one UTC day; export with a bucket width of 1d from midnight UTC, or 1h"
        );
    }
}
