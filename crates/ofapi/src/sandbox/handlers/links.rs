//! `tracking-links` and `free-trial-links`: both credit a link with its fans' revenue.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::Call;
use super::common::{
    account, account_index, body_str, cents, id_param, in_window, iso, list_page, query,
    string_list, window,
};
use crate::sandbox::data::{Account, Fan, TrackingLink, TransactionKind, TrialLink};
use crate::sandbox::{Failure, Outcome, State};

/// Net revenue and chargebacks of the fans who came through a link.
struct LinkRevenue {
    subscribers: i64,
    spenders: i64,
    total: f64,
    chargebacks: f64,
}

fn link_revenue(
    account: &Account,
    belongs: impl Fn(&Fan) -> bool,
    within: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> LinkRevenue {
    let fans: Vec<&Fan> = account.fans.iter().filter(|f| belongs(f)).collect();
    let mut revenue = LinkRevenue {
        subscribers: fans.len() as i64,
        spenders: 0,
        total: 0.0,
        chargebacks: 0.0,
    };
    for fan in fans {
        let mut spent = 0.0;
        for t in account.transactions.iter().filter(|t| t.fan_id == fan.id) {
            if within.is_some_and(|w| !in_window(t, w)) {
                continue;
            }
            if t.kind == TransactionKind::Chargeback {
                revenue.chargebacks += -t.net;
            }
            spent += t.net;
        }
        if spent > 0.0 {
            revenue.spenders += 1;
        }
        revenue.total += spent;
    }
    revenue.total = cents(revenue.total);
    revenue.chargebacks = cents(revenue.chargebacks);
    revenue
}

fn tracking_link_json(state: &State, account: &Account, link: &TrackingLink) -> Value {
    let revenue = link_revenue(account, |f| f.tracking_link == Some(link.id), None);
    let code = link.id % 100_000;
    json!({
        "id": link.id,
        "campaignCode": code,
        "campaignName": link.name,
        "campaignUrl": format!("https://onlyfans.com/{}/c{code}", account.username),
        "clicksCount": link.clicks,
        "subscribersCount": revenue.subscribers,
        "createdAt": iso(link.created_at),
        "endDate": Value::Null,
        "deletedAt": link.deleted_at.map(iso),
        "tags": link.tags,
        "revenue": {
            "total": revenue.total,
            "revenuePerSubscriber": if revenue.subscribers > 0 { cents(revenue.total / revenue.subscribers as f64) } else { 0.0 },
            "revenuePerClick": if link.clicks > 0 { cents(revenue.total / link.clicks as f64) } else { 0.0 },
            "spendersCount": revenue.spenders,
            "chargebacks": revenue.chargebacks,
            "calculatedAt": iso(state.data.now),
            "isLoading": false,
        },
        "links": {"related": {
            "subscribers": format!("{}/api/{}/tracking-links/{}/subscribers", state.base_url, account.id, link.id),
            "spenders": format!("{}/api/{}/tracking-links/{}/spenders", state.base_url, account.id, link.id),
        }},
    })
}

pub(super) fn list_tracking_links(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let with_deleted = !matches!(query(call, "with_deleted"), Some("0" | "false"));
    let account = account(state, call)?;
    let mut links: Vec<&TrackingLink> = account
        .tracking_links
        .iter()
        .filter(|l| with_deleted || l.deleted_at.is_none())
        .collect();
    let subscribers = |link: &TrackingLink| {
        account
            .fans
            .iter()
            .filter(|f| f.tracking_link == Some(link.id))
            .count()
    };
    match query(call, "sortby") {
        Some("claims") => {
            links.sort_by(|a, b| subscribers(b).cmp(&subscribers(a)).then(b.id.cmp(&a.id)))
        }
        _ => links.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id))),
    }
    if query(call, "sort") == Some("asc") {
        links.reverse();
    }
    let items = links
        .into_iter()
        .map(|l| tracking_link_json(state, account, l))
        .collect();
    list_page(state, call, items, 10, 100)
}

