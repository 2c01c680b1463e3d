//! Alerts by chat: "alert me here when a fan tips over $100". Adding and
//! removing rules are writes (the webhook at OnlyFansAPI is created,
//! changed or deleted with them), so they are summarised and wait for an
//! admin's yes like every other write.

use std::collections::BTreeSet;
use std::sync::Arc;

use agencybot_agent::{Engine, InternalTool, ToolContext, ToolOutput};
use agencybot_core::Role;
use agencybot_ofapi::{Access, Client};
use agencybot_store::{AlertRule, NewAlertRule, Store, WebhookRegistration};
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use crate::receiver::hook_path;
use crate::rules::{RuleKind, check_quiet_hours, dollars};

pub const LIST_ALERTS: &str = "list_alerts";
pub const ADD_ALERT: &str = "add_alert";
pub const REMOVE_ALERT: &str = "remove_alert";

/// Offers the alert tools; `public_url` is where OnlyFansAPI reaches the
/// receiver (`https://bot.example.com`).
pub fn register(engine: &mut Engine, public_url: &str) {
    let public_url: Arc<str> = public_url.trim_end_matches('/').into();
    engine.register_tool(Arc::new(ListAlerts));
    engine.register_tool(Arc::new(AddAlert {
        public_url: public_url.clone(),
    }));
    engine.register_tool(Arc::new(RemoveAlert { public_url }));
}

fn text<'a>(arguments: &'a Value, key: &str) -> Option<&'a str> {
    arguments
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A threshold in dollars, given as a number or text, into cents.
fn threshold_cents(arguments: &Value) -> Result<Option<i64>, String> {
    match arguments.get("threshold_usd") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            let text = match value {
                Value::String(text) => text.trim().to_owned(),
                other => other.to_string(),
            };
            agencybot_ofapi::webhooks::parse_cents(&text)
                .map(Some)
                .ok_or_else(|| format!("`{text}` is not an amount in dollars like 100 or 49.99"))
        }
    }
}

