//! `api-keys` and `account`: who the key is and which creators it reaches.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::Call;
use super::common::{account, account_index, iso, query};
use crate::sandbox::data::Account;
use crate::sandbox::{Failure, Outcome, State};

pub(super) fn whoami(state: &mut State, _call: &Call) -> Result<Outcome, Failure> {
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

pub(super) fn list_accounts(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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

pub(super) fn me(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let account = account(state, call)?;
    Ok(Outcome::ok(account_json(account, state.data.now)))
}

pub(super) fn top_percentage(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
    let index = account_index(state, call)?;
    let top = [0.8, 2.5, 6.0][index % 3];
    Ok(Outcome::ok(json!({
        "top_percentage": top,
        "message": format!("You are in the top {top}% of all creators!"),
    })))
}
