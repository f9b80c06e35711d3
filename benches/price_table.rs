//! How long LiteLLM's file takes to load with the ordinary loader, and what
//! a lookup costs in the bundled (compact) table and in the table that
//! loader makes, next to a plain `HashMap<String, Arc<ModelPrice>>::get` of
//! the same id. Opening the compact table happens once per process; its
//! cost in time and memory is measured in fresh processes by
//! `benches/first_call.rs`.
//!
//! ```text
//! cargo bench --bench price_table -- --warm-up-time 1 --measurement-time 3
//! ```

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use spendguard::prices::ModelPrice;
use spendguard::prices::Overrides;
use spendguard::PriceTable;

const BUNDLED: &str = include_str!("../pricing/litellm_prices.json");

fn load(c: &mut Criterion) {
    let overrides = Overrides::bundled();
    c.bench_function("load bundled table (parse + overrides + index)", |b| {
        b.iter(|| PriceTable::from_litellm_json_with_overrides(black_box(BUNDLED), &overrides))
    });
}

fn lookups(c: &mut Criterion) {
    let table = PriceTable::bundled();
    let baseline = plain_map(&table);
    let mut group = c.benchmark_group("lookup");
    group.bench_function("HashMap<String, Arc<ModelPrice>>::get (baseline)", |b| {
        b.iter(|| baseline.get(black_box("gpt-4o")).cloned())
    });
    for name in [
        "gpt-4o",
        "GPT-4o",
        "openai/gpt-4o",
        "gpt-4o-2099-01-01",
        "models/gemini-2.5-pro",
        "gpt-4p",
    ] {
        group.bench_function(format!("resolve {name:?}"), |b| {
            b.iter(|| {
                table
                    .resolve(black_box(name))
                    .map(|found| found.into_price())
            })
        });
    }
    let json =
        PriceTable::from_litellm_json_with_overrides(BUNDLED, &Overrides::bundled()).unwrap();
    for name in ["gpt-4o", "GPT-4o", "openai/gpt-4o"] {
        group.bench_function(format!("resolve {name:?} in the JSON-loaded table"), |b| {
            b.iter(|| {
                json.resolve(black_box(name))
                    .map(|found| found.into_price())
            })
        });
    }
    group.finish();
    print_ratio(&table, &baseline);
    print_ratio(&json, &baseline);
}

fn plain_map(table: &PriceTable) -> HashMap<String, Arc<ModelPrice>> {
    table
        .iter()
        .map(|price| (price.model().to_owned(), Arc::clone(price)))
        .collect()
}

/// Times both in one loop each and prints how many times slower an exact
/// `resolve` is than the baseline.
fn print_ratio(table: &PriceTable, baseline: &HashMap<String, Arc<ModelPrice>>) {
    const ROUNDS: u32 = 2_000_000;
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..ROUNDS {
            f();
        }
        start.elapsed() / ROUNDS
    };
    let plain = time(&|| {
        black_box(baseline.get(black_box("gpt-4o")).cloned());
    });
    let resolved = time(&|| {
        let _ = black_box(
            table
                .resolve(black_box("gpt-4o"))
                .map(|found| found.into_price()),
        );
    });
    let nanos = |d: Duration| d.as_secs_f64() * 1e9;
    println!(
        "exact resolve: {:.1} ns, HashMap::get baseline: {:.1} ns, ratio {:.2}x",
        nanos(resolved),
        nanos(plain),
        nanos(resolved) / nanos(plain)
    );
}

criterion_group!(benches, load, lookups);
criterion_main!(benches);
