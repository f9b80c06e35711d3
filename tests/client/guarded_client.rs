//! GuardedClient against a real HTTP server on loopback: every provider
//! flavour is priced from its own usage report, the output ceiling reaches
//! the wire, failures become typed errors that bill only what may have been
//! billed, and what the provider bills never exceeds the budget.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use spendguard::budget::OutputCeiling;
use spendguard::client::CostSource;
use spendguard::{ApiKey, ClientError, GuardedClient, PriceTable, Provider, TaskBudget, Usd};
use support::guarded::{client_for as client, start_mock as mock, TEST_KEY as KEY};
use support::mock_provider::{Behaviour, MockConfig};

fn budget(dollars: f64) -> TaskBudget {
    TaskBudget::builder("test")
        .max_cost(Usd::from_dollars(dollars).unwrap())
        .build()
        .unwrap()
}

fn request(provider: Provider, model: &str) -> Value {
    let text = "Summarise the incident report in three bullet points.";
    match provider {
        Provider::OpenAiResponses => {
            json!({"model": model, "instructions": "Be brief.", "input": text})
        }
        Provider::Anthropic => {
            json!({"model": model, "system": "Be brief.", "messages": [{"role": "user", "content": text}]})
        }
        Provider::Gemini => {
            json!({"model": model, "contents": [{"role": "user", "parts": [{"text": text}]}]})
        }
        _ => {
            json!({"model": model, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]})
        }
    }
}

const FLAVOURS: [(Provider, &str); 5] = [
    (Provider::OpenAiChat, "gpt-4o"),
    (Provider::OpenAiResponses, "gpt-5"),
    (Provider::OpenAiCompatible, "gpt-4o-mini"),
    (Provider::Anthropic, "claude-sonnet-4-5"),
    (Provider::Gemini, "gemini-2.5-pro"),
];

#[tokio::test]
async fn every_flavour_is_priced_from_its_own_usage_report() {
    for (provider, model) in FLAVOURS {
        let mock = mock(MockConfig {
            reply_tokens: 40,
            cached_percent: 50,
            reasoning_tokens: 30,
            ..MockConfig::default()
        })
        .await;
        let budget = budget(1.0);
        let answer = client(provider, &mock)
            .send(&budget, &request(provider, model))
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        mock.idle().await;
        let bills = mock.bills();
        assert_eq!(bills.len(), 1, "{provider}");
        assert_eq!(answer.receipt.source, CostSource::Reported, "{provider}");
        assert_eq!(answer.receipt.usage, bills[0].usage, "{provider}: buckets");
        assert_eq!(answer.receipt.cost, bills[0].cost, "{provider}: cost");
        assert!(answer.receipt.cost > Usd::ZERO, "{provider}");
        assert_eq!(budget.snapshot().spent, bills[0].cost, "{provider}");
        assert_eq!(budget.snapshot().in_flight, Usd::ZERO, "{provider}");
        let received = &mock.received_requests()[0];
        assert_eq!(
            received.api_key.as_deref(),
            Some(KEY),
            "{provider}: credential"
        );
        assert_eq!(
            received.max_output_tokens,
            Some(4_096),
            "{provider}: ceiling injected"
        );
    }
}

#[tokio::test]
async fn a_larger_max_tokens_is_clamped_on_the_wire_and_other_fields_pass_through() {
    let mock = mock(MockConfig::default()).await;
    let budget = TaskBudget::builder("t")
        .max_cost(Usd::from_dollars(1.0).unwrap())
        .output_ceiling(OutputCeiling::clamping(1_000))
        .build()
        .unwrap();
    let mut body = request(Provider::OpenAiChat, "gpt-4o");
    body["max_tokens"] = json!(100_000);
    body["temperature"] = json!(0.2);
    body["metadata"] = json!({"run": "nightly"});
    client(Provider::OpenAiChat, &mock)
        .send(&budget, &body)
        .await
        .unwrap();
    let received = &mock.received_requests()[0];
    assert_eq!(received.body["max_tokens"], 1_000);
    assert_eq!(received.body["temperature"], 0.2);
    assert_eq!(received.body["metadata"], json!({"run": "nightly"}));
}

#[tokio::test]
async fn a_refused_call_is_never_sent() {
    let mock = mock(MockConfig::default()).await;
    let budget = budget(0.000_01);
    let error = client(Provider::OpenAiChat, &mock)
        .send(&budget, &request(Provider::OpenAiChat, "gpt-4o"))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Budget(_)), "{error}");
    assert_eq!(mock.requests(), 0);
}

#[tokio::test]
async fn an_unknown_model_is_refused_before_sending() {
    let mock = mock(MockConfig::default()).await;
    let error = client(Provider::OpenAiChat, &mock)
        .send(
            &budget(1.0),
            &request(Provider::OpenAiChat, "gpt-9-imaginary"),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Price(_)), "{error}");
    assert_eq!(mock.requests(), 0);
}

