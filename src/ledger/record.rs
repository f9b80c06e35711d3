//! One ledger line: what the guard decided about one call, and what it cost.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::UtcDateTime;
use crate::money::Usd;
use crate::tags::{TagKind, Tags};
use crate::usage::Usage;

/// Everything the ledger keeps about one decision of the guard.
///
/// Serialized as one JSON object per line:
///
/// ```json
/// {"ts":"2026-11-25T06:30:19.123Z","provider":"openai","model":"gpt-4o-mini",
///  "tags":{"key":"prod-1","agent":"researcher","task":"t-42","customer":"acme"},
///  "tokens":{"input":1200,"cached":800,"cache_write":0,"output":150,"reasoning":0},
///  "cost_nanos":123456,"cost_source":"reported","decision":"allowed",
///  "limit":null,"reason":null,"request_hash":null}
/// ```
///
/// API keys, prompts and responses have no field here: a key is named by
/// its label ([`LedgerTags::key`]), and a request at most by an opaque
/// [`request_hash`](LedgerRecord::request_hash) the caller opted in to.
/// Reading ignores fields it does not know, so a ledger written by a newer
/// version stays readable; fields added later (`provider_cost_nanos`,
/// `table_cost_nanos`, `price_drift`, `unpriced_tier`, `overran_nanos`) are written only when
/// set and read as absent from older lines.
///
/// ```
/// use std::time::Duration;
/// use spendguard::clock::UtcDateTime;
/// use spendguard::ledger::{Decision, LedgerCostSource, LedgerRecord, LedgerTags, LedgerTokens};
/// use spendguard::Usd;
///
/// let at = UtcDateTime::from_unix(Duration::from_millis(1_795_588_219_123));
/// let record = LedgerRecord::new(at, "openai", "gpt-4o-mini", Decision::Allowed)
///     .with_tags(LedgerTags::new().with_agent("researcher").with_key("prod-1"))
///     .with_tokens(LedgerTokens { input: 1_200, output: 150, ..LedgerTokens::default() })
///     .with_cost(Usd::from_nanos(123_456), LedgerCostSource::Reported);
/// let line = serde_json::to_string(&record)?;
/// assert!(line.starts_with(r#"{"ts":"2026-11-25T06:30:19.123Z","provider":"openai""#));
/// assert_eq!(serde_json::from_str::<LedgerRecord>(&line)?, record);
///
/// let refused = LedgerRecord::new(at, "openai", "gpt-4o", Decision::Refused)
///     .with_limit("agent researcher: $5.00 per UTC day")
///     .with_reason("the call could cost $0.04 and only $0.01 is left today");
/// assert_eq!(refused.cost_source, LedgerCostSource::None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LedgerRecord {
    /// When the guard decided, in UTC (written with milliseconds).
    #[serde(serialize_with = "write_ts", deserialize_with = "read_ts")]
    pub ts: UtcDateTime,
    /// The provider called, as the guard names it (`openai`, `anthropic`...).
    pub provider: String,
    /// The model, as the request named it.
    pub model: String,
    /// Who made the call; absent tags are left out of the line.
    #[serde(default, skip_serializing_if = "LedgerTags::is_empty")]
    pub tags: LedgerTags,
    /// What the call consumed; left out when all zero (a refusal).
    #[serde(default, skip_serializing_if = "LedgerTokens::is_zero")]
    pub tokens: LedgerTokens,
    /// What the call cost, in nano-dollars.
    #[serde(rename = "cost_nanos")]
    pub cost: Usd,
    /// How the cost is known.
    pub cost_source: LedgerCostSource,
    /// Why the cost is an estimate, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_reason: Option<String>,
    /// What the guard decided.
    pub decision: Decision,
    /// The limit that refused the call or caught the runaway, in words
    /// (`agent researcher: $5.00 per UTC day`).
    #[serde(default)]
    pub limit: Option<String>,
    /// Why, as a sentence: the error's `Display`, for anything but
    /// [`Decision::Allowed`].
    #[serde(default)]
    pub reason: Option<String>,
    /// An opaque hash of the request body, only if the caller opted in;
    /// never the request itself.
    #[serde(default)]
    pub request_hash: Option<String>,
    /// What the provider says it charged, when its response said (xAI,
    /// OpenRouter, Perplexity); `cost` is never below it.
    #[serde(
        default,
        rename = "provider_cost_nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_cost: Option<Usd>,
    /// What the price table says the call cost, written beside
    /// `provider_cost`.
    #[serde(
        default,
        rename = "table_cost_nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub table_cost: Option<Usd>,
    /// `true` when the two differ by more than the client's drift
    /// tolerance: the table's price for the model is probably out of date.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub price_drift: bool,
    /// The service tier the provider named when the price table cannot
    /// price it; the call was billed at the dearest price the model has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpriced_tier: Option<String>,
    /// The price table that priced the call
    /// ([`PriceTableVersion`](crate::prices::PriceTableVersion)'s label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_table: Option<String>,
    /// How far the call's bill passed what was reserved for it, when it
    /// did ([`Overrun`](crate::budget::Overrun)): the provider counted more
    /// input than estimated, or wrote past the output limit it was sent.
    #[serde(
        default,
        rename = "overran_nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub overran: Option<Usd>,
}

