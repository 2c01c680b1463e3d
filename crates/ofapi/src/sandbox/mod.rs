//! A local server that speaks the OnlyFansAPI protocol over synthetic data.
//!
//! The real API has no sandbox; this one lets tests, and agencies that want
//! to rehearse, use agencybot without touching real accounts. It serves the
//! endpoints the bot uses most (see [`handlers`]) over deterministic data for
//! three creator accounts covering the last 90 days ([`data`]). Every other
//! catalog endpoint answers 501 "not simulated" in the API's error format.
//!
//! Protocol details kept faithful: bearer-key auth (401 otherwise), the
//! `data` / `_pagination.next_page` / `_meta` envelope and the `x-ofapi-*`
//! headers, credits debited per the documented cost table, and a per-minute
//! rate limit answering 429 with `Retry-After`.
//!
//! Webhooks registered through the API are delivered as OnlyFansAPI sends
//! them ([`deliveries`]), for events that tests cause through the
//! `/_sandbox/…` control routes ([`control`]): a fan writes, tips or
//! subscribes, or any event is emitted or redelivered.

mod control;
mod data;
mod deliveries;
mod handlers;
mod shapes;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::Catalog;
pub use data::{
    Account, Chat, ChatMessage, Fan, SandboxData, Transaction, TransactionKind, Webhook,
};
pub use deliveries::{Delivery, DeliveryStatus};

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The one API key accepted.
    pub api_key: String,
    /// Seed of the synthetic data: the same seed gives the same agency.
    pub seed: u64,
    /// "Now" for the data: the 90 days of history end here.
    pub now: DateTime<Utc>,
    /// Requests per minute before 429; 0 for no limit.
    pub rate_limit_per_minute: u32,
    pub initial_credits: i64,
    /// Items per page when a request names no limit.
    pub default_page_size: usize,
}

impl SandboxConfig {
    #[must_use]
    pub fn new(api_key: impl Into<String>) -> Self {
        SandboxConfig {
            api_key: api_key.into(),
            seed: 42,
            now: Utc::now(),
            rate_limit_per_minute: 0,
            initial_credits: 100_000,
            default_page_size: 20,
        }
    }
}

/// What a simulated endpoint answered.
pub(crate) struct Outcome {
    pub data: Value,
    pub next_page: Option<String>,
    /// Credits this request costs (1 unless the cost table says otherwise).
    pub credits: i64,
    pub status: StatusCode,
}

impl Outcome {
    pub(crate) fn ok(data: Value) -> Self {
        Outcome {
            data,
            next_page: None,
            credits: 1,
            status: StatusCode::OK,
        }
    }
}

/// An error answer in the API's format.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: StatusCode,
    pub body: Value,
}

impl Failure {
    pub(crate) fn not_found(what: &str) -> Self {
        Failure {
            status: StatusCode::NOT_FOUND,
            body: json!({"error": "NOT_FOUND", "message": format!("{what} not found.")}),
        }
    }

    /// A validation error, as the API reports missing or invalid parameters.
    pub(crate) fn invalid(field: &str, message: &str) -> Self {
        Failure {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({"message": message, "errors": {field: [message]}}),
        }
    }

    /// OnlyFans itself refused, wrapped the way the API wraps it.
    pub(crate) fn onlyfans(message: &str) -> Self {
        Failure {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "error": "ONLYFANS_COM_ERROR",
                "message": "Bad Request - The request could not be understood by the server.",
                "description": "This error happened most probably because of a bug in the OnlyFans.com API or you sent wrong parameters (like a non-existing user id).",
                "onlyfans_response": {
                    "status": 400,
                    "body": {"error": {"code": 0, "message": message}}
                }
            }),
        }
    }
}

