//! Webhook deliveries, sent the way OnlyFansAPI sends them: one POST of
//! `{"event", "account_id", "payload"}` per subscribed webhook, signed
//! over the exact body bytes.
//!
//! Events are queued on the state while its lock is held and sent once it
//! is released (see `handle` in the parent), so a slow receiver never stalls
//! the API. Every attempt is kept in the deliveries log.

use std::time::Duration;

use agencybot_core::Secret;
use serde_json::{Value, json};

use super::{Failure, State};
use crate::webhooks::{Envelope, sign};

/// Events OnlyFansAPI sends without an idempotency key: they are ephemeral.
const EPHEMERAL_EVENTS: [&str; 3] = ["users.typing", "users.online", "users.offline"];

/// Deliveries the log keeps.
const DELIVERIES_KEPT: usize = 10_000;

/// One delivery attempt, as the sandbox logged it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// `dlv_<n>`, what `/_sandbox/webhooks/deliveries/{id}/redeliver` takes.
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub account_id: Option<String>,
    /// `evt_<n>`, the same on every redelivery; `None` for ephemeral events.
    pub idempotency_key: Option<String>,
    /// The delivery this one replays.
    pub redelivery_of: Option<String>,
    /// Where it was sent.
    pub url: String,
    /// The exact body sent (and signed).
    pub body: String,
    pub status: DeliveryStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Queued, not answered yet.
    Pending,
    /// The receiver answered with this HTTP status.
    Answered(u16),
    /// No answer: refused, timed out, not HTTP.
    Failed(String),
}

impl Delivery {
    /// How the control routes report it.
    pub(crate) fn to_json(&self) -> Value {
        let (status, error) = match &self.status {
            DeliveryStatus::Pending => (Value::Null, Value::Null),
            DeliveryStatus::Answered(code) => (json!(code), Value::Null),
            DeliveryStatus::Failed(error) => (Value::Null, json!(error)),
        };
        json!({
            "id": self.id,
            "webhook_id": self.webhook_id,
            "event": self.event,
            "idempotency_key": self.idempotency_key,
            "redelivery_of": self.redelivery_of,
            "status": status,
            "error": error,
        })
    }
}

/// A delivery ready to send, signed with the webhook's secret of the moment.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub delivery_id: String,
    url: String,
    body: String,
    signature: Option<String>,
    idempotency_key: Option<String>,
    redelivery_of: Option<String>,
}

impl State {
    /// Queues `event` for every enabled webhook subscribed to it whose
    /// scope covers the account (for team-level events, `payload.account_ids`).
    pub(crate) fn emit(&mut self, event: &str, account_id: Option<&str>, payload: Value) {
        let envelope = Envelope {
            event: event.to_owned(),
            account_id: account_id.map(str::to_owned),
            payload,
        };
        let accounts = envelope.accounts();
        let targets: Vec<usize> = self
            .data
            .webhooks
            .iter()
            .enumerate()
            .filter(|(_, w)| w.enabled && w.events.iter().any(|e| e == event))
            .filter(|(_, w)| w.covers(&accounts))
            .map(|(index, _)| index)
            .collect();
        if targets.is_empty() {
            return;
        }
        // Written by hand to keep the documented key order (a `Value`
        // object would sort them).
        let body = match &envelope.account_id {
            Some(account) => format!(
                r#"{{"event":{},"account_id":{},"payload":{}}}"#,
                json!(event),
                json!(account),
                envelope.payload
            ),
            // Team-level events (data exports) carry no `account_id`.
            None => format!(
                r#"{{"event":{},"payload":{}}}"#,
                json!(event),
                envelope.payload
            ),
        };
        let key =
            (!EPHEMERAL_EVENTS.contains(&event)).then(|| format!("evt_{}", self.data.next_id()));
        for index in targets {
            self.queue(index, event, account_id, body.clone(), key.clone(), None);
        }
    }