impl LedgerRecord {
    /// A record of `decision` about a call to `model` at `provider`, with no
    /// tags, tokens or cost yet.
    pub fn new(
        ts: UtcDateTime,
        provider: impl Into<String>,
        model: impl Into<String>,
        decision: Decision,
    ) -> Self {
        LedgerRecord {
            ts,
            provider: provider.into(),
            model: model.into(),
            tags: LedgerTags::default(),
            tokens: LedgerTokens::default(),
            cost: Usd::ZERO,
            cost_source: LedgerCostSource::None,
            estimate_reason: None,
            decision,
            limit: None,
            reason: None,
            request_hash: None,
            provider_cost: None,
            table_cost: None,
            price_drift: false,
            unpriced_tier: None,
            price_table: None,
            overran: None,
        }
    }

    /// The same record, made by the caller `tags` name.
    pub fn with_tags(mut self, tags: LedgerTags) -> Self {
        self.tags = tags;
        self
    }

    /// The same record, with the tokens the call consumed.
    pub fn with_tokens(mut self, tokens: LedgerTokens) -> Self {
        self.tokens = tokens;
        self
    }

    /// The same record, with its cost and how that cost is known.
    pub fn with_cost(mut self, cost: Usd, source: LedgerCostSource) -> Self {
        self.cost = cost;
        self.cost_source = source;
        self
    }

    /// The same record, with a cost the guard estimated, and why it had to.
    pub fn with_estimated_cost(mut self, cost: Usd, reason: impl Into<String>) -> Self {
        self.cost = cost;
        self.cost_source = LedgerCostSource::Estimated;
        self.estimate_reason = Some(reason.into());
        self
    }

    /// The same record, naming the limit that refused the call.
    pub fn with_limit(mut self, limit: impl Into<String>) -> Self {
        self.limit = Some(limit.into());
        self
    }

    /// The same record, with the sentence that explains the decision.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The same record, with what the provider said it charged beside the
    /// price table's cost, and whether they drift apart.
    pub fn with_provider_cost(mut self, provider: Usd, table: Usd, drift: bool) -> Self {
        self.provider_cost = Some(provider);
        self.table_cost = Some(table);
        self.price_drift = drift;
        self
    }

    /// The same record, marking a bill `by` more than its reservation.
    pub fn with_overrun(mut self, by: Usd) -> Self {
        self.overran = Some(by);
        self
    }

    /// The same record, naming the price table that priced the call.
    pub fn with_price_table(mut self, label: impl Into<String>) -> Self {
        self.price_table = Some(label.into());
        self
    }

    /// The same record, naming a service tier the price table cannot price.
    pub fn with_unpriced_tier(mut self, tier: impl Into<String>) -> Self {
        self.unpriced_tier = Some(tier.into());
        self
    }

    /// The same record, with an opaque hash of the request.
    pub fn with_request_hash(mut self, hash: impl Into<String>) -> Self {
        self.request_hash = Some(hash.into());
        self
    }
}

/// Who made a call: every tag is optional, and absent ones are not written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LedgerTags {
    /// The API key's label (`prod-1`), never the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The agent that made the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The task it was working on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The customer the work was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// The project it is billed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The release (deploy) of the code that made the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

impl LedgerTags {
    /// No tags.
    pub fn new() -> Self {
        LedgerTags::default()
    }

