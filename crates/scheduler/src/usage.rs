//! Usage reports: totals by a dimension over a period, the activity list as
//! CSV, and the data of a chart over time.

use std::collections::BTreeMap;
use std::fmt::Write;

use agencybot_agent::csv_field;
use agencybot_core::{Timestamp, UsageRecord};
use chrono::Duration;

use crate::chart::ChartData;

/// What a report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Type,
    Model,
    Platform,
    User,
}

impl std::str::FromStr for Dimension {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "type" | "kind" => Ok(Dimension::Type),
            "model" => Ok(Dimension::Model),
            "platform" => Ok(Dimension::Platform),
            "user" => Ok(Dimension::User),
            other => Err(format!(
                "cannot group by `{other}`: use type, model, platform or user"
            )),
        }
    }
}

impl Dimension {
    fn key(self, record: &UsageRecord) -> String {
        match self {
            Dimension::Type => record.kind.to_string(),
            Dimension::Model => record.model.clone(),
            Dimension::Platform => record.platform.to_string(),
            Dimension::User => record.user_id.clone(),
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Type => "type",
            Dimension::Model => "model",
            Dimension::Platform => "platform",
            Dimension::User => "user",
        }
    }
}

/// A reporting period: `today`, `7d`, `30d`, `6m`, `1y` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(&'static str);

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ["today", "7d", "30d", "6m", "1y", "all"]
            .into_iter()
            .find(|p| p.eq_ignore_ascii_case(text.trim()))
            .map(Period)
            .ok_or_else(|| format!("unknown period `{text}`: use today, 7d, 30d, 6m, 1y or all"))
    }
}

impl Period {
    /// Where the period starts, if it has a start.
    #[must_use]
    pub fn since(self, now: Timestamp) -> Option<Timestamp> {
        agencybot_agent::period_start(self.0, now).flatten()
    }

    #[must_use]
    pub fn label(self) -> &'static str {
        match self.0 {
            "today" => "today",
            "7d" => "last 7 days",
            "30d" => "last 30 days",
            "6m" => "last 6 months",
            "1y" => "last year",
            _ => "all time",
        }
    }
}

/// The sums of one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub key: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub credits: i64,
    /// Billed web searches, and their part of `cost_usd`.
    pub web_searches: i64,
    pub web_search_usd: f64,
    /// Web searches answered from the cache, free.
    pub web_searches_cached: i64,
}

/// Totals per group, the most expensive first, and the grand total.
#[must_use]
pub fn totals(records: &[UsageRecord], by: Dimension) -> (Vec<Totals>, Totals) {
    let mut groups: BTreeMap<String, Totals> = BTreeMap::new();
    let mut all = Totals {
        key: "total".into(),
        ..Totals::default()
    };
    for record in records {
        let key = by.key(record);
        for totals in [
            groups.entry(key.clone()).or_insert_with(|| Totals {
                key,
                ..Totals::default()
            }),
            &mut all,
        ] {
            totals.requests += 1;
            totals.prompt_tokens += record.prompt_tokens;
            totals.completion_tokens += record.completion_tokens;
            totals.cost_usd += record.cost_usd;
            totals.credits += record.credits;
            totals.web_searches += record.web_searches;
            totals.web_search_usd += record.web_search_usd;
            totals.web_searches_cached += record.web_searches_cached;
        }
    }
    let mut groups: Vec<Totals> = groups.into_values().collect();
    groups.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(b.credits.cmp(&a.credits))
            .then(a.key.cmp(&b.key))
    });
    (groups, all)
}

/// A plain-text table of totals.
#[must_use]
pub fn table(groups: &[Totals], all: &Totals, by: Dimension) -> String {
    let mut out = format!(
        "{:<24} {:>8} {:>12} {:>12} {:>10} {:>9} {:>9} {:>10}\n",
        by.as_str(),
        "requests",
        "in tokens",
        "out tokens",
        "cost USD",
        "credits",
        "searches",
        "search USD"
    );
    for row in groups.iter().chain(std::iter::once(all)) {
        let _ = writeln!(
            out,
            "{:<24} {:>8} {:>12} {:>12} {:>10.4} {:>9} {:>9} {:>10.4}",
            row.key,
            row.requests,
            row.prompt_tokens,
            row.completion_tokens,
            row.cost_usd,
            row.credits,
            searches_text(row.web_searches, row.web_searches_cached),
            row.web_search_usd
        );
    }
    out
}

/// Billed searches, with the cached ones after a plus ("3+1").
fn searches_text(billed: i64, cached: i64) -> String {
    if cached == 0 {
        billed.to_string()
    } else {
        format!("{billed}+{cached}")
    }
}