pub(crate) struct State {
    pub config: SandboxConfig,
    pub data: SandboxData,
    pub balance: i64,
    pub credits_used: i64,
    window_start: Instant,
    window_count: u32,
    /// Values the SDK's models could not take (see `shapes`), newest last.
    mismatches: Vec<String>,
    /// Base URL the sandbox is reached at, for `next_page` links.
    pub base_url: String,
    /// How long answers to writes are held back (after the write applies).
    pub write_delay: Option<std::time::Duration>,
    /// The next request is answered 429 with this `Retry-After`, once.
    pub throttle_next: Option<Duration>,
    /// Every request received, as "METHOD /path?query", oldest first
    /// (the newest `REQUESTS_KEPT`).
    requests: Vec<String>,
    /// Webhook deliveries queued by a write, sent by whoever ran it once
    /// the lock is released (the control routes, `Sandbox::fan_message`).
    outbox: Vec<deliveries::Pending>,
    /// Every delivery attempt, oldest first.
    deliveries: Vec<Delivery>,
}

/// Requests the log keeps.
const REQUESTS_KEPT: usize = 10_000;

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Sandbox {
    /// Starts on `127.0.0.1:port` (0 picks a free port).
    pub async fn start(config: SandboxConfig, port: u16) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        Sandbox::serve(config, listener).await
    }

    /// Serves on a listener the caller bound (any address).
    pub async fn serve(
        config: SandboxConfig,
        listener: tokio::net::TcpListener,
    ) -> std::io::Result<Sandbox> {
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::new(config, format!("http://{addr}"))));
        let app = router(state.clone());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = server.await {
                tracing::error!(%err, "sandbox server stopped");
            }
        });
        Ok(Sandbox {
            addr,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL to give the client, e.g. `http://127.0.0.1:41234`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    #[must_use]
    pub fn credits_used(&self) -> i64 {
        lock(&self.state).credits_used
    }

    #[must_use]
    pub fn balance(&self) -> i64 {
        lock(&self.state).balance
    }

    /// Every request received, as "METHOD /path?query", oldest first: tests
    /// count how often an endpoint was reached.
    #[must_use]
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }

    /// Values that did not fit the SDK's response models and were sent as `null`.
    #[must_use]
    pub fn shape_mismatches(&self) -> Vec<String> {
        lock(&self.state).mismatches.clone()
    }

    /// Every webhook delivery attempt, oldest first: what was sent where,
    /// and what the receiver answered.
    #[must_use]
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.state).deliveries.clone()
    }

    /// A message from `fan_id` in their chat with `account`, as the control
    /// route `…/chats/{fan_id}/fan-message` posts it: one more unread, and
    /// `messages.received` sent to the webhooks subscribed to it. `None`
    /// when the account or the fan is not in the sandbox.
    pub async fn fan_message(&self, account: &str, fan_id: i64, text: &str) -> Option<ChatMessage> {
        let (message, pending) = {
            let mut state = lock(&self.state);
            let index = state.data.accounts.iter().position(|a| a.id == account)?;
            let message =
                handlers::receive_fan_message(&mut state, index, fan_id, text.to_owned(), 0.0)
                    .ok()?;
            (message, std::mem::take(&mut state.outbox))
        };
        let sent = deliveries::send(pending).await;
        lock(&self.state).record(sent);
        Some(message)
    }

    /// Reads the current data (tests check what writes changed).
    pub fn inspect<T>(&self, read: impl FnOnce(&SandboxData) -> T) -> T {
        read(&lock(&self.state).data)
    }

    /// Changes the data (tests plant chats, fans or failures).
    /// Holds back every answer to a write (non-GET request) by `delay`,
    /// after the write took effect: how a slow API looks to a client.
    pub fn delay_writes(&self, delay: Option<std::time::Duration>) {
        lock(&self.state).write_delay = delay;
    }

    /// Answers the next request 429 with `Retry-After: wait`, once: a
    /// rate limit met in the middle of a turn.
    pub fn throttle_next(&self, wait: Duration) {
        lock(&self.state).throttle_next = Some(wait);
    }

    pub fn modify<T>(&self, change: impl FnOnce(&mut SandboxData) -> T) -> T {
        change(&mut lock(&self.state).data)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A poisoned lock only means a handler panicked mid-request; the data is
/// still usable for the next one.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The whole API surface: every path goes through one handler that does
/// what the real API does before and after the endpoint itself.
pub fn router_for(config: SandboxConfig) -> axum::Router {
    router(Arc::new(Mutex::new(State::new(
        config,
        "http://127.0.0.1".into(),
    ))))
}

fn router(state: Arc<Mutex<State>>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

async fn handle(
    AxumState(state): AxumState<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path().starts_with(control::PREFIX) {
        return control::handle(&state, &method, &uri, &headers, &body).await;
    }
    let delay = (method != Method::GET)
        .then(|| lock(&state).write_delay)
        .flatten();
    let response = answer(&state, method, uri, headers, body);
    // Events a write raised go out after the answer, as OnlyFansAPI sends
    // them: on their own, with the outcome written into the delivery log.
    let pending = std::mem::take(&mut lock(&state).outbox);
    if !pending.is_empty() {
        let state = state.clone();
        tokio::spawn(async move {
            let sent = deliveries::send(pending).await;
            lock(&state).record(sent);
        });
    }
    // The write is applied before the wait: a client that gives up meanwhile
    // has made a change it never heard about, as on a slow real API.
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

fn answer(
    state: &Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = lock(state);
    if let Some(refused) = admit(&mut state, &method, &uri, &headers) {
        return refused;
    }
    if let Some(retry_after) = state.throttle_next.take().or_else(|| state.rate_limited()) {
        return error_response(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"message": "Too Many Attempts."}),
            &state,
            Some(retry_after),
        );
    }
    let query = parse_query(uri.query().unwrap_or(""));
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(err) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    json!({"message": format!("The request body is not valid JSON: {err}")}),
                    &state,
                    None,
                );
            }
        }
    };
    let Some((endpoint, params)) = Catalog::onlyfans().match_request(method.as_str(), uri.path())
    else {
        return error_response(
            StatusCode::NOT_FOUND,
            json!({"message": format!("The route {} could not be found.", uri.path())}),
            &state,
            None,
        );
    };
    let request = handlers::Call {
        endpoint: endpoint.id.as_str(),
        path: uri.path(),
        params,
        query,
        body,
    };
    let outcome = match handlers::dispatch(&mut state, &request) {
        Some(Ok(outcome)) => outcome,
        Some(Err(failure)) => {
            // OnlyFans errors still cost the request; validation ones do not.
            let credits = i64::from(
                failure
                    .body
                    .get("error")
                    .is_some_and(|e| e == "ONLYFANS_COM_ERROR"),
            );
            state.debit(credits);
            return error_response(
                failure.status,
                with_meta(failure.body, credits, &state),
                &state,
                None,
            );
        }
        None => {
            return error_response(
                StatusCode::NOT_IMPLEMENTED,
                json!({
                    "error": "NOT_SIMULATED",
                    "message": format!(
                        "{} {} ({}) is not simulated in the sandbox; it works against the real OnlyFansAPI only.",
                        endpoint.method, endpoint.path, endpoint.id
                    ),
                }),
                &state,
                None,
            );
        }
    };
    state.debit(outcome.credits);
    let envelope = if shapes::is_whole_response(&endpoint.id) {
        // A few endpoints answer without the `data` envelope; objects still
        // get `_meta`, bare lists cannot (the headers carry the credits).
        match outcome.data {
            Value::Object(_) => with_meta(outcome.data, outcome.credits, &state),
            other => other,
        }
    } else {
        let mut envelope = json!({"data": outcome.data});
        if let Some(next_page) = outcome.next_page {
            envelope["_pagination"] = json!({"next_page": next_page});
        } else if handlers::is_paginated(&endpoint.id) {
            envelope["_pagination"] = json!({"next_page": null});
        }
        with_meta(envelope, outcome.credits, &state)
    };
    let mut response = (outcome.status, axum::Json(envelope)).into_response();
    add_headers(response.headers_mut(), &state, outcome.credits);
    response
}

