//! Guarded streams against a real HTTP server on loopback: the usage report
//! is asked for and billed, and a stream that ends early, breaks, garbles
//! or is abandoned is billed from what was counted, never $0.

use crate::support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use spendguard::client::{CostSource, GuardedStream};
use spendguard::{ClientError, Provider, TaskBudget, Usd};
use support::guarded::{client_for as client, start_mock as mock};
use support::mock_provider::{Behaviour, MockConfig};

fn budget() -> TaskBudget {
    TaskBudget::new(Usd::from_dollars(1.0).unwrap())
}

fn request(provider: Provider, model: &str) -> Value {
    let text = "Tell me a story about a retry loop that never ends.";
    match provider {
        Provider::OpenAiResponses => json!({"model": model, "input": text}),
        Provider::Anthropic => {
            json!({"model": model, "messages": [{"role": "user", "content": text}]})
        }
        Provider::Gemini => {
            json!({"model": model, "contents": [{"role": "user", "parts": [{"text": text}]}]})
        }
        _ => json!({"model": model, "messages": [{"role": "user", "content": text}]}),
    }
}

/// Reads a stream to its end: the number of events, and the error that
/// ended it, if any.
async fn drain(stream: &mut GuardedStream) -> (usize, Option<ClientError>) {
    let mut events = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(_) => events += 1,
            Err(error) => return (events, Some(error)),
        }
    }
    (events, None)
}

#[tokio::test]
async fn every_flavour_streams_and_is_billed_from_its_report() {
    for (provider, model) in [
        (Provider::OpenAiChat, "gpt-4o"),
        (Provider::OpenAiCompatible, "gpt-4o-mini"),
        (Provider::OpenAiResponses, "gpt-5"),
        (Provider::Anthropic, "claude-sonnet-4-5"),
        (Provider::Gemini, "gemini-2.5-flash"),
    ] {
        let mock = mock(MockConfig {
            reply_tokens: 60,
            cached_percent: 25,
            reasoning_tokens: 20,
            ..MockConfig::default()
        })
        .await;
        let budget = budget();
        let mut stream = client(provider, &mock)
            .stream(&budget, &request(provider, model))
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let (events, error) = drain(&mut stream).await;
        assert!(error.is_none(), "{provider}: {error:?}");
        assert!(events >= 5, "{provider}: only {events} events");
        mock.idle().await;
        let receipt = stream.receipt().expect("settled at the end").clone();
        assert_eq!(receipt.source, CostSource::Reported, "{provider}");
        assert_eq!(receipt.cost, mock.billed(), "{provider}");
        assert_eq!(budget.snapshot().spent, receipt.cost, "{provider}");
        assert_eq!(budget.snapshot().in_flight, Usd::ZERO, "{provider}");
        let received = &mock.received_requests()[0];
        assert!(received.stream, "{provider}: asked for a stream");
        assert_eq!(
            received.max_output_tokens,
            Some(4_096),
            "{provider}: ceiling"
        );
        if matches!(provider, Provider::OpenAiChat | Provider::OpenAiCompatible) {
            assert_eq!(received.body["stream_options"]["include_usage"], true);
        }
    }
}

#[tokio::test]
async fn a_stream_that_ends_early_breaks_or_garbles_is_billed_from_what_was_counted() {
    for behaviour in [
        Behaviour::TruncateStream { after_chunks: 2 },
        Behaviour::Disconnect { after_chunks: 2 },
        Behaviour::MalformedChunk { after_chunks: 2 },
    ] {
        for (provider, model) in [
            (Provider::OpenAiChat, "gpt-4o"),
            (Provider::Anthropic, "claude-sonnet-4-5"),
            (Provider::Gemini, "gemini-2.5-flash"),
        ] {
            let mock = mock(MockConfig {
                reply_tokens: 100,
                stream_chunks: 5,
                ..MockConfig::default()
            })
            .await;
            mock.push(behaviour.clone());
            let budget = budget();
            let mut stream = client(provider, &mock)
                .stream(&budget, &request(provider, model))
                .await
                .unwrap();
            let (_, error) = drain(&mut stream).await;
            let case = format!("{provider} {behaviour:?}");
            let Some(ClientError::StreamEndedEarly { billed, .. }) = error else {
                panic!("{case}: expected StreamEndedEarly, got {error:?}");
            };
            mock.idle().await;
            assert!(billed > Usd::ZERO, "{case}");
            // Billed for the prompt and every chunk received: at least what the
            // provider billed for the chunks it sent.
            assert!(
                billed >= mock.billed(),
                "{case}: billed {billed}, provider {}",
                mock.billed()
            );
            assert_eq!(budget.snapshot().spent, billed, "{case}");
            assert_eq!(budget.snapshot().in_flight, Usd::ZERO, "{case}");
            let receipt = stream.receipt().expect("settled");
            assert!(
                matches!(receipt.source, CostSource::Estimated { .. }),
                "{case}"
            );
        }
    }
}

