//! `spendguard report LEDGER…`: totals by model, agent, key and customer;
//! spend per hour as a chart; spikes, recurring patterns, refusals and
//! cut-offs. Records stream through running totals, so memory stays flat
//! however long the ledger. `--reconcile FILE` compares the ledger with a
//! provider's own export instead ([`reconcile`]).

pub(crate) mod aggregate;
pub(crate) mod breakdown;
mod chart;
mod deploys;
mod drift;
mod growth;
mod json;
pub(crate) mod merge;
pub(crate) mod patterns;
pub(crate) mod reconcile;
mod rollup;
mod svg;
mod text;

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::figures::{count, date_label, dollars, period};
use crate::cli::progress::Progress;
use crate::clock::UtcDateTime;
use crate::ledger::LedgerRecord;
use crate::money::Usd;

use aggregate::Aggregate;
use deploys::Deploy;
use growth::Climb;
use merge::{LedgerMerge, Skipped};
use patterns::{Pattern, Spike};
use rollup::Period;

/// Records between progress redraw checks.
const PROGRESS_EVERY: u64 = 16_384;

/// `spendguard report` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Ledger files (JSON lines), read together in time order.
    #[arg(required = true, value_name = "LEDGER")]
    ledgers: Vec<PathBuf>,
    /// Only records at or after this UTC time (2026-11-25T06:00:00Z, or a
    /// date: 2026-11-25).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<Duration>,
    /// Only records before this UTC time.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<Duration>,
    /// Only this agent's records; repeat for several agents.
    #[arg(long, value_name = "NAME")]
    agent: Vec<String>,
    /// Also write the hourly chart as an SVG image to FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Print the report as JSON (exact nano-dollar amounts) for scripts.
    #[arg(long)]
    json: bool,
    /// Also sum spend per UTC day or per ISO week.
    #[arg(long, value_enum, value_name = "PERIOD")]
    by: Option<Period>,
    /// Deploy markers from FILE, one per line: `2026-11-25T06:10:00Z v1.4.2`.
    /// Calls tagged with a `release` are markers too, at their first call.
    #[arg(long, value_name = "FILE")]
    deploys: Option<PathBuf>,
    /// A deploy marker, as TIME=LABEL (2026-11-25T06:10:00Z=v1.4.2);
    /// repeat for several.
    #[arg(long, value_name = "TIME=LABEL", value_parser = deploys::parse_mark)]
    mark: Vec<Deploy>,
    #[command(flatten)]
    reconcile: reconcile::ReconcileArgs,
}

/// Reads a `--since`, `--until` or deploy time.
fn parse_time(text: &str) -> Result<Duration, String> {
    let at = UtcDateTime::parse(text).map_err(|error| error.to_string())?;
    if at.year < 1970 {
        return Err(format!("`{text}` is before 1970, when ledgers begin"));
    }
    Ok(at.unix())
}

/// Everything the report found, ready to print.
pub(crate) struct Report {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) aggregate: Aggregate,
    pub(crate) findings: Findings,
    pub(crate) skipped: Skipped,
    /// `true` when filters may have left records out.
    pub(crate) filtered: bool,
    /// The `--by` rollup asked for.
    pub(crate) by: Option<Period>,
}

/// What stands out.
pub(crate) struct Findings {
    pub(crate) median_hour: Usd,
    pub(crate) spikes: Vec<Spike>,
    pub(crate) patterns: Vec<Pattern>,
    /// Deploy markers in time order: the given ones and each release's
    /// first call.
    pub(crate) deploys: Vec<Deploy>,
    /// Agents whose prompts grow call by call, the steepest first.
    pub(crate) climbs: Vec<Climb>,
}

impl Findings {
    /// The deploy a spike follows, if any came before it.
    pub(crate) fn deploy_before(&self, spike: &Spike) -> Option<&Deploy> {
        deploys::last_before_hour_end(&self.deploys, spike.hour)
    }
}

/// Which records count.
pub(crate) struct Filter {
    pub(crate) since: Option<Duration>,
    pub(crate) until: Option<Duration>,
    agents: Vec<String>,
}

impl Filter {
    /// `true` when `record` is inside the window and of an agent asked for.
    pub(crate) fn keeps(&self, record: &LedgerRecord) -> bool {
        let at = record.ts.unix();
        self.since.is_none_or(|since| at >= since)
            && self.until.is_none_or(|until| at < until)
            && (self.agents.is_empty()
                || record
                    .tags
                    .agent
                    .as_ref()
                    .is_some_and(|agent| self.agents.contains(agent)))
    }

