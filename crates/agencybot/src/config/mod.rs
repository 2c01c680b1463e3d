//! The configuration file, its environment overrides, and secrets.
//!
//! One TOML file (see `config/agencybot.example.toml`, which documents every
//! key). Scalar keys of the `[general]`, `[database]`, `[llm]` and `[ofapi]`
//! sections can be overridden by `AGENCYBOT_<SECTION>_<KEY>` environment
//! variables. Secrets are never read from the file: each is named by an
//! `*_env` key and read from that environment variable, or from the
//! `KEY=value` secrets file named by `general.secrets_file`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use agencybot_core::{Platform, Role};
use serde::Deserialize;
use toml::Spanned;

mod env;
mod load;
mod secrets;
#[cfg(test)]
mod tests;

pub use load::{ConfigError, Origin, load, parse};
pub use secrets::{SecretNeed, Secrets};

pub const DEFAULT_CONFIG_PATH: &str = "config/agencybot.toml";
pub const EXAMPLE_CONFIG_PATH: &str = "config/agencybot.example.toml";
const ENV_PREFIX: &str = "AGENCYBOT_";
/// The channel name of `agencybot chat` conversations.
pub const TERMINAL_CHANNEL: &str = "terminal";
/// Sections whose scalar keys environment variables may override.
const OVERRIDABLE_SECTIONS: [&str; 8] = [
    "general",
    "database",
    "llm",
    "ofapi",
    "limits",
    "skills",
    "scheduler",
    "web_search",
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
    pub web_search: WebSearchConfig,
    pub teams: Vec<TeamConfig>,
    pub channels: Channels,
    /// MCP servers whose tools the model may use.
    pub integrations: Vec<IntegrationConfig>,
    pub alerts: AlertsConfig,
    pub web: WebConfig,
}

/// The web console: where it listens and the address links point at. Off
/// while `listen` is empty.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// e.g. `127.0.0.1:8080` (put HTTPS in front of it).
    pub listen: String,
    /// e.g. `https://bot.example.com`: sign-in links go to `<public_url>/console/sign-in`.
    pub public_url: Option<Spanned<String>>,
    /// How long a sign-in link works.
    pub link_ttl_secs: u64,
    /// How long a console session lasts.
    pub session_ttl_secs: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: String::new(),
            public_url: None,
            link_ttl_secs: 600,
            session_ttl_secs: 12 * 3600,
        }
    }
}

impl WebConfig {
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.listen.trim().is_empty()
    }
}

/// Live alerts from OnlyFansAPI webhooks: where the receiver listens and
/// the public address OnlyFansAPI posts to. Off while `listen` is empty.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// e.g. `0.0.0.0:8090` (put HTTPS in front of it).
    pub listen: String,
    /// e.g. `https://bot.example.com`: webhooks go to `<public_url>/hooks/ofapi/<id>`.
    pub public_url: Option<Spanned<String>>,
    /// An event an instance took and did not finish (it stopped or died)
    /// is taken over by any instance after this many seconds.
    pub takeover_secs: Spanned<u64>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            listen: String::new(),
            public_url: None,
            takeover_secs: Spanned::new(0..0, 60),
        }
    }
}

impl AlertsConfig {
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.listen.trim().is_empty()
    }
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
    /// Requests this process answers at once; more wait their turn.
    pub concurrent_turns: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            user_turns_per_minute: 20,
            team_turns_per_minute: 120,
            turn_deadline_secs: 180,
            concurrent_turns: 2_000,
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
    /// Seconds after which a run whose instance stopped beating is taken
    /// over by another instance (or by this one after a restart).
    pub takeover_secs: u64,
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
            takeover_secs: 60,
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
    /// Environment variable holding the phrase that seals OAuth sign-ins
    /// in the database (needed only by integrations with `oauth = true`).
    pub sealing_key_env: String,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: String::new(),
            max_connections: 8,
            schema: None,
            sealing_key_env: "AGENCYBOT_SEALING_KEY".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Llm {
    /// Any OpenAI-compatible chat-completions API; used for every model
    /// when no `[[llm.providers]]` are listed.
    pub base_url: String,
    /// Environment variable holding the API key; empty for servers without keys.
    pub api_key_env: String,
    /// Model services, each serving the models it lists (OpenAI, Anthropic
    /// or Gemini through their OpenAI-compatible endpoints, OpenRouter,
    /// Ollama, vLLM…). A provider without `models` serves every other model.
    pub providers: Vec<ProviderConfig>,
    /// The model used when neither the team nor the request names one.
    pub model: String,
    pub max_steps: u32,
    pub timeout_secs: u64,
    /// Longest `Retry-After` (seconds) a model call waits out, telling the
    /// user; a longer one ends the request with when to try again.
    pub max_wait_secs: u64,
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
            providers: Vec::new(),
            model: "gpt-4.1-mini".into(),
            max_steps: 8,
            timeout_secs: 60,
            max_wait_secs: agencybot_agent::MODEL_MAX_WAIT.as_secs(),
            confirmation_ttl_secs: Spanned::new(0..0, 600),
            history_tokens: 6000,
            prices: BTreeMap::new(),
        }
    }
}