fn accounts(arguments: &Value) -> Vec<String> {
    arguments
        .get("accounts")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn kind_of(arguments: &Value) -> Result<RuleKind, String> {
    let name = text(arguments, "kind").ok_or("say which kind of alert")?;
    RuleKind::parse(name).ok_or_else(|| {
        format!(
            "there is no alert kind `{name}`; kinds: {}",
            RuleKind::ALL.map(RuleKind::name).join(", ")
        )
    })
}

/// A rule in one line, for lists and summaries.
fn describe(
    kind: RuleKind,
    threshold: Option<i64>,
    accounts: &[String],
    digest_minutes: Option<i64>,
) -> String {
    let at_least = threshold.map_or(String::new(), |cents| {
        format!(" of {} or more", dollars(cents))
    });
    let what = match kind {
        RuleKind::WhaleTip => format!("tips{at_least}"),
        RuleKind::PpvUnlocked => format!("PPV unlocks{at_least}"),
        RuleKind::NewSubscribers => format!(
            "new subscribers, as a digest every {} minutes",
            digest_minutes.unwrap_or(60)
        ),
        RuleKind::Chargeback => format!("chargebacks{at_least}"),
        RuleKind::AccountHealth => {
            "accounts that need attention (failed sign-in, a code or a face check)".into()
        }
    };
    let on = if accounts.is_empty() {
        "on every account".to_owned()
    } else {
        format!("on {}", accounts.join(", "))
    };
    format!("{what} {on}")
}

/// A rule in one line, with where it goes.
#[must_use]
pub fn describe_rule(rule: &AlertRule) -> String {
    let kind = RuleKind::parse(&rule.kind);
    let mut line = match kind {
        Some(kind) => describe(
            kind,
            rule.threshold_cents,
            &rule.accounts,
            rule.digest_minutes,
        ),
        None => rule.kind.clone(),
    };
    line.push_str(&format!(" → {} {}", rule.channel, rule.destination));
    if let (Some(from), Some(until)) = (&rule.quiet_from, &rule.quiet_until) {
        line.push_str(&format!(", quiet {from}–{until}"));
    }
    line
}

/// The events the team's rules need, with `extra` added or `without` left out.
fn needed_events(
    rules: &[AlertRule],
    extra: Option<RuleKind>,
    without: Option<i64>,
) -> Vec<String> {
    let mut events = BTreeSet::new();
    for rule in rules.iter().filter(|r| Some(r.id) != without) {
        if let Some(kind) = RuleKind::parse(&rule.kind) {
            events.extend(kind.events().iter().map(|e| (*e).to_owned()));
        }
    }
    if let Some(kind) = extra {
        events.extend(kind.events().iter().map(|e| (*e).to_owned()));
    }
    events.into_iter().collect()
}

fn store_error(error: agencybot_store::StoreError) -> String {
    format!("the store failed: {error}")
}

/// A webhook call: its answer, or an error saying whether it may have run.
async fn webhook_call(
    ofapi: &Client,
    endpoint: &str,
    arguments: Map<String, Value>,
) -> Result<(Value, i64), WebhookFailure> {
    match ofapi.call(endpoint, &arguments).await {
        Ok(response) => Ok((response.data, response.cost.credits_used)),
        Err(error) if error.effect_unknown() => Err(WebhookFailure::Unknown(error.to_string())),
        Err(error) => Err(WebhookFailure::Refused(error.to_string())),
    }
}

enum WebhookFailure {
    Refused(String),
    Unknown(String),
}

fn unknown(what: &str, error: &str) -> ToolOutput {
    ToolOutput {
        effect_unknown: Some(format!(
            "{what} got no answer ({error}); it may have happened: check with list_alerts (and the webhooks in the OnlyFansAPI dashboard) before asking again"
        )),
        ..ToolOutput::new(json!({"outcome": "unknown", "what": what, "error": error}))
    }
}

pub struct ListAlerts;

impl InternalTool for ListAlerts {
    fn name(&self) -> &str {
        LIST_ALERTS
    }

    fn description(&self) -> &str {
        "The team's live alerts (tips, PPV unlocks, new-subscriber digests, account problems), where each goes, and whether the OnlyFansAPI webhook is set up."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        _arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let rules = context
                .store
                .alert_rules(context.team.id)
                .await
                .map_err(store_error)?;
            let webhooks = context
                .store
                .webhook_registrations(context.team.id)
                .await
                .map_err(store_error)?;
            Ok(ToolOutput::new(json!({
                "alerts": rules.iter().map(|rule| json!({"id": rule.id, "alert": describe_rule(rule)})).collect::<Vec<_>>(),
                "webhook": webhooks.first().map(|w| json!({
                    "created_at_onlyfansapi": w.webhook_id.is_some(),
                    "events": w.events,
                })),
            })))
        })
    }
}

pub struct AddAlert {
    public_url: Arc<str>,
}

impl InternalTool for AddAlert {
    fn name(&self) -> &str {
        ADD_ALERT
    }

    fn description(&self) -> &str {
        "Add a live alert posted to this chat: kind whale_tip (threshold_usd), ppv_unlocked (threshold_usd), new_subscribers (a digest every digest_minutes), chargeback (threshold_usd), account_health. Optional accounts (acct_… ids; default all) and quiet hours (quiet_from/quiet_until HH:MM, team time zone; alerts then wait until they end). Subscribes the team's OnlyFansAPI webhook to the events it needs."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": RuleKind::ALL.map(RuleKind::name)},
                "threshold_usd": {"type": "number"},
                "accounts": {"type": "array", "items": {"type": "string"}},
                "digest_minutes": {"type": "integer", "minimum": 5, "maximum": 1440},
                "quiet_from": {"type": "string"},
                "quiet_until": {"type": "string"}
            },
            "required": ["kind"]
        })
    }

    fn access(&self) -> Access {
        Access::Write
    }

    fn required_role(&self) -> Role {
        Role::Admin
    }

    fn check(&self, arguments: &Value) -> Result<(), String> {
        check_add(arguments)
    }

    fn summarize(&self, arguments: &Value) -> String {
        summarize_add(arguments)
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            check_add(&arguments)?;
            add_alert(&Asked::from_context(context), &self.public_url, &arguments).await
        })
    }
}

