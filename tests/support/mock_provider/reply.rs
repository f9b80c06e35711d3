//! What the mock model generates for one request: the token counts every
//! provider shape reports, and the text a stream sends in pieces.

use std::time::{SystemTime, UNIX_EPOCH};

use spendguard::Usage;

use super::MockConfig;

/// The text of one visible output token, in every OpenAI encoding.
const TOKEN_TEXT: &str = " word";

/// What an answer's usage report says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Report {
    /// The true counts.
    Complete,
    /// Zero prompt tokens, the rest true.
    ZeroPrompt,
    /// No usage report at all.
    Omitted,
}

/// A piece of the visible reply, as one stream chunk sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Piece {
    pub(super) text: String,
    pub(super) tokens: u64,
}

/// One generated answer.
#[derive(Debug, Clone)]
pub(super) struct Reply {
    /// The request's number at the mock, from 1; ids are built from it.
    pub(super) number: usize,
    /// The model that answered.
    pub(super) model: String,
    /// Unix seconds when the answer was generated.
    pub(super) created: u64,
    /// Everything the model read, cached tokens included.
    pub(super) prompt_tokens: u64,
    /// The part of the prompt read from the prompt cache.
    pub(super) cached_tokens: u64,
    pub(super) reasoning_tokens: u64,
    /// The visible reply, in the chunks a stream sends.
    pub(super) pieces: Vec<Piece>,
    /// Whether the request's output cap stopped the answer short.
    pub(super) capped: bool,
    /// How many answers were generated, each the same.
    pub(super) choices: u64,
    pub(super) report: Report,
    /// The tool the answer calls instead of replying in text, if any.
    pub(super) tool_call: Option<ToolCall>,
}

/// A tool call an answer makes: the tool's name and its JSON arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ToolCall {
    pub(super) name: String,
    pub(super) arguments: serde_json::Value,
}

impl Reply {
    /// Generates the answer to a request of `prompt_tokens` whose output is
    /// capped at `max_output_tokens`, if anything.
    pub(super) fn generate(
        config: &MockConfig,
        number: usize,
        model: String,
        prompt_tokens: u64,
        max_output_tokens: Option<u64>,
        report: Report,
    ) -> Self {
        let cap = max_output_tokens.unwrap_or(u64::MAX);
        let reasoning_tokens = config.reasoning_tokens.min(cap);
        let visible_tokens = config.reply_tokens.min(cap - reasoning_tokens);
        let wanted = config.reasoning_tokens.saturating_add(config.reply_tokens);
        Reply {
            number,
            model,
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
            prompt_tokens,
            cached_tokens: prompt_tokens * u64::from(config.cached_percent.min(100)) / 100,
            reasoning_tokens,
            pieces: split(visible_tokens, config.stream_chunks),
            capped: wanted > cap,
            report,
            choices: 1,
            tool_call: None,
        }
    }

    /// The reply, generated `choices` times over.
    pub(super) fn times(mut self, choices: u64) -> Self {
        self.choices = choices.max(1);
        self
    }

    /// The visible output tokens of every answer together.
    pub(super) fn all_output_tokens(&self) -> u64 {
        self.output_tokens() * self.choices
    }

    /// The same answer, calling `tool_call` instead of replying in text.
    pub(super) fn calling(mut self, tool_call: Option<ToolCall>) -> Self {
        self.tool_call = tool_call;
        self
    }

    /// The id of the answer's tool call, unique to the request.
    pub(super) fn tool_call_id(&self) -> String {
        format!("call_mock{}", self.number)
    }

    /// The visible output tokens of one answer.
    pub(super) fn output_tokens(&self) -> u64 {
        self.pieces.iter().map(|piece| piece.tokens).sum()
    }

    /// The whole visible reply.
    pub(super) fn text(&self) -> String {
        self.pieces
            .iter()
            .map(|piece| piece.text.as_str())
            .collect()
    }

    /// The prompt tokens the usage report gives.
    pub(super) fn reported_prompt_tokens(&self) -> u64 {
        match self.report {
            Report::ZeroPrompt => 0,
            Report::Complete | Report::Omitted => self.prompt_tokens,
        }
    }

    /// The cached prompt tokens the usage report gives.
    pub(super) fn reported_cached_tokens(&self) -> u64 {
        match self.report {
            Report::ZeroPrompt => 0,
            Report::Complete | Report::Omitted => self.cached_tokens,
        }
    }

    /// What the answer truly used with `visible_tokens` of its reply sent,
    /// in spendguard's buckets. `reasoning_in_output` is for Anthropic,
    /// which bills thinking as output and never reports it apart.
    pub(super) fn usage(&self, visible_tokens: u64, reasoning_in_output: bool) -> Usage {
        let (output_tokens, reasoning_tokens) = if reasoning_in_output {
            (visible_tokens + self.reasoning_tokens, 0)
        } else {
            (visible_tokens, self.reasoning_tokens)
        };
        Usage {
            input_tokens: self.prompt_tokens - self.cached_tokens,
            cache_read_tokens: self.cached_tokens,
            output_tokens,
            reasoning_tokens,
            ..Usage::default()
        }
    }
}

/// `tokens` tokens of text in at most `chunks` pieces, as even as they
/// can be, none empty.
fn split(tokens: u64, chunks: usize) -> Vec<Piece> {
    let chunks = u64::try_from(chunks.max(1)).unwrap_or(u64::MAX).min(tokens);
    (0..chunks)
        .map(|index| {
            let tokens = tokens / chunks + u64::from(index < tokens % chunks);
            Piece {
                text: TOKEN_TEXT.repeat(usize::try_from(tokens).unwrap_or(usize::MAX)),
                tokens,
            }
        })
        .collect()
}
