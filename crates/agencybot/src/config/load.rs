//! Reading the file, line-numbered errors, and checks across keys.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::env::env_overrides;
use super::*;

/// Where a configuration problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File {
        path: PathBuf,
        line: usize,
        column: usize,
        /// The offending line, for context.
        text: String,
    },
    Environment(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "config file {} not found; copy {EXAMPLE_CONFIG_PATH} to it and edit it, or pass --config PATH",
        .0.display()
    )]
    Missing(PathBuf),
    #[error("cannot read config file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}{}", hint_suffix(.hint))]
    Invalid {
        origin: Origin,
        message: String,
        hint: Option<String>,
    },
    #[error("{}:{line}: {message}", .path.display())]
    SecretsFile {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref()
        .map_or(String::new(), |h| format!("\n  hint: {h}"))
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path,
                line,
                column,
                text,
            } => write!(f, "{}:{line}:{column}: `{}`", path.display(), text.trim()),
            Origin::Environment(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// Loads and validates the config file, then applies environment overrides.
pub fn load(path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ConfigError::Missing(path.to_owned())
        } else {
            ConfigError::Read {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    parse(path, &text, env)
}

/// [`load`] on text already read.
pub fn parse(path: &Path, text: &str, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let at = |offset: usize| file_origin(path, text, offset);
    let config: Config = toml::from_str(text).map_err(|err| {
        let origin = at(err.span().map_or(0, |s| s.start));
        parse_error(origin, &err)
    })?;
    validate(&config, &|offset| at(offset))?;

    let overrides = env_overrides(env)?;
    if overrides.is_empty() {
        return Ok(config);
    }
    let mut table: toml::Table = text.parse().expect("text parsed above as a config");
    for (var, section, key, value) in &overrides {
        let section_table = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = section_table.as_table_mut() else {
            return Err(invalid(
                Origin::Environment(var.clone()),
                format!("[{section}] is not a table in the config file"),
                None,
            ));
        };
        section_table.insert(key.clone(), value.clone());
    }
    let merged = toml::to_string(&table).expect("a TOML table serializes");
    let config: Config = toml::from_str(&merged).map_err(|err| {
        // Name the variable whose key the error is about, when we can tell.
        let key_text = err
            .span()
            .map(|s| line_at(&merged, s.start).1.to_owned())
            .unwrap_or_default();
        let var = overrides
            .iter()
            .find(|(_, _, key, _)| key_text.trim_start().starts_with(key.as_str()))
            .map_or_else(
                || {
                    overrides
                        .iter()
                        .map(|o| o.0.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                |o| o.0.clone(),
            );
        parse_error(Origin::Environment(var), &err)
    })?;
    let names: Vec<String> = overrides.iter().map(|o| o.0.clone()).collect();
    validate(&config, &|_| Origin::Environment(names.join(", ")))?;
    Ok(config)
}

pub(super) fn invalid(origin: Origin, message: String, hint: Option<String>) -> ConfigError {
    ConfigError::Invalid {
        origin,
        message,
        hint,
    }
}

fn parse_error(origin: Origin, err: &toml::de::Error) -> ConfigError {
    let message = err.message().trim().to_owned();
    let key = match &origin {
        Origin::File { text, .. } => text.split('=').next().unwrap_or("").trim().to_owned(),
        Origin::Environment(_) => String::new(),
    };
    let hint = if message.starts_with("unknown field") {
        let looks_secret = ["token", "key", "secret", "password"]
            .iter()
            .any(|word| key.to_lowercase().contains(word));
        Some(if looks_secret {
            "secrets are never read from the config file: put the value in the environment variable named by the matching `*_env` key (or the secrets file)".to_owned()
        } else {
            format!("remove `{key}` or fix its spelling; {EXAMPLE_CONFIG_PATH} lists every key")
        })
    } else if message.starts_with("invalid type") || message.starts_with("unknown variant") {
        Some(format!(
            "fix the value of `{key}`; {EXAMPLE_CONFIG_PATH} shows the expected form"
        ))
    } else if message.starts_with("missing field") {
        Some(format!("add it; {EXAMPLE_CONFIG_PATH} shows an example"))
    } else {
        None
    };
    invalid(origin, message, hint)
}

fn line_at(text: &str, offset: usize) -> (usize, &str, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line_number = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let column = text[line_start..offset].chars().count() + 1;
    (line_number, &text[line_start..line_end], column)
}

fn file_origin(path: &Path, text: &str, offset: usize) -> Origin {
    let (line, text, column) = line_at(text, offset);
    Origin::File {
        path: path.to_owned(),
        line,
        column,
        text: text.to_owned(),
    }
}

/// Cross-checks the file cannot express in types: unique names, existing
/// teams, values that must parse.
fn validate(config: &Config, at: &dyn Fn(usize) -> Origin) -> Result<(), ConfigError> {
    let ttl = &config.llm.confirmation_ttl_secs;
    let minimum = agencybot_agent::MIN_CONFIRMATION_TTL.as_secs();
    if *ttl.get_ref() < minimum {
        return Err(invalid(
            at(ttl.span().start),
            format!(
                "confirmation_ttl_secs = {} is too short: people need time to read a change before it expires",
                ttl.get_ref()
            ),
            Some(format!("use at least {minimum} (600 is ten minutes)")),
        ));
    }
    for id in &config.ofapi.allow_endpoints {
        match agencybot_ofapi::Catalog::onlyfans().get(id.get_ref()) {
            Some(endpoint) if endpoint.denied_by_default => {}
            Some(_) => {
                return Err(invalid(
                    at(id.span().start),
                    format!("`{}` is not turned off by default; allowing it changes nothing", id.get_ref()),
                    Some("list only endpoints agencybot refuses by default (credentials, payouts, webhooks)".into()),
                ));
            }
            None => {
                return Err(invalid(
                    at(id.span().start),
                    format!("`{}` is not an OnlyFansAPI endpoint id", id.get_ref()),
                    Some("use ids like `webhooks.create-webhook`".into()),
                ));
            }
        }
    }
    if config.limits.turn_deadline_secs == 0 {
        return Err(invalid(
            at(0),
            "[limits] turn_deadline_secs must be more than 0".into(),
            Some("180 gives a request three minutes".into()),
        ));
    }
    if config.limits.concurrent_turns == 0 {
        return Err(invalid(
            at(0),
            "[limits] concurrent_turns must be at least 1".into(),
            Some("the default, 2000, suits a 2-core machine".into()),
        ));
    }
    validate_providers(config, at)?;
    validate_web_search(&config.web_search, at)?;
    let mut team_names = HashSet::new();
    for team in &config.teams {
        let name = team.name.get_ref();
        if name.trim().is_empty() || !team_names.insert(name.clone()) {
            return Err(invalid(
                at(team.name.span().start),
                format!("team name `{name}` is empty or used twice"),
                Some("give every [[teams]] a unique name".into()),
            ));
        }
        let mut member_names = HashSet::new();
        let mut ids = HashSet::new();
        for member in &team.members {
            if !member_names.insert(member.name.get_ref().clone()) {
                return Err(invalid(
                    at(member.name.span().start),
                    format!(
                        "member `{}` is declared twice in team `{name}`",
                        member.name.get_ref()
                    ),
                    None,
                ));
            }
            for (platform, user_ids) in member.user_ids() {
                for id in user_ids {
                    if !ids.insert((platform, id.clone())) {
                        return Err(invalid(
                            at(member.name.span().start),
                            format!(
                                "{platform} user ID {id} belongs to two members of team `{name}`"
                            ),
                            Some("a user ID may belong to one member only".into()),
                        ));
                    }
                }
            }
        }
        if let Some(timezone) = &team.timezone {
            check_timezone(timezone)
                .map_err(|message| invalid(at(team.name.span().start), message, None))?;
        }
    }
    let mut channel_names = HashSet::new();
    let mut named: Vec<(&Spanned<String>, ChannelAccess<'_>)> = config
        .channels
        .telegram
        .iter()
        .map(|c| (&c.name, c.access()))
        .chain(config.channels.slack.iter().map(|c| (&c.name, c.access())))
        .chain(
            config
                .channels
                .discord
                .iter()
                .map(|c| (&c.name, c.access())),
        )
        .collect();
    // In file order, so a duplicate is reported where it is repeated.
    named.sort_by_key(|(name, _)| name.span().start);
    for (name, access) in named {
        if name.get_ref().trim().is_empty() || !channel_names.insert(name.get_ref().clone()) {
            return Err(invalid(
                at(name.span().start),
                format!("channel name `{}` is empty or used twice", name.get_ref()),
                Some("give every channel a unique name".into()),
            ));
        }
        if !agencybot_core::is_channel_name(name.get_ref()) || name.get_ref() == TERMINAL_CHANNEL {
            return Err(invalid(
                at(name.span().start),
                format!("channel name `{}` cannot be used", name.get_ref()),
                Some(format!(
                    "use letters, digits, `-`, `_` and `.` only (and not `{TERMINAL_CHANNEL}`)"
                )),
            ));
        }
        match access.team {
            Some(team) if !config.team_names().contains(team.get_ref()) => {
                return Err(invalid(
                    at(team.span().start),
                    format!(
                        "channel `{}` names team `{}`, which is not declared",
                        name.get_ref(),
                        team.get_ref()
                    ),
                    Some(format!(
                        "declare it in a [[teams]] section or use one of: {}",
                        config.team_names().join(", ")
                    )),
                ));
            }
            None if config.teams.len() > 1 => {
                return Err(invalid(
                    at(name.span().start),
                    format!("channel `{}` must say which team it serves", name.get_ref()),
                    Some("add `team = \"…\"`: the config declares several teams".into()),
                ));
            }
            _ => {}
        }
        if let Some(member) = access.set_up_by {
            let team = config.channel_team(access);
            if !is_member(config, team, member.get_ref()) {
                return Err(invalid(
                    at(member.span().start),
                    format!(
                        "channel `{}` is set up by `{}`, who is not a member of team `{team}`",
                        name.get_ref(),
                        member.get_ref()
                    ),
                    Some("use the name of one of the team's [[teams.members]]".into()),
                ));
            }
        }
    }
    validate_integrations(config, at)?;
    validate_alerts(&config.alerts, at)?;
    validate_web(&config.web, at)?;
    if !(1..=3600).contains(&config.scheduler.takeover_secs) {
        return Err(invalid(
            at(0),
            format!(
                "[scheduler] takeover_secs = {} is out of range",
                config.scheduler.takeover_secs
            ),
            Some("use 1–3600 seconds (the default is 60)".into()),
        ));
    }
    for channel in &config.channels.telegram {
        if channel
            .webhook_listen
            .parse::<std::net::SocketAddr>()
            .is_err()
        {
            return Err(invalid(
                at(channel.name.span().start),
                format!(
                    "Telegram channel `{}` has an invalid `webhook_listen` `{}`",
                    channel.name.get_ref(),
                    channel.webhook_listen
                ),
                Some("use an address like 0.0.0.0:8443".into()),
            ));
        }
        if channel.mode == TelegramMode::Webhook && channel.webhook_url.is_none() {
            return Err(invalid(
                at(channel.name.span().start),
                format!(
                    "Telegram channel `{}` is in webhook mode without `webhook_url`",
                    channel.name.get_ref()
                ),
                Some(
                    "add the public HTTPS URL Telegram should post to, or use mode = \"polling\""
                        .into(),
                ),
            ));
        }
    }
    for channel in &config.channels.slack {
        if channel
            .events_listen
            .parse::<std::net::SocketAddr>()
            .is_err()
        {
            return Err(invalid(
                at(channel.name.span().start),
                format!(
                    "Slack channel `{}` has an invalid `events_listen` `{}`",
                    channel.name.get_ref(),
                    channel.events_listen
                ),
                Some("use an address like 0.0.0.0:3000".into()),
            ));
        }
    }
    for channel in &config.channels.discord {
        if let Some(bad) = channel.guilds.iter().find(|id| guild_id(id).is_none()) {
            return Err(invalid(
                at(channel.name.span().start),
                format!(
                    "Discord channel `{}` lists `{bad}` in `guilds`, which is not a server ID",
                    channel.name.get_ref()
                ),
                Some("use the number Discord shows under Server Settings → Widget → Server ID (or right-click the server → Copy Server ID)".into()),
            ));
        }
    }
    Ok(())
}

fn is_member(config: &Config, team: &str, member: &str) -> bool {
    config
        .teams
        .iter()
        .filter(|t| t.name.get_ref() == team)
        .flat_map(|t| &t.members)
        .any(|m| m.name.get_ref() == member)
}

/// Integrations have unique plain names, one way to be reached, a declared
/// team, an owner when personal (and only then), and sane timeouts.
fn validate_web(web: &WebConfig, at: &dyn Fn(usize) -> Origin) -> Result<(), ConfigError> {
    let origin = || at(web.public_url.as_ref().map_or(0, |url| url.span().start));
    if !web.enabled() {
        return Ok(());
    }
    if web.listen.trim().parse::<std::net::SocketAddr>().is_err() {
        return Err(invalid(
            origin(),
            format!("[web] listen `{}` is not an address", web.listen),
            Some("use an address like 127.0.0.1:8080".into()),
        ));
    }
    if !(60..=3600).contains(&web.link_ttl_secs)
        || !(300..=30 * 86_400).contains(&web.session_ttl_secs)
    {
        return Err(invalid(
            origin(),
            "[web] link_ttl_secs must be 60–3600 and session_ttl_secs 300–2592000".into(),
            Some("the defaults are 600 and 43200".into()),
        ));
    }
    match web.public_url.as_ref().map(|url| url.get_ref().trim()) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => Ok(()),
        Some(url) => Err(invalid(
            origin(),
            format!("[web] public_url `{url}` is not an http(s) URL"),
            Some("e.g. public_url = \"https://bot.example.com\"".into()),
        )),
        None => Err(invalid(
            origin(),
            "[web] listen is set without `public_url`".into(),
            Some("add the address members open the console at, e.g. public_url = \"https://bot.example.com\"".into()),
        )),
    }
}

fn validate_alerts(alerts: &AlertsConfig, at: &dyn Fn(usize) -> Origin) -> Result<(), ConfigError> {
    let origin = || at(alerts.public_url.as_ref().map_or(0, |url| url.span().start));
    if !alerts.enabled() {
        return Ok(());
    }
    let takeover = *alerts.takeover_secs.get_ref();
    if !(1..=3600).contains(&takeover) {
        return Err(invalid(
            at(alerts.takeover_secs.span().start),
            format!("[alerts] takeover_secs = {takeover} is out of range"),
            Some("use a number of seconds from 1 to 3600; 60 is the default".into()),
        ));
    }
    if alerts
        .listen
        .trim()
        .parse::<std::net::SocketAddr>()
        .is_err()
    {
        return Err(invalid(
            origin(),
            format!("[alerts] listen `{}` is not an address", alerts.listen),
            Some("use an address like 0.0.0.0:8090".into()),
        ));
    }
    match alerts.public_url.as_ref().map(|url| url.get_ref().trim()) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => Ok(()),
        Some(url) => Err(invalid(
            origin(),
            format!("[alerts] public_url `{url}` is not an http(s) URL"),
            Some("e.g. public_url = \"https://bot.example.com\"".into()),
        )),
        None => Err(invalid(
            origin(),
            "[alerts] listen is set without `public_url`".into(),
            Some("add the public HTTPS address OnlyFansAPI can reach the receiver at, e.g. public_url = \"https://bot.example.com\"".into()),
        )),
    }
}

fn validate_integrations(config: &Config, at: &dyn Fn(usize) -> Origin) -> Result<(), ConfigError> {
    let mut names = HashSet::new();
    for integration in &config.integrations {
        let name = integration.name.get_ref();
        let here = at(integration.name.span().start);
        agencybot_integrations::check_name(name).map_err(|message| {
            invalid(
                here.clone(),
                message,
                Some("e.g. name = \"google-sheets\"".into()),
            )
        })?;
        if !names.insert(name.as_str()) {
            return Err(invalid(
                here,
                format!("integration `{name}` is declared twice"),
                Some("give every [[integrations]] a unique name".into()),
            ));
        }
        match (&integration.command, &integration.url) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(invalid(
                    here,
                    format!("integration `{name}` needs either `command` (a local MCP server) or `url` (a streamable-HTTP one)"),
                    Some("e.g. command = \"mcp-server-time\", or url = \"https://app.onlyfansapi.com/mcp/onlyfans-mcp\"".into()),
                ));
            }
            (None, Some(url)) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(invalid(
                    here,
                    format!("integration `{name}`: url `{url}` is not an http(s) URL"),
                    None,
                ));
            }
            (Some(command), None) if command.trim().is_empty() => {
                return Err(invalid(
                    here,
                    format!("integration `{name}`: `command` is empty"),
                    None,
                ));
            }
            _ => {}
        }
        if integration.url.is_none()
            && (!integration.headers.is_empty() || !integration.bearer_token_env.is_empty())
        {
            return Err(invalid(
                here,
                format!(
                    "integration `{name}`: `headers` and `bearer_token_env` are for a `url`; a command gets `env` and `env_secrets`"
                ),
                None,
            ));
        }
        if (integration.oauth || !integration.oauth_scopes.is_empty()) && integration.url.is_none()
        {
            return Err(invalid(
                here,
                format!("integration `{name}`: `oauth` is for a `url`"),
                None,
            ));
        }
        if integration.oauth && !integration.bearer_token_env.is_empty() {
            return Err(invalid(
                here,
                format!("integration `{name}` has both `oauth` and `bearer_token_env`"),
                Some("keep one: a static token, or an OAuth sign-in".into()),
            ));
        }
        if !integration.oauth && !integration.oauth_scopes.is_empty() {
            return Err(invalid(
                here,
                format!("integration `{name}`: `oauth_scopes` needs `oauth = true`"),
                None,
            ));
        }
        if integration.command.is_none()
            && (!integration.args.is_empty()
                || !integration.env.is_empty()
                || !integration.env_secrets.is_empty()
                || integration.cwd.is_some())
        {
            return Err(invalid(
                here,
                format!(
                    "integration `{name}`: `args`, `env`, `env_secrets` and `cwd` are for a `command`"
                ),
                None,
            ));
        }
        if let Some(header) = integration.headers.keys().find(|h| header_name_invalid(h)) {
            return Err(invalid(
                here,
                format!("integration `{name}`: `{header}` is not a valid HTTP header name"),
                None,
            ));
        }
        match &integration.team {
            Some(team) if !config.team_names().contains(team.get_ref()) => {
                return Err(invalid(
                    at(team.span().start),
                    format!(
                        "integration `{name}` names team `{}`, which is not declared",
                        team.get_ref()
                    ),
                    Some(format!("use one of: {}", config.team_names().join(", "))),
                ));
            }
            None if config.teams.len() > 1 => {
                return Err(invalid(
                    here,
                    format!("integration `{name}` must say which team uses it"),
                    Some("add `team = \"…\"`: the config declares several teams".into()),
                ));
            }
            _ => {}
        }
        let team = config.integration_team(integration);
        match (integration.scope, &integration.owner) {
            (IntegrationScope::Personal, None) => {
                return Err(invalid(
                    here,
                    format!(
                        "integration `{name}` is personal: say whose with `owner = \"<member name>\"`"
                    ),
                    None,
                ));
            }
            (IntegrationScope::Team, Some(owner)) => {
                return Err(invalid(
                    at(owner.span().start),
                    format!("integration `{name}` is shared with the team, so it has no `owner`"),
                    Some("remove `owner`, or set scope = \"personal\"".into()),
                ));
            }
            (IntegrationScope::Personal, Some(owner))
                if !is_member(config, team, owner.get_ref()) =>
            {
                return Err(invalid(
                    at(owner.span().start),
                    format!(
                        "integration `{name}` belongs to `{}`, who is not a member of team `{team}`",
                        owner.get_ref()
                    ),
                    Some("use the name of one of the team's [[teams.members]]".into()),
                ));
            }
            _ => {}
        }
        if integration.timeout_secs == 0
            || integration.timeout_secs > agencybot_integrations::MAX_CALL_TIMEOUT.as_secs()
            || integration.connect_timeout_secs == 0
        {
            return Err(invalid(
                here,
                format!(
                    "integration `{name}`: timeout_secs must be 1 to 600 and connect_timeout_secs more than 0"
                ),
                None,
            ));
        }
    }
    Ok(())
}

