//! `mass-messaging`: sending to lists and fans, the queue, unsending.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::Call;
use super::common::{
    account, account_index, body_str, id_param, iso, limit_arg, media_count, parse_date, price_arg,
    query, string_list, window,
};
use crate::sandbox::data::{Account, Chat, ChatMessage, MassMessage};
use crate::sandbox::{Failure, Outcome, State};

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

/// Recipients are the union of `userLists` (ids or system names, see
/// [`list_members`]), `userIds` and `subscribedWithinLastDays`, less
/// `excludedLists`; with none of the three, every current fan.
pub(super) fn send_mass_message(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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
    let within_days = subscribed_within_arg(call)?;
    let scheduled_for = match body_str(call, "scheduledDate") {
        None => None,
        Some(text) => Some(parse_date(text).ok_or_else(|| {
            Failure::invalid("scheduledDate", "The scheduled date is not a date.")
        })?),
    };
    let save_for_later = call.body.get("saveForLater").and_then(Value::as_bool) == Some(true);
    if within_days.is_some() && (scheduled_for.is_some() || save_for_later) {
        return Err(Failure::invalid(
            "subscribedWithinLastDays",
            "The subscribed within last days field cannot be combined with scheduledDate or saveForLater.",
        ));
    }
    // The docs' minimal send is `{"text": …}`: no selector means every current fan.
    let lists = if lists.is_empty() && users.is_empty() && within_days.is_none() {
        vec!["fans".to_owned()]
    } else {
        lists
    };
    let index = account_index(state, call)?;
    let now = state.data.now;
    let id = 3_000_000_000 + state.data.next_id();
    let account = &state.data.accounts[index];
    let mut recipients = BTreeSet::new();
    let mut list_ids = Vec::new();
    for entry in &lists {
        let (list_id, members) = list_members(account, entry, now)
            .ok_or_else(|| Failure::onlyfans(&format!("List {entry} not found")))?;
        list_ids.push(list_id);
        recipients.extend(members);
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
    if let Some(days) = within_days {
        let since = now - Duration::days(days);
        recipients.extend(
            account
                .fans
                .iter()
                .filter(|f| f.is_active(now) && f.subscribed_at >= since)
                .map(|f| f.id),
        );
    }
    for entry in &excluded {
        // Unknown excluded lists exclude nobody.
        if let Some((_, members)) = list_members(account, entry, now) {
            for user in &members {
                recipients.remove(user);
            }
        }
    }
    let message = MassMessage {
        id,
        text: text.clone(),
        price,
        created_at: now,
        user_list_ids: list_ids,
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
                None => account.chats.push(Chat {
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

pub(super) fn list_mass_messages(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let account = account(state, call)?;
    let mut messages: Vec<&MassMessage> = account.mass_messages.iter().collect();
    messages.sort_by_key(|item| std::cmp::Reverse(item.created_at));
    Ok(Outcome::ok(Value::Array(
        messages.into_iter().map(queue_json).collect(),
    )))
}

pub(super) fn mass_message_overview(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

pub(super) fn get_mass_message(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let (index, position) = find_mass_message(state, call)?;
    let message = &state.data.accounts[index].mass_messages[position];
    Ok(Outcome::ok(
        json!({"queue": queue_json(message), "success": true}),
    ))
}

pub(super) fn unsend_mass_message(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

/// OnlyFans' own lists, which `userLists` and `excludedLists` may name
/// instead of giving an id (the docs' example sends to `"fans"`).
const SYSTEM_LISTS: [&str; 6] = [
    "fans",
    "recent",
    "following",
    "rebill_off",
    "tagged",
    "expired",
];

/// The list a `userLists` entry names, as (the id recorded, its fans): one
/// of the account's lists by id, or a system list by name. A system list is
/// the account's list of that kind when it has one; otherwise it is worked
/// out from the fans: `expired` the expired fans, `rebill_off` the current
/// fans without auto-renew, and `fans`, `recent`, `following` and `tagged`
/// every current fan (the sandbox keeps no follows, tags or recency).
fn list_members(account: &Account, entry: &str, now: DateTime<Utc>) -> Option<(String, Vec<i64>)> {
    if let Some(list) = account.user_lists.iter().find(|l| l.id == entry) {
        return Some((list.id.clone(), list.user_ids.clone()));
    }
    if !SYSTEM_LISTS.contains(&entry) {
        return None;
    }
    if let Some(list) = account.user_lists.iter().find(|l| l.kind == entry) {
        return Some((list.id.clone(), list.user_ids.clone()));
    }
    let members = account
        .fans
        .iter()
        .filter(|f| match entry {
            "expired" => !f.is_active(now),
            "rebill_off" => f.is_active(now) && !f.auto_renew,
            _ => f.is_active(now),
        })
        .map(|f| f.id)
        .collect();
    Some((entry.to_owned(), members))
}

/// `subscribedWithinLastDays`: 1 to 30, as the API allows.
fn subscribed_within_arg(call: &Call) -> Result<Option<i64>, Failure> {
    match call.body.get("subscribedWithinLastDays") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_i64() {
            Some(days) if (1..=30).contains(&days) => Ok(Some(days)),
            _ => Err(Failure::invalid(
                "subscribedWithinLastDays",
                "The subscribed within last days must be a whole number between 1 and 30.",
            )),
        },
    }
}
