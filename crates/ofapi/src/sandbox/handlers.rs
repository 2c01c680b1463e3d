//! The simulated endpoints. Each takes the call and the state and returns
//! the `data` to send; [`shapes`](super::shapes) completes it to the SDK's
//! model. Writes change the state, so what one call creates the next sees.
//!
//! The handlers live in one file per resource (`handlers/*.rs`); the table in
//! [`dispatch`] names each with its module, so it also says where it is.

mod account;
mod chats;
mod common;
mod fans;
mod links;
mod lists;
mod mass_messages;
mod notifications;
mod posts;
mod statistics;
mod transactions;
mod webhooks;

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Failure, Outcome, State, shapes};
use fans::FanFilter;

// What the `/_sandbox/` control routes run (see `control`): things fans do,
// not API endpoints, so they are not in the table.
pub(super) use chats::{post_fan_message, receive_fan_message};
pub(super) use fans::post_subscriber;
pub(super) use transactions::post_tip;

/// One request, already routed to a catalog endpoint (or a control route).
pub(crate) struct Call<'a> {
    pub endpoint: &'a str,
    /// The concrete request path, for `next_page` links.
    pub path: &'a str,
    pub params: BTreeMap<String, String>,
    pub query: Vec<(String, String)>,
    pub body: Value,
}

pub(super) type Handler = fn(&mut State, &Call) -> Result<Outcome, Failure>;

/// Runs the endpoint's simulation; `None` when it is not simulated.
pub(crate) fn dispatch(state: &mut State, call: &Call) -> Option<Result<Outcome, Failure>> {
    let handler: Handler = match call.endpoint {
        "api-keys.whoami" => account::whoami,
        "account.list-accounts" => account::list_accounts,
        "account.get-current-account" => account::me,
        "account.get-top-percentage" => account::top_percentage,
        "statistics.statistics-overview" => statistics::statistics_overview,
        "statistics.get-earnings" => statistics::earnings,
        "statistics.get-subscriber-metrics" => statistics::subscriber_metrics,
        "analytics-summary.get-earnings-overview" => statistics::earnings_overview,
        "transactions.list-transactions" => transactions::list_transactions,
        "fans.list-all-fans" => |s, c| fans::list_fans(s, c, FanFilter::All),
        "fans.list-active-fans" => |s, c| fans::list_fans(s, c, FanFilter::Active),
        "fans.list-expired-fans" => |s, c| fans::list_fans(s, c, FanFilter::Expired),
        "fans.list-latest-fans" => fans::latest_fans,
        "fans.list-top-fans" => fans::top_fans,
        "chats.list-chats" => chats::list_chats,
        "chat-messages.list-chat-messages" => chats::list_chat_messages,
        "chat-messages.send-message" => chats::send_chat_message,
        "mass-messaging.send-mass-message" => mass_messages::send_mass_message,
        "mass-messaging.list-mass-message-queue" => mass_messages::list_mass_messages,
        "mass-messaging.get-mass-message-overview" => mass_messages::mass_message_overview,
        "mass-messaging.get-mass-message" => mass_messages::get_mass_message,
        "mass-messaging.unsend-delete-mass-message" => mass_messages::unsend_mass_message,
        "tracking-links.list-tracking-links" => links::list_tracking_links,
        "tracking-links.create-tracking-link" => links::create_tracking_link,
        "tracking-links.get-tracking-link" => links::get_tracking_link,
        "tracking-links.delete-tracking-link" => links::delete_tracking_link,
        "tracking-links.get-tracking-link-stats" => links::tracking_link_stats,
        "free-trial-links.list-free-trial-links" => links::list_trial_links,
        "free-trial-links.create-free-trial-link" => links::create_trial_link,
        "free-trial-links.get-free-trial-link" => links::get_trial_link,
        "free-trial-links.delete-free-trial-link" => links::delete_trial_link,
        "user-list-collections.list-user-lists" => lists::list_user_lists,
        "user-list-collections.create-user-list" => lists::create_user_list,
        "user-list-collections.add-users-to-user-list" => lists::add_users_to_list,
        "user-list-collections.list-user-list-users" => lists::list_user_list_users,
        "payouts.get-account-balances" => statistics::payout_balances,
        "posts.list-posts" => posts::list_posts,
        "posts.send-post" => posts::send_post,
        "media-vault.list-vault-media" => posts::list_vault_media,
        "notifications.get-notification-counts" => notifications::notification_counts,
        "webhooks.list-webhooks" => webhooks::list_webhooks,
        "webhooks.create-webhook" => webhooks::create_webhook,
        "webhooks.show-webhook" => webhooks::show_webhook,
        "webhooks.update-webhook" => webhooks::update_webhook,
        "webhooks.delete-webhook" => webhooks::delete_webhook,
        "webhooks.list-available-events" => webhooks::list_webhook_events,
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
