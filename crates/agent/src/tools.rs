//! What the model can call.
//!
//! The whole API is reachable through two tools, `find_api_endpoints` (search
//! the catalog, get schemas) and `call_api` (call any endpoint by id), so the
//! prompt stays small however large the catalog grows. Internal tools (usage
//! questions, CSV export, and whatever skills and scheduled tasks register)
//! implement [`InternalTool`].

use std::sync::Arc;

use agencybot_core::{AllowedWrite, Attachment, ConversationKey, Member, Role, Team, Timestamp};
use agencybot_ofapi::{Access, Client, Endpoint};
use agencybot_store::Store;
use futures::future::BoxFuture;
use serde_json::{Value, json};

pub const CALL_API: &str = "call_api";
/// The tool that calls an integration's tool; an approved task write names
/// the integration tool as its fixed `tool` argument.
pub const CALL_INTEGRATION: &str = "call_integration";
pub const FIND_API_ENDPOINTS: &str = "find_api_endpoints";

/// Who a request comes from and how it runs: what decides which tools it
/// is offered and how each call is treated.
pub struct Requester<'a> {
    pub team: &'a Team,
    pub user_id: &'a str,
    pub role: Role,
    pub conversation: &'a ConversationKey,
    pub store: &'a Store,
    /// Set for a scheduled run: the writes approved when its task was made.
    pub allowed_writes: Option<&'a [AllowedWrite]>,
    /// The integrations configured, to check what a request can use.
    pub apps: &'a dyn ConnectedApps,
    member: tokio::sync::OnceCell<Option<Member>>,
}

impl<'a> Requester<'a> {
    #[must_use]
    pub fn new(
        team: &'a Team,
        user_id: &'a str,
        role: Role,
        conversation: &'a ConversationKey,
        store: &'a Store,
        allowed_writes: Option<&'a [AllowedWrite]>,
        apps: &'a dyn ConnectedApps,
    ) -> Self {
        Requester {
            team,
            user_id,
            role,
            conversation,
            store,
            allowed_writes,
            apps,
            member: tokio::sync::OnceCell::new(),
        }
    }

    /// The `required` integrations this request cannot use, as named.
    pub async fn missing_apps(&self, required: &[String]) -> Vec<String> {
        if required.is_empty() {
            return Vec::new();
        }
        self.apps.missing(self, required).await
    }

    /// The team member asking, looked up once; `None` for guests (and when
    /// the store cannot say, which grants nothing personal).
    pub async fn member(&self) -> Option<&Member> {
        self.member
            .get_or_init(|| async {
                self.store
                    .member_by_user(self.team.id, self.conversation.platform, self.user_id)
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, "cannot look up the member asking");
                        None
                    })
            })
            .await
            .as_ref()
    }
}

/// The integrations (apps) a request can use, for requirements such as a
/// workflow's `requires`.
pub trait ConnectedApps: Send + Sync {
    /// The `required` apps this requester cannot use, each as named.
    fn missing<'a>(
        &'a self,
        requester: &'a Requester<'a>,
        required: &'a [String],
    ) -> BoxFuture<'a, Vec<String>>;
}

/// No integrations configured: every required app is missing.
pub struct NoApps;

impl ConnectedApps for NoApps {
    fn missing<'a>(
        &'a self,
        _requester: &'a Requester<'a>,
        required: &'a [String],
    ) -> BoxFuture<'a, Vec<String>> {
        Box::pin(std::future::ready(required.to_vec()))
    }
}

/// What an internal tool gets to work with.
pub struct ToolContext<'a> {
    pub team: &'a Team,
    pub user_id: &'a str,
    pub role: Role,
    pub conversation: &'a ConversationKey,
    /// The model chosen for the conversation (`None`: the team's).
    pub conversation_model: Option<&'a str>,
    pub store: &'a Store,
    pub ofapi: &'a Client,
    pub now: Timestamp,
    /// OnlyFansAPI credits the team may still spend today (`None`: no
    /// budget). A tool that makes many calls stops before it passes them.
    pub credits_left: Option<i64>,
    /// Sends a file to the chat the request came from.
    pub send_file: &'a (dyn Fn(Attachment) + Send + Sync),
    /// Sends text straight to the chat the request came from, never
    /// through the model (a sign-in link is for the asker's eyes only).
    pub send_text: &'a (dyn Fn(String) + Send + Sync),
    /// What this turn's tool calls used so far, for per-turn caps.
    pub turn_uses: &'a TurnUses,
    /// Run by the gate: confirmed by the asker, or approved with the task.
    /// Otherwise the call was judged a read when it was made.
    pub approved: bool,
    /// Set for a scheduled run: the writes approved with its task.
    pub allowed_writes: Option<&'a [AllowedWrite]>,
    pub apps: &'a dyn ConnectedApps,
}