#[tokio::test]
async fn an_implausible_or_missing_stream_report_is_billed_from_the_count() {
    for behaviour in [Behaviour::ZeroUsage, Behaviour::NoUsage] {
        let mock = mock(MockConfig::default()).await;
        mock.push(behaviour.clone());
        let budget = budget();
        let mut stream = client(Provider::OpenAiChat, &mock)
            .stream(&budget, &request(Provider::OpenAiChat, "gpt-4o"))
            .await
            .unwrap();
        let (_, error) = drain(&mut stream).await;
        assert!(error.is_none(), "{behaviour:?}: {error:?}");
        mock.idle().await;
        let receipt = stream.receipt().unwrap();
        assert!(
            matches!(receipt.source, CostSource::Estimated { .. }),
            "{behaviour:?}"
        );
        assert!(receipt.cost >= mock.billed(), "{behaviour:?}");
    }
}

#[tokio::test]
async fn a_refusal_before_streaming_releases_the_reservation() {
    let mock = mock(MockConfig::default()).await;
    mock.push(Behaviour::Status {
        code: 429,
        retry_after: Some(Duration::from_secs(3)),
        body: None,
    });
    let budget = budget();
    let error = client(Provider::Anthropic, &mock)
        .stream(&budget, &request(Provider::Anthropic, "claude-sonnet-4-5"))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::RateLimited { .. }), "{error}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(budget.snapshot().spent, Usd::ZERO);
    assert_eq!(budget.snapshot().in_flight, Usd::ZERO);
}

#[tokio::test]
async fn a_stream_refused_by_the_budget_is_never_sent() {
    let mock = mock(MockConfig::default()).await;
    let budget = TaskBudget::new(Usd::from_nanos(1));
    let error = client(Provider::OpenAiChat, &mock)
        .stream(&budget, &request(Provider::OpenAiChat, "gpt-4o"))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Budget(_)), "{error}");
    assert_eq!(mock.requests(), 0);
}

#[tokio::test]
async fn an_abandoned_stream_is_billed_for_what_it_received_not_its_worst_case() {
    let mock = mock(MockConfig {
        reply_tokens: 400,
        stream_chunks: 40,
        ..MockConfig::default()
    })
    .await;
    mock.push(Behaviour::SlowStream {
        chunk_delay: Duration::from_millis(30),
    });
    let budget = budget();
    let mut stream = client(Provider::OpenAiChat, &mock)
        .stream(&budget, &request(Provider::OpenAiChat, "gpt-4o"))
        .await
        .unwrap();
    for _ in 0..4 {
        stream.next().await.unwrap().unwrap();
    }
    let receipt = stream.cancel();
    mock.idle().await;
    assert!(matches!(receipt.source, CostSource::Estimated { .. }));
    assert!(receipt.cost > Usd::ZERO);
    assert!(receipt.cost < receipt.reserved, "billed at the worst case");
    assert_eq!(budget.snapshot().spent, receipt.cost);
    assert_eq!(budget.snapshot().abandoned, 0);
    // The provider stopped soon after: it billed at most a few chunks more
    // than were read (10 tokens a chunk at gpt-4o's $10/M output price),
    // far from the 400-token answer.
    let few_chunks = Usd::from_nanos(6 * 10 * 10_000);
    assert!(
        mock.billed() <= receipt.cost + few_chunks,
        "provider billed {}, guard recorded {}",
        mock.billed(),
        receipt.cost
    );
}

