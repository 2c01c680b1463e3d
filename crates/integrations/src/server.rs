//! One MCP server: connected on first use, its tools listed to the end and
//! listed again when it says they changed, restarted (with backoff) when it
//! dies, every call bounded in time.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
};
use rmcp::service::{NotificationContext, RunningService, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, Peer, RoleClient, ServiceExt};
use serde_json::{Map, Value};
use tokio::io::AsyncBufReadExt;

use rmcp::transport::auth::{AuthClient, AuthorizationManager};

use crate::catalog::Catalog;
use crate::oauth::{self, Vault};
use crate::spec::{ServerSpec, Transport};

/// The longest wait before another start is tried.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Environment a stdio server gets besides its configured `env`: enough to
/// find programs and write temporary files, none of the bot's secrets.
const PASSED_ENV: [&str; 6] = ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ"];

/// Why a server could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServerError {
    #[error("it could not be started: {0}")]
    Start(String),
    #[error("it did not connect: {0}")]
    Connect(String),
    #[error("it did not connect within {0:?}")]
    ConnectTimeout(Duration),
    #[error("it failed to start {failures} time(s) in a row (last: {last}); the next try is in {}s", retry_in.as_secs().max(1))]
    Backoff {
        failures: u32,
        last: String,
        retry_in: Duration,
    },
    #[error("it could not list its tools: {0}")]
    List(String),
    /// Nobody has signed in to it yet, or its sign-in ran out or was
    /// revoked: not a failure worth backing off from.
    #[error(
        "it needs a sign-in: someone with access to the server runs `agencybot integrations connect {0}`"
    )]
    SignInNeeded(String),
}

/// Why a call gave no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// Nothing was sent.
    #[error("the integration is not available: {0}")]
    Unavailable(ServerError),
    /// The server answered with a protocol error: the call did not run.
    #[error("the integration refused the call: {0}")]
    Refused(String),
    /// Sent, and no answer came back in time: it may have run.
    #[error("the integration did not answer within {0:?}")]
    Timeout(Duration),
    /// Sent, and the connection died before the answer: it may have run.
    #[error("the integration stopped before answering ({0}); it is restarted on the next call")]
    Died(String),
}

impl CallError {
    /// The call was sent, so whatever it does may have happened.
    #[must_use]
    pub fn effect_unknown(&self) -> bool {
        matches!(self, CallError::Timeout(_) | CallError::Died(_))
    }
}

/// Hears `tools/list_changed`.
struct Listener {
    stale: Arc<AtomicBool>,
}

impl ClientHandler for Listener {
    fn on_tool_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.stale.store(true, Ordering::SeqCst);
        std::future::ready(())
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("agencybot", env!("CARGO_PKG_VERSION")),
        )
    }
}

struct Connection {
    service: RunningService<RoleClient, Listener>,
    catalog: Arc<Catalog>,
}

#[derive(Default)]
struct State {
    connection: Option<Connection>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
}

pub struct Server {
    pub spec: ServerSpec,
    /// Where its OAuth sign-in is kept, for servers that sign in.
    vault: Option<Arc<Vault>>,
    state: tokio::sync::Mutex<State>,
    /// The last listing, for summaries written without waiting.
    known: RwLock<Option<Arc<Catalog>>>,
    stale: Arc<AtomicBool>,
}

impl Server {
    #[must_use]
    pub fn new(spec: ServerSpec) -> Self {
        Self::with_vault(spec, None)
    }

