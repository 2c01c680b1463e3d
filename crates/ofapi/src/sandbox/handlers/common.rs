//! Helpers every resource uses: arguments, dates, money, pages, the account
//! of a call, and the JSON of things several resources show (fans, users).

use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::Call;
use crate::sandbox::data::{Account, Fan, Transaction, TransactionKind};
use crate::sandbox::{Failure, Outcome, State};

pub(super) fn query<'c>(call: &'c Call, name: &str) -> Option<&'c str> {
    call.query
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

pub(super) fn body_str<'c>(call: &'c Call, name: &str) -> Option<&'c str> {
    call.body.get(name).and_then(Value::as_str)
}

pub(super) fn number_arg(
    call: &Call,
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, Failure> {
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

pub(super) fn limit_arg(call: &Call, default: usize, max: usize) -> Result<usize, Failure> {
    let limit = number_arg(call, "limit", default, max)?;
    if limit == 0 {
        return Err(Failure::invalid("limit", "The limit must be at least 1."));
    }
    Ok(limit)
}

/// Accepts what the API accepts: `2026-11-01 00:00:00`, `2026-11-01`, ISO 8601.
pub(super) fn parse_date(text: &str) -> Option<DateTime<Utc>> {
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

pub(super) fn date_arg(call: &Call, names: &[&str]) -> Result<Option<DateTime<Utc>>, Failure> {
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
pub(super) fn window(
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

pub(super) fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, false)
}

pub(super) fn cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

pub(super) fn account<'s>(state: &'s State, call: &Call) -> Result<&'s Account, Failure> {
    let id = call.params.get("account").map_or("", String::as_str);
    state.data.account(id).ok_or_else(|| forbidden(id))
}

pub(super) fn account_index(state: &State, call: &Call) -> Result<usize, Failure> {
    let id = call.params.get("account").map_or("", String::as_str);
    state
        .data
        .accounts
        .iter()
        .position(|a| a.id == id)
        .ok_or_else(|| forbidden(id))
}

pub(super) fn forbidden(id: &str) -> Failure {
    Failure {
        status: StatusCode::FORBIDDEN,
        body: json!({"message": format!("The account {id} is not connected to your team.")}),
    }
}

pub(super) fn id_param(call: &Call, name: &str) -> Result<i64, Failure> {
    let text = call.params.get(name).map_or("", String::as_str);
    text.parse()
        .map_err(|_| Failure::invalid(name, &format!("The {name} `{text}` is not a valid ID.")))
}

/// A user ID in the body, as a number or a numeric string.
pub(super) fn body_id(call: &Call, name: &str) -> Result<Option<i64>, Failure> {
    let id = match call.body.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    match id {
        Some(id) if id > 0 => Ok(Some(id)),
        _ => Err(Failure::invalid(
            name,
            &format!("The {name} must be a user ID."),
        )),
    }
}

/// A 201 answer, for what the control routes create.
pub(super) fn created(data: Value) -> Outcome {
    Outcome {
        status: StatusCode::CREATED,
        ..Outcome::ok(data)
    }
}

/// One page of `items` by `limit`/`offset`, with the link to the next page
/// (the same query with the offset moved on).
pub(super) struct Page {
    pub(super) items: Vec<Value>,
    pub(super) has_more: bool,
    pub(super) next_page: Option<String>,
    pub(super) offset: usize,
}

pub(super) fn page(
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

pub(super) fn link(state: &State, path: &str, pairs: &[(String, String)]) -> String {
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
pub(super) fn list_page(
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

pub(super) fn paged(data: Value, next_page: Option<String>) -> Outcome {
    let mut outcome = Outcome::ok(data);
    outcome.next_page = next_page;
    outcome
}

/// What a fan spent, gross, by kind, optionally within a window.
#[derive(Default)]
pub(super) struct Spend {
    pub(super) total: f64,
    pub(super) subscriptions: f64,
    pub(super) tips: f64,
    pub(super) messages: f64,
    pub(super) posts: f64,
}

pub(super) fn spend(
    account: &Account,
    fan_id: i64,
    within: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Spend {
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

pub(super) fn months_between(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let months = ((to - from).num_days() / 30).max(1);
    if months == 1 {
        "1 month".into()
    } else {
        format!("{months} months")
    }
}

pub(super) fn fan_json(account: &Account, fan: &Fan, now: DateTime<Utc>) -> Value {
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

pub(super) fn user_ref(fan: Option<&Fan>, id: i64) -> Value {
    json!({
        "id": id,
        "name": fan.map(|f| f.name.clone()),
        "username": fan.map(|f| f.username.clone()),
        "view": "s",
        "isVerified": false,
    })
}

pub(super) struct Totals {
    pub(super) net: f64,
    pub(super) gross: f64,
    pub(super) count: i64,
}

pub(super) fn totals<'t>(transactions: impl Iterator<Item = &'t Transaction>) -> Totals {
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

pub(super) fn in_window(t: &Transaction, (start, end): (DateTime<Utc>, DateTime<Utc>)) -> bool {
    t.created_at >= start && t.created_at < end
}

pub(super) fn price_arg(call: &Call) -> Result<f64, Failure> {
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

pub(super) fn media_count(call: &Call) -> usize {
    call.body
        .get("mediaFiles")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

pub(super) fn string_list(call: &Call, name: &str) -> Result<Vec<String>, Failure> {
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
