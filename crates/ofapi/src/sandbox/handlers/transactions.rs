//! `transactions`: the account's payments, newest first, paged by marker.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::Call;
use super::common::{
    account, account_index, body_id, cents, created, date_arg, iso, limit_arg, link, paged, query,
    user_ref,
};
use crate::sandbox::data::{Account, Transaction, TransactionKind, net_of};
use crate::sandbox::{Failure, Outcome, State};

pub(super) fn list_transactions(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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
        .map(|t| transaction_json(state.data.now, account, t))
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

/// An item of the transactions list.
fn transaction_json(now: DateTime<Utc>, account: &Account, t: &Transaction) -> Value {
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
        "status": if now - t.created_at < Duration::days(7) { "pending" } else { "done" },
        "payoutPendingDays": (7 - (now - t.created_at).num_days()).max(0),
        "createdAt": iso(t.created_at),
        "user": user_ref(fan, t.fan_id),
    })
}

/// `POST /_sandbox/accounts/{account}/tips` `{"fan_id", "amount"}`: the fan
/// tips `amount` dollars. Records the transaction (80% net) and sends
/// `tips.received` in the shape OnlyFansAPI does.
pub(in crate::sandbox) fn post_tip(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let fan_id = body_id(call, "fan_id")?
        .ok_or_else(|| Failure::invalid("fan_id", "The fan_id field is required."))?;
    let gross = match call.body.get("amount").and_then(Value::as_f64) {
        Some(amount) if amount > 0.0 && amount <= 10_000.0 && cents(amount) == amount => amount,
        _ => {
            return Err(Failure::invalid(
                "amount",
                "The amount must be dollars between 0.01 and 10000, with at most two decimals.",
            ));
        }
    };
    let index = account_index(state, call)?;
    let Some(fan) = state.data.accounts[index]
        .fans
        .iter()
        .find(|f| f.id == fan_id)
        .cloned()
    else {
        return Err(Failure::not_found("Fan"));
    };
    let now = state.data.now;
    let transaction = Transaction {
        id: format!("txn_{}", state.data.next_id()),
        fan_id,
        kind: TransactionKind::Tip,
        created_at: now,
        gross,
        net: net_of(gross),
    };
    let notification_id = state.data.next_id();
    let account = &mut state.data.accounts[index];
    let payload = json!({
        "id": notification_id,
        "type": "tip",
        "subType": "new_tips",
        "amountGross": transaction.gross,
        "amountNet": transaction.net,
        "createdAt": iso(now),
        "text": format!(
            "<a href='https://onlyfans.com/{}'>{}</a> paid you a tip of ${gross:.2} <a href='https://onlyfans.com/my/chats/chat/{fan_id}'>Go to chat</a>",
            fan.username, fan.name
        ),
        "user": {"id": fan_id},
        // The creator, not the fan: the trap OnlyFansAPI's payload sets.
        "user_id": account.user_id,
    });
    // Newest first, as the list is kept.
    account.transactions.insert(0, transaction);
    let answer = transaction_json(now, account, &account.transactions[0]);
    let account_id = account.id.clone();
    state.emit("tips.received", Some(&account_id), payload.clone());
    Ok(created(json!({"transaction": answer, "payload": payload})))
}
