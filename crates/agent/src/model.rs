//! Talking to an OpenAI-compatible chat-completions endpoint.
//!
//! Requests are built as JSON and answers read into tolerant types: local
//! model servers and proxies often leave out `created` or send a
//! `finish_reason` outside OpenAI's list, which must not fail a turn.

use std::collections::BTreeMap;
use std::time::Duration;

use agencybot_core::Secret;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// Where the model is and how long a call may take.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Base URL up to `/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
    /// Sent with every request (OpenRouter's `HTTP-Referer`, a gateway's
    /// tenant header…); values may be secrets.
    pub headers: Vec<(String, Secret)>,
    /// Longest `Retry-After` a rate-limited call waits out, telling the
    /// user; a longer one ends the call with [`ModelError::RateLimited`].
    pub max_wait: Duration,
}

/// The default for [`ModelConfig::max_wait`].
pub const MODEL_MAX_WAIT: Duration = Duration::from_secs(60);

/// Rate-limit waits one call sits out at most before it gives up.
const MAX_RATE_LIMIT_WAITS: u32 = 3;

tokio::task_local! {
    static WAITS: std::sync::Arc<dyn Fn(Duration) + Send + Sync>;
}

/// Runs `calls`, telling `report` each time the model service asks them to
/// wait (429 with `Retry-After`) before the client waits it out.
pub async fn reporting_model_waits<F: std::future::Future>(
    report: std::sync::Arc<dyn Fn(Duration) + Send + Sync>,
    calls: F,
) -> F::Output {
    WAITS.scope(report, calls).await
}

impl ModelConfig {
    #[must_use]
    pub fn new(base_url: impl Into<String>, api_key: Option<Secret>, timeout: Duration) -> Self {
        ModelConfig {
            base_url: base_url.into(),
            api_key,
            timeout,
            headers: Vec::new(),
            max_wait: MODEL_MAX_WAIT,
        }
    }
}

/// One model service and the models it answers for.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub client: ModelClient,
    /// Models routed here. Empty: every model no other provider lists.
    pub models: Vec<String>,
}

/// Why a model cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("no configured provider serves the model `{model}`; configured models: {known}")]
pub struct UnknownModel {
    pub model: String,
    /// The configured model names, comma-separated.
    pub known: String,
}

/// The model services of this install, and which model goes where.
#[derive(Debug, Clone)]
pub struct Models {
    providers: Vec<Provider>,
    /// Names that may be chosen: every provider's list, priced models and
    /// the default, sorted.
    known: Vec<String>,
}

impl Models {
    /// `extra_known` adds names a catch-all provider serves (priced models,
    /// the default model), so they can be chosen by name.
    #[must_use]
    pub fn new(providers: Vec<Provider>, extra_known: impl IntoIterator<Item = String>) -> Self {
        let mut known: Vec<String> = providers
            .iter()
            .flat_map(|p| p.models.iter().cloned())
            .chain(extra_known)
            .collect();
        known.sort();
        known.dedup();
        Models { providers, known }
    }

    /// The provider a model's calls go to: the one that lists it, else the
    /// one that serves everything else.
    pub fn route(&self, model: &str) -> Result<&Provider, UnknownModel> {
        self.providers
            .iter()
            .find(|p| p.models.iter().any(|m| m == model))
            .or_else(|| self.providers.iter().find(|p| p.models.is_empty()))
            .ok_or_else(|| self.unknown(model))
    }

    /// Whether `model` may be chosen for a conversation, a task or a team:
    /// named in the configuration and served by a provider.
    pub fn check(&self, model: &str) -> Result<&Provider, UnknownModel> {
        if !self.known.iter().any(|m| m == model) {
            return Err(self.unknown(model));
        }
        self.route(model)
    }

    /// The model names that may be chosen, sorted.
    #[must_use]
    pub fn known(&self) -> &[String] {
        &self.known
    }

