//! Turning a configuration into a running process: logging, the store, and
//! the teams, members and channels the config declares.

use std::num::NonZeroU32;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use agencybot_agent::{
    Engine, EngineConfig, ModelClient, ModelConfig, Models, Price, Prices, Provider,
};
use agencybot_core::{SystemClock, Team};
use agencybot_ofapi::{Client, ClientConfig, RetryPolicy};
use agencybot_store::{ChannelSpec, MemberSpec, Store, StoreOptions, TeamSpec};
use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, DEFAULT_TEAM, SecretNeed, Secrets};

/// Logs to stderr; `RUST_LOG` wins over `general.log`.
pub fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.general.log))
        .unwrap_or_else(|err| {
            eprintln!(
                "warning: invalid log filter `{}` ({err}); using `info`",
                config.general.log
            );
            EnvFilter::new("info")
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The SQLite file the URL points at, if it is a SQLite file URL.
pub fn sqlite_path(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| Path::new(path))
}

pub fn store_options(config: &Config) -> StoreOptions {
    let mut options = StoreOptions::new(config.database_url());
    options.max_connections = config.database.max_connections;
    options.schema = config.database.schema.clone().filter(|s| !s.is_empty());
    options
}

/// Opens the database, creating the SQLite file (and its folder) if needed.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let options = store_options(config);
    if let Some(parent) = sqlite_path(&options.url).and_then(Path::parent)
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the data directory {}", parent.display()))?;
    }
    Store::connect(&options).await.with_context(|| {
        format!(
            "opening the database at {}",
            agencybot_store::redact_url(&options.url)
        )
    })
}

/// Opens and migrates the database and syncs what the config declares.
pub async fn open_ready_store(config: &Config) -> anyhow::Result<Store> {
    let store = open_store(config).await?;
    let applied = store.migrate().await.context("migrating the database")?;
    for name in applied {
        tracing::info!(migration = %name, "applied database migration");
    }
    sync_config(&store, config).await?;
    Ok(store)
}

/// Makes the stored teams, config members and channels match the config.
pub async fn sync_config(store: &Store, config: &Config) -> anyhow::Result<()> {
    if config.teams.is_empty() {
        store
            .upsert_team(&TeamSpec {
                name: DEFAULT_TEAM.into(),
                default_model: None,
                timezone: None,
                daily_credit_budget: None,
                daily_usd_budget: None,
            })
            .await?;
    }
    for team in &config.teams {
        let stored = store
            .upsert_team(&TeamSpec {
                name: team.name.get_ref().clone(),
                default_model: team.default_model.clone(),
                timezone: team.timezone.clone(),
                daily_credit_budget: team
                    .daily_credit_budget
                    .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
                daily_usd_budget: team.daily_usd_budget,
            })
            .await?;
        let members: Vec<MemberSpec> = team
            .members
            .iter()
            .map(|m| MemberSpec {
                name: m.name.get_ref().clone(),
                role: m.role,
                user_ids: m.user_ids(),
            })
            .collect();
        store
            .sync_config_members(stored.id, &members)
            .await
            .with_context(|| format!("saving the members of team `{}`", team.name.get_ref()))?;
    }
    let mut channels = Vec::new();
    for (platform, name, access, settings) in config.channel_list() {
        let team_name = config.channel_team(access);
        let team = store
            .team_by_name(team_name)
            .await?
            .with_context(|| format!("team `{team_name}` of channel `{name}`"))?;
        channels.push(ChannelSpec {
            team_id: team.id,
            platform,
            name: name.to_owned(),
            settings,
            permitted_user_ids: access.permitted_user_ids.to_vec(),
            allow_everyone: access.allow_everyone,
        });
    }
    store.sync_channels(&channels).await?;
    Ok(())
}

pub fn print_missing_secrets(missing: &[SecretNeed]) {
    for need in missing {
        eprintln!(
            "  {}: {} (used by {})",
            need.env, need.how_to_get, need.used_by
        );
    }
}