    /// A server whose OAuth sign-in (if it uses one) is kept in `vault`.
    #[must_use]
    pub fn with_vault(spec: ServerSpec, vault: Option<Arc<Vault>>) -> Self {
        Server {
            spec,
            vault,
            state: tokio::sync::Mutex::new(State::default()),
            known: RwLock::new(None),
            stale: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The tools as last listed, without connecting.
    #[must_use]
    pub fn known_tools(&self) -> Option<Arc<Catalog>> {
        self.known
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The server's tools, connecting (or reconnecting) first if needed.
    pub async fn tools(&self) -> Result<Arc<Catalog>, ServerError> {
        Ok(self.ready().await?.1)
    }

    /// Calls one of its tools by the server's own name.
    pub async fn call(
        &self,
        remote: &str,
        arguments: Map<String, Value>,
    ) -> Result<CallToolResult, CallError> {
        let (peer, _) = self.ready().await.map_err(CallError::Unavailable)?;
        let started = Instant::now();
        let request = CallToolRequestParams::new(remote.to_owned()).with_arguments(arguments);
        let outcome = tokio::time::timeout(self.spec.call_timeout, peer.call_tool(request)).await;
        tracing::info!(
            integration = %self.spec.name,
            tool = remote,
            ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            ok = matches!(outcome, Ok(Ok(_))),
            "integration call"
        );
        match outcome {
            Err(_) => Err(CallError::Timeout(self.spec.call_timeout)),
            Ok(Ok(result)) => Ok(result),
            Ok(Err(ServiceError::McpError(error))) => {
                Err(CallError::Refused(error.message.to_string()))
            }
            Ok(Err(error)) => {
                self.drop_connection().await;
                let error = error.to_string();
                // A refused token means the call was never run.
                match self.connect_error(&error) {
                    sign_in @ ServerError::SignInNeeded(_) if self.signs_in() => {
                        Err(CallError::Unavailable(sign_in))
                    }
                    _ => Err(CallError::Died(error)),
                }
            }
        }
    }

    /// Closes the connection (ending its session) if there is one; the
    /// next use connects again.
    pub async fn disconnect(&self) {
        self.drop_connection().await;
    }

    /// Forgets a connection that failed, so the next use starts it again.
    async fn drop_connection(&self) {
        let mut state = self.state.lock().await;
        if let Some(connection) = state.connection.take() {
            let _ = connection.service.cancel().await;
        }
    }

    async fn ready(&self) -> Result<(Peer<RoleClient>, Arc<Catalog>), ServerError> {
        let mut state = self.state.lock().await;
        if state
            .connection
            .as_ref()
            .is_some_and(|c| c.service.is_closed())
        {
            tracing::warn!(integration = %self.spec.name, "integration connection closed; restarting it");
            state.connection = None;
        }
        if let Some(connection) = &mut state.connection {
            if self.stale.swap(false, Ordering::SeqCst) {
                match list(&self.spec, connection.service.peer()).await {
                    Ok(catalog) => {
                        connection.catalog = Arc::new(catalog);
                        self.remember(&connection.catalog);
                    }
                    Err(error) => {
                        self.stale.store(true, Ordering::SeqCst);
                        return Err(error);
                    }
                }
            }
            return Ok((
                connection.service.peer().clone(),
                connection.catalog.clone(),
            ));
        }
        if let Some(retry_at) = state.retry_at {
            let now = Instant::now();
            if now < retry_at {
                return Err(ServerError::Backoff {
                    failures: state.failures,
                    last: state.last_error.clone().unwrap_or_default(),
                    retry_in: retry_at - now,
                });
            }
        }
        match self.connect().await {
            Ok(connection) => {
                state.failures = 0;
                state.retry_at = None;
                state.last_error = None;
                let ready = (
                    connection.service.peer().clone(),
                    connection.catalog.clone(),
                );
                self.remember(&connection.catalog);
                state.connection = Some(connection);
                Ok(ready)
            }
            Err(error @ ServerError::SignInNeeded(_)) => {
                state.last_error = Some(error.to_string());
                Err(error)
            }
            Err(error) => {
                state.failures += 1;
                let wait = Duration::from_secs(1 << (state.failures - 1).min(6)).min(MAX_BACKOFF);
                state.retry_at = Some(Instant::now() + wait);
                state.last_error = Some(error.to_string());
                tracing::warn!(integration = %self.spec.name, %error, retry_in_secs = wait.as_secs(), "integration did not start");
                Err(error)
            }
        }
    }

    fn remember(&self, catalog: &Arc<Catalog>) {
        *self
            .known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(catalog.clone());
    }

    async fn connect(&self) -> Result<Connection, ServerError> {
        self.stale.store(false, Ordering::SeqCst);
        let listener = Listener {
            stale: self.stale.clone(),
        };
        let timeout = self.spec.connect_timeout;
        let service = match &self.spec.transport {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut program = tokio::process::Command::new(command);
                program.args(args).env_clear().kill_on_drop(true);
                for key in PASSED_ENV {
                    if let Ok(value) = std::env::var(key) {
                        program.env(key, value);
                    }
                }
                for (key, value) in env {
                    program.env(key, value.expose());
                }
                if let Some(cwd) = cwd {
                    program.current_dir(cwd);
                }
                let (transport, stderr) = TokioChildProcess::builder(program)
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|error| ServerError::Start(format!("`{command}`: {error}")))?;
                if let Some(stderr) = stderr {
                    let name = self.spec.name.clone();
                    tokio::spawn(async move {
                        let mut lines = tokio::io::BufReader::new(stderr).lines();
                        while let Ok(Some(line)) = lines.next_line().await {
                            let line: String = line.chars().take(300).collect();
                            tracing::debug!(integration = %name, "stderr: {line}");
                        }
                    });
                }
                tokio::time::timeout(timeout, listener.serve(transport))
                    .await
                    .map_err(|_| ServerError::ConnectTimeout(timeout))?
                    .map_err(|error| ServerError::Connect(error.to_string()))?
            }
            Transport::Http {
                url,
                headers,
                bearer,
                oauth,
            } => {
                let mut custom = std::collections::HashMap::new();
                for (name, value) in headers {
                    let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|error| ServerError::Start(format!("header `{name}`: {error}")))?;
                    let value =
                        reqwest::header::HeaderValue::from_str(value.expose()).map_err(|_| {
                            ServerError::Start(format!(
                                "header `{name}` has a value that cannot be sent"
                            ))
                        })?;
                    custom.insert(name, value);
                }
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(custom);
                if let Some(bearer) = bearer {
                    config = config.auth_header(bearer.expose().to_owned());
                }
                install_tls_provider();
                let client = reqwest::Client::builder()
                    .connect_timeout(timeout)
                    .build()
                    .map_err(|error| ServerError::Start(error.to_string()))?;
                if oauth.is_some() {
                    let client = AuthClient::new(client, self.signed_in_manager().await?);
                    let transport = StreamableHttpClientTransport::with_client(client, config);
                    tokio::time::timeout(timeout, listener.serve(transport))
                        .await
                        .map_err(|_| ServerError::ConnectTimeout(timeout))?
                        .map_err(|error| self.connect_error(&error.to_string()))?
                } else {
                    let transport = StreamableHttpClientTransport::with_client(client, config);
                    tokio::time::timeout(timeout, listener.serve(transport))
                        .await
                        .map_err(|_| ServerError::ConnectTimeout(timeout))?
                        .map_err(|error| ServerError::Connect(error.to_string()))?
                }
            }
        };
        let catalog = list(&self.spec, service.peer()).await?;
        tracing::info!(
            integration = %self.spec.name,
            tools = catalog.tools.len(),
            "integration connected"
        );
        Ok(Connection {
            service,
            catalog: Arc::new(catalog),
        })
    }
}

