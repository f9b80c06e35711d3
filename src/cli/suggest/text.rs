//! The suggestions as text: the distributions used, the limits, and the
//! code to paste.

use std::io::{self, Write};

use crate::cli::figures::{count, date_label, hour_label};
use crate::cli::suggest::limits::DailyCap;
use crate::cli::suggest::{code, Suggest};

/// Writes the suggestions.
pub(crate) fn write(out: &mut dyn Write, suggest: &Suggest) -> io::Result<()> {
    let found = &suggest.found;
    writeln!(
        out,
        "spendguard suggest from {}: {} calls, {} tasks",
        suggest.files,
        count(suggest.calls),
        count(suggest.tasks as u64)
    )?;
    write_left_out(out, suggest)?;
    writeln!(
        out,
        "\nPer task: {} × the median real task (--task-factor)",
        found.task_factor
    )?;
    if found.tasks.is_empty() {
        writeln!(
            out,
            "  no normal tasks: tag calls with a task to get a per-task budget"
        )?;
    }
    for task in &found.tasks {
        let who = task
            .agent
            .as_ref()
            .map_or("(no agent)".to_owned(), |agent| format!("agent {agent}"));
        let d = &task.tasks;
        writeln!(
            out,
            "  {who}: {} tasks, median {}, p90 {}, max {} → max_cost {}",
            count(d.count as u64),
            d.median,
            d.p90,
            d.max,
            task.max_cost
        )?;
    }
    for (title, caps) in [("agent", &found.agents), ("key", &found.keys)] {
        writeln!(
            out,
            "\nPer {title} per UTC day: {} × the busiest normal day (--day-factor)",
            found.day_factor
        )?;
        if caps.is_empty() {
            writeln!(out, "  no calls carry a {title} tag")?;
        }
        for cap in caps {
            write_cap(out, title, cap)?;
        }
    }
    writeln!(out, "\nAlerts at 50% and 80% of each limit.")?;
    match code::rust(found) {
        Some(code) => {
            writeln!(out, "\nAs code to paste:\n")?;
            for line in code.lines() {
                if line.is_empty() {
                    writeln!(out)?;
                } else {
                    writeln!(out, "    {line}")?;
                }
            }
            Ok(())
        }
        None => writeln!(out, "\nNothing to suggest: no normal spend in the ledger."),
    }
}

fn write_left_out(out: &mut dyn Write, suggest: &Suggest) -> io::Result<()> {
    let found = &suggest.found;
    let spikes: Vec<String> = found
        .spikes
        .iter()
        .map(|spike| format!("{} ({})", hour_label(spike.hour), spike.cost))
        .collect();
    if !spikes.is_empty() {
        writeln!(
            out,
            "Left out of normal: {} spike hour(s): {}",
            spikes.len(),
            spikes.join(", ")
        )?;
    }
    if suggest.stopped_calls > 0 || found.tasks_left_out > 0 {
        writeln!(
            out,
            "Left out of normal: {} call(s) the guard refused, cut off, killed or stopped as runaways; {} task(s) stopped by the guard or with a call in a spike hour",
            count(suggest.stopped_calls),
            count(found.tasks_left_out as u64)
        )?;
    }
    Ok(())
}

fn write_cap(out: &mut dyn Write, title: &str, cap: &DailyCap) -> io::Result<()> {
    let d = &cap.days;
    writeln!(
        out,
        "  {title} {}: {} days, median {}, p90 {}, busiest {} on {} → cap {} a day",
        cap.name,
        d.count,
        d.median,
        d.p90,
        d.max,
        date_label(cap.busiest_day),
        cap.cap
    )
}
