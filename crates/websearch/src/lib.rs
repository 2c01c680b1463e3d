//! Web search for the model: one tool, `web_search`, over a configured
//! provider (Brave Search API by default, a self-hosted SearXNG, or Tavily),
//! every search checked against a per-turn cap and the team's monthly
//! budget before any HTTP request, billed at its provider's price into the
//! request's usage record, and cached for a while so a repeated search is
//! free.
//!
//! Results are external text: normalised (title, URL, snippet, date), http(s)
//! URLs only, HTML stripped, bounded, and marked as data the model must not
//! take instructions from. A search is a read; nothing in a result can
//! confirm or start anything.

mod brave;
mod clean;
mod http;
mod searxng;
mod tavily;
mod tool;

use futures::future::BoxFuture;

pub use brave::Brave;
pub use searxng::Searxng;
pub use tavily::Tavily;
pub use tool::{SearchSettings, TOOL_NAME, WebSearchTool};

/// How recent results must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Freshness {
    Day,
    Week,
    Month,
    Year,
}

impl Freshness {
    /// `day`, `week`, `month`, `year`: how SearXNG and Tavily say it.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Freshness::Day => "day",
            Freshness::Week => "week",
            Freshness::Month => "month",
            Freshness::Year => "year",
        }
    }
}

impl std::str::FromStr for Freshness {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "day" => Ok(Freshness::Day),
            "week" => Ok(Freshness::Week),
            "month" => Ok(Freshness::Month),
            "year" => Ok(Freshness::Year),
            other => Err(format!("freshness `{other}`: use day, week, month or year")),
        }
    }
}

/// How strictly providers filter adult results (a team setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SafeSearch {
    Off,
    #[default]
    Moderate,
    Strict,
}

impl std::str::FromStr for SafeSearch {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(SafeSearch::Off),
            "moderate" => Ok(SafeSearch::Moderate),
            "strict" => Ok(SafeSearch::Strict),
            other => Err(format!("safesearch `{other}`: use off, moderate or strict")),
        }
    }
}

/// One search as a provider receives it. Locale and safe-search come from
/// the team's configuration, never from the model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchRequest {
    pub query: String,
    /// 1 to 10.
    pub count: u8,
    pub freshness: Option<Freshness>,
    /// Two-letter country code, e.g. `us`.
    pub country: String,
    /// Language code, e.g. `en`.
    pub language: String,
    pub safe: SafeSearch,
}

/// One result, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub title: String,
    pub url: String,
    pub snippet: String,
    /// As the provider gave it ("2 days ago", "2026-11-20").
    pub date: Option<String>,
}

/// Why a search gave no results.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SearchError {
    #[error("the search provider is rate limiting us")]
    RateLimited {
        /// From `Retry-After`, when it said.
        retry_after: Option<std::time::Duration>,
    },
    #[error("the search provider refused the key (HTTP {status}): check {key_hint}")]
    Auth { status: u16, key_hint: String },
    #[error("the search provider is set up wrong: {0}")]
    Config(String),
    #[error("the search provider did not answer in time")]
    Timeout,
    #[error("the search provider answered HTTP {0}")]
    Upstream(u16),
    #[error("cannot reach the search provider: {0}")]
    Network(String),
    #[error("the search provider sent an answer that cannot be read: {0}")]
    BadResponse(String),
}

/// A web search API.
pub trait Provider: Send + Sync {
    /// `brave`, `searxng`, `tavily`.
    fn name(&self) -> &str;
    /// Where it is reached (part of the cache key).
    fn base_url(&self) -> &str;
    /// What one search costs, in US dollars.
    fn usd_per_search(&self) -> f64;
    /// Results as the provider ranks them, not yet cleaned.
    fn search<'a>(
        &'a self,
        request: &'a SearchRequest,
    ) -> BoxFuture<'a, Result<Vec<SearchResult>, SearchError>>;
}
