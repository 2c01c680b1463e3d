//! The simulated endpoints. Each takes the call and the state and returns
//! the `data` to send; [`shapes`](super::shapes) completes it to the SDK's
//! model. Writes change the state, so what one call creates the next sees.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::data::{
    Account, ChatMessage, Fan, MassMessage, Post, TrackingLink, Transaction, TransactionKind,
    TrialLink, UserList,
};
use super::{Failure, Outcome, State, shapes};

/// One request, already routed to a catalog endpoint.
pub(crate) struct Call<'a> {
    pub endpoint: &'a str,
    /// The concrete request path, for `next_page` links.
    pub path: &'a str,
    pub params: BTreeMap<String, String>,
    pub query: Vec<(String, String)>,
    pub body: Value,
}

type Handler = fn(&mut State, &Call) -> Result<Outcome, Failure>;

/// Runs the endpoint's simulation; `None` when it is not simulated.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Option<Result<Outcome, Failure>> {
    let handler: Handler = match call.endpoint {
        "api-keys.whoami" => whoami,
        "account.list-accounts" => list_accounts,
        "account.get-current-account" => me,
        "account.get-top-percentage" => top_percentage,
        "statistics.statistics-overview" => statistics_overview,
        "statistics.get-earnings" => earnings,
        "statistics.get-subscriber-metrics" => subscriber_metrics,
        "analytics-summary.get-earnings-overview" => earnings_overview,
        "transactions.list-transactions" => list_transactions,
        "fans.list-all-fans" => |s, c| list_fans(s, c, FanFilter::All),
        "fans.list-active-fans" => |s, c| list_fans(s, c, FanFilter::Active),
        "fans.list-expired-fans" => |s, c| list_fans(s, c, FanFilter::Expired),
        "fans.list-latest-fans" => latest_fans,
        "fans.list-top-fans" => top_fans,
        "chats.list-chats" => list_chats,
        "chat-messages.list-chat-messages" => list_chat_messages,
        "chat-messages.send-message" => send_chat_message,
        "mass-messaging.send-mass-message" => send_mass_message,
        "mass-messaging.list-mass-message-queue" => list_mass_messages,
        "mass-messaging.get-mass-message-overview" => mass_message_overview,
        "mass-messaging.get-mass-message" => get_mass_message,
        "mass-messaging.unsend-delete-mass-message" => unsend_mass_message,
        "tracking-links.list-tracking-links" => list_tracking_links,
        "tracking-links.create-tracking-link" => create_tracking_link,
        "tracking-links.get-tracking-link" => get_tracking_link,
        "tracking-links.delete-tracking-link" => delete_tracking_link,
        "tracking-links.get-tracking-link-stats" => tracking_link_stats,
        "free-trial-links.list-free-trial-links" => list_trial_links,
        "free-trial-links.create-free-trial-link" => create_trial_link,
        "free-trial-links.get-free-trial-link" => get_trial_link,
        "free-trial-links.delete-free-trial-link" => delete_trial_link,
        "user-list-collections.list-user-lists" => list_user_lists,
        "user-list-collections.create-user-list" => create_user_list,
        "user-list-collections.add-users-to-user-list" => add_users_to_list,
        "user-list-collections.list-user-list-users" => list_user_list_users,
        "payouts.get-account-balances" => payout_balances,
        "posts.list-posts" => list_posts,
        "posts.send-post" => send_post,
        "media-vault.list-vault-media" => list_vault_media,
        "notifications.get-notification-counts" => notification_counts,
        _ => return None,
    };
    Some(handler(state, call).map(|mut outcome| {
        let mut mismatches = Vec::new();
        outcome.data = shapes::complete(call.endpoint, outcome.data, &mut mismatches);
        for mismatch in mismatches {
            // Mostly expected: the SDK types the same fan field differently
            // per endpoint, and a value that fits one model is nulled in another.
            tracing::debug!(%mismatch, "sandbox value does not fit the SDK model");
            state.record_mismatch(mismatch);
        }
        outcome
    }))
}

/// Endpoints whose envelope carries `_pagination` even on the last page.
pub(crate) fn is_paginated(endpoint: &str) -> bool {
    matches!(
        endpoint,
        "fans.list-all-fans"
            | "fans.list-active-fans"
            | "fans.list-expired-fans"
            | "fans.list-latest-fans"
            | "chats.list-chats"
            | "chat-messages.list-chat-messages"
            | "chat-messages.send-message"
            | "transactions.list-transactions"
            | "tracking-links.list-tracking-links"
            | "free-trial-links.list-free-trial-links"
            | "free-trial-links.create-free-trial-link"
    )
}

// ---------------------------------------------------------------------------
// Helpers: arguments, dates, money, pages.

fn query<'c>(call: &'c Call, name: &str) -> Option<&'c str> {
    call.query
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

fn body_str<'c>(call: &'c Call, name: &str) -> Option<&'c str> {
    call.body.get(name).and_then(Value::as_str)
}

fn number_arg(call: &Call, name: &str, default: usize, max: usize) -> Result<usize, Failure> {
    match query(call, name) {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(Failure::invalid(
                name,
                &format!("The {name} must be a whole number between 0 and {max}."),
            )),
        },
    }
}

fn limit_arg(call: &Call, default: usize, max: usize) -> Result<usize, Failure> {
    let limit = number_arg(call, "limit", default, max)?;
    if limit == 0 {
        return Err(Failure::invalid("limit", "The limit must be at least 1."));
    }
    Ok(limit)
}

/// Accepts what the API accepts: `2026-11-01 00:00:00`, `2026-11-01`, ISO 8601.
pub(crate) fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}

fn date_arg(call: &Call, names: &[&str]) -> Result<Option<DateTime<Utc>>, Failure> {
    for name in names {
        let value = query(call, name).or_else(|| body_str(call, name));
        if let Some(text) = value {
            return parse_date(text).map(Some).ok_or_else(|| {
                Failure::invalid(
                    name,
                    &format!("The {name} `{text}` is not a date (use YYYY-MM-DD HH:MM:SS)."),
                )
            });
        }
    }
    Ok(None)
}

/// The `[start, end)` window of a report; `required` names the start/end keys
/// that must be present.
fn window(
    state: &State,
    call: &Call,
    start_keys: &[&str],
    end_keys: &[&str],
    required: bool,
    default_days: i64,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Failure> {
    let now = state.data.now;
    let start = date_arg(call, start_keys)?;
    let end = date_arg(call, end_keys)?;
    if required && (start.is_none() || end.is_none()) {
        let missing = if start.is_none() {
            start_keys[0]
        } else {
            end_keys[0]
        };
        return Err(Failure::invalid(
            missing,
            &format!("The {missing} field is required."),
        ));
    }
    let end = end.unwrap_or(now).min(now + Duration::days(1));
    let start = start.unwrap_or(end - Duration::days(default_days));
    if start > end {
        return Err(Failure::invalid(
            start_keys[0],
            "The start date must be before the end date.",
        ));
    }
    Ok((start, end))
}

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

fn account<'s>(state: &'s State, call: &Call) -> Result<&'s Account, Failure> {
    let id = call.params.get("account").map_or("", String::as_str);
    state.data.account(id).ok_or_else(|| forbidden(id))
}

