//! Webhook registrations, the journal of deliveries, alert rules, and the
//! claims that make each alert and digest go out once across instances.

use agencybot_core::Timestamp;

use crate::db::args;
use crate::{Result, Store, StoreError, from_millis, millis};

/// A team's webhook at OnlyFansAPI, as we know it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRegistration {
    /// The unguessable path segment deliveries arrive at.
    pub id: String,
    pub team_id: i64,
    /// OnlyFansAPI's id, once it is created there.
    pub webhook_id: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub events: Vec<String>,
    /// The accounts it covers; empty covers every account of the team's key.
    pub accounts: Vec<String>,
    pub created_by: String,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct RegistrationRow {
    id: String,
    team_id: i64,
    webhook_id: Option<String>,
    secret: String,
    previous_secret: Option<String>,
    events: String,
    accounts: String,
    created_by: String,
    created_at: i64,
}

impl RegistrationRow {
    fn into_registration(self) -> Result<WebhookRegistration> {
        Ok(WebhookRegistration {
            events: serde_json::from_str(&self.events).map_err(|error| StoreError::Corrupt {
                what: "webhook events",
                detail: error.to_string(),
            })?,
            accounts: serde_json::from_str(&self.accounts).map_err(|error| {
                StoreError::Corrupt {
                    what: "webhook accounts",
                    detail: error.to_string(),
                }
            })?,
            created_at: from_millis("webhook created_at", self.created_at)?,
            id: self.id,
            team_id: self.team_id,
            webhook_id: self.webhook_id,
            secret: self.secret,
            previous_secret: self.previous_secret,
            created_by: self.created_by,
        })
    }
}

/// A delivery to journal.
#[derive(Debug, Clone)]
pub struct NewWebhookEvent<'a> {
    pub registration_id: &'a str,
    pub idempotency_key: &'a str,
    pub redelivery_of: Option<&'a str>,
    pub event: &'a str,
    pub account_id: Option<&'a str>,
    pub body: &'a str,
    /// `pending`, or `quarantined` for a body that cannot be used.
    pub status: EventStatus,
    pub detail: Option<&'a str>,
    pub received_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Pending,
    Working,
    Done,
    Quarantined,
}

impl EventStatus {
    fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Working => "working",
            EventStatus::Done => "done",
            EventStatus::Quarantined => "quarantined",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "pending" => EventStatus::Pending,
            "working" => EventStatus::Working,
            "done" => EventStatus::Done,
            "quarantined" => EventStatus::Quarantined,
            other => {
                return Err(StoreError::Corrupt {
                    what: "webhook event status",
                    detail: other.to_owned(),
                });
            }
        })
    }
}

/// A journaled delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub id: i64,
    pub registration_id: String,
    pub idempotency_key: String,
    pub event: String,
    pub account_id: Option<String>,
    pub body: String,
    pub status: EventStatus,
    pub detail: Option<String>,
    pub received_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    registration_id: String,
    idempotency_key: String,
    event: String,
    account_id: Option<String>,
    body: String,
    status: String,
    detail: Option<String>,
    received_at: i64,
}

impl EventRow {
    fn into_event(self) -> Result<WebhookEvent> {
        Ok(WebhookEvent {
            status: EventStatus::parse(&self.status)?,
            received_at: from_millis("webhook received_at", self.received_at)?,
            id: self.id,
            registration_id: self.registration_id,
            idempotency_key: self.idempotency_key,
            event: self.event,
            account_id: self.account_id,
            body: self.body,
            detail: self.detail,
        })
    }
}

/// An alert rule as stored; the alerts crate gives `kind` its meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub id: i64,
    pub team_id: i64,
    pub kind: String,
    /// Accounts it watches; empty watches all of the team's.
    pub accounts: Vec<String>,
    pub threshold_cents: Option<i64>,
    pub channel: String,
    pub destination: String,
    pub digest_minutes: Option<i64>,
    /// Quiet hours in the team's time zone, `HH:MM`.
    pub quiet_from: Option<String>,
    pub quiet_until: Option<String>,
    pub created_by: String,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: i64,
    team_id: i64,
    kind: String,
    accounts: String,
    threshold_cents: Option<i64>,
    channel: String,
    destination: String,
    digest_minutes: Option<i64>,
    quiet_from: Option<String>,
    quiet_until: Option<String>,
    created_by: String,
    created_at: i64,
}

impl RuleRow {
    fn into_rule(self) -> Result<AlertRule> {
        Ok(AlertRule {
            accounts: serde_json::from_str(&self.accounts).map_err(|error| {
                StoreError::Corrupt {
                    what: "alert rule accounts",
                    detail: error.to_string(),
                }
            })?,
            created_at: from_millis("alert rule created_at", self.created_at)?,
            id: self.id,
            team_id: self.team_id,
            kind: self.kind,
            threshold_cents: self.threshold_cents,
            channel: self.channel,
            destination: self.destination,
            digest_minutes: self.digest_minutes,
            quiet_from: self.quiet_from,
            quiet_until: self.quiet_until,
            created_by: self.created_by,
        })
    }
}