/// Who asks, and where the alert goes: the chat a request came from, or
/// what the command line names.
/// Checks an alert's arguments beyond their schema.
pub fn check_add(arguments: &Value) -> Result<(), String> {
    let kind = kind_of(arguments)?;
    let threshold = threshold_cents(arguments)?;
    if threshold.is_some()
        && !matches!(
            kind,
            RuleKind::WhaleTip | RuleKind::PpvUnlocked | RuleKind::Chargeback
        )
    {
        return Err(format!("a {} alert takes no threshold", kind.name()));
    }
    if let Some(minutes) = arguments.get("digest_minutes").filter(|v| !v.is_null()) {
        let minutes = minutes
            .as_i64()
            .ok_or("digest_minutes must be a whole number")?;
        if !(5..=1440).contains(&minutes) {
            return Err("digest_minutes must be between 5 and 1440".into());
        }
    }
    match (
        text(arguments, "quiet_from"),
        text(arguments, "quiet_until"),
    ) {
        (None, None) => {}
        (Some(from), Some(until)) => check_quiet_hours(from, until)?,
        _ => return Err("quiet hours need both quiet_from and quiet_until".into()),
    }
    if let Some(bad) = accounts(arguments).iter().find(|a| !a.starts_with("acct_")) {
        return Err(format!("`{bad}` is not an account id (acct_…)"));
    }
    Ok(())
}

/// What adding the alert will do, for the confirmation question.
#[must_use]
pub fn summarize_add(arguments: &Value) -> String {
    let Ok(kind) = kind_of(arguments) else {
        return "Add an alert (its kind is not valid)".into();
    };
    let mut line = format!(
        "Post an alert in this chat for {}",
        describe(
            kind,
            threshold_cents(arguments).ok().flatten(),
            &accounts(arguments),
            digest_minutes(kind, arguments),
        )
    );
    if let (Some(from), Some(until)) = (
        text(arguments, "quiet_from"),
        text(arguments, "quiet_until"),
    ) {
        line.push_str(&format!(", held during quiet hours {from}–{until}"));
    }
    line.push_str(&format!(
        ", and subscribe the team's OnlyFansAPI webhook to {} (creating the webhook, with a new signing secret, if the team has none).",
        kind.events().join(", ")
    ));
    line
}

pub struct Asked<'a> {
    pub store: &'a Store,
    pub ofapi: &'a Client,
    pub team_id: i64,
    pub user: &'a str,
    pub channel: &'a str,
    pub destination: &'a str,
    pub now: agencybot_core::Timestamp,
}

impl<'a> Asked<'a> {
    fn from_context(context: &'a ToolContext<'a>) -> Self {
        Asked {
            store: context.store,
            ofapi: context.ofapi,
            team_id: context.team.id,
            user: context.user_id,
            channel: &context.conversation.channel,
            destination: &context.conversation.chat,
            now: context.now,
        }
    }
}