fn account_index(state: &State, call: &Call) -> Result<usize, Failure> {
    let id = call.params.get("account").map_or("", String::as_str);
    state
        .data
        .accounts
        .iter()
        .position(|a| a.id == id)
        .ok_or_else(|| forbidden(id))
}

fn forbidden(id: &str) -> Failure {
    Failure {
        status: axum::http::StatusCode::FORBIDDEN,
        body: json!({"message": format!("The account {id} is not connected to your team.")}),
    }
}

fn id_param(call: &Call, name: &str) -> Result<i64, Failure> {
    let text = call.params.get(name).map_or("", String::as_str);
    text.parse()
        .map_err(|_| Failure::invalid(name, &format!("The {name} `{text}` is not a valid ID.")))
}

/// One page of `items` by `limit`/`offset`, with the link to the next page
/// (the same query with the offset moved on).
struct Page {
    items: Vec<Value>,
    has_more: bool,
    next_page: Option<String>,
    offset: usize,
}

fn page(
    state: &State,
    call: &Call,
    items: Vec<Value>,
    default_limit: usize,
    max_limit: usize,
) -> Result<Page, Failure> {
    let limit = limit_arg(call, default_limit, max_limit)?;
    let offset = number_arg(call, "offset", 0, usize::MAX)?;
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let has_more = offset + limit < total;
    let next_page = has_more.then(|| {
        let mut pairs: Vec<(String, String)> = call
            .query
            .iter()
            .filter(|(k, _)| k != "offset" && k != "limit")
            .cloned()
            .collect();
        pairs.push(("limit".into(), limit.to_string()));
        pairs.push(("offset".into(), (offset + limit).to_string()));
        link(state, call.path, &pairs)
    });
    Ok(Page {
        items,
        has_more,
        next_page,
        offset,
    })
}

fn link(state: &State, path: &str, pairs: &[(String, String)]) -> String {
    let encode = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("{}{path}?{}", state.base_url, query.join("&"))
}

/// The common answer of a paginated list: `{list, hasMore}` plus `next_page`.
fn list_page(
    state: &State,
    call: &Call,
    items: Vec<Value>,
    default_limit: usize,
    max_limit: usize,
) -> Result<Outcome, Failure> {
    let page = page(state, call, items, default_limit, max_limit)?;
    Ok(paged(
        json!({"list": page.items, "hasMore": page.has_more}),
        page.next_page,
    ))
}

fn paged(data: Value, next_page: Option<String>) -> Outcome {
    let mut outcome = Outcome::ok(data);
    outcome.next_page = next_page;
    outcome
}

/// What a fan spent, gross, by kind, optionally within a window.
#[derive(Default)]
struct Spend {
    total: f64,
    subscriptions: f64,
    tips: f64,
    messages: f64,
    posts: f64,
}

fn spend(account: &Account, fan_id: i64, within: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Spend {
    let mut spend = Spend::default();
    for t in account.transactions.iter().filter(|t| t.fan_id == fan_id) {
        if within.is_some_and(|(start, end)| t.created_at < start || t.created_at >= end) {
            continue;
        }
        spend.total += t.gross;
        match t.kind {
            TransactionKind::Subscription => spend.subscriptions += t.gross,
            TransactionKind::Tip => spend.tips += t.gross,
            TransactionKind::Message => spend.messages += t.gross,
            TransactionKind::Post => spend.posts += t.gross,
            TransactionKind::Chargeback => {}
        }
    }
    spend
}

fn months_between(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let months = ((to - from).num_days() / 30).max(1);
    if months == 1 {
        "1 month".into()
    } else {
        format!("{months} months")
    }
}

fn fan_json(account: &Account, fan: &Fan, now: DateTime<Utc>) -> Value {
    let spend = spend(account, fan.id, None);
    let active = fan.is_active(now);
    let subscribes: Vec<Value> = account
        .transactions
        .iter()
        .filter(|t| t.fan_id == fan.id && t.kind == TransactionKind::Subscription)
        .map(|t| {
            json!({
                "id": t.id.trim_start_matches("txn_").parse::<i64>().unwrap_or(0),
                "userId": fan.id, "subscriberId": account.user_id,
                "date": iso(t.created_at), "startDate": iso(t.created_at),
                "expireDate": iso((t.created_at + Duration::days(30)).min(fan.expires_at)),
                "price": t.gross, "regularPrice": account.subscribe_price, "discount": 0, "duration": 30,
                "type": "regular", "action": if t.created_at == fan.subscribed_at { "subscribe" } else { "renew" },
                "isCurrent": active && t.created_at + Duration::days(30) > now,
            })
        })
        .collect();
    json!({
        "id": fan.id,
        "username": fan.username,
        "name": fan.name,
        "displayName": "",
        "view": "s",
        "lastSeen": iso(fan.last_seen),
        "isVerified": false,
        "isPerformer": false,
        "isRealPerformer": false,
        "isBlocked": false,
        "isRestricted": false,
        "canReceiveChatMessage": true,
        "canEarn": false,
        "hideChat": false,
        "subscribedBy": false,
        "subscribedOn": active,
        "subscribedOnExpiredNow": !active,
        "subscribedOnDuration": months_between(fan.subscribed_at, fan.expires_at.min(now)),
        "subscribedOnData": {
            "price": account.subscribe_price,
            "newPrice": account.subscribe_price,
            "regularPrice": account.subscribe_price,
            "subscribePrice": account.subscribe_price,
            "discountPercent": 0,
            "discountPeriod": 0,
            "subscribeAt": iso(fan.subscribed_at),
            "expiredAt": iso(fan.expires_at),
            "renewedAt": if fan.auto_renew && active { Value::from(iso(fan.expires_at)) } else { Value::Null },
            "status": if active { Value::Null } else { Value::from("Expired") },
            "duration": months_between(fan.subscribed_at, fan.expires_at.min(now)),
            "hasActivePaidSubscriptions": active,
            "isMuted": false,
            "lastActivity": iso(fan.last_seen),
            "totalSumm": cents(spend.total),
            "subscribesSumm": cents(spend.subscriptions),
            "tipsSumm": cents(spend.tips),
            "messagesSumm": cents(spend.messages),
            "postsSumm": cents(spend.posts),
            "streamsSumm": 0,
            "recommendations": 0,
            "subscribes": subscribes,
        },
        "subscribedByAutoprolong": fan.auto_renew,
        "subscribedByExpire": !fan.auto_renew,
        "subscribedByExpireDate": iso(fan.expires_at),
        "subscribedIsExpiredNow": !active,
        "tipsEnabled": false,
        "listsStates": account.user_lists.iter().map(|list| json!({
            "id": list.id, "type": list.kind, "name": list.name,
            "hasUser": list.user_ids.contains(&fan.id), "canAddUser": list.kind == "custom",
        })).collect::<Vec<_>>(),
    })
}

fn user_ref(fan: Option<&Fan>, id: i64) -> Value {
    json!({
        "id": id,
        "name": fan.map(|f| f.name.clone()),
        "username": fan.map(|f| f.username.clone()),
        "view": "s",
        "isVerified": false,
    })
}

// ---------------------------------------------------------------------------
// Account and team.

fn whoami(state: &mut State, _call: &Call) -> Result<Outcome, Failure> {
    let now = state.data.now;
    Ok(Outcome::ok(json!({
        "api_key": {"name": "Sandbox key", "created_at": iso(now - Duration::days(30)), "last_used_at": iso(now)},
        "team": {"name": "Sandbox Agency", "slug": "sandbox-agency"},
    })))
}

fn account_json(account: &Account, now: DateTime<Utc>) -> Value {
    json!({
        "id": account.user_id,
        "name": account.name,
        "username": account.username,
        "view": "s",
        "isPerformer": true,
        "isRealPerformer": true,
        "isVerified": true,
        "canEarn": true,
        "joinDate": iso(account.joined_at),
        "lastSeen": iso(now),
        "subscribePrice": account.subscribe_price,
        "subscribersCount": account.fans.iter().filter(|f| f.is_active(now)).count(),
        "postsCount": account.posts.len(),
        "mediasCount": account.vault_media.len(),
        "photosCount": account.vault_media.iter().filter(|m| m.kind == "photo").count(),
        "videosCount": account.vault_media.iter().filter(|m| m.kind == "video").count(),
        "chatMessagesCount": account.chats.iter().map(|c| c.messages.len()).sum::<usize>(),
        "tipsEnabled": true,
        "tipsMin": 5,
        "tipsMax": 200,
        "email": format!("{}@creators.example", account.username),
    })
}

fn list_accounts(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let now = state.data.now;
    let accounts: Vec<Value> = state
        .data
        .accounts
        .iter()
        .filter(|a| query(call, "onlyfans_username").is_none_or(|u| u == a.username))
        .filter(|a| query(call, "onlyfans_id").is_none_or(|id| id == a.user_id.to_string()))
        .map(|a| {
            json!({
                "id": a.id,
                "display_name": a.name,
                "onlyfans_username": a.username,
                "onlyfans_id": a.user_id,
                "onlyfans_email": format!("{}@creators.example", a.username),
                "is_authenticated": true,
                "authentication_progress": "authenticated",
                "onlyfans_user_data": account_json(a, now),
            })
        })
        .collect();
    Ok(Outcome::ok(Value::Array(accounts)))
}

fn me(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let account = account(state, call)?;
    Ok(Outcome::ok(account_json(account, state.data.now)))
}

fn top_percentage(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let index = account_index(state, call)?;
    let top = [0.8, 2.5, 6.0][index % 3];
    Ok(Outcome::ok(json!({
        "top_percentage": top,
        "message": format!("You are in the top {top}% of all creators!"),
    })))
}

// ---------------------------------------------------------------------------
// Statistics and earnings.

struct Totals {
    net: f64,
    gross: f64,
    count: i64,
}

fn totals<'t>(transactions: impl Iterator<Item = &'t Transaction>) -> Totals {
    let mut totals = Totals {
        net: 0.0,
        gross: 0.0,
        count: 0,
    };
    for t in transactions {
        totals.net += t.net;
        totals.gross += t.gross;
        totals.count += 1;
    }
    totals.net = cents(totals.net);
    totals.gross = cents(totals.gross);
    totals
}

