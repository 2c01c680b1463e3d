//! The configuration file, its environment overrides, and secrets.
//!
//! One TOML file (see `config/agencybot.example.toml`, which documents every
//! key). Scalar keys of the `[general]`, `[database]`, `[llm]` and `[ofapi]`
//! sections can be overridden by `AGENCYBOT_<SECTION>_<KEY>` environment
//! variables. Secrets are never read from the file: each is named by an
//! `*_env` key and read from that environment variable, or from the
//! `KEY=value` secrets file named by `general.secrets_file`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use agencybot_core::{Platform, Role, Secret};
use serde::Deserialize;
use toml::Spanned;

pub const DEFAULT_CONFIG_PATH: &str = "config/agencybot.toml";
pub const EXAMPLE_CONFIG_PATH: &str = "config/agencybot.example.toml";
const ENV_PREFIX: &str = "AGENCYBOT_";
/// The channel name of `agencybot chat` conversations.
pub const TERMINAL_CHANNEL: &str = "terminal";
/// Sections whose scalar keys environment variables may override.
const OVERRIDABLE_SECTIONS: [&str; 7] = [
    "general",
    "database",
    "llm",
    "ofapi",
    "limits",
    "skills",
    "scheduler",
];

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub general: General,
    pub database: Database,
    pub llm: Llm,
    pub ofapi: Ofapi,
    pub limits: Limits,
    pub skills: SkillsConfig,
    pub scheduler: SchedulerConfig,
    pub teams: Vec<TeamConfig>,
    pub channels: Channels,
}

/// What one person, one team or one request may use.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Requests a minute one person may start; 0 for no limit.
    pub user_turns_per_minute: u32,
    /// Requests a minute one team may start; 0 for no limit.
    pub team_turns_per_minute: u32,
    /// A request stops starting model calls and API reads after this long.
    pub turn_deadline_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            user_turns_per_minute: 20,
            team_turns_per_minute: 120,
            turn_deadline_secs: 180,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SkillsConfig {
    /// The built-in skills folder (relative to the working directory).
    pub dir: PathBuf,
    /// An extra folder with the agency's own skills.
    pub extra_dir: Option<PathBuf>,
    /// How often `agencybot run` looks for changed skill files, in seconds.
    pub reload_secs: u64,
}

impl Default for SkillsConfig {
    fn default() -> Self {
        SkillsConfig {
            dir: PathBuf::from("skills"),
            extra_dir: None,
            reload_secs: 5,
        }
    }
}

