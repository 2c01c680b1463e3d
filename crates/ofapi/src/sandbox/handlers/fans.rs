//! `fans`: all, active, expired, latest and top fans of an account.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::Call;
use super::common::{
    account, account_index, body_id, cents, created, date_arg, fan_json, in_window, iso, limit_arg,
    list_page, page, paged, query, spend, window,
};
use crate::sandbox::data::{Fan, Transaction, TransactionKind, net_of};
use crate::sandbox::{Failure, Outcome, State};

#[derive(Clone, Copy)]
pub(super) enum FanFilter {
    All,
    Active,
    Expired,
}

pub(super) fn list_fans(
    state: &mut State,
    call: &Call,
    filter: FanFilter,
) -> Result<Outcome, Failure> {
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

pub(super) fn latest_fans(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

pub(super) fn top_fans(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

/// `POST /_sandbox/accounts/{account}/subscribers` `{"fan_id"?}`: someone
/// new subscribes (with that user id, or a fresh one) for 30 days at the
/// account's price, auto-renewing. Joins the account's "fans" list and
/// sends `subscriptions.new`.
pub(in crate::sandbox) fn post_subscriber(
    state: &mut State,
    call: &Call,
) -> Result<Outcome, Failure> {
    let given = body_id(call, "fan_id")?;
    let index = account_index(state, call)?;
    let fan_id = match given {
        Some(id) => id,
        // Out of the generated fans' range, so never one of them.
        None => 900_000_000 + state.data.next_id(),
    };
    if state.data.accounts[index]
        .fans
        .iter()
        .any(|f| f.id == fan_id)
    {
        return Err(Failure::invalid(
            "fan_id",
            &format!("User {fan_id} is already a fan of this account."),
        ));
    }
    let now = state.data.now;
    let fan = Fan {
        id: fan_id,
        username: format!("u{fan_id}"),
        name: "New fan".into(),
        subscribed_at: now,
        expires_at: now + Duration::days(30),
        auto_renew: true,
        last_seen: now,
        tracking_link: None,
        trial_link: None,
    };
    let transaction_id = format!("txn_{}", state.data.next_id());
    let notification_id = state.data.next_id();
    let account = &mut state.data.accounts[index];
    account.transactions.insert(
        0,
        Transaction {
            id: transaction_id,
            fan_id,
            kind: TransactionKind::Subscription,
            created_at: now,
            gross: account.subscribe_price,
            net: net_of(account.subscribe_price),
        },
    );
    if let Some(list) = account.user_lists.iter_mut().find(|l| l.kind == "fans") {
        list.user_ids.push(fan_id);
    }
    let payload = json!({
        "id": notification_id,
        "type": "subscribed",
        "subType": "new_subscriber",
        "createdAt": iso(now),
        "text": "{SUBSCRIBER_LINK} subscribed to your profile for {PRICE}",
        "replacePairs": {
            "{PRICE}": format!("${:.2}", account.subscribe_price),
            "{SUBSCRIBER_LINK}": format!("<a href='https://onlyfans.com/{}'>{}</a>", fan.username, fan.name),
        },
        "user": {"id": fan_id},
    });
    let answer = fan_json(account, &fan, now);
    account.fans.push(fan);
    let account_id = account.id.clone();
    state.emit("subscriptions.new", Some(&account_id), payload.clone());
    Ok(created(json!({"fan": answer, "payload": payload})))
}
