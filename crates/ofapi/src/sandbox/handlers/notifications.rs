//! `notifications`: the badge counts, from the last day's activity.

use chrono::Duration;
use serde_json::json;

use super::Call;
use super::common::account;
use crate::sandbox::data::{Transaction, TransactionKind};
use crate::sandbox::{Failure, Outcome, State};

pub(super) fn notification_counts(state: &mut State, call: &Call) -> Result<Outcome, Failure> {
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
