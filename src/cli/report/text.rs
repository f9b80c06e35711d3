//! The report as text for a person at a terminal.

use std::io::{self, Write};

use crate::cli::figures::{count, dollars, hour_label, time_label};
use crate::cli::report::breakdown::{Breakdown, Totals};
use crate::cli::report::patterns::{SPIKE_FACTOR, SPIKE_FLOOR};
use crate::cli::report::{chart, climb_sentence, pattern_sentence, rollup, Report};
use crate::ledger::Decision;

/// Names listed per breakdown; the rest are summed on one line.
const TOP_NAMES: usize = 10;
/// Incident groups listed; the rest are counted.
const TOP_INCIDENTS: usize = 20;

/// Writes the whole report.
pub(crate) fn write(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let aggregate = &report.aggregate;
    let (Some(first), Some(last)) = (aggregate.first, aggregate.last) else {
        writeln!(
            out,
            "No records{}.",
            if report.filtered {
                " match the filters"
            } else {
                ""
            }
        )?;
        return skipped_note(out, report);
    };
    writeln!(
        out,
        "spendguard report of {}: {} records from {} to {} UTC",
        files(&report.files),
        count(aggregate.total.calls),
        time_label(first),
        time_label(last)
    )?;
    skipped_note(out, report)?;
    let decisions: Vec<String> = Decision::ALL
        .iter()
        .filter_map(|&d| {
            let n = aggregate.calls_with(d);
            (n > 0).then(|| format!("{} {d}", count(n)))
        })
        .collect();
    writeln!(
        out,
        "\nTotal {} over {} calls: {}",
        dollars(aggregate.total.cost),
        count(aggregate.total.calls),
        decisions.join(", ")
    )?;

    for (title, breakdown) in [
        ("model", &aggregate.by_model),
        ("agent", &aggregate.by_agent),
        ("key", &aggregate.by_key),
        ("customer", &aggregate.by_customer),
    ] {
        write_breakdown(out, title, breakdown, &aggregate.total)?;
    }

    let (per_row, rows) = chart::rows(&aggregate.hours, &report.findings.spikes);
    if per_row == 1 {
        writeln!(out, "\nSpend per hour (UTC)")?;
    } else {
        writeln!(out, "\nSpend per {per_row} hours (UTC)")?;
    }
    let findings = &report.findings;
    chart::write(out, per_row, &rows, &findings.spikes, &findings.deploys)?;
    if let Some(period) = report.by {
        rollup::write(out, period, &rollup::rows(&aggregate.hours, period))?;
    }

    write_spikes(out, report)?;
    write_patterns(out, report)?;
    write_climbs(out, report)?;
    write_incidents(out, report)?;
    write_drift(out, report)
}

/// `ledger.jsonl`, or `a.jsonl and b.jsonl`, or `3 ledgers`.
fn files(paths: &[std::path::PathBuf]) -> String {
    match paths {
        [one] => one.display().to_string(),
        [a, b] => format!("{} and {}", a.display(), b.display()),
        many => format!("{} ledgers", many.len()),
    }
}

fn skipped_note(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    match report.skipped.count {
        0 => Ok(()),
        1 => writeln!(out, "1 malformed line skipped (see the warning)"),
        n => writeln!(
            out,
            "{} malformed lines skipped (see the warnings)",
            count(n)
        ),
    }
}

fn write_breakdown(
    out: &mut dyn Write,
    title: &str,
    breakdown: &Breakdown,
    total: &Totals,
) -> io::Result<()> {
    let rows = breakdown.by_cost();
    let width = rows
        .iter()
        .take(TOP_NAMES)
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0)
        .max(title.len() + 3);
    writeln!(
        out,
        "\n{:<width$}  {:>11}  {:>6}  {:>9}  {:>13}",
        format!("By {title}"),
        "spend",
        "share",
        "calls",
        "tokens",
        width = width + 2
    )?;
    for (name, totals) in rows.iter().take(TOP_NAMES) {
        writeln!(
            out,
            "  {name:<width$}  {:>11}  {:>6}  {:>9}  {:>13}",
            dollars(totals.cost),
            share(totals, total),
            count(totals.calls),
            count(totals.tokens),
        )?;
    }
    if rows.len() > TOP_NAMES {
        let rest = &rows[TOP_NAMES..];
        let cost = rest.iter().map(|(_, t)| t.cost).sum();
        let calls = rest.iter().map(|(_, t)| t.calls).sum();
        writeln!(
            out,
            "  … and {} more: {} over {} calls",
            count(rest.len() as u64),
            dollars(cost),
            count(calls)
        )?;
    }
    Ok(())
}