    /// The same tags, with the API key's label.
    pub fn with_key(mut self, label: impl Into<String>) -> Self {
        self.key = Some(label.into());
        self
    }

    /// The same tags, with the agent.
    pub fn with_agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// The same tags, with the task.
    pub fn with_task(mut self, task: impl Into<String>) -> Self {
        self.task = Some(task.into());
        self
    }

    /// The same tags, with the customer.
    pub fn with_customer(mut self, customer: impl Into<String>) -> Self {
        self.customer = Some(customer.into());
        self
    }

    /// The same tags, with the project.
    pub fn with_project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// The same tags, with the release.
    pub fn with_release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// `true` when no tag is set.
    pub fn is_empty(&self) -> bool {
        *self == LedgerTags::default()
    }
}

impl From<&Tags> for LedgerTags {
    /// The guard's tags of a call, as the ledger writes them.
    fn from(tags: &Tags) -> Self {
        let tag = |kind| tags.get(kind).map(str::to_owned);
        LedgerTags {
            key: tag(TagKind::Key),
            agent: tag(TagKind::Agent),
            task: tag(TagKind::Task),
            customer: tag(TagKind::Customer),
            project: tag(TagKind::Project),
            release: tag(TagKind::Release),
        }
    }
}

/// The tokens of one call, in the buckets a bill shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct LedgerTokens {
    /// Input at the ordinary input rate (audio input included).
    pub input: u64,
    /// Input read from a prompt cache.
    pub cached: u64,
    /// Input written to a prompt cache, of any lifetime.
    pub cache_write: u64,
    /// Visible output (audio output included), reasoning excluded.
    pub output: u64,
    /// Hidden reasoning output.
    pub reasoning: u64,
}

impl LedgerTokens {
    /// `true` when every bucket is zero.
    pub fn is_zero(&self) -> bool {
        *self == LedgerTokens::default()
    }

    /// Every token of the call.
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.cached)
            .saturating_add(self.cache_write)
            .saturating_add(self.output)
            .saturating_add(self.reasoning)
    }
}

impl From<&Usage> for LedgerTokens {
    /// Folds [`Usage`]'s finer buckets into the ledger's: audio into input
    /// and output, both cache-write lifetimes into `cache_write`.
    fn from(usage: &Usage) -> Self {
        LedgerTokens {
            input: usage.input_tokens.saturating_add(usage.input_audio_tokens),
            cached: usage.cache_read_tokens,
            cache_write: usage
                .cache_write_tokens
                .saturating_add(usage.cache_write_1h_tokens),
            output: usage
                .output_tokens
                .saturating_add(usage.output_audio_tokens),
            reasoning: usage.reasoning_tokens,
        }
    }
}

/// How a ledger record's cost is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LedgerCostSource {
    /// Priced from the usage the provider reported.
    Reported,
    /// Priced from the guard's own estimate (see
    /// [`LedgerRecord::estimate_reason`]).
    Estimated,
    /// Nothing was billed: the call was never sent.
    #[default]
    None,
}

/// What the guard decided about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Decision {
    /// The call was sent and completed.
    Allowed,
    /// The call was refused before it was sent, by [`LedgerRecord::limit`].
    Refused,
    /// A stream was cut off mid-way because it reached its reservation.
    CutOff,
    /// The call was stopped by a kill switch.
    Killed,
    /// A runaway loop was detected and the call stopped.
    Runaway,
    /// The call failed at the provider or on the way; it may still have
    /// been billed (an interrupted stream).
    Failed,
}

impl Decision {
    /// Every decision, in the order reports list them.
    pub const ALL: [Decision; 6] = [
        Decision::Allowed,
        Decision::Refused,
        Decision::CutOff,
        Decision::Killed,
        Decision::Runaway,
        Decision::Failed,
    ];

    /// The name written in the ledger: `allowed`, `refused`, `cut_off`...
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Refused => "refused",
            Decision::CutOff => "cut_off",
            Decision::Killed => "killed",
            Decision::Runaway => "runaway",
            Decision::Failed => "failed",
        }
    }
}

impl fmt::Display for Decision {
    /// In words: `allowed`, `refused`, `cut off`...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::CutOff => "cut off",
            other => other.as_str(),
        })
    }
}

