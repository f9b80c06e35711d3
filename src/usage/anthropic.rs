//! Anthropic's usage reports, from Messages responses and Messages streams.
//!
//! Anthropic counts *exclusively*: `input_tokens` is only the input that was
//! neither read from nor written to the prompt cache, and the cache counters
//! come on top of it ("total input tokens in a request is the summation of
//! `input_tokens`, `cache_creation_input_tokens`, and
//! `cache_read_input_tokens`", [Messages API reference]). Normalising is
//! therefore mostly copying, plus splitting cache writes between the
//! five-minute and one-hour caches.
//!
//! [Messages API reference]: https://docs.anthropic.com/en/api/messages

use serde_json::Value;

use crate::usage::json::{Count, JsonObject};
use crate::usage::{ServiceTier, Usage, UsageError, UsageFormat};

const FORMAT: UsageFormat = UsageFormat::AnthropicMessages;

impl Usage {
    /// Normalises an Anthropic Messages response body (`type: "message"`),
    /// including the `message` of a Message Batches result. For a stream, use
    /// [`AnthropicStreamUsage`].
    ///
    /// Rules, after the [API reference] and the [prompt caching] guide:
    ///
    /// | Reported (in `usage`) | Normalised |
    /// |---|---|
    /// | `input_tokens` (required) | `input_tokens` |
    /// | `cache_read_input_tokens` | `cache_read_tokens` |
    /// | `cache_creation_input_tokens` | `cache_write_tokens` + `cache_write_1h_tokens` |
    /// | `cache_creation.ephemeral_5m_input_tokens` | `cache_write_tokens` |
    /// | `cache_creation.ephemeral_1h_input_tokens` | `cache_write_1h_tokens` |
    /// | `output_tokens` (required) | `output_tokens`, thinking included |
    /// | `service_tier` | `service_tier` |
    ///
    /// - The cache counters are optional: absent or `null` is zero.
    /// - When the `cache_creation` breakdown is present, its two counters are
    ///   the split of `cache_creation_input_tokens` and must add up to it
    ///   exactly; when it is absent or `null`, every cache write was to the
    ///   default five-minute cache.
    /// - Extended thinking is billed as output and is already inside
    ///   `output_tokens`; Anthropic does not report it separately, so it
    ///   stays in `output_tokens` and `reasoning_tokens` is zero ([extended
    ///   thinking]: "you're charged for the full thinking tokens").
    /// - `service_tier` is `"standard"`, `"priority"` or `"batch"`; absent or
    ///   `null` (older API versions, some clouds) is the standard tier, and
    ///   any other name is [`UsageError::UnknownServiceTier`].
    /// - Server tools (`usage.server_tool_use`) are billed per request, not
    ///   per token, and are not part of [`Usage`].
    ///
    /// [API reference]: https://docs.anthropic.com/en/api/messages
    /// [prompt caching]: https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
    /// [extended thinking]: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
    ///
    /// ```
    /// use serde_json::json;
    /// use spendguard::Usage;
    ///
    /// let body = json!({
    ///     "type": "message",
    ///     "usage": {
    ///         "input_tokens": 2048,
    ///         "cache_read_input_tokens": 1800,
    ///         "cache_creation_input_tokens": 248,
    ///         "cache_creation": { "ephemeral_5m_input_tokens": 148, "ephemeral_1h_input_tokens": 100 },
    ///         "output_tokens": 503,
    ///         "service_tier": "standard"
    ///     }
    /// });
    /// let usage = Usage::from_anthropic(&body)?;
    /// assert_eq!(usage.input_tokens, 2048);
    /// assert_eq!(usage.cache_read_tokens, 1800);
    /// assert_eq!((usage.cache_write_tokens, usage.cache_write_1h_tokens), (148, 100));
    /// assert_eq!(usage.prompt_tokens(), 2048 + 1800 + 248);
    /// # Ok::<(), spendguard::usage::UsageError>(())
    /// ```
    pub fn from_anthropic(body: &Value) -> Result<Usage, UsageError> {
        let body = JsonObject::root(FORMAT, body)?;
        read_message_usage(&body.usage("usage")?)
    }
}