#[tokio::test]
async fn provider_refusals_release_the_reservation_with_a_typed_error() {
    let cases: [(Provider, u16, Option<Duration>); 9] = [
        (Provider::OpenAiChat, 400, None),
        (Provider::OpenAiChat, 401, None),
        (Provider::OpenAiChat, 404, None),
        (Provider::OpenAiChat, 422, None),
        (Provider::OpenAiChat, 402, None),
        (Provider::OpenAiChat, 429, Some(Duration::from_secs(2))),
        (Provider::Gemini, 500, None),
        (Provider::OpenAiResponses, 503, Some(Duration::from_secs(1))),
        (Provider::Anthropic, 529, None),
    ];
    for (provider, code, retry_after) in cases {
        let mock = mock(MockConfig::default()).await;
        mock.push(Behaviour::Status {
            code,
            retry_after,
            body: None,
        });
        let budget = budget(1.0);
        let model = FLAVOURS.iter().find(|(p, _)| *p == provider).unwrap().1;
        let error = client(provider, &mock)
            .send(&budget, &request(provider, model))
            .await
            .unwrap_err();
        let snapshot = budget.snapshot();
        assert_eq!(
            (snapshot.spent, snapshot.in_flight),
            (Usd::ZERO, Usd::ZERO),
            "{code}: {error}"
        );
        assert_eq!(error.retry_after(), retry_after, "{code}: {error}");
        match code {
            402 => assert!(
                matches!(error, ClientError::PaymentRequired { .. }),
                "{error}"
            ),
            429 => assert!(matches!(error, ClientError::RateLimited { .. }), "{error}"),
            500..=599 => assert!(
                matches!(error, ClientError::ProviderFailed { status, .. } if status == code),
                "{error}"
            ),
            _ => assert!(
                matches!(error, ClientError::Rejected { status, .. } if status == code),
                "{error}"
            ),
        }
        assert_eq!(
            error.is_retryable(),
            matches!(code, 429 | 500..=599),
            "{code}"
        );
    }
}

#[tokio::test]
async fn a_missing_or_implausible_usage_report_is_settled_from_the_estimate() {
    for behaviour in [Behaviour::NoUsage, Behaviour::ZeroUsage] {
        let mock = mock(MockConfig::default()).await;
        mock.push(behaviour.clone());
        let budget = budget(1.0);
        let answer = client(Provider::OpenAiChat, &mock)
            .send(&budget, &request(Provider::OpenAiChat, "gpt-4o"))
            .await
            .unwrap();
        assert!(
            matches!(answer.receipt.source, CostSource::Estimated { .. }),
            "{behaviour:?}"
        );
        mock.idle().await;
        // Never $0, and never less than what the provider actually billed.
        assert!(answer.receipt.cost >= mock.billed(), "{behaviour:?}");
        assert_eq!(budget.snapshot().spent, answer.receipt.cost);
    }
}

#[tokio::test]
async fn a_timeout_after_sending_is_billed_at_the_worst_case() {
    let mock = mock(MockConfig::default()).await;
    mock.push(Behaviour::Delay(Duration::from_secs(5)));
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(KEY))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let budget = budget(1.0);
    let error = client
        .send(&budget, &request(Provider::OpenAiChat, "gpt-4o"))
        .await
        .unwrap_err();
    let ClientError::Interrupted { billed, .. } = error else {
        panic!("expected Interrupted, got {error}");
    };
    assert_eq!(budget.snapshot().spent, billed);
    assert_eq!(budget.snapshot().abandoned, 1);
    mock.idle().await;
    assert!(billed >= mock.billed());
}

#[tokio::test]
async fn an_unreachable_server_bills_nothing() {
    // Bind a port, then close it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(format!("http://127.0.0.1:{port}"))
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    let budget = budget(1.0);
    let error = client
        .send(&budget, &request(Provider::OpenAiChat, "gpt-4o"))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Unreachable { .. }), "{error}");
    assert_eq!(budget.snapshot().spent, Usd::ZERO);
}

#[tokio::test]
async fn the_api_key_never_reaches_errors_or_debug_output() {
    let mock = mock(MockConfig::default()).await;
    let echo = format!(r#"{{"error": {{"message": "Incorrect API key provided: {KEY}"}}}}"#);
    mock.push(Behaviour::Status {
        code: 401,
        retry_after: None,
        body: Some(echo),
    });
    let client = client(Provider::OpenAiChat, &mock);
    let error = client
        .send(&budget(1.0), &request(Provider::OpenAiChat, "gpt-4o"))
        .await
        .unwrap_err();
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{client:?}"),
    ] {
        assert!(!shown.contains("0123456789"), "the key leaked: {shown}");
    }
    assert!(error.to_string().contains("Incorrect API key provided"));
}