/// `agencybot run`.
pub async fn run(
    config_path: &Path,
    config: &Config,
    env: &[(String, String)],
) -> anyhow::Result<ExitCode> {
    if !config.has_channels() {
        eprintln!(
            "No channel is configured in {}: add a [[channels.telegram]], [[channels.slack]] or \
             [[channels.discord]] section ({} shows each), then run again.",
            config_path.display(),
            crate::config::EXAMPLE_CONFIG_PATH
        );
        return Ok(ExitCode::FAILURE);
    }
    let secrets = Secrets::load(config, env)?;
    let missing = secrets.missing(config);
    if !missing.is_empty() {
        eprintln!(
            "Missing secrets (set these environment variables or put them in the secrets file):"
        );
        print_missing_secrets(&missing);
        return Ok(ExitCode::FAILURE);
    }
    let store = open_ready_store(config).await?;
    let api = configured_api(config, &secrets)?;
    let skills = skills(config);
    let engine = Arc::new(engine(
        config,
        &secrets,
        store.clone(),
        api,
        skills.clone(),
    )?);
    crate::serve::channels(config, &secrets, store, engine, skills).await?;
    Ok(ExitCode::SUCCESS)
}

/// The team a command is about: the one named, or the only one there is.
pub async fn pick_team(store: &Store, config: &Config, name: Option<&str>) -> anyhow::Result<Team> {
    let names = config.team_names();
    let name = match (name, names.as_slice()) {
        (Some(name), _) => name.to_owned(),
        (None, [only]) => only.clone(),
        (None, _) => anyhow::bail!(
            "several teams are configured; pick one with --team ({})",
            names.join(", ")
        ),
    };
    store.team_by_name(&name).await?.with_context(|| {
        format!(
            "no team named `{name}`; configured teams: {}",
            names.join(", ")
        )
    })
}

/// Where OnlyFansAPI is: the configured API, or a sandbox's URL and key.
pub struct ApiTarget {
    pub base_url: String,
    pub api_key: agencybot_core::Secret,
}

/// The OnlyFansAPI client with the configured timeout and retries.
pub fn ofapi_client(config: &Config, api: ApiTarget) -> anyhow::Result<Client> {
    let mut client_config = ClientConfig::new(api.base_url, api.api_key);
    client_config.timeout = Duration::from_secs(config.ofapi.timeout_secs.max(1));
    client_config.retry = RetryPolicy {
        max_retries: config.ofapi.max_retries,
        max_retry_after: Duration::from_secs(config.ofapi.max_wait_secs),
        ..RetryPolicy::default()
    };
    Client::new(client_config).context("building the OnlyFansAPI client")
}

/// The skill folders the config names, loaded.
pub fn skills(config: &Config) -> Arc<agencybot_skills::Skills> {
    agencybot_skills::Skills::load(config.skills.dirs())
}

/// The turn engine as the config describes it, with the skills offered.
pub fn engine(
    config: &Config,
    secrets: &Secrets,
    store: Store,
    api: ApiTarget,
    skills: Arc<agencybot_skills::Skills>,
) -> anyhow::Result<Engine> {
    let ofapi = ofapi_client(config, api)?;
    let models = models(config, secrets)?;
    let prices = prices(config);
    for model in unpriced_models(config, &prices) {
        tracing::warn!(model = %model, "no price configured for this model: its requests are recorded at $0 and the USD budget cannot see them; add it under [llm.prices]");
    }
    let engine_config = EngineConfig {
        default_model: config.llm.model.clone(),
        max_steps: config.llm.max_steps.max(1),
        // The config refuses less than the minimum; `max` only guards the type.
        confirmation_ttl: chrono::Duration::seconds(
            i64::try_from(*config.llm.confirmation_ttl_secs.get_ref())
                .unwrap_or(600)
                .max(1),
        ),
        history_tokens: config.llm.history_tokens as usize,
        prices,
        allowed_endpoints: config
            .ofapi
            .allow_endpoints
            .iter()
            .map(|id| id.get_ref().clone())
            .collect(),
        turn_deadline: Duration::from_secs(config.limits.turn_deadline_secs.max(1)),
        read_reuse_ttl: Duration::from_secs(config.ofapi.reuse_reads_secs),
        user_turns_per_minute: NonZeroU32::new(config.limits.user_turns_per_minute),
        team_turns_per_minute: NonZeroU32::new(config.limits.team_turns_per_minute),
        max_concurrent_turns: config.limits.concurrent_turns.max(1),
        ..EngineConfig::default()
    };
    let integrations = integrations(config, secrets, Some(&store))?;
    let mut engine = Engine::new(store, ofapi, models, engine_config, Arc::new(SystemClock));
    agencybot_skills::register(&mut engine, skills);
    agencybot_scheduler::register(&mut engine, Arc::new(workflows(config)?));
    if let Some(tool) = web_search(config, secrets)? {
        engine.register_tool(Arc::new(tool));
    }
    if !integrations.servers().is_empty() {
        integrations.register(&mut engine);
    }
    if let Some(public_url) = config
        .alerts
        .public_url
        .as_ref()
        .filter(|_| config.alerts.enabled())
    {
        agencybot_alerts::register(&mut engine, public_url.get_ref());
    }
    if let Some(settings) = console_settings(config)? {
        agencybot_console::register(&mut engine, &settings.public_url, settings.link_ttl);
    }
    Ok(engine)
}