impl Server {
    /// Whether it signs in with OAuth.
    #[must_use]
    pub fn signs_in(&self) -> bool {
        matches!(&self.spec.transport, Transport::Http { oauth: Some(_), .. })
    }

    /// The OAuth manager holding its stored sign-in, or why there is none.
    async fn signed_in_manager(&self) -> Result<AuthorizationManager, ServerError> {
        let name = &self.spec.name;
        let vault = self.vault.as_ref().ok_or_else(|| {
            ServerError::Start("it signs in with OAuth, but no key for sign-ins is set".into())
        })?;
        let mut manager = oauth::manager(&self.spec, vault)
            .await
            .map_err(|error| ServerError::Connect(error.to_string()))?;
        match manager.initialize_from_store().await {
            Ok(true) => Ok(manager),
            Ok(false) => Err(ServerError::SignInNeeded(name.clone())),
            Err(error) => Err(ServerError::Connect(error.to_string())),
        }
    }

    /// A refused token reads as "sign in again", not as a broken server.
    fn connect_error(&self, error: &str) -> ServerError {
        let lower = error.to_ascii_lowercase();
        if lower.contains("authorization required")
            || lower.contains("auth required")
            || lower.contains("401")
        {
            ServerError::SignInNeeded(self.spec.name.clone())
        } else {
            ServerError::Connect(error.to_owned())
        }
    }
}

/// reqwest is built without a default crypto provider; choose ring once.
pub(crate) fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Every page of the server's tools.
async fn list(spec: &ServerSpec, peer: &Peer<RoleClient>) -> Result<Catalog, ServerError> {
    let tools = tokio::time::timeout(spec.call_timeout, peer.list_all_tools())
        .await
        .map_err(|_| ServerError::List(format!("no answer within {:?}", spec.call_timeout)))?
        .map_err(|error| ServerError::List(error.to_string()))?;
    Ok(Catalog::from_listing(spec, tools))
}