/// Adds the rule (after the confirmation) and subscribes the team's webhook
/// to what it needs, creating the webhook first if there is none.
pub async fn add_alert(
    asked: &Asked<'_>,
    public_url: &str,
    arguments: &Value,
) -> Result<ToolOutput, String> {
    let kind = kind_of(arguments)?;
    let store = asked.store;
    let team = asked.team_id;
    let rules = store.alert_rules(team).await.map_err(store_error)?;
    let events = needed_events(&rules, Some(kind), None);
    let mut credits = 0;
    let registration = match store
        .webhook_registrations(team)
        .await
        .map_err(store_error)?
        .into_iter()
        .next()
    {
        Some(registration) => registration,
        None => new_registration(store, team, asked.user, &events).await?,
    };
    let endpoint_url = format!("{}{}", public_url, hook_path(&registration.id));
    let mut registration = registration;
    if registration.webhook_id.is_none() {
        // A create whose answer was lost may have happened: adopt it rather
        // than make a second webhook.
        let (found, used) = existing_webhook(asked.ofapi, &endpoint_url).await;
        credits += used;
        if let Some((id, subscribed)) = found {
            store
                .set_webhook(&registration.id, Some(&id), &subscribed)
                .await
                .map_err(store_error)?;
            registration.webhook_id = Some(id);
            registration.events = subscribed;
        }
    }
    match &registration.webhook_id {
        None => {
            let mut call = Map::new();
            call.insert("account_scope".into(), json!("global"));
            call.insert("endpoint_url".into(), json!(endpoint_url));
            call.insert("events".into(), json!(events));
            call.insert("signing_secret".into(), json!(registration.secret));
            match webhook_call(asked.ofapi, "webhooks.create-webhook", call).await {
                Ok((data, used)) => {
                    credits += used;
                    let id = data.get("id").and_then(Value::as_str).ok_or(
                            "OnlyFansAPI created the webhook but did not say its id; check the webhooks in its dashboard",
                        )?;
                    store
                        .set_webhook(&registration.id, Some(id), &events)
                        .await
                        .map_err(store_error)?;
                }
                Err(WebhookFailure::Unknown(error)) => {
                    return Ok(unknown("Creating the team's webhook", &error));
                }
                Err(WebhookFailure::Refused(error)) => {
                    return Err(format!(
                        "OnlyFansAPI did not create the webhook: {error}; no alert was added"
                    ));
                }
            }
        }
        Some(webhook_id) if registration.events != events => {
            let mut call = Map::new();
            call.insert("webhook_id".into(), json!(webhook_id));
            call.insert("account_scope".into(), json!("global"));
            call.insert("endpoint_url".into(), json!(endpoint_url));
            call.insert("events".into(), json!(events));
            match webhook_call(asked.ofapi, "webhooks.update-webhook", call).await {
                Ok((_, used)) => {
                    credits += used;
                    store
                        .set_webhook(&registration.id, Some(webhook_id), &events)
                        .await
                        .map_err(store_error)?;
                }
                Err(WebhookFailure::Unknown(error)) => {
                    return Ok(unknown(
                        "Subscribing the team's webhook to the new events",
                        &error,
                    ));
                }
                Err(WebhookFailure::Refused(error)) => {
                    return Err(format!(
                        "OnlyFansAPI did not change the webhook: {error}; no alert was added"
                    ));
                }
            }
        }
        Some(_) => {}
    }
    let accounts = accounts(arguments);
    let threshold = threshold_cents(arguments)?;
    let digest = digest_minutes(kind, arguments);
    let id = store
        .add_alert_rule(&NewAlertRule {
            team_id: team,
            kind: kind.name(),
            accounts: &accounts,
            threshold_cents: threshold,
            channel: asked.channel,
            destination: asked.destination,
            digest_minutes: digest,
            quiet_from: text(arguments, "quiet_from"),
            quiet_until: text(arguments, "quiet_until"),
            created_by: asked.user,
            created_at: asked.now,
        })
        .await
        .map_err(store_error)?;
    Ok(ToolOutput {
        credits,
        ..ToolOutput::new(json!({
            "outcome": "added",
            "id": id,
            "alert": describe(kind, threshold, &accounts, digest),
            "webhook_events": events,
        }))
    })
}