/// Merges the usage a Messages stream reports across its events into the
/// call's final [`Usage`].
///
/// A stream reports usage twice: `message_start` carries the input and cache
/// counts and a first, tiny `output_tokens`; each `message_delta` carries the
/// *cumulative* `output_tokens` so far, and may repeat (cumulative) input and
/// cache counts, which some gateways only fill in there ([streaming]). So a
/// later count replaces an earlier one rather than adding to it, and a count
/// that goes down is an error ([`UsageError::CounterDecreased`]).
///
/// Feed every event's JSON (the SSE `data:` line) to
/// [`observe`](Self::observe) in order; events without usage (`ping`,
/// `content_block_delta`, `message_stop`, unknown future types) are ignored.
/// Then call [`finish`](Self::finish).
///
/// When a delta reports a new `cache_creation_input_tokens` without the
/// `cache_creation` breakdown, the one-hour writes already known are kept
/// and the rest are five-minute writes, as in a response without the
/// breakdown.
///
/// [streaming]: https://docs.anthropic.com/en/docs/build-with-claude/streaming
///
/// ```
/// use serde_json::json;
/// use spendguard::Usage;
/// use spendguard::usage::AnthropicStreamUsage;
///
/// let mut stream = AnthropicStreamUsage::new();
/// stream.observe(&json!({
///     "type": "message_start",
///     "message": { "type": "message", "usage": { "input_tokens": 25, "output_tokens": 1 } }
/// }))?;
/// stream.observe(&json!({ "type": "content_block_delta", "index": 0,
///     "delta": { "type": "text_delta", "text": "Hello" } }))?;
/// stream.observe(&json!({ "type": "message_delta",
///     "delta": { "stop_reason": "end_turn" }, "usage": { "output_tokens": 15 } }))?;
/// stream.observe(&json!({ "type": "message_stop" }))?;
/// assert_eq!(stream.finish()?, Usage::new(25, 15));
/// # Ok::<(), spendguard::usage::UsageError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnthropicStreamUsage {
    /// Known once `message_start` has been seen.
    usage: Option<Usage>,
    /// Whether a `message_delta` has brought the final output count.
    delta_seen: bool,
}

impl AnthropicStreamUsage {
    /// An accumulator that has seen no events.
    pub const fn new() -> Self {
        AnthropicStreamUsage {
            usage: None,
            delta_seen: false,
        }
    }