/// What every request goes through first, control routes too: the log,
/// then the bearer key. Gives the 401 to send when the key is wrong.
fn admit(state: &mut State, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    if state.requests.len() == REQUESTS_KEPT {
        state.requests.remove(0);
    }
    let line = match uri.query() {
        Some(query) => format!("{method} {}?{query}", uri.path()),
        None => format!("{method} {}", uri.path()),
    };
    state.requests.push(line);
    let expected = format!("Bearer {}", state.config.api_key);
    let authorized = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    (!authorized).then(|| {
        error_response(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Unauthenticated."}),
            state,
            None,
        )
    })
}

impl State {
    fn new(config: SandboxConfig, base_url: String) -> Self {
        State {
            data: SandboxData::generate(config.seed, config.now),
            balance: config.initial_credits,
            credits_used: 0,
            window_start: Instant::now(),
            window_count: 0,
            mismatches: Vec::new(),
            base_url,
            write_delay: None,
            throttle_next: None,
            requests: Vec::new(),
            outbox: Vec::new(),
            deliveries: Vec::new(),
            config,
        }
    }

    pub(crate) fn record_mismatch(&mut self, mismatch: String) {
        const KEPT: usize = 1000;
        if self.mismatches.len() == KEPT {
            self.mismatches.remove(0);
        }
        self.mismatches.push(mismatch);
    }