/// The web console as `[web]` configures it; `None` while it is off.
pub fn console_settings(
    config: &Config,
) -> anyhow::Result<Option<agencybot_console::ConsoleSettings>> {
    let Some(public_url) = config
        .web
        .public_url
        .as_ref()
        .filter(|_| config.web.enabled())
    else {
        return Ok(None);
    };
    Ok(Some(agencybot_console::ConsoleSettings {
        public_url: public_url.get_ref().trim().trim_end_matches('/').to_owned(),
        link_ttl: Duration::from_secs(config.web.link_ttl_secs),
        session_ttl: Duration::from_secs(config.web.session_ttl_secs),
        skill_dirs: config.skills.dirs(),
        workflows: workflows(config)?,
        models: config.llm.named_models(&config.teams),
        // `agencybot run` hands the console the engine's own.
        apps: Arc::new(agencybot_agent::NoApps),
        status: Arc::default(),
    }))
}

/// The configured integrations, each with its secrets. One whose secret is
/// missing is left out with a warning (doctor names it), so the rest work.
pub fn integrations(
    config: &Config,
    secrets: &Secrets,
    store: Option<&Store>,
) -> anyhow::Result<Arc<agencybot_integrations::Integrations>> {
    use agencybot_integrations::{Integrations, Scope, ServerSpec, ToolFilter, Transport};

    let vault = sign_in_vault(config, secrets, store)?;

    let secret = |env: &str, name: &str| -> Option<agencybot_core::Secret> {
        let found = secrets.get(env).cloned();
        if found.is_none() {
            tracing::warn!(
                integration = name,
                "{env} is not set: integration `{name}` is left out"
            );
        }
        found
    };
    let mut specs = Vec::new();
    'integrations: for integration in &config.integrations {
        let name = integration.name.get_ref();
        let transport = if let Some(command) = &integration.command {
            let mut env: std::collections::BTreeMap<String, agencybot_core::Secret> = integration
                .env
                .iter()
                .map(|(key, value)| (key.clone(), agencybot_core::Secret::new(value.clone())))
                .collect();
            for (key, from) in &integration.env_secrets {
                let Some(value) = secret(from, name) else {
                    continue 'integrations;
                };
                env.insert(key.clone(), value);
            }
            Transport::Stdio {
                command: command.clone(),
                args: integration.args.clone(),
                env,
                cwd: integration.cwd.clone(),
            }
        } else {
            if integration.oauth && vault.is_none() {
                tracing::warn!(
                    integration = name,
                    "{} is not set: integration `{name}` signs in with OAuth and is left out",
                    config.database.sealing_key_env
                );
                continue;
            }
            let bearer = if integration.bearer_token_env.is_empty() {
                None
            } else {
                match secret(&integration.bearer_token_env, name) {
                    Some(token) => Some(token),
                    None => continue,
                }
            };
            Transport::Http {
                url: integration.url.clone().unwrap_or_default(),
                headers: integration
                    .headers
                    .iter()
                    .map(|(key, value)| (key.clone(), agencybot_core::Secret::new(value.clone())))
                    .collect(),
                bearer,
                oauth: integration
                    .oauth
                    .then(|| agencybot_integrations::OAuthSpec {
                        scopes: integration.oauth_scopes.clone(),
                    }),
            }
        };
        specs.push(ServerSpec {
            name: name.clone(),
            title: integration.title.clone().unwrap_or_else(|| name.clone()),
            team: config.integration_team(integration).to_owned(),
            scope: match (&integration.owner, integration.scope) {
                (Some(owner), crate::config::IntegrationScope::Personal) => Scope::Personal {
                    owner: owner.get_ref().clone(),
                },
                _ => Scope::Team,
            },
            transport,
            trusted: integration.trusted,
            filter: ToolFilter {
                allow: integration.allow_tools.clone(),
                deny: integration.deny_tools.clone(),
            },
            call_timeout: Duration::from_secs(integration.timeout_secs),
            connect_timeout: Duration::from_secs(integration.connect_timeout_secs),
        });
    }
    let channel_owners = config
        .channel_list()
        .into_iter()
        .filter_map(|(_, name, access, _)| {
            access
                .set_up_by
                .map(|member| (name.to_owned(), member.get_ref().clone()))
        })
        .collect();
    Ok(Arc::new(
        Integrations::with_vault(specs, channel_owners, vault).map_err(anyhow::Error::msg)?,
    ))
}

