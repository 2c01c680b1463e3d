//! `chats` and `chat-messages`: the chat list, a chat's messages, sending one.

use serde_json::{Value, json};

use super::Call;
use super::common::{
    account, account_index, body_str, created, fan_json, id_param, iso, limit_arg, link,
    media_count, page, paged, price_arg, query,
};
use crate::sandbox::data::{Account, Chat, ChatMessage};
use crate::sandbox::{Failure, Outcome, State};

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

pub(super) fn list_chats(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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
    let last = |c: &Chat| c.messages.last().map(|m| m.created_at);
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

pub(super) fn list_chat_messages(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

pub(super) fn send_chat_message(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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
    let account_id = account.id.clone();
    push_chat_message(account, fan_id, message);
    state.emit("messages.sent", Some(&account_id), json.clone());
    Ok(Outcome::ok(json))
}

/// Adds `message` to the fan's chat, opening it if needed: a fan's message
/// is one more unread, the creator's marks the chat read.
fn push_chat_message(account: &mut Account, fan_id: i64, message: ChatMessage) {
    let from_fan = message.from_fan;
    match account.chats.iter_mut().find(|c| c.fan_id == fan_id) {
        Some(chat) => {
            chat.messages.push(message);
            chat.unread = if from_fan { chat.unread + 1 } else { 0 };
        }
        None => account.chats.push(Chat {
            fan_id,
            messages: vec![message],
            unread: i64::from(from_fan),
        }),
    }
}

/// A message the fan writes (the API can only send the creator's); sends
/// `messages.received` to the subscribed webhooks.
pub(in crate::sandbox) fn receive_fan_message(
    state: &mut State,
    index: usize,
    fan_id: i64,
    text: String,
    price: f64,
) -> Result<ChatMessage, Failure> {
    if !state.data.accounts[index]
        .fans
        .iter()
        .any(|f| f.id == fan_id)
    {
        return Err(Failure::not_found("Fan"));
    }
    let message = ChatMessage {
        id: state.data.next_id(),
        queue_id: None,
        from_fan: true,
        text,
        price,
        created_at: state.data.now,
    };
    let account = &mut state.data.accounts[index];
    let payload = message_json(&message, fan_id, account.user_id);
    let account_id = account.id.clone();
    push_chat_message(account, fan_id, message.clone());
    state.emit("messages.received", Some(&account_id), payload);
    Ok(message)
}

/// `POST /_sandbox/accounts/{account}/chats/{fan_id}/fan-message`.
pub(in crate::sandbox) fn post_fan_message(
    state: &mut State,
    call: &Call,
) -> Result<Outcome, Failure> {
    let fan_id = id_param(call, "fan_id")?;
    let text = body_str(call, "text").unwrap_or("").to_owned();
    if text.trim().is_empty() {
        return Err(Failure::invalid("text", "The text field is required."));
    }
    let price = price_arg(call)?;
    let index = account_index(state, call)?;
    let message = receive_fan_message(state, index, fan_id, text, price)?;
    let creator_id = state.data.accounts[index].user_id;
    Ok(created(
        json!({"message": message_json(&message, fan_id, creator_id)}),
    ))
}
