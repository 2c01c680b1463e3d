//! Integrations: the tools of MCP servers (Google Sheets, Gmail, Notion, a
//! calendar, OnlyFansAPI's own server…) offered to the model the way the
//! API is: a short list of the connected apps in the prompt, a search that
//! returns tools with their schemas, and one tool that calls them.
//!
//! Servers come only from the deployment's config: a stdio program or a
//! streamable-HTTP URL, each for a team or for one member (personal). A
//! call runs at once only when its server is marked trusted and the tool
//! says it only reads; every other call is a pending action confirmed like
//! an API write. Answers are outside data, bounded and marked so.

mod catalog;
mod oauth;
mod result;
mod search;
mod server;
mod spec;
mod tools;

use std::collections::HashMap;
use std::sync::Arc;

use agencybot_agent::{ConnectedApps, Engine, Requester};
use futures::future::BoxFuture;

pub use catalog::{Catalog, IntegrationTool, integration_of, model_name};
pub use oauth::{MIN_KEY_CHARS, OAuthError, SealingKey, SignIn, Vault};
pub use result::{EXTERNAL_NOTE, MAX_RESULT_CHARS};
pub use search::rank;
pub use server::{CallError, Server, ServerError};
pub use spec::{MAX_CALL_TIMEOUT, OAuthSpec, Scope, ServerSpec, ToolFilter, Transport, check_name};
pub use tools::{CALL_TOOL, FIND_TOOLS, LIST_TOOL};

/// Every configured integration, and who may use which.
pub struct Integrations {
    servers: Vec<Arc<Server>>,
    /// Channel name → the member who set it up: requests there may use
    /// that member's personal integrations.
    channel_owners: HashMap<String, String>,
}

impl Integrations {
    /// Refuses two integrations with one name.
    pub fn new(
        specs: Vec<ServerSpec>,
        channel_owners: HashMap<String, String>,
    ) -> Result<Self, String> {
        Self::with_vault(specs, channel_owners, None)
    }

    /// Like [`Integrations::new`], keeping OAuth sign-ins in `vault`;
    /// refuses a server that signs in when there is none.
    pub fn with_vault(
        specs: Vec<ServerSpec>,
        channel_owners: HashMap<String, String>,
        vault: Option<Arc<Vault>>,
    ) -> Result<Self, String> {
        let mut servers: Vec<Arc<Server>> = Vec::with_capacity(specs.len());
        for spec in specs {
            check_name(&spec.name)?;
            if servers.iter().any(|s| s.spec.name == spec.name) {
                return Err(format!(
                    "the integration `{}` is configured twice",
                    spec.name
                ));
            }
            let server = Server::with_vault(spec, vault.clone());
            if server.signs_in() && vault.is_none() {
                return Err(format!(
                    "the integration `{}` signs in with OAuth, which needs a key to seal its tokens",
                    server.spec.name
                ));
            }
            servers.push(Arc::new(server));
        }
        Ok(Integrations {
            servers,
            channel_owners,
        })
    }

    #[must_use]
    pub fn servers(&self) -> &[Arc<Server>] {
        &self.servers
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Arc<Server>> {
        self.servers.iter().find(|s| s.spec.name == name)
    }

    /// Offers the integration tools and the prompt's list of apps, and
    /// answers what workflows require.
    pub fn register(self: &Arc<Self>, engine: &mut Engine) {
        tools::register(self, engine);
        engine.set_connected_apps(self.clone());
    }

    /// The integrations this request may use: its team's shared ones, the
    /// asker's personal ones, and those of whoever set up the channel.
    pub async fn visible(&self, requester: &Requester<'_>) -> Vec<Arc<Server>> {
        let channel_owner = self.channel_owners.get(&requester.conversation.channel);
        let mut visible = Vec::new();
        for server in &self.servers {
            if server.spec.team != requester.team.name {
                continue;
            }
            let allowed = match &server.spec.scope {
                Scope::Team => true,
                Scope::Personal { owner } => {
                    channel_owner == Some(owner)
                        || requester.member().await.is_some_and(|m| &m.name == owner)
                }
            };
            if allowed {
                visible.push(server.clone());
            }
        }
        visible
    }

    /// The `required` apps none of `servers` is, as named.
    #[must_use]
    pub fn missing_among(servers: &[Arc<Server>], required: &[String]) -> Vec<String> {
        required
            .iter()
            .filter(|wanted| !servers.iter().any(|s| is_app(wanted, &s.spec)))
            .cloned()
            .collect()
    }

    /// Each server's tools, reached all at once.
    pub async fn reach(servers: &[Arc<Server>]) -> Vec<Result<Arc<Catalog>, ServerError>> {
        futures::future::join_all(servers.iter().map(|s| s.tools())).await
    }

    /// The team's shared integrations (what the command line can vouch for).
    #[must_use]
    pub fn shared_with(&self, team: &str) -> Vec<Arc<Server>> {
        self.servers
            .iter()
            .filter(|s| s.spec.team == team && s.spec.scope == Scope::Team)
            .cloned()
            .collect()
    }
}

impl ConnectedApps for Integrations {
    fn missing<'a>(
        &'a self,
        requester: &'a Requester<'a>,
        required: &'a [String],
    ) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move { Self::missing_among(&self.visible(requester).await, required) })
    }
}

/// Whether `wanted` ("Google Sheets", "google-sheets") names this app.
fn is_app(wanted: &str, spec: &ServerSpec) -> bool {
    let plain = |text: &str| -> String {
        text.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let wanted = plain(wanted);
    !wanted.is_empty() && (wanted == plain(&spec.name) || wanted == plain(&spec.title))
}
