//! The spend ledger: one JSON line for every decision the guard makes.
//!
//! When a bill spikes, the first questions are when, which agent, which
//! model, and what changed. Each [`LedgerRecord`] answers them for one call:
//! its time, provider, model, [`LedgerTags`] (key label, agent, task,
//! customer, project), [`LedgerTokens`], cost and how the cost is known, and
//! the [`Decision`] with its limit and reason. API keys, prompts and
//! responses never enter it.
//!
//! Records go to a [`LedgerSink`]: [`JsonlSink`] appends them to a file from
//! a background thread, [`MemorySink`] keeps them for tests. [`LedgerReader`]
//! reads a file back, and the `spendguard report` command (feature `cli`)
//! summarises one.
//!
//! ```
//! use std::time::Duration;
//! use spendguard::clock::UtcDateTime;
//! use spendguard::ledger::{Decision, LedgerRecord, LedgerSink, LedgerTags, MemorySink};
//!
//! let sink = MemorySink::new();
//! let at = UtcDateTime::from_unix(Duration::from_secs(1_795_588_219));
//! sink.record(
//!     LedgerRecord::new(at, "openai", "gpt-4o", Decision::Refused)
//!         .with_tags(LedgerTags::new().with_agent("researcher"))
//!         .with_limit("agent researcher: $5.00 per UTC day")
//!         .with_reason("the call could cost $0.04 and $0.01 is left today"),
//! );
//! assert_eq!(sink.records()[0].tags.agent.as_deref(), Some("researcher"));
//! ```

mod jsonl;
mod memory;
mod reader;
mod record;
mod sink;

pub use jsonl::JsonlSink;
pub use memory::MemorySink;
pub use reader::{LedgerReadError, LedgerReader};
pub use record::{Decision, LedgerCostSource, LedgerRecord, LedgerTags, LedgerTokens};
pub use sink::{LedgerError, LedgerSink};
