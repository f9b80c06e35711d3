//! Many tasks racing on one budget never push spend plus in-flight
//! reservations past the limit, and every settled cent is accounted for:
//! on the lock-free path (a dollar limit alone) and on the locked one (a
//! token limit too).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use spendguard::money::PricePerToken;
use spendguard::prices::{ModelPrice, Rates};
use spendguard::{CallPlan, TaskBudget, Usage, Usd};

const TASKS: usize = 64;

fn price() -> Arc<ModelPrice> {
    // Prices with sub-nano parts, so rounding is exercised too.
    Arc::new(ModelPrice::new(
        "racer",
        Rates::new(
            PricePerToken::per_million(0.15).unwrap(),
            PricePerToken::per_million(0.6).unwrap(),
        )
        .with_cache_read(PricePerToken::per_million(0.075).unwrap()),
    ))
}

/// A budget of `limit` dollars: lock-free, or with a token limit that
/// never binds but keeps it on the locked path.
fn budget(limit: Usd, locked: bool) -> TaskBudget {
    if !locked {
        return TaskBudget::new(limit);
    }
    TaskBudget::builder("locked")
        .max_cost(limit)
        .max_tokens(u64::MAX)
        .build()
        .unwrap()
}

/// How one task ends a reservation.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// Settle with this share (in percent) of the reserved prompt and output.
    Settle {
        input_pct: u64,
        output_pct: u64,
        cached_pct: u64,
    },
    Release,
    Drop,
}

fn ending() -> impl Strategy<Value = Ending> {
    prop_oneof![
        6 => (0u64..=100, 0u64..=100, 0u64..=100).prop_map(|(input_pct, output_pct, cached_pct)| {
            Ending::Settle { input_pct, output_pct, cached_pct }
        }),
        2 => Just(Ending::Release),
        1 => Just(Ending::Drop),
    ]
}

