//! The reconciliation as text for a person at a terminal.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::cli::figures::{count, date_label, dollars};
use crate::cli::report::reconcile::compare::{percent_change, Row};
use crate::cli::report::reconcile::Reconciliation;
use crate::money::Usd;

/// Writes the reconciliation.
pub(crate) fn write(out: &mut dyn Write, found: &Reconciliation) -> io::Result<()> {
    let export = &found.export;
    writeln!(
        out,
        "Reconciliation of {} with {} ({})",
        files(&found.ledgers),
        export.path.display(),
        export.format.title()
    )?;
    let tolerance = &found.tolerance;
    let floor = if export.format.is_cost() {
        tolerance.floor_usd.to_string()
    } else {
        format!("{} tokens", count(tolerance.floor_tokens))
    };
    writeln!(
        out,
        "Tolerance: {} of the larger side, or {floor}, whichever is more.",
        percent(tolerance.basis_points)
    )?;
    let (Some(first), Some(last)) = (found.days.first(), found.days.last()) else {
        writeln!(
            out,
            "\nNo day of the export lies wholly inside --since/--until: nothing compared."
        )?;
        return Ok(());
    };
    let per = if export.by_model {
        "per UTC day and model"
    } else {
        "per UTC day (the export names no models)"
    };
    let disagree = found.disagreements().count();
    writeln!(
        out,
        "Compared {per}, {} day(s) from {} to {}: {} agree, {disagree} disagree.",
        found.days.len(),
        date_label(*first),
        date_label(*last),
        found.rows.len() - disagree,
    )?;
    if found.ledger_calls == 0 {
        writeln!(
            out,
            "The ledger has no {} calls here: every day the export bills disagrees. Is this the ledger the guard writes?",
            export.format.provider()
        )?;
    }
    if found.ledger_days_outside > 0 {
        writeln!(
            out,
            "{} day(s) of the ledger lie outside the export and were not compared.",
            found.ledger_days_outside
        )?;
    }
    writeln!(out)?;
    if export.format.is_cost() {
        write_costs(out, &found.rows)?;
    } else {
        write_tokens(out, &found.rows)?;
    }
    if disagree == 0 {
        writeln!(
            out,
            "\nThe ledger and the export agree on every day compared."
        )?;
        return Ok(());
    }
    writeln!(out, "\nWhere they disagree:")?;
    for row in found.disagreements() {
        writeln!(out, "  {}", sentence(row, export.format.is_cost()))?;
    }
    Ok(())
}

fn write_costs(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    writeln!(
        out,
        "  {:<10}  {:<28}  {:>11}  {:>11}  {:>20}",
        "day", "model", "ledger", "export", "difference"
    )?;
    for row in rows {
        writeln!(
            out,
            "{} {:<10}  {:<28}  {:>11}  {:>11}  {:>20}",
            mark(row),
            date_label(row.day),
            model(row),
            dollars(row.ledger.cost),
            dollars(row.export.cost),
            cost_difference(row.ledger.cost, row.export.cost),
        )?;
    }
    Ok(())
}

fn write_tokens(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    writeln!(
        out,
        "  {:<10}  {:<28}  {:>25}  {:>25}",
        "day", "model", "ledger input / output", "export input / output"
    )?;
    for row in rows {
        writeln!(
            out,
            "{} {:<10}  {:<28}  {:>25}  {:>25}",
            mark(row),
            date_label(row.day),
            model(row),
            format!("{} / {}", count(row.ledger.input), count(row.ledger.output)),
            format!("{} / {}", count(row.export.input), count(row.export.output)),
        )?;
    }
    Ok(())
}

/// `✗` on a row that disagrees.
fn mark(row: &Row) -> char {
    if row.agrees {
        ' '
    } else {
        '✗'
    }
}

fn model(row: &Row) -> &str {
    row.model.as_deref().unwrap_or("(all models)")
}

/// `+$1.50 (+36.5%)`: the export less the ledger.
fn cost_difference(ledger: Usd, export: Usd) -> String {
    let sign = if export >= ledger { '+' } else { '-' };
    let amount = if export >= ledger {
        export.saturating_sub(ledger)
    } else {
        ledger.saturating_sub(export)
    };
    match percent_change(ledger.nanos(), export.nanos()) {
        Some(change) => format!("{sign}{} ({change})", dollars(amount)),
        None => format!("{sign}{}", dollars(amount)),
    }
}

/// What a disagreement says, and what usually causes it.
fn sentence(row: &Row, cost: bool) -> String {
    let what = format!("{} {}", date_label(row.day), model(row));
    let (ledger, export) = if cost {
        (row.ledger.cost.nanos(), row.export.cost.nanos())
    } else {
        (
            row.ledger.input.saturating_add(row.ledger.output),
            row.export.input.saturating_add(row.export.output),
        )
    };
    let measured = if cost {
        format!(
            "the ledger has {}, the export {}",
            dollars(row.ledger.cost),
            dollars(row.export.cost)
        )
    } else {
        format!(
            "the ledger has {} input and {} output tokens, the export {} and {}",
            count(row.ledger.input),
            count(row.ledger.output),
            count(row.export.input),
            count(row.export.output)
        )
    };
    let why = match (export > ledger, cost) {
        (true, true) => "the provider billed more than the guard saw: calls that bypassed the guard, or prices out of date",
        (true, false) => "the provider counted more than the guard saw: calls that bypassed the guard",
        (false, true) => "the guard recorded more than the provider billed: estimates above the bill, or calls that failed before they were billed",
        (false, false) => "the guard recorded more than the provider counted: estimates above what was used, or calls that failed before they were counted",
    };
    format!("{what}: {measured}; {why}")
}

/// `2%`, `0.5%`.
fn percent(basis_points: u64) -> String {
    let (whole, hundredths) = (basis_points / 100, basis_points % 100);
    match hundredths {
        0 => format!("{whole}%"),
        h if h % 10 == 0 => format!("{whole}.{}%", h / 10),
        h => format!("{whole}.{h:02}%"),
    }
}

fn files(paths: &[PathBuf]) -> String {
    match paths {
        [one] => one.display().to_string(),
        many => format!("{} ledgers", many.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_and_tolerances_read_naturally() {
        assert_eq!(
            cost_difference(Usd::from_cents(410), Usd::from_cents(560)),
            "+$1.50 (+36.5%)"
        );
        assert_eq!(
            cost_difference(Usd::from_cents(500), Usd::ZERO),
            "-$5.00 (-100.0%)"
        );
        assert_eq!(cost_difference(Usd::ZERO, Usd::from_cents(7)), "+$0.07");
        assert_eq!(percent(200), "2%");
        assert_eq!(percent(50), "0.5%");
        assert_eq!(percent(125), "1.25%");
    }
}
