//! `HttpGuardLayer` in a plain tower stack over `reqwest::Client`, against
//! the loopback mock provider: a body the guard cannot read, a model
//! without a price, or a path it does not know is refused with nothing
//! sent; an unknown path passes only when the guard is told to let it.

use crate::support;

use serde_json::json;
use spendguard::client::exchange::{ExchangeError, HttpGuard, Unguardable};
use spendguard::client::tower::HttpGuardLayer;
use spendguard::{ClientError, TaskBudget, Usd};
use support::guarded::{start_mock, TEST_KEY};
use support::mock_provider::MockConfig;
use tower::ServiceExt;

fn guarded(http_guard: HttpGuard) -> spendguard::client::tower::HttpGuardService<reqwest::Client> {
    tower::ServiceBuilder::new()
        .layer(HttpGuardLayer::new(http_guard))
        .service(reqwest::Client::new())
}

fn budget() -> TaskBudget {
    TaskBudget::new(Usd::from_dollars(1.0).unwrap())
}

fn post(url: String, body: impl Into<reqwest::Body>) -> reqwest::Request {
    reqwest::Client::new()
        .post(url)
        .bearer_auth(TEST_KEY)
        .header("content-type", "application/json")
        .body(body)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_raw_request_is_guarded_and_billed_as_the_mock_billed_it() {
    let mock = start_mock(MockConfig::default()).await;
    let http_guard = HttpGuard::builder(budget()).build();
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let url = format!("{}/v1/chat/completions", mock.base_url());
    let response = guarded(http_guard.clone())
        .oneshot(post(url, body.to_string()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt = response
        .extensions()
        .get::<spendguard::client::CallReceipt>()
        .cloned();
    response.bytes().await.unwrap();
    assert_eq!(receipt.unwrap().cost, mock.billed());
    assert_eq!(http_guard.budget().snapshot().spent, mock.billed());
}

#[tokio::test]
async fn unreadable_requests_are_refused_with_nothing_sent() {
    let mock = start_mock(MockConfig::default()).await;
    let http_guard = HttpGuard::builder(budget()).build();
    let chat = format!("{}/v1/chat/completions", mock.base_url());

    let error = guarded(http_guard.clone())
        .oneshot(post(chat.clone(), "{\"model\": \"gpt-4o-mini\", oops"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ExchangeError::Unguardable {
                reason: Unguardable::NotJson { .. },
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("nothing was sent"), "{error}");

    let unknown =
        json!({"model": "gpt-9-imaginary", "messages": [{"role": "user", "content": "hi"}]});
    let error = guarded(http_guard.clone())
        .oneshot(post(chat, unknown.to_string()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ExchangeError::Refused(ClientError::Price(_))),
        "{error}"
    );
    assert!(error.to_string().contains("gpt-9-imaginary"), "{error}");

    let models = reqwest::Client::new()
        .get(format!("{}/v1/models", mock.base_url()))
        .bearer_auth(TEST_KEY)
        .build()
        .unwrap();
    let error = guarded(http_guard.clone())
        .oneshot(models)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ExchangeError::Unguardable {
                reason: Unguardable::Method { .. },
                ..
            }
        ),
        "{error}"
    );
    let embeddings = format!("{}/v1/embeddings", mock.base_url());
    let error = guarded(http_guard.clone())
        .oneshot(post(embeddings, "{}"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ExchangeError::Unguardable {
                reason: Unguardable::UnknownPath { .. },
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(mock.requests(), 0);
    assert_eq!(http_guard.budget().snapshot().calls, 0);
}

#[tokio::test]
async fn an_unknown_path_passes_only_with_the_explicit_opt_in() {
    let mock = start_mock(MockConfig::default()).await;
    let http_guard = HttpGuard::builder(budget()).pass_unguarded(true).build();
    let models = reqwest::Client::new()
        .get(format!("{}/v1/models", mock.base_url()))
        .bearer_auth(TEST_KEY)
        .build()
        .unwrap();
    // The mock has no such route: the 404 says the request reached it.
    let response = guarded(http_guard.clone()).oneshot(models).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(http_guard.budget().snapshot().calls, 0);
    // A model call it cannot read is refused all the same.
    let chat = format!("{}/v1/chat/completions", mock.base_url());
    let error = guarded(http_guard)
        .oneshot(post(chat, "not json"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ExchangeError::Unguardable { .. }),
        "{error}"
    );
    assert_eq!(mock.requests(), 0);
}