pub(super) fn create_tracking_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let name = body_str(call, "name").unwrap_or("").trim().to_owned();
    if name.is_empty() {
        return Err(Failure::invalid("name", "The name field is required."));
    }
    let tags = string_list(call, "tags")?;
    let index = account_index(state, call)?;
    if state.data.accounts[index]
        .tracking_links
        .iter()
        .any(|l| l.deleted_at.is_none() && l.name == name)
    {
        return Err(Failure::onlyfans("Name already in use"));
    }
    let now = state.data.now;
    let id = 5_500_000 + state.data.next_id();
    let link = TrackingLink {
        id,
        name: name.clone(),
        created_at: now,
        deleted_at: None,
        clicks: 0,
        tags,
    };
    state.data.accounts[index].tracking_links.push(link);
    Ok(Outcome::ok(json!([{
        "id": id,
        "campaignCode": id % 100_000,
        "campaignName": name,
        "countSubscribers": 0,
        "countTransitions": 0,
        "createdAt": iso(now),
        "endDate": Value::Null,
    }])))
}

fn find_tracking_link<'s>(
    state: &'s State,
    call: &Call,
) -> Result<(&'s Account, &'s TrackingLink), Failure> {
    let id = id_param(call, "tracking_link_id")?;
    let account = account(state, call)?;
    account
        .tracking_links
        .iter()
        .find(|l| l.id == id && l.deleted_at.is_none())
        .map(|link| (account, link))
        .ok_or_else(|| Failure::not_found("Tracking link"))
}

pub(super) fn get_tracking_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (account, link) = find_tracking_link(state, call)?;
    Ok(Outcome::ok(tracking_link_json(state, account, link)))
}

pub(super) fn delete_tracking_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let id = find_tracking_link(state, call)?.1.id;
    let index = account_index(state, call)?;
    let now = state.data.now;
    if let Some(link) = state.data.accounts[index]
        .tracking_links
        .iter_mut()
        .find(|l| l.id == id)
    {
        link.deleted_at = Some(now);
    }
    Ok(Outcome::ok(json!({"success": true})))
}

pub(super) fn tracking_link_stats(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let range = window(state, call, &["date_start"], &["date_end"], false, 30)?;
    let (account, link) = find_tracking_link(state, call)?;
    let belongs = |f: &Fan| f.tracking_link == Some(link.id);
    let metrics = |start: DateTime<Utc>, end: DateTime<Utc>| {
        let revenue = link_revenue(account, belongs, Some((start, end)));
        let subs = account
            .fans
            .iter()
            .filter(|f| belongs(f) && f.subscribed_at >= start && f.subscribed_at < end)
            .count() as i64;
        // Clicks are spread over the link's life in proportion to the days.
        let life = (state.data.now - link.created_at).num_seconds().max(1) as f64;
        let overlap = (end.min(state.data.now) - start.max(link.created_at))
            .num_seconds()
            .max(0) as f64;
        let clicks = (link.clicks as f64 * overlap / life).round() as i64;
        json!({"timestamp": iso(start), "clicks": clicks, "subs": subs, "revenue": revenue.total, "spenders": revenue.spenders})
    };
    let mut daily = Vec::new();
    let mut day = range.0;
    while day < range.1 && daily.len() < 400 {
        daily.push(metrics(day, (day + Duration::days(1)).min(range.1)));
        day += Duration::days(1);
    }
    let mut monthly = Vec::new();
    let mut month = range.0;
    while month < range.1 && monthly.len() < 24 {
        monthly.push(metrics(month, (month + Duration::days(30)).min(range.1)));
        month += Duration::days(30);
    }
    let summary = link_revenue(account, belongs, Some(range));
    let clicks: i64 = daily.iter().filter_map(|d| d["clicks"].as_i64()).sum();
    let subs: i64 = daily.iter().filter_map(|d| d["subs"].as_i64()).sum();
    Ok(Outcome::ok(json!({
        "summary": {
            "clicks_total": clicks,
            "subs_total": subs,
            "revenue_total": summary.total,
            "spenders_total": summary.spenders,
            "chargebacks_total": summary.chargebacks,
            "revenue_cached_at": iso(state.data.now),
        },
        "daily_metrics": daily,
        "monthly_metrics": monthly,
    })))
}

