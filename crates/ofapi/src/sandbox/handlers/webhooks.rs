//! `webhooks`: the team's webhook registrations (team-level routes, no
//! `{account}`). Sending the events is `sandbox::deliveries`' job.

use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::Call;
use super::common::{forbidden, string_list};
use crate::sandbox::data::Webhook;
use crate::sandbox::{Failure, Outcome, State};

/// What a webhook can subscribe to, with the descriptions of
/// `webhooks__available-events.md`.
const EVENTS: &[(&str, &str)] = &[
    (
        "accounts.connected",
        "A new OnlyFans account was connected.",
    ),
    (
        "accounts.reconnected",
        "An OnlyFans account was reconnected.",
    ),
    (
        "accounts.session_expired",
        "OnlyFans account connection has expired, but we automatically re-connected it using our system - you don't need to do anything.",
    ),
    (
        "accounts.authentication_failed",
        "OnlyFans account connection has expired, and we couldn't automatically re-connect it using our system. You need to reconnect with our /authenticate endpoint or manually in our dashboard.",
    ),
    (
        "accounts.otp_code_required",
        "A two-factor authentication code is required to connect one of your OnlyFans accounts.",
    ),
    (
        "accounts.face_otp_required",
        "Face verification is required to connect one of your OnlyFans accounts.",
    ),
    (
        "transactions.new",
        "A new transaction has been received from a fan (eg. a subscription, a tip, a post, etc.).",
    ),
    ("messages.received", "New message received from a fan."),
    (
        "messages.sent",
        "A new message has been sent from one of your OnlyFans accounts to a fan.",
    ),
    (
        "messages.ppv.unlocked",
        "A PPV message that you sent has been purchased by a fan.",
    ),
    ("messages.deleted", "A chat message was deleted."),
    (
        "chat_queue.updated",
        "A queued message batch has been updated (e.g. progress change).",
    ),
    (
        "chat_queue.finished",
        "A queued message batch has finished sending.",
    ),
    ("tips.received", "A new tip has been received from a fan."),
    ("subscriptions.new", "A new fan has subscribed."),
    (
        "subscriptions.renewed",
        "A fan has renewed their subscription.",
    ),
    ("posts.liked", "A fan has liked one of your posts."),
    ("users.typing", "A fan is typing a message."),
    ("users.online", "A fan was detected as online."),
    (
        "users.offline",
        "A fan that was previously detected as online was detected as offline.",
    ),
    (
        "data_exports.calculating_credits",
        "Credit calculation has started for a data export.",
    ),
    (
        "data_exports.calculating_credits_completed",
        "Credit calculation has completed successfully for a data export.",
    ),
    (
        "data_exports.calculating_credits_failed",
        "Credit calculation has failed for a data export.",
    ),
    (
        "data_exports.in_progress",
        "A data export is now in progress.",
    ),
    (
        "data_exports.completed",
        "A data export has completed successfully. The payload includes a temporary download URL that expires after 1 hour.",
    ),
    (
        "data_exports.failed",
        "A data export has failed. The failed_reason field is only included when the failure was due to insufficient credits.",
    ),
    ("data_exports.cancelled", "A data export was cancelled."),
    (
        "fan_summary.completed",
        "An AI Fan Profile Summary has finished generating. This event fires for both new summaries and regenerations, and is dispatched after the summary completes successfully.",
    ),
];

/// The SDK's webhook model; the secret itself is never shown.
fn webhook_json(webhook: &Webhook) -> Value {
    json!({
        "id": webhook.id,
        "url": webhook.url,
        "events": webhook.events,
        "enabled": webhook.enabled,
        "has_signing_secret": webhook.signing_secret.is_some(),
        "created_at": webhook.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    })
}

fn find_webhook(state: &State, call: &Call) -> Result<usize, Failure> {
    let id = call.params.get("webhook_id").map_or("", String::as_str);
    state
        .data
        .webhooks
        .iter()
        .position(|w| w.id == id)
        .ok_or_else(|| Failure::not_found("Webhook"))
}

/// What create and update both take: URL, events and account scope.
struct Settings {
    url: String,
    events: Vec<String>,
    account_scope: String,
    account_ids: Vec<String>,
}

