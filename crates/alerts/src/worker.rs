//! Journaled events into alerts, and digests when they come due.

use std::sync::Arc;

use agencybot_core::{NewUsageRecord, OutboundMessage, RequestKind, UsageOutcome};
use agencybot_ofapi::webhooks::{Envelope, OfEvent};
use agencybot_store::{AlertRule, EventStatus, StoreError, WebhookEvent};
use chrono::Timelike;
use tokio::sync::watch;

use crate::Alerts;
use crate::rules::{self, RuleKind};

/// Events taken per pass.
const BATCH: i64 = 100;

impl Alerts {
    /// Works until `stop` turns true: woken by each journaled event, and
    /// every tick for events left behind and digests coming due.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(error) = self.work_once().await {
                tracing::error!(%error, "alerts: a pass failed; trying again");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.tick) => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
    }

    /// One pass: every open event, then every digest that is due. Returns
    /// how many alerts were sent.
    pub async fn work_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let stale_before = now
            - chrono::Duration::from_std(self.stale_after).unwrap_or(chrono::Duration::minutes(1));
        let mut sent = 0;
        for id in self.store.open_webhook_events(stale_before, BATCH).await? {
            let Some(event) = self
                .store
                .claim_webhook_event(id, now, stale_before)
                .await?
            else {
                continue;
            };
            let (status, detail, alerts) = self.handle(&event).await?;
            sent += alerts;
            self.store
                .finish_webhook_event(id, status, detail.as_deref(), self.clock.now())
                .await?;
        }
        sent += self.send_due_digests().await?;
        Ok(sent)
    }

    async fn handle(
        &self,
        journaled: &WebhookEvent,
    ) -> Result<(EventStatus, Option<String>, usize), StoreError> {
        let parsed = Envelope::parse(journaled.body.as_bytes())
            .and_then(|envelope| OfEvent::from_envelope(&envelope));
        let event = match parsed {
            Ok(event) => event,
            // Never an alert with a made-up number.
            Err(error) => {
                tracing::warn!(id = journaled.id, event = %journaled.event, %error, "webhook event not usable");
                return Ok((EventStatus::Quarantined, Some(error.to_string()), 0));
            }
        };
        let Some(registration) = self
            .store
            .webhook_registration(&journaled.registration_id)
            .await?
        else {
            return Ok((EventStatus::Done, Some("its webhook was removed".into()), 0));
        };
        let mut sent = 0;
        let mut problems = Vec::new();
        for rule in self.store.alert_rules(registration.team_id).await? {
            let Some(alert) = rules::decide(
                &rule,
                &event,
                journaled.account_id.as_deref(),
                &journaled.idempotency_key,
            ) else {
                continue;
            };
            let gathered = rule.digest_minutes.is_some()
                || RuleKind::parse(&rule.kind) == Some(RuleKind::NewSubscribers);
            if gathered || self.quiet(&rule).await? {
                self.store
                    .queue_digest_item(rule.id, &alert.key, &alert.text, self.clock.now())
                    .await?;
                continue;
            }
            if !self
                .store
                .claim_alert(rule.id, &alert.key, self.clock.now())
                .await?
            {
                continue;
            }
            match self.deliver(&rule, alert.text).await {
                Ok(()) => sent += 1,
                Err(problem) => problems.push(problem),
            }
        }
        let detail = (!problems.is_empty()).then(|| problems.join("; "));
        Ok((EventStatus::Done, detail, sent))
    }

    /// Whether it is quiet time for the rule, in its team's time zone.
    async fn quiet(&self, rule: &AlertRule) -> Result<bool, StoreError> {
        if rule.quiet_from.is_none() {
            return Ok(false);
        }
        let team = self.store.team(rule.team_id).await?;
        let zone: chrono_tz::Tz = team
            .timezone
            .as_deref()
            .and_then(|zone| zone.parse().ok())
            .unwrap_or(chrono_tz::UTC);
        let local = self.clock.now().with_timezone(&zone).time();
        let local =
            chrono::NaiveTime::from_hms_opt(local.hour(), local.minute(), 0).unwrap_or(local);
        Ok(rules::is_quiet(
            rule.quiet_from.as_deref(),
            rule.quiet_until.as_deref(),
            local,
        ))
    }

    /// Sends every digest whose window has passed (and whose quiet hours
    /// are over), each claimed whole by one instance.
    async fn send_due_digests(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut sent = 0;
        for rule in self.store.rules_with_waiting_items().await? {
            let Some(oldest) = self.store.oldest_digest_item(rule.id).await? else {
                continue;
            };
            let window = chrono::Duration::minutes(rule.digest_minutes.unwrap_or(0));
            if now < oldest + window || self.quiet(&rule).await? {
                continue;
            }
            let batch = format!("{}-{:016x}", now.timestamp_millis(), rand::random::<u64>());
            let lines = self.store.claim_digest(rule.id, &batch).await?;
            if lines.is_empty() {
                continue;
            }
            let head = match RuleKind::parse(&rule.kind) {
                Some(RuleKind::NewSubscribers) => format!(
                    "🆕 {} new subscriber{}{}:",
                    lines.len(),
                    if lines.len() == 1 { "" } else { "s" },
                    rule.digest_minutes
                        .map(|minutes| format!(" in the last {minutes} minutes"))
                        .unwrap_or_default()
                ),
                _ => format!("While it was quiet ({} alerts):", lines.len()),
            };
            let mut text = head;
            for line in &lines {
                text.push_str("\n• ");
                text.push_str(line);
            }
            match self.deliver(&rule, text).await {
                Ok(()) => sent += 1,
                Err(problem) => tracing::error!(rule = rule.id, "digest not delivered: {problem}"),
            }
        }
        Ok(sent)
    }

    /// Posts one alert and records it in usage (no model call, no credits).
    async fn deliver(&self, rule: &AlertRule, text: String) -> Result<(), String> {
        let Some(channel) = self.channels.get(&rule.channel) else {
            let problem = format!("channel `{}` is not running", rule.channel);
            tracing::error!(rule = rule.id, "{problem}");
            return Err(problem);
        };
        let Some(responder) = channel.outbox.to(&rule.destination) else {
            let problem = format!(
                "`{}` is not a destination on channel `{}`",
                rule.destination, rule.channel
            );
            tracing::error!(rule = rule.id, "{problem}");
            return Err(problem);
        };
        let started = std::time::Instant::now();
        responder.deliver(OutboundMessage::Text(text)).await;
        let record = NewUsageRecord {
            team_id: rule.team_id,
            platform: channel.platform,
            user_id: rule.created_by.clone(),
            kind: RequestKind::Alert,
            model: String::new(),
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            credits: 0,
            web_searches: 0,
            web_searches_cached: 0,
            web_search_usd: 0.0,
            integration_calls: std::collections::BTreeMap::new(),
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            outcome: UsageOutcome::Success,
            created_at: self.clock.now(),
        };
        if let Err(error) = self.store.record_usage(&record).await {
            tracing::error!(%error, "alert usage not recorded");
        }
        tracing::info!(rule = rule.id, kind = %rule.kind, channel = %rule.channel, "alert sent");
        Ok(())
    }
}