fn in_window(t: &Transaction, (start, end): (DateTime<Utc>, DateTime<Utc>)) -> bool {
    t.created_at >= start && t.created_at < end
}

/// Percent change from the previous window of the same length.
fn delta(current: f64, previous: f64) -> f64 {
    if previous.abs() < f64::EPSILON {
        if current.abs() < f64::EPSILON {
            0.0
        } else {
            100.0
        }
    } else {
        cents((current - previous) / previous.abs() * 100.0)
    }
}

fn kind_filter(kind: Option<&str>) -> Result<Option<TransactionKind>, Failure> {
    Ok(match kind {
        None | Some("total") => None,
        Some("subscribes") => Some(TransactionKind::Subscription),
        Some("tips") => Some(TransactionKind::Tip),
        Some("messages") => Some(TransactionKind::Message),
        Some("post") => Some(TransactionKind::Post),
        Some("stream") => Some(TransactionKind::Chargeback).filter(|_| false),
        Some(other) => {
            return Err(Failure::invalid(
                "type",
                &format!(
                    "The type `{other}` must be one of: total, subscribes, tips, post, messages, stream."
                ),
            ));
        }
    })
}

fn earnings(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let range = window(state, call, &["start_date"], &["end_date"], true, 30)?;
    let kind = kind_filter(query(call, "type"))?;
    let streams_only = query(call, "type") == Some("stream");
    let account = account(state, call)?;
    let matches = |t: &&Transaction| !streams_only && kind.is_none_or(|k| t.kind == k);
    let current = totals(
        account
            .transactions
            .iter()
            .filter(|t| in_window(t, range))
            .filter(matches),
    );
    let length = range.1 - range.0;
    let previous_range = (range.0 - length, range.0);
    let previous = totals(
        account
            .transactions
            .iter()
            .filter(|t| in_window(t, previous_range))
            .filter(matches),
    );
    let mut amount_chart = Vec::new();
    let mut count_chart = Vec::new();
    let mut day = range.0.date_naive();
    while day
        .and_hms_opt(0, 0, 0)
        .is_some_and(|d| d.and_utc() < range.1)
    {
        let start = day
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or(range.0);
        let day_totals = totals(
            account
                .transactions
                .iter()
                .filter(|t| {
                    in_window(
                        t,
                        (start.max(range.0), (start + Duration::days(1)).min(range.1)),
                    )
                })
                .filter(matches),
        );
        amount_chart.push(json!({"date": iso(start), "count": day_totals.net}));
        count_chart.push(json!({"date": iso(start), "count": day_totals.count}));
        day = day.succ_opt().unwrap_or(day);
        if amount_chart.len() > 400 {
            break;
        }
    }
    Ok(Outcome::ok(json!({
        "total": {
            "total": current.net,
            "gross": current.gross,
            "delta": delta(current.net, previous.net),
            "chartAmount": amount_chart,
            "chartCount": count_chart,
        }
    })))
}

fn statistics_overview(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let range = window(state, call, &["start_date"], &["end_date"], false, 30)?;
    let account = account(state, call)?;
    let length = range.1 - range.0;
    let previous_range = (range.0 - length, range.0);
    let earned = totals(account.transactions.iter().filter(|t| in_window(t, range)));
    let earned_before = totals(
        account
            .transactions
            .iter()
            .filter(|t| in_window(t, previous_range)),
    );
    let by_kind = |kind, window| {
        totals(
            account
                .transactions
                .iter()
                .filter(|t| t.kind == kind && in_window(t, window)),
        )
    };
    let messages = by_kind(TransactionKind::Message, range);
    let posts = by_kind(TransactionKind::Post, range);
    let subscriptions = by_kind(TransactionKind::Subscription, range);
    let mass_sent: Vec<&MassMessage> = account
        .mass_messages
        .iter()
        .filter(|m| m.created_at >= range.0 && m.created_at < range.1)
        .collect();
    let new_fans = account
        .fans
        .iter()
        .filter(|f| f.subscribed_at >= range.0 && f.subscribed_at < range.1)
        .count() as i64;
    let posts_in_range = account
        .posts
        .iter()
        .filter(|p| p.created_at >= range.0 && p.created_at < range.1)
        .count() as i64;
    Ok(Outcome::ok(json!({
        "earning": {"total": earned.net, "gross": earned.gross, "delta": delta(earned.net, earned_before.net)},
        "visitors": {
            "hasStatistic": true,
            "visitors": {"total": new_fans * 9 + 40, "delta": 0},
            "subscriptions": {"new": {"total": new_fans, "delta": 0.0}, "renew": {"total": subscriptions.count - new_fans.min(subscriptions.count), "delta": 0}},
            "earnings": {"total": subscriptions.net, "gross": subscriptions.gross, "delta": 0.0},
            "chartData": [],
        },
        "massMessages": {
            "hasStatistic": !mass_sent.is_empty(),
            "count": {"total": mass_sent.len(), "delta": 0.0},
            "views": {"total": mass_sent.iter().map(|m| m.viewed_count).sum::<i64>(), "delta": 0},
            "earnings": {"total": messages.net, "gross": messages.gross, "delta": 0.0},
            "chartData": [],
        },
        "posts": {
            "hasStatistic": posts_in_range > 0,
            "count": {"total": posts_in_range, "delta": 0},
            "views": {"total": posts_in_range * 120, "delta": 0.0},
            "earnings": {"total": posts.net, "gross": posts.gross, "delta": 0},
            "chartData": [],
        },
        "streams": {
            "hasStatistic": false,
            "count": {"total": "0", "delta": 0},
            "views": {"total": 0, "delta": 0},
            "earnings": {"total": 0, "gross": 0, "delta": 0},
            "chartData": [],
        },
    })))
}

