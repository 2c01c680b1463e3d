//! `POST /hooks/ofapi/{registration}`: verify, journal once, acknowledge.
//! Nothing slow happens here; OnlyFansAPI allows ten seconds.

use std::sync::Arc;

use agencybot_core::Secret;
use agencybot_ofapi::webhooks::{self, Envelope};
use agencybot_store::{EventStatus, NewWebhookEvent};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sha2::{Digest, Sha256};

use crate::Alerts;

/// Bodies beyond this are refused (413) before anything reads them.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The path deliveries for `registration` arrive at.
#[must_use]
pub fn hook_path(registration: &str) -> String {
    format!("/hooks/ofapi/{registration}")
}

impl Alerts {
    /// The receiver's routes, to serve on the bot's listener.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/hooks/ofapi/{registration}", post(receive))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.clone())
    }
}

async fn receive(
    State(alerts): State<Arc<Alerts>>,
    Path(registration_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let registration = match alerts.store.webhook_registration(&registration_id).await {
        Ok(Some(registration)) => registration,
        Ok(None) => return (StatusCode::NOT_FOUND, "unknown webhook"),
        Err(error) => {
            tracing::error!(%error, "webhook registration lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again");
        }
    };
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let current = Secret::new(registration.secret.clone());
    let previous = registration.previous_secret.clone().map(Secret::new);
    let mut secrets = vec![&current];
    secrets.extend(previous.as_ref());
    if !header(webhooks::SIGNATURE_HEADER)
        .is_some_and(|signature| webhooks::verify(&secrets, &body, signature))
    {
        tracing::warn!(registration = %registration.id, bytes = body.len(), "webhook delivery with a bad or missing signature refused");
        return (StatusCode::UNAUTHORIZED, "bad signature");
    }
    // Events without a key (typing, online) are keyed by their body.
    let idempotency_key = header(webhooks::IDEMPOTENCY_HEADER)
        .filter(|key| !key.trim().is_empty())
        .map_or_else(
            || format!("body:{}", hex::encode(Sha256::digest(&body))),
            |key| key.trim().to_owned(),
        );
    let text = String::from_utf8_lossy(&body);
    let (event, account, status, detail) = match Envelope::parse(&body) {
        Ok(envelope) => {
            let accounts = envelope.accounts();
            let foreign = accounts
                .iter()
                .find(|account| {
                    !registration.accounts.is_empty() && !registration.accounts.contains(account)
                })
                .cloned();
            match foreign {
                Some(account) => (
                    envelope.event,
                    Some(account.clone()),
                    EventStatus::Quarantined,
                    Some(format!("account {account} is not one of this team's")),
                ),
                None => (
                    envelope.event,
                    accounts.into_iter().next(),
                    EventStatus::Pending,
                    None,
                ),
            }
        }
        Err(error) => (
            "unreadable".to_owned(),
            None,
            EventStatus::Quarantined,
            Some(error.to_string()),
        ),
    };
    let journaled = alerts
        .store
        .journal_webhook_event(&NewWebhookEvent {
            registration_id: &registration.id,
            idempotency_key: &idempotency_key,
            redelivery_of: header(webhooks::REDELIVERY_HEADER),
            event: &event,
            account_id: account.as_deref(),
            body: &text,
            status,
            detail: detail.as_deref(),
            received_at: alerts.clock.now(),
        })
        .await;
    match journaled {
        Ok(Some(id)) => {
            if let Some(detail) = &detail {
                tracing::warn!(registration = %registration.id, event = %event, id, "webhook event quarantined: {detail}");
            } else {
                tracing::info!(registration = %registration.id, event = %event, id, "webhook event journaled");
                alerts.wake.notify_one();
            }
            (StatusCode::OK, "ok")
        }
        Ok(None) => {
            tracing::info!(registration = %registration.id, event = %event, "webhook event seen before; ignored");
            (StatusCode::OK, "duplicate")
        }
        // OnlyFansAPI retries a 5xx: nothing is lost.
        Err(error) => {
            tracing::error!(%error, "webhook event could not be journaled");
            (StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}