    fn debit(&mut self, credits: i64) {
        self.balance -= credits;
        self.credits_used += credits;
    }

    /// Counts the request in the current minute; `Some(wait)` when over the limit.
    fn rate_limited(&mut self) -> Option<Duration> {
        let limit = self.config.rate_limit_per_minute;
        if limit == 0 {
            return None;
        }
        let window = Duration::from_secs(60);
        if self.window_start.elapsed() >= window {
            self.window_start = Instant::now();
            self.window_count = 0;
        }
        if self.window_count >= limit {
            return Some(window.saturating_sub(self.window_start.elapsed()));
        }
        self.window_count += 1;
        None
    }

    fn remaining_minute(&self) -> u32 {
        match self.config.rate_limit_per_minute {
            0 => u32::MAX,
            limit => limit.saturating_sub(self.window_count),
        }
    }
}

fn with_meta(mut envelope: Value, credits: i64, state: &State) -> Value {
    let limit = match state.config.rate_limit_per_minute {
        0 => Value::Null,
        limit => json!(limit),
    };
    let remaining = match state.config.rate_limit_per_minute {
        0 => Value::Null,
        _ => json!(state.remaining_minute()),
    };
    envelope["_meta"] = json!({
        "_credits": {"used": credits, "balance": state.balance, "note": "Always"},
        "_cache": {"is_cached": false, "note": "Cache disabled for this endpoint"},
        "_rate_limits": {
            "limit_minute": limit,
            "limit_day": null,
            "remaining_minute": remaining,
            "remaining_day": null,
            "notice": "Daily limits have been removed"
        }
    });
    envelope
}

fn add_headers(headers: &mut HeaderMap, state: &State, credits: i64) {
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("x-ofapi-credits-used", credits.to_string());
    set("x-ofapi-credits-balance", state.balance.to_string());
    set("x-ofapi-is-cached", "false".into());
    if state.config.rate_limit_per_minute > 0 {
        set(
            "x-rate-limit-limit-minute",
            state.config.rate_limit_per_minute.to_string(),
        );
        set(
            "x-rate-limit-remaining-minute",
            state.remaining_minute().to_string(),
        );
    }
}

fn error_response(
    status: StatusCode,
    body: Value,
    state: &State,
    retry_after: Option<Duration>,
) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    add_headers(response.headers_mut(), state, 0);
    if let Some(wait) = retry_after {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
    }
    response
}

/// `a=1&b=x%20y` → pairs, decoded (`+` is a space, as in forms).
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(key), decode(value))
        })
        .collect()
}
