//! `spendguard status TARGET`: the halt in force, how full every live
//! counter's current window is, and the orphaned holds (a dead worker's,
//! billed at their worst case once their lease ran out).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::figures::{dollars, period, time_label};
use crate::cli::halt::describe;
use crate::cli::target::{block_on, Target};
use crate::clock::{Clock, SystemClock, UtcDateTime};
use crate::guard::{CounterKey, Window};
use crate::halt::Halt;
use crate::money::Usd;
use crate::store::{CounterSummary, Orphan, WindowRef, WindowUsage};

/// `spendguard status` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print JSON: amounts in nano-dollars (`*_nanos`).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

/// One counter's current window, as shown.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    counter: Arc<str>,
    /// `per UTC day 2026-11-25`.
    window: String,
    bucket: u64,
    span: u32,
    usage: WindowUsage,
    max: Option<Usd>,
}

pub(crate) fn run(args: Args, console: &mut Console<'_>) -> Result<(), CliError> {
    let now = SystemClock.now();
    let (halt, rows, ended, orphans) = block_on(async {
        let store = args.target.open().await?;
        let halt = store.halted().await?;
        // First, so that holds whose lease has run out show as billed.
        let orphans = store.orphans(now).await?;
        let summaries = store.counters().await?;
        let (current, ended) = current_windows(&summaries, now);
        let windows: Vec<WindowRef> = current.iter().map(|(_, w, _)| w.clone()).collect();
        let usage = store.usage(&windows).await?;
        let rows: Vec<Row> = current
            .into_iter()
            .zip(usage)
            .map(|((summary, window, label), usage)| Row {
                counter: Arc::clone(&summary.counter),
                window: label,
                bucket: window.bucket,
                span: window.span,
                usage,
                max: summary.max,
            })
            .collect();
        Ok::<_, CliError>((halt, rows, ended, orphans))
    })??;
    if args.json {
        let report = json_report(halt.as_ref(), &rows, ended, &orphans, now);
        writeln!(console.out, "{report:#}")?;
        return Ok(());
    }
    let out = &mut *console.out;
    match &halt {
        Some(halt) => writeln!(out, "halted {}", describe(halt))?,
        None => writeln!(out, "not halted")?,
    }
    if !args.target.keeps_counters() {
        return Ok(());
    }
    if rows.is_empty() {
        writeln!(out, "no live counters")?;
    }
    let width = rows.iter().map(|r| r.counter.len()).max().unwrap_or(0);
    let window_width = rows.iter().map(|r| r.window.len()).max().unwrap_or(0);
    for row in &rows {
        writeln!(
            out,
            "{:width$}  {:window_width$}  {}",
            row.counter,
            row.window,
            amounts(row)
        )?;
    }
    match ended {
        0 => {}
        1 => writeln!(out, "(1 counter whose window has ended is not shown)")?,
        n => writeln!(out, "({n} counters whose windows have ended are not shown)")?,
    }
    for orphan in &orphans {
        writeln!(out, "{}", orphan_line(orphan, now))?;
    }
    Ok(())
}

/// `orphaned $0.60 in key=prod|day: held by web-3/4121 since 2026-11-25
/// 11:40:00 (20 min ago), lease ran out 5 min ago; billed at its worst
/// case`.
fn orphan_line(orphan: &Orphan, now: Duration) -> String {
    format!(
        "orphaned {} in {}: held by {} since {} ({} ago), lease ran out {} ago; billed at its worst case",
        dollars(orphan.amount),
        orphan.counter,
        orphan.holder,
        time_label(orphan.since),
        period(orphan.age(now).as_secs()),
        period(now.saturating_sub(orphan.expired_at).as_secs()),
    )
}

/// Each live counter's window at `now`, with its label; and how many
/// counters' windows have all ended.
fn current_windows(
    summaries: &[CounterSummary],
    now: Duration,
) -> (Vec<(&CounterSummary, WindowRef, String)>, usize) {
    let mut current = Vec::with_capacity(summaries.len());
    let mut ended = 0;
    for summary in summaries {
        let Some(window) = CounterKey::parse(&summary.counter).map(|key| key.window()) else {
            // Not a guard's counter: show the window its newest bucket ends.
            let label = format!("bucket {}", summary.newest_bucket);
            current.push((summary, summary.window(), label));
            continue;
        };
        let slot = window.slot(now);
        let live = match window {
            Window::Rolling(_) => summary.newest_bucket + u64::from(slot.span) > slot.bucket,
            _ => summary.newest_bucket >= slot.bucket,
        };
        if !live {
            ended += 1;
            continue;
        }
        let at_now = WindowRef {
            counter: Arc::clone(&summary.counter),
            bucket: slot.bucket.max(summary.newest_bucket),
            span: slot.span,
            expires_at: None,
        };
        current.push((summary, at_now, label(window, now)));
    }
    (current, ended)
}

