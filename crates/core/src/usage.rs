use crate::{Platform, Timestamp};

/// What one request cost: one user message, or one scheduled task run.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub id: i64,
    pub team_id: i64,
    pub platform: Platform,
    /// Platform user ID, or the task's creator for scheduled runs.
    pub user_id: String,
    pub kind: RequestKind,
    pub model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// US dollars: the model at the configured per-model prices, plus the
    /// web searches at their provider's price.
    pub cost_usd: f64,
    /// OnlyFansAPI credits used by the request's API calls.
    pub credits: i64,
    /// Web searches billed.
    pub web_searches: i64,
    /// Web searches answered from the cache, free.
    pub web_searches_cached: i64,
    /// The part of `cost_usd` the web searches cost.
    pub web_search_usd: f64,
    /// Calls to integrations (MCP servers), by integration name.
    pub integration_calls: std::collections::BTreeMap<String, i64>,
    pub duration_ms: i64,
    pub outcome: UsageOutcome,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewUsageRecord {
    pub team_id: i64,
    pub platform: Platform,
    pub user_id: String,
    pub kind: RequestKind,
    pub model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub credits: i64,
    pub web_searches: i64,
    pub web_searches_cached: i64,
    pub web_search_usd: f64,
    pub integration_calls: std::collections::BTreeMap<String, i64>,
    pub duration_ms: i64,
    pub outcome: UsageOutcome,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    Chat,
    ScheduledTask,
    /// An alert from an OnlyFansAPI webhook, sent without a model call.
    Alert,
}

named_enum!(RequestKind, "request type", {
    Chat => "chat",
    ScheduledTask => "scheduled_task",
    Alert => "alert",
});

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageOutcome {
    Success,
    /// The model or an API failed and the user got an apology.
    Failed,
    /// Refused before calling the model (budget exhausted, not permitted).
    Refused,
}

named_enum!(UsageOutcome, "outcome", {
    Success => "success",
    Failed => "failed",
    Refused => "refused",
});
