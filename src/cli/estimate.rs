//! `spendguard estimate --model M FILE`: the input tokens of a prompt and
//! the most the call could cost, before it is sent.

use std::path::PathBuf;

use serde_json::Value;

use crate::budget::OutputCeiling;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::figures::{count, dollars};
use crate::prices::PriceTable;
use crate::tokens::{Message, TokenCounter};
use crate::usage::ServiceTier;

/// `spendguard estimate` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model the prompt is for, as you would name it in the request.
    #[arg(long, value_name = "MODEL")]
    model: String,
    /// A plain-text prompt (one user message) or a JSON request body
    /// (OpenAI Chat or Responses, Anthropic Messages, Gemini).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The output ceiling: the most output tokens the call may produce.
    /// A body asking for fewer, or a model that can write fewer, lowers it.
    #[arg(long, value_name = "N", default_value_t = OutputCeiling::DEFAULT.max_tokens())]
    max_output: u64,
    /// Count the file as a plain prompt even if it looks like JSON.
    #[arg(long)]
    text: bool,
}

/// Output-limit fields of the request shapes, wherever they live.
const OUTPUT_LIMIT_FIELDS: [&str; 3] = ["max_completion_tokens", "max_tokens", "max_output_tokens"];

pub(crate) fn run(args: Args, console: &mut Console<'_>) -> Result<(), CliError> {
    let content = std::fs::read_to_string(&args.file).map_err(|source| CliError::Read {
        path: args.file.clone(),
        source,
    })?;
    let resolved = PriceTable::bundled()
        .resolve(&args.model)
        .map_err(|error| CliError::from_price(error, 0))?;
    let price = resolved.price();
    let counter = TokenCounter::new();
    let (input, shape, asked) = if args.text || !content.trim_start().starts_with('{') {
        let count = counter.count_chat(&args.model, &[Message::user(content)], &[]);
        (count, "plain text, one user message", None)
    } else {
        let body: Value = serde_json::from_str(&content).map_err(|error| CliError::NotJson {
            path: args.file.clone(),
            line: error.line(),
            column: error.column(),
            problem: error.to_string(),
        })?;
        let shape = request_shape(&body);
        let counted = if shape == RESPONSES {
            std::borrow::Cow::Owned(crate::tokens::responses_as_chat(&body))
        } else {
            std::borrow::Cow::Borrowed(&body)
        };
        let count = counter
            .count_request(&args.model, &counted)
            .map_err(|error| CliError::RequestShape {
                path: args.file.clone(),
                error,
            })?;
        (count, shape, requested_output(&body))
    };
    let ceiling = OutputCeiling::clamping(args.max_output);
    // A clamping ceiling never refuses; `Err` would only carry the ask.
    let output = ceiling
        .apply(asked, price.max_output_tokens())
        .unwrap_or(args.max_output);
    let worst = price.worst_case(input.tokens, output, ServiceTier::Standard, None);

    let out = &mut *console.out;
    writeln!(out, "{}: {shape}", args.file.display())?;
    writeln!(out, "model:       {resolved}")?;
    writeln!(out, "input:       {input}")?;
    writeln!(
        out,
        "output:      up to {} tokens ({})",
        count(output),
        output_note(asked, price.max_output_tokens(), output, args.max_output)
    )?;
    writeln!(
        out,
        "worst case:  {} ({} exactly, standard tier, no cache)",
        dollars(worst),
        worst
    )?;
    Ok(())
}

const RESPONSES: &str = "OpenAI Responses request body";

/// Which request shape `body` is in, in words.
fn request_shape(body: &Value) -> &'static str {
    if body.get("contents").is_some() {
        "Gemini request body"
    } else if body.get("messages").is_none()
        && (body.get("input").is_some() || body.get("instructions").is_some())
    {
        RESPONSES
    } else {
        "chat request body (OpenAI or Anthropic)"
    }
}

/// The smallest output limit the body sets, in any shape.
fn requested_output(body: &Value) -> Option<u64> {
    let top = OUTPUT_LIMIT_FIELDS.iter().filter_map(|f| body.get(*f));
    let gemini = body
        .get("generationConfig")
        .and_then(|config| config.get("maxOutputTokens"));
    top.chain(gemini).filter_map(Value::as_u64).min()
}

/// What set the output allowance: the body, the model or the ceiling.
fn output_note(
    asked: Option<u64>,
    model_max: Option<u64>,
    output: u64,
    ceiling: u64,
) -> &'static str {
    if output < ceiling && asked == Some(output) {
        "the body's own limit"
    } else if output < ceiling && model_max == Some(output) {
        "the model's maximum"
    } else {
        "the --max-output ceiling"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_smallest_output_limit_in_any_shape_is_read() {
        assert_eq!(
            requested_output(&json!({"max_tokens": 900, "max_completion_tokens": 500})),
            Some(500)
        );
        assert_eq!(
            requested_output(&json!({"max_output_tokens": 64})),
            Some(64)
        );
        assert_eq!(
            requested_output(&json!({"generationConfig": {"maxOutputTokens": 256}})),
            Some(256)
        );
        assert_eq!(requested_output(&json!({"messages": []})), None);
    }

    #[test]
    fn shapes_are_told_apart_by_their_fields() {
        assert_eq!(
            request_shape(&json!({"contents": []})),
            "Gemini request body"
        );
        assert_eq!(request_shape(&json!({"input": "hi"})), RESPONSES);
        assert_eq!(
            request_shape(&json!({"model": "m"})),
            "chat request body (OpenAI or Anthropic)",
            "a body with nothing to count goes to the counter, which says so"
        );
    }
}