/// `per UTC day 2026-11-25`, `per ISO week 2026-W48`, `per UTC month 2026-11`, `per 1h (rolling)`,
/// `in all`.
fn label(window: Window, now: Duration) -> String {
    let t = UtcDateTime::from_unix(now);
    match window {
        Window::Day => format!("{window} {:04}-{:02}-{:02}", t.year, t.month, t.day),
        Window::Week => {
            let (year, week) = t.iso_week();
            format!("{window} {year:04}-W{week:02}")
        }
        Window::Month => format!("{window} {:04}-{:02}", t.year, t.month),
        _ => window.to_string(),
    }
}

/// `spent $12.30 + $0.40 held of $50.00 (25%)`.
fn amounts(row: &Row) -> String {
    let mut text = format!(
        "spent {} + {} held",
        dollars(row.usage.spent),
        dollars(row.usage.held)
    );
    if let Some(max) = row.max {
        text.push_str(&format!(" of {}", dollars(max)));
        if let Some(percent) = percent_used(row.usage, max) {
            text.push_str(&format!(" ({percent}%)"));
        }
    }
    text
}

/// Spent plus held as a whole percentage of `max`, rounded down; `None`
/// for a zero limit.
fn percent_used(usage: WindowUsage, max: Usd) -> Option<u128> {
    let max = u128::from(max.nanos());
    (max > 0).then(|| u128::from(usage.committed().nanos()) * 100 / max)
}

fn json_report(
    halt: Option<&Halt>,
    rows: &[Row],
    ended: usize,
    orphans: &[Orphan],
    now: Duration,
) -> Value {
    let orphans: Vec<Value> = orphans
        .iter()
        .map(|orphan| {
            json!({
                "counter": &*orphan.counter,
                "bucket": orphan.bucket,
                "holder": &*orphan.holder,
                "amount_nanos": orphan.amount.nanos(),
                "since_unix_ms": u64::try_from(orphan.since.as_millis()).unwrap_or(u64::MAX),
                "age_secs": orphan.age(now).as_secs(),
                "lease_expired_unix_ms": u64::try_from(orphan.expired_at.as_millis()).unwrap_or(u64::MAX),
            })
        })
        .collect();
    let counters: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "counter": &*row.counter,
                "window": row.window,
                "bucket": row.bucket,
                "span": row.span,
                "spent_nanos": row.usage.spent.nanos(),
                "held_nanos": row.usage.held.nanos(),
                "max_nanos": row.max.map(Usd::nanos),
                "percent_used": row.max.and_then(|max| percent_used(row.usage, max)),
            })
        })
        .collect();
    json!({
        "halt": halt,
        "counters": counters,
        "ended_counters": ended,
        "orphans": orphans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-25T12:00:00Z.
    const NOW: Duration = Duration::from_secs(1_795_608_000);
    const TODAY: u64 = 20_782;

    fn summary(counter: &str, bucket: u64) -> CounterSummary {
        CounterSummary::new(Arc::from(counter), bucket, 1, Some(Usd::from_cents(5_000)))
    }

    #[test]
    fn ended_calendar_and_rolling_windows_are_counted_not_shown() {
        let hour_slot = NOW.as_secs() / 60;
        let summaries = [
            summary("key=prod|day", TODAY),
            summary("key=old|day", TODAY - 1),
            summary("global|all", 0),
            summary("key=prod|rolling=3600000ms", hour_slot - 60),
            summary("key=idle|rolling=3600000ms", hour_slot - 61),
            summary("custom", 7),
        ];
        let (current, ended) = current_windows(&summaries, NOW);
        let shown: Vec<(&str, u64, &str)> = current
            .iter()
            .map(|(s, w, label)| (&*s.counter, w.bucket, label.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("key=prod|day", TODAY, "per UTC day 2026-11-25"),
                ("global|all", 0, "in all"),
                ("key=prod|rolling=3600000ms", hour_slot, "per 1h (rolling)"),
                ("custom", 7, "bucket 7"),
            ]
        );
        assert_eq!(ended, 2);
    }

    #[test]
    fn a_row_reads_like_a_sentence() {
        let row = Row {
            counter: Arc::from("key=prod-1|day"),
            window: "per UTC day 2026-11-25".into(),
            bucket: TODAY,
            span: 1,
            usage: WindowUsage::new(Usd::from_cents(1_230), Usd::from_cents(40)),
            max: Some(Usd::from_cents(5_000)),
        };
        assert_eq!(amounts(&row), "spent $12.30 + $0.40 held of $50.00 (25%)");
        let unknown = Row { max: None, ..row };
        assert_eq!(amounts(&unknown), "spent $12.30 + $0.40 held");
        assert_eq!(percent_used(WindowUsage::default(), Usd::ZERO), None);
    }

    #[test]
    fn an_orphan_names_its_holder_and_age() {
        let orphan = Orphan {
            counter: Arc::from("key=prod|day"),
            bucket: TODAY,
            lease: 7,
            holder: Arc::from("web-3/4121"),
            amount: Usd::from_cents(60),
            since: NOW - Duration::from_secs(20 * 60),
            expired_at: NOW - Duration::from_secs(5 * 60),
        };
        assert_eq!(
            orphan_line(&orphan, NOW),
            "orphaned $0.60 in key=prod|day: held by web-3/4121 since 2026-11-25 11:40:00 \
             (20 min ago), lease ran out 5 min ago; billed at its worst case"
        );
    }
}