    fn is_active(&self) -> bool {
        self.since.is_some() || self.until.is_some() || !self.agents.is_empty()
    }
}

pub(crate) fn run(args: Args, console: &mut Console<'_>) -> Result<(), CliError> {
    if let (Some(since), Some(until)) = (args.since, args.until) {
        if since >= until {
            return Err(CliError::Usage(
                "--since must be earlier than --until; swap them or widen the window".into(),
            ));
        }
    }
    let filter = Filter {
        since: args.since,
        until: args.until,
        agents: args.agent,
    };
    if let Some(export) = args.reconcile.reconcile.clone() {
        return reconcile::run(
            args.reconcile,
            export,
            args.ledgers,
            &filter,
            args.json,
            console,
        );
    }
    let mut marks = args.mark;
    if let Some(path) = &args.deploys {
        marks.extend(deploys::read_file(path)?);
    }
    let mut report = read(args.ledgers, &filter, marks, console)?;
    report.by = args.by;
    warn_skipped(&report.skipped, console);
    if args.json {
        serde_json::to_writer_pretty(&mut *console.out, &json::to_json(&report))
            .map_err(std::io::Error::from)?;
        writeln!(console.out)?;
    } else {
        text::write(console.out, &report)?;
    }
    if let Some(path) = args.svg {
        std::fs::write(&path, svg::render(&report))
            .map_err(|source| CliError::Write { path, source })?;
    }
    Ok(())
}

/// Streams every ledger through the filter into the running totals.
fn read(
    files: Vec<PathBuf>,
    filter: &Filter,
    mut marks: Vec<Deploy>,
    console: &mut Console<'_>,
) -> Result<Report, CliError> {
    let mut skipped = Skipped::default();
    let mut merge = LedgerMerge::open(&files, &mut skipped)?;
    let label = format!("reading {}", merge::describe(&files));
    let mut progress = Progress::new(label, merge.total_bytes(), console.show_progress);
    let mut aggregate = Aggregate::default();
    let mut seen = 0u64;
    while let Some(record) = merge.next(&mut skipped)? {
        if filter.keeps(&record) {
            aggregate.add(&record);
        }
        seen += 1;
        if seen.is_multiple_of(PROGRESS_EVERY) {
            progress.update(console.err, merge.bytes_read(), seen);
        }
    }
    progress.finish(console.err);
    marks.append(&mut aggregate.releases.first_calls);
    let findings = Findings {
        median_hour: patterns::median_hour(&aggregate.hours),
        spikes: patterns::spikes(&aggregate.hours, &aggregate.by_agent, &aggregate.by_model),
        patterns: aggregate.cadence.patterns(&aggregate.by_agent),
        deploys: deploys::timeline(marks),
        climbs: aggregate.context.climbs(&aggregate.by_agent),
    };
    Ok(Report {
        files,
        aggregate,
        findings,
        skipped,
        filtered: filter.is_active(),
        by: None,
    })
}

/// One warning per malformed line shown, then how many more.
pub(crate) fn warn_skipped(skipped: &Skipped, console: &mut Console<'_>) {
    for error in &skipped.shown {
        let _ = writeln!(console.err, "warning: {error}; line skipped");
    }
    let more = skipped.count - skipped.shown.len() as u64;
    if more > 0 {
        let _ = writeln!(
            console.err,
            "warning: {more} more malformed line(s) skipped"
        );
    }
}

/// `agent `digest`: prompt tokens per call climbing from 2,100 on
/// 2026-11-20 to 9,800 on 2026-11-26 (+1,283 a day): …`.
pub(crate) fn climb_sentence(climb: &Climb) -> String {
    format!(
        "agent `{}`: prompt tokens per call climbing from {} on {} to {} on {} (+{} a day): a context that grows call by call (more tokens per call, not more calls)",
        climb.agent,
        count(climb.from),
        date_label(climb.start_day),
        count(climb.to),
        date_label(climb.end_day),
        count(climb.per_day())
    )
}

/// `agent `heartbeat` fires every 30 min (48 times, $3.12): a heartbeat or
/// a forgotten cron`.
pub(crate) fn pattern_sentence(pattern: &Pattern) -> String {
    format!(
        "agent `{}` fires every {} ({} times, {}): a heartbeat or a forgotten cron",
        pattern.agent,
        period(pattern.period_secs),
        pattern.times,
        dollars(pattern.cost)
    )
}