/// A request's searches for the activity list: "2 searches ($0.0100), 1 cached".
#[must_use]
pub fn searches_line(record: &UsageRecord) -> String {
    match (record.web_searches, record.web_searches_cached) {
        (0, 0) => String::new(),
        (billed, 0) => format!(" {billed} search(es) ${:.4}", record.web_search_usd),
        (billed, cached) => format!(
            " {billed} search(es) ${:.4}, {cached} cached",
            record.web_search_usd
        ),
    }
}

/// A request's integration calls for the activity list: " integrations: sheets×2, time×1".
#[must_use]
pub fn integrations_line(record: &UsageRecord) -> String {
    if record.integration_calls.is_empty() {
        return String::new();
    }
    let calls: Vec<String> = record
        .integration_calls
        .iter()
        .map(|(name, calls)| format!("{name}×{calls}"))
        .collect();
    format!(" integrations: {}", calls.join(", "))
}

/// The activity list as CSV: one line per request.
#[must_use]
pub fn csv(records: &[UsageRecord]) -> String {
    let mut out = String::from(
        "date,platform,user,type,model,prompt_tokens,completion_tokens,cost_usd,credits,web_searches,web_searches_cached,web_search_usd,duration_ms,outcome,integration_calls\n",
    );
    for r in records {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{:.6},{},{},{},{:.6},{},{},{}",
            r.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            r.platform,
            csv_field(&r.user_id),
            r.kind,
            csv_field(&r.model),
            r.prompt_tokens,
            r.completion_tokens,
            r.cost_usd,
            r.credits,
            r.web_searches,
            r.web_searches_cached,
            r.web_search_usd,
            r.duration_ms,
            r.outcome,
            csv_field(
                &r.integration_calls
                    .iter()
                    .map(|(name, calls)| format!("{name}:{calls}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        );
    }
    out
}

/// What a chart measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Cost,
    Credits,
    Tokens,
    /// Web searches billed.
    Searches,
}

impl std::str::FromStr for Measure {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "cost" | "usd" | "money" => Ok(Measure::Cost),
            "credits" => Ok(Measure::Credits),
            "tokens" => Ok(Measure::Tokens),
            "searches" | "web_searches" => Ok(Measure::Searches),
            other => Err(format!(
                "cannot chart `{other}`: use cost, credits, tokens or searches"
            )),
        }
    }
}

/// Usage over time, one bar per day (per week beyond 60 days, per month
/// beyond a year), stacked by `by`.
#[must_use]
pub fn chart(
    records: &[UsageRecord],
    by: Dimension,
    measure: Measure,
    period: Period,
    now: Timestamp,
) -> ChartData {
    let start = period
        .since(now)
        .or_else(|| records.iter().map(|r| r.created_at).min())
        .unwrap_or(now);
    let days = (now - start).num_days().max(1);
    let bucket_days = if days > 366 {
        30
    } else if days > 60 {
        7
    } else {
        1
    };
    let first = start.date_naive();
    let buckets = usize::try_from(days / bucket_days + 1)
        .unwrap_or(1)
        .min(400);
    let labels: Vec<String> = (0..buckets)
        .map(|i| {
            (first + Duration::days(i as i64 * bucket_days))
                .format("%m-%d")
                .to_string()
        })
        .collect();
    let (groups, _) = totals(records, by);
    let names: Vec<String> = groups.into_iter().map(|g| g.key).collect();
    let mut values = vec![vec![0.0; buckets]; names.len()];
    for record in records {
        let index = ((record.created_at.date_naive() - first).num_days() / bucket_days)
            .clamp(0, buckets as i64 - 1) as usize;
        if let Some(group) = names.iter().position(|n| *n == by.key(record)) {
            values[group][index] += match measure {
                Measure::Cost => record.cost_usd,
                Measure::Credits => record.credits as f64,
                Measure::Tokens => (record.prompt_tokens + record.completion_tokens) as f64,
                Measure::Searches => record.web_searches as f64,
            };
        }
    }
    let (what, unit) = match measure {
        Measure::Cost => ("Cost", "USD"),
        Measure::Credits => ("OnlyFansAPI credits", "credits"),
        Measure::Tokens => ("Model tokens", "tokens"),
        Measure::Searches => ("Web searches", "searches"),
    };
    ChartData {
        title: format!("{what} by {}, {}", by.as_str(), period.label()),
        unit: unit.into(),
        buckets: labels,
        groups: names,
        values,
    }
}