    fn unknown(&self, model: &str) -> UnknownModel {
        UnknownModel {
            model: model.to_owned(),
            known: if self.known.is_empty() {
                "none".to_owned()
            } else {
                self.known.join(", ")
            },
        }
    }
}

impl From<ModelClient> for Models {
    /// One provider serving every model.
    fn from(client: ModelClient) -> Self {
        Models::new(
            vec![Provider {
                name: "default".into(),
                client,
                models: Vec::new(),
            }],
            [],
        )
    }
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
    /// A 429 whose `Retry-After` is longer than the client waits.
    #[error("the AI model service's rate limit asks to wait {} s", wait.as_secs())]
    RateLimited { wait: Duration },
}

/// A 429 answer with its `Retry-After`, carried out of async-openai's
/// transport so the wait is not lost in its error.
#[derive(Debug, thiserror::Error)]
#[error("rate limited for {wait:?}")]
struct RetryAfter {
    wait: Duration,
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

/// A chat-completions request body.
#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Sent<'a>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
}

/// A turn's messages and tools as the model is sent them, each serialized
/// once: every later call of the turn resends them as they are, only the
/// messages added since are serialized.
#[derive(Debug, Default)]
pub struct Transcript {
    messages: Vec<Box<RawValue>>,
    tools: Option<Box<RawValue>>,
}

impl Transcript {
    /// A transcript offering `tools` (none: no tools are offered).
    pub fn new(tools: &[Value]) -> Result<Transcript, ModelError> {
        let tools = if tools.is_empty() {
            None
        } else {
            Some(serialized(tools)?)
        };
        Ok(Transcript {
            messages: Vec::new(),
            tools,
        })
    }

    /// Serializes the messages added to `messages` since the last call.
    /// `messages` only ever grows within a turn.
    pub fn catch_up(&mut self, messages: &[Value]) -> Result<(), ModelError> {
        for message in messages.iter().skip(self.messages.len()) {
            self.messages.push(serialized(message)?);
        }
        Ok(())
    }
}

/// A value serialized once for every call of a turn (the context note).
pub fn serialized<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>, ModelError> {
    serde_json::value::to_raw_value(value)
        .map_err(|err| ModelError::Malformed(format!("cannot encode the request: {err}")))
}

/// The transcript's messages, then the one sent last on this call only.
struct Sent<'a> {
    messages: &'a [Box<RawValue>],
    last: Option<&'a RawValue>,
}

impl Serialize for Sent<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer
            .serialize_seq(Some(self.messages.len() + usize::from(self.last.is_some())))?;
        for message in self.messages {
            seq.serialize_element(message)?;
        }
        if let Some(last) = self.last {
            seq.serialize_element(last)?;
        }
        seq.end()
    }
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
    max_wait: Duration,
}

impl std::fmt::Debug for ModelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelClient")
    }
}

