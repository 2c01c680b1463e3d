//! Tavily: `POST /search` with a bearer key, results as chunks relevant to
//! the query. A basic search costs one credit.

use std::time::Duration;

use agencybot_core::Secret;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::http::{self, text};
use crate::{Provider, SearchError, SearchRequest, SearchResult};

pub struct Tavily {
    client: reqwest::Client,
    base_url: String,
    key: Secret,
    usd_per_search: f64,
    key_hint: String,
}

impl Tavily {
    pub fn new(
        base_url: &str,
        key: Secret,
        key_env: &str,
        usd_per_search: f64,
        timeout: Duration,
    ) -> Result<Tavily, SearchError> {
        Ok(Tavily {
            client: http::client(timeout)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            usd_per_search,
            key_hint: format!("{key_env} (a Tavily API key, https://app.tavily.com)"),
        })
    }
}

impl Provider for Tavily {
    fn name(&self) -> &str {
        "tavily"
    }

    fn base_url(&self) -> &str {
        &self.base_url
    }

    fn usd_per_search(&self) -> f64 {
        self.usd_per_search
    }

    fn search<'a>(
        &'a self,
        request: &'a SearchRequest,
    ) -> BoxFuture<'a, Result<Vec<SearchResult>, SearchError>> {
        Box::pin(async move {
            let mut body = json!({
                "query": request.query,
                "max_results": request.count,
                "search_depth": "basic",
            });
            if let Some(freshness) = request.freshness {
                body["time_range"] = json!(freshness.word());
            }
            let answer = http::json(
                self.client
                    .post(format!("{}/search", self.base_url))
                    .bearer_auth(self.key.expose())
                    .json(&body),
                &self.key_hint,
            )
            .await?;
            let items = answer
                .get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| SearchError::BadResponse("`results` is not a list".into()))?;
            Ok(items
                .iter()
                .map(|item| SearchResult {
                    title: text(item, "title").unwrap_or_default(),
                    url: text(item, "url").unwrap_or_default(),
                    snippet: text(item, "content").unwrap_or_default(),
                    date: text(item, "published_date"),
                })
                .collect())
        })
    }
}