fn write_ts<S: Serializer>(ts: &UtcDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(ts)
}

/// The earliest year a ledger time may have: the clock counts from 1970.
const FIRST_YEAR: u32 = 1970;

fn read_ts<'de, D: Deserializer<'de>>(deserializer: D) -> Result<UtcDateTime, D::Error> {
    use serde::de::Error;
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    let ts = UtcDateTime::parse(&text).map_err(D::Error::custom)?;
    if ts.year < FIRST_YEAR {
        return Err(D::Error::custom(format!(
            "`{text}` is before 1970, which no guard wrote"
        )));
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at() -> UtcDateTime {
        UtcDateTime::from_unix(Duration::from_millis(1_795_588_219_123))
    }

    #[test]
    fn the_documented_line_reads_back_field_for_field() {
        let line = r#"{"ts":"2026-11-25T06:30:19.123Z","provider":"openai","model":"gpt-4o-mini","tags":{"key":"prod-1","agent":"researcher","task":"t-42","customer":"acme","project":"p"},"tokens":{"input":1200,"cached":800,"cache_write":0,"output":150,"reasoning":0},"cost_nanos":123456,"cost_source":"reported","decision":"allowed","limit":null,"reason":null,"request_hash":null}"#;
        let record: LedgerRecord = serde_json::from_str(line).unwrap();
        let expected = LedgerRecord::new(at(), "openai", "gpt-4o-mini", Decision::Allowed)
            .with_tags(
                LedgerTags::new()
                    .with_key("prod-1")
                    .with_agent("researcher")
                    .with_task("t-42")
                    .with_customer("acme")
                    .with_project("p"),
            )
            .with_tokens(LedgerTokens {
                input: 1_200,
                cached: 800,
                output: 150,
                ..LedgerTokens::default()
            })
            .with_cost(Usd::from_nanos(123_456), LedgerCostSource::Reported);
        assert_eq!(record, expected);
        assert_eq!(serde_json::to_string(&record).unwrap(), line);
    }

    #[test]
    fn provider_cost_drift_and_unpriced_tier_round_trip() {
        let record = LedgerRecord::new(at(), "xai", "xai/grok-4.3", Decision::Allowed)
            .with_cost(Usd::from_nanos(23_200_000), LedgerCostSource::Reported)
            .with_provider_cost(
                Usd::from_nanos(23_200_000),
                Usd::from_nanos(11_600_000),
                true,
            )
            .with_unpriced_tier("scale");
        let line = serde_json::to_string(&record).unwrap();
        assert!(
            line.ends_with(r#""request_hash":null,"provider_cost_nanos":23200000,"table_cost_nanos":11600000,"price_drift":true,"unpriced_tier":"scale"}"#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<LedgerRecord>(&line).unwrap(), record);
    }

    /// A line written before provider costs were recorded reads with none.
    #[test]
    fn an_older_line_reads_without_the_newer_fields() {
        let line = r#"{"ts":"2026-11-25T06:30:19.123Z","provider":"openai","model":"gpt-4o","cost_nanos":10,"cost_source":"reported","decision":"allowed"}"#;
        let record: LedgerRecord = serde_json::from_str(line).unwrap();
        assert_eq!(
            (
                record.provider_cost,
                record.table_cost,
                record.price_drift,
                record.unpriced_tier.clone(),
                record.overran
            ),
            (None, None, false, None, None)
        );
        assert!(!serde_json::to_string(&record)
            .unwrap()
            .contains("provider_cost"));
    }

    #[test]
    fn an_overrun_is_written_in_nanos_and_reads_back() {
        let record = LedgerRecord::new(at(), "anthropic", "claude-sonnet-4-5", Decision::Allowed)
            .with_cost(Usd::from_nanos(12_000), LedgerCostSource::Reported)
            .with_overrun(Usd::from_nanos(2_000));
        let line = serde_json::to_string(&record).unwrap();
        assert!(line.ends_with(r#""overran_nanos":2000}"#), "{line}");
        assert_eq!(serde_json::from_str::<LedgerRecord>(&line).unwrap(), record);
    }

    #[test]
    fn a_refusal_leaves_out_tags_and_tokens_it_does_not_have() {
        let record = LedgerRecord::new(at(), "anthropic", "claude-sonnet-4-5", Decision::Refused)
            .with_limit("agent a: $5.00 per UTC day")
            .with_reason("over budget");
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            r#"{"ts":"2026-11-25T06:30:19.123Z","provider":"anthropic","model":"claude-sonnet-4-5","cost_nanos":0,"cost_source":"none","decision":"refused","limit":"agent a: $5.00 per UTC day","reason":"over budget","request_hash":null}"#
        );
    }

    #[test]
    fn an_estimate_carries_its_reason() {
        let record = LedgerRecord::new(at(), "openai", "gpt-4o", Decision::CutOff)
            .with_estimated_cost(Usd::from_nanos(9), "the stream ended without usage");
        let line = serde_json::to_string(&record).unwrap();
        assert!(line.contains(
            r#""cost_source":"estimated","estimate_reason":"the stream ended without usage","decision":"cut_off""#
        ));
        assert_eq!(serde_json::from_str::<LedgerRecord>(&line).unwrap(), record);
    }

    #[test]
    fn unknown_fields_are_ignored_and_wrong_types_refused() {
        let newer = r#"{"ts":"2026-11-25T06:30:19.123Z","provider":"openai","model":"m","cost_nanos":5,"cost_source":"reported","decision":"allowed","region":"eu","tokens":{"input":1,"audio_seconds":3}}"#;
        let record: LedgerRecord = serde_json::from_str(newer).unwrap();
        assert_eq!(record.cost, Usd::from_nanos(5));
        assert_eq!(record.tokens.input, 1);

        for (from, to, complaint) in [
            (
                r#""cost_nanos":5"#,
                r#""cost_nanos":"5""#,
                "invalid type: string",
            ),
            (r#""cost_nanos":5"#, r#""cost_nanos":-5"#, "invalid value"),
            (r#""allowed""#, r#""maybe""#, "unknown variant `maybe`"),
        ] {
            let line = newer.replace(from, to);
            let error = serde_json::from_str::<LedgerRecord>(&line).unwrap_err();
            assert!(error.to_string().contains(complaint), "{error}");
        }
    }

    #[test]
    fn times_must_be_utc_and_after_1970() {
        let line = |ts: &str| {
            format!(
                r#"{{"ts":"{ts}","provider":"p","model":"m","cost_nanos":0,"cost_source":"none","decision":"refused"}}"#
            )
        };
        assert!(serde_json::from_str::<LedgerRecord>(&line("2026-11-25T06:30:19Z")).is_ok());
        let local = serde_json::from_str::<LedgerRecord>(&line("2026-11-25T06:30:19+01:00"));
        assert!(local.unwrap_err().to_string().contains("only UTC"));
        let ancient = serde_json::from_str::<LedgerRecord>(&line("0001-01-01T00:00:00Z"));
        assert!(ancient.unwrap_err().to_string().contains("before 1970"));
    }

    #[test]
    fn the_guards_tags_carry_over() {
        let tags = Tags::new()
            .key("prod-1")
            .agent("researcher")
            .customer("acme");
        assert_eq!(
            LedgerTags::from(&tags),
            LedgerTags::new()
                .with_key("prod-1")
                .with_agent("researcher")
                .with_customer("acme")
        );
        assert!(LedgerTags::from(&Tags::new()).is_empty());
    }

    #[test]
    fn usage_folds_into_the_ledger_buckets() {
        let usage = Usage {
            input_tokens: 10,
            input_audio_tokens: 1,
            cache_read_tokens: 20,
            cache_write_tokens: 30,
            cache_write_1h_tokens: 3,
            output_tokens: 40,
            output_audio_tokens: 4,
            reasoning_tokens: 50,
            ..Usage::default()
        };
        let tokens = LedgerTokens::from(&usage);
        assert_eq!(
            tokens,
            LedgerTokens {
                input: 11,
                cached: 20,
                cache_write: 33,
                output: 44,
                reasoning: 50
            }
        );
        assert_eq!(tokens.total(), usage.total_tokens());
    }

    #[test]
    fn decisions_are_written_in_snake_case_and_said_in_words() {
        for decision in Decision::ALL {
            let written = serde_json::to_string(&decision).unwrap();
            assert_eq!(written, format!("\"{}\"", decision.as_str()));
        }
        assert_eq!(Decision::CutOff.to_string(), "cut off");
    }
}