#[tokio::test]
async fn a_provider_that_ignores_max_tokens_is_cut_off_and_billed_for_what_it_sent() {
    let mock = mock(MockConfig {
        reply_tokens: 2_000,
        stream_chunks: 200,
        ..MockConfig::default()
    })
    .await;
    mock.push(Behaviour::IgnoreMaxTokens {
        chunk_delay: Duration::from_millis(15),
    });
    let budget = budget();
    let mut body = request(Provider::OpenAiChat, "gpt-4o");
    body["max_tokens"] = json!(200);
    let mut stream = client(Provider::OpenAiChat, &mock)
        .stream(&budget, &body)
        .await
        .unwrap();
    let (events, error) = drain(&mut stream).await;
    let Some(ClientError::StreamCutOff { reason, billed, .. }) = error else {
        panic!("expected a cut-off, got {error:?}");
    };
    assert!(
        matches!(
            reason,
            spendguard::client::CutOffReason::OutputLimitIgnored { granted: 200, .. }
        ),
        "{reason}"
    );
    // Reading stopped soon after the limit and its slack (250 tokens, at 10
    // tokens an event), long before the 2,000-token answer was over.
    assert!(events < 40, "{events} events were read");
    let receipt = stream.receipt().unwrap();
    assert!(receipt.usage.billed_output_tokens() >= 250);
    assert_eq!(budget.snapshot().spent, billed);
    mock.idle().await;
    // The provider stopped a few chunks after the connection closed: it
    // billed at most a few chunks (10 tokens each at $10/M; a loaded machine
    // may deschedule the reader for a chunk or two) more than the guard
    // recorded, far from the 2,000-token answer.
    let few_chunks = Usd::from_nanos(6 * 10 * 10_000);
    assert!(
        mock.billed() <= billed + few_chunks,
        "the provider billed {}, the guard {billed}",
        mock.billed()
    );
}

#[tokio::test]
async fn each_of_n_streamed_answers_is_metered_against_its_own_limit() {
    let mock = mock(MockConfig {
        reply_tokens: 27,
        stream_chunks: 27,
        ..MockConfig::default()
    })
    .await;
    let budget = budget();
    let mut body = request(Provider::OpenAiChat, "gpt-4o");
    body["max_tokens"] = json!(40);
    body["n"] = json!(3);
    // Metered as one answer, 81 tokens would pass 40 and its slack.
    mock.push(Behaviour::NoUsage);
    let mut stream = client(Provider::OpenAiChat, &mock)
        .stream(&budget, &body)
        .await
        .unwrap();
    let (_, error) = drain(&mut stream).await;
    assert!(error.is_none(), "{error:?}");
    let receipt = stream.receipt().unwrap();
    assert_eq!(receipt.usage.output_tokens, 81, "every answer is billed");
    // Three answers of 40 tokens at $10 per million reserved, prompt aside.
    assert!(
        receipt.reserved > Usd::from_dollars(0.0012).unwrap(),
        "{}",
        receipt.reserved
    );

    // A provider that ignores the limit is still cut off, answer by answer.
    let mock = mock_ignoring(3).await;
    let mut stream = client(Provider::OpenAiChat, &mock)
        .stream(&budget, &body)
        .await
        .unwrap();
    let (_, error) = drain(&mut stream).await;
    assert!(
        matches!(
            error,
            Some(ClientError::StreamCutOff {
                reason: spendguard::client::CutOffReason::OutputLimitIgnored { granted: 40, .. },
                ..
            })
        ),
        "{error:?}"
    );
    // Cut off once one answer passed 40 tokens and the 32-token slack, the
    // other two just behind it, not once all three together passed it.
    let output = stream.receipt().unwrap().usage.output_tokens;
    assert!((3 * 70..=3 * 80).contains(&output), "{output}");
}

/// A mock whose next answer runs to 400 tokens whatever the limit, in
/// pieces of `tokens_per_chunk`.
async fn mock_ignoring(tokens_per_chunk: usize) -> support::mock_provider::MockProvider {
    let mock = mock(MockConfig {
        reply_tokens: 400,
        stream_chunks: 400 / tokens_per_chunk,
        ..MockConfig::default()
    })
    .await;
    mock.push(Behaviour::IgnoreMaxTokens {
        chunk_delay: Duration::from_millis(1),
    });
    mock
}

#[tokio::test]
async fn a_stream_past_its_reservation_stops_before_it_takes_spend_past_the_cap() {
    let mock = mock(MockConfig {
        reply_tokens: 4_000,
        stream_chunks: 400,
        ..MockConfig::default()
    })
    .await;
    mock.push(Behaviour::IgnoreMaxTokens {
        chunk_delay: Duration::from_millis(1),
    });
    let mut body = request(Provider::OpenAiChat, "gpt-4o");
    body["max_tokens"] = json!(2_000);
    // Room for the reservation and 100 more output tokens ($10 per
    // million), far less than the 500-token slack of the output limit.
    let prompt = spendguard::tokens::count_request("gpt-4o", &body)
        .unwrap()
        .tokens;
    let worst_case = spendguard::PriceTable::bundled()
        .resolve("gpt-4o")
        .unwrap()
        .price()
        .worst_case(
            prompt,
            2_000,
            spendguard::usage::ServiceTier::Standard,
            None,
        );
    let cap = worst_case + Usd::from_dollars(0.001).unwrap();
    let budget = TaskBudget::new(cap);
    let mut stream = client(Provider::OpenAiChat, &mock)
        .stream(&budget, &body)
        .await
        .unwrap();
    let (_, error) = drain(&mut stream).await;
    let Some(ClientError::StreamCutOff { reason, billed, .. }) = error else {
        panic!("expected a cut-off, got {error:?}");
    };
    assert!(
        matches!(reason, spendguard::client::CutOffReason::Budget(_)),
        "{reason}"
    );
    assert!(billed <= cap, "billed {billed} on a cap of {cap}");
    assert!(budget.snapshot().spent <= cap);
    // Past its reservation, and stopped once the next chunk (10 tokens,
    // bounded by its 50 bytes) might not fit.
    let output = stream.receipt().unwrap().usage.output_tokens;
    assert!((2_050..=2_100).contains(&output), "{output}");
}