/// Where OAuth sign-ins are kept: only when an integration signs in, the
/// store is at hand and the sealing key is set.
pub fn sign_in_vault(
    config: &Config,
    secrets: &Secrets,
    store: Option<&Store>,
) -> anyhow::Result<Option<Arc<agencybot_integrations::Vault>>> {
    use agencybot_integrations::{SealingKey, Vault};

    if !config.integrations.iter().any(|i| i.oauth) {
        return Ok(None);
    }
    let (Some(store), Some(phrase)) = (store, secrets.get(&config.database.sealing_key_env)) else {
        return Ok(None);
    };
    let key = SealingKey::from_phrase(phrase)
        .with_context(|| format!("{} cannot seal sign-ins", config.database.sealing_key_env))?;
    Ok(Some(Arc::new(Vault::new(store.clone(), key))))
}

/// The model providers the config lists, each with its key and headers.
pub fn models(config: &Config, secrets: &Secrets) -> anyhow::Result<Models> {
    let mut providers = Vec::new();
    for provider in config.llm.effective_providers() {
        let name = provider.name.get_ref();
        let api_key = if provider.api_key_env.is_empty() {
            None
        } else {
            Some(
                secrets
                    .get(&provider.api_key_env)
                    .cloned()
                    .with_context(|| {
                        format!(
                            "{} is not set: model provider `{name}` needs a key",
                            provider.api_key_env
                        )
                    })?,
            )
        };
        let mut model_config = ModelConfig::new(
            provider.base_url.clone(),
            api_key,
            Duration::from_secs(
                provider
                    .timeout_secs
                    .unwrap_or(config.llm.timeout_secs)
                    .max(1),
            ),
        );
        model_config.max_wait = Duration::from_secs(config.llm.max_wait_secs);
        model_config.headers = provider
            .headers
            .iter()
            .map(|(header, value)| (header.clone(), agencybot_core::Secret::new(value.clone())))
            .collect();
        let client = ModelClient::new(&model_config)
            .with_context(|| format!("building the client of model provider `{name}`"))?;
        providers.push(Provider {
            name: name.clone(),
            client,
            models: provider
                .models
                .iter()
                .map(|m| m.get_ref().clone())
                .collect(),
        });
    }
    Ok(Models::new(
        providers,
        config.llm.named_models(&config.teams),
    ))
}

/// Why a configured search provider cannot be used: its key is missing.
pub fn search_key_missing(env: &str, provider: &str) -> String {
    let how = match provider {
        "brave" => {
            "get one at https://api.search.brave.com/app/keys (about 1,000 free searches a month)"
        }
        "tavily" => "get one at https://app.tavily.com (1,000 free credits a month)",
        _ => "see the provider's dashboard",
    };
    format!("{env} is not set, so web search through {provider} is off: {how}")
}

/// The `web_search` tool as `[web_search]` describes it; `None` when it is
/// off or no configured provider has its key (said in the log).
pub fn web_search(
    config: &Config,
    secrets: &Secrets,
) -> anyhow::Result<Option<agencybot_websearch::WebSearchTool>> {
    use agencybot_websearch::{Brave, Provider, SearchSettings, Searxng, Tavily, WebSearchTool};

    let search = &config.web_search;
    let timeout = Duration::from_secs(search.timeout_secs.max(1));
    let mut providers: Vec<Arc<dyn Provider>> = Vec::new();
    for (name, settings) in search.chain() {
        let key = if settings.api_key_env.is_empty() {
            None
        } else {
            match secrets.get(&settings.api_key_env) {
                Some(key) => Some(key.clone()),
                None => {
                    tracing::warn!("{}", search_key_missing(&settings.api_key_env, name));
                    continue;
                }
            }
        };
        let key = || {
            key.clone()
                .unwrap_or_else(|| agencybot_core::Secret::new(""))
        };
        let provider: Arc<dyn Provider> = match name {
            "brave" => Arc::new(Brave::new(
                &settings.base_url,
                key(),
                &settings.api_key_env,
                settings.usd_per_search,
                timeout,
            )?),
            "tavily" => Arc::new(Tavily::new(
                &settings.base_url,
                key(),
                &settings.api_key_env,
                settings.usd_per_search,
                timeout,
            )?),
            _ => Arc::new(Searxng::new(
                &settings.base_url,
                settings.usd_per_search,
                timeout,
            )?),
        };
        providers.push(provider);
    }
    if providers.is_empty() {
        return Ok(None);
    }
    let settings = SearchSettings {
        per_turn: search.per_turn.max(1),
        cache_ttl: Duration::from_secs(search.cache_minutes * 60),
        country: search.country.clone(),
        language: search.language.clone(),
        safe: search.safesearch.parse().map_err(anyhow::Error::msg)?,
        monthly_budget_usd: search.monthly_budget_usd,
        team_budgets: config
            .teams
            .iter()
            .filter_map(|t| Some((t.name.get_ref().clone(), t.web_search_monthly_usd?)))
            .collect(),
    };
    Ok(Some(WebSearchTool::new(providers, settings)))
}

