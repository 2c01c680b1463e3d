//! Secrets: which ones the configuration needs, and where they come from
//! (environment variables, then the secrets file). Never from the file.

use std::collections::BTreeMap;

use agencybot_core::Secret;

use super::*;

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
        for provider in self.llm.effective_providers() {
            need(
                &provider.api_key_env,
                format!(
                    "model provider `{}` at {}",
                    provider.name.get_ref(),
                    provider.base_url
                ),
                "an API key from that model provider (OpenAI: https://platform.openai.com/api-keys; Anthropic: https://console.anthropic.com/settings/keys; Gemini: https://aistudio.google.com/apikey; OpenRouter: https://openrouter.ai/keys)",
            );
        }
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
        for integration in &self.integrations {
            let used_by = format!("integration `{}`", integration.name.get_ref());
            need(
                &integration.bearer_token_env,
                used_by.clone(),
                "a token or API key from that app (for OnlyFansAPI's MCP server, the team's API key)",
            );
            for env in integration.env_secrets.values() {
                need(
                    env,
                    used_by.clone(),
                    "the key or token that MCP server's documentation names",
                );
            }
            if integration.oauth {
                need(
                    &self.database.sealing_key_env,
                    format!("sign-ins of {used_by}"),
                    "choose a random phrase of at least 32 characters (e.g. `openssl rand -hex 32`) and keep it: sign-ins sealed with it cannot be opened without it",
                );
            }
        }
        needs
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
