//! The usage ledger: one record per request.

use agencybot_core::{NewUsageRecord, Platform, RequestKind, Timestamp, UsageRecord};

use crate::db::args;
use crate::{Result, Store, from_millis, millis, parse_stored};

/// Which usage records to read; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageFilter {
    pub team_id: Option<i64>,
    /// Inclusive lower bound.
    pub since: Option<Timestamp>,
    /// Exclusive upper bound.
    pub until: Option<Timestamp>,
    pub platform: Option<Platform>,
    pub kind: Option<RequestKind>,
    pub model: Option<String>,
    pub user_id: Option<String>,
    /// Newest first, at most this many.
    pub limit: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct UsageRow {
    id: i64,
    team_id: i64,
    platform: String,
    user_id: String,
    kind: String,
    model: String,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_usd: f64,
    credits: i64,
    web_searches: i64,
    web_searches_cached: i64,
    web_search_usd: f64,
    integration_calls: String,
    duration_ms: i64,
    outcome: String,
    created_at: i64,
}

impl UsageRow {
    fn into_record(self) -> Result<UsageRecord> {
        Ok(UsageRecord {
            id: self.id,
            team_id: self.team_id,
            platform: parse_stored("usage platform", &self.platform)?,
            user_id: self.user_id,
            kind: parse_stored("usage type", &self.kind)?,
            model: self.model,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cost_usd: self.cost_usd,
            credits: self.credits,
            web_searches: self.web_searches,
            web_searches_cached: self.web_searches_cached,
            web_search_usd: self.web_search_usd,
            integration_calls: crate::parse_json(
                "usage integration_calls",
                &self.integration_calls,
            )?,
            duration_ms: self.duration_ms,
            outcome: parse_stored("usage outcome", &self.outcome)?,
            created_at: from_millis("usage created_at", self.created_at)?,
        })
    }
}

impl Store {
    pub async fn record_usage(&self, record: &NewUsageRecord) -> Result<i64> {
        let (id,): (i64,) = self
            .db
            .fetch_one(
                "INSERT INTO usage_records (team_id, platform, user_id, kind, model, prompt_tokens, \
                 completion_tokens, cost_usd, credits, web_searches, web_searches_cached, \
                 web_search_usd, integration_calls, duration_ms, outcome, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 RETURNING id",
                args![
                    record.team_id,
                    record.platform.as_str(),
                    &record.user_id,
                    record.kind.as_str(),
                    &record.model,
                    record.prompt_tokens,
                    record.completion_tokens,
                    record.cost_usd,
                    record.credits,
                    record.web_searches,
                    record.web_searches_cached,
                    record.web_search_usd,
                    serde_json::to_string(&record.integration_calls)
                        .unwrap_or_else(|_| "{}".to_owned()),
                    record.duration_ms,
                    record.outcome.as_str(),
                    millis(record.created_at)
                ],
            )
            .await?;
        Ok(id)
    }

    /// Records matching the filter, newest first.
    pub async fn usage_records(&self, filter: &UsageFilter) -> Result<Vec<UsageRecord>> {
        let rows: Vec<UsageRow> = self
            .db
            .fetch_all(
                "SELECT id, team_id, platform, user_id, kind, model, prompt_tokens, \
                 completion_tokens, cost_usd, credits, web_searches, web_searches_cached, \
                 web_search_usd, integration_calls, duration_ms, outcome, created_at \
                 FROM usage_records \
                 WHERE ($1 IS NULL OR team_id = $1) AND ($2 IS NULL OR created_at >= $2) \
                 AND ($3 IS NULL OR created_at < $3) AND ($4 IS NULL OR platform = $4) \
                 AND ($5 IS NULL OR kind = $5) AND ($6 IS NULL OR model = $6) \
                 AND ($7 IS NULL OR user_id = $7) \
                 ORDER BY created_at DESC, id DESC LIMIT $8",
                args![
                    filter.team_id,
                    filter.since.map(millis),
                    filter.until.map(millis),
                    filter.platform.map(|p| p.as_str()),
                    filter.kind.map(|k| k.as_str()),
                    filter.model.clone(),
                    filter.user_id.clone(),
                    filter.limit.unwrap_or(i64::MAX)
                ],
            )
            .await?;
        rows.into_iter().map(UsageRow::into_record).collect()
    }

    /// OnlyFansAPI credits the team's requests used since `since` (budget checks).
    pub async fn credits_used_since(&self, team_id: i64, since: Timestamp) -> Result<i64> {
        let (credits,): (i64,) = self
            .db
            .fetch_one(
                "SELECT CAST(COALESCE(SUM(credits), 0) AS BIGINT) FROM usage_records \
                 WHERE team_id = $1 AND created_at >= $2",
                args![team_id, millis(since)],
            )
            .await?;
        Ok(credits)
    }

    /// Model spend of the team's requests since `since`, in USD.
    pub async fn usd_used_since(&self, team_id: i64, since: Timestamp) -> Result<f64> {
        let (usd,): (f64,) = self
            .db
            .fetch_one(
                "SELECT CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) FROM usage_records \
                 WHERE team_id = $1 AND created_at >= $2",
                args![team_id, millis(since)],
            )
            .await?;
        Ok(usd)
    }

    /// What the team's web searches cost since `since` (the monthly search budget).
    pub async fn web_search_usd_since(&self, team_id: i64, since: Timestamp) -> Result<f64> {
        let (usd,): (f64,) = self
            .db
            .fetch_one(
                "SELECT CAST(COALESCE(SUM(web_search_usd), 0) AS DOUBLE PRECISION) \
                 FROM usage_records WHERE team_id = $1 AND created_at >= $2",
                args![team_id, millis(since)],
            )
            .await?;
        Ok(usd)
    }
}