fn subscriber_metrics(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let range = window(state, call, &["start_date"], &["end_date"], true, 30)?;
    let account = account(state, call)?;
    let new = account
        .fans
        .iter()
        .filter(|f| f.subscribed_at >= range.0 && f.subscribed_at < range.1)
        .collect::<Vec<_>>();
    let free = new.iter().filter(|f| f.trial_link.is_some()).count();
    let renewed = account
        .transactions
        .iter()
        .filter(|t| t.kind == TransactionKind::Subscription && in_window(t, range))
        .filter(|t| {
            account
                .fans
                .iter()
                .any(|f| f.id == t.fan_id && f.subscribed_at < t.created_at)
        })
        .count();
    Ok(Outcome::ok(json!({
        "total_subscriptions": new.len() + renewed,
        "new_subscriptions": new.len(),
        "renewed_subscriptions": renewed,
        "detailed": {"paid_subscriptions": new.len() - free, "free_subscriptions": free, "unknown_subscriptions": 0},
    })))
}

fn earnings_overview(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let range = window(state, call, &["start_date"], &["end_date"], true, 30)?;
    let ids: Vec<String> = match call.body.get("account_ids") {
        Some(Value::Array(ids)) => ids
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => state.data.accounts.iter().map(|a| a.id.clone()).collect(),
    };
    let mut by_kind: BTreeMap<&str, f64> = BTreeMap::new();
    let mut per_account = Vec::new();
    let (mut images, mut videos, mut messages) = (0, 0, 0);
    for id in &ids {
        let account = state.data.account(id).ok_or_else(|| forbidden(id))?;
        let earned = totals(account.transactions.iter().filter(|t| in_window(t, range)));
        for t in account.transactions.iter().filter(|t| in_window(t, range)) {
            *by_kind.entry(t.kind.as_str()).or_default() += t.net;
        }
        images += account
            .vault_media
            .iter()
            .filter(|m| m.kind == "photo")
            .count();
        videos += account
            .vault_media
            .iter()
            .filter(|m| m.kind == "video")
            .count();
        messages += account
            .chats
            .iter()
            .map(|c| c.messages.len())
            .sum::<usize>();
        per_account.push(json!({"account_id": id, "username": account.username, "net": earned.net, "gross": earned.gross}));
    }
    let net = |kind: &str| cents(by_kind.get(kind).copied().unwrap_or(0.0));
    Ok(Outcome::ok(json!({
        "total_earnings": cents(by_kind.values().sum()),
        "subscriptions": net("subscription"),
        "tips": net("tip"),
        "messages": net("message"),
        "posts": net("post"),
        "chargebacks": net("chargeback"),
        "streams": 0.0,
        "total_accounts": ids.len(),
        "total_images": images,
        "total_videos": videos,
        "total_messages": messages,
        "accounts": per_account,
        "start_date": iso(range.0),
        "end_date": iso(range.1),
    })))
}

fn list_transactions(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let since = date_arg(call, &["startDate", "start_date"])?;
    let kind = match query(call, "type") {
        None => None,
        Some("subscription" | "subscriptions") => Some(TransactionKind::Subscription),
        Some("tip" | "tips") => Some(TransactionKind::Tip),
        Some("message" | "messages") => Some(TransactionKind::Message),
        Some("post" | "posts") => Some(TransactionKind::Post),
        Some("chargeback" | "chargebacks") => Some(TransactionKind::Chargeback),
        Some(other) => {
            return Err(Failure::invalid(
                "type",
                &format!(
                    "The type `{other}` must be one of: subscription, tip, message, post, chargeback."
                ),
            ));
        }
    };
    let limit = limit_arg(call, 10, 100)?;
    // The marker is the creation time (epoch seconds) of the last item seen.
    let marker = match query(call, "marker") {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| Failure::invalid("marker", "The marker must be a number."))?,
        ),
    };
    let account = account(state, call)?;
    let matching: Vec<&Transaction> = account
        .transactions
        .iter()
        .filter(|t| since.is_none_or(|s| t.created_at >= s))
        .filter(|t| kind.is_none_or(|k| t.kind == k))
        .filter(|t| marker.is_none_or(|m| t.created_at.timestamp() < m))
        .collect();
    let has_more = matching.len() > limit;
    let items: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|t| {
            let fan = account.fans.iter().find(|f| f.id == t.fan_id);
            let who = fan.map_or("a fan".to_owned(), |f| f.name.clone());
            let description = match t.kind {
                TransactionKind::Subscription => format!("Subscription from {who}"),
                TransactionKind::Tip => format!("Tip from {who}"),
                TransactionKind::Message => format!("Payment for message from {who}"),
                TransactionKind::Post => format!("Payment for post from {who}"),
                TransactionKind::Chargeback => format!("Chargeback of a payment from {who}"),
            };
            json!({
                "id": t.id,
                "type": t.kind.as_str(),
                "amount": t.gross,
                "net": t.net,
                "fee": cents(t.gross - t.net),
                "vatAmount": 0,
                "taxAmount": 0,
                "currency": "USD",
                "description": description,
                "status": if state.data.now - t.created_at < Duration::days(7) { "pending" } else { "done" },
                "payoutPendingDays": (7 - (state.data.now - t.created_at).num_days()).max(0),
                "createdAt": iso(t.created_at),
                "user": user_ref(fan, t.fan_id),
            })
        })
        .collect();
    let next_marker = has_more.then(|| matching[limit - 1].created_at.timestamp());
    let next_page = next_marker.map(|m| {
        let mut pairs: Vec<(String, String)> = call
            .query
            .iter()
            .filter(|(k, _)| k != "marker")
            .cloned()
            .collect();
        pairs.push(("marker".into(), m.to_string()));
        link(state, call.path, &pairs)
    });
    Ok(paged(
        json!({"list": items, "hasMore": has_more, "marker": marker, "nextMarker": next_marker}),
        next_page,
    ))
}

