//! `/_sandbox/…`: what tests do to the sandbox that the API cannot: a fan
//! writes, tips or subscribes, an event is emitted or a delivery replayed.
//!
//! Not OnlyFansAPI routes: the same bearer key, but no credits, no rate
//! limit, no `_meta`. Every answer lists the webhook deliveries it caused
//! (`deliveries`), sent before it answers, so a test can assert on them.
//!
//! - `POST /_sandbox/accounts/{account}/chats/{fan_id}/fan-message`
//!   `{"text", "price"?}` → 201 `{"message", "deliveries"}` (`messages.received`)
//! - `POST /_sandbox/accounts/{account}/tips` `{"fan_id", "amount"}` (dollars)
//!   → 201 `{"transaction", "payload", "deliveries"}` (`tips.received`)
//! - `POST /_sandbox/accounts/{account}/subscribers` `{"fan_id"?}`
//!   → 201 `{"fan", "payload", "deliveries"}` (`subscriptions.new`)
//! - `POST /_sandbox/webhooks/emit` `{"event", "account_id"?, "payload"?}`
//!   → 200 `{"deliveries"}`
//! - `POST /_sandbox/webhooks/deliveries/{delivery_id}/redeliver`
//!   → 200 `{"deliveries"}`

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::handlers::{self, Call, Handler};
use super::{Delivery, Failure, Outcome, State, admit, deliveries, lock};

/// Where the control routes live; the catalog never sees these paths.
pub(super) const PREFIX: &str = "/_sandbox/";

pub(super) async fn handle(
    state: &Arc<Mutex<State>>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let (outcome, pending) = {
        let mut state = lock(state);
        if let Some(refused) = admit(&mut state, method, uri, headers) {
            return refused;
        }
        let outcome = route(&mut state, method, uri.path(), body);
        (outcome, std::mem::take(&mut state.outbox))
    };
    // Sent with the lock released: the receiver may call the sandbox back.
    let sent = deliveries::send(pending).await;
    let delivered = lock(state).record(sent);
    match outcome {
        Ok(outcome) => {
            let mut answer = match outcome.data {
                Value::Object(map) => Value::Object(map),
                _ => json!({}),
            };
            answer["deliveries"] = delivered.iter().map(Delivery::to_json).collect();
            reply(outcome.status, answer)
        }
        Err(failure) => reply(failure.status, failure.body),
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn route(state: &mut State, method: &Method, path: &str, body: &Bytes) -> Result<Outcome, Failure> {
    let segments: Vec<&str> = path
        .strip_prefix(PREFIX)
        .unwrap_or_default()
        .split('/')
        .collect();
    let (name, handler, params): (&str, Handler, Vec<(&str, &str)>) = match segments.as_slice() {
        ["accounts", account, "chats", fan, "fan-message"] => (
            "fan-message",
            handlers::post_fan_message,
            vec![("account", *account), ("fan_id", *fan)],
        ),
        ["accounts", account, "tips"] => ("tips", handlers::post_tip, vec![("account", *account)]),
        ["accounts", account, "subscribers"] => (
            "subscribers",
            handlers::post_subscriber,
            vec![("account", *account)],
        ),
        ["webhooks", "emit"] => ("emit", emit, Vec::new()),
        ["webhooks", "deliveries", delivery, "redeliver"] => {
            ("redeliver", redeliver, vec![("delivery_id", *delivery)])
        }
        _ => {
            return Err(Failure {
                status: StatusCode::NOT_FOUND,
                body: json!({"message": format!("The route {path} could not be found.")}),
            });
        }
    };
    if method != Method::POST {
        return Err(Failure {
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: json!({"message": format!(
                "The {method} method is not supported for route {path}. Supported methods: POST."
            )}),
        });
    }
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).map_err(|err| Failure {
            status: StatusCode::BAD_REQUEST,
            body: json!({"message": format!("The request body is not valid JSON: {err}")}),
        })?
    };
    let call = Call {
        endpoint: name,
        path,
        params: params
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect(),
        query: Vec::new(),
        body,
    };
    handler(state, &call)
}

/// Any event, as OnlyFansAPI would send it (account health, data exports…).
fn emit(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let event = call
        .body
        .get("event")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|event| !event.is_empty())
        .ok_or_else(|| Failure::invalid("event", "The event field is required."))?
        .to_owned();
    let account_id = match call.body.get("account_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(account)) => Some(account.clone()),
        Some(_) => {
            return Err(Failure::invalid(
                "account_id",
                "The account_id must be a string (omit it for team-level events).",
            ));
        }
    };
    let payload = call.body.get("payload").cloned().unwrap_or(json!({}));
    state.emit(&event, account_id.as_deref(), payload);
    Ok(Outcome::ok(json!({})))
}

fn redeliver(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let id = call.params.get("delivery_id").map_or("", String::as_str);
    state.redeliver(id)?;
    Ok(Outcome::ok(json!({})))
}
