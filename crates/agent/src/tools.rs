//! What the model can call.
//!
//! The whole API is reachable through two tools, `find_api_endpoints` (search
//! the catalog, get schemas) and `call_api` (call any endpoint by id), so the
//! prompt stays small however large the catalog grows. Internal tools (usage
//! questions, CSV export, and whatever skills and scheduled tasks register)
//! implement [`InternalTool`].

use std::sync::Arc;

use agencybot_core::{Attachment, ConversationKey, Role, Team, Timestamp};
use agencybot_ofapi::{Access, Client, Endpoint};
use agencybot_store::Store;
use futures::future::BoxFuture;
use serde_json::{Value, json};

pub const CALL_API: &str = "call_api";
pub const FIND_API_ENDPOINTS: &str = "find_api_endpoints";

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
    /// What this turn's tool calls used so far, for per-turn caps.
    pub turn_uses: &'a TurnUses,
}

/// What a tool call produced: the result the model reads, the
/// OnlyFansAPI credits it used and the web searches it made.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolOutput {
    pub content: Value,
    pub credits: i64,
    pub searches: WebSearches,
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
}
