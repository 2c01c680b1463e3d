//! `agencybot alerts …`: the team's live alerts from the command line. Adding
//! and removing change the team's webhook at OnlyFansAPI, so they show
//! what they will do and ask first, as in chat.

use std::io::Write;
use std::process::ExitCode;

use agencybot_alerts::{Asked, add_alert, check_add, describe_rule, hook_path, remove_alert};
use agencybot_core::Secret;
use agencybot_store::Store;
use anyhow::Context;
use serde_json::{Value, json};

use crate::cli::AlertsCommand;
use crate::config::{Config, Secrets};
use crate::setup::{self, pick_team};

/// Who the command line acts as in the records.
const CLI_USER: &str = "cli";

pub async fn run(
    store: &Store,
    config: &Config,
    env: &[(String, String)],
    command: &AlertsCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        AlertsCommand::List(team) => {
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let rules = store.alert_rules(team.id).await?;
            if rules.is_empty() {
                println!(
                    "Team {} has no alerts. Ask the bot (\"alert me here when a fan tips over $100\") or use `agencybot alerts add`.",
                    team.name
                );
            }
            for rule in &rules {
                println!("#{:<4} {}", rule.id, describe_rule(rule));
            }
            for registration in store.webhook_registrations(team.id).await? {
                println!(
                    "Webhook {}: {}, events {}",
                    hook_path(&registration.id),
                    registration.webhook_id.as_deref().map_or_else(
                        || "not created at OnlyFansAPI yet".to_owned(),
                        |id| format!("OnlyFansAPI webhook {id}")
                    ),
                    registration.events.join(", ")
                );
            }
            if !config.alerts.enabled() {
                println!(
                    "Alerts are off: set [alerts] listen and public_url, then restart `agencybot run`."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AlertsCommand::Add {
            kind,
            channel,
            destination,
            threshold_usd,
            accounts,
            digest_minutes,
            quiet,
            yes,
            team,
        } => {
            let public_url = public_url(config)?;
            let team = pick_team(store, config, team.team.as_deref()).await?;
            if !config
                .channel_list()
                .iter()
                .any(|(_, name, _, _)| name == channel)
            {
                anyhow::bail!("there is no channel `{channel}` in the config");
            }
            let mut arguments = json!({"kind": kind, "accounts": accounts});
            if let Some(threshold) = threshold_usd {
                arguments["threshold_usd"] = Value::String(threshold.clone());
            }
            if let Some(minutes) = digest_minutes {
                arguments["digest_minutes"] = json!(minutes);
            }
            if let Some(quiet) = quiet {
                let (from, until) = quiet
                    .split_once('-')
                    .context("quiet hours look like 23:00-07:00")?;
                arguments["quiet_from"] = json!(from.trim());
                arguments["quiet_until"] = json!(until.trim());
            }
            check_add(&arguments).map_err(anyhow::Error::msg)?;
            let summary = agencybot_alerts::summarize_add(&arguments).replacen(
                "in this chat",
                &format!("on {channel} {destination}"),
                1,
            );
            if !confirmed(&summary, *yes)? {
                println!("Nothing was changed.");
                return Ok(ExitCode::FAILURE);
            }
            let client = ofapi(config, env)?;
            let asked = asked(store, &client, team.id, channel, destination);
            report(add_alert(&asked, &public_url, &arguments).await)
        }
        AlertsCommand::Remove { id, yes, team } => {
            let public_url = public_url(config)?;
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let rule = store
                .alert_rules(team.id)
                .await?
                .into_iter()
                .find(|rule| rule.id == *id)
                .with_context(|| format!("team {} has no alert #{id}", team.name))?;
            let summary = format!(
                "Remove alert #{id} ({}); with the team's last alert, the team's OnlyFansAPI webhook is deleted too.",
                describe_rule(&rule)
            );
            if !confirmed(&summary, *yes)? {
                println!("Nothing was changed.");
                return Ok(ExitCode::FAILURE);
            }
            let client = ofapi(config, env)?;
            let asked = asked(store, &client, team.id, &rule.channel, &rule.destination);
            report(remove_alert(&asked, &public_url, *id).await)
        }
        AlertsCommand::Test(team) => {
            let public_url = public_url(config)?;
            let team = pick_team(store, config, team.team.as_deref()).await?;
            let registrations = store.webhook_registrations(team.id).await?;
            if registrations.is_empty() {
                anyhow::bail!("team {} has no webhook yet: add an alert first", team.name);
            }
            let mut failed = false;
            for registration in registrations {
                let url = format!("{public_url}{}", hook_path(&registration.id));
                match test_delivery(&url, &registration.secret).await {
                    Ok(200) => println!("✓ {url} accepted a signed test delivery"),
                    Ok(status) => {
                        failed = true;
                        println!("✗ {url} answered {status} to a signed test delivery");
                    }
                    Err(error) => {
                        failed = true;
                        println!("✗ {url} could not be reached: {error:#}");
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// The command line as the asker, for the team, posting to `destination`.
fn asked<'a>(
    store: &'a Store,
    ofapi: &'a agencybot_ofapi::Client,
    team_id: i64,
    channel: &'a str,
    destination: &'a str,
) -> Asked<'a> {
    Asked {
        store,
        ofapi,
        team_id,
        user: CLI_USER,
        channel,
        destination,
        now: chrono::Utc::now(),
    }
}

fn public_url(config: &Config) -> anyhow::Result<String> {
    match &config.alerts.public_url {
        Some(url) if config.alerts.enabled() => Ok(url.get_ref().trim_end_matches('/').to_owned()),
        _ => anyhow::bail!(
            "alerts are off: set [alerts] listen and public_url (where OnlyFansAPI reaches this bot)"
        ),
    }
}

fn ofapi(config: &Config, env: &[(String, String)]) -> anyhow::Result<agencybot_ofapi::Client> {
    let secrets = Secrets::load(config, env)?;
    setup::ofapi_client(config, setup::configured_api(config, &secrets)?)
}

/// Shows what will happen and asks, unless `yes` was given.
fn confirmed(summary: &str, yes: bool) -> anyhow::Result<bool> {
    println!("{summary}");
    if yes {
        return Ok(true);
    }
    print!("Go ahead? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn report(outcome: Result<agencybot_agent::ToolOutput, String>) -> anyhow::Result<ExitCode> {
    let output = outcome.map_err(anyhow::Error::msg)?;
    if let Some(unknown) = output.effect_unknown {
        println!("⚠️ {unknown}");
        return Ok(ExitCode::FAILURE);
    }
    println!("✓ {}", serde_json::to_string_pretty(&output.content)?);
    Ok(ExitCode::SUCCESS)
}

/// A delivery signed with the registration's secret, as OnlyFansAPI sends
/// one; the receiver journals it and alerts nobody (it is no alert event).
async fn test_delivery(url: &str, secret: &str) -> anyhow::Result<u16> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let body = json!({
        "event": "agencybot.test",
        "account_id": null,
        "payload": {"sent_at": chrono::Utc::now().to_rfc3339()},
    })
    .to_string();
    let signature = agencybot_ofapi::webhooks::sign(&Secret::new(secret), body.as_bytes());
    let answer = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("signature", signature)
        .header(
            "x-ofapi-idempotency-key",
            format!("test_{}", chrono::Utc::now().timestamp_millis()),
        )
        .body(body)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await?;
    Ok(answer.status().as_u16())
}
