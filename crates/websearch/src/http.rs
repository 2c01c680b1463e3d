//! What every provider's HTTP exchange shares: statuses to errors, a
//! bounded body, JSON.

use std::time::Duration;

use serde_json::Value;

use crate::SearchError;

/// Answers larger than this are not read.
const MAX_BODY: usize = 2 * 1024 * 1024;

/// A client with the timeout and without a default crypto provider issue.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, SearchError> {
    let _ = rustls_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .build()
        .map_err(|err| SearchError::Network(err.to_string()))
}

fn rustls_provider() -> bool {
    rustls::crypto::ring::default_provider()
        .install_default()
        .is_ok()
}

/// Sends the request and reads its JSON; `key_hint` names the key setting
/// for a 401.
pub(crate) async fn json(
    request: reqwest::RequestBuilder,
    key_hint: &str,
) -> Result<Value, SearchError> {
    let response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    match status {
        200..=299 => {}
        401 | 403 => {
            return Err(SearchError::Auth {
                status,
                key_hint: key_hint.to_owned(),
            });
        }
        429 => {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(SearchError::RateLimited { retry_after });
        }
        other => return Err(SearchError::Upstream(other)),
    }
    let bytes = response.bytes().await.map_err(transport)?;
    if bytes.len() > MAX_BODY {
        return Err(SearchError::BadResponse(format!(
            "the answer is larger than {MAX_BODY} bytes"
        )));
    }
    serde_json::from_slice(&bytes).map_err(|err| SearchError::BadResponse(err.to_string()))
}

fn transport(err: reqwest::Error) -> SearchError {
    if err.is_timeout() {
        SearchError::Timeout
    } else {
        SearchError::Network(
            std::error::Error::source(&err).map_or_else(|| err.to_string(), ToString::to_string),
        )
    }
}

/// A string field of a JSON object, if any.
pub(crate) fn text(value: &Value, field: &str) -> Option<String> {
    value.get(field).and_then(Value::as_str).map(str::to_owned)
}
