//! The hourly chart as an SVG image a browser opens: one bar per hour with
//! spend, spikes in red, and the findings written under it.
//!
//! Every bar carries its hour and exact cost (`data-hour`,
//! `data-cost-nanos`) and a tooltip, so the picture can be checked against
//! the numbers.

use std::fmt::Write as _;

use crate::cli::figures::{count, dollars, hour_label};
use crate::cli::report::{climb_sentence, pattern_sentence};
use crate::cli::report::{Findings, Report};
use crate::clock::UtcDateTime;
use crate::money::Usd;

const WIDTH: u64 = 960;
const LEFT: u64 = 80;
const RIGHT: u64 = 24;
const TOP: u64 = 72;
/// Height of the plot area, in pixels.
pub(crate) const PLOT_HEIGHT: u64 = 260;
const AXIS_LABELS: u64 = 44;
const FOOTER_LINE: u64 = 20;
/// Findings written under the chart, at most.
const FOOTER_LINES: usize = 6;
/// Hours between x-axis labels, the first giving at most 12 labels.
const TICK_HOURS: [u64; 9] = [1, 2, 3, 6, 12, 24, 48, 168, 720];
const BAR_COLOUR: &str = "#4e79a7";
const SPIKE_COLOUR: &str = "#d62728";
const DEPLOY_COLOUR: &str = "#7f7f7f";

/// The whole image.
pub(crate) fn render(report: &Report) -> String {
    let hours = &report.aggregate.hours;
    let footer = footer_lines(report);
    let plot_bottom = TOP + PLOT_HEIGHT;
    let height = plot_bottom + AXIS_LABELS + FOOTER_LINE * footer.len() as u64 + 16;
    let mut svg = String::with_capacity(16 * 1024);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let (Some((&first, _)), Some((&last, _))) = (hours.first_key_value(), hours.last_key_value())
    else {
        let _ = write!(
            svg,
            r##"<text x="{LEFT}" y="{TOP}" font-size="16" fill="#333">No records to chart.</text></svg>"##
        );
        return svg;
    };
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="28" font-size="18" font-weight="600" fill="#222">Spend per hour (UTC)</text><text x="{LEFT}" y="50" fill="#555">{}</text>"##,
        escape(&subtitle(report, first, last))
    );

    let max = hours.values().map(|h| h.cost).max().unwrap_or(Usd::ZERO);
    write_grid(&mut svg, max, plot_bottom);
    let slots = last - first + 1;
    let slot_width = (WIDTH - LEFT - RIGHT) as f64 / slots as f64;
    write_ticks(&mut svg, first, last, slot_width, plot_bottom);
    for (&hour, spend) in hours {
        let tenths = bar_tenths(spend.cost, max);
        let spike = report.findings.spikes.iter().find(|s| s.hour == hour);
        let x = LEFT as f64 + (hour - first) as f64 * slot_width + slot_width * 0.1;
        let y = plot_bottom * 10 - tenths;
        let start = UtcDateTime::from_unix(std::time::Duration::from_secs(hour * 3_600));
        let _ = write!(
            svg,
            r#"<rect class="bar" data-hour="{start}" data-cost-nanos="{}" x="{x:.2}" y="{}" width="{:.2}" height="{}" fill="{}"><title>{} UTC: {}, {} calls</title></rect>"#,
            spend.cost.nanos(),
            tenths_text(y),
            (slot_width * 0.8).max(0.5),
            tenths_text(tenths),
            if spike.is_some() {
                SPIKE_COLOUR
            } else {
                BAR_COLOUR
            },
            hour_label(hour),
            dollars(spend.cost),
            count(spend.calls),
        );
        if let Some(spike) = spike {
            let centre =
                (x + slot_width * 0.4).clamp(LEFT as f64 + 60.0, (WIDTH - RIGHT) as f64 - 60.0);
            let _ = write!(
                svg,
                r#"<text x="{centre:.2}" y="{}" text-anchor="middle" fill="{SPIKE_COLOUR}" font-weight="600">{} · {}× median</text>"#,
                tenths_text(y.saturating_sub(60)),
                dollars(spike.cost),
                spike.times_median,
            );
        }
    }
    write_deploys(&mut svg, report, first, last, slot_width, plot_bottom);
    let mut y = plot_bottom + AXIS_LABELS;
    for line in &footer {
        y += FOOTER_LINE;
        let _ = write!(
            svg,
            r##"<text x="{LEFT}" y="{y}" fill="#333">{}</text>"##,
            escape(line)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A dashed vertical line at each deploy inside the chart, labelled at the
/// top, carrying its time (`data-deploy`).
fn write_deploys(
    svg: &mut String,
    report: &Report,
    first: u64,
    last: u64,
    slot_width: f64,
    plot_bottom: u64,
) {
    let (start, end) = (first * 3_600, (last + 1) * 3_600);
    for deploy in &report.findings.deploys {
        let at = deploy.at.as_secs();
        if !(start..end).contains(&at) {
            continue;
        }
        let x = LEFT as f64 + (at - start) as f64 / 3_600.0 * slot_width;
        let _ = write!(
            svg,
            r#"<g class="deploy" data-deploy="{}"><line x1="{x:.2}" y1="{TOP}" x2="{x:.2}" y2="{plot_bottom}" stroke="{DEPLOY_COLOUR}" stroke-dasharray="4 3"/><text x="{:.2}" y="{}" fill="{DEPLOY_COLOUR}">{}</text></g>"#,
            UtcDateTime::from_unix(deploy.at),
            x + 3.0,
            TOP + 12,
            escape(&deploy.label),
        );
    }
}

/// The height of a bar in tenths of a pixel: `cost / max` of the plot,
/// computed in integers so it can be checked exactly.
pub(crate) fn bar_tenths(cost: Usd, max: Usd) -> u64 {
    if max.is_zero() {
        return 0;
    }
    let tenths = u128::from(cost.nanos()) * u128::from(PLOT_HEIGHT * 10) / u128::from(max.nanos());
    tenths as u64
}

/// `1234` tenths as `123.4`.
fn tenths_text(tenths: u64) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn subtitle(report: &Report, first: u64, last: u64) -> String {
    let total = &report.aggregate.total;
    format!(
        "{} – {} · {} calls · {} in all",
        hour_label(first),
        hour_label(last + 1),
        count(total.calls),
        dollars(total.cost)
    )
}

/// Horizontal grid lines at round dollar amounts, labelled on the left.
fn write_grid(svg: &mut String, max: Usd, plot_bottom: u64) {
    let step = grid_step(max);
    let mut level = 0u64;
    while step > 0 && level <= max.nanos() {
        let tenths = bar_tenths(Usd::from_nanos(level), max);
        let y = tenths_text(plot_bottom * 10 - tenths);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#e3e3e3"/><text x="{}" y="{y}" text-anchor="end" dominant-baseline="middle" fill="#666">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 8,
            dollars(Usd::from_nanos(level))
        );
        match level.checked_add(step) {
            Some(next) => level = next,
            None => break,
        }
    }
}

/// A round step (1, 2 or 5 times a power of ten nano-dollars) giving at
/// most five grid lines above zero.
fn grid_step(max: Usd) -> u64 {
    let mut power = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let step = power.saturating_mul(factor);
            if max.nanos() / step <= 5 {
                return step;
            }
        }
        power = power.saturating_mul(10);
    }
}