// ---------------------------------------------------------------------------
// Fans.

#[derive(Clone, Copy)]
enum FanFilter {
    All,
    Active,
    Expired,
}

fn list_fans(state: &mut State, call: &Call, filter: FanFilter) -> Result<Outcome, Failure> {
    let now = state.data.now;
    let account = account(state, call)?;
    let filter = match query(call, "type") {
        Some("active") => FanFilter::Active,
        Some("expired") => FanFilter::Expired,
        Some("all") | None => filter,
        Some(other) => {
            return Err(Failure::invalid(
                "type",
                &format!("The type `{other}` must be active, expired or all."),
            ));
        }
    };
    let search = query(call, "query").map(str::to_lowercase);
    let max_spent = query(call, "filter[max_total_spent]").and_then(|v| v.parse::<f64>().ok());
    let min_spent = query(call, "filter[total_spent]").and_then(|v| v.parse::<f64>().ok());
    let min_tips = query(call, "filter[tips]").and_then(|v| v.parse::<f64>().ok());
    let mut fans: Vec<&Fan> = account
        .fans
        .iter()
        .filter(|f| match filter {
            FanFilter::All => true,
            FanFilter::Active => f.is_active(now),
            FanFilter::Expired => !f.is_active(now),
        })
        .filter(|f| {
            search.as_ref().is_none_or(|q| {
                f.username.contains(q.as_str()) || f.name.to_lowercase().contains(q.as_str())
            })
        })
        .filter(|f| {
            let spent = spend(account, f.id, None);
            max_spent.is_none_or(|m| spent.total <= m)
                && min_spent.is_none_or(|m| spent.total >= m)
                && min_tips.is_none_or(|m| spent.tips >= m)
        })
        .collect();
    // Newest fans first.
    fans.sort_by(|a, b| b.subscribed_at.cmp(&a.subscribed_at).then(a.id.cmp(&b.id)));
    let items = fans
        .into_iter()
        .map(|f| fan_json(account, f, now))
        .collect();
    list_page(state, call, items, 10, 20)
}

fn latest_fans(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let now = state.data.now;
    let range = window(state, call, &["start_date"], &["end_date"], false, 30)?;
    let account = account(state, call)?;
    let renewals = |fan: &Fan| {
        account.transactions.iter().any(|t| {
            t.fan_id == fan.id
                && t.kind == TransactionKind::Subscription
                && in_window(t, range)
                && t.created_at > fan.subscribed_at
        })
    };
    let mut fans: Vec<&Fan> = account
        .fans
        .iter()
        .filter(|f| {
            let new = f.subscribed_at >= range.0 && f.subscribed_at < range.1;
            match query(call, "type") {
                Some("new") => new,
                Some("renew") => renewals(f),
                _ => new || renewals(f),
            }
        })
        .collect();
    fans.sort_by(|a, b| b.subscribed_at.cmp(&a.subscribed_at).then(a.id.cmp(&b.id)));
    let items = fans
        .into_iter()
        .map(|f| fan_json(account, f, now))
        .collect();
    let page = page(state, call, items, 10, 50)?;
    Ok(paged(
        json!({"users": page.items, "hasMore": page.has_more, "offset": page.offset}),
        page.next_page,
    ))
}

fn top_fans(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let now = state.data.now;
    let range = match (
        date_arg(call, &["start_date"])?,
        date_arg(call, &["end_date"])?,
    ) {
        (None, None) => None,
        (start, end) => Some((
            start.unwrap_or(DateTime::<Utc>::MIN_UTC),
            end.unwrap_or(now + Duration::days(1)),
        )),
    };
    let by = query(call, "by").unwrap_or("total");
    let account = account(state, call)?;
    let amount = |fan: &Fan| {
        let s = spend(account, fan.id, range);
        match by {
            "subscribes" => Ok(s.subscriptions),
            "tips" => Ok(s.tips),
            "messages" => Ok(s.messages),
            "post" => Ok(s.posts),
            "streams" => Ok(0.0),
            "total" => Ok(s.total),
            other => Err(Failure::invalid(
                "by",
                &format!(
                    "The by `{other}` must be one of: total, subscribes, tips, messages, post, streams."
                ),
            )),
        }
    };
    let mut ranked = Vec::new();
    for fan in &account.fans {
        let spent = amount(fan)?;
        if spent > 0.0 {
            ranked.push((fan, spent));
        }
    }
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.id.cmp(&b.0.id)));
    let limit = limit_arg(call, 10, 50)?;
    let users: Vec<Value> = ranked
        .into_iter()
        .take(limit)
        .map(|(fan, spent)| {
            let mut value = fan_json(account, fan, now);
            value["spentInPeriod"] = json!(cents(spent));
            value
        })
        .collect();
    Ok(Outcome::ok(json!({"users": users})))
}

// ---------------------------------------------------------------------------
// Chats.

fn message_json(message: &ChatMessage, fan_id: i64, creator_id: i64) -> Value {
    json!({
        "id": message.id,
        "text": message.text,
        "price": message.price,
        "isFree": message.price == 0.0,
        "isTip": false,
        "isNew": message.from_fan,
        "isOpened": !message.from_fan,
        "isSentByMe": !message.from_fan,
        "isFromQueue": message.queue_id.is_some(),
        "queueId": message.queue_id,
        "mediaCount": 0,
        "media": [],
        "previews": [],
        "lockedText": false,
        "responseType": "message",
        "createdAt": iso(message.created_at),
        "changedAt": iso(message.created_at),
        "fromUser": {"id": if message.from_fan { fan_id } else { creator_id }, "_view": "s"},
    })
}

fn list_chats(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let now = state.data.now;
    let account = account(state, call)?;
    let unread_only = matches!(query(call, "filter"), Some("unread"));
    let search = query(call, "query").map(str::to_lowercase);
    let mut chats: Vec<_> = account
        .chats
        .iter()
        .filter(|c| !c.messages.is_empty())
        .filter(|c| !unread_only || c.unread > 0)
        .filter_map(|c| {
            account
                .fans
                .iter()
                .find(|f| f.id == c.fan_id)
                .map(|f| (c, f))
        })
        .filter(|(_, f)| {
            search.as_ref().is_none_or(|q| {
                f.username.contains(q.as_str()) || f.name.to_lowercase().contains(q.as_str())
            })
        })
        .collect();
    let last = |c: &super::data::Chat| c.messages.last().map(|m| m.created_at);
    chats.sort_by(|a, b| last(b.0).cmp(&last(a.0)).then(a.1.id.cmp(&b.1.id)));
    if query(call, "order") == Some("old") {
        chats.reverse();
    }
    let items = chats
        .into_iter()
        .map(|(chat, fan)| {
            json!({
                "fan": fan_json(account, fan, now),
                "lastMessage": chat.messages.last().map(|m| message_json(m, fan.id, account.user_id)),
                "unreadMessagesCount": chat.unread,
                "hasUnreadTips": false,
                "isMutedNotifications": false,
                "canSendMessage": true,
                "canGoToProfile": true,
                "countPinnedMessages": 0,
                "lastReadMessageId": chat.messages.iter().rev().find(|m| !m.from_fan).map(|m| m.id),
            })
        })
        .collect();
    let page = page(state, call, items, 10, 100)?;
    Ok(paged(Value::Array(page.items), page.next_page))
}