/// The webhook at OnlyFansAPI that already posts to `endpoint_url`, with
/// its events; none when there is none or the list cannot be read.
async fn existing_webhook(
    ofapi: &Client,
    endpoint_url: &str,
) -> (Option<(String, Vec<String>)>, i64) {
    let Ok(response) = ofapi.call("webhooks.list-webhooks", &Map::new()).await else {
        return (None, 0);
    };
    let found = response.data.as_array().and_then(|webhooks| {
        webhooks.iter().find_map(|webhook| {
            (webhook.get("url").and_then(Value::as_str) == Some(endpoint_url)).then(|| {
                let id = webhook.get("id").and_then(Value::as_str)?.to_owned();
                let events = webhook
                    .get("events")
                    .and_then(Value::as_array)
                    .map(|events| {
                        events
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                Some((id, events))
            })?
        })
    });
    (found, response.cost.credits_used)
}

fn digest_minutes(kind: RuleKind, arguments: &Value) -> Option<i64> {
    let given = arguments.get("digest_minutes").and_then(Value::as_i64);
    match kind {
        RuleKind::NewSubscribers => Some(given.unwrap_or(60)),
        _ => given,
    }
}

/// The team's registration, made before the webhook exists at
/// OnlyFansAPI, so a delivery to it can be verified as soon as it does.
async fn new_registration(
    store: &Store,
    team: i64,
    created_by: &str,
    events: &[String],
) -> Result<WebhookRegistration, String> {
    let registration = WebhookRegistration {
        id: random_token(18),
        team_id: team,
        webhook_id: None,
        secret: random_token(32),
        previous_secret: None,
        events: events.to_vec(),
        accounts: Vec::new(),
        created_by: created_by.to_owned(),
        created_at: chrono::Utc::now(),
    };
    store
        .add_webhook_registration(&registration)
        .await
        .map_err(store_error)?;
    Ok(registration)
}

/// `bytes` random bytes as hex: unguessable paths and signing secrets.
fn random_token(bytes: usize) -> String {
    let bytes: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(bytes)
}

pub struct RemoveAlert {
    public_url: Arc<str>,
}

impl InternalTool for RemoveAlert {
    fn name(&self) -> &str {
        REMOVE_ALERT
    }

    fn description(&self) -> &str {
        "Remove one of the team's alerts by its id (list_alerts shows them). Removing the last one also deletes the team's OnlyFansAPI webhook."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"id": {"type": "integer"}},
            "required": ["id"]
        })
    }

    fn access(&self) -> Access {
        Access::Destructive
    }

    fn required_role(&self) -> Role {
        Role::Admin
    }

    fn check(&self, arguments: &Value) -> Result<(), String> {
        arguments
            .get("id")
            .and_then(Value::as_i64)
            .map(drop)
            .ok_or_else(|| "say which alert (its id from list_alerts)".into())
    }

    fn summarize(&self, arguments: &Value) -> String {
        format!(
            "Remove alert #{}; if it is the team's last alert, also delete the team's OnlyFansAPI webhook (otherwise unsubscribe it from events no other alert needs).",
            arguments
                .get("id")
                .and_then(Value::as_i64)
                .unwrap_or_default()
        )
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let id = arguments
                .get("id")
                .and_then(Value::as_i64)
                .ok_or("say which alert (its id from list_alerts)")?;
            remove_alert(&Asked::from_context(context), &self.public_url, id).await
        })
    }
}