#[tokio::test]
async fn a_malformed_request_is_refused_with_the_field_named() {
    let mock = mock(MockConfig::default()).await;
    let client = client(Provider::OpenAiChat, &mock);
    let body = json!({"model": "gpt-4o", "messages": "not a list"});
    let error = client.send(&budget(1.0), &body).await.unwrap_err();
    assert!(matches!(error, ClientError::RequestShape(_)), "{error}");
    assert!(error.to_string().contains("messages"), "{error}");
    assert_eq!(mock.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_never_make_the_provider_bill_more_than_the_budget() {
    let mock = mock(MockConfig {
        reply_tokens: 200,
        ..MockConfig::default()
    })
    .await;
    let client = client(Provider::OpenAiChat, &mock);
    let limit = Usd::from_dollars(0.25).unwrap();
    let budget = TaskBudget::new(limit);
    let body = Arc::new(request(Provider::OpenAiChat, "gpt-4o"));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (client, budget, body) = (client.clone(), budget.clone(), Arc::clone(&body));
        tasks.push(tokio::spawn(async move {
            loop {
                match client.send(&budget, &body).await {
                    Ok(_) => {}
                    Err(ClientError::Budget(_)) => return,
                    Err(other) => panic!("unexpected failure: {other}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    mock.idle().await;
    let billed = mock.billed();
    assert!(
        billed <= limit,
        "the provider billed {billed}, over the {limit} budget"
    );
    assert_eq!(budget.snapshot().spent, billed);
    assert!(mock.requests() > 64, "the budget should allow many calls");
}

#[tokio::test]
async fn a_custom_price_table_prices_the_call() {
    let mock = mock(MockConfig::default()).await;
    let mut prices = PriceTable::clone(&PriceTable::bundled());
    prices.alias("house-model", "gpt-4o").unwrap();
    let client = GuardedClient::builder(Provider::OpenAiChat)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(KEY))
        .prices(Arc::new(prices))
        .build()
        .unwrap();
    let answer = client
        .send(&budget(1.0), &request(Provider::OpenAiChat, "house-model"))
        .await;
    // The mock itself cannot price "house-model" and refuses it with 404:
    // the guard priced and sent it, then released it on the refusal.
    assert!(
        matches!(answer, Err(ClientError::Rejected { status: 404, .. })),
        "{answer:?}"
    );
    assert_eq!(mock.requests(), 1);
}

#[tokio::test]
async fn a_streaming_request_sent_with_send_is_refused_before_sending() {
    let mock = mock(MockConfig::default()).await;
    let mut body = request(Provider::OpenAiChat, "gpt-4o");
    body["stream"] = json!(true);
    let error = client(Provider::OpenAiChat, &mock)
        .send(&budget(1.0), &body)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("GuardedClient::stream"),
        "{error}"
    );
    assert_eq!(mock.requests(), 0);
}

#[tokio::test]
async fn an_estimated_call_is_billed_at_the_tier_it_asked_for() {
    let mock = mock(MockConfig::default()).await;
    mock.push(Behaviour::NoUsage);
    let mut body = request(Provider::OpenAiChat, "gpt-5");
    body["service_tier"] = json!("priority");
    let answer = client(Provider::OpenAiChat, &mock)
        .send(&budget(1.0), &body)
        .await
        .unwrap();
    assert!(matches!(
        answer.receipt.source,
        CostSource::Estimated { .. }
    ));
    assert_eq!(
        answer.receipt.usage.service_tier,
        spendguard::usage::ServiceTier::Priority
    );
    let standard = PriceTable::bundled()
        .resolve("gpt-5")
        .unwrap()
        .price()
        .cost(
            &answer
                .receipt
                .usage
                .with_service_tier(spendguard::usage::ServiceTier::Standard),
        );
    assert!(
        answer.receipt.cost > standard,
        "priority must cost more than standard"
    );
}

#[tokio::test]
async fn a_user_supplied_http_client_still_sends_the_credential_and_headers() {
    let mock = mock(MockConfig::default()).await;
    let client = GuardedClient::builder(Provider::Anthropic)
        .base_url(mock.base_url())
        .api_key(ApiKey::new(KEY))
        .header("x-route", "nightly")
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    client
        .send(
            &budget(1.0),
            &request(Provider::Anthropic, "claude-sonnet-4-5"),
        )
        .await
        .unwrap();
    let received = &mock.received_requests()[0];
    assert_eq!(received.api_key.as_deref(), Some(KEY));
    assert_eq!(received.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(received.header("x-route"), Some("nightly"));
}

#[tokio::test]
async fn every_answer_asked_for_is_reserved_so_n_answers_cannot_pass_the_cap() {
    let mock = mock(MockConfig {
        reply_tokens: 40,
        ..MockConfig::default()
    })
    .await;
    let client = client(Provider::OpenAiChat, &mock);
    let mut body = request(Provider::OpenAiChat, "gpt-4o");
    body["max_tokens"] = json!(40);
    // One answer's worst case ($0.0005) fits; eight ($0.0033) do not.
    let budget = budget(0.001);
    body["n"] = json!(8);
    let refused = client.send(&budget, &body).await.unwrap_err();
    assert!(matches!(refused, ClientError::Budget(_)), "{refused}");
    assert_eq!(mock.requests(), 0, "a refused call is never sent");

    body["n"] = json!(2);
    let answer = client.send(&budget, &body).await.unwrap();
    assert_eq!(answer.body["choices"].as_array().unwrap().len(), 2);
    assert_eq!(answer.receipt.usage.output_tokens, 80);
    assert_eq!(mock.billed(), answer.receipt.cost);
    assert!(budget.snapshot().spent <= Usd::from_dollars(0.001).unwrap());
}