/// Providers have unique names and http(s) URLs, no model is listed twice,
/// and the default model and the teams' reach one of them.
fn validate_providers(config: &Config, at: &dyn Fn(usize) -> Origin) -> Result<(), ConfigError> {
    let mut names = HashSet::new();
    let mut listed: BTreeMap<&str, &str> = BTreeMap::new();
    let mut catch_all = config.llm.providers.is_empty();
    for provider in &config.llm.providers {
        let name = provider.name.get_ref();
        let here = at(provider.name.span().start);
        if name.trim().is_empty() || !names.insert(name.as_str()) {
            return Err(invalid(
                here,
                format!("provider name `{name}` is empty or used twice"),
                Some("give every [[llm.providers]] a unique name".into()),
            ));
        }
        if !(provider.base_url.starts_with("http://") || provider.base_url.starts_with("https://"))
        {
            return Err(invalid(
                here,
                format!(
                    "provider `{name}`: base_url `{}` is not an http(s) URL",
                    provider.base_url
                ),
                Some("e.g. https://api.anthropic.com/v1 or http://127.0.0.1:11434/v1".into()),
            ));
        }
        if let Some(header) = provider.headers.keys().find(|h| header_name_invalid(h)) {
            return Err(invalid(
                here,
                format!("provider `{name}`: `{header}` is not a valid HTTP header name"),
                None,
            ));
        }
        catch_all |= provider.models.is_empty();
        for model in &provider.models {
            if let Some(other) = listed.insert(model.get_ref(), name) {
                return Err(invalid(
                    at(model.span().start),
                    format!(
                        "model `{}` is listed by providers `{other}` and `{name}`",
                        model.get_ref()
                    ),
                    Some("a model name routes to one provider; list it once".into()),
                ));
            }
        }
    }
    if catch_all {
        return Ok(());
    }
    let reachable = |model: &str| listed.contains_key(model);
    if !reachable(&config.llm.model) {
        return Err(invalid(
            at(0),
            format!(
                "[llm] model `{}` is not listed by any [[llm.providers]]",
                config.llm.model
            ),
            Some(
                "add it to a provider's `models`, or add a provider without `models` to serve the rest"
                    .into(),
            ),
        ));
    }
    for team in &config.teams {
        if let Some(model) = &team.default_model
            && !reachable(model)
        {
            return Err(invalid(
                at(team.name.span().start),
                format!(
                    "team `{}`: default_model `{model}` is not listed by any [[llm.providers]]",
                    team.name.get_ref()
                ),
                None,
            ));
        }
    }
    Ok(())
}