impl ToolContext<'_> {
    /// The request this call belongs to, as tools' access checks see it.
    #[must_use]
    pub fn requester(&self) -> Requester<'_> {
        Requester::new(
            self.team,
            self.user_id,
            self.role,
            self.conversation,
            self.store,
            self.allowed_writes,
            self.apps,
        )
    }
}

/// What a tool call produced: the result the model reads, the
/// OnlyFansAPI credits it used and the web searches it made.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolOutput {
    pub content: Value,
    pub credits: i64,
    pub searches: WebSearches,
    /// Integration calls it made, one entry (the integration's name) each.
    pub integration_calls: Vec<String>,
    /// Set when a write was sent and no answer came back: what to check
    /// before asking again. The gate reports it as unknown, never failed.
    pub effect_unknown: Option<String>,
}

impl ToolOutput {
    #[must_use]
    pub fn new(content: Value) -> Self {
        ToolOutput {
            content,
            ..ToolOutput::default()
        }
    }
}

/// Web searches of a request: billed ones with their cost, and the free
/// answers from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WebSearches {
    pub billed: i64,
    pub cached: i64,
    pub usd: f64,
}

impl std::ops::AddAssign for WebSearches {
    fn add_assign(&mut self, other: WebSearches) {
        self.billed += other.billed;
        self.cached += other.cached;
        self.usd += other.usd;
    }
}

/// Uses of something counted over one turn (a tool's per-turn cap): taken
/// one at a time, so parallel calls of one step cannot all pass.
#[derive(Debug, Default)]
pub struct TurnUses {
    counts: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl TurnUses {
    /// Takes one use of `what` if fewer than `cap` were taken this turn.
    pub fn take(&self, what: &str, cap: u32) -> bool {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(what.to_owned()).or_default();
        if *count >= cap {
            return false;
        }
        *count += 1;
        true
    }

    /// Gives back a use that was not made after all.
    pub fn give_back(&self, what: &str) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(what) {
            *count = count.saturating_sub(1);
        }
    }
}

/// A tool implemented inside agencybot. Writes (`access()` other than
/// `Read`) go through the same confirmation gate as API writes.
pub trait InternalTool: Send + Sync {
    fn name(&self) -> &str;
    /// One or two sentences: what it does and when to use it.
    fn description(&self) -> &str;
    /// JSON Schema of the arguments.
    fn parameters(&self) -> Value;
    fn access(&self) -> Access;
    /// The least role that may have it run, when it is a write.
    fn required_role(&self) -> Role {
        Role::Member
    }
    /// Its results carry text written outside the team (web pages): a
    /// write proposed after reading them is flagged, as after fans' messages.
    fn returns_outside_text(&self) -> bool {
        false
    }
    /// Checks the arguments beyond their schema, before anything is proposed.
    fn check(&self, _arguments: &Value) -> Result<(), String> {
        Ok(())
    }
    /// Whether this request is offered the tool at all. By default a
    /// scheduled run is offered reads and the writes approved with its task.
    fn offered<'a>(&'a self, requester: &'a Requester<'a>) -> BoxFuture<'a, bool> {
        let offered = match requester.allowed_writes {
            None => true,
            Some(allowed) => {
                self.access() == Access::Read || allowed.iter().any(|w| w.tool == self.name())
            }
        };
        Box::pin(std::future::ready(offered))
    }
    /// How this call is treated: a read runs at once, anything else waits
    /// for a yes. A tool whose calls differ (an integration's read-only and
    /// writing tools) decides here; an error refuses the call unproposed.
    fn access_of<'a>(
        &'a self,
        _requester: &'a Requester<'a>,
        _arguments: &'a Value,
    ) -> BoxFuture<'a, Result<Access, String>> {
        Box::pin(std::future::ready(Ok(self.access())))
    }
    /// What running it with these arguments will do, for the confirmation
    /// question (only asked for writes).
    fn summarize(&self, arguments: &Value) -> String {
        format!("Run {} with {arguments}", self.name())
    }
    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>>;
    /// A chat command (`/console`) that runs this tool at once with no
    /// arguments, without the model: faster and free. Only reads have one.
    fn command(&self) -> Option<&str> {
        None
    }
    /// The answer to the command, from the tool's result; `None` when the
    /// tool has said everything itself (through `send_text`).
    fn command_reply(&self, _content: &Value) -> Option<String> {
        None
    }
}

/// Tools offered to the model besides the API ones.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: Vec<Arc<dyn InternalTool>>,
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.tools.iter().map(|t| t.name()))
            .finish()
    }
}