/// Hour labels under the plot; dates at midnight.
fn write_ticks(svg: &mut String, first: u64, last: u64, slot_width: f64, plot_bottom: u64) {
    let span = last - first + 1;
    let every = TICK_HOURS
        .iter()
        .copied()
        .find(|&t| span / t <= 12)
        .unwrap_or_else(|| span.div_ceil(12));
    let start = first.div_ceil(every) * every;
    for hour in (start..=last + 1).step_by(every as usize) {
        let x = LEFT as f64 + (hour - first) as f64 * slot_width;
        let t = UtcDateTime::from_unix(std::time::Duration::from_secs(hour * 3_600));
        let _ = write!(
            svg,
            r##"<line x1="{x:.2}" x2="{x:.2}" y1="{plot_bottom}" y2="{}" stroke="#999"/><text x="{x:.2}" y="{}" text-anchor="middle" fill="#666">{:02}:00</text>"##,
            plot_bottom + 5,
            plot_bottom + 18,
            t.hour
        );
        if t.hour == 0 || hour == start {
            let _ = write!(
                svg,
                r##"<text x="{x:.2}" y="{}" text-anchor="middle" fill="#666">{:04}-{:02}-{:02}</text>"##,
                plot_bottom + 34,
                t.year,
                t.month,
                t.day
            );
        }
    }
}

/// Spikes and patterns in words, at most [`FOOTER_LINES`].
fn footer_lines(report: &Report) -> Vec<String> {
    let Findings {
        spikes, patterns, ..
    } = &report.findings;
    let spike_lines = spikes.iter().map(|spike| {
        let mut line = format!(
            "Spike: {} UTC, {} ({}× the median hour)",
            hour_label(spike.hour),
            dollars(spike.cost),
            spike.times_median
        );
        if let Some((agent, cost)) = &spike.top_agent {
            let _ = write!(line, ", mostly agent `{agent}` ({})", dollars(*cost));
        }
        if let Some(deploy) = report.findings.deploy_before(spike) {
            let _ = write!(line, ", after deploy {}", deploy.label);
        }
        line
    });
    let climb_lines = report
        .findings
        .climbs
        .iter()
        .map(|c| format!("Context growth: {}", climb_sentence(c)));
    let pattern_lines = patterns
        .iter()
        .map(|p| format!("Pattern: {}", pattern_sentence(p)));
    spike_lines
        .chain(pattern_lines)
        .chain(climb_lines)
        .take(FOOTER_LINES)
        .collect()
}

/// Text safe inside an XML element or attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_steps_are_round_and_few() {
        assert_eq!(grid_step(Usd::from_cents(3_013)), 10_000_000_000);
        assert_eq!(grid_step(Usd::from_cents(100)), 200_000_000);
        assert_eq!(grid_step(Usd::from_nanos(3)), 1);
        assert_eq!(grid_step(Usd::MAX), 5_000_000_000_000_000_000);
    }

    #[test]
    fn bar_heights_are_exact_tenths_of_the_plot() {
        let max = Usd::from_cents(400);
        assert_eq!(bar_tenths(max, max), PLOT_HEIGHT * 10);
        assert_eq!(bar_tenths(Usd::from_cents(100), max), PLOT_HEIGHT * 10 / 4);
        assert_eq!(bar_tenths(Usd::from_cents(1), Usd::ZERO), 0);
        assert_eq!(tenths_text(1_234), "123.4");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