fn list_chat_messages(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let fan_id = id_param(call, "chat_id")?;
    let limit = limit_arg(call, 10, 100)?;
    let first_id = query(call, "first_id").and_then(|v| v.parse::<i64>().ok());
    let last_id = query(call, "last_id").and_then(|v| v.parse::<i64>().ok());
    let ascending = matches!(query(call, "order"), Some("asc")) || last_id.is_some();
    let account = account(state, call)?;
    if !account.fans.iter().any(|f| f.id == fan_id) {
        return Err(Failure::not_found("Chat"));
    }
    let mut messages: Vec<&ChatMessage> = account
        .chats
        .iter()
        .find(|c| c.fan_id == fan_id)
        .map(|c| c.messages.iter().collect())
        .unwrap_or_default();
    messages.sort_by_key(|m| (m.created_at, m.id));
    if !ascending {
        messages.reverse();
    }
    let messages: Vec<&ChatMessage> = messages
        .into_iter()
        .filter(|m| first_id.is_none_or(|id| m.id < id))
        .filter(|m| last_id.is_none_or(|id| m.id > id))
        .collect();
    let has_more = messages.len() > limit;
    let page: Vec<&ChatMessage> = messages.into_iter().take(limit).collect();
    let next_page = has_more.then(|| {
        let cursor = if ascending { "last_id" } else { "first_id" };
        let mut pairs: Vec<(String, String)> = call
            .query
            .iter()
            .filter(|(k, _)| k != cursor)
            .cloned()
            .collect();
        pairs.push((cursor.into(), page.last().map_or(0, |m| m.id).to_string()));
        link(state, call.path, &pairs)
    });
    let items = page
        .iter()
        .map(|m| message_json(m, fan_id, account.user_id))
        .collect();
    Ok(paged(Value::Array(items), next_page))
}

fn price_arg(call: &Call) -> Result<f64, Failure> {
    match call.body.get("price") {
        None | Some(Value::Null) => Ok(0.0),
        Some(value) => match value.as_f64() {
            Some(price) if price == 0.0 || (3.0..=200.0).contains(&price) => Ok(price),
            _ => Err(Failure::invalid(
                "price",
                "The price must be 0 or between 3 and 200.",
            )),
        },
    }
}

fn media_count(call: &Call) -> usize {
    call.body
        .get("mediaFiles")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

fn send_chat_message(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let fan_id = id_param(call, "chat_id")?;
    let text = body_str(call, "text").unwrap_or("").to_owned();
    let price = price_arg(call)?;
    if text.trim().is_empty() && media_count(call) == 0 {
        return Err(Failure::invalid(
            "text",
            "The text field is required when no media is sent.",
        ));
    }
    if price > 0.0 && media_count(call) == 0 {
        return Err(Failure::invalid(
            "mediaFiles",
            "The media files field is required when a price is set.",
        ));
    }
    let index = account_index(state, call)?;
    let now = state.data.now;
    let id = state.data.next_id();
    let account = &mut state.data.accounts[index];
    if !account.fans.iter().any(|f| f.id == fan_id) {
        return Err(Failure::onlyfans("User not found"));
    }
    let message = ChatMessage {
        id,
        queue_id: None,
        from_fan: false,
        text,
        price,
        created_at: now,
    };
    let json = message_json(&message, fan_id, account.user_id);
    match account.chats.iter_mut().find(|c| c.fan_id == fan_id) {
        Some(chat) => {
            chat.messages.push(message);
            chat.unread = 0;
        }
        None => account.chats.push(super::data::Chat {
            fan_id,
            messages: vec![message],
            unread: 0,
        }),
    }
    Ok(Outcome::ok(json))
}

// ---------------------------------------------------------------------------
// Mass messages.

fn queue_json(message: &MassMessage) -> Value {
    json!({
        "id": message.id,
        "date": iso(message.scheduled_for.unwrap_or(message.created_at)),
        "isReady": true,
        "isDone": message.scheduled_for.is_none(),
        "total": message.sent_count,
        "pending": if message.scheduled_for.is_some() { message.sent_count } else { 0 },
        "canUnsend": true,
        "unsendSeconds": 1_000_000,
        "hasError": false,
        "isCanceled": false,
        "isCouplePeopleMedia": false,
        "text": message.text,
        "textCropped": message.text.chars().take(50).collect::<String>(),
        "rawText": message.text,
        "isFree": message.price == 0.0,
        "price": message.price,
        "sentCount": message.sent_count,
        "viewedCount": message.viewed_count,
        "purchasedCount": message.purchased_count,
        "mediaCount": 0,
        "mediaTypes": Value::Null,
        "responseType": "message",
        "userLists": message.user_list_ids,
    })
}

fn string_list(call: &Call, name: &str) -> Result<Vec<String>, Failure> {
    match call.body.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(Failure::invalid(
                    name,
                    &format!("Every {name} entry must be an ID."),
                )),
            })
            .collect(),
        Some(_) => Err(Failure::invalid(
            name,
            &format!("The {name} field must be an array."),
        )),
    }
}

fn send_mass_message(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let text = body_str(call, "text").unwrap_or("").to_owned();
    if text.trim().is_empty() {
        return Err(Failure::invalid("text", "The text field is required."));
    }
    let price = price_arg(call)?;
    if price > 0.0 && media_count(call) == 0 {
        return Err(Failure::invalid(
            "mediaFiles",
            "The media files field is required when a price is set.",
        ));
    }
    let lists = string_list(call, "userLists")?;
    let users = string_list(call, "userIds")?;
    let excluded = string_list(call, "excludedLists")?;
    let scheduled_for = match body_str(call, "scheduledDate") {
        None => None,
        Some(text) => Some(parse_date(text).ok_or_else(|| {
            Failure::invalid("scheduledDate", "The scheduled date is not a date.")
        })?),
    };
    let index = account_index(state, call)?;
    let now = state.data.now;
    let id = 3_000_000_000 + state.data.next_id();
    let account = &state.data.accounts[index];
    let mut recipients = BTreeSet::new();
    for list_id in &lists {
        let list = account
            .user_lists
            .iter()
            .find(|l| &l.id == list_id)
            .ok_or_else(|| Failure::onlyfans(&format!("List {list_id} not found")))?;
        recipients.extend(list.user_ids.iter().copied());
    }
    for user in &users {
        let fan_id: i64 = user
            .parse()
            .map_err(|_| Failure::invalid("userIds", &format!("`{user}` is not a user ID.")))?;
        if !account.fans.iter().any(|f| f.id == fan_id) {
            return Err(Failure::onlyfans(&format!("User {user} is not your fan")));
        }
        recipients.insert(fan_id);
    }
    for list_id in &excluded {
        if let Some(list) = account.user_lists.iter().find(|l| &l.id == list_id) {
            for user in &list.user_ids {
                recipients.remove(user);
            }
        }
    }
    if lists.is_empty() && users.is_empty() {
        return Err(Failure::invalid(
            "userLists",
            "Choose at least one user list or user to send to.",
        ));
    }
    let message = MassMessage {
        id,
        text: text.clone(),
        price,
        created_at: now,
        user_list_ids: lists,
        user_ids: recipients.iter().copied().collect(),
        sent_count: recipients.len() as i64,
        viewed_count: 0,
        purchased_count: 0,
        scheduled_for,
    };
    let answer = queue_json(&message);
    let deliver_now = scheduled_for.is_none_or(|at| at <= now);
    let message_ids: Vec<i64> = recipients.iter().map(|_| state.data.next_id()).collect();
    let account = &mut state.data.accounts[index];
    if deliver_now {
        for (fan_id, message_id) in recipients.iter().zip(message_ids) {
            let delivered = ChatMessage {
                id: message_id,
                queue_id: Some(id),
                from_fan: false,
                text: text.clone(),
                price,
                created_at: now,
            };
            match account.chats.iter_mut().find(|c| c.fan_id == *fan_id) {
                Some(chat) => chat.messages.push(delivered),
                None => account.chats.push(super::data::Chat {
                    fan_id: *fan_id,
                    messages: vec![delivered],
                    unread: 0,
                }),
            }
        }
    }
    account.mass_messages.push(message);
    Ok(Outcome::ok(answer))
}