fn trial_link_json(state: &State, account: &Account, link: &TrialLink) -> Value {
    let revenue = link_revenue(account, |f| f.trial_link == Some(link.id), None);
    json!({
        "id": link.id,
        "trialLinkName": link.name,
        "url": format!("https://onlyfans.com/{}/trial/{}", account.username, link.id % 1_000_000),
        "subscribeDays": link.subscribe_days,
        "subscribeCounts": revenue.subscribers,
        "claimCounts": revenue.subscribers,
        "clicksCounts": link.clicks,
        "createdAt": iso(link.created_at),
        "expiredAt": link.expires_at.map(iso),
        "isFinished": link.expires_at.is_some_and(|at| at <= state.data.now)
            || link.claims_limit.is_some_and(|limit| limit > 0 && revenue.subscribers >= limit),
        "tags": [],
        "revenue": {
            "total": revenue.total,
            "revenuePerSubscriber": if revenue.subscribers > 0 { cents(revenue.total / revenue.subscribers as f64) } else { 0.0 },
            "spendersCount": revenue.spenders,
            "chargebacks": revenue.chargebacks,
            "calculatedAt": iso(state.data.now),
            "isLoading": false,
        },
        "links": {"related": {"subscribers": format!("{}/api/{}/trial-links/{}/subscribers", state.base_url, account.id, link.id)}},
    })
}

pub(super) fn list_trial_links(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let account = account(state, call)?;
    let mut links: Vec<&TrialLink> = account.trial_links.iter().collect();
    links.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    if query(call, "sort") == Some("asc") {
        links.reverse();
    }
    let items = links
        .into_iter()
        .map(|l| trial_link_json(state, account, l))
        .collect();
    list_page(state, call, items, 10, 100)
}

pub(super) fn create_trial_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let duration = call.body.get("duration").and_then(Value::as_i64);
    let Some(duration) = duration.filter(|d| [1, 3, 7, 14, 30, 90, 180, 360].contains(d)) else {
        return Err(Failure::invalid(
            "duration",
            "The duration must be one of 1, 3, 7, 14, 30, 90, 180, 360.",
        ));
    };
    let Some(expiration) = call.body.get("offerExpiration").and_then(Value::as_i64) else {
        return Err(Failure::invalid(
            "offerExpiration",
            "The offer expiration field is required (days, 0 for never).",
        ));
    };
    let Some(limit) = call
        .body
        .get("offerLimit")
        .and_then(Value::as_i64)
        .filter(|l| (0..=10).contains(l) || *l == 50 || *l == 100)
    else {
        return Err(Failure::invalid(
            "offerLimit",
            "The offer limit must be 0 to 10, 50 or 100.",
        ));
    };
    let index = account_index(state, call)?;
    let now = state.data.now;
    let id = 7_500_000 + state.data.next_id();
    let name =
        body_str(call, "name").map_or_else(|| format!("Free trial {duration} days"), str::to_owned);
    let link = TrialLink {
        id,
        name,
        created_at: now,
        subscribe_days: duration,
        claims_limit: (limit > 0).then_some(limit),
        expires_at: (expiration > 0).then(|| now + Duration::days(expiration)),
        clicks: 0,
    };
    let answer = trial_link_json(state, &state.data.accounts[index], &link);
    state.data.accounts[index].trial_links.push(link);
    Ok(Outcome::ok(answer))
}

fn find_trial_link(state: &State, call: &Call) -> Result<(usize, usize), Failure> {
    let id = id_param(call, "trial_link_id")?;
    let index = account_index(state, call)?;
    state.data.accounts[index]
        .trial_links
        .iter()
        .position(|l| l.id == id)
        .map(|position| (index, position))
        .ok_or_else(|| Failure::not_found("Trial link"))
}

pub(super) fn get_trial_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (index, position) = find_trial_link(state, call)?;
    let account = &state.data.accounts[index];
    Ok(Outcome::ok(trial_link_json(
        state,
        account,
        &account.trial_links[position],
    )))
}

pub(super) fn delete_trial_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (index, position) = find_trial_link(state, call)?;
    state.data.accounts[index].trial_links.remove(position);
    Ok(Outcome::ok(json!({"success": true})))
}