/// `[web_search]`: the `web_search` tool, its provider and its limits.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSearchConfig {
    /// `brave`, `searxng`, `tavily`, or `off`.
    pub provider: String,
    /// Providers tried in order when the first fails (never silently).
    pub fallback: Vec<String>,
    /// Searches one request may make.
    pub per_turn: u32,
    /// What a team's searches may cost per calendar month, USD; absent for
    /// no limit.
    pub monthly_budget_usd: Option<f64>,
    /// How long a search's results are reused for free.
    pub cache_minutes: u64,
    pub country: String,
    pub language: String,
    /// `off`, `moderate` or `strict`.
    pub safesearch: String,
    pub timeout_secs: u64,
    pub brave: SearchProviderConfig,
    pub searxng: SearchProviderConfig,
    pub tavily: SearchProviderConfig,
}

impl Default for WebSearchConfig {
    fn default() -> Self {
        WebSearchConfig {
            provider: "brave".into(),
            fallback: Vec::new(),
            per_turn: 3,
            monthly_budget_usd: None,
            cache_minutes: 15,
            country: "us".into(),
            language: "en".into(),
            safesearch: "moderate".into(),
            timeout_secs: 10,
            brave: SearchProviderConfig {
                base_url: "https://api.search.brave.com".into(),
                api_key_env: "BRAVE_API_KEY".into(),
                // Search plan list price: $5 per 1,000 requests.
                usd_per_search: 0.005,
            },
            searxng: SearchProviderConfig {
                base_url: "http://127.0.0.1:8888".into(),
                api_key_env: String::new(),
                usd_per_search: 0.0,
            },
            tavily: SearchProviderConfig {
                base_url: "https://api.tavily.com".into(),
                api_key_env: "TAVILY_API_KEY".into(),
                // A basic search is one credit at $0.008 pay-as-you-go.
                usd_per_search: 0.008,
            },
        }
    }
}

/// Where one search provider is, its key and its price.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SearchProviderConfig {
    pub base_url: String,
    #[serde(default)]
    pub api_key_env: String,
    pub usd_per_search: f64,
}

/// The search providers agencybot has.
pub const SEARCH_PROVIDERS: [&str; 3] = ["brave", "searxng", "tavily"];

impl WebSearchConfig {
    /// Whether the tool is offered at all.
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.provider.eq_ignore_ascii_case("off")
    }

    /// The provider and the fallbacks, in order, with their settings.
    #[must_use]
    pub fn chain(&self) -> Vec<(&str, &SearchProviderConfig)> {
        if !self.enabled() {
            return Vec::new();
        }
        std::iter::once(self.provider.as_str())
            .chain(self.fallback.iter().map(String::as_str))
            .filter_map(|name| match name {
                "brave" => Some(("brave", &self.brave)),
                "searxng" => Some(("searxng", &self.searxng)),
                "tavily" => Some(("tavily", &self.tavily)),
                _ => None,
            })
            .collect()
    }
}

/// One `[[llm.providers]]` entry.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: Spanned<String>,
    /// Base URL up to `/v1` of its OpenAI-compatible API.
    pub base_url: String,
    /// Environment variable holding its key; empty for servers without keys.
    #[serde(default)]
    pub api_key_env: String,
    /// The model names routed here; empty: every model no provider lists.
    #[serde(default)]
    pub models: Vec<Spanned<String>>,
    /// Sent with every request (not secret: e.g. OpenRouter's `HTTP-Referer`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Overrides `[llm] timeout_secs`.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

impl Llm {
    /// The providers in use: the listed ones, or the one `[llm]` describes.
    #[must_use]
    pub fn effective_providers(&self) -> Vec<ProviderConfig> {
        if !self.providers.is_empty() {
            return self.providers.clone();
        }
        vec![ProviderConfig {
            name: Spanned::new(0..0, "default".to_owned()),
            base_url: self.base_url.clone(),
            api_key_env: self.api_key_env.clone(),
            models: Vec::new(),
            headers: BTreeMap::new(),
            timeout_secs: None,
        }]
    }

