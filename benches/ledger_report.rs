//! `spendguard report` on a generated ledger, against two baselines over the
//! same file: reading its lines, and parsing each line into a
//! `serde_json::Value`. The report parses each line into a typed record and
//! adds it to its running totals, so its cost over the `Value` baseline is
//! the aggregation (and the typed parse).
//!
//! ```text
//! cargo bench --features cli --bench ledger_report -- --warm-up-time 1 --measurement-time 5
//! ```
//!
//! After criterion's report the bench prints each side's median from its own
//! timing loop and the ratios. For the 1M-line wall time and peak memory of
//! the release binary, see the README.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use criterion::Criterion;
use serde_json::{json, Value};

/// Lines in the generated ledger.
const LINES: u64 = 100_000;
const MODELS: [&str; 5] = [
    "gpt-4o",
    "gpt-4o-mini",
    "claude-sonnet-4-5",
    "gemini-2.5-pro",
    "o3",
];

/// A ledger of `LINES` calls two seconds apart from 50 agents, 7 keys and
/// 13 customers, 2% of them refused.
fn write_ledger(path: &Path) {
    let mut out = std::io::BufWriter::new(File::create(path).unwrap());
    let mut state = 12_345u64;
    for i in 0..LINES {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1)
            >> 1;
        let x = state >> 16;
        let secs = 1_795_500_000 + i * 2;
        let ts = spendguard::clock::UtcDateTime::from_unix(Duration::from_millis(
            secs * 1_000 + x % 1_000,
        ));
        let refused = x.is_multiple_of(50);
        let agent = format!("agent-{}", x % 50);
        let line = json!({
            "ts": ts.to_string(),
            "provider": "openai",
            "model": MODELS[(x % 5) as usize],
            "tags": {"key": format!("key-{}", x % 7), "agent": agent, "task": format!("t-{}", i % 1_000), "customer": format!("cust-{}", x % 13)},
            "tokens": {"input": x % 5_000, "cached": x % 300, "cache_write": 0, "output": x % 900, "reasoning": 0},
            "cost_nanos": x % 5_000_000,
            "cost_source": "reported",
            "decision": if refused { "refused" } else { "allowed" },
            "limit": refused.then(|| format!("agent {agent}: $5.00 per UTC day")),
            "reason": null,
            "request_hash": null,
        });
        writeln!(out, "{line}").unwrap();
    }
    out.flush().unwrap();
}

fn read_lines(path: &Path) -> usize {
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path).unwrap());
    let mut line = String::new();
    let mut bytes = 0;
    while reader.read_line(&mut line).unwrap() > 0 {
        bytes += line.len();
        line.clear();
    }
    bytes
}

fn parse_values(path: &Path) -> usize {
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path).unwrap());
    let mut line = String::new();
    let mut fields = 0;
    while reader.read_line(&mut line).unwrap() > 0 {
        let value: Value = serde_json::from_str(&line).unwrap();
        fields += value.as_object().map_or(0, |o| o.len());
        line.clear();
    }
    fields
}

fn report(path: &Path) -> usize {
    let mut out = Vec::with_capacity(64 * 1024);
    let status = spendguard::cli::run(
        ["spendguard", "report", "--json", path.to_str().unwrap()],
        &mut out,
        &mut std::io::sink(),
    );
    assert_eq!(status, ExitCode::SUCCESS);
    out.len()
}

fn ledger_path() -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "spendguard-bench-ledger-{}.jsonl",
        std::process::id()
    ));
    write_ledger(&path);
    path
}

fn bench(c: &mut Criterion, path: &Path) {
    let mut group = c.benchmark_group(format!("{LINES} ledger lines"));
    group.sample_size(10);
    group.bench_function("read lines (baseline)", |b| {
        b.iter(|| read_lines(black_box(path)))
    });
    group.bench_function("parse into serde_json::Value (baseline)", |b| {
        b.iter(|| parse_values(black_box(path)))
    });
    group.bench_function("spendguard report --json", |b| {
        b.iter(|| report(black_box(path)))
    });
    group.finish();
}

/// Times each side in its own loop and prints the medians and ratios.
fn print_ratios(path: &Path) {
    const ROUNDS: usize = 7;
    let median = |f: &dyn Fn() -> usize| {
        let mut times: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                black_box(f());
                start.elapsed()
            })
            .collect();
        times.sort();
        times[ROUNDS / 2]
    };
    let lines = median(&|| read_lines(path));
    let values = median(&|| parse_values(path));
    let reported = median(&|| report(path));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{LINES} lines: read {:.1} ms, parse to Value {:.1} ms, report {:.1} ms; report / Value parse {:.2}x, report / read {:.1}x",
        ms(lines),
        ms(values),
        ms(reported),
        ms(reported) / ms(values),
        ms(reported) / ms(lines),
    );
}

/// The ledger is written once and shared by every measurement, so the
/// bench drives criterion itself rather than through `criterion_main!`.
fn main() {
    let path = ledger_path();
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &path);
    print_ratios(&path);
    criterion.final_summary();
    let _ = std::fs::remove_file(&path);
}
