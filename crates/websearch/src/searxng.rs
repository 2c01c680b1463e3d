//! SearXNG, self-hosted: `GET /search?format=json`, no key. An instance
//! whose JSON format is not enabled answers 403.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::http::{self, text};
use crate::{Provider, SafeSearch, SearchError, SearchRequest, SearchResult};

pub struct Searxng {
    client: reqwest::Client,
    base_url: String,
    usd_per_search: f64,
}

impl Searxng {
    pub fn new(
        base_url: &str,
        usd_per_search: f64,
        timeout: Duration,
    ) -> Result<Searxng, SearchError> {
        Ok(Searxng {
            client: http::client(timeout)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            usd_per_search,
        })
    }
}

impl Provider for Searxng {
    fn name(&self) -> &str {
        "searxng"
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
            let mut query: Vec<(&str, String)> = vec![
                ("q", request.query.clone()),
                ("format", "json".to_owned()),
                ("language", request.language.clone()),
                (
                    "safesearch",
                    match request.safe {
                        SafeSearch::Off => "0",
                        SafeSearch::Moderate => "1",
                        SafeSearch::Strict => "2",
                    }
                    .to_owned(),
                ),
            ];
            if let Some(freshness) = request.freshness {
                query.push(("time_range", freshness.word().to_owned()));
            }
            let answer = http::json(
                self.client
                    .get(format!("{}/search", self.base_url))
                    .query(&query),
                "",
            )
            .await
            .map_err(|err| match err {
                SearchError::Auth { status: 403, .. } => SearchError::Config(format!(
                    "SearXNG at {} answered 403: its JSON format is off. Add `json` under `search.formats` in the instance's settings.yml, or point [web_search.searxng] base_url at an instance that allows it",
                    self.base_url
                )),
                other => other,
            })?;
            let items = answer
                .get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| SearchError::BadResponse("`results` is not a list".into()))?;
            Ok(items
                .iter()
                .take(usize::from(request.count))
                .map(|item| SearchResult {
                    title: text(item, "title").unwrap_or_default(),
                    url: text(item, "url").unwrap_or_default(),
                    snippet: text(item, "content").unwrap_or_default(),
                    date: text(item, "publishedDate"),
                })
                .collect())
        })
    }
}
