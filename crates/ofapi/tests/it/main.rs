//! Integration tests of the OnlyFansAPI layer, all on 127.0.0.1: the client
//! against scripted fakes (failure cases) and against the sandbox, the
//! catalog, the official Python SDK against the sandbox, and the sandbox's
//! webhook deliveries to a receiver in the test.

mod catalog;
mod client;
mod sandbox;
mod sdk_conformance;
mod webhooks;

use agencybot_core::Secret;
use agencybot_ofapi::sandbox::{Sandbox, SandboxConfig};
use agencybot_ofapi::{Client, ClientConfig, RetryPolicy};
use std::time::Duration;

pub const KEY: &str = "ofapi_sandbox_test_key";

/// A client for `base_url` with quick retries.
pub fn client(base_url: &str) -> Client {
    let mut config = ClientConfig::new(base_url, Secret::new(KEY));
    config.timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    };
    Client::new(config).expect("client")
}

/// A sandbox with a fixed seed and clock, so every run sees the same agency.
pub async fn sandbox() -> Sandbox {
    let mut config = SandboxConfig::new(KEY);
    config.now = chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    Sandbox::start(config, 0).await.expect("sandbox starts")
}
