//! What sharing caps through a file costs: one call's reserve and settle
//! (two claims: everything, and the call's agent, each per UTC day) in a
//! `FileStore` against the same in a `MemoryStore`, in one run.
//!
//! - `MemoryStore`: a lock and a few hash lookups;
//! - `FileStore`: per operation, `flock`, two `stat`s, a read of what other
//!   processes appended (nothing here), one `write`, and a compaction
//!   whenever the log reaches 8 MiB (amortized in);
//! - `FileStore, synced`: the same plus `fdatasync` per operation, which
//!   depends on the disk under the temp directory.
//!
//! After criterion's report, a fixed-size timed run prints each variant's
//! time per call and its ratio to the memory store.

// The file store is Unix only, and so is this bench.
#[cfg(unix)]
fn main() {
    file_vs_memory::main();
}

#[cfg(not(unix))]
fn main() {
    eprintln!("FileStore is Unix only: nothing to bench on this platform.");
}

#[cfg(unix)]
mod file_vs_memory {
    use std::future::Future;
    use std::hint::black_box;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    use criterion::{criterion_group, Criterion};
    use spendguard::store::{
        Claim, Durability, FileStore, Lease, MemoryStore, Reserved, Settlement, SpendStore,
        WindowRef,
    };
    use spendguard::Usd;

    /// 2026-11-25T12:00:00Z.
    const NOW: Duration = Duration::from_secs(1_795_608_000);
    const WORST: Usd = Usd::from_nanos(5_000_000);
    const ACTUAL: Usd = Usd::from_nanos(2_700_000);
    /// Every call's lease: each is settled before the next is reserved.
    const LEASE_ID: u64 = 1;

    /// The store operations complete without waiting: each is run to its end
    /// by one poll.
    fn ready<F: Future>(future: F) -> F::Output {
        let mut context = Context::from_waker(Waker::noop());
        match std::pin::pin!(future).poll(&mut context) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("a store operation waited"),
        }
    }

    struct Call {
        claims: Vec<Claim>,
        settlements: Vec<Settlement>,
    }

    impl Call {
        fn new() -> Self {
            let day = NOW.as_secs() / 86_400;
            let expires = Some(Duration::from_secs((day + 1) * 86_400));
            let windows = [
                WindowRef::calendar(Arc::from("global|day"), day, expires),
                WindowRef::calendar(Arc::from("agent=researcher|day"), day, expires),
            ];
            // Large enough never to run out during the bench.
            let cap = Usd::from_nanos(u64::MAX / 2);
            Call {
                claims: windows
                    .iter()
                    .map(|w| Claim::new(w.clone(), cap, WORST))
                    .collect(),
                settlements: windows
                    .iter()
                    .map(|w| Settlement::new(w.clone(), WORST, ACTUAL, 0, LEASE_ID))
                    .collect(),
            }
        }

        fn on(&self, store: &dyn SpendStore) {
            let lease = Lease::new(LEASE_ID, Arc::from("bench"), NOW, NOW + NOW);
            let granted = ready(store.reserve(black_box(&self.claims), &lease, NOW)).unwrap();
            assert!(matches!(granted, Reserved::Granted { .. }));
            black_box(ready(store.settle(black_box(&self.settlements), NOW)).unwrap());
        }
    }

    struct Variant {
        name: &'static str,
        store: Box<dyn SpendStore>,
        timed_calls: u32,
    }

    fn variants(dir: &std::path::Path) -> Vec<Variant> {
        let file = |name: &str, durability| {
            let store = FileStore::options()
                .durability(durability)
                .open(dir.join(name))
                .expect("the bench's store file opens");
            Box::new(store) as Box<dyn SpendStore>
        };
        vec![
            Variant {
                name: "MemoryStore",
                store: Box::new(MemoryStore::new()),
                timed_calls: 1_000_000,
            },
            Variant {
                name: "FileStore",
                store: file("written.log", Durability::Written),
                timed_calls: 100_000,
            },
            Variant {
                name: "FileStore, synced",
                store: file("synced.log", Durability::Synced),
                timed_calls: 2_000,
            },
        ]
    }

    fn bench_dir() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("spendguard-bench-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the bench's directory is made");
        dir
    }

    fn bench(c: &mut Criterion) {
        let dir = bench_dir();
        let call = Call::new();
        let mut group = c.benchmark_group("reserve_settle_store");
        for variant in variants(&dir) {
            group.bench_function(variant.name, |b| b.iter(|| call.on(&*variant.store)));
        }
        group.finish();
        std::fs::remove_dir_all(&dir).expect("the bench's directory is removed");
    }

    /// Best of five fixed-size runs, in nanoseconds per call.
    fn timed_ns_per_call(variant: &Variant, call: &Call) -> f64 {
        (0..5)
            .map(|_| {
                let start = Instant::now();
                (0..variant.timed_calls).for_each(|_| call.on(&*variant.store));
                start.elapsed().as_nanos() as f64 / f64::from(variant.timed_calls)
            })
            .fold(f64::INFINITY, f64::min)
    }

    fn print_ratios() {
        let dir = bench_dir();
        let call = Call::new();
        let variants = variants(&dir);
        let times: Vec<f64> = variants
            .iter()
            .map(|variant| timed_ns_per_call(variant, &call))
            .collect();
        println!("\nreserve + settle, two claims, best of 5:");
        for (variant, ns) in variants.iter().zip(&times) {
            println!(
                "  {:<20} {ns:>10.1} ns/call ({} calls)",
                variant.name, variant.timed_calls
            );
        }
        for (variant, ns) in variants.iter().zip(&times).skip(1) {
            println!(
                "  ratio {} / MemoryStore = {:.1}",
                variant.name,
                ns / times[0]
            );
        }
        drop(variants);
        std::fs::remove_dir_all(&dir).expect("the bench's directory is removed");
    }

    criterion_group!(benches, bench);

    pub fn main() {
        benches();
        Criterion::default().configure_from_args().final_summary();
        print_ratios();
    }
}
