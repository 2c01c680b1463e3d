//! Talking to an OpenAI-compatible chat-completions endpoint.
//!
//! Requests are built as JSON and answers read into tolerant types: local
//! model servers and proxies often leave out `created` or send a
//! `finish_reason` outside OpenAI's list, which must not fail a turn.

use std::collections::BTreeMap;
use std::time::Duration;

use agencybot_core::Secret;
use async_openai::config::OpenAIConfig;
use serde::Deserialize;
use serde_json::{Value, json};

/// Where the model is and how long a call may take.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Base URL up to `/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// The per-model price table; unknown models cost nothing (and say so in logs).
#[derive(Debug, Clone, Default)]
pub struct Prices(pub BTreeMap<String, Price>);

impl Prices {
    #[must_use]
    pub fn cost(&self, model: &str, prompt_tokens: i64, completion_tokens: i64) -> f64 {
        match self.0.get(model) {
            Some(price) => {
                (prompt_tokens as f64 * price.input_per_million
                    + completion_tokens as f64 * price.output_per_million)
                    / 1_000_000.0
            }
            None => {
                tracing::debug!(model, "no price configured for model; cost recorded as 0");
                0.0
            }
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("the AI model did not answer in time")]
    Timeout,
    #[error("the AI model service answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("cannot reach the AI model service: {0}")]
    Network(String),
    #[error("the AI model service sent an answer that cannot be read: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub function: FunctionCall,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// JSON text, as the model wrote it (may be invalid JSON).
    #[serde(default)]
    pub arguments: String,
}

/// What the model answered in one call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

#[derive(Deserialize)]
struct RawCompletion {
    #[serde(default)]
    choices: Vec<RawChoice>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct RawChoice {
    message: RawMessage,
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Deserialize)]
struct RawUsage {
    #[serde(default)]
    prompt_tokens: i64,
    #[serde(default)]
    completion_tokens: i64,
}

#[derive(Clone)]
pub struct ModelClient {
    client: async_openai::Client<OpenAIConfig>,
}

impl std::fmt::Debug for ModelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelClient")
    }
}

impl ModelClient {
    pub fn new(config: &ModelConfig) -> Result<ModelClient, ModelError> {
        let _ = rustls_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|err| ModelError::Network(err.to_string()))?;
        let mut openai = OpenAIConfig::new().with_api_base(config.base_url.trim_end_matches('/'));
        if let Some(key) = &config.api_key {
            openai = openai.with_api_key(key.expose());
        }
        Ok(ModelClient {
            client: async_openai::Client::build(http, openai),
        })
    }

    /// One chat completion (no streaming).
    pub async fn complete(
        &self,
        model: &str,
        messages: &[Value],
        tools: &[Value],
    ) -> Result<Completion, ModelError> {
        let mut request = json!({
            "model": model,
            "messages": messages,
            "stream": false,
        });
        if !tools.is_empty() {
            request["tools"] = Value::Array(tools.to_vec());
            request["parallel_tool_calls"] = Value::Bool(true);
        }
        let raw: RawCompletion = self
            .client
            .chat()
            .create_byot(request)
            .await
            .map_err(model_error)?;
        let usage = raw.usage.unwrap_or(RawUsage {
            prompt_tokens: 0,
            completion_tokens: 0,
        });
        let message = raw
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::Malformed("no choices in the answer".into()))?
            .message;
        Ok(Completion {
            content: message.content.filter(|c| !c.trim().is_empty()),
            tool_calls: message.tool_calls.unwrap_or_default(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        })
    }
}

/// reqwest is built without a default crypto provider; choose ring once.
fn rustls_provider() -> bool {
    rustls::crypto::ring::default_provider()
        .install_default()
        .is_ok()
}

fn model_error(error: async_openai::error::OpenAIError) -> ModelError {
    use async_openai::error::OpenAIError;
    match error {
        OpenAIError::Reqwest(err) if err.is_timeout() => ModelError::Timeout,
        OpenAIError::Reqwest(err) => match err.status() {
            Some(status) => ModelError::Status {
                status: status.as_u16(),
                message: status.canonical_reason().unwrap_or("error").to_owned(),
            },
            None => ModelError::Network(
                std::error::Error::source(&err)
                    .map_or_else(|| err.to_string(), ToString::to_string),
            ),
        },
        OpenAIError::ApiError(api) => ModelError::Status {
            status: api.status_code.as_u16(),
            // Server errors carry their raw body; keep the message short.
            message: api.api_error.message.chars().take(200).collect(),
        },
        OpenAIError::JSONDeserialize(err, _) => ModelError::Malformed(err.to_string()),
        other => ModelError::Malformed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_uses_the_price_table() {
        let prices = Prices(BTreeMap::from([(
            "gpt-4.1-mini".to_owned(),
            Price {
                input_per_million: 0.40,
                output_per_million: 1.60,
            },
        )]));
        let cost = prices.cost("gpt-4.1-mini", 1_000_000, 500_000);
        assert!((cost - 1.20).abs() < 1e-9);
        assert_eq!(prices.cost("unknown", 1000, 1000), 0.0);
    }
}