/// A call: its prompt, its output limit, how many answers it asks for (OpenAI's
/// `n`), and how it ends.
fn call() -> impl Strategy<Value = (u64, u64, u64, Ending)> {
    (
        1u64..200_000,
        1u64..8_000,
        prop_oneof![3 => Just(1u64), 1 => 2u64..=8],
        ending(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn spend_never_passes_the_limit_and_equals_settled_costs(
        limit_cents in 1u64..500,
        calls in prop::collection::vec(prop::collection::vec(call(), 1..12), TASKS),
        locked in any::<bool>(),
    ) {
        let limit = Usd::from_cents(limit_cents);
        let budget = budget(limit, locked);
        let price = price();
        let billed = AtomicU64::new(0);
        let worst_seen = AtomicU64::new(0);

        let outcomes: Vec<Result<(), TestCaseError>> = std::thread::scope(|scope| {
            let tasks: Vec<_> = calls.iter().map(|task_calls| {
                let (budget, price, billed, worst_seen) = (&budget, &price, &billed, &worst_seen);
                scope.spawn(move || {
                    for &(input, max_output, choices, ending) in task_calls {
                        let plan = CallPlan::new(price, input)
                            .with_max_output_tokens(max_output)
                            .with_choices(choices);
                        let Ok(reservation) = budget.reserve(plan) else { continue };
                        let snapshot = budget.snapshot();
                        let committed = snapshot.spent.nanos() + snapshot.in_flight.nanos();
                        worst_seen.fetch_max(committed, Ordering::Relaxed);
                        match ending {
                            Ending::Settle { input_pct, output_pct, cached_pct } => {
                                let prompt = input * input_pct / 100;
                                let cached = prompt * cached_pct / 100;
                                let usage = Usage {
                                    input_tokens: prompt - cached,
                                    cache_read_tokens: cached,
                                    // Every answer may run to the limit.
                                    output_tokens: reservation.max_output_tokens() * choices * output_pct / 100,
                                    ..Usage::default()
                                };
                                let receipt = reservation.settle(&usage);
                                prop_assert!(receipt.cost <= receipt.reserved);
                                billed.fetch_add(receipt.cost.nanos(), Ordering::Relaxed);
                            }
                            Ending::Release => reservation.release(),
                            Ending::Drop => {
                                billed.fetch_add(reservation.reserved_cost().nanos(), Ordering::Relaxed);
                                drop(reservation);
                            }
                        }
                    }
                    Ok(())
                })
            }).collect();
            tasks.into_iter().map(|task| task.join().expect("a racing task panicked")).collect()
        });
        for outcome in outcomes {
            outcome?;
        }

        let snapshot = budget.snapshot();
        prop_assert!(worst_seen.load(Ordering::Relaxed) <= limit.nanos());
        prop_assert_eq!(snapshot.in_flight, Usd::ZERO);
        prop_assert_eq!(snapshot.calls_in_flight, 0);
        prop_assert_eq!(snapshot.spent.nanos(), billed.load(Ordering::Relaxed));
        prop_assert!(snapshot.spent <= limit);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Providers that count more input than the reservation assumed (up to
    /// four times the estimate): each such bill is recorded in full and
    /// marked, and spend passes the limit by no more than the overruns
    /// (README, "How far past a cap"), each at most the extra input's price.
    #[test]
    fn over_reported_input_passes_the_limit_by_at_most_the_overruns(
        limit_cents in 1u64..500,
        calls in prop::collection::vec(
            prop::collection::vec((1u64..200_000, 1u64..8_000, 0u64..=400, 0u64..=100), 1..12),
            TASKS,
        ),
        locked in any::<bool>(),
    ) {
        let limit = Usd::from_cents(limit_cents);
        let budget = budget(limit, locked);
        let price = price();
        let overruns = AtomicU64::new(0);

        let outcomes: Vec<Result<(), TestCaseError>> = std::thread::scope(|scope| {
            let tasks: Vec<_> = calls.iter().map(|task_calls| {
                let (budget, price, overruns) = (&budget, &price, &overruns);
                scope.spawn(move || {
                    for &(input, max_output, input_pct, output_pct) in task_calls {
                        let plan = CallPlan::new(price, input).with_max_output_tokens(max_output);
                        let Ok(reservation) = budget.reserve(plan) else { continue };
                        let reported = input * input_pct / 100;
                        let output = reservation.max_output_tokens() * output_pct / 100;
                        let receipt = reservation.settle(&Usage::new(reported, output));
                        let over = receipt.cost.saturating_sub(receipt.reserved);
                        prop_assert_eq!(receipt.overran, (!over.is_zero()).then_some(over));
                        let extra_input = price.cost(&Usage::new(reported.saturating_sub(input), 0));
                        prop_assert!(over <= extra_input + Usd::from_nanos(1));
                        overruns.fetch_add(over.nanos(), Ordering::Relaxed);
                    }
                    Ok(())
                })
            }).collect();
            tasks.into_iter().map(|task| task.join().expect("a racing task panicked")).collect()
        });
        for outcome in outcomes {
            outcome?;
        }

        let snapshot = budget.snapshot();
        prop_assert_eq!(snapshot.in_flight, Usd::ZERO);
        let overruns = Usd::from_nanos(overruns.load(Ordering::Relaxed));
        prop_assert!(snapshot.spent <= limit + overruns, "{} > {} + {}", snapshot.spent, limit, overruns);
    }
}

/// The async wrapper under a multi-threaded runtime: 64 tasks, each looping
/// until refused, never overspend and are all eventually refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_async_tasks_stop_at_the_limit() {
    let limit = Usd::from_dollars(0.50).unwrap();
    let budget = TaskBudget::new(limit);
    let price = price();
    let mut handles = Vec::new();
    for task in 0..TASKS as u64 {
        let (budget, price) = (budget.clone(), price.clone());
        handles.push(tokio::spawn(async move {
            let mut spent = Usd::ZERO;
            loop {
                let plan = CallPlan::new(&price, 10_000 + task).with_max_output_tokens(2_000);
                let step = budget.run(plan, |grant| async move {
                    tokio::task::yield_now().await;
                    Ok::<_, std::convert::Infallible>((
                        (),
                        Usage::new(10_000 + task, grant.max_output_tokens / 2),
                    ))
                });
                match step.await {
                    Ok(((), receipt)) => spent += receipt.cost,
                    Err(spendguard::budget::StepError::Budget(refusal)) => {
                        assert_eq!(refusal.limit, spendguard::budget::LimitKind::Cost);
                        return spent;
                    }
                    Err(spendguard::budget::StepError::Step(never)) => match never {},
                }
            }
        }));
    }
    let mut total = Usd::ZERO;
    for handle in handles {
        total += handle.await.unwrap();
    }
    let snapshot = budget.snapshot();
    assert_eq!(snapshot.spent, total);
    assert!(snapshot.spent <= limit);
    // The budget was used up, not abandoned early: less than one call's
    // worst case is left.
    let worst_case = price.worst_case(
        10_063,
        2_000,
        spendguard::usage::ServiceTier::Standard,
        None,
    );
    assert!(limit.saturating_sub(snapshot.spent) < worst_case);
}
