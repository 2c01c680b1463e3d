//! `agencybot doctor`: checks everything `agencybot run` needs, and says how
//! to fix what is missing. Never changes anything (it does not create the
//! SQLite file or apply migrations).

use std::path::Path;
use std::process::ExitCode;

use agencybot_store::{Store, StoreOptions, redact_url};

use crate::config::{self, Config, Secrets};
use crate::setup;

struct Report {
    problems: usize,
}

impl Report {
    fn ok(&self, what: &str, detail: impl std::fmt::Display) {
        println!("[ok]      {what}: {detail}");
    }
    fn warn(&self, what: &str, detail: impl std::fmt::Display) {
        println!("[warn]    {what}: {detail}");
    }
    fn problem(&mut self, what: &str, detail: impl std::fmt::Display) {
        self.problems += 1;
        println!("[problem] {what}: {detail}");
    }
}

pub async fn run(config_path: &Path, env: &[(String, String)]) -> ExitCode {
    println!("agencybot {} doctor", env!("CARGO_PKG_VERSION"));
    let mut report = Report { problems: 0 };
    let config = match config::load(config_path, env) {
        Ok(config) => {
            report.ok(
                "config",
                format!(
                    "{} ({} team(s), {} channel(s))",
                    config_path.display(),
                    config.team_names().len(),
                    config.channel_list().len()
                ),
            );
            config
        }
        Err(err) => {
            report.problem("config", err);
            println!("1 problem found.");
            return ExitCode::FAILURE;
        }
    };
    check_database(&config, &mut report).await;
    check_secrets(&config, env, &mut report);
    check_channels_and_teams(&config, &mut report);
    check_providers(&config, &report);
    check_web_search(&config, env, &report);
    check_alerts(&config, &report);
    check_integrations(&config, env, &mut report).await;
    check_prices(&config, &mut report);
    if report.problems == 0 {
        println!("All checks passed.");
        ExitCode::SUCCESS
    } else {
        println!("{} problem(s) found.", report.problems);
        ExitCode::FAILURE
    }
}

async fn check_database(config: &Config, report: &mut Report) {
    let mut options: StoreOptions = setup::store_options(config);
    let shown = redact_url(&options.url);
    if let Some(path) = setup::sqlite_path(&options.url) {
        if !path.exists() {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
            let creatable = absolute
                .ancestors()
                .skip(1)
                .find(|a| a.exists())
                .is_some_and(|existing| {
                    std::fs::metadata(existing)
                        .is_ok_and(|m| m.is_dir() && !m.permissions().readonly())
                });
            if creatable {
                report.ok(
                    "database",
                    format!(
                        "SQLite file {} will be created on first run",
                        path.display()
                    ),
                );
            } else {
                report.problem(
                    "database",
                    format!("cannot create {}: its folder is not writable; set [general] data_dir or [database] url", path.display()),
                );
            }
            return;
        }
        options.create_if_missing = false;
    }
    let store = match Store::connect(&options).await {
        Ok(store) => store,
        Err(err) => {
            report.problem(
                "database",
                format!(
                    "cannot open {shown}: {err}; check [database] url (or AGENCYBOT_DATABASE_URL)"
                ),
            );
            return;
        }
    };
    match store.migration_status().await {
        Ok(status) if status.pending.is_empty() => report.ok(
            "database",
            format!("{} at {shown}, schema up to date", store.backend()),
        ),
        Ok(status) => report.warn(
            "database",
            format!(
                "{} at {shown} lacks {} migration(s); `agencybot migrate` (or `run`) applies them",
                store.backend(),
                status.pending.len()
            ),
        ),
        Err(err) => report.problem("database", format!("{shown}: {err}")),
    }
    store.close().await;
}

/// Which provider answers which model (the keys are checked with the
/// other secrets).
/// Reaches every configured integration and counts its tools.
async fn check_integrations(config: &Config, env: &[(String, String)], report: &mut Report) {
    if config.integrations.is_empty() {
        return;
    }
    let secrets = Secrets::load(config, env).unwrap_or_default();
    // Sign-ins are read from the store; the database check reports it.
    let store = if config.integrations.iter().any(|i| i.oauth) {
        setup::open_store(config).await.ok()
    } else {
        None
    };
    let integrations = match setup::integrations(config, &secrets, store.as_ref()) {
        Ok(integrations) => integrations,
        Err(error) => {
            report.problem("integrations", format!("{error:#}"));
            return;
        }
    };
    for integration in &config.integrations {
        let name = integration.name.get_ref();
        if integrations.get(name).is_none() {
            report.problem(
                &format!("integration `{name}`"),
                "left out: a secret it needs is not set (see the secrets above)",
            );
        }
    }
    let servers = integrations.servers().to_vec();
    let reached = agencybot_integrations::Integrations::reach(&servers).await;
    for (server, tools) in servers.iter().zip(reached) {
        let what = format!("integration `{}`", server.spec.name);
        match tools {
            Ok(catalog) => report.ok(
                &what,
                format!(
                    "{} ({}) answers: {} tool(s), {} read-only{}",
                    server.spec.title,
                    server.spec.transport.describe(),
                    catalog.tools.len(),
                    catalog.read_only_count(),
                    if server.spec.trusted {
                        ", trusted"
                    } else {
                        ", not trusted: every call asks first"
                    }
                ),
            ),
            Err(error) => report.problem(
                &what,
                format!(
                    "{} is not reachable: {error}",
                    server.spec.transport.describe()
                ),
            ),
        }
    }
}