    /// Takes one stream event into account.
    ///
    /// An event that is rejected leaves the accumulator as it was.
    pub fn observe(&mut self, event: &Value) -> Result<(), UsageError> {
        let event = JsonObject::root(FORMAT, event)?;
        let kind = event
            .optional_str("type")?
            .ok_or_else(|| event.missing("type"))?;
        match kind {
            "message_start" => {
                if self.usage.is_some() {
                    return Err(unexpected(kind, "after the stream had already started"));
                }
                let message = event
                    .optional_object("message")?
                    .ok_or_else(|| event.missing("message"))?;
                self.usage = Some(read_message_usage(&message.usage("usage")?)?);
            }
            "message_delta" => {
                let current = self
                    .usage
                    .ok_or_else(|| unexpected(kind, "before `message_start`"))?;
                let delta = Reported::read(&event.usage("usage")?)?;
                self.usage = Some(delta.update(current)?);
                self.delta_seen = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// What the stream has reported so far, or `None` before `message_start`.
    ///
    /// Before the final `message_delta` this is a lower bound: the output
    /// count is only what had been reported when the stream stopped. A guard
    /// settling a stream that broke off should charge at least this much.
    pub const fn usage_so_far(&self) -> Option<Usage> {
        self.usage
    }

    /// The call's final usage.
    ///
    /// A stream that ended before `message_start` or before any
    /// `message_delta` (an `error` event, a dropped connection) has no final
    /// count: that is [`UsageError::MissingUsage`], and
    /// [`usage_so_far`](Self::usage_so_far) gives the lower bound.
    pub fn finish(self) -> Result<Usage, UsageError> {
        let usage = self.usage.ok_or_else(|| UsageError::MissingUsage {
            format: FORMAT,
            path: "message_start.message.usage".to_owned(),
        })?;
        if self.delta_seen {
            Ok(usage)
        } else {
            Err(UsageError::MissingUsage {
                format: FORMAT,
                path: "message_delta.usage".to_owned(),
            })
        }
    }
}

/// The usage of a whole message (a response, a batch result, or the
/// `message` of `message_start`), where input and output are required.
fn read_message_usage(usage: &JsonObject<'_>) -> Result<Usage, UsageError> {
    let reported = Reported::read(usage)?;
    let input = reported
        .input
        .as_ref()
        .ok_or_else(|| usage.missing("input_tokens"))?;
    let (cache_write_tokens, cache_write_1h_tokens) = match &reported.cache_writes {
        None => (0, 0),
        Some(writes) => writes.split(),
    };
    Ok(Usage {
        input_tokens: input.tokens,
        cache_read_tokens: reported.cache_read.map_or(0, |count| count.tokens),
        cache_write_tokens,
        cache_write_1h_tokens,
        output_tokens: reported.output.tokens,
        service_tier: reported.service_tier.unwrap_or_default(),
        ..Usage::default()
    })
}

/// One `usage` object as reported; counters a `message_delta` may leave out
/// are `None`.
struct Reported {
    input: Option<Count>,
    cache_read: Option<Count>,
    cache_writes: Option<CacheWrites>,
    output: Count,
    service_tier: Option<ServiceTier>,
}

/// Cache writes: the total, and its split when Anthropic reports one.
struct CacheWrites {
    total: Count,
    /// `(five_minute, one_hour)`, checked to add up to `total`.
    split: Option<(u64, u64)>,
}

impl CacheWrites {
    /// `(five_minute, one_hour)`: without a breakdown every write is to the
    /// default five-minute cache.
    fn split(&self) -> (u64, u64) {
        self.split.unwrap_or((self.total.tokens, 0))
    }
}

impl Reported {
    fn read(usage: &JsonObject<'_>) -> Result<Reported, UsageError> {
        let total = usage.optional_count("cache_creation_input_tokens")?;
        let split = match usage.optional_object("cache_creation")? {
            None => None,
            Some(breakdown) => {
                let five_minute = breakdown.count_or_zero("ephemeral_5m_input_tokens")?;
                let one_hour = breakdown.count_or_zero("ephemeral_1h_input_tokens")?;
                let total = match &total {
                    Some(total) => total.clone(),
                    None => usage.count_or_zero("cache_creation_input_tokens")?,
                };
                total.check_total(&[&five_minute, &one_hour], FORMAT)?;
                Some((five_minute.tokens, one_hour.tokens))
            }
        };
        Ok(Reported {
            input: usage.optional_count("input_tokens")?,
            cache_read: usage.optional_count("cache_read_input_tokens")?,
            cache_writes: total.map(|total| CacheWrites { total, split }),
            output: usage.required_count("output_tokens")?,
            service_tier: usage.service_tier("service_tier")?,
        })
    }

    /// `current` with this delta's cumulative counts in place of the earlier
    /// ones.
    fn update(self, mut current: Usage) -> Result<Usage, UsageError> {
        current.output_tokens = not_below(current.output_tokens, &self.output)?;
        if let Some(input) = &self.input {
            current.input_tokens = not_below(current.input_tokens, input)?;
        }
        if let Some(cache_read) = &self.cache_read {
            current.cache_read_tokens = not_below(current.cache_read_tokens, cache_read)?;
        }
        if let Some(writes) = &self.cache_writes {
            // The earlier split came from a total that fit in a u64.
            let before = current.cache_write_tokens + current.cache_write_1h_tokens;
            let total = not_below(before, &writes.total)?;
            let one_hour = current.cache_write_1h_tokens;
            (current.cache_write_tokens, current.cache_write_1h_tokens) =
                writes.split.unwrap_or((total - one_hour, one_hour));
        }
        if let Some(tier) = self.service_tier {
            current.service_tier = tier;
        }
        Ok(current)
    }
}

/// `later`, a cumulative count, checked not to be below `before`.
fn not_below(before: u64, later: &Count) -> Result<u64, UsageError> {
    if later.tokens < before {
        Err(UsageError::CounterDecreased {
            format: FORMAT,
            path: later.path.to_string(),
            before,
            after: later.tokens,
        })
    } else {
        Ok(later.tokens)
    }
}

fn unexpected(event: &str, problem: &'static str) -> UsageError {
    UsageError::UnexpectedEvent {
        format: FORMAT,
        event: event.to_owned(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The shape of the API reference's example, as current API versions
    /// return it.
    #[test]
    fn plain_message() {
        let body = json!({
            "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{ "type": "text", "text": "Hi! My name is Claude." }],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {
                "input_tokens": 2095,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": { "ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0 },
                "output_tokens": 503,
                "server_tool_use": null,
                "service_tier": "standard"
            }
        });
        let usage = Usage::from_anthropic(&body).unwrap();
        assert_eq!(usage, Usage::new(2095, 503));
        assert_eq!(usage.total_tokens(), 2095 + 503);
    }

    /// The prompt caching guide's mixed-TTL example.
    #[test]
    fn cache_writes_split_between_five_minutes_and_one_hour() {
        let body = json!({
            "type": "message",
            "model": "claude-opus-4-1-20250805",
            "usage": {
                "input_tokens": 2048,
                "cache_read_input_tokens": 1800,
                "cache_creation_input_tokens": 248,
                "output_tokens": 503,
                "cache_creation": { "ephemeral_1h_input_tokens": 100, "ephemeral_5m_input_tokens": 148 }
            }
        });
        let usage = Usage::from_anthropic(&body).unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 2048,
                cache_read_tokens: 1800,
                cache_write_tokens: 148,
                cache_write_1h_tokens: 100,
                output_tokens: 503,
                ..Usage::default()
            }
        );
        // Anthropic's own total input: input + cache writes + cache reads.
        assert_eq!(usage.prompt_tokens(), 2048 + 248 + 1800);
    }

    #[test]
    fn cache_writes_without_a_breakdown_are_five_minute_writes() {
        let body = json!({
            "type": "message",
            "usage": {
                "input_tokens": 21,
                "cache_creation_input_tokens": 188_086,
                "cache_read_input_tokens": 0,
                "output_tokens": 393
            }
        });
        let usage = Usage::from_anthropic(&body).unwrap();
        assert_eq!(
            (usage.cache_write_tokens, usage.cache_write_1h_tokens),
            (188_086, 0)
        );
    }

    /// Thinking is inside `output_tokens`; the thinking block's text is not
    /// counted separately.
    #[test]
    fn extended_thinking_stays_in_output_at_priority() {
        let body = json!({
            "type": "message",
            "model": "claude-sonnet-4-5-20250929",
            "content": [
                { "type": "thinking", "thinking": "Let me analyze this step by step...", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..." },
                { "type": "text", "text": "Based on my analysis..." }
            ],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": 3_012,
                "cache_creation_input_tokens": null,
                "cache_read_input_tokens": null,
                "output_tokens": 6_243,
                "service_tier": "priority"
            }
        });
        let usage = Usage::from_anthropic(&body).unwrap();
        assert_eq!(
            usage,
            Usage::new(3_012, 6_243).with_service_tier(ServiceTier::Priority)
        );
        assert_eq!(usage.reasoning_tokens, 0);
    }

    #[test]
    fn batch_results_carry_the_batch_tier() {
        let result = json!({
            "custom_id": "my-second-request",
            "result": {
                "type": "succeeded",
                "message": {
                    "id": "msg_014VwiXbi91y3JMjcpyGBHX5",
                    "type": "message",
                    "usage": { "input_tokens": 11, "output_tokens": 36, "service_tier": "batch" }
                }
            }
        });
        let usage = Usage::from_anthropic(&result["result"]["message"]).unwrap();
        assert_eq!(usage.service_tier, ServiceTier::Batch);
    }

    /// The streaming guide's basic example.
    #[test]
    fn stream_takes_the_last_cumulative_output_count() {
        let events = [
            json!({"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-1-20250805", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 15}}),
            json!({"type": "message_stop"}),
        ];
        let mut stream = AnthropicStreamUsage::new();
        for event in &events {
            stream.observe(event).unwrap();
        }
        assert_eq!(stream.finish().unwrap(), Usage::new(25, 15));
    }