/// Known providers, a safe-search level, sane prices and limits.
fn validate_web_search(
    search: &WebSearchConfig,
    at: &dyn Fn(usize) -> Origin,
) -> Result<(), ConfigError> {
    let problem = |message: String, hint: &str| Err(invalid(at(0), message, Some(hint.into())));
    let names = std::iter::once(&search.provider).chain(&search.fallback);
    for name in names {
        if search.enabled() && !SEARCH_PROVIDERS.contains(&name.as_str()) {
            return problem(
                format!("[web_search] provider `{name}` is not one agencybot has"),
                "use brave, searxng or tavily (or provider = \"off\")",
            );
        }
    }
    if search
        .safesearch
        .parse::<agencybot_websearch::SafeSearch>()
        .is_err()
    {
        return problem(
            format!(
                "[web_search] safesearch `{}` is not a level",
                search.safesearch
            ),
            "use off, moderate or strict",
        );
    }
    if search.per_turn == 0 || search.per_turn > 10 {
        return problem(
            format!(
                "[web_search] per_turn = {} is out of range",
                search.per_turn
            ),
            "use 1 to 10 (3 is the default)",
        );
    }
    for (name, provider) in [
        ("brave", &search.brave),
        ("searxng", &search.searxng),
        ("tavily", &search.tavily),
    ] {
        if !(provider.usd_per_search.is_finite() && provider.usd_per_search >= 0.0) {
            return problem(
                format!("[web_search.{name}] usd_per_search must be 0 or more"),
                "the provider's list price per search, e.g. 0.005",
            );
        }
        if !(provider.base_url.starts_with("http://") || provider.base_url.starts_with("https://"))
        {
            return problem(
                format!(
                    "[web_search.{name}] base_url `{}` is not an http(s) URL",
                    provider.base_url
                ),
                "e.g. https://api.search.brave.com",
            );
        }
    }
    if search
        .monthly_budget_usd
        .is_some_and(|b| !(b.is_finite() && b >= 0.0))
    {
        return problem(
            "[web_search] monthly_budget_usd must be 0 or more".into(),
            "leave it out for no limit",
        );
    }
    Ok(())
}

fn header_name_invalid(name: &str) -> bool {
    name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A timezone must be an IANA name like `Europe/Berlin` or `UTC`.
fn check_timezone(timezone: &str) -> Result<(), String> {
    let valid = timezone == "UTC"
        || (timezone.contains('/')
            && timezone
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c)));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "timezone `{timezone}` is not an IANA timezone name (like `Europe/Berlin` or `America/New_York`)"
        ))
    }
}