/// `66.5%` of the total spend.
fn share(part: &Totals, total: &Totals) -> String {
    if total.cost.is_zero() {
        return "-".into();
    }
    let tenths = u128::from(part.cost.nanos()) * 1_000 / u128::from(total.cost.nanos());
    format!("{}.{}%", tenths / 10, tenths % 10)
}

fn write_spikes(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let findings = &report.findings;
    if findings.spikes.is_empty() {
        return writeln!(
            out,
            "\nSpikes: none (no hour reached {SPIKE_FACTOR}× the median hour of {} and at least {})",
            dollars(findings.median_hour),
            dollars(SPIKE_FLOOR)
        );
    }
    writeln!(
        out,
        "\nSpikes (hours at {SPIKE_FACTOR}× the median hour of {} or more)",
        dollars(findings.median_hour)
    )?;
    for spike in &findings.spikes {
        write!(
            out,
            "  {} UTC: {}, {}× the median",
            hour_label(spike.hour),
            dollars(spike.cost),
            spike.times_median
        )?;
        if let Some((agent, cost)) = &spike.top_agent {
            write!(out, "; mostly agent `{agent}` ({})", dollars(*cost))?;
        }
        if let Some((model, cost)) = &spike.top_model {
            write!(out, ", model {model} ({})", dollars(*cost))?;
        }
        if let Some(deploy) = findings.deploy_before(spike) {
            write!(
                out,
                "; after deploy {} ({})",
                deploy.label,
                time_label(deploy.at)
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_patterns(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let patterns = &report.findings.patterns;
    if patterns.is_empty() {
        return writeln!(out, "\nPatterns: no agent fires on a schedule");
    }
    writeln!(out, "\nPatterns")?;
    for pattern in patterns {
        writeln!(out, "  {}", pattern_sentence(pattern))?;
    }
    Ok(())
}

fn write_climbs(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let climbs = &report.findings.climbs;
    if climbs.is_empty() {
        return writeln!(out, "\nContext growth: no agent's prompts grow day by day");
    }
    writeln!(out, "\nContext growth")?;
    for climb in climbs {
        writeln!(out, "  {}", climb_sentence(climb))?;
    }
    Ok(())
}

fn write_incidents(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let aggregate = &report.aggregate;
    let incidents = aggregate.incidents_by_count();
    if incidents.is_empty() {
        return writeln!(out, "\nRefusals and cut-offs: none");
    }
    writeln!(out, "\nRefusals and cut-offs")?;
    for incident in incidents.iter().take(TOP_INCIDENTS) {
        write!(
            out,
            "  {}× {} for agent `{}`, {}",
            count(incident.count),
            incident.decision,
            incident.agent,
            time_label(incident.first),
        )?;
        if incident.last != incident.first {
            write!(out, " to {}", time_label(incident.last))?;
        }
        if !incident.cost.is_zero() {
            write!(out, ", {} billed", dollars(incident.cost))?;
        }
        writeln!(out)?;
        if let Some(limit) = &incident.limit {
            writeln!(out, "      limit: {limit}")?;
        }
        if let Some(reason) = &incident.reason {
            writeln!(out, "      reason: {reason}")?;
        }
    }
    let unlisted = incidents.len().saturating_sub(TOP_INCIDENTS) as u64;
    if unlisted + aggregate.ungrouped_incidents > 0 {
        let calls: u64 = incidents
            .iter()
            .skip(TOP_INCIDENTS)
            .map(|i| i.count)
            .sum::<u64>()
            + aggregate.ungrouped_incidents;
        writeln!(out, "  … and {} more call(s) (see --json)", count(calls))?;
    }
    Ok(())
}

/// Models whose provider-reported costs drifted from the price table; no
/// section when none did (older ledgers have no provider costs at all).
fn write_drift(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let drifted = report.aggregate.drift.by_difference();
    if drifted.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "
Price drift (provider's cost against the price table)"
    )?;
    for (model, drift) in drifted {
        writeln!(
            out,
            "  {model}: {} call(s), table {}, provider {}",
            count(drift.calls),
            dollars(drift.table),
            dollars(drift.provider)
        )?;
    }
    Ok(())
}