impl SkillsConfig {
    #[must_use]
    pub fn dirs(&self) -> Vec<PathBuf> {
        std::iter::once(self.dir.clone())
            .chain(self.extra_dir.clone())
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Ready-made tasks offered by `agencybot workflows` and in chat.
    pub workflows: PathBuf,
    /// How often due tasks are looked for, in seconds.
    pub tick_secs: u64,
    /// After downtime, a missed run younger than this (minutes) runs once.
    pub catch_up_minutes: u64,
    /// Tries per run before it counts as failed.
    pub attempts: u32,
    /// Seconds before the second try; doubles for each further one.
    pub retry_secs: u64,
    /// Failed runs in a row after which a task is paused.
    pub pause_after: u32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            workflows: PathBuf::from("config/workflows.toml"),
            tick_secs: 15,
            catch_up_minutes: 60,
            attempts: 3,
            retry_secs: 30,
            pause_after: 3,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Where the SQLite database and other state live (relative to the
    /// working directory).
    pub data_dir: PathBuf,
    /// `tracing` filter, e.g. `info` or `agencybot=debug,info`.
    pub log: String,
    /// Optional `KEY=value` file read for secrets missing from the environment.
    pub secrets_file: Option<PathBuf>,
}

impl Default for General {
    fn default() -> Self {
        General {
            data_dir: PathBuf::from("data"),
            log: "info".into(),
            secrets_file: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// Empty: SQLite at `<data_dir>/agencybot.db`. Or `sqlite://…`, `postgres://…`.
    pub url: String,
    pub max_connections: u32,
    /// PostgreSQL schema for agencybot's tables (created if missing).
    pub schema: Option<String>,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: String::new(),
            max_connections: 8,
            schema: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Llm {
    /// Any OpenAI-compatible chat-completions API.
    pub base_url: String,
    /// Environment variable holding the API key; empty for servers without keys.
    pub api_key_env: String,
    /// The model used when neither the team nor the request names one.
    pub model: String,
    pub max_steps: u32,
    pub timeout_secs: u64,
    /// How long a proposed write waits for its yes; at least 30 seconds.
    pub confirmation_ttl_secs: Spanned<u64>,
    /// Conversation history kept for the model, in tokens.
    pub history_tokens: u32,
    /// USD per million tokens, by model name.
    pub prices: BTreeMap<String, Price>,
}

impl Default for Llm {
    fn default() -> Self {
        Llm {
            base_url: "https://api.openai.com/v1".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            model: "gpt-4.1-mini".into(),
            max_steps: 8,
            timeout_secs: 60,
            confirmation_ttl_secs: Spanned::new(0..0, 600),
            history_tokens: 6000,
            prices: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ofapi {
    pub base_url: String,
    pub api_key_env: String,
    pub timeout_secs: u64,
    /// Retries for reads after 429, 5xx and timeouts; writes are never retried.
    pub max_retries: u32,
    /// Endpoints turned off by default (account credentials, payouts,
    /// webhooks, disconnecting an account) that this install allows, by id.
    pub allow_endpoints: Vec<Spanned<String>>,
}

impl Default for Ofapi {
    fn default() -> Self {
        Ofapi {
            base_url: "https://app.onlyfansapi.com".into(),
            api_key_env: "ONLYFANSAPI_API_KEY".into(),
            timeout_secs: 30,
            max_retries: 3,
            allow_endpoints: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    pub name: Spanned<String>,
    pub default_model: Option<String>,
    /// IANA timezone, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
    /// OnlyFansAPI credits the team may use per UTC day.
    pub daily_credit_budget: Option<u64>,
    /// Model spend in USD the team may use per UTC day.
    pub daily_usd_budget: Option<f64>,
    #[serde(default)]
    pub members: Vec<MemberConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    pub name: Spanned<String>,
    #[serde(deserialize_with = "deserialize_role")]
    pub role: Role,
    #[serde(default, deserialize_with = "deserialize_ids")]
    pub telegram: Vec<String>,
    #[serde(default, deserialize_with = "deserialize_ids")]
    pub slack: Vec<String>,
    #[serde(default, deserialize_with = "deserialize_ids")]
    pub discord: Vec<String>,
}

impl MemberConfig {
    #[must_use]
    pub fn user_ids(&self) -> BTreeMap<Platform, Vec<String>> {
        [
            (Platform::Telegram, &self.telegram),
            (Platform::Slack, &self.slack),
            (Platform::Discord, &self.discord),
        ]
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(platform, ids)| (platform, ids.clone()))
        .collect()
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Channels {
    pub telegram: Vec<TelegramChannel>,
    pub slack: Vec<SlackChannel>,
    pub discord: Vec<DiscordChannel>,
}

/// Who a channel serves, whatever its platform.
#[derive(Debug, Clone, Copy)]
pub struct ChannelAccess<'a> {
    pub team: Option<&'a Spanned<String>>,
    pub permitted_user_ids: &'a [String],
    pub allow_everyone: bool,
}

macro_rules! channel_access {
    ($($ty:ty),*) => {$(
        impl $ty {
            #[must_use]
            pub fn access(&self) -> ChannelAccess<'_> {
                ChannelAccess {
                    team: self.team.as_ref(),
                    permitted_user_ids: &self.permitted_user_ids,
                    allow_everyone: self.allow_everyone,
                }
            }
        }
    )*};
}
channel_access!(TelegramChannel, SlackChannel, DiscordChannel);

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TelegramMode {
    #[default]
    Polling,
    Webhook,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramChannel {
    pub name: Spanned<String>,
    /// Team served; may be omitted when the config declares one team.
    pub team: Option<Spanned<String>>,
    /// Users served besides the team's members (as guests: they may ask but
    /// not confirm writes).
    #[serde(default, deserialize_with = "deserialize_ids")]
    pub permitted_user_ids: Vec<String>,
    #[serde(default)]
    pub allow_everyone: bool,
    #[serde(default = "telegram_token_env")]
    pub token_env: String,
    #[serde(default = "telegram_api_url")]
    pub api_url: String,
    #[serde(default)]
    pub mode: TelegramMode,
    /// Public HTTPS URL Telegram posts updates to (webhook mode).
    pub webhook_url: Option<String>,
    /// Address the webhook server listens on (webhook mode).
    #[serde(default = "telegram_webhook_listen")]
    pub webhook_listen: String,
    #[serde(default = "telegram_webhook_secret_env")]
    pub webhook_secret_env: String,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// Socket Mode: no public URL needed.
    #[default]
    Socket,
    /// Events API over HTTP.
    Events,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackChannel {
    pub name: Spanned<String>,
    /// Team served; may be omitted when the config declares one team.
    pub team: Option<Spanned<String>>,
    /// Users served besides the team's members (as guests: they may ask but
    /// not confirm writes).
    #[serde(default, deserialize_with = "deserialize_ids")]
    pub permitted_user_ids: Vec<String>,
    #[serde(default)]
    pub allow_everyone: bool,
    #[serde(default)]
    pub mode: SlackMode,
    #[serde(default = "slack_bot_token_env")]
    pub bot_token_env: String,
    #[serde(default = "slack_app_token_env")]
    pub app_token_env: String,
    #[serde(default = "slack_signing_secret_env")]
    pub signing_secret_env: String,
    #[serde(default = "slack_api_url")]
    pub api_url: String,
    /// Address the Events API and interactivity server listens on (events mode).
    #[serde(default = "slack_events_listen")]
    pub events_listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordChannel {
    pub name: Spanned<String>,
    /// Team served; may be omitted when the config declares one team.
    pub team: Option<Spanned<String>>,
    /// Users served besides the team's members (as guests: they may ask but
    /// not confirm writes).
    #[serde(default, deserialize_with = "deserialize_ids")]
    pub permitted_user_ids: Vec<String>,
    #[serde(default)]
    pub allow_everyone: bool,
    #[serde(default = "discord_token_env")]
    pub token_env: String,
    /// REST base; the gateway URL is taken from its `/gateway` answer.
    #[serde(default = "discord_api_url")]
    pub api_url: String,
    /// Servers (guild IDs) served; messages from any other are ignored.
    /// Empty serves every server the bot is invited to.
    #[serde(default, deserialize_with = "deserialize_ids")]
    pub guilds: Vec<String>,
}

impl DiscordChannel {
    /// The guild IDs as numbers (checked when the config is loaded).
    #[must_use]
    pub fn guild_ids(&self) -> Vec<u64> {
        self.guilds.iter().filter_map(|id| guild_id(id)).collect()
    }
}

/// A Discord guild ID: a non-zero number.
fn guild_id(text: &str) -> Option<u64> {
    text.trim().parse().ok().filter(|id| *id != 0)
}

/// Serde defaults for string keys: `name => "value"` defines `fn name() -> String`.
macro_rules! string_defaults {
    ($($name:ident => $value:literal),* $(,)?) => {
        $(fn $name() -> String {
            $value.into()
        })*
    };
}

string_defaults! {
    telegram_token_env => "TELEGRAM_BOT_TOKEN",
    telegram_api_url => "https://api.telegram.org",
    telegram_webhook_listen => "0.0.0.0:8443",
    telegram_webhook_secret_env => "TELEGRAM_WEBHOOK_SECRET",
    slack_bot_token_env => "SLACK_BOT_TOKEN",
    slack_app_token_env => "SLACK_APP_TOKEN",
    slack_signing_secret_env => "SLACK_SIGNING_SECRET",
    slack_api_url => "https://slack.com/api",
    slack_events_listen => "0.0.0.0:3000",
    discord_token_env => "DISCORD_BOT_TOKEN",
    discord_api_url => "https://discord.com",
}

fn deserialize_role<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Role, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// Platform user IDs, written as strings or (Telegram, Discord) numbers.
fn deserialize_ids<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(i64),
    }
    let ids = Vec::<Id>::deserialize(deserializer)?;
    Ok(ids
        .into_iter()
        .map(|id| match id {
            Id::Text(text) => text,
            Id::Number(number) => number.to_string(),
        })
        .collect())
}

/// A secret agencybot needs, by the environment variable that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretNeed {
    pub env: String,
    /// What uses it, e.g. "the model API" or "channel `telegram-main`".
    pub used_by: String,
    /// Where to get it.
    pub how_to_get: &'static str,
}

impl Config {
    /// The database URL, defaulting to SQLite under the data directory.
    #[must_use]
    pub fn database_url(&self) -> String {
        if self.database.url.trim().is_empty() {
            format!(
                "sqlite://{}",
                self.general.data_dir.join("agencybot.db").display()
            )
        } else {
            self.database.url.trim().to_owned()
        }
    }

    #[must_use]
    pub fn has_channels(&self) -> bool {
        !(self.channels.telegram.is_empty()
            && self.channels.slack.is_empty()
            && self.channels.discord.is_empty())
    }

    /// Every secret the configured features need.
    #[must_use]
    pub fn secret_needs(&self) -> Vec<SecretNeed> {
        let mut needs = Vec::new();
        let mut need = |env: &str, used_by: String, how_to_get: &'static str| {
            if !env.is_empty() && !needs.iter().any(|n: &SecretNeed| n.env == env) {
                needs.push(SecretNeed {
                    env: env.to_owned(),
                    used_by,
                    how_to_get,
                });
            }
        };
        need(
            &self.llm.api_key_env,
            format!("the model API at {}", self.llm.base_url),
            "an API key from your model provider (OpenAI: https://platform.openai.com/api-keys)",
        );
        need(
            &self.ofapi.api_key_env,
            "OnlyFansAPI".into(),
            "create an API key in the OnlyFansAPI dashboard: https://app.onlyfansapi.com → API Keys",
        );
        for channel in &self.channels.telegram {
            let used_by = format!("Telegram channel `{}`", channel.name.get_ref());
            need(
                &channel.token_env,
                used_by.clone(),
                "create a bot with @BotFather (/newbot) and copy the token it gives you",
            );
            if channel.mode == TelegramMode::Webhook {
                need(
                    &channel.webhook_secret_env,
                    used_by,
                    "choose a random string of letters and digits (e.g. `openssl rand -hex 32`); Telegram sends it back with every update",
                );
            }
        }
        for channel in &self.channels.slack {
            let used_by = format!("Slack channel `{}`", channel.name.get_ref());
            need(
                &channel.bot_token_env,
                used_by.clone(),
                "create the app from config/slack-app-manifest.yml, install it, then OAuth & Permissions → Bot User OAuth Token (xoxb-…)",
            );
            match channel.mode {
                SlackMode::Socket => need(
                    &channel.app_token_env,
                    used_by,
                    "Slack app → Basic Information → App-Level Tokens → generate one with the connections:write scope (xapp-…)",
                ),
                SlackMode::Events => need(
                    &channel.signing_secret_env,
                    used_by,
                    "Slack app → Basic Information → App Credentials → Signing Secret",
                ),
            }
        }
        for channel in &self.channels.discord {
            need(
                &channel.token_env,
                format!("Discord channel `{}`", channel.name.get_ref()),
                "Discord Developer Portal → your application → Bot → Reset Token (and enable the Message Content intent)",
            );
        }
        needs
    }

    /// What is allowed but probably not meant, as (what, why), for
    /// `agencybot doctor` and startup.
    #[must_use]
    pub fn warnings(&self) -> Vec<(String, String)> {
        let mut warnings = Vec::new();
        for channel in &self.channels.discord {
            if channel.allow_everyone && channel.guilds.is_empty() {
                warnings.push((
                    format!("Discord channel `{}`", channel.name.get_ref()),
                    "allow_everyone is on and no `guilds` are listed, so anyone in any server the bot is invited to is served; list your server IDs in `guilds = [\"…\"]`".to_owned(),
                ));
            }
        }
        warnings
    }

    /// The teams to create, with the one implicit team when none is declared.
    #[must_use]
    pub fn team_names(&self) -> Vec<String> {
        if self.teams.is_empty() {
            vec![DEFAULT_TEAM.to_owned()]
        } else {
            self.teams
                .iter()
                .map(|t| t.name.get_ref().clone())
                .collect()
        }
    }

    /// Every configured channel as (platform, name, access, settings).
    #[must_use]
    pub fn channel_list(&self) -> Vec<(Platform, &str, ChannelAccess<'_>, serde_json::Value)> {
        let mut list = Vec::new();
        for c in &self.channels.telegram {
            let settings = serde_json::json!({
                "api_url": c.api_url, "mode": format!("{:?}", c.mode).to_lowercase(),
                "token_env": c.token_env, "webhook_url": c.webhook_url,
                "webhook_listen": c.webhook_listen,
            });
            list.push((
                Platform::Telegram,
                c.name.get_ref().as_str(),
                c.access(),
                settings,
            ));
        }
        for c in &self.channels.slack {
            let settings = serde_json::json!({
                "api_url": c.api_url, "mode": format!("{:?}", c.mode).to_lowercase(),
                "bot_token_env": c.bot_token_env, "events_listen": c.events_listen,
            });
            list.push((
                Platform::Slack,
                c.name.get_ref().as_str(),
                c.access(),
                settings,
            ));
        }
        for c in &self.channels.discord {
            let settings = serde_json::json!({"api_url": c.api_url, "token_env": c.token_env, "guilds": c.guilds});
            list.push((
                Platform::Discord,
                c.name.get_ref().as_str(),
                c.access(),
                settings,
            ));
        }
        list
    }

    /// The team a channel serves (validated at load).
    #[must_use]
    pub fn channel_team<'a>(&'a self, access: ChannelAccess<'a>) -> &'a str {
        match access.team {
            Some(team) => team.get_ref(),
            None => self
                .teams
                .first()
                .map_or(DEFAULT_TEAM, |team| team.name.get_ref().as_str()),
        }
    }
}

/// The team used when the config declares none.
pub const DEFAULT_TEAM: &str = "default";

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

fn invalid(origin: Origin, message: String, hint: Option<String>) -> ConfigError {
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

type Override = (String, String, String, toml::Value);

/// `AGENCYBOT_<SECTION>_<KEY>=value` → (variable, section, key, value).
fn env_overrides(env: &[(String, String)]) -> Result<Vec<Override>, ConfigError> {
    let mut overrides = Vec::new();
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let rest = rest.to_lowercase();
        let Some((section, key)) = rest.split_once('_') else {
            continue;
        };
        if !OVERRIDABLE_SECTIONS.contains(&section) {
            continue;
        }
        if key == "prices" {
            return Err(invalid(
                Origin::Environment(var.clone()),
                "prices cannot be set from the environment".into(),
                Some("set [llm.prices] in the config file".into()),
            ));
        }
        overrides.push((var.clone(), section.to_owned(), key.to_owned(), scalar(raw)));
    }
    overrides.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(overrides)
}

/// Numbers and booleans keep their type; anything else is a string.
fn scalar(raw: &str) -> toml::Value {
    if let Ok(number) = raw.parse::<i64>() {
        return toml::Value::Integer(number);
    }
    if let Ok(number) = raw.parse::<f64>()
        && raw.contains('.')
    {
        return toml::Value::Float(number);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

/// Secrets from the environment, then from the secrets file.
#[derive(Debug, Default)]
pub struct Secrets {
    values: BTreeMap<String, Secret>,
}

impl Secrets {
    pub fn load(config: &Config, env: &[(String, String)]) -> Result<Secrets, ConfigError> {
        let mut values = BTreeMap::new();
        if let Some(path) = &config.general.secrets_file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            for (index, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let line = line.strip_prefix("export ").unwrap_or(line);
                let Some((key, value)) = line.split_once('=') else {
                    return Err(ConfigError::SecretsFile {
                        path: path.clone(),
                        line: index + 1,
                        message: "expected NAME=value".into(),
                    });
                };
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(value);
                values.insert(key.trim().to_owned(), Secret::new(value));
            }
        }
        for (key, value) in env {
            if !value.is_empty() {
                values.insert(key.clone(), Secret::new(value.clone()));
            }
        }
        Ok(Secrets { values })
    }

    #[must_use]
    pub fn get(&self, env: &str) -> Option<&Secret> {
        self.values.get(env)
    }

    /// The needs no environment variable or secrets file line satisfies.
    #[must_use]
    pub fn missing(&self, config: &Config) -> Vec<SecretNeed> {
        config
            .secret_needs()
            .into_iter()
            .filter(|need| self.get(&need.env).is_none())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Config, ConfigError> {
        parse(Path::new("agencybot.toml"), text, &[])
    }

    #[track_caller]
    fn check_error(text: &str, expected: &str) {
        let err = parse_str(text).unwrap_err().to_string();
        assert!(
            err.starts_with(expected),
            "got:\n{err}\nexpected to start with:\n{expected}"
        );
    }

    #[test]
    fn a_confirmation_ttl_under_the_minimum_is_refused_where_it_is_written() {
        check_error(
            "[llm]\nmodel = \"gpt-4.1\"\nconfirmation_ttl_secs = 5\n",
            "agencybot.toml:3:",
        );
        let err = parse_str("[llm]\nconfirmation_ttl_secs = 5\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("too short") && err.contains("at least 30"),
            "{err}"
        );
        let env = [(
            "AGENCYBOT_LLM_CONFIRMATION_TTL_SECS".to_owned(),
            "10".to_owned(),
        )];
        let err = parse(Path::new("a.toml"), "", &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("AGENCYBOT_LLM_CONFIRMATION_TTL_SECS"), "{err}");
        assert!(parse_str("[llm]\nconfirmation_ttl_secs = 30\n").is_ok());
    }

    #[test]
    fn endpoints_allowed_must_be_ones_turned_off_by_default() {
        assert!(parse_str("[ofapi]\nallow_endpoints = [\"webhooks.create-webhook\"]\n").is_ok());
        check_error(
            "[ofapi]\nallow_endpoints = [\"tracking-links.create-tracking-link\"]\n",
            "agencybot.toml:2:",
        );
        let err = parse_str("[ofapi]\nallow_endpoints = [\"nope.nope\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an OnlyFansAPI endpoint id"), "{err}");
    }

    #[test]
    fn channel_names_that_would_break_conversation_keys_are_refused() {
        let err = parse_str("[[channels.telegram]]\nname = \"tg main\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be used"), "{err}");
        let err = parse_str("[[channels.telegram]]\nname = \"terminal\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be used"), "{err}");
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let config = parse_str("").unwrap();
        assert_eq!(config.database_url(), "sqlite://data/agencybot.db");
        assert_eq!(config.llm.model, "gpt-4.1-mini");
        assert!(!config.has_channels());
        assert_eq!(config.team_names(), ["default"]);
    }

    #[test]
    fn unknown_keys_are_reported_with_file_line_and_key() {
        check_error(
            "[llm]\nmodel = \"gpt-4.1\"\nmodle = \"x\"\n",
            "agencybot.toml:3:1: `modle = \"x\"`: unknown field `modle`",
        );
        let err = parse_str("[llm]\nmodle = \"x\"\n").unwrap_err().to_string();
        assert!(
            err.contains("hint: remove `modle` or fix its spelling"),
            "{err}"
        );
    }

    #[test]
    fn mistyped_values_are_reported_with_their_line() {
        check_error(
            "[ofapi]\n\nmax_retries = \"three\"\n",
            "agencybot.toml:3:15: `max_retries = \"three\"`: invalid type: string \"three\", expected u32",
        );
        check_error(
            "[[teams]]\nname = \"A\"\n[[teams.members]]\nname = \"Ann\"\nrole = \"boss\"\n",
            "agencybot.toml:5:8: `role = \"boss\"`: invalid role `boss`: expected one of: viewer member admin owner",
        );
        check_error(
            "[[channels.slack]]\nname = \"s\"\nmode = \"rtm\"\n",
            "agencybot.toml:3:8: `mode = \"rtm\"`: unknown variant `rtm`",
        );
    }

    #[test]
    fn secrets_in_the_file_are_refused_with_a_hint() {
        let err = parse_str("[[channels.telegram]]\nname = \"t\"\ntoken = \"123:abc\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("agencybot.toml:3:1:"), "{err}");
        assert!(
            err.contains("secrets are never read from the config file"),
            "{err}"
        );
        assert!(!err.contains("123:abc") || err.contains("`token = \"123:abc\"`"));
    }

    #[test]
    fn cross_references_are_checked() {
        check_error(
            "[[teams]]\nname = \"A\"\n[[channels.discord]]\nname = \"d\"\nteam = \"B\"\n",
            "agencybot.toml:5:8: `team = \"B\"`: channel `d` names team `B`, which is not declared",
        );
        check_error(
            "[[channels.discord]]\nname = \"d\"\n[[channels.telegram]]\nname = \"d\"\n",
            "agencybot.toml:4:8: `name = \"d\"`: channel name `d` is empty or used twice",
        );
        check_error(
            "[[teams]]\nname = \"A\"\n[[teams.members]]\nname = \"Ann\"\nrole = \"owner\"\ntelegram = [1]\n[[teams.members]]\nname = \"Bo\"\nrole = \"viewer\"\ntelegram = [\"1\"]\n",
            "agencybot.toml:8:8: `name = \"Bo\"`: telegram user ID 1 belongs to two members of team `A`",
        );
        check_error(
            "[[teams]]\nname = \"A\"\ntimezone = \"Berlin time\"\n",
            "agencybot.toml:2:8: `name = \"A\"`: timezone `Berlin time` is not an IANA timezone name",
        );
        check_error(
            "[[channels.telegram]]\nname = \"t\"\nmode = \"webhook\"\n",
            "agencybot.toml:2:8: `name = \"t\"`: Telegram channel `t` is in webhook mode without `webhook_url`",
        );
    }

    #[test]
    fn environment_overrides_scalar_keys() {
        let env = [
            (
                "AGENCYBOT_DATABASE_URL".to_owned(),
                "postgres://db/agency".to_owned(),
            ),
            ("AGENCYBOT_LLM_MAX_STEPS".to_owned(), "12".to_owned()),
            (
                "AGENCYBOT_OFAPI_BASE_URL".to_owned(),
                "http://127.0.0.1:9".to_owned(),
            ),
            ("AGENCYBOT_TEST_SOMETHING".to_owned(), "ignored".to_owned()),
        ];
        let config = parse(Path::new("a.toml"), "[llm]\nmax_steps = 4\n", &env).unwrap();
        assert_eq!(config.database_url(), "postgres://db/agency");
        assert_eq!(config.llm.max_steps, 12);
        assert_eq!(config.ofapi.base_url, "http://127.0.0.1:9");

        let bad = [("AGENCYBOT_LLM_MAX_STEPZ".to_owned(), "3".to_owned())];
        let err = parse(Path::new("a.toml"), "", &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "environment variable AGENCYBOT_LLM_MAX_STEPZ: unknown field `max_stepz`"
            ),
            "{err}"
        );
        let bad = [("AGENCYBOT_LLM_MAX_STEPS".to_owned(), "many".to_owned())];
        let err = parse(Path::new("a.toml"), "", &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable AGENCYBOT_LLM_MAX_STEPS: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn secrets_come_from_env_or_the_secrets_file_and_missing_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let secrets_path = dir.path().join("secrets.env");
        std::fs::write(
            &secrets_path,
            "# comment\nexport TELEGRAM_BOT_TOKEN=\"123:abc\"\n",
        )
        .unwrap();
        let text = format!(
            "[general]\nsecrets_file = {:?}\n[[channels.telegram]]\nname = \"t\"\n[[channels.slack]]\nname = \"s\"\nmode = \"events\"\n",
            secrets_path.display().to_string()
        );
        let config = parse(Path::new("a.toml"), &text, &[]).unwrap();
        let env = [("OPENAI_API_KEY".to_owned(), "sk-test".to_owned())];
        let secrets = Secrets::load(&config, &env).unwrap();
        assert_eq!(
            secrets.get("TELEGRAM_BOT_TOKEN").unwrap().expose(),
            "123:abc"
        );
        let missing: Vec<String> = secrets
            .missing(&config)
            .into_iter()
            .map(|n| n.env)
            .collect();
        assert_eq!(
            missing,
            [
                "ONLYFANSAPI_API_KEY",
                "SLACK_BOT_TOKEN",
                "SLACK_SIGNING_SECRET"
            ]
        );

        std::fs::write(&secrets_path, "JUST_A_NAME\n").unwrap();
        let err = Secrets::load(&config, &[]).unwrap_err().to_string();
        assert!(err.ends_with("secrets.env:1: expected NAME=value"), "{err}");
    }

    #[test]
    fn discord_guilds_are_read_as_numbers_or_strings_and_checked() {
        let config = parse_str(
            "[[channels.discord]]\nname = \"d\"\nguilds = [\"4000000000000001\", 4000000000000002]\n",
        )
        .unwrap();
        assert_eq!(
            config.channels.discord[0].guild_ids(),
            [4_000_000_000_000_001, 4_000_000_000_000_002]
        );
        for bad in ["\"my server\"", "0", "\"\""] {
            let err = parse_str(&format!(
                "[[channels.discord]]\nname = \"d\"\nguilds = [{bad}]\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains("which is not a server ID"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_discord_channel_open_to_everyone_in_any_server_is_warned_about() {
        let open =
            parse_str("[[channels.discord]]\nname = \"d\"\nallow_everyone = true\n").unwrap();
        let warnings = open.warnings();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].0, "Discord channel `d`");
        assert!(warnings[0].1.contains("any server the bot is invited to"));
        for quiet in [
            "[[channels.discord]]\nname = \"d\"\nallow_everyone = true\nguilds = [\"42\"]\n",
            "[[channels.discord]]\nname = \"d\"\n",
        ] {
            assert!(parse_str(quiet).unwrap().warnings().is_empty(), "{quiet}");
        }
    }
}