fn list_mass_messages(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let account = account(state, call)?;
    let mut messages: Vec<&MassMessage> = account.mass_messages.iter().collect();
    messages.sort_by_key(|item| std::cmp::Reverse(item.created_at));
    Ok(Outcome::ok(Value::Array(
        messages.into_iter().map(queue_json).collect(),
    )))
}

fn mass_message_overview(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let range = window(state, call, &["startDate"], &["endDate"], false, 90)?;
    let limit = limit_arg(call, 10, 100)?;
    let account = account(state, call)?;
    let search = query(call, "query").map(str::to_lowercase);
    let mut messages: Vec<&MassMessage> = account
        .mass_messages
        .iter()
        .filter(|m| m.created_at >= range.0 && m.created_at < range.1)
        .filter(|m| {
            search
                .as_ref()
                .is_none_or(|q| m.text.to_lowercase().contains(q.as_str()))
        })
        .collect();
    messages.sort_by_key(|item| std::cmp::Reverse(item.created_at));
    let has_more = messages.len() > limit;
    let items: Vec<Value> = messages.into_iter().take(limit).map(queue_json).collect();
    Ok(Outcome::ok(json!({"items": items, "hasMore": has_more})))
}

fn find_mass_message(state: &State, call: &Call) -> Result<(usize, usize), Failure> {
    let id = id_param(call, "id")?;
    let index = account_index(state, call)?;
    state.data.accounts[index]
        .mass_messages
        .iter()
        .position(|m| m.id == id)
        .map(|position| (index, position))
        .ok_or_else(|| Failure::not_found("Mass message"))
}

fn get_mass_message(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (index, position) = find_mass_message(state, call)?;
    let message = &state.data.accounts[index].mass_messages[position];
    Ok(Outcome::ok(
        json!({"queue": queue_json(message), "success": true}),
    ))
}

fn unsend_mass_message(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (index, position) = find_mass_message(state, call)?;
    let account = &mut state.data.accounts[index];
    let message = account.mass_messages.remove(position);
    for chat in &mut account.chats {
        chat.messages.retain(|m| m.queue_id != Some(message.id));
    }
    let mut queue = queue_json(&message);
    queue["isCanceled"] = json!(true);
    queue["canUnsend"] = json!(false);
    Ok(Outcome::ok(json!({"queue": queue, "success": true})))
}

// ---------------------------------------------------------------------------
// Tracking and trial links.

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

fn list_tracking_links(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

fn create_tracking_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

fn get_tracking_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (account, link) = find_tracking_link(state, call)?;
    Ok(Outcome::ok(tracking_link_json(state, account, link)))
}

fn delete_tracking_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