    /// Queues the logged delivery `id` again: the same body and idempotency
    /// key, to the webhook's current URL, signed with its current secret.
    pub(crate) fn redeliver(&mut self, id: &str) -> Result<(), Failure> {
        let original = self
            .deliveries
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .ok_or_else(|| Failure::not_found("Delivery"))?;
        let index = self
            .data
            .webhooks
            .iter()
            .position(|w| w.id == original.webhook_id)
            .ok_or_else(|| Failure::not_found("Webhook"))?;
        self.queue(
            index,
            &original.event,
            original.account_id.as_deref(),
            original.body,
            original.idempotency_key,
            Some(original.id),
        );
        Ok(())
    }

    fn queue(
        &mut self,
        webhook: usize,
        event: &str,
        account_id: Option<&str>,
        body: String,
        idempotency_key: Option<String>,
        redelivery_of: Option<String>,
    ) {
        let id = format!("dlv_{}", self.data.next_id());
        let webhook = &self.data.webhooks[webhook];
        let signature = webhook
            .signing_secret
            .as_ref()
            .map(|secret| sign(&Secret::new(secret.as_str()), body.as_bytes()));
        let pending = Pending {
            delivery_id: id.clone(),
            url: webhook.url.clone(),
            body: body.clone(),
            signature,
            idempotency_key: idempotency_key.clone(),
            redelivery_of: redelivery_of.clone(),
        };
        let delivery = Delivery {
            id,
            webhook_id: webhook.id.clone(),
            event: event.to_owned(),
            account_id: account_id.map(str::to_owned),
            idempotency_key,
            redelivery_of,
            url: webhook.url.clone(),
            body,
            status: DeliveryStatus::Pending,
        };
        if self.deliveries.len() == DELIVERIES_KEPT {
            self.deliveries.remove(0);
        }
        self.deliveries.push(delivery);
        self.outbox.push(pending);
    }

    /// Writes what each send got into the log; returns those deliveries.
    pub(crate) fn record(&mut self, sent: Vec<(String, DeliveryStatus)>) -> Vec<Delivery> {
        sent.into_iter()
            .filter_map(|(id, status)| {
                let delivery = self.deliveries.iter_mut().find(|d| d.id == id)?;
                delivery.status = status;
                Some(delivery.clone())
            })
            .collect()
    }
}

/// Sends every delivery (concurrently) and reports what each got.
pub(crate) async fn send(pending: Vec<Pending>) -> Vec<(String, DeliveryStatus)> {
    if pending.is_empty() {
        return Vec::new();
    }
    // reqwest is built without a default crypto provider; choose ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        // A sender does not follow redirects: the registered URL is the one.
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let http = match http {
        Ok(http) => http,
        Err(err) => {
            let error = format!("HTTP client: {err}");
            return pending
                .into_iter()
                .map(|p| (p.delivery_id, DeliveryStatus::Failed(error.clone())))
                .collect();
        }
    };
    let tasks: Vec<_> = pending
        .into_iter()
        .map(|p| {
            let http = http.clone();
            let id = p.delivery_id.clone();
            (id, tokio::spawn(post(http, p)))
        })
        .collect();
    let mut sent = Vec::new();
    for (id, task) in tasks {
        let status = task
            .await
            .unwrap_or_else(|err| DeliveryStatus::Failed(format!("delivery task: {err}")));
        sent.push((id, status));
    }
    sent
}

async fn post(http: reqwest::Client, pending: Pending) -> DeliveryStatus {
    let mut request = http
        .post(&pending.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            reqwest::header::USER_AGENT,
            "OnlyFansAPI.com/Webhook-Client",
        );
    if let Some(signature) = &pending.signature {
        request = request.header("Signature", signature);
    }
    if let Some(key) = &pending.idempotency_key {
        request = request.header("X-OFAPI-Idempotency-Key", key);
    }
    if let Some(original) = &pending.redelivery_of {
        request = request.header("X-OFAPI-Redelivery-Of", original);
    }
    match request.body(pending.body).send().await {
        Ok(answer) => DeliveryStatus::Answered(answer.status().as_u16()),
        Err(err) => DeliveryStatus::Failed(describe(&err)),
    }
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out after 10 s".into()
    } else if err.is_connect() {
        format!("could not connect: {err}")
    } else {
        err.to_string()
    }
}
