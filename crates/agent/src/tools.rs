//! What the model can call.
//!
//! The whole API is reachable through two tools, `find_api_endpoints` (search
//! the catalog, get schemas) and `call_api` (call any endpoint by id), so the
//! prompt stays small however large the catalog grows. Internal tools (usage
//! questions, CSV export, and whatever skills and scheduled tasks register)
//! implement [`InternalTool`].

use std::sync::Arc;

use agencybot_core::{Attachment, ConversationKey, Role, Team, Timestamp};
use agencybot_ofapi::{Access, Catalog, Client, Endpoint};
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
    pub store: &'a Store,
    pub ofapi: &'a Client,
    pub now: Timestamp,
    /// OnlyFansAPI credits the team may still spend today (`None`: no
    /// budget). A tool that makes many calls stops before it passes them.
    pub credits_left: Option<i64>,
    /// Sends a file to the chat the request came from.
    pub send_file: &'a (dyn Fn(Attachment) + Send + Sync),
}

/// What a tool call produced: the result the model reads, and the
/// OnlyFansAPI credits it used.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub content: Value,
    pub credits: i64,
}

impl ToolOutput {
    #[must_use]
    pub fn new(content: Value) -> Self {
        ToolOutput {
            content,
            credits: 0,
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

/// The tool definitions sent with every model call.
#[must_use]
pub fn definitions(registry: &ToolRegistry) -> Vec<Value> {
    let mut tools = vec![
        function(
            CALL_API,
            "Call an OnlyFansAPI endpoint by id. Reads run at once; writes are shown to the user and run only after they confirm.",
            json!({
                "type": "object",
                "properties": {
                    "endpoint": {"type": "string", "description": "Endpoint id, e.g. statistics.get-earnings"},
                    "arguments": {"type": "object", "description": "Path, query and body arguments by name"}
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
    for tool in registry.iter() {
        tools.push(function(tool.name(), tool.description(), tool.parameters()));
    }
    tools
}

/// Lower-case words, singular, without filler.
fn words(text: &str) -> Vec<String> {
    const FILLER: [&str; 10] = ["the", "a", "an", "of", "for", "to", "my", "and", "in", "on"];
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !FILLER.contains(w))
        .map(|w| {
            if w.len() > 3 {
                w.trim_end_matches('s').to_owned()
            } else {
                w.to_owned()
            }
        })
        .collect()
}

/// An endpoint with the words of its title, id and description.
type IndexedEndpoint = (&'static Endpoint, Vec<String>, Vec<String>, Vec<String>);

/// Each endpoint's words (id and title; description apart), and how rare
/// each word is across the catalog, so "chargeback" outweighs "list".
struct SearchIndex {
    entries: Vec<IndexedEndpoint>,
    rarity: std::collections::HashMap<String, f64>,
}

fn search_index() -> &'static SearchIndex {
    static INDEX: std::sync::OnceLock<SearchIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let entries: Vec<_> = Catalog::onlyfans()
            .endpoints()
            .iter()
            .map(|e| (e, words(&e.title), words(&e.id), words(&e.description)))
            .collect();
        let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for (_, title, id, _) in &entries {
            let mut seen: Vec<&String> = title.iter().chain(id).collect();
            seen.sort();
            seen.dedup();
            for word in seen {
                *counts.entry(word.clone()).or_default() += 1;
            }
        }
        let total = entries.len() as f64;
        let rarity = counts
            .into_iter()
            .map(|(word, count)| (word, (total / count as f64).ln() + 1.0))
            .collect();
        SearchIndex { entries, rarity }
    })
}

/// Endpoints matching the words of `query`, best first.
#[must_use]
pub fn find_endpoints(query: &str, limit: usize) -> Vec<&'static Endpoint> {
    let index = search_index();
    let query = words(query);
    let mut scored: Vec<(f64, &'static Endpoint)> = index
        .entries
        .iter()
        .filter_map(|(endpoint, title, id, description)| {
            let mut score = 0.0;
            for word in &query {
                let weight = index.rarity.get(word).copied().unwrap_or(6.0);
                if title.contains(word) {
                    score += 3.0 * weight;
                } else if id.contains(word) {
                    score += 2.0 * weight;
                } else if description.contains(word) {
                    score += 0.5 * weight;
                }
            }
            // Every title word asked for: this is most likely the one.
            if !title.is_empty() && title.iter().all(|w| query.contains(w)) {
                score *= 1.5;
            }
            (score > 0.0).then_some((score, *endpoint))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    scored.into_iter().take(limit).map(|(_, e)| e).collect()
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
    use super::*;

    #[test]
    fn search_finds_the_endpoints_agencies_ask_for() {
        let ids = |query| {
            find_endpoints(query, 5)
                .iter()
                .map(|e| e.id.clone())
                .collect::<Vec<_>>()
        };
        assert!(ids("mass message send").contains(&"mass-messaging.send-mass-message".to_owned()));
        assert!(
            ids("tracking link stats")
                .contains(&"tracking-links.get-tracking-link-stats".to_owned())
        );
        assert!(
            ids("chargebacks")
                .iter()
                .any(|id| id.starts_with("chargebacks."))
        );
        assert!(ids("zzzz qqq").is_empty());
    }

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