/// The configured model prices.
pub fn prices(config: &Config) -> Prices {
    Prices(
        config
            .llm
            .prices
            .iter()
            .map(|(model, price)| {
                (
                    model.clone(),
                    Price {
                        input_per_million: price.input_per_million,
                        output_per_million: price.output_per_million,
                    },
                )
            })
            .collect(),
    )
}

/// Models the config uses (the default and each team's) without a price.
pub fn unpriced_models(config: &Config, prices: &Prices) -> Vec<String> {
    let mut models: Vec<String> = std::iter::once(config.llm.model.clone())
        .chain(config.teams.iter().filter_map(|t| t.default_model.clone()))
        .filter(|model| !prices.0.contains_key(model))
        .collect();
    models.sort();
    models.dedup();
    models
}

/// The ready-made tasks the config points at; none when the file is absent.
pub fn workflows(config: &Config) -> anyhow::Result<Vec<agencybot_scheduler::Workflow>> {
    let path = &config.scheduler.workflows;
    match agencybot_scheduler::workflows::load(path) {
        Ok(workflows) => Ok(workflows),
        Err(agencybot_scheduler::WorkflowError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            tracing::warn!(path = %path.display(), "no workflows file; no ready-made tasks are offered");
            Ok(Vec::new())
        }
        Err(error) => Err(error.into()),
    }
}

/// The runner settings the config describes.
pub fn runner_config(config: &Config) -> agencybot_scheduler::RunnerConfig {
    let scheduler = &config.scheduler;
    agencybot_scheduler::RunnerConfig {
        tick: Duration::from_secs(scheduler.tick_secs.max(1)),
        catch_up: chrono::Duration::minutes(
            i64::try_from(scheduler.catch_up_minutes).unwrap_or(i64::MAX / 120_000),
        ),
        attempts: scheduler.attempts.max(1),
        retry_after: Duration::from_secs(scheduler.retry_secs),
        pause_after: i64::from(scheduler.pause_after.max(1)),
        abandon_after: Duration::from_secs(scheduler.takeover_secs.clamp(1, 3600)),
        instance: agencybot_agent::instance_id().to_owned(),
    }
}