impl ModelClient {
    pub fn new(config: &ModelConfig) -> Result<ModelClient, ModelError> {
        let _ = rustls_provider();
        // Each turn's next model call follows within seconds: connections
        // stay for it (no new handshake per step), and close 5 s after a
        // burst, so descriptors go back to the idle level.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .pool_idle_timeout(Duration::from_secs(5))
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|err| ModelError::Network(err.to_string()))?;
        let mut openai = OpenAIConfig::new().with_api_base(config.base_url.trim_end_matches('/'));
        if let Some(key) = &config.api_key {
            openai = openai.with_api_key(key.expose());
        }
        for (name, value) in &config.headers {
            let invalid =
                || ModelError::Network(format!("the header `{name}` is not a valid HTTP header"));
            let header =
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            openai = openai
                .with_header(header, value.expose())
                .map_err(|_| invalid())?;
        }
        // A 429 that says how long to wait comes back as `RetryAfter`;
        // everything else passes through as async-openai reads it.
        let sender = http.clone();
        let transport = tower::service_fn(move |factory: HttpRequestFactory| {
            let http = sender.clone();
            async move {
                let request = factory.build().await?;
                let response = http.execute(request).await.map_err(OpenAIError::Reqwest)?;
                if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS
                    && let Some(wait) = agencybot_ofapi::retry_after(response.headers())
                {
                    return Err(OpenAIError::Boxed(Box::new(RetryAfter { wait })));
                }
                Ok::<_, OpenAIError>(response)
            }
        });
        Ok(ModelClient {
            client: async_openai::Client::build(http, openai).with_http_service(transport),
            max_wait: config.max_wait,
        })
    }

    /// One chat completion (no streaming). A rate limit that asks to wait
    /// at most the configured limit is waited out, and whoever is waiting
    /// for the call is told (see [`reporting_model_waits`]).
    pub async fn complete(
        &self,
        model: &str,
        transcript: &Transcript,
        last: Option<&RawValue>,
    ) -> Result<Completion, ModelError> {
        let mut waits = 0;
        loop {
            match self.complete_once(model, transcript, last).await {
                Err(ModelError::RateLimited { wait })
                    if wait <= self.max_wait && waits < MAX_RATE_LIMIT_WAITS =>
                {
                    waits += 1;
                    let _ = WAITS.try_with(|report| report(wait));
                    tracing::warn!(
                        model,
                        wait_ms = wait.as_millis() as u64,
                        "the model service asked to wait"
                    );
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    async fn complete_once(
        &self,
        model: &str,
        transcript: &Transcript,
        last: Option<&RawValue>,
    ) -> Result<Completion, ModelError> {
        let tools = transcript.tools.as_deref();
        let request = ChatRequest {
            model,
            messages: Sent {
                messages: &transcript.messages,
                last,
            },
            stream: false,
            tools,
            parallel_tool_calls: tools.is_some().then_some(true),
        };
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

fn model_error(error: OpenAIError) -> ModelError {
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
        OpenAIError::Boxed(err) => match err.downcast::<RetryAfter>() {
            Ok(limited) => ModelError::RateLimited { wait: limited.wait },
            Err(other) => ModelError::Network(other.to_string()),
        },
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

    fn provider(name: &str, models: &[&str]) -> Provider {
        let config = ModelConfig::new("http://127.0.0.1:9/v1", None, Duration::from_secs(1));
        Provider {
            name: name.into(),
            client: ModelClient::new(&config).unwrap(),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    #[test]
    fn models_route_to_the_provider_that_lists_them() {
        let models = Models::new(
            vec![
                provider("openai", &["gpt-4.1-mini"]),
                provider("anthropic", &["claude-sonnet-4.5"]),
            ],
            [],
        );
        assert_eq!(models.route("claude-sonnet-4.5").unwrap().name, "anthropic");
        assert_eq!(models.check("gpt-4.1-mini").unwrap().name, "openai");
        let unknown = models.check("gpt-9").unwrap_err();
        assert_eq!(unknown.known, "claude-sonnet-4.5, gpt-4.1-mini");
        assert!(unknown.to_string().contains("`gpt-9`"));
    }

    #[test]
    fn a_provider_without_a_list_serves_the_rest() {
        let models = Models::new(
            vec![
                provider("local", &[]),
                provider("anthropic", &["claude-sonnet-4.5"]),
            ],
            ["llama3.1".to_owned()],
        );
        assert_eq!(models.route("anything").unwrap().name, "local");
        assert_eq!(models.check("llama3.1").unwrap().name, "local");
        assert!(
            models.check("anything").is_err(),
            "only named models may be chosen"
        );
    }

    #[test]
    fn bad_header_names_are_refused() {
        let mut config = ModelConfig::new("http://127.0.0.1:9/v1", None, Duration::from_secs(1));
        config.headers.push(("bad header".into(), Secret::new("x")));
        assert!(ModelClient::new(&config).is_err());
    }
}
