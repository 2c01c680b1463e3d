//! The HTTP client: one request in, the envelope's data and what it cost out.

use std::time::{Duration, Instant};

use agencybot_core::Secret;
use rand::Rng;
use reqwest::Method;
use serde_json::{Map, Value};

use crate::catalog::{Access, Catalog};
use crate::{Error, ErrorKind};

pub const DEFAULT_BASE_URL: &str = "https://app.onlyfansapi.com";

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub api_key: Secret,
    /// For one attempt.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Largest answer read into memory; a larger one is an error rather
    /// than an out-of-memory risk.
    pub max_body_bytes: usize,
}

/// Default for [`ClientConfig::max_body_bytes`]: far above any page of data.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

impl ClientConfig {
    #[must_use]
    pub fn new(base_url: impl Into<String>, api_key: Secret) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            api_key,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

tokio::task_local! {
    static WAITS: std::sync::Arc<dyn Fn(Duration) + Send + Sync>;
}

/// Runs `calls`, telling `report` each time the API asks them to wait
/// (429 with `Retry-After`) before the client waits it out.
pub async fn reporting_waits<F: std::future::Future>(
    report: std::sync::Arc<dyn Fn(Duration) + Send + Sync>,
    calls: F,
) -> F::Output {
    WAITS.scope(report, calls).await
}

/// How reads are retried after 429, 5xx, timeouts and connection errors.
/// Writes are never retried: a write that may have reached OnlyFans must not
/// be sent twice.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    /// First backoff; doubles per attempt, with jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A 429 asking to wait longer than this is reported instead of waited out.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a random wait up to the exponential bound.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let bound = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let low = bound / 2;
        low + bound
            .saturating_sub(low)
            .mul_f64(rand::rng().random::<f64>())
    }
}

/// One API request, before it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// Absolute path with placeholders filled, e.g. `/api/acct_1/fans/top`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Decides whether the request may be retried.
    pub access: Access,
    /// `fresh=true`: bypass OnlyFansAPI's cache.
    pub fresh: bool,
}

impl Request {
    #[must_use]
    pub fn new(method: Method, path: impl Into<String>, access: Access) -> Self {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            access,
            fresh: false,
        }
    }

    /// A GET, which is a read.
    #[must_use]
    pub fn get(path: impl Into<String>) -> Self {
        Request::new(Method::GET, path, Access::Read)
    }

    #[must_use]
    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }
}

/// What a request cost, from `_meta` (or the `x-ofapi-*` headers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cost {
    pub credits_used: i64,
    pub balance: Option<i64>,
    pub cached: bool,
    pub cached_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimit {
    pub limit_minute: Option<i64>,
    pub remaining_minute: Option<i64>,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub data: Value,
    /// `_pagination.next_page`, when there are more pages.
    pub next_page: Option<String>,
    /// Summed over every attempt it took.
    pub cost: Cost,
    pub rate_limit: RateLimit,
    pub attempts: u32,
}