/// The configured OnlyFansAPI, with its key from the secrets.
pub fn configured_api(config: &Config, secrets: &Secrets) -> anyhow::Result<ApiTarget> {
    let api_key = secrets.get(&config.ofapi.api_key_env).cloned().with_context(|| {
        format!(
            "{} is not set: create an API key in the OnlyFansAPI dashboard (or try `agencybot chat --sandbox`)",
            config.ofapi.api_key_env
        )
    })?;
    Ok(ApiTarget {
        base_url: config.ofapi.base_url.clone(),
        api_key,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use agencybot_agent::{Mode, TurnRequest, tokens};
    use agencybot_core::{ConversationKey, InboundContent, Platform, RequestKind, Role, Secret};
    use agencybot_ofapi::sandbox::{Sandbox, SandboxConfig};
    use agencybot_skills::Target;
    use agencybot_testkit::{Reply, ScriptedModel, run_turn, sandbox_now};
    use serde_json::Value;

    use super::*;

    fn repository() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// System prompt and tool definitions of a model request, in tokens.
    fn prompt_tokens(request: &Value) -> usize {
        let system = request["messages"][0]["content"]
            .as_str()
            .unwrap_or_default();
        tokens::count(system) + tokens::count(&request["tools"].to_string())
    }

    /// The budget holds as agencies grow: 50 accounts, every shipped skill
    /// installed, every internal tool the binary registers, and a scheduled
    /// run's pinned skill on top.
    #[tokio::test]
    async fn fifty_accounts_every_skill_and_every_tool_fit_the_prompt_budget() {
        let mut sandbox_config = SandboxConfig::new("sandbox-key");
        sandbox_config.now = sandbox_now();
        let sandbox = Sandbox::start(sandbox_config, 0).await.unwrap();
        sandbox.modify(|data| {
            let template = data.accounts[0].clone();
            for n in data.accounts.len()..50 {
                let mut account = template.clone();
                account.id = format!("acct_grown{n:03}");
                account.username = format!("creator_number_{n}");
                account.name = format!("Creator Number {n}");
                data.accounts.push(account);
            }
        });
        let model = ScriptedModel::start().await;
        let root = repository();
        let text = format!(
            "[llm]\nbase_url = \"{}\"\napi_key_env = \"\"\n[skills]\ndir = \"{}\"\n[scheduler]\nworkflows = \"{}\"\n[web_search]\nprovider = \"searxng\"\n",
            model.url(),
            root.join("skills").display(),
            root.join("config/workflows.toml").display()
        );
        let config = crate::config::parse(std::path::Path::new("test.toml"), &text, &[]).unwrap();
        let secrets = Secrets::default();
        let store = Store::in_memory().await.unwrap();
        let team = store
            .upsert_team(&TeamSpec {
                name: "Grown Agency".into(),
                timezone: Some("Europe/Berlin".into()),
                ..TeamSpec::default()
            })
            .await
            .unwrap();
        let skills = skills(&config);
        let library = skills.library();
        assert!(library.skills().count() >= 12);
        for skill in library.skills() {
            agencybot_skills::install(
                &store,
                &library,
                team.id,
                &Target::Skill(skill.name.clone()),
                "1",
                sandbox_now(),
            )
            .await
            .unwrap();
        }
        let api = ApiTarget {
            base_url: sandbox.url(),
            api_key: Secret::new("sandbox-key"),
        };
        let engine = engine(&config, &secrets, store, api, skills.clone()).unwrap();
        let conversation = ConversationKey::direct("telegram-main", Platform::Telegram, "1", "1");
        let request = |content: &str, instructions: Option<String>, mode: Mode| TurnRequest {
            team: team.clone(),
            conversation: conversation.clone(),
            user_id: "1".into(),
            role: Role::Owner,
            content: InboundContent::Text(content.into()),
            kind: RequestKind::Chat,
            model: None,
            mode,
            instructions,
        };

        model.push(Reply::text("Hi!"));
        run_turn(&engine, request("hi", None, Mode::Interactive)).await;
        let chat = &model.requests()[0];
        let system = chat["messages"][0]["content"].as_str().unwrap();
        assert!(system.contains("50 connected"), "{system}");
        assert!(
            !system.contains("creator_number_49"),
            "only a handful are listed"
        );
        assert!(library.skills().all(|s| system.contains(&s.name)));
        let tool_names: Vec<&str> = chat["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap())
            .collect();
        for expected in [
            "call_api",
            "use_skill",
            "schedule_task",
            "usage_chart",
            "choose_model",
            "web_search",
        ] {
            assert!(
                tool_names.contains(&expected),
                "{expected} missing: {tool_names:?}"
            );
        }
        let budget = prompt_tokens(chat);
        eprintln!("50 accounts, every skill and tool: {budget} tokens");
        assert!(budget <= 3000, "{budget} tokens");

        // A scheduled run pins the longest skill: its body counts too.
        let longest = library
            .skills()
            .max_by_key(|s| tokens::count(&s.body))
            .unwrap();
        let pinned = format!(
            "This scheduled task follows the skill `{}`:\n{}",
            longest.name, longest.body
        );
        model.push(Reply::text("Report."));
        run_turn(
            &engine,
            TurnRequest {
                kind: RequestKind::ScheduledTask,
                ..request(
                    "daily report",
                    Some(pinned),
                    Mode::Unattended {
                        allowed_writes: Vec::new(),
                    },
                )
            },
        )
        .await;
        let run = &model.requests()[1];
        let budget = prompt_tokens(run);
        eprintln!(
            "the same with the pinned skill `{}`: {budget} tokens",
            longest.name
        );
        assert!(budget <= 3000, "{budget} tokens");
    }
}