fn settings(state: &State, call: &Call) -> Result<Settings, Failure> {
    let url = match call.body.get("endpoint_url") {
        None | Some(Value::Null) => {
            return Err(Failure::invalid(
                "endpoint_url",
                "The endpoint url field is required.",
            ));
        }
        Some(Value::String(url)) => url.trim().to_owned(),
        Some(_) => {
            return Err(Failure::invalid(
                "endpoint_url",
                "The endpoint url must be a string.",
            ));
        }
    };
    if !reqwest::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        return Err(Failure::invalid(
            "endpoint_url",
            "The endpoint url must be a valid http or https URL.",
        ));
    }
    let events = string_list(call, "events")?;
    if events.is_empty() {
        return Err(Failure::invalid(
            "events",
            "The events field is required: name at least one event.",
        ));
    }
    if let Some(unknown) = events
        .iter()
        .find(|e| !EVENTS.iter().any(|(name, _)| name == e))
    {
        return Err(Failure::invalid(
            "events",
            &format!("The event `{unknown}` is not available (see GET /api/webhooks/events)."),
        ));
    }
    let account_scope = match call.body.get("account_scope").and_then(Value::as_str) {
        Some(scope @ ("global" | "inclusive" | "exclusive")) => scope.to_owned(),
        _ => {
            return Err(Failure::invalid(
                "account_scope",
                "The account scope must be one of: global, inclusive, exclusive.",
            ));
        }
    };
    let mut account_ids = string_list(call, "account_ids")?;
    if account_scope == "global" {
        account_ids.clear();
    } else if account_ids.is_empty() {
        return Err(Failure::invalid(
            "account_ids",
            "The account ids field is required unless the account scope is global.",
        ));
    }
    if let Some(unknown) = account_ids
        .iter()
        .find(|id| state.data.account(id).is_none())
    {
        return Err(forbidden(unknown));
    }
    let mut unique = Vec::new();
    for event in events {
        if !unique.contains(&event) {
            unique.push(event);
        }
    }
    Ok(Settings {
        url,
        events: unique,
        account_scope,
        account_ids,
    })
}

pub(super) fn list_webhooks(state: &mut State, _call: &Call) -> Result<Outcome, Failure> {
    Ok(Outcome::ok(Value::Array(
        state.data.webhooks.iter().map(webhook_json).collect(),
    )))
}

pub(super) fn create_webhook(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let settings = settings(state, call)?;
    let signing_secret = match call.body.get("signing_secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(secret)) if secret.trim().is_empty() => None,
        Some(Value::String(secret)) => Some(secret.clone()),
        Some(_) => {
            return Err(Failure::invalid(
                "signing_secret",
                "The signing secret must be a string.",
            ));
        }
    };
    let webhook = Webhook {
        id: format!("wh_{}", state.data.next_id()),
        url: settings.url,
        events: settings.events,
        account_scope: settings.account_scope,
        account_ids: settings.account_ids,
        signing_secret,
        enabled: true,
        created_at: state.data.now,
    };
    let answer = webhook_json(&webhook);
    state.data.webhooks.push(webhook);
    Ok(Outcome::ok(answer))
}

pub(super) fn show_webhook(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let index = find_webhook(state, call)?;
    Ok(Outcome::ok(webhook_json(&state.data.webhooks[index])))
}

/// Takes what create takes plus `enabled`, but never the secret: the SDK's
/// update has no `signing_secret`, so rotating it means a new webhook.
pub(super) fn update_webhook(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let index = find_webhook(state, call)?;
    if call.body.get("signing_secret").is_some() {
        return Err(Failure::invalid(
            "signing_secret",
            "The signing secret cannot be changed; create a new webhook to rotate it.",
        ));
    }
    let enabled = match call.body.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(enabled)) => Some(*enabled),
        Some(_) => {
            return Err(Failure::invalid(
                "enabled",
                "The enabled field must be true or false.",
            ));
        }
    };
    let settings = settings(state, call)?;
    let webhook = &mut state.data.webhooks[index];
    webhook.url = settings.url;
    webhook.events = settings.events;
    webhook.account_scope = settings.account_scope;
    webhook.account_ids = settings.account_ids;
    if let Some(enabled) = enabled {
        webhook.enabled = enabled;
    }
    Ok(Outcome::ok(webhook_json(webhook)))
}

pub(super) fn delete_webhook(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let index = find_webhook(state, call)?;
    state.data.webhooks.remove(index);
    Ok(Outcome::ok(json!({"success": true})))
}

pub(super) fn list_webhook_events(_state: &mut State, _call: &Call) -> Result<Outcome, Failure> {
    Ok(Outcome::ok(Value::Array(
        EVENTS
            .iter()
            .map(|(value, description)| json!({"value": value, "description": description}))
            .collect(),
    )))
}
