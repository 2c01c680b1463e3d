//! The channels page: each channel's access and live status, and who
//! besides the team's members may use it.

use std::sync::Arc;

use agencybot_agent::ChannelHealth;
use agencybot_core::{Channel, Role, Timestamp};
use agencybot_store::ChannelAccess;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};

use crate::Console;
use crate::auth::SignedIn;
use crate::pages::{Params, back, back_error, csrf_field, flat, notice, param};
use crate::view;

pub fn router() -> axum::Router<Arc<Console>> {
    axum::Router::new().route(
        "/console/channels",
        get(channels_page).post(channels_change),
    )
}

/// At most this many permitted users per channel: a longer list belongs in
/// allow-everyone or in the team's members.
const MAX_PERMITTED: usize = 500;

fn time(at: Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn access_text(permitted: &[String], allow_everyone: bool) -> String {
    if allow_everyone {
        "public: anyone who can reach the bot".to_owned()
    } else if permitted.is_empty() {
        "the team's members only".to_owned()
    } else {
        format!("the team's members and {} permitted", permitted.len())
    }
}

fn status(health: &ChannelHealth) -> Markup {
    html! {
        @if health.connected {
            span class="ok" data-status="connected" { "connected" }
            @if let Some(since) = health.since { " since " (time(since)) }
        } @else if health.standby {
            span data-status="standby" { "standing by" } ": another instance serves it; this one takes over if it stops"
        } @else if let Some(since) = health.since {
            span class="error" data-status="disconnected" { "not connected" } " since " (time(since))
        } @else {
            span data-status="unknown" { "not started in this process" }
        }
        br;
        "Last message: " @match health.last_event { Some(at) => (time(at)), None => "none yet" }
        @if let Some((at, error)) = &health.last_error {
            br; span class="error" data-last-error { "Last error (" (time(*at)) "): " (error) }
        }
    }
}

async fn channels_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    flat(
        async {
            let signed = console.signed_in(&headers).await?;
            signed.require(Role::Admin)?;
            let channels = console.team_channels(&signed).await?;
            let mut cards = Vec::new();
            for channel in &channels {
                let access = console
                    .store
                    .channel_access(&channel.name)
                    .await
                    .map_err(|e| view::store_failure(&e))?;
                let health = console.settings.status.of(&channel.name);
                cards.push(card(&signed, channel, access.as_ref(), &health));
            }
            let body = html! {
                (notice(&params))
                p { "Channels are added in the config file. Who besides the team's members may use each one is set here; until it is, the config file's list applies." }
                @if channels.is_empty() { p class="notice error" { "No channel is configured for this team." } }
                div class="cards" { @for card in cards { (card) } }
            };
            Ok(view::page("Channels", &signed, "channels", body))
        }
        .await,
    )
}

fn card(
    signed: &SignedIn,
    channel: &Channel,
    access: Option<&ChannelAccess>,
    health: &ChannelHealth,
) -> Markup {
    let permitted = access.map_or(&channel.permitted_user_ids, |a| &a.permitted_user_ids);
    let allow_everyone = access.map_or(channel.allow_everyone, |a| a.allow_everyone);
    let field = format!("permitted-{}", channel.name);
    html! {
        div class="card" data-channel=(channel.name) {
            h3 { (channel.name) " " span class="tag" { (channel.platform) } }
            p data-access { "Access: " (access_text(permitted, allow_everyone)) }
            p { (status(health)) }
            @if let Some(access) = access {
                @if let Some((by, at)) = &access.edited {
                    p { "Set in the console by " (by) " on " (time(*at)) ". The config file says: " (access_text(&access.config_permitted_user_ids, access.config_allow_everyone)) "." }
                }
            }
            form method="post" action="/console/channels" {
                (csrf_field(signed))
                input type="hidden" name="op" value="set";
                input type="hidden" name="channel" value=(channel.name);
                label for=(field) { "Permitted " (channel.platform) " user IDs besides members, one per line" }
                textarea id=(field) name="permitted" rows="3" { (permitted.join("\n")) }
                label { input type="checkbox" name="allow_everyone" value="on" checked[allow_everyone] style="width:auto"; " Allow everyone who can reach the bot (they may ask, never confirm a write)" }
                p { button type="submit" class="primary" { "Save access" } }
            }
            @if access.is_some_and(|a| a.edited.is_some()) {
                form method="post" action="/console/channels" {
                    (csrf_field(signed))
                    input type="hidden" name="op" value="reset";
                    input type="hidden" name="channel" value=(channel.name);
                    button type="submit" { "Use the config file's list" }
                }
            }
        }
    }
}

/// The IDs a form sent, one per line or separated by commas, each checked
/// against the platform's form of user ID.
fn permitted_ids(channel: &Channel, text: &str) -> Result<Vec<String>, String> {
    let mut ids: Vec<String> = Vec::new();
    for id in text
        .split(['\n', ',', '\r'])
        .map(str::trim)
        .filter(|id| !id.is_empty())
    {
        channel.platform.check_user_id(id)?;
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    if ids.len() > MAX_PERMITTED {
        return Err(format!(
            "{} IDs is more than the {MAX_PERMITTED} a channel may list: add them as members, or allow everyone",
            ids.len()
        ));
    }
    Ok(ids)
}

async fn channels_change(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<Params>,
) -> Response {
    const PAGE: &str = "/console/channels";
    flat(
        async {
            let signed = console.form(&headers, &form, Role::Admin).await?;
            let store = &console.store;
            let channel = match param(&form, "channel") {
                Some(name) => store
                    .channel(name)
                    .await
                    .map_err(|e| view::store_failure(&e))?
                    .filter(|c| c.team_id == signed.team.id),
                None => None,
            };
            let Some(channel) = channel else {
                return Ok(back_error(PAGE, "There is no such channel in this team."));
            };
            let now = console.clock.now();
            match param(&form, "op") {
                Some("set") => {
                    let ids = match permitted_ids(
                        &channel,
                        form.get("permitted").map_or("", String::as_str),
                    ) {
                        Ok(ids) => ids,
                        Err(problem) => return Ok(back_error(PAGE, &problem)),
                    };
                    let allow_everyone = param(&form, "allow_everyone") == Some("on");
                    store
                        .set_channel_access(
                            &channel.name,
                            &ids,
                            allow_everyone,
                            &signed.member.name,
                            now,
                        )
                        .await
                        .map_err(|e| view::store_failure(&e))?;
                    let message = format!(
                        "{} now serves {}.",
                        channel.name,
                        access_text(&ids, allow_everyone)
                    );
                    let detail = format!(
                        "{}: allow everyone {}, permitted [{}]",
                        channel.name,
                        if allow_everyone { "on" } else { "off" },
                        ids.join(", ")
                    );
                    console.audit(&signed, "channels.access", &detail).await;
                    Ok(back(PAGE, &message))
                }
                Some("reset") => {
                    store
                        .reset_channel_access(&channel.name)
                        .await
                        .map_err(|e| view::store_failure(&e))?;
                    console
                        .audit(&signed, "channels.access_reset", &channel.name)
                        .await;
                    Ok(back(
                        PAGE,
                        &format!("{} uses the config file's list again.", channel.name),
                    ))
                }
                _ => Ok(back_error(PAGE, "Unknown change.")),
            }
        }
        .await,
    )
}