/// A client aimed at `mock` with the given deadline and idle timeout.
fn client_with_timeouts(
    mock: &support::mock_provider::MockProvider,
    timeout: Duration,
    idle: Option<Duration>,
) -> spendguard::GuardedClient {
    spendguard::GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(spendguard::ApiKey::new(support::guarded::TEST_KEY))
        .timeout(timeout)
        .idle_timeout(idle)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_healthy_stream_outlives_the_deadline_and_a_stalled_one_ends_at_the_idle_timeout() {
    let mock = mock(MockConfig {
        reply_tokens: 40,
        stream_chunks: 8,
        ..MockConfig::default()
    })
    .await;
    // A chunk every 100 ms, well past a 300 ms deadline for the answer to start.
    mock.push(Behaviour::SlowStream {
        chunk_delay: Duration::from_millis(100),
    });
    let client = client_with_timeouts(
        &mock,
        Duration::from_millis(300),
        Some(Duration::from_secs(5)),
    );
    let budget = budget();
    let mut stream = client
        .stream(&budget, &request(Provider::OpenAiChat, "gpt-4o"))
        .await
        .unwrap();
    let (_, error) = drain(&mut stream).await;
    assert!(error.is_none(), "{error:?}");
    assert!(stream.receipt().unwrap().is_reported());

    // Two chunks, then nothing: given up after the idle timeout, not the
    // minute-long deadline, and billed for what came.
    mock.push(Behaviour::Stall { after_chunks: 2 });
    let client = client_with_timeouts(
        &mock,
        Duration::from_secs(60),
        Some(Duration::from_millis(200)),
    );
    let mut stream = client
        .stream(&budget, &request(Provider::OpenAiChat, "gpt-4o"))
        .await
        .unwrap();
    let (events, error) = drain(&mut stream).await;
    let Some(ClientError::StreamEndedEarly { detail, billed, .. }) = error else {
        panic!("expected the idle timeout to end it, got {error:?}");
    };
    assert!(detail.contains("idle timeout"), "{detail}");
    assert_eq!(events, 3, "the opening chunk and two of text");
    assert!(billed > Usd::ZERO);
    assert_eq!(stream.receipt().unwrap().usage.output_tokens, 10);
    mock.idle().await;
    assert_eq!(
        mock.bills().last().unwrap().cost,
        billed,
        "the provider billed what the guard counted"
    );
}

#[tokio::test]
async fn stream_with_retry_retries_until_the_first_event_and_never_after() {
    let mock = mock(MockConfig::default()).await;
    mock.push(Behaviour::status(429));
    mock.push(Behaviour::status(503));
    let client = client_with_timeouts(
        &mock,
        Duration::from_secs(60),
        Some(Duration::from_millis(200)),
    );
    let quick = spendguard::client::RetryPolicy::new()
        .with_base_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(5));
    let budget = budget();
    let body = request(Provider::OpenAiChat, "gpt-4o");
    let mut stream = client
        .stream_with_retry(&budget, &body, &quick)
        .await
        .unwrap();
    let (events, error) = drain(&mut stream).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events, 8, "the first event read ahead is yielded first");
    assert_eq!(mock.requests(), 3);

    // Broken after its first event: the answer has begun, and is not retried.
    mock.push(Behaviour::Disconnect { after_chunks: 2 });
    let before = mock.requests();
    let mut stream = client
        .stream_with_retry(&budget, &body, &quick)
        .await
        .unwrap();
    let (_, error) = drain(&mut stream).await;
    assert!(
        matches!(error, Some(ClientError::StreamEndedEarly { .. })),
        "{error:?}"
    );
    assert_eq!(mock.requests(), before + 1);
}
