//! A mock provider and a `GuardedClient` pointed at it.

// Test binaries that include `support` without calling the client use none
// of this.
#![allow(dead_code)]

use spendguard::{ApiKey, GuardedClient, Provider};

use super::mock_provider::{MockConfig, MockProvider};

/// The API key every test client sends; long enough that a leak of any
/// eight characters of it is caught.
pub const TEST_KEY: &str = "sk-test-0123456789abcdef";

/// Starts a mock provider on loopback.
pub async fn start_mock(config: MockConfig) -> MockProvider {
    MockProvider::start(config)
        .await
        .expect("the mock provider starts")
}

/// A client for `provider` aimed at `mock`, sending [`TEST_KEY`].
pub fn client_for(provider: Provider, mock: &MockProvider) -> GuardedClient {
    let base = match provider {
        // Compatible servers are addressed with their version in the base URL.
        Provider::OpenAiCompatible => format!("{}/v1", mock.base_url()),
        _ => mock.base_url(),
    };
    GuardedClient::builder(provider)
        .base_url(base)
        .api_key(ApiKey::new(TEST_KEY))
        .build()
        .unwrap()
}