    /// Server tools can send several deltas; each repeats the cumulative
    /// counts, including input and cache counts.
    #[test]
    fn stream_deltas_replace_rather_than_add() {
        let mut stream = AnthropicStreamUsage::new();
        stream
            .observe(&json!({"type": "message_start", "message": {"usage": {
                "input_tokens": 2_679, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": 3, "service_tier": "standard"}}}))
            .unwrap();
        stream
            .observe(&json!({"type": "message_delta", "delta": {"stop_reason": "pause_turn"}, "usage": {
                "input_tokens": 10_682, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                "output_tokens": 510, "server_tool_use": {"web_search_requests": 1}}}))
            .unwrap();
        stream
            .observe(&json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {
                "input_tokens": 10_682, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                "output_tokens": 689, "server_tool_use": {"web_search_requests": 1}}}))
            .unwrap();
        assert_eq!(stream.finish().unwrap(), Usage::new(10_682, 689));
    }

    #[test]
    fn stream_delta_with_more_cache_writes_keeps_the_known_one_hour_writes() {
        let mut stream = AnthropicStreamUsage::new();
        stream
            .observe(&json!({"type": "message_start", "message": {"usage": {
                "input_tokens": 10, "cache_creation_input_tokens": 300,
                "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
                "output_tokens": 1}}}))
            .unwrap();
        stream
            .observe(&json!({"type": "message_delta", "usage": {
                "cache_creation_input_tokens": 350, "output_tokens": 40}}))
            .unwrap();
        let usage = stream.finish().unwrap();
        assert_eq!(
            (usage.cache_write_tokens, usage.cache_write_1h_tokens),
            (150, 200)
        );
    }

    #[test]
    fn a_stream_that_broke_off_has_only_a_lower_bound() {
        let mut stream = AnthropicStreamUsage::new();
        stream
            .observe(&json!({"type": "message_start", "message": {"usage": {"input_tokens": 25, "output_tokens": 1}}}))
            .unwrap();
        stream
            .observe(&json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
            .unwrap();
        assert_eq!(stream.usage_so_far(), Some(Usage::new(25, 1)));
        assert_eq!(
            stream.finish(),
            Err(UsageError::MissingUsage {
                format: FORMAT,
                path: "message_delta.usage".into()
            })
        );
    }

    #[test]
    fn a_rejected_event_leaves_the_stream_as_it_was() {
        let mut stream = AnthropicStreamUsage::new();
        stream
            .observe(&json!({"type": "message_start", "message": {"usage": {"input_tokens": 25, "output_tokens": 1}}}))
            .unwrap();
        stream
            .observe(&json!({"type": "message_delta", "usage": {"output_tokens": 15}}))
            .unwrap();
        let before = stream.clone();
        let err = stream
            .observe(&json!({"type": "message_delta", "usage": {"input_tokens": 30, "output_tokens": 9}}))
            .unwrap_err();
        assert_eq!(
            err,
            UsageError::CounterDecreased {
                format: FORMAT,
                path: "usage.output_tokens".into(),
                before: 15,
                after: 9
            }
        );
        assert_eq!(stream, before);
    }
}
