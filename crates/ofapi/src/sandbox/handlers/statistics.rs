//! `statistics`, `analytics-summary` and `payouts`: figures summed from the transactions.

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::{Value, json};

use super::Call;
use super::common::{account, cents, forbidden, in_window, iso, query, totals, window};
use crate::sandbox::data::{MassMessage, Transaction, TransactionKind};
use crate::sandbox::{Failure, Outcome, State};

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

pub(super) fn earnings(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

pub(super) fn statistics_overview(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

pub(super) fn subscriber_metrics(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

pub(super) fn earnings_overview(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

pub(super) fn payout_balances(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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
