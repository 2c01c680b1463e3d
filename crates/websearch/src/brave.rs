//! Brave Search API: `GET /res/v1/web/search`, key in `X-Subscription-Token`,
//! results under `web.results`.

use std::time::Duration;

use agencybot_core::Secret;
use futures::future::BoxFuture;
use serde_json::Value;

use crate::http::{self, text};
use crate::{Freshness, Provider, SafeSearch, SearchError, SearchRequest, SearchResult};

pub struct Brave {
    client: reqwest::Client,
    base_url: String,
    key: Secret,
    usd_per_search: f64,
    key_hint: String,
}

impl Brave {
    /// `key_env` names the key's variable, for the "check the key" reply.
    pub fn new(
        base_url: &str,
        key: Secret,
        key_env: &str,
        usd_per_search: f64,
        timeout: Duration,
    ) -> Result<Brave, SearchError> {
        Ok(Brave {
            client: http::client(timeout)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            usd_per_search,
            key_hint: format!(
                "{key_env} (a Brave Search API key, https://api.search.brave.com/app/keys)"
            ),
        })
    }
}

impl Provider for Brave {
    fn name(&self) -> &str {
        "brave"
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
                ("count", request.count.to_string()),
                ("country", request.country.clone()),
                ("search_lang", request.language.clone()),
                (
                    "safesearch",
                    match request.safe {
                        SafeSearch::Off => "off",
                        SafeSearch::Moderate => "moderate",
                        SafeSearch::Strict => "strict",
                    }
                    .to_owned(),
                ),
            ];
            if let Some(freshness) = request.freshness {
                let code = match freshness {
                    Freshness::Day => "pd",
                    Freshness::Week => "pw",
                    Freshness::Month => "pm",
                    Freshness::Year => "py",
                };
                query.push(("freshness", code.to_owned()));
            }
            let answer = http::json(
                self.client
                    .get(format!("{}/res/v1/web/search", self.base_url))
                    .header("X-Subscription-Token", self.key.expose())
                    .header(reqwest::header::ACCEPT, "application/json")
                    .query(&query),
                &self.key_hint,
            )
            .await?;
            results(&answer)
        })
    }
}

fn results(answer: &Value) -> Result<Vec<SearchResult>, SearchError> {
    let Some(web) = answer.get("web") else {
        // No web section: Brave found nothing.
        return Ok(Vec::new());
    };
    let items = web
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| SearchError::BadResponse("`web.results` is not a list".into()))?;
    Ok(items
        .iter()
        .map(|item| SearchResult {
            title: text(item, "title").unwrap_or_default(),
            url: text(item, "url").unwrap_or_default(),
            snippet: text(item, "description").unwrap_or_default(),
            date: text(item, "page_age").or_else(|| text(item, "age")),
        })
        .collect())
}
