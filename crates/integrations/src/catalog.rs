//! A server's tools as the bot keeps them: named for the model, filtered,
//! and judged read-only or not.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::spec::ServerSpec;

/// The longest tool name chat-completion APIs accept.
const MAX_NAME: usize = 64;

/// One tool of one integration.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationTool {
    /// `<integration>__<tool>`, as the model names it.
    pub name: String,
    /// The name the server knows it by.
    pub remote: String,
    pub title: Option<String>,
    pub description: String,
    pub input_schema: Value,
    /// The server says it only reads (`readOnlyHint: true`).
    pub read_only: bool,
    /// The server does not say it leaves data alone (`destructiveHint`
    /// unset counts as destructive, as the protocol says).
    pub destructive: bool,
}

/// What the bot knows of a server's tools.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub tools: Vec<IntegrationTool>,
    /// Tools the server lists that the config's filter leaves out.
    pub filtered_out: usize,
}

impl Catalog {
    /// The server's listing, every page, kept as the config's filter says.
    #[must_use]
    pub fn from_listing(spec: &ServerSpec, tools: Vec<rmcp::model::Tool>) -> Self {
        let mut catalog = Catalog::default();
        for tool in tools {
            if !spec.filter.keeps(&tool.name) {
                catalog.filtered_out += 1;
                continue;
            }
            let annotations = tool.annotations.clone().unwrap_or_default();
            let read_only = annotations.read_only_hint == Some(true);
            catalog.tools.push(IntegrationTool {
                name: model_name(&spec.name, &tool.name),
                remote: tool.name.to_string(),
                title: annotations.title.clone().or(tool.title.clone()),
                description: tool
                    .description
                    .as_deref()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                input_schema: Value::Object((*tool.input_schema).clone()),
                read_only,
                destructive: !read_only && annotations.is_destructive(),
            });
        }
        catalog
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&IntegrationTool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// How many tools say they only read.
    #[must_use]
    pub fn read_only_count(&self) -> usize {
        self.tools.iter().filter(|t| t.read_only).count()
    }
}

/// `<integration>__<tool>` with characters a function name may not hold
/// replaced, cut to 64 characters with a hash of the whole so cut names
/// stay distinct.
#[must_use]
pub fn model_name(integration: &str, tool: &str) -> String {
    let clean: String = tool
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = format!("{integration}__{clean}");
    if name.len() <= MAX_NAME && clean == tool {
        return name;
    }
    let hash = hex::encode(&Sha256::digest(format!("{integration}__{tool}"))[..4]);
    let mut cut = name;
    cut.truncate(MAX_NAME - hash.len() - 1);
    format!("{cut}-{hash}")
}

/// The integration a model-side tool name belongs to.
#[must_use]
pub fn integration_of(name: &str) -> Option<&str> {
    name.split_once("__").map(|(integration, _)| integration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_short_and_distinct() {
        assert_eq!(
            model_name("time", "get_current_time"),
            "time__get_current_time"
        );
        let odd = model_name("sheets", "rows.append");
        assert!(odd.starts_with("sheets__rows-append-"), "{odd}");
        assert_ne!(odd, model_name("sheets", "rows-append"));
        let long_a = model_name("notion", &format!("{}a", "x".repeat(80)));
        let long_b = model_name("notion", &format!("{}b", "x".repeat(80)));
        assert_eq!(long_a.len(), 64);
        assert_ne!(long_a, long_b);
        assert!(
            long_a
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
        assert_eq!(integration_of("time__get_current_time"), Some("time"));
        assert_eq!(integration_of("plain"), None);
    }
}