/// Removes the rule, and unsubscribes or deletes the team's webhook when
/// no other rule needs it.
pub async fn remove_alert(
    asked: &Asked<'_>,
    public_url: &str,
    id: i64,
) -> Result<ToolOutput, String> {
    let store = asked.store;
    let team = asked.team_id;
    let rules = store.alert_rules(team).await.map_err(store_error)?;
    let rule = rules
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| format!("the team has no alert #{id}"))?;
    let events = needed_events(&rules, None, Some(id));
    let registration = store
        .webhook_registrations(team)
        .await
        .map_err(store_error)?
        .into_iter()
        .next();
    let mut credits = 0;
    let mut webhook = "unchanged";
    if let Some(registration) = &registration
        && let Some(webhook_id) = &registration.webhook_id
    {
        let (endpoint, call, what) = if events.is_empty() {
            let mut call = Map::new();
            call.insert("webhook_id".into(), json!(webhook_id));
            (
                "webhooks.delete-webhook",
                call,
                "Deleting the team's webhook",
            )
        } else {
            let mut call = Map::new();
            call.insert("webhook_id".into(), json!(webhook_id));
            call.insert("account_scope".into(), json!("global"));
            call.insert(
                "endpoint_url".into(),
                json!(format!("{}{}", public_url, hook_path(&registration.id))),
            );
            call.insert("events".into(), json!(events));
            (
                "webhooks.update-webhook",
                call,
                "Unsubscribing the team's webhook",
            )
        };
        if events.is_empty() || events != registration.events {
            match webhook_call(asked.ofapi, endpoint, call).await {
                Ok((_, used)) => credits += used,
                Err(WebhookFailure::Unknown(error)) => return Ok(unknown(what, &error)),
                Err(WebhookFailure::Refused(error)) => {
                    return Err(format!("OnlyFansAPI refused ({error}); the alert was kept"));
                }
            }
            webhook = if events.is_empty() {
                "deleted"
            } else {
                "updated"
            };
        }
    }
    store
        .remove_alert_rule(team, id)
        .await
        .map_err(store_error)?;
    if let Some(registration) = &registration {
        if events.is_empty() {
            store
                .remove_webhook_registration(&registration.id)
                .await
                .map_err(store_error)?;
        } else {
            store
                .set_webhook(
                    &registration.id,
                    registration.webhook_id.as_deref(),
                    &events,
                )
                .await
                .map_err(store_error)?;
        }
    }
    Ok(ToolOutput {
        credits,
        ..ToolOutput::new(json!({
            "outcome": "removed",
            "alert": describe_rule(rule),
            "webhook": webhook,
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_is_checked_before_it_is_proposed() {
        assert!(check_add(&json!({"kind": "whale_tip", "threshold_usd": 100})).is_ok());
        assert!(check_add(&json!({"kind": "whale_tip", "threshold_usd": "49.99"})).is_ok());
        for bad in [
            json!({}),
            json!({"kind": "everything"}),
            json!({"kind": "whale_tip", "threshold_usd": "$1,000"}),
            json!({"kind": "whale_tip", "threshold_usd": -5}),
            json!({"kind": "account_health", "threshold_usd": 5}),
            json!({"kind": "new_subscribers", "digest_minutes": 1}),
            json!({"kind": "whale_tip", "quiet_from": "23:00"}),
            json!({"kind": "whale_tip", "quiet_from": "23:00", "quiet_until": "7am"}),
            json!({"kind": "whale_tip", "accounts": ["someone"]}),
        ] {
            assert!(check_add(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_summary_says_everything_the_yes_does() {
        let summary = summarize_add(&json!({
            "kind": "whale_tip", "threshold_usd": 100, "accounts": ["acct_1"],
            "quiet_from": "23:00", "quiet_until": "07:00"
        }));
        for part in [
            "tips of $100.00 or more",
            "acct_1",
            "23:00–07:00",
            "webhook",
            "tips.received",
            "creating the webhook",
        ] {
            assert!(summary.contains(part), "{part}: {summary}");
        }
        let digest = summarize_add(&json!({"kind": "new_subscribers"}));
        assert!(digest.contains("digest every 60 minutes"), "{digest}");
    }

    #[test]
    fn the_webhook_subscribes_to_what_the_rules_need_and_no_more() {
        let rule = |id, kind: RuleKind| AlertRule {
            id,
            team_id: 1,
            kind: kind.name().into(),
            accounts: vec![],
            threshold_cents: None,
            channel: "tg".into(),
            destination: "1".into(),
            digest_minutes: None,
            quiet_from: None,
            quiet_until: None,
            created_by: "Ann".into(),
            created_at: chrono::Utc::now(),
        };
        let rules = [rule(1, RuleKind::WhaleTip), rule(2, RuleKind::WhaleTip)];
        assert_eq!(needed_events(&rules, None, None), vec!["tips.received"]);
        assert_eq!(needed_events(&rules, None, Some(1)), vec!["tips.received"]);
        assert_eq!(
            needed_events(&rules[..1], Some(RuleKind::PpvUnlocked), None),
            vec!["messages.ppv.unlocked", "tips.received"]
        );
        assert!(needed_events(&rules[..1], None, Some(1)).is_empty());
    }
}