fn check_providers(config: &Config, report: &Report) {
    for provider in config.llm.effective_providers() {
        let serves = if provider.models.is_empty() {
            "every model no other provider lists".to_owned()
        } else {
            provider
                .models
                .iter()
                .map(|m| m.get_ref().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        report.ok(
            &format!("model provider `{}`", provider.name.get_ref()),
            format!(
                "{} serves {serves}; key {}",
                redact_url(&provider.base_url),
                if provider.api_key_env.is_empty() {
                    "none (not needed)".to_owned()
                } else {
                    format!("from {}", provider.api_key_env)
                }
            ),
        );
    }
}

/// Web search: which providers answer, and the keys that are missing.
fn check_web_search(config: &Config, env: &[(String, String)], report: &Report) {
    let search = &config.web_search;
    if !search.enabled() {
        report.ok("web search", "off ([web_search] provider = \"off\")");
        return;
    }
    let secrets = Secrets::load(config, env).unwrap_or_default();
    let mut usable = Vec::new();
    for (name, provider) in search.chain() {
        if provider.api_key_env.is_empty() || secrets.get(&provider.api_key_env).is_some() {
            usable.push(format!(
                "{name} at {} (${}/search)",
                redact_url(&provider.base_url),
                provider.usd_per_search
            ));
        } else {
            report.warn(
                "web search",
                setup::search_key_missing(&provider.api_key_env, name),
            );
        }
    }
    if !usable.is_empty() {
        report.ok("web search", usable.join(", then "));
    }
}

/// Where OnlyFansAPI's deliveries are received, and whether they travel
/// encrypted (the config load already refused what cannot work).
fn check_alerts(config: &Config, report: &Report) {
    let alerts = &config.alerts;
    let Some(public_url) = alerts.public_url.as_ref().filter(|_| alerts.enabled()) else {
        report.ok(
            "alerts",
            "off (set [alerts] listen and public_url for live alerts)",
        );
        return;
    };
    let url = public_url.get_ref().trim_end_matches('/');
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|local| url.starts_with(local));
    if url.starts_with("http://") && !loopback {
        report.warn(
            "alerts",
            format!("{url} is plain http: deliveries and their signatures travel unencrypted; put HTTPS in front of {}", alerts.listen),
        );
    } else {
        report.ok(
            "alerts",
            format!(
                "receiver on {}; OnlyFansAPI posts to {url}/hooks/ofapi/<id> (`agencybot alerts test` sends it a signed delivery)",
                alerts.listen
            ),
        );
    }
}

fn check_secrets(config: &Config, env: &[(String, String)], report: &mut Report) {
    let secrets = match Secrets::load(config, env) {
        Ok(secrets) => secrets,
        Err(err) => {
            report.problem("secrets file", err);
            return;
        }
    };
    for need in config.secret_needs() {
        if secrets.get(&need.env).is_some() {
            report.ok(&need.env, format!("set (used by {})", need.used_by));
        } else {
            report.problem(
                &need.env,
                format!("missing — {} (used by {})", need.how_to_get, need.used_by),
            );
        }
    }
}

fn check_prices(config: &Config, report: &mut Report) {
    let prices = crate::setup::prices(config);
    let unpriced = crate::setup::unpriced_models(config, &prices);
    if unpriced.is_empty() {
        report.ok("prices", "every configured model has a price");
    } else {
        report.warn(
            "prices",
            format!(
                "no [llm.prices] entry for {}: its requests are recorded at $0 and no USD budget can see them",
                unpriced.join(", ")
            ),
        );
    }
}

fn check_channels_and_teams(config: &Config, report: &mut Report) {
    for (what, why) in config.warnings() {
        report.warn(&what, why);
    }
    if !config.has_channels() {
        report.problem(
            "channels",
            format!(
                "none configured; `agencybot run` needs at least one [[channels.telegram]], [[channels.slack]] or [[channels.discord]] (see {})",
                config::EXAMPLE_CONFIG_PATH
            ),
        );
    }
    for team in &config.teams {
        let name = team.name.get_ref();
        if team.members.is_empty() {
            report.warn(
                &format!("team `{name}`"),
                "no members declared: only users a channel lists itself can talk to the bot",
            );
        } else if !team.members.iter().any(|m| m.role.can_confirm_writes()) {
            report.warn(
                &format!("team `{name}`"),
                "no member may confirm writes (every member is a viewer)",
            );
        } else {
            report.ok(
                &format!("team `{name}`"),
                format!("{} member(s)", team.members.len()),
            );
        }
    }
}