    /// Every model named in the configuration: providers' lists, prices,
    /// the default and the teams' defaults.
    #[must_use]
    pub fn named_models<'a>(&'a self, teams: &'a [TeamConfig]) -> Vec<String> {
        let mut names: Vec<String> = self
            .providers
            .iter()
            .flat_map(|p| p.models.iter().map(|m| m.get_ref().clone()))
            .chain(self.prices.keys().cloned())
            .chain(std::iter::once(self.model.clone()))
            .chain(teams.iter().filter_map(|t| t.default_model.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
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
    /// Longest `Retry-After` (seconds) a request waits out, telling the
    /// user; a longer one ends the request with when to try again.
    pub max_wait_secs: u64,
    /// Seconds a read's answer is reused by later requests; 0 for never.
    pub reuse_reads_secs: u64,
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
            max_wait_secs: 60,
            reuse_reads_secs: 120,
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
    /// What the team's web searches may cost per month (USD); overrides
    /// `[web_search] monthly_budget_usd`.
    pub web_search_monthly_usd: Option<f64>,
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

/// One MCP server: a local program (`command`) or a streamable-HTTP `url`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    /// Short and unique (`a-z`, `0-9`, `-`): it prefixes the tools' names.
    pub name: Spanned<String>,
    /// The app's name as people say it ("Google Sheets"); default: `name`.
    pub title: Option<String>,
    /// The team that may use it; may be omitted when the config declares one team.
    pub team: Option<Spanned<String>>,
    /// `team` (every member) or `personal` (only `owner`).
    #[serde(default)]
    pub scope: IntegrationScope,
    /// The member (by name) a personal integration belongs to.
    pub owner: Option<Spanned<String>>,
    /// A program that speaks MCP on stdin/stdout.
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment of the program (it gets nothing else of ours but PATH,
    /// HOME, LANG, LC_ALL, TMPDIR and TZ).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Environment variables of the program taken from secrets: variable →
    /// the environment variable (or secrets-file key) holding the value.
    #[serde(default)]
    pub env_secrets: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    /// A streamable-HTTP MCP endpoint.
    pub url: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Environment variable holding a token sent as `Authorization: Bearer`.
    #[serde(default)]
    pub bearer_token_env: String,
    /// Signs in with OAuth 2.1 (`agencybot integrations connect NAME`
    /// opens the sign-in); the tokens are kept sealed in the database.
    #[serde(default)]
    pub oauth: bool,
    /// Scopes the sign-in asks for; empty lets the server decide.
    #[serde(default)]
    pub oauth_scopes: Vec<String>,
    /// Its read-only tools may run without asking. Only for servers you run
    /// or trust: the server itself says which tools only read.
    #[serde(default)]
    pub trusted: bool,
    /// Tools offered (names or `*` patterns); empty offers all.
    #[serde(default)]
    pub allow_tools: Vec<String>,
    /// Tools never offered; wins over `allow_tools`.
    #[serde(default)]
    pub deny_tools: Vec<String>,
    /// How long one call may take (at most 600).
    #[serde(default = "default_integration_timeout")]
    pub timeout_secs: u64,
    /// How long starting and connecting may take.
    #[serde(default = "default_integration_connect")]
    pub connect_timeout_secs: u64,
}

fn default_integration_timeout() -> u64 {
    30
}

fn default_integration_connect() -> u64 {
    20
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationScope {
    #[default]
    Team,
    Personal,
}

impl Config {
    /// The team an integration belongs to (validated at load).
    #[must_use]
    pub fn integration_team<'a>(&'a self, integration: &'a IntegrationConfig) -> &'a str {
        match &integration.team {
            Some(team) => team.get_ref(),
            None => self
                .teams
                .first()
                .map_or(DEFAULT_TEAM, |team| team.name.get_ref().as_str()),
        }
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
    pub set_up_by: Option<&'a Spanned<String>>,
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
                    set_up_by: self.set_up_by.as_ref(),
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
    /// The member who set the channel up: requests here may also use that
    /// member's personal integrations.
    pub set_up_by: Option<Spanned<String>>,
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
    /// The member who set the channel up: requests here may also use that
    /// member's personal integrations.
    pub set_up_by: Option<Spanned<String>>,
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
    /// The member who set the channel up: requests here may also use that
    /// member's personal integrations.
    pub set_up_by: Option<Spanned<String>>,
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