/// A rule to add (its id is given by the store).
#[derive(Debug, Clone)]
pub struct NewAlertRule<'a> {
    pub team_id: i64,
    pub kind: &'a str,
    pub accounts: &'a [String],
    pub threshold_cents: Option<i64>,
    pub channel: &'a str,
    pub destination: &'a str,
    pub digest_minutes: Option<i64>,
    pub quiet_from: Option<&'a str>,
    pub quiet_until: Option<&'a str>,
    pub created_by: &'a str,
    pub created_at: Timestamp,
}

impl Store {
    pub async fn add_webhook_registration(&self, registration: &WebhookRegistration) -> Result<()> {
        let events = serde_json::to_string(&registration.events).unwrap_or_else(|_| "[]".into());
        let accounts =
            serde_json::to_string(&registration.accounts).unwrap_or_else(|_| "[]".into());
        self.db
            .execute(
                "INSERT INTO webhook_registrations (id, team_id, webhook_id, secret, previous_secret, events, accounts, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                args![
                    registration.id.as_str(),
                    registration.team_id,
                    registration.webhook_id.as_deref(),
                    registration.secret.as_str(),
                    registration.previous_secret.as_deref(),
                    events,
                    accounts,
                    registration.created_by.as_str(),
                    millis(registration.created_at)
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn webhook_registration(&self, id: &str) -> Result<Option<WebhookRegistration>> {
        let row: Option<RegistrationRow> = self
            .db
            .fetch_optional(
                "SELECT id, team_id, webhook_id, secret, previous_secret, events, accounts, created_by, created_at \
                 FROM webhook_registrations WHERE id = $1",
                args![id],
            )
            .await?;
        row.map(RegistrationRow::into_registration).transpose()
    }

    pub async fn webhook_registrations(&self, team_id: i64) -> Result<Vec<WebhookRegistration>> {
        let rows: Vec<RegistrationRow> = self
            .db
            .fetch_all(
                "SELECT id, team_id, webhook_id, secret, previous_secret, events, accounts, created_by, created_at \
                 FROM webhook_registrations WHERE team_id = $1 ORDER BY created_at",
                args![team_id],
            )
            .await?;
        rows.into_iter()
            .map(RegistrationRow::into_registration)
            .collect()
    }

    /// Records OnlyFansAPI's id for the webhook and the events it has.
    pub async fn set_webhook(
        &self,
        id: &str,
        webhook_id: Option<&str>,
        events: &[String],
    ) -> Result<()> {
        let events = serde_json::to_string(events).unwrap_or_else(|_| "[]".into());
        self.db
            .execute(
                "UPDATE webhook_registrations SET webhook_id = $2, events = $3 WHERE id = $1",
                args![id, webhook_id, events],
            )
            .await?;
        Ok(())
    }

    pub async fn remove_webhook_registration(&self, id: &str) -> Result<bool> {
        let changed = self
            .db
            .execute("DELETE FROM webhook_registrations WHERE id = $1", args![id])
            .await?;
        Ok(changed == 1)
    }

    /// Journals a delivery; `None` when its idempotency key was seen
    /// before (a redelivery or a replay), which changes nothing.
    pub async fn journal_webhook_event(&self, event: &NewWebhookEvent<'_>) -> Result<Option<i64>> {
        let row: Option<(i64,)> = self
            .db
            .fetch_optional(
                "INSERT INTO webhook_events (registration_id, idempotency_key, redelivery_of, event, account_id, body, status, detail, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                args![
                    event.registration_id,
                    event.idempotency_key,
                    event.redelivery_of,
                    event.event,
                    event.account_id,
                    event.body,
                    event.status.as_str(),
                    event.detail,
                    millis(event.received_at)
                ],
            )
            .await?;
        Ok(row.map(|(id,)| id))
    }

    /// Takes a pending event (or one whose worker stopped before
    /// `stale_before`) for this worker; `None` if another has it.
    pub async fn claim_webhook_event(
        &self,
        id: i64,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<Option<WebhookEvent>> {
        let changed = self
            .db
            .execute(
                "UPDATE webhook_events SET status = 'working', claimed_at = $2 \
                 WHERE id = $1 AND (status = 'pending' OR (status = 'working' AND claimed_at < $3))",
                args![id, millis(now), millis(stale_before)],
            )
            .await?;
        if changed != 1 {
            return Ok(None);
        }
        self.webhook_event(id).await
    }

    pub async fn webhook_event(&self, id: i64) -> Result<Option<WebhookEvent>> {
        let row: Option<EventRow> = self
            .db
            .fetch_optional(
                "SELECT id, registration_id, idempotency_key, event, account_id, body, status, detail, received_at \
                 FROM webhook_events WHERE id = $1",
                args![id],
            )
            .await?;
        row.map(EventRow::into_event).transpose()
    }

    /// Events no worker has finished: pending, or taken before `stale_before`.
    pub async fn open_webhook_events(
        &self,
        stale_before: Timestamp,
        limit: i64,
    ) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> = self
            .db
            .fetch_all(
                "SELECT id FROM webhook_events \
                 WHERE status = 'pending' OR (status = 'working' AND claimed_at < $1) \
                 ORDER BY id LIMIT $2",
                args![millis(stale_before), limit],
            )
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    pub async fn finish_webhook_event(
        &self,
        id: i64,
        status: EventStatus,
        detail: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        self.db
            .execute(
                "UPDATE webhook_events SET status = $2, detail = $3, processed_at = $4 WHERE id = $1",
                args![id, status.as_str(), detail, millis(now)],
            )
            .await?;
        Ok(())
    }

    /// The journal, newest first (for tests and the CLI).
    pub async fn webhook_events(&self, registration_id: &str) -> Result<Vec<WebhookEvent>> {
        let rows: Vec<EventRow> = self
            .db
            .fetch_all(
                "SELECT id, registration_id, idempotency_key, event, account_id, body, status, detail, received_at \
                 FROM webhook_events WHERE registration_id = $1 ORDER BY id DESC",
                args![registration_id],
            )
            .await?;
        rows.into_iter().map(EventRow::into_event).collect()
    }

    pub async fn add_alert_rule(&self, rule: &NewAlertRule<'_>) -> Result<i64> {
        let accounts = serde_json::to_string(rule.accounts).unwrap_or_else(|_| "[]".into());
        let (id,): (i64,) = self
            .db
            .fetch_one(
                "INSERT INTO alert_rules (team_id, kind, accounts, threshold_cents, channel, destination, digest_minutes, quiet_from, quiet_until, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                args![
                    rule.team_id,
                    rule.kind,
                    accounts,
                    rule.threshold_cents,
                    rule.channel,
                    rule.destination,
                    rule.digest_minutes,
                    rule.quiet_from,
                    rule.quiet_until,
                    rule.created_by,
                    millis(rule.created_at)
                ],
            )
            .await?;
        Ok(id)
    }

    pub async fn alert_rules(&self, team_id: i64) -> Result<Vec<AlertRule>> {
        let rows: Vec<RuleRow> = self
            .db
            .fetch_all(
                "SELECT id, team_id, kind, accounts, threshold_cents, channel, destination, digest_minutes, quiet_from, quiet_until, created_by, created_at \
                 FROM alert_rules WHERE team_id = $1 ORDER BY id",
                args![team_id],
            )
            .await?;
        rows.into_iter().map(RuleRow::into_rule).collect()
    }

    /// Every rule with lines waiting for its digest.
    pub async fn rules_with_waiting_items(&self) -> Result<Vec<AlertRule>> {
        let rows: Vec<RuleRow> = self
            .db
            .fetch_all(
                "SELECT id, team_id, kind, accounts, threshold_cents, channel, destination, digest_minutes, quiet_from, quiet_until, created_by, created_at \
                 FROM alert_rules WHERE id IN (SELECT rule_id FROM alert_digest_items WHERE batch IS NULL) ORDER BY id",
                args![],
            )
            .await?;
        rows.into_iter().map(RuleRow::into_rule).collect()
    }

    pub async fn remove_alert_rule(&self, team_id: i64, id: i64) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "DELETE FROM alert_rules WHERE team_id = $1 AND id = $2",
                args![team_id, id],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Claims the right to send the alert `business_key` for a rule: true
    /// once, for one caller, however many instances ask.
    pub async fn claim_alert(
        &self,
        rule_id: i64,
        business_key: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "INSERT INTO alert_deliveries (rule_id, business_key, sent_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (rule_id, business_key) DO NOTHING",
                args![rule_id, business_key, millis(now)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Queues a line for a rule's next digest; false if it was queued before.
    pub async fn queue_digest_item(
        &self,
        rule_id: i64,
        item_key: &str,
        line: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let changed = self
            .db
            .execute(
                "INSERT INTO alert_digest_items (rule_id, item_key, line, queued_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (rule_id, item_key) DO NOTHING",
                args![rule_id, item_key, line, millis(now)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// When the oldest line waiting for the rule's digest was queued.
    pub async fn oldest_digest_item(&self, rule_id: i64) -> Result<Option<Timestamp>> {
        let row: Option<(Option<i64>,)> = self
            .db
            .fetch_optional(
                "SELECT MIN(queued_at) FROM alert_digest_items WHERE rule_id = $1 AND batch IS NULL",
                args![rule_id],
            )
            .await?;
        row.and_then(|(at,)| at)
            .map(|at| from_millis("digest queued_at", at))
            .transpose()
    }

    /// Takes every waiting line of the rule into `batch` (one statement, so
    /// two instances never both get a line) and returns them in order.
    pub async fn claim_digest(&self, rule_id: i64, batch: &str) -> Result<Vec<String>> {
        self.db
            .execute(
                "UPDATE alert_digest_items SET batch = $2 WHERE rule_id = $1 AND batch IS NULL",
                args![rule_id, batch],
            )
            .await?;
        let rows: Vec<(String,)> = self
            .db
            .fetch_all(
                "SELECT line FROM alert_digest_items WHERE rule_id = $1 AND batch = $2 ORDER BY queued_at, item_key",
                args![rule_id, batch],
            )
            .await?;
        Ok(rows.into_iter().map(|(line,)| line).collect())
    }
}