fn tracking_link_stats(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

fn list_trial_links(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

fn create_trial_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

fn get_trial_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (index, position) = find_trial_link(state, call)?;
    let account = &state.data.accounts[index];
    Ok(Outcome::ok(trial_link_json(
        state,
        account,
        &account.trial_links[position],
    )))
}

fn delete_trial_link(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (index, position) = find_trial_link(state, call)?;
    state.data.accounts[index].trial_links.remove(position);
    Ok(Outcome::ok(json!({"success": true})))
}

// ---------------------------------------------------------------------------
// User lists.

fn user_list_json(list: &UserList) -> Value {
    let custom = list.kind == "custom";
    json!({
        "id": list.id,
        "type": list.kind,
        "name": list.name,
        "usersCount": list.user_ids.len(),
        "postsCount": 0,
        "canUpdate": custom,
        "canDelete": custom,
        "canManageUsers": custom,
        "canAddUsers": custom,
        "canPinnedToFeed": true,
        "canPinnedToChat": true,
        "isPinnedToFeed": false,
        "isPinnedToChat": false,
        "order": "recent",
        "direction": "desc",
        "users": [],
        "sortList": [],
    })
}

fn list_user_lists(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let account = account(state, call)?;
    let items: Vec<Value> = account.user_lists.iter().map(user_list_json).collect();
    let limit = limit_arg(call, 100, 100)?;
    let offset = number_arg(call, "offset", 0, usize::MAX)?;
    Ok(Outcome::ok(Value::Array(
        items.into_iter().skip(offset).take(limit).collect(),
    )))
}

fn create_user_list(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let name = body_str(call, "name").unwrap_or("").trim().to_owned();
    if name.is_empty() {
        return Err(Failure::invalid("name", "The name field is required."));
    }
    let index = account_index(state, call)?;
    if state.data.accounts[index]
        .user_lists
        .iter()
        .any(|l| l.name == name)
    {
        return Err(Failure::onlyfans("List with this name already exists"));
    }
    let id = 1_200_000 + state.data.next_id();
    let list = UserList {
        id: id.to_string(),
        name,
        kind: "custom".into(),
        user_ids: Vec::new(),
    };
    let mut answer = user_list_json(&list);
    answer["id"] = json!(id);
    state.data.accounts[index].user_lists.push(list);
    Ok(Outcome::ok(answer))
}

fn find_user_list(state: &State, call: &Call) -> Result<(usize, usize), Failure> {
    let id = call.params.get("user_list_id").cloned().unwrap_or_default();
    let index = account_index(state, call)?;
    state.data.accounts[index]
        .user_lists
        .iter()
        .position(|l| l.id == id)
        .map(|position| (index, position))
        .ok_or_else(|| Failure::not_found("User list"))
}

fn add_users_to_list(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let ids = string_list(call, "ids")?;
    if ids.is_empty() {
        return Err(Failure::invalid("ids", "The ids field is required."));
    }
    let skip_invalid = call
        .body
        .get("skip_invalid")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (index, position) = find_user_list(state, call)?;
    let account = &mut state.data.accounts[index];
    if account.user_lists[position].kind != "custom" {
        return Err(Failure::onlyfans("Users cannot be added to this list"));
    }
    let mut added = Vec::new();
    let mut failed = serde_json::Map::new();
    for id in &ids {
        match id
            .parse::<i64>()
            .ok()
            .filter(|fan_id| account.fans.iter().any(|f| f.id == *fan_id))
        {
            Some(fan_id) => added.push(fan_id),
            None if skip_invalid => {
                failed.insert(id.clone(), json!("User not found"));
            }
            None => return Err(Failure::onlyfans(&format!("User {id} not found"))),
        }
    }
    let list = &mut account.user_lists[position];
    for fan_id in &added {
        if !list.user_ids.contains(fan_id) {
            list.user_ids.push(*fan_id);
        }
    }
    let data = if skip_invalid {
        json!({"added": added, "failed": failed})
    } else {
        json!({ list.id.clone(): added })
    };
    Ok(Outcome::ok(data))
}

fn list_user_list_users(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (index, position) = find_user_list(state, call)?;
    let now = state.data.now;
    let account = &state.data.accounts[index];
    let items: Vec<Value> = account.user_lists[position]
        .user_ids
        .iter()
        .filter_map(|id| account.fans.iter().find(|f| f.id == *id))
        .map(|f| fan_json(account, f, now))
        .collect();
    let page = page(state, call, items, 10, 100)?;
    let next_offset = page.has_more.then_some(page.offset + page.items.len());
    Ok(paged(
        json!({"list": page.items, "hasMore": page.has_more, "nextOffset": next_offset}),
        page.next_page,
    ))
}

// ---------------------------------------------------------------------------
// Payouts, posts, vault, notifications.

fn payout_balances(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let now = state.data.now;
    let account = account(state, call)?;
    let pending = totals(
        account
            .transactions
            .iter()
            .filter(|t| now - t.created_at < Duration::days(7)),
    );
    let available = totals(account.transactions.iter().filter(|t| {
        now - t.created_at >= Duration::days(7) && now - t.created_at < Duration::days(37)
    }));
    Ok(Outcome::ok(json!({
        "currency": "USD",
        "payoutAvailable": available.net,
        "payoutPending": pending.net,
        "minPayoutSumm": 20,
        "maxPayoutSumm": 50_000.0,
        "manualPayoutPendingDays": 7,
        "withdrawalPeriod": "manual",
        "withdrawalPeriodOptions": [{"code": "manual", "name": "Manual"}, {"code": "weekly", "name": "Weekly"}],
    })))
}

fn post_json(post: &Post, account: &Account) -> Value {
    let tips: f64 = 0.0;
    json!({
        "id": post.id,
        "text": post.text,
        "rawText": post.text,
        "postedAt": iso(post.created_at),
        "postedAtPrecise": post.created_at.timestamp().to_string(),
        "price": post.price,
        "favoritesCount": post.likes,
        "commentsCount": post.comments,
        "tipsAmount": format!("{tips:.2}"),
        "mediaCount": post.media_ids.len(),
        "responseType": "post",
        "canComment": true,
        "canDelete": true,
        "canEdit": true,
        "canToggleFavorite": false,
        "canViewMedia": true,
        "isOpened": true,
        "isMediaReady": true,
        "isMarkdownDisabled": false,
        "author": {"id": account.user_id, "_view": "m", "name": account.name, "username": account.username},
    })
}

fn list_posts(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let account = account(state, call)?;
    let search = query(call, "query").map(str::to_lowercase);
    let since = date_arg(call, &["minimumPublishDate"])?;
    let mut posts: Vec<&Post> = account
        .posts
        .iter()
        .filter(|p| {
            search
                .as_ref()
                .is_none_or(|q| p.text.to_lowercase().contains(q.as_str()))
        })
        .filter(|p| since.is_none_or(|s| p.created_at >= s))
        .collect();
    match query(call, "order") {
        Some("favorites_count") => posts.sort_by_key(|item| std::cmp::Reverse(item.likes)),
        _ => posts.sort_by_key(|item| std::cmp::Reverse(item.created_at)),
    }
    if query(call, "sort") == Some("asc") {
        posts.reverse();
    }
    let items: Vec<Value> = posts.iter().map(|p| post_json(p, account)).collect();
    let page = page(state, call, items, 10, 100)?;
    let photos = account
        .vault_media
        .iter()
        .filter(|m| m.kind == "photo")
        .count();
    Ok(Outcome::ok(json!({
        "list": page.items,
        "hasMore": page.has_more,
        "headMarker": posts.first().map(|p| p.created_at.timestamp().to_string()),
        "tailMarker": posts.last().map(|p| p.created_at.timestamp().to_string()),
        "counters": {
            "postsCount": account.posts.len(),
            "mediasCount": account.vault_media.len(),
            "photosCount": photos,
            "videosCount": account.vault_media.len() - photos,
            "audiosCount": 0,
            "streamsCount": 0,
            "archivedPostsCount": 0,
            "privateArchivedPostsCount": 0,
        },
    })))
}

fn send_post(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let text = body_str(call, "text").unwrap_or("").trim().to_owned();
    if text.is_empty() {
        return Err(Failure::invalid("text", "The text field is required."));
    }
    let index = account_index(state, call)?;
    let now = state.data.now;
    let id = 2_000_000_000 + state.data.next_id();
    let created_at = match body_str(call, "scheduledDate") {
        Some(text) => parse_date(text).ok_or_else(|| {
            Failure::invalid("scheduledDate", "The scheduled date is not a date.")
        })?,
        None => now,
    };
    let post = Post {
        id,
        text,
        created_at,
        price: 0.0,
        likes: 0,
        comments: 0,
        media_ids: Vec::new(),
    };
    let account = &mut state.data.accounts[index];
    let answer = post_json(&post, account);
    account.posts.push(post);
    Ok(Outcome::ok(answer))
}

fn list_vault_media(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let kind = query(call, "type");
    let account = account(state, call)?;
    let mut media: Vec<_> = account
        .vault_media
        .iter()
        .filter(|m| kind.is_none_or(|k| m.kind == k))
        .collect();
    media.sort_by_key(|item| std::cmp::Reverse(item.created_at));
    if query(call, "sort") == Some("asc") {
        media.reverse();
    }
    let items = media
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id,
                "type": m.kind,
                "createdAt": iso(m.created_at),
                "duration": m.duration,
                "canView": true,
                "isReady": true,
                "hasError": false,
                "hasPosts": account.posts.iter().any(|p| p.media_ids.contains(&m.id)),
                "convertedToVideo": false,
                "hasCustomPreview": false,
                "counters": {"likesCount": 0, "tipsSumm": 0},
            })
        })
        .collect();
    let page = page(state, call, items, 10, 100)?;
    Ok(Outcome::ok(
        json!({"list": page.items, "hasMore": page.has_more}),
    ))
}

fn notification_counts(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let now = state.data.now;
    let account = account(state, call)?;
    let day = |t: &&Transaction| now - t.created_at < Duration::days(1);
    let tips = account
        .transactions
        .iter()
        .filter(day)
        .filter(|t| t.kind == TransactionKind::Tip)
        .count();
    let purchases = account
        .transactions
        .iter()
        .filter(day)
        .filter(|t| matches!(t.kind, TransactionKind::Message | TransactionKind::Post))
        .count();
    let subscribed = account
        .fans
        .iter()
        .filter(|f| now - f.subscribed_at < Duration::days(1))
        .count();
    let messages: i64 = account.chats.iter().map(|c| c.unread).sum();
    Ok(Outcome::ok(json!({
        "all": tips + purchases + subscribed + messages as usize,
        "tip": tips,
        "purchases": purchases,
        "subscribed": subscribed,
        "message": messages,
        "commented": 0,
        "favorited": 0,
        "mentioned": 0,
        "system": 0,
        "tags": 0,
        "deactivated_media": 0,
    })))
}