impl ToolRegistry {
    pub fn register(&mut self, tool: Arc<dyn InternalTool>) {
        self.tools.retain(|t| t.name() != tool.name());
        self.tools.push(tool);
    }

    /// The tool whose command `text` is (`/console`, `/console@agency_bot`).
    #[must_use]
    pub fn for_command(&self, text: &str) -> Option<&Arc<dyn InternalTool>> {
        let text = text.trim();
        if !text.starts_with('/') || text.contains(char::is_whitespace) {
            return None;
        }
        let command = text.split('@').next().unwrap_or_default();
        self.tools
            .iter()
            .find(|tool| tool.command() == Some(command))
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Arc<dyn InternalTool>> {
        self.tools.iter().find(|t| t.name() == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn InternalTool>> {
        self.tools.iter()
    }
}

fn function(name: &str, description: &str, parameters: Value) -> Value {
    json!({"type": "function", "function": {"name": name, "description": description, "parameters": parameters}})
}

/// The tool definitions sent with every model call: the API tools and the
/// internal tools `offered` keeps.
#[must_use]
pub fn definitions(
    registry: &ToolRegistry,
    offered: impl Fn(&dyn InternalTool) -> bool,
) -> Vec<Value> {
    let mut tools = vec![
        function(
            CALL_API,
            "Call an OnlyFansAPI endpoint by id. Reads run at once; writes are shown to the user and run only after they confirm.",
            json!({
                "type": "object",
                "properties": {
                    "endpoint": {"type": "string", "description": "Endpoint id, e.g. statistics.get-earnings"},
                    "arguments": {"type": "object", "description": "Path, query and body arguments by name"},
                    "fresh": {"type": "boolean", "description": "true only when the latest data is asked for"}
                },
                "required": ["endpoint", "arguments"]
            }),
        ),
        function(
            FIND_API_ENDPOINTS,
            "Search the OnlyFansAPI catalog for endpoints not listed in the instructions; returns ids, access and argument schemas.",
            json!({
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What you want to do, in a few words"}},
                "required": ["query"]
            }),
        ),
    ];
    for tool in registry.iter().filter(|t| offered(t.as_ref())) {
        tools.push(function(tool.name(), tool.description(), tool.parameters()));
    }
    tools
}

/// An endpoint as the model sees it in search results: short texts, the
/// full argument schema.
#[must_use]
pub fn describe_endpoint(endpoint: &Endpoint) -> Value {
    json!({
        "id": endpoint.id,
        "title": endpoint.title,
        "access": endpoint.access.as_str(),
        "description": shorten(&endpoint.description, 240),
        "arguments": shorten_descriptions(&endpoint.schema),
    })
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

fn shorten_descriptions(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| key.as_str() != "additionalProperties")
                .map(|(key, value)| match (key.as_str(), value) {
                    ("description", Value::String(text)) => {
                        (key.clone(), Value::String(shorten(text, 120)))
                    }
                    _ => (key.clone(), shorten_descriptions(value)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(shorten_descriptions).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use agencybot_ofapi::Catalog;

    use super::*;

    #[test]
    fn described_endpoints_keep_their_schema_but_not_long_texts() {
        let endpoint = Catalog::onlyfans()
            .get("mass-messaging.send-mass-message")
            .unwrap();
        let described = describe_endpoint(endpoint);
        assert_eq!(described["access"], "write");
        assert_eq!(
            described["arguments"]["required"],
            endpoint.schema["required"]
        );
        assert!(described.to_string().len() < endpoint.schema.to_string().len() + 400);
    }

    struct Console;

    impl InternalTool for Console {
        fn name(&self) -> &str {
            "console_link"
        }
        fn description(&self) -> &str {
            "signs in"
        }
        fn parameters(&self) -> Value {
            json!({"type": "object"})
        }
        fn access(&self) -> Access {
            Access::Read
        }
        fn run<'a>(
            &'a self,
            _context: &'a ToolContext<'a>,
            _arguments: Value,
        ) -> BoxFuture<'a, Result<ToolOutput, String>> {
            Box::pin(std::future::ready(Ok(ToolOutput::default())))
        }
        fn command(&self) -> Option<&str> {
            Some("/console")
        }
    }

    #[test]
    fn a_command_is_the_whole_message_with_or_without_the_bot_name() {
        let mut tools = ToolRegistry::default();
        tools.register(Arc::new(Console));
        for text in ["/console", " /console ", "/console@agency_bot"] {
            assert!(tools.for_command(text).is_some(), "{text}");
        }
        for text in [
            "/console please",
            "console",
            "/consoles",
            "open the /console",
        ] {
            assert!(tools.for_command(text).is_none(), "{text}");
        }
    }
}
