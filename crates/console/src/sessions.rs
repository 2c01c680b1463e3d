//! The sessions page: where a member is signed in, ending one session or
//! all of them; admins also see and end the team's other sessions.

use std::sync::Arc;

use agencybot_core::Role;
use agencybot_store::{ConsoleIdentity, ConsoleSessionInfo};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};

use crate::Console;
use crate::auth::SignedIn;
use crate::pages::{Params, back, back_error, csrf_field, flat, notice, param};
use crate::view;

const PAGE: &str = "/console/sessions";

pub fn router() -> axum::Router<Arc<Console>> {
    axum::Router::new().route(PAGE, get(sessions_page).post(sessions_change))
}

fn table(signed: &SignedIn, sessions: &[ConsoleSessionInfo], id: &str) -> Markup {
    html! {
        div class="scroll" { table id=(id) {
            thead { tr { th { "who" } th { "browser" } th { "signed in" } th { "expires" } th { "" } } }
            tbody { @for session in sessions {
                tr {
                    td { (session.member_name) }
                    td { (session.user_agent.as_deref().unwrap_or("unknown")) }
                    td { (session.created_at.format("%Y-%m-%d %H:%M UTC")) }
                    td { (session.expires_at.format("%Y-%m-%d %H:%M UTC")) }
                    td {
                        @if session.id_hash == signed.session_hash() { "this browser" }
                        @else {
                            form class="inline" method="post" action=(PAGE) {
                                (csrf_field(signed))
                                input type="hidden" name="op" value="end";
                                input type="hidden" name="session" value=(session.id_hash);
                                button type="submit" { "End" }
                            }
                        }
                    }
                }
            } }
        } }
    }
}

async fn sessions_page(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    flat(
        async {
            let signed = console.signed_in(&headers).await?;
            let now = console.clock.now();
            let store = &console.store;
            let mine = store
                .console_sessions(signed.team.id, Some(&signed.member.name), now)
                .await
                .map_err(|e| view::store_failure(&e))?;
            let others = if signed.role() >= Role::Admin {
                let mut all = store
                    .console_sessions(signed.team.id, None, now)
                    .await
                    .map_err(|e| view::store_failure(&e))?;
                all.retain(|s| s.member_name != signed.member.name);
                Some(all)
            } else {
                None
            };
            let body = html! {
                (notice(&params))
                h2 { "Your sessions" }
                (table(&signed, &mine, "my-sessions"))
                form method="post" action=(PAGE) onsubmit="return confirm('Sign out of every browser, this one included?')" {
                    (csrf_field(&signed))
                    input type="hidden" name="op" value="everywhere";
                    p { button type="submit" id="sign-out-everywhere" { "Sign out everywhere" } }
                }
                @if let Some(others) = &others {
                    h2 { "The team's other sessions" }
                    @if others.is_empty() { p { "No one else is signed in." } }
                    @else { (table(&signed, others, "team-sessions")) }
                }
            };
            Ok(view::page("Sessions", &signed, "sessions", body))
        }
        .await,
    )
}

async fn sessions_change(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<Params>,
) -> Response {
    flat(
        async {
            let signed = console.form(&headers, &form, Role::Viewer).await?;
            let store = &console.store;
            let now = console.clock.now();
            match param(&form, "op") {
                Some("everywhere") => {
                    let identity = ConsoleIdentity {
                        team_id: signed.team.id,
                        member_name: signed.member.name.clone(),
                    };
                    let ended = store
                        .end_member_console_sessions(&identity, now)
                        .await
                        .map_err(|e| view::store_failure(&e))?;
                    console
                        .audit(
                            &signed,
                            "session.end_everywhere",
                            &format!("{ended} session(s) ended"),
                        )
                        .await;
                    Ok(console.signed_out(
                        "Signed out everywhere",
                        &format!(
                            "{ended} session(s) ended, this one included. Ask the bot for a new link to come back."
                        ),
                    ))
                }
                Some("end") => {
                    let Some(id_hash) = param(&form, "session") else {
                        return Ok(back_error(PAGE, "Which session?"));
                    };
                    let sessions = store
                        .console_sessions(signed.team.id, None, now)
                        .await
                        .map_err(|e| view::store_failure(&e))?;
                    let Some(target) = sessions.iter().find(|s| s.id_hash == id_hash) else {
                        return Ok(back_error(PAGE, "That session has already ended."));
                    };
                    if target.member_name != signed.member.name {
                        signed.require(Role::Admin)?;
                        let owner = store
                            .members(signed.team.id)
                            .await
                            .map_err(|e| view::store_failure(&e))?
                            .into_iter()
                            .any(|m| m.name == target.member_name && m.role == Role::Owner);
                        if owner && signed.role() < Role::Owner {
                            return Err(view::refusal(
                                StatusCode::FORBIDDEN,
                                "Only an owner can end an owner's session.",
                            ));
                        }
                    }
                    store
                        .end_team_console_session(signed.team.id, id_hash, now)
                        .await
                        .map_err(|e| view::store_failure(&e))?;
                    console
                        .audit(
                            &signed,
                            "session.end_other",
                            &format!("ended a session of {}", target.member_name),
                        )
                        .await;
                    Ok(back(
                        PAGE,
                        &format!("A session of {} has ended.", target.member_name),
                    ))
                }
                _ => Ok(back_error(PAGE, "Unknown change.")),
            }
        }
        .await,
    )
}