/// Items of every page of a paginated read.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    pub items: Vec<Value>,
    pub pages: u32,
    pub credits_used: i64,
    pub balance: Option<i64>,
    /// The next page the cap stopped us from fetching, if any.
    pub skipped_next_page: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: Secret,
    retry: RetryPolicy,
    max_body_bytes: usize,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        // reqwest is built without a default crypto provider; choose ring.
        // Installing twice is harmless (the second call reports it is set).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        if reqwest::Url::parse(&base_url).is_err() {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("invalid OnlyFansAPI base URL `{base_url}`"),
            ));
        }
        // After a burst, idle connections beyond a few are closed, so
        // descriptors go back to the idle level.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(16)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!(
                "agencybot/",
                env!("CARGO_PKG_VERSION"),
                " (+https://github.com/agencybot/agencybot)"
            ))
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|err| Error::new(ErrorKind::Network, format!("HTTP client: {err}")))?;
        Ok(Client {
            http,
            base_url,
            api_key: config.api_key,
            retry: config.retry,
            max_body_bytes: config.max_body_bytes,
        })
    }

    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Calls a catalog endpoint with arguments keyed as in its schema.
    pub async fn call(
        &self,
        endpoint_id: &str,
        arguments: &Map<String, Value>,
    ) -> Result<Response, Error> {
        let endpoint = Catalog::onlyfans().get(endpoint_id).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("unknown endpoint `{endpoint_id}`"),
            )
        })?;
        self.send(&endpoint.request(arguments)?).await
    }

    /// Sends the request, retrying reads per the retry policy.
    pub async fn send(&self, request: &Request) -> Result<Response, Error> {
        let url = format!("{}{}", self.base_url, request.path);
        self.send_to(request, &url).await
    }

    async fn send_to(&self, request: &Request, url: &str) -> Result<Response, Error> {
        let mut credits = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let result = self.attempt(request, url).await;
            tracing::debug!(
                method = %request.method,
                path = %request.path,
                attempt,
                elapsed_ms = started.elapsed().as_millis() as u64,
                ok = result.is_ok(),
                "OnlyFansAPI request"
            );
            match result {
                Ok(mut response) => {
                    response.cost.credits_used += credits;
                    response.attempts = attempt;
                    return Ok(response);
                }
                Err(mut error) => {
                    credits += error.credits_used;
                    error.credits_used = credits;
                    let retryable = request.access == Access::Read
                        && error.is_transient()
                        && attempt <= self.retry.max_retries;
                    if !retryable {
                        return Err(error);
                    }
                    let delay = match error.retry_after {
                        Some(wait) if error.kind == ErrorKind::RateLimited => {
                            if wait > self.retry.max_retry_after {
                                return Err(error);
                            }
                            // Whoever waits for this call hears why, and for how long.
                            let _ = WAITS.try_with(|report| report(wait));
                            wait + Duration::from_millis(rand::rng().random_range(0..250))
                        }
                        _ => self.retry.backoff(attempt),
                    };
                    tracing::warn!(
                        method = %request.method,
                        path = %request.path,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "retrying OnlyFansAPI read"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn attempt(&self, request: &Request, url: &str) -> Result<Response, Error> {
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .bearer_auth(self.api_key.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        let mut query = request.query.clone();
        if request.fresh {
            query.push(("fresh".into(), "true".into()));
        }
        if !query.is_empty() {
            builder = builder.query(&query);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let answer = builder.send().await.map_err(transport_error)?;
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let body = self.read_body(answer, status).await?;
        if !(200..300).contains(&status) {
            let mut error = Error::from_response(status, &body, retry_after(&headers));
            if error.credits_used == 0 {
                error.credits_used = header_i64(&headers, "x-ofapi-credits-used").unwrap_or(0);
            }
            return Err(error);
        }
        let envelope: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|err| {
                let mut error = Error::new(
                    ErrorKind::MalformedResponse,
                    format!("OnlyFansAPI answered {status} with a body that is not JSON ({err})"),
                );
                error.status = Some(status);
                error.credits_used = header_i64(&headers, "x-ofapi-credits-used").unwrap_or(0);
                error
            })?
        };
        Ok(parse_envelope(status, envelope, &headers))
    }

    /// The answer's body, refused past `max_body_bytes` (checked on the
    /// declared length and again while reading, since it may lie or be absent).
    async fn read_body(
        &self,
        mut answer: reqwest::Response,
        status: u16,
    ) -> Result<Vec<u8>, Error> {
        let limit = self.max_body_bytes;
        let too_large = || {
            let mut error = Error::new(
                ErrorKind::ResponseTooLarge,
                format!(
                    "OnlyFansAPI answered with more than {} MB, more than agencybot reads; ask for less (a shorter period, fewer items per page)",
                    limit / (1024 * 1024)
                ),
            );
            error.status = Some(status);
            error
        };
        if answer
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Follows `_pagination.next_page` from `request` for at most `max_pages`
    /// pages, collecting the items of each page's `data` (a list, or an
    /// object's `list`). Credits of every page are summed.
    pub async fn collect_pages(
        &self,
        request: &Request,
        max_pages: u32,
    ) -> Result<Collected, Error> {
        let mut collected = Collected {
            items: Vec::new(),
            pages: 0,
            credits_used: 0,
            balance: None,
            skipped_next_page: None,
        };
        let mut response = self.send(request).await?;
        loop {
            collected.pages += 1;
            collected.credits_used += response.cost.credits_used;
            collected.balance = response.cost.balance.or(collected.balance);
            collected.items.extend(page_items(response.data));
            let Some(next) = response.next_page else {
                break;
            };
            if collected.pages >= max_pages.max(1) {
                collected.skipped_next_page = Some(next);
                break;
            }
            let url = self.same_origin_url(&next)?;
            // Following a link repeats the first request's method, minus
            // its query (the link carries its own).
            let mut follow = request.clone();
            follow.query.clear();
            follow.fresh = false;
            response = match self.send_to(&follow, &url).await {
                Ok(response) => response,
                Err(mut error) => {
                    error.credits_used += collected.credits_used;
                    return Err(error);
                }
            };
        }
        Ok(collected)
    }

    /// `next_page` as an absolute URL on our base URL's origin: the API key
    /// is never sent to another host.
    fn same_origin_url(&self, next: &str) -> Result<String, Error> {
        if next.starts_with('/') {
            return Ok(format!("{}{next}", origin(&self.base_url)));
        }
        if origin(next) == origin(&self.base_url) {
            return Ok(next.to_owned());
        }
        Err(Error::new(
            ErrorKind::MalformedResponse,
            format!("refusing to follow a next page on another host: {next}"),
        ))
    }
}

fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => url.origin().ascii_serialization(),
        Err(_) => String::new(),
    }
}

/// The items of one page: `data` itself when it is a list, else its `list`.
fn page_items(data: Value) -> Vec<Value> {
    match data {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("list") {
            Some(Value::Array(items)) => items,
            _ => vec![Value::Object(map)],
        },
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn transport_error(err: reqwest::Error) -> Error {
    if err.is_timeout() {
        Error::new(ErrorKind::Timeout, "OnlyFansAPI did not answer in time")
    } else if !err.is_connect() {
        let reason =
            std::error::Error::source(&err).map_or_else(|| err.to_string(), ToString::to_string);
        Error::new(
            ErrorKind::ConnectionLost,
            format!("the connection to OnlyFansAPI broke: {reason}"),
        )
    } else {
        // The URL is fine to show (no key in it); the error's source says why.
        let reason =
            std::error::Error::source(&err).map_or_else(|| err.to_string(), ToString::to_string);
        Error::new(
            ErrorKind::Network,
            format!("cannot reach OnlyFansAPI: {reason}"),
        )
    }
}

fn header_i64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `Retry-After` in seconds or as an HTTP date.
#[must_use]
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn parse_envelope(status: u16, envelope: Value, headers: &reqwest::header::HeaderMap) -> Response {
    let meta = envelope.get("_meta");
    let credits = meta.and_then(|m| m.get("_credits"));
    let cache = meta.and_then(|m| m.get("_cache"));
    let limits = meta.and_then(|m| m.get("_rate_limits"));
    let int = |v: Option<&Value>, key: &str| v.and_then(|v| v.get(key)).and_then(Value::as_i64);
    let cost = Cost {
        credits_used: int(credits, "used")
            .or_else(|| header_i64(headers, "x-ofapi-credits-used"))
            .unwrap_or(0),
        balance: int(credits, "balance").or_else(|| header_i64(headers, "x-ofapi-credits-balance")),
        cached: cache
            .and_then(|c| c.get("is_cached"))
            .and_then(Value::as_bool)
            .or_else(|| {
                headers
                    .get("x-ofapi-is-cached")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.eq_ignore_ascii_case("true"))
            })
            .unwrap_or(false),
        cached_at: cache
            .and_then(|c| c.get("cached_at"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let rate_limit = RateLimit {
        limit_minute: int(limits, "limit_minute")
            .or_else(|| header_i64(headers, "x-rate-limit-limit-minute")),
        remaining_minute: int(limits, "remaining_minute")
            .or_else(|| header_i64(headers, "x-rate-limit-remaining-minute")),
    };
    let next_page = envelope
        .pointer("/_pagination/next_page")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let data = match envelope {
        Value::Object(mut map) if map.contains_key("data") => {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    };
    Response {
        status,
        data,
        next_page,
        cost,
        rate_limit,
        attempts: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_and_its_meta_are_parsed() {
        let body = serde_json::json!({
            "data": [{"id": 1}],
            "_pagination": {"next_page": "https://app.onlyfansapi.com/api/a/fans/all?offset=10"},
            "_meta": {
                "_credits": {"used": 1, "balance": 9852, "note": "Always"},
                "_cache": {"is_cached": false, "note": "Cache disabled"},
                "_rate_limits": {"limit_minute": 1000, "remaining_minute": 999}
            }
        });
        let response = parse_envelope(200, body, &reqwest::header::HeaderMap::new());
        assert_eq!(response.data, serde_json::json!([{"id": 1}]));
        assert_eq!(
            response.cost,
            Cost {
                credits_used: 1,
                balance: Some(9852),
                cached: false,
                cached_at: None
            }
        );
        assert_eq!(response.rate_limit.remaining_minute, Some(999));
        assert!(response.next_page.unwrap().ends_with("offset=10"));
    }

    #[test]
    fn headers_fill_in_missing_meta() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-ofapi-credits-used", "0".parse().unwrap());
        headers.insert("x-ofapi-credits-balance", "77".parse().unwrap());
        headers.insert("x-ofapi-is-cached", "true".parse().unwrap());
        let response = parse_envelope(200, serde_json::json!({"data": {"ok": true}}), &headers);
        assert_eq!(response.cost.balance, Some(77));
        assert!(response.cost.cached);
        assert!(response.next_page.is_none());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            assert!(policy.backoff(6) <= Duration::from_millis(300));
        }
    }

    #[test]
    fn page_items_are_found_in_lists_and_list_fields() {
        assert_eq!(page_items(serde_json::json!([1, 2])).len(), 2);
        assert_eq!(
            page_items(serde_json::json!({"list": [1, 2, 3], "hasMore": true})).len(),
            3
        );
        assert!(page_items(Value::Null).is_empty());
    }
}
